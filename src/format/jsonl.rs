//! The jsonl format: one JSON object a line, `{"key":"…","value":"…"}`,
//! with `"expires_at":MS` (Unix milliseconds) for a key that expires.
//!
//! A key or value that is not valid UTF-8 is written instead as
//! `"key_base64"` / `"value_base64"` (standard alphabet, with padding). All
//! JSON goes through serde_json, never hand-written escaping, so `jq` reads it.
//! The reader wants exactly one of `key`/`key_base64` and one of
//! `value`/`value_base64` per object, refuses unknown fields, and skips
//! blank (whitespace-only) lines.

use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::{Entry, MAX_KEY_LEN, MAX_VALUE_LEN, check_lengths};

/// The longest line a valid dump can hold: JSON writes a control byte as
/// `\u00XX`, six bytes for one, plus the field names and punctuation.
pub(super) const MAX_LINE_LEN: usize = 6 * (MAX_KEY_LEN + MAX_VALUE_LEN) + 1024;

#[derive(Serialize)]
struct OutRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InRecord {
    key: Option<String>,
    key_base64: Option<String>,
    value: Option<String>,
    value_base64: Option<String>,
    expires_at: Option<u64>,
}

/// Text when `bytes` is UTF-8, else base64.
fn split(bytes: &[u8]) -> (Option<&str>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text), None),
        Err(_) => (None, Some(BASE64.encode(bytes))),
    }
}

/// Writes one JSON object and a `\n`.
pub(super) fn write_pair<W: Write>(
    out: &mut W,
    key: &[u8],
    value: &[u8],
    expires_at: Option<u64>,
) -> io::Result<()> {
    let (key, key_base64) = split(key);
    let (value, value_base64) = split(value);
    let record = OutRecord {
        key,
        key_base64,
        value,
        value_base64,
        expires_at,
    };
    serde_json::to_writer(&mut *out, &record)?;
    out.write_all(b"\n")
}

/// Picks the one field present out of a text/base64 pair.
fn join(name: &str, text: Option<String>, base64: Option<String>) -> Result<Vec<u8>, String> {
    match (text, base64) {
        (Some(text), None) => Ok(text.into_bytes()),
        (None, Some(b64)) => BASE64
            .decode(b64)
            .map_err(|e| format!("`{name}_base64` is not valid base64 ({e})")),
        (Some(_), Some(_)) => Err(format!("both `{name}` and `{name}_base64` are present")),
        (None, None) => Err(format!("missing `{name}` (or `{name}_base64`)")),
    }
}

/// Parses one line (without its `\n`); the error is the reason to report.
pub(super) fn parse_line(line: &[u8]) -> Result<Entry, String> {
    // serde would also take a JSON array for a struct; only objects are valid.
    if line.trim_ascii_start().first() != Some(&b'{') {
        return Err("expected a JSON object `{\"key\":…,\"value\":…}`".into());
    }
    let record: InRecord = serde_json::from_slice(line).map_err(|e| {
        let msg = e.to_string();
        // serde_json ends its message with "at line 1 column N"; our line
        // number is the one that matters, so keep only the column.
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let msg = msg.strip_suffix(&suffix).unwrap_or(&msg);
        format!("invalid JSON at column {}: {msg}", e.column())
    })?;
    let key = join("key", record.key, record.key_base64)?;
    let value = join("value", record.value, record.value_base64)?;
    check_lengths(&key, &value)?;
    Ok(Entry {
        key,
        value,
        expires_at: record.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Format, Position};
    use super::*;
    use proptest::prelude::*;

    const JSONL: Format = Format::Jsonl;

    #[test]
    fn text_is_json_text_and_binary_is_base64() {
        let pairs = vec![
            ("café\t\"q\"".into(), "😀\n".into()),
            (b"bin\xff".to_vec(), b"\x00ok".to_vec()),
        ];
        let out = String::from_utf8(dump(JSONL, &pairs)).expect("jsonl is UTF-8");
        assert_eq!(
            out,
            "{\"key\":\"café\\t\\\"q\\\"\",\"value\":\"😀\\n\"}\n\
             {\"key_base64\":\"Ymlu/w==\",\"value\":\"\\u0000ok\"}\n"
        );
        assert_eq!(load(JSONL, out.as_bytes()).expect("valid"), pairs);
    }

    #[test]
    fn blank_lines_and_crlf_are_accepted() {
        let input = b"\n  \r\n{\"value\":\"v\",\"key_base64\":\"aw==\"}\r\n\n";
        assert_eq!(
            load(JSONL, input).expect("valid"),
            vec![(b"k".to_vec(), b"v".to_vec())]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let cases: [(&[u8], u64, &str); 10] = [
            (
                b"{\"key\":\"a\",\"value\":\"1\"}\n{\"key\":\"b\",\"val",
                2,
                "invalid JSON",
            ),
            (b"\n\n{\"key\":\"a\"}\n", 3, "missing `value`"),
            (b"{\"value\":\"a\"}\n", 1, "missing `key`"),
            (
                b"{\"key\":\"a\",\"key_base64\":\"YQ==\",\"value\":\"\"}",
                1,
                "both `key`",
            ),
            (
                b"{\"key\":\"a\",\"value\":\"\",\"ttl\":5}",
                1,
                "unknown field `ttl`",
            ),
            (
                b"{\"key\":\"a\",\"value_base64\":\"!!\"}",
                1,
                "not valid base64",
            ),
            (b"{\"key\":\"\",\"value\":\"\"}", 1, "empty key"),
            (b"[\"a\",null,\"b\",null]", 1, "expected a JSON object"),
            (b"\x89PNG\r\n\x1a\n\x00\x00", 1, "expected a JSON object"),
            (b"{\"key\":\"a\",\"value\":1}", 1, "invalid JSON at column"),
        ];
        for (input, line, reason) in cases {
            assert_error(JSONL, input, Position::Line(line), reason);
        }
    }

    #[test]
    fn serde_position_suffix_is_dropped() {
        let err = parse_line(b"{\"key\":}").unwrap_err();
        assert!(!err.contains("line 1"), "{err}");
    }

    proptest! {
        #[test]
        fn round_trips(pairs in pairs()) {
            prop_assert_eq!(load(JSONL, &dump(JSONL, &pairs)).expect("own output"), pairs);
        }

        #[test]
        fn never_panics(input in bytes(300)) {
            let _ = load(JSONL, &input);
        }
    }
}
