//! A point lookup in a sorted segment: the index names the data block that
//! would hold the key, and the block's records are looked at in order, in
//! place: in the block cache's copy when the cache holds the piece whole
//! (no copy at all), else in a buffer of the lookup's.

use std::cmp::Ordering;
use std::sync::Arc;

use super::super::record::{self, MAX_HEADER_LEN, RecordHeader, Tag};
use super::super::short_keys;
use super::super::storage::StorageFile;
use super::{Error, Hit, Result, SKIP_UNREAD, Segment};

/// Bytes of the log a lookup reads into its own buffer at a time when no cache
/// holds them: a data block is about
/// [`DATA_BLOCK`](super::super::index::DATA_BLOCK) bytes and ends past it
/// by at most its last record.
const SCAN_BUF: usize = 4096;

/// The piece of a log a lookup is looking at: `at..at + len` of the file,
/// in a cached block or in a buffer of its own (made on first use).
struct Window<'a> {
    file: &'a dyn StorageFile,
    at: u64,
    shared: Option<Arc<[u8]>>,
    own: Vec<u8>,
    own_len: usize,
    /// The key of the record before the current one: where it lies in the
    /// log while the window holds it, copied here when the window moves.
    prev: Option<(u64, usize)>,
    prev_copy: Vec<u8>,
}

impl<'a> Window<'a> {
    fn new(file: &'a dyn StorageFile) -> Window<'a> {
        Window {
            file,
            at: 0,
            shared: None,
            own: Vec::new(),
            own_len: 0,
            prev: None,
            prev_copy: Vec::new(),
        }
    }

    fn bytes(&self) -> &[u8] {
        match &self.shared {
            Some(b) => b,
            None => &self.own[..self.own_len],
        }
    }

    /// Whether the window holds `pos..pos + need`.
    fn holds(&self, pos: u64, need: usize) -> bool {
        pos >= self.at && pos + need as u64 <= self.at + self.bytes().len() as u64
    }

    /// Moves the window to hold `pos..pos + need` (`need` ≤ [`SCAN_BUF`],
    /// and ≤ `end - pos`), reading no further than `end` into its buffer.
    fn hold(&mut self, seg: &Segment, pos: u64, need: usize, end: u64) -> Result<()> {
        if self.holds(pos, need) {
            return Ok(());
        }
        // The previous key is about to go: keep a copy to compare with.
        if let Some((at, len)) = self.prev.take() {
            let start = (at - self.at) as usize;
            let key = match &self.shared {
                Some(block) => &block[start..start + len],
                None => &self.own[start..start + len],
            };
            self.prev_copy.clear();
            self.prev_copy.extend_from_slice(key);
        }
        let cached = self
            .file
            .cached_block(pos)
            .map_err(|e| Error::io("read", &seg.log_path, e))?;
        if let Some((at, block)) = cached
            && pos + need as u64 <= at + block.len() as u64
        {
            (self.at, self.shared) = (at, Some(block));
            return Ok(());
        }
        self.shared = None;
        self.own.resize(SCAN_BUF, 0);
        self.own_len = (SCAN_BUF as u64).min(end - pos) as usize;
        seg.read(&mut self.own[..self.own_len], pos)?;
        self.at = pos;
        Ok(())
    }

    /// The window's bytes from `pos` on (`pos` lies in the window).
    fn from(&self, pos: u64) -> &[u8] {
        &self.bytes()[(pos - self.at) as usize..]
    }

    /// Notes the key at `at`, `len` bytes, as the key before the next
    /// record's: where it lies in the window, or `outside` it (read apart).
    fn passed(&mut self, at: u64, len: usize, outside: Option<Vec<u8>>) {
        match outside {
            None => self.prev = Some((at, len)),
            Some(key) => (self.prev, self.prev_copy) = (None, key),
        }
    }

    /// The key of `len` bytes at `key_at`: `apart`, when it was read
    /// apart ([`Segment::key_apart`]), else in the window.
    #[inline]
    fn key<'k>(&'k self, key_at: u64, len: usize, apart: &'k Option<Vec<u8>>) -> &'k [u8] {
        match apart {
            None => &self.from(key_at)[..len],
            Some(k) => k,
        }
    }

    /// The key before the current record's (empty before the first).
    fn prev(&self) -> &[u8] {
        match self.prev {
            Some((at, len)) => &self.from(at)[..len],
            None => &self.prev_copy,
        }
    }
}

impl Segment {
    pub(super) fn find_sorted(&self, key: &[u8], value_upto: u64) -> Result<Option<Hit>> {
        let found = self.index.locate_with(key, |first_key, offset, len, _| {
            self.scan_block(key, value_upto, first_key, offset, offset + len)
        })?;
        Ok(found.flatten())
    }

    /// Looks for `key` in the data block `pos..end` that starts with
    /// `first_key`, with the value of a record of at most `value_upto`
    /// bytes. Each record's header and key are looked at in place,
    /// without its value. Only the record that ends the search, the key's or
    /// the first one past it, is checked whole with its CRC: a record passed
    /// over is not the answer, and damage to its lengths derails the walk
    /// into one that fails.
    fn scan_block(
        &self,
        key: &[u8],
        value_upto: u64,
        first_key: &[u8],
        mut pos: u64,
        end: u64,
    ) -> Result<Option<Hit>> {
        let mut win = Window::new(&*self.log);
        let mut first = true;
        while pos < end {
            win.hold(self, pos, MAX_HEADER_LEN.min((end - pos) as usize), end)?;
            let h = record::decode_header(win.from(pos))
                .map_err(|e| self.log_corrupt(pos, e.to_string()))?;
            let total = h.total_len() as u64;
            if pos + total > end {
                return Err(self.idx_corrupt(0, "a data block ends inside a record"));
            }
            if h.tag == Tag::BatchCommit {
                pos += total;
                continue;
            }
            let key_at = pos + h.header_len as u64;
            let long_key = self.key_apart(&mut win, &h, pos, end)?;
            let rec_key = win.key(key_at, h.key_len, &long_key);
            if first && !short_keys::eq(rec_key, first_key) {
                return Err(self.idx_corrupt(0, "a data block does not start with its key"));
            }
            if !first && short_keys::cmp(rec_key, win.prev()).is_le() {
                return Err(
                    self.idx_corrupt(0, "a sorted index describes a segment out of key order")
                );
            }
            first = false;
            let order = short_keys::cmp(rec_key, key);
            if order == Ordering::Less {
                win.passed(key_at, h.key_len, long_key);
                pos += total;
                continue;
            }
            let found = order == Ordering::Equal;
            let want_value = total <= value_upto;
            if total as usize > SKIP_UNREAD && !(found && want_value) {
                // Too long to read only to check it; its header and key are
                // what the answer rests on.
                return Ok(found.then_some(Hit {
                    tag: h.tag,
                    value: None,
                    expires_at: h.expires_at,
                    len: total as u32,
                }));
            }
            if total as usize <= SCAN_BUF {
                win.hold(self, pos, total as usize, end)?;
            }
            if !win.holds(pos, total as usize) {
                // Read whole into a buffer of its own, which becomes the
                // value: a large value costs its size once, not twice.
                let mut whole = vec![0u8; total as usize];
                self.read(&mut whole, pos)?;
                let (rec, _) =
                    record::decode(&whole).map_err(|e| self.log_corrupt(pos, e.to_string()))?;
                let (tag, value_at, expires_at) =
                    (rec.tag, total as usize - rec.value.len(), rec.expires_at);
                let value = (found && want_value).then(|| {
                    whole.drain(..value_at);
                    whole
                });
                return Ok(found.then_some(Hit {
                    tag,
                    value,
                    expires_at,
                    len: total as u32,
                }));
            }
            let whole = &win.from(pos)[..total as usize];
            let (rec, _) =
                record::decode(whole).map_err(|e| self.log_corrupt(pos, e.to_string()))?;
            if !found {
                return Ok(None);
            }
            return Ok(Some(Hit {
                tag: rec.tag,
                value: want_value.then(|| rec.value.to_vec()),
                expires_at: rec.expires_at,
                len: total as u32,
            }));
        }
        // Every key of the block lies below `key`.
        self.check_next_past(&mut win, key, end)?;
        Ok(None)
    }

    /// Brings the key of the record at `pos`, whose header is `h`, into
    /// the window (reading no further than `end`): `None` then, the key
    /// lying there after the header; or, a key longer than the window,
    /// read apart and returned.
    #[inline(always)]
    fn key_apart(
        &self,
        win: &mut Window<'_>,
        h: &RecordHeader,
        pos: u64,
        end: u64,
    ) -> Result<Option<Vec<u8>>> {
        let key_at = pos + h.header_len as u64;
        if h.key_len <= SCAN_BUF {
            win.hold(self, pos, h.header_len + h.key_len, end)?;
        }
        if win.holds(key_at, h.key_len) {
            return Ok(None);
        }
        let mut k = vec![0u8; h.key_len];
        self.read(&mut k, key_at)?;
        Ok(Some(k))
    }

    /// At the end of a data block all of whose keys lie below `key`: the
    /// record at `end` (the next block's first, if there is one) must lie
    /// past `key`, as the index says the next block's first key does.
    /// What the first key ties at a block's start, this ties at its end:
    /// an index whose blocks end before keys the log holds in them fails
    /// here (healing it rebuilds from the log), where it would answer
    /// that such a key is absent. A record at `end` that does not decode
    /// tells nothing of the index (its damage is the next block's).
    fn check_next_past(&self, win: &mut Window<'_>, key: &[u8], end: u64) -> Result<()> {
        if end >= self.log_len {
            return Ok(());
        }
        win.hold(
            self,
            end,
            MAX_HEADER_LEN.min((self.log_len - end) as usize),
            self.log_len,
        )?;
        let Ok(h) = record::decode_header(win.from(end)) else {
            return Ok(());
        };
        let key_at = end + h.header_len as u64;
        if h.tag == Tag::BatchCommit || key_at + h.key_len as u64 > self.log_len {
            return Ok(());
        }
        let long_key = self.key_apart(win, &h, end, self.log_len)?;
        if short_keys::cmp(win.key(key_at, h.key_len, &long_key), key).is_le() {
            return Err(self.idx_corrupt(0, "a data block ends before a key its log holds"));
        }
        Ok(())
    }
}
