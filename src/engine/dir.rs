//! The database directory: its file names, listing it, the active log's
//! header and creation, `lost+found/`, and the file operations the rest of
//! the engine builds on, each labelled so that its error names the
//! operation and the path once (`fsync /d/wal.log`, then the OS's cause).
//!
//! Durability, as docs/format.md assumes of the medium: a file's bytes are
//! durable once it is fsynced, and its name (a creation, rename or removal)
//! once its directory is ([`sync`]). So [`create`] fsyncs what it writes
//! before it returns; [`replace`] never leaves a partly written file under
//! the final name (temporary file, fsync, rename), and a crash leaves the
//! old file or the new one; [`replace_durably`] and [`create_wal`] also
//! fsync the directory. A directory made here is durable in its parent
//! (each new one's parent is fsynced) before anything is put in it.
//! Nothing here deletes bytes that `recover` could use: [`save_lost`] only
//! adds files to `lost+found/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::lock;
use super::record::{self, FILE_HEADER_LEN, HeaderError, LOG_MAGIC};
use super::storage::{OpenMode, PathKind, Storage, StorageFile, read_exact_at};
use super::{Error, Result};

/// The active log's file name.
pub(super) const WAL: &str = "wal.log";
/// Where a new active log is written before it is renamed to [`WAL`]
/// (not `wal.log.tmp`: `*.log.tmp` names a compaction's outputs).
pub(super) const NEW_WAL: &str = "wal.new.tmp";
/// The directory for bytes `recover` could not use.
pub(super) const LOST_FOUND: &str = "lost+found";

pub(super) fn seg_log_name(id: u64) -> String {
    format!("seg-{id:08}.log")
}

pub(super) fn seg_idx_name(id: u64) -> String {
    format!("seg-{id:08}.idx")
}

/// Parses `seg-N.log` / `seg-N.idx` names.
pub(super) fn parse_seg_name(name: &str) -> Option<(u64, &str)> {
    let rest = name.strip_prefix("seg-")?;
    let (num, ext) = rest.split_once('.')?;
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) || !matches!(ext, "log" | "idx") {
        return None;
    }
    Some((num.parse().ok()?, ext))
}

/// Where a file is written before it is renamed into place: `path.tmp`
/// (open removes every `*.tmp` it finds).
pub(super) fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// The files of a database directory, by role.
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// Ids that have a `seg-N.log`.
    pub logs: Vec<u64>,
    /// Ids that have a `seg-N.idx`.
    pub idxs: Vec<u64>,
    pub has_wal: bool,
    /// Whether the live-key tally's file is there (live_count.rs).
    pub has_count: bool,
    /// Whether a bulk load's commit marker is there (bulk/marker.rs).
    pub has_marker: bool,
    pub tmp: Vec<String>,
    pub foreign: Vec<String>,
}

pub(super) fn list(storage: &dyn Storage, dir: &Path) -> Result<Listing> {
    let mut l = Listing::default();
    let names = storage
        .list_dir(dir)
        .map_err(|e| Error::io("list", dir, e))?;
    for name in names {
        match parse_seg_name(&name) {
            Some((id, "log")) => l.logs.push(id),
            Some((id, _)) => l.idxs.push(id),
            None if name == WAL => l.has_wal = true,
            None if name == super::live_count::COUNT_FILE => l.has_count = true,
            None if name == super::bulk::MARKER => l.has_marker = true,
            None if name.ends_with(".tmp") => l.tmp.push(name),
            None if name == lock::LOCK_FILE || name == LOST_FOUND => {}
            None => l.foreign.push(name),
        }
    }
    l.logs.sort_unstable();
    l.idxs.sort_unstable();
    Ok(l)
}

/// Checks that `dir` is (or may become) a database directory, creating it
/// when allowed.
pub(super) fn prepare_dir(storage: &dyn Storage, dir: &Path, create: bool) -> Result<()> {
    match kind(storage, dir)? {
        Some(PathKind::Dir) => Ok(()),
        Some(_) => Err(Error::NotADatabase {
            path: dir.to_owned(),
            reason: "it is not a directory".into(),
        }),
        None if create => create_dir(storage, dir),
        None => Err(Error::NotADatabase {
            path: dir.to_owned(),
            reason: "no such directory".into(),
        }),
    }
}

/// Refuses a directory that holds other programs' files and none of ours.
pub(super) fn refuse_foreign(dir: &Path, l: &Listing) -> Result<()> {
    if !l.foreign.is_empty() && !l.has_wal && l.logs.is_empty() {
        let mut names = l.foreign.clone();
        names.sort();
        names.truncate(3);
        return Err(Error::NotADatabase {
            path: dir.to_owned(),
            reason: format!("it holds other files, such as {}", names.join(", ")),
        });
    }
    Ok(())
}

/// Checks a log's file header: damage (or a file shorter than a header) is
/// corruption at offset 0; a header of another format version is
/// [`Error::UnsupportedVersion`].
pub(super) fn check_log_header(log: &dyn StorageFile, path: &Path) -> Result<()> {
    let mut head = [0u8; FILE_HEADER_LEN];
    if let Err(e) = read_exact_at(log, &mut head, 0) {
        return Err(match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                Error::corrupt(path, 0, "file shorter than its header")
            }
            _ => Error::io("read", path, e),
        });
    }
    match record::check_file_header(&head, LOG_MAGIC) {
        Ok(_) => Ok(()),
        Err(HeaderError::Damaged(why)) => Err(Error::corrupt(path, 0, why)),
        Err(HeaderError::Version(found)) => Err(Error::UnsupportedVersion {
            path: path.to_owned(),
            found,
            supported: record::FORMAT_VERSION,
        }),
    }
}

/// Creates an empty active log atomically and durably: its header goes to
/// [`NEW_WAL`], which is fsynced, renamed over `wal.log`, and the directory
/// fsynced. So a crash or a full disk at any step leaves the old `wal.log`
/// (or none) or the new one whole, never a log without its header, which
/// every later open would have to repair (and so need space). Errors name
/// `wal.log`, except a failed fsync, which names the file it failed on.
pub(super) fn create_wal(storage: &dyn Storage, dir: &Path) -> Result<Arc<dyn StorageFile>> {
    let path = dir.join(WAL);
    let tmp = dir.join(NEW_WAL);
    let made = (|| {
        let creating = |e| Error::io("create", &path, e);
        let f = storage.open(&tmp, OpenMode::Truncate).map_err(creating)?;
        f.write_at(&record::file_header(LOG_MAGIC), 0)
            .map_err(creating)?;
        f.sync_data().map_err(|e| Error::io("fsync", &tmp, e))?;
        storage.rename(&tmp, &path).map_err(creating)?;
        Ok(f)
    })();
    let f = match made {
        Ok(f) => f,
        Err(e) => {
            // Best effort: open removes any `*.tmp` left behind.
            let _ = storage.remove_file(&tmp);
            return Err(e);
        }
    };
    sync(storage, dir)?;
    Ok(f)
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
    create_dir(storage, &lf)?;
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
        if kind(storage, &p)?.is_none() {
            break p;
        }
        n += 1;
    };
    create(storage, &path, bytes)?;
    sync(storage, &lf)?;
    sync(storage, dir)?;
    Ok(path)
}

/// What `path` names, if anything.
pub(super) fn kind(storage: &dyn Storage, path: &Path) -> Result<Option<PathKind>> {
    storage.kind(path).map_err(|e| Error::io("stat", path, e))
}

/// Creates `dir` and its missing parents durably: a new directory is an
/// entry of its parent, which survives a power loss only once that parent
/// is fsynced, so each parent of a directory made here is, from the first
/// one that existed down.
fn create_dir(storage: &dyn Storage, dir: &Path) -> Result<()> {
    let mut made = Vec::new();
    let mut at = dir;
    while kind(storage, at)?.is_none() {
        made.push(at);
        match at.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => at = parent,
            _ => break,
        }
    }
    storage
        .create_dir_all(dir)
        .map_err(|e| Error::io("create directory", dir, e))?;
    for new in made.into_iter().rev() {
        sync(storage, parent_dir(new))?;
    }
    Ok(())
}

/// The directory that holds `path` (`.` for a bare relative name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Opens `path`; errors say `create` for [`OpenMode::Truncate`] (a new
/// file), `open` otherwise.
pub(super) fn open(
    storage: &dyn Storage,
    path: &Path,
    mode: OpenMode,
) -> Result<Arc<dyn StorageFile>> {
    let op = match mode {
        OpenMode::Truncate => "create",
        OpenMode::Read | OpenMode::ReadWrite => "open",
    };
    storage.open(path, mode).map_err(|e| Error::io(op, path, e))
}

/// The length of `file`, which is at `path`.
pub(super) fn len(file: &dyn StorageFile, path: &Path) -> Result<u64> {
    file.len().map_err(|e| Error::io("stat", path, e))
}

/// Reads exactly `buf.len()` bytes of `file` (at `path`) at `offset`.
pub(super) fn read_exact(
    file: &dyn StorageFile,
    path: &Path,
    buf: &mut [u8],
    offset: u64,
) -> Result<()> {
    read_exact_at(file, buf, offset).map_err(|e| Error::io("read", path, e))
}

/// Creates (or truncates) `path` holding `bytes`, fsynced: durable once
/// its directory is synced.
pub(super) fn create(
    storage: &dyn Storage,
    path: &Path,
    bytes: &[u8],
) -> Result<Arc<dyn StorageFile>> {
    let f = open(storage, path, OpenMode::Truncate)?;
    f.write_at(bytes, 0)
        .map_err(|e| Error::io("write", path, e))?;
    f.sync_data().map_err(|e| Error::io("fsync", path, e))?;
    Ok(f)
}

/// Replaces `path` by a file holding `bytes`: written to `path.tmp`,
/// fsynced, renamed over `path`. Durable once the directory is synced.
pub(super) fn replace(storage: &dyn Storage, path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    let _written = create(storage, &tmp, bytes)?;
    rename(storage, &tmp, path)
}

/// [`replace`], then fsyncs `dir` (which holds `path`).
pub(super) fn replace_durably(
    storage: &dyn Storage,
    dir: &Path,
    path: &Path,
    bytes: &[u8],
) -> Result<()> {
    replace(storage, path, bytes)?;
    sync(storage, dir)
}

/// Renames `from` to `to`, replacing `to`; errors name `from`.
pub(super) fn rename(storage: &dyn Storage, from: &Path, to: &Path) -> Result<()> {
    storage
        .rename(from, to)
        .map_err(|e| Error::io("rename", from, e))
}

/// Removes the file at `path`.
pub(super) fn remove(storage: &dyn Storage, path: &Path) -> Result<()> {
    storage
        .remove_file(path)
        .map_err(|e| Error::io("remove", path, e))
}

/// Removes the file at `path` if there is one; whether there was.
pub(super) fn remove_if_present(storage: &dyn Storage, path: &Path) -> Result<bool> {
    match storage.remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

/// Makes the creations, renames and removals in `dir` durable.
pub(super) fn sync(storage: &dyn Storage, dir: &Path) -> Result<()> {
    storage
        .sync_dir(dir)
        .map_err(|e| Error::io("fsync", dir, e))
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::Path;
    use std::sync::Arc;

    use super::{LOST_FOUND, save_lost};
    use crate::engine::storage::{OpenMode, PathKind, RealStorage, Storage, StorageFile};

    /// The real file system, except that it says a lost+found name of a
    /// save at offset 7 is taken when it has no suffix or the suffix `.1`:
    /// as if two earlier saves had come in the same millisecond.
    #[derive(Debug)]
    struct TwoTaken;

    impl Storage for TwoTaken {
        fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
            RealStorage.create_dir_all(dir)
        }
        fn kind(&self, path: &Path) -> io::Result<Option<PathKind>> {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(rest) = name.strip_prefix("wal.log.at-7.")
                && (!rest.contains('.') || rest.ends_with(".1"))
            {
                return Ok(Some(PathKind::File));
            }
            RealStorage.kind(path)
        }
        fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
            RealStorage.list_dir(dir)
        }
        fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
            RealStorage.open(path, mode)
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            RealStorage.rename(from, to)
        }
        fn remove_file(&self, path: &Path) -> io::Result<()> {
            RealStorage.remove_file(path)
        }
        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            RealStorage.sync_dir(dir)
        }
        fn try_lock(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
            RealStorage.try_lock(path)
        }
        fn try_lock_shared(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
            RealStorage.try_lock_shared(path)
        }
    }

    /// Saves under a name already taken count on to the next free suffix:
    /// no save overwrites another, and none waits for a name forever.
    #[test]
    fn a_save_under_a_taken_name_takes_the_next_suffix() {
        let dir = tempfile::tempdir().unwrap();
        let saved = save_lost(&TwoTaken, dir.path(), "wal.log", 7, b"third").unwrap();
        let name = saved.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("wal.log.at-7.") && name.ends_with(".2"),
            "{name}"
        );
        assert_eq!(saved.parent().unwrap(), dir.path().join(LOST_FOUND));
        assert_eq!(std::fs::read(&saved).unwrap(), b"third");
    }

    /// Two saves of the same bytes from the same place keep two files.
    #[test]
    fn two_saves_of_one_name_keep_both() {
        let dir = tempfile::tempdir().unwrap();
        let a = save_lost(&RealStorage, dir.path(), "wal.log", 7, b"one").unwrap();
        let b = save_lost(&RealStorage, dir.path(), "wal.log", 7, b"two").unwrap();
        assert_ne!(a, b);
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        assert_eq!(std::fs::read(&b).unwrap(), b"two");
    }
}
