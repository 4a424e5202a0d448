//! The tsv format: one pair a line, `KEY<TAB>VALUE\n`.
//!
//! Keys and values are escaped by [`escape_bytes`](super::escape_bytes), so
//! the only raw TAB on a line is the separator and the only raw LF ends it.
//! The reader accepts exactly what the writer produces, plus:
//! - empty lines, which are skipped (hand-written files often have them);
//! - a last line without its final `\n`;
//! - `\xHH` with uppercase hex, or for a byte that needs no escape.
//!
//! Anything else is an error naming the line: no TAB, a second TAB, an empty
//! key, a bad escape, a raw control byte (a CR from Windows line endings
//! included), or invalid UTF-8.

use std::io::{self, Write};

use super::escape::{UnescapeError, unescape, write_escaped};
use super::{Entry, MAX_KEY_LEN, MAX_VALUE_LEN, check_lengths, parse_deadline};

/// The longest line a valid dump can hold: every byte escaped as `\xHH`.
pub(super) const MAX_LINE_LEN: usize = 4 * MAX_KEY_LEN + 1 + 4 * MAX_VALUE_LEN;

/// Writes one `KEY<TAB>VALUE\n` line.
pub(super) fn write_pair<W: Write>(
    out: &mut W,
    key: &[u8],
    value: &[u8],
    expires_at: Option<u64>,
) -> io::Result<()> {
    write_escaped(out, key)?;
    out.write_all(b"\t")?;
    write_escaped(out, value)?;
    if let Some(at) = expires_at {
        write!(out, "\t{at}")?;
    }
    out.write_all(b"\n")
}

/// Parses one line (without its `\n`); the error is the reason to report.
pub(super) fn parse_line(line: &[u8]) -> Result<Entry, String> {
    if line.last() == Some(&b'\r') {
        return Err(
            "raw CR at the end of the line (Windows line endings?); a CR is written \\r".into(),
        );
    }
    let Some(tab) = line.iter().position(|&b| b == b'\t') else {
        return Err("expected a TAB between key and value".into());
    };
    let (raw_key, rest) = (&line[..tab], &line[tab + 1..]);
    // A third column, on the lines of keys that expire: Unix milliseconds.
    let (raw_value, expires_at) = match rest.iter().position(|&b| b == b'\t') {
        None => (rest, None),
        Some(t) => {
            let third = &rest[t + 1..];
            if third.contains(&b'\t') {
                return Err(
                    "more than two TABs (a TAB inside a key or value is written \\t)".into(),
                );
            }
            let at = parse_deadline(third).map_err(|e| format!("third column: {e}"))?;
            (&rest[..t], Some(at))
        }
    };
    let field_error = |field: &str, first_col: usize, e: UnescapeError| {
        format!("{field}, column {}: {e}", first_col + e.offset())
    };
    let key = unescape(raw_key).map_err(|e| field_error("key", 1, e))?;
    let value = unescape(raw_value).map_err(|e| field_error("value", tab + 2, e))?;
    check_lengths(&key, &value)?;
    Ok(Entry {
        key,
        value,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Format, Position};
    use super::*;
    use proptest::prelude::*;

    const TSV: Format = Format::Tsv;

    #[test]
    fn plain_text_is_plain() {
        let pairs = vec![
            (b"user:1".to_vec(), b"Ada Lovelace".to_vec()),
            ("café".into(), "naïve 😀".into()),
        ];
        assert_eq!(
            dump(TSV, &pairs),
            "user:1\tAda Lovelace\ncafé\tnaïve 😀\n".as_bytes()
        );
    }

    #[test]
    fn nasty_bytes_are_escaped_one_pair_a_line() {
        let out = dump(TSV, &[(b"a\tb\\".to_vec(), b"x\ny\r\0\xff".to_vec())]);
        assert_eq!(out, b"a\\tb\\\\\tx\\ny\\r\\x00\\xff\n");
        let out = dump(TSV, &nasty_pairs());
        let lines = out.split(|&b| b == b'\n').filter(|l| !l.is_empty());
        for line in lines {
            assert_eq!(line.iter().filter(|&&b| b == b'\t').count(), 1);
            assert!(!line.iter().any(|&b| b < 0x20 && b != b'\t'));
        }
    }

    #[test]
    fn blank_lines_and_missing_final_newline_are_accepted() {
        let pairs = load(TSV, b"\na\t1\n\n\nb\t\\x32").expect("valid");
        assert_eq!(
            pairs,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        assert_eq!(load(TSV, b"").expect("valid"), vec![]);
    }

    #[test]
    fn errors_name_the_line() {
        let cases: [(&[u8], u64, &str); 12] = [
            (
                b"a\t1\nno tab here\n",
                2,
                "expected a TAB between key and value",
            ),
            (
                b"a\t1\tx\n",
                1,
                "third column: the expiry `x` is not a Unix time",
            ),
            (b"a\t1\t5\tx\n", 1, "more than two TABs"),
            (b"a\t1\t\n", 1, "the expiry `` is not"),
            (
                b"ok\t1\n\nbad\\q\t1\n",
                3,
                "key, column 4: unknown escape `\\q`",
            ),
            (
                b"k\tv\\x4\n",
                1,
                "value, column 4: `\\x` must be followed by two hex digits",
            ),
            (b"k\t\\xZZ\n", 1, "value, column 3: `\\x`"),
            (b"k\tv\\", 1, "lone backslash"),
            (b"\tv\n", 1, "empty key"),
            (b"k\tv\r\n", 1, "Windows line endings"),
            (b"k\tnul\0\n", 1, "raw control character '\\0'"),
            (
                b"a\t1\n\x89PNG\xff\xfe\t\x00\n",
                2,
                "key, column 1: invalid UTF-8",
            ),
        ];
        for (input, line, reason) in cases {
            assert_error(TSV, input, Position::Line(line), reason);
        }
    }

    #[test]
    fn oversized_key_is_an_error() {
        let mut input = vec![b'k'; MAX_KEY_LEN + 1];
        input.extend_from_slice(b"\tv\n");
        assert_error(TSV, &input, Position::Line(1), "over the 65536-byte limit");
    }

    proptest! {
        #[test]
        fn round_trips(pairs in pairs()) {
            prop_assert_eq!(load(TSV, &dump(TSV, &pairs)).expect("own output"), pairs);
        }

        #[test]
        fn never_panics(input in bytes(300)) {
            let _ = load(TSV, &input);
        }
    }
}
