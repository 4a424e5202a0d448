//! The footer of an index file (its last [`FOOTER_LEN`] bytes): its
//! fields, how they are laid out, and the checks a footer must pass before
//! anything is read through its offsets; [`IndexMeta`], what a writer
//! puts in it besides what the entries give.
//!
//! Invariant: a decoded footer's offsets fit the file, in order, and its
//! layout is one of the two kinds; otherwise decoding fails with the
//! reason, and open rebuilds the index.

use super::{BUCKET_LEN, FOOTER_LEN, Kind};
use crate::engine::MAX_KEY_LEN;
use crate::engine::record::{FILE_HEADER_LEN, u32_at, u64_at};

/// Most levels of sparse frames an index may have (32^8 blocks).
const MAX_LEVELS: u8 = 8;
const FOOTER_MAGIC: [u8; 4] = *b"tkvF";

/// The last 140 bytes of an index file.
///
/// ```text
///  0 magic b"tkvF"  4 kind u8  5 slot width u8 (0, 8 or 12)  6 levels u8
///  7 flags u8 (bit 0: some put in it expires, zero in format 2; bit 1:
///    a sorted index's data blocks carry CRCs, format 4 on)
///  8 keys u64           16 put count u64       24 put bytes u64
/// 32 table offset u64   40 buckets u64         48 sparse offset u64
/// 56 top offset u64     64 segment length u64  72 group first id u64 (0: none)
/// 80 group flags u32 (bit 0: last of its group)
/// 84 compacted at, u32 Unix seconds (0: never)
/// 88 base size u64: the database's size after the compaction that wrote it
/// 96 first key: its first 16 bytes, zero-padded   112 last key: likewise
/// 128 first key's length u32   132 last key's length u32 (0: no keys)
/// 136 crc32 of bytes 0..136
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    /// The layout.
    pub kind: Kind,
    /// Levels of sparse frames below the top (0: the top names the blocks).
    pub levels: u8,
    /// The first and the last key of the segment, as far as 16 bytes tell.
    pub first_key: KeyBound,
    /// See `first_key`.
    pub last_key: KeyBound,
    /// Bytes per hash slot (hashed: 8 with u32 offsets, 12 with u64).
    pub slot_width: usize,
    /// Number of distinct keys.
    pub keys: u64,
    /// Number of keys whose newest record is a put.
    pub puts: u64,
    /// Sum of the record lengths of the puts.
    pub put_bytes: u64,
    /// Where the hash table starts (0: none).
    pub table_off: u64,
    /// Number of hash buckets.
    pub buckets: u64,
    /// Where the sparse frames start (= where the entries end).
    pub sparse_off: u64,
    /// Where the top frame starts.
    pub top_off: u64,
    /// Length of the segment file this index describes.
    pub segment_len: u64,
    /// The group this segment was written in, if any (see [`Group`]).
    pub group: Option<Group>,
    /// For the last output of a compaction: the database's size after it.
    pub base_live: u64,
    /// When the newest compaction ran, in Unix seconds.
    pub compacted_at: u64,
    /// Some put in the segment expires (so a compaction may reclaim bytes
    /// however recently the segment was written).
    pub expiring: bool,
    /// A sorted index's entries for its data blocks carry each block's CRC
    /// (see [`BlockCrcs`](super::build::BlockCrcs)).
    pub block_crcs: bool,
}

/// A key kept in 16 bytes, enough to rule most keys out: its first 16
/// bytes, zero-padded, and its length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyBound {
    /// The key's first 16 bytes, zero-padded.
    pub prefix: [u8; 16],
    /// The key's whole length (0: no key).
    pub len: u32,
}

impl KeyBound {
    /// The bound of `key`.
    pub fn of(key: &[u8]) -> KeyBound {
        let mut prefix = [0u8; 16];
        let n = key.len().min(16);
        prefix[..n].copy_from_slice(&key[..n]);
        KeyBound {
            prefix,
            len: key.len() as u32,
        }
    }

    /// The bytes kept of the key: a prefix of it, so no greater than it.
    pub fn kept(&self) -> &[u8] {
        &self.prefix[..(self.len as usize).min(16)]
    }

    /// Whether the bounded key is surely greater than `key` (for a
    /// segment's first key: `key` lies below the segment).
    pub fn after(&self, key: &[u8]) -> bool {
        // key < kept ≤ the whole key.
        self.len > 0 && key < self.kept()
    }

    /// Whether the bounded key is surely less than `key` (for a segment's
    /// last key: `key` lies past the segment).
    pub fn before(&self, key: &[u8]) -> bool {
        let kept = self.kept();
        if self.len as usize <= 16 {
            return self.len > 0 && key > kept;
        }
        // Past the 16 bytes kept, only a difference within them decides.
        let head = &key[..key.len().min(16)];
        head > kept && !kept.starts_with(head)
    }

    /// Whether the bounded key is surely greater than every key that starts
    /// with `prefix` (for a segment's first key: the segment lies past the
    /// prefix).
    pub fn past_prefix(&self, prefix: &[u8]) -> bool {
        let kept = self.kept();
        let p = &prefix[..prefix.len().min(16)];
        if self.len == 0 || kept.starts_with(p) {
            return false;
        }
        // They differ within the bytes both have, or kept is shorter (and
        // then a prefix of p: less, not past).
        kept > p && !p.starts_with(kept)
    }
}

/// Segments written together (by one compaction) that count only together:
/// the group's segments have consecutive ids from `first`, and the one with
/// `last` set ends it. A compaction group replaces every segment older than
/// `first`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    /// Id of the group's first segment.
    pub first: u64,
    /// Whether this segment is the group's last.
    pub last: bool,
}

impl Footer {
    /// Where a hashed index's entry frames start (after the table).
    pub fn entries_off(&self) -> u64 {
        self.table_off + self.buckets * BUCKET_LEN as u64
    }

    pub(super) fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut f = [0u8; FOOTER_LEN];
        f[..4].copy_from_slice(&FOOTER_MAGIC);
        f[4] = self.kind as u8;
        f[5] = self.slot_width as u8;
        f[6] = self.levels;
        f[7] = u8::from(self.expiring) | u8::from(self.block_crcs) << 1;
        let mut put = |at: usize, v: u64| f[at..at + 8].copy_from_slice(&v.to_le_bytes());
        put(8, self.keys);
        put(16, self.puts);
        put(24, self.put_bytes);
        put(32, self.table_off);
        put(40, self.buckets);
        put(48, self.sparse_off);
        put(56, self.top_off);
        put(64, self.segment_len);
        put(72, self.group.map_or(0, |g| g.first));
        put(88, self.base_live);
        let flags: u32 = self.group.map_or(0, |g| g.last as u32);
        f[80..84].copy_from_slice(&flags.to_le_bytes());
        let when = self.compacted_at.min(u64::from(u32::MAX)) as u32;
        f[84..88].copy_from_slice(&when.to_le_bytes());
        f[96..112].copy_from_slice(&self.first_key.prefix);
        f[112..128].copy_from_slice(&self.last_key.prefix);
        f[128..132].copy_from_slice(&self.first_key.len.to_le_bytes());
        f[132..136].copy_from_slice(&self.last_key.len.to_le_bytes());
        let crc = crc32fast::hash(&f[..136]);
        f[136..].copy_from_slice(&crc.to_le_bytes());
        f
    }

    pub(super) fn decode(f: &[u8], file_len: u64) -> std::result::Result<Footer, String> {
        if f.len() != FOOTER_LEN || f[..4] != FOOTER_MAGIC {
            return Err("bad footer magic".into());
        }
        if crc32fast::hash(&f[..136]) != u32_at(f, 136) {
            return Err("footer CRC mismatch".into());
        }
        let kind = match f[4] {
            1 => Kind::Sorted,
            2 => Kind::Hashed,
            _ => return Err("unknown index kind".into()),
        };
        let first = u64_at(f, 72);
        let bound = |at: usize, len_at: usize| {
            let mut prefix = [0u8; 16];
            prefix.copy_from_slice(&f[at..at + 16]);
            KeyBound {
                prefix,
                len: u32_at(f, len_at),
            }
        };
        let footer = Footer {
            kind,
            levels: f[6],
            expiring: f[7] & 1 == 1,
            block_crcs: f[7] & 2 == 2,
            first_key: bound(96, 128),
            last_key: bound(112, 132),
            slot_width: usize::from(f[5]),
            keys: u64_at(f, 8),
            puts: u64_at(f, 16),
            put_bytes: u64_at(f, 24),
            table_off: u64_at(f, 32),
            buckets: u64_at(f, 40),
            sparse_off: u64_at(f, 48),
            top_off: u64_at(f, 56),
            segment_len: u64_at(f, 64),
            group: (first != 0).then(|| Group {
                first,
                last: u32_at(f, 80) & 1 == 1,
            }),
            base_live: u64_at(f, 88),
            compacted_at: u64::from(u32_at(f, 84)),
        };
        // Every offset must fit the file, in order, before anything is read
        // through it.
        let header = FILE_HEADER_LEN as u64;
        let table_end = footer
            .buckets
            .checked_mul(BUCKET_LEN as u64)
            .and_then(|n| n.checked_add(footer.table_off));
        let layout = match kind {
            Kind::Sorted => {
                footer.slot_width == 0
                    && footer.table_off == 0
                    && footer.buckets == 0
                    && footer.sparse_off == header
            }
            Kind::Hashed => {
                let width_fits = match footer.slot_width {
                    8 => footer.segment_len <= u64::from(u32::MAX),
                    12 => true,
                    _ => false,
                };
                width_fits
                    && footer.buckets >= 1
                    && footer.table_off == BUCKET_LEN as u64
                    && table_end.is_some_and(|end| end <= footer.sparse_off)
            }
        };
        let bounds_ok = |b: KeyBound| {
            let max = MAX_KEY_LEN as u32;
            match footer.keys {
                0 => b.len == 0,
                _ => (1..=max).contains(&b.len),
            }
        };
        let ok = layout
            && f[7] & !3 == 0
            && (kind == Kind::Sorted || !footer.block_crcs)
            && footer.levels <= MAX_LEVELS
            && bounds_ok(footer.first_key)
            && bounds_ok(footer.last_key)
            && footer.puts <= footer.keys
            && footer.sparse_off <= footer.top_off
            && footer
                .top_off
                .checked_add(12 + FOOTER_LEN as u64)
                .is_some_and(|end| end <= file_len)
            && footer.segment_len >= header;
        if !ok {
            return Err("footer offsets do not fit the file".into());
        }
        Ok(footer)
    }
}

/// What to write in an index's footer besides what its entries give.
#[derive(Clone, Copy, Debug)]
pub struct IndexMeta {
    /// The group the segment belongs to.
    pub group: Option<Group>,
    /// The database's size after the compaction (its last output only).
    pub base_live: u64,
    /// When the newest compaction ran, in Unix seconds.
    pub compacted_at: u64,
    /// The format version to write the index in (the current one, but for
    /// `check`'s rebuild of an older index: see [`Builder`](super::Builder)).
    pub version: u32,
    /// For a rebuild from the log: whether a sorted index gets its data
    /// blocks' CRCs (yes, but for `check`'s rebuild of one written without
    /// them, as a sealed active log's is).
    pub block_crcs: bool,
}

impl Default for IndexMeta {
    fn default() -> IndexMeta {
        IndexMeta {
            group: None,
            base_live: 0,
            compacted_at: 0,
            version: super::super::record::FORMAT_VERSION,
            block_crcs: true,
        }
    }
}

impl IndexMeta {
    /// What `footer` says about compaction, to keep in a rebuilt index.
    pub fn of(footer: &Footer) -> IndexMeta {
        IndexMeta {
            group: footer.group,
            base_live: footer.base_live,
            compacted_at: footer.compacted_at,
            ..IndexMeta::default()
        }
    }
}
