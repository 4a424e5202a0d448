//! Replaying the active log at open: every committed operation into the
//! in-memory map, and a torn or corrupt tail cut off at the last intact
//! record (saved in `lost+found/` unless it is all zero or only an
//! unfinished batch); damage with intact records after it is refused, not
//! cut, so that `recover` keeps what follows.
//!
//! Invariant: no open needs free space to read. What replay finds to
//! repair with new bytes (a missing log, one whose header never reached the
//! disk, a torn tail to save) is a [`LogRepair`]: open tries it, and when
//! it cannot be made (a full disk) the database opens all the same, reading
//! the log as it is, and the next write or seal makes the repair first
//! ([`make_repair`]). Until then nothing is appended to the log. A
//! read-only handle never makes it: it reads the log, as it is, up to its
//! last intact record.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::dir::{self, WAL, check_log_header, create_wal};
use super::log;
use super::record::{self, FILE_HEADER_LEN};
use super::recovery;
use super::storage::{OpenMode, Storage, StorageFile};
use super::{Error, LogOrder, MemSlot, OpenReport, Result, Truncation, Writer};

/// Why damage in the middle of the active log is not cut like a torn tail.
pub(super) const INTACT_AFTER: &str =
    "intact records follow it, so it is not a torn write; recover keeps them";

/// A repair of the active log that needs free space, made before the next
/// append or seal (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum LogRepair {
    /// `wal.log` is missing, or holds no record (its header never reached
    /// the disk whole): a new log replaces it. `save`: why its bytes, which
    /// are not all zero, go to `lost+found/` first.
    NewLog { save: Option<String> },
    /// The bytes past the log's valid length are a torn tail, to be cut
    /// (and first saved to `lost+found/` when `save`).
    CutTail { cut: Truncation, save: bool },
}

/// The active log as replay found it.
pub(super) struct Replayed {
    /// The log to read (and, once `repair` is made, to append to).
    pub file: Arc<dyn StorageFile>,
    /// Where its intact records end.
    pub len: u64,
    /// Where the file ends when only zeros follow its records: the room
    /// a writer made ahead of its appends (docs/format.md), kept as such.
    pub room_end: u64,
    pub mem: BTreeMap<Vec<u8>, MemSlot>,
    pub order: LogOrder,
    pub repair: Option<LogRepair>,
}

/// What stands for the active log while there is none (see
/// [`LogRepair::NewLog`]): it holds no byte and refuses every write, so
/// that nothing can be appended before the log is created.
#[derive(Debug)]
pub(super) struct NoLog;

impl StorageFile for NoLog {
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> io::Result<usize> {
        Ok(0)
    }
    fn write_at(&self, _buf: &[u8], _offset: u64) -> io::Result<()> {
        Err(io::Error::other("the active log has not been created"))
    }
    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(0)
    }
    fn set_len(&self, _len: u64) -> io::Result<()> {
        Err(io::Error::other("the active log has not been created"))
    }
}

/// A log that holds no record yet and must be created.
fn no_log(save: Option<String>) -> Replayed {
    Replayed {
        file: Arc::new(NoLog),
        len: FILE_HEADER_LEN as u64,
        room_end: 0,
        mem: BTreeMap::new(),
        order: LogOrder::default(),
        repair: Some(LogRepair::NewLog { save }),
    }
}

/// Replays `wal.log` at `path`; `exists`: whether the directory's listing
/// holds it (a missing log is not created here: see the module doc);
/// `read_only`: the log is opened for reading only, and its repair is
/// never made (a torn tail stays where it is).
pub(super) fn replay_wal(
    storage: &dyn Storage,
    path: &Path,
    exists: bool,
    read_only: bool,
    report: &mut OpenReport,
) -> Result<Replayed> {
    if !exists {
        return Ok(no_log(None));
    }
    let mode = if read_only {
        OpenMode::Read
    } else {
        OpenMode::ReadWrite
    };
    let file = dir::open(storage, path, mode)?;
    let len = dir::len(&*file, path)?;
    // A log no longer than its header holds no record. If the header is
    // damaged too, it never reached the disk whole (a crash while a log
    // was created by an older tinykv, which wrote it in place): start
    // afresh, as for a shorter file, keeping any bytes that are not zero.
    let torn_header = len == FILE_HEADER_LEN as u64
        && matches!(check_log_header(&*file, path), Err(Error::Corrupt { .. }));
    if len < FILE_HEADER_LEN as u64 || torn_header {
        let mut head = vec![0u8; len as usize];
        dir::read_exact(&*file, path, &mut head, 0)?;
        let why = if torn_header {
            "log header damaged"
        } else {
            "log shorter than its header"
        };
        return Ok(no_log(head.iter().any(|&b| b != 0).then(|| why.into())));
    }
    if let Err(e) = check_log_header(&*file, path) {
        // A crash while the log was being created can leave its header torn.
        // That log holds no record: start afresh, keeping its bytes. A bad
        // header in front of intact records is real damage, for recover.
        let Error::Corrupt { .. } = e else {
            return Err(e);
        };
        let mut records = 0u64;
        log::scan(&*file, path, |_| records += 1)?;
        if records > 0 {
            return Err(e);
        }
        return Ok(no_log(Some("log header torn".into())));
    }
    let mut mem = BTreeMap::new();
    let mut order = LogOrder::default();
    let mut replayed = 0;
    let end = log::scan(&*file, path, |op| {
        replayed += 1;
        order.note(&op.key);
        mem.insert(
            op.key,
            MemSlot {
                delete: op.delete,
                offset: op.offset,
                len: op.len,
                expires: MemSlot::encode_expiry(op.expires_at),
            },
        );
    })?;
    report.replayed = replayed;
    let mut repair = None;
    let mut tail = vec![0u8; (end.file_len - end.valid_len) as usize];
    if end.damage.is_some() {
        dir::read_exact(&*file, path, &mut tail, end.valid_len)?;
    }
    // Zeros to the end are room made ahead of the appends (docs/format.md,
    // "Room ahead of the active log"): the log ends there, nothing is torn,
    // and the room is kept.
    let room = end.damage.is_some() && tail.iter().all(|&b| b == 0);
    let room_end = if room { end.file_len } else { end.valid_len };
    if let Some(damage) = end.damage.filter(|_| !room) {
        let cut = end.file_len - end.valid_len;
        // A crash tears only the end of the log. Damage with intact records
        // after it is something else, and cutting there would drop them
        // (and bring older values back): leave it whole for recover.
        let after = (damage.offset - end.valid_len + 1) as usize;
        if recovery::holds_intact_unit(tail.get(after..).unwrap_or_default()) {
            return Err(Error::corrupt(
                path,
                damage.offset,
                format!("{}; {INTACT_AFTER}", damage.reason),
            ));
        }
        let unfinished = unfinished_batch(&tail);
        // A batch cut off before its commit (an interrupted `load`) was
        // never acknowledged: nothing is lost, nothing worth keeping.
        let reason = if unfinished > 0 {
            format!("an unfinished batch of {unfinished} records, never acknowledged")
        } else {
            format!("at offset {}: {}", damage.offset, damage.reason)
        };
        repair = Some(LogRepair::CutTail {
            cut: Truncation {
                offset: end.valid_len,
                bytes: cut,
                reason,
                saved_to: None,
                unfinished_batch: unfinished > 0,
            },
            save: unfinished == 0 && tail.iter().any(|&b| b != 0),
        });
    }
    Ok(Replayed {
        file,
        len: end.valid_len,
        room_end,
        mem,
        order,
        repair,
    })
}

/// Makes the writer's pending [`LogRepair`], if any; returns what was cut,
/// for the open report. A failed fsync poisons the writer (the kernel may
/// have dropped what it was to write); any other failure (a full disk)
/// leaves the repair pending and the log as it was.
pub(super) fn make_repair(
    storage: &dyn Storage,
    dir: &Path,
    w: &mut Writer,
) -> Result<Option<Truncation>> {
    let Some(repair) = w.repair.clone() else {
        return Ok(None);
    };
    let path = dir.join(WAL);
    let done = match repair {
        LogRepair::NewLog { save } => (|| {
            let mut cut = None;
            if let Some(why) = save
                && dir::kind(storage, &path)?.is_some()
            {
                let old = dir::open(storage, &path, OpenMode::Read)?;
                let mut bytes = vec![0u8; dir::len(&*old, &path)? as usize];
                dir::read_exact(&*old, &path, &mut bytes, 0)?;
                cut = Some(save_tail(storage, dir, &bytes, 0, &why)?);
            }
            let f = create_wal(storage, dir)?;
            w.wal = f;
            w.wal_len = FILE_HEADER_LEN as u64;
            w.order = LogOrder::default();
            w.log_synced = true;
            Ok(cut)
        })(),
        LogRepair::CutTail { mut cut, save } => (|| {
            let file = Arc::clone(&w.wal);
            if save {
                let mut tail = vec![0u8; cut.bytes as usize];
                dir::read_exact(&*file, &path, &mut tail, cut.offset)?;
                cut.saved_to = save_tail(storage, dir, &tail, cut.offset, &cut.reason)?.saved_to;
            }
            file.set_len(cut.offset)
                .map_err(|e| Error::io("truncate", &path, e))?;
            file.sync_data().map_err(|e| Error::io("fsync", &path, e))?;
            w.log_synced = true;
            Ok(Some(cut))
        })(),
    };
    match done {
        Ok(cut) => {
            w.repair = None;
            Ok(cut)
        }
        Err(e) => {
            if matches!(e, Error::Io { op: "fsync", .. }) {
                w.poison(&e);
            }
            Err(e)
        }
    }
}

/// How many intact batch records `tail` starts with, when nothing but batch
/// records (and at most one torn record at the end) is there; 0 otherwise.
fn unfinished_batch(tail: &[u8]) -> usize {
    let (mut pos, mut n) = (0, 0);
    while let Ok((rec, len)) = record::decode(&tail[pos..]) {
        if !matches!(rec.tag, record::Tag::BatchPut | record::Tag::BatchDelete) {
            return 0;
        }
        pos += len;
        n += 1;
    }
    n
}

/// Saves the bytes cut off the active log in `lost+found/` unless they are
/// all zero (what a crash leaves after a pre-allocated or torn write).
fn save_tail(
    storage: &dyn Storage,
    dir: &Path,
    tail: &[u8],
    offset: u64,
    reason: &str,
) -> Result<Truncation> {
    let saved_to = if tail.iter().any(|&b| b != 0) {
        Some(dir::save_lost(storage, dir, WAL, offset, tail)?)
    } else {
        None
    };
    Ok(Truncation {
        offset,
        bytes: tail.len() as u64,
        reason: reason.into(),
        saved_to,
        unfinished_batch: false,
    })
}

#[cfg(test)]
mod tests;
