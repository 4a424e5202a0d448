//! [`Db::backup`]: a consistent copy of the database, taken while it is in
//! use.
//!
//! Sealed segments and their indexes never change once written, and the
//! active log only grows, so a copy needs the writer for one moment only:
//! long enough to flush and to note which segments exist and where the log
//! ends (a committed point: no group or batch is half-written there). The
//! bytes are then copied from the handles this database has open, so a
//! seal or compaction meanwhile (which renames or removes the files) does
//! not disturb the copy, and writers go on.
//!
//! Invariants: the copy is the database as of that one moment (every
//! write acknowledged before it, none after); memory holds one
//! [`CHUNK`] at a time; every file is fsynced, and `wal.log` is the last
//! one renamed into place before the directory is fsynced, so that a copy
//! interrupted by a crash is missing its log (and is seen to be partial)
//! rather than looking whole; an existing, non-empty destination is
//! refused, never overwritten.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::dir::{self, WAL};
use super::record::{self, FILE_HEADER_LEN, LOG_MAGIC};
use super::storage::{OpenMode, PathKind, StorageFile};
use super::{Db, Error, Result};

/// Bytes copied at a time.
const CHUNK: usize = 1024 * 1024;

/// What [`Db::backup`] copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupReport {
    /// Files written (logs and indexes).
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

impl Db {
    /// Copies the database, as it is at one moment, into `dest`, a
    /// directory that must not exist yet or be empty (it is created with
    /// its missing parents). The copy is fsynced; it opens as a database
    /// and checks clean.
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<BackupReport> {
        let dest = dest.as_ref();
        let storage = &*self.opts.storage;
        match storage.kind(dest).map_err(|e| Error::io("stat", dest, e))? {
            None => {}
            Some(PathKind::Dir) => {
                let names = storage
                    .list_dir(dest)
                    .map_err(|e| Error::io("list", dest, e))?;
                if !names.is_empty() {
                    return Err(Error::NotADatabase {
                        path: dest.to_owned(),
                        reason:
                            "a backup needs an empty or new directory, and this one holds files"
                                .into(),
                    });
                }
            }
            Some(_) => {
                return Err(Error::NotADatabase {
                    path: dest.to_owned(),
                    reason: "it is not a directory".into(),
                });
            }
        }
        let (segments, wal, wal_len) = {
            let mut w = self.lock_writer();
            w.flush(&self.wal_path)?;
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            (Arc::clone(&st.segments), Arc::clone(&w.wal), w.wal_len)
        };
        dir::prepare_dir(storage, dest, true)?;
        let mut report = BackupReport::default();
        let mut placed: Vec<(PathBuf, PathBuf)> = Vec::new();
        let mut copy = |name: String, from: &dyn StorageFile, from_path: &Path, len: u64| {
            let to = dest.join(&name);
            let tmp = dir::tmp_path(&to);
            copy_file(self, from, from_path, len, &tmp)?;
            report.files += 1;
            report.bytes += len;
            placed.push((tmp, to));
            Ok::<(), Error>(())
        };
        for seg in segments.iter() {
            copy(
                dir::seg_log_name(seg.id),
                &*seg.log,
                &seg.log_path,
                seg.log_len,
            )?;
            let index = &seg.index;
            copy(
                dir::seg_idx_name(seg.id),
                index.file(),
                index.path(),
                index.file_len,
            )?;
        }
        // The log's header is written anew: a log that is missing (a full
        // disk kept it from being made, see replay.rs) reads as empty and
        // has no bytes to copy; its records are those after the header.
        {
            let to = dest.join(WAL);
            let tmp = dir::tmp_path(&to);
            let out = dir::open(storage, &tmp, OpenMode::Truncate)?;
            let header = record::file_header(LOG_MAGIC);
            out.write_at(&header, 0)
                .map_err(|e| Error::io("write", &tmp, e))?;
            let start = FILE_HEADER_LEN as u64;
            copy_range(
                &*wal,
                &self.wal_path,
                start,
                wal_len.max(start),
                &*out,
                &tmp,
            )?;
            report.files += 1;
            report.bytes += wal_len.max(start);
            placed.push((tmp, to));
        }
        // The log last: see the module doc.
        for (tmp, to) in &placed {
            dir::rename(storage, tmp, to)?;
        }
        dir::sync(storage, dest)?;
        Ok(report)
    }
}

/// Copies the first `len` bytes of `from` into a new file at `to`, fsynced.
fn copy_file(db: &Db, from: &dyn StorageFile, from_path: &Path, len: u64, to: &Path) -> Result<()> {
    let out = dir::open(&*db.opts.storage, to, OpenMode::Truncate)?;
    copy_range(from, from_path, 0, len, &*out, to)
}

/// Copies bytes `start..end` of `from` to the same place in `out` (at
/// `to`), [`CHUNK`] at a time, then fsyncs `out`.
fn copy_range(
    from: &dyn StorageFile,
    from_path: &Path,
    start: u64,
    end: u64,
    out: &dyn StorageFile,
    to: &Path,
) -> Result<()> {
    let mut buf = vec![0u8; CHUNK.min(end.saturating_sub(start) as usize)];
    let mut at = start;
    while at < end {
        let n = (end - at).min(CHUNK as u64) as usize;
        dir::read_exact(from, from_path, &mut buf[..n], at)?;
        out.write_at(&buf[..n], at)
            .map_err(|e| Error::io("write", to, e))?;
        at += n as u64;
    }
    out.sync_data().map_err(|e| Error::io("fsync", to, e))
}

#[cfg(test)]
mod tests {
    use crate::engine::{Db, Options};

    fn small() -> Options {
        Options {
            segment_size: 4096,
            auto_compact: false,
            ..Options::default()
        }
    }

    #[test]
    fn a_backup_is_the_database_at_one_moment_and_checks_clean() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), small()).unwrap();
        for i in 0..500u32 {
            db.set(format!("k{i:04}").as_bytes(), &[b'v'; 40]).unwrap();
        }
        db.delete(b"k0001").unwrap();
        let away = tempfile::tempdir().unwrap();
        let dest = away.path().join("copies").join("one");
        let report = db.backup(&dest).unwrap();
        assert!(report.files >= 3, "{report:?}");
        // Writes after the backup are not in it.
        db.set(b"after", b"1").unwrap();
        db.compact().unwrap();
        let copy = Db::open(&dest, small()).unwrap();
        assert!(copy.check().unwrap().is_clean());
        assert_eq!(copy.len().unwrap(), 499);
        assert_eq!(copy.get(b"k0499").unwrap(), Some(vec![b'v'; 40]));
        assert_eq!(copy.get(b"k0001").unwrap(), None);
        assert_eq!(copy.get(b"after").unwrap(), None);
        drop(copy);
        // Not over a directory that holds files.
        assert!(db.backup(&dest).is_err());
        assert!(db.backup(dir.path().join("wal.log")).is_err());
        // An empty directory is fine.
        let empty = away.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        db.backup(&empty).unwrap();
        assert_eq!(Db::open(&empty, small()).unwrap().len().unwrap(), 500);
    }

    /// A database whose log is missing (a seal whose new log a full disk
    /// kept from being made reads as empty): the copy gets a new header.
    #[test]
    fn a_backup_of_a_database_without_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = small();
        opts.seal_on_close = 0;
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        db.set(b"k", b"v").unwrap();
        db.close().unwrap();
        std::fs::remove_file(dir.path().join("wal.log")).unwrap();
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        let away = tempfile::tempdir().unwrap();
        let dest = away.path().join("copy");
        db.backup(&dest).unwrap();
        let copy = Db::open(&dest, opts).unwrap();
        assert!(copy.check().unwrap().is_clean());
        assert_eq!(copy.get(b"k").unwrap(), Some(b"v".to_vec()));
    }
}
