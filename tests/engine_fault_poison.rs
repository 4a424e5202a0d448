//! A failed write or fsync on the write path (the log, a seal, a
//! compaction's switch-over) poisons the handle: later writes are refused
//! with `Error::Poisoned`, reads go on, and a reopen finds every
//! acknowledged write. (A compaction's merge is not the write path: see
//! engine_compaction_failure.rs.)

mod common_engine;

use common_engine::{sim_options, value_for};
use tinykv::engine::SimStorage;
use tinykv::engine::storage::{Fault, FaultKind, FaultOp};
use tinykv::{Db, Error};

const DIR: &str = "/db";

fn filled(sim: &SimStorage) -> Db {
    let db = Db::open(DIR, sim_options(sim)).unwrap();
    for i in 0..40u64 {
        let k = format!("k{i:02}").into_bytes();
        db.set(&k, &value_for(&k, i, 200)).unwrap();
    }
    db
}

fn assert_poisoned_then_intact(sim: &SimStorage, db: Db) {
    match db.set(b"later", b"x") {
        Err(Error::Poisoned { .. }) => {}
        other => panic!("expected Error::Poisoned, got {other:?}"),
    }
    sim.clear_faults();
    for i in 0..40u64 {
        let k = format!("k{i:02}").into_bytes();
        assert_eq!(
            db.get(&k).unwrap(),
            Some(value_for(&k, i, 200)),
            "read on the poisoned handle"
        );
    }
    drop(db);
    let db = Db::open(DIR, sim_options(sim)).unwrap();
    for i in 0..40u64 {
        let k = format!("k{i:02}").into_bytes();
        assert_eq!(
            db.get(&k).unwrap(),
            Some(value_for(&k, i, 200)),
            "after reopen"
        );
    }
    assert_eq!(db.get(b"later").unwrap(), None);
    assert!(db.check().unwrap().is_clean());
}

/// A write whose log write or fsync fails is refused, and so is every
/// write after it until a reopen, which finds every acknowledged write and
/// not the failed one.
#[test]
fn a_failed_log_write_or_fsync_poisons() {
    for op in [FaultOp::Sync, FaultOp::Write] {
        let sim = SimStorage::new(3);
        let db = filled(&sim);
        sim.inject(Fault {
            op,
            nth: 1,
            kind: FaultKind::Eio,
            persistent: false,
        });
        let r = db.set(b"later", b"first try");
        assert!(matches!(&r, Err(Error::Io { .. })), "{op:?}: {r:?}");
        assert_poisoned_then_intact(&sim, db);
    }
}

/// Under `SyncMode::Never` a write is not fsynced, so when the seal it
/// triggers fails to fsync (the first fsync that write ever gets), the write
/// must fail too: never success after a failed fsync (review finding).
#[test]
fn a_failed_seal_fsync_under_sync_never_fails_the_write() {
    for batched in [false, true] {
        let sim = SimStorage::new(7);
        let mut opts = sim_options(&sim);
        opts.sync = tinykv::SyncMode::Never;
        opts.auto_compact = false;
        let db = Db::open(DIR, opts).unwrap();
        sim.inject(Fault {
            op: FaultOp::Sync,
            nth: 1,
            kind: FaultKind::Eio,
            persistent: true,
        });
        // Writes until one fills the log (4 KiB segments): that one seals.
        let mut failed = None;
        for i in 0..100u64 {
            let k = format!("k{i:02}").into_bytes();
            let r = if batched {
                let mut b = tinykv::Batch::new();
                b.set(k.clone(), value_for(&k, i, 300));
                b.set(format!("x{i:02}").into_bytes(), b"y".to_vec());
                db.write_batch(b)
            } else {
                db.set(&k, &value_for(&k, i, 300))
            };
            if let Err(e) = r {
                failed = Some((i, e));
                break;
            }
        }
        let (i, e) = failed.expect("a write sealed the log");
        assert!(i > 3, "the first writes fit the log ({i})");
        // The write whose seal failed reports that failure itself (before
        // the fix it returned Ok and only the next write was refused).
        assert!(
            matches!(&e, Error::Io { op: "fsync", .. }),
            "batched {batched}: {e:?}"
        );
        match db.set(b"later", b"x") {
            Err(Error::Poisoned { .. }) => {}
            other => panic!("expected Error::Poisoned, got {other:?}"),
        }
    }
}
