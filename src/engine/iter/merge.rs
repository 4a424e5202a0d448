//! The merge behind [`Iter`]: building its sources (the in-memory map in
//! chunks, a walk per segment that can hold a wanted key), stepping them in
//! key order with the newest source winning, and healing a damaged index
//! met on the way (then every source is rebuilt from the last key taken).
//!
//! The sources other than the last winner wait in a binary heap ordered by
//! their heads (key, then newest first): a step compares the winner's next
//! key with the heap's top, one comparison while the winner keeps winning
//! (segments of disjoint key ranges, as compaction writes them, or one
//! segment alone), and otherwise swaps it in for the top at a cost that
//! grows with the logarithm of the number of sources, not with it.
//!
//! A segment whose keys all come after where the walk starts waits in the
//! heap by a bound on its first key (its footer's), its walk not begun
//! until that bound reaches the top and might be the key taken: of the
//! disjoint segments a compaction writes, a range scan begins the one or
//! two it reads, not every one past its start (each a read and a decode).
//!
//! Invariants: a step takes each key once, in strictly increasing order;
//! every older record of the key taken is stepped past at once; the winning
//! segment's walk is stepped only at the next step, since its buffer holds
//! the record handed out; every source with a head but the last winner is
//! in the heap, once.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use super::{CHUNK, Found, Iter, SegSource, Src};
use crate::engine::clock::expired;
use crate::engine::{MemSlot, Result, Segment, State};
use crate::engine::{heap, short_keys};

impl Iter<'_> {
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
        self.held = None;
        self.heap.clear();
        self.bound_of = None;
        let start = self
            .last
            .clone()
            .or_else(|| self.from.clone())
            .unwrap_or_else(|| self.prefix.clone());
        // A segment whose keys all lie past the prefix, or before where the
        // walk starts, has nothing for it (compaction outputs cover disjoint
        // ranges: most are left out).
        let wanted = |seg: &&Arc<Segment>| {
            (self.prefix.is_empty() || !seg.starts_past(&self.prefix))
                && (start.is_empty() || !seg.ends_before(&start))
        };
        // Hashed segments walked with values share a bound on memory.
        let hashed = match self.values {
            true => segments
                .iter()
                .filter(wanted)
                .filter(|s| s.is_hashed())
                .count(),
            false => 0,
        };
        let end = match (prefix_end(&self.prefix), &self.until) {
            (Some(end), Some(until)) => Some(end.min(until.clone())),
            (end, until) => end.or_else(|| until.clone()),
        };
        for seg in segments.iter().rev().filter(wanted) {
            let mut walk = seg.walk_until(&start, end.as_deref(), self.values, hashed)?;
            // A compaction's segments are removed once it is done: what its
            // walks pass is of no more use in either cache.
            if self.pinned.is_some() {
                walk.read_once();
            }
            // Its keys all past the start (and so past the last key taken):
            // it waits, not begun.
            let pending = seg.starts_after(&start);
            let mut live = false;
            if !pending {
                live = walk.advance()?;
                if let (true, Some(last)) = (live, &self.last)
                    && walk.head().is_some_and(|h| h.entry.key == last.as_slice())
                {
                    live = walk.advance()?;
                }
            }
            self.segs.push(SegSource {
                seg: Arc::clone(seg),
                walk,
                live,
                pending,
            });
        }
        Ok(())
    }

    /// Reads the in-memory map's next chunk, first rebuilding every source
    /// when the walk starts or a seal or compaction changed them: `true`
    /// then, and the heap holds every source with a head, the map's
    /// included; else the map's head is new and the map is the caller's to
    /// place.
    fn refill_mem(&mut self) -> Result<bool> {
        if let Some(pinned) = &self.pinned {
            // A pinned walk has no in-memory map: only its segments.
            let rebuilt = !self.started;
            if rebuilt {
                self.started = true;
                let pinned = Arc::clone(pinned);
                self.rebuild_sources(&pinned)?;
                self.reheap();
            }
            self.mem_exhausted = true;
            return Ok(rebuilt);
        }
        let db = self.db;
        let st = db.state.read().unwrap_or_else(|p| p.into_inner());
        let rebuilt = !self.started || st.generation != self.generation;
        if rebuilt {
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
        drop(st);
        if rebuilt {
            self.reheap();
        }
        Ok(rebuilt)
    }

    /// Puts every source with a head in the heap, and none is held.
    fn reheap(&mut self) {
        self.held = None;
        self.heap.clear();
        self.bound_of = None;
        let sources = std::iter::once(Src::Mem).chain((0..self.segs.len()).map(Src::Seg));
        for src in sources {
            if key_of(&self.mem, &self.segs, src).is_some() {
                self.push(src);
            }
        }
    }

    /// How `held`'s head compares with that of the heap's top, whose key
    /// is kept in `bound` until the heap changes: `Less` when its key is
    /// smaller (or the heap is empty), `Equal` when it is the same key and
    /// `held` is newer (it wins, the top holds an older record), `Greater`
    /// when the top wins; `None` when `held` has no head.
    #[inline(always)]
    fn against_top(&mut self, held: Src) -> Option<Ordering> {
        let k = key_of(&self.mem, &self.segs, held)?;
        let Some(&top) = self.heap.first() else {
            return Some(Ordering::Less);
        };
        if self.bound_of != Some(top) {
            let t = key_of(&self.mem, &self.segs, src_of(top)).expect("the heap's top has a key");
            short_keys::copy(&mut self.bound, t);
            self.bound_of = Some(top);
        }
        Some(match short_keys::cmp(k, &self.bound) {
            Ordering::Equal if rank(held) > top => Ordering::Greater,
            o => o,
        })
    }

    /// Puts `src`, which has a head, in the heap.
    fn push(&mut self, src: Src) {
        self.bound_of = None;
        let (mem, segs) = (&self.mem, &self.segs);
        self.heap.push(rank(src));
        let at = self.heap.len() - 1;
        heap::sift_up(&mut self.heap, at, |a, b| before(mem, segs, a, b));
    }

    /// The heap's top is a segment whose walk has not begun, and its bound
    /// is at most `key` (any key when `None`).
    fn top_pending(&self, key: Option<&[u8]>) -> bool {
        let Some(Src::Seg(i)) = self.heap.first().map(|&t| src_of(t)) else {
            return false;
        };
        let s = &self.segs[i];
        s.pending && key.is_none_or(|key| s.seg.first_key_bound() <= key)
    }

    /// Begins the walk of the heap's top while it is one not begun whose
    /// bound is at most `upto` (any, when `None`), and puts it back by its
    /// first key; `false` when a damaged index was healed on the way and
    /// the step must start over.
    fn begin_top(&mut self, upto: Option<&[u8]>) -> Result<bool> {
        while self.top_pending(upto) {
            let Some(Src::Seg(i)) = self.pop() else {
                break;
            };
            self.segs[i].pending = false;
            match self.segs[i].walk.advance() {
                Ok(live) => {
                    self.segs[i].live = live;
                    if live {
                        self.push(Src::Seg(i));
                    }
                }
                Err(e) => {
                    let seg = Arc::clone(&self.segs[i].seg);
                    self.recover(e, Some(seg))?;
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Takes the source whose head comes first out of the heap.
    fn pop(&mut self) -> Option<Src> {
        self.bound_of = None;
        let (mem, segs) = (&self.mem, &self.segs);
        let last = self.heap.pop()?;
        let Some(top) = self.heap.first_mut() else {
            return Some(src_of(last));
        };
        let top = std::mem::replace(top, last);
        heap::sift_down(&mut self.heap, 0, |a, b| before(mem, segs, a, b));
        Some(src_of(top))
    }

    /// Steps the merge to the next live key: it is then in `last`, and
    /// the returned [`Found`] says where its record is.
    pub(super) fn step(&mut self) -> Option<Result<Found>> {
        loop {
            if self.done {
                return None;
            }
            // The segment that won the last step moves on only now: its
            // walk held the record handed out.
            let mut held = self.held.take();
            if let Some(Src::Seg(i)) = held
                && !self.segs[i].walk.advance_ready()
            {
                match self.segs[i].walk.advance() {
                    Ok(live) => self.segs[i].live = live,
                    Err(e) => {
                        let seg = Arc::clone(&self.segs[i].seg);
                        if let Err(e) = self.recover(e, Some(seg)) {
                            return Some(Err(e));
                        }
                        continue;
                    }
                }
            }
            if !self.started || (self.mem.is_empty() && !self.mem_exhausted) {
                match self.refill_mem() {
                    // Rebuilt: the heap holds every source.
                    Ok(true) => held = None,
                    // The map refills when its last win emptied it; were
                    // it not the one held, it would go in the heap.
                    Ok(false) => {
                        if held != Some(Src::Mem) && !self.mem.is_empty() {
                            self.push(Src::Mem);
                        }
                    }
                    Err(e) => {
                        if let Err(e) = self.recover(e, None) {
                            return Some(Err(e));
                        }
                        continue;
                    }
                }
            }
            // The last winner wins again while its next key comes before
            // every other source's: one comparison, with the top's key
            // copied once for as long as the heap does not change. A winner
            // whose key is below every other source's has no older record
            // of it to step past (`alone`).
            let mut order = held.and_then(|h| Some((h, self.against_top(h)?)));
            // Unless the winner stays below it, a top not begun begins, and
            // so does each next one whose bound reaches the winner's key
            // (every one, to the first begun, when there is no winner).
            if !matches!(order, Some((_, Ordering::Less))) && self.top_pending(None) {
                let mut upto = std::mem::take(&mut self.key);
                upto.clear();
                let held_key = held.and_then(|h| key_of(&self.mem, &self.segs, h));
                if let Some(k) = held_key {
                    upto.extend_from_slice(k);
                }
                let begun = self.begin_top(held_key.is_some().then_some(upto.as_slice()));
                self.key = upto;
                match begun {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => return Some(Err(e)),
                }
                order = held.and_then(|h| Some((h, self.against_top(h)?)));
            }
            let (winner, alone) = match order {
                Some((h, Ordering::Less)) => (Some(h), true),
                Some((h, Ordering::Equal)) => (Some(h), false),
                Some((h, Ordering::Greater)) => {
                    self.push(h);
                    (self.pop(), false)
                }
                None => (self.pop(), false),
            };
            let Some(winner) = winner else {
                self.done = true;
                return None;
            };
            if !alone {
                let key = key_of(&self.mem, &self.segs, winner).expect("the winner has a key");
                self.key.clear();
                self.key.extend_from_slice(key);
                // Step past every other source's record of the same key: it
                // is older. The winner's own walk moves on at the next step.
                match self.step_past_older() {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => return Some(Err(e)),
                }
            }
            match self.settle(winner) {
                Some(r) => return r,
                None => continue,
            }
        }
    }

    /// Steps every source in the heap that stands on `self.key` past it
    /// (they are older than the winner, which came first); `false` when a
    /// damaged index was healed on the way and the step must start over.
    fn step_past_older(&mut self) -> Result<bool> {
        loop {
            // A walk not begun whose bound reaches the key may hold it.
            if self.top_pending(Some(&self.key)) {
                let key = std::mem::take(&mut self.key);
                let begun = self.begin_top(Some(&key));
                self.key = key;
                if !begun? {
                    return Ok(false);
                }
            }
            let Some(&top) = self.heap.first() else {
                break;
            };
            let src = src_of(top);
            let same =
                key_of(&self.mem, &self.segs, src).is_some_and(|k| short_keys::eq(k, &self.key));
            if !same {
                break;
            }
            // The map comes first on a tie (rank 0): it is the winner then,
            // never an older record.
            let Src::Seg(j) = src else {
                break;
            };
            self.pop();
            match self.segs[j].walk.advance() {
                Ok(true) => {
                    self.segs[j].live = true;
                    self.push(src);
                }
                Ok(false) => self.segs[j].live = false,
                Err(e) => {
                    // A damaged index: heal it, then rebuild every source
                    // from the last key taken, which finds this key again.
                    let seg = Arc::clone(&self.segs[j].seg);
                    self.recover(e, Some(seg))?;
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Takes `winner` as the merge's next key (into `last`): `None` when it
    /// is hidden (tombstone, expiry) and the merge must go on; `Some` with
    /// where its record is, or the end of the walk.
    fn settle(&mut self, winner: Src) -> Option<Option<Result<Found>>> {
        self.held = Some(winner);
        let last = self.last.get_or_insert_with(Vec::new);
        // An expired put is the newest record of its key, so it hides
        // the older ones, as a tombstone does.
        let (found, deleted, expires_at) = match winner {
            Src::Mem => {
                let (key, slot) = self.mem.pop_front().expect("the map's head won");
                *last = key;
                (Found::Mem(slot), slot.delete, slot.expires_at())
            }
            Src::Seg(i) => {
                let walk = &self.segs[i].walk;
                short_keys::copy(last, walk.key().expect("the winner has a key"));
                let (delete, expires_at, in_walk) = walk.flags().expect("the winner has a head");
                (Found::Seg(i, in_walk), delete, expires_at)
            }
        };
        let past_end = self
            .until
            .as_deref()
            .is_some_and(|u| short_keys::cmp(last, u).is_ge());
        if past_end || !short_keys::has_prefix(last, &self.prefix) {
            self.done = true;
            return Some(None);
        }
        if deleted || expired(expires_at, self.now) {
            return None;
        }
        self.last_expiry = expires_at;
        Some(Some(Ok(found)))
    }
}

/// The smallest key above every key that starts with `prefix`; `None`
/// when there is none (an empty prefix, or one of 0xff bytes only).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let keep = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut end = prefix[..=keep].to_vec();
    end[keep] += 1;
    Some(end)
}

/// A source's place in the order of age: the map first, then the
/// segments newest first (what breaks a tie between equal keys).
#[inline]
fn rank(src: Src) -> u32 {
    match src {
        Src::Mem => 0,
        Src::Seg(i) => i as u32 + 1,
    }
}

#[inline]
fn src_of(rank: u32) -> Src {
    match rank {
        0 => Src::Mem,
        r => Src::Seg(r as usize - 1),
    }
}

/// Whether the head of the source of rank `a` comes before that of `b`
/// (both have one): a smaller key, or the same key in a newer source.
#[inline]
fn before(mem: &VecDeque<(Vec<u8>, MemSlot)>, segs: &[SegSource], a: u32, b: u32) -> bool {
    let (ka, kb) = (key_of(mem, segs, src_of(a)), key_of(mem, segs, src_of(b)));
    let order = match (ka, kb) {
        (Some(a), Some(b)) => short_keys::cmp(a, b),
        _ => ka.cmp(&kb),
    };
    match order {
        Ordering::Less => true,
        Ordering::Equal => a < b,
        Ordering::Greater => false,
    }
}

/// The key `src` stands on, if any.
#[inline]
fn key_of<'s>(
    mem: &'s VecDeque<(Vec<u8>, MemSlot)>,
    segs: &'s [SegSource],
    src: Src,
) -> Option<&'s [u8]> {
    match src {
        Src::Mem => mem.front().map(|(k, _)| k.as_slice()),
        Src::Seg(i) => {
            let s = &segs[i];
            if s.pending {
                return Some(s.seg.first_key_bound());
            }
            if !s.live {
                return None;
            }
            s.walk.key()
        }
    }
}
