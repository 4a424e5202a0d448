//! A storage wrapper for tests of the binary (`TINYKV_TEST_OPTIONS`
//! `compact_gate=PATH`, test builds only): while the file PATH exists, a
//! compaction stops at its switch-over, when it renames its first output
//! (`seg-N.log.tmp`) into place, inside `Db::compact` with the engine's
//! writer lock held (the one step of a compaction where it holds it, with
//! the seal at its start: writes wait there, reads must not), and says so
//! by creating `PATH.reached`. A test can then prove what the server does
//! *while* a compaction runs, without hoping that one lasts long enough:
//! it creates PATH, waits for PATH.reached, checks, and removes PATH to let
//! the compaction finish.
//!
//! Invariant: every call is passed to the wrapped storage unchanged; the
//! only difference is the wait.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::storage::{Layer, Storage};

/// How often a held compaction looks whether the gate is gone.
const POLL: Duration = Duration::from_millis(5);

/// A storage whose compactions wait while a gate file exists.
pub struct Gated {
    inner: Arc<dyn Storage>,
    gate: PathBuf,
}

impl fmt::Debug for Gated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gated").field("gate", &self.gate).finish()
    }
}

impl Gated {
    /// `inner`, held at `gate`.
    pub fn new(inner: Arc<dyn Storage>, gate: PathBuf) -> Gated {
        Gated { inner, gate }
    }

    /// The path whose creation says that a compaction is held.
    pub fn reached(gate: &Path) -> PathBuf {
        let mut name = gate.as_os_str().to_owned();
        name.push(".reached");
        PathBuf::from(name)
    }

    fn hold(&self, from: &Path) {
        let output = from.to_string_lossy().ends_with(".log.tmp");
        if !output || !self.gate.exists() {
            return;
        }
        // The real file system, not `inner`: the gate is the test's file.
        let _ = std::fs::write(Gated::reached(&self.gate), b"");
        while self.gate.exists() {
            std::thread::sleep(POLL);
        }
    }
}

impl Layer for Gated {
    fn below(&self) -> &dyn Storage {
        &*self.inner
    }

    fn rename_file(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.hold(from);
        self.inner.rename(from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::storage::{OpenMode, RealStorage};

    #[test]
    fn a_compaction_output_waits_for_the_gate() {
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("gate");
        let storage = Gated::new(Arc::new(RealStorage), gate.clone());
        let tmp = |name: &str| {
            let p = dir.path().join(name);
            storage.open(&p, OpenMode::Truncate).unwrap();
            p
        };
        // No gate: nothing waits.
        let a = tmp("a.log.tmp");
        storage.rename(&a, &dir.path().join("a.log")).unwrap();
        std::fs::write(&gate, b"").unwrap();
        // Other renames do not wait either.
        let w = tmp("wal.log");
        storage.rename(&w, &dir.path().join("seg-0.log")).unwrap();
        let out = tmp("seg-1.log.tmp");
        std::thread::scope(|s| {
            let held = s.spawn(|| {
                storage.rename(&out, &dir.path().join("seg-1.log")).unwrap();
            });
            let reached = Gated::reached(&gate);
            while !reached.exists() {
                std::thread::sleep(POLL);
            }
            assert!(!held.is_finished());
            std::fs::remove_file(&gate).unwrap();
            held.join().unwrap();
        });
    }
}
