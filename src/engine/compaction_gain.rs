//! Whether a compaction can make the files smaller, asked by [`Db::compact`]
//! before it rewrites anything: not on an empty database, nor on one that
//! is what the last compaction wrote (both told from what the handle holds,
//! with no read), and, for files of at most a segment's worth, not when the
//! live data with its new index would take no fewer bytes than the files
//! do now. That last is worked out from the live keys and their record
//! lengths alone (a walk without values), laid out exactly as the merge
//! lays them out: a tiny database with nothing to reclaim would otherwise
//! grow by the index of its new segment (104 bytes before, 230 after).
//! Larger files are rewritten without that walk, which costs nearly what
//! the merge does (40% of a compaction of 1M overwritten pairs).
//!
//! Invariant: a compaction skipped here writes nothing, and the report says
//! why. Automatic compaction, which starts only past its thresholds, does
//! not ask; after a skip, it waits for the files to grow as after a
//! compaction.

use std::fmt;
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use super::compaction::CompactReport;
use super::index::{BlockCrcs, Builder, Group, IndexMeta, Kind};
use super::iter::Iter;
use super::output;
use super::record::FILE_HEADER_LEN;
use super::{Db, Result, Segment};

/// Why [`Db::compact`] left the files as they were.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skipped {
    /// No key and nothing to reclaim.
    Empty,
    /// The files are what the last compaction wrote; nothing was written since.
    AlreadyCompact,
    /// Rewriting would not make the files smaller: the live data, with its
    /// new index and file headers, would take `rewritten` bytes.
    NoGain {
        /// Bytes the rewritten files would take.
        rewritten: u64,
    },
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::Empty => f.write_str("nothing to compact: the database is empty"),
            Skipped::AlreadyCompact => {
                f.write_str("already compact: nothing was written since the last compaction")
            }
            Skipped::NoGain { rewritten } => write!(
                f,
                "not compacted: rewriting would take {rewritten} bytes, no fewer than the files take now"
            ),
        }
    }
}

impl Db {
    /// Compacts unless it cannot make the files smaller (see
    /// [`why_not_compact`](Self::why_not_compact)), the caller holding
    /// `compact_lock`.
    pub(super) fn compact_if_smaller(
        &self,
        one_at_a_time: MutexGuard<'_, ()>,
    ) -> Result<CompactReport> {
        let started = Instant::now();
        match self.why_not_compact()? {
            None => self.compact_with(one_at_a_time),
            Some((skipped, bytes, keys)) => {
                // As after a compaction: the files are as small as one
                // would make them, so the automatic one waits for them to
                // grow (else a server would ask again at every write).
                let mut w = self.lock_writer();
                w.base_live = w.base_live.max(bytes);
                Ok(CompactReport {
                    bytes_before: bytes,
                    bytes_after: bytes,
                    keys,
                    elapsed: started.elapsed(),
                    skipped: Some(skipped),
                })
            }
        }
    }

    /// Why rewriting now would not make the files smaller, with their size
    /// and the number of live keys; `None` when it would. An empty or
    /// already compact database is told from what the handle holds;
    /// otherwise the live keys and their record lengths are walked (no
    /// values) and laid out as the merge would lay them out.
    fn why_not_compact(&self) -> Result<Option<(Skipped, u64, u64)>> {
        let (bytes, wal_empty, segments) = {
            let w = self.lock_writer();
            w.ensure_writable()?;
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            let wal_empty = w.wal_len <= FILE_HEADER_LEN as u64;
            let bytes = st
                .segments
                .iter()
                .map(|s| s.log_len + s.index_len())
                .sum::<u64>()
                + w.wal_len;
            (bytes, wal_empty, Arc::clone(&st.segments))
        };
        if wal_empty {
            if segments.iter().all(|s| s.index.footer.keys == 0) {
                return Ok(Some((Skipped::Empty, bytes, 0)));
            }
            // Keys that expired since are bytes a compaction reclaims.
            if is_one_group(&segments) && !segments.iter().any(|s| s.index.footer.expiring) {
                let keys = segments.iter().map(|s| s.index.footer.puts).sum();
                return Ok(Some((Skipped::AlreadyCompact, bytes, keys)));
            }
        }
        // Past a segment's worth, rewriting is not worth a whole walk to
        // rule out: the walk would cost nearly what the merge costs (it
        // decodes and checks every record), and all it can save is the
        // growth by an index where nothing was reclaimed, a few bytes a
        // block, which only a small database feels.
        if bytes > self.opts.segment_size {
            return Ok(None);
        }
        let (keys, rewritten) = self.rewritten_size()?;
        Ok((rewritten >= bytes).then_some((Skipped::NoGain { rewritten }, bytes, keys)))
    }

    /// The live keys, and the bytes the files would take if they were
    /// rewritten now: the outputs as compaction.rs's `write_outputs`
    /// lays them out (split at the same sizes, each with its index) and the
    /// empty active log the seal leaves. From keys and record lengths only:
    /// a record's length depends on its key and value lengths alone.
    fn rewritten_size(&self) -> Result<(u64, u64)> {
        let header = FILE_HEADER_LEN as u64;
        let finish = |index: Builder, len: u64| {
            let meta = |_| IndexMeta {
                group: Some(Group {
                    first: 0,
                    last: false,
                }),
                base_live: 0,
                compacted_at: 0,
                ..IndexMeta::default()
            };
            len + index.finish(len, meta).len() as u64
        };
        // The logs compaction would merge: the segments and the active
        // log, which it seals first.
        let logs = {
            let w = self.lock_writer();
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            st.segments.iter().map(|s| s.log_len).sum::<u64>() + w.wal_len
        };
        let out_size = output::size_for(logs, self.opts.segment_size);
        let (mut keys, mut total, mut len) = (0u64, header, header);
        // Sized as the outputs' indexes are, with their blocks' CRCs.
        let new_index = || Builder::new(Kind::Sorted).block_crcs(BlockCrcs::Sized);
        let mut index = new_index();
        for item in Iter::new(self, &[], false).with_lengths() {
            let (key, record_len) = item?;
            keys += 1;
            index.push_parts(&key, false, len, record_len);
            len += u64::from(record_len);
            if len >= out_size {
                total += finish(std::mem::replace(&mut index, new_index()), len);
                len = header;
            }
        }
        Ok((keys, total + finish(index, len)))
    }
}

/// Whether `segments` (oldest first) are the outputs of one compaction,
/// its last included: what a compaction leaves when nothing was written
/// after it, and would write again.
fn is_one_group(segments: &[Arc<Segment>]) -> bool {
    let groups: Vec<Option<Group>> = segments.iter().map(|s| s.index.footer.group).collect();
    let Some(Some(last)) = groups.last() else {
        return false;
    };
    last.last
        && groups
            .iter()
            .all(|g| g.is_some_and(|g| g.first == last.first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Options, SyncMode};

    fn open(dir: &std::path::Path, segment_size: u64) -> Db {
        let opts = Options {
            sync: SyncMode::Never,
            segment_size,
            auto_compact: false,
            ..Options::default()
        };
        Db::open(dir, opts).unwrap()
    }

    fn files(dir: &std::path::Path) -> Vec<(String, u64)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().into_string().unwrap(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        files.sort();
        files
    }

    /// What the decision rests on: the size worked out from keys and
    /// record lengths is what a compaction then writes, byte for byte, for
    /// one output or several, after overwrites, deletes and batches.
    #[test]
    fn the_rewritten_size_is_what_compaction_writes() {
        for (keys, segment_size) in [(1u32, 1 << 20), (500, 1 << 20), (3000, 8192)] {
            let dir = tempfile::tempdir().unwrap();
            let db = open(dir.path(), segment_size);
            for round in 0..2u32 {
                for i in 0..keys {
                    let value = vec![b'v'; (i % 7 * 30 + round) as usize];
                    db.set(format!("key{:05}", (i * 7) % keys).as_bytes(), &value)
                        .unwrap();
                }
            }
            let mut batch = crate::engine::Batch::new();
            batch.set(b"batched".to_vec(), b"x".to_vec());
            batch.delete(b"key00000".to_vec());
            db.write_batch(batch).unwrap();
            let (live, rewritten) = db.rewritten_size().unwrap();
            let one = db.compact_lock.lock().unwrap();
            let report = db.compact_with(one).unwrap();
            assert_eq!(report.skipped, None);
            assert_eq!(
                (report.keys, report.bytes_after),
                (live, rewritten),
                "{keys} keys"
            );
            let on_disk: u64 = files(dir.path())
                .iter()
                .filter(|(name, _)| name != "LOCK")
                .map(|(_, len)| len)
                .sum();
            assert_eq!(on_disk, rewritten, "{keys} keys: {:?}", files(dir.path()));
        }
    }

    /// Regression (#16): `compact` of a tiny database rewrote it bigger
    /// (104 bytes before, 230 after), and an empty or just compacted one
    /// was rewritten all the same. Now such a compaction writes nothing and
    /// says why; one that reclaims space still runs.
    #[test]
    fn compaction_that_cannot_make_the_files_smaller_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path(), 1 << 20);
        let report = db.compact().unwrap();
        assert_eq!(report.skipped, Some(Skipped::Empty));
        // One key in the active log: a segment and its index would be more.
        db.set(b"greeting", b"hello world").unwrap();
        let before = files(dir.path());
        let report = db.compact().unwrap();
        assert!(
            matches!(report.skipped, Some(Skipped::NoGain { rewritten }) if rewritten > report.bytes_before),
            "{report:?}"
        );
        assert_eq!((report.bytes_after, report.keys), (report.bytes_before, 1));
        assert_eq!(files(dir.path()), before, "nothing was written");
        // Overwrites leave dead bytes to reclaim: compacted.
        for i in 0..200 {
            db.set(b"greeting", format!("hello {i:0>100}").as_bytes())
                .unwrap();
        }
        let report = db.compact().unwrap();
        assert_eq!(report.skipped, None);
        assert!(report.bytes_after < report.bytes_before, "{report:?}");
        // Nothing written since: already compact, without walking a key.
        let before = files(dir.path());
        let report = db.compact().unwrap();
        assert_eq!(report.skipped, Some(Skipped::AlreadyCompact));
        assert_eq!(report.keys, 1);
        assert_eq!(files(dir.path()), before);
        // And the handle's automatic compaction waits for growth after a
        // skip, as after a compaction.
        assert!(!db.compaction_due());
        assert_eq!(db.get(b"greeting").unwrap().unwrap().len(), 106);
    }
}
