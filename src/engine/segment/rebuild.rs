//! Opening a sealed segment, and rebuilding its index from its log: at
//! open when the index is missing or does not match the segment, when a
//! lookup or walk meets a damaged index ([`Db::heal`]), in `check` (which
//! compares the index with what a rebuild writes) and in `recover`.
//!
//! An index is derived data, so rebuilding it never loses anything; a
//! sealed log is never changed here. A read-only handle keeps what it
//! rebuilds in memory and writes nothing. Any damage in the log fails the
//! rebuild with the log's file and offset (only `recover` salvages a
//! log), and a segment shorter than its intact index says is reported as
//! cut short rather than re-indexed, which would hide the cut keys.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::Segment;
use crate::engine::dir::{self, seg_idx_name, seg_log_name};
use crate::engine::index::{self, BlockCrcs, Entry, Index, IndexMeta, Kind};
use crate::engine::log::{self, LogOrder, LoggedOp};
use crate::engine::storage::{OpenMode, Storage, StorageFile, WithFile};
use crate::engine::{Db, Error, OpenReport, Result};

/// Opens one segment and its index, rebuilding the index when it is
/// missing, damaged or does not match the segment's length (in memory
/// only when `read_only`).
pub(in crate::engine) fn open_segment(
    storage: &dyn Storage,
    dir: &Path,
    id: u64,
    read_only: bool,
    report: &mut OpenReport,
) -> Result<Segment> {
    open_segment_at(
        storage,
        dir,
        id,
        dir.join(seg_log_name(id)),
        read_only,
        report,
    )
}

/// [`open_segment`] of a log at `log_path` (a read-only handle reads a bulk
/// load's committed segment under its temporary name: see bulk/marker.rs).
pub(in crate::engine) fn open_segment_at(
    storage: &dyn Storage,
    dir: &Path,
    id: u64,
    log_path: std::path::PathBuf,
    read_only: bool,
    report: &mut OpenReport,
) -> Result<Segment> {
    let idx_path = dir.join(seg_idx_name(id));
    let log = dir::open(storage, &log_path, OpenMode::Read)?;
    let log_len = dir::len(&*log, &log_path)?;
    dir::check_log_header(&*log, &log_path)?;
    let index = match Index::open(storage, &idx_path)? {
        Ok(index) if index.footer.segment_len == log_len => index,
        // A sealed segment never shrinks. Rebuilding the index from what is
        // left would hide the cut records' keys, or bring back their older
        // values, without a word.
        Ok(index) if index.footer.segment_len > log_len => {
            return Err(cut_short(&log_path, log_len, index.footer.segment_len));
        }
        _ => {
            let bytes = rebuild_index(&*log, &log_path, log_len, IndexMeta::default())?;
            if read_only {
                in_memory(storage, &idx_path, bytes)?
            } else {
                dir::replace_durably(storage, dir, &idx_path, &bytes)?;
                report.rebuilt_indexes.push(idx_path.clone());
                Index::open_written(storage, &idx_path)?
            }
        }
    };
    Ok(Segment {
        id,
        log_path,
        log,
        log_len,
        index: Arc::new(index),
    })
}

/// An index rebuilt by a read-only handle, which may not write it: opened
/// from memory, for as long as the handle lives.
fn in_memory(storage: &dyn Storage, idx_path: &Path, bytes: Vec<u8>) -> Result<Index> {
    Index::open_written(&WithFile::new(storage, idx_path, bytes), idx_path)
}

/// The error for a sealed segment shorter than its intact index says.
pub(in crate::engine) fn cut_short(log_path: &Path, len: u64, indexed: u64) -> Error {
    Error::corrupt(
        log_path,
        len,
        format!("segment cut short: {len} bytes, its index describes {indexed}"),
    )
}

/// The index of a sealed log, rebuilt from its records, with `meta` in its
/// footer. A log in key order (what compaction and sorted bulk loads
/// write) streams into the builder, which keeps only its sparse levels;
/// any other gets a second pass that gathers every key ([`scan_segment`]).
/// A 1M-key bulk load's rebuild held 228 MB when every log was gathered
/// (CLI review). Any damage is an error.
pub(in crate::engine) fn rebuild_index(
    log: &dyn StorageFile,
    path: &Path,
    segment_len: u64,
    meta: IndexMeta,
) -> Result<Vec<u8>> {
    let (end, bytes) = index_from_log(log, path, segment_len, meta, |_| {})?;
    match end.damage {
        Some(d) => Err(Error::corrupt(path, d.offset, d.reason)),
        None => Ok(bytes),
    }
}

/// [`rebuild_index`] for a caller that judges the log itself (`check`):
/// how the scan ended, with `seen` shown every operation of its first
/// pass, and the index bytes (empty when the log is damaged).
pub(in crate::engine) fn index_from_log(
    log: &dyn StorageFile,
    path: &Path,
    segment_len: u64,
    meta: IndexMeta,
    mut seen: impl FnMut(&LoggedOp),
) -> Result<(log::ScanEnd, Vec<u8>)> {
    let mut order = LogOrder::default();
    let crcs = match meta.block_crcs {
        true => BlockCrcs::Fed,
        false => BlockCrcs::Without,
    };
    let sorted =
        RefCell::new(index::Builder::with_version(Kind::Sorted, meta.version).block_crcs(crcs));
    let sorted_so_far = Cell::new(true);
    let end = log::scan_eager_bytes(
        log,
        path,
        |op| {
            seen(&op);
            order.note(&op.key);
            sorted_so_far.set(order.sorted);
            if order.sorted {
                sorted.borrow_mut().push(&Entry::from(op));
            }
        },
        |at, bytes| {
            if sorted_so_far.get() {
                sorted.borrow_mut().feed(at, bytes);
            }
        },
    )?;
    let sorted = sorted.into_inner();
    let bytes = if end.damage.is_some() {
        Vec::new()
    } else if order.sorted {
        sorted.finish(segment_len, |_| meta)
    } else {
        let (entries, kind) = scan_segment(log, path)?;
        index::encode(&entries, kind, segment_len, meta)
    };
    Ok((end, bytes))
}

/// Index entries for a sealed log, from a full scan, and the kind of index
/// it gets (sorted when its keyed records are in strictly increasing key
/// order). Any damage is an error: a sealed segment is never silently
/// shortened.
fn scan_segment(log: &dyn StorageFile, path: &Path) -> Result<(Vec<Entry>, Kind)> {
    let mut latest: BTreeMap<Vec<u8>, LoggedOp> = BTreeMap::new();
    let mut order = LogOrder::default();
    // Eager: any damage discards what was gathered, so a batch (a bulk
    // load's segment is one of millions) need not be held until its commit.
    let end = log::scan_eager(log, path, |op| {
        order.note(&op.key);
        latest.insert(op.key.clone(), op);
    })?;
    if let Some(d) = end.damage {
        return Err(Error::corrupt(path, d.offset, d.reason));
    }
    let entries = latest.into_values().map(Entry::from).collect();
    let kind = order.kind();
    Ok((entries, kind))
}

impl Db {
    /// Rebuilds the index of `seg` from its log and swaps it in: what a
    /// lookup or walk does when it finds the index damaged (a slot or entry
    /// CRC mismatch, an entry pointing past its segment or at a record of
    /// another key), so that a damaged index never gives a wrong answer and
    /// never stops reads. If the log itself is damaged, the rebuild reports
    /// that instead, with the log's file and offset.
    pub(in crate::engine) fn heal(&self, seg: &Arc<Segment>) -> Result<Arc<Segment>> {
        // Not the writer lock: compaction reads through this path while it
        // holds that. A heal racing a compaction that removes the segment at
        // worst leaves a stray index, which open removes.
        let _h = self.heal_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            st.segments.iter().find(|s| s.id == seg.id).cloned()
        };
        if let Some(current) = &current
            && !Arc::ptr_eq(&current.index, &seg.index)
        {
            return Ok(Arc::clone(current)); // Another reader healed it first.
        }
        let storage = &*self.opts.storage;
        let idx_path = self.dir.join(seg_idx_name(seg.id));
        let meta = IndexMeta::of(&seg.index.footer);
        let bytes = rebuild_index(&*seg.log, &seg.log_path, seg.log_len, meta)?;
        let index = if self.is_read_only() {
            in_memory(storage, &idx_path, bytes)?
        } else {
            dir::replace_durably(storage, &self.dir, &idx_path, &bytes)?;
            Index::open_written(storage, &idx_path)?
        };
        let healed = Arc::new(Segment {
            id: seg.id,
            log_path: seg.log_path.clone(),
            log: Arc::clone(&seg.log),
            log_len: seg.log_len,
            index: Arc::new(index),
        });
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        if !st.segments.iter().any(|s| s.id == seg.id) {
            return Ok(healed); // Compacted away meanwhile; still right for this lookup.
        }
        let segments: Vec<_> = st
            .segments
            .iter()
            .map(|s| {
                if s.id == seg.id {
                    Arc::clone(&healed)
                } else {
                    Arc::clone(s)
                }
            })
            .collect();
        st.segments = Arc::new(segments);
        st.generation += 1;
        Ok(healed)
    }
}

#[cfg(test)]
mod tests;
