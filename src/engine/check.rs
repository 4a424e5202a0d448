//! `check`: read-only verification of every database file.
//!
//! It reads every byte and changes none: each record's CRC, each log's
//! structure (batches closed by their commit), and each index against the
//! segment it describes (every entry, slot and CRC). A torn tail of
//! `wal.log` is reported too, saying whether open would cut it or refuse it,
//! and so is a `wal.log` whose header never reached the disk whole, saying
//! that nothing is lost. A missing `wal.log` is no problem: the next write
//! creates it.

use std::path::{Path, PathBuf};

use super::dir::{self, WAL, seg_idx_name, seg_log_name};
use super::index::{Index, IndexMeta};
use super::log;
use super::record::FILE_HEADER_LEN;
use super::recovery::holds_intact_unit;
use super::replay;
use super::segment::{cut_short, index_from_log};
use super::storage::{OpenMode, Storage, StorageFile};
use super::{Error, Options, Result, lock};

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
    dir::prepare_dir(storage, dir, false)?;
    dir::refuse_foreign(dir, &dir::list(storage, dir)?)?;
    let _lock = if opts.read_only {
        lock::acquire_shared(storage, dir, opts.lock_timeout)?
    } else {
        Some(lock::acquire(storage, dir, opts.lock_timeout)?)
    };
    check_files(storage, dir)
}

pub(super) fn check_files(storage: &dyn Storage, dir: &Path) -> Result<CheckReport> {
    let listing = dir::list(storage, dir)?;
    let mut report = CheckReport::default();
    for &id in &listing.logs {
        check_segment(storage, dir, id, &mut report)?;
    }
    // A bulk load committed but not yet renamed into place (its marker is
    // there: a crash, or a failure, right after its commit point) is not
    // damage: the next open finishes it. Its new segments are checked
    // under their temporary names. (A marker whose segments are all in
    // place is a leftover, like a `.tmp` file: open removes it.)
    if listing.has_marker {
        for (id, path) in super::bulk::settle(storage, dir, &listing.tmp, true)? {
            check_segment_at(storage, dir, id, path, &mut report)?;
        }
    }
    if listing.has_wal {
        let path = dir.join(WAL);
        let file = dir::open(storage, &path, OpenMode::Read)?;
        report.files += 1;
        let len = dir::len(&*file, &path)?;
        if let Some(problem) = unfinished_log(&*file, &path, len)? {
            report.problems.push(problem);
        } else if check_header(&*file, &path, &mut report)? {
            let end = log::scan(&*file, &path, |_| report.records += 1)?;
            // Zeros to the end are room made ahead of the appends, not damage
            // (docs/format.md, "Room ahead of the active log").
            let mut tail = vec![0u8; (end.file_len - end.valid_len) as usize];
            dir::read_exact(&*file, &path, &mut tail, end.valid_len)?;
            let room = tail.iter().all(|&b| b == 0);
            if let Some(d) = end.damage.filter(|_| !room) {
                let mut after = vec![0u8; (end.file_len - d.offset).saturating_sub(1) as usize];
                dir::read_exact(&*file, &path, &mut after, d.offset + 1)?;
                let how = if holds_intact_unit(&after) {
                    replay::INTACT_AFTER
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
    if listing.has_count && report.is_clean() {
        let problem = super::live_count::check_file(storage, dir, &listing.logs)?;
        report.files += 1;
        report.problems.extend(problem);
    }
    Ok(report)
}

/// A `wal.log` no longer than its header whose header is not whole (empty,
/// shorter, or damaged): what a log whose creation never finished leaves
/// (tinykv now creates it whole or not at all), or a log cut from outside.
/// It holds no record, and open reads it as empty: said as such, rather
/// than a bare `ok` (check cannot tell whether it held records once).
fn unfinished_log(file: &dyn StorageFile, path: &Path, len: u64) -> Result<Option<Problem>> {
    if len > FILE_HEADER_LEN as u64 {
        return Ok(None);
    }
    let mut head = vec![0u8; len as usize];
    dir::read_exact(file, path, &mut head, 0)?;
    let what = match len {
        0 => "empty, without even its header",
        _ if len < FILE_HEADER_LEN as u64 => "shorter than its header",
        _ => match dir::check_log_header(file, path) {
            Ok(()) => return Ok(None),
            Err(Error::Corrupt { .. }) => "its header damaged",
            Err(e) => return Err(e),
        },
    };
    let saved = if head.iter().any(|&b| b != 0) {
        " (its bytes go to lost+found/ first)"
    } else {
        ""
    };
    Ok(Some(Problem {
        path: path.to_owned(),
        offset: 0,
        reason: format!(
            "{len} bytes, {what}; it holds no record: a log whose creation never \
             finished (a crash or a full disk) loses nothing by it, and open reads it as \
             empty, the next write replacing it{saved}"
        ),
    }))
}

/// Checks a log's header: damage is a problem to report; a newer format
/// version (or a failed read) is an error, since this build cannot judge
/// the file at all.
fn check_header(file: &dyn StorageFile, path: &Path, report: &mut CheckReport) -> Result<bool> {
    match dir::check_log_header(file, path) {
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
    check_segment_at(storage, dir, id, dir.join(seg_log_name(id)), report)
}

/// [`check_segment`] of a log at `log_path`.
fn check_segment_at(
    storage: &dyn Storage,
    dir: &Path,
    id: u64,
    log_path: std::path::PathBuf,
    report: &mut CheckReport,
) -> Result<()> {
    let idx_path = dir.join(seg_idx_name(id));
    let file = dir::open(storage, &log_path, OpenMode::Read)?;
    report.files += 2;
    if !check_header(&*file, &log_path, report)? {
        return Ok(());
    }
    // One pass judges the log and builds what a rebuild of its index would
    // write (segment::index_from_log: a log in key order streams into the
    // builder, so a 1M-key load's check holds megabytes, not the 228 MB of
    // every key; CLI review), keeping what the index's footer says about
    // compaction, which the segment cannot tell.
    let index = Index::open(storage, &idx_path)?;
    // An index of an older format is compared with what that format
    // would hold (this build reads it as it is), and one written without
    // its blocks' CRCs (a sealed active log's) with a rebuild without them.
    let meta = index.as_ref().map_or_else(
        |_| IndexMeta::default(),
        |i| IndexMeta {
            version: i.version(),
            block_crcs: i.footer.block_crcs,
            ..IndexMeta::of(&i.footer)
        },
    );
    let file_len = dir::len(&*file, &log_path)?;
    let (end, want) = index_from_log(&*file, &log_path, file_len, meta, |_| {
        report.records += 1;
    })?;
    let problem = |offset, reason: String| Problem {
        path: idx_path.clone(),
        offset,
        reason,
    };
    if let Some(d) = end.damage {
        // An index cannot be judged against a damaged log; recover
        // rebuilds it once the log is salvaged.
        report.problems.push(Problem {
            path: log_path.clone(),
            offset: d.offset,
            reason: d.reason,
        });
        return Ok(());
    }
    let index = match index {
        Ok(i) => i,
        Err(why) => {
            report
                .problems
                .push(problem(0, format!("index {why} (open rebuilds it)")));
            return Ok(());
        }
    };
    if index.footer.segment_len > end.file_len {
        let e = cut_short(&log_path, end.file_len, index.footer.segment_len);
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
    // An index is derived data: it must be byte for byte that rebuild.
    let idx_file = dir::open(storage, &idx_path, OpenMode::Read)?;
    if let Some(at) =
        first_difference(&*idx_file, &want).map_err(|e| Error::io("read", &idx_path, e))?
    {
        report.problems.push(problem(
            at,
            "index does not match its segment (recover rebuilds it)".into(),
        ));
    }
    Ok(())
}

/// The first offset where `file` differs from `want` (or where one of them
/// ends before the other), read in chunks so memory holds one chunk.
fn first_difference(file: &dyn StorageFile, want: &[u8]) -> std::io::Result<Option<u64>> {
    const CHUNK: usize = 256 * 1024;
    let len = file.len()?;
    let mut buf = vec![0u8; CHUNK];
    for (i, expected) in want.chunks(CHUNK).enumerate() {
        let at = (i * CHUNK) as u64;
        let n = file.read_at(&mut buf[..expected.len()], at)?;
        if let Some(d) = buf[..n].iter().zip(expected).position(|(a, b)| a != b) {
            return Ok(Some(at + d as u64));
        }
        if n < expected.len() {
            return Ok(Some(at + n as u64));
        }
    }
    Ok((len != want.len() as u64).then_some(want.len().min(len as usize) as u64))
}
