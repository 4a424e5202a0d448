//! The writer thread: the event loop hands it the rounds it must not
//! write itself (a compaction is running, the round is large, or it would
//! seal the log: reactor.rs); it writes everything queued as one round
//! (round.rs: one engine batch or one transaction, one fsync), then tells
//! the event loop through its mailbox, one wake-up for the whole round.
//!
//! Why a thread of its own: the event loop must not wait for a compaction,
//! so something else has to. Why one: the engine shares an fsync among
//! concurrent callers, but its waiters all sleep on one condition variable
//! notified for every group, so each fsync wakes every waiting thread;
//! measured (thread per connection, redis-benchmark, 50 clients, SET) that
//! was six context switches and 29 µs of CPU per SET on two cores. With one
//! caller, the engine's queue never has a waiter.
//!
//! Invariants: a connection hears of its jobs only after the round holding
//! them was written (and fsynced under `--sync always`) or failed; jobs
//! are written in the order they were queued, so a connection's writes
//! keep their order; all the writes of one job land together or not at all
//! (they are in one round). [`Committer::stop`] ends the thread once the
//! queue is empty.
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
//! connection is left waiting for an answer that will never come.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::mailbox::{Completion, Mailbox, Outcome};
use super::round::{Job, Written, job_bytes};

/// A round takes queued jobs up to this many bytes of keys and values.
pub const ROUND_BYTES: usize = 64 * 1024 * 1024;
/// What a job is answered with once the writer has failed.
const FAILED: &str = "internal error: the writer failed (see the server's log); the server is \
                      shutting down";

/// A connection's job, and the connection's token.
pub type Queued = (Job, usize);

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Queued>,
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
    fn next_round(&mut self) -> Vec<Queued> {
        let mut bytes = 0;
        let mut n = 0;
        for (job, _) in &self.jobs {
            bytes += job_bytes(job);
            if n > 0 && bytes > ROUND_BYTES {
                break;
            }
            n += 1;
        }
        self.jobs.drain(..n).collect()
    }
}

/// The writer's queue.
#[derive(Default)]
pub struct Committer {
    queue: Mutex<Queue>,
    work: Condvar,
}

impl Committer {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues several jobs with one wake-up; gives back the tokens if the
    /// writer has stopped.
    pub fn submit_all(&self, jobs: Vec<Queued>) -> Result<(), (String, Vec<usize>)> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut q = self.lock();
        if let Some(text) = q.refusal() {
            return Err((text, jobs.into_iter().map(|(_, t)| t).collect()));
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

    /// The writer thread's body: each round goes to `write` (round.rs's
    /// [`write`](super::round::write), in the server), which returns each
    /// job's replies or the engine's error as text; `on_panic` hears of a
    /// write that panicked, after which the thread refuses every job and
    /// ends.
    pub fn run(
        &self,
        mailbox: &Mailbox,
        write: impl Fn(Vec<Job>) -> Result<Written, String>,
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
            let (jobs, tokens): (Vec<Job>, Vec<usize>) = jobs.into_iter().unzip();
            let written = catch_unwind(AssertUnwindSafe(|| write(jobs)));
            let panicked = written.is_err();
            let written = written.unwrap_or_else(|_| Err(FAILED.to_owned()));
            mailbox.post_all(completions(tokens, written));
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
        let tokens = jobs.into_iter().map(|(_, t)| t).collect();
        mailbox.post_all(completions(tokens, Err(FAILED.to_owned())));
    }
}

/// Each connection's outcome of a round: its replies, or the round's error.
pub fn completions(tokens: Vec<usize>, written: Result<Written, String>) -> Vec<Completion> {
    match written {
        Ok(written) => tokens
            .into_iter()
            .zip(written)
            .map(|(token, outs)| Completion::Written {
                token,
                outcome: Ok(outs),
            })
            .collect(),
        Err(text) => tokens
            .into_iter()
            .map(|token| Completion::Written {
                token,
                outcome: Outcome::Err(text.clone()),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cli::serve::round::{self, Entry};
    use crate::cli::serve::store::Shared;
    use crate::engine::Db;

    fn shared() -> Shared {
        Shared {
            watches: Default::default(),
            replies: std::sync::Arc::new(crate::cli::serve::reply::Replies::new(1 << 30)),
            cursors: Default::default(),
        }
    }

    fn set(key: &str, value: &str) -> Job {
        vec![Entry::Blind(vec![(key.into(), value.into())])]
    }

    #[test]
    fn queued_jobs_land_in_order_and_each_connection_hears_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Default::default()).unwrap();
        let committer = Committer::default();
        let poll = mio::Poll::new().unwrap();
        let mailbox = Mailbox::new(&poll).unwrap();
        let shared = shared();
        for i in 0..50 {
            let jobs = (0..4)
                .map(|t| (set(&format!("t{t}"), &i.to_string()), t))
                .collect();
            committer.submit_all(jobs).unwrap();
        }
        committer.stop();
        committer.run(
            &mailbox,
            |jobs| round::write(&db, &shared, jobs),
            || panic!("no panic"),
        );
        let heard = mailbox.take();
        assert_eq!(heard.len(), 200);
        assert!(
            heard
                .iter()
                .all(|c| matches!(c, Completion::Written { outcome: Ok(_), .. }))
        );
        for t in 0..4 {
            let key = format!("t{t}");
            assert_eq!(db.get(key.as_bytes()).unwrap().as_deref(), Some(&b"49"[..]));
        }
        assert!(committer.submit_all(vec![(set("k", "v"), 0)]).is_err());
    }

    #[test]
    fn a_round_is_at_most_round_bytes_and_at_least_one_job() {
        let mut q = Queue::default();
        let job = |n: usize| (vec![Entry::Blind(vec![(b"k".to_vec(), vec![0u8; n])])], 0);
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
        committer
            .submit_all(vec![(set("a", "1"), 1), (set("b", "1"), 2)])
            .unwrap();
        committer.run(
            &mailbox,
            |_| panic!("a test panic in the writer"),
            || told.store(true, std::sync::atomic::Ordering::SeqCst),
        );
        assert!(told.load(std::sync::atomic::Ordering::SeqCst));
        assert!(committer.failed());
        let heard = mailbox.take();
        assert_eq!(heard.len(), 2);
        for c in heard {
            let Completion::Written { outcome, .. } = c else {
                panic!("a write's completion");
            };
            assert!(outcome.err().unwrap().contains("internal error"));
        }
        let refused = committer.submit_all(vec![(set("k", "v"), 3)]);
        assert!(refused.unwrap_err().0.contains("the writer failed"));
    }
}
