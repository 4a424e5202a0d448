//! `recover`: salvage every intact record.
//!
//! It reads each log through a window and keeps a whole one as it is; it
//! reads a damaged one whole, keeps every intact record, and moves every
//! other byte range into `lost+found/` (never deleting a byte); a damaged
//! log is rewritten (temp file, fsync, rename, directory fsync) without
//! those ranges. Then it rebuilds every index. A damaged batch that was
//! committed keeps its intact records (as a batch with a new commit
//! record); one that may be a torn, unacknowledged write (it runs to the
//! end of `wal.log` without its commit) goes to `lost+found/` whole, so
//! recovery never makes such a batch partial (see [`Salvage::end_batch`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::dir::{self, WAL, parse_seg_name, seg_idx_name, seg_log_name};
use super::index::{Index, IndexMeta};
use super::log;
use super::prefix_crc::PrefixCrc;
use super::record::{self, FILE_HEADER_LEN, LOG_MAGIC, Tag};
use super::segment::rebuild_index;
use super::storage::{OpenMode, Storage, Uncached};
use super::{Error, Options, Result, lock};

/// What `recover` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoverReport {
    /// Log files read.
    pub files: u64,
    /// Records kept.
    pub records_kept: u64,
    /// Bytes moved to `lost+found/`.
    pub bytes_moved: u64,
    /// The files written in `lost+found/`.
    pub moved_to: Vec<PathBuf>,
    /// Logs rewritten without their damaged bytes.
    pub rewritten: Vec<PathBuf>,
    /// Indexes rebuilt.
    pub indexes_rebuilt: u64,
}

/// The usable and unusable parts of a log's bytes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Salvage {
    /// A valid log: header and every complete unit, in order.
    kept: Vec<u8>,
    /// Byte ranges that are not part of a complete unit: (offset, length).
    lost: Vec<(u64, u64)>,
    records: u64,
    /// Bytes hashed to check CRCs: about the log's length, whatever damage
    /// it holds (see prefix_crc.rs).
    hashed: u64,
}

/// Which log `salvage` reads, which decides what a damaged batch means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Log {
    /// A sealed segment: every batch in it was committed before the seal.
    Sealed,
    /// The active log: a batch that runs to its end without a commit
    /// record may be a write torn by a crash, never acknowledged.
    Active,
    /// Only complete records and committed, undamaged batches count (the
    /// question open and check ask of what follows damage).
    Strict,
}

/// A batch being read: where it began, its intact records and the damaged
/// ranges between them (together they cover the batch's bytes so far).
struct Pending {
    start: usize,
    intact: Vec<(usize, usize)>,
    damage: Vec<(usize, usize)>,
}

fn salvage(bytes: &[u8], log: Log) -> Salvage {
    let mut s = Salvage {
        kept: record::file_header(LOG_MAGIC).to_vec(),
        ..Salvage::default()
    };
    if bytes.len() < FILE_HEADER_LEN {
        if bytes.iter().any(|&b| b != 0) {
            s.lose(0, bytes.len());
        }
        return s;
    }
    if record::check_file_header(bytes, LOG_MAGIC).is_err() {
        s.lose(0, FILE_HEADER_LEN);
    }
    let mut pos = FILE_HEADER_LEN;
    let mut batch: Option<Pending> = None;
    let mut crcs = PrefixCrc::new(bytes);
    while pos < bytes.len() {
        match crcs.decode_at(pos) {
            Ok((rec, n)) => {
                match rec.tag {
                    Tag::Put | Tag::Delete => {
                        if let Some(b) = batch.take() {
                            s.end_batch(bytes, b, pos, None, log);
                        }
                        s.kept.extend_from_slice(&bytes[pos..pos + n]);
                        s.records += 1;
                    }
                    Tag::BatchPut | Tag::BatchDelete => batch
                        .get_or_insert(Pending {
                            start: pos,
                            intact: Vec::new(),
                            damage: Vec::new(),
                        })
                        .intact
                        .push((pos, pos + n)),
                    Tag::BatchCommit => match batch.take() {
                        Some(b) => {
                            let count = rec.commit_count().unwrap_or(u32::MAX);
                            s.end_batch(bytes, b, pos + n, Some(count), log);
                        }
                        None => s.lose(pos, pos + n),
                    },
                }
                pos += n;
            }
            Err(_) => {
                // Each candidate costs its header and a few hundred bytes
                // of hashing, not the length it claims.
                let next = (pos + 1..bytes.len())
                    .find(|&p| crcs.decode_at(p).is_ok())
                    .unwrap_or(bytes.len());
                match &mut batch {
                    // Strict: damage ends the batch it is in, lost whole.
                    Some(b) if log == Log::Strict => {
                        s.lose(b.start, next);
                        batch = None;
                    }
                    Some(b) => b.damage.push((pos, next)),
                    None => s.lose(pos, next),
                }
                pos = next;
            }
        }
    }
    if let Some(b) = batch {
        s.end_batch(bytes, b, bytes.len(), None, log);
    }
    s.hashed = crcs.hashed;
    s
}

impl Salvage {
    /// Moves `from..to` to the lost ranges (merged with the last one when
    /// they touch).
    fn lose(&mut self, from: usize, to: usize) {
        if to > from {
            match self.lost.last_mut() {
                Some((off, len)) if *off + *len == from as u64 => *len += (to - from) as u64,
                _ => self.lost.push((from as u64, (to - from) as u64)),
            }
        }
    }

    /// Settles a batch whose bytes end at `end`: at its commit record
    /// (which counts `commit` records), or without one (at a plain record
    /// or the end of the log). An undamaged, committed batch is kept as it is. A batch
    /// that reached its commit, or is followed by later writes, or lies in
    /// a sealed segment was committed: its intact records are kept as a
    /// batch of their own with a new commit record, and its damage (and the
    /// old commit, which counts records that are gone) is lost. One that
    /// runs to the end of the active log uncommitted may be a torn write
    /// nobody was told had succeeded: it is lost whole, so that recovery
    /// never makes such a batch partial.
    fn end_batch(&mut self, bytes: &[u8], b: Pending, end: usize, commit: Option<u32>, log: Log) {
        let n = b.intact.len();
        let clean = b.damage.is_empty() && commit.is_some_and(|count| count as usize == n);
        if clean {
            self.kept.extend_from_slice(&bytes[b.start..end]);
            self.records += n as u64;
            return;
        }
        let torn = commit.is_none() && end == bytes.len() && log == Log::Active;
        if torn || log == Log::Strict || n == 0 {
            self.lose(b.start, end);
            return;
        }
        // Intact records and damage tile the batch: keep the one, lose the
        // other, in order; then the old commit, if any, is lost too.
        let mut pieces: Vec<(usize, usize, bool)> = b
            .intact
            .iter()
            .map(|&(from, to)| (from, to, true))
            .chain(b.damage.iter().map(|&(from, to)| (from, to, false)))
            .collect();
        pieces.sort_unstable();
        let mut covered = b.start;
        for (from, to, keep) in pieces {
            if keep {
                self.kept.extend_from_slice(&bytes[from..to]);
            } else {
                self.lose(from, to);
            }
            covered = to;
        }
        self.lose(covered, end);
        record::encode_commit(&mut self.kept, n as u32);
        self.records += n as u64;
    }
}

/// Whether `bytes` (what follows a damaged place in a log) hold a complete
/// record or committed batch, found as `recover` finds them.
pub(super) fn holds_intact_unit(bytes: &[u8]) -> bool {
    let mut log = record::file_header(LOG_MAGIC).to_vec();
    log.extend_from_slice(bytes);
    salvage(&log, Log::Strict).records > 0
}

pub(super) fn recover_dir(dir: &Path, opts: &Options) -> Result<RecoverReport> {
    if opts.read_only {
        return Err(Error::ReadOnly {
            path: dir.to_owned(),
        });
    }
    let storage = &*opts.storage;
    dir::prepare_dir(storage, dir, false)?;
    dir::refuse_foreign(dir, &dir::list(storage, dir)?)?;
    let _lock = lock::acquire(storage, dir, opts.lock_timeout)?;
    recover_files(storage, dir)
}

/// `recover` on a directory whose lock the caller holds.
pub(super) fn recover_files(storage: &dyn Storage, dir: &Path) -> Result<RecoverReport> {
    let mut listing = dir::list(storage, dir)?;
    // A bulk load committed up to its marker is finished first: its new
    // segments are still `.tmp` files, removed below otherwise.
    if listing.has_marker {
        super::bulk::settle(storage, dir, &listing.tmp, false)?;
        listing = dir::list(storage, dir)?;
    }
    let mut report = RecoverReport::default();
    for name in &listing.tmp {
        dir::remove(storage, &dir.join(name))?;
    }
    // The live-key tally describes the segments as they were: the next
    // count makes it again.
    if listing.has_count {
        dir::remove(storage, &dir.join(super::live_count::COUNT_FILE))?;
    }
    // A file of a newer format is not damage: refuse before changing a byte
    // (salvage would take its header for damage and relabel the file).
    let mut logs: Vec<PathBuf> = listing
        .logs
        .iter()
        .map(|&id| dir.join(seg_log_name(id)))
        .collect();
    if listing.has_wal {
        logs.push(dir.join(WAL));
    }
    for path in &logs {
        let file = dir::open(storage, path, OpenMode::Read)?;
        match dir::check_log_header(&*file, path) {
            Err(e @ Error::UnsupportedVersion { .. }) => return Err(e),
            Ok(()) | Err(Error::Corrupt { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    // What each old index says about compaction, read before any log is
    // rewritten: a rewritten segment's index is removed first (see salvage_file).
    let mut old_meta = BTreeMap::new();
    for &id in &listing.logs {
        if let Ok(old) = Index::open(storage, &dir.join(seg_idx_name(id)))? {
            old_meta.insert(id, old.footer);
        }
    }
    let mut names: Vec<String> = listing.logs.iter().map(|&id| seg_log_name(id)).collect();
    if listing.has_wal {
        names.push(WAL.to_owned());
    }
    for name in &names {
        salvage_file(storage, dir, name, &mut report)?;
    }
    for &id in &listing.idxs {
        if !listing.logs.contains(&id) {
            dir::remove(storage, &dir.join(seg_idx_name(id)))?;
        }
    }
    for &id in &listing.logs {
        let log_path = dir.join(seg_log_name(id));
        let idx_path = dir.join(seg_idx_name(id));
        let log = dir::open(storage, &log_path, OpenMode::Read)?;
        let len = dir::len(&*log, &log_path)?;
        // Keep what the old index said about compaction when it was readable.
        let old = old_meta.get(&id);
        let meta = old.map_or_else(IndexMeta::default, IndexMeta::of);
        let bytes = rebuild_index(&*log, &log_path, len, meta)?;
        dir::replace(storage, &idx_path, &bytes)?;
        report.indexes_rebuilt += 1;
    }
    dir::sync(storage, dir)?;
    Ok(report)
}

fn salvage_file(
    storage: &dyn Storage,
    dir: &Path,
    name: &str,
    report: &mut RecoverReport,
) -> Result<()> {
    let path = dir.join(name);
    let file = dir::open(storage, &path, OpenMode::Read)?;
    let len = dir::len(&*file, &path)?;
    // A whole log (the usual case) is read once through a window and kept
    // as it is: memory does not grow with the log. Only a damaged one is
    // read whole, to be salvaged.
    if dir::check_log_header(&*file, &path).is_ok() {
        let mut records = 0u64;
        let end = log::scan_eager(&Uncached(&*file), &path, |_| records += 1)?;
        if end.damage.is_none() && end.valid_len == len {
            report.files += 1;
            report.records_kept += records;
            return Ok(());
        }
    }
    let mut bytes = vec![0u8; len as usize];
    dir::read_exact(&*file, &path, &mut bytes, 0)?;
    report.files += 1;
    let log = if name == WAL {
        Log::Active
    } else {
        Log::Sealed
    };
    let mut s = salvage(&bytes, log);
    // Zeros from the active log's last record to its end are its room
    // (docs/format.md), not damage: cut, with nothing to save.
    if log == Log::Active
        && let Some(&(off, n)) = s.lost.last()
        && off + n == len
        && bytes[off as usize..].iter().all(|&b| b == 0)
    {
        s.lost.pop();
    }
    report.records_kept += s.records;
    if s.lost.is_empty() && s.kept.len() == bytes.len() {
        return Ok(());
    }
    for &(off, n) in &s.lost {
        let range = &bytes[off as usize..(off + n) as usize];
        let saved = dir::save_lost(storage, dir, name, off, range)?;
        report.bytes_moved += n;
        report.moved_to.push(saved);
    }
    if let Some((id, "log")) = parse_seg_name(name) {
        // The old index describes the old length; were it left and recover
        // stopped before rebuilding it, open would take the rewritten
        // segment for one cut short. Without it, open rebuilds it. The
        // removal is made durable before the rename: unsynced, a power
        // loss could keep the rename and undo the removal.
        if dir::remove_if_present(storage, &dir.join(seg_idx_name(id)))? {
            dir::sync(storage, dir)?;
        }
    }
    dir::replace_durably(storage, dir, &path, &s.kept)?;
    report.rewritten.push(path);
    Ok(())
}

#[cfg(test)]
mod tests;
