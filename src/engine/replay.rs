//! Replaying the active log at open: every committed operation into the
//! in-memory map, and a torn or corrupt tail cut off at the last intact
//! record (saved in `lost+found/` unless it is all zero or only an
//! unfinished batch); damage with intact records after it is refused, not
//! cut, so that `recover` keeps what follows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::log;
use super::open::{check_log_header, create_wal};
use super::record::{self, FILE_HEADER_LEN};
use super::recovery;
use super::storage::{OpenMode, Storage, StorageFile, read_exact_at};
use super::{Error, LOST_FOUND, LogOrder, MemSlot, OpenReport, Result, Truncation, WAL};

/// Why damage in the middle of the active log is not cut like a torn tail.
pub(super) const INTACT_AFTER: &str =
    "intact records follow it, so it is not a torn write; recover keeps them";

type Replayed = (
    Arc<dyn StorageFile>,
    u64,
    BTreeMap<Vec<u8>, MemSlot>,
    LogOrder,
);

pub(super) fn replay_wal(
    storage: &dyn Storage,
    dir: &Path,
    path: &Path,
    report: &mut OpenReport,
) -> Result<Replayed> {
    let file = match storage.open(path, OpenMode::ReadWrite) {
        Ok(f) => f,
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let len = file.len().map_err(|e| Error::io("stat", path, e))?;
    // A log no longer than its header holds no record. If the header is
    // damaged too, it never reached the disk whole (a crash while a new log
    // was created): start afresh, as for a shorter file.
    let torn_header = len == FILE_HEADER_LEN as u64
        && matches!(check_log_header(&*file, path), Err(Error::Corrupt { .. }));
    if len < FILE_HEADER_LEN as u64 || torn_header {
        // A log whose header never reached the disk holds no record: start afresh.
        let mut head = vec![0u8; len as usize];
        read_exact_at(&*file, &mut head, 0).map_err(|e| Error::io("read", path, e))?;
        if head.iter().any(|&b| b != 0) {
            report.truncated = Some(save_tail(
                storage,
                dir,
                &head,
                0,
                if torn_header {
                    "log header damaged"
                } else {
                    "log shorter than its header"
                },
            )?);
        }
        let f = create_wal(storage, dir)?;
        return Ok((
            f,
            FILE_HEADER_LEN as u64,
            BTreeMap::new(),
            LogOrder::default(),
        ));
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
        let mut bytes = vec![0u8; len as usize];
        read_exact_at(&*file, &mut bytes, 0).map_err(|e| Error::io("read", path, e))?;
        report.truncated = Some(save_tail(storage, dir, &bytes, 0, "log header torn")?);
        let f = create_wal(storage, dir)?;
        return Ok((
            f,
            FILE_HEADER_LEN as u64,
            BTreeMap::new(),
            LogOrder::default(),
        ));
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
            },
        );
    })?;
    report.replayed = replayed;
    if let Some(damage) = end.damage {
        let cut = end.file_len - end.valid_len;
        let mut tail = vec![0u8; cut as usize];
        read_exact_at(&*file, &mut tail, end.valid_len).map_err(|e| Error::io("read", path, e))?;
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
        let mut t = if unfinished > 0 {
            // A batch cut off before its commit (an interrupted `load`) was
            // never acknowledged: nothing is lost, nothing worth keeping.
            Truncation {
                offset: end.valid_len,
                bytes: cut,
                reason: format!("an unfinished batch of {unfinished} records, never acknowledged"),
                saved_to: None,
                unfinished_batch: true,
            }
        } else {
            save_tail(storage, dir, &tail, end.valid_len, &damage.reason)?
        };
        if unfinished == 0 {
            t.reason = format!("at offset {}: {}", damage.offset, damage.reason);
        }
        file.set_len(end.valid_len)
            .map_err(|e| Error::io("truncate", path, e))?;
        file.sync_data().map_err(|e| Error::io("fsync", path, e))?;
        report.truncated = Some(t);
    }
    Ok((file, end.valid_len, mem, order))
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
        Some(save_lost(storage, dir, WAL, offset, tail)?)
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

/// Writes `bytes` (taken from `file` at `offset`) durably into
/// `lost+found/`, under a name that says where they came from.
pub(super) fn save_lost(
    storage: &dyn Storage,
    dir: &Path,
    file: &str,
    offset: u64,
    bytes: &[u8],
) -> Result<PathBuf> {
    let lf = dir.join(LOST_FOUND);
    storage
        .create_dir_all(&lf)
        .map_err(|e| Error::io("create directory", &lf, e))?;
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut n = 0;
    let path = loop {
        let p = lf.join(format!(
            "{file}.at-{offset}.{stamp}{}",
            if n == 0 {
                String::new()
            } else {
                format!(".{n}")
            }
        ));
        if storage
            .kind(&p)
            .map_err(|e| Error::io("stat", &p, e))?
            .is_none()
        {
            break p;
        }
        n += 1;
    };
    let f = storage
        .open(&path, OpenMode::Truncate)
        .map_err(|e| Error::io("create", &path, e))?;
    f.write_at(bytes, 0)
        .map_err(|e| Error::io("write", &path, e))?;
    f.sync_data().map_err(|e| Error::io("fsync", &path, e))?;
    storage
        .sync_dir(&lf)
        .map_err(|e| Error::io("fsync", &lf, e))?;
    storage
        .sync_dir(dir)
        .map_err(|e| Error::io("fsync", dir, e))?;
    Ok(path)
}
