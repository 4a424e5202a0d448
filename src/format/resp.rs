//! The resp format: Redis protocol `SET` commands, for `redis-cli --pipe`.
//!
//! Each pair is `*3\r\n$3\r\nSET\r\n$<n>\r\n<key>\r\n$<n>\r\n<value>\r\n`,
//! or, for a key that expires, `SET key value PXAT <ms>` (an array of 5).
//! The reader takes a stream of such arrays of bulk strings, with the command
//! name and `PXAT` in any case, and nothing else: other commands, other arities, inline
//! commands, null or oversized bulk strings, a missing CRLF or a stream cut
//! mid-command are errors. An error names where the bad element (an array
//! or bulk string header) starts ([`Position::Offset`]): its 1-based line,
//! every LF counted as `sed -n` and editors count them (those inside
//! payloads too), and its 0-based byte offset, exact whatever the payloads
//! hold. A declared length is checked against the key or value limit before
//! any of it is read, and payloads grow with the bytes actually read, so a
//! lying length costs nothing.

use std::io::{self, BufRead, Read, Write};

use super::{
    Entry, MAX_KEY_LEN, MAX_VALUE_LEN, ParseError, Position, escape_bytes, parse_deadline,
};

/// Longest header line (`*3\r\n`, `$268435456\r\n`) worth reading.
const MAX_HEADER_LEN: u64 = 32;
/// Longest command name worth reading before calling it unsupported.
const MAX_COMMAND_LEN: usize = 64;

/// Writes one `SET key value` command (`… PXAT ms` for a key that expires).
pub(super) fn write_pair<W: Write>(
    out: &mut W,
    key: &[u8],
    value: &[u8],
    expires_at: Option<u64>,
) -> io::Result<()> {
    let n = if expires_at.is_some() { 5 } else { 3 };
    write!(out, "*{n}\r\n$3\r\nSET\r\n${}\r\n", key.len())?;
    out.write_all(key)?;
    write!(out, "\r\n${}\r\n", value.len())?;
    out.write_all(value)?;
    out.write_all(b"\r\n")?;
    if let Some(at) = expires_at {
        let at = at.to_string();
        write!(out, "$4\r\nPXAT\r\n${}\r\n{at}\r\n", at.len())?;
    }
    Ok(())
}

/// Reads `SET` commands one at a time.
pub(super) struct RespReader<R> {
    input: R,
    /// Bytes read so far.
    offset: u64,
    /// LFs read so far.
    newlines: u64,
    /// Where the element being read starts: its line and offset.
    element: (u64, u64),
    header: Vec<u8>,
}

impl<R: BufRead> RespReader<R> {
    pub(super) fn new(input: R) -> Self {
        RespReader {
            input,
            offset: 0,
            newlines: 0,
            element: (1, 0),
            header: Vec::new(),
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> ParseError {
        let (line, offset) = self.element;
        ParseError::Invalid {
            at: Position::Offset { line, offset },
            reason: reason.into(),
        }
    }

    /// Counts `bytes`, just read, into the position.
    fn advance(&mut self, bytes: &[u8]) {
        self.offset += bytes.len() as u64;
        self.newlines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    }

    /// The next pair, or `None` when the stream ends between commands.
    pub(super) fn next_entry(&mut self) -> Result<Option<Entry>, ParseError> {
        if at_eof(&mut self.input)? {
            return Ok(None);
        }
        self.read_header()?;
        let count = match self.header.split_first() {
            Some((b'*', digits)) => parse_len(digits),
            _ => {
                let found = escape_bytes(&self.header);
                return Err(self.invalid(format!("expected `*` (a RESP array), found `{found}`")));
            }
        };
        let expiring = match count {
            Some(3) => false,
            Some(5) => true,
            Some(n) => {
                return Err(self.invalid(format!(
                    "expected an array of 3 (SET key value) or 5 (SET key value PXAT ms), \
                     found {n} elements"
                )));
            }
            None => return Err(self.invalid("bad array length")),
        };
        let name = self.read_bulk("command name", MAX_COMMAND_LEN)?;
        if !name.eq_ignore_ascii_case(b"SET") {
            let name = escape_bytes(&name);
            return Err(self.invalid(format!(
                "unsupported command `{name}` (only SET is accepted)"
            )));
        }
        let key = self.read_bulk("key", MAX_KEY_LEN)?;
        if key.is_empty() {
            return Err(self.invalid("empty key"));
        }
        let value = self.read_bulk("value", MAX_VALUE_LEN)?;
        let mut expires_at = None;
        if expiring {
            let option = self.read_bulk("option", MAX_COMMAND_LEN)?;
            if !option.eq_ignore_ascii_case(b"PXAT") {
                let option = escape_bytes(&option);
                return Err(self.invalid(format!(
                    "unsupported SET option `{option}` (only PXAT is accepted)"
                )));
            }
            let at = self.read_bulk("expiry", MAX_HEADER_LEN as usize)?;
            expires_at = Some(parse_deadline(&at).map_err(|e| self.invalid(e))?);
        }
        Ok(Some(Entry {
            key,
            value,
            expires_at,
        }))
    }

    /// Reads one CRLF-terminated header line into `self.header`, without CRLF.
    fn read_header(&mut self) -> Result<(), ParseError> {
        self.element = (self.newlines + 1, self.offset);
        self.header.clear();
        (&mut self.input)
            .take(MAX_HEADER_LEN)
            .read_until(b'\n', &mut self.header)?;
        self.offset += self.header.len() as u64;
        self.newlines += u64::from(self.header.ends_with(b"\n"));
        match self.header.strip_suffix(b"\r\n") {
            Some(line) => {
                let len = line.len();
                self.header.truncate(len);
                Ok(())
            }
            None if self.header.ends_with(b"\n") => {
                Err(self.invalid("header ends in LF without CR"))
            }
            None if self.header.len() as u64 >= MAX_HEADER_LEN => {
                Err(self.invalid(format!("header longer than {MAX_HEADER_LEN} bytes")))
            }
            None => Err(self.invalid("stream ends in the middle of the command")),
        }
    }

    /// Reads one `$<len>\r\n<bytes>\r\n` bulk string of at most `limit` bytes.
    fn read_bulk(&mut self, what: &str, limit: usize) -> Result<Vec<u8>, ParseError> {
        self.read_header()?;
        let len = match self.header.split_first() {
            Some((b'$', digits)) => parse_len(digits)
                .ok_or_else(|| self.invalid(format!("bad bulk string length for the {what}")))?,
            _ => return Err(self.invalid(format!("expected `$` (a bulk string) for the {what}"))),
        };
        if len > limit {
            return Err(self.invalid(format!(
                "{what} of {len} bytes is over the {limit}-byte limit"
            )));
        }
        let data = read_exact_growing(&mut self.input, len)?;
        self.advance(&data);
        if data.len() < len {
            return Err(self.invalid(format!(
                "stream ends inside the {what} ({} of {len} bytes)",
                data.len()
            )));
        }
        let mut crlf = Vec::with_capacity(2);
        (&mut self.input).take(2).read_to_end(&mut crlf)?;
        self.advance(&crlf);
        match crlf.as_slice() {
            b"\r\n" => Ok(data),
            [] | [b'\r'] => {
                Err(self.invalid(format!("stream ends after the {what}, before its CRLF")))
            }
            _ => Err(self.invalid(format!(
                "the {what} is not followed by CRLF (wrong length?)"
            ))),
        }
    }
}

/// A decimal length: ASCII digits only (no sign, no spaces), fitting `usize`.
fn parse_len(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Whether the input is at its end, reading more if the buffer is empty.
fn at_eof<R: BufRead>(input: &mut R) -> io::Result<bool> {
    loop {
        match input.fill_buf() {
            Ok(buf) => return Ok(buf.is_empty()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads up to `len` bytes, stopping early at the end of input. Capacity
/// grows with the bytes actually read and never beyond `len`.
fn read_exact_growing<R: BufRead>(input: &mut R, len: usize) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    while data.len() < len {
        let chunk = match input.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len().min(len - data.len());
        if data.capacity() - data.len() < n {
            let target = (data.capacity() * 2).max(data.len() + n).min(len);
            data.reserve_exact(target - data.len());
        }
        data.extend_from_slice(&chunk[..n]);
        input.consume(n);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Format, Position};
    use super::*;
    use proptest::prelude::*;

    const RESP: Format = Format::Resp;
    const GOOD: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n";

    #[test]
    fn writes_what_redis_cli_pipe_takes() {
        let out = dump(
            RESP,
            &[
                (b"k".to_vec(), b"v1".to_vec()),
                (b"a\r\nb".to_vec(), Vec::new()),
            ],
        );
        let want = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n\
                     *3\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n$0\r\n\r\n";
        assert_eq!(out, want);
    }

    #[test]
    fn command_name_is_case_insensitive() {
        let input = b"*3\r\n$3\r\nsEt\r\n$1\r\nk\r\n$0\r\n\r\n";
        assert_eq!(
            load(RESP, input).expect("valid"),
            vec![(b"k".to_vec(), Vec::new())]
        );
    }

    fn at(line: u64, offset: u64) -> Position {
        Position::Offset { line, offset }
    }

    #[test]
    fn errors_name_the_line_and_offset_of_the_bad_element() {
        let mut cut = GOOD.to_vec();
        cut.extend_from_slice(&GOOD[..GOOD.len() - 3]);
        let mut cut_header = GOOD.to_vec();
        cut_header.extend_from_slice(b"*3\r\n$3");
        // Line breaks inside a payload count as lines too.
        let mut after_breaks = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\na\nb\r\nc\r\n".to_vec();
        after_breaks.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        let cases: [(&[u8], Position, &str); 12] = [
            (
                &cut,
                at(13, 48),
                "stream ends inside the value (1 of 2 bytes)",
            ),
            (
                &cut_header,
                at(9, 32),
                "stream ends in the middle of the command",
            ),
            (
                b"*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r\nv\r\n",
                at(2, 4),
                "unsupported command `GET`",
            ),
            (
                b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
                at(1, 0),
                "found 2 elements",
            ),
            (&after_breaks, at(10, 32), "found 2 elements"),
            (b"SET k v\r\n", at(1, 0), "expected `*`"),
            (
                b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n",
                at(6, 20),
                "before its CRLF",
            ),
            (
                b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nvv\r\n",
                at(6, 20),
                "not followed by CRLF",
            ),
            (b"*3\n$3\nSET\n", at(1, 0), "LF without CR"),
            (
                b"*3\r\n$3\r\nSET\r\n$-1\r\n",
                at(4, 13),
                "bad bulk string length for the key",
            ),
            (
                b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n",
                at(4, 13),
                "empty key",
            ),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", at(1, 0), "expected `*`"),
        ];
        for (input, position, reason) in cases {
            assert_error(RESP, input, position, reason);
        }
        let err = load(RESP, &after_breaks).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 10 (offset 32): expected an array of 3 (SET key value) or 5 (SET key value \
             PXAT ms), found 2 elements"
        );
    }

    #[test]
    fn huge_declared_lengths_fail_before_reading() {
        let huge_value = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$9000000000\r\nvvv";
        assert_error(RESP, huge_value, at(6, 20), "over the 268435456-byte limit");
        let huge_key = b"*3\r\n$3\r\nSET\r\n$65537\r\nkkk";
        assert_error(RESP, huge_key, at(4, 13), "key of 65537 bytes");
        let overflow = b"*3\r\n$3\r\nSET\r\n$99999999999999999999999\r\n";
        assert_error(RESP, overflow, at(4, 13), "bad bulk string length");
        let long_header = b"*3\r\n$3\r\nSET\r\n$0000000000000000000000000000000000001\r\n";
        assert_error(RESP, long_header, at(4, 13), "header longer than 32 bytes");
    }

    #[test]
    fn a_lying_length_allocates_only_what_arrives() {
        let data = read_exact_growing(&mut &b"abc"[..], MAX_VALUE_LEN).expect("in memory");
        assert_eq!(data, b"abc");
        assert!(data.capacity() < 1024, "capacity {}", data.capacity());
    }

    proptest! {
        #[test]
        fn round_trips(pairs in pairs()) {
            prop_assert_eq!(load(RESP, &dump(RESP, &pairs)).expect("own output"), pairs);
        }

        #[test]
        fn never_panics(input in bytes(300)) {
            let _ = load(RESP, &input);
        }

        #[test]
        fn never_panics_on_mangled_commands(cut in 0..GOOD.len(), byte: u8) {
            let mut input = GOOD.to_vec();
            input[cut] = byte;
            let _ = load(RESP, &input);
            let _ = load(RESP, &GOOD[..cut]);
        }
    }
}
