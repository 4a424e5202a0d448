//! Ordered iteration: a merge of the active log's in-memory map and every
//! segment's index, newest source winning, tombstones hiding older records.
//!
//! Memory stays flat: the in-memory map is read in chunks of [`CHUNK`] keys
//! and each segment through a buffered reader. Iteration is not a snapshot:
//! when a seal or compaction changes the sources, the merge is rebuilt from
//! just after the last key returned, so every key present for the whole
//! iteration is returned exactly once, in strictly increasing order.
//!
//! Just over 500 lines: the merge, its sources and its rebuild share one
//! cursor state, and read best together.

use std::collections::{HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use super::clock::expired;
use super::log;
use super::segment::{Item, Walk};
use super::storage::{StorageFile, Uncached};
use super::{Db, Error, MemSlot, Result, Segment, State};

const CHUNK: usize = 256;
/// See [`Iter::short`].
const CACHED_ITEMS: u64 = 1024;

struct SegSource {
    seg: Arc<Segment>,
    it: Walk,
    head: Option<Item>,
}

enum Found {
    Mem(MemSlot),
    Seg(Arc<Segment>, Item),
}

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
    last: Option<Vec<u8>>,
    started: bool,
    done: bool,
    heals: u32,
    /// One read-ahead window per segment, by id (segments are immutable).
    read_ahead: HashMap<u64, log::ReadAhead>,
    /// Pairs returned so far.
    returned: u64,
    /// A source left the merge: its read-ahead window goes too, once the
    /// value it was reading is read.
    prune: bool,
    /// For a compaction: walk these segments only (see [`Iter::pinned`]).
    pinned: Option<Arc<Vec<Arc<Segment>>>>,
    /// The moment expiry is judged at, for the whole walk.
    now: u64,
    /// When the key last returned expires, if it does.
    last_expiry: Option<u64>,
    /// Where a walk started with [`Iter::from`] begins (inclusive), until
    /// the first key is returned.
    from: Option<Vec<u8>>,
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
            read_ahead: HashMap::new(),
            returned: 0,
            prune: false,
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

    /// Whether this walk is still short: its first [`CACHED_ITEMS`] values
    /// are read through the block cache (a scan of a few keys, read again
    /// and again, is served from memory), later ones past it (a dump
    /// neither evicts what lookups use nor grows memory).
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

    /// (Re)builds the sources from `st`, positioned after the last key returned.
    fn rebuild(&mut self, st: &State) -> Result<()> {
        self.generation = st.generation;
        self.wal = Some(Arc::clone(&st.wal));
        let segments = Arc::clone(&st.segments);
        self.rebuild_sources(&segments)
    }

    /// (Re)builds the segment sources from `segments`, positioned after the
    /// last key returned, and empties the in-memory map's window.
    fn rebuild_sources(&mut self, segments: &[Arc<Segment>]) -> Result<()> {
        self.mem.clear();
        self.mem_cursor = self.last.clone();
        self.mem_exhausted = false;
        self.segs.clear();
        self.read_ahead
            .retain(|id, _| segments.iter().any(|s| s.id == *id));
        let start = self
            .last
            .clone()
            .or_else(|| self.from.clone())
            .unwrap_or_else(|| self.prefix.clone());
        for seg in segments.iter().rev() {
            // A segment whose keys all lie past the prefix, or before where
            // the walk starts, has nothing for it (compaction outputs cover
            // disjoint ranges: most are left out).
            if (!self.prefix.is_empty() && seg.starts_past(&self.prefix))
                || (!start.is_empty() && seg.ends_before(&start))
            {
                continue;
            }
            let mut it = seg.walk(&start, self.values)?;
            let mut head = it.next().transpose()?;
            if let (Some(h), Some(last)) = (&head, &self.last)
                && &h.entry.key == last
            {
                head = it.next().transpose()?;
            }
            self.segs.push(SegSource {
                seg: Arc::clone(seg),
                it,
                head,
            });
        }
        Ok(())
    }

    fn refill_mem(&mut self) -> Result<()> {
        if let Some(pinned) = &self.pinned {
            // A pinned walk has no in-memory map: only its segments.
            if !self.started {
                self.started = true;
                let pinned = Arc::clone(pinned);
                self.rebuild_sources(&pinned)?;
            }
            self.mem_exhausted = true;
            return Ok(());
        }
        let db = self.db;
        let st = db.state.read().unwrap_or_else(|p| p.into_inner());
        if !self.started || st.generation != self.generation {
            self.started = true;
            self.rebuild(&st)?;
        }
        let lower = match (&self.mem_cursor, &self.from) {
            (Some(k), _) => Bound::Excluded(k.clone()),
            (None, Some(from)) => Bound::Included(from.clone()),
            (None, None) => Bound::Included(self.prefix.clone()),
        };
        self.mem.extend(
            st.mem
                .range::<Vec<u8>, _>((lower, Bound::Unbounded))
                .take(CHUNK)
                .map(|(k, s)| (k.clone(), *s)),
        );
        self.mem_exhausted = self.mem.len() < CHUNK;
        if let Some((k, _)) = self.mem.back() {
            self.mem_cursor = Some(k.clone());
        }
        Ok(())
    }

    fn next_found(&mut self) -> Option<Result<(Vec<u8>, Found)>> {
        loop {
            if self.done {
                return None;
            }
            if (!self.started || (self.mem.is_empty() && !self.mem_exhausted))
                && let Err(e) = self.refill_mem()
            {
                let seg = match &e {
                    Error::Corrupt { path, .. } => self.segment_of(path),
                    _ => None,
                };
                let outcome = match seg {
                    Some(seg) => self.heal_or(seg, e),
                    None => Err(e),
                };
                match outcome {
                    Ok(()) => continue,
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
            // The source with the smallest key: the in-memory map (newest),
            // then the segments newest first; ties go to the newest.
            let mut best = None;
            {
                let mut min: Option<&[u8]> = self.mem.front().map(|(k, _)| k.as_slice());
                if min.is_some() {
                    best = Some(None);
                }
                for (i, s) in self.segs.iter().enumerate() {
                    if let Some(h) = &s.head
                        && min.is_none_or(|m| h.entry.key.as_slice() < m)
                    {
                        min = Some(&h.entry.key);
                        best = Some(Some(i));
                    }
                }
            }
            let Some(best) = best else {
                self.done = true;
                return None;
            };
            // Take the winner's key (moved, not copied), then step past
            // every other source's record of the same key: it is older.
            let (min, found) = match best {
                None => {
                    let (k, slot) = self.mem.pop_front().expect("the map's head won");
                    (k, Found::Mem(slot))
                }
                Some(i) => {
                    let mut item = self.segs[i].head.take().expect("this head won");
                    let key = std::mem::take(&mut item.entry.key);
                    (key, Found::Seg(Arc::clone(&self.segs[i].seg), item))
                }
            };
            let mut advance_error = None;
            for (i, s) in self.segs.iter_mut().enumerate() {
                let won = best == Some(i);
                if won || s.head.as_ref().is_some_and(|h| h.entry.key == min) {
                    match s.it.next().transpose() {
                        Ok(h) => s.head = h,
                        Err(e) => {
                            advance_error = Some((Arc::clone(&s.seg), e));
                            break;
                        }
                    }
                }
            }
            if let Some((seg, e)) = advance_error {
                // A damaged index: heal it, then rebuild every source from
                // the last key returned, which finds `min` again.
                if let Err(e) = self.heal_or(seg, e) {
                    self.done = true;
                    return Some(Err(e));
                }
                continue;
            }
            // Segments walked to their end leave the merge, so that a walk
            // over many segments holds buffers for the ones still going.
            if self.segs.iter().any(|s| s.head.is_none()) {
                self.segs.retain(|s| s.head.is_some());
                self.prune = true;
            }
            if !min.starts_with(&self.prefix) {
                self.done = true;
                return None;
            }
            let last = self.last.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(&min);
            // An expired put is the newest record of its key, so it hides
            // the older ones, as a tombstone does.
            let (deleted, expires_at) = match &found {
                Found::Mem(s) => (s.delete, s.expires_at()),
                Found::Seg(_, item) => (item.entry.delete, item.entry.expires_at),
            };
            if !deleted && !expired(expires_at, self.now) {
                self.last_expiry = expires_at;
                return Some(Ok((min, found)));
            }
        }
    }

    /// Heals `seg`'s index after `e` and makes the next step rebuild the
    /// sources; returns `e` when healing is not possible.
    fn heal_or(&mut self, seg: Arc<Segment>, e: Error) -> Result<()> {
        if self.heals >= 3 || !matches!(e, Error::Corrupt { .. }) {
            return Err(e);
        }
        self.heals += 1;
        let healed = self.db.heal(&seg)?;
        if let Some(pinned) = &mut self.pinned {
            let list = Arc::make_mut(pinned);
            for s in list.iter_mut().filter(|s| s.id == healed.id) {
                *s = Arc::clone(&healed);
            }
        }
        self.started = false;
        Ok(())
    }

    /// The segment whose index is `path`, among the current sources.
    fn segment_of(&self, path: &std::path::Path) -> Option<Arc<Segment>> {
        self.segs
            .iter()
            .find(|s| s.seg.log_path.with_extension("idx") == path)
            .map(|s| Arc::clone(&s.seg))
            .or_else(|| {
                let st = self.db.state.read().unwrap_or_else(|p| p.into_inner());
                st.segments
                    .iter()
                    .find(|s| s.log_path.with_extension("idx") == path)
                    .cloned()
            })
    }

    /// The value of a key the merge found live; `None` when the index entry
    /// that said so was wrong and the key is not live after all.
    fn value(&mut self, key: &[u8], found: Found) -> Result<Option<Vec<u8>>> {
        let value = match found {
            Found::Mem(slot) => {
                let wal = self
                    .wal
                    .as_ref()
                    .expect("sources are built before any key is found");
                let past = Uncached(&**wal);
                let file: &dyn StorageFile = if self.short() { &**wal } else { &past };
                log::read_value(file, &self.db.wal_path, slot.offset, slot.len, key)?
            }
            Found::Seg(_, Item { value: Some(v), .. }) => Some(v),
            Found::Seg(seg, Item { entry: e, .. }) => {
                // The entry's length sizes the read buffer: an entry that
                // points past its segment is damage, not a length to trust.
                let fits = e
                    .offset
                    .checked_add(u64::from(e.len))
                    .is_some_and(|end| end <= seg.log_len);
                let past = Uncached(&*seg.log);
                let file: &dyn StorageFile = if self.short() { &*seg.log } else { &past };
                let read = if fits {
                    self.read_ahead.entry(seg.id).or_default().read_value(
                        file,
                        &seg.log_path,
                        seg.log_len,
                        e.offset,
                        e.len,
                        key,
                    )
                } else {
                    Err(Error::corrupt(
                        seg.log_path.with_extension("idx"),
                        0,
                        "an entry points past the end of its segment",
                    ))
                };
                match read {
                    Ok(Some(v)) => Some(v),
                    // The entry may be what is damaged (it points at another
                    // key's record, or at a tombstone though it says put): a
                    // point lookup heals the index and gives the truth, or
                    // reports the segment if that is what is damaged.
                    Ok(None) | Err(Error::Corrupt { .. }) => self.db.get(key)?,
                    Err(other) => return Err(other),
                }
            }
        };
        Ok(value)
    }
}

impl Iterator for Iter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (key, found) = match self.next_found()? {
                Ok(x) => x,
                Err(e) => return Some(Err(e)),
            };
            if !self.values {
                return Some(Ok((key, Vec::new())));
            }
            let value = self.value(&key, found);
            if self.prune {
                self.prune = false;
                let live: Vec<u64> = self.segs.iter().map(|s| s.seg.id).collect();
                self.read_ahead.retain(|id, _| live.contains(id));
            }
            match value {
                Ok(Some(v)) => {
                    self.returned += 1;
                    return Some(Ok((key, v)));
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

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|r| r.map(|(k, _)| k))
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
        self.0.next_found().map(|r| {
            r.map(|(k, found)| {
                let len = match found {
                    Found::Mem(s) => s.len,
                    Found::Seg(_, item) => item.entry.len,
                };
                (k, len)
            })
        })
    }
}
