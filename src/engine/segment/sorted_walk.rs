//! The walk over a sorted segment: [`LogWalk`] reads the log itself in
//! order, with its values, checking each data block whole by the CRC the
//! index gives (or, without one, each record's CRC and that keys rise),
//! and that every data block starts at a record holding the block's first
//! key (what ties a sorted index to its segment). The records of a block
//! checked whole are decoded at once, in one pass over it, so that a step
//! within the block is taking the next (no check, no read, no `Result`).

use std::ops::Range;
use std::sync::Arc;

use super::super::index::{BlockWalk, EntryRef, SparseEntry};
use super::super::record::{self, DecodeError, MAX_HEADER_LEN, RecordHeader, Tag};
use super::super::storage::{DropBehind, Spare, Uncached, read_exact_at};
use super::super::{Error, Result};
use super::ordered_walk::Head;
use super::{SKIP_UNREAD, Segment};

/// A sorted walk's buffer holds this much after its first read, and after
/// each one after it half as much as the walk read before, up to
/// [`WALK_READ`] (a read fetches that less what the buffer kept of the
/// record or block the last one cut): a short scan reads little, a long
/// walk soon reads in large pieces, and a walk that stops reads at most
/// about half again what it used (with reads that doubled, about twice:
/// a range of 1,000 pairs, ~123 KB, read 252 KiB in benches/scan, by
/// strace). A walk's reads take what the block cache holds, and keep what
/// they read from the file only into room no block of the cache holds; a
/// compaction's walk reads past the cache
/// ([`StorageFile::read_at_spare`](super::super::storage::StorageFile::read_at_spare)).
const FIRST_READ: usize = 4096;
const WALK_READ: usize = 128 * 1024;
/// A first read sized to the scan's end is at least this long.
const MIN_READ: usize = 512;

/// Reads a sorted segment's records in order, each whole and checked.
#[derive(Debug)]
pub(super) struct LogWalk {
    seg: Arc<Segment>,
    /// File offset of `buf[0]`.
    base: u64,
    pos: u64,
    buf: Vec<u8>,
    /// How much of `buf` holds bytes of the file.
    filled: usize,
    /// How much the buffer holds after the next read (see [`FIRST_READ`]).
    ahead: usize,
    /// Bytes read from the file so far.
    read: u64,
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
    /// The end of the last data block checked whole by the CRC the index
    /// gives (0: none), and whether it matched. Matched, the block's
    /// records need no check of their own CRCs and order; not, they are
    /// checked one by one, and if none is found damaged by the time the
    /// walk leaves the block, the index is what is wrong.
    block_end: u64,
    block_ok: bool,
    /// The record the walk stands on, in `buf`.
    cur: Option<Cur>,
    /// The records after it in a data block checked whole, decoded at
    /// once (`ready[ready_at..]`, in `buf`; see [`LogWalk::decode_rest`]):
    /// stepping onto one is taking it.
    ready: Vec<Cur>,
    ready_at: usize,
    /// What the walk passed, when its segment is read once (see
    /// [`read_once`](Self::read_once)); its reads then go past the block
    /// cache.
    behind: Option<DropBehind>,
}

/// A data block whose CRC the index gives is checked whole when it is at
/// most this long (so it holds no record a walk for keys leaves unread).
const CHECKED_BLOCK: u64 = SKIP_UNREAD as u64;

/// Where a record a sorted walk holds lies in its buffer: read whole,
/// except a long value a walk for keys does not read (see
/// [`LogWalk::step`]; its `end` then lies past what was read, and no value
/// or record of it is handed out).
#[derive(Clone, Copy, Debug)]
struct Cur {
    /// Where it starts in the buffer, and its length.
    at: u32,
    len: u32,
    header_len: u32,
    key_len: u32,
    tag: Tag,
    expires_at: Option<u64>,
}

impl Cur {
    /// The record at `at` in the buffer, whose header is `h`.
    fn of(at: usize, h: &RecordHeader) -> Cur {
        Cur {
            at: at as u32,
            len: h.total_len() as u32,
            header_len: h.header_len as u32,
            key_len: h.key_len as u32,
            tag: h.tag,
            expires_at: h.expires_at,
        }
    }

    fn key(&self) -> Range<usize> {
        let start = (self.at + self.header_len) as usize;
        start..start + self.key_len as usize
    }

    fn end(&self) -> usize {
        (self.at + self.len) as usize
    }
}

impl LogWalk {
    /// A walk from the data block `first` (of `blocks`), at `start`; told
    /// where the block holding the last key wanted ends, if it is known
    /// (`Some(None)`: the end is below every key).
    pub(super) fn new(
        seg: Arc<Segment>,
        start: u64,
        end_block: Option<Option<u64>>,
        values: bool,
        blocks: BlockWalk,
        first: Option<SparseEntry>,
    ) -> LogWalk {
        let ahead = match end_block {
            Some(Some(end)) => end.saturating_sub(start) as usize,
            Some(None) => MIN_READ,
            None => FIRST_READ,
        };
        LogWalk {
            seg,
            base: start,
            pos: start,
            buf: Vec::new(),
            filled: 0,
            ahead: ahead.clamp(MIN_READ, WALK_READ),
            read: 0,
            values,
            last: Vec::new(),
            prev: None,
            started: false,
            blocks,
            next_block: first,
            block_end: 0,
            block_ok: false,
            cur: None,
            ready: Vec::new(),
            ready_at: 0,
            behind: None,
        }
    }

    /// The walk's segment is read once and then removed (a compaction's
    /// input): from now on its reads go past the block cache, and the
    /// system's cache may drop what they passed ([`DropBehind`]).
    pub(super) fn read_once(&mut self) {
        self.behind = Some(DropBehind::at(self.pos));
    }

    /// The key of the record the walk stands on.
    #[inline]
    pub(super) fn key(&self) -> Option<&[u8]> {
        self.cur.as_ref().map(|c| &self.buf[c.key()])
    }

    /// Of the record the walk stands on: whether it is a tombstone, when
    /// it expires, and whether the walk holds its value.
    #[inline]
    pub(super) fn flags(&self) -> Option<(bool, Option<u64>, bool)> {
        self.cur.as_ref().map(|c| {
            let delete = c.tag.is_delete();
            (delete, c.expires_at, self.values && !delete)
        })
    }

    /// The value of the record the walk stands on.
    #[inline]
    pub(super) fn value(&self) -> Option<&[u8]> {
        let c = self.cur.as_ref()?;
        (self.values && !c.tag.is_delete()).then(|| &self.buf[c.key().end..c.end()])
    }

    /// The whole record the walk stands on, when it is a plain put.
    #[inline]
    pub(super) fn put_record(&self) -> Option<&[u8]> {
        let c = self.cur.as_ref()?;
        (self.values && c.tag == Tag::Put).then(|| &self.buf[c.at as usize..c.end()])
    }

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
            // What the buffer holds from `pos` on (a record or block cut
            // by the last read) moves to its start and is not read again.
            let held_end = self.base + self.filled as u64;
            let held = match self.pos >= self.base && self.pos < held_end {
                true => ((held_end - self.pos) as usize).min(want),
                false => 0,
            };
            if held > 0 {
                let from = (self.pos - self.base) as usize;
                self.buf.copy_within(from..from + held, 0);
            }
            // The buffer only grows: its bytes are overwritten, never
            // cleared first.
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            self.filled = 0;
            let rest = &mut self.buf[held..want];
            let (log, at) = (&*self.seg.log, self.pos + held as u64);
            // A segment read once (a compaction's input) is read past the
            // block cache.
            let read = match self.behind {
                Some(_) => read_exact_at(&Uncached(log), rest, at),
                None => read_exact_at(&Spare(log), rest, at),
            };
            read.map_err(|e| Error::io("read", &self.seg.log_path, e))?;
            self.filled = want;
            self.base = self.pos;
            self.read += (want - held) as u64;
            if let Some(behind) = &mut self.behind {
                behind.passed(&*self.seg.log, self.pos);
            }
            self.ahead = (self.read / 2).clamp(FIRST_READ as u64, WALK_READ as u64) as usize;
        }
        Ok((self.pos - self.base) as usize)
    }

    /// Steps onto the next record decoded at once, if there is one
    /// (`false`, nothing done, when there is none): what
    /// [`advance`](Self::advance) does first, without its `Result`.
    #[inline]
    pub(super) fn advance_ready(&mut self) -> bool {
        let Some(&next) = self.ready.get(self.ready_at) else {
            return false;
        };
        self.ready_at += 1;
        // The key stepped past needs no keeping: records decoded at once
        // need no order check, and the last of them becomes `prev` when
        // `advance` next reads on.
        self.cur = Some(next);
        true
    }

    pub(super) fn advance(&mut self) -> Result<bool> {
        if self.advance_ready() {
            return Ok(true);
        }
        // The key stepped past is what the next must exceed.
        if let Some(c) = self.cur.take() {
            self.prev = Some(c.key());
            self.started = true;
        }
        loop {
            let done = self.pos >= self.seg.log_len;
            if done && !self.suspect() {
                // Done: give the read buffer and the list of decoded
                // records back (a walk over many segments must not hold
                // them once per segment).
                self.buf = Vec::new();
                self.ready = Vec::new();
                self.filled = 0;
                self.prev = None;
                return Ok(false);
            }
            let stepped = match done {
                true => Err(self.block_crc_wrong()),
                false => self.step(),
            };
            match stepped {
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

    pub(super) fn head(&self) -> Option<Head<'_>> {
        let c = self.cur.as_ref()?;
        Some(Head {
            entry: EntryRef {
                key: &self.buf[c.key()],
                delete: c.tag.is_delete(),
                offset: self.base + c.at as u64,
                len: c.len,
                expires_at: c.expires_at,
            },
            value: self.value(),
        })
    }

    /// In or past a data block whose CRC did not match.
    fn suspect(&self) -> bool {
        self.block_end != 0 && !self.block_ok
    }

    /// A data block's CRC did not match, yet each of its records did.
    fn block_crc_wrong(&self) -> Error {
        self.seg
            .idx_corrupt(0, "a data block's CRC does not match its records")
    }

    /// At the start of a data block whose CRC the index gives: checks the
    /// block whole.
    fn check_block(&mut self, len: u64, crc: u32) -> Result<()> {
        let s = self.window(len as usize)?;
        let block = self.buf[..self.filled].get(s..s + len as usize);
        self.block_ok = block.is_some_and(|b| crc32fast::hash(b) == crc);
        self.block_end = self.pos + len;
        Ok(())
    }

    /// Decodes the record at `pos` into `cur`; `false` for a batch commit.
    /// In a data block checked whole, the block's records after it are
    /// decoded too, into `ready` (see [`decode_rest`](Self::decode_rest)).
    fn step(&mut self) -> Result<bool> {
        let at = self.pos;
        if self.suspect() && at >= self.block_end {
            return Err(self.block_crc_wrong());
        }
        // At a block start the index says a record begins here: if none
        // does, the index is what is wrong (healing it rebuilds from the
        // log, which reports the log if the damage is there after all).
        let block_start = self.next_block.as_ref().is_some_and(|b| b.offset == at);
        if block_start
            && let Some(b) = &self.next_block
            && let Some(crc) = b.crc.filter(|_| b.len <= CHECKED_BLOCK)
        {
            self.check_block(b.len, crc)?;
        }
        let seg = Arc::clone(&self.seg);
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
        // In a block checked whole, a record needs no check of its own.
        let checked = self.block_ok && at + total as u64 <= self.block_end;
        if whole && !checked && crc32fast::hash(&bytes[4..]) != h.crc {
            return Err(corrupt(DecodeError::CrcMismatch));
        }
        let key = s + h.header_len..s + key_end;
        let key_bytes = &self.buf[key.clone()];
        let at_block = match &self.next_block {
            Some(b) if block_start => {
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
        // A checked block's records are in order among themselves; the
        // first one is still compared with the block before.
        let ordered = checked && !at_block;
        if self.started && !ordered && h.tag != Tag::BatchCommit && prev >= key_bytes {
            return Err(self
                .seg
                .idx_corrupt(0, "a sorted index describes a segment out of key order"));
        }
        if at_block {
            self.blocks.next_into(&mut self.next_block)?;
        }
        self.pos += total as u64;
        if checked {
            self.decode_rest();
        }
        if h.tag == Tag::BatchCommit {
            return Ok(false);
        }
        self.cur = Some(Cur::of(s, &h));
        Ok(true)
    }

    /// In a data block checked whole: decodes its records from `pos` on
    /// into `ready` at once, and moves `pos` past them. Such records need
    /// no check of their own (CRC, key order), so stepping onto one is
    /// taking it. Decoding stops, leaving the rest to [`step`](Self::step)
    /// (which reports what is wrong, if anything), at the first record
    /// that does not decode, does not lie whole in the block and in the
    /// buffer, or reaches the next block's start.
    fn decode_rest(&mut self) {
        self.ready.clear();
        // Room for a block of short records at once, not grown in steps.
        self.ready.reserve(64);
        self.ready_at = 0;
        let limit = match &self.next_block {
            Some(b) => self.block_end.min(b.offset),
            None => self.block_end,
        };
        if self.pos < self.base {
            return;
        }
        let end = (limit.saturating_sub(self.base) as usize).min(self.filled);
        let mut s = (self.pos - self.base) as usize;
        while s < end {
            let Ok(h) = record::decode_header(&self.buf[s..end]) else {
                break;
            };
            let total = h.total_len();
            if total > end - s {
                break;
            }
            if h.tag != Tag::BatchCommit {
                self.ready.push(Cur::of(s, &h));
            }
            s += total;
        }
        self.pos = self.base + s as u64;
    }
}

#[cfg(test)]
mod tests;
