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
