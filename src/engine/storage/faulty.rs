//! [`FaultyStorage`]: any [`Storage`] with injected failures, for tests that
//! drive the real file system (such as the `tinykv` binary under test) and
//! need a write, fsync, rename, removal or open to fail at the Nth try.
//!
//! It counts operations exactly as [`SimStorage`](super::SimStorage) does
//! and fires the same [`Fault`]s, with the operating system's own error
//! codes (EIO, ENOSPC), so the error a user sees is the real message. A
//! failed write writes nothing; everything else is passed through untouched.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::fault::{Fault, Faults, Op};
use super::{OpenMode, PathKind, Storage, StorageFile};

/// Wraps a storage and fails the operations its faults select.
#[derive(Clone, Debug)]
pub struct FaultyStorage {
    inner: Arc<dyn Storage>,
    faults: Arc<Mutex<Faults>>,
}

#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn StorageFile>,
    faults: Arc<Mutex<Faults>>,
}

fn check(faults: &Mutex<Faults>, op: Op) -> io::Result<()> {
    match faults.lock().unwrap_or_else(|p| p.into_inner()).fire(op) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl FaultyStorage {
    /// Wraps `inner`, with no fault armed.
    pub fn new(inner: Arc<dyn Storage>) -> FaultyStorage {
        FaultyStorage {
            inner,
            faults: Arc::default(),
        }
    }

    /// Arms a fault; its count of matching operations starts now.
    pub fn inject(&self, fault: Fault) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .arm(fault);
    }

    fn wrap(&self, inner: Arc<dyn StorageFile>) -> Arc<dyn StorageFile> {
        Arc::new(FaultyFile {
            inner,
            faults: Arc::clone(&self.faults),
        })
    }

    /// Removes every armed fault (space is back on a full disk).
    pub fn clear_faults(&self) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl Storage for FaultyStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        check(&self.faults, Op::Other)?;
        self.inner.create_dir_all(dir)
    }

    fn kind(&self, path: &Path) -> io::Result<Option<PathKind>> {
        check(&self.faults, Op::Other)?;
        self.inner.kind(path)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        check(&self.faults, Op::Other)?;
        self.inner.list_dir(dir)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        check(&self.faults, Op::Open)?;
        Ok(self.wrap(self.inner.open(path, mode)?))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        check(&self.faults, Op::Rename)?;
        self.inner.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        check(&self.faults, Op::Remove)?;
        self.inner.remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        check(&self.faults, Op::Sync)?;
        self.inner.sync_dir(dir)
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
        check(&self.faults, Op::Open)?;
        Ok(self.inner.try_lock(path)?.map(|inner| self.wrap(inner)))
    }

    fn try_lock_shared(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
        check(&self.faults, Op::Open)?;
        Ok(self
            .inner
            .try_lock_shared(path)?
            .map(|inner| self.wrap(inner)))
    }
}

impl StorageFile for FaultyFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        check(&self.faults, Op::Other)?;
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        check(&self.faults, Op::Write)?;
        self.inner.write_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        check(&self.faults, Op::Sync)?;
        self.inner.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        check(&self.faults, Op::Other)?;
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        check(&self.faults, Op::Write)?;
        self.inner.set_len(len)
    }

    fn drop_cached(&self, offset: u64, len: u64) {
        self.inner.drop_cached(offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::storage::{FaultKind, FaultOp, RealStorage};

    #[test]
    fn the_nth_write_fails_once_or_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultyStorage::new(Arc::new(RealStorage));
        let f = fs.open(&dir.path().join("f"), OpenMode::ReadWrite).unwrap();
        fs.inject(Fault {
            op: FaultOp::Write,
            nth: 2,
            kind: FaultKind::Enospc,
            persistent: false,
        });
        f.write_at(b"a", 0).unwrap();
        let e = f.write_at(b"b", 1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28));
        f.write_at(b"c", 1).unwrap();
        fs.inject(Fault {
            op: FaultOp::Sync,
            nth: 1,
            kind: FaultKind::Eio,
            persistent: true,
        });
        for _ in 0..3 {
            assert_eq!(f.sync_data().unwrap_err().raw_os_error(), Some(5));
        }
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"ac");
    }
}
