//! A sealed segment: its immutable log and its index, and the two ways to
//! read it: a point lookup ([`Segment::find`]) and an ordered walk from a
//! key ([`Segment::walk`]).
//!
//! Invariants: every record a lookup or walk returns was read whole and its
//! CRC checked, or that of the data block holding it (a sorted walk where
//! the index gives it; a lookup without the value checks the header and
//! key), and
//! is the record of the key asked for; every offset and length from the
//! index is checked against the segment before it is used. Whatever does not
//! fit is corruption of the index (the caller heals it by rebuilding) or of
//! the log (reported with its file and offset).

use std::path::PathBuf;
use std::sync::Arc;

use super::clock::expired;
use super::index::{Index, Kind, key_hash};
use super::record::{self, FILE_HEADER_LEN, Tag};
use super::storage::{StorageFile, read_exact_at};
use super::{Error, Result};

pub(super) use super::index::Entry;

mod block_scan;
mod hashed_walk;
mod ordered_walk;
mod rebuild;
mod sorted_walk;
#[cfg(test)]
mod tests;

pub(in crate::engine) use ordered_walk::Walk;
pub(in crate::engine) use rebuild::{
    cut_short, index_from_log, open_segment, open_segment_at, rebuild_index,
};

/// What a lookup in the segments found.
pub(super) enum Found {
    /// No segment holds the key.
    Absent,
    /// The newest record is a tombstone.
    Deleted,
    /// The newest record is a put (its value, when asked for, and when it
    /// expires). An expired put is still the newest record: it hides every
    /// older one, as a tombstone does.
    Live(Option<Vec<u8>>, Option<u64>),
}

impl Found {
    /// Whether it is a put that has not expired at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        matches!(self, Found::Live(_, at) if !expired(*at, now))
    }

    /// The value, for a get at `now`.
    pub fn into_value(self, now: u64) -> Option<Vec<u8>> {
        match self {
            Found::Live(v, at) if !expired(at, now) => v,
            _ => None,
        }
    }
}

/// Looks `key` up in `segments`, newest first, without healing anything.
pub(super) fn find(segments: &[Arc<Segment>], key: &[u8], want_value: bool) -> Result<Found> {
    for seg in segments.iter().rev() {
        let found = seg.find(key, want_value)?;
        if !matches!(found, Found::Absent) {
            return Ok(found);
        }
    }
    Ok(Found::Absent)
}

/// The newest record of `key` in `segments` (oldest first), with its value
/// when the record is at most `value_upto` bytes long (a record is read
/// whole and its CRC checked all the same when it is small).
pub(super) fn newest_record(
    segments: &[Arc<Segment>],
    key: &[u8],
    value_upto: u64,
) -> Result<Option<Hit>> {
    for seg in segments.iter().rev() {
        if let Some(hit) = seg.record_of(key, value_upto)? {
            return Ok(Some(hit));
        }
    }
    Ok(None)
}

/// A sealed segment: its log and its index.
#[derive(Debug)]
pub(super) struct Segment {
    pub id: u64,
    pub log_path: PathBuf,
    pub log: Arc<dyn StorageFile>,
    pub log_len: u64,
    pub index: Arc<Index>,
}

/// Records longer than this are skipped by a lookup's block scan without
/// reading their values (so without their CRC): the records around them
/// are still checked.
const SKIP_UNREAD: usize = 64 * 1024;
/// An existence check (no value wanted) reads a record of at most this many
/// bytes whole and checks its CRC; a longer one, only its header and key.
const CHECK_WHOLE: usize = 4096;

/// A record found by a lookup.
pub(super) struct Hit {
    pub tag: Tag,
    pub value: Option<Vec<u8>>,
    pub expires_at: Option<u64>,
    /// The record's whole length.
    pub len: u32,
}

impl Segment {
    /// Bytes of the index file.
    pub fn index_len(&self) -> u64 {
        self.index.file_len
    }

    fn idx_corrupt(&self, off: u64, why: &str) -> Error {
        Error::corrupt(self.index.path(), off, why)
    }

    fn log_corrupt(&self, off: u64, why: impl Into<String>) -> Error {
        Error::corrupt(&self.log_path, off, why)
    }

    /// Looks `key` up in this segment.
    pub fn find(&self, key: &[u8], want_value: bool) -> Result<Found> {
        let value_upto = if want_value { u64::MAX } else { 0 };
        Ok(match self.record_of(key, value_upto)? {
            None => Found::Absent,
            Some(h) if h.tag.is_delete() => Found::Deleted,
            Some(h) => Found::Live(h.value, h.expires_at),
        })
    }

    /// The segment's record of `key`, if it has one, with its value when
    /// the record is at most `value_upto` bytes long (0: never).
    pub fn record_of(&self, key: &[u8], value_upto: u64) -> Result<Option<Hit>> {
        // The footer's key range rules most segments out with no read.
        let f = &self.index.footer;
        if f.keys == 0 || f.first_key.after(key) || f.last_key.before(key) {
            return Ok(None);
        }
        match f.kind {
            Kind::Hashed => self.find_hashed(key, value_upto),
            Kind::Sorted => self.find_sorted(key, value_upto),
        }
    }

    fn find_hashed(&self, key: &[u8], value_upto: u64) -> Result<Option<Hit>> {
        let mut hit = None;
        self.index.candidates(key, |offset| {
            if offset < FILE_HEADER_LEN as u64 || offset >= self.log_len {
                return Err(self.idx_corrupt(0, "a slot points outside its segment"));
            }
            let found = match self.read_at(offset, key, value_upto) {
                Ok(r) => r,
                // The slot, not the log, is what is wrong: it points at no record.
                Err(Error::Corrupt { .. }) => {
                    return Err(self.idx_corrupt(0, "a slot points at no record"));
                }
                Err(e) => return Err(e),
            };
            match found {
                Ok(h) => {
                    hit = Some(h);
                    Ok(true)
                }
                // Another key with the same hash is a collision; a key with
                // another hash means the slot points at the wrong record.
                Err(other_hash) if other_hash != key_hash(key) => {
                    Err(self.idx_corrupt(0, "a slot points at another key's record"))
                }
                Err(_) => Ok(false),
            }
        })?;
        Ok(hit)
    }

    /// Reads the record at `offset`: when it holds `key`, its tag and (when
    /// asked) value, checking its CRC when the value is read; otherwise the
    /// hash of the key it holds.
    fn read_at(
        &self,
        offset: u64,
        key: &[u8],
        value_upto: u64,
    ) -> Result<std::result::Result<Hit, u32>> {
        let room = self.log_len - offset;
        // One read of a small record whole, into the stack.
        let mut head = [0u8; 256];
        let n = (head.len() as u64).min(room) as usize;
        self.read(&mut head[..n], offset)?;
        let h = record::decode_header(&head[..n])
            .map_err(|e| self.log_corrupt(offset, e.to_string()))?;
        let total = h.total_len();
        if total as u64 > room || h.tag == Tag::BatchCommit {
            return Err(self.log_corrupt(offset, "not a keyed record"));
        }
        let key_at = h.header_len..h.header_len + h.key_len;
        let mut big = Vec::new();
        // An existence check reads the record whole too, and checks its CRC
        // (a flipped tag must not turn a tombstone into a put), unless it is
        // longer than CHECK_WHOLE: then its header and key are what the
        // answer rests on (docs/format.md).
        let want_value = total as u64 <= value_upto;
        let whole = want_value || total <= CHECK_WHOLE;
        let need = if whole { total } else { key_at.end };
        let bytes: &[u8] = if need <= n {
            &head[..need]
        } else {
            big.resize(need, 0);
            big[..n].copy_from_slice(&head[..n]);
            self.read(&mut big[n..], offset + n as u64)?;
            &big
        };
        if &bytes[key_at.clone()] != key {
            return Ok(Err(key_hash(&bytes[key_at])));
        }
        if !whole {
            return Ok(Ok(Hit {
                tag: h.tag,
                value: None,
                expires_at: h.expires_at,
                len: total as u32,
            }));
        }
        let (rec, _) =
            record::decode(bytes).map_err(|e| self.log_corrupt(offset, e.to_string()))?;
        Ok(Ok(Hit {
            tag: rec.tag,
            value: want_value.then(|| rec.value.to_vec()),
            expires_at: rec.expires_at,
            len: total as u32,
        }))
    }

    fn read(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        read_exact_at(&*self.log, buf, offset).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => self.log_corrupt(offset, "segment cut short"),
            _ => Error::io("read", &self.log_path, e),
        })
    }

    /// Whether every key of this segment is greater than every key that
    /// starts with `prefix`, as the footer tells.
    pub fn starts_past(&self, prefix: &[u8]) -> bool {
        self.index.footer.keys == 0 || self.index.footer.first_key.past_prefix(prefix)
    }

    /// Whether the segment's records lie in write order (its index is a
    /// hashed one), not in key order.
    pub fn is_hashed(&self) -> bool {
        self.index.footer.kind == Kind::Hashed
    }

    /// Whether every key of this segment is greater than `key`, as the
    /// footer tells.
    pub fn starts_after(&self, key: &[u8]) -> bool {
        self.index.footer.first_key.after(key)
    }

    /// A key no greater than this segment's first: the leading bytes of it
    /// its footer keeps.
    pub fn first_key_bound(&self) -> &[u8] {
        self.index.footer.first_key.kept()
    }

    /// Whether every key of this segment is less than `key`, as the footer
    /// tells.
    pub fn ends_before(&self, key: &[u8]) -> bool {
        self.index.footer.keys == 0 || self.index.footer.last_key.before(key)
    }
}
