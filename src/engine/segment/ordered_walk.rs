//! Ordered walks over one segment: [`Walk`] from a key, through a hashed
//! index's entries (with values fetched in file order, batch by batch, see
//! hashed_walk.rs) or, for a sorted segment, through the log itself with
//! its values, checking that every data block starts at a record holding
//! the block's first key (what ties a sorted index to its segment).
//!
//! A walk stands on one record at a time ([`Walk::head`]), borrowed from
//! its read buffer: stepping allocates nothing per record.

use std::ops::Range;
use std::sync::Arc;

use super::super::index::{BlockWalk, EntryRef, Kind, SparseEntry};
use super::super::record::{self, DecodeError, MAX_HEADER_LEN, Tag};
use super::super::storage::read_exact_at;
use super::super::{Error, Result};
use super::hashed_walk::{HashedWalk, batch_bytes};
use super::{Entry, SKIP_UNREAD, Segment};

impl Segment {
    /// Walks the segment's entries in key order from the first key ≥ `from`
    /// (from the start when `from` is empty), with the values of puts when
    /// `values` (a sorted segment's walk reads them from the log as it
    /// goes; a hashed one's fetches them in file order, batch by batch).
    pub fn walk(self: &Arc<Self>, from: &[u8], values: bool) -> Result<Walk> {
        self.walk_until(from, None, values, 1)
    }

    /// [`walk`](Self::walk), told that keys from `end` on will not be
    /// wanted: a sorted walk's first read then covers the blocks up to
    /// `end` (one read for a short scan), where it would otherwise start
    /// small and grow; a hashed walk with values ends before `end`, so
    /// it reads no value past it. `hashed`: how many hashed segments the
    /// caller walks with values at once, which share a bound on the
    /// memory their batches take (see hashed_walk.rs).
    pub fn walk_until(
        self: &Arc<Self>,
        from: &[u8],
        end: Option<&[u8]>,
        values: bool,
        hashed: usize,
    ) -> Result<Walk> {
        let inner = match self.index.footer.kind {
            Kind::Hashed => {
                let block = if from.is_empty() {
                    None
                } else {
                    self.index.locate(from)?
                };
                let cursor = self.index.entries_from(block.map_or(0, |b| b.offset));
                if values {
                    WalkInner::Hashed(Box::new(HashedWalk::new(
                        Arc::clone(self),
                        cursor,
                        from,
                        end,
                        batch_bytes(hashed),
                    )))
                } else {
                    WalkInner::Entries(cursor)
                }
            }
            Kind::Sorted => {
                let mut blocks = self.index.blocks_from(from)?;
                let first = blocks.next().transpose()?;
                // No block: an empty segment (a compaction that kept nothing).
                let start = first.as_ref().map_or(self.log_len, |b| b.offset);
                let ahead = match end {
                    Some(end) => match self.index.locate(end)? {
                        Some(b) => (b.offset + b.len).saturating_sub(start) as usize,
                        None => MIN_READ,
                    },
                    None => FIRST_READ,
                };
                WalkInner::Log(LogWalk {
                    seg: Arc::clone(self),
                    base: start,
                    pos: start,
                    buf: Vec::new(),
                    filled: 0,
                    ahead: ahead.clamp(MIN_READ, WALK_READ),
                    values,
                    last: Vec::new(),
                    prev: None,
                    started: false,
                    blocks,
                    next_block: first,
                    cur: None,
                })
            }
        };
        Ok(Walk {
            inner,
            from: from.to_vec(),
            done: false,
        })
    }
}

/// An entry of a walk, owned (what a walk as an [`Iterator`] yields).
#[derive(Debug)]
pub(in crate::engine) struct Item {
    pub entry: Entry,
}

/// The record a walk stands on, borrowed from the walk.
#[derive(Clone, Copy, Debug)]
pub(in crate::engine) struct Head<'a> {
    pub entry: EntryRef<'a>,
    /// The value of a put, when the walk reads values; `None` as well when
    /// a hashed walk found the record its entry names damaged or not the
    /// put it says (the caller asks a point lookup, which heals the index
    /// or reports the segment).
    pub value: Option<&'a [u8]>,
}

/// An ordered walk over one segment; see [`Segment::walk`].
#[derive(Debug)]
pub(in crate::engine) struct Walk {
    inner: WalkInner,
    /// Entries below this are skipped (the walk starts at a block boundary).
    from: Vec<u8>,
    done: bool,
}

#[derive(Debug)]
enum WalkInner {
    Entries(super::super::index::EntryCursor),
    Hashed(Box<HashedWalk>),
    Log(LogWalk),
}

impl Walk {
    /// Steps to the next entry; `false` at the end (and after an error).
    /// The entry is then [`head`](Self::head) until the next step.
    pub fn advance(&mut self) -> Result<bool> {
        loop {
            if self.done {
                return Ok(false);
            }
            let stepped = match &mut self.inner {
                WalkInner::Entries(c) => c.advance(),
                WalkInner::Hashed(h) => h.advance(),
                WalkInner::Log(l) => l.advance(),
            };
            match stepped {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return Ok(false);
                }
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
            // Keys rise: once one reaches `from`, none is below it.
            if !self.from.is_empty() {
                let key = self.key();
                if key.is_some_and(|k| k < self.from.as_slice()) {
                    continue;
                }
                self.from = Vec::new();
            }
            return Ok(true);
        }
    }

    /// The entry the last [`advance`](Self::advance) stepped to (`None`
    /// at the end: every walk forgets its entry when it steps or fails).
    #[inline]
    pub fn head(&self) -> Option<Head<'_>> {
        match &self.inner {
            WalkInner::Entries(c) => c.head().map(|entry| Head { entry, value: None }),
            WalkInner::Hashed(h) => h.head(),
            WalkInner::Log(l) => l.head(),
        }
    }
}

impl Walk {
    /// The key of [`head`](Self::head), alone: what a merge compares.
    #[inline]
    pub fn key(&self) -> Option<&[u8]> {
        match &self.inner {
            WalkInner::Log(l) => l.cur.as_ref().map(|c| &l.buf[c.key.clone()]),
            _ => self.head().map(|h| h.entry.key),
        }
    }

    /// Of [`head`](Self::head): whether it is a tombstone, when it
    /// expires, and whether the walk holds its value.
    #[inline]
    pub fn flags(&self) -> Option<(bool, Option<u64>, bool)> {
        match &self.inner {
            WalkInner::Log(l) => l
                .cur
                .as_ref()
                .map(|c| (c.delete, c.expires_at, c.value.is_some())),
            _ => self
                .head()
                .map(|h| (h.entry.delete, h.entry.expires_at, h.value.is_some())),
        }
    }

    /// The value of [`head`](Self::head), alone.
    #[inline]
    pub fn value(&self) -> Option<&[u8]> {
        match &self.inner {
            WalkInner::Log(l) => l.cur.as_ref()?.value.clone().map(|r| &l.buf[r]),
            _ => self.head()?.value,
        }
    }

    /// The whole record of [`head`](Self::head), CRC and all, when it is a
    /// plain put (`Tag::Put`) that a sorted walk read whole and checked:
    /// a compaction copies it as it is instead of encoding it again.
    #[inline]
    pub fn put_record(&self) -> Option<&[u8]> {
        match &self.inner {
            WalkInner::Log(l) => l.cur.as_ref()?.put.clone().map(|r| &l.buf[r]),
            _ => None,
        }
    }
}

impl Iterator for Walk {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Result<Item>> {
        match self.advance() {
            Ok(true) => self.head().map(|h| {
                Ok(Item {
                    entry: h.entry.to_entry(),
                })
            }),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// A sorted walk's first read is this long, and each one after it twice
/// the one before, up to [`WALK_READ`]: a short scan reads little, through
/// the block cache (reads up to 16 KiB use it), a long walk soon reads in
/// large pieces past it.
const FIRST_READ: usize = 4096;
const WALK_READ: usize = 128 * 1024;
/// A first read sized to the scan's end is at least this long.
const MIN_READ: usize = 512;

/// Reads a sorted segment's records in order, each whole and checked.
#[derive(Debug)]
struct LogWalk {
    seg: Arc<Segment>,
    /// File offset of `buf[0]`.
    base: u64,
    pos: u64,
    buf: Vec<u8>,
    /// How much of `buf` holds bytes of the file.
    filled: usize,
    /// How much the next read fetches (see [`FIRST_READ`]).
    ahead: usize,
    values: bool,
    /// The previous key (once `started`): a sorted segment's keys must
    /// strictly increase. It is compared where it lies in `buf` (`prev`),
    /// and copied here only when `buf` is refilled.
    last: Vec<u8>,
    prev: Option<Range<usize>>,
    started: bool,
    /// The index's blocks, walked alongside: every block must start at a
    /// record holding its first key. This is what ties a sorted index to
    /// its segment (a foreign or damaged index fails it at its first block
    /// instead of passing a log that is not in key order off as one).
    blocks: BlockWalk,
    next_block: Option<SparseEntry>,
    /// The record the walk stands on, in `buf`.
    cur: Option<Cur>,
}

/// Where the record a sorted walk stands on lies in its buffer.
#[derive(Debug)]
struct Cur {
    key: Range<usize>,
    value: Option<Range<usize>>,
    /// The whole record, when it is a plain put read whole: what a
    /// compaction copies as it is.
    put: Option<Range<usize>>,
    delete: bool,
    offset: u64,
    len: u32,
    expires_at: Option<u64>,
}

impl LogWalk {
    /// Makes `buf` hold `pos..pos + n` (less at the end of the segment)
    /// and returns where `pos` is in it.
    #[inline]
    fn window(&mut self, n: usize) -> Result<usize> {
        let s = self.pos.wrapping_sub(self.base) as usize;
        if self.pos >= self.base && s + n <= self.filled {
            return Ok(s);
        }
        self.refill(n)
    }

    #[cold]
    fn refill(&mut self, n: usize) -> Result<usize> {
        let end = self.seg.log_len;
        let want_end = (self.pos + n as u64).min(end);
        if self.pos < self.base || want_end > self.base + self.filled as u64 {
            // The previous key is about to go: keep a copy to compare with.
            if let Some(r) = self.prev.take() {
                self.last.clear();
                self.last.extend_from_slice(&self.buf[r]);
            }
            let want = (n.max(self.ahead) as u64).min(end - self.pos) as usize;
            // The buffer only grows: its bytes are overwritten, never
            // cleared first.
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            self.filled = 0;
            read_exact_at(&*self.seg.log, &mut self.buf[..want], self.pos)
                .map_err(|e| Error::io("read", &self.seg.log_path, e))?;
            self.filled = want;
            self.base = self.pos;
            self.ahead = (self.ahead * 2).min(WALK_READ);
        }
        Ok((self.pos - self.base) as usize)
    }

    fn advance(&mut self) -> Result<bool> {
        // The key stepped past is what the next must exceed.
        if let Some(c) = self.cur.take() {
            self.prev = Some(c.key);
            self.started = true;
        }
        loop {
            if self.pos >= self.seg.log_len {
                // Done: give the read buffer back (a walk over many
                // segments must not hold one per segment).
                self.buf = Vec::new();
                self.filled = 0;
                self.prev = None;
                return Ok(false);
            }
            match self.step() {
                Ok(true) => return Ok(true),
                Ok(false) => continue,
                Err(e) => {
                    self.pos = self.seg.log_len;
                    self.buf = Vec::new();
                    self.filled = 0;
                    self.prev = None;
                    return Err(e);
                }
            }
        }
    }

    fn head(&self) -> Option<Head<'_>> {
        let c = self.cur.as_ref()?;
        Some(Head {
            entry: EntryRef {
                key: &self.buf[c.key.clone()],
                delete: c.delete,
                offset: c.offset,
                len: c.len,
                expires_at: c.expires_at,
            },
            value: c.value.clone().map(|r| &self.buf[r]),
        })
    }

    /// Decodes the record at `pos` into `cur`; `false` for a batch commit.
    fn step(&mut self) -> Result<bool> {
        let at = self.pos;
        let seg = Arc::clone(&self.seg);
        // At a block start the index says a record begins here: if none
        // does, the index is what is wrong (healing it rebuilds from the
        // log, which reports the log if the damage is there after all).
        let block_start = self.next_block.as_ref().is_some_and(|b| b.offset == at);
        let corrupt = |e: DecodeError| match block_start {
            true => seg.idx_corrupt(0, "a data block does not start at a record"),
            false => seg.log_corrupt(at, e.to_string()),
        };
        let s = self.window(MAX_HEADER_LEN)?;
        let h = record::decode_header(&self.buf[s..self.filled]).map_err(corrupt)?;
        let total = h.total_len();
        if at + total as u64 > self.seg.log_len {
            return Err(corrupt(DecodeError::Short { needed: total }));
        }
        let key_end = h.header_len + h.key_len;
        // A walk for keys reads a long record's header and key, not its
        // value (so not its CRC, which get, check and compaction verify):
        // KEYS after FLUSHDB read a dead 256 MiB value to return nothing
        // (serve review). The records around it are still read whole and
        // checked.
        let whole = self.values || total <= SKIP_UNREAD;
        let need = if whole { total } else { key_end };
        let s = self.window(need)?;
        let Some(bytes) = self.buf[..self.filled].get(s..s + need) else {
            return Err(corrupt(DecodeError::Short { needed: need }));
        };
        if whole && crc32fast::hash(&bytes[4..]) != h.crc {
            return Err(corrupt(DecodeError::CrcMismatch));
        }
        let key = s + h.header_len..s + key_end;
        let key_bytes = &self.buf[key.clone()];
        let at_block = match &self.next_block {
            Some(b) if b.offset == at => {
                if h.tag == Tag::BatchCommit || b.first_key != key_bytes {
                    return Err(self
                        .seg
                        .idx_corrupt(0, "a data block does not start with its key"));
                }
                true
            }
            Some(b) if b.offset < at => {
                return Err(self
                    .seg
                    .idx_corrupt(0, "a data block starts inside a record"));
            }
            _ => false,
        };
        let prev = match &self.prev {
            Some(r) => &self.buf[r.clone()],
            None => self.last.as_slice(),
        };
        if self.started && h.tag != Tag::BatchCommit && prev >= key_bytes {
            return Err(self
                .seg
                .idx_corrupt(0, "a sorted index describes a segment out of key order"));
        }
        if at_block {
            self.next_block = self.blocks.next().transpose()?;
        }
        self.pos += total as u64;
        if h.tag == Tag::BatchCommit {
            return Ok(false);
        }
        let value = (self.values && !h.tag.is_delete()).then(|| s + key_end..s + total);
        let put = (self.values && h.tag == Tag::Put).then(|| s..s + total);
        self.cur = Some(Cur {
            key,
            value,
            put,
            delete: h.tag.is_delete(),
            offset: at,
            len: total as u32,
            expires_at: h.expires_at,
        });
        Ok(true)
    }
}
