//! Tests of `txn`.

use super::*;
use crate::engine::clock::ManualClock;
use crate::engine::{Db, Options};

fn open(clock: &ManualClock) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        clock: Arc::new(clock.clone()),
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    (dir, db)
}

#[test]
fn integers_are_parsed_as_redis_parses_them() {
    for (text, want) in [
        (&b"0"[..], Some(0)),
        (b"-5", Some(-5)),
        (b"9223372036854775807", Some(i64::MAX)),
        (b"-9223372036854775808", Some(i64::MIN)),
        (b"9223372036854775808", None),
        (b"007", None),
        (b"-0", None),
        (b"+5", None),
        (b" 5", None),
        (b"5 ", None),
        (b"", None),
        (b"-", None),
        (b"1e3", None),
    ] {
        assert_eq!(
            parse_integer(text),
            want,
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn incr_counts_refuses_non_integers_and_overflow_and_keeps_expiry() {
    let clock = ManualClock::new(1_000);
    let (_dir, db) = open(&clock);
    assert_eq!(db.incr(b"n", 1).unwrap(), 1);
    assert_eq!(db.incr(b"n", -3).unwrap(), -2);
    db.set(b"text", b"abc").unwrap();
    assert!(matches!(
        db.incr(b"text", 1),
        Err(Error::NotAnInteger { .. })
    ));
    assert_eq!(db.get(b"text").unwrap(), Some(b"abc".to_vec()));
    db.set(b"big", i64::MAX.to_string().as_bytes()).unwrap();
    assert!(matches!(
        db.incr(b"big", 1),
        Err(Error::IntegerOverflow { .. })
    ));
    db.set_expiring(b"t", b"5", Some(2_000)).unwrap();
    assert_eq!(db.incr(b"t", 1).unwrap(), 6);
    assert_eq!(db.expiry(b"t").unwrap(), Some(Some(2_000)));
    clock.set(2_000);
    assert_eq!(db.get(b"t").unwrap(), None);
    assert_eq!(db.incr(b"t", 1).unwrap(), 1, "an expired key counts as 0");
    assert_eq!(db.expiry(b"t").unwrap(), Some(None));
}

#[test]
fn conditions_take_first_rename_and_expire() {
    let clock = ManualClock::new(10);
    let (_dir, db) = open(&clock);
    let nx = |v: &[u8]| {
        db.set_if(b"k", v, Condition::Absent, Expiry::Clear)
            .unwrap()
    };
    assert!(nx(b"1").stored);
    assert_eq!(
        nx(b"2"),
        SetOutcome {
            stored: false,
            previous: Some(b"1".to_vec()),
        }
    );
    let cas = |old: &[u8], v: &[u8]| {
        db.set_if(b"k", v, Condition::Equals(old.to_vec()), Expiry::Keep)
            .unwrap()
            .stored
    };
    assert!(!cas(b"2", b"3"));
    assert!(cas(b"1", b"3"));
    assert_eq!(db.get(b"k").unwrap(), Some(b"3".to_vec()));
    assert!(
        !db.set_if(b"x", b"v", Condition::Present, Expiry::Clear)
            .unwrap()
            .stored
    );
    assert_eq!(db.get(b"x").unwrap(), None);

    for k in ["job:3", "job:1", "job:2", "other"] {
        db.set(k.as_bytes(), k.as_bytes()).unwrap();
    }
    db.delete(b"job:1").unwrap();
    let popped = db.take_first(b"job:").unwrap();
    assert_eq!(popped, Some((b"job:2".to_vec(), b"job:2".to_vec())));
    assert_eq!(db.take_first(b"job:").unwrap().unwrap().0, b"job:3");
    assert_eq!(db.take_first(b"job:").unwrap(), None);

    assert_eq!(db.rename(b"nope", b"x", false).unwrap(), Renamed::NoSuchKey);
    db.set_expiring(b"a", b"A", Some(100)).unwrap();
    db.set(b"b", b"B").unwrap();
    assert_eq!(db.rename(b"a", b"b", true).unwrap(), Renamed::TargetExists);
    assert_eq!(db.rename(b"a", b"c", false).unwrap(), Renamed::Done);
    assert_eq!(db.get(b"a").unwrap(), None);
    assert_eq!(
        db.get_with_expiry(b"c").unwrap(),
        Some((b"A".to_vec(), Some(100)))
    );
    assert_eq!(db.rename(b"c", b"c", false).unwrap(), Renamed::Done);
    assert_eq!(db.get(b"c").unwrap(), Some(b"A".to_vec()));

    assert!(db.expire(b"b", Some(50)).unwrap());
    assert_eq!(db.expiry(b"b").unwrap(), Some(Some(50)));
    assert!(db.expire(b"b", None).unwrap());
    assert_eq!(db.expiry(b"b").unwrap(), Some(None));
    assert!(!db.expire(b"nope", Some(50)).unwrap());
    assert!(db.expire(b"b", Some(5)).unwrap(), "a past deadline deletes");
    assert_eq!(db.get(b"b").unwrap(), None);
}

#[test]
fn keys_see_the_groups_writes_and_their_own() {
    let clock = ManualClock::new(10);
    let (_dir, db) = open(&clock);
    for k in ["a", "b", "c", "d", "x"] {
        db.set(k.as_bytes(), b"v").unwrap();
    }
    db.set_expiring(b"e", b"v", Some(20)).unwrap();
    let walked = db
        .transact(|t| {
            t.delete(b"b")?;
            t.set(b"bb", b"v", None)?;
            t.set(b"f", b"v", Some(5))?;
            t.set(b"g", b"v", None)?;
            let all = t.keys(b"").collect::<Result<Vec<_>>>()?;
            let after = t.keys(b"").after(b"c").collect::<Result<Vec<_>>>()?;
            Ok((all, after))
        })
        .unwrap();
    let names = |keys: &[Vec<u8>]| -> Vec<String> {
        keys.iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    };
    assert_eq!(names(&walked.0), ["a", "bb", "c", "d", "e", "g", "x"]);
    assert_eq!(names(&walked.1), ["d", "e", "g", "x"]);
    clock.set(20);
    let walked = db
        .transact(|t| t.keys(b"").collect::<Result<Vec<_>>>())
        .unwrap();
    assert_eq!(names(&walked), ["a", "bb", "c", "d", "g", "x"]);
    assert_eq!(db.stats().unwrap().expiring, 0);
    db.set_expiring(b"h", b"v", Some(99)).unwrap();
    assert_eq!(db.stats().unwrap().expiring, 1);
}

/// Many threads taking from one queue: each key goes to exactly one,
/// and concurrent increments all count, with group commit sharing
/// their writes.
#[test]
fn concurrent_takers_and_counters() {
    let clock = ManualClock::new(1);
    let (_dir, db) = open(&clock);
    for i in 0..200 {
        db.set(format!("job:{i:03}").as_bytes(), b"todo").unwrap();
    }
    let db = Arc::new(db);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                let mut taken = Vec::new();
                while let Some((k, _)) = db.take_first(b"job:").unwrap() {
                    taken.push(k);
                    db.incr(b"count", 1).unwrap();
                }
                taken
            })
        })
        .collect();
    let mut all: Vec<Vec<u8>> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    let want: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("job:{i:03}").into_bytes())
        .collect();
    assert_eq!(all, want);
    assert_eq!(db.get(b"count").unwrap(), Some(b"200".to_vec()));
}
