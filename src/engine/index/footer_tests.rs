//! The footer, one field at a time: what it writes reads back, and a footer
//! whose CRC is right but whose fields do not fit the file or each other is
//! refused (so open rebuilds the index instead of reading through it).

use super::*;

/// A footer that fits a file of [`FILE_LEN`] bytes (`kind`'s layout, two
/// keys, one a put), and the decoding of such a footer, re-encoded.
const FILE_LEN: u64 = 1000;

fn fitting(kind: Kind) -> Footer {
    let (slot_width, table_off, buckets, sparse_off) = match kind {
        Kind::Sorted => (0, 0, 0, FILE_HEADER_LEN as u64),
        Kind::Hashed => (8, BUCKET_LEN as u64, 2, 400),
    };
    Footer {
        kind,
        levels: 1,
        first_key: KeyBound::of(b"a"),
        last_key: KeyBound::of(b"b"),
        slot_width,
        keys: 2,
        puts: 1,
        put_bytes: 30,
        table_off,
        buckets,
        sparse_off,
        // The top frame's 12 bytes and the footer end the file.
        top_off: FILE_LEN - 12 - FOOTER_LEN as u64,
        segment_len: 100,
        group: None,
        base_live: 0,
        compacted_at: 0,
        expiring: false,
        block_crcs: false,
    }
}

fn decoded(f: &Footer) -> std::result::Result<Footer, String> {
    Footer::decode(&f.encode(), FILE_LEN)
}

/// `bytes` with its CRC made right again.
fn resealed(mut bytes: [u8; FOOTER_LEN]) -> [u8; FOOTER_LEN] {
    let crc = crc32fast::hash(&bytes[..136]);
    bytes[136..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn every_field_reads_back() {
    for kind in [Kind::Sorted, Kind::Hashed] {
        let base = fitting(kind);
        assert_eq!(decoded(&base), Ok(base), "{kind:?}");
        for (group, expiring) in [
            (None, true),
            (
                Some(Group {
                    first: 7,
                    last: false,
                }),
                false,
            ),
            (
                Some(Group {
                    first: 7,
                    last: true,
                }),
                true,
            ),
        ] {
            let f = Footer {
                group,
                expiring,
                base_live: 1 << 40,
                compacted_at: 1_700_000_000,
                ..base
            };
            assert_eq!(decoded(&f), Ok(f), "{kind:?}");
        }
        // A time past what u32 seconds hold is kept as the largest.
        let late = Footer {
            compacted_at: 1 << 33,
            ..base
        };
        assert_eq!(decoded(&late).unwrap().compacted_at, u64::from(u32::MAX));
        assert_eq!(IndexMeta::of(&late).compacted_at, 1 << 33);
    }
}

#[test]
fn what_a_rebuild_keeps_of_a_footer() {
    let f = Footer {
        group: Some(Group {
            first: 9,
            last: true,
        }),
        base_live: 4321,
        compacted_at: 1_600_000_000,
        ..fitting(Kind::Hashed)
    };
    let meta = IndexMeta::of(&f);
    assert_eq!(
        (meta.group, meta.base_live, meta.compacted_at, meta.version),
        (f.group, 4321, 1_600_000_000, IndexMeta::default().version)
    );
}

#[test]
fn magic_kind_and_flags_are_checked() {
    let good = fitting(Kind::Sorted).encode();
    let mut bad_magic = good;
    bad_magic[0] = b'x';
    assert!(Footer::decode(&resealed(bad_magic), FILE_LEN).is_err());
    for kind in [0, 3, 255] {
        let mut b = good;
        b[4] = kind;
        assert!(
            Footer::decode(&resealed(b), FILE_LEN).is_err(),
            "kind {kind}"
        );
    }
    // Flags other than bits 0 and 1 are not defined.
    for flags in [4, 5, 0x80] {
        let mut b = good;
        b[7] = flags;
        assert!(
            Footer::decode(&resealed(b), FILE_LEN).is_err(),
            "flags {flags}"
        );
    }
    // Group flags other than bit 0 are not read.
    let grouped = Footer {
        group: Some(Group {
            first: 3,
            last: false,
        }),
        ..fitting(Kind::Sorted)
    };
    let mut b = grouped.encode();
    b[80] = 2;
    assert_eq!(Footer::decode(&resealed(b), FILE_LEN), Ok(grouped));
}

#[test]
fn each_kind_has_its_own_layout() {
    let sorted = fitting(Kind::Sorted);
    for f in [
        Footer {
            slot_width: 8,
            ..sorted
        },
        Footer {
            table_off: BUCKET_LEN as u64,
            ..sorted
        },
        Footer {
            buckets: 1,
            ..sorted
        },
        Footer {
            sparse_off: 17,
            ..sorted
        },
    ] {
        assert!(decoded(&f).is_err(), "{f:?}");
    }
    let hashed = fitting(Kind::Hashed);
    // The table ends exactly where the entries start, or before.
    let flush = Footer {
        sparse_off: BUCKET_LEN as u64 * 3,
        ..hashed
    };
    assert_eq!(decoded(&flush), Ok(flush));
    for f in [
        Footer {
            slot_width: 0,
            ..hashed
        },
        Footer {
            slot_width: 10,
            ..hashed
        },
        Footer {
            buckets: 0,
            ..hashed
        },
        Footer {
            table_off: 0,
            ..hashed
        },
        Footer {
            table_off: BUCKET_LEN as u64 * 2,
            ..hashed
        },
        Footer {
            sparse_off: BUCKET_LEN as u64 * 3 - 1,
            ..hashed
        },
        Footer {
            buckets: u64::MAX / 8,
            ..hashed
        },
    ] {
        assert!(decoded(&f).is_err(), "{f:?}");
    }
    // Narrow slots hold u32 offsets: only for a segment that u32 reaches.
    let at_limit = Footer {
        segment_len: u64::from(u32::MAX),
        ..hashed
    };
    assert_eq!(decoded(&at_limit), Ok(at_limit));
    let past = Footer {
        segment_len: u64::from(u32::MAX) + 1,
        ..hashed
    };
    assert!(decoded(&past).is_err());
    let wide = Footer {
        slot_width: 12,
        ..past
    };
    assert_eq!(decoded(&wide), Ok(wide));
}

#[test]
fn counts_levels_and_key_bounds_are_checked() {
    for kind in [Kind::Sorted, Kind::Hashed] {
        let base = fitting(kind);
        let max = MAX_KEY_LEN as u32;
        let long = KeyBound {
            len: max,
            ..base.last_key
        };
        let fit = [
            Footer { levels: 8, ..base },
            Footer { puts: 2, ..base },
            Footer {
                last_key: long,
                ..base
            },
            Footer {
                keys: 0,
                puts: 0,
                first_key: KeyBound::default(),
                last_key: KeyBound::default(),
                ..base
            },
        ];
        for f in fit {
            assert_eq!(decoded(&f), Ok(f), "{kind:?} {f:?}");
        }
        let too_long = KeyBound {
            len: max + 1,
            ..long
        };
        let unfit = [
            Footer { levels: 9, ..base },
            Footer { puts: 3, ..base },
            Footer {
                first_key: too_long,
                ..base
            },
            Footer {
                last_key: too_long,
                ..base
            },
            Footer {
                first_key: KeyBound::default(),
                ..base
            },
            Footer {
                last_key: KeyBound::default(),
                ..base
            },
            // No keys, but a key range.
            Footer {
                keys: 0,
                puts: 0,
                last_key: KeyBound::default(),
                ..base
            },
            Footer {
                keys: 0,
                puts: 0,
                first_key: KeyBound::default(),
                ..base
            },
        ];
        for f in unfit {
            assert!(decoded(&f).is_err(), "{kind:?} {f:?}");
        }
    }
}

#[test]
fn offsets_must_fit_the_file_in_order() {
    for kind in [Kind::Sorted, Kind::Hashed] {
        let base = fitting(kind);
        // The file must hold the top frame (12 bytes at least) and the footer.
        assert_eq!(Footer::decode(&base.encode(), FILE_LEN + 1), Ok(base));
        assert!(Footer::decode(&base.encode(), FILE_LEN - 1).is_err());
        let top_at_start = Footer {
            top_off: base.sparse_off,
            ..base
        };
        assert_eq!(decoded(&top_at_start), Ok(top_at_start));
        for f in [
            Footer {
                top_off: base.sparse_off - 1,
                ..base
            },
            Footer {
                top_off: u64::MAX - 20,
                ..base
            },
            Footer {
                segment_len: FILE_HEADER_LEN as u64 - 1,
                ..base
            },
        ] {
            assert!(decoded(&f).is_err(), "{kind:?} {f:?}");
        }
        let empty_segment = Footer {
            segment_len: FILE_HEADER_LEN as u64,
            ..base
        };
        assert_eq!(decoded(&empty_segment), Ok(empty_segment));
    }
    // Only a whole footer is read.
    let b = fitting(Kind::Sorted).encode();
    assert!(Footer::decode(&b[..FOOTER_LEN - 1], FILE_LEN).is_err());
}

#[test]
fn where_a_hashed_index_entries_start() {
    let f = Footer {
        buckets: 5,
        ..fitting(Kind::Hashed)
    };
    assert_eq!(f.entries_off(), 64 + 5 * 64);
}

/// A key bound of exactly 16 bytes keeps the whole key: a key past it is
/// surely past, and the key itself is not.
#[test]
fn a_key_bound_of_16_bytes_is_the_whole_key() {
    let key = b"0123456789abcdef";
    let b = KeyBound::of(key);
    assert!(b.before(b"0123456789abcdef\0"));
    assert!(!b.before(key) && !b.after(key));
    assert!(b.after(b"0123456789abcde"));
    assert!(!KeyBound::of(b"m").after(b"m"));
}

/// A key bound longer than 16 bytes is surely before a key only when the
/// key's first 16 bytes are greater: a key below its 16 bytes is not past it.
#[test]
fn a_long_key_bound_is_not_before_a_smaller_key() {
    let b = KeyBound::of(b"user:0000000000000042:profile");
    assert!(!b.before(b"a") && !b.before(b"user:0000000000"));
    assert!(!b.before(b"user:00000000000000"));
    assert!(b.before(b"user:00000000001") && b.before(b"v"));
}

#[test]
fn blocks_crcs_flag_reads_back_on_a_sorted_index_only() {
    let sorted = Footer {
        block_crcs: true,
        ..fitting(Kind::Sorted)
    };
    assert_eq!(decoded(&sorted), Ok(sorted));
    // A hashed index names entry frames, which carry their own CRCs.
    let hashed = Footer {
        block_crcs: true,
        ..fitting(Kind::Hashed)
    };
    assert!(decoded(&hashed).is_err());
}
