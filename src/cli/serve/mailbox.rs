//! Where the other threads leave results for the event loop, and wake it:
//! the writer thread's outcome of a connection's batch, a worker's replies
//! to a connection's command ([`Completion`]). The loop takes them all at
//! once, after its `poll` returns.
//!
//! Invariants: results are taken in the order they were posted; posting
//! wakes the loop only when the mailbox was empty (one that holds mail has
//! woken it already), so a round of results costs one wake-up.

use std::io;
use std::sync::{Mutex, MutexGuard};

use mio::{Poll, Token, Waker};

use super::reply::Output;

/// The mailbox's token in the event loop's poll.
pub const WAKE: Token = Token(usize::MAX);

/// What became of a connection's job in a round: the replies of its
/// entries that are not plain writes (those are `+OK`), in order, or the
/// engine's error as text.
pub type Outcome = Result<Vec<Output>, String>;

/// What the committer or a worker did for a connection.
pub enum Completion {
    /// A round holding a connection's batch was written (or failed).
    Written {
        /// The connection.
        token: usize,
        /// What happened.
        outcome: Outcome,
    },
    /// A worker ran a connection's task: the replies to send.
    Replied {
        /// The connection.
        token: usize,
        /// The replies.
        out: Output,
        /// Close the connection once they are sent (QUIT, SHUTDOWN).
        close: bool,
    },
}

impl Completion {
    /// The connection it is for.
    pub fn token(&self) -> usize {
        match self {
            Completion::Written { token, .. } | Completion::Replied { token, .. } => *token,
        }
    }
}

/// Where other threads leave results for the event loop, and wake it.
pub struct Mailbox {
    items: Mutex<Vec<Completion>>,
    waker: Waker,
}

impl Mailbox {
    /// A mailbox that wakes `poll`.
    pub fn new(poll: &Poll) -> io::Result<Mailbox> {
        Ok(Mailbox {
            items: Mutex::new(Vec::new()),
            waker: Waker::new(poll.registry(), WAKE)?,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Completion>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leaves one result.
    pub fn post(&self, item: Completion) {
        self.post_all(vec![item]);
    }

    /// Leaves several results, with one wake-up.
    pub fn post_all(&self, items: Vec<Completion>) {
        if items.is_empty() {
            return;
        }
        let was_empty = {
            let mut mine = self.lock();
            let was_empty = mine.is_empty();
            mine.extend(items);
            was_empty
        };
        // A mailbox already holding mail has already woken the loop.
        if was_empty {
            self.wake();
        }
    }

    /// Wakes the loop (also for shutdown).
    pub fn wake(&self) {
        let _ = self.waker.wake();
    }

    /// Takes every result left so far, in the order they were posted.
    pub fn take(&self) -> Vec<Completion> {
        std::mem::take(&mut *self.lock())
    }
}
