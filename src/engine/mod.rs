//! The storage engine: the only code that touches database files.
//! (API skeleton; the implementation is being written.)

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod error;
pub mod storage;

pub use error::{Error, Result};
pub use storage::{RealStorage, SimStorage, Storage};

/// Largest key, in bytes.
pub const MAX_KEY_LEN: usize = 64 * 1024;
/// Largest value, in bytes.
pub const MAX_VALUE_LEN: usize = 256 * 1024 * 1024;

/// When writes reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Every acknowledged write has been fsynced (the default).
    #[default]
    Always,
    /// Writes are left to the OS; they are fsynced when the handle is dropped
    /// or [`Db::flush`] is called.
    Never,
}

/// Options for [`Db::open`].
#[derive(Clone, Debug)]
pub struct Options {
    /// When writes reach the disk.
    pub sync: SyncMode,
    /// How long to wait for another holder of the lock to let go (zero: fail at once).
    pub lock_timeout: Duration,
    /// Create the directory (and parents) when it does not exist.
    pub create: bool,
    /// The active log is sealed into a segment once it reaches this many bytes.
    pub segment_size: u64,
    /// Automatic compaction runs only when the files hold at least this many bytes.
    pub compact_min_bytes: u64,
    /// ... and at least this many times the live size after the last compaction.
    pub compact_ratio: f64,
    /// Run compaction automatically when the thresholds above are crossed.
    pub auto_compact: bool,
    /// The file system to use.
    pub storage: Arc<dyn Storage>,
}

/// Database.
#[derive(Debug)]
pub struct Db;

/// Atomic batch of writes.
#[derive(Clone, Debug, Default)]
pub struct Batch;

#[allow(dead_code)]
fn _p(_: &Path, _: PathBuf) {}
