//! The merge behind [`Iter`]: building its sources (the in-memory map in
//! chunks, a walk per segment that can hold a wanted key), stepping them in
//! key order with the newest source winning, and healing a damaged index
//! met on the way (then every source is rebuilt from the last key taken).
//!
//! Invariants: a step takes each key once, in strictly increasing order;
//! every older record of the key taken is stepped past at once; the winning
//! segment's walk is stepped only at the next step, since its buffer holds
//! the record handed out; the one-comparison step is taken only while the
//! runner-up's key is known and no source it was compared with has moved.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use super::{CHUNK, Found, Iter, Runner, SegSource, Src};
use crate::engine::clock::expired;
use crate::engine::{Error, MemSlot, Result, Segment, State};

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
        self.pending = None;
        self.runner = Runner::Unknown;
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
        let end = prefix_end(&self.prefix);
        for seg in segments.iter().rev().filter(wanted) {
            let mut walk = seg.walk_until(&start, end.as_deref(), self.values, hashed)?;
            let mut live = walk.advance()?;
            if let (true, Some(last)) = (live, &self.last)
                && walk.head().is_some_and(|h| h.entry.key == last.as_slice())
            {
                live = walk.advance()?;
            }
            self.segs.push(SegSource {
                seg: Arc::clone(seg),
                walk,
                live,
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
        // The map's head may have changed: the next step compares all.
        self.runner = Runner::Unknown;
        Ok(())
    }

    /// The key `src` stands on, if any.
    fn head_key(&self, src: Src) -> Option<&[u8]> {
        key_of(&self.mem, &self.segs, src)
    }

    /// The source with the smallest key (ties to the newest) and the one
    /// after it, comparing every source.
    fn pick(&self) -> (Option<Src>, Option<Src>) {
        let mut best: Option<(Src, &[u8])> = None;
        let mut second: Option<(Src, &[u8])> = None;
        let sources = std::iter::once(Src::Mem).chain((0..self.segs.len()).map(Src::Seg));
        for src in sources {
            let Some(k) = self.head_key(src) else {
                continue;
            };
            match best {
                Some((_, b)) if k >= b => {
                    if second.is_none_or(|(_, s)| k < s) {
                        second = Some((src, k));
                    }
                }
                _ => {
                    second = best;
                    best = Some((src, k));
                }
            }
        }
        (best.map(|b| b.0), second.map(|s| s.0))
    }

    /// Handles an error from refilling or stepping a source: heals the
    /// segment it names when that can help (then the sources are rebuilt
    /// from the last key taken), else ends the walk with it.
    fn recover(&mut self, e: Error, seg: Option<Arc<Segment>>) -> Result<()> {
        let seg = seg.or_else(|| match &e {
            Error::Corrupt { path, .. } => self.segment_of(path),
            _ => None,
        });
        let outcome = match seg {
            Some(seg) => self.heal_or(seg, e),
            None => Err(e),
        };
        if outcome.is_err() {
            self.done = true;
        }
        outcome
    }

    /// Whether segment `i`, which won the last step and has just stepped,
    /// wins this one too: its key is below every other source's.
    fn still_wins(&self, i: usize) -> bool {
        // The in-memory map may need a refill, and then anything may come.
        if self.runner == Runner::Unknown || (self.mem.is_empty() && !self.mem_exhausted) {
            return false;
        }
        match self.head_key(Src::Seg(i)) {
            Some(k) => self.runner == Runner::None || k < self.bound.as_slice(),
            None => false,
        }
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
            if let Some(i) = self.pending.take() {
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
                if self.started && self.still_wins(i) {
                    match self.settle(Src::Seg(i)) {
                        Some(r) => return r,
                        None => continue,
                    }
                }
            }
            if (!self.started || (self.mem.is_empty() && !self.mem_exhausted))
                && let Err(e) = self.refill_mem()
            {
                if let Err(e) = self.recover(e, None) {
                    return Some(Err(e));
                }
                continue;
            }
            let (best, second) = self.pick();
            let Some(best) = best else {
                self.done = true;
                return None;
            };
            let key = key_of(&self.mem, &self.segs, best).expect("the winner has a key");
            self.key.clear();
            self.key.extend_from_slice(key);
            // Step past every other source's record of the same key: it is
            // older. The winner's own walk moves on at the next step.
            let mut tied = false;
            for j in 0..self.segs.len() {
                if Src::Seg(j) == best || self.head_key(Src::Seg(j)) != Some(self.key.as_slice()) {
                    continue;
                }
                tied = true;
                match self.segs[j].walk.advance() {
                    Ok(live) => self.segs[j].live = live,
                    Err(e) => {
                        // A damaged index: heal it, then rebuild every
                        // source from the last key taken, which finds this
                        // key again.
                        let seg = Arc::clone(&self.segs[j].seg);
                        if let Err(e) = self.recover(e, Some(seg)) {
                            return Some(Err(e));
                        }
                        break;
                    }
                }
            }
            if !self.started {
                continue;
            }
            // The runner-up is known only when no other source was stepped.
            self.runner = match (tied, second) {
                (true, _) => Runner::Unknown,
                (false, None) => Runner::None,
                (false, Some(r)) => {
                    let k = key_of(&self.mem, &self.segs, r).expect("the runner-up has a key");
                    self.bound.clear();
                    self.bound.extend_from_slice(k);
                    Runner::Key
                }
            };
            match self.settle(best) {
                Some(r) => return r,
                None => continue,
            }
        }
    }

    /// Takes `winner` as the merge's next key (into `last`): `None` when it
    /// is hidden (tombstone, expiry) and the merge must go on; `Some` with
    /// where its record is, or the end of the walk.
    fn settle(&mut self, winner: Src) -> Option<Option<Result<Found>>> {
        let last = self.last.get_or_insert_with(Vec::new);
        last.clear();
        // An expired put is the newest record of its key, so it hides
        // the older ones, as a tombstone does.
        let (found, deleted, expires_at) = match winner {
            Src::Mem => {
                let (key, slot) = self.mem.pop_front().expect("the map's head won");
                *last = key;
                (Found::Mem(slot), slot.delete, slot.expires_at())
            }
            Src::Seg(i) => {
                self.pending = Some(i);
                let walk = &self.segs[i].walk;
                last.extend_from_slice(walk.key().expect("the winner has a key"));
                let (delete, expires_at, in_walk) = walk.flags().expect("the winner has a head");
                (Found::Seg(i, in_walk), delete, expires_at)
            }
        };
        if !last.starts_with(&self.prefix) {
            self.done = true;
            return Some(None);
        }
        if deleted || expired(expires_at, self.now) {
            return None;
        }
        self.last_expiry = expires_at;
        Some(Some(Ok(found)))
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
        self.pending = None;
        self.runner = Runner::Unknown;
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
}

/// The smallest key above every key that starts with `prefix`; `None`
/// when there is none (an empty prefix, or one of 0xff bytes only).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let keep = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut end = prefix[..=keep].to_vec();
    end[keep] += 1;
    Some(end)
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
            if !s.live {
                return None;
            }
            s.walk.key()
        }
    }
}
