//! Sparse frames as a crafted file can hold them: frames carry CRCs, so a
//! frame the builder would never write reaches the parser only when someone
//! crafts it, CRC and all. Each must be refused, not read, whether it is the
//! top or a frame of a level below it. And the search over a frame's first
//! keys, where they tie on the bytes it compares first.

use std::path::Path;

use super::frames::read_varint;
use super::*;
use crate::engine::record::{FORMAT_VERSION, write_varint};
use crate::engine::storage::SimStorage;

/// Length of the segment the crafted indexes describe.
const SEGMENT_LEN: u64 = 100_000;

/// A sparse frame's payload holding `entries` (first key, offset, length).
fn payload(entries: &[(Vec<u8>, u64, u64)]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut p = (entries.len() as u32).to_le_bytes().to_vec();
    for (key, offset, len) in entries {
        p.extend_from_slice(&(body.len() as u32).to_le_bytes());
        write_varint(&mut body, key.len() as u64);
        body.extend_from_slice(key);
        write_varint(&mut body, *offset);
        write_varint(&mut body, *len);
    }
    p.extend_from_slice(&body);
    p
}

/// A sorted index with no level below its top, the top's payload being
/// `top` (with a right CRC): its entries name data blocks of a segment of
/// [`SEGMENT_LEN`] bytes.
fn sorted_with_top(top: &[u8]) -> Index {
    sorted_with(&[], top, 0)
}

/// Appends a frame of `payload`: its length, the payload, a right CRC.
fn push_frame(file: &mut Vec<u8>, payload: &[u8]) {
    let start = file.len();
    file.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    file.extend_from_slice(payload);
    let crc = crc32fast::hash(&file[start..]);
    file.extend_from_slice(&crc.to_le_bytes());
}

/// A sorted index of `levels` levels below its top: the sparse frames
/// `frames` (payloads) back to back from offset 16 (the first at 16, each
/// `payload.len() + 8` bytes long), then the top `top`.
fn sorted_with(frames: &[Vec<u8>], top: &[u8], levels: u8) -> Index {
    let mut file = record::file_header_of(INDEX_MAGIC, FORMAT_VERSION).to_vec();
    for frame in frames {
        push_frame(&mut file, frame);
    }
    let top_off = file.len() as u64;
    push_frame(&mut file, top);
    let footer = Footer {
        kind: Kind::Sorted,
        levels,
        first_key: KeyBound::of(b"\x01"),
        last_key: KeyBound::of(b"\xff"),
        slot_width: 0,
        keys: 1,
        puts: 1,
        put_bytes: 1,
        table_off: 0,
        buckets: 0,
        sparse_off: FILE_HEADER_LEN as u64,
        top_off,
        segment_len: SEGMENT_LEN,
        group: None,
        base_live: 0,
        compacted_at: 0,
        expiring: false,
        block_crcs: false,
    };
    file.extend_from_slice(&footer.encode());
    let storage = SimStorage::new(1);
    storage.write_file(Path::new("/i"), &file).unwrap();
    Index::open(&storage, Path::new("/i")).unwrap().unwrap()
}

fn refused(top: &[u8], probe: &[u8]) -> bool {
    matches!(
        sorted_with_top(top).locate(probe),
        Err(Error::Corrupt { .. })
    )
}

fn block(key: &[u8], offset: u64, len: u64) -> (Vec<u8>, u64, u64) {
    (key.to_vec(), offset, len)
}

#[test]
fn varints_are_minimal_and_at_most_ten_bytes() {
    let read = |bytes: &[u8]| {
        let mut pos = 0;
        read_varint(bytes, &mut pos).map(|v| (v, pos))
    };
    for v in [0, 1, 127, 128, 300, 1 << 35, u64::MAX] {
        let mut b = vec![9];
        write_varint(&mut b, v);
        b.push(9);
        let mut pos = 1;
        assert_eq!(read_varint(&b, &mut pos), Some(v), "{v}");
        assert_eq!(pos, b.len() - 1, "{v}");
    }
    assert_eq!(read(&[0x7f]), Some((127, 1)));
    assert_eq!(read(&[0x81, 0x01]), Some((129, 2)));
    // Cut short, and not minimal (a trailing zero byte).
    assert_eq!(read(&[0x80]), None);
    assert_eq!(read(&[]), None);
    assert_eq!(read(&[0x80, 0x00]), None);
    assert_eq!(read(&[0x81, 0x80, 0x00]), None);
    // Ten bytes hold 64 bits: the tenth may only be 1.
    let mut ten = [0xffu8; 10];
    ten[9] = 0x01;
    assert_eq!(read(&ten), Some((u64::MAX, 10)));
    ten[9] = 0x02;
    assert_eq!(read(&ten), None);
    assert_eq!(read(&[0x80; 11]), None);
}

/// The top's entries name blocks of the segment (after its 16-byte
/// header), none empty; anything else is refused.
#[test]
fn a_crafted_entry_pointing_outside_its_region_is_refused() {
    let ok = [block(b"a", 16, 100), block(b"m", 116, SEGMENT_LEN - 116)];
    let idx = sorted_with_top(&payload(&ok));
    assert_eq!(idx.locate(b"b").unwrap().unwrap().offset, 16);
    assert_eq!(idx.locate(b"z").unwrap().unwrap().len, SEGMENT_LEN - 116);
    for bad in [
        block(b"m", 15, 100),
        block(b"m", 116, SEGMENT_LEN - 115),
        block(b"m", 116, 0),
        block(b"m", u64::MAX - 2, 10),
    ] {
        assert!(
            refused(&payload(&[ok[0].clone(), bad.clone()]), b"z"),
            "{bad:?}"
        );
    }
}

/// A key length of 0 or past the 64 KiB a key may have, in a frame whose
/// CRC is right, is refused where the frame is parsed and where an entry
/// is read.
#[test]
fn a_crafted_key_length_out_of_bounds_is_refused() {
    let max = MAX_KEY_LEN;
    let longest = vec![b'k'; max];
    let top = payload(&[block(b"a", 16, 100), block(&longest, 116, 100)]);
    let idx = sorted_with_top(&top);
    assert_eq!(idx.locate(&longest).unwrap().unwrap().offset, 116);
    for len in [0, max + 1] {
        let top = payload(&[block(b"a", 16, 100), block(&vec![b'k'; len], 116, 100)]);
        assert!(refused(&top, b"z"), "a key of {len} bytes");
    }
    // Reading an entry checks the length again; the parse's check comes
    // first, so that second check is tried on its own.
    let mut bytes = Vec::new();
    for len in [0usize, max + 1] {
        bytes.clear();
        write_varint(&mut bytes, len as u64);
        bytes.resize(bytes.len() + len, b'k');
        write_varint(&mut bytes, 16);
        write_varint(&mut bytes, 1);
        assert_eq!(frames::sparse_at(&bytes, &mut 0, false), None, "{len}");
    }
    bytes.clear();
    write_varint(&mut bytes, 3);
    bytes.extend_from_slice(b"abc");
    write_varint(&mut bytes, 16);
    write_varint(&mut bytes, 1);
    let mut pos = 0;
    assert_eq!(
        frames::sparse_at(&bytes, &mut pos, false),
        Some((&b"abc"[..], 16, 1, None))
    );
    assert_eq!(pos, bytes.len());
    // With the block's CRC after it: four bytes more, or cut short.
    assert_eq!(frames::sparse_at(&bytes, &mut 0, true), None);
    bytes.extend_from_slice(&0xdead_beef_u32.to_le_bytes());
    let mut pos = 0;
    assert_eq!(
        frames::sparse_at(&bytes, &mut pos, true),
        Some((&b"abc"[..], 16, 1, Some(0xdead_beef)))
    );
    assert_eq!(pos, bytes.len());
}

#[test]
fn a_crafted_frame_count_out_of_bounds_is_refused() {
    let full: Vec<_> = (0..SPARSE_FRAME as u64)
        .map(|i| block(format!("k{i:02}").as_bytes(), 16 + 10 * i, 10))
        .collect();
    let idx = sorted_with_top(&payload(&full));
    assert_eq!(idx.locate(b"k31").unwrap().unwrap().offset, 16 + 310);
    let mut over = full.clone();
    over.push(block(b"k32", 16 + 320, 10));
    assert!(refused(&payload(&over), b"k05"));
    // A count whose offsets do not fit the payload.
    let mut p = payload(&full[..2]);
    p[..4].copy_from_slice(&30u32.to_le_bytes());
    assert!(refused(&p, b"k01"));
    assert!(refused(&[0xff; 4], b"k01"));
    // An entry whose key runs past the payload.
    let mut p = payload(&full[..2]);
    p.truncate(p.len() - 4);
    assert!(refused(&p, b"k01"));
    // Or whose offset points past it.
    let mut p = payload(&full[..2]);
    let past = p.len() as u32;
    p[8..12].copy_from_slice(&past.to_le_bytes());
    assert!(refused(&p, b"k01"));
}

/// The search compares the eight bytes after the first keys' common
/// prefix first; keys that tie there are told apart by the keys themselves.
#[test]
fn a_frame_search_breaks_ties_on_the_whole_key() {
    let keys: [&[u8]; 5] = [
        b"kAAAAAAAA1",
        b"kAAAAAAAA3",
        b"kAAAAAAAA5",
        b"kAAAAAAAB",
        b"kB",
    ];
    let entries: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| block(k, 16 + 100 * i as u64, 100))
        .collect();
    let idx = sorted_with_top(&payload(&entries));
    let found = |probe: &[u8]| {
        idx.locate(probe)
            .unwrap()
            .map(|b| ((b.offset - 16) / 100) as usize)
    };
    for (probe, want) in [
        (&b"kAAAAAAAA"[..], None),
        (b"kAAAAAAAA0", None),
        (b"k", None),
        (b"kAAAAAAAA1", Some(0)),
        (b"kAAAAAAAA2", Some(0)),
        (b"kAAAAAAAA3", Some(1)),
        (b"kAAAAAAAA4", Some(1)),
        (b"kAAAAAAAA5", Some(2)),
        (b"kAAAAAAAA9", Some(2)),
        (b"kAAAAAAAAz", Some(2)),
        (b"kAAAAAAAB", Some(3)),
        (b"kAAAAAAAB0", Some(3)),
        (b"kB", Some(4)),
        (b"kC", Some(4)),
        (b"l", Some(4)),
    ] {
        assert_eq!(found(probe), want, "{}", String::from_utf8_lossy(probe));
    }
    // One entry, and first keys with nothing in common.
    let one = sorted_with_top(&payload(&[block(b"m", 16, 10)]));
    assert_eq!(one.locate(b"l").unwrap(), None);
    assert_eq!(one.locate(b"m").unwrap().unwrap().offset, 16);
    assert_eq!(one.locate(b"n").unwrap().unwrap().offset, 16);
    let apart = sorted_with_top(&payload(&[block(b"a", 16, 10), block(b"z", 26, 10)]));
    assert_eq!(apart.locate(b"b").unwrap().unwrap().offset, 16);
    assert_eq!(apart.locate(b"z").unwrap().unwrap().offset, 26);
}

/// A frame below the top is read only as far as its parent's entry says it
/// reaches: a frame whose own length runs past that (its CRC right over
/// the longer bytes) is refused.
#[test]
fn a_crafted_frame_longer_than_its_parent_says_is_refused() {
    let child = payload(&[block(b"a", 16, 100), block(b"m", 116, 100)]);
    let len = child.len() as u64 + 8;
    let at = |len: u64| {
        sorted_with(
            std::slice::from_ref(&child),
            &payload(&[block(b"a", 16, len)]),
            1,
        )
    };
    assert_eq!(at(len).locate(b"n").unwrap().unwrap().offset, 116);
    assert!(matches!(
        at(len - 1).locate(b"n"),
        Err(Error::Corrupt { .. })
    ));
}

/// The entries of a frame above the first level must name frames of the
/// sparse region, not any offset of the segment: a top whose entry names
/// the top itself (a frame that reads well, whose first key matches) is
/// refused.
#[test]
fn a_crafted_frame_outside_the_sparse_frames_is_refused() {
    // The top is at 16 (no frame before it), 20 bytes long.
    let top = payload(&[block(b"a", 16, 20)]);
    assert_eq!(top.len() + 8, 20);
    let idx = sorted_with(&[], &top, 1);
    assert!(matches!(idx.locate(b"b"), Err(Error::Corrupt { .. })));
}

/// A frame's first keys must rise strictly: a crafted top (CRC right) with
/// two equal or falling first keys is refused, not searched as if sorted
/// (the search would land on the wrong block and call a stored key absent).
#[test]
fn a_crafted_frame_with_first_keys_out_of_order_is_refused() {
    let falling = payload(&[block(b"k1", 16, 100), block(b"k0", 116, 100)]);
    assert!(refused(&falling, b"k1"));
    let equal = payload(&[block(b"k1", 16, 100), block(b"k1", 116, 100)]);
    assert!(refused(&equal, b"k1"));
    let rising = payload(&[block(b"k0", 16, 100), block(b"k1", 116, 100)]);
    assert_eq!(
        sorted_with_top(&rising)
            .locate(b"k1")
            .unwrap()
            .unwrap()
            .offset,
        116
    );
}
