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
//! sent (conn/mod.rs), so it holds at most that plus one reply; and a command
//! whose reply grows with its arguments or with the database (MGET, KEYS,
//! SCAN) builds at most [`MAX_REPLY`] bytes, refusing with an error what
//! would be more (SCAN returns early instead, as its COUNT allows). That is
//! Redis's client-output-buffer-limit, checked before the memory is spent
//! rather than after. Those two bound one connection; all of them together
//! are bounded by [`Replies`], the bytes of every reply queued for the
//! server's clients, against its limit: a large reply (a value or a reply
//! of [`OWN_CHUNK_AT`] bytes or more) that would take the total past it is
//! refused with [`Replies::busy`] instead of queued (serve review: eight
//! clients that never read, each asking MGET for one 1 MiB value 500 times,
//! made the server hold 4 GB). Small replies are never refused: they are what
//! keeps every client working, and OUT_HIGH bounds them per connection.
//!
//! A file can follow the replies ([`Output::file_tail`]: the RDB snapshot
//! SYNC sends, snapshot.rs): it is read [`TAIL_CHUNK`] bytes at a time,
//! and only once everything before it was sent, so however large the file,
//! the queue holds one chunk of it; one [`Output::send`] moves at most
//! [`TAIL_TURN`] bytes of it and then lets the other connections have the
//! loop ([`Output::yielded`]). Nothing is queued after a tail: the
//! connection closes once it is sent.
//!
//! Invariant: a server's [`Replies::queued`] is the sum, over every live
//! [`Output`] made for it, of the bytes in its queue (sealed buffers and
//! chunks, the sent part of the front included); an Output gives its share
//! back as it sends, and the rest when dropped. The count and the limit
//! are the server's (it owns its [`Replies`], as it owns its request
//! budget), not the process's.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::format::escape_bytes;

/// A value at least this long is queued as a buffer of its own.
pub const OWN_CHUNK_AT: usize = 64 * 1024;

/// The buffer of small replies is kept between sends up to this size
/// (beyond it, given back once sent, so an idle connection holds little).
const KEEP_BUF: usize = 16 * 1024;

/// A file sent after the replies is read this many bytes at a time.
pub const TAIL_CHUNK: usize = 256 * 1024;

/// One [`Output::send`] moves at most this many bytes of a file tail.
pub const TAIL_TURN: usize = 4 * 1024 * 1024;

/// The default limit on queued replies: what the request budget is for
/// requests.
pub const QUEUED_LIMIT: usize = 1024 * 1024 * 1024;

/// The replies queued for a server's clients: their bytes, in every
/// [`Output`] made for the server, and the limit a large reply is held to.
#[derive(Debug)]
pub struct Replies {
    queued: AtomicUsize,
    limit: usize,
}

impl Replies {
    /// No replies yet, and a large one refused past `limit` bytes queued
    /// ([`QUEUED_LIMIT`]; tests lower it).
    pub fn new(limit: usize) -> Replies {
        Replies {
            queued: AtomicUsize::new(0),
            limit,
        }
    }

    /// The limit on queued replies.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes of replies queued now, in every connection.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Whether a reply of `size` bytes may be built now: a small one always,
    /// a large one while the replies queued and it stay within the limit.
    pub fn fits(&self, size: usize) -> bool {
        size < OWN_CHUNK_AT || self.queued().saturating_add(size) <= self.limit
    }

    /// The error for a large reply refused by [`Replies::fits`].
    pub fn busy(&self, command: &str) -> String {
        format!(
            "ERR server busy: {command}'s reply would take the replies waiting for clients past {} \
             bytes; try again once they read them",
            self.limit
        )
    }

    fn add(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::Relaxed);
    }

    fn sub(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The most one reply may hold: two values of the largest size and their
/// framing, so that what one MSET may write one MGET may read back.
pub const MAX_REPLY: usize = super::request::limits::TWO_VALUES;

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

/// `ERR wrong number of arguments for 'get' command`.
pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// Bytes as they can appear in a one-line reply: escaped, and cut.
pub fn shown(bytes: &[u8], max: usize) -> String {
    escape_bytes(&bytes[..bytes.len().min(max)])
}

/// Replies not yet sent.
#[derive(Debug)]
pub struct Output {
    /// The server's count of queued replies, which this queue is part of.
    replies: Arc<Replies>,
    /// Small replies being gathered.
    buf: Vec<u8>,
    /// Buffers to send, in order.
    queue: VecDeque<Vec<u8>>,
    /// Bytes of the front buffer already sent.
    sent: usize,
    /// Bytes in `queue`, the sent part of the front included.
    queued: usize,
    /// A file to send after everything else, and its bytes not yet read.
    tail: Option<(File, u64)>,
    /// The last send stopped at [`TAIL_TURN`] with room left in the socket.
    yielded: bool,
}

impl Drop for Output {
    fn drop(&mut self) {
        self.replies.sub(self.queued);
    }
}

impl Output {
    /// No replies yet, counted in `replies` once queued.
    pub fn new(replies: &Arc<Replies>) -> Output {
        Output {
            replies: Arc::clone(replies),
            buf: Vec::new(),
            queue: VecDeque::new(),
            sent: 0,
            queued: 0,
            tail: None,
            yielded: false,
        }
    }

    /// Sends the first `len` bytes of `file` (read from where it stands)
    /// after every reply queued so far; nothing may be queued after it.
    pub fn file_tail(&mut self, file: File, len: u64) {
        debug_assert!(self.tail.is_none());
        self.tail = Some((file, len));
    }

    /// Whether the last [`Output::send`] stopped at [`TAIL_TURN`] bytes of
    /// the file tail with room left in the socket: no writable event will
    /// come, so the caller sends again on its next turn.
    pub fn yielded(&self) -> bool {
        self.yielded
    }

    /// Bytes of replies held in memory, not yet sent.
    pub fn held(&self) -> usize {
        self.buf.len() + self.queued - self.sent
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

    /// `*-1`: no array (EXEC after a watched key changed).
    pub fn nil_array(&mut self) {
        self.buf.extend_from_slice(b"*-1\r\n");
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

    /// `$len` alone: the bytes follow as a file tail, and no CRLF after
    /// them, as Redis sends an RDB payload (SYNC).
    pub fn payload_header(&mut self, len: u64) {
        self.buf.push(b'$');
        let _ = write!(self.buf, "{len}\r\n");
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

    /// Bytes of replies not yet sent, a file tail's included.
    pub fn pending(&self) -> usize {
        let tail = self.tail.as_ref().map_or(0, |(_, left)| *left);
        self.held()
            .saturating_add(usize::try_from(tail).unwrap_or(usize::MAX))
    }

    /// Queues every reply of `other` after these.
    pub fn append(&mut self, mut other: Output) {
        if let Some(tail) = other.tail.take() {
            debug_assert!(self.tail.is_none());
            self.append(other);
            self.tail = Some(tail);
            return;
        }
        if other.queue.is_empty() {
            // Only small replies, gathered and not yet counted: they join
            // this one's, so that a pipeline's replies made elsewhere (a
            // round's, EXEC's) go out in one write, not one each.
            self.buf.append(&mut other.buf);
            return;
        }
        other.seal();
        if other.queue.is_empty() {
            return;
        }
        self.seal();
        debug_assert!(Arc::ptr_eq(&self.replies, &other.replies));
        if other.sent > 0 {
            if let Some(front) = other.queue.front_mut() {
                front.drain(..other.sent);
            }
            other.queued -= other.sent;
            other.replies.sub(other.sent);
        }
        // The bytes change hands; the server's count stays.
        self.queued += std::mem::take(&mut other.queued);
        self.queue.extend(std::mem::take(&mut other.queue));
    }

    /// Sends what `sink` takes without blocking; `Ok` when everything was
    /// sent, the socket is full (then [`Output::pending`] is not zero), or
    /// a file tail had its turn's share ([`Output::yielded`]).
    pub fn send(&mut self, sink: &mut impl Write) -> io::Result<()> {
        self.yielded = false;
        let mut from_tail = 0;
        loop {
            if !self.send_queue(sink)? {
                return Ok(());
            }
            let Some((file, left)) = self.tail.as_mut() else {
                return Ok(());
            };
            if *left == 0 {
                self.tail = None;
                return Ok(());
            }
            if from_tail >= TAIL_TURN {
                self.yielded = true;
                return Ok(());
            }
            let n = (*left).min(TAIL_CHUNK as u64) as usize;
            let mut chunk = vec![0u8; n];
            file.read_exact(&mut chunk)?;
            *left -= n as u64;
            from_tail += n;
            self.push_chunk(chunk);
        }
    }

    /// Sends the queue; whether all of it went (false: the socket is full).
    fn send_queue(&mut self, sink: &mut impl Write) -> io::Result<bool> {
        if self.queue.is_empty() && !self.buf.is_empty() {
            // Only small replies: they go straight from the buffer, which
            // is kept for the next ones (one allocation a connection, not
            // one per reply); what the socket does not take is sealed and
            // queued as before.
            loop {
                match sink.write(&self.buf) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) if n == self.buf.len() => {
                        self.buf.clear();
                        if self.buf.capacity() > KEEP_BUF {
                            self.buf = Vec::new();
                        }
                        return Ok(true);
                    }
                    Ok(n) => {
                        self.buf.drain(..n);
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.seal();
        while let Some(front) = self.queue.front() {
            match sink.write(&front[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    if self.sent == front.len() {
                        self.queued -= front.len();
                        self.replies.sub(front.len());
                        self.sent = 0;
                        self.queue.pop_front();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Moves the gathered small replies to the queue.
    fn seal(&mut self) {
        if !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            self.queued += buf.len();
            self.replies.add(buf.len());
            self.queue.push_back(buf);
        }
    }

    fn push_chunk(&mut self, chunk: Vec<u8>) {
        self.seal();
        self.queued += chunk.len();
        self.replies.add(chunk.len());
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

    /// `n` in decimal, then CRLF (every bulk reply's header: digits by
    /// hand, as `write!` costs more than the rest of a short reply).
    fn number(&mut self, n: i64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = n.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if n < 0 {
            self.buf.push(b'-');
        }
        self.buf.extend_from_slice(&digits[at..]);
        self.buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests;
