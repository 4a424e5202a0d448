//! [`BatchWriter`]: an atomic batch streamed into the active log, for batches
//! too large to hold in memory (such as `tinykv load`).
//!
//! The writer takes the group-commit leader role for its whole life, so no
//! other write can interleave with the batch's records. Records go to the log
//! through a 1 MiB buffer; [`BatchWriter::commit`] appends the commit record,
//! fsyncs, and only then makes the batch visible. Dropping the writer without
//! committing cuts the log back to where the batch began; if that fails the
//! handle is poisoned, since later records must never follow an unfinished
//! batch.
//!
//! Memory holds the batch's keys while it is in the log. A batch that grows
//! past [`Bulk::spill_at`] (a segment, at most 16 MiB) spills: it is read
//! back out of the log into sorted runs on disk, and committed as new
//! sorted segments (bulk.rs), in memory bounded whatever its size.

use std::sync::MutexGuard;

use super::bulk::Bulk;
use super::record::{self, Tag};
use super::{
    Db, Error, LogOrder, MemSlot, Queue, Result, SyncMode, Writer, check_key, check_value,
};

mod pending;
mod spilled;

pub(super) use pending::Pending;

/// A set of writes applied atomically by [`Db::write_batch`]: after a crash
/// either all of them are there or none.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub(super) ops: Vec<Op>,
    bytes: usize,
}

/// One write of a batch: `key = value` (expiring at `expires_at`, Unix
/// milliseconds, when set), or the deletion of `key` (`value` is `None`).
#[derive(Clone, Debug)]
pub(super) struct Op {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
    pub expires_at: Option<u64>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds `key = value`; later writes to the same key in a batch win.
    pub fn set(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.set_expiring(key, value, None);
    }

    /// Adds `key = value`, expiring at `expires_at` (Unix milliseconds)
    /// when it is `Some` (`None`: for good, clearing an older expiry).
    pub fn set_expiring(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        expires_at: Option<u64>,
    ) {
        let (key, value) = (key.into(), value.into());
        self.bytes += key.len() + value.len();
        self.ops.push(Op {
            key,
            value: Some(value),
            expires_at,
        });
    }

    /// Adds a deletion of `key`.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        let key = key.into();
        self.bytes += key.len();
        self.ops.push(Op {
            key,
            value: None,
            expires_at: None,
        });
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes of keys and values held.
    pub fn size_bytes(&self) -> usize {
        self.bytes
    }
}

const BUF: usize = 1024 * 1024;

/// An open atomic batch; see [`Db::batch_writer`].
#[derive(Debug)]
pub struct BatchWriter<'a> {
    db: &'a Db,
    w: Option<MutexGuard<'a, Writer>>,
    /// Where the batch begins in the active log.
    base: u64,
    /// Bytes of the batch already written to the log.
    written: u64,
    buf: Vec<u8>,
    pending: Pending,
    was_empty: bool,
    /// The log's key order before the batch, restored if it is dropped.
    order_before: LogOrder,
    /// Whether this batch still holds the group-commit leader role.
    leading: bool,
    /// Delete every key the batch does not write, at commit.
    replace: bool,
    /// The batch once it has spilled out of the log (see bulk.rs).
    pub(super) bulk: Option<Bulk>,
    /// Writes added.
    ops: u64,
    /// Never spill (while the tombstones of a small replacing batch are
    /// added against the keys it holds).
    no_spill: bool,
}

impl Db {
    /// Starts an atomic batch written straight to the log: memory holds only
    /// the batch's keys, not its values. Other writers wait until it is
    /// committed or dropped; readers do not. Do not write through the `Db`
    /// from the thread that holds the batch: that write would wait forever.
    pub fn batch_writer(&self) -> Result<BatchWriter<'_>> {
        {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            while q.leader {
                q = Queue::wait(q, &self.queue_cv);
            }
            q.leader = true;
        }
        self.batching
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut w = self.lock_writer();
        let ready = w.ensure_writable().and_then(|()| self.ready_log(&mut w));
        let mut bw = BatchWriter {
            db: self,
            base: w.wal_len,
            written: 0,
            buf: Vec::new(),
            pending: Pending::default(),
            was_empty: false,
            order_before: w.order.clone(),
            leading: true,
            replace: false,
            bulk: None,
            ops: 0,
            no_spill: false,
            w: None,
        };
        if let Err(e) = ready {
            bw.w = Some(w);
            return Err(e);
        }
        bw.was_empty = self.holds_nothing(&w);
        bw.w = Some(w);
        Ok(bw)
    }
}

impl BatchWriter<'_> {
    /// Adds `key = value` to the batch.
    pub fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.set_expiring(key, value, None)
    }

    /// Adds `key = value`, expiring at `expires_at` (Unix milliseconds)
    /// when it is `Some`, to the batch.
    pub fn set_expiring(
        &mut self,
        key: &[u8],
        value: &[u8],
        expires_at: Option<u64>,
    ) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.push(Tag::BatchPut, key, value, expires_at)
    }

    /// Adds a deletion of `key` to the batch.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.push(Tag::BatchDelete, key, &[], None)
    }

    /// Makes the batch replace the database's contents: at commit, every
    /// key it does not write is deleted in the same atomic batch, so that
    /// afterwards the database holds exactly the batch's pairs (`tinykv
    /// load --replace`). No other writer can come between: the batch holds
    /// the writer until then.
    pub fn replace_all(&mut self) {
        self.replace = true;
        if let Some(bulk) = self.bulk.as_mut() {
            bulk.replaces = true;
        }
    }

    /// Number of operations so far.
    pub fn len(&self) -> usize {
        self.ops as usize
    }

    /// Whether no operation was added.
    pub fn is_empty(&self) -> bool {
        self.ops == 0
    }

    fn push(&mut self, tag: Tag, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Result<()> {
        if self.bulk.is_none() && !self.no_spill && !self.pending.slots.is_empty() {
            let next = (key.len() + value.len() + record::MAX_HEADER_LEN) as u64;
            let spill_at = Bulk::spill_at(self.db.opts.segment_size);
            // Its bytes in the log, or its keys' in memory: a batch of
            // many short writes spills for the memory its keys take
            // before its records fill a segment (a load of 4M writes of
            // 8-byte keys and 1-byte values peaked at 97 MB, 49 MB so).
            let logged = self.written + self.buf.len() as u64;
            if logged + next > spill_at || self.pending.bytes() > spill_at {
                self.spill()?;
            }
        }
        self.ops += 1;
        if let Some(bulk) = self.bulk.as_mut() {
            let w = self
                .w
                .as_mut()
                .expect("the writer is held until the batch ends");
            let tag = if tag.is_delete() {
                Tag::Delete
            } else {
                Tag::Put
            };
            return bulk.push(w, tag, key, value, expires_at);
        }
        if self.pending.slots.len() >= u32::MAX as usize - 1 {
            return Err(Error::InvalidOption(
                "a batch holds at most 4,294,967,294 writes".into(),
            ));
        }
        let start = self.buf.len();
        self.w
            .as_mut()
            .expect("the writer is held until the batch ends")
            .order
            .note(key);
        let offset = self.base + self.written + start as u64;
        // A large value is written from where it is, after its header and
        // key: never copied into the buffer.
        let large = value.len() >= BUF;
        if large {
            record::encode_head(&mut self.buf, tag, key, value, expires_at);
        } else {
            record::encode_expiring(&mut self.buf, tag, key, value, expires_at);
        }
        let len = self.buf.len() - start + if large { value.len() } else { 0 };
        let slot = MemSlot {
            delete: tag.is_delete(),
            offset,
            len: len as u32,
            expires: MemSlot::encode_expiry(expires_at),
        };
        self.pending.push(key, slot);
        if large {
            self.drain()?;
            self.write_direct(value)?;
        } else if self.buf.len() >= BUF {
            self.drain()?;
        }
        Ok(())
    }

    /// Adds a deletion of every live key the batch does not write (for
    /// [`replace_all`](Self::replace_all)): a merge of the database's keys,
    /// as they were before the batch, with the batch's keys in order.
    fn delete_the_rest(&mut self) -> Result<()> {
        let sorted = self.pending.sorted(false);
        let mut next = 0;
        for key in self.db.keys(&[]) {
            let key = key?;
            while next < sorted.len() && self.pending.key(sorted[next]) < key.as_slice() {
                next += 1;
            }
            if next < sorted.len() && self.pending.key(sorted[next]) == key.as_slice() {
                continue;
            }
            self.push(Tag::BatchDelete, &key, &[], None)?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let drained = self.write_direct(&buf);
        self.buf = buf;
        self.buf.clear();
        drained
    }

    /// Appends `bytes` to the batch in the log, after what it holds.
    fn write_direct(&mut self, bytes: &[u8]) -> Result<()> {
        let w = self
            .w
            .as_mut()
            .expect("the writer is held until the batch ends");
        w.ensure_writable()?;
        let path = &self.db.wal_path;
        if let Err(e) = w.wal.write_at(bytes, self.base + self.written) {
            let e = Error::io("write", path, e);
            w.poison(&e);
            return Err(e);
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes the commit record and fsyncs (under [`SyncMode::Always`]);
    /// once this returns `Ok`, the whole batch is durable and visible.
    pub fn commit(mut self) -> Result<()> {
        if self.replace && self.bulk.is_none() {
            // The tombstones go into the log's batch while the database is
            // small enough for them to fit; else the batch spills, and the
            // merge of its runs writes them.
            let w = self
                .w
                .as_ref()
                .expect("the writer is held until the batch ends");
            let held = self.written + self.buf.len() as u64 + self.db.total_bytes(w);
            if held > Bulk::spill_at(self.db.opts.segment_size) {
                self.spill()?;
            } else {
                self.no_spill = true;
                self.delete_the_rest()?;
            }
        }
        if let Some(bulk) = self.bulk.take() {
            return self.commit_bulk(bulk);
        }
        if self.pending.slots.is_empty() {
            return Ok(());
        }
        record::encode_commit(&mut self.buf, self.pending.slots.len() as u32);
        self.drain()?;
        let db = self.db;
        let pending = std::mem::take(&mut self.pending);
        let mut w = self
            .w
            .take()
            .expect("the writer is held until the batch ends");
        if let Err(e) = w.sync_appended(db.opts.sync, &db.wal_path) {
            let order_before = std::mem::take(&mut self.order_before);
            w.abandon_append(self.base, order_before, &e);
            return Err(e);
        }
        w.wal_len = self.base + self.written;
        db.publish_len(&w);
        self.written = 0;
        if self.was_empty {
            w.count_all_as_base();
        }
        // A batch that fills the log is sealed at once, indexed straight
        // from its slots (sorted, not put one by one into the ordered map),
        // which is most of the cost of a bulk load otherwise.
        let outcome = if db.seals_next(&w) {
            match db.seal_with(&mut w, Some(&pending)) {
                Ok(()) => {
                    drop(w);
                    self.release_leader();
                    db.maybe_compact();
                    return Ok(());
                }
                Err(e) => Err(e),
            }
        } else {
            Ok(())
        };
        {
            let mut st = db.state.write().unwrap_or_else(|p| p.into_inner());
            for (i, slot) in pending.slots.iter().enumerate() {
                st.mem.insert(pending.key(i).to_vec(), slot.2);
            }
        }
        // A failed seal left the log as it was: the batch is visible from
        // it, and only the handle is unusable now; unless the batch was
        // never fsynced (SyncMode::Never) and the failure may have been its
        // flush: no success after a failed fsync.
        if let Err(e) = outcome.and_then(|()| db.after_write(&mut w)) {
            w.poison(&e);
            if db.opts.sync == SyncMode::Never {
                return Err(e);
            }
        }
        drop(w);
        self.release_leader();
        db.maybe_compact();
        Ok(())
    }
}

impl Drop for BatchWriter<'_> {
    fn drop(&mut self) {
        if let Some(mut w) = self.w.take() {
            w.order = std::mem::take(&mut self.order_before);
            // Not committed: take back what reached the log.
            if self.written > 0
                && !w.is_poisoned()
                && let Err(e) = w.wal.set_len(self.base)
            {
                w.poison(&Error::io("truncate", &self.db.wal_path, e));
            }
        }
        self.release_leader();
    }
}

impl BatchWriter<'_> {
    /// Gives the group-commit leader role back (once).
    fn release_leader(&mut self) {
        if std::mem::replace(&mut self.leading, false) {
            self.db
                .batching
                .store(false, std::sync::atomic::Ordering::Relaxed);
            let mut q = self.db.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.leader = false;
            q.wake(&self.db.queue_cv);
        }
    }
}

#[cfg(test)]
mod tests;
