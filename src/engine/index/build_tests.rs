//! What the builder writes besides the entries a lookup finds: the counts
//! and key range in the footer, the size of its entry frames and slots, and
//! the length it tells the caller before the footer is written.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::engine::storage::SimStorage;

fn opened(bytes: &[u8]) -> Arc<Index> {
    let storage = SimStorage::new(1);
    storage.write_file(Path::new("/i"), bytes).unwrap();
    Arc::new(Index::open(&storage, Path::new("/i")).unwrap().unwrap())
}

fn entry(i: usize, delete: bool, offset: u64, len: u32) -> Entry {
    Entry {
        key: format!("key{i:07}").into_bytes(),
        delete,
        offset,
        len,
        expires_at: None,
    }
}

#[test]
fn the_footer_counts_keys_puts_and_put_bytes_and_keeps_the_key_range() {
    // Lengths 10, 11, …; every third a tombstone.
    let es: Vec<Entry> = (0..100)
        .map(|i| entry(i, i % 3 == 1, 16 + 100 * i as u64, 10 + i as u32))
        .collect();
    let puts: Vec<&Entry> = es.iter().filter(|e| !e.delete).collect();
    let put_bytes: u64 = puts.iter().map(|e| u64::from(e.len)).sum();
    for kind in [Kind::Sorted, Kind::Hashed] {
        let f = opened(&encode(&es, kind, 16 + 100 * 100, IndexMeta::default())).footer;
        assert_eq!(
            (f.keys, f.puts, f.put_bytes),
            (100, 67, put_bytes),
            "{kind:?}"
        );
        assert_eq!(puts.len(), 67);
        assert_eq!(f.first_key, KeyBound::of(&es[0].key), "{kind:?}");
        assert_eq!(f.last_key, KeyBound::of(&es[99].key), "{kind:?}");
        assert!(!f.expiring);
    }
}

/// `finish` tells `meta` the index file's whole length, footer included
/// (a compaction's last output records the size of all it wrote).
#[test]
fn finish_tells_the_length_of_the_whole_file() {
    let es: Vec<Entry> = (0..500)
        .map(|i| entry(i, false, 16 + 40 * i as u64, 40))
        .collect();
    for kind in [Kind::Sorted, Kind::Hashed] {
        let mut b = Builder::new(kind);
        for e in &es {
            b.push(e);
        }
        let mut told = 0;
        let bytes = b.finish(16 + 500 * 40, |len| {
            told = len;
            IndexMeta::default()
        });
        assert_eq!(told, bytes.len() as u64, "{kind:?}");
    }
}

/// Entry frames end once they hold 4096 bytes of entries: entries of 16
/// bytes (a 1-byte key length, a 10-byte key, a 3-byte offset, a 2-byte
/// length) make frames of exactly 256.
#[test]
fn entry_frames_end_at_4096_bytes() {
    let es: Vec<Entry> = (0..600)
        .map(|i| entry(i, false, 20_000 + 40 * i as u64, 40))
        .collect();
    let idx = opened(&encode(&es, Kind::Hashed, 50_000, IndexMeta::default()));
    for (i, first) in [
        (0, 0),
        (255, 0),
        (256, 256),
        (511, 256),
        (512, 512),
        (599, 512),
    ] {
        let frame = idx.locate(&es[i].key).unwrap().unwrap();
        assert_eq!(frame.first_key, es[first].key, "entry {i}");
        let entries = if first == 512 { 88 } else { 256 };
        assert_eq!(frame.len, entries * 16 + 8, "entry {i}");
    }
}

/// Narrow slots (u32 offsets) for any segment that u32 reaches, wide ones
/// past it.
#[test]
fn slots_are_narrow_up_to_4_gib() {
    let es: Vec<Entry> = (0..10)
        .map(|i| entry(i, false, 16 + 40 * i as u64, 40))
        .collect();
    for (segment_len, width) in [(u64::from(u32::MAX), 8), (u64::from(u32::MAX) + 1, 12)] {
        let idx = opened(&encode(
            &es,
            Kind::Hashed,
            segment_len,
            IndexMeta::default(),
        ));
        assert_eq!(idx.footer.slot_width, width, "{segment_len}");
        for e in &es {
            assert!(idx.candidate_list(&e.key).unwrap().contains(&e.offset));
        }
    }
}

/// A sorted index holds no more than a frame's worth of sparse entries
/// between pushes while it is built (its first level of frames is written
/// as its blocks end), and the file is the one a builder holding every block's
/// entry to the end writes: one level, 32 blocks a frame.
#[test]
fn a_sorted_builder_holds_at_most_a_frame_of_blocks() {
    // Records of 1 KiB: two a block, 1,000 blocks, 32 first-level frames.
    let n = 2000;
    let mut b = Builder::new(Kind::Sorted);
    let mut most = 0;
    for i in 0..n {
        b.push(&entry(i, false, 16 + 1024 * i as u64, 1024));
        most = most.max(b.sparse_held());
    }
    assert!(most > 0 && most <= SPARSE_FRAME, "{most} held");
    let idx = opened(&b.finish(16 + 1024 * n as u64, |_| IndexMeta::default()));
    assert_eq!(idx.footer.levels, 1);
    let blocks: Vec<_> = idx.blocks_from(b"").unwrap().map(|b| b.unwrap()).collect();
    assert_eq!(blocks.len(), n / 2);
    assert!(blocks.iter().all(|b| b.len == 2048));
}

/// A sorted index handed out as it is laid out (`take_written`, here at
/// every push) and then finished is, joined, the file a builder that held
/// it to the end writes, and `finish` tells its whole length: every offset
/// in it counts the bytes handed out, at every level.
#[test]
fn a_sorted_index_handed_out_as_it_goes_is_the_same_file() {
    // Two records a block: 20,000 blocks, three levels of frames.
    let n = 40_000;
    let mut whole = Builder::new(Kind::Sorted);
    let mut streamed = Builder::new(Kind::Sorted);
    let mut file = Vec::new();
    for i in 0..n {
        let e = entry(i, i % 7 == 0, 16 + 1024 * i as u64, 1024);
        whole.push(&e);
        streamed.push(&e);
        streamed
            .take_written(1, |at, bytes| {
                assert_eq!(at, file.len() as u64, "handed out in order");
                file.extend_from_slice(bytes);
                Ok::<(), ()>(())
            })
            .unwrap();
    }
    assert!(file.len() > 100_000, "{} bytes handed out", file.len());
    let end = 16 + 1024 * n as u64;
    let (mut told, mut told_whole) = (0, 0);
    let rest = streamed.finish(end, |len| {
        told = len;
        IndexMeta::default()
    });
    file.extend_from_slice(&rest);
    let all = whole.finish(end, |len| {
        told_whole = len;
        IndexMeta::default()
    });
    assert!(file == all, "the joined file differs");
    assert_eq!((told, told_whole), (all.len() as u64, all.len() as u64));
    let idx = opened(&file);
    assert!(idx.footer.levels >= 2, "{} levels", idx.footer.levels);
    let blocks = idx.blocks_from(b"key0030000").unwrap().count();
    assert_eq!(blocks, (n - 30_000) / 2);
}
