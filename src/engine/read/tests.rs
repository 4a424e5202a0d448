//! Tests of `read`.

use super::Bounded;
use crate::engine::{Db, Options};

/// A value is read only up to the limit: past it, only its record's
/// length comes back, from the active log and from a sealed segment
/// of either kind; a deleted or expired key is absent either way.
#[test]
fn a_bounded_get_reads_no_value_past_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let big = vec![b'b'; 2 * 1024 * 1024];
    let check = |db: &Db| {
        match db.get_unless_larger(b"big", 1024 * 1024).unwrap() {
            Bounded::Larger(len) => assert!(len > big.len() as u64, "{len}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            db.get_unless_larger(b"big", 4 * 1024 * 1024).unwrap(),
            Bounded::Value(big.clone())
        );
        assert_eq!(
            db.get_unless_larger(b"small", 1024).unwrap(),
            Bounded::Value(b"s".to_vec())
        );
        assert_eq!(db.get_unless_larger(b"gone", 0).unwrap(), Bounded::Absent);
        assert_eq!(db.get_unless_larger(b"old", 0).unwrap(), Bounded::Absent);
        assert_eq!(db.get_unless_larger(b"never", 0).unwrap(), Bounded::Absent);
    };
    db.set(b"big", &big).unwrap();
    db.set(b"small", b"s").unwrap();
    db.set(b"gone", b"x").unwrap();
    db.delete(b"gone").unwrap();
    db.set_expiring(b"old", b"x", Some(1)).unwrap();
    check(&db);
    // Sealed: in key order, a sorted segment; then compacted.
    drop(db);
    let o = Options {
        seal_on_close: 0,
        ..Options::default()
    };
    let db = Db::open(dir.path(), o.clone()).unwrap();
    drop(db);
    let db = Db::open(dir.path(), o).unwrap();
    assert!(!db.state.read().unwrap().segments.is_empty());
    check(&db);
    db.compact().unwrap();
    check(&db);
}

/// A bounded get of a small value in a segment is one lookup: it reads
/// the files as often as a plain get does (it read them twice: once for
/// the length, once for the value).
#[test]
fn a_bounded_get_of_a_small_value_in_a_segment_reads_as_a_get_does() {
    use crate::engine::storage::{Counting, RealStorage};
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let counting = Counting::over(Arc::new(RealStorage));
    let reads = Arc::clone(&counting.reads);
    let o = Options {
        seal_on_close: 0,
        cache_bytes: 0,
        storage: Arc::new(counting),
        ..Options::default()
    };
    let db = Db::open(dir.path(), o.clone()).unwrap();
    for i in 0..2000u32 {
        db.set(format!("key{i:05}").as_bytes(), &[b'v'; 100])
            .unwrap();
    }
    db.close().unwrap();
    for sealed in [false, true] {
        let db = Db::open(dir.path(), o.clone()).unwrap();
        if sealed {
            db.compact().unwrap();
        }
        assert!(db.state.read().unwrap().mem.is_empty());
        // The index's frames are read once and kept: warm them first.
        db.get(b"key01234").unwrap().unwrap();
        let before = reads.load(Ordering::SeqCst);
        assert_eq!(db.get(b"key01234").unwrap(), Some(vec![b'v'; 100]));
        let get = reads.load(Ordering::SeqCst) - before;
        let before = reads.load(Ordering::SeqCst);
        assert_eq!(
            db.get_unless_larger(b"key01234", 1024).unwrap(),
            Bounded::Value(vec![b'v'; 100])
        );
        let bounded = reads.load(Ordering::SeqCst) - before;
        assert!(get > 0, "a get read nothing");
        assert_eq!(bounded, get, "sealed {sealed}");
    }
}
