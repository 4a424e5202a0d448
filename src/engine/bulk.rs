//! A bulk load in bounded memory: an atomic batch too large for the active
//! log's in-memory map becomes sorted runs on disk, then sorted segments
//! switched in at once.
//!
//! A [`BatchWriter`](super::BatchWriter) writes its batch into the active
//! log and keeps its keys in memory, which suits a batch up to a segment's
//! size. Past that ([`Bulk::spill_at`]) it *spills*: the id the active log
//! will be sealed as is reserved, the batch so far is read back from the
//! log into a `Bulk` and cut off the log, and from then on the batch goes
//! to the `Bulk` alone:
//!
//! 1. Writes are gathered as encoded `Put`/`Delete` records in a buffer of
//!    at most 16 MiB (a segment, if smaller); a full buffer is sorted by
//!    key (the last write of a key wins) and written out to a *run*: a
//!    sorted segment under a temporary name, `seg-N.log.tmp`, with ids
//!    reserved above the active log's. While every buffer so far follows
//!    the one before in key order (a load of a dump), it is appended to
//!    the same run, up to [`output::max_size`]. A value of 1 MiB or more is
//!    written from the caller's buffer, never copied.
//!    Once the runs are out of key order, each closed run lets its file go
//!    (a load of 100M pairs makes about 740 runs), and none is fsynced.
//! 2. At commit, runs that follow each other in key order (a load of a
//!    dump, in key order) are the new segments as they are. Otherwise they
//!    are merged (passes.rs, the runs read through merge.rs), up to
//!    [`FAN_IN`] at a time, their readers' windows sharing at most 2 MiB
//!    ([`merge::WINDOWS`]), into sorted segments
//!    of up to [`output::max_size`] with fresh ids, and the runs removed;
//!    a load that replaces the database merges in the database's keys
//!    too, as tombstones for the keys it does not write.
//! 3. The active log is sealed as the reserved id, below the new segments;
//!    the commit marker naming them is made durable (marker.rs): the commit
//!    point; they are renamed into place, and switched in above every
//!    older segment.
//!
//! Invariants: memory holds one run's buffer and its keys' positions, or
//! readers' windows of fewer bytes, never the batch's keys; open files
//! are the runs in key order and [`FAN_IN`] at most of the others; nothing of the
//! batch is visible, to readers or after a crash, until the marker is
//! durable, and all of it is from then on; no run outlives the batch
//! (dropped, its files are removed; after a crash, open removes them with
//! every other `.tmp`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::index::{Group, IndexMeta};
use super::output::{self, Output};
use super::record::{self, Tag};
use super::storage::Storage;
use super::write::unix_secs;
use super::{Result, Writer, short_keys};

pub(super) mod marker;
mod merge;
mod passes;

pub(super) use marker::{MARKER, settle};
pub(in crate::engine) use merge::RunReader;
use passes::Run;

/// The most runs merged at once, each an open file: with the database's
/// own, under the 1024 a process may have open by default. A load of
/// 100M pairs in random order (about 740 runs) is merged in one pass.
pub(super) const FAN_IN: usize = 768;
/// The most a run's buffer holds.
const RUN_BYTES: usize = 16 * 1024 * 1024;
/// A value at least this long is a run of its own.
const LARGE: usize = 1024 * 1024;
/// Once a load's segments hold this much, each segment it begins hands
/// its pages back to the system as they become durable
/// ([`Output::hand_back_pages`]): the segments begun within a load's first
/// gigabyte stay in the system's cache for the reads that follow it (a
/// compaction, the first lookups); beyond that, a load larger than is
/// worth caching streams through the pages it has already written rather
/// than taking fresh ones. A run in key order is taken for the segment it
/// will most likely be: if the order breaks later, the merge reads it back
/// from the disk. (The runs of a load that replaces are merged with the
/// database's keys, even in key order: they count for nothing.)
const KEEP_CACHED: u64 = 1 << 30;

/// A batch gathered into sorted runs; see the module doc.
pub(super) struct Bulk {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    /// The id the active log is sealed as at commit, when it held writes
    /// before the batch (`None`: it is empty, and stays so).
    pub wal_id: Option<u64>,
    run_bytes: usize,
    /// The run being gathered: encoded records, in the order written.
    buf: Vec<u8>,
    /// Each record of `buf`, as its sort sees it.
    entries: Vec<Held>,
    /// Runs that will be merged, oldest first, as their names: every run
    /// closed since the runs went out of key order, older than `runs`.
    spilled: Vec<Run>,
    /// The runs while they are in key order (they may become the new
    /// segments as they are), oldest first; else the open run alone. The
    /// last one may be open (see `open`).
    pub(super) runs: Vec<Output>,
    /// Runs merged at once: [`FAN_IN`], or fewer once the process could
    /// not open so many files (tests make it smaller, to merge in several
    /// passes without thousands of runs). At least 2.
    pub(super) fan_in: usize,
    /// Every run so far starts above the last key of the one before: they
    /// can be the new segments as they are.
    pub(super) ordered: bool,
    /// The last run is open: while the runs are in key order, a buffer
    /// whose keys all follow it is appended to it rather than made a run
    /// of its own (so that a load in key order makes few segments).
    open: bool,
    /// The most a new segment holds (see [`output::max_size`]).
    cap: u64,
    /// The footer fields every new segment carries forward.
    base_live: u64,
    compacted_at: u64,
    /// The database held nothing before the batch: its new segments share
    /// no key and nothing is below them, so they are written as one group
    /// (see compaction.rs), whose footers' counts are its live keys
    /// (live_count.rs), and the last one's base is their size.
    alone: bool,
    /// Ids of every file made so far (runs, merged runs, outputs), for
    /// removal when the batch is dropped.
    made: Vec<u64>,
    /// Bytes of the segments closed so far (runs in key order of a load
    /// that does not replace, the last merge's outputs), and how many
    /// they reach before the next segments hand back their pages:
    /// [`KEEP_CACHED`] (tests make it smaller).
    pub(super) written: u64,
    pub(super) keep_cached: u64,
    /// The load replaces the database's contents: its runs are merged
    /// with the database's keys, even in key order.
    pub(super) replaces: bool,
}

impl std::fmt::Debug for Bulk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bulk")
            .field("wal_id", &self.wal_id)
            .field("runs", &(self.spilled.len() + self.runs.len()))
            .finish()
    }
}

/// A write held in the run being gathered, as the run's sort sees it: its
/// key's first 16 bytes as two big-endian words, on which most comparisons
/// settle without reading the buffer (sorting a run of 145k pairs of
/// 16-byte keys took 9 ms rather than 30 ms through the buffer alone);
/// where its record starts in the buffer; and its key's length times 32
/// plus where the key starts in the record (the header's length, under
/// 32): 24 bytes a write.
#[derive(Clone, Copy)]
struct Held {
    prefix: [u64; 2],
    at: u32,
    key: u32,
}

const _: () = assert!(record::MAX_HEADER_LEN < 32 && (super::MAX_KEY_LEN as u64) << 5 < 1 << 32);

/// The sorted segments a bulk load made, ready to be switched in.
pub(super) struct Outputs {
    pub segments: Vec<Output>,
    /// Their logs' and indexes' bytes.
    pub bytes: u64,
}

impl Bulk {
    /// Batch bytes past which a batch writer spills into a `Bulk`.
    pub fn spill_at(segment_size: u64) -> u64 {
        segment_size.min(RUN_BYTES as u64)
    }

    /// A `Bulk` for the database in `dir`, whose active log will be sealed
    /// as `wal_id` (if it holds anything); `alone`: the database held
    /// nothing before the batch.
    pub fn new(
        storage: Arc<dyn Storage>,
        dir: &Path,
        wal_id: Option<u64>,
        w: &Writer,
        segment_size: u64,
        alone: bool,
    ) -> Bulk {
        Bulk {
            storage,
            dir: dir.to_owned(),
            wal_id,
            run_bytes: Bulk::spill_at(segment_size) as usize,
            buf: Vec::new(),
            entries: Vec::new(),
            spilled: Vec::new(),
            runs: Vec::new(),
            fan_in: FAN_IN,
            ordered: true,
            open: false,
            // A load's size is not known before its end: its segments are
            // as large as a compaction's may be.
            cap: output::max_size(segment_size),
            base_live: w.base_live,
            compacted_at: w.last_compaction.map_or(0, unix_secs),
            alone,
            made: Vec::new(),
            written: 0,
            keep_cached: KEEP_CACHED,
            replaces: false,
        }
    }

    /// Adds a write: a `Put` (with its expiry) or a `Delete` of `key`.
    pub fn push(
        &mut self,
        w: &mut Writer,
        tag: Tag,
        key: &[u8],
        value: &[u8],
        expires_at: Option<u64>,
    ) -> Result<()> {
        if value.len() >= LARGE {
            // Written from where it is, after the writes before it.
            self.flush(w)?;
            let run = self.run_for(w, key)?;
            run.put(key, value, expires_at)?;
            return self.close_unless_ordered();
        }
        self.hold(tag, key, value, expires_at);
        self.flush_if_full(w)
    }

    /// Adds a write to the run being gathered, whatever its size, and
    /// writes nothing (a spill gathers the batch so far before it cuts it
    /// off the log, and only then writes a run).
    pub fn hold(&mut self, tag: Tag, key: &[u8], value: &[u8], expires_at: Option<u64>) {
        let at = self.buf.len();
        record::encode_expiring(&mut self.buf, tag, key, value, expires_at);
        let key_at = self.buf.len() - at - value.len() - key.len();
        self.entries.push(Held {
            prefix: [
                short_keys::padded_word(key, 0),
                short_keys::padded_word(key, 8),
            ],
            at: at as u32,
            key: (key.len() as u32) << 5 | key_at as u32,
        });
    }

    /// Writes the run being gathered out once it is full.
    pub fn flush_if_full(&mut self, w: &mut Writer) -> Result<()> {
        if self.buf.len() >= self.run_bytes {
            self.flush(w)?;
        }
        Ok(())
    }

    fn key_of(&self, e: &Held) -> &[u8] {
        let at = e.at as usize + (e.key & 31) as usize;
        &self.buf[at..at + (e.key >> 5) as usize]
    }

    /// Writes the buffered writes out as a run, sorted by key, the last
    /// write of each key alone.
    fn flush(&mut self, w: &mut Writer) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let mut entries = std::mem::take(&mut self.entries);
        // Among writes of one key, the last (the furthest in the buffer)
        // stays last. In place: no scratch as large as the list.
        entries.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| short_keys::cmp(self.key_of(a), self.key_of(b)))
                .then(a.at.cmp(&b.at))
        });
        let first = self.key_of(&entries[0]).to_vec();
        self.run_for(w, &first)?;
        // Out of the list while the buffer is read (both are `self`'s).
        let mut out = self.runs.pop().expect("a run is open");
        let written = (|| {
            for (i, e) in entries.iter().enumerate() {
                if entries
                    .get(i + 1)
                    .is_some_and(|next| short_keys::eq(self.key_of(next), self.key_of(e)))
                {
                    continue;
                }
                let rec = &self.buf[e.at as usize..];
                let h = record::decode_header(rec).expect("a record encoded here decodes");
                let rec = &rec[..h.total_len()];
                out.record(self.key_of(e), rec, h.tag.is_delete(), h.expires_at)?;
            }
            Ok(())
        })();
        self.runs.push(out);
        written?;
        self.buf.clear();
        entries.clear();
        self.entries = entries;
        self.close_unless_ordered()
    }

    /// The run to append writes from key `first` on to: the open run while
    /// the runs are in key order, `first` follows its last key and it is
    /// below the cap; else a new run, the open one closed first.
    fn run_for(&mut self, w: &mut Writer, first: &[u8]) -> Result<&mut Output> {
        let follows = self
            .runs
            .last()
            .is_none_or(|r| r.last_key.as_slice() < first);
        if !follows {
            self.ordered = false;
        }
        let full = self.runs.last().is_some_and(|r| r.size() >= self.cap);
        if !(self.open && self.ordered && !full) {
            self.close_open()?;
            let id = w.reserve_ids(1);
            self.made.push(id);
            let mut out = Output::create(&*self.storage, &self.dir, id, self.ordered)?;
            if self.ordered {
                self.hand_back_past_mark(&mut out);
            }
            self.runs.push(out);
            self.open = true;
        }
        Ok(self.runs.last_mut().expect("a run is open"))
    }

    /// Closes the open run unless the runs are in key order (a run that
    /// will be merged is not appended to).
    fn close_unless_ordered(&mut self) -> Result<()> {
        if !self.ordered {
            self.close_open()?;
        }
        Ok(())
    }

    /// Tells `out`, a new segment, to hand back its pages if the load's
    /// segments so far reach [`KEEP_CACHED`] (`keep_cached`).
    fn hand_back_past_mark(&self, out: &mut Output) {
        if self.written >= self.keep_cached {
            out.hand_back_pages();
        }
    }

    /// Closes the open run, if there is one (not fsynced: most runs are
    /// merged and removed), and, while the runs are in key order, writes
    /// its index: it is a finished segment unless a merge follows.
    fn close_open(&mut self) -> Result<()> {
        if !std::mem::replace(&mut self.open, false) {
            return Ok(());
        }
        let first = self.runs[0].id;
        let group = self.alone.then_some(Group { first, last: false });
        let meta = meta(group, self.base_live, self.compacted_at);
        let ordered = self.ordered;
        let run = self.runs.last_mut().expect("an open run is the last");
        run.close(false)?;
        if ordered && !self.replaces {
            self.written += run.len;
        }
        if ordered {
            run.write_index(&*self.storage, &self.dir, |_, _| meta)?;
        } else {
            // Every run so far will be merged: their files go.
            self.spilled.extend(self.runs.drain(..).map(Run::of));
        }
        Ok(())
    }

    /// Turns the runs into the batch's new segments, fsynced and indexed:
    /// the runs themselves when they are in key order and nothing more is
    /// to be merged in, else their merge. `old_keys`: the database's keys
    /// before the batch, each to be deleted unless the batch writes it (a
    /// load that replaces).
    pub fn finish(
        mut self,
        w: &mut Writer,
        old_keys: Option<&mut dyn Iterator<Item = Result<Vec<u8>>>>,
    ) -> Result<Outputs> {
        self.flush(w)?;
        // The buffer is done with: its memory goes before the merge's.
        self.buf = Vec::new();
        self.entries = Vec::new();
        // The last run's index, if it is a segment, is written below with
        // the last segment's footer.
        if std::mem::replace(&mut self.open, false) {
            self.runs
                .last_mut()
                .expect("an open run is the last")
                .close(false)?;
        }
        let runs = if self.ordered && old_keys.is_none() {
            std::mem::take(&mut self.runs)
        } else {
            self.merge_all(w, old_keys)?
        };
        let mut outputs = Outputs {
            segments: runs,
            bytes: 0,
        };
        let n = outputs.segments.len();
        let first = outputs.segments.first().map_or(0, |o| o.id);
        for (i, out) in outputs.segments.iter_mut().enumerate() {
            out.sync()?;
            let others = outputs.bytes;
            let last = i + 1 == n;
            let group = self.alone.then_some(Group { first, last });
            let carried = meta(group, self.base_live, self.compacted_at);
            out.write_index(&*self.storage, &self.dir, |log_len, idx_len| {
                if self.alone && last {
                    IndexMeta {
                        base_live: others + log_len + idx_len,
                        ..carried
                    }
                } else {
                    carried
                }
            })?;
            outputs.bytes += out.len + out.idx_len;
        }
        // Committed or not, nothing but the outputs may be left.
        self.made.clear();
        Ok(outputs)
    }
}

impl Drop for Bulk {
    fn drop(&mut self) {
        for &id in &self.made {
            output::discard(&*self.storage, &self.dir, id);
        }
    }
}

/// The footer of a bulk load's segment: the compaction base and time
/// carried forward, as a seal does; a group only for a load into an empty
/// database.
fn meta(group: Option<Group>, base_live: u64, compacted_at: u64) -> IndexMeta {
    IndexMeta {
        group,
        base_live,
        compacted_at,
        ..IndexMeta::default()
    }
}

#[cfg(test)]
mod tests;
