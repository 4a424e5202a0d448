//! Compaction: rewrite every live pair of the sealed segments into new
//! segments, then drop the old ones, while writes go on.
//!
//! Steps, each safe to crash in:
//! 1. Under the writer lock: seal the active log, so that the data so far is
//!    in sealed segments `1..F`; reserve the ids `F..F+P·R` (R bounds the
//!    outputs of a part of the merge: they hold at most the old logs'
//!    bytes; P parts, see [`parts::PARTS_FROM`]), so that segments sealed while
//!    the merge runs get ids from `F+P·R` on and are newer than every
//!    output. Then let the writer lock go.
//! 2. Merge the old segments alone (newest wins), skipping tombstones and
//!    overwritten records, into `seg-F.log.tmp`, `seg-F+1.log.tmp`, ...,
//!    each fsynced, with its index written in place (a large output is
//!    finished, fsynced and its index written, on a thread of its own
//!    while the next is merged: output.rs; a large compaction merges
//!    two parts at once (parts.rs), the upper part's outputs renamed to follow the
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

mod parts;

use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use parts::{Plan, parts_from};

use super::compaction_gain::Skipped;
use super::dir::{self, seg_idx_name, seg_log_name};
use super::index::Index;
use super::output::{self, Output};
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

    /// Removes the files of an abandoned compaction whose outputs had ids
    /// `ids`: finished or not, logs (still under their temporary names) and
    /// indexes (best effort: open removes whatever is left).
    fn discard(&self, ids: std::ops::Range<u64>) {
        for id in ids {
            output::discard(&*self.opts.storage, &self.dir, id);
        }
    }
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
