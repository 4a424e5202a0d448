//! One client connection, as the event loop drives it: read what the
//! socket has, run the complete requests in it, send what the socket takes,
//! and never block.
//!
//! What runs where: a command that cannot wait (GET, PING, CLIENT, …) runs
//! here, on the event loop; a plain SET or an MSET joins the connection's
//! batch of blind writes; anything that may wait or walk every key goes to
//! a worker thread (see workers.rs). While a batch or a worker task is in
//! flight, the connection runs nothing else: the next request waits
//! (`stashed`), so replies stay in order and a read sees the writes before
//! it.
//!
//! Group commit: the batch gathers every blind write that has arrived
//! (several clients' requests in one loop iteration, or a whole pipeline),
//! and is handed to the loop's round when the socket has no more input,
//! when something else comes, or when it is large. The round writes the
//! batches of all connections with one fsync (reactor.rs), so 50 clients or
//! one pipelined client cost one fsync per round, and each write gets its
//! +OK only after that fsync.
//!
//! Invariants: replies are in request order; a write's reply is sent only
//! after the round holding it was written; memory per connection is
//! bounded (what is read goes into the loop's one read buffer, and a
//! connection keeps only the part of a request that has not arrived whole,
//! a line at most; a batch of at most [`BATCH_BYTES`], replies of at most [`OUT_HIGH`] before reading stops,
//! the request the parser holds within its limits and the server's
//! [`Budget`](super::budget::Budget)); a protocol error is answered and
//! ends the connection; a connection is only ever closed with nothing in
//! flight, so the token of a closed connection never receives a reply
//! meant for the one before.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::Server;
use super::budget::Reservation;
use super::clients::Registration;
use super::commands::{self, COMMANDS, Ctx, Flow};
use super::committer::{Op, Slot, Waiter};
use super::keyspace;
use super::reactor::Completion;
use super::reply::Output;
use super::resp::{Limits, Parser, Request};
use super::stripes::{Held, Mode};
use super::workers::Task;

/// The loop's read buffer, shared by every connection: the longest line
/// the parser accepts fits in it, with room to spare.
pub const READ_BUF: usize = 128 * 1024;
/// A connection's own buffer is given back once empty, if it grew past this.
const KEEP_INPUT: usize = 4 * 1024;
/// A batch joins the round once it holds this many bytes...
const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// ...or this many writes.
const BATCH_WRITES: usize = 1024;
/// Reading stops while this many bytes of replies wait for the client.
const OUT_HIGH: usize = 1024 * 1024;
/// A connection runs at most this many requests a turn, then lets the
/// others have theirs (a client pipelining reads as fast as the loop
/// answers them would otherwise keep the loop to itself).
const FAIR_SHARE: u64 = 1024;

/// What a connection needs from the event loop during one of its turns.
pub struct Turn<'a> {
    /// For asking for writable events.
    pub registry: &'a Registry,
    /// The event loop thread's slot (for the commands' context; the
    /// commands run here never write).
    pub slot: &'a Arc<Slot>,
    /// Batches for this turn's round, written together when the turn ends,
    /// so that the writes of every client served in it share one fsync.
    pub writes: &'a mut Vec<(Vec<Op>, Waiter)>,
    /// The loop's read buffer ([`READ_BUF`] bytes).
    pub scratch: &'a mut [u8],
}

/// Whether the connection goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Keep it.
    Open,
    /// Done: deregister and drop it.
    Closed,
}

/// What waits for the current batch or task.
enum Stashed {
    Request(Request),
    /// A refused request's error reply.
    Refusal(String),
    /// A protocol error, to answer (then close) after what came before it.
    Fatal(String),
}

/// What is in flight.
enum InFlight<'s> {
    Nothing,
    /// A batch in the round, holding its stripes, owing `replies`.
    Write {
        replies: usize,
        _held: Held<'s>,
    },
    /// A worker task.
    Worker,
}

/// Blind writes gathered, not yet in a round.
#[derive(Default)]
struct Batch {
    ops: Vec<Op>,
    bytes: usize,
    stripes: Vec<usize>,
    replies: usize,
}

/// One connection.
pub struct Conn<'s> {
    server: &'s Server,
    token: usize,
    stream: TcpStream,
    registration: Registration<'s>,
    authed: bool,
    parser: Parser,
    /// Input not yet parsed, kept from an earlier turn (usually empty: an
    /// idle connection holds no buffer).
    input: Vec<u8>,
    /// Whether the input being parsed is in the loop's buffer (this turn's
    /// read) rather than in `input`.
    in_scratch: bool,
    /// The unparsed part of the current input: `start..end`.
    start: usize,
    end: usize,
    out: Output,
    batch: Batch,
    stashed: Option<Stashed>,
    in_flight: InFlight<'s>,
    reservation: Reservation<'s>,
    /// No more input will be read (end of input, or shutdown).
    eof: bool,
    /// Close once the replies so far are sent (QUIT, protocol error).
    closing: bool,
    /// The socket failed: drop it once nothing is in flight.
    broken: bool,
    /// The last read took less than it could: the socket has nothing more
    /// until its next readable event (so no read just to hear "would block").
    drained: bool,
    /// Writable events are asked for (only while replies wait for room).
    writable: bool,
    /// Its turn ended with work left: the loop drives it again next turn.
    again: bool,
}

impl<'s> Conn<'s> {
    /// A connection for `registration`'s client on `stream`.
    pub fn new(
        server: &'s Server,
        token: usize,
        stream: TcpStream,
        registration: Registration<'s>,
    ) -> Conn<'s> {
        let _ = stream.set_nodelay(true);
        let authed = server.settings.requirepass.is_none();
        let limits = if authed {
            Limits::DEFAULT
        } else {
            Limits::UNAUTHENTICATED
        };
        Conn {
            server,
            token,
            stream,
            registration,
            authed,
            parser: Parser::new(limits),
            input: Vec::new(),
            in_scratch: false,
            start: 0,
            end: 0,
            out: Output::new(),
            batch: Batch::default(),
            stashed: None,
            in_flight: InFlight::Nothing,
            reservation: Reservation::new(&server.budget),
            eof: false,
            closing: false,
            broken: false,
            drained: false,
            writable: false,
            again: false,
        }
    }

    /// The socket, for registering it.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Reads no more; what was read is still run and answered (shutdown).
    pub fn stop_reading(&mut self) {
        self.eof = true;
    }

    /// Drops the replies not yet sent (shutdown's last resort).
    pub fn abandon(&mut self) -> bool {
        if matches!(self.in_flight, InFlight::Nothing) {
            self.broken = true;
            return true;
        }
        false
    }

    /// Takes the outcome of what was in flight.
    pub fn complete(&mut self, done: Completion) {
        let in_flight = std::mem::replace(&mut self.in_flight, InFlight::Nothing);
        match (done, in_flight) {
            (Completion::Written { outcome, .. }, InFlight::Write { replies, _held }) => {
                drop(_held);
                self.server.compactor.note_write();
                for _ in 0..replies {
                    match &outcome {
                        Ok(()) => self.out.ok(),
                        Err(text) => self.out.error(&format!("ERR {text}")),
                    }
                }
            }
            (Completion::Replied { out, flow, .. }, InFlight::Worker) => {
                self.out.append(out);
                if flow == Flow::Close {
                    self.closing = true;
                }
            }
            // Cannot happen: one thing is in flight at a time, and it is
            // what the completion answers.
            (_, other) => self.in_flight = other,
        }
    }

    /// Whether its last turn ended with work left (see [`FAIR_SHARE`]).
    pub fn again(&self) -> bool {
        self.again
    }

    /// The socket has input (a readable event).
    pub fn readable(&mut self) {
        self.drained = false;
    }

    /// Does all that can be done now without blocking.
    pub fn drive(&mut self, turn: &mut Turn<'_>) -> Status {
        if !self.broken {
            let mut ran = 0;
            let result = self.work(turn, &mut ran);
            if ran > 0 {
                self.server.commands.fetch_add(ran, Ordering::Relaxed);
                self.registration.client().touch();
            }
            let sent = result
                .and_then(|()| self.out.send(&mut self.stream))
                .and_then(|()| self.watch_writable(turn.registry));
            if sent.is_err() {
                self.broken = true;
            }
        }
        let idle = matches!(self.in_flight, InFlight::Nothing);
        let finished =
            (self.eof || self.closing) && idle && self.batch.replies == 0 && self.stashed.is_none();
        if self.broken && idle || finished && self.out.pending() == 0 {
            return Status::Closed;
        }
        Status::Open
    }

    fn work(&mut self, turn: &mut Turn<'_>, ran: &mut u64) -> io::Result<()> {
        let result = self.run_input(turn, ran);
        // The loop's buffer goes to the next connection.
        self.keep_unparsed(turn.scratch);
        result
    }

    fn run_input(&mut self, turn: &mut Turn<'_>, ran: &mut u64) -> io::Result<()> {
        self.again = false;
        loop {
            if !matches!(self.in_flight, InFlight::Nothing) {
                return Ok(());
            }
            if *ran >= FAIR_SHARE {
                self.again = true;
                self.send_batch(turn);
                return Ok(());
            }
            match self.stashed.take() {
                Some(Stashed::Request(request)) => {
                    *ran += 1;
                    self.run(request, turn);
                    continue;
                }
                Some(Stashed::Refusal(text)) => {
                    self.out.error(&text);
                    continue;
                }
                Some(Stashed::Fatal(text)) => {
                    self.out.error(&text);
                    self.closing = true;
                }
                None => {}
            }
            if self.closing {
                return Ok(());
            }
            let unparsed = if self.in_scratch {
                &turn.scratch[self.start..self.end]
            } else {
                &self.input[self.start..self.end]
            };
            match self.parser.parse(unparsed) {
                Ok((used, Some(request))) => {
                    self.start += used;
                    self.reservation.release();
                    *ran += 1;
                    self.run(request, turn);
                    continue;
                }
                Ok((used, None)) => {
                    self.start += used;
                    if !self.reservation.cover(self.parser.held()) {
                        let total = self.server.budget.total();
                        let text = format!(
                            "ERR request too large for now: requests in progress already hold \
                             the server's {total} bytes for them; try again later"
                        );
                        self.fail(text, turn);
                        continue;
                    }
                }
                Err(e) => {
                    self.fail(format!("ERR {e}"), turn);
                    continue;
                }
            }
            // Every complete request has run: more input is needed.
            if self.out.pending() >= OUT_HIGH {
                self.out.send(&mut self.stream)?;
                if self.out.pending() >= OUT_HIGH {
                    // The client is not reading: neither do we, until the
                    // socket takes more (a writable event drives us again).
                    self.send_batch(turn);
                    return Ok(());
                }
            }
            if self.eof || self.drained || !self.read(turn.scratch)? {
                self.send_batch(turn);
                return Ok(());
            }
        }
    }

    /// Reads what the socket has into the loop's buffer (after what is
    /// left of a request, if anything); false when it has nothing now (or
    /// ended).
    fn read(&mut self, scratch: &mut [u8]) -> io::Result<bool> {
        // What is left must move out of the way of the new bytes.
        self.keep_unparsed(scratch);
        loop {
            return match self.stream.read(scratch) {
                Ok(0) => {
                    self.eof = true;
                    Ok(false)
                }
                Ok(n) => {
                    self.drained = n < scratch.len();
                    if self.end == self.start {
                        // Nothing left over: parse straight from the buffer.
                        self.in_scratch = true;
                        self.start = 0;
                        self.end = n;
                    } else {
                        self.input.extend_from_slice(&scratch[..n]);
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
    fn keep_unparsed(&mut self, scratch: &[u8]) {
        if self.in_scratch {
            self.input.clear();
            self.input.extend_from_slice(&scratch[self.start..self.end]);
            self.in_scratch = false;
        } else {
            self.input.drain(..self.start);
        }
        self.start = 0;
        self.end = self.input.len();
        if self.input.is_empty() && self.input.capacity() > KEEP_INPUT {
            self.input = Vec::new();
        }
    }

    /// Asks for writable events while replies wait for room in the socket,
    /// and only then: otherwise every ACK from the client would wake us.
    fn watch_writable(&mut self, registry: &Registry) -> io::Result<()> {
        let want = self.out.pending() > 0;
        if want != self.writable {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry.reregister(&mut self.stream, Token(self.token), interest)?;
            self.writable = want;
        }
        Ok(())
    }

    /// A request that cannot be framed: answered after what came before it.
    fn fail(&mut self, text: String, turn: &mut Turn<'_>) {
        self.stashed = Some(Stashed::Fatal(text));
        self.send_batch(turn);
    }

    fn run(&mut self, mut request: Request, turn: &mut Turn<'_>) {
        let blind = self.authed
            && request.len() >= 3
            && commands::lookup(&request[0])
                .is_some_and(|i| matches!(COMMANDS[i].name, "set" | "mset"));
        if blind {
            match keyspace::blind_write(&mut request) {
                Some(Ok(pairs)) => return self.add_to_batch(pairs, turn),
                Some(Err(e)) if self.batch.replies > 0 => {
                    self.stashed = Some(Stashed::Refusal(e));
                    return self.send_batch(turn);
                }
                Some(Err(e)) => return self.out.error(&e),
                None => {}
            }
        }
        if self.batch.replies > 0 {
            // Whatever it is, it comes after the writes before it.
            self.stashed = Some(Stashed::Request(request));
            return self.send_batch(turn);
        }
        let was_authed = self.authed;
        let mut ctx = Ctx {
            server: self.server,
            client: self.registration.client(),
            authed: &mut self.authed,
            out: &mut self.out,
            slot: turn.slot,
        };
        let Some(index) = commands::check(&mut ctx, &request) else {
            return;
        };
        if COMMANDS[index].inline {
            if (COMMANDS[index].run)(&mut ctx, &request) == Flow::Close {
                self.closing = true;
            }
            if self.authed && !was_authed {
                self.parser.set_limits(Limits::DEFAULT);
            }
            return;
        }
        self.server.workers.submit(Task::Command {
            token: self.token,
            client: Arc::clone(self.registration.client()),
            index,
            args: request,
        });
        self.in_flight = InFlight::Worker;
    }

    fn add_to_batch(&mut self, pairs: keyspace::Pairs, turn: &mut Turn<'_>) {
        if let Some(i) = commands::lookup(b"set") {
            self.registration.client().ran(i);
        }
        for (key, value) in pairs {
            self.batch.stripes.push(self.server.stripes.of(&key));
            self.batch.bytes += key.len() + value.len();
            self.batch.ops.push((key, Some(value)));
        }
        self.batch.replies += 1;
        if self.batch.bytes >= BATCH_BYTES || self.batch.ops.len() >= BATCH_WRITES {
            self.send_batch(turn);
        }
    }

    /// Hands the batch to the turn's round, or to a worker when its stripes
    /// cannot be taken without waiting.
    fn send_batch(&mut self, turn: &mut Turn<'_>) {
        if self.batch.replies == 0 {
            return;
        }
        let Batch {
            ops,
            stripes,
            replies,
            ..
        } = std::mem::take(&mut self.batch);
        let server = self.server;
        let Some(held) = server
            .stripes
            .try_lock_stripes(stripes.clone(), Mode::Write)
        else {
            server.workers.submit(Task::Write {
                token: self.token,
                ops,
                stripes,
                replies,
            });
            self.in_flight = InFlight::Worker;
            return;
        };
        turn.writes.push((ops, Waiter::Reactor(self.token)));
        self.in_flight = InFlight::Write {
            replies,
            _held: held,
        };
    }
}
