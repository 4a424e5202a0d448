//! [`ReadOnlyStorage`], what a read-only handle
//! ([`Options::read_only`](crate::engine::Options::read_only)) reads
//! through, and [`WithFile`], how it opens an index it rebuilt but may
//! not write.
//!
//! Invariant: through a [`ReadOnlyStorage`], nothing under its directory
//! changes. Creating the directory or anything in it, opening a file for
//! writing, renaming, removing, fsyncing a directory and the exclusive
//! lock all fail there before they are tried, and files are opened
//! read-only, so a write through one fails too. The engine never asks a
//! read-only handle for any of these (its write paths refuse first, with
//! [`Error::ReadOnly`](crate::engine::Error::ReadOnly)); this layer makes
//! sure no path, present or future, can write a byte by mistake. Paths
//! elsewhere (a backup's destination) pass through unchanged.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Layer, OpenMode, PathKind, Storage, StorageFile};

/// A storage that refuses every change to one directory; see the module doc.
#[derive(Debug)]
pub struct ReadOnlyStorage {
    below: Arc<dyn Storage>,
    dir: PathBuf,
}

impl ReadOnlyStorage {
    /// `below`, with `dir` and everything in it read-only.
    pub fn new(below: Arc<dyn Storage>, dir: &Path) -> ReadOnlyStorage {
        ReadOnlyStorage {
            below,
            dir: dir.to_owned(),
        }
    }

    /// Refuses a change to `path` when it is in the read-only directory.
    fn refuse(&self, path: &Path) -> io::Result<()> {
        if path.starts_with(&self.dir) {
            return Err(io::Error::new(
                io::ErrorKind::ReadOnlyFilesystem,
                "the database is open read-only",
            ));
        }
        Ok(())
    }
}

impl Storage for ReadOnlyStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.refuse(dir)?;
        self.below.create_dir_all(dir)
    }
    fn kind(&self, path: &Path) -> io::Result<Option<PathKind>> {
        self.below.kind(path)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.below.list_dir(dir)
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        if mode != OpenMode::Read {
            self.refuse(path)?;
        }
        self.below.open(path, mode)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.refuse(from)?;
        self.refuse(to)?;
        self.below.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.refuse(path)?;
        self.below.remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.refuse(dir)?;
        self.below.sync_dir(dir)
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
        self.refuse(path)?;
        self.below.try_lock(path)
    }
    fn try_lock_shared(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
        self.below.try_lock_shared(path)
    }
}

/// A storage that serves one file from memory and passes everything else
/// to the storage below: a read-only handle rebuilds a missing or damaged
/// index in memory, and opens it as it would open the file it cannot
/// write.
#[derive(Debug)]
pub struct WithFile<'a> {
    below: &'a dyn Storage,
    path: &'a Path,
    file: Arc<dyn StorageFile>,
}

impl<'a> WithFile<'a> {
    /// `below`, with `path` holding `bytes` (read-only).
    pub fn new(below: &'a dyn Storage, path: &'a Path, bytes: Vec<u8>) -> WithFile<'a> {
        WithFile {
            below,
            path,
            file: Arc::new(MemFile(bytes)),
        }
    }
}

impl Layer for WithFile<'_> {
    fn below(&self) -> &dyn Storage {
        self.below
    }
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        if path == self.path && mode == OpenMode::Read {
            return Ok(Arc::clone(&self.file));
        }
        self.below.open(path, mode)
    }
}

/// A file's bytes in memory, read-only.
#[derive(Debug)]
struct MemFile(Vec<u8>);

impl StorageFile for MemFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset).map_or(self.0.len(), |o| o.min(self.0.len()));
        let n = buf.len().min(self.0.len() - start);
        buf[..n].copy_from_slice(&self.0[start..start + n]);
        Ok(n)
    }
    fn write_at(&self, _buf: &[u8], _offset: u64) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    }
    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.len() as u64)
    }
    fn set_len(&self, _len: u64) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::storage::SimStorage;

    #[test]
    fn nothing_under_the_directory_changes_and_elsewhere_is_untouched() {
        let sim = SimStorage::new(0);
        sim.create_dir_all(Path::new("/db")).unwrap();
        sim.write_file(Path::new("/db/a"), b"old").unwrap();
        let ro = ReadOnlyStorage::new(Arc::new(sim.clone()), Path::new("/db"));
        let refused = |r: io::Result<()>| {
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ReadOnlyFilesystem);
        };
        refused(ro.create_dir_all(Path::new("/db/sub")));
        refused(ro.open(Path::new("/db/a"), OpenMode::ReadWrite).map(drop));
        refused(ro.open(Path::new("/db/b"), OpenMode::Truncate).map(drop));
        refused(ro.rename(Path::new("/db/a"), Path::new("/elsewhere")));
        refused(ro.rename(Path::new("/x"), Path::new("/db/a")));
        refused(ro.remove_file(Path::new("/db/a")));
        refused(ro.sync_dir(Path::new("/db")));
        refused(ro.try_lock(Path::new("/db/LOCK")).map(drop));
        // Read-only handles refuse writes themselves.
        let a = ro.open(Path::new("/db/a"), OpenMode::Read).unwrap();
        assert!(a.write_at(b"new", 0).is_err());
        assert!(a.set_len(0).is_err());
        assert_eq!(sim.files(), vec![PathBuf::from("/db/a")]);
        assert_eq!(sim.read_file(Path::new("/db/a")).unwrap(), b"old");
        // Another directory (a backup's destination) is written as usual.
        ro.create_dir_all(Path::new("/dest")).unwrap();
        let f = ro.open(Path::new("/dest/f"), OpenMode::Truncate).unwrap();
        f.write_at(b"copy", 0).unwrap();
        ro.sync_dir(Path::new("/dest")).unwrap();
        assert_eq!(sim.read_file(Path::new("/dest/f")).unwrap(), b"copy");
    }

    #[test]
    fn one_file_is_served_from_memory() {
        let sim = SimStorage::new(0);
        sim.create_dir_all(Path::new("/db")).unwrap();
        let with = WithFile::new(&sim, Path::new("/db/x.idx"), b"in memory".to_vec());
        let f = with.open(Path::new("/db/x.idx"), OpenMode::Read).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(f.read_at(&mut buf, 3).unwrap(), 6);
        assert_eq!(&buf[..6], b"memory");
        assert_eq!(f.read_at(&mut buf, 100).unwrap(), 0);
        assert!(f.write_at(b"x", 0).is_err());
        assert!(sim.files().is_empty(), "nothing was written below");
        assert!(with.open(Path::new("/db/y"), OpenMode::Read).is_err());
    }
}
