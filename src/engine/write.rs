//! The write path: group commit into the active log, sealing the log into a
//! segment, flushing and closing; and making the active log's pending
//! repair (creating it, when open could not) before anything is appended.
//!
//! Writers queue their requests; the first one in becomes the leader, takes
//! every queued request, appends them with one write and one fsync, applies
//! them to the in-memory map and hands each waiter its result. So concurrent
//! writers share fsyncs, and the log's order is the order of application.
//! A failed write or fsync poisons the handle: the log is cut back to where
//! the group began (best effort) and every later write is refused. An
//! fsynced append that grows the log writes room past it (writer.rs), cut
//! again before a seal and at close.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io;
use std::mem;
use std::sync::Arc;

use super::batch::{Op, Pending};
use super::dir::{self, seg_idx_name, seg_log_name};
use super::index::{Builder, Index, IndexMeta};
use super::record::{self, FILE_HEADER_LEN, Tag};
use super::replay;
use super::storage::StorageFile;
use super::txn::{Overlay, Pending as TxnPending, Txn};
use super::{Db, Error, LogOrder, MemSlot, Queue, Request, Result, Segment, SyncMode, Writer};

/// The most keys the in-memory map holds before the active log is sealed,
/// whatever the log's size: about 16 MiB of map, at about 96 bytes a short
/// key (its slot, its own allocation and the tree's nodes). A log of 16 MiB
/// of 16-byte keys and 1-byte values held 680k of them: `serve` peaked at
/// 78 MB, and the one-shot command that replayed the log after `serve` was
/// killed at 125 MB (58.6 and 17.4 MB with this bound).
pub(super) const MAX_MEM_KEYS: usize = (16 << 20) / 96;

/// A group's records, encoded as its requests are taken in order, with
/// what each makes the in-memory map hold; and, once a transaction is in
/// the group, by key the last write so far (what it reads through).
struct Appends {
    base: u64,
    buf: Vec<u8>,
    slots: Vec<(Vec<u8>, MemSlot)>,
    order: LogOrder,
    overlay: Option<BTreeMap<Vec<u8>, TxnPending>>,
}

impl Appends {
    fn push(&mut self, tag: Tag, key: Vec<u8>, value: &[u8], expires_at: Option<u64>) {
        let start = self.buf.len();
        self.order.note(&key);
        record::encode_expiring(&mut self.buf, tag, &key, value, expires_at);
        if let Some(overlay) = &mut self.overlay {
            let pending = TxnPending {
                at: (!tag.is_delete()).then_some(start),
                expires_at,
            };
            overlay.insert(key.clone(), pending);
        }
        let slot = MemSlot {
            delete: tag.is_delete(),
            offset: self.base + start as u64,
            len: (self.buf.len() - start) as u32,
            expires: MemSlot::encode_expiry(expires_at),
        };
        self.slots.push((key, slot));
    }

    /// Writes that belong together: one is a plain record, several a batch
    /// (all of them after a crash, or none).
    fn ops(&mut self, ops: Vec<Op>) {
        let batch = ops.len() > 1;
        let n = ops.len() as u32;
        for Op {
            key,
            value,
            expires_at,
        } in ops
        {
            let tag = match (&value, batch) {
                (Some(_), false) => Tag::Put,
                (None, false) => Tag::Delete,
                (Some(_), true) => Tag::BatchPut,
                (None, true) => Tag::BatchDelete,
            };
            self.push(tag, key, value.as_deref().unwrap_or_default(), expires_at);
        }
        if batch {
            record::encode_commit(&mut self.buf, n);
        }
    }

    /// The overlay, made from the writes so far when a transaction first
    /// needs it (groups without one never pay for it).
    fn ensure_overlay(&mut self) {
        if self.overlay.is_some() {
            return;
        }
        let mut overlay = BTreeMap::new();
        for (key, slot) in &self.slots {
            let pending = TxnPending {
                at: (!slot.delete).then_some((slot.offset - self.base) as usize),
                expires_at: slot.expires_at(),
            };
            overlay.insert(key.clone(), pending);
        }
        self.overlay = Some(overlay);
    }
}

impl Db {
    /// Queues `req` and returns once it is durable (or failed).
    pub(super) fn submit(&self, req: Request) -> Result<()> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.pending.push((ticket, req));
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result;
            }
            if !q.leader {
                q.leader = true;
                let group = mem::take(&mut q.pending);
                drop(q);
                let results = self.commit_group(group);
                q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                q.leader = false;
                q.done.extend(results);
                q.wake(&self.queue_cv);
                drop(q);
                self.maybe_compact();
                q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            q = Queue::wait(q, &self.queue_cv);
        }
    }

    fn commit_group(&self, group: Vec<(u64, Request)>) -> Vec<(u64, Result<()>)> {
        let mut w = self.lock_writer();
        let tickets: Vec<u64> = group.iter().map(|(t, _)| *t).collect();
        if w.is_poisoned() {
            return tickets
                .into_iter()
                .map(|t| (t, w.ensure_writable()))
                .collect();
        }
        if let Err(e) = self.ready_log(&mut w) {
            return spread(tickets, e);
        }
        let was_empty = self.holds_nothing(&w);
        let base = w.wal_len;
        let order_before = w.order.clone();
        let mut g = Appends {
            base,
            buf: Vec::new(),
            slots: Vec::new(),
            order: w.order.clone(),
            overlay: None,
        };
        // A transaction that failed makes no write, and only its waiter
        // hears of it.
        let mut refused: Vec<(u64, Error)> = Vec::new();
        let now = self.now_ms();
        for (ticket, req) in group {
            match req {
                Request::Put(k, v) => g.push(Tag::Put, k, &v, None),
                Request::Batch(b) => g.ops(b.ops),
                Request::Txn(f) => {
                    g.ensure_overlay();
                    let overlay = Overlay {
                        buf: &g.buf,
                        writes: g.overlay.as_ref().expect("made just above"),
                    };
                    let mut txn = Txn::new(self, now, overlay);
                    match f(&mut txn) {
                        Ok(()) => {
                            let writes = txn.into_writes();
                            g.ops(writes);
                        }
                        Err(e) => refused.push((ticket, e)),
                    }
                }
            }
        }
        let Appends {
            buf, slots, order, ..
        } = g;
        let wal_path = &self.wal_path;
        let room = w.room_for(self.opts.sync, base + buf.len() as u64);
        let written = w
            .wal
            .write_at(&buf, base)
            .and_then(|()| match room {
                0 => Ok(()),
                n => w.write_room(base + buf.len() as u64, n),
            })
            .map_err(|e| Error::io("write", wal_path, e))
            .and_then(|()| w.sync_appended(self.opts.sync, wal_path));
        if let Err(e) = written {
            w.abandon_append(base, order_before, &e);
            return spread(tickets, e);
        }
        w.wal_len += buf.len() as u64;
        w.room_end = w.room_end.max(w.wal_len + room);
        self.publish_len(&w);
        w.order = order;
        {
            let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
            st.mem.extend(slots);
        }
        if was_empty {
            w.count_all_as_base();
        }
        if let Err(e) = self.after_write(&mut w) {
            w.poison(&e);
            // Under SyncMode::Never the group was not fsynced, and the seal
            // or compaction that failed may have been its flush: success
            // cannot be reported after a failed fsync. Otherwise the group
            // is durable in the log; only the handle is unusable now.
            if self.opts.sync == SyncMode::Never {
                return spread(tickets, e);
            }
        }
        let mut results: Vec<(u64, Result<()>)> =
            tickets.into_iter().map(|t| (t, Ok(()))).collect();
        for (ticket, e) in refused {
            if let Some(r) = results.iter_mut().find(|(t, _)| *t == ticket) {
                r.1 = Err(e);
            }
        }
        results
    }

    /// Makes the active log's pending repair ([`Writer::repair`]: it is
    /// missing, or has a torn tail open could not save for lack of space)
    /// before anything is appended to it or it is sealed; readers then read
    /// the new log. Fails, the log unchanged, while the disk is full.
    pub(super) fn ready_log(&self, w: &mut Writer) -> Result<()> {
        if w.repair.is_none() {
            return Ok(());
        }
        replay::make_repair(&*self.opts.storage, &self.dir, w)?;
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        st.wal = Arc::clone(&w.wal);
        Ok(())
    }

    /// Whether the database holds nothing yet, so that all that is written
    /// next is live (see [`Writer::count_all_as_base`]).
    pub(super) fn holds_nothing(&self, w: &Writer) -> bool {
        if w.wal_len != FILE_HEADER_LEN as u64 {
            return false;
        }
        let st = self.state.read().unwrap_or_else(|p| p.into_inner());
        st.segments.is_empty() && st.mem.is_empty()
    }

    /// Seals a full log. (Automatic compaction runs after the write, with
    /// every lock let go: see [`Db::maybe_compact`].)
    pub(super) fn after_write(&self, w: &mut Writer) -> Result<()> {
        if self.seals_next(w) {
            self.seal(w)?;
        }
        Ok(())
    }

    /// Compacts when automatic compaction is on, the files have grown past
    /// the threshold and no compaction is running. Called by a writer once
    /// its write is acknowledged-ready and it holds no lock: it pays for the
    /// compaction, other writers go on meanwhile. The write that triggered
    /// it was durable already, so a failure is not the write's: it is kept
    /// for [`Db::auto_compaction_failure`], and automatic compaction waits
    /// until the files have grown by the ratio again, rather than repeating
    /// a doomed merge (a damaged segment, a full disk) on every write.
    pub(super) fn maybe_compact(&self) {
        if !self.opts.auto_compact || !self.compaction_due() {
            return;
        }
        let Ok(one) = self.compact_lock.try_lock() else {
            return;
        };
        let outcome = self.compact_with(one);
        let mut w = self.lock_writer();
        match outcome {
            Ok(_) => {
                w.auto_floor = 0;
                w.auto_failure = None;
            }
            Err(e) => {
                let ratio = self.opts.compact_ratio.max(1.0);
                w.auto_floor = (self.total_bytes(&w) as f64 * ratio) as u64;
                w.auto_failure = Some(e.with_causes());
            }
        }
    }

    /// Size at which automatic compaction runs.
    pub(super) fn compaction_threshold(&self, w: &Writer) -> u64 {
        let by_ratio = (w.base_live as f64 * self.opts.compact_ratio) as u64;
        by_ratio.max(self.opts.compact_min_bytes).max(w.auto_floor)
    }

    /// Bytes of every database file (the active log's up to its last
    /// record: its room is not data, and a seal cuts it).
    pub(super) fn total_bytes(&self, w: &Writer) -> u64 {
        let st = self.state.read().unwrap_or_else(|p| p.into_inner());
        st.segments
            .iter()
            .map(|s| s.log_len + s.index_len())
            .sum::<u64>()
            + w.wal_len
    }

    /// Turns the active log into segment `next_id`: fsync it unless this
    /// handle knows its bytes durable, write its index, rename it, fsync
    /// the directory, start a new empty log. A crash at any step leaves
    /// either the old log in place (and a stray index, removed at open) or
    /// the new segment, whose index describes bytes already on the disk.
    /// The seal is complete once the directory is fsynced: a new log that
    /// cannot be created then (a full disk) is created by the next write.
    pub(super) fn seal(&self, w: &mut Writer) -> Result<()> {
        self.seal_with(w, None)
    }

    /// Whether [`after_write`](Self::after_write) would seal the log now:
    /// it holds a segment's bytes, or the in-memory map holds
    /// [`MAX_MEM_KEYS`] keys.
    pub(super) fn seals_next(&self, w: &Writer) -> bool {
        w.wal_len >= self.opts.segment_size || {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            st.mem.len() >= MAX_MEM_KEYS
        }
    }

    /// [`seal`](Self::seal), indexing the writes of `batch` too: a batch
    /// durable in the log but not yet put in the in-memory map, whose writes
    /// are newer than the map's.
    pub(super) fn seal_with(&self, w: &mut Writer, batch: Option<&Pending>) -> Result<()> {
        if w.wal_len <= FILE_HEADER_LEN as u64 {
            return Ok(());
        }
        self.ready_log(w)?;
        // A segment ends at its last record.
        w.cut_room(&self.wal_path)?;
        // The index made durable below describes the log's bytes: they must
        // be on the disk first, even those this handle found at open.
        w.make_log_durable(&self.wal_path)?;
        let storage = &*self.opts.storage;
        let id = w.next_id;
        let mut builder = Builder::new(w.order.kind());
        {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            let in_order = w.order.sorted;
            let sorted = batch.map(|b| b.sorted(in_order)).unwrap_or_default();
            let mut from_batch = sorted.iter().copied().peekable();
            let mut from_mem = st.mem.iter().peekable();
            let mut push = |key: &[u8], s: MemSlot| {
                builder.push_expiring(key, s.delete, s.offset, s.len, s.expires_at())
            };
            // Merge the two in key order; on a tie the batch is newer.
            loop {
                let next = match (from_mem.peek(), from_batch.peek()) {
                    (None, None) => break,
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (Some((k, _)), Some(&i)) => {
                        let b = batch.expect("indexes come from the batch");
                        k.as_slice().cmp(b.key(i))
                    }
                };
                if next != Ordering::Greater {
                    let (k, s) = from_mem.next().expect("peeked");
                    if next == Ordering::Less {
                        push(k, *s);
                        continue;
                    }
                }
                let i = from_batch.next().expect("peeked");
                let b = batch.expect("indexes come from the batch");
                push(b.key(i), b.slot(i));
            }
        }
        let meta = IndexMeta {
            group: None,
            base_live: w.base_live,
            compacted_at: w.last_compaction.map_or(0, unix_secs),
            ..IndexMeta::default()
        };
        let bytes = builder.finish(w.wal_len, |_| meta);
        let idx_path = self.dir.join(seg_idx_name(id));
        let log_path = self.dir.join(seg_log_name(id));
        if let Err(e) = dir::replace(storage, &idx_path, &bytes) {
            // Best effort: open removes any `*.tmp` left behind.
            let _ = storage.remove_file(&dir::tmp_path(&idx_path));
            return Err(e);
        }
        dir::rename(storage, &self.wal_path, &log_path)?;
        dir::sync(storage, &self.dir)?;
        let index = Index::open_written(storage, &idx_path)?;
        let seg = Arc::new(Segment {
            id,
            log_path,
            log: Arc::clone(&w.wal),
            log_len: w.wal_len,
            index: Arc::new(index),
        });
        let (new_wal, failed) = match dir::create_wal(storage, &self.dir) {
            Ok(f) => (f, None),
            Err(e) => (Arc::new(replay::NoLog) as Arc<dyn StorageFile>, Some(e)),
        };
        {
            let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
            let mut segs = (*st.segments).clone();
            segs.push(seg);
            st.segments = Arc::new(segs);
            st.mem.clear();
            st.wal = Arc::clone(&new_wal);
            st.generation += 1;
        }
        w.start_log(new_wal, id);
        self.publish_len(w);
        if let Some(e) = failed {
            w.repair = Some(replay::LogRepair::NewLog { save: None });
            // No success after a failed fsync; any other failure (a full
            // disk) leaves only the log to create, which the next write does.
            if matches!(e, Error::Io { op: "fsync", .. }) {
                w.poison(&e);
                return Err(e);
            }
        }
        Ok(())
    }

    pub(super) fn close_inner(&self) -> Result<()> {
        let mut w = self.lock_writer();
        if w.is_poisoned() {
            return Ok(());
        }
        w.flush(&self.wal_path)?;
        // A log at rest ends at its last record: no room is left behind.
        if w.wal_len <= self.opts.seal_on_close {
            w.cut_room(&self.wal_path)?;
        }
        if w.wal_len > self.opts.seal_on_close
            && let Err(e) = self.seal(&mut w)
        {
            w.poison(&e);
            // Sealing at close only makes the next open quicker, and every
            // acknowledged write was flushed above: on a full disk it is
            // left for later, so that reading a database never fails for it.
            if e.is_no_space() {
                return Ok(());
            }
            return Err(e);
        }
        Ok(())
    }
}

/// The same failure for every request of a group.
fn spread(tickets: Vec<u64>, e: Error) -> Vec<(u64, Result<()>)> {
    let copy = |e: &Error| match e {
        Error::Io { op, path, source } => Error::Io {
            op,
            path: path.clone(),
            source: io::Error::new(source.kind(), source.to_string()),
        },
        other => Error::Poisoned {
            cause: other.with_causes(),
        },
    };
    let mut out: Vec<_> = tickets
        .iter()
        .skip(1)
        .map(|&t| (t, Err(copy(&e))))
        .collect();
    if let Some(&first) = tickets.first() {
        out.insert(0, (first, Err(e)));
    }
    out
}

pub(super) fn unix_secs(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
