//! The worker threads: they run the commands the event loop must not run
//! itself, because they may wait (for a key's stripe, for their own write's
//! fsync) or walk every key: SET with NX/XX/GET, SETNX, DEL, MGET, EXISTS,
//! KEYS, SCAN, DBSIZE, FLUSHDB, INFO; and a batch of blind writes whose
//! stripes the event loop could not take at once. Each result goes back to
//! the event loop's mailbox as the replies to send.
//!
//! Invariants: a task runs on one worker from start to end and its reply
//! is posted exactly once, also when the command panics (the reply is then
//! an error and the panic hook has said what happened); the event loop
//! sends a connection nothing else until its task's reply is back, so
//! replies stay in order. [`WORKERS`] threads are enough: a waiting task
//! waits for an fsync shared by every task waiting with it.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::Server;
use super::clients::Client;
use super::commands::{COMMANDS, Ctx, Flow};
use super::committer::{Op, Slot};
use super::reactor::{Completion, Mailbox};
use super::reply::Output;
use super::resp::Request;
use super::stripes::Mode;

/// How many worker threads.
pub const WORKERS: usize = 16;

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
    /// Take `stripes` (waiting as needed), write `ops`, answer `replies` +OKs.
    Write {
        /// The connection.
        token: usize,
        /// The writes.
        ops: Vec<Op>,
        /// Their stripes.
        stripes: Vec<usize>,
        /// How many replies they owe.
        replies: usize,
    },
}

#[derive(Default)]
struct Queue {
    tasks: VecDeque<Task>,
    stop: bool,
}

/// The workers' queue.
#[derive(Default)]
pub struct Workers {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Workers {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a task.
    pub fn submit(&self, task: Task) {
        self.lock().tasks.push_back(task);
        self.ready.notify_one();
    }

    /// Ends the workers once the queue is empty.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.ready.notify_all();
    }

    /// A worker thread's body.
    pub fn run(&self, server: &Server, mailbox: &Mailbox) {
        let slot = Slot::for_this_thread();
        loop {
            let task = {
                let mut q = self.lock();
                loop {
                    if let Some(task) = q.tasks.pop_front() {
                        break task;
                    }
                    if q.stop {
                        return;
                    }
                    q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
                }
            };
            let token = match &task {
                Task::Command { token, .. } | Task::Write { token, .. } => *token,
            };
            let mut out = Output::new();
            let flow = catch_unwind(AssertUnwindSafe(|| run(server, &slot, task, &mut out)))
                .unwrap_or_else(|_| {
                    out = Output::new();
                    out.error("ERR internal error (see the server's log)");
                    Flow::Continue
                });
            mailbox.post(Completion::Replied { token, out, flow });
        }
    }
}

fn run(server: &Server, slot: &Arc<Slot>, task: Task, out: &mut Output) -> Flow {
    match task {
        Task::Command {
            client,
            index,
            args,
            ..
        } => {
            // Only AUTH changes this, and AUTH runs on the event loop.
            let mut authed = true;
            let mut ctx = Ctx {
                server,
                client: &client,
                authed: &mut authed,
                out,
                slot,
            };
            (COMMANDS[index].run)(&mut ctx, &args)
        }
        Task::Write {
            ops,
            stripes,
            replies,
            ..
        } => {
            let outcome = {
                let _held = server.stripes.lock_stripes(stripes, Mode::Write);
                server.committer.commit(ops, slot)
            };
            server.compactor.note_write();
            for _ in 0..replies {
                match &outcome {
                    Ok(()) => out.ok(),
                    Err(text) => out.error(&format!("ERR {text}")),
                }
            }
            Flow::Continue
        }
    }
}
