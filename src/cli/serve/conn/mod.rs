//! One client connection, as the event loop drives it: read what the
//! socket has, run the complete requests in it, send what the socket takes,
//! and never block.
//!
//! What runs where (route.rs): a command that cannot wait (GET, PING,
//! CLIENT, …) runs here, on the event loop; every data command that writes
//! (a plain SET or MSET, INCR, SET NX, DEL, EXPIRE, …) and EXEC join the
//! connection's batch (batch.rs); between MULTI and EXEC, commands are
//! queued (multi.rs); anything that may wait or walk every key goes to a
//! worker thread (see workers.rs). While a batch or a worker task is in
//! flight, the connection runs nothing else: the next request waits
//! (`stashed`), so replies stay in order and a read sees the writes before
//! it.
//!
//! Group commit: the batch gathers every write that has arrived (several
//! clients' requests in one loop iteration, or a whole pipeline), and is
//! handed to the loop's round when the socket has no more input, when
//! something else comes, or when it is large. The round writes the batches
//! of all connections with one fsync (round.rs, reactor.rs), so 50 clients
//! or one pipelined client cost one fsync per round, and each write gets
//! its reply only after that fsync.
//!
//! Memory, and when the connection stops: before each request runs, the
//! replies waiting to be sent must be under [`OUT_HIGH`]; if the socket
//! does not take them, parsing stops (the rest of the input stays
//! unparsed, and nothing more is read) until a writable event, so a client
//! that pipelines without reading holds at most that plus one reply, whose
//! size the commands bound (reply.rs). Every request's bytes are counted
//! in the server's [`Budget`](super::budget::Budget) from its first byte
//! until its reply is back, through the batch, the stash, the worker's or
//! the writer's queue; when the budget is spent, reading stops until kept
//! requests finish (budget.rs says when a request is refused instead).
//!
//! Invariants: replies are in request order; a write's reply is sent only
//! after the round holding it was written; memory per connection is
//! bounded (what is read goes into the loop's one read buffer, and a
//! connection keeps only what it has not parsed, a read at most, see
//! input.rs; a batch of at most [`BATCH_BYTES`](batch::BATCH_BYTES);
//! replies as above, a file sent after them, SYNC's snapshot, one chunk at
//! a time, see reply.rs; the request the parser holds within its limits and
//! the budget); a protocol error is answered and ends the connection; a
//! connection is only ever closed with nothing in flight and nothing it has
//! read left to run, so the token of a closed connection never receives a
//! reply meant for the one before.

use std::io;
use std::sync::atomic::Ordering;

use mio::{Interest, Registry, Token};

use super::budget::Reservation;
use super::clients::Registration;
use super::committer::Queued;
use super::mailbox::Completion;
use super::reply::Output;
use super::request::Request;
use super::request::limits::{Limits, request_bytes};
use super::request::parse::Parser;
use super::server::Server;
use super::watches::WatchList;
use batch::{Batch, Planned};
use input::Input;
use multi::Multi;
pub use stream::Stream;

mod batch;
mod input;
mod multi;
mod route;
mod stream;

/// The loop's read buffer, shared by every connection: the longest line
/// the parser accepts fits in it, with room to spare.
pub const READ_BUF: usize = 128 * 1024;
/// No request runs while this many bytes of replies wait for the client.
pub const OUT_HIGH: usize = 1024 * 1024;
/// A connection runs at most this many requests a turn, then lets the
/// others have theirs (a client pipelining reads as fast as the loop
/// answers them would otherwise keep the loop to itself).
const FAIR_SHARE: u64 = 1024;

/// What a connection needs from the event loop during one of its turns.
pub struct Turn<'a> {
    /// For asking for writable events.
    pub registry: &'a Registry,
    /// Batches for this turn's round, written together when the turn ends,
    /// so that the writes of every client served in it share one fsync.
    pub writes: &'a mut Vec<Queued>,
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
    /// A request, and the bytes it keeps reserved.
    Request(Request, usize),
    /// A protocol error, to answer (then close) after what came before it.
    Fatal(String),
}

/// What is in flight, with the bytes of requests it keeps reserved.
enum InFlight {
    Nothing,
    /// A batch in a round, and where its requests' replies come from.
    Write {
        plan: Vec<Planned>,
        kept: usize,
    },
    /// A worker task.
    Worker {
        kept: usize,
    },
}

/// Whether the request being read may go on.
enum Admit {
    /// Its bytes are covered: read and parse on.
    Go,
    /// The budget is spent but kept requests will give bytes back: read
    /// nothing until then.
    Wait,
    /// Refused (the error is stashed).
    Refused,
}

/// One connection.
pub struct Conn<'s> {
    server: &'s Server,
    token: usize,
    stream: Stream,
    registration: Registration<'s>,
    authed: bool,
    parser: Parser,
    input: Input,
    out: Output,
    batch: Batch,
    stashed: Option<Stashed>,
    in_flight: InFlight,
    /// Between MULTI and EXEC: what is queued.
    multi: Option<Multi>,
    /// The keys WATCHed, until EXEC, DISCARD or UNWATCH.
    watching: Option<WatchList>,
    /// Covers the request being read and every request kept (the batch,
    /// the stash, what is in flight).
    reservation: Reservation<'s>,
    /// Close once the replies so far are sent (QUIT, protocol error).
    closing: bool,
    /// The socket failed: drop it once nothing is in flight.
    broken: bool,
    /// Writable events are asked for (only while replies wait for room).
    writable: bool,
    /// Its turn ended with work left: the loop drives it again next turn.
    again: bool,
    /// Parsing stopped this turn because replies wait (see [`OUT_HIGH`]).
    out_full: bool,
    /// Reading stopped until the budget has room (see budget.rs).
    waiting_budget: bool,
}

impl<'s> Conn<'s> {
    /// A connection for `registration`'s client on `stream`. A local
    /// client (the Unix socket, its user checked at accept) is this user's
    /// own process: it needs no password, as a file it could open needs none.
    pub fn new(
        server: &'s Server,
        token: usize,
        stream: Stream,
        registration: Registration<'s>,
    ) -> Conn<'s> {
        if let Stream::Tcp(tcp) = &stream {
            let _ = tcp.set_nodelay(true);
        }
        let authed = server.settings.requirepass.is_none() || matches!(stream, Stream::Unix(_));
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
            input: Input::default(),
            out: Output::new(&server.replies),
            batch: Batch::default(),
            stashed: None,
            in_flight: InFlight::Nothing,
            multi: None,
            watching: None,
            reservation: Reservation::new(&server.budget),
            closing: false,
            broken: false,
            writable: false,
            again: false,
            out_full: false,
            waiting_budget: false,
        }
    }

    /// The socket, for registering it.
    pub fn stream(&mut self) -> &mut Stream {
        &mut self.stream
    }

    /// Reads no more; what was read is still run and answered (shutdown).
    pub fn stop_reading(&mut self) {
        self.input.stop();
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
        let kept = match (done, in_flight) {
            (Completion::Written { outcome, .. }, InFlight::Write { plan, kept }) => {
                self.server.compactor.note_write();
                batch::answer(plan, outcome, &mut self.out);
                kept
            }
            (Completion::Replied { out, close, .. }, InFlight::Worker { kept }) => {
                self.out.append(out);
                if close {
                    self.closing = true;
                }
                kept
            }
            // Cannot happen: one thing is in flight at a time, and it is
            // what the completion answers.
            (_, other) => {
                self.in_flight = other;
                return;
            }
        };
        self.reservation.done(kept);
        self.account();
    }

    /// Whether its last turn ended with work left (see [`FAIR_SHARE`]).
    pub fn again(&self) -> bool {
        self.again
    }

    /// Whether it waits for room in the budget: the loop drives it again
    /// when kept requests finish.
    pub fn waiting_for_budget(&self) -> bool {
        self.waiting_budget
    }

    /// The socket has input (a readable event).
    pub fn readable(&mut self, closed: bool) {
        self.input.readable(closed);
    }

    /// Does all that can be done now without blocking.
    pub fn drive(&mut self, turn: &mut Turn<'_>) -> Status {
        if !self.broken {
            let mut ran = 0;
            let result = self.run_input(turn, &mut ran);
            // The loop's buffer goes to the next connection.
            self.input.keep_unparsed(turn.scratch);
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
            // Parsing stopped for the replies waiting, and the socket took
            // enough of them since: go on next turn (no event will say so).
            // The same when a file being sent had its share of this turn.
            if (self.out_full && self.out.pending() < OUT_HIGH) || self.out.yielded() {
                self.again = true;
            }
            let omem = self.out.held() as u64;
            self.registration
                .client()
                .omem
                .store(omem, Ordering::Relaxed);
        }
        let idle = matches!(self.in_flight, InFlight::Nothing);
        let finished = (self.input.ended() || self.closing)
            && idle
            && self.batch.is_empty()
            && self.stashed.is_none()
            && !self.again
            && !self.waiting_budget;
        if self.broken && idle || finished && self.out.pending() == 0 {
            return Status::Closed;
        }
        Status::Open
    }

    fn run_input(&mut self, turn: &mut Turn<'_>, ran: &mut u64) -> io::Result<()> {
        self.again = false;
        self.out_full = false;
        loop {
            if !matches!(self.in_flight, InFlight::Nothing) {
                return Ok(());
            }
            if *ran >= FAIR_SHARE {
                self.again = true;
                self.send_batch(turn);
                return Ok(());
            }
            // Nothing more runs while the client has not taken what it
            // was sent: its input waits, unparsed, and nothing is read.
            if self.out.pending() >= OUT_HIGH {
                self.out.send(&mut self.stream)?;
                if self.out.pending() >= OUT_HIGH {
                    self.out_full = true;
                    self.send_batch(turn);
                    return Ok(());
                }
            }
            match self.stashed.take() {
                Some(Stashed::Request(request, kept)) => {
                    *ran += 1;
                    self.run(request, kept, turn);
                    self.account();
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
            if self.waiting_budget {
                match self.admit(turn) {
                    Admit::Go => {}
                    Admit::Wait => return Ok(()),
                    Admit::Refused => continue,
                }
            }
            match self.parser.parse(self.input.unparsed(turn.scratch)) {
                Ok((used, Some(request))) => {
                    self.input.consume(used);
                    let kept = request_bytes(&request);
                    self.reservation.keep(kept);
                    *ran += 1;
                    self.run(request, kept, turn);
                    self.account();
                    continue;
                }
                Ok((used, None)) => {
                    self.input.consume(used);
                    match self.admit(turn) {
                        Admit::Go => {}
                        Admit::Wait => return Ok(()),
                        Admit::Refused => continue,
                    }
                }
                Err(e) => {
                    self.fail(format!("ERR {e}"), turn);
                    continue;
                }
            }
            // Every complete request has run: more input is needed.
            if !self.input.may_read() || !self.input.read(&mut self.stream, turn.scratch)? {
                self.send_batch(turn);
                return Ok(());
            }
        }
    }

    /// Brings the reservation to what the connection holds now: kept
    /// requests come and go with each request run and each completion.
    /// Growing may fail (the last bytes of a request, or an inline
    /// command's words, were not covered while read): then the connection
    /// holds a little more than it reserved (at most the last read, or one
    /// inline command's words) until the next [`Conn::admit`] waits.
    fn account(&mut self) {
        let reading = self.parser.held();
        let _ = self.reservation.cover(reading);
        self.reservation.settle(reading);
    }

    /// Whether the request being read may grow: covered by the budget, or
    /// waiting for it (kept requests, this connection's or others', will
    /// give bytes back, so waiting cannot last forever), or refused (every
    /// reserved byte belongs to requests still arriving, which could wait
    /// for each other forever).
    fn admit(&mut self, turn: &mut Turn<'_>) -> Admit {
        if self.reservation.cover(self.parser.held()) {
            self.waiting_budget = false;
            return Admit::Go;
        }
        // This connection's own batch is kept too: it must go to be done.
        self.send_batch(turn);
        self.reservation.publish();
        if self.server.budget.kept() > 0 {
            self.waiting_budget = true;
            return Admit::Wait;
        }
        self.waiting_budget = false;
        let total = self.server.budget.total();
        let text = format!(
            "ERR request too large for now: requests in progress already hold the server's \
             {total} bytes for them; try again later"
        );
        self.fail(text, turn);
        Admit::Refused
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
}
