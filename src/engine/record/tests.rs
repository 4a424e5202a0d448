//! Tests of `record`.

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
    // A value length of 2^28 + 1 and a key length of 64 KiB + 1, encoded
    // by hand in front of tiny payloads.
    let head = |key_len: u64, value_len: u64| {
        let mut b = vec![0, 0, 0, 0, Tag::Put as u8];
        write_varint(&mut b, key_len);
        write_varint(&mut b, value_len);
        b.extend_from_slice(b"kv");
        b
    };
    let bytes = head(1, MAX_VALUE_LEN as u64 + 1);
    assert!(matches!(decode(&bytes), Err(DecodeError::BadLength(_))));
    let bytes = head(MAX_KEY_LEN as u64 + 1, 1);
    assert!(matches!(decode(&bytes), Err(DecodeError::BadLength(_))));
    // Varints that run on, or are padded, are refused too.
    let mut run_on = vec![0, 0, 0, 0, 1, 0x81, 0x80, 0x80, 0x80];
    run_on.extend_from_slice(&[0; 8]);
    assert!(matches!(decode(&run_on), Err(DecodeError::BadLength(_))));
    let padded = [0, 0, 0, 0, 1, 0x81, 0x00, 0x01, b'k', b'v'];
    assert!(matches!(decode(&padded), Err(DecodeError::BadLength(_))));
}

#[test]
fn varints_round_trip_at_every_width() {
    for v in [
        0u64,
        1,
        127,
        128,
        16_383,
        16_384,
        65_536,
        2_097_151,
        1 << 28,
        u64::MAX,
    ] {
        let mut b = Vec::new();
        write_varint(&mut b, v);
        assert_eq!(b.len(), varint_len(v), "{v}");
        let mut pos = 0;
        assert_eq!(read_varint(&b, &mut pos, 10), Ok(v));
        assert_eq!(pos, b.len());
    }
    let bytes = one(Tag::Put, &[b'k'; 16], &[b'v'; 100]);
    assert_eq!(bytes.len(), 16 + 100 + 7);
    assert_eq!(bytes.len(), encoded_len(16, 100));
    let big = one(Tag::Put, &[b'k'; 300], &[b'v'; 70_000]);
    assert_eq!(big.len(), encoded_len(300, 70_000));
    assert_eq!(decode_header(&big).unwrap().header_len, 5 + 2 + 3);
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
    assert_eq!(check_file_header(&h, LOG_MAGIC), Ok(FORMAT_VERSION));
    assert_eq!(
        check_file_header(&file_header_of(LOG_MAGIC, 2), LOG_MAGIC),
        Ok(2),
        "format 2 is still read"
    );
    assert!(matches!(
        check_file_header(&h, INDEX_MAGIC),
        Err(HeaderError::Damaged(_))
    ));
    assert!(matches!(
        check_file_header(&h[..10], LOG_MAGIC),
        Err(HeaderError::Damaged(_))
    ));
    for version in [1, FORMAT_VERSION + 1] {
        let mut other = h;
        other[4..8].copy_from_slice(&version.to_le_bytes());
        let crc = crc32fast::hash(&other[..12]);
        other[12..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            check_file_header(&other, LOG_MAGIC),
            Err(HeaderError::Version(version))
        );
    }
    let mut flipped = h;
    flipped[9] ^= 1;
    assert!(matches!(
        check_file_header(&flipped, LOG_MAGIC),
        Err(HeaderError::Damaged(_))
    ));
}

/// The limits are inclusive on the way back in too: a key of exactly
/// 64 KiB and a declared value of exactly 256 MiB decode (the writer
/// accepts both), one byte more does not.
#[test]
fn lengths_at_the_limits_decode() {
    let key = vec![b'k'; MAX_KEY_LEN];
    let bytes = one(Tag::Put, &key, b"v");
    let (rec, len) = decode(&bytes).unwrap();
    assert_eq!((rec.key.len(), len), (MAX_KEY_LEN, bytes.len()));
    let mut head = vec![0, 0, 0, 0, Tag::Put as u8];
    write_varint(&mut head, 1);
    write_varint(&mut head, MAX_VALUE_LEN as u64);
    let h = decode_header(&head).unwrap();
    assert_eq!((h.key_len, h.value_len), (1, MAX_VALUE_LEN));
    assert_eq!(h.total_len(), head.len() + 1 + MAX_VALUE_LEN);
    // The whole record is not there: short, not a bad length.
    assert_eq!(
        decode(&head),
        Err(DecodeError::Short {
            needed: h.total_len()
        })
    );
}

/// However a record is cut, a short read says how many bytes it needs,
/// always more than it had: a reader that asks for that many makes
/// progress. Here through every byte of a header with a 3-byte and a
/// 4-byte varint.
#[test]
fn a_short_read_needs_more_than_it_had() {
    let bytes = one(Tag::Put, &[b'k'; 20_000], &vec![b'v'; 1 << 21]);
    assert_eq!(decode_header(&bytes).unwrap().header_len, 5 + 3 + 4);
    for cut in 0..=MAX_HEADER_LEN {
        match decode(&bytes[..cut]) {
            Err(DecodeError::Short { needed }) => {
                assert!(needed > cut && needed >= MIN_RECORD_LEN, "{cut}: {needed}")
            }
            other => panic!("{cut}: {other:?}"),
        }
    }
    // Once the header is whole, the whole record's length.
    let cut = MAX_HEADER_LEN + 1;
    let needed = bytes.len();
    assert_eq!(decode(&bytes[..cut]), Err(DecodeError::Short { needed }));
    // The tag is judged as soon as it is there.
    assert_eq!(decode(&[0, 0, 0, 0, 9]), Err(DecodeError::BadTag(9)));
}

#[test]
fn a_batch_commit_holds_no_key_and_a_4_byte_count() {
    for (key, value) in [(&b"k"[..], &7u32.to_le_bytes()[..]), (b"", &[7, 0, 0])] {
        let bytes = one(Tag::BatchCommit, key, value);
        assert!(
            matches!(decode(&bytes), Err(DecodeError::BadLength(_))),
            "{key:?} {value:?}"
        );
    }
}

/// What each error says: it ends up in `check`'s and open's reports.
#[test]
fn decode_errors_say_what_is_wrong() {
    let say = |e: DecodeError| e.to_string();
    assert_eq!(
        say(DecodeError::Short { needed: 9 }),
        "record cut short (needs 9 bytes)"
    );
    assert_eq!(say(DecodeError::BadTag(9)), "unknown record tag 9");
    assert_eq!(
        say(DecodeError::BadLength("key of 70000 bytes".into())),
        "impossible length: key of 70000 bytes"
    );
    assert_eq!(say(DecodeError::CrcMismatch), "record CRC mismatch");
}

/// The short header's path (a byte each for the key's and the value's
/// lengths, no expiry) decodes every header it takes as the general path
/// does, and leaves every other to it: every tag byte with every pair of
/// length bytes, complete and cut short.
#[test]
fn short_headers_decode_as_any_header_does() {
    let mut taken = 0;
    for tag in (0u8..=8).chain(0x80..=0x88) {
        for key_len in 0..=255u8 {
            for value_len in 0..=255u8 {
                let mut buf = vec![9, 8, 7, 6, tag, key_len, value_len, 1, 1, 1, 1, 1, 1];
                buf.resize(MAX_HEADER_LEN, 0);
                for len in [7, MAX_HEADER_LEN] {
                    let b = &buf[..len];
                    let general = decode_any_header(b);
                    assert_eq!(decode_header(b), general, "{b:?}");
                    taken += usize::from(general.is_ok_and(|h| h.header_len == 7));
                }
            }
        }
    }
    assert!(taken > 60_000, "{taken} headers of 7 bytes compared");
}
