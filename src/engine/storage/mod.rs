//! The file-I/O seam: every byte the engine reads or writes goes through
//! [`Storage`] and [`StorageFile`].
//!
//! Two implementations exist: [`RealStorage`], the operating system's file
//! system, and `SimStorage`, an in-memory file system for tests that keeps
//! synced and unsynced bytes apart, can simulate a power loss (dropping or
//! tearing what was not synced) and can fail any chosen operation with EIO or
//! ENOSPC. `SimStorage` and `FaultyStorage` (faults injected into any
//! storage) are test machinery: they exist only in the crate's tests and
//! with the `testing` feature, never in a release build. A read-only
//! handle reads through `ReadOnlyStorage` (read_only.rs), which refuses
//! every change to its directory.
//!
//! The contract the engine relies on, and that both implementations keep:
//! - `write_at` may leave the file in any state if it fails, but bytes of a
//!   successful `write_at` are readable at once by `read_at`.
//! - After `sync_data` returns `Ok`, the file's bytes and length survive a
//!   power loss. Bytes written since the last successful sync may survive in
//!   full, in part (a prefix, possibly with garbage after it), or not at all.
//! - A `rename`, `remove_file` or file creation survives a power loss only
//!   once `sync_dir` on its directory has returned `Ok`; until then each
//!   may survive or not on its own, in any combination. A directory that
//!   `create_dir_all` made is such an entry of its parent.
//! - `rename` replaces the target atomically.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

mod cache;
#[cfg(test)]
mod counting;
#[cfg(any(test, feature = "testing"))]
mod fault;
#[cfg(any(test, feature = "testing"))]
mod faulty;
mod read_only;
mod real;
#[cfg(any(test, feature = "testing"))]
mod sim;

pub use cache::CachingStorage;
#[cfg(test)]
pub use counting::{Counting, Dropped};
#[cfg(any(test, feature = "testing"))]
pub use fault::{Fault, FaultKind, FaultOp};
#[cfg(any(test, feature = "testing"))]
pub use faulty::FaultyStorage;
pub(crate) use read_only::{ReadOnlyStorage, WithFile};
pub use real::RealStorage;
#[cfg(any(test, feature = "testing"))]
pub use sim::SimStorage;

/// How [`Storage::open`] opens a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only; the file must exist.
    Read,
    /// Read and write; the file is created empty when missing.
    ReadWrite,
    /// Read and write; the file is created, or truncated to zero length.
    Truncate,
}

/// What a path names, as reported by [`Storage::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Anything else (socket, device, ...).
    Other,
}

/// A file system, real or simulated.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Creates `dir` and any missing parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// What `path` names, or `None` when it does not exist.
    fn kind(&self, path: &Path) -> io::Result<Option<PathKind>>;
    /// The names (not paths) of the entries of `dir`, in no particular order.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Opens a file.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>>;
    /// Renames `from` to `to`, atomically replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file. Open handles to it stay readable.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Tries to take an exclusive lock on the file at `path` (created when
    /// missing). Returns the locked file, or `None` when another holder has it.
    /// The lock lasts as long as the returned handle and ends when its holder
    /// dies.
    fn try_lock(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>>;
    /// Tries to take a shared lock on the file at `path`, opened read-only
    /// and never created (`NotFound` when missing): any number of shared
    /// holders at once, none while an exclusive one has it. Returns the
    /// locked file, or `None` when an exclusive holder has it; a shared
    /// holder makes [`try_lock`](Self::try_lock) return `None`. The lock
    /// lasts as long as the returned handle and ends when its holder dies.
    fn try_lock_shared(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>>;
}

/// A [`Storage`] over another one that changes only how files are opened
/// or renamed (a cache, a test's gate or counter): implement this, and the
/// blanket impl passes every other call to [`below`](Layer::below).
pub trait Layer: Send + Sync + fmt::Debug {
    /// The storage every call goes to in the end.
    fn below(&self) -> &dyn Storage;
    /// [`Storage::open`] through this layer (default: as below).
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        self.below().open(path, mode)
    }
    /// [`Storage::rename`] through this layer (default: as below).
    fn rename_file(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.below().rename(from, to)
    }
}

impl<L: Layer> Storage for L {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.below().create_dir_all(dir)
    }
    fn kind(&self, path: &Path) -> io::Result<Option<PathKind>> {
        self.below().kind(path)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.below().list_dir(dir)
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        self.open_file(path, mode)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.rename_file(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.below().remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.below().sync_dir(dir)
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
        self.below().try_lock(path)
    }
    fn try_lock_shared(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
        self.below().try_lock_shared(path)
    }
}

/// An open file of a [`Storage`]. All methods take `&self`: positional reads
/// and writes let many threads share one handle.
pub trait StorageFile: Send + Sync + fmt::Debug {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at end of file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// As [`read_at`](Self::read_at), but past any cache and without
    /// filling it: for reads that will not come again soon (iteration).
    fn read_at_uncached(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read_at(buf, offset)
    }
    /// As [`read_at`](Self::read_at), for a sorted walk: from a cache's
    /// copies while it holds the range's blocks, then from the file from
    /// the first block it lacks on, kept only in room no block holds (never
    /// taken, or given back when its block went). The first walks over a
    /// database that fits warm the cache (later scans of the same keys read
    /// no file); once the cache is full a walk keeps nothing, so it never
    /// evicts a block that lookups use.
    fn read_at_spare(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read_at(buf, offset)
    }
    /// The block holding `offset` that a caching layer keeps (read and
    /// kept first if need be), shared, with the offset it starts at; it
    /// ends early only at the end of the file. `None` when no layer caches:
    /// the caller reads into a buffer of its own instead. For a lookup that
    /// looks at many small pieces of one block without copying each.
    fn cached_block(&self, offset: u64) -> io::Result<Option<(u64, Arc<[u8]>)>> {
        let _ = offset;
        Ok(None)
    }
    /// Writes all of `buf` at `offset`, extending the file as needed.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes the file's bytes and length durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Truncates or extends the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// A hint that the bytes `offset..offset + len` will not be read again
    /// soon (a compaction's inputs, behind its merge; what a large bulk
    /// load has written and made durable): the system may drop what it
    /// caches of them. Nothing fails for it, and no layer needs to heed
    /// it.
    fn drop_cached(&self, offset: u64, len: u64) {
        let _ = (offset, len);
    }
}

/// For a reader of a file that is read once and then removed (a
/// compaction's sorted inputs): what it has passed, which it tells the
/// file it may drop from the system's cache ([`StorageFile::drop_cached`])
/// every [`DROP_BEHIND`] bytes. Handed back at once, those pages are what
/// the next writes take. Only the range the reader itself read, from where
/// it started: another reader of the same file (the other part of a
/// compaction merged in two) may not have got there. (The two parts both
/// read the data block where they meet, and either may drop it.) A writer
/// tells it what fsyncs made durable instead, each time
/// ([`upto`](Self::upto); see `Output::hand_back_pages`).
#[derive(Debug)]
pub(crate) struct DropBehind {
    from: u64,
}

/// How much a [`DropBehind`] lets pass before it tells the file.
pub(crate) const DROP_BEHIND: u64 = 4 << 20;

impl DropBehind {
    /// For a reader at `pos`.
    pub(crate) fn at(pos: u64) -> DropBehind {
        DropBehind { from: pos }
    }

    /// The reader of `file` has passed everything before `pos`.
    pub(crate) fn passed(&mut self, file: &dyn StorageFile, pos: u64) {
        if pos >= self.from + DROP_BEHIND {
            self.upto(file, pos);
        }
    }

    /// Tells `file` at once that it may drop what lies before `pos` and
    /// was not told yet.
    pub(crate) fn upto(&mut self, file: &dyn StorageFile, pos: u64) {
        if pos > self.from {
            file.drop_cached(self.from, pos - self.from);
            self.from = pos;
        }
    }
}

/// A view of a file whose reads take another of its read methods; the
/// rest passes through.
macro_rules! read_view {
    ($(#[$doc:meta])* $name:ident, $read:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<'a>(pub &'a dyn StorageFile);

        impl StorageFile for $name<'_> {
            fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
                self.0.$read(buf, offset)
            }
            fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
                self.0.write_at(buf, offset)
            }
            fn sync_data(&self) -> io::Result<()> {
                self.0.sync_data()
            }
            fn len(&self) -> io::Result<u64> {
                self.0.len()
            }
            fn set_len(&self, len: u64) -> io::Result<()> {
                self.0.set_len(len)
            }
            fn drop_cached(&self, offset: u64, len: u64) {
                self.0.drop_cached(offset, len)
            }
        }
    };
}

read_view!(
    /// A view of a file whose reads go past any cache
    /// ([`StorageFile::read_at_uncached`]): iteration reads through it, so
    /// that a walk over the whole database neither evicts the blocks that
    /// lookups use nor makes memory grow with the database.
    Uncached,
    read_at_uncached
);

read_view!(
    /// A view of a file whose reads are
    /// [`read_at_spare`](StorageFile::read_at_spare) reads: a sorted
    /// walk's.
    Spare,
    read_at_spare
);

/// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
pub fn read_exact_at(
    file: &dyn StorageFile,
    mut buf: &mut [u8],
    mut offset: u64,
) -> io::Result<()> {
    while !buf.is_empty() {
        match file.read_at(buf, offset) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
