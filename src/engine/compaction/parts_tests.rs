//! Tests of a compaction merged in two parts at once (`merge_in_parts`):
//! the upper part on a thread of its own, its outputs numbered after the
//! lower part's; a failure in either fails the compaction cleanly.

use std::path::Path;
use std::sync::Arc;

use super::parts::{MERGER, PARTS_FROM, split_key};
use super::test_support::{
    Journal, JournalStorage, VALUE, group_counted, key, no_leftovers, value,
};
use super::tests::segment_ids;
use crate::engine::storage::RealStorage;
use crate::engine::{Db, Options};

const KEYS: u32 = 1800;

/// Segments (and outputs) of 4 MiB: a compaction makes a few of each part.
fn options(journal: &Arc<Journal>) -> Options {
    Options {
        storage: Arc::new(JournalStorage::new(journal, Arc::new(RealStorage))),
        segment_size: 4 << 20,
        auto_compact: false,
        ..Options::default()
    }
}

/// Every pair written twice (37 MB of logs: merged in parts), then the
/// keys in `deleted` deleted.
fn written(dir: &Path, journal: &Arc<Journal>, deleted: std::ops::Range<u32>) -> Db {
    const _: () = assert!(2 * KEYS as u64 * VALUE as u64 > PARTS_FROM);
    let db = Db::open(dir, options(journal)).unwrap();
    for round in 1..=2u8 {
        let mut b = db.batch_writer().unwrap();
        for i in 0..KEYS {
            b.set(&key(i), &value(i, round)).unwrap();
        }
        b.commit().unwrap();
    }
    let mut b = db.batch_writer().unwrap();
    for i in deleted {
        b.delete(&key(i)).unwrap();
    }
    b.commit().unwrap();
    db
}

/// Every pair not in `deleted` holds its last value; those in it are gone.
fn holds(db: &Db, deleted: &std::ops::Range<u32>) {
    for i in 0..KEYS {
        let want = (!deleted.contains(&i)).then(|| value(i, 2));
        assert_eq!(db.get(&key(i)).unwrap(), want, "key {i}");
    }
}

/// The outputs are one group: consecutive ids, keys rising from one to
/// the next, none empty but maybe the last, the last footer counting
/// them all.
fn one_group(db: &Db) {
    let ids = segment_ids(db);
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "ids {ids:?}");
    group_counted(db);
    let st = db.state.read().unwrap();
    let (last, others) = st.segments.split_last().unwrap();
    for s in others {
        assert!(s.index.footer.keys > 0, "segment {} is empty", s.id);
    }
    for w in st.segments.windows(2) {
        let (a, b) = (&w[0].index.footer, &w[1].index.footer);
        if b.keys > 0 {
            assert!(a.last_key.kept() < b.first_key.kept(), "{ids:?}");
        }
    }
    assert!(last.index.footer.group.is_some_and(|g| g.last));
}

/// Each part writes outputs, the upper on the merging thread; those are
/// renamed down to follow the lower part's, and the whole is one group
/// that a reopen takes as complete (the old segments go).
#[test]
fn a_large_compaction_merges_its_upper_part_on_a_thread_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::default());
    let db = written(dir.path(), &journal, 0..0);
    journal.clear();
    let r = db.compact().unwrap();
    assert_eq!(r.keys, u64::from(KEYS));
    one_group(&db);
    let events = journal.events();
    let logs = |merger: bool| {
        let made = events.iter().filter(|(w, t)| {
            w.starts_with("create seg-") && w.ends_with(".log.tmp") && (t == MERGER) == merger
        });
        made.count()
    };
    assert!(logs(false) >= 2 && logs(true) >= 2, "{events:?}");
    // Renamed down, before the commit: `rename seg-A.log.tmp seg-B.log.tmp`, B < A.
    let renumbered = events.iter().filter(|(w, _)| {
        let names: Vec<&str> = w.split(' ').collect();
        let id = |n: &str| {
            n.strip_prefix("seg-")?
                .strip_suffix(".log.tmp")?
                .parse::<u64>()
                .ok()
        };
        match names[..] {
            ["rename", from, to] => id(from).zip(id(to)).is_some_and(|(a, b)| b < a),
            _ => false,
        }
    });
    assert_eq!(renumbered.count(), logs(true), "{events:?}");
    holds(&db, &(0..0));
    assert!(db.check().unwrap().is_clean());
    let ids = segment_ids(&db);
    drop(db);
    let db = Db::open(dir.path(), options(&journal)).unwrap();
    assert_eq!(segment_ids(&db), ids, "the group, and nothing older");
    holds(&db, &(0..0));
}

/// A part whose keys are all deleted leaves no empty output in the group
/// but maybe the last: the lower part's goes (its id to the upper's
/// first), and the upper part's last is the group's last, empty or not.
#[test]
fn a_part_with_no_live_key_leaves_no_empty_output_but_the_last() {
    for deleted in [0..KEYS - 300, 300..KEYS] {
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(Journal::default());
        let db = written(dir.path(), &journal, deleted.clone());
        journal.clear();
        let r = db.compact().unwrap();
        assert_eq!(r.keys, 300, "{deleted:?}");
        let merged_apart = journal.events().iter().any(|(what, thread)| {
            what.starts_with("create seg-") && what.ends_with(".log.tmp") && thread == MERGER
        });
        assert!(merged_apart, "{deleted:?}: merged in one part");
        one_group(&db);
        holds(&db, &deleted);
        assert!(db.check().unwrap().is_clean());
        let ids = segment_ids(&db);
        drop(db);
        let db = Db::open(dir.path(), options(&journal)).unwrap();
        assert_eq!(segment_ids(&db), ids, "{deleted:?}");
        holds(&db, &deleted);
    }
}

/// A failed write on the merging thread fails the compaction, which
/// leaves no file of its outputs and every pair as it was; the handle
/// stays usable, and the next compaction, with the disk well, succeeds.
#[test]
fn a_failure_in_the_upper_part_fails_the_compaction_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::default());
    let db = written(dir.path(), &journal, 0..0);
    *journal.fail_writes_on.lock().unwrap() = Some(MERGER);
    let e = db
        .compact()
        .expect_err("a write of the merging thread failed");
    let source = std::error::Error::source(&e).map(|s| s.to_string());
    assert_eq!(source.as_deref(), Some("injected"), "{e}");
    *journal.fail_writes_on.lock().unwrap() = None;
    no_leftovers(dir.path());
    holds(&db, &(0..0));
    db.set(b"key99999", b"after the failure").unwrap();
    let r = db.compact().unwrap();
    assert_eq!(r.keys, u64::from(KEYS) + 1);
    one_group(&db);
    holds(&db, &(0..0));
}

/// A failed write in the lower part (merged on the compacting thread)
/// fails the compaction as one in the upper part does: the other part
/// stops, both are joined, and no file of the outputs is left.
#[test]
fn a_failure_in_the_lower_part_fails_the_compaction_and_keeps_the_data() {
    const COMPACTING: &str = "compacting";
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::default());
    let db = written(dir.path(), &journal, 0..0);
    *journal.fail_writes_on.lock().unwrap() = Some(COMPACTING);
    let compacting = std::thread::Builder::new().name(COMPACTING.into());
    let e = std::thread::scope(|s| {
        let compaction = compacting.spawn_scoped(s, || db.compact()).unwrap();
        compaction.join().unwrap()
    })
    .expect_err("a write of the lower part failed");
    let source = std::error::Error::source(&e).map(|s| s.to_string());
    assert_eq!(source.as_deref(), Some("injected"), "{e}");
    *journal.fail_writes_on.lock().unwrap() = None;
    no_leftovers(dir.path());
    holds(&db, &(0..0));
    let r = db.compact().unwrap();
    assert_eq!(r.keys, u64::from(KEYS));
    one_group(&db);
}

/// The cut leaves about half the bytes of the old segments on each side,
/// however many segments there are and whatever keys each holds: here
/// segments of a sixth and of a third of the keys, each key in two of
/// them (the middle of the largest segment would cut at a sixth).
#[test]
fn the_cut_halves_the_old_segments_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::default());
    let db = Db::open(dir.path(), options(&journal)).unwrap();
    for (round, keys) in [(1u8, KEYS / 6), (2, KEYS / 3)] {
        for from in (0..KEYS).step_by(keys as usize) {
            let mut b = db.batch_writer().unwrap();
            for i in from..from + keys {
                b.set(&key(i), &value(i, round)).unwrap();
            }
            b.commit().unwrap();
        }
    }
    db.seal(&mut db.lock_writer()).unwrap();
    let old = db.state.read().unwrap().segments.clone();
    let below = |cut: &[u8]| (0..KEYS).filter(|&i| key(i).as_slice() < cut).count() as u32;
    // Each key's records are the same size in both rounds.
    let cut = split_key(&old).expect("a cut");
    assert!(
        below(&cut).abs_diff(KEYS / 2) <= KEYS / 32,
        "{} keys below",
        below(&cut)
    );
    let largest = old.iter().max_by_key(|s| s.log_len).unwrap();
    let its_middle = largest.index.cut_keys(2).unwrap().pop().unwrap();
    assert!(
        below(&its_middle).abs_diff(KEYS / 2) > KEYS / 8,
        "{} segments",
        old.len()
    );
}

/// A compaction lets the system's cache drop what its walks read and
/// passed of the old logs, a range each part read (the two overlap at
/// most in the data block where they meet: here none, with a record a
/// block); a reader's walk over the same files drops nothing.
#[test]
fn a_compaction_drops_what_it_passed_of_the_old_logs() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::default());
    let db = written(dir.path(), &journal, 0..0);
    db.seal(&mut db.lock_writer()).unwrap();
    let old: Vec<(String, u64)> = {
        let st = db.state.read().unwrap();
        let name = |s: &crate::engine::Segment| {
            s.log_path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        st.segments.iter().map(|s| (name(s), s.log_len)).collect()
    };
    let drops = |journal: &Journal| -> Vec<(String, u64, u64)> {
        let events = journal.events();
        let parsed = events.iter().filter_map(|(what, _)| {
            let mut w = what.strip_prefix("drop ")?.split(' ');
            // As the file was opened: a bulk load's segment under its
            // temporary name.
            let name = w.next()?.trim_end_matches(".tmp").to_string();
            Some((name, w.next()?.parse().ok()?, w.next()?.parse().ok()?))
        });
        parsed.collect()
    };
    journal.clear();
    let pairs: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(pairs.len(), KEYS as usize);
    assert_eq!(drops(&journal), vec![], "a reader's walk");
    db.compact().unwrap();
    let drops = drops(&journal);
    let mut total = 0;
    for (log, len) in &old {
        let mut ranges: Vec<(u64, u64)> = drops
            .iter()
            .filter(|(name, ..)| name == log)
            .map(|&(_, at, n)| (at, at + n))
            .collect();
        assert!(!ranges.is_empty(), "{log}: nothing dropped");
        ranges.sort();
        for w in ranges.windows(2) {
            assert!(w[0].1 <= w[1].0, "{log}: {ranges:?} overlap");
        }
        assert!(
            ranges.last().unwrap().1 <= *len,
            "{log}: {ranges:?} past {len}"
        );
        total += ranges.iter().map(|(a, b)| b - a).sum::<u64>();
    }
    let all: u64 = old.iter().map(|(_, len)| len).sum();
    assert!(total >= all / 2, "{total} of {all} bytes dropped");
    assert!(
        drops
            .iter()
            .all(|(name, ..)| old.iter().any(|(log, _)| log == name)),
        "{drops:?}"
    );
    holds(&db, &(0..0));
}
