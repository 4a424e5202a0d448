//! Tests of the merges at a bulk load's commit: how many passes, and a
//! process short of file descriptors.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::super::tests::{Model, everything, key, leftovers, shuffled, small};
use crate::engine::batch::BatchWriter;
use crate::engine::dir::seg_log_name;
use crate::engine::storage::{Counting, RealStorage};
use crate::engine::{Db, Options};

/// A database in `dir` over a [`Counting`] storage (segments of 4 KiB),
/// and the storage, for its counters.
///
/// [`Counting`]: crate::engine::storage::Counting
fn counted(dir: &Path) -> (Db, Arc<Counting>) {
    let counting = Arc::new(Counting::over(Arc::new(RealStorage)));
    let opts = Options {
        storage: Arc::clone(&counting) as Arc<dyn crate::engine::storage::Storage>,
        ..small()
    };
    (Db::open(dir, opts).unwrap(), counting)
}

/// Writes 6,000 pairs in an order shuffled by `seed` (about 90 runs of 4
/// KiB); returns what they make.
fn write_shuffled(b: &mut BatchWriter<'_>, seed: u64) -> Model {
    let mut model = Model::new();
    for i in shuffled(6000, seed) {
        let v = format!("v{i}-{:40}", "").into_bytes();
        b.set(&key(i), &v).unwrap();
        model.insert(key(i), v);
    }
    model
}

/// Loads 6,000 pairs in random order with a fan-in of `fan_in`; returns
/// how many times the runs' bytes were read.
fn run_reads(fan_in: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let (db, counting) = counted(dir.path());
    let mut b = db.batch_writer().unwrap();
    let model = write_shuffled(&mut b, 11);
    let bulk = b.bulk.as_mut().unwrap();
    bulk.fan_in = fan_in;
    let runs = &bulk.spilled;
    assert!(runs.len() > 64 + 20, "{} runs", runs.len());
    let run_bytes: u64 = runs
        .iter()
        .map(|r| std::fs::metadata(&r.path).unwrap().len())
        .sum();
    let before = counting.bytes.load(Ordering::SeqCst);
    b.commit().unwrap();
    let read = counting.bytes.load(Ordering::SeqCst) - before;
    assert_eq!(everything(&db), model);
    read as f64 / run_bytes as f64
}

/// Past the fan-in, only as many runs are merged first as bring the count
/// down to one final merge: 90 runs at 64 merge 27 of them, then 64, so
/// the commit reads the runs' bytes about 1.3 times, not twice (every run
/// merged once before the last merge, as it was). Within [`FAN_IN`]
/// (super::super::FAN_IN), once.
#[test]
fn too_many_runs_merge_only_what_the_last_merge_cannot_take() {
    let ratio = run_reads(64);
    assert!(
        (1.1..1.6).contains(&ratio),
        "the runs were read {ratio:.2} times"
    );
    let ratio = run_reads(super::super::FAN_IN);
    assert!(
        (0.95..1.1).contains(&ratio),
        "the runs were read {ratio:.2} times"
    );
}

/// A merge of more runs than the process can open files for goes on with
/// a fan-in of half the files it could open, in more passes, and loses
/// nothing: about 90 runs with at most 40 files open at once (a process
/// at its descriptor limit), where one merge of them all would fail; with
/// room for every run's file and 0 to 5 more (the last merge writes two
/// segments, holding the first one's log while it writes the second's log
/// and index), the same; and with a fan-in of 64 and 20 files, passes
/// before the last one short of files too, over keys written twice (the
/// later write must still win).
#[test]
fn a_merge_short_of_files_merges_fewer_runs_at_once() {
    /// At most this many files open, or room for every run's and this
    /// many more.
    enum Limit {
        Files(usize),
        RunsAnd(usize),
    }
    let all = super::super::FAN_IN;
    let mut cases = vec![(all, Limit::Files(40), false)];
    cases.extend((0..=5).map(|extra| (all, Limit::RunsAnd(extra), false)));
    cases.push((64, Limit::Files(20), true));
    for (fan_in, limit, twice) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (db, counting) = counted(dir.path());
        let mut b = db.batch_writer().unwrap();
        let mut model = write_shuffled(&mut b, 13);
        if twice {
            for i in shuffled(6000, 14) {
                let v = format!("again{i}").into_bytes();
                b.set(&key(i), &v).unwrap();
                model.insert(key(i), v);
            }
        }
        let bulk = b.bulk.as_mut().unwrap();
        bulk.fan_in = fan_in;
        let runs = bulk.spilled.len();
        assert!(runs > 80, "{runs} runs");
        let most = match limit {
            Limit::Files(n) => n,
            // The commit writes what is buffered as one more run.
            Limit::RunsAnd(extra) => counting.open.load(Ordering::SeqCst) + runs + 1 + extra,
        };
        counting.open_limit.store(most, Ordering::SeqCst);
        b.commit().unwrap();
        counting.open_limit.store(usize::MAX, Ordering::SeqCst);
        assert_eq!(everything(&db), model, "fan-in {fan_in}, {most} files");
        assert!(leftovers(dir.path()).is_empty());
        let segments = db.state.read().unwrap().segments.len();
        // Past the cap (256 KiB), once: the last merge wrote two segments.
        assert!(twice || segments >= 2, "{segments} segments");
    }
}

/// Once a load's segments hold `keep_cached` bytes, each segment it
/// begins hands its pages back to the system as an fsync makes them
/// durable, and no other segment does: of three segments of 256 KiB with
/// the mark at 300 KB, the third; whether they are the runs themselves
/// (in key order) or merged from runs (in random order, or a load that
/// replaces). Runs that are merged, never fsynced, are handed back by the
/// merge as it reads them, and only then.
#[test]
fn a_large_load_hands_back_its_segments_pages_once_durable() {
    for (ordered, replace) in [(true, false), (false, false), (true, true)] {
        let dir = tempfile::tempdir().unwrap();
        let (db, counting) = counted(dir.path());
        let mut b = db.batch_writer().unwrap();
        if replace {
            b.replace_all();
        }
        let order = match ordered {
            true => (0..6000).collect(),
            false => shuffled(6000, 5),
        };
        for i in order {
            b.set(&key(i), format!("v{i}-{:100}", "").as_bytes())
                .unwrap();
            // Set once the batch spills, before its first run is closed;
            // every run fsyncs in the background every 16 KiB, so that a
            // run told to hand back its pages would.
            if let Some(bulk) = b.bulk.as_mut() {
                if bulk.written == 0 {
                    bulk.keep_cached = 300_000;
                }
                for run in &mut bulk.runs {
                    run.sync_ahead_every(16 * 1024);
                }
            }
        }
        b.commit().unwrap();
        let segments: Vec<String> = (db.state.read().unwrap().segments.iter())
            .map(|s| seg_log_name(s.id) + ".tmp")
            .collect();
        assert_eq!(segments.len(), 3, "{segments:?}");
        let dropped = counting.dropped.lock().unwrap().clone();
        let (of_segments, of_runs): (Vec<_>, Vec<_>) = dropped
            .into_iter()
            .partition(|d| segments.contains(&d.file));
        assert!(of_segments.iter().all(|d| d.durable), "{of_segments:?}");
        let mut files: Vec<String> = of_segments.into_iter().map(|d| d.file).collect();
        files.dedup();
        assert_eq!(
            files,
            &segments[2..],
            "in key order {ordered}, replacing {replace}"
        );
        let merged = !ordered || replace;
        assert_eq!(!of_runs.is_empty(), merged, "{of_runs:?}");
        assert!(of_runs.iter().all(|d| !d.durable), "{of_runs:?}");
    }
}
