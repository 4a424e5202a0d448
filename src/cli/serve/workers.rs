//! The worker threads: they run the commands the event loop must not run
//! itself, because they may wait for the engine's writer lock, walk
//! every key or read a large value: MGET, EXISTS, KEYS, SCAN, DBSIZE,
//! FLUSHDB, INFO, tinykv's own (TINYKV.LOAD, TINYKV.POP, …) and a GET of a
//! value over 1 MiB (conn/route.rs). A connection's data writes do not
//! come here: they join the event loop's round (round.rs). Each result
//! goes back to the event loop's mailbox as the replies to send. This
//! module keeps their queues; what a worker does with a task is the
//! dispatcher's (dispatch.rs).
//!
//! Two pools, so that a read never waits behind a write. A write waits for
//! the engine's writer lock, which a compaction holds for its whole run:
//! with one pool, [`WRITE_WORKERS`] FLUSHDBs or loads parked during a
//! compaction would take every thread, and SCAN, KEYS, DBSIZE, INFO, MGET
//! and EXISTS queued behind them would wait for the compaction too. The
//! read pool ([`Pool::Reads`]) runs only commands that never take the
//! writer lock, so it always moves; the write pool runs everything flagged
//! `write` in the command table, and what copies the database (SYNC,
//! PSYNC, TINYKV.BACKUP: see
//! [`Spec::waits_for_writer`](super::table::Spec::waits_for_writer)).
//!
//! Invariants: a task runs on one worker from start to end and its reply
//! is posted exactly once, also when the command panics (the reply is then
//! an error and the panic hook has said what happened); the event loop
//! sends a connection nothing else until its task's reply is back, so
//! replies stay in order. [`WRITE_WORKERS`] threads are enough: a waiting
//! task waits for an fsync shared by every task waiting with it; the reads'
//! [`READ_WORKERS`] are enough for two cores, and none of them ever waits
//! for a write.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::clients::Client;
use super::request::Request;
use super::table::COMMANDS;

/// Threads for commands that write (and may wait for the writer lock).
pub const WRITE_WORKERS: usize = 16;
/// Threads for commands that only read.
pub const READ_WORKERS: usize = 4;

/// Which threads run a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// Read-only commands: never the writer lock.
    Reads,
    /// Everything that writes.
    Writes,
}

/// Something for a worker to do, for the connection with `token`.
pub enum Task {
    /// Run command `index` of [`COMMANDS`] with `args` (already checked).
    Command {
        /// The connection.
        token: usize,
        /// Its client.
        client: Arc<Client>,
        /// The command.
        index: usize,
        /// Its arguments, the name first.
        args: Request,
    },
}

impl Task {
    /// The pool that runs it.
    pub fn pool(&self) -> Pool {
        match self {
            Task::Command { index, .. } if !COMMANDS[*index].waits_for_writer() => Pool::Reads,
            Task::Command { .. } => Pool::Writes,
        }
    }

    /// The connection it is for.
    pub fn token(&self) -> usize {
        match self {
            Task::Command { token, .. } => *token,
        }
    }
}

#[derive(Default)]
struct Queue {
    tasks: VecDeque<Task>,
    stop: bool,
}

/// One pool's queue.
#[derive(Default)]
struct Lane {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The workers' queues.
#[derive(Default)]
pub struct Workers {
    reads: Lane,
    writes: Lane,
}

impl Workers {
    fn lane(&self, pool: Pool) -> &Lane {
        match pool {
            Pool::Reads => &self.reads,
            Pool::Writes => &self.writes,
        }
    }

    /// Queues a task for its pool.
    pub fn submit(&self, task: Task) {
        let lane = self.lane(task.pool());
        lane.lock().tasks.push_back(task);
        lane.ready.notify_one();
    }

    /// Ends the workers of both pools once their queues are empty.
    pub fn stop(&self) {
        for lane in [&self.reads, &self.writes] {
            lane.lock().stop = true;
            lane.ready.notify_all();
        }
    }

    /// The next task of `pool`, waiting for one; `None` once the workers
    /// are stopped and the queue is empty.
    pub fn next(&self, pool: Pool) -> Option<Task> {
        let lane = self.lane(pool);
        let mut q = lane.lock();
        loop {
            if let Some(task) = q.tasks.pop_front() {
                return Some(task);
            }
            if q.stop {
                return None;
            }
            q = lane.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::serve::table::lookup;

    #[test]
    fn reads_never_run_on_the_write_pool_and_writes_never_on_the_read_pool() {
        for (index, spec) in COMMANDS.iter().enumerate() {
            if spec.inline {
                continue;
            }
            let task = Task::Command {
                token: 0,
                client: Arc::new(Client::for_tests()),
                index,
                args: Vec::new(),
            };
            let writes = spec.flags.contains(&"write")
                || matches!(spec.name, "sync" | "psync" | "tinykv.backup");
            let expected = if writes { Pool::Writes } else { Pool::Reads };
            assert_eq!(task.pool(), expected, "{}", spec.name);
        }
        for name in ["mget", "exists", "scan", "keys", "dbsize", "info"] {
            let spec = &COMMANDS[lookup(name.as_bytes()).unwrap()];
            assert!(!spec.writes() && !spec.inline, "{name}");
        }
    }
}
