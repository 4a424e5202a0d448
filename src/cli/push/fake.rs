//! A fake Redis node for push's unit tests: a loopback listener whose
//! connections each get a thread that reads RESP requests and answers
//! them with what a closure says, so that redirections (MOVED, ASK) and
//! refusals can be staged exactly, which a real cluster does only by
//! timing. Compiled for tests only.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// What a connection has been told so far (ASKING is per connection).
#[derive(Default)]
pub struct Conn {
    /// The previous command was ASKING.
    pub asking: bool,
}

/// Answers one request (its words) with the bytes of a reply.
pub type Handler = dyn Fn(&mut Conn, &[Vec<u8>]) -> Vec<u8> + Send + Sync;

/// Starts a fake node; returns its port. It lives as long as the test.
pub fn start(handler: Arc<Handler>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let handler = Arc::clone(&handler);
            std::thread::spawn(move || serve(stream, &*handler));
        }
    });
    port
}

fn serve(stream: TcpStream, handler: &Handler) {
    let mut out = stream.try_clone().unwrap();
    let mut input = BufReader::new(stream);
    let mut conn = Conn::default();
    while let Some(words) = request(&mut input) {
        let asking = words[0].eq_ignore_ascii_case(b"ASKING");
        let reply = if asking {
            b"+OK\r\n".to_vec()
        } else {
            handler(&mut conn, &words)
        };
        conn.asking = asking;
        if out.write_all(&reply).is_err() {
            return;
        }
    }
}

fn request(input: &mut impl BufRead) -> Option<Vec<Vec<u8>>> {
    let n = number(input, b'*')?;
    (0..n)
        .map(|_| {
            let len = number(input, b'$')?;
            let mut word = vec![0; len + 2];
            input.read_exact(&mut word).ok()?;
            word.truncate(len);
            Some(word)
        })
        .collect()
}

fn number(input: &mut impl BufRead, kind: u8) -> Option<usize> {
    let mut line = Vec::new();
    input.read_until(b'\n', &mut line).ok()?;
    let text = line.strip_prefix(&[kind])?.strip_suffix(b"\r\n")?;
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// A bulk reply.
pub fn bulk(text: &str) -> Vec<u8> {
    format!("${}\r\n{text}\r\n", text.len()).into_bytes()
}
