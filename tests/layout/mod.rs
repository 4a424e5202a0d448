//! The on-disk layout as docs/format.md describes it, parsed independently
//! of the engine's code, for tests that damage files at chosen places: the
//! records of a log and the pieces of a segment index.
#![allow(dead_code)] // each test file uses a different part

/// One record of a log.
#[derive(Clone, Debug)]
pub struct Rec {
    /// Where it starts and its total length.
    pub offset: usize,
    pub len: usize,
    pub tag: u8,
    /// Where its key lies in the file.
    pub key: std::ops::Range<usize>,
}

/// A LEB128 varint at `*pos`.
pub fn varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for i in 0..10 {
        let byte = b[*pos + i];
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *pos += i + 1;
            return v;
        }
    }
    panic!("varint too long at {pos}");
}

/// Every record of an undamaged log file.
pub fn records(bytes: &[u8]) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut pos = 16;
    while pos < bytes.len() {
        let mut at = pos + 5;
        let k = varint(bytes, &mut at) as usize;
        let v = varint(bytes, &mut at) as usize;
        let len = at - pos + k + v;
        out.push(Rec {
            offset: pos,
            len,
            tag: bytes[pos + 4],
            key: at..at + k,
        });
        pos += len;
    }
    assert_eq!(pos, bytes.len(), "an undamaged log ends after a record");
    out
}

/// Size of an index footer.
pub const FOOTER: usize = 140;
/// Size of a hash bucket.
pub const BUCKET: usize = 64;

/// What an index footer says.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// 1 sorted, 2 hashed.
    pub kind: u8,
    pub slot_width: usize,
    pub table_off: usize,
    pub buckets: usize,
    pub sparse_off: usize,
    pub top_off: usize,
    /// Where the footer starts.
    pub footer: usize,
}

pub fn layout(idx: &[u8]) -> Layout {
    let f = idx.len() - FOOTER;
    let at = |o: usize| u64::from_le_bytes(idx[f + o..f + o + 8].try_into().unwrap()) as usize;
    Layout {
        kind: idx[f + 4],
        slot_width: idx[f + 5] as usize,
        table_off: at(32),
        buckets: at(40),
        sparse_off: at(48),
        top_off: at(56),
        footer: f,
    }
}

/// The footer's compaction group (its first id; 0 for none).
pub fn group_first(idx: &[u8]) -> u64 {
    let f = idx.len() - FOOTER;
    u64::from_le_bytes(idx[f + 72..f + 80].try_into().unwrap())
}

/// Byte offsets of every occupied slot of a hashed index.
pub fn occupied_slots(idx: &[u8], l: &Layout) -> Vec<usize> {
    let per = (BUCKET - 4) / l.slot_width.max(1);
    let mut out = Vec::new();
    for b in 0..l.buckets {
        for s in 0..per {
            let at = l.table_off + b * BUCKET + s * l.slot_width;
            if idx[at + 4..at + l.slot_width].iter().any(|&x| x != 0) {
                out.push(at);
            }
        }
    }
    out
}

/// (offset of the block-offset varint, its length) of the first sparse
/// entry of the first sparse frame.
pub fn first_sparse_offset_field(idx: &[u8], l: &Layout) -> (usize, usize) {
    let frame = l.sparse_off;
    let count = u32::from_le_bytes(idx[frame + 4..frame + 8].try_into().unwrap()) as usize;
    let mut pos = frame + 8 + 4 * count;
    let k = varint(idx, &mut pos) as usize;
    pos += k;
    let start = pos;
    varint(idx, &mut pos);
    (start, pos - start)
}
