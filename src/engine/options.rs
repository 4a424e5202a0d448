//! [`Options`] for [`Db::open`](super::Db::open), their defaults, and the
//! values open refuses.
//!
//! Invariant: a handle only ever runs with options that passed
//! [`Options::check`] (open calls it first): segments of at least 4 KiB,
//! a compaction ratio of at least 1.

use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, SystemClock};
use super::storage::{RealStorage, Storage};
use super::{Error, Result};

/// When writes reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Every acknowledged write has been fsynced (the default).
    #[default]
    Always,
    /// Writes are left to the OS; they are fsynced when the handle is closed
    /// or [`Db::flush`](super::Db::flush) is called.
    Never,
}

/// Options for [`Db::open`](super::Db::open). Start from
/// [`Options::default`] and set the fields you need (`let mut o =
/// Options::default(); o.sync = …;`): more options will come, so the
/// struct cannot be built field by field outside this crate.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// When writes reach the disk.
    pub sync: SyncMode,
    /// How long to wait for another holder of the lock (zero: fail at once).
    pub lock_timeout: Duration,
    /// Create the directory (and its parents) when it does not exist.
    pub create: bool,
    /// The active log is sealed into a segment once it reaches this many
    /// bytes, or once it holds 174,762 keys (about 16 MiB of in-memory
    /// map, at about 96 bytes a short key), whichever comes first.
    pub segment_size: u64,
    /// On close, the active log is sealed when it holds more than this many
    /// bytes, so that the next open replays little.
    pub seal_on_close: u64,
    /// Automatic compaction runs only when the files hold at least this many bytes...
    pub compact_min_bytes: u64,
    /// ...and at least this many times the size after the last compaction.
    pub compact_ratio: f64,
    /// Run compaction automatically when both thresholds are crossed.
    pub auto_compact: bool,
    /// Bytes of file blocks kept in memory (point lookups' reads, and
    /// scans' while there is room), at most; 0 turns the cache off. Only
    /// what is read is kept, so a short-lived handle uses little of it. A
    /// scan keeps what it reads only into room no block holds: the first
    /// scans of a database that fits warm the cache, and once it is full a
    /// scan evicts nothing.
    pub cache_bytes: u64,
    /// Open without writing a byte, for a database on read-only media or
    /// another user's: a shared lock (other read-only handles may open it
    /// too; a writer waits for them all), nothing created, removed, cut,
    /// rebuilt on disk or sealed, and every write refused with
    /// [`Error::ReadOnly`]. A torn tail of the active log is read around
    /// and left in place, a missing or damaged index rebuilt in memory.
    /// `create` does not apply. See docs/format.md.
    pub read_only: bool,
    /// The file system to use.
    pub storage: Arc<dyn Storage>,
    /// The wall clock expiry deadlines are read against.
    pub clock: Arc<dyn Clock>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sync: SyncMode::Always,
            lock_timeout: Duration::ZERO,
            create: true,
            segment_size: 16 * 1024 * 1024,
            seal_on_close: 1024 * 1024,
            compact_min_bytes: 5 * 1024 * 1024,
            compact_ratio: 2.0,
            auto_compact: true,
            cache_bytes: 256 * 1024 * 1024,
            read_only: false,
            storage: Arc::new(RealStorage),
            clock: Arc::new(SystemClock),
        }
    }
}

impl Options {
    /// Refuses values no handle can run with.
    pub(super) fn check(&self) -> Result<()> {
        if self.segment_size < 4096 || self.compact_ratio.is_nan() || self.compact_ratio < 1.0 {
            return Err(Error::InvalidOption(
                "segment_size must be at least 4096 and compact_ratio at least 1".into(),
            ));
        }
        Ok(())
    }
}
