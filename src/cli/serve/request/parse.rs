//! The RESP2 request parser: multibulk requests (`*N` then N `$len`
//! bulks, what client libraries send) and inline commands (one line of
//! words, what `redis-cli`, `telnet` and `nc` send).
//!
//! The parser is streaming: [`Parser::parse`] takes whatever bytes have
//! arrived, consumes what it can, and keeps its place between calls, so a
//! request may arrive one byte at a time and a pipeline of many requests in
//! one read. Bulk data is copied straight into the argument it belongs to;
//! the caller's read buffer only ever holds part of a line.
//!
//! Invariants: no length from the wire is trusted. A bulk length is checked
//! against [`Limits::bulk`] from its header, before a byte of it is kept, and
//! the memory for an argument grows with the bytes actually received, never
//! with the length declared; an array length is checked against
//! [`Limits::args`]; a line (inline command or header) that does not end
//! within its limit is refused without waiting for the rest; and the whole
//! request is held to [`Limits::request`], counting what each argument
//! costs beyond its bytes ([`Parser::held`] counts as
//! [`request_bytes`](super::limits::request_bytes) does). Every refusal is a
//! [`ProtocolError`] whose text is the `-ERR` reply Redis would give, after
//! which the caller closes the connection (the stream can no longer be
//! framed).

use super::limits::{ARG_HEADER, FIRST_ARGS, HEAP_BLOCK, Limits, overhead_bound};
use super::{ProtocolError, Request, inline};

/// The longest `*N` or `$N` header line, CRLF excluded: a sign and 19 digits.
const MAX_HEADER: usize = 20;

/// Where the parser is inside a multibulk request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between requests.
    Start,
    /// Expecting a `$len` header; `left` bulks remain, this one included.
    Header { left: usize },
    /// Inside bulk data: `need` bytes to go, then `left` more bulks.
    Data { left: usize, need: usize },
    /// After bulk data: expecting CRLF, then `left` more bulks.
    Crlf { left: usize },
}

/// The streaming parser of one connection.
#[derive(Debug)]
pub struct Parser {
    limits: Limits,
    state: State,
    args: Request,
    /// The capacity of the arguments' buffers so far.
    bytes: usize,
    /// The bulk lengths declared so far (what `bytes` grows toward).
    declared: usize,
}

impl Parser {
    /// A parser between requests.
    pub fn new(limits: Limits) -> Parser {
        Parser {
            limits,
            state: State::Start,
            args: Vec::new(),
            bytes: 0,
            declared: 0,
        }
    }

    /// Changes the limits from the next header on (after AUTH).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The arguments of the request in progress so far.
    #[cfg(any(test, feature = "testing"))]
    pub fn arguments(&self) -> usize {
        self.args.len()
    }

    /// Bytes of memory the request in progress holds so far: at most
    /// [`Limits::request`].
    pub fn held(&self) -> usize {
        if self.args.capacity() == 0 {
            return 0;
        }
        self.bytes + self.args.capacity() * ARG_HEADER + self.args.len() * HEAP_BLOCK
    }

    /// Consumes from `input` what it can. Returns how many bytes were
    /// consumed and, when one was completed, a request; `(n, None)` means
    /// that more input is needed (the unconsumed bytes, a partial line, must
    /// be passed again with what follows). Empty requests (`*0`, blank
    /// lines) are skipped, as Redis does.
    pub fn parse(&mut self, input: &[u8]) -> Result<(usize, Option<Request>), ProtocolError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Start => {
                    let Some(&first) = rest.first() else {
                        return Ok((pos, None));
                    };
                    if first != b'*' {
                        let Some(line_len) = line_end(rest, self.limits.inline)
                            .map_err(|()| ProtocolError::InlineTooLong(self.limits.inline))?
                        else {
                            return Ok((pos, None));
                        };
                        pos += line_len + 1;
                        let line = &rest[..line_len];
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        let args = inline::split(line)?;
                        if !args.is_empty() {
                            return Ok((pos, Some(args)));
                        }
                        continue;
                    }
                    let Some((n, used)) = header(rest, '*')? else {
                        return Ok((pos, None));
                    };
                    pos += used;
                    let n = n.ok_or(ProtocolError::BadArrayLength(self.limits.args))?;
                    if n > self.limits.args as i64 {
                        return Err(ProtocolError::BadArrayLength(self.limits.args));
                    }
                    if n > 0 {
                        let n = n as usize;
                        // The declared count is not trusted for memory either.
                        self.args = Vec::with_capacity(n.min(FIRST_ARGS));
                        self.bytes = 0;
                        self.declared = 0;
                        self.state = State::Header { left: n };
                    }
                }
                State::Header { left } => {
                    let Some(&first) = rest.first() else {
                        return Ok((pos, None));
                    };
                    if first != b'$' {
                        return Err(ProtocolError::ExpectedBulk(first));
                    }
                    let Some((len, used)) = header(rest, '$')? else {
                        return Ok((pos, None));
                    };
                    pos += used;
                    let bad = ProtocolError::BadBulkLength(self.limits.bulk);
                    let len = len.filter(|&n| n >= 0).ok_or(bad.clone())? as u64;
                    if len > self.limits.bulk as u64 {
                        return Err(bad);
                    }
                    let len = len as usize;
                    let bound = self.declared + len + overhead_bound(self.args.len() + 1);
                    if bound > self.limits.request {
                        return Err(ProtocolError::RequestTooLarge(self.limits.request));
                    }
                    self.declared += len;
                    let arg = Vec::with_capacity(len.min(64 * 1024));
                    self.bytes += arg.capacity();
                    self.args.push(arg);
                    self.state = State::Data {
                        left: left - 1,
                        need: len,
                    };
                }
                State::Data { left, need } => {
                    let take = need.min(rest.len());
                    let arg = self
                        .args
                        .last_mut()
                        .expect("a bulk in progress has its arg");
                    let before = arg.capacity();
                    grow_toward(arg, take, need);
                    self.bytes += arg.capacity() - before;
                    arg.extend_from_slice(&rest[..take]);
                    pos += take;
                    if take < need {
                        self.state = State::Data {
                            left,
                            need: need - take,
                        };
                        return Ok((pos, None));
                    }
                    self.state = State::Crlf { left };
                }
                State::Crlf { left } => {
                    if rest.len() < 2 {
                        return Ok((pos, None));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(ProtocolError::MissingCrlf);
                    }
                    pos += 2;
                    if left > 0 {
                        self.state = State::Header { left };
                        continue;
                    }
                    self.state = State::Start;
                    self.bytes = 0;
                    self.declared = 0;
                    return Ok((pos, Some(std::mem::take(&mut self.args))));
                }
            }
        }
    }
}

/// Reserves room in `arg` for `take` more bytes, doubling but never past
/// the `need` still declared, so a bulk ends with capacity ≈ its length.
fn grow_toward(arg: &mut Vec<u8>, take: usize, need: usize) {
    let len = arg.len();
    if arg.capacity() - len >= take {
        return;
    }
    let want = (arg.capacity() * 2).clamp(len + take, len + need);
    arg.reserve_exact(want - len);
}

/// The index of the `\n` ending the line that starts `buf`; `Ok(None)` when
/// it has not arrived yet; `Err` when it cannot end within `max` bytes.
fn line_end(buf: &[u8], max: usize) -> Result<Option<usize>, ()> {
    // The line may hold `max` bytes and a CR before its LF.
    let window = &buf[..buf.len().min(max + 2)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) => Ok(Some(i)),
        None if window.len() == max + 2 => Err(()),
        None => Ok(None),
    }
}

/// A `*N` or `$N` header at the start of `buf`: the number (`None` when
/// it is not a number) and the bytes used, CRLF included; `Ok(None)` when
/// the line is not complete yet.
fn header(buf: &[u8], kind: char) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    let Some(nl) =
        line_end(buf, MAX_HEADER + 1).map_err(|()| ProtocolError::HeaderTooLong(kind))?
    else {
        return Ok(None);
    };
    let number = buf[..nl]
        .strip_suffix(b"\r")
        .and_then(|line| parse_int(&line[1..]));
    Ok(Some((number, nl + 1)))
}

/// A decimal integer: an optional `-` and 1 to 19 digits, nothing else,
/// within `i64`. Every request's headers go through here, two or three a
/// request: read digit by digit (19 digits never overflow a `u64`), not
/// through `str::parse`, which cost a tenth of the loop's own instructions
/// per GET.
pub fn parse_int(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes.strip_prefix(b"-") {
        Some(digits) => (true, digits),
        None => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    if negative {
        0i64.checked_sub_unsigned(n)
    } else {
        i64::try_from(n).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::serve::request::limits::request_bytes;
    use crate::engine::MAX_VALUE_LEN;

    fn parse_all(parser: &mut Parser, input: &[u8]) -> Result<Vec<Request>, ProtocolError> {
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            let (used, req) = parser.parse(&input[pos..])?;
            pos += used;
            match req {
                Some(r) => out.push(r),
                None => return Ok(out),
            }
        }
    }

    fn words(list: &[&[u8]]) -> Request {
        list.iter().map(|w| w.to_vec()).collect()
    }

    #[test]
    fn multibulk_and_pipelines() {
        let mut p = Parser::new(Limits::DEFAULT);
        let input = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n";
        let got = parse_all(&mut p, input).unwrap();
        assert_eq!(
            got,
            vec![words(&[b"GET", b"k"]), words(&[b"SET", b"k", b"a\r\nb"])]
        );
    }

    #[test]
    fn one_byte_at_a_time() {
        let input = b"*3\r\n$3\r\nSET\r\n$2\r\n\0\xff\r\n$0\r\n\r\nPING\r\n";
        let mut p = Parser::new(Limits::DEFAULT);
        let mut got = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for &b in input.iter() {
            pending.push(b);
            let (used, req) = p.parse(&pending).unwrap();
            pending.drain(..used);
            got.extend(req);
        }
        assert_eq!(
            got,
            vec![words(&[b"SET", b"\0\xff", b""]), words(&[b"PING"])]
        );
        assert!(pending.is_empty());
    }

    #[test]
    fn empty_requests_are_skipped() {
        let mut p = Parser::new(Limits::DEFAULT);
        let got = parse_all(&mut p, b"*0\r\n*-1\r\n\r\n   \n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(got, vec![words(&[b"PING"])]);
    }

    #[test]
    fn inline_commands_in_a_stream() {
        let mut p = Parser::new(Limits::DEFAULT);
        assert_eq!(
            parse_all(&mut p, b"PING\nECHO hi\r\n").unwrap(),
            vec![words(&[b"PING"]), words(&[b"ECHO", b"hi"])]
        );
    }

    #[test]
    fn lengths_are_not_trusted() {
        let err = |input: &[u8]| {
            let mut p = Parser::new(Limits::DEFAULT);
            parse_all(&mut p, input).unwrap_err().to_string()
        };
        assert!(err(b"*x\r\n").contains("invalid multibulk length"));
        assert!(err(b"*99999999\r\n").contains("invalid multibulk length"));
        assert!(err(b"*1\r\n$-1\r\n").contains("invalid bulk length"));
        assert!(err(b"*1\r\n$2147483648\r\n").contains("invalid bulk length"));
        assert!(err(b"*1\r\n$99999999999999999999999\r\n").contains("too big bulk count"));
        assert!(err(b"*1\r\n+OK\r\n").contains("expected '$', got '+'"));
        assert!(err(b"*1\r\n$1\r\nab\r\n").contains("expected CRLF"));
        assert!(err(b"*1\r\n$\r\n").contains("invalid bulk length"));
        assert!(err(b"*1\n").contains("invalid multibulk length"));
    }

    #[test]
    fn a_huge_bulk_is_refused_from_its_header() {
        let mut p = Parser::new(Limits::DEFAULT);
        let e = parse_all(&mut p, b"*2\r\n$3\r\nSET\r\n$2147483648\r\n").unwrap_err();
        assert_eq!(e, ProtocolError::BadBulkLength(MAX_VALUE_LEN));
        // A legal but large one holds only what has arrived.
        let mut p = Parser::new(Limits::DEFAULT);
        let (_, req) = p.parse(b"*1\r\n$200000000\r\nabc").unwrap();
        assert!(req.is_none());
        assert!(p.args[0].capacity() <= 64 * 1024);
        assert!(p.held() <= 64 * 1024 + overhead_bound(1), "{}", p.held());
    }

    #[test]
    fn empty_arguments_are_counted() {
        let n = 100_000;
        let mut input = format!("*{n}\r\n").into_bytes();
        for _ in 0..n - 1 {
            input.extend_from_slice(b"$0\r\n\r\n");
        }
        let mut p = Parser::new(Limits::DEFAULT);
        let (used, req) = p.parse(&input).unwrap();
        assert_eq!((used, req), (input.len(), None));
        // Every empty argument holds its Vec in the list, at least.
        assert!(p.held() >= (n - 1) * ARG_HEADER, "{}", p.held());
        assert!(p.held() <= Limits::DEFAULT.request);
        let (_, req) = p.parse(b"$1\r\nx\r\n").unwrap();
        let req = req.unwrap();
        assert_eq!(req.len(), n);
        assert!(request_bytes(&req) >= n * ARG_HEADER);
        assert_eq!(p.held(), 0);
        // A limit on the bytes is a limit on the overhead too.
        let limits = Limits {
            request: 1024 * 1024,
            ..Limits::DEFAULT
        };
        let mut p = Parser::new(limits);
        let e = p.parse(&input).unwrap_err();
        assert_eq!(e, ProtocolError::RequestTooLarge(limits.request));
    }

    #[test]
    fn endless_lines_are_refused() {
        let limits = Limits::DEFAULT;
        let mut p = Parser::new(limits);
        let line = vec![b'a'; limits.inline + 2];
        assert_eq!(
            p.parse(&line).unwrap_err(),
            ProtocolError::InlineTooLong(limits.inline)
        );
        let mut p = Parser::new(limits);
        assert_eq!(p.parse(&line[..100]).unwrap(), (0, None));
        let mut p = Parser::new(limits);
        let e = p.parse(b"*111111111111111111111111").unwrap_err();
        assert_eq!(e, ProtocolError::HeaderTooLong('*'));
    }

    #[test]
    fn request_size_is_limited() {
        let limits = Limits {
            request: 10,
            ..Limits::DEFAULT
        };
        let mut p = Parser::new(limits);
        let e = parse_all(&mut p, b"*3\r\n$3\r\nSET\r\n$5\r\nkkkkk\r\n$5\r\n").unwrap_err();
        assert_eq!(e, ProtocolError::RequestTooLarge(10));
        let mut p = Parser::new(Limits::UNAUTHENTICATED);
        let e = parse_all(&mut p, b"*11\r\n").unwrap_err();
        assert_eq!(e, ProtocolError::BadArrayLength(10));
    }

    #[test]
    fn integers_are_strict() {
        assert_eq!(parse_int(b"42"), Some(42));
        assert_eq!(parse_int(b"-1"), Some(-1));
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"-0"), Some(0));
        assert_eq!(parse_int(b"007"), Some(7));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b" 1",
            b"1x",
            b"1-",
            b"--1",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"9999999999999999999",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
        // The same answers as the standard library's parser, which this
        // replaces for speed, on every shape a header may take.
        for text in [
            "1",
            "-1",
            "12345",
            "-12345",
            "18446744073709551615",
            "0000000000000000001",
        ] {
            assert_eq!(parse_int(text.as_bytes()), text.parse().ok(), "{text}");
        }
    }
}
