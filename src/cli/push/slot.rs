//! A key's Redis Cluster hash slot, computed as Redis computes it
//! (`keyHashSlot` in cluster.c): CRC16/XMODEM of the key, modulo 16384;
//! when the key holds a `{` and, after it, a `}` with at least one byte
//! between them, only the bytes between the first `{` and the first `}`
//! after it are hashed (a hash tag, which keeps related keys on one node).

use crc::{CRC_16_XMODEM, Crc};

/// The number of hash slots of a Redis Cluster.
pub const SLOTS: usize = 16384;

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_XMODEM);

/// The hash slot of `key`; see the module doc.
pub fn of(key: &[u8]) -> u16 {
    (CRC16.checksum(hashed_part(key)) as usize % SLOTS) as u16
}

/// The bytes of `key` that are hashed: its hash tag, or all of it.
fn hashed_part(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    match key[open + 1..].iter().position(|&b| b == b'}') {
        Some(0) | None => key,
        Some(len) => &key[open + 1..open + 1 + len],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_test_vectors() {
        // CRC16/XMODEM's check value, as in Redis's crc16.c.
        assert_eq!(CRC16.checksum(b"123456789"), 0x31c3);
        // `CLUSTER KEYSLOT` answers from a Redis 7 server.
        for (key, slot) in [
            (&b"foo"[..], 12182),
            (b"bar", 5061),
            (b"hello", 866),
            (b"somekey", 11058),
            (b"", 0),
            (b"{user1000}.following", 3443),
            (b"{user1000}.followers", 3443),
            (b"user1000", 3443),
        ] {
            assert_eq!(of(key), slot, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn hash_tags_as_redis_reads_them() {
        assert_eq!(hashed_part(b"{user1000}.following"), b"user1000");
        // An empty tag: the whole key.
        assert_eq!(hashed_part(b"foo{}{bar}"), b"foo{}{bar}");
        // The first `}` after the first `{`.
        assert_eq!(hashed_part(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hashed_part(b"foo{bar}{zap}"), b"bar");
        // No `}` after the `{`: the whole key.
        assert_eq!(hashed_part(b"}x{y"), b"}x{y");
        assert_eq!(hashed_part(b"a{b"), b"a{b");
        assert_eq!(hashed_part(b"{\xff\x00}z"), b"\xff\x00");
    }
}
