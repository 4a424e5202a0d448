//! The event loop: one thread, every socket non-blocking under one epoll
//! (mio), as in Redis. It accepts connections, drives each one when its
//! socket is ready (see conn/mod.rs), writes the blind writes of each turn
//! as one round, and takes the results the writer thread and the workers
//! post to its [`Mailbox`] (mailbox.rs).
//!
//! Why an event loop and not a thread per connection (which this server
//! first had): measured with redis-benchmark, 50 clients on two cores, a
//! thread per connection cost a context switch per request to wake the
//! thread that reads it, and another per write to wake it when the fsync is
//! done; GET reached about 0.8× Redis's requests per second and SET
//! 0.5–0.7×. Here one wake-up serves every socket that is ready.
//!
//! Writes: at the end of a turn, the batches of every connection served in
//! it are written as one engine batch, by the loop itself, and answered at
//! once ([`Reactor::write_round`]), as Redis does under `appendfsync
//! always`: the loop waits for that one fsync, and whatever arrives
//! meanwhile is read in one go afterwards. Handing the round to the writer
//! thread instead (and being woken when it is done) measured 15% fewer SETs
//! a second. Two exceptions keep reads from waiting on long writes: while a
//! compaction runs (it holds the engine's writer lock throughout) and for a
//! round larger than [`INLINE_ROUND`], the round goes to the writer thread.
//!
//! Back-pressure: a connection stops parsing while its replies wait (see
//! conn/mod.rs), and stops reading while the request budget is spent; the
//! loop drives the connections waiting for the budget again at the end of
//! each turn in which kept requests finished (their bytes came back).
//!
//! Invariants: the loop blocks only in `poll` and in its own round's write
//! (never behind a compaction; the engine seals a full active log inside
//! the write that fills it, which is the one long wait left here); commands
//! that may wait run on workers; a connection is removed only with nothing
//! in flight (conn/mod.rs); on shutdown the listener goes first, then every
//! connection stops reading, finishes what it has read, sends its replies
//! (for at most [`LAST_WRITE`] to a client that does not read them) and
//! closes; the loop returns when none is left.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UnixListener};
use mio::{Events, Interest, Poll, Token};

use super::committer::{Queued, completions};
use super::conn::{Conn, READ_BUF, Status, Stream, Turn};
use super::mailbox::{Mailbox, WAKE};
use super::round;
use super::server::Server;
use crate::cli::tuning::Thread;
use crate::cli::{output, owner};

/// The TCP listener's token.
const LISTENER: Token = Token(usize::MAX - 1);
/// The owner's Unix socket's token.
const LOCAL: Token = Token(usize::MAX - 2);

/// Where the server takes connections: `--listen` (`tinykv serve`), the
/// owner's Unix socket (any owner), or both.
#[derive(Debug, Default)]
pub struct Listeners {
    /// The network.
    pub tcp: Option<std::net::TcpListener>,
    /// The other tinykv processes of this user.
    pub unix: Option<std::os::unix::net::UnixListener>,
}
/// A round of at most this many bytes is written by the loop itself;
/// larger ones (pipelined bulk writes, where the hand-off costs nothing
/// that matters), and any round that would seal the active log
/// ([`Db::write_would_seal`](crate::engine::Db::write_would_seal)), go to
/// the writer thread, so the loop keeps answering reads meanwhile.
const INLINE_ROUND: usize = 256 * 1024;
/// How long shutdown waits for a client to take its last replies.
pub const LAST_WRITE: Duration = Duration::from_secs(10);

/// The connections, by token.
#[derive(Default)]
struct Slab<'s> {
    conns: Vec<Option<Conn<'s>>>,
    free: Vec<usize>,
    live: usize,
}

impl<'s> Slab<'s> {
    fn vacant(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        })
    }

    fn get(&mut self, token: usize) -> Option<&mut Conn<'s>> {
        self.conns.get_mut(token).and_then(Option::as_mut)
    }

    fn remove(&mut self, poll: &Poll, token: usize) {
        if let Some(mut conn) = self.conns.get_mut(token).and_then(Option::take) {
            let _ = poll.registry().deregister(conn.stream());
            self.free.push(token);
            self.live -= 1;
        }
    }
}

/// Runs the loop until shutdown has closed every connection. Each turn
/// waits for events, drives the connections that have something to do,
/// hands them what the other threads finished, accepts new ones, and ends
/// with the turn's round of writes.
pub fn run(server: &Server, poll: Poll, mailbox: &Mailbox, listeners: Listeners) -> io::Result<()> {
    let mut reactor = Reactor::new(server, poll, mailbox, listeners)?;
    loop {
        reactor.wait()?;
        for token in reactor.ready() {
            reactor.drive(token);
        }
        let mut completed = reactor.deliver_mail();
        reactor.accept_new();
        reactor.stop_if_asked();
        // Every batch of this turn is written at once: one round, one
        // fsync, for every client served in it.
        let mut round = std::mem::take(&mut reactor.round);
        completed |= reactor.write_here(&mut round);
        // Kept requests finished: their bytes are back in the budget, and
        // whoever waited for them tries again.
        if completed {
            reactor.retry_waiting();
        }
        reactor.end_turn(round);
        if reactor.finished() {
            return Ok(());
        }
    }
}

/// The event loop's state, from one turn to the next.
struct Reactor<'s> {
    server: &'s Server,
    poll: Poll,
    mailbox: &'s Mailbox,
    events: Events,
    /// `None` once shutdown has begun.
    listener: Option<TcpListener>,
    /// The same, for the Unix socket.
    local: Option<UnixListener>,
    slab: Slab<'s>,
    /// The loop's one read buffer, lent to each connection in turn.
    scratch: Vec<u8>,
    /// Connections may wait in the backlog with no event to say so.
    accept_again: bool,
    /// A failed accept was logged (once is enough).
    warned: bool,
    /// When shutdown began.
    stopping: Option<Instant>,
    /// The batches of this turn's round. Writes that arrive while the loop
    /// writes stay here for the next turn's round, with whatever the other
    /// sockets have by then.
    round: Vec<Queued>,
    /// Connections whose turn ended with work left (conn/mod.rs,
    /// FAIR_SHARE): driven again next turn.
    again: Vec<usize>,
    /// Connections waiting for room in the request budget.
    waiting: Vec<usize>,
    /// Connections that began waiting this turn.
    new_waiting: Vec<usize>,
}

impl<'s> Reactor<'s> {
    fn new(
        server: &'s Server,
        poll: Poll,
        mailbox: &'s Mailbox,
        listeners: Listeners,
    ) -> io::Result<Reactor<'s>> {
        let listener = match listeners.tcp {
            Some(l) => {
                l.set_nonblocking(true)?;
                let mut l = TcpListener::from_std(l);
                poll.registry()
                    .register(&mut l, LISTENER, Interest::READABLE)?;
                Some(l)
            }
            None => None,
        };
        let local = match listeners.unix {
            Some(l) => {
                l.set_nonblocking(true)?;
                let mut l = UnixListener::from_std(l);
                poll.registry()
                    .register(&mut l, LOCAL, Interest::READABLE)?;
                Some(l)
            }
            None => None,
        };
        Ok(Reactor {
            server,
            poll,
            mailbox,
            events: Events::with_capacity(1024),
            listener,
            local,
            slab: Slab::default(),
            scratch: vec![0u8; READ_BUF],
            accept_again: false,
            warned: false,
            stopping: None,
            round: Vec::new(),
            again: Vec::new(),
            waiting: Vec::new(),
            new_waiting: Vec::new(),
        })
    }

    /// Waits for events: not at all when work is left from the last turn,
    /// briefly while connections may wait unseen or shutdown runs.
    fn wait(&mut self) -> io::Result<()> {
        let timeout = if !self.round.is_empty() || !self.again.is_empty() {
            Some(Duration::ZERO)
        } else {
            (self.accept_again || self.stopping.is_some()).then_some(Duration::from_millis(50))
        };
        match self.poll.poll(&mut self.events, timeout) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => Err(e),
            _ => Ok(()),
        }
    }

    /// The connections to drive this turn: those with work left from the
    /// last, and those with events (told when their socket has input).
    fn ready(&mut self) -> Vec<usize> {
        let mut ready = std::mem::take(&mut self.again);
        for event in self.events.iter() {
            match event.token() {
                LISTENER | LOCAL => self.accept_again = true,
                WAKE => {}
                Token(token) => {
                    if (event.is_readable() || event.is_read_closed() || event.is_error())
                        && let Some(conn) = self.slab.get(token)
                    {
                        conn.readable(event.is_read_closed() || event.is_error());
                    }
                    ready.push(token);
                }
            }
        }
        ready
    }

    /// Hands each connection what the writer and the workers finished for
    /// it, and drives it on; true when there was any.
    fn deliver_mail(&mut self) -> bool {
        let mut completed = false;
        for done in self.mailbox.take() {
            completed = true;
            let token = done.token();
            if let Some(conn) = self.slab.get(token) {
                conn.complete(done);
                self.drive(token);
            }
        }
        completed
    }

    /// Accepts the connections that wait, when an event said so or some
    /// may wait unseen.
    fn accept_new(&mut self) {
        if self.accept_again {
            let tcp = self.listener.is_some() && self.accept_all();
            let unix = self.local.is_some() && self.accept_local();
            self.accept_again = tcp || unix;
        }
    }

    /// Begins shutdown once it is asked for: the listener goes, and every
    /// connection stops reading and finishes what it has read.
    fn stop_if_asked(&mut self) {
        if self.stopping.is_some() || !self.server.shutdown.is_stopping() {
            return;
        }
        self.stopping = Some(Instant::now());
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        if let Some(mut l) = self.local.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        self.accept_again = false;
        for token in 0..self.slab.conns.len() {
            if let Some(conn) = self.slab.get(token) {
                conn.stop_reading();
                self.drive(token);
            }
        }
    }

    /// Writes `round` here when that keeps no read waiting long (see
    /// [`INLINE_ROUND`]), and empties it; true when it did. What it leaves
    /// goes to the writer thread at the end of the turn.
    fn write_here(&mut self, round: &mut Vec<Queued>) -> bool {
        let server = self.server;
        let bytes: usize = round.iter().map(|(job, _)| round::job_bytes(job)).sum();
        // A round that would fill the active log seals it too (its index is
        // written then): that one goes to the writer thread as well.
        let seals = server.db.write_would_seal(2 * bytes as u64 + 64 * 1024);
        // After a writer's panic nothing is written here either: the
        // engine is not to be trusted, and the committer refuses them all.
        // Nor while a bulk batch holds the engine's writer (a load through
        // this owner, or the owner's own): the write would wait for it.
        if !round.is_empty()
            && bytes <= INLINE_ROUND
            && !seals
            && !server.db.batch_in_progress()
            && !server.shutdown.failed()
            && let Some(_no_compaction) = server.compactor.not_running()
        {
            self.write_round(std::mem::take(round));
            return true;
        }
        false
    }

    /// Drives again the connections that waited for room in the budget.
    fn retry_waiting(&mut self) {
        for token in std::mem::take(&mut self.waiting) {
            self.drive(token);
        }
    }

    /// Ends the turn: the connections that began waiting join those that
    /// wait, and the writes not written here go to the writer thread.
    fn end_turn(&mut self, rest: Vec<Queued>) {
        for token in self.new_waiting.drain(..) {
            if !self.waiting.contains(&token) {
                self.waiting.push(token);
            }
        }
        if let Err((text, refused)) = self.server.committer.submit_all(rest) {
            // The writer has stopped (it cannot, before the loop ends): say
            // so to each connection rather than leave it waiting.
            self.mailbox.post_all(completions(refused, Err(text)));
        }
    }

    /// Whether shutdown has closed every connection; past [`LAST_WRITE`],
    /// the replies of clients that do not read them are dropped.
    fn finished(&mut self) -> bool {
        let Some(since) = self.stopping else {
            return false;
        };
        if self.slab.live == 0 {
            return true;
        }
        if since.elapsed() > LAST_WRITE {
            for token in 0..self.slab.conns.len() {
                if self.slab.get(token).is_some_and(|c| c.abandon()) {
                    self.slab.remove(&self.poll, token);
                }
            }
        }
        false
    }

    /// Writes a turn's batches here, as one engine batch, and answers them
    /// at once: Redis's way with `appendfsync always` (the loop waits for
    /// the fsync; what arrives meanwhile is read in one go afterwards).
    /// Measured on two cores, this gives 15% more SETs a second than
    /// handing the round to the writer thread and waking the loop when it
    /// is done.
    fn write_round(&mut self, writes: Vec<Queued>) {
        let server = self.server;
        let (jobs, tokens): (Vec<_>, Vec<usize>) = writes.into_iter().unzip();
        let written = round::write(&server.db, &server.shared(), jobs)
            .inspect_err(|text| server.log_engine_error(text));
        for done in completions(tokens, written) {
            let token = done.token();
            if let Some(conn) = self.slab.get(token) {
                conn.complete(done);
                self.drive(token);
            }
        }
    }

    /// Gives the connection a turn, and notes what it left to do.
    fn drive(&mut self, token: usize) {
        let Some(conn) = self.slab.get(token) else {
            return;
        };
        let mut turn = Turn {
            registry: self.poll.registry(),
            writes: &mut self.round,
            scratch: &mut self.scratch,
        };
        if conn.drive(&mut turn) == Status::Closed {
            self.slab.remove(&self.poll, token);
            return;
        }
        if conn.again() && !self.again.contains(&token) {
            self.again.push(token);
        }
        if conn.waiting_for_budget() && !self.new_waiting.contains(&token) {
            self.new_waiting.push(token);
        }
    }

    /// Accepts every waiting connection; true when it should be tried
    /// again soon (out of file descriptors: the connection waits in the
    /// backlog, and no new event will say so).
    fn accept_all(&mut self) -> bool {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                return false;
            };
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if !self.warned {
                        output::message(&format!("serve: cannot accept a connection ({e})"));
                        self.warned = true;
                    }
                    return true;
                }
            };
            let laddr = stream.local_addr().ok();
            self.admit(Stream::Tcp(stream), Some(peer), laddr);
        }
    }

    /// [`accept_all`](Self::accept_all) for the owner's Unix socket: only
    /// a process of this user is let in (its uid, from the kernel), even
    /// if the socket's mode was loosened.
    fn accept_local(&mut self) -> bool {
        loop {
            let Some(listener) = self.local.as_mut() else {
                return false;
            };
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if !self.warned {
                        output::message(&format!("serve: cannot accept a connection ({e})"));
                        self.warned = true;
                    }
                    return true;
                }
            };
            match rustix::net::sockopt::socket_peercred(&stream) {
                Ok(cred) if cred.uid.as_raw() == owner::uid() => {
                    self.admit(Stream::Unix(stream), None, None);
                }
                // Another user, or a peer the kernel cannot name: dropped
                // unanswered, as if the socket were not there.
                _ => drop(stream),
            }
        }
    }

    /// Registers an accepted connection and gives it its first turn.
    fn admit(&mut self, mut stream: Stream, peer: Option<SocketAddr>, laddr: Option<SocketAddr>) {
        let server = self.server;
        let local = matches!(stream, Stream::Unix(_));
        let Ok(registration) = server.clients.register(peer, laddr, local) else {
            // Non-blocking, and a new socket has room for one line.
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n");
            return;
        };
        let token = self.slab.vacant();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(token), Interest::READABLE)
        {
            output::message(&format!("serve: cannot watch a connection ({e})"));
            self.slab.free.push(token);
            return;
        }
        self.slab.conns[token] = Some(Conn::new(server, token, stream, registration));
        self.slab.live += 1;
        server.hooks.panic_if_asked(Thread::Loop);
        self.drive(token);
    }
}
