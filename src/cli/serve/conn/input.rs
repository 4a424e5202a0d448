//! A connection's input: the bytes read from its socket and not parsed
//! yet, and when to read more.
//!
//! Bytes are read into the event loop's one read buffer (the scratch,
//! [`READ_BUF`](super::READ_BUF) bytes, lent to each connection in
//! turn) and parsed from there; only what the parser leaves (part of a
//! line, or requests not run yet because the connection paused) is copied
//! into the connection's own buffer when the scratch goes to the next
//! connection, so an idle connection holds no buffer at all.
//!
//! Invariants: the unparsed bytes are `start..end` of the scratch (while
//! `in_scratch`) or of `buf`; they are kept in order across turns; no read
//! is made once the socket said it has nothing more until its next
//! readable event (`drained`), nor after the end of input (`eof`); once
//! the peer has closed its side (`peer_closed`, from the event), a short
//! read is not "drained": the end of input waits behind the data, and the
//! edge-triggered poll will not report it again.

use std::io::{self, Read};

/// A connection's own buffer is given back once empty, if it grew past this.
const KEEP_INPUT: usize = 4 * 1024;

/// The unparsed input of one connection.
#[derive(Debug, Default)]
pub struct Input {
    /// Input not yet parsed, kept from an earlier turn (usually empty: an
    /// idle connection holds no buffer).
    buf: Vec<u8>,
    /// Whether the input being parsed is in the loop's buffer (this turn's
    /// read) rather than in `buf`.
    in_scratch: bool,
    /// The unparsed part of the current input: `start..end`.
    start: usize,
    end: usize,
    /// The last read took less than it could: the socket has nothing more
    /// until its next readable event (so no read just to hear "would block").
    drained: bool,
    /// The peer closed its side (or the socket failed): read until the end
    /// of input (or the error) shows, whatever a read returns before it.
    peer_closed: bool,
    /// No more input will be read (end of input, or shutdown).
    eof: bool,
}

impl Input {
    /// The bytes not parsed yet.
    pub fn unparsed<'a>(&'a self, scratch: &'a [u8]) -> &'a [u8] {
        if self.in_scratch {
            &scratch[self.start..self.end]
        } else {
            &self.buf[self.start..self.end]
        }
    }

    /// The parser used `n` of the unparsed bytes.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// The socket has input (a readable event), or its peer closed its
    /// side (`closed`: the event said the read side hung up or failed).
    pub fn readable(&mut self, closed: bool) {
        self.drained = false;
        self.peer_closed |= closed;
    }

    /// Reads no more (shutdown); what was read is still parsed.
    pub fn stop(&mut self) {
        self.eof = true;
    }

    /// Whether no more input will be read.
    pub fn ended(&self) -> bool {
        self.eof
    }

    /// Whether a read now may find something.
    pub fn may_read(&self) -> bool {
        !self.eof && !self.drained
    }

    /// Reads what the socket has into the loop's buffer (after what is
    /// left of a request, if anything); false when it has nothing now (or
    /// ended).
    pub fn read(&mut self, stream: &mut impl Read, scratch: &mut [u8]) -> io::Result<bool> {
        // What is left must move out of the way of the new bytes.
        self.keep_unparsed(scratch);
        loop {
            return match stream.read(scratch) {
                Ok(0) => {
                    self.eof = true;
                    Ok(false)
                }
                Ok(n) => {
                    // Regression (serve review): a request and the FIN that
                    // came with it raise one edge; taking the short read for
                    // "drained" never read the end, and the connection (its
                    // slot, its budget) stayed in CLOSE-WAIT for good.
                    self.drained = n < scratch.len() && !self.peer_closed;
                    if self.end == self.start {
                        // Nothing left over: parse straight from the buffer.
                        self.in_scratch = true;
                        self.start = 0;
                        self.end = n;
                    } else {
                        self.buf.extend_from_slice(&scratch[..n]);
                        self.end += n;
                    }
                    Ok(true)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
        }
    }

    /// Moves the unparsed input into the connection's own buffer (the
    /// loop's is about to be read into, or lent to another connection), and
    /// gives that buffer back when there is nothing in it.
    pub fn keep_unparsed(&mut self, scratch: &[u8]) {
        if self.in_scratch {
            self.buf.clear();
            self.buf.extend_from_slice(&scratch[self.start..self.end]);
            self.in_scratch = false;
        } else {
            self.buf.drain(..self.start);
        }
        self.start = 0;
        self.end = self.buf.len();
        if self.buf.is_empty() && self.buf.capacity() > KEEP_INPUT {
            self.buf = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that gives `chunks` (an empty one: the end of input), then
    /// would block.
    struct Chunks(Vec<Vec<u8>>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let chunk = self.0.remove(0);
            buf[..chunk.len()].copy_from_slice(&chunk);
            Ok(chunk.len())
        }
    }

    #[test]
    fn unparsed_bytes_survive_the_scratch_being_lent_out() {
        let mut scratch = vec![0u8; 16];
        let mut input = Input::default();
        let mut socket = Chunks(vec![b"abcdef".to_vec(), b"gh".to_vec()]);
        assert!(input.read(&mut socket, &mut scratch).unwrap());
        assert_eq!(input.unparsed(&scratch), b"abcdef");
        input.consume(4);
        // Another connection uses the scratch.
        input.keep_unparsed(&scratch);
        scratch.fill(b'x');
        assert_eq!(input.unparsed(&scratch), b"ef");
        assert!(input.read(&mut socket, &mut scratch).unwrap());
        assert_eq!(input.unparsed(&scratch), b"efgh");
        // A short read means nothing more until the next readable event.
        assert!(!input.may_read());
        input.readable(false);
        assert!(!input.read(&mut socket, &mut scratch).unwrap());
        input.consume(4);
        input.keep_unparsed(&scratch);
        assert_eq!(input.unparsed(&scratch), b"");
    }

    #[test]
    fn after_the_peer_closed_a_short_read_is_not_the_end_of_reading() {
        let mut scratch = vec![0u8; 16];
        let mut input = Input::default();
        let mut socket = Chunks(vec![b"PING\r\n".to_vec(), Vec::new()]);
        // One event: the request and the FIN behind it.
        input.readable(true);
        assert!(input.read(&mut socket, &mut scratch).unwrap());
        assert!(input.may_read(), "the end of input is still to be read");
        assert!(!input.read(&mut socket, &mut scratch).unwrap());
        assert!(input.ended());
    }
}
