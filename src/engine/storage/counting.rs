//! [`Counting`]: a storage layer for tests that counts the reads made
//! through it, in calls and in bytes (what a test bounds to show that a
//! lookup reads a few blocks, not a whole file), and the files open
//! through it, which it may limit as a process's descriptors are. Test
//! builds only.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{Layer, OpenMode, Storage, StorageFile};

/// Counts the reads through it and passes every call to the storage below.
#[derive(Debug)]
pub struct Counting {
    below: Arc<dyn Storage>,
    /// `read_at` calls so far.
    pub reads: Arc<AtomicU64>,
    /// Bytes those calls returned.
    pub bytes: Arc<AtomicU64>,
    /// Files open through it now.
    pub open: Arc<AtomicUsize>,
    /// An open past this many open files fails as a process out of
    /// descriptors does (EMFILE).
    pub open_limit: Arc<AtomicUsize>,
}

impl Counting {
    /// A layer over `below`, with nothing counted yet.
    pub fn over(below: Arc<dyn Storage>) -> Self {
        Counting {
            below,
            reads: Arc::default(),
            bytes: Arc::default(),
            open: Arc::default(),
            open_limit: Arc::new(AtomicUsize::new(usize::MAX)),
        }
    }
}

impl Layer for Counting {
    fn below(&self) -> &dyn Storage {
        &*self.below
    }

    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        if self.open.load(Ordering::SeqCst) >= self.open_limit.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(24));
        }
        let file = self.below.open(path, mode)?;
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(CountedFile {
            file,
            reads: Arc::clone(&self.reads),
            bytes: Arc::clone(&self.bytes),
            open: Arc::clone(&self.open),
        }))
    }
}

#[derive(Debug)]
struct CountedFile {
    file: Arc<dyn StorageFile>,
    reads: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    open: Arc<AtomicUsize>,
}

impl Drop for CountedFile {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl StorageFile for CountedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let n = self.file.read_at(buf, offset)?;
        self.bytes.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn drop_cached(&self, offset: u64, len: u64) {
        self.file.drop_cached(offset, len)
    }
}
