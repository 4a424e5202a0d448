//! tinykv's own commands, where Redis has none: what the `tinykv` command
//! line needs from the process that owns a database (owner.rs) beyond GET,
//! SET, DEL and EXISTS, so that every one-shot command works through it
//! with the same results. They answer any client, redis-cli included.
//!
//! ```text
//! TINYKV.OWNER                     *4 :pid $kind $dir $sync (always|never)
//! TINYKV.SCAN prefix after n KEYS    *2 $last-or-nil *[key...]
//!                                  (… FROM: the walk starts at `after`, inclusive)
//! TINYKV.SCAN prefix after n ENTRIES *2 $last-or-nil *[key value expiry...]
//!                                  (expiry: $ms, or an empty bulk for none)
//! TINYKV.POP prefix                *2 $key $value: the smallest key with prefix,
//!                                  removed at once; nil when there is none
//! TINYKV.COUNT prefix              :n
//! TINYKV.LASTKEY prefix            $key (the greatest with prefix) or nil
//! TINYKV.STATS                     *18 name/value pairs (integers;
//!                                  last_compaction in Unix seconds, -1: none)
//! TINYKV.COMPACT                   *6 :bytes_before :bytes_after :keys :micros
//!                                  $skipped (nil, empty, already-compact, no-gain) :rewritten
//! TINYKV.CHECK                     *N :files :records then $path :offset $reason per problem
//! TINYKV.FLUSH                     +OK once every acknowledged write is on disk
//! TINYKV.LOAD BEGIN [REPLACE]      +OK: this connection gathers an atomic load
//! TINYKV.LOAD PAIRS k v [k v ...]  :pairs gathered so far
//! TINYKV.LOAD ENTRIES k v e [...]  the same, each with an expiry (e: $ms,
//!                                  or an empty bulk for none)
//! TINYKV.LOAD COMMIT               :pairs, once all of them are stored (atomically)
//! TINYKV.LOAD ABORT                +OK, nothing stored
//! TINYKV.BACKUP dest               *2 :files :bytes (the owner's Unix socket only)
//! ```
//!
//! SCAN walks keys in order from just after `after` (empty: from the
//! start), at most `n` of them and about [`PAGE_BYTES`] of reply; `last` is
//! where to resume, nil once the walk has ended. Like the engine's own
//! iteration (and Redis's SCAN), every key present for the whole walk is
//! returned exactly once, whatever is written meanwhile.
//!
//! Invariants: a load is gathered in the connection's own [`Stage`](crate::engine::Stage),
//! which holds no lock while pairs arrive (a client that stalls stalls
//! nobody) and is dropped, storing nothing, if the client goes without
//! COMMIT; COMMIT is one engine commit, which holds the writer, so no
//! check-then-write of another connection (SET NX, INCR: one engine
//! transaction each) straddles it; BACKUP, which
//! writes files where it is told, is refused to network clients.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

use super::ctx::{Ctx, Flow};
use super::reply::{Output, wrong_arity};
use super::request::parse::parse_int;
use crate::engine::{Skipped, SyncMode};

/// A SCAN page stops growing past this many bytes of keys and values.
pub const PAGE_BYTES: usize = 4 * 1024 * 1024;
/// The most keys one SCAN page may ask for.
pub const PAGE_KEYS: usize = 100_000;

/// TINYKV.OWNER.
pub fn owner(ctx: &mut Ctx<'_>, _: &[Vec<u8>]) -> Flow {
    let server = ctx.server;
    ctx.out.array(4);
    ctx.out.integer(i64::from(std::process::id()));
    ctx.out.bulk(server.settings.kind.name().as_bytes());
    ctx.out
        .bulk(server.db.path().as_os_str().as_encoded_bytes());
    ctx.out.bulk(match server.settings.sync {
        SyncMode::Always => b"always",
        SyncMode::Never => b"never",
    });
    Flow::Continue
}

/// TINYKV.SCAN prefix after n KEYS|ENTRIES [FROM].
pub fn scan(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let (prefix, after) = (&args[1], &args[2]);
    let Some(n) = parse_int(&args[3])
        .filter(|&n| n >= 1)
        .map(|n| (n as usize).min(PAGE_KEYS))
    else {
        ctx.out
            .error("ERR the page size must be a positive integer");
        return Flow::Continue;
    };
    let values = match args[4].to_ascii_uppercase().as_slice() {
        b"KEYS" => false,
        b"ENTRIES" => true,
        _ => return ctx.syntax_error(),
    };
    let from = match &args[5..] {
        [] => false,
        [f] if f.eq_ignore_ascii_case(b"from") => true,
        _ => return ctx.syntax_error(),
    };
    let db = &ctx.server.db;
    let mut items: Vec<Vec<u8>> = Vec::new();
    let (mut bytes, mut more) = (0, false);
    let walked: crate::engine::Result<()> = (|| {
        if values {
            let mut it = db.iter_prefix(prefix);
            if from {
                it = it.from(after);
            } else if !after.is_empty() {
                it = it.after(after);
            }
            while let Some(pair) = it.next() {
                if items.len() / 3 >= n || bytes >= PAGE_BYTES {
                    more = true;
                    break;
                }
                let (k, v) = pair?;
                bytes += k.len() + v.len();
                items.push(k);
                items.push(v);
                items.push(
                    it.last_expiry()
                        .map(|at| at.to_string().into_bytes())
                        .unwrap_or_default(),
                );
            }
        } else {
            let mut it = db.keys(prefix);
            if from {
                it = it.from(after);
            } else if !after.is_empty() {
                it = it.after(after);
            }
            for key in it {
                if items.len() >= n || bytes >= PAGE_BYTES {
                    more = true;
                    break;
                }
                let k = key?;
                bytes += k.len();
                items.push(k);
            }
        }
        Ok(())
    })();
    if let Err(e) = walked {
        ctx.engine_error(&e);
        return Flow::Continue;
    }
    let step = if values { 3 } else { 1 };
    let last = more
        .then(|| items.len().checked_sub(step).map(|i| items[i].clone()))
        .flatten();
    ctx.out.array(2);
    ctx.out.optional_owned(last);
    ctx.out.array(items.len());
    for item in items {
        ctx.out.bulk_owned(item);
    }
    Flow::Continue
}

/// TINYKV.COUNT prefix.
pub fn count(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    match ctx.server.db.count(&args[1]) {
        Ok(n) => ctx.out.integer(i64::try_from(n).unwrap_or(i64::MAX)),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// TINYKV.LASTKEY prefix.
pub fn last_key(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    match ctx.server.db.last_key(&args[1]) {
        Ok(key) => ctx.out.optional_owned(key),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// TINYKV.STATS.
pub fn stats(ctx: &mut Ctx<'_>, _: &[Vec<u8>]) -> Flow {
    let s = match ctx.server.db.stats() {
        Ok(s) => s,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let last = s
        .last_compaction
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(-1, |d| d.as_secs() as i64);
    let fields: [(&str, i64); 9] = [
        ("keys", s.keys as i64),
        ("live_bytes", s.live_bytes as i64),
        ("total_bytes", s.total_bytes as i64),
        ("dead_bytes", s.dead_bytes as i64),
        ("overhead_bytes", s.overhead_bytes as i64),
        ("segments", s.segments as i64),
        ("wal_bytes", s.wal_bytes as i64),
        ("files", s.files as i64),
        ("last_compaction", last),
    ];
    ctx.out.array(2 * fields.len());
    for (name, value) in fields {
        ctx.out.bulk(name.as_bytes());
        ctx.out.integer(value);
    }
    Flow::Continue
}

/// TINYKV.COMPACT: runs on this worker, not on the compaction thread, so
/// that its report is this command's; one at a time either way (the engine
/// runs one compaction at a time).
pub fn compact(ctx: &mut Ctx<'_>, _: &[Vec<u8>]) -> Flow {
    match ctx.server.db.compact() {
        Ok(r) => {
            ctx.out.array(6);
            ctx.out.integer(r.bytes_before as i64);
            ctx.out.integer(r.bytes_after as i64);
            ctx.out.integer(r.keys as i64);
            ctx.out.integer(r.elapsed.as_micros() as i64);
            let (skipped, rewritten): (Option<&[u8]>, u64) = match r.skipped {
                None => (None, 0),
                Some(Skipped::Empty) => (Some(b"empty"), 0),
                Some(Skipped::AlreadyCompact) => (Some(b"already-compact"), 0),
                Some(Skipped::NoGain { rewritten }) => (Some(b"no-gain"), rewritten),
            };
            ctx.out.optional(skipped);
            ctx.out.integer(rewritten as i64);
        }
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// TINYKV.CHECK.
pub fn check(ctx: &mut Ctx<'_>, _: &[Vec<u8>]) -> Flow {
    match ctx.server.db.check() {
        Ok(r) => {
            ctx.out.array(2 + 3 * r.problems.len());
            ctx.out.integer(r.files as i64);
            ctx.out.integer(r.records as i64);
            for p in r.problems {
                ctx.out.bulk(p.path.as_os_str().as_encoded_bytes());
                ctx.out.integer(p.offset as i64);
                ctx.out.bulk(p.reason.as_bytes());
            }
        }
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// TINYKV.FLUSH: under `--sync never`, a client that wants its writes on
/// disk before it says they succeeded asks for this.
pub fn flush(ctx: &mut Ctx<'_>, _: &[Vec<u8>]) -> Flow {
    match ctx.server.db.flush() {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// TINYKV.LOAD BEGIN [REPLACE] | PAIRS k v ... | COMMIT | ABORT.
pub fn load(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let server = ctx.server;
    let mut stage = ctx.client.stage.lock().unwrap_or_else(|p| p.into_inner());
    let sub = args[1].to_ascii_uppercase();
    match (sub.as_slice(), &args[2..]) {
        (b"BEGIN", rest) => {
            let replace = match rest {
                [] => false,
                [r] if r.eq_ignore_ascii_case(b"replace") => true,
                _ => return ctx.syntax_error(),
            };
            match server.db.stage(replace) {
                Ok(s) => {
                    *stage = Some(s);
                    ctx.out.ok();
                }
                Err(e) => ctx.engine_error(&e),
            }
        }
        (b"PAIRS" | b"ENTRIES", items) => {
            let width = if sub.as_slice() == b"PAIRS" { 2 } else { 3 };
            if items.is_empty() || items.len() % width != 0 {
                ctx.out.error(&wrong_arity(&format!(
                    "tinykv.load|{}",
                    String::from_utf8_lossy(&sub).to_lowercase()
                )));
                return Flow::Continue;
            }
            let Some(s) = stage.as_mut() else {
                return no_load(ctx.out);
            };
            for item in items.chunks(width) {
                let expires_at = match item.get(2).map(|e| parse_expiry(e)) {
                    None | Some(Ok(None)) => None,
                    Some(Ok(at)) => at,
                    Some(Err(())) => {
                        *stage = None;
                        ctx.out
                            .error("ERR an expiry must be Unix milliseconds or empty");
                        return Flow::Continue;
                    }
                };
                if let Err(e) = s.set_expiring(&item[0], &item[1], expires_at) {
                    // The load is spoiled: nothing of it will be stored.
                    *stage = None;
                    ctx.engine_error(&e);
                    return Flow::Continue;
                }
            }
            ctx.out.integer(s.len() as i64);
        }
        (b"COMMIT", []) => {
            let Some(s) = stage.take() else {
                return no_load(ctx.out);
            };
            match server.db.commit_stage(s) {
                Ok(n) => {
                    server.compactor.note_write();
                    ctx.out.integer(n as i64);
                }
                Err(e) => ctx.engine_error(&e),
            }
        }
        (b"ABORT", []) => {
            *stage = None;
            ctx.out.ok();
        }
        _ => return ctx.syntax_error(),
    }
    Flow::Continue
}

/// An expiry in TINYKV.LOAD ENTRIES: Unix milliseconds, or empty for none.
fn parse_expiry(text: &[u8]) -> Result<Option<u64>, ()> {
    if text.is_empty() {
        return Ok(None);
    }
    if !text.iter().all(u8::is_ascii_digit) {
        return Err(());
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .map(Some)
        .ok_or(())
}

/// TINYKV.POP prefix.
pub fn pop(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let server = ctx.server;
    match server.db.take_first(&args[1]) {
        Ok(Some((key, value))) => {
            server.compactor.note_write();
            ctx.out.array(2);
            ctx.out.bulk_owned(key);
            ctx.out.bulk_owned(value);
        }
        Ok(None) => ctx.out.nil(),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn no_load(out: &mut Output) -> Flow {
    out.error("ERR no load in progress on this connection (TINYKV.LOAD BEGIN first)");
    Flow::Continue
}

/// TINYKV.BACKUP dest.
pub fn backup(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    if !ctx.client.local {
        ctx.out.error(
            "ERR TINYKV.BACKUP writes files on the server's machine: only the owner's \
             local socket may ask for it",
        );
        return Flow::Continue;
    }
    let dest = Path::new(std::ffi::OsStr::from_bytes(&args[1]));
    match ctx.server.db.backup(dest) {
        Ok(r) => {
            ctx.out.array(2);
            ctx.out.integer(r.files as i64);
            ctx.out.integer(r.bytes as i64);
        }
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}
