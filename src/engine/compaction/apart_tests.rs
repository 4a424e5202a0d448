//! Tests of compaction outputs finished apart (output.rs, `finish_apart`):
//! each output but the last finishes on a thread of its own while the
//! next is written, and a failure there fails the compaction cleanly.

use std::path::Path;
use std::sync::Arc;

use super::test_support::{Journal, JournalStorage, group_counted, key, no_leftovers, value};
use super::tests::segment_ids;
use crate::engine::output::{FINISH_APART, FINISHER};
use crate::engine::storage::RealStorage;
use crate::engine::{Db, Options};

const KEYS: u32 = 1200;

/// The database's segments, and so its compaction's outputs: large
/// enough to be finished apart.
const SEGMENT: u64 = 4 << 20;
const _: () = assert!(SEGMENT >= FINISH_APART);

/// A database of 12 MB of live pairs, each written twice, in segments of
/// [`SEGMENT`], as its compaction's outputs will be.
fn written(dir: &Path, journal: &Arc<Journal>) -> Db {
    let opts = Options {
        storage: Arc::new(JournalStorage::new(journal, Arc::new(RealStorage))),
        segment_size: SEGMENT,
        auto_compact: false,
        ..Options::default()
    };
    let db = Db::open(dir, opts).unwrap();
    for round in 1..=2u8 {
        let mut b = db.batch_writer().unwrap();
        for i in 0..KEYS {
            b.set(&key(i), &value(i, round)).unwrap();
        }
        b.commit().unwrap();
    }
    db
}

/// Every pair holds its last value, and `more` other keys are there.
fn holds_every_pair(db: &Db, more: usize) {
    for i in 0..KEYS {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 2)), "key {i}");
    }
    assert_eq!(db.iter().count(), KEYS as usize + more);
    assert!(db.check().unwrap().is_clean());
}

/// Each full output of a large compaction is finished (its index written
/// and renamed into place) on the finishing thread, after the next output
/// was created; the last is finished where the merge ran. The data holds,
/// before and after a reopen.
#[test]
fn a_large_output_finishes_while_the_next_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::default());
    let db = written(dir.path(), &journal);
    journal.clear();
    let r = db.compact().unwrap();
    assert_eq!(r.keys, u64::from(KEYS));
    let ids = segment_ids(&db);
    assert!(ids.len() >= 3, "outputs {ids:?}");
    let (last, full) = ids.split_last().unwrap();
    for &id in full {
        let renamed = format!("rename seg-{id:08}.idx.tmp seg-{id:08}.idx");
        let (renamed_at, by) = journal.find(&renamed).expect(&renamed);
        assert_eq!(by, FINISHER, "{renamed}");
        let next = format!("create seg-{:08}.log.tmp", id + 1);
        let (created_at, _) = journal.find(&next).expect(&next);
        assert!(created_at < renamed_at, "{next} after {renamed}");
        // Its log and its index are durable before the index's name.
        for file in [
            format!("seg-{id:08}.log.tmp"),
            format!("seg-{id:08}.idx.tmp"),
        ] {
            let synced = format!("sync {file}");
            assert!(journal.noted_before(&synced, renamed_at), "{synced}");
        }
    }
    group_counted(&db);
    let renamed = format!("rename seg-{last:08}.idx.tmp seg-{last:08}.idx");
    let (_, by) = journal.find(&renamed).expect(&renamed);
    assert_ne!(by, FINISHER, "the last output");
    holds_every_pair(&db, 0);
    drop(db);
    let db = reopened(dir.path());
    holds_every_pair(&db, 0);
}

/// Outputs cut below [`FINISH_APART`] but for one that a single large
/// value takes past it: finished apart and in place in turn, they are
/// switched in in id order, and the last footer counts them all.
#[test]
fn outputs_finished_apart_and_in_place_stay_in_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        segment_size: 1 << 20,
        auto_compact: false,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let value = |i: u32, round: u8| match i {
        50 => vec![round; 3_600_000],
        _ => vec![round; 20_000],
    };
    for round in 0..2u8 {
        let mut b = db.batch_writer().unwrap();
        for i in 0..400u32 {
            b.set(&key(i), &value(i, round)).unwrap();
        }
        b.commit().unwrap();
    }
    db.compact().unwrap();
    assert!(segment_ids(&db).len() >= 5, "{:?}", segment_ids(&db));
    group_counted(&db);
    for i in 0..400u32 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 1)), "key {i}");
    }
    assert!(db.check().unwrap().is_clean());
}

fn reopened(dir: &Path) -> Db {
    let opts = Options {
        segment_size: SEGMENT,
        auto_compact: false,
        ..Options::default()
    };
    Db::open(dir, opts).unwrap()
}

/// A failed fsync on the finishing thread fails the compaction, which
/// leaves no file of its outputs and every pair as it was; the handle
/// stays usable, and the next compaction, with the disk well, succeeds.
#[test]
fn a_failure_finishing_apart_fails_the_compaction_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::default());
    let db = written(dir.path(), &journal);
    *journal.fail_syncs_on.lock().unwrap() = Some(FINISHER);
    let e = db
        .compact()
        .expect_err("an fsync of the finishing thread failed");
    let source = std::error::Error::source(&e).map(|s| s.to_string());
    assert_eq!(source.as_deref(), Some("injected"), "{e}");
    assert!(e.to_string().starts_with("fsync "), "{e}");
    *journal.fail_syncs_on.lock().unwrap() = None;
    no_leftovers(dir.path());
    holds_every_pair(&db, 0);
    db.set(b"after", b"the failure").unwrap();
    let r = db.compact().unwrap();
    assert_eq!(r.keys, u64::from(KEYS) + 1);
    holds_every_pair(&db, 1);
}
