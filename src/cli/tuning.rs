//! Engine settings for tests of the binary: only a build with the `testing`
//! feature (which the crate's own tests enable, through its dev-dependency
//! on itself) reads them, from `TINYKV_TEST_OPTIONS`. A release build ignores
//! the variable entirely: the reading, the fault injection and the gate are
//! not compiled into it, and its [`Tuning`] is always empty.
//!
//! The value is comma-separated `name=value` pairs:
//! `segment_size=8192,seal_on_close=0,compact_min_bytes=65536,compact_ratio=2`
//! force seals and compactions on small data, and
//! `fault=OP:NTH:KIND[:persistent]` (OP one of write, sync, rename, remove,
//! open, any; KIND eio or enospc; repeatable) makes the Nth matching file
//! operation fail, through [`FaultyStorage`].
//!
//! For `tinykv serve`: `compact_gate=PATH` holds each compaction inside
//! the engine while PATH exists (see gate.rs); `request_budget=BYTES`
//! shrinks the server's budget for requests in progress; `reply_limit=BYTES`
//! its limit on replies queued for clients; and
//! `serve_panic=loop|writer` makes that thread panic (the event loop when
//! it accepts a connection, the writer at its first round), to prove that
//! a bug ends the server cleanly.

#[cfg(feature = "testing")]
use std::path::PathBuf;
#[cfg(feature = "testing")]
use std::sync::Arc;

use anyhow::Result;
#[cfg(feature = "testing")]
use anyhow::bail;

#[cfg(feature = "testing")]
use super::gate::Gated;
use crate::engine::Options;
#[cfg(feature = "testing")]
use crate::engine::storage::{Fault, FaultKind, FaultOp, FaultyStorage, RealStorage};

/// A server thread that a test build can make panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thread {
    /// The event loop.
    Loop,
    /// The writer thread (the committer).
    Writer,
}

/// Overrides of the engine's defaults (empty outside test builds).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tuning {
    segment_size: Option<u64>,
    seal_on_close: Option<u64>,
    compact_min_bytes: Option<u64>,
    compact_ratio: Option<f64>,
    #[cfg(feature = "testing")]
    faults: Vec<Fault>,
    #[cfg(feature = "testing")]
    compact_gate: Option<PathBuf>,
    request_budget: Option<u64>,
    reply_limit: Option<u64>,
    serve_panic: Option<Thread>,
}

impl Tuning {
    /// Reads `TINYKV_TEST_OPTIONS` in test builds; nothing otherwise.
    pub fn from_env(env: &impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<Tuning> {
        #[cfg(feature = "testing")]
        if let Some(v) = env("TINYKV_TEST_OPTIONS") {
            return Tuning::parse(&v.to_string_lossy());
        }
        #[cfg(not(feature = "testing"))]
        let _ = env;
        Ok(Tuning::default())
    }

    #[cfg(feature = "testing")]
    fn parse(spec: &str) -> Result<Tuning> {
        let mut t = Tuning::default();
        for item in spec.split(',').filter(|s| !s.is_empty()) {
            let Some((name, value)) = item.split_once('=') else {
                bail!("TINYKV_TEST_OPTIONS: '{item}' is not name=value");
            };
            let number = || -> Result<u64> {
                value
                    .parse()
                    .map_err(|_| anyhow::anyhow!("TINYKV_TEST_OPTIONS: {name} needs a number"))
            };
            match name {
                "segment_size" => t.segment_size = Some(number()?),
                "seal_on_close" => t.seal_on_close = Some(number()?),
                "compact_min_bytes" => t.compact_min_bytes = Some(number()?),
                "compact_ratio" => {
                    t.compact_ratio = Some(value.parse().map_err(|_| {
                        anyhow::anyhow!("TINYKV_TEST_OPTIONS: compact_ratio needs a number")
                    })?)
                }
                "fault" => t.faults.push(parse_fault(value)?),
                "compact_gate" => t.compact_gate = Some(PathBuf::from(value)),
                "request_budget" => t.request_budget = Some(number()?),
                "reply_limit" => t.reply_limit = Some(number()?),
                "serve_panic" => {
                    t.serve_panic = Some(match value {
                        "loop" => Thread::Loop,
                        "writer" => Thread::Writer,
                        _ => bail!("TINYKV_TEST_OPTIONS: serve_panic is loop or writer"),
                    })
                }
                other => bail!("TINYKV_TEST_OPTIONS: unknown setting '{other}'"),
            }
        }
        Ok(t)
    }

    /// `opts` with these overrides applied.
    pub fn apply(&self, mut opts: Options) -> Options {
        if let Some(v) = self.segment_size {
            opts.segment_size = v;
        }
        if let Some(v) = self.seal_on_close {
            opts.seal_on_close = v;
        }
        if let Some(v) = self.compact_min_bytes {
            opts.compact_min_bytes = v;
        }
        if let Some(v) = self.compact_ratio {
            opts.compact_ratio = v;
        }
        #[cfg(feature = "testing")]
        if !self.faults.is_empty() {
            let storage = FaultyStorage::new(Arc::new(RealStorage));
            for f in &self.faults {
                storage.inject(*f);
            }
            opts.storage = Arc::new(storage);
        }
        #[cfg(feature = "testing")]
        if let Some(gate) = &self.compact_gate {
            opts.storage = Arc::new(Gated::new(opts.storage, gate.clone()));
        }
        opts
    }

    /// The server's request budget, when a test shrinks it.
    pub fn request_budget(&self) -> Option<usize> {
        self.request_budget.map(|n| n as usize)
    }

    /// The server's limit on queued replies, when a test shrinks it.
    pub fn reply_limit(&self) -> Option<usize> {
        self.reply_limit.map(|n| n as usize)
    }

    /// The server thread a test makes panic, if any.
    #[cfg(feature = "testing")]
    pub fn serve_panic(&self) -> Option<Thread> {
        self.serve_panic
    }
}

#[cfg(feature = "testing")]
fn parse_fault(spec: &str) -> Result<Fault> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (op, nth, kind, persistent) = match parts.as_slice() {
        [op, nth, kind] => (*op, *nth, *kind, false),
        [op, nth, kind, "persistent"] => (*op, *nth, *kind, true),
        _ => bail!("TINYKV_TEST_OPTIONS: fault '{spec}' is not OP:NTH:KIND[:persistent]"),
    };
    let op = match op {
        "write" => FaultOp::Write,
        "sync" => FaultOp::Sync,
        "rename" => FaultOp::Rename,
        "remove" => FaultOp::Remove,
        "open" => FaultOp::Open,
        "any" => FaultOp::Any,
        other => bail!("TINYKV_TEST_OPTIONS: unknown fault operation '{other}'"),
    };
    let kind = match kind {
        "eio" => FaultKind::Eio,
        "enospc" => FaultKind::Enospc,
        other => bail!("TINYKV_TEST_OPTIONS: unknown fault kind '{other}'"),
    };
    let nth = nth
        .parse()
        .ok()
        .filter(|&n: &u64| n > 0)
        .ok_or_else(|| anyhow::anyhow!("TINYKV_TEST_OPTIONS: fault count must be 1 or more"))?;
    Ok(Fault {
        op,
        nth,
        kind,
        persistent,
    })
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_faults() {
        let t = Tuning::parse("segment_size=8192,fault=sync:3:eio:persistent,fault=write:1:enospc")
            .unwrap();
        assert_eq!(t.segment_size, Some(8192));
        assert_eq!(
            t.faults,
            vec![
                Fault {
                    op: FaultOp::Sync,
                    nth: 3,
                    kind: FaultKind::Eio,
                    persistent: true
                },
                Fault {
                    op: FaultOp::Write,
                    nth: 1,
                    kind: FaultKind::Enospc,
                    persistent: false
                },
            ]
        );
        let opts = t.apply(Options::default());
        assert_eq!(opts.segment_size, 8192);
        let t =
            Tuning::parse("compact_gate=/tmp/g,request_budget=1024,serve_panic=writer").unwrap();
        assert_eq!(
            t.compact_gate.as_deref(),
            Some(std::path::Path::new("/tmp/g"))
        );
        assert_eq!(t.request_budget(), Some(1024));
        assert_eq!(t.serve_panic(), Some(Thread::Writer));
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        for bad in [
            "x",
            "size=1",
            "segment_size=big",
            "fault=sync:0:eio",
            "fault=fly:1:eio",
            "serve_panic=compactor",
            "request_budget=lots",
        ] {
            assert!(Tuning::parse(bad).is_err(), "{bad}");
        }
    }
}
