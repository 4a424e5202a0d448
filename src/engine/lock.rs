//! The lock on a database directory: exclusive for a handle that may
//! write, shared for a read-only one.
//!
//! The lock is an OS file lock (`File::try_lock`, `File::try_lock_shared`
//! through [`Storage`]) on `DIR/LOCK`, held for the lifetime of the handle
//! and released by the OS when the holder dies, so a crash never leaves a
//! stale lock. The exclusive holder writes its pid into the file so that a
//! refused opener can name it; the pid is advice only, never a lock by
//! itself. A shared holder writes nothing, so a writer refused by one
//! finds the last exclusive holder's pid there.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::storage::{OpenMode, Storage, StorageFile, read_exact_at};
use super::{Error, Result};

/// Name of the lock file inside the database directory.
pub const LOCK_FILE: &str = "LOCK";
/// Bytes of the pid line in the lock file.
const PID_WIDTH: u64 = 20;
/// The longest note a holder may leave.
pub const MAX_NOTE: usize = 4096;

/// Who holds a database's lock, as the lock file says (advice only: the
/// OS lock decides).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holder {
    /// The holder's process id, when the file names one.
    pub pid: Option<u32>,
    /// What the holder wrote after its pid (empty when nothing).
    pub note: String,
}

/// Takes the lock on `dir`, waiting up to `timeout` for another holder.
pub fn acquire(
    storage: &dyn Storage,
    dir: &Path,
    timeout: Duration,
) -> Result<Arc<dyn StorageFile>> {
    let path = dir.join(LOCK_FILE);
    let file = wait_for(storage, dir, timeout, || storage.try_lock(&path))?;
    // Best effort: the pid helps a refused opener's message, nothing
    // more. It is written at a fixed width over the old one, never by
    // truncating: truncating a file with unwritten data makes ext4
    // flush it on close, which cost milliseconds per one-shot command.
    let pid = format!("{:<19}\n", std::process::id());
    let _ = file
        .write_at(pid.as_bytes(), 0)
        .and_then(|()| match file.len() {
            Ok(len) if len > PID_WIDTH => file.set_len(PID_WIDTH),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        });
    Ok(file)
}

/// Takes a shared lock on `dir` for a read-only handle, waiting up to
/// `timeout` for an exclusive holder; writes nothing (no pid: the file is
/// opened read-only). `None` when the directory has no lock file: a shared
/// lock needs one, and a read-only handle creates nothing, so it reads
/// without a lock. That is safe where read-only handles are meant for: on
/// read-only media nothing can write either, and any writer creates the
/// lock file before its first write (a directory without one, such as a
/// fresh backup, has never been opened for writing). Should a writer start
/// meanwhile all the same, this handle still writes nothing; it reads the
/// files it opened as they were, and an open racing a compaction's
/// removals fails (a file it listed is gone).
pub fn acquire_shared(
    storage: &dyn Storage,
    dir: &Path,
    timeout: Duration,
) -> Result<Option<Arc<dyn StorageFile>>> {
    let path = dir.join(LOCK_FILE);
    match wait_for(storage, dir, timeout, || storage.try_lock_shared(&path)) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.io_kind() == Some(io::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Tries `try_lock` until it takes the lock or `timeout` has passed (then
/// [`Error::Locked`], naming the holder the lock file names).
fn wait_for(
    storage: &dyn Storage,
    dir: &Path,
    timeout: Duration,
    mut try_lock: impl FnMut() -> io::Result<Option<Arc<dyn StorageFile>>>,
) -> Result<Arc<dyn StorageFile>> {
    let path = dir.join(LOCK_FILE);
    // A timeout past what an Instant can hold (`--wait 1e19`) is forever.
    let deadline = Instant::now().checked_add(timeout);
    loop {
        match try_lock() {
            Ok(Some(file)) => return Ok(file),
            Ok(None) => {}
            Err(e) => return Err(Error::io("lock", &path, e)),
        }
        let now = Instant::now();
        let left = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(now));
        if left.is_zero() {
            let holder = holder(storage, &path);
            return Err(Error::Locked {
                path: dir.to_owned(),
                pid: holder.pid,
                note: holder.note,
            });
        }
        thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// What the lock file says of its holder; nothing when it cannot be read.
fn holder(storage: &dyn Storage, path: &Path) -> Holder {
    let read = || -> Option<Vec<u8>> {
        let file = storage.open(path, OpenMode::Read).ok()?;
        let len = file.len().ok()?.min(PID_WIDTH + MAX_NOTE as u64) as usize;
        let mut buf = vec![0u8; len];
        read_exact_at(&*file, &mut buf, 0).ok()?;
        Some(buf)
    };
    let Some(bytes) = read() else {
        return Holder::default();
    };
    let (pid, note) = bytes.split_at(bytes.len().min(PID_WIDTH as usize));
    Holder {
        pid: std::str::from_utf8(pid)
            .ok()
            .and_then(|p| p.trim().parse().ok()),
        note: String::from_utf8_lossy(note).into_owned(),
    }
}

/// Leaves `note` after the pid in the lock file the caller holds.
pub(super) fn write_note(file: &dyn StorageFile, note: &str) -> std::io::Result<()> {
    file.write_at(note.as_bytes(), PID_WIDTH)?;
    file.set_len(PID_WIDTH + note.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::storage::RealStorage;

    #[test]
    fn second_holder_is_refused_with_the_pid_and_can_wait() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(&RealStorage, dir.path(), Duration::ZERO).unwrap();
        match acquire(&RealStorage, dir.path(), Duration::ZERO) {
            Err(Error::Locked { pid, note, .. }) => {
                assert_eq!(pid, Some(std::process::id()));
                assert_eq!(note, "");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        let waiter = {
            let d = dir.path().to_owned();
            // Past what an Instant can hold: forever, not a panic (review).
            thread::spawn(move || acquire(&RealStorage, &d, Duration::MAX).map(|_| ()))
        };
        drop(held);
        waiter.join().unwrap().unwrap();
        drop(acquire(&RealStorage, dir.path(), Duration::MAX).unwrap());
    }

    #[test]
    fn a_refused_opener_reads_the_holders_note() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(&RealStorage, dir.path(), Duration::ZERO).unwrap();
        write_note(&*held, "kind=repl\nsocket=/run/x.sock\n").unwrap();
        match acquire(&RealStorage, dir.path(), Duration::ZERO) {
            Err(Error::Locked { pid, note, .. }) => {
                assert_eq!(pid, Some(std::process::id()));
                assert_eq!(note, "kind=repl\nsocket=/run/x.sock\n");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        // A shorter note replaces a longer one whole; the next holder's
        // pid line cuts the old note off.
        write_note(&*held, "k").unwrap();
        assert_eq!(holder(&RealStorage, &dir.path().join(LOCK_FILE)).note, "k");
        drop(held);
        let next = acquire(&RealStorage, dir.path(), Duration::ZERO).unwrap();
        assert_eq!(holder(&RealStorage, &dir.path().join(LOCK_FILE)).note, "");
        drop(next);
    }

    #[test]
    fn shared_holders_coexist_and_keep_a_writer_out() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            acquire_shared(&RealStorage, dir.path(), Duration::ZERO)
                .unwrap()
                .is_none(),
            "no lock file: no lock, and none made"
        );
        assert!(!dir.path().join(LOCK_FILE).exists());
        drop(acquire(&RealStorage, dir.path(), Duration::ZERO).unwrap());
        let before = std::fs::read(dir.path().join(LOCK_FILE)).unwrap();
        let a = acquire_shared(&RealStorage, dir.path(), Duration::ZERO).unwrap();
        let b = acquire_shared(&RealStorage, dir.path(), Duration::ZERO).unwrap();
        assert!(a.is_some() && b.is_some());
        match acquire(&RealStorage, dir.path(), Duration::ZERO) {
            Err(Error::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop((a, b));
        assert_eq!(std::fs::read(dir.path().join(LOCK_FILE)).unwrap(), before);
        let held = acquire(&RealStorage, dir.path(), Duration::ZERO).unwrap();
        assert!(matches!(
            acquire_shared(&RealStorage, dir.path(), Duration::ZERO),
            Err(Error::Locked { .. })
        ));
        drop(held);
    }

    #[test]
    fn empty_lock_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), b"").unwrap();
        let held = acquire(&RealStorage, dir.path(), Duration::ZERO).unwrap();
        drop(held);
        std::fs::write(dir.path().join(LOCK_FILE), b"garbage").unwrap();
        let _held = acquire(&RealStorage, dir.path(), Duration::ZERO).unwrap();
        match acquire(&RealStorage, dir.path(), Duration::ZERO) {
            Err(Error::Locked { .. }) => {}
            other => panic!("expected Locked, got {other:?}"),
        }
    }
}
