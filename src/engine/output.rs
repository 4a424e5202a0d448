//! [`Output`]: a segment written in key order under its temporary name
//! (`seg-N.log.tmp`), its sorted index built as the records go, for the
//! two writers that make segments other than by sealing the active log:
//! compaction and a bulk load's sorted runs (bulk.rs).
//!
//! Invariants: records are appended in strictly increasing key order (the
//! caller's promise; the index is a sorted one); the file starts with a
//! log header; memory holds one write buffer and the index's pending
//! sparse entries, never a key's entry: the index goes to its own
//! temporary file (`seg-N.idx.tmp`) as it is laid out, at least
//! [`IDX_OUT`] at a time. Nothing refers to either file until its writer
//! renames it into place.
//!
//! A large output can be finished (its closing fsync, its index) on a
//! thread of its own while its writer goes on with the next
//! ([`Output::finish_apart`]); that thread is joined on every path, an
//! error's included, before its [`Finishing`] is gone.
//!
//! The log of a large bulk load's segment hands its pages back to the
//! system once fsyncs have made them durable
//! ([`Output::hand_back_pages`]); every other output's stay cached.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::dir::{self, seg_idx_name, seg_log_name};
use super::index::{BlockCrcs, Builder, IndexMeta, Kind};
use super::record::{self, FILE_HEADER_LEN, LOG_MAGIC, Tag};
use super::storage::{DropBehind, OpenMode, Storage, StorageFile};
use super::{Error, Result};

/// How many outputs a compaction aims at, at most (see [`size_for`]).
const OUTPUTS: u64 = 16;

/// The most a segment written by a compaction or a bulk load holds: 64
/// segments' worth (1 GiB by default). Its index, about 30 bytes a 2 KiB
/// block of records (15 MiB for 1 GiB), is written as it is built.
pub(super) fn max_size(segment_size: u64) -> u64 {
    segment_size.saturating_mul(64)
}

/// The size of each output of a compaction of `bytes` of logs: a segment,
/// or more for a large database, so that it makes at most about 16
/// segments (up to [`max_size`]): every segment costs a one-shot open its
/// index footer, and fewer keep that cost flat as the data grows.
pub(super) fn size_for(bytes: u64, segment_size: u64) -> u64 {
    (bytes / OUTPUTS).clamp(segment_size, max_size(segment_size))
}

/// Records are gathered into a buffer of this size before they are written.
pub(super) const OUT_BUF: usize = 1024 * 1024;
/// The index's bytes are written to its file once this many are laid out.
const IDX_OUT: usize = 256 * 1024;

/// Every this many bytes written, an output starts an fsync of what it has
/// written so far on a thread of its own, so the disk writes it back while
/// the merge goes on and the fsync that closes the output waits only for
/// the last piece (a compaction spent a fifth of its time in that wait).
const SYNC_AHEAD: u64 = 4 * 1024 * 1024;

/// An output at least this long when full is worth finishing apart
/// ([`Output::finish_apart`]): its closing fsync waits for up to
/// [`SYNC_AHEAD`] bytes written since the last fsync ahead (7–9 ms on the
/// benchmark's disk, eight times in a compaction of 1M pairs), which the
/// next output's merge need not wait for. A smaller one is finished where
/// it is (its fsync is short), which also keeps a compaction of small
/// segments, as the crash and fault tests run it, to one order of
/// operations (unless one record takes an output past this size).
pub(super) const FINISH_APART: u64 = SYNC_AHEAD;

/// The name of the thread that finishes an output apart.
pub(super) const FINISHER: &str = "tinykv-finish";

/// A segment being written; see the module doc.
pub(super) struct Output {
    pub id: u64,
    pub file: Arc<dyn StorageFile>,
    pub tmp_path: PathBuf,
    /// Bytes written to the file.
    pub len: u64,
    buf: Vec<u8>,
    /// The index being built and written; `None` once finished, or for a
    /// file that gets no index (a bulk load's run that will be merged,
    /// never used as a segment).
    index: Option<IndexOut>,
    /// Length of the index written by [`finish`](Self::finish).
    pub idx_len: u64,
    /// The first key and the last one appended.
    pub first_key: Vec<u8>,
    pub last_key: Vec<u8>,
    /// Records appended.
    pub records: u64,
    /// Fsynced since the last write.
    synced: bool,
    /// The fsync started in the background (see [`SYNC_AHEAD`]), if any,
    /// and the length written when the last one started.
    ahead: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    ahead_at: u64,
    sync_ahead: u64,
    /// What of the file's pages has been handed back to the system, once
    /// durable; `None`: they are kept (see
    /// [`hand_back_pages`](Self::hand_back_pages)).
    handed_back: Option<DropBehind>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("id", &self.id)
            .field("len", &self.len)
            .field("records", &self.records)
            .finish()
    }
}

impl Output {
    /// Creates `seg-<id>.log.tmp` in `dir`, holding a log header; with
    /// `indexed`, its index is built as records are appended.
    pub fn create(storage: &dyn Storage, dir: &Path, id: u64, indexed: bool) -> Result<Output> {
        let tmp_path = dir::tmp_path(&dir.join(seg_log_name(id)));
        let file = dir::open(storage, &tmp_path, OpenMode::Truncate)?;
        let index = match indexed {
            true => {
                let path = dir::tmp_path(&dir.join(seg_idx_name(id)));
                Some(IndexOut {
                    builder: Builder::new(Kind::Sorted).block_crcs(BlockCrcs::Fed),
                    file: dir::open(storage, &path, OpenMode::Truncate)?,
                    path,
                })
            }
            false => None,
        };
        Ok(Output {
            id,
            file,
            tmp_path,
            len: 0,
            buf: record::file_header(LOG_MAGIC).to_vec(),
            index,
            idx_len: 0,
            first_key: Vec::new(),
            last_key: Vec::new(),
            records: 0,
            synced: false,
            ahead: None,
            ahead_at: 0,
            handed_back: None,
            // A file with no index is a bulk load's run, merged and
            // removed: never fsynced.
            sync_ahead: if indexed { SYNC_AHEAD } else { u64::MAX },
        })
    }

    /// Bytes of the file, written or buffered.
    pub fn size(&self) -> u64 {
        self.len + self.buf.len() as u64
    }

    /// Appends the put `key = value` (expiring at `expires_at`), encoded
    /// here; a large value goes to the file from where it is, after its
    /// header and key, not copied into the buffer.
    pub fn put(&mut self, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Result<()> {
        let start = self.size();
        if value.len() >= OUT_BUF {
            // Noted before its bytes are written (see `write`).
            record::encode_head(&mut self.buf, Tag::Put, key, value, expires_at);
            let len = self.size() - start + value.len() as u64;
            self.noted(key, false, start, len as u32, expires_at)?;
            self.drain()?;
            return self.write(value);
        }
        record::encode_expiring(&mut self.buf, Tag::Put, key, value, expires_at);
        let len = (self.size() - start) as u32;
        self.noted(key, false, start, len, expires_at)
    }

    /// Appends `rec`, the whole encoding of a `Put` or `Delete` record of
    /// `key` (a tombstone when `delete`), as it is.
    pub fn record(
        &mut self,
        key: &[u8],
        rec: &[u8],
        delete: bool,
        expires_at: Option<u64>,
    ) -> Result<()> {
        let start = self.size();
        if rec.len() >= OUT_BUF {
            // Noted before its bytes are written (see `write`).
            self.noted(key, delete, start, rec.len() as u32, expires_at)?;
            self.drain()?;
            return self.write(rec);
        }
        self.buf.extend_from_slice(rec);
        self.noted(key, delete, start, rec.len() as u32, expires_at)
    }

    /// Notes the record appended from `start` for `len` bytes (index, key
    /// range), and writes the buffer out when it is full: after the
    /// record's bytes went to the buffer, or before any went to the file.
    pub fn noted(
        &mut self,
        key: &[u8],
        delete: bool,
        start: u64,
        len: u32,
        expires_at: Option<u64>,
    ) -> Result<()> {
        if let Some(index) = self.index.as_mut() {
            index
                .builder
                .push_expiring(key, delete, start, len, expires_at);
        }
        if self.records == 0 {
            self.first_key = key.to_vec();
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.records += 1;
        if self.buf.len() >= OUT_BUF {
            self.drain()?;
        }
        Ok(())
    }

    /// Appends `bytes`, part of a record being copied in pieces (see
    /// [`noted`](Self::noted), which comes first), straight to the file:
    /// written after what the buffer held.
    pub fn write_through(&mut self, bytes: &[u8]) -> Result<()> {
        self.drain()?;
        self.write(bytes)
    }

    fn drain(&mut self) -> Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let drained = self.write(&buf);
        self.buf = buf;
        self.buf.clear();
        drained
    }

    /// Appends `bytes` to the file, after what the buffer held (drained).
    /// The index sees every byte written, for its blocks' CRCs: each
    /// record's after the record was noted.
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(IndexOut {
            builder,
            file,
            path,
        }) = self.index.as_mut()
        {
            builder.feed(self.len, bytes);
            builder.take_written(IDX_OUT, |at, laid_out| {
                file.write_at(laid_out, at)
                    .map_err(|e| Error::io("write", &*path, e))
            })?;
        }
        self.synced = false;
        self.file
            .write_at(bytes, self.len)
            .map_err(|e| Error::io("write", &self.tmp_path, e))?;
        self.len += bytes.len() as u64;
        if self.len - self.ahead_at >= self.sync_ahead {
            // One at a time: the last one's outcome first.
            self.join_ahead()?;
            let file = Arc::clone(&self.file);
            // A thread the system cannot make is no error: the closing
            // fsync covers every byte all the same, only later.
            self.ahead = std::thread::Builder::new()
                .name("tinykv-fsync".into())
                .spawn(move || file.sync_data())
                .ok();
            self.ahead_at = self.len;
        }
        Ok(())
    }

    /// Waits for the fsync started in the background, if any; its failure
    /// is the output's (the bytes it covered may not be on the disk).
    fn join_ahead(&mut self) -> Result<()> {
        let Some(ahead) = self.ahead.take() else {
            return Ok(());
        };
        let synced = ahead
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the fsync thread panicked")));
        synced.map_err(|e| Error::io("fsync", &self.tmp_path, e))?;
        // It covered what was written when it started.
        self.hand_back(self.ahead_at);
        Ok(())
    }

    /// Starts a background fsync every `bytes` written instead of every
    /// [`SYNC_AHEAD`] (tests).
    #[cfg(test)]
    pub fn sync_ahead_every(&mut self, bytes: u64) {
        self.sync_ahead = bytes;
    }

    /// [`close`](Self::close), then [`write_index`](Self::write_index).
    pub fn finish(
        &mut self,
        storage: &dyn Storage,
        dir: &Path,
        sync: bool,
        meta: impl FnOnce(u64, u64) -> IndexMeta,
    ) -> Result<()> {
        self.close(sync)?;
        self.write_index(storage, dir, meta)
    }

    /// Writes out what is buffered and lets the buffer go (a finished
    /// output may wait long for its switch-over, beside many others);
    /// with `sync`, fsyncs the file.
    pub fn close(&mut self, sync: bool) -> Result<()> {
        self.drain()?;
        self.buf = Vec::new();
        debug_assert!(self.len >= FILE_HEADER_LEN as u64);
        if sync {
            self.sync()?;
        }
        Ok(())
    }

    /// Writes the index, if the output has one and it is not written yet:
    /// the rest of it, its footer from `meta` (given the log's length and
    /// the index's own), fsynced and renamed `seg-<id>.idx` in `dir`. The
    /// log is closed first.
    pub fn write_index(
        &mut self,
        storage: &dyn Storage,
        dir: &Path,
        meta: impl FnOnce(u64, u64) -> IndexMeta,
    ) -> Result<()> {
        let Some(IndexOut {
            builder,
            file,
            path,
        }) = self.index.take()
        else {
            return Ok(());
        };
        let log_len = self.len;
        let mut written = 0;
        let rest = builder.finish(log_len, |idx_len| {
            written = idx_len;
            meta(log_len, idx_len)
        });
        self.idx_len = written;
        let at = written - rest.len() as u64;
        file.write_at(&rest, at)
            .map_err(|e| Error::io("write", &path, e))?;
        file.sync_data().map_err(|e| Error::io("fsync", &path, e))?;
        dir::rename(storage, &path, &dir.join(seg_idx_name(self.id)))
    }

    /// Gives the output the id `id` (free): its log, still under its
    /// temporary name, and its index, written or being written, take
    /// that id's names in `dir`. Only before anything refers to them (a
    /// compaction that merged in parts numbers each part's outputs after
    /// the part before once it knows how many that made).
    pub fn renumber(&mut self, storage: &dyn Storage, dir: &Path, id: u64) -> Result<()> {
        if id == self.id {
            return Ok(());
        }
        let log = dir::tmp_path(&dir.join(seg_log_name(id)));
        dir::rename(storage, &self.tmp_path, &log)?;
        self.tmp_path = log;
        match self.index.as_mut() {
            Some(index) => {
                let path = dir::tmp_path(&dir.join(seg_idx_name(id)));
                dir::rename(storage, &index.path, &path)?;
                index.path = path;
            }
            // Written and renamed into place (a file with no index has none).
            None if self.idx_len > 0 => {
                let (from, to) = (seg_idx_name(self.id), seg_idx_name(id));
                dir::rename(storage, &dir.join(from), &dir.join(to))?;
            }
            None => {}
        }
        self.id = id;
        Ok(())
    }

    /// Fsyncs the file (once: again only after a write), after the
    /// background fsync, if one is under way.
    pub fn sync(&mut self) -> Result<()> {
        self.join_ahead()?;
        if !self.synced {
            self.file
                .sync_data()
                .map_err(|e| Error::io("fsync", &self.tmp_path, e))?;
            self.synced = true;
        }
        self.hand_back(self.len);
        Ok(())
    }

    /// From now on, what an fsync has made durable of the file is handed
    /// back to the system ([`StorageFile::drop_cached`]), not kept in its
    /// cache: for a bulk load that writes more than is worth keeping
    /// there (see bulk.rs). What a background fsync covered goes once it
    /// is joined (when the next one starts, [`SYNC_AHEAD`] bytes on), the
    /// rest after the closing fsync: the pages the next writes take are
    /// then the ones just handed back, not fresh ones, which on a VM that
    /// gives its free memory back to the host cost a fault to the host
    /// each (a load of 100M pairs in key order right after a database of
    /// that size was removed: 48.5-70.7 s, 35.9-40.3 s handing back).
    pub fn hand_back_pages(&mut self) {
        self.handed_back.get_or_insert(DropBehind::at(0));
    }

    /// Hands back the pages of `..durable` not handed back yet, if this
    /// output hands back its pages.
    fn hand_back(&mut self, durable: u64) {
        if let Some(behind) = self.handed_back.as_mut() {
            behind.upto(&*self.file, durable);
        }
    }
}

impl Drop for Output {
    /// An output given up (an error on the way) still waits for its fsync
    /// running ahead, so that no operation on its file comes after what
    /// its owner does next (removing it).
    fn drop(&mut self) {
        if let Some(ahead) = self.ahead.take() {
            let _ = ahead.join();
        }
    }
}

/// An output's index: its builder, and its file under its temporary name,
/// which takes the index as the builder lays it out.
struct IndexOut {
    builder: Builder,
    file: Arc<dyn StorageFile>,
    path: PathBuf,
}

/// Removes the files an output of id `id` may have left: its log under
/// the temporary name and its index (best effort: open removes whatever is
/// left).
pub(super) fn discard(storage: &dyn Storage, dir: &Path, id: u64) {
    let idx = dir.join(seg_idx_name(id));
    for path in [
        dir::tmp_path(&dir.join(seg_log_name(id))),
        dir::tmp_path(&idx),
        idx,
    ] {
        let _ = storage.remove_file(&path);
    }
}

mod finishing;
#[cfg(test)]
mod tests;

pub(super) use finishing::Finishing;
