//! Tests of `bulk`: batches that spill out of the active log.

use std::collections::BTreeMap;
use std::path::Path;

use crate::engine::dir::{seg_log_name, tmp_path};
use crate::engine::index::Kind;
use crate::engine::{Db, Options};

/// Segments of 4 KiB: a batch spills past 4 KiB and every run holds about
/// 4 KiB, so a few thousand writes make more runs than one merge takes.
pub(super) fn small() -> Options {
    Options {
        segment_size: 4096,
        auto_compact: false,
        ..Options::default()
    }
}

pub(super) type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// A shuffle of `0..n` from a fixed seed (no dependency for it).
pub(super) fn shuffled(n: u64, seed: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (0..n).collect();
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

pub(super) fn key(i: u64) -> Vec<u8> {
    format!("key:{i:06}").into_bytes()
}

pub(super) fn everything(db: &Db) -> Model {
    db.iter().map(|p| p.unwrap()).collect()
}

/// The names in `dir` that a finished batch must not leave behind.
pub(super) fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n == super::MARKER)
        .collect()
}

fn segments(db: &Db) -> Vec<(u64, Kind, Vec<u8>, Vec<u8>)> {
    let st = db.state.read().unwrap();
    st.segments
        .iter()
        .map(|s| {
            let f = &s.index.footer;
            // Keys here are 10 bytes: the bounds hold them whole.
            let whole =
                |b: &crate::engine::index::KeyBound| b.prefix[..b.len.min(16) as usize].to_vec();
            (s.id, f.kind, whole(&f.first_key), whole(&f.last_key))
        })
        .collect()
}

/// A batch of writes in random order, many runs long, with keys written
/// twice, deletions and expiring puts, over a database that held keys
/// already: it reads exactly as the model says, before and after a
/// reopen, from sorted segments that share no key range, and leaves no
/// run behind.
#[test]
fn a_shuffled_batch_of_many_runs_is_applied_whole_from_sorted_segments() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let mut model = Model::new();
    for i in (0..6000).step_by(7) {
        db.set(&key(i), b"old").unwrap();
        model.insert(key(i), b"old".to_vec());
    }
    let before = segments(&db).len();
    let far = db.now_ms() + 3_600_000;
    let mut b = db.batch_writer().unwrap();
    for (n, i) in shuffled(6000, 7).into_iter().enumerate() {
        let v = format!("v{i}-{n}-{:40}", "").into_bytes();
        match i % 10 {
            0 => {
                b.delete(&key(i)).unwrap();
                model.remove(&key(i));
            }
            1 => {
                b.set_expiring(&key(i), &v, Some(far)).unwrap();
                model.insert(key(i), v);
            }
            _ => {
                b.set(&key(i), &v).unwrap();
                model.insert(key(i), v);
            }
        }
    }
    // Second writes of some keys, the later one wins.
    for i in shuffled(6000, 9).into_iter().take(500) {
        let v = format!("again{i}").into_bytes();
        b.set(&key(i), &v).unwrap();
        model.insert(key(i), v);
    }
    assert!(b.bulk.is_some(), "the batch spilled");
    let bulk = b.bulk.as_mut().unwrap();
    // Merged in two passes.
    bulk.fan_in = 64;
    assert!(bulk.spilled.len() > 64, "{} runs", bulk.spilled.len());
    // Runs out of key order hold no file open: the open run at most.
    assert!(bulk.runs.len() <= 1, "{} runs held", bulk.runs.len());
    assert_eq!(b.len(), 6500);
    assert_eq!(
        db.get(&key(5)).unwrap(),
        None,
        "nothing shows before commit"
    );
    let wal_id = b
        .bulk
        .as_ref()
        .unwrap()
        .wal_id
        .expect("the log held writes");
    b.commit().unwrap();
    assert_eq!(everything(&db), model);
    assert_eq!(db.len().unwrap(), model.len() as u64);
    assert_eq!(db.get(&key(11)).unwrap(), model.get(&key(11)).cloned());
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
    let segs = segments(&db);
    assert!(segs.len() > before);
    // The newest segments are the merge's: sorted, disjoint, in key order,
    // above the active log's, sealed below them.
    let new: Vec<_> = segs.iter().filter(|s| s.0 > wal_id).collect();
    assert!(new.len() > 1);
    {
        let st = db.state.read().unwrap();
        assert!(st.segments.iter().all(|s| s.index.footer.group.is_none()));
    }
    assert!(
        segs.iter().any(|s| s.0 == wal_id),
        "the log sealed below them"
    );
    for (id, kind, ..) in &new {
        assert_eq!(*kind, Kind::Sorted, "segment {id}");
    }
    for pair in new.windows(2) {
        assert!(pair[0].3 < pair[1].2, "{pair:?}");
    }
    assert!(db.check().unwrap().is_clean());
    drop(db);
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(everything(&db), model);
    assert!(db.check().unwrap().is_clean());
}

/// A batch in key order spills into runs that follow one another: each
/// buffer is appended to the run before it, up to the cap, and the runs
/// become the segments as they are, with no merge. A value of 1 MiB or
/// more in order is appended too.
#[test]
fn runs_in_key_order_become_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let mut b = db.batch_writer().unwrap();
    let mut model = Model::new();
    let big = vec![b'b'; 1024 * 1024];
    for i in 0..12_000 {
        let v = if i == 5000 {
            big.clone()
        } else {
            format!("value-{i}").into_bytes()
        };
        b.set(&key(i), &v).unwrap();
        model.insert(key(i), v);
    }
    let bulk = b.bulk.as_ref().unwrap();
    assert!(bulk.ordered);
    let runs: Vec<u64> = bulk.runs.iter().map(|r| r.id).collect();
    b.commit().unwrap();
    let segs = segments(&db);
    let ids: Vec<u64> = segs.iter().map(|s| s.0).collect();
    // The buffer flushed at commit went to the last run; the 1 MiB value
    // filled one run past the cap (256 KiB here), so the next run began.
    assert_eq!(ids, runs);
    assert!(ids.len() >= 2, "{ids:?}");
    for pair in segs.windows(2) {
        assert!(pair[0].3 < pair[1].2, "{pair:?}");
    }
    // Into an empty database: one group, as a compaction's outputs, so
    // that counting reads their footers (live_count.rs).
    {
        let st = db.state.read().unwrap();
        for (i, seg) in st.segments.iter().enumerate() {
            let g = seg.index.footer.group.expect("a group");
            assert_eq!((g.first, g.last), (ids[0], i + 1 == ids.len()));
        }
    }
    assert_eq!(everything(&db), model);
    assert!(leftovers(dir.path()).is_empty());
    drop(db);
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(everything(&db), model);
}

/// A spilled batch dropped without its commit leaves the database as it
/// was, file for file.
#[test]
fn a_dropped_spilled_batch_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    db.set(b"kept", b"1").unwrap();
    let files = || {
        let mut v: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let before = files();
    let mut b = db.batch_writer().unwrap();
    for i in shuffled(2000, 3) {
        b.set(&key(i), b"never").unwrap();
    }
    assert!(b.bulk.is_some());
    drop(b);
    assert_eq!(files(), before);
    assert_eq!(everything(&db).len(), 1);
    db.set(b"after", b"2").unwrap();
    drop(db);
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(everything(&db).len(), 2);
}

/// A replacing batch that spills leaves exactly its pairs, whatever the
/// database held, through the merge's tombstones.
#[test]
fn a_replacing_spilled_batch_leaves_exactly_its_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    for i in 0..1500 {
        db.set(&key(i * 2), b"old").unwrap();
    }
    let mut b = db.batch_writer().unwrap();
    b.replace_all();
    let mut model = Model::new();
    for i in shuffled(1000, 5) {
        let v = format!("new{i}").into_bytes();
        b.set(&key(i * 3), &v).unwrap();
        model.insert(key(i * 3), v);
    }
    b.commit().unwrap();
    assert_eq!(everything(&db), model);
    assert_eq!(db.len().unwrap(), 1000);
    drop(db);
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(everything(&db), model);
}

/// A value of 1 MiB or more in a spilled batch is a run of its own, and
/// reads back whole after the merge copies it in pieces.
#[test]
fn large_values_in_a_spilled_batch_are_kept_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 5).map(|i| (i % 253) as u8).collect();
    let mut b = db.batch_writer().unwrap();
    for i in shuffled(600, 11) {
        b.set(&key(i), b"small").unwrap();
        if i == 300 {
            b.set(b"big", &big).unwrap();
            b.set(b"key:000001", &big).unwrap();
        }
    }
    b.commit().unwrap();
    assert_eq!(db.get(b"big").unwrap().unwrap(), big);
    // Written before or after key:000001's small value: the later wins.
    let one = db.get(b"key:000001").unwrap().unwrap();
    assert!(one == big || one == b"small", "{} bytes", one.len());
    assert_eq!(db.len().unwrap(), 601);
    assert!(db.check().unwrap().is_clean());
}

/// A load committed up to its marker but not renamed into place (a crash
/// right after the commit point) is read whole by a read-only open, which
/// changes nothing, and finished by the next open that may write.
#[test]
fn a_marker_found_at_open_finishes_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    db.set(b"first", b"1").unwrap();
    let mut b = db.batch_writer().unwrap();
    let mut model = Model::new();
    model.insert(b"first".to_vec(), b"1".to_vec());
    for i in shuffled(1500, 13) {
        b.set(&key(i), b"x").unwrap();
        model.insert(key(i), b"x".to_vec());
    }
    let wal_id = b
        .bulk
        .as_ref()
        .unwrap()
        .wal_id
        .expect("the log held writes");
    b.commit().unwrap();
    let new: Vec<u64> = segments(&db)
        .iter()
        .map(|s| s.0)
        .filter(|&id| id > wal_id)
        .collect();
    assert!(
        segments(&db).iter().any(|s| s.0 == wal_id),
        "the log was sealed"
    );
    drop(db);
    // Undo the renames and put the marker back: the state right after the
    // commit point.
    for id in &new {
        let log = dir.path().join(seg_log_name(*id));
        std::fs::rename(&log, tmp_path(&log)).unwrap();
    }
    let storage = crate::engine::storage::RealStorage;
    super::marker::write(&storage, dir.path(), new[0], *new.last().unwrap()).unwrap();
    let ro = Options {
        read_only: true,
        ..small()
    };
    let db = Db::open(dir.path(), ro).unwrap();
    assert_eq!(everything(&db), model);
    drop(db);
    assert!(
        dir.path().join(super::MARKER).exists(),
        "read-only changes nothing"
    );
    // `check` without an open reads the new segments too, under their
    // temporary names: not damage, which the next open finishes.
    let files = Db::check_dir(dir.path(), &small()).unwrap().files;
    let pending = tmp_path(&dir.path().join(seg_log_name(new[0])));
    let mut bytes = std::fs::read(&pending).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&pending, &bytes).unwrap();
    let report = Db::check_dir(dir.path(), &small()).unwrap();
    assert_eq!(report.files, files);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].path, pending);
    bytes[mid] ^= 0x20;
    std::fs::write(&pending, &bytes).unwrap();
    assert!(Db::check_dir(dir.path(), &small()).unwrap().is_clean());
    assert!(
        dir.path().join(super::MARKER).exists(),
        "check changes nothing"
    );
    // `recover` without an open finishes the load before anything else.
    Db::recover_dir(dir.path(), &small()).unwrap();
    assert!(!dir.path().join(super::MARKER).exists());
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(everything(&db), model);
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
    drop(db);
    // And so does an open.
    for id in &new {
        let log = dir.path().join(seg_log_name(*id));
        std::fs::rename(&log, tmp_path(&log)).unwrap();
    }
    super::marker::write(&storage, dir.path(), new[0], *new.last().unwrap()).unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(everything(&db), model);
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
    // Without the marker, the same files under temporary names are a load
    // that never committed: removed.
    drop(db);
    let db = Db::open(dir.path(), small()).unwrap();
    let ids: Vec<u64> = segments(&db).iter().map(|s| s.0).collect();
    drop(db);
    let log = dir.path().join(seg_log_name(*ids.last().unwrap()));
    std::fs::rename(&log, tmp_path(&log)).unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    assert!(everything(&db).len() < model.len());
    assert!(leftovers(dir.path()).is_empty());
}

/// The merge orders keys by their first 16 bytes as a number and then by
/// the whole key: keys of 17 to 24 bytes that share their first 16, keys
/// that differ only by trailing zero bytes, written twice in random order
/// over many runs, read back as the model says (the later write wins).
#[test]
fn keys_alike_in_their_first_16_bytes_merge_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let mut model = Model::new();
    let mut b = db.batch_writer().unwrap();
    for (round, seed) in [(0, 21), (1, 22)] {
        for i in shuffled(3000, seed) {
            let v = format!("v{i}-{round}-{:30}", "").into_bytes();
            b.set(&alike(i), &v).unwrap();
            model.insert(alike(i), v);
        }
    }
    assert!(b.bulk.as_ref().unwrap().spilled.len() > 20);
    b.commit().unwrap();
    reads_as(&db, &model);
}

/// A few keys written over and over in random order, so that every run
/// holds many writes of each (keys alike in their first 16 bytes, or but
/// for trailing zero bytes): each reads as its last write.
#[test]
fn the_last_write_of_a_key_in_a_run_wins() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let mut model = Model::new();
    let mut b = db.batch_writer().unwrap();
    for (n, i) in shuffled(6000, 13).into_iter().enumerate() {
        let k = alike(i % 24);
        let v = format!("v{n}").into_bytes();
        b.set(&k, &v).unwrap();
        model.insert(k, v);
    }
    // About 100 writes a run, 4 of each key.
    let runs = b.bulk.as_ref().unwrap().spilled.len();
    assert!(runs > 20, "{runs} runs");
    b.commit().unwrap();
    reads_as(&db, &model);
}

/// Keys of 6 to 24 bytes: `sixteen-byte-key` and 8 digits, or 1 to 7;
/// `z` and 5 digits, then 0 to 3 zero bytes.
fn alike(i: u64) -> Vec<u8> {
    match i % 3 {
        0 => format!("sixteen-byte-key{i:08}").into_bytes(),
        1 => {
            let mut k = format!("z{:05}", i / 4).into_bytes();
            k.resize(k.len() + (i % 4) as usize, 0);
            k
        }
        _ => format!(
            "sixteen-byte-key{:0width$}",
            i,
            width = 1 + (i % 7) as usize
        )
        .into_bytes(),
    }
}

/// The database reads as `model`, walked and key by key.
fn reads_as(db: &Db, model: &Model) {
    assert_eq!(&everything(db), model);
    for (k, v) in model {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "{k:?}");
    }
}
