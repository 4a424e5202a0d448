//! Tests of `reply`.

use super::*;

fn output() -> Output {
    Output::new(&Arc::new(Replies::new(QUEUED_LIMIT)))
}

fn sent(out: &mut Output) -> Vec<u8> {
    let mut sink = Vec::new();
    out.send(&mut sink).unwrap();
    assert_eq!(out.pending(), 0);
    sink
}

#[test]
fn bulk_sizes_are_exact() {
    for len in [0, 1, 9, 10, 99, 100, 65_536] {
        let mut out = output();
        out.bulk(&vec![b'x'; len]);
        assert_eq!(out.pending(), bulk_size(len), "{len}");
    }
}

#[test]
fn encodes_every_kind() {
    let mut out = output();
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
    let replies = Arc::new(Replies::new(QUEUED_LIMIT));
    let mut out = Output::new(&replies);
    out.simple("first");
    out.bulk_owned(vec![7u8; OWN_CHUNK_AT]);
    out.simple("last");
    let mut other = Output::new(&replies);
    other.bulk(&vec![8u8; OWN_CHUNK_AT]);
    out.append(other);
    let bytes = sent(&mut out);
    let header = format!("+first\r\n${OWN_CHUNK_AT}\r\n");
    assert!(bytes.starts_with(header.as_bytes()));
    let middle = header.len() + OWN_CHUNK_AT;
    assert_eq!(&bytes[middle..middle + 9], b"\r\n+last\r\n");
    assert!(bytes.ends_with(b"\x08\r\n"));
}

#[test]
fn queued_bytes_are_the_servers_until_sent_or_dropped() {
    let replies = Arc::new(Replies::new(3 * OWN_CHUNK_AT));
    let other_server = Arc::new(Replies::new(QUEUED_LIMIT));
    let mut out = Output::new(&replies);
    out.bulk_owned(vec![1u8; OWN_CHUNK_AT]);
    out.ok();
    let queued = replies.queued();
    assert_eq!(
        queued,
        bulk_size(OWN_CHUNK_AT) - 2,
        "the header and the value"
    );
    assert_eq!(other_server.queued(), 0);
    let room = 3 * OWN_CHUNK_AT - queued;
    assert!(replies.fits(room) && !replies.fits(room + 1));
    assert!(replies.fits(OWN_CHUNK_AT - 1), "small replies always fit");
    assert!(
        replies
            .busy("GET")
            .contains(&(3 * OWN_CHUNK_AT).to_string())
    );
    let _ = sent(&mut out);
    assert_eq!(replies.queued(), 0);
    out.bulk(&vec![2u8; OWN_CHUNK_AT]);
    drop(out);
    assert_eq!(replies.queued(), 0);
}

/// A socket that counts its writes.
#[derive(Default)]
struct Counted {
    got: Vec<u8>,
    writes: usize,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        self.got.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn small_replies_appended_go_out_in_one_write() {
    let replies = Arc::new(Replies::new(QUEUED_LIMIT));
    let mut out = Output::new(&replies);
    for i in 0..16 {
        let mut one = Output::new(&replies);
        one.integer(i);
        out.append(one);
    }
    let mut sink = Counted::default();
    out.send(&mut sink).unwrap();
    assert_eq!(sink.writes, 1);
    assert!(sink.got.starts_with(b":0\r\n:1\r\n") && sink.got.ends_with(b":15\r\n"));
    assert_eq!((out.pending(), replies.queued()), (0, 0));
}

#[test]
fn numbers_are_written_as_display_writes_them() {
    for n in [0, 7, -7, 10, 99, 100, -100, i64::MAX, i64::MIN] {
        let mut out = output();
        out.integer(n);
        assert_eq!(sent(&mut out), format!(":{n}\r\n").into_bytes());
    }
}

#[test]
fn small_replies_go_out_from_one_buffer_kept_between_sends() {
    let replies = Arc::new(Replies::new(QUEUED_LIMIT));
    let mut out = Output::new(&replies);
    let mut sink = Counted::default();
    out.bulk(b"first");
    out.send(&mut sink).unwrap();
    let kept = out.buf.as_ptr();
    for _ in 0..3 {
        out.ok();
        out.send(&mut sink).unwrap();
        assert_eq!(out.buf.as_ptr(), kept, "the same allocation, reused");
    }
    assert_eq!(sink.got, b"$5\r\nfirst\r\n+OK\r\n+OK\r\n+OK\r\n");
    assert_eq!((sink.writes, out.pending(), replies.queued()), (4, 0, 0));
    // A large burst is not kept once sent.
    out.bulk(&vec![b'x'; KEEP_BUF * 2]);
    out.send(&mut sink).unwrap();
    assert_eq!(out.buf.capacity(), 0);
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
    let replies = Arc::new(Replies::new(QUEUED_LIMIT));
    let mut out = Output::new(&replies);
    out.bulk(b"hello");
    out.ok();
    let mut sink = Full {
        got: Vec::new(),
        room: 4,
    };
    out.send(&mut sink).unwrap();
    assert_eq!(out.pending(), 12);
    // What was half sent moves along with a later append.
    let mut later = Output::new(&replies);
    later.append(out);
    later.integer(1);
    sink.room = 100;
    later.send(&mut sink).unwrap();
    assert_eq!(sink.got, b"$5\r\nhello\r\n+OK\r\n:1\r\n");
    assert_eq!(replies.queued(), 0);
}

#[test]
fn a_file_tail_follows_the_replies_one_chunk_in_memory_at_a_time() {
    use std::io::{Seek, SeekFrom};
    let replies = Arc::new(Replies::new(QUEUED_LIMIT));
    let body: Vec<u8> = (0..TAIL_TURN + TAIL_CHUNK + 7).map(|i| i as u8).collect();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&body).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    let mut tail = Output::new(&replies);
    tail.payload_header(body.len() as u64);
    tail.file_tail(file, body.len() as u64);
    let mut out = Output::new(&replies);
    out.simple("first");
    out.append(tail);
    let mut expected = format!("+first\r\n${}\r\n", body.len()).into_bytes();
    expected.extend_from_slice(&body);
    assert_eq!(out.pending(), expected.len());
    let mut sink = Full {
        got: Vec::new(),
        room: 1000,
    };
    out.send(&mut sink).unwrap();
    assert!(!out.yielded(), "the socket is full");
    assert!(out.held() <= TAIL_CHUNK, "{}", out.held());
    assert!(replies.queued() <= TAIL_CHUNK + 1000);
    sink.room = usize::MAX;
    out.send(&mut sink).unwrap();
    assert!(out.yielded(), "one send moves at most TAIL_TURN bytes");
    assert!(out.pending() > 0);
    while out.pending() > 0 {
        out.send(&mut sink).unwrap();
    }
    assert!(sink.got == expected, "the bytes differ");
    assert_eq!(replies.queued(), 0);
}

#[test]
fn a_file_shorter_than_announced_is_an_error() {
    let replies = Arc::new(Replies::new(QUEUED_LIMIT));
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"short").unwrap();
    let mut out = Output::new(&replies);
    // The file stands at its end: nothing is left to read.
    out.file_tail(file, 5);
    let mut sink = Vec::new();
    let err = out.send(&mut sink).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}
