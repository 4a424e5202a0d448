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

/// Reads of `f` as `read_at` (or `read_at_spare`, a walk's, when
/// `spare`) makes them: the bytes at `off`, `len` of them or fewer at the
/// end of the file.
fn reader(f: &Arc<dyn StorageFile>, spare: bool) -> impl Fn(u64, usize) -> Vec<u8> + '_ {
    move |off, len| {
        let mut buf = vec![0u8; len];
        let n = match spare {
            true => f.read_at_spare(&mut buf, off),
            false => f.read_at(&mut buf, off),
        };
        buf.truncate(n.unwrap());
        buf
    }
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
    let read = reader(&f, false);
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

/// A walk's read returns the file's bytes, from the cache's copies while
/// it holds them (no read of the file) and from the file from the first
/// block it lacks on, at any length; it keeps what it reads while the
/// cache has room for it that no block holds, and once the cache is full
/// it keeps nothing and evicts nothing.
#[test]
fn a_walks_read_keeps_blocks_only_in_free_room() {
    let (dir, reads, cached) = counted(8);
    let (f, data) = written(&cached, &dir, 20 * BLOCK + 300);
    let read = reader(&f, true);
    let count = || reads.load(Ordering::SeqCst);
    // Blocks 0 to 5, longer than any read a lookup keeps: read once, kept.
    let before = count();
    for _ in 0..2 {
        assert_eq!(read(100, 5 * BLOCK), data[100..100 + 5 * BLOCK]);
    }
    assert_eq!(count() - before, 1, "kept by the first read");
    assert_eq!(cached.held_blocks(), 6);
    // A lookup keeps block 7; a walk's read of block 9 takes the last
    // room; one of blocks 10 and 11 finds no room for them and keeps
    // neither.
    let mut small = [0u8; 8];
    f.read_at(&mut small, 7 * BLOCK as u64).unwrap();
    assert_eq!(read(9 * 4096, BLOCK), data[9 * 4096..10 * 4096]);
    assert_eq!(cached.held_blocks(), 8);
    let before = count();
    assert_eq!(read(9 * 4096 + 1, 10), data[9 * 4096 + 1..9 * 4096 + 11]);
    assert_eq!(count(), before, "block 9 held");
    assert_eq!(read(10 * 4096, 2 * BLOCK), data[10 * 4096..12 * 4096]);
    assert_eq!(read(10 * 4096, 2 * BLOCK), data[10 * 4096..12 * 4096]);
    assert_eq!(count() - before, 2, "blocks 10 and 11 not kept");
    // Full: more walks' reads evict nothing (blocks 0 to 5, 7 and 9 stay
    // held); one from block 5 on reads the file from block 6.
    assert_eq!(read(13 * 4096, 4 * BLOCK), data[13 * 4096..17 * 4096]);
    let before = count();
    assert_eq!(read(0, 6 * BLOCK), data[..6 * BLOCK]);
    assert_eq!(read(7 * 4096, BLOCK), data[7 * 4096..8 * 4096]);
    assert_eq!(count(), before, "nothing evicted");
    assert_eq!(
        read(5 * 4096 + 3, 2 * BLOCK),
        data[5 * 4096 + 3..7 * 4096 + 3]
    );
    assert_eq!(count() - before, 1, "the rest in one read");
    assert_eq!(cached.held_blocks(), 8);
    // Past the end: what there is, from the cache or not.
    assert_eq!(read(19 * 4096 + 5, 3 * BLOCK), data[19 * 4096 + 5..]);
    assert_eq!(read(21 * 4096, 10), Vec::<u8>::new());
}

/// Room given back (a handle dropped, its blocks with it; a block a write
/// removed) is free room again for a walk's reads, though every position
/// of the ring was taken once.
#[test]
fn room_given_back_is_free_again_for_walks() {
    let (dir, reads, cached) = counted(4);
    let open = |name: &str| {
        let f = cached
            .open(&dir.path().join(name), OpenMode::Truncate)
            .unwrap();
        f.write_at(&pattern(8 * BLOCK), 0).unwrap();
        f
    };
    let (a, b) = (open("a"), open("b"));
    assert_eq!(reader(&a, true)(0, 4 * BLOCK).len(), 4 * BLOCK);
    assert_eq!(cached.held_blocks(), 4, "a's walk filled the cache");
    let read_b = reader(&b, true);
    let before = reads.load(Ordering::SeqCst);
    for _ in 0..2 {
        assert_eq!(read_b(0, 2 * BLOCK), pattern(8 * BLOCK)[..2 * BLOCK]);
    }
    assert_eq!(reads.load(Ordering::SeqCst) - before, 2, "no room for b");
    drop(a);
    assert_eq!(cached.held_blocks(), 0);
    read_b(0, 2 * BLOCK);
    let before = reads.load(Ordering::SeqCst);
    assert_eq!(read_b(0, 2 * BLOCK), pattern(8 * BLOCK)[..2 * BLOCK]);
    assert_eq!(reads.load(Ordering::SeqCst), before, "b kept in a's room");
    // A write drops block 0 of b: its room takes block 2.
    b.write_at(b"x", 10).unwrap();
    assert_eq!(cached.held_blocks(), 1);
    read_b(2 * 4096, 3 * BLOCK);
    assert_eq!(cached.held_blocks(), 4);
}

/// Before the cache is full, a walk's read that reaches the end of the
/// file keeps the short last block, and reads the same bytes again from it.
#[test]
fn a_walks_read_to_the_end_of_the_file_keeps_its_short_block() {
    let (dir, reads, cached) = counted(8);
    let (f, data) = written(&cached, &dir, 2 * BLOCK + 300);
    let read = reader(&f, true);
    assert_eq!(read(4000, 3 * BLOCK), data[4000..]);
    let before = reads.load(Ordering::SeqCst);
    assert_eq!(read(4000, 3 * BLOCK), data[4000..]);
    assert_eq!(read(2 * 4096 + 299, 10), data[2 * 4096 + 299..]);
    assert_eq!(reads.load(Ordering::SeqCst), before);
    assert_eq!(cached.held_blocks(), 3);
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

/// A cache of `blocks` blocks, full of lookups' blocks of a file `f` of
/// `len` bytes (block `j` at position `j`) but the last, which a write
/// removed (its position free, not new); the file's bytes.
type FullButLast = (
    tempfile::TempDir,
    Arc<AtomicU64>,
    CachingStorage,
    Arc<dyn StorageFile>,
    Vec<u8>,
);

fn full_but_last(blocks: u64, len: usize) -> FullButLast {
    let (dir, reads, cached) = counted(blocks);
    let (f, data) = written(&cached, &dir, len);
    for b in 0..blocks {
        reader(&f, false)(b * BLOCK as u64, 8);
    }
    let last = (blocks - 1) as usize * BLOCK;
    f.write_at(&data[last..last + 1], last as u64).unwrap();
    assert_eq!(cached.held_blocks() as u64, blocks - 1);
    (dir, reads, cached, f, data)
}

/// A walk's block goes only where no block is held: with the cache full
/// of lookups' blocks but one a write removed, a walk's read takes that
/// position, and every lookup's block is still held.
#[test]
fn a_walks_read_never_evicts_a_held_block() {
    // Block 3, the last position, is free: CLOCK from the hand would
    // clear the others' marks and evict block 0.
    let (_dir, reads, cached, f, data) = full_but_last(4, 8 * BLOCK);
    let (lookup, walk) = (reader(&f, false), reader(&f, true));
    assert_eq!(walk(6 * 4096, BLOCK), data[6 * 4096..7 * 4096]);
    assert_eq!(cached.held_blocks(), 4);
    let before = reads.load(Ordering::SeqCst);
    for b in [0, 1, 2, 6] {
        assert_eq!(lookup(b * BLOCK as u64, 8), data[b as usize * BLOCK..][..8]);
    }
    assert_eq!(reads.load(Ordering::SeqCst), before, "nothing evicted");
}

/// A walk's block looks at SPARE_PROBE positions at most for a free one,
/// each time from where the last look stopped: with one free position at
/// the end of a full ring, two walks' reads keep nothing and the third
/// finds it.
#[test]
fn a_walks_block_looks_at_a_few_positions_each_time() {
    let (_dir, reads, cached, f, data) = full_but_last(40, 48 * BLOCK);
    let (lookup, walk) = (reader(&f, false), reader(&f, true));
    let count = || reads.load(Ordering::SeqCst);
    let before = count();
    for _ in 0..4 {
        assert_eq!(walk(45 * 4096, 100), data[45 * 4096..45 * 4096 + 100]);
    }
    assert_eq!(count() - before, 3, "kept by the third read");
    assert_eq!(cached.held_blocks(), 40);
    let before = count();
    for b in 0..39 {
        lookup(b * BLOCK as u64, 8);
    }
    assert_eq!(count(), before, "nothing evicted");
}

/// Threads reading the same blocks at once, as lookups and as walks, get
/// the file's bytes, and the cache never holds more than its capacity
/// (a block once went in after another thread had taken its position).
#[test]
fn threads_reading_at_once_keep_at_most_the_capacity() {
    let (dir, _reads, cached) = counted(16);
    let (f, data) = written(&cached, &dir, 64 * BLOCK + 100);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (f, data) = (&f, &data);
            s.spawn(move || {
                let (lookup, walk) = (reader(f, false), reader(f, true));
                let mut x = t * 7919 + 1;
                for i in 0..20_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let off = x % (64 * BLOCK as u64);
                    let len = 1 + (x >> 20) as usize % (3 * BLOCK);
                    let end = (off as usize + len).min(data.len());
                    let got = if i % 2 == 0 {
                        lookup(off, len)
                    } else {
                        walk(off, len)
                    };
                    assert_eq!(got, data[off as usize..end], "at {off}, {len}");
                }
            });
        }
    });
    let held = cached.held_blocks();
    assert!((1..=16).contains(&held), "{held} blocks held");
}

/// A cache over another (a caller's own `CachingStorage` under the one
/// `cache_bytes` makes): a miss of the upper loads through the lower,
/// which loads too, and both return the file's bytes.
#[test]
fn a_cache_over_a_cache_reads_through_both() {
    let dir = tempfile::tempdir().unwrap();
    let lower = CachingStorage::new(Arc::new(RealStorage), 64 * BLOCK as u64);
    let cached = CachingStorage::new(Arc::new(lower), 64 * BLOCK as u64);
    let (f, data) = written(&cached, &dir, 6 * BLOCK);
    assert_eq!(reader(&f, false)(10, 8), data[10..18]);
    assert_eq!(
        reader(&f, true)(5000, 3 * BLOCK),
        data[5000..5000 + 3 * BLOCK]
    );
    assert_eq!(cached.held_blocks(), 5, "block 0, then 1 to 4");
}
