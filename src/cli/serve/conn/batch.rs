//! A connection's batch: what group commit gathers from one connection
//! before it joins the event loop's round (round.rs), and the order its
//! replies go out in.
//!
//! The batch holds the connection's writes as round entries (plain SETs
//! and MSETs, commands that read what they write, EXEC) and, beside them,
//! its plan: one item per request, in order, saying where the reply comes
//! from (`+OK` for a plain write, the round for the others, or a reply
//! decided at once that must still come after the ones before it, such
//! as `+QUEUED` or an error found while checking a command). So a client
//! that pipelines SET, INCR, MULTI, SET, EXEC gets its five replies in
//! order from one round.
//!
//! Invariants: a batch holds at most about [`BATCH_BYTES`] or
//! [`BATCH_WRITES`] (it is sent once it reaches either); a plain write's
//! sizes were checked before it joined it; `kept` is what its requests
//! keep reserved in the budget, given back by the connection when the
//! batch's outcome comes back; the plan's items that take the round's
//! replies are exactly its entries that are not plain writes, in order.

use crate::cli::serve::committer::Queued;
use crate::cli::serve::keyspace::Pairs;
use crate::cli::serve::reply::Output;
use crate::cli::serve::round::Entry;

/// A batch joins the round once it holds this many bytes...
pub const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// ...or this many writes.
pub const BATCH_WRITES: usize = 1024;

/// Where one request's reply comes from.
pub enum Planned {
    /// A plain write's `+OK` (or the round's error).
    Ok,
    /// The round's reply for the entry (or its error).
    Round,
    /// A reply decided when the request was read.
    Ready(Output),
}

/// A connection's requests not yet in a round.
#[derive(Default)]
pub struct Batch {
    entries: Vec<Entry>,
    plan: Vec<Planned>,
    bytes: usize,
    writes: usize,
    /// The bytes its requests keep reserved in the budget.
    pub kept: usize,
}

impl Batch {
    /// Whether it holds no request.
    pub fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    /// Adds a plain write's pairs, whose request keeps `kept` bytes.
    pub fn add_pairs(&mut self, pairs: Pairs, kept: usize) {
        self.bytes += pairs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        self.writes += pairs.len();
        self.entries.push(Entry::Blind(pairs));
        self.plan.push(Planned::Ok);
        self.kept += kept;
    }

    /// Adds an entry whose reply the round makes.
    pub fn add_entry(&mut self, entry: Entry, kept: usize) {
        self.bytes += entry.bytes();
        self.writes += 1;
        self.entries.push(entry);
        self.plan.push(Planned::Round);
        self.kept += kept;
    }

    /// Adds a reply decided now, to go after the ones before it.
    pub fn add_reply(&mut self, out: Output, kept: usize) {
        self.plan.push(Planned::Ready(out));
        self.kept += kept;
    }

    /// Whether it is large enough to send now.
    pub fn full(&self) -> bool {
        self.bytes >= BATCH_BYTES || self.writes >= BATCH_WRITES
    }

    /// Hands its entries to the turn's round (`round`) for the connection
    /// `token`; returns its plan, for the replies. With no entry (nothing
    /// but replies decided already) nothing joins the round.
    pub fn send(self, token: usize, round: &mut Vec<Queued>) -> (Vec<Planned>, bool) {
        let sent = !self.entries.is_empty();
        if sent {
            round.push((self.entries, token));
        }
        (self.plan, sent)
    }
}

/// Replies to a sent batch's requests, in order, once its round is done:
/// `outcome` is the round's replies to its entries, or its error.
pub fn answer(plan: Vec<Planned>, outcome: Result<Vec<Output>, String>, out: &mut Output) {
    match outcome {
        Ok(replies) => {
            let mut replies = replies.into_iter();
            for item in plan {
                match item {
                    Planned::Ok => out.ok(),
                    Planned::Round => match replies.next() {
                        Some(reply) => out.append(reply),
                        // Cannot happen (see the invariants): still a reply.
                        None => out.error("ERR internal error: a reply went missing"),
                    },
                    Planned::Ready(reply) => out.append(reply),
                }
            }
        }
        Err(text) => {
            for item in plan {
                match item {
                    Planned::Ok | Planned::Round => out.error(&format!("ERR {text}")),
                    Planned::Ready(reply) => out.append(reply),
                }
            }
        }
    }
}
