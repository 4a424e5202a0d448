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
//! A large output's writes go to a thread of its own once it has written
//! [`SYNC_AHEAD`] bytes, and a full one can be finished (its closing
//! fsync, its index) on another while its writer goes on with the next
//! ([`Output::finish_apart`]); both are joined on every path, an error's
//! included (output/threads.rs). An output under [`SYNC_AHEAD`] bytes
//! runs no thread: a compaction of small segments, as the crash and fault
//! tests run it, has one order of operations.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::dir::{self, seg_idx_name, seg_log_name};
use super::index::{BlockCrcs, Builder, IndexMeta, Kind};
use super::record::{self, FILE_HEADER_LEN, LOG_MAGIC, Tag};
use super::storage::{OpenMode, Storage, StorageFile};
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

/// Once an output has written this many bytes, its writes go to a thread
/// of its own (a [`Pipe`]), which fsyncs every this many bytes it wrote:
/// the merge goes on while the kernel takes the bytes in (a pwrite into
/// the page cache was 12% of a compaction's time on its one thread; off
/// it, a compaction of 1M pairs is 4–5% faster on 2 cores), the disk
/// writes them back as they come, and the fsync that closes the output
/// waits only for the last piece (a compaction spent a fifth of its time
/// in that wait before these fsyncs ran ahead).
const SYNC_AHEAD: u64 = 4 * 1024 * 1024;

/// An output that wrote at least this much is worth finishing apart
/// ([`Output::finish_apart`]): an fsync ran ahead, and the closing one
/// waits for up to [`SYNC_AHEAD`] more bytes (7–9 ms each on the
/// benchmark's disk, eight of them in a compaction of 1M pairs), which
/// the next output's merge need not wait for. A smaller one is finished
/// where it is (its fsync is short).
pub(super) const FINISH_APART: u64 = SYNC_AHEAD;

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
    /// The writer thread, once the output has written `sync_ahead` bytes.
    pipe: Option<Pipe>,
    /// [`SYNC_AHEAD`], but for tests (and never, for an output that is
    /// never fsynced).
    sync_ahead: u64,
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
            pipe: None,
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
        if let Some(pipe) = &self.pipe {
            // The buffer itself goes to the writer; the next is one it is
            // done with.
            let piece = std::mem::replace(&mut self.buf, pipe.spare());
            return self.send(piece);
        }
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
        if self.pipe.is_some() {
            return self.send(bytes.to_vec());
        }
        self.feed_index(bytes)?;
        self.synced = false;
        self.file
            .write_at(bytes, self.len)
            .map_err(|e| Error::io("write", &self.tmp_path, e))?;
        self.len += bytes.len() as u64;
        if self.len >= self.sync_ahead {
            // A thread the system cannot make is no error: the closing
            // fsync covers every byte all the same, only later.
            self.pipe = Pipe::start(Arc::clone(&self.file), self.len, self.sync_ahead);
            if self.pipe.is_none() {
                self.sync_ahead = u64::MAX;
            }
        }
        Ok(())
    }

    /// Hands `piece` to the writer thread, to append after what the file
    /// holds and every piece before it; the writer's failure, if it
    /// stopped.
    fn send(&mut self, piece: Vec<u8>) -> Result<()> {
        self.feed_index(&piece)?;
        self.synced = false;
        self.len += piece.len() as u64;
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(());
        };
        pipe.send(piece)
            .map_err(|(op, e)| Error::io(op, &self.tmp_path, e))
    }

    /// Shows the index the bytes about to be appended at `len`, for its
    /// blocks' CRCs, and writes out what it laid out.
    fn feed_index(&mut self, bytes: &[u8]) -> Result<()> {
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
        Ok(())
    }

    /// Waits for the writer thread, if one runs, to write every piece
    /// handed to it; its failure is the output's (bytes it wrote or
    /// fsynced may not be on the disk). Later writes are the caller's.
    fn join_pipe(&mut self) -> Result<()> {
        let Some(mut pipe) = self.pipe.take() else {
            return Ok(());
        };
        self.sync_ahead = u64::MAX;
        pipe.join()
            .map_err(|(op, e)| Error::io(op, &self.tmp_path, e))
    }

    /// Hands the writes to a writer thread, which fsyncs, past every
    /// `bytes` written instead of [`SYNC_AHEAD`] (tests).
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
        self.join_pipe()?;
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

    /// Fsyncs the file (once: again only after a write), once the writer
    /// thread, if one runs, has written every piece.
    pub fn sync(&mut self) -> Result<()> {
        self.join_pipe()?;
        if !self.synced {
            self.file
                .sync_data()
                .map_err(|e| Error::io("fsync", &self.tmp_path, e))?;
            self.synced = true;
        }
        Ok(())
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

mod threads;
pub(super) use threads::Finishing;
use threads::Pipe;

#[cfg(test)]
mod tests;
