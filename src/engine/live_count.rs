//! The number of live keys and the bytes of their records, known without
//! walking them ([`Db::len`], [`Db::stats`]).
//!
//! A [`Tally`] of the sealed segments is kept in `keys.count`, beside the
//! segments it covers (each named by its id, lengths and footer counts).
//! Answering takes the tally, brings it up to date by walking only the
//! segments sealed since (each key of a new segment looked up in the older
//! ones: was it live before?), then adds the active log's keys the same
//! way. A compaction's outputs need no walk at all: they hold only live,
//! distinct keys, which their footers count.
//!
//! Invariants: the tally is a function of the files alone (not of the
//! time: a key that expires stays in it with its deadline, until a write or
//! a compaction removes it), so it can never drift with the clock; a
//! `keys.count` whose covered segments are not the database's oldest
//! segments, exactly as they are now, is never used (after a compaction
//! or `recover`, the count is made again, once: by the close of the
//! handle that compacted, from the outputs' footers, when that is cheap,
//! else by the next count); the file is a cache, so a failure to write
//! it costs only speed, and reading it never trusts a length it holds. An
//! expiring key costs 12 bytes of the file (its deadline and length), a
//! key that never expires nothing.

use std::collections::HashMap;
use std::sync::Arc;

use super::clock::expired;
use super::segment::{Entry, Segment};
use super::{Db, MemSlot, Result, dir};

/// The file that holds the tally of the sealed segments.
pub(super) const COUNT_FILE: &str = "keys.count";

/// What a count finds at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Live {
    /// Live keys.
    pub keys: u64,
    /// Those of them that expire.
    pub expiring: u64,
    /// The bytes of their newest records.
    pub bytes: u64,
}

/// Live keys and their record bytes: those that never expire, and the
/// deadline and length of each that does (sorted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Tally {
    keys: u64,
    bytes: u64,
    expiring: Vec<(u64, u32)>,
}

/// A key's newest record, as the count sees it: a tombstone, or no record,
/// is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Put {
    len: u32,
    expires_at: Option<u64>,
}

/// A segment as the tally saw it: if any of this differs, it is not the
/// segment the tally counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Covered {
    id: u64,
    log_len: u64,
    index_len: u64,
    keys: u64,
    puts: u64,
    put_bytes: u64,
}

impl Covered {
    fn of(seg: &Segment) -> Covered {
        let f = &seg.index.footer;
        Covered {
            id: seg.id,
            log_len: seg.log_len,
            index_len: seg.index_len(),
            keys: f.keys,
            puts: f.puts,
            put_bytes: f.put_bytes,
        }
    }

    const LEN: usize = 48;
}

/// The tally of the oldest segments, `covered`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Cache {
    covered: Vec<Covered>,
    tally: Tally,
}

/// What [`Db::len`] keeps between calls: the tally of the segments, and
/// what each key of the active log held in the segments below it (for the
/// generation of the state it was looked up in).
#[derive(Debug, Default)]
pub(super) struct Counter {
    cache: Option<Cache>,
    /// Whether `keys.count` was read (or found missing or unusable).
    loaded: bool,
    generation: u64,
    below: HashMap<Vec<u8>, Option<Put>>,
}

impl Tally {
    fn add(&mut self, put: Option<Put>, adds: &mut Vec<(u64, u32)>) {
        match put {
            None => {}
            Some(Put {
                len,
                expires_at: None,
            }) => {
                self.keys += 1;
                self.bytes += u64::from(len);
            }
            Some(Put {
                len,
                expires_at: Some(at),
            }) => adds.push((at, len)),
        }
    }

    fn remove(&mut self, put: Option<Put>, removes: &mut Vec<(u64, u32)>) {
        match put {
            None => {}
            Some(Put {
                len,
                expires_at: None,
            }) => {
                self.keys = self.keys.saturating_sub(1);
                self.bytes = self.bytes.saturating_sub(u64::from(len));
            }
            Some(Put {
                len,
                expires_at: Some(at),
            }) => removes.push((at, len)),
        }
    }

    /// Applies a key's change from `was` to `now`.
    fn change(&mut self, was: Option<Put>, now: Option<Put>, pending: &mut Pending) {
        if was != now {
            self.remove(was, &mut pending.removes);
            self.add(now, &mut pending.adds);
        }
    }

    /// Merges the expiring keys gathered by [`Tally::change`].
    fn settle(&mut self, pending: Pending) {
        let Pending {
            mut adds,
            mut removes,
        } = pending;
        if adds.is_empty() && removes.is_empty() {
            return;
        }
        adds.sort_unstable();
        removes.sort_unstable();
        let old = std::mem::take(&mut self.expiring);
        let mut merged = Vec::with_capacity(old.len() + adds.len());
        let (mut a, mut r) = (adds.into_iter().peekable(), removes.into_iter().peekable());
        for item in old {
            while let Some(&x) = a.peek().filter(|&&x| x <= item) {
                push_unless_removed(&mut merged, x, &mut r);
                a.next();
            }
            push_unless_removed(&mut merged, item, &mut r);
        }
        for x in a {
            push_unless_removed(&mut merged, x, &mut r);
        }
        self.expiring = merged;
    }

    /// Live keys, those of them that expire, and their bytes at `now`.
    pub fn live_at(&self, now: u64) -> Live {
        let from = self
            .expiring
            .partition_point(|&(at, _)| expired(Some(at), now));
        let rest = &self.expiring[from..];
        let bytes: u64 = rest.iter().map(|&(_, len)| u64::from(len)).sum();
        Live {
            keys: self.keys + rest.len() as u64,
            expiring: rest.len() as u64,
            bytes: self.bytes + bytes,
        }
    }
}

/// Pushes `x` unless an equal removal is due (which it then takes): both
/// sequences are sorted.
fn push_unless_removed(
    out: &mut Vec<(u64, u32)>,
    x: (u64, u32),
    removes: &mut std::iter::Peekable<std::vec::IntoIter<(u64, u32)>>,
) {
    while removes.next_if(|&r| r < x).is_some() {}
    if removes.next_if_eq(&x).is_none() {
        out.push(x);
    }
}

/// Expiring keys gathered while a tally changes, merged at the end.
#[derive(Default)]
struct Pending {
    adds: Vec<(u64, u32)>,
    removes: Vec<(u64, u32)>,
}

/// What `segments` hold of `key` (newest first).
fn put_in(segments: &[Arc<Segment>], key: &[u8]) -> Result<Option<Put>> {
    for seg in segments.iter().rev() {
        if let Some(hit) = seg.record_of(key, 0)? {
            return Ok((!hit.tag.is_delete()).then_some(Put {
                len: hit.len,
                expires_at: hit.expires_at,
            }));
        }
    }
    Ok(None)
}

/// Whether `segments[i]` is known to share no key with the segments below
/// it: it is the oldest, or it and every segment below it are the outputs
/// of one compaction (cut from one merge of every older segment, in key
/// order, so no two hold a key).
fn stands_alone(segments: &[Arc<Segment>], i: usize) -> bool {
    let first = segments[0].id;
    i == 0
        || segments[..=i]
            .iter()
            .all(|s| s.index.footer.group.is_some_and(|g| g.first == first))
}

/// A lookup in the segments below costs about this many entries of a
/// walk (it reads an index block and a record where a walk reads on): so
/// a tally walks every key at once rather than look up more than
/// 1/`LOOKUP_COST` of them one by one.
const LOOKUP_COST: u64 = 16;

/// The most lookups (or keys walked) a close spends on the tally.
const AT_CLOSE: u64 = 16 * 1024;

/// The tally of `segments`, by one walk of all of them merged in key
/// order: each key counts by its newest entry. No lookups: a sequential
/// read of every segment, one entry held per segment.
fn merged_tally(segments: &[Arc<Segment>]) -> Result<Tally> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut walks = Vec::with_capacity(segments.len());
    // Each walk's next entry, and the heap of their keys: smallest key
    // first; of equal keys, the newest segment (largest index) first.
    let mut next: Vec<Option<Entry>> = Vec::with_capacity(segments.len());
    let mut heads = BinaryHeap::new();
    for (i, seg) in segments.iter().enumerate() {
        let mut walk = seg.walk(&[], false)?;
        let entry = walk.next().transpose()?.map(|item| item.entry);
        if let Some(e) = &entry {
            heads.push((Reverse(e.key.clone()), i));
        }
        next.push(entry);
        walks.push(walk);
    }
    let mut tally = Tally::default();
    let mut pending = Pending::default();
    while let Some((Reverse(key), i)) = heads.pop() {
        let entry = next[i].take().expect("a walk in the heap has an entry");
        let now = (!entry.delete).then_some(Put {
            len: entry.len,
            expires_at: entry.expires_at,
        });
        tally.change(None, now, &mut pending);
        // This key's older entries go unread; each walk moves on.
        let mut advance = vec![i];
        while heads.peek().is_some_and(|(Reverse(k), _)| *k == key) {
            let (_, j) = heads.pop().expect("peeked");
            advance.push(j);
        }
        for j in advance {
            next[j] = walks[j].next().transpose()?.map(|item| item.entry);
            if let Some(e) = &next[j] {
                heads.push((Reverse(e.key.clone()), j));
            }
        }
    }
    tally.settle(pending);
    Ok(tally)
}

impl Cache {
    /// Brings the tally up to `segments`: walks only those it does not
    /// cover yet, each key looked up in the segments below, or, when the
    /// new segments hold many keys for the old ones, every segment at once
    /// in one merged walk; starts over when what it covers is no longer
    /// the oldest segments as they are. With `most_lookups`, gives up
    /// (`Ok(None)`, nothing changed) rather than do more than that many
    /// lookups or walk more keys than that. `Ok(Some(changed))` otherwise.
    fn extend(
        &mut self,
        segments: &[Arc<Segment>],
        most_lookups: Option<u64>,
    ) -> Result<Option<bool>> {
        let still = self.still_holds(segments);
        let from = if still { self.covered.len() } else { 0 };
        if from == segments.len() {
            return Ok(Some(false));
        }
        // The base a compaction left counts without a walk; each segment
        // above it is either looked up key by key or walked with the rest.
        let base = if from == 0 {
            (0..segments.len())
                .take_while(|&i| stands_alone(segments, i))
                .count()
        } else {
            from
        };
        let keys = |range: std::ops::Range<usize>| -> u64 {
            segments[range].iter().map(|s| s.index.footer.keys).sum()
        };
        let lookups = keys(base..segments.len());
        let all = keys(0..segments.len());
        let merged = base > 0 && lookups.saturating_mul(LOOKUP_COST) > all;
        // A base segment with expiring keys is walked, not read off its
        // footer (see `add_segment`).
        let walked: u64 = segments[from..base]
            .iter()
            .filter(|s| s.index.footer.expiring)
            .map(|s| s.index.footer.keys)
            .sum();
        let work = if merged { all } else { lookups + walked };
        if most_lookups.is_some_and(|most| work > most) {
            return Ok(None);
        }
        if !still {
            *self = Cache::default();
        }
        if merged {
            self.tally = merged_tally(segments)?;
            self.covered = segments.iter().map(|s| Covered::of(s)).collect();
            return Ok(Some(true));
        }
        for i in self.covered.len()..segments.len() {
            self.add_segment(segments, i, true)?;
            self.covered.push(Covered::of(&segments[i]));
        }
        Ok(Some(true))
    }

    /// Whether what the tally covers is still the oldest of `segments`, as
    /// they are.
    fn still_holds(&self, segments: &[Arc<Segment>]) -> bool {
        self.covered.len() <= segments.len()
            && self
                .covered
                .iter()
                .zip(segments)
                .all(|(c, s)| *c == Covered::of(s))
    }

    /// Adds `segments[i]`, given the tally of those below it. `shortcuts`:
    /// trust that a compaction's outputs share no key, and take a footer's
    /// counts for a segment without expiring keys (`check` walks instead).
    fn add_segment(&mut self, segments: &[Arc<Segment>], i: usize, shortcuts: bool) -> Result<()> {
        let seg = &segments[i];
        let f = &seg.index.footer;
        let alone = i == 0 || shortcuts && stands_alone(segments, i);
        if alone && shortcuts && !f.expiring {
            self.tally.keys += f.puts;
            self.tally.bytes += f.put_bytes;
            return Ok(());
        }
        let mut pending = Pending::default();
        for item in seg.walk(&[], false)? {
            let e = item?.entry;
            let now = (!e.delete).then_some(Put {
                len: e.len,
                expires_at: e.expires_at,
            });
            let was = if alone {
                None
            } else {
                put_in(&segments[..i], &e.key)?
            };
            self.tally.change(was, now, &mut pending);
        }
        self.tally.settle(pending);
        Ok(())
    }
}

impl Db {
    /// At close: brings a kept tally up to date with the segments this
    /// handle sealed (or makes one, where there was none or the segments
    /// it covered are gone), so that the next count is instant. Only when
    /// that is cheap (at most
    /// [`AT_CLOSE`] lookups or keys walked: a one-shot write that sealed,
    /// not a load of a million pairs into a database of a million, which
    /// would make the load slower by the walk); the rest is left to the
    /// next count. Best effort: it is a cache.
    pub(super) fn keep_count(&self) {
        if self.opts.read_only {
            return;
        }
        let segments = {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            // A handle that never sealed nor compacted (a one-shot read or
            // a small write) changed no segment: no file to read.
            if st.generation == 0 {
                return;
            }
            Arc::clone(&st.segments)
        };
        let mut counter = self.counter.lock().unwrap_or_else(|p| p.into_inner());
        if !counter.loaded {
            counter.loaded = true;
            counter.cache = read(&*self.opts.storage, &self.dir);
        }
        // No tally yet (a load into an empty database, say), or one of
        // segments a compaction replaced: one is made when that is as
        // cheap, from footers alone for a load's or a compaction's group.
        let cache = counter.cache.get_or_insert_with(Cache::default);
        match cache.extend(&segments, Some(AT_CLOSE)) {
            Ok(Some(true)) => {
                let path = self.dir.join(COUNT_FILE);
                let _ = dir::replace(&*self.opts.storage, &path, &cache.encode());
            }
            Ok(Some(false) | None) => {}
            Err(_) => counter.cache = None,
        }
    }

    /// Live keys and their record bytes, at the handle's clock: from the
    /// tally of the sealed segments (see live_count.rs), brought up to
    /// date, and the active log's keys.
    pub(super) fn live_count(&self) -> Result<Live> {
        let (segments, generation, mem): (_, _, Vec<(Vec<u8>, MemSlot)>) = {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            let mem = st.mem.iter().map(|(k, s)| (k.clone(), *s)).collect();
            (Arc::clone(&st.segments), st.generation, mem)
        };
        let mut counter = self.counter.lock().unwrap_or_else(|p| p.into_inner());
        if !counter.loaded {
            counter.loaded = true;
            counter.cache = read(&*self.opts.storage, &self.dir);
        }
        let mut cache = counter.cache.take().unwrap_or_default();
        let changed = match cache.extend(&segments, None) {
            Ok(changed) => changed.unwrap_or(true),
            Err(e) => {
                counter.cache = None;
                return Err(e);
            }
        };
        if changed && !self.opts.read_only {
            // A cache: failing to keep it costs the next count a walk.
            let path = self.dir.join(COUNT_FILE);
            let _ = dir::replace(&*self.opts.storage, &path, &cache.encode());
        }
        if counter.generation != generation {
            counter.generation = generation;
            counter.below.clear();
        }
        let mut tally = cache.tally.clone();
        counter.cache = Some(cache);
        let mut pending = Pending::default();
        for (key, slot) in mem {
            let now = (!slot.delete).then_some(Put {
                len: slot.len,
                expires_at: slot.expires_at(),
            });
            let was = match counter.below.get(&key) {
                Some(&was) => was,
                None => {
                    let was = put_in(&segments, &key)?;
                    counter.below.insert(key, was);
                    was
                }
            };
            tally.change(was, now, &mut pending);
        }
        tally.settle(pending);
        Ok(tally.live_at(self.now_ms()))
    }
}

mod file;
#[cfg(test)]
mod tests;

pub(super) use file::check_file;
use file::read;
