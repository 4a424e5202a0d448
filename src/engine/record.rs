//! Log records and file headers: encoding, decoding and their CRCs.
//!
//! Every file of a database starts with a 16-byte [`FileHeader`]:
//!
//! ```text
//! offset size field
//!      0    4 magic      b"tkvL" (log: wal.log, seg-*.log) or b"tkvI" (index)
//!      4    4 version    u32 LE, currently 1
//!      8    4 reserved   zero
//!     12    4 crc32      of bytes 0..12
//! ```
//!
//! A log file is that header followed by records, each:
//!
//! ```text
//! offset size field
//!      0    4 crc32      u32 LE, crc32fast of bytes 4..13+key_len+value_len
//!      4    1 tag        see [`Tag`]
//!      5    4 key_len    u32 LE, 0..=64 KiB (0 only for BatchCommit)
//!      9    4 value_len  u32 LE, 0..=256 MiB
//!     13    -  key, then value
//! ```
//!
//! Decoding checks every length against the limits before it allocates or
//! slices, and a tag goes through `TryFrom<u8>`: no input can make it panic
//! or allocate more than a record's legal size.

use crate::engine::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// Size of the fixed part of a record.
pub const RECORD_HEADER_LEN: usize = 13;
/// Size of a file header.
pub const FILE_HEADER_LEN: usize = 16;
/// The on-disk format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// Magic of log files (the active log and sealed segments).
pub const LOG_MAGIC: [u8; 4] = *b"tkvL";
/// Magic of index files.
pub const INDEX_MAGIC: [u8; 4] = *b"tkvI";

/// What a record means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// `key` now maps to `value`.
    Put = 1,
    /// `key` is deleted (a tombstone; the value is empty).
    Delete = 2,
    /// A put that belongs to the open batch; it counts only once the batch commits.
    BatchPut = 3,
    /// A delete that belongs to the open batch.
    BatchDelete = 4,
    /// Ends a batch; the value is the number of records in it, u32 LE.
    BatchCommit = 5,
}

impl TryFrom<u8> for Tag {
    type Error = u8;

    fn try_from(byte: u8) -> Result<Self, u8> {
        Ok(match byte {
            1 => Tag::Put,
            2 => Tag::Delete,
            3 => Tag::BatchPut,
            4 => Tag::BatchDelete,
            5 => Tag::BatchCommit,
            other => return Err(other),
        })
    }
}

impl Tag {
    /// Whether this record removes its key.
    pub fn is_delete(self) -> bool {
        matches!(self, Tag::Delete | Tag::BatchDelete)
    }
}

/// Why bytes are not a valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the header or the lengths it declares.
    Short {
        /// Bytes the record needs in all.
        needed: usize,
    },
    /// The tag byte is not a known [`Tag`].
    BadTag(u8),
    /// A length is beyond the format's limits.
    BadLength(String),
    /// The stored CRC does not match the bytes.
    CrcMismatch,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Short { needed } => write!(f, "record cut short (needs {needed} bytes)"),
            DecodeError::BadTag(t) => write!(f, "unknown record tag {t}"),
            DecodeError::BadLength(why) => write!(f, "impossible length: {why}"),
            DecodeError::CrcMismatch => write!(f, "record CRC mismatch"),
        }
    }
}

/// The fixed part of a record, decoded and checked against the limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// The CRC stored in the record.
    pub crc: u32,
    /// The record's tag.
    pub tag: Tag,
    /// Length of the key.
    pub key_len: usize,
    /// Length of the value.
    pub value_len: usize,
}

impl RecordHeader {
    /// Total length of the record, header included.
    pub fn total_len(&self) -> usize {
        RECORD_HEADER_LEN + self.key_len + self.value_len
    }
}

/// Decodes and checks the fixed part of a record; needs at least 13 bytes.
pub fn decode_header(buf: &[u8]) -> Result<RecordHeader, DecodeError> {
    let Some(head) = buf.get(..RECORD_HEADER_LEN) else {
        return Err(DecodeError::Short {
            needed: RECORD_HEADER_LEN,
        });
    };
    let crc = u32_at(head, 0);
    let tag = Tag::try_from(head[4]).map_err(DecodeError::BadTag)?;
    let key_len = u32_at(head, 5) as usize;
    let value_len = u32_at(head, 9) as usize;
    if key_len > MAX_KEY_LEN {
        return Err(DecodeError::BadLength(format!("key of {key_len} bytes")));
    }
    if value_len > MAX_VALUE_LEN {
        return Err(DecodeError::BadLength(format!(
            "value of {value_len} bytes"
        )));
    }
    match tag {
        Tag::BatchCommit if key_len != 0 || value_len != 4 => {
            return Err(DecodeError::BadLength(
                "batch commit with a key or a bad count".into(),
            ));
        }
        Tag::Delete | Tag::BatchDelete if value_len != 0 => {
            return Err(DecodeError::BadLength("tombstone with a value".into()));
        }
        Tag::Put | Tag::Delete | Tag::BatchPut | Tag::BatchDelete if key_len == 0 => {
            return Err(DecodeError::BadLength("empty key".into()));
        }
        _ => {}
    }
    Ok(RecordHeader {
        crc,
        tag,
        key_len,
        value_len,
    })
}

/// A whole record, borrowed from the buffer it was decoded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record's tag.
    pub tag: Tag,
    /// The key (empty for a batch commit).
    pub key: &'a [u8],
    /// The value (empty for a tombstone; the count for a batch commit).
    pub value: &'a [u8],
}

impl Record<'_> {
    /// For a batch commit, the number of records the batch holds.
    pub fn commit_count(&self) -> Option<u32> {
        (self.tag == Tag::BatchCommit).then(|| u32_at(self.value, 0))
    }
}

/// Decodes one record from the start of `buf` and verifies its CRC.
/// Returns the record and its total length.
pub fn decode(buf: &[u8]) -> Result<(Record<'_>, usize), DecodeError> {
    let header = decode_header(buf)?;
    let total = header.total_len();
    let Some(whole) = buf.get(..total) else {
        return Err(DecodeError::Short { needed: total });
    };
    if crc32fast::hash(&whole[4..]) != header.crc {
        return Err(DecodeError::CrcMismatch);
    }
    let key_end = RECORD_HEADER_LEN + header.key_len;
    Ok((
        Record {
            tag: header.tag,
            key: &whole[RECORD_HEADER_LEN..key_end],
            value: &whole[key_end..],
        },
        total,
    ))
}

/// Appends the encoding of a record to `out`. The caller has checked the
/// lengths against the limits.
pub fn encode(out: &mut Vec<u8>, tag: Tag, key: &[u8], value: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(tag as u8);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let crc = crc32fast::hash(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Appends a batch-commit record for a batch of `count` records.
pub fn encode_commit(out: &mut Vec<u8>, count: u32) {
    encode(out, Tag::BatchCommit, &[], &count.to_le_bytes());
}

/// The 16-byte header every database file starts with.
pub fn file_header(magic: [u8; 4]) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..4].copy_from_slice(&magic);
    h[4..8].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = crc32fast::hash(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a file header was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Shorter than a header, wrong magic or bad CRC.
    Damaged(&'static str),
    /// A well-formed header of another format version.
    Version(u32),
}

/// Checks a file header against the expected magic.
pub fn check_file_header(buf: &[u8], magic: [u8; 4]) -> Result<(), HeaderError> {
    let Some(h) = buf.get(..FILE_HEADER_LEN) else {
        return Err(HeaderError::Damaged("file shorter than its header"));
    };
    if h[..4] != magic {
        return Err(HeaderError::Damaged("bad magic number"));
    }
    if crc32fast::hash(&h[..12]) != u32_at(h, 12) {
        return Err(HeaderError::Damaged("header CRC mismatch"));
    }
    let version = u32_at(h, 4);
    if version != FORMAT_VERSION {
        return Err(HeaderError::Version(version));
    }
    Ok(())
}

/// Reads a little-endian u32 at `at`; the caller guarantees the bounds.
pub fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Reads a little-endian u64 at `at`; the caller guarantees the bounds.
pub fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(tag: Tag, key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, tag, key, value);
        out
    }

    #[test]
    fn round_trip() {
        let bytes = one(Tag::Put, b"k\0\xff", b"value\n");
        let (rec, len) = decode(&bytes).unwrap();
        assert_eq!(len, bytes.len());
        assert_eq!(rec.tag, Tag::Put);
        assert_eq!(rec.key, b"k\0\xff");
        assert_eq!(rec.value, b"value\n");
    }

    #[test]
    fn commit_round_trip() {
        let mut out = Vec::new();
        encode_commit(&mut out, 7);
        let (rec, _) = decode(&out).unwrap();
        assert_eq!(rec.commit_count(), Some(7));
    }

    #[test]
    fn bad_tag_is_rejected() {
        let mut bytes = one(Tag::Put, b"k", b"v");
        bytes[4] = 9;
        assert_eq!(decode(&bytes), Err(DecodeError::BadTag(9)));
    }

    #[test]
    fn short_input_at_every_length() {
        let bytes = one(Tag::Put, b"key", b"value");
        for cut in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..cut]), Err(DecodeError::Short { .. })),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn crc_mismatch_on_any_flipped_bit() {
        let bytes = one(Tag::Put, b"key", b"value");
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(decode(&b).is_err(), "bit {i} flipped went unnoticed");
        }
    }

    #[test]
    fn huge_lengths_are_rejected_before_allocation() {
        let mut bytes = one(Tag::Put, b"k", b"v");
        bytes[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&bytes), Err(DecodeError::BadLength(_))));
        let mut bytes = one(Tag::Put, b"k", b"v");
        bytes[5..9].copy_from_slice(&(MAX_KEY_LEN as u32 + 1).to_le_bytes());
        assert!(matches!(decode(&bytes), Err(DecodeError::BadLength(_))));
    }

    #[test]
    fn tombstone_with_value_and_empty_key_are_rejected() {
        let bytes = one(Tag::Delete, b"k", b"v");
        assert!(matches!(decode(&bytes), Err(DecodeError::BadLength(_))));
        let bytes = one(Tag::Put, b"", b"v");
        assert!(matches!(decode(&bytes), Err(DecodeError::BadLength(_))));
    }

    #[test]
    fn file_header_checks() {
        let h = file_header(LOG_MAGIC);
        assert_eq!(check_file_header(&h, LOG_MAGIC), Ok(()));
        assert!(matches!(
            check_file_header(&h, INDEX_MAGIC),
            Err(HeaderError::Damaged(_))
        ));
        assert!(matches!(
            check_file_header(&h[..10], LOG_MAGIC),
            Err(HeaderError::Damaged(_))
        ));
        let mut future = h;
        future[4..8].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32fast::hash(&future[..12]);
        future[12..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            check_file_header(&future, LOG_MAGIC),
            Err(HeaderError::Version(2))
        );
        let mut flipped = h;
        flipped[9] ^= 1;
        assert!(matches!(
            check_file_header(&flipped, LOG_MAGIC),
            Err(HeaderError::Damaged(_))
        ));
    }
}
