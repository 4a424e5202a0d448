//! What runs where, for one request of a connection: a plain SET or MSET
//! joins the batch; a command that cannot wait runs here, on the event
//! loop; anything else goes to a worker, and the connection runs nothing
//! more until its reply is back. A request that must come after the batch
//! (anything but another blind write) waits in the stash while the batch
//! is written.
//!
//! Invariant: every request's `kept` bytes are given back exactly once,
//! when it is done: here for what is answered at once, by
//! [`Conn::complete`] for a batch or a task.

use std::sync::Arc;

use super::blind_writes::Sent;
use super::{Conn, InFlight, Stashed, Turn};
use crate::cli::serve::ctx::{Ctx, Flow};
use crate::cli::serve::dispatch;
use crate::cli::serve::keyspace;
use crate::cli::serve::request::Request;
use crate::cli::serve::request::limits::Limits;
use crate::cli::serve::table::{COMMANDS, lookup};
use crate::cli::serve::workers::Task;

impl Conn<'_> {
    /// Runs a request that keeps `kept` bytes reserved: they are given back
    /// when it is done, here or when its batch or task completes.
    pub(super) fn run(&mut self, mut request: Request, kept: usize, turn: &mut Turn<'_>) {
        let blind = self.authed
            && request.len() >= 3
            && lookup(&request[0]).is_some_and(|i| matches!(COMMANDS[i].name, "set" | "mset"));
        if blind {
            match keyspace::blind_write(&mut request) {
                Some(Ok(pairs)) => return self.add_to_batch(pairs, kept, turn),
                Some(Err(e)) if self.batch.replies > 0 => {
                    self.reservation.done(kept);
                    self.stashed = Some(Stashed::Refusal(e));
                    return self.send_batch(turn);
                }
                Some(Err(e)) => {
                    self.reservation.done(kept);
                    return self.out.error(&e);
                }
                None => {}
            }
        }
        if self.batch.replies > 0 {
            // Whatever it is, it comes after the writes before it.
            self.stashed = Some(Stashed::Request(request, kept));
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
        let Some(index) = dispatch::check(&mut ctx, &request) else {
            self.reservation.done(kept);
            return;
        };
        if COMMANDS[index].inline {
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

    fn add_to_batch(&mut self, pairs: keyspace::Pairs, kept: usize, turn: &mut Turn<'_>) {
        if let Some(i) = lookup(b"set") {
            self.registration.client().ran(i);
        }
        self.batch.add(&self.server.stripes, pairs, kept);
        if self.batch.full() {
            self.send_batch(turn);
        }
    }

    /// Hands the batch to the turn's round, or to a worker when its stripes
    /// cannot be taken without waiting.
    pub(super) fn send_batch(&mut self, turn: &mut Turn<'_>) {
        let batch = std::mem::take(&mut self.batch);
        let (replies, kept) = (batch.replies, batch.kept);
        self.in_flight = match batch.send(self.server, self.token, turn.writes) {
            None => return,
            Some(Sent::Round(held)) => InFlight::Write {
                replies,
                kept,
                _held: held,
            },
            Some(Sent::Worker) => InFlight::Worker { kept },
        };
    }
}
