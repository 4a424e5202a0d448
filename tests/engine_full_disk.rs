//! A full disk never locks anyone out of their data (#19): with ENOSPC
//! injected at every write (and fsync, and rename) of a seal, of a
//! compaction (its seal, its outputs, its switch-over) and of a new active
//! log's creation, in turn (N = 1, 2, … until the fault lands nowhere),
//! the database opens and reads while the disk stays full, a write fails
//! saying ENOSPC, and once space is back every acknowledged write is there
//! and writes work.
//!
//! Through `FaultyStorage` over a real directory, so that it runs
//! everywhere; tests/cli_full_disk.rs runs the same sequence through the
//! binary, on a real full tmpfs where the test may mount one.

mod common_engine;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common_engine::{real_options, value_for};
use tinykv::engine::storage::{Fault, FaultKind, FaultOp, FaultyStorage, RealStorage};
use tinykv::{Db, Options};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn options(fs: &FaultyStorage) -> Options {
    let mut o = real_options();
    o.storage = Arc::new(fs.clone());
    o
}

fn full_disk(fs: &FaultyStorage, op: FaultOp, nth: u64) {
    fs.inject(Fault {
        op,
        nth,
        kind: FaultKind::Enospc,
        persistent: true,
    });
}

/// `n` keys written into a database with a sealed segment and a live log.
fn fill(dir: &Path, fs: &FaultyStorage, n: u64) -> Model {
    let mut opts = options(fs);
    opts.seal_on_close = u64::MAX;
    let db = Db::open(dir, opts).expect("open");
    let mut model = Model::new();
    // Every key written twice: dead bytes, so that a compaction has
    // something to reclaim and runs (one that cannot gain writes nothing).
    for round in 0..2 {
        for i in 0..n {
            let k = format!("k{i:03}").into_bytes();
            let v = value_for(&k, i + round * n, 150);
            db.set(&k, &v).expect("set");
            model.insert(k, v);
        }
    }
    db.close().expect("close");
    model
}

/// Everything a reader does works on the full disk, and a write fails
/// with one error naming ENOSPC (when every write fails: `writes_fail`);
/// after space returns, every acknowledged write is there and a write
/// works.
fn reads_work_then_writes(
    dir: &Path,
    fs: &FaultyStorage,
    model: &mut Model,
    op: FaultOp,
    case: &str,
) {
    // The disk stays full: from now on, every `op` fails.
    fs.clear_faults();
    full_disk(fs, op, 1);
    let writes_fail = op == FaultOp::Write;
    {
        let db = Db::open(dir, options(fs)).unwrap_or_else(|e| panic!("{case}: open: {e}"));
        for (k, v) in model.iter() {
            let got = db.get(k).unwrap_or_else(|e| panic!("{case}: get: {e}"));
            assert_eq!(got.as_ref(), Some(v), "{case}: get {k:?}");
        }
        let all: Model = db
            .iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{case}: iter: {e}"));
        assert_eq!(&all, &*model, "{case}: iter");
        let stats = db.stats().unwrap_or_else(|e| panic!("{case}: stats: {e}"));
        assert_eq!(stats.keys, model.len() as u64, "{case}: stats");
        let check = db.check().unwrap_or_else(|e| panic!("{case}: check: {e}"));
        assert!(check.is_clean(), "{case}: check: {:?}", check.problems);
        match db.set(b"on-a-full-disk", b"x") {
            Err(e) => assert!(
                e.is_no_space() || e.with_causes().contains("No space left"),
                "{case}: a write failed for another reason: {e}"
            ),
            Ok(()) if writes_fail => panic!("{case}: a write succeeded on a full disk"),
            Ok(()) => {
                model.insert(b"on-a-full-disk".to_vec(), b"x".to_vec());
            }
        }
        drop(db);
    }
    let check = Db::check_dir(dir, &options(fs)).unwrap_or_else(|e| panic!("{case}: check: {e}"));
    assert!(check.is_clean(), "{case}: check_dir: {:?}", check.problems);

    fs.clear_faults();
    let db = Db::open(dir, options(fs)).unwrap_or_else(|e| panic!("{case}: reopen: {e}"));
    // A write whose fsync failed is not acknowledged, but may be there.
    if let Some(v) = db.get(b"on-a-full-disk").unwrap() {
        assert_eq!(v, b"x", "{case}");
        model.insert(b"on-a-full-disk".to_vec(), v);
    }
    for (k, v) in model.iter() {
        assert_eq!(
            db.get(k).unwrap().as_ref(),
            Some(v),
            "{case}: after space returned"
        );
    }
    db.set(b"after", b"space returned")
        .unwrap_or_else(|e| panic!("{case}: write after space returned: {e}"));
    db.compact()
        .unwrap_or_else(|e| panic!("{case}: compact after space returned: {e}"));
    drop(db);
    let db = Db::open(dir, options(fs)).unwrap();
    assert_eq!(
        db.get(b"after").unwrap().as_deref(),
        Some(&b"space returned"[..])
    );
    assert_eq!(db.len().unwrap(), model.len() as u64 + 1, "{case}");
    assert!(db.check().unwrap().is_clean(), "{case}");
}

/// Runs `step` on a fresh database for N = 1, 2, … with the disk full from
/// the Nth `op` on, until four runs in a row no longer fail; then checks
/// reads and writes. Returns how many runs the fault landed in.
fn sweep(
    name: &str,
    op: FaultOp,
    prepare: impl Fn(&Path),
    step: impl Fn(&Path, &FaultyStorage, &mut Model) -> bool,
) -> usize {
    let (mut landed, mut quiet, mut nth) = (0, 0, 0);
    while quiet < 4 {
        nth += 1;
        assert!(nth < 200, "{name}: the fault still lands at N={nth}");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let fs = FaultyStorage::new(Arc::new(RealStorage));
        let mut model = fill(&dir, &fs, 60);
        prepare(&dir);
        full_disk(&fs, op, nth);
        if step(&dir, &fs, &mut model) {
            quiet += 1;
        } else {
            quiet = 0;
            landed += 1;
        }
        let case = format!("{name} with ENOSPC from {op:?} {nth}");
        reads_work_then_writes(&dir, &fs, &mut model, op, &case);
    }
    assert!(landed > 0, "{name}: {op:?} never failed");
    landed
}

fn segments(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .count()
}

/// A seal at close (of a log that holds more than `seal_on_close`): on a
/// full disk it is skipped, and close reports no error.
#[test]
fn enospc_at_every_step_of_a_seal() {
    for op in [FaultOp::Write, FaultOp::Sync, FaultOp::Rename] {
        sweep(
            "seal at close",
            op,
            |_| {},
            |dir, fs, _| {
                let mut opts = options(fs);
                opts.seal_on_close = 0;
                let db = Db::open(dir, opts).expect("open on a full disk");
                let before = segments(dir);
                db.close()
                    .expect("close on a full disk: its seal is skipped");
                segments(dir) > before
            },
        );
    }
}

/// A compaction: its seal, the new log after it, its outputs and their
/// indexes, its switch-over. When it cannot run, it says how much space
/// it needs.
#[test]
fn enospc_at_every_step_of_a_compaction() {
    for op in [FaultOp::Write, FaultOp::Sync, FaultOp::Rename] {
        sweep(
            "compaction",
            op,
            |_| {},
            |dir, fs, _| {
                let db = Db::open(dir, options(fs)).expect("open on a full disk");
                let r = db.compact();
                if let Err(e) = &r {
                    assert!(e.is_no_space(), "{op:?}: {e}");
                    if let tinykv::Error::CompactionNeedsSpace { needed, .. } = e {
                        assert!(*needed > 0);
                    }
                }
                r.is_ok()
            },
        );
    }
}

/// Seals the log and removes the empty new one: the state a seal leaves
/// when its new log cannot be created.
fn no_log(dir: &Path) {
    let mut opts = real_options();
    opts.seal_on_close = 0;
    Db::open(dir, opts).expect("open").close().expect("seal");
    std::fs::remove_file(dir.join("wal.log")).expect("an empty new log");
}

/// The creation of a new active log: where there is none (after a seal
/// whose new log could not be created), open reads the database all the
/// same, and the first write creates the log or fails with ENOSPC.
#[test]
fn enospc_at_every_step_of_a_new_log() {
    for op in [FaultOp::Write, FaultOp::Sync, FaultOp::Rename] {
        sweep("a new log", op, no_log, |dir, fs, model| {
            let db = Db::open(dir, options(fs)).expect("open with no log on a full disk");
            let r = db.set(b"new-log", b"v");
            let made = dir.join("wal.log").exists();
            assert!(
                r.is_err() || made,
                "{op:?}: acknowledged a write without a log"
            );
            if let Err(e) = &r {
                assert!(e.is_no_space() || e.to_string().contains("poisoned"), "{e}");
            }
            if r.is_ok() {
                model.insert(b"new-log".to_vec(), b"v".to_vec());
            }
            r.is_ok()
        });
    }
}
