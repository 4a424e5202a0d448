//! A connection's batch of blind writes (plain SETs and MSETs) not yet in
//! a round: what group commit gathers, and where it goes when it is sent.
//!
//! Sending takes the writes' stripes in [`Mode::Write`] without waiting,
//! and puts the batch into the event loop's round; when a stripe is taken
//! by a check-then-write (SET NX, DEL, FLUSHDB), the batch goes to a
//! worker of the write pool, which waits for the stripes there, so the
//! loop never blocks.
//!
//! Invariants: a batch holds at most about [`BATCH_BYTES`] or
//! [`BATCH_WRITES`] (it is sent once it reaches either); its writes were
//! checked (key and value sizes) before they joined it; `kept` is what
//! its requests keep reserved in the budget, given back by the connection
//! when the batch's outcome comes back.

use crate::cli::serve::committer::{Op, Waiter};
use crate::cli::serve::keyspace::Pairs;
use crate::cli::serve::server::Server;
use crate::cli::serve::stripes::{Held, Mode, Stripes};
use crate::cli::serve::workers::Task;

/// A batch joins the round once it holds this many bytes...
pub const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// ...or this many writes.
pub const BATCH_WRITES: usize = 1024;

/// Blind writes gathered, not yet in a round.
#[derive(Default)]
pub struct Batch {
    ops: Vec<Op>,
    bytes: usize,
    stripes: Vec<usize>,
    /// How many +OKs it owes (one per request).
    pub replies: usize,
    /// The bytes its requests keep reserved in the budget.
    pub kept: usize,
}

/// Where a sent batch went.
pub enum Sent<'s> {
    /// Into the round, holding its stripes until it is written.
    Round(Held<'s>),
    /// To a worker, which takes the stripes itself.
    Worker,
}

impl Batch {
    /// Adds one request's writes, which keep `kept` bytes reserved.
    pub fn add(&mut self, stripes: &Stripes, pairs: Pairs, kept: usize) {
        for (key, value) in pairs {
            self.stripes.push(stripes.of(&key));
            self.bytes += key.len() + value.len();
            self.ops.push((key, Some(value)));
        }
        self.replies += 1;
        self.kept += kept;
    }

    /// Whether it is large enough to send now.
    pub fn full(&self) -> bool {
        self.bytes >= BATCH_BYTES || self.ops.len() >= BATCH_WRITES
    }

    /// Hands the batch to the turn's round (`writes`), or to a worker when
    /// its stripes cannot be taken without waiting; `None` when it is empty.
    pub fn send<'s>(
        self,
        server: &'s Server,
        token: usize,
        writes: &mut Vec<(Vec<Op>, Waiter)>,
    ) -> Option<Sent<'s>> {
        if self.replies == 0 {
            return None;
        }
        let Batch {
            ops,
            stripes,
            replies,
            ..
        } = self;
        let Some(held) = server
            .stripes
            .try_lock_stripes(stripes.clone(), Mode::Write)
        else {
            server.workers.submit(Task::Write {
                token,
                ops,
                stripes,
                replies,
            });
            return Some(Sent::Worker);
        };
        writes.push((ops, Waiter::Reactor(token)));
        Some(Sent::Round(held))
    }
}
