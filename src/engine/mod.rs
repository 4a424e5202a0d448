//! The storage engine: the only code that touches database files.
//!
//! A database is a directory:
//!
//! ```text
//! LOCK            OS lock held by the open handle (shared by read-only ones); holds the
//!                 pid of the last handle that held it exclusively
//! wal.log         the active log: every write is appended here (the WAL is the data)
//! seg-N.log       sealed logs, immutable, N increasing with age reversed (newest = largest)
//! seg-N.idx       the on-disk index of seg-N.log (derived; rebuilt when damaged)
//! lost+found/     bytes that `recover` could not use, never deleted
//! ```
//!
//! Invariants the code keeps:
//! - Newer beats older: `wal.log` is newer than every segment, and a segment
//!   with a larger id is newer than one with a smaller id. A key's value is
//!   its newest record; a tombstone hides every older record.
//! - A write is acknowledged only after its bytes are in `wal.log` and, with
//!   [`SyncMode::Always`], fsynced. A failed write or fsync poisons the handle.
//! - Opening reads only the active log and each segment index's header and
//!   footer, never every key.
//! - Files are switched in by rename and directory fsync; old files are
//!   removed only after their replacements are durable.
//! - Deleted keys never come back: compaction merges every segment sealed
//!   when it starts (those sealed while it runs get newer ids than its
//!   outputs), so a tombstone is dropped only when no older segment remains.
//! - Reads never wait for a compaction, and writes wait only for its start
//!   and its switch-over (see compaction.rs).
//!
//! See docs/format.md for every byte on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock};

mod backup;
mod batch;
mod bulk;
mod check;
pub mod clock;
mod compaction;
mod compaction_gain;
mod dir;
mod error;
#[cfg(any(test, feature = "testing"))]
pub(crate) mod fuzz_decoders;
mod heap;
mod index;
mod iter;
mod last_key;
mod limits;
mod live_count;
mod lock;
mod log;
mod open;
mod options;
mod output;
mod prefix_crc;
mod read;
mod record;
mod recovery;
mod replay;
mod segment;
mod short_keys;
mod stage;
mod stats;
pub mod storage;
mod txn;
mod write;
mod writer;

pub use backup::BackupReport;
pub use batch::{Batch, BatchWriter};
pub use check::{CheckReport, Problem};
pub use compaction::CompactReport;
pub use compaction_gain::Skipped;
pub use error::{Error, Result};
pub use iter::{Iter, Keys, PairRef};
pub use limits::{MAX_KEY_LEN, MAX_VALUE_LEN, check_key, check_pair, check_value};
pub use open::{OpenReport, Truncation};
pub use options::{Options, SyncMode};
pub use read::Bounded;
pub use recovery::RecoverReport;
pub use stage::Stage;
pub use stats::Stats;
#[cfg(any(test, feature = "testing"))]
pub use storage::SimStorage;
pub use storage::{RealStorage, Storage};
pub use txn::{Condition, Expiry, Renamed, SetOutcome, Stored, Txn, TxnKeys, parse_integer};

use log::LogOrder;
use segment::Segment;
use storage::StorageFile;
use writer::Writer;

/// A value at least this long is written from the caller's buffer, not
/// copied (see [`Db::set_large`]).
const LARGE_VALUE: usize = 1024 * 1024;

/// Where a key's newest record in the active log is.
#[derive(Clone, Copy, Debug)]
struct MemSlot {
    delete: bool,
    offset: u64,
    len: u32,
    /// When the key expires (Unix milliseconds); 0: never (a deadline of
    /// 0 is kept as 1: long past either way).
    expires: u64,
}

impl MemSlot {
    /// The deadline, if the put has one.
    fn expires_at(&self) -> Option<u64> {
        (self.expires != 0).then_some(self.expires)
    }

    /// `expires` for a deadline.
    fn encode_expiry(expires_at: Option<u64>) -> u64 {
        expires_at.map_or(0, |at| at.max(1))
    }
}

/// What readers see; swapped under a short write lock.
#[derive(Debug)]
struct State {
    mem: BTreeMap<Vec<u8>, MemSlot>,
    wal: Arc<dyn StorageFile>,
    segments: Arc<Vec<Arc<Segment>>>,
    /// Bumped whenever `mem` is emptied into a segment or segments change.
    generation: u64,
}

/// A request waiting for the group-commit leader.
enum Request {
    Put(Vec<u8>, Vec<u8>),
    Batch(Batch),
    /// A transaction (txn.rs), run by the group's leader in ticket order.
    Txn(Box<TxnFn>),
}

/// A transaction's body, as the group-commit leader runs it.
type TxnFn = dyn FnOnce(&mut Txn<'_>) -> Result<()> + Send;

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Put(k, v) => write!(f, "Put({} key bytes, {} value bytes)", k.len(), v.len()),
            Request::Batch(b) => write!(f, "Batch({} writes)", b.len()),
            Request::Txn(_) => f.write_str("Txn"),
        }
    }
}

#[derive(Debug, Default)]
struct Queue {
    next_ticket: u64,
    pending: Vec<(u64, Request)>,
    done: BTreeMap<u64, Result<()>>,
    leader: bool,
    /// Threads waiting on `queue_cv`: a leader with none to wake makes no
    /// system call for it (one a round, on a server's hot path).
    waiting: usize,
}

impl Queue {
    /// Waits on `cv` (with `q`, this queue's guard), counted in `waiting`.
    fn wait<'a>(
        mut q: std::sync::MutexGuard<'a, Queue>,
        cv: &Condvar,
    ) -> std::sync::MutexGuard<'a, Queue> {
        q.waiting += 1;
        let mut q = cv.wait(q).unwrap_or_else(|p| p.into_inner());
        q.waiting -= 1;
        q
    }

    /// Wakes every thread waiting on `cv`, if there is one.
    fn wake(&self, cv: &Condvar) {
        if self.waiting > 0 {
            cv.notify_all();
        }
    }
}

/// An open database. `Send + Sync`: share it between threads with an `Arc`.
/// Readers never block each other; writers are serialised and share fsyncs.
#[derive(Debug)]
pub struct Db {
    dir: PathBuf,
    /// `dir/wal.log`, for messages about the active log.
    wal_path: PathBuf,
    opts: Options,
    /// The lock this handle holds: exclusive, or shared when read-only
    /// (none when a read-only database has no lock file: see lock.rs).
    lock: Option<Arc<dyn StorageFile>>,
    state: RwLock<State>,
    writer: Mutex<Writer>,
    queue: Mutex<Queue>,
    queue_cv: Condvar,
    /// Serialises index healing (see [`Db::heal`]).
    heal_lock: Mutex<()>,
    /// Held by a compaction for its whole run and by `recover`: one of them
    /// at a time (a compaction holds the writer lock only at its start and
    /// end).
    compact_lock: Mutex<()>,
    /// The active log's length, published by the writer for
    /// [`Db::write_would_seal`], which must not wait for the writer lock.
    log_len: std::sync::atomic::AtomicU64,
    /// Whether a [`BatchWriter`] is open (it holds the writer until it ends).
    batching: std::sync::atomic::AtomicBool,
    /// The live-key tally and what it needs between calls (live_count.rs).
    counter: Mutex<live_count::Counter>,
    report: OpenReport,
}

impl Db {
    /// Opens (creating when allowed) the database in `dir`, taking its lock.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        open::open(dir.as_ref(), options)
    }

    /// The time expiry is read against (Unix milliseconds, the options'
    /// clock).
    pub fn now_ms(&self) -> u64 {
        self.opts.clock.now_ms()
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// What opening found and repaired.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// Sets `key` to `value`.
    pub fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        if value.len() >= LARGE_VALUE {
            return self.set_large(key, value, None);
        }
        self.submit(Request::Put(key.to_vec(), value.to_vec()))
    }

    /// A put of a large value, written to the log from the caller's
    /// buffer (a batch of one): a queued request would copy it twice, into
    /// the request and into the log's buffer.
    pub(super) fn set_large(
        &self,
        key: &[u8],
        value: &[u8],
        expires_at: Option<u64>,
    ) -> Result<()> {
        let mut batch = self.batch_writer()?;
        batch.set_expiring(key, value, expires_at)?;
        batch.commit()
    }

    /// Deletes `key`; returns whether it was set, at once (of concurrent
    /// deletions of a key, one says it was).
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        self.refuse_if_read_only()?;
        // Most deletions are of keys that are set; one that is not makes no
        // write (a quick look first, then the look that counts, atomic).
        if !self.contains(key)? {
            return Ok(false);
        }
        let key = key.to_vec();
        self.transact(move |t| {
            let found = t.exists(&key)?;
            if found {
                t.delete(&key)?;
            }
            Ok(found)
        })
    }

    /// Applies every write of `batch` atomically.
    pub fn write_batch(&self, batch: Batch) -> Result<()> {
        for op in &batch.ops {
            check_key(&op.key)?;
            if let Some(v) = &op.value {
                check_value(v)?;
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.submit(Request::Batch(batch))
    }

    /// Every live pair, sorted by key.
    pub fn iter(&self) -> Iter<'_> {
        Iter::new(self, &[], true)
    }

    /// Every live pair whose key starts with `prefix`, sorted by key.
    pub fn iter_prefix(&self, prefix: &[u8]) -> Iter<'_> {
        Iter::new(self, prefix, true)
    }

    /// Every live key starting with `prefix`, sorted, without reading values.
    pub fn keys(&self, prefix: &[u8]) -> Keys<'_> {
        Keys(Iter::new(self, prefix, false))
    }

    /// Number of live keys: from the tally kept with the segments, without
    /// walking the keys (see live_count.rs); by a walk of every key if the
    /// tally cannot be made (a damaged index, which the walk heals).
    pub fn len(&self) -> Result<u64> {
        if let Ok(live) = self.live_count() {
            return Ok(live.keys);
        }
        let mut n = 0;
        for key in self.keys(&[]) {
            key?;
            n += 1;
        }
        Ok(n)
    }

    /// Number of live keys that start with `prefix`: the kept count
    /// ([`Db::len`]) for every key, a walk of those keys otherwise.
    pub fn count(&self, prefix: &[u8]) -> Result<u64> {
        if prefix.is_empty() {
            return self.len();
        }
        let mut n = 0;
        for key in self.keys(prefix) {
            key?;
            n += 1;
        }
        Ok(n)
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.keys(&[]).next().transpose()?.is_none())
    }

    /// Leaves `note` in the lock file for as long as this handle holds the
    /// lock: another process refused the lock finds it in
    /// [`Error::Locked`] (with this process's pid), so a program can say
    /// what holds the database and where it can be reached. Advice only:
    /// the next holder overwrites it. At most 4096 bytes.
    pub fn set_lock_note(&self, note: &str) -> Result<()> {
        self.refuse_if_read_only()?;
        let Some(held) = &self.lock else {
            return Err(Error::InvalidOption("no lock is held".into()));
        };
        if note.len() > lock::MAX_NOTE {
            return Err(Error::InvalidOption(format!(
                "a lock note is at most {} bytes",
                lock::MAX_NOTE
            )));
        }
        let path = self.dir.join(lock::LOCK_FILE);
        lock::write_note(&**held, note).map_err(|e| Error::io("write", &path, e))
    }

    /// Whether the files have grown past the automatic-compaction threshold
    /// (at least `compact_min_bytes` and `compact_ratio` × the size after the
    /// last compaction). Cheap: no key is read. A program that turns
    /// `auto_compact` off, such as a server compacting in a thread of its
    /// own, asks this to decide when to call [`Db::compact`].
    pub fn compaction_due(&self) -> bool {
        let w = self.lock_writer();
        self.total_bytes(&w) >= self.compaction_threshold(&w)
    }

    /// Whether about `bytes` more written now would fill the active log, so
    /// that the write also seals it (and writes its index: milliseconds
    /// rather than microseconds). Lock-free, and never waits for a write in
    /// progress: an event loop asks it to decide whether to write a round
    /// itself or hand it to a thread that may wait.
    pub fn write_would_seal(&self, bytes: u64) -> bool {
        let len = self.log_len.load(std::sync::atomic::Ordering::Relaxed);
        len.saturating_add(bytes) >= self.opts.segment_size
    }

    /// Whether a [`BatchWriter`] is open now, so that a write would wait
    /// until it ends (a bulk load: about a second per million pairs).
    /// Lock-free: an event loop asks it, as it asks
    /// [`Db::write_would_seal`], to hand its writes to a thread that may
    /// wait.
    pub fn batch_in_progress(&self) -> bool {
        self.batching.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Makes every acknowledged write durable (a no-op under
    /// [`SyncMode::Always`], and for a read-only handle).
    pub fn flush(&self) -> Result<()> {
        self.lock_writer().flush(&self.wal_path)
    }

    /// Flushes, seals a large active log so the next open is quick, and
    /// releases the lock, reporting any failure (dropping does the same
    /// silently).
    pub fn close(self) -> Result<()> {
        let result = self.close_inner();
        if result.is_ok() {
            self.keep_count();
        }
        // Drop would retry the same work; it is done.
        self.lock_writer().retire();
        result
    }

    /// Why the newest automatic compaction failed, if it did and none has
    /// succeeded since. Nothing was lost by it (the old files stay in use,
    /// the outputs are removed); it is retried once the files have grown
    /// by the compaction ratio again. A caller that can warn someone should:
    /// the cause (a damaged segment, a full disk) is theirs to fix.
    pub fn auto_compaction_failure(&self) -> Option<String> {
        self.lock_writer().auto_failure.clone()
    }

    /// Rewrites the live data into new segments and removes the old ones.
    /// Writes go on while it runs (into the active log, and segments sealed
    /// meanwhile); reads never wait for it. One runs at a time.
    pub fn compact(&self) -> Result<CompactReport> {
        let one = self.compact_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.compact_if_smaller(one)
    }

    /// Verifies every record's CRC and every file's structure, read-only.
    pub fn check(&self) -> Result<CheckReport> {
        let _w = self.lock_writer();
        check::check_files(&*self.opts.storage, &self.dir)
    }

    /// Salvages this open database in place, as [`Db::recover_dir`] does for
    /// a closed one, then reloads it. Readers carry on throughout (they keep
    /// reading the files they had open); writers wait. A poisoned handle is
    /// usable again afterwards, since the state is read back from the disk.
    pub fn recover(&self) -> Result<RecoverReport> {
        self.refuse_if_read_only()?;
        let _no_compaction = self.compact_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut w = self.lock_writer();
        if !w.is_poisoned() {
            w.flush(&self.wal_path)?;
        }
        let storage = &*self.opts.storage;
        let report = recovery::recover_files(storage, &self.dir)?;
        let (mut state, writer) =
            open::load(storage, &self.dir, false, &mut OpenReport::default())?;
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.generation = st.generation + 1;
        *st = state;
        *w = writer;
        self.publish_len(&w);
        Ok(report)
    }

    /// Verifies the database in `dir` without changing a byte: no torn tail
    /// is cut and no index rebuilt. Takes the lock for the duration (a
    /// shared one with [`Options::read_only`]).
    pub fn check_dir(dir: impl AsRef<Path>, options: &Options) -> Result<CheckReport> {
        check::check_dir(dir.as_ref(), options)
    }

    /// Salvages every intact record of the database in `dir`: cuts torn
    /// tails, rewrites damaged logs without their damaged bytes (which go to
    /// `lost+found/`), and rebuilds every index. Takes the lock. Refused
    /// with [`Error::ReadOnly`] under [`Options::read_only`].
    pub fn recover_dir(dir: impl AsRef<Path>, options: &Options) -> Result<RecoverReport> {
        recovery::recover_dir(dir.as_ref(), options)
    }

    /// Publishes the active log's length for [`Db::write_would_seal`].
    fn publish_len(&self, w: &Writer) {
        self.log_len
            .store(w.wal_len, std::sync::atomic::Ordering::Relaxed);
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; `close` reports them.
        let _ = self.close_inner();
    }
}

// Compile-time proof of the concurrency contract.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Db>();
};
