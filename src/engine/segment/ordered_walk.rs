//! Ordered walks over one segment: [`Walk`] from a key, through a hashed
//! index's entries or, for a sorted segment, through the log itself with
//! its values, checking that every data block starts at a record holding
//! the block's first key (what ties a sorted index to its segment).

use std::sync::Arc;

use super::super::index::{BlockWalk, EntryCursor, Kind, SparseEntry};
use super::super::record::{self, DecodeError, MAX_HEADER_LEN, Tag};
use super::super::storage::read_exact_at;
use super::super::{Error, Result};
use super::{Entry, SKIP_UNREAD, Segment};

impl Segment {
    /// Walks the segment's entries in key order from the first key ≥ `from`
    /// (from the start when `from` is empty). A sorted segment's walk reads
    /// the log itself and yields values along (when `values`).
    pub fn walk(self: &Arc<Self>, from: &[u8], values: bool) -> Result<Walk> {
        let inner = match self.index.footer.kind {
            Kind::Hashed => {
                let block = if from.is_empty() {
                    None
                } else {
                    self.index.locate(from)?
                };
                WalkInner::Entries(self.index.entries_from(block.map_or(0, |b| b.offset)))
            }
            Kind::Sorted => {
                let mut blocks = self.index.blocks_from(from)?;
                let first = blocks.next().transpose()?;
                // No block: an empty segment (a compaction that kept nothing).
                let start = first.as_ref().map_or(self.log_len, |b| b.offset);
                WalkInner::Log(LogWalk {
                    seg: Arc::clone(self),
                    base: start,
                    pos: start,
                    buf: Vec::new(),
                    ahead: FIRST_READ,
                    values,
                    last: Vec::new(),
                    started: false,
                    blocks,
                    next_block: first,
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

/// An entry of a walk, with its value when the walk read it.
#[derive(Debug)]
pub(in crate::engine) struct Item {
    pub entry: Entry,
    pub value: Option<Vec<u8>>,
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
    Entries(EntryCursor),
    Log(LogWalk),
}

impl Iterator for Walk {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Result<Item>> {
        loop {
            if self.done {
                return None;
            }
            let next = match &mut self.inner {
                WalkInner::Entries(c) => {
                    c.next().map(|r| r.map(|entry| Item { entry, value: None }))
                }
                WalkInner::Log(l) => l.next(),
            };
            match next {
                // Keys rise: once one reaches `from`, none is below it.
                Some(Ok(item)) if !self.from.is_empty() => {
                    if item.entry.key.as_slice() < self.from.as_slice() {
                        continue;
                    }
                    self.from = Vec::new();
                    return Some(Ok(item));
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    return None;
                }
                other => return other,
            }
        }
    }
}

/// A sorted walk's first read is this long, and each one after it twice
/// the one before, up to [`WALK_READ`]: a short scan reads little, through
/// the block cache (reads up to 16 KiB use it), a long walk soon reads in
/// large pieces past it.
const FIRST_READ: usize = 4096;
const WALK_READ: usize = 128 * 1024;

/// Reads a sorted segment's records in order, each whole and checked.
#[derive(Debug)]
struct LogWalk {
    seg: Arc<Segment>,
    /// File offset of `buf[0]`.
    base: u64,
    pos: u64,
    buf: Vec<u8>,
    /// How much the next read fetches (see [`FIRST_READ`]).
    ahead: usize,
    values: bool,
    /// The previous key (once `started`): a sorted segment's keys must
    /// strictly increase.
    last: Vec<u8>,
    started: bool,
    /// The index's blocks, walked alongside: every block must start at a
    /// record holding its first key. This is what ties a sorted index to
    /// its segment (a foreign or damaged index fails it at its first block
    /// instead of passing a log that is not in key order off as one).
    blocks: BlockWalk,
    next_block: Option<SparseEntry>,
}

impl LogWalk {
    /// The bytes `pos..pos + n` (fewer at the end of the segment).
    fn window(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.seg.log_len;
        let want_end = (self.pos + n as u64).min(end);
        if self.pos < self.base || want_end > self.base + self.buf.len() as u64 {
            let want = (n.max(self.ahead) as u64).min(end - self.pos) as usize;
            self.buf.resize(want, 0);
            read_exact_at(&*self.seg.log, &mut self.buf, self.pos)
                .map_err(|e| Error::io("read", &self.seg.log_path, e))?;
            self.base = self.pos;
            self.ahead = (self.ahead * 2).min(WALK_READ);
        }
        let s = (self.pos - self.base) as usize;
        let e = (s + n).min(self.buf.len());
        Ok(&self.buf[s..e])
    }

    fn next(&mut self) -> Option<Result<Item>> {
        loop {
            if self.pos >= self.seg.log_len {
                // Done: give the read buffer back (a walk over many
                // segments must not hold one per segment).
                self.buf = Vec::new();
                return None;
            }
            match self.step() {
                Ok(Some(item)) => return Some(Ok(item)),
                Ok(None) => continue,
                Err(e) => {
                    self.pos = self.seg.log_len;
                    return Some(Err(e));
                }
            }
        }
    }

    /// Decodes the record at `pos`; `None` for a batch commit.
    fn step(&mut self) -> Result<Option<Item>> {
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
        let head = self.window(MAX_HEADER_LEN)?;
        let h = record::decode_header(head).map_err(corrupt)?;
        let total = h.total_len();
        if at + total as u64 > self.seg.log_len {
            return Err(corrupt(DecodeError::Short { needed: total }));
        }
        let (tag, key, value) = if !self.values && total > SKIP_UNREAD {
            // A walk for keys reads a long record's header and key, not
            // its value (so not its CRC, which get, check and compaction
            // verify): KEYS after FLUSHDB read a dead 256 MiB value to
            // return nothing (serve review). The records around it are
            // still read whole and checked.
            let key_end = h.header_len + h.key_len;
            let bytes = self.window(key_end)?;
            if bytes.len() < key_end {
                return Err(corrupt(DecodeError::Short { needed: key_end }));
            }
            (h.tag, bytes[h.header_len..key_end].to_vec(), None)
        } else {
            let values = self.values;
            let bytes = self.window(total)?;
            let (rec, _) = record::decode(bytes).map_err(corrupt)?;
            let value = (values && !rec.tag.is_delete()).then(|| rec.value.to_vec());
            (rec.tag, rec.key.to_vec(), value)
        };
        let at_block = match &self.next_block {
            Some(b) if b.offset == at => {
                if tag == Tag::BatchCommit || b.first_key != key {
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
        if at_block {
            self.next_block = self.blocks.next().transpose()?;
        }
        self.pos += total as u64;
        if tag == Tag::BatchCommit {
            return Ok(None);
        }
        if self.started && self.last >= key {
            return Err(self
                .seg
                .idx_corrupt(0, "a sorted index describes a segment out of key order"));
        }
        self.started = true;
        self.last.clear();
        self.last.extend_from_slice(&key);
        Ok(Some(Item {
            entry: Entry {
                key,
                delete: tag.is_delete(),
                offset: at,
                len: total as u32,
                expires_at: h.expires_at,
            },
            value,
        }))
    }
}
