//! Ordered iteration: a merge of the active log's in-memory map and every
//! segment's walk, newest source winning, tombstones hiding older records.
//!
//! Memory stays flat: the in-memory map is read in chunks of [`CHUNK`] keys
//! and each segment through its walk's buffer. Iteration is not a snapshot:
//! when a seal or compaction changes the sources, the merge is rebuilt from
//! just after the last key returned, so every key present for the whole
//! iteration is returned exactly once, in strictly increasing order.
//!
//! Cost per pair: a segment's walk stands on its record in its read buffer
//! (a sorted segment's log is read in order, in large pieces), and the
//! source that won the last step is stepped only when the next is asked
//! for, so [`Iter::next_pair`] hands out the key and value where they lie,
//! allocating nothing. The other sources wait in a heap by their heads:
//! while the winner's next key stays below the heap's top (segments of
//! disjoint key ranges, as compaction writes them, or one segment alone),
//! a step costs one key comparison, and otherwise about the logarithm of
//! the number of sources, not one per source (iter/merge.rs).

use std::collections::VecDeque;

use std::sync::Arc;

use super::log;
use super::segment::Walk;
use super::storage::{StorageFile, Uncached};
use super::{Db, MemSlot, Result, Segment};

const CHUNK: usize = 256;
/// See [`Iter::short`].
const CACHED_ITEMS: u64 = 1024;

struct SegSource {
    seg: Arc<Segment>,
    walk: Walk,
    /// Whether the walk stands on an entry (`walk.head()` is `Some`).
    live: bool,
    /// The walk has not begun: the source waits in the heap by its
    /// footer's bound on its first key (see merge.rs).
    pending: bool,
}

/// A source of the merge: the in-memory map, or a segment by its place in
/// `segs` (newest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Mem,
    Seg(usize),
}

/// The winner of a step: where its record is.
#[derive(Clone, Copy, Debug)]
enum Found {
    Mem(MemSlot),
    /// A segment's walk, and whether the value is in its buffer.
    Seg(usize, bool),
}

/// A pair borrowed from an [`Iter`], with when its key expires, if it does;
/// see [`Iter::next_entry`].
pub type PairRef<'a> = (&'a [u8], &'a [u8], Option<u64>);

/// A pair and, when a sorted walk holds it as a plain put, its whole
/// record; see [`Iter::next_record`].
pub(super) type RecordRef<'a> = (PairRef<'a>, Option<&'a [u8]>);

/// Iterator over live pairs in key order; see [`Db::iter`].
pub struct Iter<'a> {
    db: &'a Db,
    prefix: Vec<u8>,
    values: bool,
    generation: u64,
    wal: Option<Arc<dyn StorageFile>>,
    mem: VecDeque<(Vec<u8>, MemSlot)>,
    mem_cursor: Option<Vec<u8>>,
    mem_exhausted: bool,
    segs: Vec<SegSource>,
    /// The key last taken from the merge (returned, or hidden by a
    /// tombstone or an expiry): where a rebuild resumes.
    last: Option<Vec<u8>>,
    started: bool,
    done: bool,
    heals: u32,
    /// Pairs returned so far.
    returned: u64,
    /// For a compaction: walk these segments only (see [`Iter::pinned`]).
    pinned: Option<Arc<Vec<Arc<Segment>>>>,
    /// The moment expiry is judged at, for the whole walk.
    now: u64,
    /// When the key last returned expires, if it does.
    last_expiry: Option<u64>,
    /// Where a walk started with [`Iter::from`] begins (inclusive), until
    /// the first key is returned.
    from: Option<Vec<u8>>,
    /// Where a walk given [`Iter::until`] ends (exclusive).
    until: Option<Vec<u8>>,
    /// The source that won the last step, out of the heap: a segment's
    /// walk is stepped at the start of the next (it holds the record
    /// handed out until then).
    held: Option<Src>,
    /// Every other source with a head, by rank (see merge.rs), as a binary
    /// heap ordered by their heads.
    heap: Vec<u32>,
    /// The key of the heap's top, when `bound_of` names it (see
    /// `Iter::against_top`).
    bound: Vec<u8>,
    bound_of: Option<u32>,
    /// Scratch: the winner's key while its step is settled.
    key: Vec<u8>,
    /// A value that does not lie in a walk's buffer (the active log's, or
    /// a point lookup's).
    value: Vec<u8>,
}

impl std::fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter")
            .field("prefix", &self.prefix)
            .field("last", &self.last)
            .finish()
    }
}

impl<'a> Iter<'a> {
    /// Every live pair of `segments` alone, in key order, with values: no
    /// in-memory map and no segment sealed later (what a compaction merges
    /// while writes go on).
    pub(super) fn pinned(db: &'a Db, segments: Arc<Vec<Arc<Segment>>>) -> Iter<'a> {
        let mut it = Iter::new(db, &[], true);
        it.pinned = Some(segments);
        it
    }

    pub(super) fn new(db: &'a Db, prefix: &[u8], values: bool) -> Iter<'a> {
        Iter {
            now: db.now_ms(),
            last_expiry: None,
            from: None,
            until: None,
            pinned: None,
            db,
            prefix: prefix.to_vec(),
            values,
            generation: 0,
            wal: None,
            mem: VecDeque::new(),
            mem_cursor: None,
            mem_exhausted: false,
            segs: Vec::new(),
            last: None,
            started: false,
            done: false,
            heals: 0,
            returned: 0,
            held: None,
            heap: Vec::new(),
            bound: Vec::new(),
            bound_of: None,
            key: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Starts after `key`: only keys greater than it are returned. Meant for
    /// resuming an earlier iteration (a server's SCAN cursor); call it before
    /// the first `next`. A `key` below the prefix changes nothing.
    pub fn after(mut self, key: &[u8]) -> Iter<'a> {
        if !self.started && key >= self.prefix.as_slice() {
            self.last = Some(key.to_vec());
        }
        self
    }

    /// Starts at `key`: only keys at or after it are returned (the
    /// inclusive [`after`](Self::after), for a range that starts at a
    /// key). Call it before the first `next`. A `key` below the prefix
    /// changes nothing.
    pub fn from(mut self, key: &[u8]) -> Iter<'a> {
        if !self.started && key >= self.prefix.as_slice() {
            self.last = None;
            self.from = Some(key.to_vec());
        }
        self
    }

    /// Ends before `key`: the walk stops at the first key at or past it,
    /// live or not (one part of a compaction merged in two), and its
    /// segments' walks read no more past it than they must.
    pub(super) fn until(mut self, key: &[u8]) -> Iter<'a> {
        self.until = Some(key.to_vec());
        self
    }

    /// Whether this walk is still short: its first [`CACHED_ITEMS`] values
    /// from the active log are read through the block cache (a scan of a
    /// few keys, read again and again, is served from memory), later ones
    /// past it (a dump neither evicts what lookups use nor grows memory).
    fn short(&self) -> bool {
        self.returned < CACHED_ITEMS
    }

    /// When the key the iterator last returned expires (Unix milliseconds),
    /// if it does: what a dump writes beside the pair, or a compaction
    /// carries into its output.
    pub fn last_expiry(&self) -> Option<u64> {
        self.last_expiry
    }

    /// Turns this into an iterator of (key, record length) pairs, for sizes.
    pub(super) fn with_lengths(self) -> Lengths<'a> {
        Lengths(self)
    }

    /// Makes the value of the key the merge found live available: `true`
    /// when it lies in the winning walk's buffer, `false` when it is in
    /// `self.value`; `None` when the index entry that said so was wrong
    /// and the key is not live after all.
    #[inline]
    fn resolve(&mut self, found: Found) -> Result<Option<bool>> {
        let key = self.last.as_deref().expect("a key was taken");
        let value = match found {
            Found::Seg(_, true) => return Ok(Some(true)),
            Found::Mem(slot) => {
                let wal = self
                    .wal
                    .as_ref()
                    .expect("sources are built before any key is found");
                let past = Uncached(&**wal);
                let file: &dyn StorageFile = if self.short() { &**wal } else { &past };
                log::read_value(file, &self.db.wal_path, slot.offset, slot.len, key)?
            }
            // The entry may be what is damaged (it points at another key's
            // record, or at a tombstone though it says put): a point lookup
            // heals the index and gives the truth, or reports the segment if
            // that is what is damaged.
            Found::Seg(_, false) => self.db.get(key)?,
        };
        Ok(value.map(|v| {
            self.value = v;
            false
        }))
    }

    /// The next live pair, borrowed from the iterator until the next call:
    /// what [`Iterator::next`] returns, without a copy of the key and the
    /// value (the fastest way through many pairs). On an iterator of keys
    /// alone ([`Db::keys`]) the value is empty.
    #[inline]
    pub fn next_pair(&mut self) -> Option<Result<(&[u8], &[u8])>> {
        self.next_entry().map(|r| r.map(|(k, v, _)| (k, v)))
    }

    /// [`next_pair`](Self::next_pair) with when the key expires, if it
    /// does (what [`last_expiry`](Self::last_expiry) then says).
    #[inline]
    pub fn next_entry(&mut self) -> Option<Result<PairRef<'_>>> {
        let in_walk = match self.advance_pair()? {
            Ok(in_walk) => in_walk,
            Err(e) => return Some(Err(e)),
        };
        Some(Ok(self.pair(in_walk)))
    }

    /// [`next_entry`](Self::next_entry), with the pair's whole record when
    /// a sorted segment's walk holds it as a plain put, read whole and
    /// checked (what a compaction copies without encoding it again).
    #[inline]
    pub(super) fn next_record(&mut self) -> Option<Result<RecordRef<'_>>> {
        let in_walk = match self.advance_pair()? {
            Ok(in_walk) => in_walk,
            Err(e) => return Some(Err(e)),
        };
        let record = match (in_walk, self.held) {
            (true, Some(Src::Seg(i))) => self.segs[i].walk.put_record(),
            _ => None,
        };
        Some(Ok((self.pair(in_walk), record)))
    }

    /// The pair the merge last took: its value in the winning walk's
    /// buffer when `in_walk`, else in `self.value`.
    #[inline]
    fn pair(&self, in_walk: bool) -> PairRef<'_> {
        let key = self.last.as_deref().expect("a key was taken");
        let value = match (in_walk, self.held) {
            (true, Some(Src::Seg(i))) => self.segs[i].walk.value(),
            _ => None,
        };
        (key, value.unwrap_or(&self.value), self.last_expiry)
    }

    /// Steps to the next live pair: its key is then in `last`, its value
    /// in the winning walk (`true`) or in `self.value`.
    #[inline]
    fn advance_pair(&mut self) -> Option<Result<bool>> {
        loop {
            let found = match self.step()? {
                Ok(f) => f,
                Err(e) => return Some(Err(e)),
            };
            if !self.values {
                self.value.clear();
                return Some(Ok(false));
            }
            match self.resolve(found) {
                Ok(Some(in_walk)) => {
                    self.returned += 1;
                    return Some(Ok(in_walk));
                }
                // A wrong index entry named a key that is not live: skip it.
                Ok(None) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl Iterator for Iter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_pair()
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
    }
}

/// Iterator over live keys in order; see [`Db::keys`].
#[derive(Debug)]
pub struct Keys<'a>(pub(super) Iter<'a>);

impl Keys<'_> {
    /// Starts after `key`; see [`Iter::after`].
    pub fn after(self, key: &[u8]) -> Self {
        Keys(self.0.after(key))
    }

    /// Starts at `key`, inclusive; see [`Iter::from`].
    pub fn from(self, key: &[u8]) -> Self {
        Keys(self.0.from(key))
    }

    /// When the key last returned expires, if it does; see
    /// [`Iter::last_expiry`].
    pub fn last_expiry(&self) -> Option<u64> {
        self.0.last_expiry()
    }
}

impl Keys<'_> {
    /// The next live key, borrowed until the next call; see
    /// [`Iter::next_pair`].
    pub fn next_key(&mut self) -> Option<Result<&[u8]>> {
        self.0.next_pair().map(|r| r.map(|(k, _)| k))
    }
}

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_key().map(|r| r.map(<[u8]>::to_vec))
    }
}

/// Live keys with the length of the record holding each value.
pub(super) struct Lengths<'a>(Iter<'a>);

impl Lengths<'_> {
    /// When the key last returned expires, if it does.
    pub(super) fn last_expiry(&self) -> Option<u64> {
        self.0.last_expiry()
    }
}

impl Iterator for Lengths<'_> {
    type Item = Result<(Vec<u8>, u32)>;

    fn next(&mut self) -> Option<Self::Item> {
        let it = &mut self.0;
        it.step().map(|r| {
            r.map(|found| {
                let len = match found {
                    Found::Mem(s) => s.len,
                    Found::Seg(i, _) => it.segs[i].walk.head().map_or(0, |h| h.entry.len),
                };
                (it.last.clone().expect("a key was taken"), len)
            })
        })
    }
}

mod heal;
mod merge;
#[cfg(test)]
mod tests;
