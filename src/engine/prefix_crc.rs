//! Decoding a record at any offset of a log held in memory, with its CRC
//! checked, at a cost that does not depend on the length its header claims:
//! what lets `recover` (and the question open and check ask after damage)
//! search damage for the next intact record in time linear in the log.
//!
//! Any byte of damage may look like a record header, and a header may claim
//! up to 256 MiB. Hashing every candidate over the length it claims cost up
//! to the rest of the log per byte of damage: 64 KiB of `\x01\x01\xff\xff\x7f`
//! (a plausible header claiming 2 MiB every 5 bytes) before 3 MiB of records
//! hashed 27 GB. Instead a header must first be plausible (it decodes, its
//! lengths are within the limits, the record fits in the log), and then a
//! long record's CRC comes from CRCs of the log's prefixes:
//! `crc(a..b) = crc(0..b) ^ shift(crc(0..a), b - a)` (zlib's `crc32_combine`
//! run backwards; `shift` appends zero bytes to a CRC in O(log n)). Prefix
//! CRCs are kept every [`STRIDE`] bytes, made once, as far as asked; one at
//! any offset is the nearest kept one plus at most `STRIDE` bytes hashed.
//!
//! Invariant: every byte of the log is hashed at most once for the kept
//! prefix CRCs, and each decode hashes at most `2 * STRIDE` bytes more:
//! a search through `d` bytes of damage in a log of `n` bytes hashes at most
//! `n + 2 * STRIDE * d` bytes, whatever lengths the damage claims.

use crc32fast::Hasher;

use super::record::{self, DecodeError, Record};

/// Prefix CRCs are kept every this many bytes.
const STRIDE: usize = 256;

/// A log's bytes and the prefix CRCs computed so far.
pub(super) struct PrefixCrc<'a> {
    bytes: &'a [u8],
    /// `marks[i]` is the CRC of `bytes[..i * STRIDE]`.
    marks: Vec<u32>,
    /// Bytes hashed so far: the work done, for tests to bound.
    pub hashed: u64,
}

impl<'a> PrefixCrc<'a> {
    /// Nothing is hashed until a record is decoded.
    pub fn new(bytes: &'a [u8]) -> Self {
        PrefixCrc {
            bytes,
            marks: vec![0],
            hashed: 0,
        }
    }

    /// Decodes the record at `pos` and verifies its CRC, as
    /// [`record::decode`] does for `bytes[pos..]`.
    pub fn decode_at(&mut self, pos: usize) -> Result<(Record<'a>, usize), DecodeError> {
        let bytes = self.bytes;
        record::decode_with(bytes.get(pos..).unwrap_or_default(), |body| {
            // A short record is hashed as it is; a long one through the
            // prefix CRCs, so that what it claims costs nothing more.
            if body.len() + 4 <= 2 * STRIDE {
                self.hashed += body.len() as u64;
                crc32fast::hash(body)
            } else {
                self.range(pos + 4, pos + 4 + body.len())
            }
        })
    }

    /// The CRC of `bytes[from..to]`.
    fn range(&mut self, from: usize, to: usize) -> u32 {
        let head = self.prefix(from);
        let all = self.prefix(to);
        // crc(0..to) = shift(crc(0..from), to - from) ^ crc(from..to).
        let mut shifted = Hasher::new_with_initial_len(head, from as u64);
        shifted.combine(&Hasher::new_with_initial_len(0, (to - from) as u64));
        all ^ shifted.finalize()
    }

    /// The CRC of `bytes[..end]`.
    fn prefix(&mut self, end: usize) -> u32 {
        let i = end / STRIDE;
        while self.marks.len() <= i {
            let k = self.marks.len() - 1;
            let mut h = Hasher::new_with_initial_len(self.marks[k], (k * STRIDE) as u64);
            h.update(&self.bytes[k * STRIDE..(k + 1) * STRIDE]);
            self.hashed += STRIDE as u64;
            self.marks.push(h.finalize());
        }
        let mut h = Hasher::new_with_initial_len(self.marks[i], (i * STRIDE) as u64);
        h.update(&self.bytes[i * STRIDE..end]);
        self.hashed += (end - i * STRIDE) as u64;
        h.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::{Tag, encode};

    #[test]
    fn range_crcs_match_hashing_the_range() {
        let bytes: Vec<u8> = (0..3000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut crcs = PrefixCrc::new(&bytes);
        for (from, to) in [
            (0, 0),
            (0, 1),
            (5, 5),
            (3, 255),
            (0, 256),
            (255, 257),
            (256, 512),
            (1, 2999),
            (700, 3000),
            (2999, 3000),
        ] {
            assert_eq!(
                crcs.range(from, to),
                crc32fast::hash(&bytes[from..to]),
                "{from}..{to}"
            );
        }
    }

    #[test]
    fn decodes_as_record_decode_does() {
        let mut log = vec![9u8; 3];
        encode(&mut log, Tag::Put, b"short", b"v");
        let long_at = log.len();
        encode(&mut log, Tag::Put, b"long", &vec![b'x'; 5000]);
        let mut crcs = PrefixCrc::new(&log);
        for pos in 0..log.len() {
            let want = record::decode(&log[pos..]);
            assert_eq!(crcs.decode_at(pos), want, "at {pos}");
        }
        assert!(crcs.decode_at(long_at).is_ok());
        log[long_at + 3000] ^= 1;
        let mut crcs = PrefixCrc::new(&log);
        assert_eq!(crcs.decode_at(long_at), Err(DecodeError::CrcMismatch));
        assert!(crcs.decode_at(log.len() + 10).is_err());
    }
}
