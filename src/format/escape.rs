//! Backslash escaping of arbitrary bytes as printable UTF-8 text.
//!
//! Used by the tsv format and by `tinykv keys`, so both print a key the same
//! way. The escaped form is canonical: `\\`, `\t`, `\n`, `\r`, and `\xHH`
//! (lowercase hex) for every other control character (C0, DEL, C1) and for
//! every byte that is not part of valid UTF-8. All other text, ASCII or not,
//! is kept as it is. The escaped text never holds a TAB, LF, CR or any other
//! control character, so line- and field-based tools work on it.

use std::convert::Infallible;
use std::io::{self, Write};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Where escaped text goes: a `String` or an `io::Write`.
trait Sink {
    type Error;
    fn text(&mut self, s: &str) -> Result<(), Self::Error>;
    /// Bytes known to be printable ASCII.
    fn ascii(&mut self, b: &[u8]) -> Result<(), Self::Error>;
    fn hex(&mut self, byte: u8) -> Result<(), Self::Error>;
}

impl Sink for String {
    type Error = Infallible;

    fn text(&mut self, s: &str) -> Result<(), Infallible> {
        self.push_str(s);
        Ok(())
    }

    fn ascii(&mut self, b: &[u8]) -> Result<(), Infallible> {
        self.extend(b.iter().map(|&c| char::from(c)));
        Ok(())
    }

    fn hex(&mut self, byte: u8) -> Result<(), Infallible> {
        self.push_str("\\x");
        self.push(char::from(HEX[usize::from(byte >> 4)]));
        self.push(char::from(HEX[usize::from(byte & 0xf)]));
        Ok(())
    }
}

struct IoSink<'a, W: ?Sized>(&'a mut W);

impl<W: Write + ?Sized> Sink for IoSink<'_, W> {
    type Error = io::Error;

    fn text(&mut self, s: &str) -> io::Result<()> {
        self.0.write_all(s.as_bytes())
    }

    fn ascii(&mut self, b: &[u8]) -> io::Result<()> {
        self.0.write_all(b)
    }

    fn hex(&mut self, byte: u8) -> io::Result<()> {
        let hi = HEX[usize::from(byte >> 4)];
        let lo = HEX[usize::from(byte & 0xf)];
        self.0.write_all(&[b'\\', b'x', hi, lo])
    }
}

/// Whether `bytes` holds a backslash or a byte that is not printable
/// ASCII: what escaping changes, and in escaped text what unescaping must
/// decode or refuse. A fold with no early exit, so that it runs many bytes
/// at a time.
fn special(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |any, &b| {
        any | (b.wrapping_sub(0x20) >= 0x5f) | (b == b'\\')
    })
}

fn escape_to<S: Sink>(bytes: &[u8], sink: &mut S) -> Result<(), S::Error> {
    // Most keys and values are printable ASCII without a backslash: one
    // scan, one copy (a dump spends most of its time here otherwise).
    if !special(bytes) {
        return sink.ascii(bytes);
    }
    for chunk in bytes.utf8_chunks() {
        let text = chunk.valid();
        // Copy runs of plain text in one piece; only escaped chars break them.
        let mut run_start = 0;
        for (i, c) in text.char_indices() {
            let short = match c {
                '\\' => "\\\\",
                '\t' => "\\t",
                '\n' => "\\n",
                '\r' => "\\r",
                c if c.is_control() => "",
                _ => continue,
            };
            sink.text(&text[run_start..i])?;
            if short.is_empty() {
                let mut utf8 = [0; 4];
                for &b in c.encode_utf8(&mut utf8).as_bytes() {
                    sink.hex(b)?;
                }
            } else {
                sink.text(short)?;
            }
            run_start = i + c.len_utf8();
        }
        sink.text(&text[run_start..])?;
        for &b in chunk.invalid() {
            sink.hex(b)?;
        }
    }
    Ok(())
}

/// Escapes `bytes` as printable text, exactly as the tsv format writes a key
/// or value; [`unescape`] is the inverse.
///
/// ```
/// use tinykv::format::escape_bytes;
/// assert_eq!(escape_bytes(b"caf\xc3\xa9\t\\ \x00\xff"), "café\\t\\\\ \\x00\\xff");
/// ```
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let Ok(()) = escape_to(bytes, &mut out);
    out
}

/// Writes `bytes` escaped as by [`escape_bytes`] to `out`, without buffering.
pub(crate) fn write_escaped<W: Write + ?Sized>(out: &mut W, bytes: &[u8]) -> io::Result<()> {
    escape_to(bytes, &mut IoSink(out))
}

/// Why escaped text could not be decoded. [`UnescapeError::offset`] gives the
/// 0-based byte offset of the problem in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnescapeError {
    /// A byte that is not part of valid UTF-8; raw bytes are written `\xHH`.
    #[error("invalid UTF-8 (write raw bytes as \\xHH)")]
    InvalidUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A raw control character (TAB, CR, LF, NUL, DEL, …) that must be escaped.
    #[error("raw control character {ch:?} (write it as \\t, \\n, \\r or \\xHH)")]
    RawControl {
        /// Byte offset of the character.
        offset: usize,
        /// The character found.
        ch: char,
    },
    /// A backslash followed by something other than `\ t n r x`.
    #[error("unknown escape `\\{}` (expected \\\\, \\t, \\n, \\r or \\xHH)", .ch.escape_debug())]
    UnknownEscape {
        /// Byte offset of the backslash.
        offset: usize,
        /// The character after the backslash.
        ch: char,
    },
    /// `\x` not followed by two hex digits.
    #[error("`\\x` must be followed by two hex digits")]
    BadHex {
        /// Byte offset of the backslash.
        offset: usize,
    },
    /// A backslash at the very end of the input.
    #[error("lone backslash at the end")]
    TrailingBackslash {
        /// Byte offset of the backslash.
        offset: usize,
    },
}

impl UnescapeError {
    /// The 0-based byte offset of the problem in the escaped input.
    pub fn offset(&self) -> usize {
        match *self {
            UnescapeError::InvalidUtf8 { offset }
            | UnescapeError::RawControl { offset, .. }
            | UnescapeError::UnknownEscape { offset, .. }
            | UnescapeError::BadHex { offset }
            | UnescapeError::TrailingBackslash { offset } => offset,
        }
    }
}

/// Decodes text written by [`escape_bytes`] back into the original bytes.
///
/// Accepts exactly the escaped form, except that `\xHH` may use uppercase
/// hex and may encode any byte (`\x41` is `A`). Raw control characters and
/// invalid UTF-8 are refused, since [`escape_bytes`] never writes them.
///
/// ```
/// use tinykv::format::unescape;
/// assert_eq!(unescape(b"a\\tb\\xff").unwrap(), b"a\tb\xff");
/// assert!(unescape(b"\\q").is_err());
/// ```
pub fn unescape(escaped: &[u8]) -> Result<Vec<u8>, UnescapeError> {
    // Printable ASCII without a backslash is itself (a load spent a seventh
    // of its time decoding such text a char at a time).
    if !special(escaped) {
        return Ok(escaped.to_vec());
    }
    let text = std::str::from_utf8(escaped).map_err(|e| UnescapeError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.char_indices();
    let mut run_start = 0;
    while let Some((i, c)) = chars.next() {
        if c != '\\' && !c.is_control() {
            continue;
        }
        out.extend_from_slice(&text.as_bytes()[run_start..i]);
        if c != '\\' {
            return Err(UnescapeError::RawControl { offset: i, ch: c });
        }
        let decoded = match chars.next() {
            None => return Err(UnescapeError::TrailingBackslash { offset: i }),
            Some((_, '\\')) => b'\\',
            Some((_, 't')) => b'\t',
            Some((_, 'n')) => b'\n',
            Some((_, 'r')) => b'\r',
            Some((_, 'x')) => {
                let hi = chars.next().and_then(|(_, c)| c.to_digit(16));
                let lo = chars.next().and_then(|(_, c)| c.to_digit(16));
                match (hi, lo) {
                    // Two hex digits are below 256, so the conversion holds.
                    (Some(hi), Some(lo)) => u8::try_from(hi * 16 + lo)
                        .map_err(|_| UnescapeError::BadHex { offset: i })?,
                    _ => return Err(UnescapeError::BadHex { offset: i }),
                }
            }
            Some((_, ch)) => return Err(UnescapeError::UnknownEscape { offset: i, ch }),
        };
        out.push(decoded);
        run_start = chars.offset();
    }
    out.extend_from_slice(&text.as_bytes()[run_start..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::testutil::bytes;
    use proptest::prelude::*;

    #[test]
    fn plain_text_stays_plain() {
        let text = "Hello, wörld! 😀 ~`'\"{}[] 12.5";
        assert_eq!(escape_bytes(text.as_bytes()), text);
    }

    #[test]
    fn specials_and_invalid_bytes_are_escaped() {
        assert_eq!(escape_bytes(b"\\\t\n\r"), "\\\\\\t\\n\\r");
        assert_eq!(escape_bytes(b"\x00\x1b\x7f"), "\\x00\\x1b\\x7f");
        // U+0085 (NEL) is a C1 control: escaped byte by byte.
        assert_eq!(escape_bytes("\u{85}".as_bytes()), "\\xc2\\x85");
        // A truncated UTF-8 sequence is escaped, the valid text around it is not.
        assert_eq!(escape_bytes(b"\xc3\xa9\xc3 x\xff"), "é\\xc3 x\\xff");
        assert_eq!(escape_bytes(b"\\x41"), "\\\\x41");
    }

    #[test]
    fn write_escaped_matches_escape_bytes() {
        let input = b"k\x00\xff\t\\ \xe2\x82\xac";
        let mut out = Vec::new();
        write_escaped(&mut out, input).expect("write to a Vec");
        assert_eq!(out, escape_bytes(input).into_bytes());
    }

    #[test]
    fn unescape_accepts_uppercase_and_printable_hex() {
        assert_eq!(unescape(b"\\xFF\\x41").expect("valid"), b"\xffA");
    }

    #[test]
    fn unescape_errors_carry_offsets() {
        let cases: [(&[u8], UnescapeError); 8] = [
            (
                b"ab\\q",
                UnescapeError::UnknownEscape { offset: 2, ch: 'q' },
            ),
            (b"\\x4", UnescapeError::BadHex { offset: 0 }),
            (b"a\\xZZ", UnescapeError::BadHex { offset: 1 }),
            (b"a\\", UnescapeError::TrailingBackslash { offset: 1 }),
            (
                b"ok\tno",
                UnescapeError::RawControl {
                    offset: 2,
                    ch: '\t',
                },
            ),
            (
                b"x\r",
                UnescapeError::RawControl {
                    offset: 1,
                    ch: '\r',
                },
            ),
            (b"ab\xff", UnescapeError::InvalidUtf8 { offset: 2 }),
            // DEL: the last byte below which text is plain ASCII.
            (
                b"a~\x7f",
                UnescapeError::RawControl {
                    offset: 2,
                    ch: '\x7f',
                },
            ),
        ];
        for (input, want) in cases {
            let got = unescape(input).unwrap_err();
            assert_eq!(got.offset(), want.offset());
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
        }
        assert_eq!(
            unescape(b"\\q").unwrap_err().to_string(),
            "unknown escape `\\q` (expected \\\\, \\t, \\n, \\r or \\xHH)"
        );
    }

    proptest! {
        #[test]
        fn escape_round_trips(input in bytes(200)) {
            let escaped = escape_bytes(&input);
            prop_assert!(!escaped.chars().any(char::is_control), "{escaped:?}");
            prop_assert_eq!(unescape(escaped.as_bytes()).expect("own output"), input);
        }

        #[test]
        fn unescape_never_panics(input in bytes(200)) {
            let _ = unescape(&input);
        }
    }
}
