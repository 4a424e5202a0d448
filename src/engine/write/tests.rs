//! Tests of `write`.

use super::FILE_HEADER_LEN;
use crate::engine::{Batch, Db, Options};

fn batch(pairs: &[(&str, &str)]) -> Batch {
    let mut b = Batch::new();
    for (k, v) in pairs {
        b.set(k.as_bytes().to_vec(), v.as_bytes().to_vec());
    }
    b
}

/// A batch of several writes is one unit in the log: a crash that
/// tears its end loses all of them, never only the last.
#[test]
fn a_batch_torn_at_its_end_is_lost_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.set(b"before", b"0").unwrap();
    db.write_batch(batch(&[("a", "1"), ("b", "2")])).unwrap();
    drop(db);
    let wal = dir.path().join("wal.log");
    let len = std::fs::metadata(&wal).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
    f.set_len(len - 2).unwrap();
    drop(f);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get(b"before").unwrap(), Some(b"0".to_vec()));
    assert_eq!(db.get(b"a").unwrap(), None);
    assert_eq!(db.get(b"b").unwrap(), None);
}

/// A transaction reads the writes queued before it in its commit group
/// (a set, a batch's set and delete) as they will be, before any of
/// them is in the in-memory map.
#[test]
fn a_transaction_reads_the_writes_before_it_in_its_group() {
    use crate::engine::Request;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.set(b"gone", b"old").unwrap();
    db.set(b"kept", b"old").unwrap();
    let mut b = Batch::new();
    b.delete(b"gone".to_vec());
    b.set(b"b".to_vec(), b"2".to_vec());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let txn = {
        let seen = Arc::clone(&seen);
        move |t: &mut crate::engine::Txn<'_>| {
            for k in [&b"a"[..], b"b", b"gone", b"kept"] {
                let v = t.get(k)?.map(|s| s.value);
                seen.lock().unwrap().push(v);
            }
            t.set(b"c", b"3", None)
        }
    };
    let group = vec![
        (1, Request::Put(b"a".to_vec(), b"1".to_vec())),
        (2, Request::Batch(b)),
        (3, Request::Txn(Box::new(txn))),
    ];
    let results = db.commit_group(group);
    assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");
    let want = [Some(&b"1"[..]), Some(b"2"), None, Some(b"old")];
    let want: Vec<_> = want.iter().map(|v| v.map(|v| v.to_vec())).collect();
    assert_eq!(*seen.lock().unwrap(), want);
    assert_eq!(db.get(b"c").unwrap(), Some(b"3".to_vec()));
}

/// What is written into an empty database is all live, so the first
/// write sets the base for automatic compaction to the log's size;
/// later writes (which may overwrite) leave it where it was.
#[test]
fn only_a_write_into_an_empty_database_sets_the_compaction_base() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.lock_writer().base_live, 0);
    db.set(b"a", b"1").unwrap();
    let first = db.lock_writer().wal_len;
    assert_eq!(db.lock_writer().base_live, first);
    db.set(b"a", b"2").unwrap();
    db.write_batch(batch(&[("b", "1"), ("c", "2")])).unwrap();
    {
        let w = db.lock_writer();
        assert!(w.wal_len > first);
        assert_eq!(w.base_live, first);
    }
    // After a compaction the log is empty but the segments are not: the
    // base is the compaction's, and the next write leaves it there.
    let one = db.compact_lock.lock().unwrap();
    let r = db.compact_with(one).unwrap();
    assert_eq!(r.skipped, None);
    let base = db.lock_writer().base_live;
    assert_eq!(db.lock_writer().wal_len, FILE_HEADER_LEN as u64);
    db.set(b"d", b"4").unwrap();
    assert_eq!(db.lock_writer().base_live, base);
}

/// Bytes of the database's files as the file system has them.
fn on_disk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let name = e.file_name().into_string().unwrap();
            name.ends_with(".log") || name.ends_with(".idx")
        })
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// Automatic compaction runs after the write that takes the files past
/// the larger of `compact_min_bytes` and `compact_ratio` times the size
/// the last compaction left, and not before.
#[test]
fn automatic_compaction_runs_once_the_files_pass_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        segment_size: 4096,
        compact_min_bytes: 8192,
        compact_ratio: 2.0,
        auto_compact: true,
        ..Options::default()
    };
    let db = Db::open(dir.path(), o).unwrap();
    let (mut threshold, mut compactions) = (8192u64, 0);
    let mut last = db.lock_writer().last_compaction;
    for i in 0..1000u32 {
        let before = on_disk(dir.path());
        db.set(format!("key{:02}", i % 60).as_bytes(), &[i as u8; 100])
            .unwrap();
        let now = db.lock_writer().last_compaction;
        let size = on_disk(dir.path());
        if now == last {
            assert!(size < threshold, "write {i}: {size} bytes, no compaction");
            continue;
        }
        // This write (its record, and the index of a seal it made)
        // took the files from below the threshold to past it.
        assert!(
            before < threshold && before + 2048 >= threshold,
            "write {i}: {before}"
        );
        (last, compactions) = (now, compactions + 1);
        threshold = (2 * size).max(8192);
        if compactions == 3 {
            break;
        }
    }
    assert_eq!(compactions, 3);
    assert!(threshold > 8192, "the ratio set the last threshold");
}

/// An automatic compaction that fails (a damaged segment) is not tried
/// again until the files are `compact_ratio` times the size they had
/// when it failed; writes go on meanwhile.
#[test]
fn a_failed_automatic_compaction_waits_for_the_files_to_grow_by_the_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options {
        segment_size: 4096,
        compact_min_bytes: 8192,
        compact_ratio: 3.0,
        auto_compact: false,
        ..Options::default()
    };
    let db = Db::open(dir.path(), o.clone()).unwrap();
    for i in 0..40u32 {
        db.set(format!("key{i:02}").as_bytes(), &[b'v'; 200])
            .unwrap();
    }
    drop(db);
    let seg = dir.path().join(super::seg_log_name(1));
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&seg, bytes).unwrap();
    o.auto_compact = true;
    let db = Db::open(dir.path(), o).unwrap();
    let mut n = 0u32;
    while db.auto_compaction_failure().is_none() {
        n += 1;
        assert!(n < 1000, "no automatic compaction ran");
        db.set(b"filler", &[n as u8; 300]).unwrap();
    }
    let size = on_disk(dir.path());
    assert_eq!(db.lock_writer().auto_floor, size * 3);
    assert!(!db.compaction_due());
    db.set(b"after", b"y").unwrap();
}

/// Close seals the active log when it holds more than `seal_on_close`
/// bytes, and leaves a log of exactly that many for the next open.
#[test]
fn close_seals_a_log_longer_than_seal_on_close() {
    let len = {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.set(b"k", b"v").unwrap();
        let len = db.lock_writer().wal_len;
        drop(db);
        len
    };
    for (seal_on_close, sealed) in [(len, false), (len - 1, true)] {
        let dir = tempfile::tempdir().unwrap();
        let o = Options {
            seal_on_close,
            ..Options::default()
        };
        let db = Db::open(dir.path(), o).unwrap();
        db.set(b"k", b"v").unwrap();
        db.close().unwrap();
        let seg = dir.path().join(super::seg_log_name(1));
        assert_eq!(
            seg.exists(),
            sealed,
            "seal_on_close {seal_on_close} of {len}"
        );
        let db = Db::open(dir.path(), Options::default()).unwrap();
        assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    }
}

/// A seal's index carries the base for automatic compaction and the
/// time of the last compaction, so that a reopen knows both: from the
/// first write into an empty database, and when the compaction's own
/// indexes were lost and rebuilt without them.
#[test]
fn a_seal_carries_the_compaction_base_and_time_over_a_reopen() {
    let o = Options {
        seal_on_close: 0,
        auto_compact: false,
        ..Options::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), o.clone()).unwrap();
    db.set(b"a", b"1").unwrap();
    let base = db.lock_writer().base_live;
    assert!(base > 0);
    db.close().unwrap();
    let db = Db::open(dir.path(), o.clone()).unwrap();
    assert_eq!(db.lock_writer().base_live, base, "from the seal");
    let secs = |t: std::time::SystemTime| {
        let since = t.duration_since(std::time::UNIX_EPOCH).unwrap();
        since.as_secs()
    };
    let started = secs(std::time::SystemTime::now());
    let one = db.compact_lock.lock().unwrap();
    db.compact_with(one).unwrap();
    let ended = secs(std::time::SystemTime::now());
    let (base, when) = {
        let w = db.lock_writer();
        (w.base_live, db.stats().unwrap().last_compaction)
    };
    let at = secs(when.expect("stats knows of the compaction"));
    assert!(
        (started..=ended).contains(&at),
        "{at} not in {started}..={ended}"
    );
    let output = db.state.read().unwrap().segments[0].id;
    db.set(b"b", b"2").unwrap();
    db.close().unwrap();
    // The compaction's output loses its index; the rebuilt one knows
    // nothing of the compaction.
    std::fs::remove_file(dir.path().join(super::seg_idx_name(output))).unwrap();
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(db.open_report().rebuilt_indexes.len(), 1);
    assert_eq!(db.stats().unwrap().last_compaction, when);
    assert_eq!(db.lock_writer().base_live, base);
}

/// An iteration under way when the log is sealed goes on over the new
/// segment and misses nothing, though the seal emptied the in-memory
/// map it was reading in windows.
#[test]
fn an_iteration_goes_on_across_a_seal() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        auto_compact: false,
        ..Options::default()
    };
    let db = Db::open(dir.path(), o).unwrap();
    let keys: Vec<Vec<u8>> = (0..1000u32)
        .map(|i| format!("key{i:04}").into_bytes())
        .collect();
    for k in &keys {
        db.set(k, b"v").unwrap();
    }
    let mut it = db.iter();
    let mut seen: Vec<Vec<u8>> = it.by_ref().take(10).map(|p| p.unwrap().0).collect();
    db.seal(&mut db.lock_writer()).unwrap();
    assert!(db.state.read().unwrap().mem.is_empty());
    seen.extend(it.map(|p| p.unwrap().0));
    assert_eq!(seen, keys);
}

/// A batch of one write needs no commit record: it is a plain record,
/// as large in the log as the same set.
#[test]
fn a_batch_of_one_write_is_a_plain_record() {
    let log_after = |write: &dyn Fn(&Db)| {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        write(&db);
        drop(db);
        std::fs::read(dir.path().join("wal.log")).unwrap()
    };
    let set = log_after(&|db| db.set(b"k", b"v").unwrap());
    let one = log_after(&|db| db.write_batch(batch(&[("k", "v")])).unwrap());
    assert_eq!(one, set);
}

/// A handle that keeps making durable writes gets room past the end of
/// its log: the appends after the one that made it change no file size.
/// A crash leaves the room, which the next open reads as the end of the
/// log (nothing lost, nothing reported, `check` clean); a seal and a close
/// cut it; a single write, or writes not fsynced one by one, make none.
#[test]
fn durable_writes_land_in_room_made_ahead_and_cut_at_seal_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("wal.log");
    let file_len = || std::fs::metadata(&wal).unwrap().len();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let logical = || db.lock_writer().wal_len;
    // A log of 64 KiB, written at once: a handle's first write makes no
    // room (a one-shot command leaves none behind).
    db.write_batch(batch(&[("big", &"v".repeat(64 * 1024))]))
        .unwrap();
    assert_eq!(file_len(), logical(), "a first write makes no room");
    db.set(b"k001", &[1; 100]).unwrap();
    db.set(b"k002", &[1; 100]).unwrap();
    let with_room = file_len();
    assert!(with_room >= logical() + 60 * 1024, "{with_room}");
    for i in 3..200u32 {
        db.set(format!("k{i:03}").as_bytes(), &[1; 100]).unwrap();
        assert_eq!(file_len(), with_room, "write {i} grew the file");
    }
    // What a crash leaves: the files as they are now.
    let image = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), image.path().join(e.file_name())).unwrap();
        }
    }
    {
        let crashed = Db::open(image.path(), Options::default()).unwrap();
        assert!(crashed.open_report().truncated.is_none());
        assert_eq!(crashed.len().unwrap(), 200);
        assert!(crashed.check().unwrap().is_clean());
        crashed.set(b"k200", b"after").unwrap();
        let len = std::fs::metadata(image.path().join("wal.log"))
            .unwrap()
            .len();
        assert_eq!(len, with_room, "the room is used, not cut");
    }
    let end = logical();
    db.close().unwrap();
    assert_eq!(file_len(), end, "a close cuts the room");
    // A seal cuts it before the log becomes a segment.
    let o = Options {
        segment_size: 8192,
        ..Options::default()
    };
    let db = Db::open(dir.path(), o).unwrap();
    for i in 0..300u32 {
        db.set(format!("s{i:03}").as_bytes(), &[2; 100]).unwrap();
    }
    assert!(db.check().unwrap().is_clean());
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.len().unwrap(), 500);
    let st = db.state.read().unwrap();
    assert!(st.segments.len() >= 2);
    for s in st.segments.iter() {
        let on_disk = std::fs::metadata(&s.log_path).unwrap().len();
        assert_eq!(on_disk, s.log_len, "{}", s.log_path.display());
    }
    drop(st);
    drop(db);
    // Writes not fsynced one by one make none.
    let never = tempfile::tempdir().unwrap();
    let o = Options {
        sync: crate::engine::SyncMode::Never,
        ..Options::default()
    };
    let db = Db::open(never.path(), o).unwrap();
    for i in 0..1000u32 {
        db.set(format!("n{i:03}").as_bytes(), &[3; 100]).unwrap();
    }
    let len = std::fs::metadata(never.path().join("wal.log"))
        .unwrap()
        .len();
    assert_eq!(len, db.lock_writer().wal_len);
}

/// A log of many short keys is sealed once the in-memory map holds
/// `MAX_MEM_KEYS` of them, long before the log holds a segment's bytes;
/// every key reads back, and after a reopen too.
#[test]
fn a_log_of_short_keys_is_sealed_for_its_keys() {
    use super::MAX_MEM_KEYS;
    let dir = tempfile::tempdir().unwrap();
    let o = || Options {
        auto_compact: false,
        ..Options::default()
    };
    let db = Db::open(dir.path(), o()).unwrap();
    let n = MAX_MEM_KEYS as u32 + 1000;
    let key = |i: u32| i.to_be_bytes();
    for start in (0..n).step_by(10_000) {
        let mut b = Batch::new();
        for i in start..(start + 10_000).min(n) {
            b.set(key(i).to_vec(), b"v".to_vec());
        }
        db.write_batch(b).unwrap();
    }
    {
        let st = db.state.read().unwrap();
        assert_eq!(st.segments.len(), 1, "sealed once");
        let sealed = st.segments[0].log_len;
        assert!(sealed < db.opts.segment_size / 4, "{sealed} bytes sealed");
        assert!(
            st.mem.len() < MAX_MEM_KEYS,
            "{} keys in memory",
            st.mem.len()
        );
    }
    for i in (0..n).step_by(997) {
        assert_eq!(db.get(&key(i)).unwrap().as_deref(), Some(&b"v"[..]), "{i}");
    }
    assert_eq!(db.len().unwrap(), n as u64);
    drop(db);
    let db = Db::open(dir.path(), o()).unwrap();
    assert_eq!(db.len().unwrap(), n as u64);
    assert_eq!(db.get(&key(n - 1)).unwrap().as_deref(), Some(&b"v"[..]));
}
