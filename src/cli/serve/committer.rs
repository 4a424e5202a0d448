//! The writer thread: the workers, and the event loop when it must not
//! write itself (a compaction is running, or the round is large), hand it
//! their writes; it writes everything queued as one atomic batch (one
//! write, one fsync), then tells each sender: the event loop through its
//! mailbox (one wake-up for the whole round), a worker thread by unparking
//! it.
//!
//! Why a thread of its own: the workers wait anyway, but the event loop
//! must not wait for a compaction, so something else has to. Why one for
//! all: the engine shares an fsync among
//! concurrent callers, but its waiters all sleep on one condition variable
//! notified for every group, so each fsync wakes every waiting thread;
//! measured (thread per connection, redis-benchmark, 50 clients, SET) that
//! was six context switches and 29 µs of CPU per SET on two cores. With one
//! caller, the engine's queue never has a waiter, and each sender is woken
//! once, by name.
//!
//! Invariants: a sender hears of its writes only after the batch holding
//! them was written (and fsynced under `--sync always`) or failed; jobs are
//! applied in the order they were queued, so a connection's writes keep
//! their order; all the writes of one job land together or not at all (they
//! are in one engine batch, with the other jobs of the round). The writes
//! given must already be valid (key and value sizes checked), since one bad
//! write would fail the whole round. [`Committer::stop`] ends the thread
//! once the queue is empty.
//!
//! Memory: every queued job's bytes are still reserved in the server's
//! request budget by the connection that sent it (budget.rs), so the queue
//! is bounded by that budget; and a round takes jobs only up to
//! [`ROUND_BYTES`] (at least one), because the engine copies a round into
//! one buffer: a queue that filled up during a compaction is written in
//! several rounds, not copied whole.
//!
//! A panic while writing (a bug, in the engine or here) answers the round
//! with an error and fails the committer: every queued job and every later
//! one is refused, since the engine's state after a panic is not to be
//! trusted, and the caller's `on_panic` stops the server (mod.rs). No
//! sender is left waiting for an answer that will never come.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, Thread};

use super::mailbox::{Completion, Mailbox, Outcome};
use crate::engine::Batch;

/// A round takes queued jobs up to this many bytes of keys and values.
pub const ROUND_BYTES: usize = 64 * 1024 * 1024;
/// What a job is answered with once the writer has failed.
const FAILED: &str = "internal error: the writer failed (see the server's log); the server is \
                      shutting down";

/// One write: a key and its new value, or `None` to delete it.
pub type Op = (Vec<u8>, Option<Vec<u8>>);

/// Where a connection waits for its writes.
#[derive(Debug)]
pub struct Slot {
    outcome: Mutex<Option<Outcome>>,
    thread: Thread,
}

impl Slot {
    /// A slot for the current thread to wait on.
    pub fn for_this_thread() -> Arc<Slot> {
        Arc::new(Slot {
            outcome: Mutex::new(None),
            thread: thread::current(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Outcome>> {
        self.outcome.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Who hears of a job's outcome.
#[derive(Debug)]
pub enum Waiter {
    /// A thread parked in [`Committer::commit`].
    Thread(Arc<Slot>),
    /// The event loop, about the connection with this token.
    Reactor(usize),
}

/// The bytes of keys and values of `ops`.
pub fn ops_bytes(ops: &[Op]) -> usize {
    ops.iter()
        .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
        .sum()
}

#[derive(Debug, Default)]
struct Queue {
    jobs: std::collections::VecDeque<(Vec<Op>, Waiter)>,
    /// The writer is waiting for work (so a new job must wake it).
    idle: bool,
    stop: bool,
    /// A write panicked: nothing more is written.
    failed: bool,
}

impl Queue {
    /// Why a new job is refused, if it is.
    fn refusal(&self) -> Option<String> {
        if self.failed {
            Some(FAILED.to_owned())
        } else if self.stop {
            Some("the server is shutting down".to_owned())
        } else {
            None
        }
    }

    /// The jobs of the next round: up to [`ROUND_BYTES`], at least one.
    fn next_round(&mut self) -> Vec<(Vec<Op>, Waiter)> {
        let mut bytes = 0;
        let mut n = 0;
        for (ops, _) in &self.jobs {
            bytes += ops_bytes(ops);
            if n > 0 && bytes > ROUND_BYTES {
                break;
            }
            n += 1;
        }
        self.jobs.drain(..n).collect()
    }
}

/// The writer's queue.
#[derive(Debug, Default)]
pub struct Committer {
    queue: Mutex<Queue>,
    work: Condvar,
}

impl Committer {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `ops` atomically and returns once they are durable or failed.
    /// `slot` must belong to the calling thread.
    pub fn commit(&self, ops: Vec<Op>, slot: &Arc<Slot>) -> Outcome {
        if ops.is_empty() {
            return Ok(());
        }
        *slot.lock() = None;
        self.submit(ops, Waiter::Thread(Arc::clone(slot)))?;
        loop {
            if let Some(outcome) = slot.lock().take() {
                return outcome;
            }
            // Spurious wake-ups only cost another look.
            thread::park();
        }
    }

    /// Queues `ops`; `waiter` hears of the outcome (unless this fails: the
    /// server is stopping).
    pub fn submit(&self, ops: Vec<Op>, waiter: Waiter) -> Outcome {
        let mut q = self.lock();
        if let Some(text) = q.refusal() {
            return Err(text);
        }
        q.jobs.push_back((ops, waiter));
        if q.idle {
            q.idle = false;
            self.work.notify_one();
        }
        Ok(())
    }

    /// Queues several jobs with one wake-up; gives them back if the
    /// writer has stopped.
    pub fn submit_all(&self, jobs: Vec<(Vec<Op>, Waiter)>) -> Result<(), (String, Vec<Waiter>)> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut q = self.lock();
        if let Some(text) = q.refusal() {
            return Err((text, jobs.into_iter().map(|(_, w)| w).collect()));
        }
        q.jobs.extend(jobs);
        if q.idle {
            q.idle = false;
            self.work.notify_one();
        }
        Ok(())
    }

    /// Ends the writer once every queued job is written.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.work.notify_all();
    }

    /// Whether a write panicked (nothing more will be written). The server
    /// learns it from its shutdown switch; the tests ask here.
    #[cfg(test)]
    pub fn failed(&self) -> bool {
        self.lock().failed
    }

    /// The writer thread's body: each round's batch goes to `write`, which
    /// returns the engine's error as text; `on_panic` hears of a write that
    /// panicked, after which the thread refuses every job and ends.
    pub fn run(
        &self,
        mailbox: &Mailbox,
        write: impl Fn(Batch) -> Outcome,
        on_panic: impl FnOnce(),
    ) {
        loop {
            let jobs = {
                let mut q = self.lock();
                while q.jobs.is_empty() && !q.stop {
                    q.idle = true;
                    q = self.work.wait(q).unwrap_or_else(|p| p.into_inner());
                }
                q.idle = false;
                if q.jobs.is_empty() {
                    return;
                }
                q.next_round()
            };
            let (batch, waiters) = batch_of(jobs);
            let written = catch_unwind(AssertUnwindSafe(|| write(batch)));
            let panicked = written.is_err();
            let outcome = written.unwrap_or_else(|_| Err(FAILED.to_owned()));
            answer(mailbox, waiters, &outcome);
            if panicked {
                self.fail(mailbox);
                on_panic();
                return;
            }
        }
    }

    /// Refuses every queued job and every later one.
    fn fail(&self, mailbox: &Mailbox) {
        let jobs = {
            let mut q = self.lock();
            q.failed = true;
            q.stop = true;
            std::mem::take(&mut q.jobs)
        };
        let waiters = jobs.into_iter().map(|(_, w)| w).collect();
        answer(mailbox, waiters, &Err(FAILED.to_owned()));
    }
}

/// One engine batch of the jobs' writes, in order, and who waits for each
/// job: a round, as the writer thread and the event loop write one.
pub fn batch_of(jobs: Vec<(Vec<Op>, Waiter)>) -> (Batch, Vec<Waiter>) {
    let mut batch = Batch::new();
    let mut waiters = Vec::with_capacity(jobs.len());
    for (ops, waiter) in jobs {
        for (key, value) in ops {
            match value {
                Some(value) => batch.set(key, value),
                None => batch.delete(key),
            }
        }
        waiters.push(waiter);
    }
    (batch, waiters)
}

/// Tells each waiter the outcome: a thread by its slot, the event loop
/// through its mailbox (one wake-up for all).
fn answer(mailbox: &Mailbox, waiters: Vec<Waiter>, outcome: &Outcome) {
    let mut posted = Vec::new();
    for waiter in waiters {
        match waiter {
            Waiter::Thread(slot) => {
                *slot.lock() = Some(outcome.clone());
                slot.thread.unpark();
            }
            Waiter::Reactor(token) => posted.push(Completion::Written {
                token,
                outcome: outcome.clone(),
            }),
        }
    }
    mailbox.post_all(posted);
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::engine::Db;

    fn write_to(db: &Db) -> impl Fn(Batch) -> Outcome + '_ {
        |batch| db.write_batch(batch).map_err(|e| e.with_causes())
    }

    #[test]
    fn writes_from_many_threads_land_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Default::default()).unwrap();
        let committer = Committer::default();
        let poll = mio::Poll::new().unwrap();
        let mailbox = Mailbox::new(&poll).unwrap();
        thread::scope(|s| {
            s.spawn(|| committer.run(&mailbox, write_to(&db), || panic!("no panic")));
            let workers: Vec<_> = (0..8)
                .map(|t| {
                    let committer = &committer;
                    s.spawn(move || {
                        let slot = Slot::for_this_thread();
                        for i in 0..50 {
                            let key = format!("t{t}").into_bytes();
                            let ops = vec![(key, Some(i.to_string().into_bytes()))];
                            committer.commit(ops, &slot).unwrap();
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            committer.stop();
        });
        for t in 0..8 {
            let key = format!("t{t}");
            assert_eq!(db.get(key.as_bytes()).unwrap().as_deref(), Some(&b"49"[..]));
        }
        let slot = Slot::for_this_thread();
        assert!(
            committer
                .commit(vec![(b"k".to_vec(), None)], &slot)
                .is_err()
        );
    }

    #[test]
    fn a_round_is_at_most_round_bytes_and_at_least_one_job() {
        let mut q = Queue::default();
        let job = |n: usize| {
            (
                vec![(b"k".to_vec(), Some(vec![0u8; n]))],
                Waiter::Reactor(0),
            )
        };
        q.jobs.push_back(job(ROUND_BYTES + 5));
        q.jobs.push_back(job(10));
        assert_eq!(q.next_round().len(), 1, "a large job goes alone");
        for _ in 0..4 {
            q.jobs.push_back(job(ROUND_BYTES / 3));
        }
        assert_eq!(q.next_round().len(), 3);
        assert_eq!(q.next_round().len(), 2);
        assert!(q.jobs.is_empty());
    }

    #[test]
    fn a_panicking_write_answers_everyone_and_refuses_more() {
        let committer = Committer::default();
        let poll = mio::Poll::new().unwrap();
        let mailbox = Mailbox::new(&poll).unwrap();
        let told = std::sync::atomic::AtomicBool::new(false);
        thread::scope(|s| {
            s.spawn(|| {
                committer.run(
                    &mailbox,
                    |_| panic!("a test panic in the writer"),
                    || told.store(true, std::sync::atomic::Ordering::SeqCst),
                )
            });
            let slot = Slot::for_this_thread();
            let outcome = committer.commit(vec![(b"k".to_vec(), None)], &slot);
            assert!(outcome.unwrap_err().contains("internal error"));
        });
        assert!(told.load(std::sync::atomic::Ordering::SeqCst));
        assert!(committer.failed());
        let slot = Slot::for_this_thread();
        let refused = committer.commit(vec![(b"k".to_vec(), None)], &slot);
        assert!(refused.unwrap_err().contains("the writer failed"));
    }
}
