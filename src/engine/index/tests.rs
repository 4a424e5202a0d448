//! Round trips of both index kinds, and damage that must be an error
//! rather than a wrong answer.

use std::sync::Arc;

use super::*;
use crate::engine::dir::replace;
use crate::engine::storage::{RealStorage, SimStorage};

/// `n` entries of records laid back to back from offset 16, `len` bytes
/// each, keys `key000000`..; every seventh a tombstone.
pub(super) fn entries(n: usize, len: u32) -> Vec<Entry> {
    (0..n)
        .map(|i| Entry {
            key: format!("key{i:06}").into_bytes(),
            delete: i % 7 == 3,
            offset: 16 + i as u64 * u64::from(len),
            len,
            // Every eleventh put expires (format 3 entries hold it).
            expires_at: (i % 11 == 5 && i % 7 != 3).then_some(1_700_000_000_000 + i as u64),
        })
        .collect()
}

pub(super) fn written(
    es: &[Entry],
    kind: Kind,
    segment_len: u64,
) -> (tempfile::TempDir, Arc<Index>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg-1.idx");
    let meta = IndexMeta {
        group: Some(Group {
            first: 4,
            last: true,
        }),
        base_live: 12345,
        compacted_at: 1_700_000_000,
        ..IndexMeta::default()
    };
    replace(&RealStorage, &path, &encode(es, kind, segment_len, meta)).unwrap();
    let idx = Index::open(&RealStorage, &path).unwrap().unwrap();
    (dir, Arc::new(idx))
}

#[test]
fn hashed_finds_every_key_and_walks_them_in_order() {
    let es = entries(5000, 40);
    let seg_len = 16 + 5000 * 40;
    let (_d, idx) = written(&es, Kind::Hashed, seg_len);
    let f = idx.footer;
    assert_eq!((f.kind, f.slot_width, f.keys), (Kind::Hashed, 8, 5000));
    assert_eq!(f.puts, es.iter().filter(|e| !e.delete).count() as u64);
    assert_eq!(
        f.group,
        Some(Group {
            first: 4,
            last: true
        })
    );
    assert_eq!((f.base_live, f.compacted_at), (12345, 1_700_000_000));
    for e in &es {
        assert!(
            idx.candidate_list(&e.key).unwrap().contains(&e.offset),
            "{:?}",
            e.key
        );
    }
    assert!(idx.candidate_list(b"nope").unwrap().is_empty());
    let all: Vec<Entry> = idx.entries_from(0).map(|e| e.unwrap()).collect();
    assert_eq!(all, es);
    // A seek lands on the frame holding the key, at or before it.
    for probe in [&b"key000000"[..], b"key002500", b"key0025005", b"key004999"] {
        let block = idx.locate(probe).unwrap().unwrap();
        assert!(block.first_key.as_slice() <= probe);
        let first = idx.entries_from(block.offset).next().unwrap().unwrap();
        assert_eq!(first.key, block.first_key);
    }
    assert_eq!(idx.locate(b"a").unwrap(), None);
}

#[test]
fn sorted_names_every_data_block() {
    let es = entries(3000, 100);
    let seg_len = 16 + 3000 * 100;
    let (_d, idx) = written(&es, Kind::Sorted, seg_len);
    assert_eq!(idx.footer.kind, Kind::Sorted);
    // About one byte of index per key: the log is its own entry list.
    assert!(idx.file_len < 3000 * 2, "{} bytes", idx.file_len);
    let mut covered = 16;
    for e in &es {
        let b = idx.locate(&e.key).unwrap().unwrap();
        assert!(
            b.offset <= e.offset && e.offset < b.offset + b.len,
            "{:?}",
            e.key
        );
        assert!(b.len as usize <= DATA_BLOCK + 100);
        covered = covered.max(b.offset + b.len);
    }
    assert_eq!(covered, seg_len, "the last block ends with the segment");
    assert_eq!(idx.locate(b"key").unwrap(), None);
    assert_eq!(
        idx.locate(b"zzz").unwrap().unwrap().offset,
        idx.locate(b"key002999").unwrap().unwrap().offset
    );
}

#[test]
fn empty_indexes_of_both_kinds() {
    for kind in [Kind::Sorted, Kind::Hashed] {
        let (_d, idx) = written(&[], kind, 16);
        assert_eq!(idx.footer.keys, 0);
        assert_eq!(idx.locate(b"x").unwrap(), None);
        if kind == Kind::Hashed {
            assert!(idx.candidate_list(b"x").unwrap().is_empty());
            assert!(idx.entries_from(0).next().is_none());
        }
    }
}

#[test]
fn a_segment_past_4_gib_gets_wide_slots() {
    let mut es = entries(100, 40);
    es[99].offset = 5 << 30;
    let (_d, idx) = written(&es, Kind::Hashed, 6 << 30);
    assert_eq!(idx.footer.slot_width, 12);
    assert!(
        idx.candidate_list(&es[99].key)
            .unwrap()
            .contains(&(5 << 30))
    );
    assert!(
        idx.candidate_list(&es[5].key)
            .unwrap()
            .contains(&es[5].offset)
    );
}

#[test]
fn keys_that_do_not_fit_their_home_bucket_are_found_in_the_next() {
    // Many keys and few buckets: most keys spill; every one is still found.
    let es = entries(40, 10);
    let bytes = encode(&es, Kind::Hashed, 16 + 400, IndexMeta::default());
    let storage = SimStorage::new(1);
    storage.create_dir_all(Path::new("/d")).unwrap();
    storage.write_file(Path::new("/d/i"), &bytes).unwrap();
    let idx = Index::open(&storage, Path::new("/d/i")).unwrap().unwrap();
    assert!(idx.footer.buckets < 40, "{}", idx.footer.buckets);
    for e in &es {
        assert!(idx.candidate_list(&e.key).unwrap().contains(&e.offset));
    }
}

#[test]
fn damage_is_an_error_not_an_answer() {
    let es = entries(2000, 40);
    let seg_len = 16 + 2000 * 40;
    for kind in [Kind::Hashed, Kind::Sorted] {
        let clean = encode(&es, kind, seg_len, IndexMeta::default());
        let f = Footer::decode(&clean[clean.len() - FOOTER_LEN..], clean.len() as u64).unwrap();
        let storage = SimStorage::new(1);
        storage.create_dir_all(Path::new("/d")).unwrap();
        let open = |bytes: &[u8]| {
            storage.write_file(Path::new("/d/i"), bytes).unwrap();
            Index::open(&storage, Path::new("/d/i")).unwrap()
        };
        // Any footer bit: the index is refused (and rebuilt by open).
        for bit in [0, 40, 8 * 33, 8 * 57, 8 * 99, 8 * 120, 8 * 139] {
            let mut b = clean.clone();
            let at = b.len() - FOOTER_LEN + bit / 8;
            b[at] ^= 1 << (bit % 8);
            assert!(open(&b).is_err(), "{kind:?} footer bit {bit}");
        }
        // Zeroed sparse frames or top: a lookup fails instead of missing.
        let sparse = f.sparse_off as usize..f.top_off as usize;
        let top = f.top_off as usize..clean.len() - FOOTER_LEN;
        for range in [sparse, top].into_iter().filter(|r| !r.is_empty()) {
            let mut b = clean.clone();
            b[range].fill(0);
            let idx = open(&b).unwrap();
            assert!(
                matches!(idx.locate(b"key001000"), Err(Error::Corrupt { .. })),
                "{kind:?}"
            );
        }
        if kind == Kind::Hashed {
            let mut b = clean.clone();
            let table = f.table_off as usize..f.entries_off() as usize;
            b[table].fill(0);
            let idx = Arc::new(open(&b).unwrap());
            assert!(matches!(
                idx.candidate_list(b"key000007"),
                Err(Error::Corrupt { .. })
            ));
            let mut b = clean.clone();
            b[f.entries_off() as usize + 30] ^= 0x20;
            let idx = Arc::new(open(&b).unwrap());
            assert!(
                idx.entries_from(0).any(|e| e.is_err()),
                "a damaged entry frame"
            );
        }
    }
}

#[test]
fn a_large_sorted_index_has_levels_and_a_small_top() {
    // 200k records of 100 bytes: ~9.8k data blocks, ~300 first-level frames,
    // ~10 second-level ones: two levels below a top of at most 32 entries.
    let n = 200_000;
    let es = entries(n, 100);
    let seg_len = 16 + n as u64 * 100;
    let (_d, idx) = written(&es, Kind::Sorted, seg_len);
    assert_eq!(idx.footer.levels, 2);
    let top = idx.top().unwrap();
    assert!(top.len() <= SPARSE_FRAME, "{} top entries", top.len());
    for (i, e) in es.iter().enumerate().step_by(997) {
        let b = idx.locate(&e.key).unwrap().unwrap();
        assert!(b.offset <= e.offset && e.offset < b.offset + b.len, "{i}");
    }
    // Every block, in order, from the start and from the middle.
    let all: Vec<_> = idx.blocks_from(b"").unwrap().map(|b| b.unwrap()).collect();
    assert_eq!(all.first().unwrap().offset, 16);
    assert_eq!(all.last().map(|b| b.offset + b.len), Some(seg_len));
    assert!(
        all.windows(2)
            .all(|w| w[0].offset + w[0].len == w[1].offset)
    );
    let from = idx
        .blocks_from(b"key150000")
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let expect = all
        .iter()
        .rfind(|b| b.first_key.as_slice() <= b"key150000".as_slice())
        .unwrap();
    assert_eq!(&from, expect);
    // The key range in the footer rules keys out with no read.
    assert!(idx.footer.first_key.after(b"key"));
    assert!(idx.footer.last_key.before(b"key2"));
    assert!(!idx.footer.first_key.after(b"key000000"));
    assert!(!idx.footer.last_key.before(b"key199999"));
}

#[test]
fn key_bounds_decide_only_what_16_bytes_tell() {
    let long = b"user:0000000000000042:profile";
    let b = KeyBound::of(long);
    assert_eq!(b.len as usize, long.len());
    // Below: anything less than its first 16 bytes.
    assert!(b.after(b"user:0000000000"));
    assert!(b.after(b"a"));
    // Past its 16 bytes nothing is known: not ruled out.
    assert!(!b.after(b"user:0000000000000041"));
    assert!(!b.after(b"user:0000000000000042"));
    assert!(!b.after(long));
    // Past: only a difference within the 16 bytes.
    assert!(b.before(b"user:1"));
    assert!(!b.before(b"user:0000000000000042:zzz"));
    assert!(!b.before(long));
    // Past a prefix.
    assert!(b.past_prefix(b"ua"));
    assert!(!b.past_prefix(b"us"));
    assert!(b.past_prefix(b"a"));
    assert!(!b.past_prefix(b"user:"));
    assert!(!b.past_prefix(b"v"));
    let short = KeyBound::of(b"m");
    assert!(short.before(b"ma") && short.after(b"l") && !short.before(b"m"));
    assert!(short.past_prefix(b"l") && !short.past_prefix(b"m") && !short.past_prefix(b"n"));
    let none = KeyBound::default();
    assert!(!none.after(b"x") && !none.before(b"x") && !none.past_prefix(b"x"));
}

/// An index of format 2 (what builds before expiry wrote, and what `check`
/// compares such an index with) is read as it is: the same entries, with
/// no expiry (format 2 has no room for one), and no expiring flag.
#[test]
fn a_format_2_index_is_read_without_expiries() {
    let es = entries(3000, 40);
    assert!(es.iter().any(|e| e.expires_at.is_some()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg-1.idx");
    let meta = IndexMeta {
        version: 2,
        ..IndexMeta::default()
    };
    replace(
        &RealStorage,
        &path,
        &encode(&es, Kind::Hashed, 16 + 3000 * 40, meta),
    )
    .unwrap();
    let idx = Arc::new(Index::open(&RealStorage, &path).unwrap().unwrap());
    assert_eq!(idx.version(), 2);
    assert!(!idx.footer.expiring);
    let all: Vec<Entry> = idx.entries_from(0).map(|e| e.unwrap()).collect();
    let want: Vec<Entry> = es
        .iter()
        .cloned()
        .map(|e| Entry {
            expires_at: None,
            ..e
        })
        .collect();
    assert_eq!(all, want);
    // Format 3 keeps the expiries, and says some put expires.
    let (_d, idx3) = written(&es, Kind::Hashed, 16 + 3000 * 40);
    assert!(idx3.footer.expiring);
}

/// The hash table is laid out as docs/format.md says, so that a file
/// written by another build reads the same: 7 slots of `hash u32 | offset
/// u32` a bucket, `ceil(5 × keys / 28)` buckets, each key in its home
/// bucket `(hash × buckets) >> 32` or the first following one with room,
/// no empty slot before it, and each bucket's CRC over its first 60 bytes.
#[test]
fn the_hash_table_is_laid_out_as_documented() {
    let n = 1000;
    let es = entries(n, 40);
    let bytes = encode(&es, Kind::Hashed, 16 + n as u64 * 40, IndexMeta::default());
    let buckets = (5 * n).div_ceil(4 * 7) as u64;
    let (_d, idx) = written(&es, Kind::Hashed, 16 + n as u64 * 40);
    assert_eq!(idx.footer.buckets, buckets);
    let bucket = |b: u64| &bytes[64 + 64 * b as usize..][..64];
    for b in 0..buckets {
        let crc = u32::from_le_bytes(bucket(b)[60..].try_into().unwrap());
        assert_eq!(crc, crc32fast::hash(&bucket(b)[..60]), "bucket {b}");
    }
    for e in &es {
        let mut h = crc32fast::Hasher::new_with_initial(0x9e37_79b9);
        h.update(&e.key);
        let hash = h.finalize();
        let mut b = (u64::from(hash) * buckets) >> 32;
        'search: loop {
            for slot in bucket(b)[..56].chunks(8) {
                let word = |i: usize| u32::from_le_bytes(slot[i..i + 4].try_into().unwrap());
                assert_ne!(word(4), 0, "{:?}: an empty slot before its own", e.key);
                if (word(0), word(4)) == (hash, e.offset as u32) {
                    break 'search;
                }
            }
            b = (b + 1) % buckets;
        }
    }
}

/// A handle keeps the sparse frames it has read: a second lookup of a key
/// deep in a large index (sorted: three levels, its frame far from the
/// first of its level; hashed: two, after the table and the entries) reads
/// no byte of the index again.
#[test]
fn a_second_lookup_reads_no_frame_again() {
    use crate::engine::storage::Counting;
    use std::sync::atomic::Ordering;
    let n = 60_000;
    let es = entries(n, 100);
    for (kind, levels) in [(Kind::Sorted, 2), (Kind::Hashed, 1)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg-1.idx");
        let bytes = encode(&es, kind, 16 + n as u64 * 100, IndexMeta::default());
        replace(&RealStorage, &path, &bytes).unwrap();
        let counting = Counting::over(Arc::new(RealStorage));
        let reads = Arc::clone(&counting.reads);
        let idx = Index::open(&counting, &path).unwrap().unwrap();
        assert_eq!(idx.footer.levels, levels, "{kind:?}");
        let key = &es[n - 10].key;
        let first = idx.locate(key).unwrap().expect("a block");
        let before = reads.load(Ordering::SeqCst);
        assert!(
            before > 2,
            "{kind:?}: the first lookup read frames ({before} reads)"
        );
        assert_eq!(idx.locate(key).unwrap(), Some(first), "{kind:?}");
        assert_eq!(reads.load(Ordering::SeqCst), before, "{kind:?}: read again");
    }
}

/// A walk keeps the frames of its seek, not those it passes: a whole walk
/// of a large index keeps one frame a level (its memory would otherwise
/// grow to the index's size), and a second seek to the same key reads no
/// frame again.
#[test]
fn a_walk_keeps_the_frames_of_its_seek_only() {
    use crate::engine::storage::Counting;
    use std::sync::atomic::Ordering;
    let n = 60_000;
    let es = entries(n, 100);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg-1.idx");
    let bytes = encode(&es, Kind::Sorted, 16 + n as u64 * 100, IndexMeta::default());
    replace(&RealStorage, &path, &bytes).unwrap();
    let counting = Counting::over(Arc::new(RealStorage));
    let reads = Arc::clone(&counting.reads);
    let idx = Arc::new(Index::open(&counting, &path).unwrap().unwrap());
    let levels = usize::from(idx.footer.levels);
    assert_eq!(levels, 2, "a top and two levels of frames");
    let all = idx.blocks_from(b"").unwrap().count();
    assert!(all > 2_000, "{all} blocks");
    assert_eq!(idx.kept_frames(), levels, "one frame a level, the first");
    assert_eq!(idx.kept_chunks(), levels, "no slots made for frames passed");
    let key = &es[n / 2].key;
    let seek: Vec<_> = idx
        .blocks_from(key)
        .unwrap()
        .take(3)
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(idx.kept_frames(), 2 * levels);
    let before = reads.load(Ordering::SeqCst);
    let again: Vec<_> = idx
        .blocks_from(key)
        .unwrap()
        .take(3)
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(again, seek);
    assert_eq!(
        reads.load(Ordering::SeqCst),
        before,
        "the seek read a frame again"
    );
    // A whole walk still finds every block, in order, after the seeks.
    let firsts: Vec<_> = idx
        .blocks_from(b"")
        .unwrap()
        .map(|b| b.unwrap().first_key)
        .collect();
    assert_eq!(firsts.len(), all);
    assert!(firsts.windows(2).all(|w| w[0] < w[1]));
}

/// An index that cannot be opened for another reason than its absence (an
/// I/O error) is an error, not a missing index to rebuild.
#[test]
fn an_index_that_cannot_be_opened_is_an_error_not_missing() {
    use crate::engine::storage::{Fault, FaultKind, FaultOp, Storage};
    let sim = SimStorage::new(1);
    let path = std::path::Path::new("/seg-1.idx");
    let es = entries(10, 40);
    sim.write_file(
        path,
        &encode(&es, Kind::Hashed, 16 + 400, IndexMeta::default()),
    )
    .unwrap();
    assert!(Index::open(&sim, path).unwrap().is_ok());
    assert_eq!(
        Index::open(&sim, std::path::Path::new("/seg-2.idx"))
            .unwrap()
            .err(),
        Some("missing".to_string())
    );
    sim.inject(Fault {
        op: FaultOp::Open,
        nth: 1,
        kind: FaultKind::Eio,
        persistent: false,
    });
    let r = Index::open(&sim as &dyn Storage, path);
    assert!(
        matches!(r, Err(crate::engine::Error::Io { op: "open", .. })),
        "{r:?}"
    );
}

/// Around the sizes where a sorted index gains a level (its first level
/// of frames is written as the blocks end, the levels above at the
/// finish): every key is found, and the levels are as many as the blocks
/// need. (The index is byte for byte what the builder wrote when it held
/// every block's entry to the end: compared once, for these sizes and more,
/// when the first level began to be written early.)
#[test]
fn sorted_indexes_at_the_edges_of_their_levels() {
    // Records of 100 bytes: a data block (2 KiB and the record that
    // crosses it) holds 21 of them.
    for (blocks, levels) in [
        (32, 0),
        (33, 1),
        (34, 1),
        (64, 1),
        (65, 1),
        (97, 1),
        (1024, 1),
        (1025, 2),
    ] {
        let n = 21 * blocks;
        let es = entries(n, 100);
        let seg_len = 16 + n as u64 * 100;
        let (_d, idx) = written(&es, Kind::Sorted, seg_len);
        let all: Vec<_> = idx.blocks_from(b"").unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(all.len(), blocks, "{blocks} blocks");
        assert_eq!(idx.footer.levels, levels, "{blocks} blocks");
        for e in es.iter().step_by(7).chain(es.last()) {
            let b = idx.locate(&e.key).unwrap().unwrap();
            assert!(
                b.offset <= e.offset && e.offset < b.offset + b.len,
                "{blocks}"
            );
        }
    }
}
