//! Compaction: rewrite every live pair of the sealed segments into new
//! segments, then drop the old ones, while writes go on.
//!
//! Steps, each safe to crash in:
//! 1. Under the writer lock: seal the active log, so that the data so far is
//!    in sealed segments `1..F`; reserve the ids `F..F+P·R` (R bounds the
//!    outputs of a part of the merge: they hold at most the old logs'
//!    bytes; P parts, see [`PARTS_FROM`]), so that segments sealed while
//!    the merge runs get ids from `F+P·R` on and are newer than every
//!    output. Then let the writer lock go.
//! 2. Merge the old segments alone (newest wins), skipping tombstones and
//!    overwritten records, into `seg-F.log.tmp`, `seg-F+1.log.tmp`, ...,
//!    each fsynced, with its index written in place (a large output is
//!    finished, fsynced and its index written, on a thread of its own
//!    while the next is merged: output.rs; a large compaction merges
//!    two parts at once, the upper part's outputs renamed to follow the
//!    lower's when both are done). Every output's index
//!    names the group's first id `F`; the last output's index says it is
//!    last and records the new size (the base for the next automatic
//!    compaction) and the time. Writes land meanwhile in the active log and
//!    in segments sealed from `F+P·R` on; reads never wait.
//! 3. Under the writer lock again: rename the outputs into place and fsync
//!    the directory: the commit point. From then on, open sees a complete
//!    group and removes every segment older than `F` (the segments from
//!    `F+P·R` on are newer, and kept). Before it, open removes outputs still
//!    named `.tmp`; outputs already renamed form an incomplete group, which
//!    open keeps as plain segments: they only repeat the newest state of the
//!    old segments, which are all still there (and a group can also look
//!    incomplete because a member's index was rebuilt without its footer,
//!    when it holds the only copy of its data).
//! 4. Switch the outputs in under the segments sealed meanwhile; remove the
//!    old segments, oldest first, and fsync the directory.
//!
//! [`Db::compact`] first asks whether rewriting can make the files smaller
//! (compaction_gain.rs); automatic compaction, which starts only past its
//! thresholds, does not ask.
//!
//! Dropping every tombstone is safe because every segment older than the
//! outputs is merged: no older segment is left that could hold a value the
//! tombstone hid, and segments sealed meanwhile are newer, so their own
//! tombstones still stand above the outputs. One compaction (or `recover`)
//! runs at a time (`compact_lock`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::compaction_gain::Skipped;
use super::dir::{self, seg_idx_name, seg_log_name};
use super::index::{Group, Index, IndexMeta, Kind};
use super::iter::Iter;
use super::output::{self, Finishing, Output};
use super::write::unix_secs;
use super::{Db, Error, Result, Segment};

/// What [`Db::compact`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct CompactReport {
    /// Bytes of all database files before.
    pub bytes_before: u64,
    /// Bytes of all database files after.
    pub bytes_after: u64,
    /// Live keys written (when skipped: live keys).
    pub keys: u64,
    /// How long it took.
    pub elapsed: Duration,
    /// Why nothing was rewritten, when nothing was: the files are as they were.
    pub skipped: Option<Skipped>,
}

impl Db {
    /// Compacts, the caller holding `compact_lock` (one compaction, or a
    /// recover, at a time). The writer lock is held only to seal and take a
    /// snapshot, and again to switch the outputs in: writes go on while the
    /// merge runs, into the active log and segments sealed meanwhile.
    pub(super) fn compact_with(&self, _one_at_a_time: MutexGuard<'_, ()>) -> Result<CompactReport> {
        let started = Instant::now();
        // Phase 1, under the writer lock: seal; the segments now sealed are
        // what is merged; reserve the ids the outputs may take, so that
        // segments sealed while the merge runs come after them.
        let (old, plan, bytes_before, needed) = {
            let mut w = self.lock_writer();
            w.ensure_writable()?;
            let bytes_before = self.total_bytes(&w);
            let needed = space_needed(bytes_before, w.wal_len);
            if let Err(e) = self.seal(&mut w) {
                w.poison(&e);
                return Err(needs_space(e, needed));
            }
            let old = Arc::clone(
                &self
                    .state
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .segments,
            );
            if old.is_empty() {
                return Ok(CompactReport {
                    bytes_before,
                    bytes_after: bytes_before,
                    keys: 0,
                    elapsed: started.elapsed(),
                    skipped: Some(Skipped::Empty),
                });
            }
            // The outputs hold at most the old logs' records, each output
            // but the last at least a segment's size: this many ids suffice
            // (for each part of the merge, see PARTS_FROM).
            let old_bytes: u64 = old.iter().map(|s| s.log_len).sum();
            let parts = if old_bytes >= parts_from() { 2 } else { 1 };
            let reserved = old_bytes / self.opts.segment_size + 2;
            let plan = Plan {
                first: w.reserve_ids(reserved * parts),
                reserved,
                parts,
                out_size: output::size_for(old_bytes, self.opts.segment_size),
                now: SystemTime::now(),
            };
            (old, plan, bytes_before, needed)
        };
        let (first, now) = (plan.first, plan.now);
        // Segments sealed from this id on are newer than every output.
        let newer_from = plan.end();
        // Phase 2, no writer lock: merge the old segments into outputs.
        let mut done: Vec<Output> = Vec::new();
        let written = self.write_outputs(&old, &plan, &mut done);
        let (keys, bytes_after) = match written {
            Ok(x) => x,
            Err(e) => {
                // Nothing refers to the outputs yet and no acknowledged
                // write is in them: the old segments stay in use, so a
                // failed read (a damaged segment), write or fsync here
                // leaves nothing uncertain, and the handle stays usable.
                // (Their ids stay reserved: no seal can meet a leftover.)
                self.discard(first..newer_from);
                return Err(needs_space(e, needed));
            }
        };
        // Phase 3, under the writer lock again (no seal can interleave):
        // commit, switch the outputs in under the segments sealed meanwhile,
        // remove the old files.
        let mut w = self.lock_writer();
        let storage = &*self.opts.storage;
        // Commit point: rename every output into place, then fsync the directory.
        let commit = (|| {
            for out in &done {
                dir::rename(storage, &out.tmp_path, &self.dir.join(seg_log_name(out.id)))?;
            }
            dir::sync(storage, &self.dir)
        })();
        if let Err(e) = commit {
            // Whether the renames are durable is unknown: only a reopen can tell.
            w.poison(&e);
            return Err(e);
        }
        let after = (|| {
            let mut segments = Vec::new();
            for out in &done {
                let index = Index::open_written(storage, &self.dir.join(seg_idx_name(out.id)))?;
                segments.push(Arc::new(Segment {
                    id: out.id,
                    log_path: self.dir.join(seg_log_name(out.id)),
                    log: Arc::clone(&out.file),
                    log_len: out.len,
                    index: Arc::new(index),
                }));
            }
            {
                let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
                // Segments sealed during the merge are newer than every output.
                let newer = st.segments.iter().filter(|s| s.id >= newer_from);
                segments.extend(newer.cloned());
                st.segments = Arc::new(segments);
                st.generation += 1;
            }
            for seg in old.iter() {
                dir::remove(storage, &seg.log_path)?;
                dir::remove(storage, &self.dir.join(seg_idx_name(seg.id)))?;
            }
            dir::sync(storage, &self.dir)
        })();
        if let Err(e) = after {
            w.poison(&e);
            return Err(e);
        }
        let newer: u64 = {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            st.segments
                .iter()
                .filter(|s| s.id >= newer_from)
                .map(|s| s.log_len + s.index_len())
                .sum()
        };
        w.base_live = bytes_after + newer + w.wal_len;
        w.last_compaction = Some(now);
        Ok(CompactReport {
            bytes_before,
            bytes_after: bytes_after + newer + w.wal_len,
            keys,
            elapsed: started.elapsed(),
            skipped: None,
        })
    }

    /// Writes the merged live data into outputs from `plan.first` on;
    /// returns the number of keys and the outputs' total size (logs and
    /// indexes).
    fn write_outputs(
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

    /// Removes the files of an abandoned compaction whose outputs had ids
    /// `ids`: finished or not, logs (still under their temporary names) and
    /// indexes (best effort: open removes whatever is left).
    fn discard(&self, ids: std::ops::Range<u64>) {
        for id in ids {
            output::discard(&*self.opts.storage, &self.dir, id);
        }
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
const PARTS_FROM: u64 = 32 << 20;

/// Where a compaction merges in two parts from: [`PARTS_FROM`]; in tests,
/// what this thread was told ([`split_from_here`]).
fn parts_from() -> u64 {
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
fn split_from_here(bytes: u64) {
    PARTS_FROM_HERE.with(|p| p.set(bytes));
}

/// The name of the thread that merges a compaction's upper part.
const MERGER: &str = "tinykv-merge";

/// What a compaction settled before its merge, under the writer lock.
struct Plan {
    /// The group's first id.
    first: u64,
    /// Ids reserved for each part of the merge, and how many parts.
    reserved: u64,
    parts: u64,
    /// Each output's size: it is cut once it holds this much.
    out_size: u64,
    now: SystemTime,
}

impl Plan {
    /// Where the ids reserved for the outputs end: segments sealed while
    /// the merge runs get ids from here on.
    fn end(&self) -> u64 {
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
fn split_key(old: &[Arc<Segment>]) -> Option<Vec<u8>> {
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

/// About the most a compaction writes before it removes anything: its
/// outputs' logs hold at most the records of the old logs and the active
/// log, their indexes about what the old ones take, the sealed active
/// log's index at most about its size, and each new file (that index, the
/// new active log the seal creates, an output log and its index) a block
/// more than its bytes, which also covers an index's fixed footer.
fn space_needed(total_bytes: u64, wal_len: u64) -> u64 {
    const BLOCK: u64 = 4096;
    total_bytes + wal_len + 4 * BLOCK
}

/// A failure for lack of space, said as what the compaction needs.
fn needs_space(e: Error, needed: u64) -> Error {
    if e.is_no_space() {
        Error::CompactionNeedsSpace {
            needed,
            source: Box::new(e),
        }
    } else {
        e
    }
}

#[cfg(test)]
mod apart_tests;
#[cfg(test)]
mod parts_crash_tests;
#[cfg(test)]
mod parts_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
