//! One client connection, on a thread of its own: read what has arrived,
//! run every complete request in it, send the replies, read again.
//!
//! Pipelining: replies are buffered and sent when the input is drained (or
//! the buffer is large), not after each command, so a pipeline of N
//! commands costs one read and one write, not N of each.
//!
//! Group commit inside a pipeline: the engine shares one fsync among
//! writers on different threads, but a pipelined connection is one thread,
//! and writing its SETs one at a time would cost an fsync each. So
//! consecutive blind writes (plain SET, MSET) that have already arrived are
//! gathered into one atomic batch, written when something else comes (a
//! read must see them), when the input is drained, or when the batch is
//! large; each gets its `+OK` only after the batch is durable. Atomicity
//! only grows (the SETs land together), and order is kept: every other
//! reply is encoded after the batch's.
//!
//! Invariants: replies are in request order; a reply to a write is sent
//! only after the engine's write returned; memory per connection is
//! bounded (a read buffer of at most [`MAX_BUF`], the batch of at most
//! [`BATCH_BYTES`], the request the parser holds within its limits and the
//! server's [`Budget`](super::budget::Budget)); a protocol error is replied
//! to and ends the connection; so does end of input, after the complete
//! requests already read have run (what graceful shutdown relies on).

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Server;
use super::budget::Reservation;
use super::clients::Client;
use super::commands::{self, Ctx, Flow};
use super::committer::{Op, Slot};
use super::keyspace;
use super::reply::Output;
use super::resp::{Limits, Parser, Request};
use super::stripes::Mode;

/// The read buffer starts this large...
const START_BUF: usize = 16 * 1024;
/// ...and grows to hold the longest line the parser accepts.
const MAX_BUF: usize = Limits::DEFAULT.inline + 64;
/// A pending batch is written once it holds this many bytes...
const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// ...or this many writes.
const BATCH_WRITES: usize = 1024;

/// Blind writes gathered from a pipeline, not yet written.
#[derive(Default)]
struct Pending {
    ops: Vec<Op>,
    bytes: usize,
    stripes: Vec<usize>,
    /// How many `+OK` replies the batch owes.
    replies: usize,
}

/// Serves one client until it leaves, errs, or the server shuts down.
pub fn serve(server: &Server, client: &Arc<Client>, stream: TcpStream) {
    // Replies are small and latency matters: no Nagle delay.
    let _ = stream.set_nodelay(true);
    let mut writer = &stream;
    let mut conn = Conn {
        server,
        client,
        authed: server.settings.requirepass.is_none(),
        parser: Parser::new(Limits::DEFAULT),
        input: vec![0; START_BUF],
        start: 0,
        end: 0,
        pending: Pending::default(),
        reservation: Reservation::new(&server.budget),
        slot: Slot::for_this_thread(),
    };
    if !conn.authed {
        conn.parser.set_limits(Limits::UNAUTHENTICATED);
    }
    let mut out = Output::new(&mut writer);
    // A client that left or a socket error ends the connection; neither is
    // the server's problem or worth a line on stderr.
    let _ = conn.run(&stream, &mut out);
}

struct Conn<'s> {
    server: &'s Server,
    client: &'s Arc<Client>,
    authed: bool,
    parser: Parser,
    input: Vec<u8>,
    start: usize,
    end: usize,
    pending: Pending,
    reservation: Reservation<'s>,
    slot: Arc<Slot>,
}

impl Conn<'_> {
    fn run(&mut self, stream: &TcpStream, out: &mut Output<'_>) -> io::Result<()> {
        loop {
            let flow = self.run_buffered(out);
            self.write_pending(out);
            out.flush()?;
            // Shutting down: what was read has run and been answered; a
            // client that keeps sending must not keep the server up.
            if flow == Flow::Close || self.server.shutdown.is_stopping() {
                return Ok(());
            }
            self.make_room();
            let n = match (&*stream).read(&mut self.input[self.end..]) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.end += n;
        }
    }

    /// Runs every complete request in the buffer.
    fn run_buffered(&mut self, out: &mut Output<'_>) -> Flow {
        let mut ran = 0;
        let flow = loop {
            let parsed = self.parser.parse(&self.input[self.start..self.end]);
            let request = match parsed {
                Ok((used, request)) => {
                    self.start += used;
                    request
                }
                Err(e) => {
                    self.write_pending(out);
                    out.error(&format!("ERR {e}"));
                    break Flow::Close;
                }
            };
            let Some(request) = request else {
                if !self.reservation.cover(self.parser.held()) {
                    self.write_pending(out);
                    out.error(&format!(
                        "ERR request too large for now: requests in progress already hold the \
                         server's {} bytes for them; try again later",
                        self.server.budget.total()
                    ));
                    break Flow::Close;
                }
                break Flow::Continue;
            };
            self.reservation.release();
            ran += 1;
            if self.run_request(request, out) == Flow::Close {
                break Flow::Close;
            }
            if out.pending() >= 64 * 1024 {
                self.write_pending(out);
                if out.flush().is_err() {
                    break Flow::Close;
                }
            }
        };
        self.server.commands.fetch_add(ran, Ordering::Relaxed);
        flow
    }

    fn run_request(&mut self, mut request: Request, out: &mut Output<'_>) -> Flow {
        let was_authed = self.authed;
        // Blind writes join the batch once they pass the usual checks.
        let blind = self.authed
            && request.len() >= 3
            && commands::lookup(&request[0])
                .is_some_and(|i| matches!(commands::COMMANDS[i].name, "set" | "mset"));
        if blind {
            match keyspace::blind_write(&mut request) {
                Some(Ok(pairs)) => {
                    if let Some(i) = commands::lookup(&request[0]) {
                        self.client.ran(i);
                    }
                    self.add_pending(pairs, out);
                    return Flow::Continue;
                }
                Some(Err(e)) => {
                    self.write_pending(out);
                    out.error(&e);
                    return Flow::Continue;
                }
                None => {}
            }
        }
        self.write_pending(out);
        let mut ctx = Ctx {
            server: self.server,
            client: self.client,
            authed: &mut self.authed,
            out,
            slot: &self.slot,
        };
        let flow = commands::dispatch(&mut ctx, &request);
        if self.authed && !was_authed {
            self.parser.set_limits(Limits::DEFAULT);
        }
        flow
    }

    fn add_pending(&mut self, pairs: keyspace::Pairs, out: &mut Output<'_>) {
        for (key, value) in pairs {
            self.pending.stripes.push(self.server.stripes.of(&key));
            self.pending.bytes += key.len() + value.len();
            self.pending.ops.push((key, Some(value)));
        }
        self.pending.replies += 1;
        if self.pending.bytes >= BATCH_BYTES || self.pending.ops.len() >= BATCH_WRITES {
            self.write_pending(out);
        }
    }

    /// Writes the pending batch and encodes the replies it owes.
    fn write_pending(&mut self, out: &mut Output<'_>) {
        if self.pending.replies == 0 {
            return;
        }
        let Pending {
            ops,
            stripes,
            replies,
            ..
        } = std::mem::take(&mut self.pending);
        let server = self.server;
        let outcome = {
            let _held = server.stripes.lock_stripes(stripes, Mode::Write);
            server.committer.commit(ops, &self.slot)
        };
        server.compactor.note_write();
        match outcome {
            Ok(()) => (0..replies).for_each(|_| out.ok()),
            Err(text) => (0..replies).for_each(|_| out.error(&format!("ERR {text}"))),
        }
    }

    /// Moves a partial request to the front of the buffer, and grows the
    /// buffer when a partial line fills it.
    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.input.len() {
            // Only a line can fill the buffer, and the parser refuses one
            // longer than MAX_BUF holds, so this growth happens at most once.
            self.input.resize(MAX_BUF, 0);
        }
    }
}
