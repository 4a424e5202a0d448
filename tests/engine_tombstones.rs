//! A tombstone in a newer segment hides a value in an older one, through
//! reopen, compaction and more reopens: a deleted key never comes back.

mod common_engine;

use std::fs;

use common_engine::{real_options, seg_files};
use tinykv::{Batch, Db, Options};

/// Seals on every close, so each session's writes land in their own segment.
fn seal_each_session() -> Options {
    let mut o = real_options();
    o.seal_on_close = 0;
    o
}

#[test]
fn tombstone_in_newer_segment_hides_older_value_across_compaction_and_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let opts = seal_each_session();
    {
        let db = Db::open(&dir, opts.clone()).unwrap();
        db.set(b"gone", b"old value").unwrap();
        db.set(b"kept", b"1").unwrap();
        db.set(b"batch-gone", b"old").unwrap();
        db.close().unwrap();
    }
    {
        let db = Db::open(&dir, opts.clone()).unwrap();
        assert!(db.delete(b"gone").unwrap());
        let mut b = Batch::new();
        b.delete(b"batch-gone".to_vec());
        b.set(b"other".to_vec(), b"x".to_vec());
        db.write_batch(b).unwrap();
        db.close().unwrap();
    }
    assert_eq!(
        seg_files(&dir, ".log").len(),
        2,
        "value and tombstone in two segments"
    );
    let assert_deleted = |db: &Db, when: &str| {
        assert_eq!(db.get(b"gone").unwrap(), None, "{when}");
        assert!(!db.contains(b"gone").unwrap(), "{when}");
        assert_eq!(db.get(b"batch-gone").unwrap(), None, "{when}");
        let keys: Vec<_> = db.keys(b"").map(Result::unwrap).collect();
        assert_eq!(keys, vec![b"kept".to_vec(), b"other".to_vec()], "{when}");
    };
    let db = Db::open(&dir, opts.clone()).unwrap();
    assert_deleted(&db, "after reopen");
    // A third segment on top, then compaction of all three.
    db.set(b"later", b"y").unwrap();
    db.delete(b"later").unwrap();
    db.compact().unwrap();
    assert_deleted(&db, "after compaction");
    drop(db);
    let db = Db::open(&dir, opts.clone()).unwrap();
    assert_deleted(&db, "after compaction and reopen");
    // Compacting again (no tombstone left anywhere) changes nothing.
    db.compact().unwrap();
    drop(db);
    let db = Db::open(&dir, opts.clone()).unwrap();
    assert_deleted(&db, "after a second compaction and reopen");
    assert!(db.check().unwrap().is_clean());
}

#[test]
fn tombstone_in_the_wal_hides_a_sealed_value_after_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    {
        let db = Db::open(&dir, seal_each_session()).unwrap();
        db.set(b"k", b"sealed").unwrap();
    }
    let mut keep_wal = real_options();
    keep_wal.seal_on_close = u64::MAX;
    {
        let db = Db::open(&dir, keep_wal.clone()).unwrap();
        db.delete(b"k").unwrap();
    }
    assert!(fs::metadata(dir.join("wal.log")).unwrap().len() > 16);
    let db = Db::open(&dir, keep_wal).unwrap();
    assert_eq!(db.open_report().replayed, 1);
    assert_eq!(db.get(b"k").unwrap(), None);
    assert!(db.is_empty().unwrap());
    assert_eq!(db.len().unwrap(), 0);
}

/// Deletes mixed with sets across many segments and automatic compactions:
/// every deleted key stays deleted.
#[test]
fn deletes_survive_automatic_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let mut opts = seal_each_session();
    opts.auto_compact = true;
    opts.compact_min_bytes = 4096;
    let mut model = std::collections::BTreeMap::new();
    for round in 0..6u32 {
        let db = Db::open(&dir, opts.clone()).unwrap();
        for i in 0..80u32 {
            let k = format!("k{:02}", (i * 7 + round) % 50).into_bytes();
            if (i + round) % 3 == 0 {
                db.delete(&k).unwrap();
                model.remove(&k);
            } else {
                let v = format!("{round}-{i}-{}", "v".repeat(60)).into_bytes();
                db.set(&k, &v).unwrap();
                model.insert(k, v);
            }
        }
        drop(db);
        let db = Db::open(&dir, opts.clone()).unwrap();
        assert_eq!(common_engine::contents(&db), model, "round {round}");
    }
    let db = Db::open(&dir, opts).unwrap();
    assert!(
        db.stats().unwrap().last_compaction.is_some(),
        "no automatic compaction ran"
    );
}
