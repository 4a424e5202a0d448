//! RESP2 replies: [`Output`] encodes them into a connection's queue of
//! bytes to send, and sends as much of the queue as the socket takes.
//!
//! Invariants: replies leave in the order they were encoded, whole (a
//! partial send resumes where it stopped); an error or status reply is one
//! line (any CR or LF in its text becomes a space), so a message can never
//! break the framing. A large value is queued as its own buffer, moved when
//! the caller owns it, never copied into a growing reply buffer.
//!
//! How much replies may hold: a connection runs no request while
//! [`OUT_HIGH`](super::conn::OUT_HIGH) bytes of its replies wait to be
//! sent (conn.rs), so it holds at most that plus one reply; and a command
//! whose reply grows with its arguments or with the database (MGET, KEYS,
//! SCAN) builds at most [`MAX_REPLY`] bytes, refusing with an error what
//! would be more (SCAN returns early instead, as its COUNT allows). That is
//! Redis's client-output-buffer-limit, checked before the memory is spent
//! rather than after. Those two bound one connection; all of them together
//! are bounded by [`QUEUED`], the bytes of every queued reply in the
//! process, against [`queued_limit`]: a large reply (a value or a reply of
//! [`OWN_CHUNK_AT`] bytes or more) that would take the total past it is
//! refused with [`busy`] instead of queued (serve review: eight clients
//! that never read, each asking MGET for one 1 MiB value 500 times, made
//! the server hold 4 GB). Small replies are never refused: they are what
//! keeps every client working, and OUT_HIGH bounds them per connection.
//!
//! Invariant: [`QUEUED`] is the sum, over every live [`Output`], of the
//! bytes in its queue (sealed buffers and chunks, the sent part of the
//! front included); an Output gives its share back as it sends, and the
//! rest when dropped.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A value at least this long is queued as a buffer of its own.
pub const OWN_CHUNK_AT: usize = 64 * 1024;

/// Bytes queued in every [`Output`] of the process (one server a process).
static QUEUED: AtomicUsize = AtomicUsize::new(0);
/// The most [`QUEUED`] may reach by a large reply (see [`fits`]).
static LIMIT: AtomicUsize = AtomicUsize::new(QUEUED_LIMIT);
/// The default of that: what the request budget is for requests.
pub const QUEUED_LIMIT: usize = 1024 * 1024 * 1024;

/// Sets the limit on queued replies (the server's start; tests lower it).
pub fn set_queued_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// The limit on queued replies.
pub fn queued_limit() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// Bytes of replies queued now, in every connection.
pub fn queued_now() -> usize {
    QUEUED.load(Ordering::Relaxed)
}

/// Whether a reply of `size` bytes may be built now: a small one always,
/// a large one while the replies queued and it stay within the limit.
pub fn fits(size: usize) -> bool {
    size < OWN_CHUNK_AT || queued_now().saturating_add(size) <= queued_limit()
}

/// The error for a large reply refused by [`fits`].
pub fn busy(command: &str) -> String {
    format!(
        "ERR server busy: {command}'s reply would take the replies waiting for clients past {} \
         bytes; try again once they read them",
        queued_limit()
    )
}
/// The most one reply may hold: two values of the largest size and their
/// framing, so that what one MSET may write one MGET may read back.
pub const MAX_REPLY: usize = super::limits::TWO_VALUES;

/// The bytes of a bulk reply of `len` bytes: `$len\r\n`, the bytes, `\r\n`.
pub fn bulk_size(len: usize) -> usize {
    let digits = len.checked_ilog10().unwrap_or(0) as usize + 1;
    1 + digits + 2 + len + 2
}

/// The error for a reply that would hold more than [`MAX_REPLY`].
pub fn too_large(command: &str, advice: &str) -> String {
    format!(
        "ERR reply too large: {command} would return more than the {MAX_REPLY} bytes one reply \
         may hold; {advice}"
    )
}

/// Replies not yet sent.
#[derive(Debug, Default)]
pub struct Output {
    /// Small replies being gathered.
    buf: Vec<u8>,
    /// Buffers to send, in order.
    queue: VecDeque<Vec<u8>>,
    /// Bytes of the front buffer already sent.
    sent: usize,
    /// Bytes in `queue`, the sent part of the front included.
    queued: usize,
}

impl Drop for Output {
    fn drop(&mut self) {
        QUEUED.fetch_sub(self.queued, Ordering::Relaxed);
    }
}

impl Output {
    /// No replies yet.
    pub fn new() -> Output {
        Output::default()
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
        self.bulk_header(bytes.len());
        if bytes.len() >= OWN_CHUNK_AT {
            self.push_chunk(bytes.to_vec());
        } else {
            self.buf.extend_from_slice(bytes);
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string the caller owns: a large one is moved, not copied.
    pub fn bulk_owned(&mut self, bytes: Vec<u8>) {
        self.bulk_header(bytes.len());
        if bytes.len() >= OWN_CHUNK_AT {
            self.push_chunk(bytes);
        } else {
            self.buf.extend_from_slice(&bytes);
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string or nil.
    pub fn optional(&mut self, value: Option<&[u8]>) {
        match value {
            Some(v) => self.bulk(v),
            None => self.nil(),
        }
    }

    /// An owned bulk string or nil.
    pub fn optional_owned(&mut self, value: Option<Vec<u8>>) {
        match value {
            Some(v) => self.bulk_owned(v),
            None => self.nil(),
        }
    }

    /// Bytes of replies not yet sent.
    pub fn pending(&self) -> usize {
        self.buf.len() + self.queued - self.sent
    }

    /// Queues every reply of `other` after these.
    pub fn append(&mut self, mut other: Output) {
        other.seal();
        if other.queue.is_empty() {
            return;
        }
        self.seal();
        if other.sent > 0 {
            if let Some(front) = other.queue.front_mut() {
                front.drain(..other.sent);
            }
            other.queued -= other.sent;
            QUEUED.fetch_sub(other.sent, Ordering::Relaxed);
        }
        // The bytes change hands; the process-wide count stays.
        self.queued += std::mem::take(&mut other.queued);
        self.queue.extend(std::mem::take(&mut other.queue));
    }

    /// Sends what `sink` takes without blocking; `Ok` when everything was
    /// sent or the socket is full (then [`Output::pending`] is not zero).
    pub fn send(&mut self, sink: &mut impl Write) -> io::Result<()> {
        self.seal();
        while let Some(front) = self.queue.front() {
            match sink.write(&front[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    if self.sent == front.len() {
                        self.queued -= front.len();
                        QUEUED.fetch_sub(front.len(), Ordering::Relaxed);
                        self.sent = 0;
                        self.queue.pop_front();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Moves the gathered small replies to the queue.
    fn seal(&mut self) {
        if !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            self.queued += buf.len();
            QUEUED.fetch_add(buf.len(), Ordering::Relaxed);
            self.queue.push_back(buf);
        }
    }

    fn push_chunk(&mut self, chunk: Vec<u8>) {
        self.seal();
        self.queued += chunk.len();
        QUEUED.fetch_add(chunk.len(), Ordering::Relaxed);
        self.queue.push_back(chunk);
    }

    fn bulk_header(&mut self, len: usize) {
        self.buf.push(b'$');
        self.number(len as i64);
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

    fn sent(out: &mut Output) -> Vec<u8> {
        let mut sink = Vec::new();
        out.send(&mut sink).unwrap();
        assert_eq!(out.pending(), 0);
        sink
    }

    #[test]
    fn bulk_sizes_are_exact() {
        for len in [0, 1, 9, 10, 99, 100, 65_536] {
            let mut out = Output::new();
            out.bulk(&vec![b'x'; len]);
            assert_eq!(out.pending(), bulk_size(len), "{len}");
        }
    }

    #[test]
    fn encodes_every_kind() {
        let mut out = Output::new();
        out.ok();
        out.simple("PONG");
        out.error("ERR two\r\nlines");
        out.integer(-3);
        out.nil();
        out.array(2);
        out.bulk(b"a\r\nb");
        out.optional(None);
        assert_eq!(
            sent(&mut out),
            b"+OK\r\n+PONG\r\n-ERR two  lines\r\n:-3\r\n$-1\r\n*2\r\n$4\r\na\r\nb\r\n$-1\r\n"
        );
    }

    #[test]
    fn large_values_are_queued_whole_and_in_order() {
        let mut out = Output::new();
        out.simple("first");
        out.bulk_owned(vec![7u8; OWN_CHUNK_AT]);
        out.simple("last");
        let mut other = Output::new();
        other.bulk(&vec![8u8; OWN_CHUNK_AT]);
        out.append(other);
        let bytes = sent(&mut out);
        let header = format!("+first\r\n${OWN_CHUNK_AT}\r\n");
        assert!(bytes.starts_with(header.as_bytes()));
        let middle = header.len() + OWN_CHUNK_AT;
        assert_eq!(&bytes[middle..middle + 9], b"\r\n+last\r\n");
        assert!(bytes.ends_with(b"\x08\r\n"));
    }

    /// A socket that takes `room` bytes, then would block.
    struct Full {
        got: Vec<u8>,
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.got.extend_from_slice(&buf[..n]);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_socket_resumes_where_it_stopped() {
        let mut out = Output::new();
        out.bulk(b"hello");
        out.ok();
        let mut sink = Full {
            got: Vec::new(),
            room: 4,
        };
        out.send(&mut sink).unwrap();
        assert_eq!(out.pending(), 12);
        // What was half sent moves along with a later append.
        let mut later = Output::new();
        later.append(out);
        later.integer(1);
        sink.room = 100;
        later.send(&mut sink).unwrap();
        assert_eq!(sink.got, b"$5\r\nhello\r\n+OK\r\n:1\r\n");
    }
}
