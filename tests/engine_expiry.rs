//! Expiry in the engine, on a clock the test moves (no sleeps): an expired
//! key is absent for every read (get, contains, expiry, get_many, keys,
//! iteration, len, last_key) wherever its record is (the active log, a
//! sorted or a hashed segment, after a reopen), hides the older values of
//! its key as a tombstone does, and is dropped by compaction; a later
//! write without a deadline clears one; files of format 2 are still read.

use std::sync::Arc;

use tinykv::engine::clock::ManualClock;
use tinykv::{Batch, Db, Options};

const T0: u64 = 1_700_000_000_000;

fn options(clock: &ManualClock) -> Options {
    let mut o = Options::default();
    o.clock = Arc::new(clock.clone());
    o.seal_on_close = 0;
    o.auto_compact = false;
    o
}

/// Every read agrees that exactly `live` (sorted) are set.
fn only(db: &Db, live: &[&str], gone: &[&str]) {
    for k in live {
        assert!(db.get(k.as_bytes()).unwrap().is_some(), "{k} should be set");
        assert!(db.contains(k.as_bytes()).unwrap(), "{k}");
        assert!(db.expiry(k.as_bytes()).unwrap().is_some(), "{k}");
    }
    for k in gone {
        assert_eq!(db.get(k.as_bytes()).unwrap(), None, "{k} should be gone");
        assert!(!db.contains(k.as_bytes()).unwrap(), "{k}");
        assert_eq!(db.expiry(k.as_bytes()).unwrap(), None, "{k}");
    }
    let keys: Vec<Vec<u8>> = db.keys(b"").map(|k| k.unwrap()).collect();
    let want: Vec<Vec<u8>> = live.iter().map(|k| k.as_bytes().to_vec()).collect();
    assert_eq!(keys, want, "keys");
    let pairs: Vec<Vec<u8>> = db.iter().map(|p| p.unwrap().0).collect();
    assert_eq!(pairs, want, "iter");
    assert_eq!(db.len().unwrap(), live.len() as u64);
    assert_eq!(
        db.last_key(b"").unwrap(),
        live.last().map(|k| k.as_bytes().to_vec())
    );
    let all: Vec<&[u8]> = live.iter().chain(gone).map(|k| k.as_bytes()).collect();
    let many = db.get_many(&all).unwrap();
    assert!(many[..live.len()].iter().all(Option::is_some));
    assert!(many[live.len()..].iter().all(Option::is_none));
}

/// `order`: keys written in key order give a sorted segment when sealed,
/// any other order a hashed one.
fn expiry_everywhere(sorted: bool) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    let keys: Vec<&str> = if sorted {
        vec!["a", "b", "c", "d"]
    } else {
        vec!["c", "a", "d", "b"]
    };
    for k in &keys {
        let at = match *k {
            "a" => Some(T0 + 100),
            "c" => Some(T0 + 200),
            _ => None,
        };
        db.set_expiring(k.as_bytes(), k.as_bytes(), at).unwrap();
    }
    // In the active log.
    only(&db, &["a", "b", "c", "d"], &[]);
    clock.set(T0 + 100);
    only(&db, &["b", "c", "d"], &["a"]);
    // In a segment (sealed at close), and after a reopen.
    db.close().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(db.open_report().replayed, 0, "the log was sealed");
    only(&db, &["b", "c", "d"], &["a"]);
    assert_eq!(db.expiry(b"c").unwrap(), Some(Some(T0 + 200)));
    assert_eq!(db.expiry(b"b").unwrap(), Some(None));
    clock.set(T0 + 500);
    only(&db, &["b", "d"], &["a", "c"]);
    assert!(db.check().unwrap().is_clean());
    // Compaction drops the expired keys' bytes.
    let before = db.stats().unwrap();
    let report = db.compact().unwrap();
    assert_eq!(report.keys, 2);
    let after = db.stats().unwrap();
    assert!(
        after.total_bytes < before.total_bytes,
        "{before:?} {after:?}"
    );
    only(&db, &["b", "d"], &["a", "c"]);
    // The clock going back does not bring back what compaction dropped.
    clock.set(T0);
    only(&db, &["b", "d"], &["a", "c"]);
    drop(db);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    only(&db, &["b", "d"], &["a", "c"]);
    assert!(db.check().unwrap().is_clean());
}

#[test]
fn expiry_in_the_log_a_sorted_segment_and_after_compaction() {
    expiry_everywhere(true);
}

#[test]
fn expiry_in_a_hashed_segment() {
    expiry_everywhere(false);
}

#[test]
fn an_expired_put_hides_older_values_and_a_plain_write_clears_a_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    db.set(b"k", b"old, in an older segment").unwrap();
    db.set(b"t", b"tombstoned").unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    db.set_expiring(b"k", b"new", Some(T0 + 10)).unwrap();
    db.set_expiring(b"t", b"expiring", Some(T0 + 1_000_000))
        .unwrap();
    db.delete(b"t").unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"new".to_vec()));
    clock.advance(10);
    assert_eq!(
        db.get(b"k").unwrap(),
        None,
        "the old value must not come back"
    );
    assert_eq!(
        db.get(b"t").unwrap(),
        None,
        "a tombstone beats an expiring value"
    );
    // A write without a deadline clears one, in a batch too.
    db.set_expiring(b"x", b"1", Some(T0 + 50)).unwrap();
    db.set(b"x", b"2").unwrap();
    let mut b = Batch::new();
    b.set_expiring(b"y".to_vec(), b"1".to_vec(), Some(T0 + 50));
    b.set(b"y".to_vec(), b"2".to_vec());
    db.write_batch(b).unwrap();
    clock.advance(1_000);
    assert_eq!(db.get(b"x").unwrap(), Some(b"2".to_vec()));
    assert_eq!(db.get(b"y").unwrap(), Some(b"2".to_vec()));
    assert_eq!(db.expiry(b"x").unwrap(), Some(None));
    // A deadline already past stores nothing.
    db.set_expiring(b"z", b"late", Some(clock_now(&clock) - 1))
        .unwrap();
    assert_eq!(db.get(b"z").unwrap(), None);
    db.compact().unwrap();
    assert_eq!(db.get(b"k").unwrap(), None);
    assert_eq!(db.get(b"x").unwrap(), Some(b"2".to_vec()));
}

fn clock_now(clock: &ManualClock) -> u64 {
    use tinykv::engine::clock::Clock;
    clock.now_ms()
}

/// A database whose files say format 2 (what builds before expiry wrote):
/// read as it is, written to, compacted, checked clean.
#[test]
fn files_of_format_2_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    for i in 0..50u32 {
        db.set(format!("k{i:03}").as_bytes(), b"v").unwrap();
    }
    db.close().unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    db.set(b"in the log", b"v").unwrap();
    drop(db);
    // Relabel every log as format 2 (its records have no expiry, so they
    // are format 2's), and let open rebuild the indexes.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".idx") {
            std::fs::remove_file(&path).unwrap();
        } else if name.ends_with(".log") {
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
            let crc = crc32fast::hash(&bytes[..12]);
            bytes[12..16].copy_from_slice(&crc.to_le_bytes());
            std::fs::write(&path, bytes).unwrap();
        }
    }
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(db.len().unwrap(), 51);
    assert!(db.check().unwrap().is_clean());
    db.set_expiring(b"new", b"v", Some(T0 + 5)).unwrap();
    db.compact().unwrap();
    clock.advance(5);
    assert_eq!(db.len().unwrap(), 51);
    assert!(db.check().unwrap().is_clean());
}
