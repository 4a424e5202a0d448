//! [`CachingStorage`]: a bounded cache of file blocks in front of any
//! [`Storage`], so that repeated small reads (point lookups: a hash bucket,
//! an index frame, a record) are served from memory without a system call.
//!
//! What it keeps:
//! - Blocks are [`BLOCK`] bytes at aligned offsets, held by the open handle
//!   they were read through, never by path: a file replaced by rename is a
//!   new handle and starts cold, and a handle's blocks go when it is dropped.
//!   Each handle has a table of its blocks in chunks of [`CHUNK`] slots,
//!   made on first use (the table's first block kept, each chunk's), so a
//!   handle only read past the cache or written (a bulk load's hundreds of
//!   runs) costs a few words, and a hit costs one slot and the block's
//!   bytes: no hashing, no shared lock. (Measured on the 2-core VM before
//!   the table was made lazily: the hash-map cache this replaced spent ~370
//!   ns a hit, mostly on two more memory misses; this one ~100 ns.)
//! - Coherence: every write and `set_len` through a handle bumps that
//!   handle's generation and drops the blocks it touched. A miss records the
//!   generation before it reads and inserts its block only if the generation
//!   is unchanged, checked under the slot's lock, so a block read while a
//!   write landed is never kept. The engine reads and writes a file through
//!   one handle at a time (a rewritten file is a new file), so this is all the
//!   coherence it needs.
//! - Scan resistance: plain reads longer than [`MAX_CACHED_READ`]
//!   (recovery, a hashed walk's values) go straight to the file and are
//!   not kept. A sorted walk's reads, of any length, take what the cache
//!   holds and keep what they read from the file only into free room (a
//!   position of the ring no block holds: never taken, or given back when
//!   its block went; [`StorageFile::read_at_spare`]): the first walks over
//!   a database that fits warm the cache, as a peer's first pass warms its
//!   own, and once the cache holds its budget a walk keeps nothing, so a
//!   dump of a large database neither evicts the blocks lookups use nor
//!   grows memory past the budget.
//! - Memory: at most `capacity` bytes of blocks in all (a block goes in
//!   only with a position of the ring, taken under the ring's lock),
//!   evicted with CLOCK (second chance) over one ring shared by every
//!   handle; and each thread that read through it keeps its last read's
//!   buffer, at most [`MAX_KEPT_WALK_READ`] and two blocks.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::{Layer, OpenMode, Storage, StorageFile};

/// Size of a cached block.
pub const BLOCK: usize = 4096;
/// Reads longer than this bypass the cache.
pub const MAX_CACHED_READ: usize = 16 * 1024;
/// Slots per chunk of a handle's block table (2 MiB of file).
pub const CHUNK: usize = 512;
/// A handle's table covers at least this much of its file: a file that
/// grows past what its table covers reads the rest past the cache.
const MIN_TABLE_BYTES: u64 = 1 << 30;

/// A [`Storage`] whose files cache their blocks in one shared, bounded cache.
pub struct CachingStorage {
    inner: Arc<dyn Storage>,
    cache: Arc<Clock>,
}

impl fmt::Debug for CachingStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingStorage")
            .field("inner", &self.inner)
            .field("capacity_blocks", &self.cache.capacity)
            .finish()
    }
}

impl CachingStorage {
    /// Caches up to `capacity` bytes of blocks read through `inner`.
    pub fn new(inner: Arc<dyn Storage>, capacity: u64) -> CachingStorage {
        let capacity = (capacity / BLOCK as u64) as usize;
        CachingStorage {
            inner,
            cache: Arc::new(Clock {
                capacity,
                held: AtomicUsize::new(0),
                ring: Mutex::new(Ring::default()),
            }),
        }
    }

    /// Blocks held now (for tests and statistics).
    pub fn held_blocks(&self) -> usize {
        self.cache.held.load(Ordering::Relaxed)
    }
}

impl Layer for CachingStorage {
    fn below(&self) -> &dyn Storage {
        &*self.inner
    }

    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let inner = self.inner.open(path, mode)?;
        let len = inner.len()?;
        let chunks = len.max(MIN_TABLE_BYTES).div_ceil((CHUNK * BLOCK) as u64) as usize;
        Ok(Arc::new(CachedFile {
            inner,
            blocks: Arc::new(Blocks {
                covered: chunks,
                chunks: OnceLock::new(),
                clock: Arc::clone(&self.cache),
            }),
            generation: AtomicU64::new(0),
            any_cached: AtomicBool::new(false),
        }))
    }
}

/// One block's place in a handle's table.
#[derive(Default)]
struct Slot {
    data: Mutex<Option<Arc<[u8]>>>,
    referenced: AtomicBool,
}

type Chunk = Box<[Slot]>;

/// A handle's cached blocks.
struct Blocks {
    /// Chunks the table has.
    covered: usize,
    /// The table, once a block is kept (12 KiB for the 1 GiB it covers at
    /// least).
    chunks: OnceLock<Box<[OnceLock<Chunk>]>>,
    clock: Arc<Clock>,
}

impl Blocks {
    fn slot(&self, block: u64) -> Option<&Slot> {
        let chunk = self.chunks.get()?.get((block / CHUNK as u64) as usize)?;
        Some(&chunk.get()?[(block % CHUNK as u64) as usize])
    }

    fn slot_or_new(&self, block: u64) -> Option<&Slot> {
        let table = self
            .chunks
            .get_or_init(|| (0..self.covered).map(|_| OnceLock::new()).collect());
        let chunk = table.get((block / CHUNK as u64) as usize)?;
        let chunk = chunk.get_or_init(|| (0..CHUNK).map(|_| Slot::default()).collect());
        Some(&chunk[(block % CHUNK as u64) as usize])
    }

    /// Drops block `block`, if held.
    fn remove(&self, block: u64) {
        if let Some(slot) = self.slot(block)
            && lock(&slot.data).take().is_some()
        {
            self.clock.held.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        let held = self
            .chunks
            .get()
            .into_iter()
            .flat_map(|t| t.iter())
            .filter_map(OnceLock::get)
            .flat_map(|c| c.iter())
            .filter(|s| lock(&s.data).is_some())
            .count();
        self.clock.held.fetch_sub(held, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The eviction ring shared by every handle of one [`CachingStorage`].
struct Clock {
    /// At most this many blocks are held.
    capacity: usize,
    held: AtomicUsize,
    ring: Mutex<Ring>,
}

/// Which block each position last held, and the clock hand. A position
/// whose handle is gone, or whose block was dropped, is free.
#[derive(Default)]
struct Ring {
    entries: Vec<(Weak<Blocks>, u64)>,
    hand: usize,
    /// Where a walk's block looks for a free position next (see
    /// [`Clock::make_room`]): apart from the hand, which it never moves.
    spare_at: usize,
}

/// How many positions a walk's block looks at for a free one before it
/// gives up (the ring is full, or nearly).
const SPARE_PROBE: usize = 16;

impl Clock {
    /// Finds room for one block and records it at that position of the
    /// ring. A walk's block (`spare`) takes only a free position: one no
    /// block took yet, or one whose block is gone (its handle dropped, or
    /// it was removed); it looks at [`SPARE_PROBE`] positions at most and
    /// gives up when none was free. `insert` puts the block in its slot,
    /// under the ring's lock (so that no other block takes the position
    /// meanwhile and every held block has one: at most `capacity` are
    /// held), and says whether it did; the position is the block's only
    /// then.
    fn make_room(
        &self,
        owner: &Arc<Blocks>,
        block: u64,
        spare: bool,
        insert: impl FnOnce() -> bool,
    ) {
        let mut ring = lock(&self.ring);
        let entry = (Arc::downgrade(owner), block);
        if ring.entries.len() < self.capacity {
            if insert() {
                ring.entries.push(entry);
            }
            return;
        }
        if spare {
            for _ in 0..SPARE_PROBE {
                let i = ring.spare_at;
                ring.spare_at = (i + 1) % ring.entries.len();
                let (weak, b) = &ring.entries[i];
                let free = weak
                    .upgrade()
                    .is_none_or(|v| v.slot(*b).is_none_or(|s| lock(&s.data).is_none()));
                if free {
                    if insert() {
                        ring.entries[i] = entry;
                    }
                    return;
                }
            }
            return;
        }
        // CLOCK: clear reference bits until an unreferenced block (or a
        // free position) comes round; its block makes room for this one.
        // Two rounds at most: the first clears every bit it passes.
        loop {
            let i = ring.hand;
            ring.hand = (ring.hand + 1) % ring.entries.len();
            let (weak, b) = &ring.entries[i];
            let victim = weak.upgrade();
            let evict = match victim.as_ref().and_then(|v| v.slot(*b)) {
                Some(slot) => !slot.referenced.swap(false, Ordering::Relaxed),
                None => true,
            };
            if evict {
                if let Some(v) = &victim {
                    v.remove(*b);
                }
                // Not inserted: the position stays, its block gone, free.
                if insert() {
                    ring.entries[i] = entry;
                }
                return;
            }
        }
    }
}

struct CachedFile {
    inner: Arc<dyn StorageFile>,
    blocks: Arc<Blocks>,
    /// Bumped by every write; see the module doc.
    generation: AtomicU64,
    /// Whether any block of this file was ever inserted (writes to a file
    /// nobody read need not invalidate anything).
    any_cached: AtomicBool,
}

impl fmt::Debug for CachedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedFile")
            .field("inner", &self.inner)
            .finish()
    }
}

impl CachedFile {
    /// Bumps the generation, then drops the cached blocks `first..=last`.
    fn invalidate(&self, first: u64, last: u64) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if self.any_cached.load(Ordering::SeqCst) {
            let covered = (self.blocks.covered * CHUNK) as u64;
            for block in first..=last.min(covered.saturating_sub(1)) {
                self.blocks.remove(block);
            }
        }
    }

    /// Copies block `block` from `within` into `out` when the cache holds
    /// it: the bytes copied (fewer than `out.len()` only at the end of the
    /// file).
    fn copy_cached(&self, block: u64, within: usize, out: &mut [u8]) -> Option<usize> {
        let slot = self.blocks.slot(block)?;
        let data = lock(&slot.data);
        let d = data.as_deref()?;
        Self::referenced(slot);
        Some(copy_from(d, within, out))
    }

    /// Block `block` from the cache, shared, or read from the file and kept.
    fn block(&self, block: u64) -> io::Result<Arc<[u8]>> {
        if let Some(slot) = self.blocks.slot(block)
            && let Some(d) = lock(&slot.data).as_ref()
        {
            Self::referenced(slot);
            return Ok(Arc::clone(d));
        }
        let mut run = self.load(block, block, false)?;
        Ok(run.pop().unwrap_or_else(|| Arc::from(&[][..])))
    }

    fn referenced(slot: &Slot) {
        if !slot.referenced.load(Ordering::Relaxed) {
            slot.referenced.store(true, Ordering::Relaxed);
        }
    }

    /// Reads blocks `first..=last` from the file in one read and keeps
    /// each (when the table covers it, the cache has room, a walk's only
    /// free room (`spare`), and no write landed meanwhile);
    /// fewer at the end of the file, the last one short there.
    fn load(&self, first: u64, last: u64, spare: bool) -> io::Result<Vec<Arc<[u8]>>> {
        let generation = self.generation.load(Ordering::SeqCst);
        // The thread's scratch is taken, not borrowed: a cache layered over
        // another loads within this load, and finds none (a new one, then).
        let mut run = RUN.take();
        run.resize((last - first + 1) as usize * BLOCK, 0);
        let read = self.inner.read_at(&mut run, first * BLOCK as u64).map(|n| {
            let mut read = Vec::with_capacity(n.div_ceil(BLOCK));
            for (i, bytes) in run[..n].chunks(BLOCK).enumerate() {
                let block = first + i as u64;
                let data: Arc<[u8]> = Arc::from(bytes);
                self.keep(block, &data, generation, spare);
                read.push(data);
            }
            read
        });
        RUN.set(run);
        read
    }

    /// Reads `buf` at `offset` from the cache's copies while it holds the
    /// blocks, then, from the first block it lacks on, through
    /// [`read_missing`](Self::read_missing): fewer bytes only at the end
    /// of the file. What a lookup's and a walk's (`spare`) reads share.
    fn read_held(&self, buf: &mut [u8], offset: u64, spare: bool) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let pos = offset + done as u64;
            let (block, within) = (pos / BLOCK as u64, (pos % BLOCK as u64) as usize);
            let want = (buf.len() - done).min(BLOCK - within);
            match self.copy_cached(block, within, &mut buf[done..done + want]) {
                Some(n) if n < want => return Ok(done + n), // end of file
                Some(n) => done += n,
                None => return Ok(done + self.read_missing(&mut buf[done..], pos, spare)?),
            }
        }
        Ok(done)
    }

    /// Reads `buf` at `offset` from the file, its blocks in one read, and
    /// keeps them (see [`load`](Self::load)). A walk's read (`spare`) keeps
    /// its blocks, in free room (see [`Clock::make_room`]), only when the
    /// cache has room for all of them beside the blocks it holds and the
    /// read is at most [`MAX_KEPT_WALK_READ`]; else it goes straight into
    /// `buf`.
    fn read_missing(&self, buf: &mut [u8], offset: u64, spare: bool) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let first = offset / BLOCK as u64;
        let last = (offset + buf.len() as u64 - 1) / BLOCK as u64;
        let clock = &self.blocks.clock;
        let no_room =
            || clock.held.load(Ordering::Relaxed) + (last - first + 1) as usize > clock.capacity;
        if spare && (buf.len() > MAX_KEPT_WALK_READ || no_room()) {
            return self.inner.read_at(buf, offset);
        }
        let run = self.load(first, last, spare)?;
        Ok(copy_blocks(&run, (offset % BLOCK as u64) as usize, buf))
    }

    /// Keeps `data` as block `block`, read when the generation was
    /// `generation`, unless a write landed since or the block is held (or,
    /// for a walk, `spare`, the cache has no free room).
    fn keep(&self, block: u64, data: &Arc<[u8]>, generation: u64, spare: bool) {
        if self.blocks.clock.capacity == 0 {
            return;
        }
        let Some(slot) = self.blocks.slot_or_new(block) else {
            return; // beyond what the table covers
        };
        // Held already (a lookup's, in a walk's range): no second position.
        if lock(&slot.data).is_some() {
            return;
        }
        self.any_cached.store(true, Ordering::SeqCst);
        let clock = &self.blocks.clock;
        clock.make_room(&self.blocks, block, spare, || {
            let mut held = lock(&slot.data);
            let keep = held.is_none() && self.generation.load(Ordering::SeqCst) == generation;
            if keep {
                *held = Some(Arc::clone(data));
                clock.held.fetch_add(1, Ordering::Relaxed);
            }
            keep
        });
    }
}

/// A walk's read longer than this goes to the file whole and keeps
/// nothing: a walk reads 128 KiB at most at a time but for a record longer
/// than that, whose blocks are not worth the room (and would make the
/// thread's scratch as long as the record).
const MAX_KEPT_WALK_READ: usize = 256 * 1024;

thread_local! {
    /// A load's read, kept for the thread's next: a walk's reads, up to
    /// 128 KiB each, would otherwise each map and fault in a new buffer.
    /// At most [`MAX_KEPT_WALK_READ`] and two blocks long.
    static RUN: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Copies `data` from `within` into `out`, as much as both hold.
fn copy_from(data: &[u8], within: usize, out: &mut [u8]) -> usize {
    let avail = data.get(within..).unwrap_or_default();
    let n = avail.len().min(out.len());
    out[..n].copy_from_slice(&avail[..n]);
    n
}

/// Copies consecutive blocks, from `within` the first, into `out`: the
/// bytes copied (fewer than `out.len()` only where a block ends short, at
/// the end of the file).
fn copy_blocks(blocks: &[Arc<[u8]>], mut within: usize, out: &mut [u8]) -> usize {
    let mut done = 0;
    for data in blocks {
        let want = (out.len() - done).min(BLOCK - within);
        let n = copy_from(data, within, &mut out[done..done + want]);
        done += n;
        if n < want || done == out.len() {
            break;
        }
        within = 0;
    }
    done
}

impl StorageFile for CachedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if buf.len() > MAX_CACHED_READ {
            return self.inner.read_at(buf, offset);
        }
        self.read_held(buf, offset, false)
    }

    fn read_at_spare(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read_held(buf, offset, true)
    }

    fn read_at_uncached(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }

    fn cached_block(&self, offset: u64) -> io::Result<Option<(u64, Arc<[u8]>)>> {
        let block = offset / BLOCK as u64;
        Ok(Some((block * BLOCK as u64, self.block(block)?)))
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

    /// The hint is for the system's cache: this one's blocks stay (a walk
    /// that gives it, a segment read once, reads past this cache).
    fn drop_cached(&self, offset: u64, len: u64) {
        self.inner.drop_cached(offset, len)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let old = self.inner.len().ok();
        let result = self.inner.set_len(len);
        // With the old length unknown, drop everything from the new end on.
        let (lo, hi) = match old {
            Some(old) => (old.min(len), old.max(len)),
            None => (len, u64::MAX),
        };
        self.invalidate(lo / BLOCK as u64, hi / BLOCK as u64);
        result
    }
}

#[cfg(test)]
mod tests;
