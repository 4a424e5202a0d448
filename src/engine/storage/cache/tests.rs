//! Tests of the block cache: hits, misses, coherence with writes, capacity.

use super::*;
use crate::engine::storage::{Counting, RealStorage, SimStorage};

fn counted(blocks: u64) -> (tempfile::TempDir, Arc<AtomicU64>, CachingStorage) {
    let dir = tempfile::tempdir().unwrap();
    let counting = Counting::over(Arc::new(RealStorage));
    let reads = Arc::clone(&counting.reads);
    let cached = CachingStorage::new(Arc::new(counting), blocks * BLOCK as u64);
    (dir, reads, cached)
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 4096) as u8).collect()
}

/// A file `f` in `dir` through `cached`, holding `len` bytes of
/// [`pattern`], and those bytes.
fn written(
    cached: &CachingStorage,
    dir: &tempfile::TempDir,
    len: usize,
) -> (Arc<dyn StorageFile>, Vec<u8>) {
    let f = cached
        .open(&dir.path().join("f"), OpenMode::Truncate)
        .unwrap();
    let data = pattern(len);
    f.write_at(&data, 0).unwrap();
    (f, data)
}

#[test]
fn repeated_small_reads_hit_the_cache_and_return_the_same_bytes() {
    let (dir, reads, cached) = counted(64);
    let (f, data) = written(&cached, &dir, 10 * BLOCK + 123);
    let before = reads.load(Ordering::SeqCst);
    for round in 0..3 {
        for (off, len) in [
            (0, 10),
            (4090, 20),
            (3 * 4096, BLOCK),
            (10 * 4096 + 100, 50),
        ] {
            let mut buf = vec![0u8; len];
            let n = f.read_at(&mut buf, off).unwrap();
            let end = (off as usize + len).min(data.len());
            assert_eq!(
                &buf[..n],
                &data[off as usize..end],
                "round {round} at {off}"
            );
        }
    }
    // Blocks 0, 1, 3 and 10 are read once each; later rounds all hit.
    assert_eq!(reads.load(Ordering::SeqCst) - before, 4);
}

/// A shared block holds the same bytes a read does, is read from the
/// file once, ends early only at the end of the file, and a write
/// makes the next one read the new bytes (a block handed out earlier
/// keeps the old ones: it is the reader's own).
#[test]
fn shared_blocks_are_the_files_bytes_and_follow_writes() {
    let (dir, reads, cached) = counted(64);
    let (f, data) = written(&cached, &dir, 3 * BLOCK + 100);
    let before = reads.load(Ordering::SeqCst);
    for round in 0..2 {
        for off in [0, 10, 4095, 4096, 2 * 4096 + 7, 3 * 4096 + 99] {
            let (at, block) = f.cached_block(off).unwrap().expect("a caching layer");
            assert_eq!(at, off / 4096 * 4096, "round {round} at {off}");
            let end = (at as usize + BLOCK).min(data.len());
            assert_eq!(
                &block[..],
                &data[at as usize..end],
                "round {round} at {off}"
            );
        }
    }
    assert_eq!(
        reads.load(Ordering::SeqCst) - before,
        4,
        "each block read once"
    );
    let (_, old) = f.cached_block(5000).unwrap().unwrap();
    f.write_at(&[9u8; 10], 5000).unwrap();
    let (_, new) = f.cached_block(5000).unwrap().unwrap();
    assert_eq!(&new[5000 - 4096..5010 - 4096], &[9u8; 10]);
    assert_eq!(&old[..], &data[4096..2 * 4096]);
    // A plain file has no caching layer.
    let plain = RealStorage
        .open(&dir.path().join("f"), OpenMode::Read)
        .unwrap();
    assert!(plain.cached_block(0).unwrap().is_none());
}

/// A read over blocks the cache lacks reads them from the file in one
/// read and keeps them all; one over held and missing blocks returns
/// the same bytes; at the end of the file it stops short.
#[test]
fn a_miss_reads_the_rest_of_the_read_at_once() {
    let (dir, reads, cached) = counted(64);
    let (f, data) = written(&cached, &dir, 12 * BLOCK + 300);
    let read = |off: u64, len: usize| {
        let mut buf = vec![0u8; len];
        let n = f.read_at(&mut buf, off).unwrap();
        buf.truncate(n);
        buf
    };
    let before = reads.load(Ordering::SeqCst);
    // Blocks 0 to 4 (the read starts inside block 0 and ends inside 4).
    assert_eq!(read(100, MAX_CACHED_READ), data[100..100 + MAX_CACHED_READ]);
    assert_eq!(reads.load(Ordering::SeqCst) - before, 1, "one read");
    assert_eq!(read(0, 4 * BLOCK), data[..4 * BLOCK]);
    assert_eq!(read(4 * 4096, 100), data[4 * 4096..4 * 4096 + 100]);
    assert_eq!(reads.load(Ordering::SeqCst) - before, 1, "all five kept");
    // Block 6 held, 5 and 7 not.
    assert_eq!(read(6 * 4096 + 1, 10), data[6 * 4096 + 1..6 * 4096 + 11]);
    assert_eq!(
        read(5 * 4096 + 7, 3 * BLOCK),
        data[5 * 4096 + 7..8 * 4096 + 7]
    );
    // Past the end: what there is.
    assert_eq!(read(11 * 4096 + 5, 3 * BLOCK), data[11 * 4096 + 5..]);
    assert_eq!(read(13 * 4096, 10), Vec::<u8>::new());
}

/// A read that does not fill the cache returns the file's bytes, from the
/// cache's copies while it holds them (no read of the file) and from the
/// file from the first block it lacks on, which it does not keep.
#[test]
fn a_read_that_does_not_fill_uses_what_is_held_and_keeps_nothing() {
    let (dir, reads, cached) = counted(64);
    let (f, data) = written(&cached, &dir, 12 * BLOCK + 300);
    let read = |off: u64, len: usize| {
        let mut buf = vec![0u8; len];
        let n = f.read_at_no_fill(&mut buf, off).unwrap();
        buf.truncate(n);
        buf
    };
    let count = || reads.load(Ordering::SeqCst);
    let before = count();
    // Nothing held: every such read reads the file, and keeps nothing.
    for _ in 0..2 {
        assert_eq!(read(100, 3 * BLOCK), data[100..100 + 3 * BLOCK]);
    }
    assert_eq!(count() - before, 2, "a read each");
    // Blocks 2 and 3 held (a plain read keeps them): a read within them
    // reads nothing; one going on into block 4 reads from there.
    let mut buf = vec![0u8; 2 * BLOCK];
    f.read_at(&mut buf, 2 * 4096).unwrap();
    let before = count();
    assert_eq!(
        read(2 * 4096 + 5, 2 * BLOCK - 5),
        data[2 * 4096 + 5..4 * 4096]
    );
    assert_eq!(count(), before, "served from the cache");
    assert_eq!(read(3 * 4096, 2 * BLOCK), data[3 * 4096..5 * 4096]);
    assert_eq!(count() - before, 1, "the rest in one read");
    assert_eq!(read(3 * 4096, 2 * BLOCK), data[3 * 4096..5 * 4096]);
    assert_eq!(count() - before, 2, "block 4 was not kept");
    // Past the end: what there is, from the cache or not.
    assert_eq!(read(11 * 4096 + 5, 3 * BLOCK), data[11 * 4096 + 5..]);
    let mut buf = vec![0u8; BLOCK];
    f.read_at(&mut buf, 12 * 4096).unwrap();
    assert_eq!(read(12 * 4096 + 7, BLOCK), data[12 * 4096 + 7..]);
    assert_eq!(read(13 * 4096, 10), Vec::<u8>::new());
}

#[test]
fn writes_and_truncation_are_seen_by_later_reads() {
    let cached = CachingStorage::new(Arc::new(SimStorage::new(1)), 64 * BLOCK as u64);
    cached.create_dir_all(Path::new("/db")).unwrap();
    let f = cached.open(Path::new("/db/f"), OpenMode::Truncate).unwrap();
    f.write_at(&[1u8; 100], 0).unwrap();
    let mut buf = [0u8; 200];
    assert_eq!(f.read_at(&mut buf, 0).unwrap(), 100);
    // An append into the cached (partial) block is visible.
    f.write_at(&[2u8; 100], 100).unwrap();
    assert_eq!(f.read_at(&mut buf, 0).unwrap(), 200);
    assert_eq!(&buf[100..], &[2u8; 100]);
    // A truncation too, and a rewrite after it.
    f.set_len(50).unwrap();
    assert_eq!(f.read_at(&mut buf, 0).unwrap(), 50);
    f.write_at(&[3u8; 10], 50).unwrap();
    assert_eq!(f.read_at(&mut buf, 0).unwrap(), 60);
    assert_eq!(&buf[50..60], &[3u8; 10]);
    // Another handle to another file never sees this one's blocks.
    let g = cached.open(Path::new("/db/g"), OpenMode::Truncate).unwrap();
    assert_eq!(g.read_at(&mut buf, 0).unwrap(), 0);
}

#[test]
fn large_reads_bypass_and_capacity_is_kept() {
    let (dir, reads, cached) = counted(64);
    let (f, data) = written(&cached, &dir, 400 * BLOCK);
    let mut big = vec![0u8; MAX_CACHED_READ + 1];
    f.read_at(&mut big, 0).unwrap();
    assert_eq!(big, data[..big.len()]);
    // The large read kept nothing: a small read of its first block misses.
    let before = reads.load(Ordering::SeqCst);
    let mut small = [0u8; 8];
    f.read_at(&mut small, 0).unwrap();
    assert_eq!(reads.load(Ordering::SeqCst), before + 1);
    // Touch every block: the cache holds at most its capacity.
    for b in 0..400 {
        f.read_at(&mut small, b * BLOCK as u64).unwrap();
        assert_eq!(small, data[b as usize * BLOCK..][..8]);
    }
    let held = cached.held_blocks();
    assert_eq!(held, 64, "the cache holds its capacity, no more");
    // A block read again after eviction is right too, and dropping the
    // handle gives its blocks back.
    f.read_at(&mut small, 7 * BLOCK as u64).unwrap();
    assert_eq!(small, data[7 * BLOCK..][..8]);
    drop(f);
    assert_eq!(cached.held_blocks(), 0);
}
