//! Reading an index's pieces, each verified by its CRC before use: the top
//! frame (kept in memory once read), sparse frames, hash buckets and entry
//! frames. Nothing read from the file is trusted as a length or offset
//! before it is checked against the region it must lie in.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use super::super::Result;
use super::super::record::{FILE_HEADER_LEN, u32_at, u64_at};
use super::super::storage::read_exact_at;
use super::{
    BUCKET_LEN, Entry, Index, Kind, SPARSE_FRAME, bucket_of, key_hash, key_len_ok, slots_per_bucket,
};

/// Reads a minimal varint at `*pos` of `buf`; `None` when it runs past the
/// buffer, is longer than ten bytes or is not minimal.
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let b = *buf.get(*pos + i)?;
        if i == 9 && b > 1 {
            return None;
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return None;
            }
            *pos += i + 1;
            return Some(value);
        }
    }
    None
}

/// A sparse entry: the first key of a block and where the block is (a
/// data block of the log for a sorted index, an entry frame for a hashed one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseEntry {
    /// The block's first key.
    pub first_key: Vec<u8>,
    /// Where the block starts.
    pub offset: u64,
    /// The block's length.
    pub len: u64,
}

/// Decodes a sparse entry at `*pos`.
fn sparse_at<'a>(buf: &'a [u8], pos: &mut usize) -> Option<(&'a [u8], u64, u64)> {
    let key_len = read_varint(buf, pos)?;
    if !key_len_ok(key_len) {
        return None;
    }
    let key = buf.get(*pos..*pos + key_len as usize)?;
    *pos += key_len as usize;
    let offset = read_varint(buf, pos)?;
    let len = read_varint(buf, pos)?;
    Some((key, offset, len))
}

/// An entry frame's or sparse frame's payload, verified.
type Payload = Vec<u8>;

/// A sparse frame (or the top frame, laid out alike), verified, with the
/// region its entries must point into.
#[derive(Debug)]
pub(super) struct SparseFrame {
    off: u64,
    payload: Payload,
    body_at: usize,
    count: usize,
    region: (u64, u64),
    /// Each entry's first key, as a range of `payload`.
    keys: Vec<(u32, u32)>,
    /// How many leading bytes every first key of the frame shares (they are
    /// sorted: the first's and the last's), and for each key the eight
    /// bytes after those, big-endian and zero-padded: a search compares
    /// these in one dense array and looks at a key itself only on a tie.
    common: usize,
    prefixes: Vec<u64>,
}

/// The eight bytes of `key` after `common`, big-endian, zero-padded.
fn prefix_after(key: &[u8], common: usize) -> u64 {
    let rest = key.get(common..).unwrap_or_default();
    let mut b = [0u8; 8];
    let n = rest.len().min(8);
    b[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(b)
}

impl SparseFrame {
    /// Parses a verified payload: `count u32 | count × u32 offsets | entries`.
    fn parse(index: &Index, off: u64, payload: Payload, region: (u64, u64)) -> Result<SparseFrame> {
        let count = (payload.len() >= 4).then(|| u32_at(&payload, 0) as usize);
        let body_at = count.and_then(|c| {
            c.checked_mul(4)
                .and_then(|n| n.checked_add(4))
                .filter(|&b| b <= payload.len())
        });
        let (Some(count), Some(body_at)) = (count, body_at) else {
            return Err(index.corrupt(off, "frame count impossible"));
        };
        let mut keys = Vec::with_capacity(count);
        for j in 0..count {
            let mut pos = body_at + u32_at(&payload, 4 + 4 * j) as usize;
            let key_len = read_varint(&payload, &mut pos).filter(|&l| key_len_ok(l));
            match key_len {
                Some(l) if pos + l as usize <= payload.len() => keys.push((pos as u32, l as u32)),
                _ => return Err(index.corrupt(off, "sparse entry cut short or impossible")),
            }
        }
        let key = |j: usize| {
            let (at, len) = keys[j];
            &payload[at as usize..(at + len) as usize]
        };
        let common = match count {
            0 => 0,
            n => {
                let (a, b) = (key(0), key(n - 1));
                a.iter().zip(b).take_while(|(x, y)| x == y).count()
            }
        };
        let prefixes = (0..count).map(|j| prefix_after(key(j), common)).collect();
        Ok(SparseFrame {
            off,
            payload,
            body_at,
            count,
            region,
            keys,
            common,
            prefixes,
        })
    }

    /// How many entries the frame holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.count
    }

    /// The first key of entry `j`.
    fn key(&self, j: usize) -> &[u8] {
        let (at, len) = self.keys[j];
        &self.payload[at as usize..(at + len) as usize]
    }

    /// The last entry whose first key is ≤ `key`, by binary search.
    fn find(&self, key: &[u8]) -> Option<usize> {
        // Below the first key is the common miss (a lookup probing a newer
        // segment that covers higher keys): one comparison.
        if self.count == 0 || key < self.key(0) {
            return None;
        }
        let shared = &self.key(0)[..self.common];
        match key.get(..self.common).unwrap_or(key).cmp(shared) {
            // Past every key of the frame.
            Ordering::Greater => return Some(self.count - 1),
            // (Less is ruled out above: key ≥ the first key.)
            Ordering::Less | Ordering::Equal => {}
        }
        let want = prefix_after(key, self.common);
        let n = self.prefixes.partition_point(|&p| match p.cmp(&want) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => true,
        });
        // `n` entries have a prefix ≤ the key's; among those that tie, the
        // keys themselves decide.
        let mut i = n;
        while i > 0 && self.prefixes[i - 1] == want && self.key(i - 1) > key {
            i -= 1;
        }
        i.checked_sub(1)
    }

    /// Entry `j`, checked against the region.
    fn entry(&self, index: &Index, j: usize) -> Result<SparseEntry> {
        let mut pos = self.body_at + u32_at(&self.payload, 4 + 4 * j) as usize;
        let Some((k, offset, len)) = sparse_at(&self.payload, &mut pos) else {
            return Err(index.corrupt(self.off, "sparse entry cut short or impossible"));
        };
        let fits =
            offset >= self.region.0 && offset.checked_add(len).is_some_and(|e| e <= self.region.1);
        if !fits || len == 0 {
            return Err(index.corrupt(self.off, "sparse entry points outside its region"));
        }
        Ok(SparseEntry {
            first_key: k.to_vec(),
            offset,
            len,
        })
    }
}

/// The blocks of an index in order; see [`Index::blocks_from`].
#[derive(Debug)]
pub struct BlockWalk {
    index: Arc<Index>,
    /// From the top down: each frame on the way to the current block, its
    /// ordinal at its depth, and the place in it (the entry after the one
    /// taken). Empty when the walk is over.
    path: Vec<(Arc<SparseFrame>, usize, usize)>,
    /// Blocks wholly below this are skipped.
    from: Vec<u8>,
}

impl BlockWalk {
    /// Descends from the frame at depth `path.len() - 1` to the first level,
    /// taking each frame's entry `pick(frame)`.
    fn descend(&mut self, pick: &dyn Fn(&SparseFrame) -> usize) -> Result<()> {
        while self.path.len() <= usize::from(self.index.footer.levels) {
            let (frame, _, _) = self.path.last().expect("a walk starts at the top");
            let i = pick(frame);
            self.step_into(i)?;
        }
        Ok(())
    }

    /// Steps from the deepest frame of the path into the child its entry `i`
    /// names.
    fn step_into(&mut self, i: usize) -> Result<()> {
        let (frame, ord, _) = self.path.last().expect("a walk starts at the top");
        let child_ord = ord * SPARSE_FRAME + i;
        let child = self.index.child(frame, i, self.path.len(), child_ord)?;
        self.path.last_mut().expect("just read").2 = i + 1;
        self.path.push((child, child_ord, 0));
        Ok(())
    }
}

impl Iterator for BlockWalk {
    type Item = Result<SparseEntry>;

    fn next(&mut self) -> Option<Result<SparseEntry>> {
        loop {
            let (frame, _, at) = self.path.last_mut()?;
            if *at < frame.count {
                *at += 1;
                let i = *at - 1;
                // Skip the blocks wholly below `from`: the next one starts
                // at or below it.
                if i + 1 < frame.count && frame.key(i + 1) <= self.from.as_slice() {
                    continue;
                }
                let e = frame.entry(&self.index, i);
                if e.is_err() {
                    self.path.clear();
                }
                return Some(e);
            }
            // This frame is done: on to the next entry of the one above it.
            self.path.pop();
            let (frame, _, at) = self.path.last()?;
            if *at >= frame.count {
                continue;
            }
            let at = *at;
            if let Err(e) = self.step_into(at).and_then(|()| self.descend(&|_| 0)) {
                self.path.clear();
                return Some(Err(e));
            }
        }
    }
}

impl Index {
    /// Reads and verifies the frame at `off`, which must end by `end`.
    fn frame(&self, off: u64, end: u64) -> Result<Payload> {
        let room = end.checked_sub(off).filter(|&r| r >= 8);
        let Some(room) = room else {
            return Err(self.corrupt(off, "frame outside its region"));
        };
        let mut len = [0u8; 4];
        read_exact_at(&*self.file, &mut len, off).map_err(|e| self.read_err(e))?;
        let len = u64::from(u32::from_le_bytes(len));
        if len + 8 > room {
            return Err(self.corrupt(off, "frame longer than its region"));
        }
        let mut buf = vec![0u8; len as usize + 8];
        read_exact_at(&*self.file, &mut buf, off).map_err(|e| self.read_err(e))?;
        let crc_at = buf.len() - 4;
        if crc32fast::hash(&buf[..crc_at]) != u32_at(&buf, crc_at) {
            return Err(self.corrupt(off, "frame CRC mismatch"));
        }
        buf.truncate(crc_at);
        buf.drain(..4);
        Ok(buf)
    }

    /// The top frame, read and verified once; searched in place.
    pub(super) fn top(&self) -> Result<Arc<SparseFrame>> {
        if let Some(top) = self.top.get() {
            return Ok(Arc::clone(top));
        }
        let f = &self.footer;
        let end = self.file_len - super::FOOTER_LEN as u64;
        let payload = self.frame(f.top_off, end)?;
        if payload.len() as u64 + 8 != end - f.top_off {
            return Err(self.corrupt(f.top_off, "top frame does not end at the footer"));
        }
        let top = SparseFrame::parse(self, f.top_off, payload, self.region(0))?;
        Ok(Arc::clone(self.top.get_or_init(|| Arc::new(top))))
    }

    /// The frame entry `i` of `parent` (at depth `depth - 1`) names: read and
    /// verified, and kept once read, by its ordinal at its depth (`ordinal`:
    /// frames are built SPARSE_FRAME to a parent, so a parent's ordinal
    /// times SPARSE_FRAME plus the entry gives the child's). A long-lived
    /// handle's lookups then touch the file only for the data block; all of
    /// them together take about the index's size (a byte or two per key).
    fn child(
        &self,
        parent: &SparseFrame,
        i: usize,
        depth: usize,
        ordinal: usize,
    ) -> Result<Arc<SparseFrame>> {
        let read = || -> Result<SparseFrame> {
            let at = parent.entry(self, i)?;
            let payload = self.frame(at.offset, at.offset + at.len)?;
            let frame = SparseFrame::parse(self, at.offset, payload, self.region(depth))?;
            if frame.count == 0 {
                return Err(self.corrupt(at.offset, "an empty sparse frame"));
            }
            if frame.key(0) != parent.key(i) {
                return Err(
                    self.corrupt(at.offset, "a frame's first key does not match its parent")
                );
            }
            Ok(frame)
        };
        let kept = self.frames.get(depth - 1).map(|level| {
            level.get_or_init(|| {
                // At most SPARSE_FRAME^depth frames at this depth, and no more
                // than the blocks the top could lead to; a crafted file that
                // claims more is read, not kept.
                let bound = SPARSE_FRAME.saturating_pow(depth as u32).min(1 << 22);
                let top = self.top.get().map_or(0, |t| t.count);
                (0..top.saturating_mul(bound / SPARSE_FRAME).min(1 << 22))
                    .map(|_| OnceLock::new())
                    .collect()
            })
        });
        let Some(slot) = kept.and_then(|k| k.get(ordinal)) else {
            return read().map(Arc::new);
        };
        if let Some(frame) = slot.get() {
            return Ok(Arc::clone(frame));
        }
        let frame = Arc::new(read()?);
        Ok(Arc::clone(slot.get_or_init(|| frame)))
    }

    /// Where the entries of a frame at `depth` must point: the frames of the
    /// level below, or, at the first level, the data blocks (sorted) or
    /// entry frames (hashed).
    fn region(&self, depth: usize) -> (u64, u64) {
        let f = &self.footer;
        if depth < usize::from(f.levels) {
            return (f.sparse_off, f.top_off);
        }
        match f.kind {
            Kind::Sorted => (FILE_HEADER_LEN as u64, f.segment_len),
            Kind::Hashed => (f.entries_off(), f.sparse_off),
        }
    }

    /// The sparse entry of the block that would hold `key`: the last block
    /// whose first key is ≤ `key`. `None` when `key` is below every key.
    pub fn locate(&self, key: &[u8]) -> Result<Option<SparseEntry>> {
        if self.footer.first_key.after(key) {
            return Ok(None);
        }
        let top = self.top()?;
        let Some(mut i) = top.find(key) else {
            return Ok(None);
        };
        let (mut frame, mut ord) = (top, 0);
        for depth in 1..=usize::from(self.footer.levels) {
            let child_ord = ord * SPARSE_FRAME + i;
            let child = self.child(&frame, i, depth, child_ord)?;
            // The parent said this frame starts at or below `key`.
            let Some(j) = child.find(key) else {
                return Err(
                    self.corrupt(child.off, "a frame's first key does not match its parent")
                );
            };
            (frame, ord, i) = (child, child_ord, j);
        }
        frame.entry(self, i).map(Some)
    }

    /// Every block in order from the one that would hold `key` (from the
    /// first when `key` is empty or below every key).
    pub fn blocks_from(self: &Arc<Self>, key: &[u8]) -> Result<BlockWalk> {
        let top = self.top()?;
        let mut walk = BlockWalk {
            index: Arc::clone(self),
            path: Vec::new(),
            from: key.to_vec(),
        };
        if top.count == 0 {
            return Ok(walk);
        }
        walk.path.push((top, 0, 0));
        let start = |f: &SparseFrame| {
            if key.is_empty() {
                0
            } else {
                f.find(key).unwrap_or(0)
            }
        };
        walk.descend(&start)?;
        // The first level: start at the block that would hold `key`.
        if let Some((frame, _, at)) = walk.path.last_mut() {
            *at = start(frame);
        }
        Ok(walk)
    }

    /// Calls `visit` with each record offset the hash table holds for keys
    /// with `key`'s hash, in probe order, until it returns `true` (hashed
    /// indexes only).
    pub fn candidates(&self, key: &[u8], mut visit: impl FnMut(u64) -> Result<bool>) -> Result<()> {
        let f = &self.footer;
        let hash = key_hash(key);
        let width = f.slot_width;
        let per = slots_per_bucket(width);
        let mut b = bucket_of(hash, f.buckets);
        for _ in 0..f.buckets {
            let at = f.table_off + b * BUCKET_LEN as u64;
            let mut bucket = [0u8; BUCKET_LEN];
            read_exact_at(&*self.file, &mut bucket, at).map_err(|e| self.read_err(e))?;
            if crc32fast::hash(&bucket[..BUCKET_LEN - 4]) != u32_at(&bucket, BUCKET_LEN - 4) {
                return Err(self.corrupt(at, "bucket CRC mismatch"));
            }
            for s in 0..per {
                let slot = &bucket[s * width..(s + 1) * width];
                let offset = if width == 8 {
                    u64::from(u32_at(slot, 4))
                } else {
                    u64_at(slot, 4)
                };
                if offset == 0 {
                    return Ok(());
                }
                if u32_at(slot, 0) == hash && visit(offset)? {
                    return Ok(());
                }
            }
            b = (b + 1) % f.buckets;
        }
        Ok(())
    }

    /// Every record offset [`candidates`](Self::candidates) visits (tests).
    #[cfg(test)]
    pub fn candidate_list(&self, key: &[u8]) -> Result<Vec<u64>> {
        let mut found = Vec::new();
        self.candidates(key, |o| {
            found.push(o);
            Ok(false)
        })?;
        Ok(found)
    }

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
        }
    }
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

    fn decode(&mut self) -> Option<Entry> {
        let body = &self.buf[..self.frame_end];
        let mut pos = self.at;
        let key_len = read_varint(body, &mut pos)?;
        if !key_len_ok(key_len) {
            return None;
        }
        let key = body.get(pos..pos + key_len as usize)?.to_vec();
        pos += key_len as usize;
        let offset = read_varint(body, &mut pos)?;
        let len_kind = read_varint(body, &mut pos)?;
        let len = u32::try_from(len_kind >> 1).ok()?;
        self.at = pos;
        Some(Entry {
            key,
            delete: len_kind & 1 == 1,
            offset,
            len,
        })
    }
}

impl Iterator for EntryCursor {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        if self.done {
            return None;
        }
        if self.at >= self.frame_end {
            match self.next_frame() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        let at_file = self.base + self.at as u64;
        match self.decode() {
            Some(e) => Some(Ok(e)),
            None => {
                self.done = true;
                Some(Err(self
                    .index
                    .corrupt(at_file, "entry cut short or impossible")))
            }
        }
    }
}
