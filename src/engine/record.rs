//! Log records and file headers: encoding, decoding and their CRCs.
//!
//! Every file of a database starts with a 16-byte file header:
//!
//! ```text
//! offset size field
//!      0    4 magic      b"tkvL" (log: wal.log, seg-*.log) or b"tkvI" (index)
//!      4    4 version    u32 LE, currently 4
//!      8    4 reserved   zero
//!     12    4 crc32      of bytes 0..12
//! ```
//!
//! A log file is that header followed by records, each:
//!
//! ```text
//! size   field
//!    4   crc32      u32 LE, crc32fast of every byte after it, to the record's end
//!    1   tag        see [`Tag`]; bit 7 set (format 3): the record expires
//!  1-3   key_len    varint, 0..=64 KiB (0 only for BatchCommit)
//!  1-5   value_len  varint, 0..=256 MiB
//! 1-10   expires_at varint, only when bit 7 of the tag is set: the Unix
//!                   time in milliseconds from which the key is absent
//!    -   key, then value
//! ```
//!
//! Only a put (`Put`, `BatchPut`) may carry the expiry bit. Format 3 adds
//! it; a file of format 2 has none, and this build reads both.
//!
//! A varint is LEB128: seven bits a byte, least significant first, the top
//! bit set on every byte but the last, and never longer than needed. A
//! 16-byte key with a 100-byte value costs 7 bytes of header.
//!
//! Decoding checks every length against the limits before it allocates or
//! slices, and a tag goes through `TryFrom<u8>`: no input can make it panic
//! or allocate more than a record's legal size.

use crate::engine::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// The longest a record header can be (CRC, tag, the two length varints
/// and an expiry varint).
pub const MAX_HEADER_LEN: usize = 23;
/// The shortest a record can be.
pub const MIN_RECORD_LEN: usize = 7;
/// Size of a file header.
pub const FILE_HEADER_LEN: usize = 16;
/// The on-disk format version this build writes (4: a sorted index may
/// give its data blocks' CRCs; logs are as in 3).
pub const FORMAT_VERSION: u32 = 4;
/// The oldest format version this build reads (2: no expiring records,
/// and an index entry has no room for an expiry; 3: no blocks' CRCs).
pub const OLDEST_READABLE: u32 = 2;
/// The bit of a record's tag byte that says it carries an expiry.
const EXPIRES: u8 = 0x80;
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
    /// Length of the header itself (where the key starts).
    pub header_len: usize,
    /// When the key expires (Unix milliseconds), for a put that does.
    pub expires_at: Option<u64>,
}

impl RecordHeader {
    /// Total length of the record, header included.
    pub fn total_len(&self) -> usize {
        self.header_len + self.key_len + self.value_len
    }
}

/// Reads a minimal LEB128 varint of at most `max_bytes` bytes at `*pos`,
/// advancing `*pos`. `Err(None)`: the buffer ends inside it; `Err(Some)`:
/// it is too long or not minimal.
fn read_varint(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Result<u64, Option<&'static str>> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let Some(&b) = buf.get(*pos + i) else {
            return Err(None);
        };
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(Some("a length varint is not minimal"));
            }
            *pos += i + 1;
            return Ok(value);
        }
    }
    Err(Some("a length varint is too long"))
}

/// Appends `v` as a minimal LEB128 varint.
pub fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes [`write_varint`] takes for `v`.
#[cfg(test)]
pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Decodes and checks a record's header from the start of `buf`, which
/// needs to hold the whole header (at most [`MAX_HEADER_LEN`] bytes).
#[inline]
pub fn decode_header(buf: &[u8]) -> Result<RecordHeader, DecodeError> {
    // The common record, decoded at once: a put or a delete that does not
    // expire, with a key and a value under 128 bytes (a byte each). What
    // this takes, the general path below decodes the same.
    if let [c0, c1, c2, c3, tag, key_len, value_len, ..] = *buf
        && (1..0x80).contains(&key_len)
        && value_len < 0x80
    {
        let tag = match tag {
            1 => Some(Tag::Put),
            2 if value_len == 0 => Some(Tag::Delete),
            3 => Some(Tag::BatchPut),
            4 if value_len == 0 => Some(Tag::BatchDelete),
            _ => None,
        };
        if let Some(tag) = tag {
            return Ok(RecordHeader {
                crc: u32::from_le_bytes([c0, c1, c2, c3]),
                tag,
                key_len: usize::from(key_len),
                value_len: usize::from(value_len),
                header_len: 7,
                expires_at: None,
            });
        }
    }
    decode_any_header(buf)
}

/// [`decode_header`] of any record.
fn decode_any_header(buf: &[u8]) -> Result<RecordHeader, DecodeError> {
    let short = |at: usize| DecodeError::Short {
        needed: (at + 1).max(MIN_RECORD_LEN),
    };
    if buf.len() < 5 {
        return Err(short(buf.len()));
    }
    let crc = u32_at(buf, 0);
    let expiring = buf[4] & EXPIRES != 0;
    let tag = Tag::try_from(buf[4] & !EXPIRES).map_err(|_| DecodeError::BadTag(buf[4]))?;
    if expiring && !matches!(tag, Tag::Put | Tag::BatchPut) {
        return Err(DecodeError::BadTag(buf[4]));
    }
    let mut pos = 5;
    let bad = |why: &str| DecodeError::BadLength(why.to_owned());
    let key_len = read_varint(buf, &mut pos, 3).map_err(|e| e.map_or(short(buf.len()), bad))?;
    let value_len = read_varint(buf, &mut pos, 5).map_err(|e| e.map_or(short(buf.len()), bad))?;
    let expires_at = if expiring {
        Some(read_varint(buf, &mut pos, 10).map_err(|e| e.map_or(short(buf.len()), bad))?)
    } else {
        None
    };
    let (key_len, value_len) = (key_len as usize, value_len as usize);
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
        header_len: pos,
        expires_at,
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
    /// When the key expires (Unix milliseconds), for a put that does.
    pub expires_at: Option<u64>,
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
    decode_with(buf, crc32fast::hash)
}

/// [`decode`], with the CRC of the record's bytes after its CRC field
/// computed by `crc_of`, once the header has decoded and the record fits in
/// `buf`: for a caller that knows it without hashing them all
/// (prefix_crc.rs, searching damage).
pub fn decode_with(
    buf: &[u8],
    crc_of: impl FnOnce(&[u8]) -> u32,
) -> Result<(Record<'_>, usize), DecodeError> {
    let header = decode_header(buf)?;
    let total = header.total_len();
    let Some(whole) = buf.get(..total) else {
        return Err(DecodeError::Short { needed: total });
    };
    if crc_of(&whole[4..]) != header.crc {
        return Err(DecodeError::CrcMismatch);
    }
    let key_end = header.header_len + header.key_len;
    Ok((
        Record {
            tag: header.tag,
            key: &whole[header.header_len..key_end],
            value: &whole[key_end..],
            expires_at: header.expires_at,
        },
        total,
    ))
}

/// Bytes [`encode`] appends for this key and value.
#[cfg(test)]
pub fn encoded_len(key_len: usize, value_len: usize) -> usize {
    5 + varint_len(key_len as u64) + varint_len(value_len as u64) + key_len + value_len
}

/// Appends the encoding of a record to `out`. The caller has checked the
/// lengths against the limits.
pub fn encode(out: &mut Vec<u8>, tag: Tag, key: &[u8], value: &[u8]) {
    encode_expiring(out, tag, key, value, None);
}

/// [`encode`], for a put that expires at `expires_at` (Unix milliseconds)
/// when it is `Some` (only a put may: the caller makes sure).
pub fn encode_expiring(
    out: &mut Vec<u8>,
    tag: Tag,
    key: &[u8],
    value: &[u8],
    expires_at: Option<u64>,
) {
    encode_head(out, tag, key, value, expires_at);
    out.extend_from_slice(value);
}

/// [`encode_expiring`] without the value: the header and the key, the CRC
/// already covering `value`, which the caller writes right after (a large
/// value goes to the file from where it is, never copied).
pub fn encode_head(out: &mut Vec<u8>, tag: Tag, key: &[u8], value: &[u8], expires_at: Option<u64>) {
    debug_assert!(expires_at.is_none() || matches!(tag, Tag::Put | Tag::BatchPut));
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(tag as u8 | if expires_at.is_some() { EXPIRES } else { 0 });
    write_varint(out, key.len() as u64);
    write_varint(out, value.len() as u64);
    if let Some(at) = expires_at {
        write_varint(out, at);
    }
    out.extend_from_slice(key);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[start + 4..]);
    crc.update(value);
    out[start..start + 4].copy_from_slice(&crc.finalize().to_le_bytes());
}

/// Appends a batch-commit record for a batch of `count` records.
pub fn encode_commit(out: &mut Vec<u8>, count: u32) {
    encode(out, Tag::BatchCommit, &[], &count.to_le_bytes());
}

/// The 16-byte header every database file starts with.
pub fn file_header(magic: [u8; 4]) -> [u8; FILE_HEADER_LEN] {
    file_header_of(magic, FORMAT_VERSION)
}

/// [`file_header`] of format `version`.
pub fn file_header_of(magic: [u8; 4], version: u32) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..4].copy_from_slice(&magic);
    h[4..8].copy_from_slice(&version.to_le_bytes());
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

/// Checks a file header against the expected magic; its format version.
pub fn check_file_header(buf: &[u8], magic: [u8; 4]) -> Result<u32, HeaderError> {
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
    if !(OLDEST_READABLE..=FORMAT_VERSION).contains(&version) {
        return Err(HeaderError::Version(version));
    }
    Ok(version)
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
mod tests;
