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

use std::sync::MutexGuard;

use super::record::{self, Tag};
use super::{Db, Error, LogOrder, MemSlot, Result, SyncMode, Writer, check_key, check_value};

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
                q = self.queue_cv.wait(q).unwrap_or_else(|p| p.into_inner());
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
    }

    /// Number of operations so far.
    pub fn len(&self) -> usize {
        self.pending.slots.len()
    }

    /// Whether no operation was added.
    pub fn is_empty(&self) -> bool {
        self.pending.slots.is_empty()
    }

    fn push(&mut self, tag: Tag, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Result<()> {
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
        if self.replace {
            self.delete_the_rest()?;
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

/// A batch's keys, back to back, and each write's key span and slot, in log
/// order.
#[derive(Debug, Default)]
pub(super) struct Pending {
    keys: Vec<u8>,
    /// (key start, key length, slot).
    slots: Vec<(u64, u32, MemSlot)>,
}

impl Pending {
    fn push(&mut self, key: &[u8], slot: MemSlot) {
        self.slots
            .push((self.keys.len() as u64, key.len() as u32, slot));
        self.keys.extend_from_slice(key);
    }

    pub(super) fn key(&self, i: usize) -> &[u8] {
        let (at, len, _) = self.slots[i];
        &self.keys[at as usize..at as usize + len as usize]
    }

    pub(super) fn slot(&self, i: usize) -> MemSlot {
        self.slots[i].2
    }

    /// The writes in key order, only the last one of each key.
    /// `in_order`: the keys were written in strictly increasing order.
    pub(super) fn sorted(&self, in_order: bool) -> Vec<usize> {
        let n = self.slots.len();
        if in_order || n < 2 {
            return (0..n).collect();
        }
        // Keys often share a long prefix ("user:0000…"): sort on the eight
        // bytes after the prefix they all share, then on the whole key and
        // the log order, so most comparisons never leave the array.
        let common = (1..n).fold(self.key(0).len(), |c, i| {
            let (a, b) = (self.key(0), self.key(i));
            c.min(a.iter().zip(b).take_while(|(x, y)| x == y).count())
        });
        let prefix = |i: usize| {
            let k = self.key(i).get(common..).unwrap_or_default();
            let mut b = [0u8; 8];
            let m = k.len().min(8);
            b[..m].copy_from_slice(&k[..m]);
            u64::from_be_bytes(b)
        };
        let mut order: Vec<(u64, usize)> = (0..n).map(|i| (prefix(i), i)).collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| self.key(a.1).cmp(self.key(b.1)))
                .then(a.1.cmp(&b.1))
        });
        // Keep the last write of each key.
        let mut out: Vec<usize> = Vec::with_capacity(n);
        for (_, i) in order {
            match out.last_mut() {
                Some(last) if self.key(*last) == self.key(i) => *last = i,
                _ => out.push(i),
            }
        }
        out
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
            self.db.queue_cv.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Batch, Db, Options, SimStorage};

    fn small_opts() -> Options {
        Options {
            segment_size: 4096,
            ..Options::default()
        }
    }

    /// A batch counts its operations and the bytes of its keys and values,
    /// and every kind of write in it is applied.
    #[test]
    fn a_batch_counts_what_it_holds_and_applies_it() {
        let mut b = Batch::new();
        assert!(b.is_empty());
        assert_eq!((b.len(), b.size_bytes()), (0, 0));
        b.set(b"ab".to_vec(), b"cde".to_vec());
        assert!(!b.is_empty());
        assert_eq!((b.len(), b.size_bytes()), (1, 5));
        b.delete(b"gone".to_vec());
        assert_eq!((b.len(), b.size_bytes()), (2, 9));
        b.set_expiring(b"t".to_vec(), b"vv".to_vec(), Some(u64::MAX / 2));
        assert_eq!((b.len(), b.size_bytes()), (3, 12));
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.set(b"gone", b"x").unwrap();
        db.write_batch(b).unwrap();
        assert_eq!(db.get(b"ab").unwrap(), Some(b"cde".to_vec()));
        assert_eq!(db.get(b"gone").unwrap(), None);
        assert_eq!(db.get(b"t").unwrap(), Some(b"vv".to_vec()));
    }

    /// A batch writer counts its operations as they are added.
    #[test]
    fn a_batch_writer_counts_its_operations() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let mut b = db.batch_writer().unwrap();
        assert!(b.is_empty());
        assert_eq!(b.len(), 0);
        b.set(b"a", b"1").unwrap();
        assert!(!b.is_empty());
        assert_eq!(b.len(), 1);
        b.delete(b"b").unwrap();
        b.set_expiring(b"c", b"3", Some(u64::MAX / 2)).unwrap();
        assert_eq!(b.len(), 3);
        b.commit().unwrap();
        // A batch that does not fill the log is not sealed at commit.
        assert!(db.state.read().unwrap().segments.is_empty());
        assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(db.get(b"c").unwrap(), Some(b"3".to_vec()));
    }

    /// A replacing batch leaves exactly its own live pairs: every other key
    /// (before, between and after the batch's keys, in segments and in the
    /// in-memory map) is deleted, and a key it writes twice or deletes is
    /// handled as any batch would.
    #[test]
    fn a_replacing_batch_leaves_only_its_own_pairs() {
        for sealed in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let db = Db::open(dir.path(), small_opts()).unwrap();
            for k in ["a", "b", "c", "d", "e", "f", "g"] {
                db.set(k.as_bytes(), b"old").unwrap();
            }
            if sealed {
                db.set(b"h", &[0; 4096]).unwrap();
                assert!(db.state.read().unwrap().mem.is_empty());
            }
            let mut b = db.batch_writer().unwrap();
            b.replace_all();
            b.set(b"e", b"1").unwrap();
            b.set(b"bb", b"2").unwrap();
            b.set(b"c", b"3").unwrap();
            b.set(b"e", b"4").unwrap();
            b.delete(b"f").unwrap();
            b.set(b"z", b"5").unwrap();
            b.commit().unwrap();
            let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
            let want: Vec<(Vec<u8>, Vec<u8>)> = [("bb", "2"), ("c", "3"), ("e", "4"), ("z", "5")]
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect();
            assert_eq!(all, want, "sealed: {sealed}");
            drop(db);
            let db = Db::open(dir.path(), small_opts()).unwrap();
            let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
            assert_eq!(all, want, "sealed: {sealed}, reopened");
        }
    }

    /// A batch whose commit fills the log and whose seal then fails is
    /// durable already: its commit succeeds and the handle is poisoned;
    /// unless nothing was fsynced (`SyncMode::Never`), where the failed
    /// seal may have been its flush, and the commit fails.
    #[test]
    fn a_failed_seal_after_a_batch_fails_its_commit_only_when_unsynced() {
        use crate::engine::storage::{Fault, FaultKind, FaultOp};
        use crate::engine::{Error, SyncMode};
        for sync in [SyncMode::Always, SyncMode::Never] {
            let sim = SimStorage::new(5);
            let o = Options {
                sync,
                auto_compact: false,
                storage: std::sync::Arc::new(sim.clone()),
                ..small_opts()
            };
            let db = Db::open("/db", o).unwrap();
            let mut b = db.batch_writer().unwrap();
            for i in 0..40u32 {
                b.set(format!("k{i:02}").as_bytes(), &[b'v'; 100]).unwrap();
            }
            // The seal's first step that can fail alone: renaming its index.
            sim.inject(Fault {
                op: FaultOp::Rename,
                nth: 1,
                kind: FaultKind::Eio,
                persistent: true,
            });
            let r = b.commit();
            match sync {
                SyncMode::Never => assert!(matches!(r, Err(Error::Io { .. })), "{r:?}"),
                _ => assert!(r.is_ok(), "{r:?}"),
            }
            assert!(matches!(
                db.set(b"later", b"x"),
                Err(Error::Poisoned { .. })
            ));
            sim.clear_faults();
            if sync == SyncMode::Always {
                assert_eq!(db.get(b"k39").unwrap(), Some(vec![b'v'; 100]));
                drop(db);
                let o = Options {
                    storage: std::sync::Arc::new(sim.clone()),
                    ..small_opts()
                };
                let db = Db::open("/db", o).unwrap();
                assert_eq!(db.len().unwrap(), 40);
            }
        }
    }

    /// A batch that could not start, because the log it would write to
    /// could not be created (a full disk), leaves the handle usable: once
    /// there is space, the next write creates the log.
    #[test]
    fn a_batch_that_cannot_start_leaves_the_handle_usable() {
        use crate::engine::storage::{Fault, FaultKind, FaultOp, Storage};
        let sim = SimStorage::new(9);
        let o = || Options {
            storage: std::sync::Arc::new(sim.clone()),
            ..small_opts()
        };
        let db = Db::open("/db", o()).unwrap();
        db.set(b"a", b"1").unwrap();
        drop(db);
        sim.remove_file(std::path::Path::new("/db/wal.log"))
            .unwrap();
        sim.inject(Fault {
            op: FaultOp::Write,
            nth: 1,
            kind: FaultKind::Enospc,
            persistent: true,
        });
        let db = Db::open("/db", o()).unwrap();
        let r = db.batch_writer();
        assert!(r.as_ref().is_err_and(|e| e.is_no_space()), "{r:?}");
        drop(r);
        sim.clear_faults();
        db.set(b"b", b"2").unwrap();
        let mut b = db.batch_writer().unwrap();
        b.set(b"c", b"3").unwrap();
        b.commit().unwrap();
        assert_eq!(db.len().unwrap(), 2);
    }

    /// A replacing batch of two writes out of key order, whose keys differ
    /// in their first byte and agree in their second, deletes neither: its
    /// writes are sorted before they are merged with the database's keys.
    #[test]
    fn a_replacing_batch_of_two_sorts_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), small_opts()).unwrap();
        for k in ["a", "axc", "bx", "c"] {
            db.set(k.as_bytes(), b"old").unwrap();
        }
        let mut b = db.batch_writer().unwrap();
        b.replace_all();
        b.set(b"bx", b"1").unwrap();
        b.set(b"axc", b"2").unwrap();
        b.commit().unwrap();
        let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
        let want = vec![
            (b"axc".to_vec(), b"2".to_vec()),
            (b"bx".to_vec(), b"1".to_vec()),
        ];
        assert_eq!(all, want);
    }

    #[test]
    fn committed_batch_is_visible_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), small_opts()).unwrap();
        db.set(b"gone", b"x").unwrap();
        let mut b = db.batch_writer().unwrap();
        for i in 0..2000u32 {
            b.set(format!("k{i:05}").as_bytes(), &[b'v'; 100]).unwrap();
        }
        b.delete(b"gone").unwrap();
        assert_eq!(b.len(), 2001);
        b.commit().unwrap();
        assert_eq!(db.get(b"k01999").unwrap(), Some(vec![b'v'; 100]));
        assert_eq!(db.get(b"gone").unwrap(), None);
        drop(db);
        let db = Db::open(dir.path(), small_opts()).unwrap();
        assert_eq!(db.len().unwrap(), 2000);
        assert_eq!(db.get(b"gone").unwrap(), None);
    }

    /// A batch that fills the log is sealed straight from its slots, merged
    /// with what the in-memory map already held: the batch's last write of
    /// a key wins over earlier ones and over the map's.
    #[test]
    fn a_batch_sealed_at_commit_merges_with_the_map() {
        for shuffled in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let db = Db::open(dir.path(), small_opts()).unwrap();
            let mut model = std::collections::BTreeMap::new();
            for k in ["a", "c", "m", "z"] {
                db.set(k.as_bytes(), b"old").unwrap();
                model.insert(k.as_bytes().to_vec(), b"old".to_vec());
            }
            let mut keys: Vec<u32> = (0..300).collect();
            if shuffled {
                keys.reverse();
                keys.swap(10, 200);
            }
            let mut b = db.batch_writer().unwrap();
            for &i in &keys {
                let k = format!("k{i:04}").into_bytes();
                b.set(&k, &[b'v'; 40]).unwrap();
                model.insert(k, vec![b'v'; 40]);
            }
            b.set(b"a", b"first").unwrap();
            b.delete(b"c").unwrap();
            b.set(b"a", b"last").unwrap();
            b.set(b"k0007", b"again").unwrap();
            model.insert(b"a".to_vec(), b"last".to_vec());
            model.remove(&b"c"[..]);
            model.insert(b"k0007".to_vec(), b"again".to_vec());
            b.commit().unwrap();
            {
                let st = db.state.read().unwrap();
                assert!(st.mem.is_empty(), "the batch was sealed at commit");
                assert_eq!(st.segments.len(), 1);
            }
            for (k, v) in &model {
                assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "{k:?}");
            }
            assert_eq!(db.get(b"c").unwrap(), None);
            let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
            assert_eq!(all, model.clone().into_iter().collect::<Vec<_>>());
            assert!(db.check().unwrap().is_clean());
            drop(db);
            let db = Db::open(dir.path(), small_opts()).unwrap();
            let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
            assert_eq!(all, model.into_iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn dropped_batch_leaves_nothing_and_writes_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.set(b"before", b"1").unwrap();
        {
            let mut b = db.batch_writer().unwrap();
            for i in 0..20_000u32 {
                b.set(format!("k{i:05}").as_bytes(), &[b'v'; 100]).unwrap();
            }
        }
        assert_eq!(db.get(b"k00001").unwrap(), None);
        db.set(b"after", b"2").unwrap();
        drop(db);
        let db = Db::open(dir.path(), Options::default()).unwrap();
        assert!(db.open_report().truncated.is_none());
        let keys: Vec<_> = db.keys(b"").map(|k| k.unwrap()).collect();
        assert_eq!(keys, vec![b"after".to_vec(), b"before".to_vec()]);
    }

    #[test]
    fn other_writers_wait_for_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = std::sync::Arc::new(Db::open(dir.path(), Options::default()).unwrap());
        let mut b = db.batch_writer().unwrap();
        b.set(b"a", b"batch").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let other = {
            let db = std::sync::Arc::clone(&db);
            std::thread::spawn(move || {
                db.set(b"a", b"later").unwrap();
                tx.send(()).unwrap();
            })
        };
        // The other writer cannot finish while the batch is open.
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(200))
                .is_err()
        );
        b.commit().unwrap();
        other.join().unwrap();
        assert_eq!(db.get(b"a").unwrap(), Some(b"later".to_vec()));
    }
}
