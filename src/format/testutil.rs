//! Helpers shared by the formats' unit tests.
use super::*;
use proptest::prelude::*;

/// Keys and values that break naive escaping.
pub fn nasty_pairs() -> Vec<Pair> {
    let nasty: Vec<&[u8]> = vec![
        b"a\tb",
        b"line\nbreak",
        b"cr\rlf\r\n",
        b"back\\slash\\",
        b"nul\0byte",
        b"\\x41 literally \\n",
        b"\xff\xfe invalid \xc3",
        "emoji \u{1f600} é".as_bytes(),
        "c1 \u{85} del \x7f".as_bytes(),
        b"\"quotes\" {json}",
        b"*3\r\n$3\r\nSET\r\n",
        b" ",
    ];
    let mut pairs: Vec<Pair> = nasty
        .iter()
        .zip(nasty.iter().rev())
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    pairs.push((b"empty value".to_vec(), Vec::new()));
    pairs.push((vec![b'\t'; MAX_KEY_LEN], vec![0xff; 100_000]));
    pairs
}

/// Writes `pairs` in `format`.
pub fn dump(format: Format, pairs: &[Pair]) -> Vec<u8> {
    let mut w = Writer::new(format, Vec::new());
    for (k, v) in pairs {
        w.write_pair(k, v).expect("write to a Vec");
    }
    w.finish().expect("flush to a Vec")
}

/// Reads all of `input` in `format`, stopping at the first error.
pub fn load(format: Format, input: &[u8]) -> Result<Vec<Pair>, ParseError> {
    Reader::new(format, input)
        .map(|e| e.map(Entry::into_pair))
        .collect()
}

/// Asserts that reading `input` fails at `at` with a reason containing `needle`.
pub fn assert_error(format: Format, input: &[u8], at: Position, needle: &str) {
    match load(format, input) {
        Ok(pairs) => panic!("expected an error at {at}, read {pairs:?}"),
        Err(ParseError::Invalid { at: got, reason }) => {
            assert_eq!(got, at, "reason: {reason}");
            assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
        }
        Err(e) => panic!("expected an error at {at}, got {e:?}"),
    }
}

/// Arbitrary bytes, half of them valid UTF-8 text.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..max),
        ".{0,20}".prop_map(String::into_bytes),
    ]
}

/// Arbitrary pair lists with non-empty keys.
pub fn pairs() -> impl Strategy<Value = Vec<Pair>> {
    let key = bytes(40).prop_filter("non-empty key", |k| !k.is_empty());
    proptest::collection::vec((key, bytes(80)), 0..12)
}
