//! [`Counting`]: a storage layer for tests that counts the reads made
//! through it, in calls and in bytes (what a test bounds to show that a
//! lookup reads a few blocks, not a whole file), and the files open
//! through it, which it may limit as a process's descriptors are; and
//! keeps each range a file was told it may drop from the system's cache,
//! with whether an fsync had made it durable. Test builds only.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
    /// Every [`StorageFile::drop_cached`] so far, in order.
    pub dropped: Arc<Mutex<Vec<Dropped>>>,
}

/// A range a file was told it may drop from the system's cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The file's name (its last component, as opened).
    pub file: String,
    /// Where the range starts.
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// The range lay below the length the file had when an fsync that
    /// has returned began.
    pub durable: bool,
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
            dropped: Arc::default(),
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
            name: path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            synced: AtomicU64::new(0),
            dropped: Arc::clone(&self.dropped),
        }))
    }
}

#[derive(Debug)]
struct CountedFile {
    file: Arc<dyn StorageFile>,
    reads: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    open: Arc<AtomicUsize>,
    name: String,
    /// The most bytes an fsync that has returned was sure to cover: the
    /// file's length when it began.
    synced: AtomicU64,
    dropped: Arc<Mutex<Vec<Dropped>>>,
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
        let len = self.file.len()?;
        self.file.sync_data()?;
        self.synced.fetch_max(len, Ordering::SeqCst);
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn drop_cached(&self, offset: u64, len: u64) {
        let durable = offset + len <= self.synced.load(Ordering::SeqCst);
        let dropped = Dropped {
            file: self.name.clone(),
            offset,
            len,
            durable,
        };
        self.dropped.lock().unwrap().push(dropped);
        self.file.drop_cached(offset, len)
    }
}
