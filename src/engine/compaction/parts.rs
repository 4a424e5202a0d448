//! A compaction's merge (compaction.rs, phase 2): the live pairs of the
//! old segments into outputs of about [`Plan::out_size`] each, in one part
//! or, from [`PARTS_FROM`] bytes of logs on, two at once, cut at a key
//! ([`split_key`]), the upper part's outputs numbered after the lower
//! part's once both are done.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use super::super::index::{Group, IndexMeta, Kind};
use super::super::iter::Iter;
use super::super::output::{self, Finishing, Output};
use super::super::write::unix_secs;
use super::super::{Db, Error, Result, Segment};

impl Db {
    /// Writes the merged live data into outputs from `plan.first` on;
    /// returns the number of keys and the outputs' total size (logs and
    /// indexes).
    pub(super) fn write_outputs(
        &self,
        old: &Arc<Vec<Arc<Segment>>>,
        plan: &Plan,
        done: &mut Vec<Output>,
    ) -> Result<(u64, u64)> {
        let storage = &*self.opts.storage;
        let split = (plan.parts > 1).then(|| split_key(old)).flatten();
        let (keys, mut out) = match &split {
            None => {
                let merged =
                    self.merge_part(old, plan, (None, None), 0, &AtomicBool::new(false), done)?;
                merged.ok_or_else(|| stopped(&self.dir))?
            }
            Some(split) => self.merge_in_parts(old, plan, split, done)?,
        };
        let others = done.iter().map(|o| o.len + o.idx_len).sum::<u64>();
        out.finish(storage, &self.dir, true, plan.meta(true, others))?;
        let base = others + out.len + out.idx_len;
        done.push(out);
        Ok((keys, base))
    }

    /// [`merge_part`](Self::merge_part) twice at once: the keys below
    /// `split` here, the others on a thread of its own, whose outputs are
    /// numbered after this part's once it is done. Finishes every output
    /// into `done` but the last, which it returns, with the number of keys.
    /// A part that fails stops the other at its next pair; both are joined
    /// before the failure is returned (and the outputs removed).
    fn merge_in_parts(
        &self,
        old: &Arc<Vec<Arc<Segment>>>,
        plan: &Plan,
        split: &[u8],
        done: &mut Vec<Output>,
    ) -> Result<(u64, Output)> {
        let storage = &*self.opts.storage;
        let stop = AtomicBool::new(false);
        let failed = |e: Error| {
            stop.store(true, Ordering::Relaxed);
            e
        };
        std::thread::scope(|s| {
            // Its outputs take the second part's ids until then.
            let upper = || {
                let mut done = Vec::new();
                let merged = self.merge_part(old, plan, (Some(split), None), 1, &stop, &mut done);
                merged
                    .map_err(failed)
                    .map(|m| m.map(|(keys, out)| (keys, done, out)))
            };
            let thread = std::thread::Builder::new()
                .name(MERGER.into())
                .spawn_scoped(s, upper);
            let lower = (|| {
                let merged = self.merge_part(old, plan, (None, Some(split)), 0, &stop, done)?;
                let Some((keys, mut last)) = merged else {
                    return Ok(None);
                };
                // This part's last output is one like the others (finished
                // while the upper part may still be merged), unless it is
                // empty: then its id goes to the next.
                if last.records == 0 {
                    let id = last.id;
                    drop(last);
                    output::discard(storage, &self.dir, id);
                } else {
                    last.finish(storage, &self.dir, true, plan.meta(false, 0))?;
                    done.push(last);
                }
                Ok(Some(keys))
            })()
            .map_err(failed);
            let upper = match thread {
                Ok(thread) => thread.join().unwrap_or_else(|_| {
                    let e = std::io::Error::other("the thread merging it panicked");
                    Err(Error::io("compact", &self.dir, e))
                }),
                // A thread the system cannot make is no error: the upper
                // part is merged here, after the lower.
                Err(_) => upper(),
            };
            // A part stops early only for the other's failure.
            let (lower_keys, (upper_keys, upper_done, mut out)) = match (lower?, upper?) {
                (Some(lower), Some(upper)) => (lower, upper),
                _ => return Err(stopped(&self.dir)),
            };
            for mut o in upper_done {
                o.renumber(storage, &self.dir, plan.first + done.len() as u64)?;
                done.push(o);
            }
            out.renumber(storage, &self.dir, plan.first + done.len() as u64)?;
            Ok((lower_keys + upper_keys, out))
        })
    }

    /// Merges the live pairs of `old` whose keys lie from `from`
    /// (inclusive) until `until` (exclusive) into outputs of the ids of
    /// part `part` of `plan`, each full one finished into `done`; returns
    /// the number of keys and the last output, unfinished (maybe empty),
    /// or `None` when `stop` was set (the other part failed) before the
    /// end.
    fn merge_part(
        &self,
        old: &Arc<Vec<Arc<Segment>>>,
        plan: &Plan,
        (from, until): (Option<&[u8]>, Option<&[u8]>),
        part: u64,
        stop: &AtomicBool,
        done: &mut Vec<Output>,
    ) -> Result<Option<(u64, Output)>> {
        let storage = &*self.opts.storage;
        let ids = plan.ids(part);
        let mut keys = 0u64;
        let mut out = Output::create(storage, &self.dir, ids.start, true)?;
        // The output before `out`, if it is being finished apart.
        let mut finishing: Option<Finishing> = None;
        let mut pairs = Iter::pinned(self, Arc::clone(old));
        if let Some(from) = from {
            pairs = pairs.from(from);
        }
        if let Some(until) = until {
            pairs = pairs.until(until);
        }
        while let Some(found) = pairs.next_record() {
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let ((key, value, expires_at), record) = found?;
            // Expired keys were left out by the walk: their bytes go.
            keys += 1;
            match record {
                // A put read whole and checked: its bytes are what encoding
                // it again would make.
                Some(record) => out.record(key, record, false, expires_at)?,
                None => out.put(key, value, expires_at)?,
            }
            if out.size() >= plan.out_size {
                let next = out.id + 1;
                if next >= ids.end {
                    // Cannot happen (see the reservation): never collide
                    // with the ids of segments sealed meanwhile.
                    return Err(Error::corrupt(
                        &out.tmp_path,
                        0,
                        "compaction outputs outgrew the ids reserved for them",
                    ));
                }
                // The output finishing apart, if any, goes first: `done`
                // stays in id order, however the outputs were finished.
                if let Some(before) = finishing.take() {
                    done.push(before.join()?);
                }
                let apart = out.size() >= output::FINISH_APART;
                if !apart {
                    out.finish(storage, &self.dir, true, plan.meta(false, 0))?;
                }
                // Finished apart, the output's thread starts once the next
                // output exists: one finishes while the other is written.
                let next = Output::create(storage, &self.dir, next, true)?;
                let full = std::mem::replace(&mut out, next);
                if apart {
                    let (storage, dir) = (Arc::clone(&self.opts.storage), self.dir.clone());
                    finishing = Some(full.finish_apart(storage, dir, plan.meta(false, 0)));
                } else {
                    done.push(full);
                }
            }
        }
        if let Some(before) = finishing.take() {
            done.push(before.join()?);
        }
        Ok(Some((keys, out)))
    }
}

/// A part of a merge in two stopped with no failure of the other to
/// report (cannot happen: a part stops only for the other's failure).
fn stopped(dir: &std::path::Path) -> Error {
    let e = std::io::Error::other("a part of the merge stopped with no failure");
    Error::io("compact", dir, e)
}

/// A compaction of at least this many bytes of logs merges in two parts
/// at once, cut at a key (see [`split_key`]): the upper part on a thread of
/// its own, its outputs numbered after the lower part's once that is done.
/// The merge's own work (walking and merging the old segments, laying out
/// the outputs and their indexes) is most of a compaction's time, and one
/// thread leaves a core idle. A smaller compaction (a few tens of
/// milliseconds) is merged in one part, which keeps it to one order of
/// operations, as the crash and fault tests and those of finishing apart
/// (apart_tests.rs, 24 MB) run it.
pub(super) const PARTS_FROM: u64 = 32 << 20;

/// Where a compaction merges in two parts from: [`PARTS_FROM`]; in tests,
/// what this thread was told ([`split_from_here`]).
pub(super) fn parts_from() -> u64 {
    #[cfg(test)]
    return PARTS_FROM_HERE.with(|p| p.get());
    #[cfg(not(test))]
    PARTS_FROM
}

#[cfg(test)]
thread_local! {
    static PARTS_FROM_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(PARTS_FROM) };
}

/// Tests: this thread's compactions merge in two parts from `bytes` of
/// logs on (the crash sweep of a merge in two, on a small database).
#[cfg(test)]
pub(super) fn split_from_here(bytes: u64) {
    PARTS_FROM_HERE.with(|p| p.set(bytes));
}

/// The name of the thread that merges a compaction's upper part.
pub(super) const MERGER: &str = "tinykv-merge";

/// What a compaction settled before its merge, under the writer lock.
pub(super) struct Plan {
    /// The group's first id.
    pub(super) first: u64,
    /// Ids reserved for each part of the merge, and how many parts.
    pub(super) reserved: u64,
    pub(super) parts: u64,
    /// Each output's size: it is cut once it holds this much.
    pub(super) out_size: u64,
    pub(super) now: SystemTime,
}

impl Plan {
    /// Where the ids reserved for the outputs end: segments sealed while
    /// the merge runs get ids from here on.
    pub(super) fn end(&self) -> u64 {
        self.first + self.reserved * self.parts
    }

    /// The ids part `part`'s outputs take while it is merged.
    fn ids(&self, part: u64) -> std::ops::Range<u64> {
        let start = self.first + self.reserved * part;
        start..start + self.reserved
    }

    /// The footer of an output of the group, given its log's and its
    /// index's lengths: the last one's records the size of the whole
    /// group, `others` (the outputs before it) plus its own log and index.
    fn meta(&self, last: bool, others: u64) -> impl FnOnce(u64, u64) -> IndexMeta + Send + 'static {
        let (first, now) = (self.first, self.now);
        move |log_len, idx_len| IndexMeta {
            group: Some(Group { first, last }),
            base_live: if last { others + log_len + idx_len } else { 0 },
            compacted_at: unix_secs(now),
            ..IndexMeta::default()
        }
    }
}

/// Where a merge of `old` can be cut in two parts of about the same size:
/// of the keys that cut each sorted segment in eighths, the one with half
/// the sorted segments' bytes below it as near as the blocks tell (each
/// segment's part below a key ends where the block that would hold the key
/// starts). `None` when no key cuts anything, or an index cannot tell (a
/// damaged frame: the merge reads it, and heals it or reports the damage).
/// Hashed segments, which a cut splits anyhow, are not weighed.
pub(super) fn split_key(old: &[Arc<Segment>]) -> Option<Vec<u8>> {
    let sorted: Vec<&Segment> = old
        .iter()
        .filter(|s| s.index.footer.kind == Kind::Sorted)
        .map(|s| &**s)
        .collect();
    let mut keys = Vec::new();
    for seg in &sorted {
        keys.extend(seg.index.cut_keys(8).ok()?);
    }
    keys.sort_unstable();
    keys.dedup();
    let below = |key: &[u8]| -> Option<u64> {
        let mut bytes = 0;
        for seg in &sorted {
            bytes += seg.index.locate(key).ok()?.map_or(0, |b| b.offset);
        }
        Some(bytes)
    };
    let half = sorted.iter().map(|s| s.log_len).sum::<u64>() / 2;
    // The bytes below a key rise with the key: a binary search finds the
    // first key with half of them below it; it or the one before, whichever
    // is nearer.
    let (mut lo, mut hi) = (0, keys.len());
    let mut hi_below = None;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let b = below(&keys[mid])?;
        if b < half {
            lo = mid + 1;
        } else {
            (hi, hi_below) = (mid, Some(b));
        }
    }
    let nearer = match (lo.checked_sub(1), hi_below) {
        (Some(before), Some(b)) => match half - below(&keys[before])? < b - half {
            true => before,
            false => lo,
        },
        (Some(before), None) => before,
        (None, Some(_)) => lo,
        (None, None) => return None,
    };
    keys.into_iter().nth(nearer)
}
