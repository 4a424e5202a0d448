//! A compaction whose merge fails (an output that cannot be created,
//! written or fsynced; a damaged record in a segment it reads) changes
//! nothing: the old segments stay in use, its outputs are removed, the
//! handle takes writes, and a reopen finds every acknowledged write. An
//! automatic one that fails is reported by `Db::auto_compaction_failure`
//! and is not retried on every write.

mod common_engine;

use std::path::Path;

use common_engine::{real_options, sim_options, value_for};
use tinykv::engine::SimStorage;
use tinykv::engine::storage::{Fault, FaultKind, FaultOp};
use tinykv::{Db, Error};

const DIR: &str = "/db";

fn key(i: u64) -> Vec<u8> {
    format!("k{i:02}").into_bytes()
}

fn filled(sim: &SimStorage) -> Db {
    let db = Db::open(DIR, sim_options(sim)).unwrap();
    for i in 0..40u64 {
        db.set(&key(i), &value_for(&key(i), i, 200)).unwrap();
    }
    db
}

fn assert_all(db: &Db, what: &str) {
    for i in 0..40u64 {
        assert_eq!(
            db.get(&key(i)).unwrap(),
            Some(value_for(&key(i), i, 200)),
            "{what}"
        );
    }
    assert_eq!(
        db.get(b"later").unwrap().as_deref(),
        Some(&b"x"[..]),
        "{what}"
    );
}

/// Regression (the review after compaction stopped blocking writes): a
/// failed compaction output used to poison the handle, so one bad sector
/// or a full disk during a background merge stopped every later write;
/// and the output being written was left behind as `seg-N.log.tmp`.
#[test]
fn a_failed_output_changes_nothing() {
    for op in [FaultOp::Sync, FaultOp::Write, FaultOp::Open] {
        let mut hit = false;
        for nth in 1..60 {
            let sim = SimStorage::new(nth);
            let db = filled(&sim);
            db.set(&key(0), &value_for(&key(0), 0, 200)).unwrap();
            sim.inject(Fault {
                op,
                nth,
                kind: FaultKind::Eio,
                persistent: false,
            });
            let r = db.compact();
            // Only the failures of a compaction output (seg-N.log.tmp) count here.
            let on_output = matches!(&r, Err(Error::Io { path, .. })
                if path.to_string_lossy().ends_with(".log.tmp"));
            if !on_output {
                continue;
            }
            hit = true;
            sim.clear_faults();
            // No temporary file is left, nor an index without its log.
            let files = sim.files();
            let left: Vec<_> = files
                .iter()
                .filter(|f| {
                    let tmp = f.extension().is_some_and(|e| e == "tmp");
                    let orphan = f.extension().is_some_and(|e| e == "idx")
                        && !files.contains(&f.with_extension("log"));
                    tmp || orphan
                })
                .collect();
            assert!(left.is_empty(), "{op:?} nth {nth}: left behind {left:?}");
            db.set(b"later", b"x").unwrap();
            assert_all(&db, "on the same handle");
            // A compaction that can run now does, and loses nothing.
            db.compact().unwrap();
            assert_all(&db, "after a compaction that succeeded");
            drop(db);
            let db = Db::open(DIR, sim_options(&sim)).unwrap();
            assert_all(&db, "after reopen");
            assert!(db.check().unwrap().is_clean());
            break;
        }
        assert!(hit, "{op:?}: no fault landed on a compaction output");
    }
}

/// Flips a bit of the byte in the middle of `seg` (inside a record).
fn damage(seg: &Path) {
    let mut bytes = std::fs::read(seg).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(seg, bytes).unwrap();
}

/// Regression (CLI review): one damaged record in an old segment made
/// every automatic compaction fail, and each failure poisoned the handle,
/// so a REPL session or a server refused every write after the next one.
#[test]
fn a_damaged_segment_stops_compaction_not_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = real_options();
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    for i in 0..40u64 {
        db.set(&key(i), &value_for(&key(i), i, 200)).unwrap();
    }
    db.close().unwrap();
    let seg = dir.path().join("seg-00000001.log");
    assert!(seg.exists(), "4 KiB segments: the writes sealed one");
    damage(&seg);

    opts.auto_compact = true;
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    // Overwrite keys that are not in the damaged segment until the files
    // pass the compaction threshold (8 KiB at least).
    let mut n = 0u64;
    while db.auto_compaction_failure().is_none() {
        n += 1;
        assert!(n < 2_000, "no automatic compaction ran");
        db.set(b"later", b"x").unwrap();
        db.set(b"filler", &value_for(b"filler", n, 300)).unwrap();
    }
    let why = db.auto_compaction_failure().unwrap();
    assert!(why.contains("seg-00000001.log"), "{why}");
    // Not retried at once: the files must grow by the ratio first.
    assert!(!db.compaction_due());
    // Writes go on, and survive a reopen.
    for i in 0..20u64 {
        db.set(format!("after{i}").as_bytes(), b"y").unwrap();
    }
    drop(db);
    let db = Db::open(dir.path(), opts).unwrap();
    for i in 0..20u64 {
        assert_eq!(
            db.get(format!("after{i}").as_bytes()).unwrap().as_deref(),
            Some(&b"y"[..])
        );
    }
    assert_eq!(db.get(b"later").unwrap().as_deref(), Some(&b"x"[..]));
    // The damage itself is still there for check and recover to report.
    assert!(!db.check().unwrap().is_clean());
}
