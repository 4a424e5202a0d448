//! A hashed segment's ordered walk with values: the index's entries come
//! sorted by key, but the records they name lie in write order, so reading
//! each value as its entry comes up costs a read at a random place per pair.
//! [`HashedWalk`] takes the entries a batch at a time instead (a few at
//! first, twice as many each time after, up to the walk's share of
//! [`BATCH_BYTES`] of records, and an entry per [`ENTRY_BYTES`] of it: a
//! short scan reads little past its end, and memory stays bounded however
//! many hashed segments a walk merges), reads their records in file order,
//! and then hands them out in key order.
//!
//! Where a batch's records lie close together in the file (a log written in
//! runs of neighbouring keys, or a long walk over a segment whose batch is
//! a good part of it), they are served from one large read; records far
//! apart are read one by one. A long walk's batch of a segment of `S` bytes
//! holding `B` bytes of its records reads the segment about `S / B` times
//! over in large reads, which costs less than a read per record as long as
//! a window holds [`DENSE`] of the batch's records.
//!
//! Invariant: a value handed out was read whole, its CRC checked, and holds
//! the key of its entry (log/values.rs); an entry whose record does not
//! match is handed out without a value, for the caller to ask a point
//! lookup (which heals the index or reports the segment).

use std::ops::Range;
use std::sync::Arc;

use super::super::index::{EntryCursor, EntryRef};
use super::super::log::{self, ReadAhead};
use super::super::storage::{StorageFile, Uncached};
use super::super::{Error, Result};
use super::Segment;
use super::ordered_walk::Head;

/// Entries in a walk's first batch; each batch after it takes twice as
/// many, up to its share's worth (see [`ENTRY_BYTES`]).
const FIRST_BATCH: usize = 16;
/// The records of the batches of every hashed segment one walk merges add
/// up to about this many bytes at most: each segment's batch stops growing
/// at its share (see [`batch_bytes`]; a batch holds at least one entry).
/// With their entries, keys, the arenas' room to grow and a read window a
/// segment, a walk's batches take about three times this and a little
/// more a segment (14 MB over 14 hashed segments:
/// tests/engine_walk_memory.rs).
const BATCH_BYTES: u64 = 4 << 20;
/// A segment's share of [`BATCH_BYTES`] is at least this (so a walk over
/// very many hashed segments takes more memory, this much a segment, as a
/// walk holds a read buffer a segment) and at most [`MAX_BATCH_BYTES`].
const MIN_BATCH_BYTES: u64 = 128 * 1024;
const MAX_BATCH_BYTES: u64 = 1 << 20;
/// A batch holds at most an entry per this many bytes of its share: a
/// batch of tiny records (tombstones) takes no more memory for its
/// entries (about 72 bytes each) than its share.
const ENTRY_BYTES: u64 = 64;
/// A record is read through a window of the file when at least this many
/// of the batch's records lie in the window's span from it (about one per
/// 8 KiB): one large read (128 KiB copied, about what 16 small reads cost
/// in system calls) then costs less than the reads it replaces.
const DENSE: usize = 16;
/// The span of such a window (log/values.rs reads this much at once).
const WINDOW: u64 = 128 * 1024;
/// Values read through the block cache before a walk reads past it: a
/// short scan, read again and again, is served from memory, while a long
/// one neither evicts what lookups use nor grows memory.
const CACHED_VALUES: u64 = 1024;

/// The bytes of records a batch of one of `hashed` hashed segments walked
/// together grows to.
pub(super) fn batch_bytes(hashed: usize) -> u64 {
    (BATCH_BYTES / hashed.max(1) as u64).clamp(MIN_BATCH_BYTES, MAX_BATCH_BYTES)
}

/// One entry of a batch, its key and value as ranges of the batch's arenas.
#[derive(Debug)]
struct Slot {
    key: Range<usize>,
    delete: bool,
    offset: u64,
    len: u32,
    expires_at: Option<u64>,
    /// `None` for a tombstone, or a record that does not match its entry.
    value: Option<Range<usize>>,
}

/// See the module doc.
#[derive(Debug)]
pub(super) struct HashedWalk {
    seg: Arc<Segment>,
    cursor: EntryCursor,
    /// Entries below this are skipped before their values are read.
    from: Vec<u8>,
    /// The walk ends at the first entry at or past this key, unread (a
    /// prefix scan reads no value past its prefix).
    end: Option<Vec<u8>>,
    /// Whether an entry at or past `end` was met.
    ended: bool,
    batch: Vec<Slot>,
    keys: Vec<u8>,
    values: Vec<u8>,
    /// The batch's slots in file order (scratch).
    order: Vec<usize>,
    /// The slot the walk stands on, and the next one.
    cur: Option<usize>,
    next: usize,
    batch_len: usize,
    window: ReadAhead,
    /// Values read so far.
    read: u64,
    /// A batch stops growing once its records add up to this many bytes.
    max_bytes: u64,
}

impl HashedWalk {
    pub(super) fn new(
        seg: Arc<Segment>,
        cursor: EntryCursor,
        from: &[u8],
        end: Option<&[u8]>,
        max_bytes: u64,
    ) -> HashedWalk {
        HashedWalk {
            seg,
            cursor,
            from: from.to_vec(),
            end: end.map(<[u8]>::to_vec),
            ended: false,
            batch: Vec::new(),
            keys: Vec::new(),
            values: Vec::new(),
            order: Vec::new(),
            cur: None,
            next: 0,
            batch_len: FIRST_BATCH,
            window: ReadAhead::default(),
            read: 0,
            max_bytes,
        }
    }

    pub(super) fn advance(&mut self) -> Result<bool> {
        if self.next >= self.batch.len() {
            self.cur = None;
            self.fill()?;
            if self.batch.is_empty() {
                // Done: give the buffers back (a walk over many segments
                // must not hold them for the ones that ended).
                self.batch = Vec::new();
                self.keys = Vec::new();
                self.values = Vec::new();
                self.order = Vec::new();
                self.window = ReadAhead::default();
                return Ok(false);
            }
        }
        self.cur = Some(self.next);
        self.next += 1;
        Ok(true)
    }

    #[inline]
    pub(super) fn head(&self) -> Option<Head<'_>> {
        let s = &self.batch[self.cur?];
        Some(Head {
            entry: EntryRef {
                key: &self.keys[s.key.clone()],
                delete: s.delete,
                offset: s.offset,
                len: s.len,
                expires_at: s.expires_at,
            },
            value: s.value.clone().map(|r| &self.values[r]),
        })
    }

    /// Takes the next batch of entries and reads their values in file order.
    fn fill(&mut self) -> Result<()> {
        self.batch.clear();
        self.keys.clear();
        self.values.clear();
        self.next = 0;
        let mut bytes = 0u64;
        while !self.ended && self.batch.len() < self.batch_len && bytes < self.max_bytes {
            if !self.cursor.advance()? {
                break;
            }
            let e = self.cursor.head().expect("the cursor just stepped");
            if self.end.as_deref().is_some_and(|end| e.key >= end) {
                // Keys rise: no later entry is wanted either.
                self.ended = true;
                break;
            }
            if !self.from.is_empty() {
                if e.key < self.from.as_slice() {
                    continue;
                }
                self.from = Vec::new();
            }
            let at = self.keys.len();
            self.keys.extend_from_slice(e.key);
            bytes += u64::from(e.len);
            self.batch.push(Slot {
                key: at..self.keys.len(),
                delete: e.delete,
                offset: e.offset,
                len: e.len,
                expires_at: e.expires_at,
                value: None,
            });
        }
        let most = (self.max_bytes / ENTRY_BYTES) as usize;
        self.batch_len = (self.batch_len * 2).min(most.max(FIRST_BATCH));
        self.order.clear();
        self.order
            .extend((0..self.batch.len()).filter(|&i| !self.batch[i].delete));
        let batch = &self.batch;
        self.order.sort_unstable_by_key(|&i| batch[i].offset);
        for j in 0..self.order.len() {
            let i = self.order[j];
            // Records in the window's span from this one, this one included.
            let end = self.batch[i].offset.saturating_add(WINDOW);
            let dense = self.order[j..]
                .iter()
                .take(DENSE)
                .take_while(|&&k| self.batch[k].offset < end)
                .count()
                >= DENSE;
            self.batch[i].value = self.read_value(i, dense)?;
        }
        Ok(())
    }

    /// The value of slot `i`'s record, read through the window when
    /// `dense`; `None` when the record does not match the entry.
    fn read_value(&mut self, i: usize, dense: bool) -> Result<Option<Range<usize>>> {
        let seg = &*self.seg;
        let s = &self.batch[i];
        let key = &self.keys[s.key.clone()];
        // The entry's length sizes the read buffer: an entry that points
        // past its segment is damage, not a length to trust.
        let fits = s
            .offset
            .checked_add(u64::from(s.len))
            .is_some_and(|end| end <= seg.log_len);
        if !fits {
            return Ok(None);
        }
        let past = Uncached(&*seg.log);
        let file: &dyn StorageFile = if self.read < CACHED_VALUES {
            &*seg.log
        } else {
            &past
        };
        self.read += 1;
        let read = if dense {
            self.window
                .read_value(file, &seg.log_path, seg.log_len, s.offset, s.len, key)
        } else {
            log::read_value(file, &seg.log_path, s.offset, s.len, key)
        };
        match read {
            Ok(Some(v)) => {
                let at = self.values.len();
                self.values.extend_from_slice(&v);
                Ok(Some(at..self.values.len()))
            }
            Ok(None) | Err(Error::Corrupt { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
