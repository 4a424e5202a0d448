//! [`EntryCursor`]: a hashed index's entry frames read in order, each
//! verified by its CRC, with read-ahead that grows as the walk goes on.
//! The entry the cursor stands on is borrowed from its buffer
//! ([`EntryCursor::head`]): a walk allocates nothing per entry.

use std::sync::Arc;

use super::super::Result;
use super::super::record::u32_at;
use super::super::storage::read_exact_at;
use super::frames::read_varint;
use super::{Entry, Index, key_len_ok};

impl Index {
    /// A cursor over a hashed index's entries from the entry frame at `from`
    /// (0: the first).
    pub fn entries_from(self: &Arc<Self>, from: u64) -> EntryCursor {
        let from = from.max(self.footer.entries_off());
        EntryCursor {
            index: Arc::clone(self),
            base: from,
            buf: Vec::new(),
            at: 0,
            frame_end: 0,
            next: from,
            ahead: FIRST_READ,
            done: false,
            cur: None,
        }
    }
}

/// An entry borrowed from the buffer it was decoded in; see
/// [`EntryCursor::head`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Whether the newest record is a tombstone.
    pub delete: bool,
    /// Offset of the record in the segment.
    pub offset: u64,
    /// Length of the record.
    pub len: u32,
    /// When the key expires (Unix milliseconds), for a put that does.
    pub expires_at: Option<u64>,
}

impl EntryRef<'_> {
    /// An owned copy.
    pub fn to_entry(self) -> Entry {
        Entry {
            key: self.key.to_vec(),
            delete: self.delete,
            offset: self.offset,
            len: self.len,
            expires_at: self.expires_at,
        }
    }
}

/// The entry a cursor stands on: its key as a range of the buffer.
#[derive(Clone, Debug)]
struct Cur {
    key: std::ops::Range<usize>,
    delete: bool,
    offset: u64,
    len: u32,
    expires_at: Option<u64>,
}

/// Reads a hashed index's entry frames in order, each verified.
#[derive(Debug)]
pub struct EntryCursor {
    index: Arc<Index>,
    /// File offset of `buf[0]`: frames are read ahead, back to back.
    base: u64,
    buf: Vec<u8>,
    /// Where the next entry is in `buf`, and where the current frame's
    /// entries end.
    at: usize,
    frame_end: usize,
    /// File offset of the frame after the current one.
    next: u64,
    /// How much the next read fetches (see [`FIRST_READ`]).
    ahead: usize,
    done: bool,
    /// The entry last decoded, in `buf`.
    cur: Option<Cur>,
}

/// A walk's first read is this long, and each one after it twice the one
/// before, up to [`READ_AHEAD`]: a short scan reads little, through the
/// block cache (reads up to 16 KiB use it), while a long walk soon reads in
/// large pieces past it.
const FIRST_READ: usize = 4096;
const READ_AHEAD: usize = 64 * 1024;

impl EntryCursor {
    /// Makes the frame at `self.next` current; `false` after the last one.
    fn next_frame(&mut self) -> Result<bool> {
        let end = self.index.footer.sparse_off;
        let off = self.next;
        if off >= end {
            return Ok(false);
        }
        let index = Arc::clone(&self.index);
        let corrupt = |why| index.corrupt(off, why);
        let buffered = |c: &Self, n: u64| off >= c.base && off + n <= c.base + c.buf.len() as u64;
        if !buffered(self, 4) {
            let want = self.ahead.min((end - off) as usize);
            self.read_at(off, want)?;
        }
        let rel = (off - self.base) as usize;
        if self.buf.len() < rel + 4 {
            return Err(corrupt("entry frame cut short"));
        }
        let len = u64::from(u32_at(&self.buf, rel));
        if off + len + 8 > end {
            return Err(corrupt("entry frame longer than the entries"));
        }
        if !buffered(self, len + 8) {
            let want = (len as usize + 8).max(self.ahead).min((end - off) as usize);
            self.read_at(off, want)?;
        }
        let rel = (off - self.base) as usize;
        let crc_at = rel + 4 + len as usize;
        if crc32fast::hash(&self.buf[rel..crc_at]) != u32_at(&self.buf, crc_at) {
            return Err(corrupt("entry frame CRC mismatch"));
        }
        self.at = rel + 4;
        self.frame_end = crc_at;
        self.next = off + len + 8;
        Ok(true)
    }

    fn read_at(&mut self, off: u64, n: usize) -> Result<()> {
        self.buf.resize(n, 0);
        read_exact_at(&*self.index.file, &mut self.buf, off).map_err(|e| self.index.read_err(e))?;
        self.base = off;
        self.ahead = (self.ahead * 2).min(READ_AHEAD);
        Ok(())
    }

    fn decode(&mut self) -> Option<Cur> {
        let body = &self.buf[..self.frame_end];
        let mut pos = self.at;
        let key_len = read_varint(body, &mut pos)?;
        if !key_len_ok(key_len) {
            return None;
        }
        let key = pos..pos.checked_add(key_len as usize)?;
        body.get(key.clone())?;
        pos = key.end;
        let offset = read_varint(body, &mut pos)?;
        let len_kind = read_varint(body, &mut pos)?;
        // Format 3: `len << 2 | expires << 1 | tombstone`, then the expiry
        // when it is set; format 2: `len << 1 | tombstone`.
        let (len, expiring) = if self.index.version() >= 3 {
            (len_kind >> 2, len_kind & 2 != 0)
        } else {
            (len_kind >> 1, false)
        };
        let len = u32::try_from(len).ok()?;
        let delete = len_kind & 1 == 1;
        if expiring && delete {
            return None;
        }
        let expires_at = if expiring {
            Some(read_varint(body, &mut pos)?)
        } else {
            None
        };
        self.at = pos;
        Some(Cur {
            key,
            delete,
            offset,
            len,
            expires_at,
        })
    }

    /// Steps to the next entry; `false` after the last one. The entry is
    /// then [`head`](Self::head), until the next step.
    pub fn advance(&mut self) -> Result<bool> {
        self.cur = None;
        if self.done {
            return Ok(false);
        }
        if self.at >= self.frame_end {
            match self.next_frame() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    self.buf = Vec::new();
                    return Ok(false);
                }
                Err(e) => {
                    self.done = true;
                    self.buf = Vec::new();
                    return Err(e);
                }
            }
        }
        let at_file = self.base + self.at as u64;
        match self.decode() {
            Some(cur) => {
                self.cur = Some(cur);
                Ok(true)
            }
            None => {
                self.done = true;
                Err(self.index.corrupt(at_file, "entry cut short or impossible"))
            }
        }
    }

    /// The entry the last [`advance`](Self::advance) stepped to.
    #[inline]
    pub fn head(&self) -> Option<EntryRef<'_>> {
        let c = self.cur.as_ref()?;
        Some(EntryRef {
            key: &self.buf[c.key.clone()],
            delete: c.delete,
            offset: c.offset,
            len: c.len,
            expires_at: c.expires_at,
        })
    }
}

impl Iterator for EntryCursor {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        match self.advance() {
            Ok(true) => self.head().map(|e| Ok(e.to_entry())),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
