//! Sparse frames (and the top, laid out alike): parsing a verified payload,
//! its entries and the search over their first keys. Every length and
//! offset in a frame is checked against the frame and its region before
//! it is used.

use std::cmp::Ordering;

use super::super::Result;
use super::super::record::u32_at;
use super::super::short_keys::{self, padded_word};
use super::{Index, SPARSE_FRAME, key_len_ok};

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
    /// The CRC of the block's bytes, for a data block of a sorted index
    /// that gives them.
    pub crc: Option<u32>,
}

/// A sparse entry borrowed from its frame: first key, offset, length and
/// the block's CRC, if it has one.
pub(super) type SparseRef<'a> = (&'a [u8], u64, u64, Option<u32>);

/// Decodes a sparse entry at `*pos`, with a CRC after it when `crc`.
pub(super) fn sparse_at<'a>(buf: &'a [u8], pos: &mut usize, crc: bool) -> Option<SparseRef<'a>> {
    let key_len = read_varint(buf, pos)?;
    if !key_len_ok(key_len) {
        return None;
    }
    let key = buf.get(*pos..*pos + key_len as usize)?;
    *pos += key_len as usize;
    let offset = read_varint(buf, pos)?;
    let len = read_varint(buf, pos)?;
    let crc = match crc {
        true => {
            let b = buf.get(*pos..*pos + 4)?;
            *pos += 4;
            Some(u32_at(b, 0))
        }
        false => None,
    };
    Some((key, offset, len, crc))
}

/// An entry frame's or sparse frame's payload, verified.
pub(super) type Payload = Vec<u8>;

/// A sparse frame (or the top frame, laid out alike), verified, with the
/// region its entries must point into.
#[derive(Debug)]
pub(super) struct SparseFrame {
    pub(super) off: u64,
    payload: Payload,
    body_at: usize,
    pub(super) count: usize,
    region: (u64, u64),
    /// The entries name data blocks and give their CRCs.
    crcs: bool,
    /// Each entry's first key, as a range of `payload` (the first `count`).
    /// This and `prefixes` lie in the frame itself, not behind pointers
    /// of their own: a lookup goes down a frame of each level, and each
    /// pointer followed can be a memory miss (benches/scan: warm gets
    /// 5–10% faster than with a `Vec` each).
    keys: [(u32, u32); SPARSE_FRAME],
    /// How many leading bytes every first key of the frame shares (they are
    /// sorted: the first's and the last's), and for each key the eight
    /// bytes after those, big-endian and zero-padded: a search compares
    /// these in one dense array and looks at a key itself only on a tie.
    common: usize,
    prefixes: [u64; SPARSE_FRAME],
}

impl SparseFrame {
    /// Parses a verified payload: `count u32 | count × u32 offsets | entries`
    /// (each entry with its block's CRC when `crcs`).
    pub(super) fn parse(
        index: &Index,
        off: u64,
        payload: Payload,
        (region, crcs): ((u64, u64), bool),
    ) -> Result<SparseFrame> {
        let count = (payload.len() >= 4).then(|| u32_at(&payload, 0) as usize);
        let body_at = count.and_then(|c| {
            c.checked_mul(4)
                .and_then(|n| n.checked_add(4))
                .filter(|&b| b <= payload.len())
        });
        let (Some(count), Some(body_at)) = (count, body_at) else {
            return Err(index.corrupt(off, "frame count impossible"));
        };
        // Frames are built SPARSE_FRAME entries at most: more would also
        // break the ordinals that kept frames are found by.
        if count > SPARSE_FRAME {
            return Err(index.corrupt(off, "a frame with more entries than the format allows"));
        }
        let mut keys = [(0, 0); SPARSE_FRAME];
        for (j, k) in keys.iter_mut().enumerate().take(count) {
            let mut pos = body_at + u32_at(&payload, 4 + 4 * j) as usize;
            let key_len = read_varint(&payload, &mut pos).filter(|&l| key_len_ok(l));
            match key_len {
                Some(l) if pos + l as usize <= payload.len() => *k = (pos as u32, l as u32),
                _ => return Err(index.corrupt(off, "sparse entry cut short or impossible")),
            }
        }
        let key = |j: usize| {
            let (at, len) = keys[j];
            &payload[at as usize..(at + len) as usize]
        };
        // The search takes the first keys as sorted: a frame whose keys are
        // not (crafted, CRC and all) would send a lookup to the wrong block
        // and answer that a key is absent.
        if (1..count).any(|j| key(j - 1) >= key(j)) {
            return Err(index.corrupt(off, "a frame's first keys are not in order"));
        }
        let common = match count {
            0 => 0,
            n => {
                let (a, b) = (key(0), key(n - 1));
                a.iter().zip(b).take_while(|(x, y)| x == y).count()
            }
        };
        let mut prefixes = [0; SPARSE_FRAME];
        for (j, p) in prefixes.iter_mut().enumerate().take(count) {
            *p = padded_word(key(j), common);
        }
        Ok(SparseFrame {
            off,
            payload,
            body_at,
            count,
            region,
            crcs,
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
    pub(super) fn key(&self, j: usize) -> &[u8] {
        debug_assert!(j < self.count, "entry {j} of {}", self.count);
        let (at, len) = self.keys[j];
        &self.payload[at as usize..(at + len) as usize]
    }

    /// The last entry whose first key is ≤ `key`, by binary search.
    pub(super) fn find(&self, key: &[u8]) -> Option<usize> {
        // Below the first key is the common miss (a lookup probing a newer
        // segment that covers higher keys): one comparison.
        if self.count == 0 || short_keys::cmp(key, self.key(0)).is_lt() {
            return None;
        }
        let shared = &self.key(0)[..self.common];
        match key.get(..self.common).unwrap_or(key).cmp(shared) {
            // Past every key of the frame.
            Ordering::Greater => return Some(self.count - 1),
            // (Less is ruled out above: key ≥ the first key.)
            Ordering::Less | Ordering::Equal => {}
        }
        let want = padded_word(key, self.common);
        let n = self.prefixes[..self.count].partition_point(|&p| match p.cmp(&want) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => true,
        });
        // `n` entries have a prefix ≤ the key's; among those that tie, the
        // keys themselves decide.
        let mut i = n;
        while i > 0 && self.prefixes[i - 1] == want && short_keys::cmp(self.key(i - 1), key).is_gt()
        {
            i -= 1;
        }
        i.checked_sub(1)
    }

    /// Entry `j` borrowed, checked against the region.
    pub(super) fn entry_ref(&self, index: &Index, j: usize) -> Result<SparseRef<'_>> {
        let mut pos = self.body_at + u32_at(&self.payload, 4 + 4 * j) as usize;
        let Some((k, offset, len, crc)) = sparse_at(&self.payload, &mut pos, self.crcs) else {
            return Err(index.corrupt(self.off, "sparse entry cut short or impossible"));
        };
        let fits =
            offset >= self.region.0 && offset.checked_add(len).is_some_and(|e| e <= self.region.1);
        if !fits || len == 0 {
            return Err(index.corrupt(self.off, "sparse entry points outside its region"));
        }
        Ok((k, offset, len, crc))
    }
}
