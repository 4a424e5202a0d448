//! `check`: read-only verification of every database file.
//!
//! It reads every byte and changes none: each record's CRC, each log's
//! structure (batches closed by their commit), and each index against the
//! segment it describes (every entry, slot and CRC). A torn tail of
//! `wal.log` is reported too, saying whether open would cut it or refuse it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::index::Index;
use super::log;
use super::open;
use super::record::{self, FILE_HEADER_LEN};
use super::recovery::holds_intact_unit;
use super::storage::{OpenMode, Storage, read_exact_at};
use super::{Error, Options, Result, WAL, lock, seg_idx_name, seg_log_name};

/// One damaged place found by `check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The damaged file.
    pub path: PathBuf,
    /// Offset of the damage in it.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// What `check` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Files read.
    pub files: u64,
    /// Intact records read.
    pub records: u64,
    /// Every damaged place (empty when the database is clean).
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// Whether no damage was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

pub(super) fn check_dir(dir: &Path, opts: &Options) -> Result<CheckReport> {
    let storage = &*opts.storage;
    open::prepare_dir(storage, dir, false)?;
    open::refuse_foreign(dir, &open::list(storage, dir)?)?;
    let _lock = lock::acquire(storage, dir, opts.lock_timeout)?;
    check_files(storage, dir)
}

pub(super) fn check_files(storage: &dyn Storage, dir: &Path) -> Result<CheckReport> {
    let listing = open::list(storage, dir)?;
    let mut report = CheckReport::default();
    for &id in &listing.logs {
        check_segment(storage, dir, id, &mut report)?;
    }
    if listing.has_wal {
        let path = dir.join(WAL);
        let file = storage
            .open(&path, OpenMode::Read)
            .map_err(|e| Error::io("open", &path, e))?;
        report.files += 1;
        let len = file.len().map_err(|e| Error::io("stat", &path, e))?;
        if len > 0 && check_header(&*file, &path, &mut report)? {
            let end = log::scan(&*file, &path, |_| report.records += 1)?;
            if let Some(d) = end.damage {
                let mut after = vec![0u8; (end.file_len - d.offset).saturating_sub(1) as usize];
                read_exact_at(&*file, &mut after, d.offset + 1)
                    .map_err(|e| Error::io("read", &path, e))?;
                let how = if holds_intact_unit(&after) {
                    open::INTACT_AFTER
                } else {
                    "a torn tail; open cuts it, recover saves it"
                };
                report.problems.push(Problem {
                    path,
                    offset: d.offset,
                    reason: format!("{} ({how})", d.reason),
                });
            }
        }
    }
    Ok(report)
}

/// Checks a log's header: damage is a problem to report; a newer format
/// version (or a failed read) is an error, since this build cannot judge
/// the file at all.
fn check_header(
    file: &dyn super::storage::StorageFile,
    path: &Path,
    report: &mut CheckReport,
) -> Result<bool> {
    match open::check_log_header(file, path) {
        Ok(()) => Ok(true),
        Err(Error::Corrupt { offset, reason, .. }) => {
            report.problems.push(Problem {
                path: path.to_owned(),
                offset,
                reason,
            });
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

fn check_segment(
    storage: &dyn Storage,
    dir: &Path,
    id: u64,
    report: &mut CheckReport,
) -> Result<()> {
    let log_path = dir.join(seg_log_name(id));
    let idx_path = dir.join(seg_idx_name(id));
    let file = storage
        .open(&log_path, OpenMode::Read)
        .map_err(|e| Error::io("open", &log_path, e))?;
    report.files += 2;
    if !check_header(&*file, &log_path, report)? {
        return Ok(());
    }
    let mut latest = BTreeMap::new();
    let end = log::scan(&*file, &log_path, |op| {
        report.records += 1;
        latest.insert(op.key.clone(), op);
    })?;
    let problem = |offset, reason: String| Problem {
        path: idx_path.clone(),
        offset,
        reason,
    };
    if let Some(d) = end.damage {
        report.problems.push(Problem {
            path: log_path.clone(),
            offset: d.offset,
            reason: d.reason,
        });
    }
    let index = match Index::open(storage, &idx_path)? {
        Ok(i) => std::sync::Arc::new(i),
        Err(why) => {
            report
                .problems
                .push(problem(0, format!("index {why} (open rebuilds it)")));
            return Ok(());
        }
    };
    if index.footer.segment_len > end.file_len {
        let e = open::cut_short(&log_path, end.file_len, index.footer.segment_len);
        if let Error::Corrupt { offset, reason, .. } = e {
            report.problems.push(Problem {
                path: log_path.clone(),
                offset,
                reason,
            });
        }
        return Ok(());
    }
    if index.footer.segment_len != end.file_len {
        report.problems.push(problem(
            0,
            "index describes a segment of another length".into(),
        ));
        return Ok(());
    }
    let mut seen = 0u64;
    for entry in index.entries_from(FILE_HEADER_LEN as u64) {
        let entry = match entry {
            Ok(e) => e,
            Err(Error::Corrupt { offset, reason, .. }) => {
                report.problems.push(problem(offset, reason));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        seen += 1;
        let matches = latest.get(&entry.key).is_some_and(|op| {
            op.offset == entry.offset && op.len == entry.len && op.delete == entry.delete
        });
        if !matches {
            report.problems.push(problem(
                0,
                "an entry does not match the segment's newest record for its key".into(),
            ));
            return Ok(());
        }
    }
    if seen != latest.len() as u64 || seen != index.footer.entries {
        report.problems.push(problem(
            0,
            "index does not list every key of its segment".into(),
        ));
        return Ok(());
    }
    if let Err(Error::Corrupt { offset, reason, .. }) = index.sparse() {
        report.problems.push(problem(offset, reason));
        return Ok(());
    }
    // Every slot's CRC, and each key findable through the table.
    let table_len = index.footer.table_slots * 16;
    let idx_file = storage
        .open(&idx_path, OpenMode::Read)
        .map_err(|e| Error::io("open", &idx_path, e))?;
    let mut table = vec![0u8; table_len as usize];
    read_exact_at(&*idx_file, &mut table, index.footer.table_off)
        .map_err(|e| Error::io("read", &idx_path, e))?;
    for (i, slot) in table.chunks_exact(16).enumerate() {
        if crc32fast::hash(&slot[..12]) != record::u32_at(slot, 12) {
            report.problems.push(problem(
                index.footer.table_off + i as u64 * 16,
                "slot CRC mismatch".into(),
            ));
            return Ok(());
        }
    }
    for key in latest.keys() {
        match index.lookup(key) {
            Ok(Some(_)) => {}
            Ok(None) => {
                report.problems.push(problem(
                    0,
                    "a key of the segment is missing from the table".into(),
                ));
                return Ok(());
            }
            Err(Error::Corrupt { offset, reason, .. }) => {
                report.problems.push(problem(offset, reason));
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
