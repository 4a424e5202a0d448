//! The client side of RESP: one blocking connection to a server that
//! speaks the Redis protocol (the process that owns a database, through
//! its Unix socket), sending requests and reading their replies.
//!
//! Invariants: requests are written whole before their replies are read,
//! and replies are read in order, one per request; a reply that cannot be
//! framed ends the connection (every later call fails), since the stream
//! can no longer be trusted; a server's `-ERR` reply is an error whose
//! text is the server's, without its `ERR ` code word. A failure of the
//! socket is an error that carries its cause as text only: an `EPIPE` from
//! a server that died must never read as the closed stdout that ends a
//! command quietly with exit 0 (`output::is_broken_pipe`), or a write that
//! never happened would count as acknowledged.

pub mod reply;

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{Result, anyhow, bail};

pub use reply::Reply;

/// Requests of at most this many bytes are gathered before a write.
const GATHER: usize = 64 * 1024;

/// A connection; see the module doc.
#[derive(Debug)]
pub struct Connection {
    input: BufReader<UnixStream>,
    output: UnixStream,
    /// Requests not written yet.
    queued: Vec<u8>,
    /// Requests written or queued whose replies are not read yet.
    pending: usize,
    broken: bool,
}

impl Connection {
    /// Connects to the Unix socket at `path`.
    pub fn connect(path: &Path) -> std::io::Result<Connection> {
        let stream = UnixStream::connect(path)?;
        Ok(Connection {
            output: stream.try_clone()?,
            input: BufReader::with_capacity(64 * 1024, stream),
            queued: Vec::new(),
            pending: 0,
            broken: false,
        })
    }

    /// Queues one request; it is written by [`Connection::reply`] (or
    /// earlier, when many are queued).
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<()> {
        reply::encode_request(&mut self.queued, args);
        self.pending += 1;
        if self.queued.len() >= GATHER {
            self.write_queued()?;
        }
        Ok(())
    }

    fn write_queued(&mut self) -> Result<()> {
        if self.broken {
            bail!("the connection to the owner was lost");
        }
        if !self.queued.is_empty() {
            let sent = self.output.write_all(&self.queued);
            self.queued.clear();
            if let Err(e) = sent {
                self.broken = true;
                return Err(lost(&e));
            }
        }
        Ok(())
    }

    /// The reply to the oldest request sent and not answered yet, as it
    /// came (an error reply is a [`Reply::Error`], not an `Err`).
    pub fn reply(&mut self) -> Result<Reply> {
        if self.pending == 0 {
            bail!("no request is waiting for a reply");
        }
        self.write_queued()?;
        match reply::read(&mut self.input) {
            Ok(r) => {
                self.pending -= 1;
                Ok(r)
            }
            Err(e) => {
                self.broken = true;
                Err(lost(&e))
            }
        }
    }

    /// Sends one request and reads its reply; a `-ERR` reply is an error.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply> {
        self.send(args)?;
        self.reply()?.into_result()
    }
}

/// The error for a connection that failed, its cause as text (see the
/// module doc).
fn lost(cause: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow!("the owner stopped answering ({cause})")
}

impl Reply {
    /// `Err` for an error reply (its text without the `ERR ` code word),
    /// the reply itself otherwise.
    pub fn into_result(self) -> Result<Reply> {
        match self {
            Reply::Error(text) => Err(anyhow!(
                "{}",
                text.strip_prefix("ERR ").unwrap_or(&text).to_owned()
            )),
            other => Ok(other),
        }
    }

    /// The integer of an integer reply.
    pub fn integer(self) -> Result<i64> {
        match self {
            Reply::Integer(n) => Ok(n),
            other => Err(unexpected("an integer", &other)),
        }
    }

    /// The bytes of a bulk reply (`None` for nil).
    pub fn bulk(self) -> Result<Option<Vec<u8>>> {
        match self {
            Reply::Bulk(b) => Ok(b),
            other => Err(unexpected("a bulk string", &other)),
        }
    }

    /// The elements of an array reply (a nil array is empty).
    pub fn array(self) -> Result<Vec<Reply>> {
        match self {
            Reply::Array(items) => Ok(items.unwrap_or_default()),
            other => Err(unexpected("an array", &other)),
        }
    }
}

/// The error for a reply of the wrong kind: a server that is not what it
/// claims, or a bug; never a panic.
pub fn unexpected(wanted: &str, got: &Reply) -> anyhow::Error {
    let kind = match got {
        Reply::Status(_) => "a status",
        Reply::Error(_) => "an error",
        Reply::Integer(_) => "an integer",
        Reply::Bulk(_) => "a bulk string",
        Reply::Array(_) => "an array",
    };
    anyhow!("the owner answered with {kind} where {wanted} was expected")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixListener;

    #[test]
    fn requests_are_answered_in_order_and_errors_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            while !got.ends_with(b"$1\r\nc\r\n") {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"+OK\r\n:7\r\n-ERR nope\r\n").unwrap();
            got
        });
        let mut c = Connection::connect(&path).unwrap();
        c.send(&["a"]).unwrap();
        c.send(&["b"]).unwrap();
        c.send(&["c"]).unwrap();
        assert_eq!(c.reply().unwrap(), Reply::Status("OK".into()));
        assert_eq!(c.reply().unwrap().integer().unwrap(), 7);
        let err = c.reply().unwrap().into_result().unwrap_err();
        assert_eq!(err.to_string(), "nope");
        assert!(c.reply().is_err(), "nothing is waiting");
        assert_eq!(
            server.join().unwrap(),
            b"*1\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n*1\r\n$1\r\nc\r\n"
        );
    }

    /// Regression (sharing review): a write to an owner killed under it
    /// failed with EPIPE, which read as a closed stdout, so the command
    /// exited 0 as if its write had been acknowledged.
    #[test]
    fn a_dead_owner_is_never_a_broken_stdout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let mut c = Connection::connect(&path).unwrap();
        drop(listener.accept().unwrap());
        drop(listener);
        let big = vec![b'x'; 4 * 1024 * 1024];
        let err = c
            .send(&[&b"SET"[..], b"k", &big])
            .and_then(|()| c.reply())
            .unwrap_err();
        assert!(
            err.to_string().starts_with("the owner stopped answering"),
            "{err}"
        );
        assert!(!crate::cli::output::is_broken_pipe(&err), "{err:#}");
        assert!(
            c.call(&["PING"]).is_err(),
            "a broken connection stays broken"
        );
    }
}
