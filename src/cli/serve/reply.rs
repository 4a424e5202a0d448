//! RESP2 replies: [`Output`] encodes them into a connection's reply buffer
//! and writes the buffer to the socket when it is asked to, or when it has
//! grown large.
//!
//! Invariants: replies leave in the order they were encoded; a reply is
//! never split by another; an error or status reply is one line (any CR or
//! LF in its text becomes a space), so a message can never break the
//! framing. Large values bypass the buffer (written straight to the socket)
//! so a 256 MiB GET is not copied, and a large MGET or KEYS reply goes out
//! in pieces instead of being held whole. A failed write is remembered; the
//! connection ends at its next flush.

use std::io::{self, Write};

/// Buffered replies are written out once they pass this size.
const FLUSH_AT: usize = 64 * 1024;
/// Values at least this long are written straight to the socket.
const DIRECT_AT: usize = 256 * 1024;
/// A buffer that grew past this for one large reply is given back.
const KEEP_AT_MOST: usize = 1024 * 1024;

/// The reply side of a connection.
pub struct Output<'a> {
    buf: Vec<u8>,
    sink: &'a mut dyn Write,
    failed: Option<io::Error>,
}

impl<'a> Output<'a> {
    /// Replies to `sink`.
    pub fn new(sink: &'a mut dyn Write) -> Output<'a> {
        Output {
            buf: Vec::with_capacity(16 * 1024),
            sink,
            failed: None,
        }
    }

    /// `+text`.
    pub fn simple(&mut self, text: &str) {
        self.buf.push(b'+');
        self.line(text.as_bytes());
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// `-text`: `text` starts with its code (`ERR`, `NOAUTH`, …).
    pub fn error(&mut self, text: &str) {
        self.buf.push(b'-');
        self.line(text.as_bytes());
    }

    /// `:n`.
    pub fn integer(&mut self, n: i64) {
        self.buf.push(b':');
        self.number(n);
    }

    /// `$-1`: a missing value.
    pub fn nil(&mut self) {
        self.buf.extend_from_slice(b"$-1\r\n");
    }

    /// `*n`: an array of `n` replies follows.
    pub fn array(&mut self, n: usize) {
        self.buf.push(b'*');
        self.number(n as i64);
    }

    /// `$len` and the bytes: binary-safe.
    pub fn bulk(&mut self, bytes: &[u8]) {
        self.buf.push(b'$');
        self.number(bytes.len() as i64);
        if bytes.len() >= DIRECT_AT {
            self.flush_buf();
            if self.failed.is_none()
                && let Err(e) = self.sink.write_all(bytes)
            {
                self.failed = Some(e);
            }
        } else {
            self.buf.extend_from_slice(bytes);
        }
        self.buf.extend_from_slice(b"\r\n");
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf();
        }
    }

    /// A bulk string or nil.
    pub fn optional(&mut self, value: Option<&[u8]>) {
        match value {
            Some(v) => self.bulk(v),
            None => self.nil(),
        }
    }

    /// Bytes of replies not yet written.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Writes out every buffered reply; reports the first failed write.
    pub fn flush(&mut self) -> io::Result<()> {
        self.flush_buf();
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn flush_buf(&mut self) {
        if self.failed.is_none()
            && !self.buf.is_empty()
            && let Err(e) = self.sink.write_all(&self.buf)
        {
            self.failed = Some(e);
        }
        self.buf.clear();
        if self.buf.capacity() > KEEP_AT_MOST {
            self.buf.shrink_to(16 * 1024);
        }
    }

    /// `text` as the rest of a one-line reply, CR and LF turned to spaces.
    fn line(&mut self, text: &[u8]) {
        self.buf.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    fn number(&mut self, n: i64) {
        let _ = write!(self.buf, "{n}\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_kind() {
        let mut sink = Vec::new();
        let mut out = Output::new(&mut sink);
        out.ok();
        out.simple("PONG");
        out.error("ERR two\r\nlines");
        out.integer(-3);
        out.nil();
        out.array(2);
        out.bulk(b"a\r\nb");
        out.optional(None);
        out.flush().unwrap();
        assert_eq!(
            sink,
            b"+OK\r\n+PONG\r\n-ERR two  lines\r\n:-3\r\n$-1\r\n*2\r\n$4\r\na\r\nb\r\n$-1\r\n"
        );
    }

    #[test]
    fn large_values_go_straight_through() {
        let mut sink = Vec::new();
        let value = vec![7u8; DIRECT_AT];
        let mut out = Output::new(&mut sink);
        out.simple("first");
        out.bulk(&value);
        assert_eq!(out.pending(), 2);
        out.flush().unwrap();
        let header = format!("+first\r\n${}\r\n", DIRECT_AT);
        assert!(sink.starts_with(header.as_bytes()));
        assert!(sink.ends_with(b"\x07\r\n"));
        assert_eq!(sink.len(), header.len() + DIRECT_AT + 2);
    }

    #[test]
    fn a_failed_write_is_reported_at_flush() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut sink = Broken;
        let mut out = Output::new(&mut sink);
        out.bulk(&vec![0; FLUSH_AT]);
        out.ok();
        assert!(out.flush().is_err());
    }
}
