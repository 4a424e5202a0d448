//! Resuming an iteration after a key (what a server's SCAN cursor needs)
//! gives, page after page, exactly the live keys in order, across the active
//! log, several segments, tombstones and prefixes; and `compaction_due`
//! turns true once the files outgrow the threshold, without reading a key.

mod common_engine;

use std::collections::BTreeMap;

use common_engine::{Rng, real_options};
use tinykv::Db;

/// Walks `prefix` in pages of `page` keys, each resumed after the last key
/// of the one before, as a SCAN client would.
fn paged(db: &Db, prefix: &[u8], page: usize) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let keys = db.keys(prefix);
        let keys = match &cursor {
            Some(after) => keys.after(after),
            None => keys,
        };
        let got: Vec<Vec<u8>> = keys.take(page).map(|k| k.unwrap()).collect();
        let done = got.len() < page;
        cursor = got.last().cloned().or(cursor);
        all.extend(got);
        assert!(
            all.len() <= 10_000,
            "the pages never end: resuming repeats keys"
        );
        if done {
            return all;
        }
    }
}

#[test]
fn pages_resumed_after_a_key_cover_every_live_key_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = real_options();
    opts.segment_size = 4096;
    opts.seal_on_close = 0;
    opts.auto_compact = false;
    let db = Db::open(tmp.path(), opts).unwrap();
    let mut model = BTreeMap::new();
    let mut rng = Rng::new(7);
    for i in 0..3000u64 {
        let key = format!(
            "{}:{:04}",
            ["a", "b", "c"][rng.below(3) as usize],
            rng.below(600)
        );
        if rng.chance(20) {
            db.delete(key.as_bytes()).unwrap();
            model.remove(&key);
        } else {
            db.set(key.as_bytes(), format!("v{i}").as_bytes()).unwrap();
            model.insert(key, ());
        }
    }
    for prefix in ["", "b:", "c:05", "zz"] {
        let want: Vec<Vec<u8>> = model
            .keys()
            .filter(|k| k.starts_with(prefix))
            .map(|k| k.clone().into_bytes())
            .collect();
        for page in [1, 7, 100, 5000] {
            assert_eq!(
                paged(&db, prefix.as_bytes(), page),
                want,
                "prefix {prefix:?} page {page}"
            );
        }
    }
    // A key below the prefix does not cut the walk short; one past the end
    // leaves nothing.
    let b_keys: Vec<_> = db.keys(b"b:").map(|k| k.unwrap()).collect();
    let from_low: Vec<_> = db
        .keys(b"b:")
        .after(b"a:9999")
        .map(|k| k.unwrap())
        .collect();
    assert_eq!(from_low, b_keys);
    assert_eq!(db.keys(b"b:").after(b"b:9999").count(), 0);
    // Values come along when resuming a full iteration too.
    let first = b_keys[0].clone();
    let (k, v) = db.iter_prefix(b"b:").after(&first).next().unwrap().unwrap();
    assert_eq!(k, b_keys[1]);
    assert_eq!(Some(v), db.get(&k).unwrap());
}

#[test]
fn compaction_due_follows_the_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = real_options();
    opts.segment_size = 4096;
    opts.compact_min_bytes = 64 * 1024;
    opts.compact_ratio = 2.0;
    opts.auto_compact = false;
    let db = Db::open(tmp.path(), opts).unwrap();
    assert!(!db.compaction_due());
    let mut writes = 0;
    while !db.compaction_due() {
        db.set(b"same-key", &[b'x'; 200]).unwrap();
        writes += 1;
        assert!(writes < 10_000, "never due");
    }
    // 64 KiB of ~220-byte records: due only once the minimum is reached.
    assert!(writes > 250, "due after {writes} writes");
    db.compact().unwrap();
    assert!(!db.compaction_due(), "a compacted database is not due");
}

#[test]
fn write_would_seal_follows_the_active_log() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = real_options();
    opts.segment_size = 4096;
    opts.auto_compact = false;
    let db = Db::open(tmp.path(), opts).unwrap();
    assert!(!db.write_would_seal(100));
    assert!(db.write_would_seal(5000));
    // Fill the log to just short of a seal: a small write would not seal,
    // one that reaches the segment size would.
    let mut n = 0;
    while !db.write_would_seal(300) {
        db.set(format!("k{n:04}").as_bytes(), &[b'v'; 200]).unwrap();
        n += 1;
        assert!(n < 100, "the log never filled");
    }
    assert!(!db.write_would_seal(10));
    // Writing past the size seals, and the new log is empty again.
    db.set(b"big", &[b'x'; 600]).unwrap();
    assert!(!db.write_would_seal(300));
}
