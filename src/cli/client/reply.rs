//! RESP2 replies as a client reads them: `+status`, `-error`, `:integer`,
//! `$bulk` (or `$-1`, nil) and `*array` (or `*-1`), from a blocking stream.
//!
//! Invariants: no length read from the stream is trusted. A bulk's declared
//! length is checked against [`MAX_BULK`] before a byte of it is kept and
//! its buffer grows with the bytes that arrive; an array's declared count is
//! checked against [`MAX_ELEMENTS`] and its list grows with the elements
//! read; arrays nest at most [`MAX_DEPTH`] deep; a line (status, error,
//! header) longer than [`MAX_LINE`] is refused without reading further.
//! Anything else is a [`ReplyError::Protocol`], after which the stream can
//! no longer be framed and the connection must be dropped.

use std::fmt;
use std::io::{self, BufRead, Write};

/// The longest bulk string accepted: a value of the largest size the
/// engine stores, with room to spare.
pub const MAX_BULK: usize = 512 * 1024 * 1024;
/// The most elements in one array.
pub const MAX_ELEMENTS: usize = 16 * 1024 * 1024;
/// The deepest nesting of arrays.
pub const MAX_DEPTH: usize = 8;
/// The longest status, error or header line, CRLF excluded.
pub const MAX_LINE: usize = 1024 * 1024;

/// One reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Status(String),
    /// `-ERR …`: the server's refusal, as text.
    Error(String),
    /// `:N`.
    Integer(i64),
    /// `$N` then N bytes; `None` for `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*N` then N replies; `None` for `*-1`.
    Array(Option<Vec<Reply>>),
}

/// Why a reply could not be read.
#[derive(Debug)]
pub enum ReplyError {
    /// The stream failed or ended.
    Io(io::Error),
    /// The bytes are not a reply.
    Protocol(String),
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                write!(f, "the connection was closed")
            }
            ReplyError::Io(e) => write!(f, "{e}"),
            ReplyError::Protocol(why) => write!(f, "not a RESP reply: {why}"),
        }
    }
}

impl std::error::Error for ReplyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplyError::Io(e) => Some(e),
            ReplyError::Protocol(_) => None,
        }
    }
}

impl From<io::Error> for ReplyError {
    fn from(e: io::Error) -> Self {
        ReplyError::Io(e)
    }
}

fn protocol(why: impl Into<String>) -> ReplyError {
    ReplyError::Protocol(why.into())
}

/// Reads one reply.
pub fn read(input: &mut impl BufRead) -> Result<Reply, ReplyError> {
    read_nested(input, 0)
}

fn read_nested(input: &mut impl BufRead, depth: usize) -> Result<Reply, ReplyError> {
    let line = read_line(input)?;
    let (&kind, rest) = line
        .split_first()
        .ok_or_else(|| protocol("an empty line"))?;
    match kind {
        b'+' => Ok(Reply::Status(String::from_utf8_lossy(rest).into_owned())),
        b'-' => Ok(Reply::Error(String::from_utf8_lossy(rest).into_owned())),
        b':' => Ok(Reply::Integer(number(rest)?)),
        b'$' => match number(rest)? {
            -1 => Ok(Reply::Bulk(None)),
            n if n < 0 || n as u64 > MAX_BULK as u64 => {
                Err(protocol(format!("a bulk length of {n}")))
            }
            n => read_bulk(input, n as usize).map(|b| Reply::Bulk(Some(b))),
        },
        b'*' => match number(rest)? {
            -1 => Ok(Reply::Array(None)),
            n if n < 0 || n as u64 > MAX_ELEMENTS as u64 => {
                Err(protocol(format!("an array length of {n}")))
            }
            _ if depth >= MAX_DEPTH => Err(protocol("arrays nested too deep")),
            n => {
                let n = n as usize;
                let mut items = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    items.push(read_nested(input, depth + 1)?);
                }
                Ok(Reply::Array(Some(items)))
            }
        },
        other => Err(protocol(format!(
            "a reply starting with byte 0x{other:02x}"
        ))),
    }
}

/// One line without its CRLF, at most [`MAX_LINE`] bytes.
fn read_line(input: &mut impl BufRead) -> Result<Vec<u8>, ReplyError> {
    let mut line = Vec::new();
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        input.consume(take);
        if line.len() > MAX_LINE + 2 {
            return Err(protocol("a line too long"));
        }
        if done {
            break;
        }
    }
    match line.strip_suffix(b"\r\n") {
        Some(text) => {
            line.truncate(text.len());
            Ok(line)
        }
        None => Err(protocol("a line not ended by CRLF")),
    }
}

fn number(text: &[u8]) -> Result<i64, ReplyError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            protocol(format!(
                "{:?} is not a number",
                String::from_utf8_lossy(text)
            ))
        })
}

/// `len` bytes and the CRLF after them; the buffer grows as they arrive.
fn read_bulk(input: &mut impl BufRead, len: usize) -> Result<Vec<u8>, ReplyError> {
    let mut data = Vec::with_capacity(len.min(64 * 1024));
    let mut left = len + 2;
    while left > 0 {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        let take = buf.len().min(left);
        data.extend_from_slice(&buf[..take]);
        input.consume(take);
        left -= take;
    }
    if !data.ends_with(b"\r\n") {
        return Err(protocol("a bulk string not followed by CRLF"));
    }
    data.truncate(len);
    Ok(data)
}

/// Appends one request (a RESP array of bulk strings) to `out`.
pub fn encode_request<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    let _ = write!(out, "*{}\r\n", args.len());
    for arg in args {
        let arg = arg.as_ref();
        let _ = write!(out, "${}\r\n", arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Reply, ReplyError> {
        read(&mut io::BufReader::with_capacity(3, bytes))
    }

    #[test]
    fn every_kind_of_reply() {
        assert_eq!(parse(b"+OK\r\n").unwrap(), Reply::Status("OK".into()));
        assert_eq!(
            parse(b"-ERR no\r\n").unwrap(),
            Reply::Error("ERR no".into())
        );
        assert_eq!(parse(b":-42\r\n").unwrap(), Reply::Integer(-42));
        assert_eq!(
            parse(b"$5\r\na\r\nb\0\r\n").unwrap(),
            Reply::Bulk(Some(b"a\r\nb\0".to_vec()))
        );
        assert_eq!(parse(b"$0\r\n\r\n").unwrap(), Reply::Bulk(Some(Vec::new())));
        assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::Bulk(None));
        assert_eq!(parse(b"*-1\r\n").unwrap(), Reply::Array(None));
        assert_eq!(
            parse(b"*2\r\n:1\r\n*1\r\n$1\r\nx\r\n").unwrap(),
            Reply::Array(Some(vec![
                Reply::Integer(1),
                Reply::Array(Some(vec![Reply::Bulk(Some(b"x".to_vec()))]))
            ]))
        );
    }

    #[test]
    fn lengths_from_the_stream_are_not_trusted() {
        for bad in [
            &b"$99999999999\r\n"[..],
            b"$-2\r\n",
            b"*99999999999\r\n",
            b"$3\r\nab",
            b"$3\r\nabcde",
            b"+OK\n",
            b"?\r\n",
            b"\r\n",
            b":x\r\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
        assert!(matches!(parse(&deep), Err(ReplyError::Protocol(_))));
        let long = [b"+".as_slice(), &vec![b'a'; MAX_LINE + 10], b"\r\n"].concat();
        assert!(matches!(parse(&long), Err(ReplyError::Protocol(_))));
    }

    #[test]
    fn a_request_is_an_array_of_bulks() {
        let mut out = Vec::new();
        encode_request(&mut out, &[&b"SET"[..], b"k", b"a\r\n"]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\r\n\r\n");
    }
}
