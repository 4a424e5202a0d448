//! [`SimStorage`]: an in-memory POSIX-like file system for crash and fault
//! tests.
//!
//! What it models:
//! - Paths are full paths; directories exist once `create_dir_all` made
//!   them. Files are inodes: a handle keeps its inode, so a removed or
//!   renamed-over file stays readable through it.
//! - Each inode keeps its current bytes (the page cache, which reads see) and
//!   its bytes as of the last successful `sync_data`.
//! - Directories as the ALICE study (Pillai et al., OSDI 2014) takes them
//!   on a file system that promises only what POSIX and fsync do: each
//!   directory keeps its durable entries (as of its last `sync_dir`) and
//!   the operations on its entries since then, in order: a file created, a
//!   name removed, a rename, a subdirectory made. A directory made by
//!   `create_dir_all` is such an entry of its parent: it, and everything
//!   in it, survives a power loss only once its parent is synced.
//! - [`SimStorage::crash`] is a power loss. Per file, the unsynced bytes are
//!   all lost, all kept, or torn (a prefix of the appended bytes, maybe
//!   followed by zeros or random garbage); an unsynced truncation may keep
//!   the old length or the new. Per directory, each operation since its
//!   last sync survives or not independently of the others, and the
//!   survivors apply in their order. A rename within one directory is one
//!   operation, atomic for its entries: the new name holds the file and the
//!   old one is gone, or neither changed. A rename between two directories
//!   is a removal in one and a creation in the other, each on its own. Then
//!   locks are released and every handle opened before is dead (EIO), like
//!   a process after reboot.
//! - Injected [`Fault`]s fail the nth matching operation, or every one from
//!   the nth on, with EIO or ENOSPC; a failed `write_at` may leave a prefix
//!   of its buffer behind.
//!
//! What it does not model: synced bytes are never lost or reordered (sync is
//! per file, so reordering of synced writes across files cannot happen);
//! torn writes hit only the appended tail, not unsynced overwrites inside
//! the synced length (those are kept or lost whole); a failed `sync_data`
//! keeps the page cache (Linux may drop it; the engine must not write after
//! a failed sync anyway); directories cannot be removed or renamed; the
//! space a file system has (a full disk is an injected ENOSPC).
//!
//! Why one file past the house's few hundred lines: it is one model, the
//! current and the durable state of every inode and directory entry, and
//! each operation's effect on both is read against what [`SimStorage::crash`]
//! keeps. Split up, that one rule (what survives a power loss) would be
//! spread over files. Its tests, the second half, sit beside it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::fault::{Fault, Faults, Op};
use super::{OpenMode, PathKind, Storage, StorageFile};

const ENOENT: i32 = 2;
const EIO: i32 = 5;
const EBADF: i32 = 9;
const EEXIST: i32 = 17;
const ENOTDIR: i32 = 20;
const EISDIR: i32 = 21;
const EFBIG: i32 = 27;
#[cfg(test)]
const ENOSPC: i32 = 28;

/// Files larger than this fail with EFBIG instead of exhausting memory.
const MAX_FILE_LEN: u64 = 1 << 32;

/// An in-memory file system that can crash and fail on demand (see the
/// module doc). Clones share one file system. Faults survive [`crash`]
/// (a full disk stays full); remove them with [`clear_faults`].
///
/// [`crash`]: SimStorage::crash
/// [`clear_faults`]: SimStorage::clear_faults
#[derive(Clone, Debug)]
pub struct SimStorage {
    inner: Arc<Mutex<Inner>>,
}

type InodeRef = Arc<Mutex<Inode>>;

struct Inode {
    data: Vec<u8>,
    synced: Vec<u8>,
}

impl fmt::Debug for Inode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Inode(len {}, synced {})",
            self.data.len(),
            self.synced.len()
        )
    }
}

#[derive(Debug)]
struct Inner {
    rng: u64,
    /// Bumped by every crash; handles of an older generation are dead.
    generation: u64,
    ops: u64,
    /// The directories that exist now (the root is implied).
    dirs: BTreeSet<PathBuf>,
    /// The files that exist now, by path.
    entries: BTreeMap<PathBuf, InodeRef>,
    /// The directories, and the files, a power loss keeps for certain: as
    /// of the last `sync_dir` of the directory that holds each.
    durable_dirs: BTreeSet<PathBuf>,
    durable: BTreeMap<PathBuf, InodeRef>,
    /// Per directory, the changes to its entries since its last sync, in
    /// order: each may or may not survive a power loss.
    pending: BTreeMap<PathBuf, Vec<DirOp>>,
    /// A lock is held while its token, owned by the locked handle, lives:
    /// exclusive ones here, ...
    locks: HashMap<PathBuf, Weak<()>>,
    /// ... shared ones here, any number a path.
    shared_locks: HashMap<PathBuf, Vec<Weak<()>>>,
    faults: Faults,
}

/// A change to one directory's entries, not yet synced.
#[derive(Debug)]
enum DirOp {
    /// A name now holds this inode: a file created, or the arriving end of
    /// a rename from another directory.
    Link(PathBuf, InodeRef),
    /// A name is gone: a removal, or the leaving end of a rename to another
    /// directory.
    Unlink(PathBuf),
    /// A rename within this directory: atomic for both of its names.
    Rename {
        from: PathBuf,
        to: PathBuf,
        inode: InodeRef,
    },
    /// A subdirectory was made.
    Mkdir(PathBuf),
}

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Drops `.` components and trailing slashes so equal paths compare equal.
fn norm(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

fn parent_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

fn new_inode(bytes: Vec<u8>) -> InodeRef {
    Arc::new(Mutex::new(Inode {
        synced: bytes.clone(),
        data: bytes,
    }))
}

impl Inner {
    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..=max`.
    fn upto(&mut self, max: usize) -> usize {
        (self.next() % (max as u64 + 1)) as usize
    }

    /// Counts an operation and returns the error of a fault that fires on it.
    fn count(&mut self, op: Op) -> Option<io::Error> {
        self.ops += 1;
        self.faults.fire(op)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.parent().is_none() || self.dirs.contains(path)
    }

    /// Fails like `open(2)` when `path`'s directory is missing or a file.
    fn check_parent(&self, path: &Path) -> io::Result<()> {
        let parent = parent_of(path);
        if self.is_dir(parent) {
            Ok(())
        } else if self.entries.contains_key(parent) {
            Err(errno(ENOTDIR))
        } else {
            Err(errno(ENOENT))
        }
    }

    fn open_inode(&mut self, path: &Path, mode: OpenMode) -> io::Result<InodeRef> {
        if self.is_dir(path) {
            return Err(errno(EISDIR));
        }
        self.check_parent(path)?;
        if let Some(inode) = self.entries.get(path) {
            if mode == OpenMode::Truncate {
                lock(inode).data.clear();
            }
            return Ok(Arc::clone(inode));
        }
        if mode == OpenMode::Read {
            return Err(errno(ENOENT));
        }
        let inode = new_inode(Vec::new());
        self.entries.insert(path.to_path_buf(), Arc::clone(&inode));
        self.record(DirOp::Link(path.to_path_buf(), Arc::clone(&inode)));
        Ok(inode)
    }

    /// Whether a live handle holds the exclusive lock on `path`.
    fn held_exclusively(&self, path: &Path) -> bool {
        self.locks
            .get(path)
            .is_some_and(|token| token.strong_count() > 0)
    }

    /// Whether a live handle holds a shared lock on `path`.
    fn held_shared(&self, path: &Path) -> bool {
        self.shared_locks
            .get(path)
            .is_some_and(|tokens| tokens.iter().any(|t| t.strong_count() > 0))
    }

    /// Notes a change to the entries of a directory (the one holding the
    /// name it changes), durable only once that directory is synced.
    fn record(&mut self, op: DirOp) {
        let name = match &op {
            DirOp::Link(p, _) | DirOp::Unlink(p) | DirOp::Mkdir(p) => p,
            DirOp::Rename { to, .. } => to,
        };
        let dir = parent_of(name).to_path_buf();
        self.pending.entry(dir).or_default().push(op);
    }

    /// Whether every directory above `path` exists in `dirs`.
    fn reachable(dirs: &BTreeSet<PathBuf>, path: &Path) -> bool {
        path.ancestors()
            .skip(1)
            .all(|a| a.parent().is_none() || dirs.contains(a))
    }

    /// The bytes a file holds after a power loss.
    fn crashed_bytes(&mut self, inode: &Inode) -> Vec<u8> {
        let (synced, data) = (&inode.synced, &inode.data);
        if synced == data {
            return synced.clone();
        }
        match self.upto(2) {
            0 => synced.clone(),
            1 => data.clone(),
            // The new, shorter length reached the disk but overwrites did not.
            _ if data.len() < synced.len() => synced[..data.len()].to_vec(),
            _ => {
                let start = synced.len();
                let kept = self.upto(data.len() - start);
                let mut out = synced.clone();
                out.extend_from_slice(&data[start..start + kept]);
                let garbage = self.upto((data.len() - start - kept).min(16));
                let zeros = self.upto(1) == 0;
                for _ in 0..garbage {
                    let byte = if zeros { 0 } else { self.next() as u8 };
                    out.push(byte);
                }
                out
            }
        }
    }
}

impl Default for SimStorage {
    fn default() -> Self {
        Self::new(0)
    }
}

impl SimStorage {
    /// An empty file system whose random choices (crash outcomes, partial
    /// writes) follow `seed`.
    pub fn new(seed: u64) -> Self {
        let inner = Inner {
            rng: seed,
            generation: 0,
            ops: 0,
            dirs: BTreeSet::new(),
            entries: BTreeMap::new(),
            durable_dirs: BTreeSet::new(),
            durable: BTreeMap::new(),
            pending: BTreeMap::new(),
            locks: HashMap::new(),
            shared_locks: HashMap::new(),
            faults: Faults::default(),
        };
        SimStorage {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    fn start(&self, op: Op) -> io::Result<MutexGuard<'_, Inner>> {
        let mut fs = lock(&self.inner);
        match fs.count(op) {
            Some(err) => Err(err),
            None => Ok(fs),
        }
    }

    /// Simulates a power loss and reboot (see the module doc for what
    /// survives). Afterwards the current state is the durable state, no lock
    /// is held, and every handle opened before fails with EIO.
    pub fn crash(&self) {
        let mut fs = lock(&self.inner);
        let mut dirs = fs.durable_dirs.clone();
        let mut names = fs.durable.clone();
        // Each directory operation since its directory's last sync survives
        // or not on its own; the survivors apply in order.
        for (_, ops) in std::mem::take(&mut fs.pending) {
            for op in ops {
                if fs.upto(1) == 0 {
                    continue;
                }
                match op {
                    DirOp::Link(path, inode) => {
                        names.insert(path, inode);
                    }
                    DirOp::Unlink(path) => {
                        names.remove(&path);
                    }
                    DirOp::Rename { from, to, inode } => {
                        names.remove(&from);
                        names.insert(to, inode);
                    }
                    DirOp::Mkdir(path) => {
                        dirs.insert(path);
                    }
                }
            }
        }
        // A directory whose own entry was lost takes everything in it along.
        let all_dirs = dirs.clone();
        dirs.retain(|d| Inner::reachable(&all_dirs, d));
        let survivors: Vec<(PathBuf, InodeRef)> = names
            .into_iter()
            .filter(|(p, _)| Inner::reachable(&dirs, p))
            .collect();
        // One inode may survive under two names (a rename kept in one
        // directory and lost in the other): decide its bytes once.
        let mut settled: HashMap<*const Mutex<Inode>, InodeRef> = HashMap::new();
        let mut entries = BTreeMap::new();
        for (path, inode) in survivors {
            let new = match settled.get(&Arc::as_ptr(&inode)) {
                Some(new) => Arc::clone(new),
                None => {
                    let bytes = fs.crashed_bytes(&lock(&inode));
                    let new = new_inode(bytes);
                    settled.insert(Arc::as_ptr(&inode), Arc::clone(&new));
                    new
                }
            };
            entries.insert(path, new);
        }
        fs.durable = entries.clone();
        fs.entries = entries;
        fs.durable_dirs = dirs.clone();
        fs.dirs = dirs;
        fs.locks.clear();
        fs.shared_locks.clear();
        fs.generation += 1;
    }

    /// Arms a fault; its count of matching operations starts now.
    pub fn inject(&self, fault: Fault) {
        lock(&self.inner).faults.arm(fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        lock(&self.inner).faults.clear();
    }

    /// How many [`Storage`] and [`StorageFile`] operations have run so far,
    /// failed ones included; the helpers below do not count.
    pub fn op_count(&self) -> u64 {
        lock(&self.inner).ops
    }

    /// The current bytes of the file at `path`, or `None` if there is none.
    pub fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        let fs = lock(&self.inner);
        fs.entries
            .get(&norm(path))
            .map(|inode| lock(inode).data.clone())
    }

    /// Durably replaces the contents of the file at `path` (creating it and
    /// its directory entry if needed, and making the directories above it
    /// durable), e.g. to plant corruption. Open handles to an existing file
    /// see the new bytes.
    pub fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut fs = lock(&self.inner);
        let path = norm(path);
        let inode = fs.open_inode(&path, OpenMode::ReadWrite)?;
        {
            let mut inode = lock(&inode);
            inode.data = bytes.to_vec();
            inode.synced = bytes.to_vec();
        }
        let above: Vec<PathBuf> = path
            .ancestors()
            .skip(1)
            .filter(|a| a.parent().is_some())
            .map(Path::to_path_buf)
            .collect();
        fs.durable_dirs.extend(above);
        fs.durable.insert(path, inode);
        Ok(())
    }

    /// The paths of all current files, sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        lock(&self.inner).entries.keys().cloned().collect()
    }

    fn handle(&self, fs: &Inner, inode: InodeRef, path: PathBuf, mode: OpenMode) -> SimFile {
        SimFile {
            fs: Arc::clone(&self.inner),
            inode,
            generation: fs.generation,
            writable: mode != OpenMode::Read,
            path,
            lock_token: None,
        }
    }
}

impl Storage for SimStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut fs = self.start(Op::Other)?;
        let dir = norm(dir);
        for (i, ancestor) in dir.ancestors().enumerate() {
            if fs.entries.contains_key(ancestor) {
                return Err(errno(if i == 0 { EEXIST } else { ENOTDIR }));
            }
        }
        let mut made: Vec<PathBuf> = dir
            .ancestors()
            .filter(|a| a.parent().is_some() && !fs.dirs.contains(*a))
            .map(Path::to_path_buf)
            .collect();
        // Outermost first: each new directory is an entry of its parent.
        made.reverse();
        for d in made {
            fs.dirs.insert(d.clone());
            fs.record(DirOp::Mkdir(d));
        }
        Ok(())
    }

    fn kind(&self, path: &Path) -> io::Result<Option<PathKind>> {
        let fs = self.start(Op::Other)?;
        let path = norm(path);
        Ok(if fs.is_dir(&path) {
            Some(PathKind::Dir)
        } else if fs.entries.contains_key(&path) {
            Some(PathKind::File)
        } else {
            None
        })
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let fs = self.start(Op::Other)?;
        let dir = norm(dir);
        if !fs.is_dir(&dir) {
            return Err(errno(if fs.entries.contains_key(&dir) {
                ENOTDIR
            } else {
                ENOENT
            }));
        }
        let children = fs.dirs.iter().chain(fs.entries.keys());
        Ok(children
            .filter(|p| p.parent() == Some(dir.as_path()))
            .filter_map(|p| p.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .collect())
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let mut fs = self.start(Op::Open)?;
        let path = norm(path);
        let inode = fs.open_inode(&path, mode)?;
        Ok(Arc::new(self.handle(&fs, inode, path, mode)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut fs = self.start(Op::Rename)?;
        let (from, to) = (norm(from), norm(to));
        if fs.is_dir(&from) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "SimStorage cannot rename directories",
            ));
        }
        if !fs.entries.contains_key(&from) {
            return Err(errno(ENOENT));
        }
        if fs.is_dir(&to) {
            return Err(errno(EISDIR));
        }
        fs.check_parent(&to)?;
        if let Some(inode) = fs.entries.remove(&from) {
            fs.entries.insert(to.clone(), Arc::clone(&inode));
            if parent_of(&from) == parent_of(&to) {
                fs.record(DirOp::Rename { from, to, inode });
            } else {
                fs.record(DirOp::Unlink(from));
                fs.record(DirOp::Link(to, inode));
            }
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut fs = self.start(Op::Remove)?;
        let path = norm(path);
        if fs.is_dir(&path) {
            return Err(errno(EISDIR));
        }
        match fs.entries.remove(&path) {
            Some(_) => {
                fs.record(DirOp::Unlink(path));
                Ok(())
            }
            None => Err(errno(ENOENT)),
        }
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut fs = self.start(Op::Sync)?;
        let dir = norm(dir);
        if !fs.is_dir(&dir) {
            return Err(errno(if fs.entries.contains_key(&dir) {
                ENOTDIR
            } else {
                ENOENT
            }));
        }
        let fs = &mut *fs;
        fs.durable.retain(|path, _| parent_of(path) != dir);
        for (path, inode) in fs.entries.iter().filter(|(p, _)| parent_of(p) == dir) {
            fs.durable.insert(path.clone(), Arc::clone(inode));
        }
        fs.durable_dirs.retain(|d| parent_of(d) != dir);
        let subdirs = fs.dirs.iter().filter(|d| parent_of(d) == dir).cloned();
        fs.durable_dirs.extend(subdirs.collect::<Vec<_>>());
        fs.pending.remove(&dir);
        Ok(())
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
        let mut fs = self.start(Op::Open)?;
        let path = norm(path);
        let inode = fs.open_inode(&path, OpenMode::ReadWrite)?;
        if fs.held_exclusively(&path) || fs.held_shared(&path) {
            return Ok(None);
        }
        let token = Arc::new(());
        fs.locks.insert(path.clone(), Arc::downgrade(&token));
        let mut file = self.handle(&fs, inode, path, OpenMode::ReadWrite);
        file.lock_token = Some(token);
        Ok(Some(Arc::new(file)))
    }

    fn try_lock_shared(&self, path: &Path) -> io::Result<Option<Arc<dyn StorageFile>>> {
        let mut fs = self.start(Op::Open)?;
        let path = norm(path);
        let inode = fs.open_inode(&path, OpenMode::Read)?;
        if fs.held_exclusively(&path) {
            return Ok(None);
        }
        let token = Arc::new(());
        let holders = fs.shared_locks.entry(path.clone()).or_default();
        holders.retain(|t| t.strong_count() > 0);
        holders.push(Arc::downgrade(&token));
        let mut file = self.handle(&fs, inode, path, OpenMode::Read);
        file.lock_token = Some(token);
        Ok(Some(Arc::new(file)))
    }
}

/// A handle to an inode of a [`SimStorage`].
struct SimFile {
    fs: Arc<Mutex<Inner>>,
    inode: InodeRef,
    generation: u64,
    writable: bool,
    /// The path it was opened by, for debugging only.
    path: PathBuf,
    /// Holds the lock of `try_lock` or `try_lock_shared` until the last
    /// clone of this handle goes.
    lock_token: Option<Arc<()>>,
}

impl fmt::Debug for SimFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SimFile({}, generation {})",
            self.path.display(),
            self.generation
        )
    }
}

impl SimFile {
    /// Counts the operation; fails it if the handle predates a crash. A fault
    /// is returned rather than raised so that `write_at` can act on it.
    fn start(&self, op: Op) -> io::Result<(MutexGuard<'_, Inner>, Option<io::Error>)> {
        let mut fs = lock(&self.fs);
        let fault = fs.count(op);
        if fs.generation != self.generation {
            return Err(errno(EIO));
        }
        Ok((fs, fault))
    }

    fn start_write(&self) -> io::Result<(MutexGuard<'_, Inner>, Option<io::Error>)> {
        let started = self.start(Op::Write)?;
        if !self.writable {
            return Err(errno(EBADF));
        }
        Ok(started)
    }
}

impl StorageFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let (_fs, fault) = self.start(Op::Other)?;
        fault.map_or(Ok(()), Err)?;
        let inode = lock(&self.inode);
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(inode.data.len());
        let n = buf.len().min(inode.data.len() - start);
        buf[..n].copy_from_slice(&inode.data[start..start + n]);
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let (mut fs, fault) = self.start_write()?;
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&end| end <= MAX_FILE_LEN);
        if end.is_none() {
            return Err(errno(EFBIG));
        }
        // A failed write may still have written a prefix, as a short write
        // followed by an error would.
        let written = match fault {
            None => buf.len(),
            Some(_) if fs.upto(1) == 0 => fs.upto(buf.len()),
            Some(_) => 0,
        };
        if written > 0 {
            let start = offset as usize;
            let end = start + written;
            let mut inode = lock(&self.inode);
            if inode.data.len() < end {
                inode.data.resize(end, 0);
            }
            inode.data[start..end].copy_from_slice(&buf[..written]);
        }
        fault.map_or(Ok(()), Err)
    }

    fn sync_data(&self) -> io::Result<()> {
        let (_fs, fault) = self.start(Op::Sync)?;
        fault.map_or(Ok(()), Err)?;
        let mut inode = lock(&self.inode);
        inode.synced = inode.data.clone();
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let (_fs, fault) = self.start(Op::Other)?;
        fault.map_or(Ok(()), Err)?;
        Ok(lock(&self.inode).data.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let (_fs, fault) = self.start_write()?;
        fault.map_or(Ok(()), Err)?;
        if len > MAX_FILE_LEN {
            return Err(errno(EFBIG));
        }
        lock(&self.inode).data.resize(len as usize, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::storage::read_exact_at;
    use crate::engine::storage::{FaultKind, FaultOp};

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    /// A storage with `db/` holding `db/a` = `bytes`, synced and durable.
    fn with_durable_file(seed: u64, bytes: &[u8]) -> (SimStorage, Arc<dyn StorageFile>) {
        let fs = SimStorage::new(seed);
        fs.create_dir_all(&p("db")).unwrap();
        let f = fs.open(&p("db/a"), OpenMode::ReadWrite).unwrap();
        f.write_at(bytes, 0).unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(&p("db")).unwrap();
        fs.sync_dir(&p("")).unwrap();
        (fs, f)
    }

    #[test]
    fn a_new_directory_survives_only_once_its_parent_is_synced() {
        let mut outcomes = BTreeSet::new();
        for seed in 0..100 {
            for synced_parents in [false, true] {
                let fs = SimStorage::new(seed);
                fs.create_dir_all(&p("top")).unwrap();
                fs.sync_dir(&p("")).unwrap();
                fs.create_dir_all(&p("top/a/b")).unwrap();
                let f = fs.open(&p("top/a/b/f"), OpenMode::ReadWrite).unwrap();
                f.write_at(b"x", 0).unwrap();
                f.sync_data().unwrap();
                fs.sync_dir(&p("top/a/b")).unwrap();
                if synced_parents {
                    fs.sync_dir(&p("top")).unwrap();
                    fs.sync_dir(&p("top/a")).unwrap();
                }
                fs.crash();
                let kept = fs.read_file(&p("top/a/b/f")).is_some();
                if synced_parents {
                    assert!(kept, "seed {seed}: lost with every parent synced");
                }
                // A file never outlives its directory.
                assert!(!kept || fs.kind(&p("top/a/b")).unwrap() == Some(PathKind::Dir));
                assert_eq!(fs.kind(&p("top")).unwrap(), Some(PathKind::Dir));
                outcomes.insert((synced_parents, kept));
            }
        }
        assert!(outcomes.contains(&(false, false)), "{outcomes:?}");
        assert!(outcomes.contains(&(false, true)), "{outcomes:?}");
    }

    #[test]
    fn unsynced_directory_operations_survive_independently() {
        let mut outcomes = BTreeSet::new();
        for seed in 0..200 {
            let (fs, _f) = with_durable_file(seed, b"a");
            fs.write_file(&p("db/b"), b"b").unwrap();
            fs.rename(&p("db/a"), &p("db/a2")).unwrap();
            fs.remove_file(&p("db/b")).unwrap();
            fs.open(&p("db/c"), OpenMode::ReadWrite).unwrap();
            fs.crash();
            let names: Vec<_> = fs
                .files()
                .into_iter()
                .map(|f| f.display().to_string())
                .collect();
            // A rename is atomic: one of the two names, never both or none.
            let a = names.iter().filter(|n| n.starts_with("db/a")).count();
            assert_eq!(a, 1, "seed {seed}: {names:?}");
            outcomes.insert(names);
        }
        assert_eq!(
            outcomes.len(),
            8,
            "every subset of three operations: {outcomes:?}"
        );
    }

    fn raw(err: io::Error) -> Option<i32> {
        err.raw_os_error()
    }

    #[test]
    fn synced_bytes_survive_and_unsynced_are_lost_kept_or_torn() {
        let (mut lost, mut kept, mut torn) = (0, 0, 0);
        for seed in 0..300 {
            let (fs, f) = with_durable_file(seed, &[b'A'; 100]);
            f.write_at(&[b'B'; 50], 100).unwrap();
            fs.crash();
            let bytes = fs.read_file(&p("db/a")).expect("a durable file survives");
            assert!(
                (100..=150).contains(&bytes.len()),
                "seed {seed}: len {}",
                bytes.len()
            );
            assert_eq!(
                bytes[..100],
                [b'A'; 100],
                "seed {seed}: synced bytes changed"
            );
            match bytes.len() {
                100 => lost += 1,
                150 if bytes[100..] == [b'B'; 50] => kept += 1,
                _ => torn += 1,
            }
        }
        assert!(
            lost > 0 && kept > 0 && torn > 0,
            "lost {lost}, kept {kept}, torn {torn}"
        );
    }

    #[test]
    fn unsynced_truncation_keeps_either_length() {
        let mut lens = BTreeSet::new();
        for seed in 0..100 {
            let (fs, f) = with_durable_file(seed, b"0123456789");
            f.set_len(4).unwrap();
            fs.crash();
            let bytes = fs.read_file(&p("db/a")).unwrap();
            assert!(b"0123456789".starts_with(&bytes), "seed {seed}: {bytes:?}");
            lens.insert(bytes.len());
        }
        assert_eq!(lens, BTreeSet::from([4, 10]));
    }

    #[test]
    fn unsynced_rename_is_reverted_or_kept() {
        let (mut reverted, mut kept) = (0, 0);
        for seed in 0..100 {
            let (fs, _f) = with_durable_file(seed, b"data");
            fs.rename(&p("db/a"), &p("db/b")).unwrap();
            fs.crash();
            match (fs.read_file(&p("db/a")), fs.read_file(&p("db/b"))) {
                (Some(a), None) if a == b"data" => reverted += 1,
                (None, Some(b)) if b == b"data" => kept += 1,
                other => panic!("seed {seed}: {other:?}"),
            }
        }
        assert!(reverted > 0 && kept > 0, "reverted {reverted}, kept {kept}");
    }

    #[test]
    fn unsynced_creation_may_vanish() {
        let mut outcomes = BTreeSet::new();
        for seed in 0..100 {
            let fs = SimStorage::new(seed);
            fs.create_dir_all(&p("db")).unwrap();
            fs.write_file(&p("db/old"), b"x").unwrap();
            fs.open(&p("db/new"), OpenMode::ReadWrite)
                .unwrap()
                .sync_data()
                .unwrap();
            fs.crash();
            outcomes.insert(fs.files().len());
        }
        assert_eq!(outcomes, BTreeSet::from([1, 2]));
    }

    #[test]
    fn sync_dir_makes_rename_and_remove_durable() {
        for seed in 0..50 {
            let (fs, _f) = with_durable_file(seed, b"data");
            fs.write_file(&p("db/gone"), b"x").unwrap();
            fs.rename(&p("db/a"), &p("db/b")).unwrap();
            fs.remove_file(&p("db/gone")).unwrap();
            fs.sync_dir(&p("db")).unwrap();
            fs.crash();
            assert_eq!(fs.files(), vec![p("db/b")], "seed {seed}");
            assert_eq!(fs.read_file(&p("db/b")).unwrap(), b"data");
        }
    }

    #[test]
    fn handles_opened_before_a_crash_fail_with_eio() {
        let (fs, f) = with_durable_file(7, b"data");
        fs.crash();
        assert_eq!(raw(f.write_at(b"zombie", 0).unwrap_err()), Some(EIO));
        assert_eq!(raw(f.read_at(&mut [0; 4], 0).unwrap_err()), Some(EIO));
        assert_eq!(raw(f.sync_data().unwrap_err()), Some(EIO));
        assert_eq!(raw(f.len().unwrap_err()), Some(EIO));
        assert_eq!(raw(f.set_len(0).unwrap_err()), Some(EIO));
        assert_eq!(fs.read_file(&p("db/a")).unwrap(), b"data");
        let g = fs.open(&p("db/a"), OpenMode::Read).unwrap();
        let mut buf = [0; 4];
        read_exact_at(&*g, &mut buf, 0).unwrap();
        assert_eq!(&buf, b"data");
    }

    #[test]
    fn removed_or_replaced_file_stays_readable_through_an_old_handle() {
        let (fs, f) = with_durable_file(1, b"old");
        fs.remove_file(&p("db/a")).unwrap();
        let err = fs.open(&p("db/a"), OpenMode::Read).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let mut buf = [0; 3];
        read_exact_at(&*f, &mut buf, 0).unwrap();
        assert_eq!(&buf, b"old");

        fs.write_file(&p("db/b"), b"bbb").unwrap();
        let b = fs.open(&p("db/b"), OpenMode::Read).unwrap();
        fs.write_file(&p("db/c"), b"ccc").unwrap();
        fs.rename(&p("db/c"), &p("db/b")).unwrap();
        read_exact_at(&*b, &mut buf, 0).unwrap();
        assert_eq!(&buf, b"bbb");
        assert_eq!(fs.read_file(&p("db/b")).unwrap(), b"ccc");
    }

    #[test]
    fn lock_is_exclusive_and_released_on_drop_and_crash() {
        let fs = SimStorage::new(0);
        fs.create_dir_all(&p("db")).unwrap();
        let lock = fs.try_lock(&p("db/LOCK")).unwrap().expect("first lock");
        assert_eq!(fs.kind(&p("db/LOCK")).unwrap(), Some(PathKind::File));
        assert!(fs.try_lock(&p("db/LOCK")).unwrap().is_none());
        let clone = Arc::clone(&lock);
        drop(lock);
        assert!(
            fs.try_lock(&p("db/LOCK")).unwrap().is_none(),
            "a clone still holds it"
        );
        drop(clone);
        let lock = fs
            .try_lock(&p("db/LOCK"))
            .unwrap()
            .expect("released on drop");
        fs.crash();
        let _new = fs
            .try_lock(&p("db/LOCK"))
            .unwrap()
            .expect("released at crash");
        drop(lock);
        assert!(
            fs.try_lock(&p("db/LOCK")).unwrap().is_none(),
            "the zombie's drop keeps it"
        );
    }

    #[test]
    fn shared_locks_coexist_exclude_the_exclusive_one_and_need_the_file() {
        let fs = SimStorage::new(0);
        fs.create_dir_all(&p("db")).unwrap();
        assert_eq!(
            fs.try_lock_shared(&p("db/LOCK"))
                .unwrap_err()
                .raw_os_error(),
            Some(ENOENT)
        );
        assert_eq!(fs.kind(&p("db/LOCK")).unwrap(), None, "never created");
        drop(fs.try_lock(&p("db/LOCK")).unwrap().expect("made and taken"));
        let a = fs.try_lock_shared(&p("db/LOCK")).unwrap().expect("shared");
        let b = fs
            .try_lock_shared(&p("db/LOCK"))
            .unwrap()
            .expect("shared too");
        assert!(a.write_at(b"x", 0).is_err(), "opened read-only");
        assert!(fs.try_lock(&p("db/LOCK")).unwrap().is_none());
        drop(a);
        assert!(fs.try_lock(&p("db/LOCK")).unwrap().is_none(), "b holds it");
        drop(b);
        let x = fs.try_lock(&p("db/LOCK")).unwrap().expect("free again");
        assert!(fs.try_lock_shared(&p("db/LOCK")).unwrap().is_none());
        let _shared = {
            drop(x);
            fs.try_lock_shared(&p("db/LOCK")).unwrap().expect("shared")
        };
        fs.crash();
        assert!(
            fs.try_lock(&p("db/LOCK")).unwrap().is_some(),
            "released at crash"
        );
    }

    #[test]
    fn fault_fires_once_at_the_nth_matching_op() {
        let (fs, f) = with_durable_file(0, b"");
        fs.inject(Fault {
            op: FaultOp::Write,
            nth: 3,
            kind: FaultKind::Eio,
            persistent: false,
        });
        f.write_at(b"1", 0).unwrap();
        f.sync_data().unwrap(); // not a write: not counted
        f.set_len(1).unwrap();
        assert_eq!(raw(f.write_at(b"3", 1).unwrap_err()), Some(EIO));
        f.write_at(b"4", 1).unwrap();
        f.write_at(b"5", 2).unwrap();
        assert_eq!(fs.read_file(&p("db/a")).unwrap(), b"145");
    }

    #[test]
    fn persistent_fault_fails_every_later_op_until_cleared() {
        let (fs, f) = with_durable_file(0, b"");
        fs.inject(Fault {
            op: FaultOp::Sync,
            nth: 2,
            kind: FaultKind::Enospc,
            persistent: true,
        });
        f.sync_data().unwrap();
        let err = fs.sync_dir(&p("db")).unwrap_err();
        assert_eq!(raw(err), Some(ENOSPC));
        assert_eq!(raw(f.sync_data().unwrap_err()), Some(ENOSPC));
        f.write_at(b"x", 0).unwrap();
        fs.clear_faults();
        f.sync_data().unwrap();
    }

    #[test]
    fn other_ops_fault_with_their_kind() {
        let (fs, _f) = with_durable_file(0, b"data");
        let eio = |op| Fault {
            op,
            nth: 1,
            kind: FaultKind::Eio,
            persistent: false,
        };
        fs.inject(eio(FaultOp::Rename));
        assert_eq!(
            raw(fs.rename(&p("db/a"), &p("db/b")).unwrap_err()),
            Some(EIO)
        );
        fs.inject(eio(FaultOp::Remove));
        assert_eq!(raw(fs.remove_file(&p("db/a")).unwrap_err()), Some(EIO));
        fs.inject(eio(FaultOp::Open));
        assert_eq!(raw(fs.try_lock(&p("db/LOCK")).unwrap_err()), Some(EIO));
        assert_eq!(fs.files(), vec![p("db/a")], "failed ops change nothing");
        fs.inject(eio(FaultOp::Any));
        assert_eq!(raw(fs.kind(&p("db")).unwrap_err()), Some(EIO));
        assert!(fs.kind(&p("db")).is_ok());
    }

    #[test]
    fn failed_write_may_leave_a_prefix() {
        let buf: Vec<u8> = (0..100).collect();
        let (mut none, mut some) = (0, 0);
        for seed in 0..100 {
            let (fs, f) = with_durable_file(seed, b"");
            fs.inject(Fault {
                op: FaultOp::Write,
                nth: 1,
                kind: FaultKind::Eio,
                persistent: false,
            });
            assert!(f.write_at(&buf, 0).is_err());
            let bytes = fs.read_file(&p("db/a")).unwrap();
            assert!(buf.starts_with(&bytes), "seed {seed}: not a prefix");
            if bytes.is_empty() {
                none += 1
            } else {
                some += 1
            }
        }
        assert!(none > 0 && some > 0, "none {none}, some {some}");
    }

    #[test]
    fn op_count_counts_every_operation() {
        let fs = SimStorage::new(0);
        fs.create_dir_all(&p("d")).unwrap();
        let f = fs.open(&p("d/f"), OpenMode::Truncate).unwrap();
        f.write_at(b"x", 0).unwrap();
        let _ = f.read_at(&mut [0], 5);
        let _ = fs.remove_file(&p("d/missing"));
        assert_eq!(fs.op_count(), 5);
        fs.read_file(&p("d/f"));
        assert_eq!(fs.op_count(), 5, "helpers do not count");
    }

    #[test]
    fn misuse_fails_like_a_real_file_system() {
        let fs = SimStorage::new(0);
        let not_found =
            |r: io::Result<Arc<dyn StorageFile>>| r.unwrap_err().kind() == io::ErrorKind::NotFound;
        assert!(
            not_found(fs.open(&p("db/a"), OpenMode::ReadWrite)),
            "missing parent"
        );
        fs.create_dir_all(&p("db/sub")).unwrap();
        assert!(not_found(fs.open(&p("db/a"), OpenMode::Read)));
        assert_eq!(
            fs.rename(&p("db/a"), &p("db/b")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            fs.list_dir(&p("nope")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            raw(fs.open(&p("db/sub"), OpenMode::Read).unwrap_err()),
            Some(EISDIR)
        );
        let f = fs.open(&p("db/./a/"), OpenMode::ReadWrite).unwrap();
        assert_eq!(
            raw(fs.create_dir_all(&p("db/a/x")).unwrap_err()),
            Some(ENOTDIR)
        );
        let r = fs.open(&p("db/a"), OpenMode::Read).unwrap();
        assert_eq!(raw(r.write_at(b"x", 0).unwrap_err()), Some(EBADF));
        f.set_len(3).unwrap();
        assert_eq!(fs.read_file(&p("db/a")).unwrap(), [0, 0, 0]);
        let mut names = fs.list_dir(&p("db")).unwrap();
        names.sort();
        assert_eq!(names, ["a", "sub"]);
        assert_eq!(fs.kind(&p("db/sub")).unwrap(), Some(PathKind::Dir));
        assert_eq!(fs.kind(&p("db/zzz")).unwrap(), None);
    }
}
