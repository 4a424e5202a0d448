//! A hashed index's entry frames as a walk reads them: frames larger than
//! its read-ahead, a walk from a frame in the middle, and crafted entries
//! (frames with right CRCs that the builder would never write) refused
//! rather than read.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::engine::record::{FORMAT_VERSION, write_varint};
use crate::engine::storage::SimStorage;

fn opened(bytes: &[u8]) -> Arc<Index> {
    let storage = SimStorage::new(1);
    storage.write_file(Path::new("/i"), bytes).unwrap();
    Arc::new(Index::open(&storage, Path::new("/i")).unwrap().unwrap())
}

/// Keys of 1 to 60,000 bytes, so some entry frames hold one entry larger
/// than any read the walk makes ahead of it, and others many small ones.
fn mixed(n: usize) -> Vec<Entry> {
    let mut offset = 16;
    (0..n)
        .map(|i| {
            let mut key = format!("key{i:05}").into_bytes();
            if i % 5 == 2 {
                key.resize(key.len() + (i * 7919) % 60_000, b'x');
            }
            let len = key.len() as u32 + 20;
            let e = Entry {
                key,
                delete: i % 4 == 1,
                offset,
                len,
                expires_at: (i % 6 == 3 && i % 4 != 1).then_some(1_800_000_000_000 + i as u64),
            };
            offset += u64::from(len);
            e
        })
        .collect()
}

#[test]
fn a_walk_reads_frames_larger_than_its_read_ahead() {
    let es = mixed(300);
    let seg_len = es.last().map_or(16, |e| e.offset + u64::from(e.len));
    let idx = opened(&encode(&es, Kind::Hashed, seg_len, IndexMeta::default()));
    let all: Vec<Entry> = idx.entries_from(0).map(|e| e.unwrap()).collect();
    assert_eq!(all, es);
    // From a frame in the middle: its entries and every one after.
    for probe in [150, 152, 299] {
        let frame = idx.locate(&es[probe].key).unwrap().unwrap();
        let from: Vec<Entry> = idx.entries_from(frame.offset).map(|e| e.unwrap()).collect();
        let first = es.iter().position(|e| e.key == frame.first_key).unwrap();
        assert!(first <= probe);
        assert_eq!(from, es[first..], "from entry {probe}'s frame");
    }
}

/// A hashed index whose entry frames hold `frames` (payloads; each gets its
/// length and a right CRC), with an empty table and top: enough for a walk.
fn hashed_with_entry_frames(frames: &[Vec<u8>], version: u32) -> Arc<Index> {
    hashed_with_entries(frames, &[], version)
}

/// [`hashed_with_entry_frames`], with `trailing` raw bytes after the
/// frames, still in the entries' region.
fn hashed_with_entries(frames: &[Vec<u8>], trailing: &[u8], version: u32) -> Arc<Index> {
    let mut file = record::file_header_of(INDEX_MAGIC, version).to_vec();
    file.resize(BUCKET_LEN, 0);
    let mut bucket = [0u8; BUCKET_LEN];
    let crc = crc32fast::hash(&bucket[..BUCKET_LEN - 4]);
    bucket[BUCKET_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
    file.extend_from_slice(&bucket);
    for payload in frames {
        let start = file.len();
        file.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        file.extend_from_slice(payload);
        let crc = crc32fast::hash(&file[start..]);
        file.extend_from_slice(&crc.to_le_bytes());
    }
    file.extend_from_slice(trailing);
    let sparse_off = file.len() as u64;
    let start = file.len();
    file.extend_from_slice(&4u32.to_le_bytes());
    file.extend_from_slice(&0u32.to_le_bytes());
    let crc = crc32fast::hash(&file[start..]);
    file.extend_from_slice(&crc.to_le_bytes());
    let footer = Footer {
        kind: Kind::Hashed,
        levels: 0,
        first_key: KeyBound::of(b"a"),
        last_key: KeyBound::of(b"z"),
        slot_width: 8,
        keys: 1,
        puts: 0,
        put_bytes: 0,
        table_off: BUCKET_LEN as u64,
        buckets: 1,
        sparse_off,
        top_off: sparse_off,
        segment_len: 1000,
        group: None,
        base_live: 0,
        compacted_at: 0,
        expiring: false,
        block_crcs: false,
    };
    file.extend_from_slice(&footer.encode());
    opened(&file)
}

/// An entry: key length, key, offset, then `tail` (the length and kind
/// varint and what follows it).
fn entry_bytes(key_len: usize, tail: &[u64]) -> Vec<u8> {
    let mut b = Vec::new();
    write_varint(&mut b, key_len as u64);
    b.resize(b.len() + key_len, b'k');
    write_varint(&mut b, 16);
    for &v in tail {
        write_varint(&mut b, v);
    }
    b
}

fn walked(idx: &Arc<Index>) -> Vec<std::result::Result<Entry, String>> {
    idx.entries_from(0)
        .map(|e| e.map_err(|e| e.to_string()))
        .collect()
}

#[test]
fn crafted_entries_are_refused() {
    let put = |len: u64| len << 2;
    // What is read, for the same bytes, in each version.
    let good = entry_bytes(1, &[put(7) | 2, 99]);
    let idx = hashed_with_entry_frames(std::slice::from_ref(&good), FORMAT_VERSION);
    let want = Entry {
        key: b"k".to_vec(),
        delete: false,
        offset: 16,
        len: 7,
        expires_at: Some(99),
    };
    assert_eq!(walked(&idx), [Ok(want)]);
    let v2 = hashed_with_entry_frames(&[entry_bytes(1, &[7 << 1 | 1])], 2);
    let tombstone = Entry {
        key: b"k".to_vec(),
        delete: true,
        offset: 16,
        len: 7,
        expires_at: None,
    };
    assert_eq!(walked(&v2), [Ok(tombstone)]);
    let longest = entry_bytes(MAX_KEY_LEN, &[put(7)]);
    let idx = hashed_with_entry_frames(&[longest], FORMAT_VERSION);
    assert_eq!(walked(&idx)[0].as_ref().unwrap().key.len(), MAX_KEY_LEN);
    for (what, frame) in [
        ("an empty key", entry_bytes(0, &[put(7)])),
        ("a key past 64 KiB", entry_bytes(MAX_KEY_LEN + 1, &[put(7)])),
        ("an expiring tombstone", entry_bytes(1, &[put(7) | 3, 99])),
        ("a length past u32", entry_bytes(1, &[put(1 << 32)])),
        ("an expiry cut off", entry_bytes(1, &[put(7) | 2])),
        (
            "a key cut short",
            entry_bytes(4, &[]).split_at(3).0.to_vec(),
        ),
    ] {
        let idx = hashed_with_entry_frames(&[good.clone(), frame], FORMAT_VERSION);
        let got = walked(&idx);
        assert_eq!(got.len(), 2, "{what}: {got:?}");
        assert!(got[0].is_ok() && got[1].is_err(), "{what}: {got:?}");
        // The error names the entry: in the second frame, after its length.
        let second = 2 * BUCKET_LEN as u64 + 8 + good.len() as u64;
        let err = idx.entries_from(0).nth(1).unwrap().unwrap_err();
        assert!(
            matches!(err, Error::Corrupt { offset, .. } if offset == second + 4),
            "{what}: {err:?}"
        );
    }
}

/// Bytes after the last frame that cannot be a frame (too short for a
/// length, or a length past the region) end the walk with an error.
#[test]
fn a_crafted_frame_past_the_entries_is_refused() {
    let good = entry_bytes(1, &[7 << 2]);
    let mut cut = Vec::new();
    for trailing in [vec![1], vec![1, 0, 0], {
        // A frame of 10 bytes with only 12 after its length.
        cut.extend_from_slice(&10u32.to_le_bytes());
        cut.resize(16, 0);
        cut.clone()
    }] {
        let idx = hashed_with_entries(std::slice::from_ref(&good), &trailing, FORMAT_VERSION);
        let got = walked(&idx);
        assert_eq!(got.len(), 2, "{trailing:?}: {got:?}");
        assert!(got[0].is_ok() && got[1].is_err(), "{trailing:?}: {got:?}");
    }
}

/// A walk reads ahead: a long one reads the file in pieces holding many
/// frames, not a read (or two) a frame.
#[test]
fn a_long_walk_reads_many_frames_at_a_time() {
    use crate::engine::storage::{Counting, RealStorage};
    use std::sync::atomic::Ordering;
    let n = 20_000;
    let es: Vec<Entry> = (0..n)
        .map(|i| Entry {
            key: format!("key{i:06}").into_bytes(),
            delete: false,
            offset: 16 + 40 * i as u64,
            len: 40,
            expires_at: None,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg-1.idx");
    let bytes = encode(&es, Kind::Hashed, 16 + 40 * n as u64, IndexMeta::default());
    crate::engine::dir::replace(&RealStorage, &path, &bytes).unwrap();
    let counting = Counting::over(Arc::new(RealStorage));
    let reads = Arc::clone(&counting.reads);
    let idx = Arc::new(Index::open(&counting, &path).unwrap().unwrap());
    let f = idx.footer;
    let frames = (f.sparse_off - f.entries_off()) / 4096;
    let before = reads.load(Ordering::SeqCst);
    let all: Vec<Entry> = idx.entries_from(0).map(|e| e.unwrap()).collect();
    assert_eq!(all, es);
    let walk = reads.load(Ordering::SeqCst) - before;
    assert!(frames >= 50, "{frames} frames");
    assert!(walk <= frames / 4, "{walk} reads for {frames} frames");
}

/// A walk's first read (4096 bytes) that ends right after the next frame's
/// length holds that length but none of the frame: the walk reads on, the
/// frame is not cut short.
#[test]
fn a_read_ending_right_after_a_frames_length_reads_on() {
    // One entry of 4084 bytes (a 2-byte key length, a 4080-byte key, a
    // 1-byte offset and length): with its length and CRC, a frame of 4092.
    let first = entry_bytes(4080, &[7 << 2]);
    assert_eq!(first.len() + 8, 4096 - 4);
    let second = entry_bytes(1, &[9 << 2]);
    let idx = hashed_with_entry_frames(&[first, second], FORMAT_VERSION);
    let got: Vec<_> = walked(&idx)
        .into_iter()
        .map(|e| e.map(|e| (e.key.len(), e.len)))
        .collect();
    assert_eq!(got, [Ok((4080, 7)), Ok((1, 9))]);
}
