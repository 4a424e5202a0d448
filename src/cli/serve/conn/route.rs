//! What runs where, for one request of a connection:
//!
//! - between MULTI and EXEC, everything but EXEC, DISCARD, MULTI, WATCH
//!   and QUIT is queued (multi.rs);
//! - a plain SET or MSET, a data command that writes (INCR, SET NX,
//!   DEL, EXPIRE, …: program.rs), MULTI, EXEC and DISCARD join the batch
//!   (batch.rs), whose writes go to the turn's round; their replies, and
//!   the errors found while checking them, keep their place in it;
//! - anything else must come after the batch's writes (a read, WATCH):
//!   it waits in the stash while the batch is written; then a command
//!   that cannot wait runs here, on the event loop, and the rest goes to
//!   a worker, and the connection runs nothing more until its reply is
//!   back. A GET runs here unless its value's record is over 1 MiB: the
//!   event loop learns that without reading the value, and a worker reads
//!   it, so that no other client waits behind a 200 MiB read.
//!
//! Invariant: every request's `kept` bytes are given back exactly once,
//! when it is done: here for what is answered at once, by
//! [`Conn::complete`] for a batch or a task, or parked for as long as the
//! connection holds them (a queued command, watched keys).

use std::sync::Arc;

use super::{Conn, InFlight, Stashed, Turn, batch, multi};
use crate::cli::serve::ctx::{Ctx, Flow};
use crate::cli::serve::dispatch;
use crate::cli::serve::keyspace;
use crate::cli::serve::program;
use crate::cli::serve::reply::Output;
use crate::cli::serve::request::Request;
use crate::cli::serve::request::limits::Limits;
use crate::cli::serve::round::{Call, Entry};
use crate::cli::serve::store::DbReads;
use crate::cli::serve::strings;
use crate::cli::serve::table::{COMMANDS, lookup};
use crate::cli::serve::workers::Task;
use crate::engine::Bounded;

/// A value whose record is longer than this is read on a worker, not on
/// the event loop (reading 1 MiB from the page cache takes about 0.1 ms).
const LARGE_READ: u64 = 1024 * 1024;

impl Conn<'_> {
    /// Runs a request that keeps `kept` bytes reserved: they are given back
    /// when it is done, here or when its batch or task completes.
    pub(super) fn run(&mut self, mut request: Request, kept: usize, turn: &mut Turn<'_>) {
        // Looked up once: the checks and the handler are given the index.
        let found = lookup(&request[0]);
        let name = found.map(|i| COMMANDS[i].name);
        if self.multi.is_some() && !name.is_some_and(multi::runs_at_once) {
            return self.queue(request, kept);
        }
        let blind = self.authed
            && self.multi.is_none()
            && request.len() >= 3
            && matches!(name, Some("set" | "mset"));
        if blind {
            match keyspace::blind_write(&mut request) {
                Some(Ok(pairs)) => return self.add_pairs(pairs, kept, turn),
                Some(Err(e)) => {
                    let mut out = Output::new(&self.server.replies);
                    out.error(&e);
                    return self.reply(out, kept);
                }
                None => {}
            }
        }
        let batched =
            name.is_some_and(|n| program::in_round(n) || matches!(n, "multi" | "exec" | "discard"));
        if batched {
            return self.run_batched(request, found, kept, turn);
        }
        if !self.batch.is_empty() {
            // Whatever it is, it comes after the writes before it.
            self.stashed = Some(Stashed::Request(request, kept));
            return self.send_batch(turn);
        }
        let was_authed = self.authed;
        let checked = {
            let mut ctx = Ctx {
                server: self.server,
                client: self.registration.client(),
                authed: &mut self.authed,
                out: &mut self.out,
            };
            dispatch::check(&mut ctx, found, &request)
        };
        let Some(index) = checked else {
            self.reservation.done(kept);
            return;
        };
        match COMMANDS[index].name {
            "watch" => return self.watch(&request, kept),
            "unwatch" => return self.unwatch(kept),
            _ => {}
        }
        // A GET is answered here unless its value is large: that one goes
        // to a worker, below.
        let get = COMMANDS[index].name == "get";
        if get && self.get_here(&request[1], kept) {
            return;
        }
        if COMMANDS[index].inline && !get {
            let mut ctx = Ctx {
                server: self.server,
                client: self.registration.client(),
                authed: &mut self.authed,
                out: &mut self.out,
            };
            if dispatch::run(index, &mut ctx, &request) == Flow::Close {
                self.closing = true;
            }
            if self.authed && !was_authed {
                self.parser.set_limits(Limits::DEFAULT);
            }
            self.reservation.done(kept);
            return;
        }
        self.server.workers.submit(Task::Command {
            token: self.token,
            client: Arc::clone(self.registration.client()),
            index,
            args: request,
        });
        self.in_flight = InFlight::Worker { kept };
    }

    /// GET on the event loop, unless the value is large: then it is read
    /// on a worker (false: the caller sends it there), so that no client
    /// waits behind the read of a 200 MiB value. A failed lookup is left to
    /// GET's own handler, which answers it.
    fn get_here(&mut self, key: &[u8], kept: usize) -> bool {
        let server = self.server;
        let value = match server.db.get_unless_larger(key, LARGE_READ) {
            Ok(Bounded::Larger(_)) | Err(_) => return false,
            Ok(Bounded::Absent) => None,
            Ok(Bounded::Value(v)) => Some(v),
        };
        let mut store = DbReads::new(&server.db, &server.replies, &server.cursors);
        if let Err(e) = strings::reply_get(&mut store, value, &mut self.out) {
            let text = e.with_causes();
            server.log_engine_error(&text);
            self.out.error(&format!("ERR {text}"));
        }
        self.reservation.done(kept);
        true
    }

    /// A request that joins the batch: a data command that writes, or
    /// MULTI, EXEC, DISCARD.
    fn run_batched(
        &mut self,
        request: Request,
        found: Option<usize>,
        kept: usize,
        turn: &mut Turn<'_>,
    ) {
        let mut out = Output::new(&self.server.replies);
        let Some(index) = self.check_found(found, &request, &mut out) else {
            return self.reply(out, kept);
        };
        let name = COMMANDS[index].name;
        match name {
            "multi" => {
                self.begin(&mut out);
                self.reply(out, kept);
            }
            "discard" => {
                self.discard(&mut out);
                self.reply(out, kept);
            }
            "exec" => self.exec(out, kept, turn),
            _ => match program::kind(name) {
                Some(kind) => {
                    let entry = Entry::Call(Call::new(kind, request));
                    self.add_entry(entry, kept, turn);
                }
                None => {
                    out.error("ERR internal error: not a data command");
                    self.reply(out, kept);
                }
            },
        }
    }

    /// The checks every request passes (dispatch.rs), replying into `out`.
    pub(super) fn check(&mut self, request: &Request, out: &mut Output) -> Option<usize> {
        self.check_found(lookup(&request[0]), request, out)
    }

    /// [`Conn::check`] for a request whose name was looked up already.
    fn check_found(
        &mut self,
        found: Option<usize>,
        request: &Request,
        out: &mut Output,
    ) -> Option<usize> {
        let mut ctx = Ctx {
            server: self.server,
            client: self.registration.client(),
            authed: &mut self.authed,
            out,
        };
        dispatch::check(&mut ctx, found, request)
    }

    /// Sends a reply decided now, after the batch's replies if it holds
    /// any; the request's `kept` bytes go back with it.
    pub(super) fn reply(&mut self, out: Output, kept: usize) {
        if self.batch.is_empty() {
            self.out.append(out);
            self.reservation.done(kept);
        } else {
            self.batch.add_reply(out, kept);
        }
    }

    fn add_pairs(&mut self, pairs: keyspace::Pairs, kept: usize, turn: &mut Turn<'_>) {
        if let Some(i) = lookup(b"set") {
            self.registration.client().ran(i);
        }
        self.batch.add_pairs(pairs, kept);
        if self.batch.full() {
            self.send_batch(turn);
        }
    }

    /// Adds a round entry to the batch, sending it if it is full.
    pub(super) fn add_entry(&mut self, entry: Entry, kept: usize, turn: &mut Turn<'_>) {
        self.batch.add_entry(entry, kept);
        if self.batch.full() {
            self.send_batch(turn);
        }
    }

    /// Hands the batch to the turn's round.
    pub(super) fn send_batch(&mut self, turn: &mut Turn<'_>) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let kept = batch.kept;
        let (plan, sent) = batch.send(self.token, turn.writes);
        if sent {
            self.in_flight = InFlight::Write { plan, kept };
        } else {
            batch::answer(plan, Ok(Vec::new()), &mut self.out);
            self.reservation.done(kept);
        }
    }
}
