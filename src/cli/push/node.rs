//! One connection of `push` to one Redis or Valkey server (a Cluster's
//! master, or the lone server), over TCP: the handshake (AUTH, SELECT),
//! and commands pipelined in windows of bounded size.
//!
//! Invariants: at most [`IN_FLIGHT`] + 1 windows per connection are held:
//! the one being filled and those written whose replies are not read yet,
//! each at most [`WINDOW_BYTES`] (or one command, however large) and
//! [`WINDOW_COMMANDS`]; a window's replies are read only once
//! [`IN_FLIGHT`] windows are written after it, so the server always has
//! requests waiting and never waits for push. A window keeps
//! its commands' bytes until their replies are read, so a command
//! redirected (MOVED, ASK) or refused is resent or named from them; each
//! reply is matched to its command in order. A connection that fails is
//! an error naming the server: the stream can no longer be matched.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::ops::Range;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use super::url::Url;
use crate::cli::client::{Reply, reply};

/// A window is written once it holds this many bytes.
pub const WINDOW_BYTES: usize = 64 * 1024;
/// ... or this many commands.
pub const WINDOW_COMMANDS: usize = 1024;
/// How many windows may wait for their replies.
pub const IN_FLIGHT: usize = 32;

/// How long connecting to one address may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a server may leave a write or a reply waiting.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// What a command in a window is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `SET key value [PXAT t]`: `+OK` means the pair arrived.
    Set {
        /// Whether it carries an expiry (the totals checked at the end
        /// count only the pairs that cannot expire meanwhile).
        expires: bool,
    },
    /// `ASKING`, just before the command an ASK redirected.
    Asking,
    /// `EXISTS key`, for the check at the end.
    Exists {
        /// The key's deadline: a key missing after it is not a loss.
        expires_at: Option<u64>,
    },
}

/// A command in a window: where its bytes and its key are.
#[derive(Clone, Debug)]
struct Sent {
    bytes: Range<usize>,
    key: Range<usize>,
    kind: Kind,
    hops: u8,
}

/// Commands and their bytes.
#[derive(Default)]
struct Window {
    bytes: Vec<u8>,
    sent: Vec<Sent>,
}

/// A command to send again, elsewhere: what a redirection or a busy
/// cluster asked for.
#[derive(Debug)]
pub struct Retry {
    /// The whole command.
    pub bytes: Vec<u8>,
    /// Where its key is in `bytes`.
    pub key: Range<usize>,
    /// What it is.
    pub kind: Kind,
    /// How many times it was redirected or retried already.
    pub hops: u8,
    /// Why.
    pub why: Redirect,
}

/// Why a command goes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// `-MOVED slot addr`: the slot lives at `addr` now.
    Moved { slot: u16, addr: String },
    /// `-ASK slot addr`: this key is at `addr` for now (ASKING first).
    Ask { addr: String },
    /// `-TRYAGAIN`, `-CLUSTERDOWN`, `-LOADING`, `-MASTERDOWN`: a moment later.
    Later(String),
}

/// What reading replies found, besides the pairs stored.
#[derive(Default, Debug)]
pub struct Findings {
    /// Commands to send again.
    pub retries: Vec<Retry>,
    /// Keys refused, with the server's words.
    pub refused: Vec<(Vec<u8>, String)>,
    /// Keys that an EXISTS found missing (and that cannot have expired).
    pub missing: Vec<Vec<u8>>,
}

/// A connection; see the module doc.
pub struct Node {
    /// `HOST:PORT`, as the cluster names it.
    pub addr: String,
    input: BufReader<TcpStream>,
    output: TcpStream,
    filling: Window,
    /// Written, oldest first, their replies not read yet.
    written: VecDeque<Window>,
    /// Windows whose replies were read, to be filled again.
    spare: Vec<Window>,
    /// `SET`s this server acknowledged.
    pub stored: u64,
    /// Those of them without an expiry.
    pub lasting: u64,
}

impl Node {
    /// Connects to `host:port`, with `url`'s credentials and database.
    pub fn connect(host: &str, port: u16, url: &Url) -> Result<Node> {
        let addr = super::url::address(host, port);
        let stream = dial(host, port).with_context(|| format!("cannot connect to {addr}"))?;
        let _ = stream.set_nodelay(true);
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut node = Node {
            input: BufReader::with_capacity(64 * 1024, stream.try_clone()?),
            output: stream,
            addr,
            filling: Window::default(),
            written: VecDeque::new(),
            spare: Vec::new(),
            stored: 0,
            lasting: 0,
        };
        node.handshake(url)?;
        Ok(node)
    }

    fn handshake(&mut self, url: &Url) -> Result<()> {
        if let Some(password) = &url.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            args.extend(url.user.as_deref());
            args.push(password);
            if let Reply::Error(e) = self.call(&args)? {
                bail!("{} refused the credentials in the URL ({e})", self.addr);
            }
        }
        if let Some(db) = url.db.filter(|&db| db != 0)
            && let Reply::Error(e) = self.call(&[b"SELECT", db.to_string().as_bytes()])?
        {
            bail!("{} cannot select database {db} ({e})", self.addr);
        }
        Ok(())
    }

    /// Sends one command and reads its reply, with nothing else in flight;
    /// an error reply is returned as it came. A server that wants a
    /// password and was given none is an error that says so.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply> {
        debug_assert!(self.is_idle());
        let mut request = Vec::new();
        reply::encode_request(&mut request, args);
        self.write(&request)?;
        let answer = self.read()?;
        if let Reply::Error(e) = &answer
            && e.starts_with("NOAUTH")
        {
            bail!(
                "{} needs a password ({e}); give it in the URL: redis://[USER]:PASSWORD@HOST:PORT",
                self.addr
            );
        }
        Ok(answer)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.output
            .write_all(bytes)
            .map_err(|e| anyhow!("lost the connection to {} ({e})", self.addr))
    }

    fn read(&mut self) -> Result<Reply> {
        reply::read(&mut self.input).map_err(|e| match e {
            reply::ReplyError::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                anyhow!(
                    "{} did not answer within {}s",
                    self.addr,
                    IO_TIMEOUT.as_secs()
                )
            }
            e => anyhow!("lost the connection to {} ({e})", self.addr),
        })
    }

    /// Queues `SET key value [PXAT expires_at]`.
    pub fn queue_set(&mut self, key: &[u8], value: &[u8], expires_at: Option<u64>) {
        let w = &mut self.filling;
        let start = w.bytes.len();
        let at = expires_at.map(|t| t.to_string());
        let parts = if at.is_some() { 5 } else { 3 };
        let _ = write!(w.bytes, "*{parts}\r\n$3\r\nSET\r\n${}\r\n", key.len());
        let key_start = w.bytes.len() - start;
        w.bytes.extend_from_slice(key);
        let _ = write!(w.bytes, "\r\n${}\r\n", value.len());
        w.bytes.extend_from_slice(value);
        w.bytes.extend_from_slice(b"\r\n");
        if let Some(at) = &at {
            let _ = write!(w.bytes, "$4\r\nPXAT\r\n${}\r\n{at}\r\n", at.len());
        }
        w.sent.push(Sent {
            bytes: start..w.bytes.len(),
            key: key_start..key_start + key.len(),
            kind: Kind::Set {
                expires: expires_at.is_some(),
            },
            hops: 0,
        });
    }

    /// Queues `EXISTS key`.
    pub fn queue_exists(&mut self, key: &[u8], expires_at: Option<u64>) {
        let mut bytes = Vec::with_capacity(key.len() + 32);
        reply::encode_request(&mut bytes, &[&b"EXISTS"[..], key]);
        let key_start = bytes.len() - 2 - key.len();
        self.queue_again(
            bytes,
            key_start..key_start + key.len(),
            Kind::Exists { expires_at },
            0,
        );
    }

    /// Queues a command again (a [`Retry`]'s parts), after `ASKING` when
    /// `asking`.
    pub fn queue_retry(&mut self, retry: Retry, asking: bool) {
        if asking {
            let mut bytes = Vec::new();
            reply::encode_request(&mut bytes, &["ASKING"]);
            self.queue_again(bytes, 0..0, Kind::Asking, 0);
        }
        self.queue_again(retry.bytes, retry.key, retry.kind, retry.hops);
    }

    fn queue_again(&mut self, bytes: Vec<u8>, key: Range<usize>, kind: Kind, hops: u8) {
        let w = &mut self.filling;
        let start = w.bytes.len();
        w.bytes.extend_from_slice(&bytes);
        w.sent.push(Sent {
            bytes: start..w.bytes.len(),
            key,
            kind,
            hops,
        });
    }

    /// Whether the window being filled is full.
    pub fn is_full(&self) -> bool {
        self.filling.bytes.len() >= WINDOW_BYTES || self.filling.sent.len() >= WINDOW_COMMANDS
    }

    /// Whether nothing is queued or waiting for a reply.
    pub fn is_idle(&self) -> bool {
        self.filling.sent.is_empty() && self.written.is_empty()
    }

    /// Writes the window being filled; then, while more than
    /// [`IN_FLIGHT`] are written, reads the replies of the oldest.
    pub fn flush(&mut self, findings: &mut Findings) -> Result<()> {
        if self.filling.sent.is_empty() {
            return Ok(());
        }
        self.write_filling()?;
        while self.written.len() > IN_FLIGHT {
            self.read_replies(findings)?;
        }
        Ok(())
    }

    fn write_filling(&mut self) -> Result<()> {
        let next = self.spare.pop().unwrap_or_default();
        let window = std::mem::replace(&mut self.filling, next);
        self.write(&window.bytes)?;
        self.written.push_back(window);
        Ok(())
    }

    /// Writes everything queued and reads every reply.
    pub fn drain(&mut self, findings: &mut Findings) -> Result<()> {
        if !self.filling.sent.is_empty() {
            self.write_filling()?;
        }
        while !self.written.is_empty() {
            self.read_replies(findings)?;
        }
        Ok(())
    }

    /// Reads the replies of the oldest window written, one per command.
    fn read_replies(&mut self, findings: &mut Findings) -> Result<()> {
        let Some(mut window) = self.written.pop_front() else {
            return Ok(());
        };
        for cmd in &window.sent {
            // The reply to nearly every command, taken without a parse.
            if let Kind::Set { expires } = cmd.kind
                && self
                    .input
                    .fill_buf()
                    .is_ok_and(|b| b.starts_with(b"+OK\r\n"))
            {
                self.input.consume(5);
                self.stored += 1;
                self.lasting += u64::from(!expires);
                continue;
            }
            let answer = self.read()?;
            self.settle(&window.bytes, cmd, answer, findings);
        }
        // Kept for the next window, unless a large value made it large.
        if window.bytes.capacity() <= 2 * WINDOW_BYTES {
            window.bytes.clear();
            window.sent.clear();
            self.spare.push(window);
        }
        Ok(())
    }

    /// What one reply means for its command.
    fn settle(&mut self, window: &[u8], cmd: &Sent, answer: Reply, findings: &mut Findings) {
        let bytes = &window[cmd.bytes.clone()];
        let key = || bytes[cmd.key.clone()].to_vec();
        let error = match (cmd.kind, answer) {
            (Kind::Asking, _) => return,
            (_, Reply::Error(e)) => e,
            (Kind::Set { expires }, Reply::Status(s)) if s == "OK" => {
                self.stored += 1;
                self.lasting += u64::from(!expires);
                return;
            }
            (Kind::Exists { .. }, Reply::Integer(1)) => return,
            (Kind::Exists { expires_at }, Reply::Integer(0)) => {
                // A deadline reached (give or take the clocks of two
                // machines) is an expiry, not a loss.
                let soon = super::now_ms() + 10_000;
                if expires_at.is_none_or(|at| at > soon) {
                    findings.missing.push(key());
                }
                return;
            }
            (_, other) => format!("unexpected reply {other:?}"),
        };
        match redirect(&error, &self.addr) {
            Some(why) => findings.retries.push(Retry {
                bytes: bytes.to_vec(),
                key: cmd.key.clone(),
                kind: cmd.kind,
                hops: cmd.hops.saturating_add(1),
                why,
            }),
            None => findings.refused.push((key(), error)),
        }
    }
}

/// Connects to the first address of `host:port` that answers.
fn dial(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("the host name has no address")))
}

/// The redirection an error reply asks for, if any. An address without a
/// host (`:7001`, a node whose endpoint is unknown) is on `from`'s host.
pub fn redirect(error: &str, from: &str) -> Option<Redirect> {
    let mut words = error.split(' ');
    let kind = words.next()?;
    match kind {
        "MOVED" | "ASK" => {
            let slot = words.next()?.parse::<u16>().ok()?;
            let mut addr = words.next()?.to_owned();
            if addr.starts_with(':') {
                let host = from.rsplit_once(':').map_or(from, |(h, _)| h);
                addr = format!("{host}{addr}");
            }
            Some(if kind == "MOVED" {
                Redirect::Moved { slot, addr }
            } else {
                Redirect::Ask { addr }
            })
        }
        "TRYAGAIN" | "CLUSTERDOWN" | "LOADING" | "MASTERDOWN" => {
            Some(Redirect::Later(error.to_owned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirections_are_read_as_redis_writes_them() {
        assert_eq!(
            redirect("MOVED 3999 127.0.0.1:6381", "h:1"),
            Some(Redirect::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381".into()
            })
        );
        assert_eq!(
            redirect("ASK 3999 :6381", "10.0.0.1:7000"),
            Some(Redirect::Ask {
                addr: "10.0.0.1:6381".into()
            })
        );
        assert!(matches!(
            redirect(
                "TRYAGAIN Multiple keys request during rehashing of slot",
                "h:1"
            ),
            Some(Redirect::Later(_))
        ));
        assert_eq!(redirect("OOM command not allowed", "h:1"), None);
        assert_eq!(redirect("MOVED x h:1", "h:1"), None);
        assert_eq!(redirect("MOVED 1", "h:1"), None);
    }

    #[test]
    fn a_set_is_framed_with_its_key_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = Url::parse(&format!("redis://127.0.0.1:{port}")).unwrap();
        let mut node = Node::connect("127.0.0.1", port, &url).unwrap();
        node.queue_set(b"k\r\n", b"", Some(1700000000000));
        node.queue_set(b"", b"v", None);
        let w = &node.filling;
        assert_eq!(
            w.bytes,
            b"*5\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n$4\r\nPXAT\r\n$13\r\n1700000000000\r\n\
              *3\r\n$3\r\nSET\r\n$0\r\n\r\n$1\r\nv\r\n"
        );
        let first = &w.bytes[w.sent[0].bytes.clone()];
        assert_eq!(&first[w.sent[0].key.clone()], b"k\r\n");
        node.queue_exists(b"ab", None);
        let s = &node.filling.sent[2];
        let third = &node.filling.bytes[s.bytes.clone()];
        assert_eq!(third, b"*2\r\n$6\r\nEXISTS\r\n$2\r\nab\r\n");
        assert_eq!(&third[s.key.clone()], b"ab");
    }
}
