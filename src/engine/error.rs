//! The engine's own error type.
//!
//! Every failure the engine can report is one variant here, with enough
//! context (file, offset, key length) for a caller to print one clear line.
//! The engine never prints; the binary turns these into messages.

use std::io;
use std::path::PathBuf;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the storage engine. More variants may
/// come: a `match` outside this crate needs a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on a database file failed. The OS error is the
    /// [`source`](std::error::Error::source), not part of this message, so
    /// that a printer of the error chain says it once.
    #[error("{op} {path}")]
    Io {
        /// What was being done ("write", "fsync", "rename", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// Another process (or handle) holds the database lock.
    #[error("{} is locked by another tinykv process{}", path.display(), pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked {
        /// The database directory.
        path: PathBuf,
        /// The holder's process id, when the lock file names one.
        pid: Option<u32>,
        /// The holder's note (see [`Db::set_lock_note`](crate::engine::Db::set_lock_note)):
        /// empty when it left none.
        note: String,
    },

    /// The handle was opened read-only
    /// ([`Options::read_only`](crate::engine::Options::read_only)), so it refuses every write.
    #[error("{} is open read-only", path.display())]
    ReadOnly {
        /// The database directory.
        path: PathBuf,
    },

    /// A file's bytes are damaged: a CRC mismatch, a bad tag, an impossible length.
    #[error("{} is corrupt at offset {offset}: {reason}", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the first damaged record or structure.
        offset: u64,
        /// What was wrong there.
        reason: String,
    },

    /// A file was written by a newer (or unknown) format version.
    #[error("{} has format version {found}; this tinykv reads version {supported}", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found in its header.
        found: u32,
        /// The version this build understands.
        supported: u32,
    },

    /// The path exists but is not a tinykv database directory.
    #[error("{} is not a tinykv database ({reason})", path.display())]
    NotADatabase {
        /// The offending path.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },

    /// A key is empty or longer than [`MAX_KEY_LEN`](crate::engine::MAX_KEY_LEN).
    #[error("key of {len} bytes is invalid (keys must be 1 to {max} bytes)")]
    KeyTooLarge {
        /// The key's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// An increment of a key whose value is not a signed 64-bit decimal
    /// integer (nothing was changed).
    #[error("the value of key {} is not an integer", shown(key))]
    NotAnInteger {
        /// The key.
        key: Vec<u8>,
    },

    /// An increment whose result would not fit a signed 64-bit integer
    /// (nothing was changed).
    #[error("incrementing key {} would overflow a 64-bit integer", shown(key))]
    IntegerOverflow {
        /// The key.
        key: Vec<u8>,
    },

    /// A value is longer than [`MAX_VALUE_LEN`](crate::engine::MAX_VALUE_LEN).
    #[error("value of {len} bytes is too large (at most {max} bytes)")]
    ValueTooLarge {
        /// The value's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// An earlier write or fsync failed, so the handle refuses further writes.
    ///
    /// Data written before the failure may or may not be on disk; the only safe
    /// way on is to drop the handle and open the database again, which replays
    /// the log and keeps exactly what reached the disk.
    #[error("database handle is poisoned by an earlier failed write ({cause}); reopen it")]
    Poisoned {
        /// A description of the failure that poisoned the handle.
        cause: String,
    },

    /// An invalid option value was given to the engine.
    #[error("invalid option: {0}")]
    InvalidOption(String),

    /// A compaction stopped for lack of free space (its cause, an ENOSPC,
    /// is the [`source`](std::error::Error::source)). It writes the live
    /// data anew before it removes the old files, so it needs about as much
    /// free space as the database takes; nothing was lost.
    #[error(
        "not enough free space to compact: it needs about {needed} bytes free, since it \
         writes the live data anew before it removes the old files; nothing was lost"
    )]
    CompactionNeedsSpace {
        /// About the most the compaction writes before it removes anything.
        needed: u64,
        /// The failure that ran out of space.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Whether this failed for lack of space on the device (ENOSPC, or a
    /// quota: EDQUOT).
    pub fn is_no_space(&self) -> bool {
        match self {
            Error::Io { source, .. } => matches!(source.raw_os_error(), Some(28 | 122)),
            Error::CompactionNeedsSpace { .. } => true,
            _ => false,
        }
    }

    /// Whether this failed because the process (or the system) had no
    /// file descriptor left: EMFILE or ENFILE, the same numbers on Linux
    /// and the BSDs.
    pub(crate) fn is_out_of_files(&self) -> bool {
        match self {
            Error::Io { source, .. } => matches!(source.raw_os_error(), Some(23 | 24)),
            _ => false,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corrupt {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// This error and its causes on one line (`fsync /d/wal.log: Input/output
    /// error`), for messages kept as text, such as a poisoned handle's cause.
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    /// The underlying I/O error kind, if this is an I/O failure.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// A key in a message: its bytes, escaped where they are not printable.
fn shown(key: &[u8]) -> String {
    format!("'{}'", key.escape_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_says_its_cause_once() {
        let e = Error::io("fsync", "/d/wal.log", io::Error::other("disk on fire"));
        assert_eq!(e.to_string(), "fsync /d/wal.log");
        assert_eq!(
            std::error::Error::source(&e).unwrap().to_string(),
            "disk on fire"
        );
        assert_eq!(e.with_causes(), "fsync /d/wal.log: disk on fire");
    }
}
