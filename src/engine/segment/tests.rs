//! Tests of sorted segments: point lookups (block_scan.rs) of records of
//! every size, across the block cache's 4 KiB blocks, with the cache and
//! without it; batches, tombstones and walks. And a long walk over a
//! hashed segment (hashed_walk.rs), read through windows.

use std::collections::BTreeMap;

use crate::engine::dir::{seg_idx_name, seg_log_name};
use crate::engine::index::Kind;
use crate::engine::{Batch, Db, Options};

/// Keys and values of sizes that put records across cache blocks, keys
/// longer than a lookup's own buffer, and values longer than a lookup
/// reads only to check.
fn pairs() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    for i in 0..3_000u32 {
        let key_len = match i % 97 {
            0 => 5_000,
            1 => 3_000,
            _ => 6 + (i as usize * 7) % 40,
        };
        let mut key = format!("k{i:05}").into_bytes();
        key.resize(key_len.max(key.len()), b'k');
        let value_len = match i % 89 {
            0 => 70_000,
            1 => 5_000,
            2 => 0,
            _ => (i as usize * 13) % 300,
        };
        m.insert(key, vec![(i % 251) as u8; value_len]);
    }
    let mut longest = b"k01500".to_vec();
    longest.resize(crate::engine::MAX_KEY_LEN, b'z');
    m.insert(longest, b"the longest key".to_vec());
    m
}

/// Every key is found with its value, and every probe between two keys,
/// below the first and past the last is not, whether the block cache holds
/// the blocks (read in place) or not (read into the lookup's buffer).
#[test]
fn sorted_lookups_find_every_record_with_and_without_the_cache() {
    let model = pairs();
    for cache_bytes in [Options::default().cache_bytes, 0] {
        let dir = tempfile::tempdir().unwrap();
        // Small segments: the load spills, and sorts into sorted segments.
        let opts = Options {
            auto_compact: false,
            cache_bytes,
            segment_size: 256 * 1024,
            ..Options::default()
        };
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        let mut b = db.batch_writer().unwrap();
        // Backwards: out of key order, so the load sorts it.
        for (k, v) in model.iter().rev() {
            b.set(k, v).unwrap();
        }
        b.commit().unwrap();
        db.close().unwrap();
        let db = Db::open(dir.path(), opts).unwrap();
        {
            let st = db.state.read().unwrap();
            assert!(!st.segments.is_empty());
            assert!(
                st.segments
                    .iter()
                    .all(|s| s.index.footer.kind == Kind::Sorted)
            );
            assert!(st.mem.is_empty(), "every key is in a segment");
        }
        for _round in 0..2 {
            for (k, v) in &model {
                assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "{cache_bytes}");
                assert!(db.contains(k).unwrap());
                let mut between = k.clone();
                between.push(0);
                if between.len() <= crate::engine::MAX_KEY_LEN && !model.contains_key(&between) {
                    assert_eq!(db.get(&between).unwrap(), None);
                    assert!(!db.contains(&between).unwrap());
                }
            }
            for absent in [&b"a"[..], b"k", b"k00000\xff", b"zzz"] {
                assert_eq!(db.get(absent).unwrap(), None, "{absent:?}");
            }
        }
    }
}

/// A log written in key order, with batches (their commit records sit
/// between keyed records), tombstones and values past the scan's
/// read-whole limit, sealed: a sorted segment whose every lookup and walk
/// must match what was written.
#[test]
fn a_sorted_segment_with_batches_tombstones_and_big_values() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        seal_on_close: 0,
        sync: crate::engine::SyncMode::Never,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let mut model = std::collections::BTreeMap::new();
    let mut i = 0u32;
    while i < 3000 {
        let key = format!("k{i:05}").into_bytes();
        if i % 100 == 50 {
            let mut b = Batch::new();
            for j in 0..5 {
                let k = format!("k{:05}", i + j).into_bytes();
                b.set(k.clone(), vec![b'b'; 30]);
                model.insert(k, Some(vec![b'b'; 30]));
            }
            db.write_batch(b).unwrap();
            i += 5;
            continue;
        }
        let value = match i % 997 {
            0 => vec![b'x'; 200_000],
            _ => format!("value {i}").into_bytes(),
        };
        if i % 13 == 7 {
            // A tombstone of a key never set, still in key order.
            db.delete(&key).unwrap();
            model.insert(key, None);
        } else {
            db.set(&key, &value).unwrap();
            model.insert(key, Some(value));
        }
        i += 1;
    }
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    {
        let st = db.state.read().unwrap();
        assert_eq!(st.segments.len(), 1);
        assert_eq!(st.segments[0].index.footer.kind, Kind::Sorted);
    }
    for (k, v) in &model {
        assert_eq!(&db.get(k).unwrap(), v, "{}", String::from_utf8_lossy(k));
        assert_eq!(db.contains(k).unwrap(), v.is_some());
        let mut between = k.clone();
        between.push(b'!');
        assert_eq!(db.get(&between).unwrap(), None);
    }
    let live: Vec<_> = model.iter().filter(|(_, v)| v.is_some()).collect();
    let walked: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
    assert_eq!(walked.len(), live.len());
    for ((k, v), (wk, wv)) in live.iter().zip(&walked) {
        assert_eq!((*k, v.as_ref().unwrap()), (wk, wv));
    }
    let from: Vec<_> = db.keys(b"k015").map(|k| k.unwrap()).collect();
    assert_eq!(
        from.len(),
        model
            .range(b"k015".to_vec()..b"k016".to_vec())
            .filter(|(_, v)| v.is_some())
            .count()
    );
    assert!(db.check().unwrap().is_clean());
}

/// A long walk over a hashed segment of 5.6 MB (records in write order,
/// keys scattered) reads its records through large windows, a batch of them
/// at a time, not with a read each: a batch of a lone hashed segment grows
/// to a MiB of records, about one record in six, dense enough in the file
/// for the windows (with batches of 1,024 records, one in 47, it was not).
#[test]
fn a_long_walk_over_a_large_hashed_segment_reads_through_windows() {
    use crate::engine::storage::{Counting, RealStorage};
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let counting = Counting::over(Arc::new(RealStorage));
    let reads = Arc::clone(&counting.reads);
    let opts = Options {
        seal_on_close: 0,
        cache_bytes: 0,
        auto_compact: false,
        storage: Arc::new(counting),
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let n = 48_000u32;
    let value = |i: u32| format!("{i:0100}").into_bytes();
    // Keys scattered over the log: i x 7919 mod n visits each once.
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut b = Batch::new();
        for &j in chunk {
            let i = j * 7919 % n;
            b.set(format!("key{i:06}").into_bytes(), value(i));
        }
        db.write_batch(b).unwrap();
    }
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    {
        let st = db.state.read().unwrap();
        assert_eq!(st.segments.len(), 1);
        assert!(st.segments[0].is_hashed());
        assert!(
            st.segments[0].log_len > 5_000_000,
            "{}",
            st.segments[0].log_len
        );
    }
    let before = reads.load(Ordering::SeqCst);
    let mut walked = 0u32;
    let mut it = db.iter();
    while let Some(pair) = it.next_pair() {
        let (k, v) = pair.unwrap();
        assert_eq!(k, format!("key{walked:06}").as_bytes());
        assert_eq!(v, value(walked));
        walked += 1;
    }
    assert_eq!(walked, n);
    let made = reads.load(Ordering::SeqCst) - before;
    // A read a record is 48,000; the batches' windows, about 1,300 (the
    // first, small batches read record by record).
    assert!(made < u64::from(n) / 10, "{made} reads for {n} records");
}

/// A database loaded out of key order into sorted segments (small ones:
/// the load spills) whose indexes give their data blocks' CRCs; the path
/// and bytes of the segment log that holds `key`, and the record's offset.
fn checked_blocks_db(dir: &std::path::Path, key: &[u8]) -> (std::path::PathBuf, Vec<u8>, usize) {
    let opts = Options {
        auto_compact: false,
        segment_size: 16 * 1024,
        ..Options::default()
    };
    let db = Db::open(dir, opts).unwrap();
    let mut b = db.batch_writer().unwrap();
    for i in (0..2_000u32).rev() {
        b.set(
            format!("key{i:05}").as_bytes(),
            format!("value{i}").as_bytes(),
        )
        .unwrap();
    }
    b.commit().unwrap();
    {
        let st = db.state.read().unwrap();
        assert!(!st.segments.is_empty());
        assert!(st.segments.iter().all(|s| s.index.footer.block_crcs));
    }
    db.close().unwrap();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("seg-") && name.ends_with(".log")) {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        for at in record_starts(&bytes) {
            if crate::engine::record::decode(&bytes[at..]).unwrap().0.key == key {
                return (entry.path(), bytes, at);
            }
        }
    }
    panic!("no segment holds the key")
}

/// Where each record of the segment log `bytes` starts.
fn record_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = crate::engine::record::FILE_HEADER_LEN;
    while at < bytes.len() {
        starts.push(at);
        at += crate::engine::record::decode(&bytes[at..]).unwrap().1;
    }
    starts
}

/// A walk checks a data block whole by the CRC its index gives: a record
/// damaged inside it is still reported as the log's damage, at its offset
/// (the block's records are then checked one by one), with no pair at or
/// past it handed out first (a block's records are decoded at once only
/// once its CRC matched); and a block whose records all pass their own
/// CRCs is the index's damage, which the walk heals from the log.
#[test]
fn a_walk_tells_a_damaged_record_from_a_wrong_block_crc() {
    use crate::engine::Error;
    let dir = tempfile::tempdir().unwrap();
    let (log, clean, at) = checked_blocks_db(dir.path(), b"key01000");
    // A byte of the value flipped: the record's CRC no longer matches.
    let mut damaged = clean.clone();
    let last = at + crate::engine::record::decode(&clean[at..]).unwrap().1 - 1;
    damaged[last] ^= 1;
    std::fs::write(&log, &damaged).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut it = db.iter();
    let mut taken = 0;
    let failed = loop {
        match it.next_pair() {
            Some(Ok((k, _))) => {
                let k = String::from_utf8_lossy(k).into_owned();
                assert!(k.as_str() < "key01000", "{k} handed out");
                taken += 1;
            }
            Some(Err(e)) => break e,
            None => panic!("the damaged record was not reported"),
        }
    };
    match failed {
        Error::Corrupt { path, offset, .. } => {
            assert_eq!((path, offset), (log.clone(), at as u64));
        }
        other => panic!("{other}"),
    }
    assert_eq!(taken, 1_000);
    drop(it);
    for seg in db.state.read().unwrap().segments.iter() {
        let mut walk = seg.walk(b"", true).unwrap();
        while let Ok(true) = walk.advance() {
            let k = String::from_utf8_lossy(walk.key().unwrap()).into_owned();
            assert!(k.as_str() < "key01000", "{k} walked");
        }
    }
    drop(db);
    // The same byte with the record's CRC made right: every record passes,
    // the block's CRC does not, so the index is rebuilt from the log.
    let body = at + 4;
    let end = last + 1;
    let crc = crc32fast::hash(&damaged[body..end]);
    damaged[at..body].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&log, &damaged).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let walked: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(walked.len(), 2_000);
    let (_, v) = &walked[1_000];
    assert_eq!(v, b"value1001", "the flipped byte, now the log's word");
    drop(db);
    let report = Db::check_dir(dir.path(), &Options::default()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// A sorted index of format 3 (no blocks' CRCs) is read as it is: a walk
/// checks each record, finds a damaged one, and `check` compares the index
/// with a rebuild in format 3.
#[test]
fn a_format_3_sorted_index_is_walked_record_by_record() {
    use crate::engine::index::{Index, IndexMeta};
    use crate::engine::segment::rebuild_index;
    use crate::engine::storage::{OpenMode, RealStorage, Storage};
    use crate::engine::{Error, Options};
    let dir = tempfile::tempdir().unwrap();
    let (log, clean, at) = checked_blocks_db(dir.path(), b"key01000");
    let idx = log.with_extension("idx");
    let footer = || Index::open_written(&RealStorage, &idx).unwrap().footer;
    let meta = IndexMeta {
        version: 3,
        ..IndexMeta::of(&footer())
    };
    let file = RealStorage.open(&log, OpenMode::Read).unwrap();
    let old = rebuild_index(&*file, &log, clean.len() as u64, meta).unwrap();
    std::fs::write(&idx, &old).unwrap();
    assert!(!footer().block_crcs);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.iter().count(), 2_000);
    assert!(db.check().unwrap().is_clean());
    drop(db);
    let mut damaged = clean.clone();
    damaged[at + 10] ^= 1;
    std::fs::write(&log, &damaged).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    match db.iter().collect::<Result<Vec<_>, _>>() {
        Err(Error::Corrupt { path, offset, .. }) => assert_eq!((path, offset), (log, at as u64)),
        other => panic!("{:?}", other.map(|v| v.len())),
    }
    drop(db);
    assert_eq!(
        std::fs::read(&idx).unwrap(),
        old,
        "the index was left as it was"
    );
}

/// An index whose footer says its blocks have CRCs but whose header says
/// format 3 (which has no room for them) is damaged, not read: open
/// rebuilds it.
#[test]
fn blocks_crcs_in_a_format_3_index_are_refused() {
    use crate::engine::index::Index;
    use crate::engine::storage::RealStorage;
    let dir = tempfile::tempdir().unwrap();
    let (log, _, _) = checked_blocks_db(dir.path(), b"key01000");
    let idx = log.with_extension("idx");
    let mut bytes = std::fs::read(&idx).unwrap();
    bytes[4..8].copy_from_slice(&3u32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..12]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&idx, &bytes).unwrap();
    let opened = Index::open(&RealStorage, &idx).unwrap();
    assert!(opened.is_err(), "read as format 3 with format 4's CRCs");
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.iter().count(), 2_000);
    drop(db);
    let healed = Index::open(&RealStorage, &idx).unwrap().unwrap();
    assert!(healed.footer.block_crcs && healed.version() == crate::engine::record::FORMAT_VERSION);
}

/// One sorted segment (a compaction's output) of `keys` (`key` and 5
/// digits each), every value 40 bytes of `fill`: the same size for as
/// many keys, whatever they are. Returns the segment's id.
fn one_sorted_segment(dir: &std::path::Path, keys: &[u32], fill: u8) -> u64 {
    let db = Db::open(dir, Options::default()).unwrap();
    // Each key written twice: the compaction has half the bytes to drop.
    for f in [0, fill] {
        let mut b = db.batch_writer().unwrap();
        for i in keys {
            b.set(format!("key{i:05}").as_bytes(), &[f; 40]).unwrap();
        }
        b.commit().unwrap();
    }
    assert!(db.compact().unwrap().skipped.is_none());
    let id = {
        let st = db.state.read().unwrap();
        assert_eq!(st.segments.len(), 1);
        assert_eq!(st.segments[0].index.footer.kind, Kind::Sorted);
        st.segments[0].id
    };
    db.close().unwrap();
    id
}

/// A database of one sorted segment of the even keys `key00000` to
/// `key03998` (values 40 bytes of `a`), with in place of its index that
/// of a segment of the same size and the same first and last keys but
/// odd keys where it has even ones: every block past the first names a
/// first key the log does not hold there, and ends where the log holds
/// the key one below the next block's; every frame passes its own
/// checks. Returns the database's directory, the index's path and the
/// foreign index's bytes.
fn foreign_index() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let even: Vec<u32> = (0..2_000).map(|i| 2 * i).collect();
    let mut odd: Vec<u32> = (1..1_999).map(|i| 2 * i + 1).collect();
    odd.insert(0, 0);
    odd.push(3_998);
    let id = one_sorted_segment(dir.path(), &even, b'a');
    assert_eq!(one_sorted_segment(other.path(), &odd, b'b'), id);
    let (log, idx) = (seg_log_name(id), seg_idx_name(id));
    let len = |d: &tempfile::TempDir| std::fs::metadata(d.path().join(&log)).unwrap().len();
    assert_eq!(len(&dir), len(&other));
    let (ours, theirs) = (dir.path().join(&idx), other.path().join(&idx));
    let foreign = std::fs::read(&theirs).unwrap();
    assert_ne!(std::fs::read(&ours).unwrap(), foreign);
    std::fs::write(&ours, &foreign).unwrap();
    (dir, ours, foreign)
}

/// Every key from `key00000` to `key03999`, in `order`, is found with its
/// own value, or found absent (the odd ones).
fn every_key_reads_right(db: &Db, order: impl Iterator<Item = u32>) {
    for i in order {
        let key = format!("key{i:05}");
        let want = (i % 2 == 0).then(|| vec![b'a'; 40]);
        assert_eq!(db.get(key.as_bytes()).unwrap(), want, "{key}");
    }
}

/// A lookup checks that the data block the index names starts with the
/// block's first key, which is what ties a sorted index to its log: the
/// lookup of the last key, which a foreign index sends to its last block,
/// finds the log's record all the same, and heals the index (the file is
/// rewritten from the log) rather than leave it for the next lookup to
/// trip on. Every key then reads right.
#[test]
fn a_lookup_heals_an_index_whose_block_starts_at_another_key() {
    let (dir, idx, foreign) = foreign_index();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get(b"key03998").unwrap(), Some(vec![b'a'; 40]));
    assert_ne!(std::fs::read(&idx).unwrap(), foreign, "healed");
    every_key_reads_right(&db, 0..4_000);
}

/// A lookup whose key lies past every key of the block the index names
/// checks that the log's next record lies past it too: from the first
/// key up, a foreign index sends the lookup of the first key of each
/// log's block to the block before, which the lookup reads to its end
/// (it would answer that the key is absent), and there meets the key.
/// It heals the index, and every key reads right.
#[test]
fn a_lookup_heals_an_index_whose_block_ends_before_a_key_of_its_log() {
    let (dir, _, _) = foreign_index();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    every_key_reads_right(&db, 0..4_000);
}

/// A lookup checks that the keys of a data block rise: in a sorted
/// segment whose log has a record copied over the one after it (the same
/// length, so every block still starts where its index says, with its
/// key, and every record's CRC holds), the lookup of the key overwritten
/// meets the copy, repeating the key before it, and heals the index from
/// the log; the key is then absent, and the one copied reads as it did.
#[test]
fn a_lookup_heals_an_index_over_a_block_whose_keys_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<u32> = (0..2_000).collect();
    let id = one_sorted_segment(dir.path(), &keys, b'a');
    let (log, idx) = (
        dir.path().join(seg_log_name(id)),
        dir.path().join(seg_idx_name(id)),
    );
    // Where each record starts, and which start a data block.
    let mut bytes = std::fs::read(&log).unwrap();
    let starts = record_starts(&bytes);
    assert_eq!(starts.len(), keys.len());
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let block_start = |i: usize| {
        let st = db.state.read().unwrap();
        let key = format!("key{i:05}");
        let block = st.segments[0]
            .index
            .locate(key.as_bytes())
            .unwrap()
            .unwrap();
        block.offset == starts[i] as u64
    };
    // A record in the middle of a block, after another of that block.
    let j = (1_000..1_100)
        .find(|&j| !block_start(j) && !block_start(j + 1))
        .expect("records inside a block");
    drop(db);
    let (from, to) = (starts[j - 1], starts[j]);
    assert_eq!(to - from, starts[j + 1] - to, "records of one length");
    bytes.copy_within(from..to, to);
    std::fs::write(&log, &bytes).unwrap();
    let before = std::fs::read(&idx).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get(format!("key{j:05}").as_bytes()).unwrap(), None);
    assert_ne!(std::fs::read(&idx).unwrap(), before, "healed");
    let copied = format!("key{:05}", j - 1);
    assert_eq!(db.get(copied.as_bytes()).unwrap(), Some(vec![b'a'; 40]));
}
