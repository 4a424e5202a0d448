//! The network decoders' fuzz target, `serve_resp` (re-exported by
//! `tinykv::fuzzing`; see fuzz/README.md): arbitrary bytes through the
//! RESP and inline parser, cut into chunks where the input says, the way
//! a socket cuts a stream.
//!
//! The input's first byte picks the limits (bit 0: those of a client that
//! has not authenticated) and how many cuts follow (bits 1-3); each cut is
//! two bytes (a little-endian offset into the rest, modulo its length);
//! the rest is the stream. Properties, beyond "no panic":
//!
//! - what the parser holds never exceeds [`Limits::request`], and counts
//!   at least the `Vec` of every argument so far (empty ones included);
//! - what a connection must keep between reads (the bytes the parser did
//!   not consume) is at most a line;
//! - the requests and the first error are the same however the stream is
//!   cut, so a request never depends on how it arrived.

use super::limits::{Limits, request_bytes};
use super::parse::Parser;
use super::{ProtocolError, Request};

/// Arbitrary bytes through the request parser: see the module's doc.
pub fn serve_resp(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let limits = if flags & 1 == 1 {
        Limits::UNAUTHENTICATED
    } else {
        Limits::DEFAULT
    };
    let cuts = usize::from((flags >> 1) & 7);
    let (header, stream) = rest.split_at((2 * cuts).min(rest.len()));
    let mut at: Vec<usize> = header
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (stream.len() + 1))
        .collect();
    at.sort_unstable();
    at.push(stream.len());

    let whole = parse_in_chunks(limits, stream, &[stream.len()]);
    let cut = parse_in_chunks(limits, stream, &at);
    assert_eq!(whole, cut, "the result depends on where the stream was cut");
    let (requests, _) = whole;
    for request in &requests {
        assert!(!request.is_empty(), "an empty request was returned");
        assert!(request_bytes(request) >= request.len() * std::mem::size_of::<Vec<u8>>());
    }
}

/// Feeds `stream` to a parser as a connection would, the bytes up to
/// each of `ends` arriving at once: the requests, and the first error.
fn parse_in_chunks(
    limits: Limits,
    stream: &[u8],
    ends: &[usize],
) -> (Vec<Request>, Option<ProtocolError>) {
    let mut parser = Parser::new(limits);
    let mut pending: Vec<u8> = Vec::new();
    let mut requests = Vec::new();
    let mut from = 0;
    for &end in ends {
        pending.extend_from_slice(&stream[from..end]);
        from = end;
        loop {
            let result = parser.parse(&pending);
            assert!(
                parser.held() <= limits.request,
                "the parser holds {} bytes, over the limit of {}",
                parser.held(),
                limits.request
            );
            assert!(
                parser.held() >= parser.arguments() * std::mem::size_of::<Vec<u8>>(),
                "arguments held but not counted"
            );
            match result {
                Ok((used, request)) => {
                    assert!(used <= pending.len());
                    pending.drain(..used);
                    match request {
                        Some(request) => requests.push(request),
                        None => break,
                    }
                }
                Err(e) => return (requests, Some(e)),
            }
        }
        // What waits for more input is part of one line at most.
        assert!(
            pending.len() <= limits.inline + 1,
            "{} unparsed bytes kept",
            pending.len()
        );
    }
    (requests, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_come_from_the_input() {
        // Three cuts, at 1, 5 and 9, of a pipeline.
        let mut input = vec![3 << 1];
        for at in [1u16, 5, 9] {
            input.extend_from_slice(&at.to_le_bytes());
        }
        input.extend_from_slice(b"*1\r\n$4\r\nPING\r\nGET k\r\n*2\r\n$0\r\n\r\n$1\r\nx\r\n");
        serve_resp(&input);
        serve_resp(&[]);
        serve_resp(&[0xff]);
        serve_resp(b"\x01*11\r\n");
    }
}
