//! MULTI, EXEC, DISCARD, WATCH and UNWATCH: a connection's transaction.
//!
//! After MULTI, every command but EXEC, DISCARD, MULTI, WATCH and QUIT is
//! checked as Redis checks it at that point (known, authenticated, the
//! right number of arguments) and queued (`+QUEUED`); a refusal makes
//! EXEC answer `-EXECABORT` and run nothing. Only data commands and the
//! few that touch nothing (PING, ECHO, TIME, SELECT, UNWATCH) may be
//! queued: the others (CLIENT, CONFIG, INFO, …) are about the server and
//! get Redis's `Command not allowed inside a transaction` (Redis runs
//! them inside EXEC, tinykv cannot: EXEC runs inside an engine
//! transaction, which must not reach the server).
//!
//! EXEC joins the batch as one round entry (round.rs): its commands run in
//! order inside the round's engine transaction, so they are atomic
//! against every writer, the owner's own process included, and written
//! with one fsync; a command's own error (a wrong type of argument, say)
//! is its element of EXEC's array and does not stop the others, as in
//! Redis. With keys WATCHed, the same transaction first checks that none
//! of them changed (watches.rs), and answers a nil array if one did.
//!
//! Invariants: the queued commands and the watched keys are parked in the
//! connection's reservation (budget.rs) while held, and kept with EXEC
//! until its reply; EXEC, DISCARD and the connection's end always let go
//! of both (a watch list unwatches when dropped, wherever that is).

use super::{Conn, Turn};
use crate::cli::serve::program;
use crate::cli::serve::reply::Output;
use crate::cli::serve::request::Request;
use crate::cli::serve::round::{Call, Entry, Exec};
use crate::cli::serve::store::valid_key;
use crate::cli::serve::table::COMMANDS;
use crate::cli::serve::watches::WatchList;
use crate::engine::Stored;

/// What MULTI has queued.
#[derive(Default)]
pub struct Multi {
    calls: Vec<Call>,
    /// A command was refused: EXEC runs nothing.
    dirty: bool,
    /// The bytes the queued commands hold.
    parked: usize,
}

/// Whether a command runs at once, not queued, after MULTI (Redis's list).
pub fn runs_at_once(name: &str) -> bool {
    matches!(name, "exec" | "discard" | "multi" | "watch" | "quit")
}

impl Conn<'_> {
    /// A request after MULTI: checked and queued, or refused.
    pub(super) fn queue(&mut self, request: Request, kept: usize) {
        let mut out = Output::new(&self.server.replies);
        let kind = self
            .check(&request, &mut out)
            .map(|i| program::kind(COMMANDS[i].name));
        let Some(multi) = self.multi.as_mut() else {
            return self.reply(out, kept);
        };
        match kind {
            None => multi.dirty = true,
            Some(None) => {
                out.error("ERR Command not allowed inside a transaction");
                multi.dirty = true;
            }
            Some(Some(kind)) => {
                multi.calls.push(Call::new(kind, request));
                multi.parked += kept;
                self.reservation.done(kept);
                self.reservation.park(kept);
                out.simple("QUEUED");
                return self.reply(out, 0);
            }
        }
        self.reply(out, kept);
    }

    /// MULTI.
    pub(super) fn begin(&mut self, out: &mut Output) {
        if self.multi.is_some() {
            out.error("ERR MULTI calls can not be nested");
        } else {
            self.multi = Some(Multi::default());
            out.ok();
        }
    }

    /// Lets go of the watched keys; returns the bytes they held.
    fn forget_watched(&mut self) -> usize {
        let bytes = self.watching.as_ref().map_or(0, WatchList::bytes);
        self.watching = None;
        self.reservation.unpark(bytes);
        bytes
    }

    /// DISCARD.
    pub(super) fn discard(&mut self, out: &mut Output) {
        let Some(multi) = self.multi.take() else {
            out.error("ERR DISCARD without MULTI");
            return;
        };
        self.reservation.unpark(multi.parked);
        self.forget_watched();
        out.ok();
    }

    /// EXEC: the queued commands join the batch as one entry.
    pub(super) fn exec(&mut self, mut out: Output, kept: usize, turn: &mut Turn<'_>) {
        let Some(multi) = self.multi.take() else {
            out.error("ERR EXEC without MULTI");
            return self.reply(out, kept);
        };
        self.reservation.unpark(multi.parked);
        if multi.dirty {
            self.forget_watched();
            out.error("EXECABORT Transaction discarded because of previous errors.");
            return self.reply(out, kept);
        }
        let watching = self.watching.take();
        let watched = watching.as_ref().map_or(0, WatchList::bytes);
        self.reservation.unpark(watched);
        if multi.calls.is_empty() && watching.is_none() {
            out.array(0);
            return self.reply(out, kept);
        }
        // What was parked is now part of a request in flight.
        let held = kept + multi.parked + watched;
        self.reservation.keep(multi.parked + watched);
        let exec = Exec {
            calls: multi.calls,
            watching,
        };
        self.add_entry(Entry::Exec(exec), held, turn);
    }

    /// WATCH key...: each key's state noted now (the batch before it was
    /// written first).
    pub(super) fn watch(&mut self, request: &Request, kept: usize) {
        self.reservation.done(kept);
        if self.multi.is_some() {
            self.out.error("ERR WATCH inside MULTI is not allowed");
            return;
        }
        let db = &self.server.db;
        let list = self
            .watching
            .get_or_insert_with(|| WatchList::new(&self.server.watches));
        let mut grew = 0;
        for key in &request[1..] {
            let read = || -> Result<Option<Stored>, crate::engine::Error> {
                if !valid_key(key) {
                    return Ok(None);
                }
                let found = db.get_with_expiry(key)?;
                Ok(found.map(|(value, expires_at)| Stored { value, expires_at }))
            };
            match list.watch(key, read) {
                Ok(n) => grew += n,
                Err(e) => {
                    let text = e.with_causes();
                    self.server.log_engine_error(&text);
                    self.reservation.park(grew);
                    self.out.error(&format!("ERR {text}"));
                    return;
                }
            }
        }
        self.reservation.park(grew);
        self.out.ok();
    }

    /// UNWATCH.
    pub(super) fn unwatch(&mut self, kept: usize) {
        self.reservation.done(kept);
        self.forget_watched();
        self.out.ok();
    }
}
