//! [`Writer`]: what only the writer touches (the active log, its length,
//! the room written past it, its key order, the next segment id, the
//! poisoned state), and the only ways it changes, so that the rules (a
//! failure poisons for good; nothing unsynced is reported durable) live in
//! one place.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::log::LogOrder;
use super::storage::StorageFile;
use super::{Error, Result, SyncMode};
use super::{record, replay};

/// Room is made once the log holds this many bytes (a small database's
/// files stay as long as their records), this far ahead at least, and at
/// most [`MAX_ROOM`]: a quarter of the log's length in between.
const MIN_ROOM: u64 = 64 * 1024;
const MAX_ROOM: u64 = 1024 * 1024;

/// What only the writer touches.
#[derive(Debug)]
pub(super) struct Writer {
    pub(super) wal: Arc<dyn StorageFile>,
    pub(super) wal_len: u64,
    /// Where the active log's file ends when it holds zeros past
    /// `wal_len`: room written ahead of the appends, so that a durable
    /// append inside it changes no file size and its fsync writes no
    /// metadata (docs/format.md, "Room ahead of the active log"). At most
    /// `wal_len` otherwise.
    pub(super) room_end: u64,
    /// Durable appends this handle made that grew the file: room is made
    /// only for a handle that keeps writing (a one-shot command's single
    /// write leaves none behind).
    pub(super) growths: u32,
    /// The key order of the active log's records.
    pub(super) order: LogOrder,
    /// The id the active log gets when it is sealed.
    pub(super) next_id: u64,
    pub(super) poisoned: Option<String>,
    /// Bytes written since the last fsync (for [`SyncMode::Never`]).
    pub(super) unsynced: bool,
    /// Whether every byte of the active log is known to be durable: this
    /// handle created the log or has fsynced it. A log found at open may
    /// hold bytes nobody synced (a writer killed between its write and its
    /// fsync, `--sync never`, a copy); reads do not care, but a seal makes
    /// an index durable that describes those bytes, so it fsyncs them first.
    pub(super) log_synced: bool,
    /// A repair of the active log that needs free space (a new log, a torn
    /// tail saved to `lost+found/`), which open could not make: the next
    /// write or seal makes it first. Reads never need it.
    pub(super) repair: Option<replay::LogRepair>,
    /// Size of the files after the last compaction (0 when none is recorded).
    pub(super) base_live: u64,
    pub(super) last_compaction: Option<SystemTime>,
    /// After a failed automatic compaction: the size the files must reach
    /// before it is tried again (0: no failure since the last success).
    pub(super) auto_floor: u64,
    /// Why the newest automatic compaction failed, until one succeeds.
    pub(super) auto_failure: Option<String>,
    /// The directory of a handle opened read-only: every write is refused.
    pub(super) read_only: Option<PathBuf>,
}

/// The writer's state changes only through these, so that the rules
/// (a failure poisons for good; nothing unsynced is reported durable)
/// live in one place.
impl Writer {
    /// `Ok` while the handle takes writes; once it is poisoned, the error
    /// that names the failure which poisoned it; [`Error::ReadOnly`] for a
    /// read-only handle.
    pub(super) fn ensure_writable(&self) -> Result<()> {
        if let Some(path) = &self.read_only {
            return Err(Error::ReadOnly { path: path.clone() });
        }
        match &self.poisoned {
            None => Ok(()),
            Some(cause) => Err(Error::Poisoned {
                cause: cause.clone(),
            }),
        }
    }

    /// Whether the handle refuses writes (after a failure, or `close`, or
    /// opened read-only).
    pub(super) fn is_poisoned(&self) -> bool {
        self.poisoned.is_some() || self.read_only.is_some()
    }

    /// Refuses every later write because of `e`. The first cause stays:
    /// it is the failure that left the log's state unknown.
    pub(super) fn poison(&mut self, e: &Error) {
        self.poisoned.get_or_insert_with(|| e.with_causes());
    }

    /// After [`Db::close`]: its work is done, and drop must not redo it.
    pub(super) fn retire(&mut self) {
        self.poisoned.get_or_insert_with(|| "closed".into());
    }

    /// Makes bytes just appended durable: now under [`SyncMode::Always`],
    /// at the next flush under [`SyncMode::Never`].
    pub(super) fn sync_appended(&mut self, sync: SyncMode, path: &Path) -> Result<()> {
        match sync {
            SyncMode::Always => {
                self.wal
                    .sync_data()
                    .map_err(|e| Error::io("fsync", path, e))?;
                self.log_synced = true;
                Ok(())
            }
            SyncMode::Never => {
                self.unsynced = true;
                Ok(())
            }
        }
    }

    /// Fsyncs what [`SyncMode::Never`] left unsynced. A failed fsync
    /// poisons: the kernel may have dropped the pages.
    pub(super) fn flush(&mut self, path: &Path) -> Result<()> {
        if self.read_only.is_some() {
            return Ok(()); // It wrote nothing.
        }
        self.sync_log(path, self.unsynced)
    }

    /// Fsyncs every byte of the active log unless it is known durable
    /// (see [`Writer::log_synced`]): before a seal. A one-shot read's
    /// close does not come here unless it seals.
    pub(super) fn make_log_durable(&mut self, path: &Path) -> Result<()> {
        self.sync_log(path, self.unsynced || !self.log_synced)
    }

    pub(super) fn sync_log(&mut self, path: &Path, needed: bool) -> Result<()> {
        self.ensure_writable()?;
        if needed {
            if let Err(e) = self.wal.sync_data() {
                let e = Error::io("fsync", path, e);
                self.poison(&e);
                return Err(e);
            }
            self.unsynced = false;
            self.log_synced = true;
        }
        Ok(())
    }

    /// Gives up an append that began at `base` and failed with `e`: the key
    /// order goes back to `order_before`, the handle is poisoned, and the
    /// log is cut back to `base` (best effort), so that no unacknowledged
    /// record comes back at the next open.
    pub(super) fn abandon_append(&mut self, base: u64, order_before: LogOrder, e: &Error) {
        self.order = order_before;
        self.poison(e);
        let _ = self.wal.set_len(base).and_then(|()| self.wal.sync_data());
    }

    /// How many zero bytes to write past an append that ends at `end`, as
    /// room for the appends after it (docs/format.md, "Room ahead of the
    /// active log"): none unless the append is fsynced, grows the file and
    /// ends past [`MIN_ROOM`], and only from the second such append of this
    /// handle, so that a one-shot write leaves no room behind it.
    pub(super) fn room_for(&mut self, sync: SyncMode, end: u64) -> u64 {
        if sync != SyncMode::Always || end <= self.room_end || end < MIN_ROOM {
            return 0;
        }
        self.growths = self.growths.saturating_add(1);
        if self.growths < 2 {
            return 0;
        }
        (end / 4).clamp(MIN_ROOM, MAX_ROOM)
    }

    /// Writes `n` zero bytes of room at `offset` of the active log.
    pub(super) fn write_room(&self, offset: u64, n: u64) -> std::io::Result<()> {
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        let mut done = 0;
        while done < n {
            let step = (n - done).min(ZEROS.len() as u64);
            self.wal.write_at(&ZEROS[..step as usize], offset + done)?;
            done += step;
        }
        Ok(())
    }

    /// Cuts the room past the log's records off the file and fsyncs it
    /// (before a seal or at close: a segment, and a log at rest, end at
    /// their last record). A failure poisons: the file's length is unknown.
    pub(super) fn cut_room(&mut self, path: &Path) -> Result<()> {
        if self.room_end <= self.wal_len {
            return Ok(());
        }
        self.ensure_writable()?;
        let cut = self
            .wal
            .set_len(self.wal_len)
            .and_then(|()| self.wal.sync_data());
        if let Err(e) = cut {
            let e = Error::io("truncate", path, e);
            self.poison(&e);
            return Err(e);
        }
        self.room_end = self.wal_len;
        Ok(())
    }

    /// Counts the whole log as the compaction base: what was written into
    /// an empty database is all live, so a bulk load does not trigger a
    /// rewrite.
    pub(super) fn count_all_as_base(&mut self) {
        self.base_live = self.wal_len;
    }

    /// Reserves `n` segment ids (a compaction's outputs); returns the first.
    pub(super) fn reserve_ids(&mut self, n: u64) -> u64 {
        let first = self.next_id;
        self.next_id = first + n;
        first
    }

    /// Starts the empty active log `wal` after the old one was sealed into
    /// segment `sealed`.
    pub(super) fn start_log(&mut self, wal: Arc<dyn StorageFile>, sealed: u64) {
        self.wal = wal;
        self.wal_len = record::FILE_HEADER_LEN as u64;
        self.room_end = 0;
        self.order = LogOrder::default();
        self.next_id = sealed + 1;
        self.log_synced = true;
    }
}
