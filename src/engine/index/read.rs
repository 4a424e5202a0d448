//! Reading an index's pieces, each verified by its CRC before use: frames
//! (the top kept in memory once read, the others kept as they are read),
//! and hash buckets. Nothing read from the file is trusted as a length or
//! offset before it is checked against the region it must lie in.

use std::sync::Arc;

use super::super::Result;
use super::super::record::{FILE_HEADER_LEN, u32_at, u64_at};
use super::super::storage::read_exact_at;
use super::frames::{Payload, SparseEntry, SparseFrame};
use super::{BUCKET_LEN, Held, Index, Kind, SPARSE_FRAME, bucket_of, key_hash, slots_per_bucket};

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
    pub(super) fn top(&self) -> Result<&Arc<SparseFrame>> {
        if let Some(top) = self.top.get() {
            return Ok(top);
        }
        let f = &self.footer;
        let end = self.file_len - super::FOOTER_LEN as u64;
        let payload = self.frame(f.top_off, end)?;
        if payload.len() as u64 + 8 != end - f.top_off {
            return Err(self.corrupt(f.top_off, "top frame does not end at the footer"));
        }
        let top = SparseFrame::parse(self, f.top_off, payload, self.region(0))?;
        Ok(self.top.get_or_init(|| Arc::new(top)))
    }

    /// The frame entry `i` of `parent` (at depth `depth - 1`) names: read and
    /// verified, and when `keep` is set kept once read, by its ordinal at
    /// its depth (`ordinal`: frames are built SPARSE_FRAME to a parent, so a
    /// parent's ordinal times SPARSE_FRAME plus the entry gives the
    /// child's). A long-lived handle's lookups then touch the file only for
    /// the data block; all of them together take about the index's size (a
    /// byte or two per key). A walk keeps the frames it seeks through, not
    /// those it passes on its way (a whole walk would keep them all).
    pub(super) fn child(
        &self,
        parent: &SparseFrame,
        i: usize,
        depth: usize,
        ordinal: usize,
        keep: bool,
    ) -> Result<Held<'_>> {
        let read = || -> Result<SparseFrame> {
            let (_, at, len, _) = parent.entry_ref(self, i)?;
            let payload = self.frame(at, at + len)?;
            let frame = SparseFrame::parse(self, at, payload, self.region(depth))?;
            if frame.count == 0 {
                return Err(self.corrupt(at, "an empty sparse frame"));
            }
            if frame.key(0) != parent.key(i) {
                return Err(self.corrupt(at, "a frame's first key does not match its parent"));
            }
            Ok(frame)
        };
        let top_count = self.top.get().map_or(0, |t| t.count);
        let Some(level) = self.frames.get(depth - 1) else {
            return read().map(|f| Held::Once(Arc::new(f)));
        };
        level.get_or_init(
            top_count,
            depth,
            self.footer.top_off - self.footer.sparse_off,
            ordinal,
            keep,
            read,
        )
    }

    /// Where the entries of a frame at `depth` must point: the frames of the
    /// level below, or, at the first level, the data blocks (sorted) or
    /// entry frames (hashed); and whether they give CRCs (a sorted index's
    /// data blocks, when its footer says so).
    fn region(&self, depth: usize) -> ((u64, u64), bool) {
        let f = &self.footer;
        if depth < usize::from(f.levels) {
            return ((f.sparse_off, f.top_off), false);
        }
        match f.kind {
            Kind::Sorted => ((FILE_HEADER_LEN as u64, f.segment_len), f.block_crcs),
            Kind::Hashed => ((f.entries_off(), f.sparse_off), false),
        }
    }

    /// The sparse entry of the block that would hold `key`: the last block
    /// whose first key is ≤ `key`. `None` when `key` is below every key.
    pub fn locate(&self, key: &[u8]) -> Result<Option<SparseEntry>> {
        self.locate_with(key, |first_key, offset, len, crc| {
            Ok(SparseEntry {
                first_key: first_key.to_vec(),
                offset,
                len,
                crc,
            })
        })
    }

    /// [`locate`](Self::locate) without a copy: `found` gets the block's
    /// first key, offset, length and CRC (if any), borrowed from the frame.
    pub fn locate_with<R>(
        &self,
        key: &[u8],
        found: impl FnOnce(&[u8], u64, u64, Option<u32>) -> Result<R>,
    ) -> Result<Option<R>> {
        if self.footer.first_key.after(key) {
            return Ok(None);
        }
        let top = self.top()?;
        let Some(mut i) = top.find(key) else {
            return Ok(None);
        };
        let (mut frame, mut ord) = (Held::Kept(top), 0);
        for depth in 1..=usize::from(self.footer.levels) {
            let child_ord = ord * SPARSE_FRAME + i;
            let child = self.child(&frame, i, depth, child_ord, true)?;
            // The parent said this frame starts at or below `key`.
            let Some(j) = child.find(key) else {
                return Err(
                    self.corrupt(child.off, "a frame's first key does not match its parent")
                );
            };
            (frame, ord, i) = (child, child_ord, j);
        }
        let (first_key, offset, len, crc) = frame.entry_ref(self, i)?;
        found(first_key, offset, len, crc).map(Some)
    }

    /// Where a walk of a sorted index's segment can be cut into `n` parts
    /// of about the same size: the first keys of the data blocks `j ×
    /// blocks / n` for `j` in `1..n`, by count (fewer for a segment of
    /// fewer blocks than `n`; none for a hashed index). Reads the frames
    /// down the last entries (how many blocks there are: each frame holds
    /// SPARSE_FRAME entries but the last of its level), then down to each
    /// cut; keeps none of them.
    pub fn cut_keys(&self, n: usize) -> Result<Vec<Vec<u8>>> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        if self.footer.kind != Kind::Sorted || self.top()?.count == 0 {
            return Ok(keys);
        }
        let mut blocks = 1usize;
        self.descend(|frame, under| {
            let last = frame.count - 1;
            blocks = blocks.saturating_add(last.saturating_mul(under));
            last
        })?;
        for j in 1..n {
            // In u128: no product of a count and a frame's blocks overflows.
            let cut = (j as u128 * blocks as u128 / n as u128) as usize;
            let mut target = cut.min(blocks - 1);
            if target == 0 {
                continue;
            }
            let (frame, i) = self.descend(|frame, under| {
                let i = (target / under).min(frame.count - 1);
                target -= i * under;
                i
            })?;
            if keys.last().is_none_or(|k| k.as_slice() != frame.key(i)) {
                keys.push(frame.key(i).to_vec());
            }
        }
        Ok(keys)
    }

    /// Goes from the top frame down to a first level frame, through the
    /// entry `pick` chooses in each (given the frame and how many data
    /// blocks lie under each of its entries); the frame reached and the
    /// entry it picked there. Frames are never empty (the top is checked
    /// by the caller, the others when read).
    fn descend(
        &self,
        mut pick: impl FnMut(&SparseFrame, usize) -> usize,
    ) -> Result<(Held<'_>, usize)> {
        let levels = usize::from(self.footer.levels);
        let under = |depth: usize| SPARSE_FRAME.saturating_pow((levels - depth) as u32);
        let (mut frame, mut ord) = (Held::Kept(self.top()?), 0);
        let mut i = pick(&frame, under(0));
        for depth in 1..=levels {
            let child_ord = ord * SPARSE_FRAME + i;
            frame = self.child(&frame, i, depth, child_ord, false)?;
            ord = child_ord;
            i = pick(&frame, under(depth));
        }
        Ok((frame, i))
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
}
