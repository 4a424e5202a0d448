//! [`Stats`]: sizes and counts, from [`Db::stats`].
//!
//! Invariant: the sizes come from what the handle already holds (segment
//! lengths, index footers, the published length of the active log), never
//! from the writer lock, which a compaction holds throughout; the key
//! count and live bytes come from the live-key tally (live_count.rs).

use std::time::SystemTime;

use super::iter::Iter;
use super::live_count::Live;
use super::{Db, Result, open, record};

/// Sizes and counts, from [`Db::stats`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Live keys.
    pub keys: u64,
    /// Live keys that expire (what Redis's INFO calls `expires`).
    pub expiring: u64,
    /// Bytes of the records that hold live values.
    pub live_bytes: u64,
    /// Bytes of all database files (logs and indexes).
    pub total_bytes: u64,
    /// Bytes of records that no longer hold a live value (overwritten,
    /// deleted, tombstones): what compaction reclaims.
    pub dead_bytes: u64,
    /// Bytes of segment indexes and file headers (neither live nor dead).
    pub overhead_bytes: u64,
    /// Sealed segments.
    pub segments: u64,
    /// Bytes in the active log.
    pub wal_bytes: u64,
    /// Database files (logs and indexes, not the lock).
    pub files: u64,
    /// When the last compaction finished, if one is recorded.
    pub last_compaction: Option<SystemTime>,
}

impl Db {
    /// Sizes and counts: the count from the tally kept with the segments
    /// (see live_count.rs), or by a walk of every key if it cannot be made.
    pub fn stats(&self) -> Result<Stats> {
        let Live {
            keys,
            expiring,
            bytes: live_bytes,
        } = match self.live_count() {
            Ok(found) => found,
            Err(_) => self.walk_count()?,
        };
        // Not the writer lock: a compaction holds it throughout, and sizes
        // need not wait for one.
        let wal_len = self.log_len.load(std::sync::atomic::Ordering::Relaxed);
        let st = self.state.read().unwrap_or_else(|p| p.into_inner());
        let log_bytes: u64 = st.segments.iter().map(|s| s.log_len).sum::<u64>() + wal_len;
        let index_bytes: u64 = st.segments.iter().map(|s| s.index_len()).sum();
        let headers = (st.segments.len() as u64 + 1) * record::FILE_HEADER_LEN as u64;
        let total_bytes = log_bytes + index_bytes;
        Ok(Stats {
            keys,
            expiring,
            live_bytes,
            total_bytes,
            dead_bytes: log_bytes.saturating_sub(live_bytes + headers),
            overhead_bytes: index_bytes + headers,
            segments: st.segments.len() as u64,
            wal_bytes: wal_len,
            files: st.segments.len() as u64 * 2 + 1,
            last_compaction: open::compaction_base(&st.segments).1,
        })
    }

    /// Live keys and their record bytes, by a walk of every key (which
    /// heals a damaged index on the way).
    pub(super) fn walk_count(&self) -> Result<Live> {
        let mut live = Live::default();
        let mut walk = Iter::new(self, &[], false).with_lengths();
        while let Some(item) = walk.next() {
            let (_, len) = item?;
            live.keys += 1;
            live.expiring += u64::from(walk.last_expiry().is_some());
            live.bytes += u64::from(len);
        }
        Ok(live)
    }
}
