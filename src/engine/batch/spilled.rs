//! A batch that has spilled out of the active log (see bulk.rs): the
//! spill itself, and the commit of its new segments.

use std::sync::Arc;

use super::{BatchWriter, Pending};
use crate::engine::bulk::{self, Bulk, Outputs};
use crate::engine::dir::{self, seg_idx_name, seg_log_name};
use crate::engine::index::Index;
use crate::engine::output;
use crate::engine::record::{self, FILE_HEADER_LEN, Tag};
use crate::engine::{Error, Result, Segment};

impl BatchWriter<'_> {
    /// Moves the batch out of the log into a [`Bulk`]: reserves the id the
    /// log is sealed as at commit (below every run), gathers the batch's
    /// records so far (read back from the log, and those still buffered),
    /// and cuts them off the log before any run is written, so that a
    /// failure from then on leaves the log as it was before the batch.
    pub(super) fn spill(&mut self) -> Result<()> {
        let db = self.db;
        let w = self
            .w
            .as_mut()
            .expect("the writer is held until the batch ends");
        // The log's writes before the batch are sealed below the batch's
        // segments; an empty log needs no id.
        let before = self.base > FILE_HEADER_LEN as u64;
        let wal_id = before.then(|| w.reserve_ids(1));
        let storage = Arc::clone(&db.opts.storage);
        let alone = self.was_empty;
        let mut bulk = Bulk::new(storage, &db.dir, wal_id, w, db.opts.segment_size, alone);
        bulk.replaces = self.replace;
        let hold = |bulk: &mut Bulk, rec: record::Record<'_>| {
            let tag = if rec.tag.is_delete() {
                Tag::Delete
            } else {
                Tag::Put
            };
            bulk.hold(tag, rec.key, rec.value, rec.expires_at);
        };
        if self.written > 0 {
            let log = Arc::clone(&w.wal);
            let end = self.base + self.written;
            let mut reader = bulk::RunReader::batch(log, db.wal_path.clone(), self.base, end)?;
            while !reader.done() {
                hold(&mut bulk, reader.record());
                reader.advance()?;
            }
        }
        let mut at = 0;
        while at < self.buf.len() {
            let (rec, n) = record::decode(&self.buf[at..]).map_err(|e| {
                Error::corrupt(&db.wal_path, self.base + self.written, e.to_string())
            })?;
            hold(&mut bulk, rec);
            at += n;
        }
        if self.written > 0 {
            if let Err(e) = w.wal.set_len(self.base) {
                let e = Error::io("truncate", &db.wal_path, e);
                w.poison(&e);
                return Err(e);
            }
            self.written = 0;
        }
        self.buf.clear();
        w.order = self.order_before.clone();
        self.pending = Pending::default();
        bulk.flush_if_full(w)?;
        self.bulk = Some(bulk);
        Ok(())
    }

    /// Commits a spilled batch: its runs become sorted segments (a load
    /// that replaces merges the database's keys in, as tombstones); the
    /// active log is sealed below them; the commit marker makes them the
    /// database's (the commit point); they are renamed into place and
    /// switched in.
    pub(super) fn commit_bulk(mut self, bulk: Bulk) -> Result<()> {
        let db = self.db;
        let mut w = self
            .w
            .take()
            .expect("the writer is held until the batch ends");
        let wal_id = bulk.wal_id;
        debug_assert!(wal_id.is_some() || w.wal_len == FILE_HEADER_LEN as u64);
        let outputs = {
            let mut old = self.replace.then(|| db.keys(&[]));
            let old = old
                .as_mut()
                .map(|k| k as &mut dyn Iterator<Item = Result<Vec<u8>>>);
            bulk.finish(&mut w, old)
        };
        let outputs = match outputs {
            Ok(o) => o,
            Err(e) => {
                self.w = Some(w);
                return Err(e);
            }
        };
        // The log's writes are older than the batch's: sealed as the id
        // reserved for it, below the new segments.
        let high = w.next_id;
        let sealed = match wal_id {
            Some(id) => {
                w.next_id = id;
                let sealed = db.seal(&mut w);
                w.next_id = w.next_id.max(high);
                sealed
            }
            None => Ok(()),
        };
        if let Err(e) = sealed {
            discard(db, &outputs);
            self.w = Some(w);
            return Err(e);
        }
        // The commit point. A failure to make the marker durable takes the
        // batch back (the marker and the new segments removed), so that a
        // failed commit stores nothing; after a failed fsync the handle
        // is poisoned, as always.
        if let Some((first, last)) = outputs.segments.first().zip(outputs.segments.last()) {
            let storage = &*db.opts.storage;
            if let Err(e) = bulk::marker::write(storage, &db.dir, first.id, last.id) {
                let _ = bulk::marker::remove(storage, &db.dir);
                discard(db, &outputs);
                if matches!(e, Error::Io { op: "fsync", .. }) {
                    w.poison(&e);
                }
                self.w = Some(w);
                return Err(e);
            }
        }
        // Committed: a failure from here on leaves a database that the
        // next open finishes (the marker names the segments). The batch is
        // switched in all the same; the handle, whose directory is not as
        // it believes, is poisoned.
        if let Err(e) = self.switch_in(&outputs) {
            w.poison(&e);
        }
        if self.was_empty {
            w.base_live = outputs.bytes;
        }
        db.publish_len(&w);
        drop(w);
        self.release_leader();
        db.maybe_compact();
        Ok(())
    }

    /// After the commit point: the renames, and the new segments in the
    /// readers' state above every other (read through the files already
    /// open, whatever their names).
    fn switch_in(&self, outputs: &Outputs) -> Result<()> {
        let db = self.db;
        let storage = &*db.opts.storage;
        let mut failed = None;
        let mut segments = Vec::with_capacity(outputs.segments.len());
        for out in &outputs.segments {
            let mut log_path = db.dir.join(seg_log_name(out.id));
            if failed.is_none()
                && let Err(e) = dir::rename(storage, &out.tmp_path, &log_path)
            {
                failed = Some(e);
            }
            if failed.is_some() {
                log_path = out.tmp_path.clone();
            }
            let index = Index::open_written(storage, &db.dir.join(seg_idx_name(out.id)))?;
            segments.push(Arc::new(Segment {
                id: out.id,
                log_path,
                log: Arc::clone(&out.file),
                log_len: out.len,
                index: Arc::new(index),
            }));
        }
        {
            let mut st = db.state.write().unwrap_or_else(|p| p.into_inner());
            let mut all = (*st.segments).clone();
            all.extend(segments);
            st.segments = Arc::new(all);
            st.generation += 1;
        }
        if let Some(e) = failed {
            return Err(e);
        }
        dir::sync(storage, &db.dir)?;
        bulk::marker::remove(storage, &db.dir)
    }
}

/// Removes the new segments of a batch that is not committed.
fn discard(db: &crate::engine::Db, outputs: &Outputs) {
    for out in &outputs.segments {
        output::discard(&*db.opts.storage, &db.dir, out.id);
    }
}
