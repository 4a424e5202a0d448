//! Tests of `rdb`.

use super::super::testutil::nasty_pairs;
use super::super::{Format, Reader, Writer};
use super::*;

fn dump(entries: &[Entry]) -> Vec<u8> {
    let mut w = Writer::new(Format::Rdb, Vec::new());
    for e in entries {
        w.write_entry(&e.key, &e.value, e.expires_at).unwrap();
    }
    w.finish().unwrap()
}

fn read(bytes: &[u8]) -> Result<Vec<Entry>, ParseError> {
    Reader::new(Format::Rdb, bytes).collect()
}

#[test]
fn every_pair_round_trips_with_its_expiry() {
    let mut entries: Vec<Entry> = nasty_pairs()
        .into_iter()
        .map(|(k, v)| Entry::new(k, v))
        .collect();
    entries[1].expires_at = Some(1_900_000_000_123);
    // Lengths on each side of every length encoding's bounds.
    for n in [63, 64, 16383, 16384, 70_000] {
        entries.push(Entry::new(format!("len {n}").into_bytes(), vec![b'x'; n]));
    }
    let bytes = dump(&entries);
    assert!(bytes.starts_with(b"REDIS0009\xfe\x00"));
    assert_eq!(read(&bytes).unwrap(), entries);
    assert_eq!(read(&dump(&[])).unwrap(), vec![]);
}

#[test]
fn a_damaged_or_cut_file_is_refused() {
    let bytes = dump(&[Entry::new(b"k".to_vec(), b"value".to_vec())]);
    for cut in 0..bytes.len() {
        assert!(read(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    for at in 9..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        assert!(read(&bad).is_err(), "flipped at {at}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(read(&longer).is_err());
    // A CRC of 0: written with rdbchecksum off, taken as it is.
    let mut unchecked = bytes.clone();
    let n = unchecked.len();
    unchecked[n - 8..].fill(0);
    assert_eq!(read(&unchecked).unwrap().len(), 1);
}

/// Bytes as redis-server 7.0 writes them (`SET n 12345`, `SET i -7`,
/// a 100-byte run it compresses with LZF, `SET e x PXAT …`, `SADD s a`),
/// built here by hand with the encodings Redis uses.
fn redis_like(with_set: bool) -> Vec<u8> {
    let mut b = b"REDIS0010".to_vec();
    b.extend([OP_AUX, 9]);
    b.extend(b"redis-ver");
    b.extend([6]);
    b.extend(b"7.0.15");
    b.extend([OP_AUX, 5]);
    b.extend(b"ctime");
    b.extend([0xC2]);
    b.extend(1_700_000_000i32.to_le_bytes());
    b.extend([OP_SELECTDB, 0, OP_RESIZEDB, 4, 1]);
    b.extend([TYPE_STRING, 1, b'n', 0xC1]);
    b.extend(12345i16.to_le_bytes());
    b.extend([TYPE_STRING, 1, b'i', 0xC0, (-7i8) as u8]);
    // 100 × 'a': a literal 'a', then copies of distance 1.
    b.extend([TYPE_STRING, 1, b'r', 0xC3, 5, 0x40, 100]);
    b.extend([0, b'a', 0xE0, 99 - 7 - 2, 0]);
    b.extend([OP_FREQ, 5, OP_EXPIRETIME_MS]);
    b.extend(1_900_000_000_000u64.to_le_bytes());
    b.extend([TYPE_STRING, 1, b'e', 1, b'x']);
    if with_set {
        b.extend([2, 1, b's', 1, 1, b'a']);
    }
    b.push(OP_EOF);
    let crc = CRC64.checksum(&b);
    b.extend(crc.to_le_bytes());
    b
}

#[test]
fn redis_encodings_are_read() {
    let entries = read(&redis_like(false)).unwrap();
    let want = vec![
        Entry::new(b"n".to_vec(), b"12345".to_vec()),
        Entry::new(b"i".to_vec(), b"-7".to_vec()),
        Entry::new(b"r".to_vec(), vec![b'a'; 100]),
        Entry {
            key: b"e".to_vec(),
            value: b"x".to_vec(),
            expires_at: Some(1_900_000_000_000),
        },
    ];
    assert_eq!(entries, want);
}

#[test]
fn another_type_is_refused_by_key_and_type() {
    let err = read(&redis_like(true)).unwrap_err().to_string();
    assert!(err.contains("the key `s` is a set"), "{err}");
    assert!(err.starts_with("byte "), "{err}");
}

#[test]
fn lying_lengths_allocate_nothing_and_fail() {
    // A value that claims 2^62 bytes, and an LZF string that claims
    // more than the limit.
    let mut b = b"REDIS0009\xfe\x00\x00\x01k\x81".to_vec();
    b.extend((1u64 << 62).to_be_bytes());
    let err = read(&b).unwrap_err().to_string();
    assert!(err.contains("over the"), "{err}");
    let mut b = b"REDIS0009\xfe\x00\x00\x01k\xc3\x01\x81".to_vec();
    b.extend((u64::MAX).to_be_bytes());
    assert!(read(&b).unwrap_err().to_string().contains("over the"));
    // A value that claims 200 MiB, under the limit, and holds 3 bytes.
    let mut b = b"REDIS0009\xfe\x00\x00\x01k\x80".to_vec();
    b.extend((200u32 << 20).to_be_bytes());
    b.extend(b"abc");
    let err = read(&b).unwrap_err().to_string();
    assert!(err.contains("ends in the middle"), "{err}");
    for bad in [&[0x01, b'a'][..], &[0x20, 0x00], &[0x00, b'a', 0x20, 0x05]] {
        assert!(lzf_decompress(bad, 10).is_err(), "{bad:?}");
    }
    assert_eq!(
        lzf_decompress(&[0x00, b'a', 0x20, 0x00], 4).unwrap(),
        b"aaaa"
    );
}
