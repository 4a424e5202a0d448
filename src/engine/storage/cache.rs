//! [`CachingStorage`]: a bounded cache of file blocks in front of any
//! [`Storage`], so that repeated small reads (point lookups: a run of index
//! slots, an index entry, a record) are served from memory without a system
//! call.
//!
//! What it keeps:
//! - Blocks are [`BLOCK`] bytes at aligned offsets, keyed by the open handle
//!   they were read through (each handle gets a fresh id), never by path: a
//!   file replaced by rename is a new handle and starts cold.
//! - Coherence: every write and `set_len` through a handle bumps that
//!   handle's generation and drops the blocks it touched. A miss records the
//!   generation before it reads and inserts its block only if the generation
//!   is unchanged, checked under the shard's lock, so a block read while a
//!   write landed is never kept. The engine reads and writes a file through
//!   one handle at a time (a rewritten file is a new file), so this is all the
//!   coherence it needs.
//! - Scan resistance: reads longer than [`MAX_CACHED_READ`] (iteration's
//!   read-ahead, scans, recovery) go straight to the file and are not kept,
//!   so a dump of a large database neither evicts the hot blocks nor grows
//!   memory.
//! - Memory: at most `capacity` bytes of blocks, evicted with CLOCK (second
//!   chance) per shard.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{OpenMode, PathKind, Storage, StorageFile};

/// Size of a cached block.
pub const BLOCK: usize = 4096;
/// Reads longer than this bypass the cache.
pub const MAX_CACHED_READ: usize = 16 * 1024;
const SHARDS: usize = 32;

/// A [`Storage`] whose files cache their blocks in one shared, bounded cache.
pub struct CachingStorage {
    inner: Arc<dyn Storage>,
    cache: Arc<BlockCache>,
}

impl fmt::Debug for CachingStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingStorage")
            .field("inner", &self.inner)
            .field("capacity_blocks", &(self.cache.shard_blocks * SHARDS))
            .finish()
    }
}

impl CachingStorage {
    /// Caches up to `capacity` bytes of blocks read through `inner`.
    pub fn new(inner: Arc<dyn Storage>, capacity: u64) -> CachingStorage {
        let blocks = (capacity / BLOCK as u64) as usize;
        CachingStorage {
            inner,
            cache: Arc::new(BlockCache::new(blocks.div_ceil(SHARDS).max(1))),
        }
    }
}

impl Storage for CachingStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }

    fn kind(&self, path: &Path) -> io::Result<Option<PathKind>> {
        self.inner.kind(path)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(dir)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Ok(Arc::new(CachedFile {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            inner: self.inner.open(path, mode)?,
            cache: Arc::clone(&self.cache),
            generation: AtomicU64::new(0),
            any_cached: AtomicBool::new(false),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
        self.inner.try_lock(path)
    }
}

struct CachedFile {
    id: u64,
    inner: Arc<dyn StorageFile>,
    cache: Arc<BlockCache>,
    /// Bumped by every write; see the module doc.
    generation: AtomicU64,
    /// Whether any block of this file was ever inserted (writes to a file
    /// nobody read need not invalidate anything).
    any_cached: AtomicBool,
}

impl fmt::Debug for CachedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedFile")
            .field("id", &self.id)
            .field("inner", &self.inner)
            .finish()
    }
}

impl CachedFile {
    /// Bumps the generation, then drops the cached blocks `first..=last`.
    fn invalidate(&self, first: u64, last: u64) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if self.any_cached.load(Ordering::SeqCst) {
            for block in first..=last {
                self.cache.remove((self.id, block));
            }
        }
    }

    /// Reads the whole block `block` from the file (shorter at its end).
    fn load(&self, block: u64) -> io::Result<Vec<u8>> {
        let mut data = vec![0u8; BLOCK];
        let n = self.inner.read_at(&mut data, block * BLOCK as u64)?;
        data.truncate(n);
        Ok(data)
    }
}

impl StorageFile for CachedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if buf.len() > MAX_CACHED_READ || self.cache.shard_blocks == 0 {
            return self.inner.read_at(buf, offset);
        }
        let mut done = 0;
        while done < buf.len() {
            let pos = offset + done as u64;
            let (block, within) = (pos / BLOCK as u64, (pos % BLOCK as u64) as usize);
            let want = (buf.len() - done).min(BLOCK - within);
            let out = &mut buf[done..done + want];
            let key = (self.id, block);
            let n = match self.cache.copy_out(key, within, out) {
                Some(n) => n,
                None => {
                    let generation = self.generation.load(Ordering::SeqCst);
                    let data = self.load(block)?;
                    let n = data.len().saturating_sub(within).min(want);
                    out[..n].copy_from_slice(&data[within.min(data.len())..][..n]);
                    self.any_cached.store(true, Ordering::SeqCst);
                    self.cache.insert(key, data.into_boxed_slice(), || {
                        self.generation.load(Ordering::SeqCst) == generation
                    });
                    n
                }
            };
            done += n;
            if n < want {
                break; // end of file
            }
        }
        Ok(done)
    }

    fn read_at_uncached(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let result = self.inner.write_at(buf, offset);
        // Even a failed write may have changed some bytes.
        let end = offset.saturating_add(buf.len().max(1) as u64 - 1);
        self.invalidate(offset / BLOCK as u64, end / BLOCK as u64);
        result
    }

    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let old = self.inner.len();
        let result = self.inner.set_len(len);
        let (lo, hi) = match old {
            Ok(old) => (old.min(len), old.max(len)),
            // Unknown old length: drop everything from the new end on, as
            // far as any block could have been read.
            Err(_) => (len, u64::MAX - BLOCK as u64),
        };
        let last = if self.any_cached.load(Ordering::SeqCst) {
            (hi / BLOCK as u64).min(lo / BLOCK as u64 + self.cache.capacity_blocks() as u64)
        } else {
            lo / BLOCK as u64
        };
        self.invalidate(lo / BLOCK as u64, last);
        result
    }
}

type BlockKey = (u64, u64);

/// A cached block. A hit touches only this (in the map's bucket) and the
/// block's bytes: two memory locations, which is what a lookup costs.
struct Cached {
    data: Box<[u8]>,
    referenced: bool,
}

#[derive(Default)]
struct Shard {
    map: HashMap<BlockKey, Cached, Mix>,
    /// The CLOCK ring: the key each position last held. A position whose key
    /// is no longer in the map (removed by a write) is free.
    ring: Vec<BlockKey>,
    hand: usize,
}

struct BlockCache {
    shards: Box<[Mutex<Shard>]>,
    shard_blocks: usize,
}

impl BlockCache {
    fn new(shard_blocks: usize) -> BlockCache {
        BlockCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_blocks,
        }
    }

    fn capacity_blocks(&self) -> usize {
        self.shard_blocks * SHARDS
    }

    fn shard(&self, key: BlockKey) -> std::sync::MutexGuard<'_, Shard> {
        let h = mix(key.0 ^ mix(key.1));
        self.shards[(h >> 59) as usize % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Copies the block's bytes from `within` into `out`, returning how many
    /// it had (fewer than `out.len()` at the end of the file); `None` on a miss.
    fn copy_out(&self, key: BlockKey, within: usize, out: &mut [u8]) -> Option<usize> {
        let mut shard = self.shard(key);
        let cached = shard.map.get_mut(&key)?;
        cached.referenced = true;
        let avail = cached.data.get(within..).unwrap_or_default();
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        Some(n)
    }

    /// Inserts a block if `still_valid()` holds under the shard's lock.
    fn insert(&self, key: BlockKey, data: Box<[u8]>, still_valid: impl FnOnce() -> bool) {
        let cap = self.shard_blocks;
        let mut guard = self.shard(key);
        let shard = &mut *guard;
        if !still_valid() || shard.map.contains_key(&key) {
            return;
        }
        let cached = Cached {
            data,
            referenced: false,
        };
        if shard.ring.len() < cap {
            shard.ring.push(key);
            shard.map.insert(key, cached);
            return;
        }
        // CLOCK: clear reference bits until an unreferenced (or free)
        // position comes round; its block makes room for this one.
        loop {
            let i = shard.hand;
            shard.hand = (shard.hand + 1) % shard.ring.len();
            let old = shard.ring[i];
            match shard.map.get_mut(&old) {
                Some(c) if c.referenced => c.referenced = false,
                Some(_) => {
                    shard.map.remove(&old);
                    break shard.finish_insert(i, key, cached);
                }
                None => break shard.finish_insert(i, key, cached),
            }
        }
    }

    fn remove(&self, key: BlockKey) {
        // Its ring position becomes free: the key is no longer in the map.
        self.shard(key).map.remove(&key);
    }
}

impl Shard {
    fn finish_insert(&mut self, at: usize, key: BlockKey, cached: Cached) {
        self.ring[at] = key;
        self.map.insert(key, cached);
    }
}

/// splitmix64's finalizer: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hasher for block keys: two u64s, mixed. The keys are not chosen by an
/// adversary (handle ids and block numbers), so SipHash's protection buys
/// nothing here and costs a third of a cache hit.
#[derive(Clone, Copy, Default)]
struct Mix;

struct MixHasher(u64);

impl BuildHasher for Mix {
    type Hasher = MixHasher;
    fn build_hasher(&self) -> MixHasher {
        MixHasher(0)
    }
}

impl Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = mix(self.0.rotate_left(32) ^ n);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::storage::{RealStorage, SimStorage};

    /// Real files whose reads are counted.
    #[derive(Debug, Default)]
    struct Counting(Arc<AtomicU64>);

    #[derive(Debug)]
    struct CountingFile(Arc<dyn StorageFile>, Arc<AtomicU64>);

    impl Storage for Counting {
        fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
            RealStorage.create_dir_all(dir)
        }
        fn kind(&self, path: &Path) -> io::Result<Option<PathKind>> {
            RealStorage.kind(path)
        }
        fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
            RealStorage.list_dir(dir)
        }
        fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
            let f = RealStorage.open(path, mode)?;
            Ok(Arc::new(CountingFile(f, Arc::clone(&self.0))))
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            RealStorage.rename(from, to)
        }
        fn remove_file(&self, path: &Path) -> io::Result<()> {
            RealStorage.remove_file(path)
        }
        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            RealStorage.sync_dir(dir)
        }
        fn try_lock(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
            RealStorage.try_lock(path)
        }
    }

    impl StorageFile for CountingFile {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.read_at(buf, offset)
        }
        fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
            self.0.write_at(buf, offset)
        }
        fn sync_data(&self) -> io::Result<()> {
            self.0.sync_data()
        }
        fn len(&self) -> io::Result<u64> {
            self.0.len()
        }
        fn set_len(&self, len: u64) -> io::Result<()> {
            self.0.set_len(len)
        }
    }

    fn counted(blocks: u64) -> (tempfile::TempDir, Arc<AtomicU64>, CachingStorage) {
        let dir = tempfile::tempdir().unwrap();
        let counting = Counting::default();
        let reads = Arc::clone(&counting.0);
        let cached = CachingStorage::new(Arc::new(counting), blocks * BLOCK as u64);
        (dir, reads, cached)
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 4096) as u8).collect()
    }

    #[test]
    fn repeated_small_reads_hit_the_cache_and_return_the_same_bytes() {
        let (dir, reads, cached) = counted(64);
        let f = cached
            .open(&dir.path().join("f"), OpenMode::Truncate)
            .unwrap();
        let data = pattern(10 * BLOCK + 123);
        f.write_at(&data, 0).unwrap();
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
        let f = cached
            .open(&dir.path().join("f"), OpenMode::Truncate)
            .unwrap();
        let data = pattern(400 * BLOCK);
        f.write_at(&data, 0).unwrap();
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
        let held: usize = cached
            .cache
            .shards
            .iter()
            .map(|s| s.lock().unwrap().map.len())
            .sum();
        assert!(held <= cached.cache.capacity_blocks(), "{held} blocks held");
        assert!(held >= 32, "only {held} blocks held");
    }
}
