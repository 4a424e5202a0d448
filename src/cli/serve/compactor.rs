//! Background compaction: the server opens the database with automatic
//! compaction off, so that no client's SET ever runs a compaction, and this
//! thread runs it instead when the files have outgrown the threshold.
//!
//! When to look: writes only mark the database dirty (one relaxed atomic
//! store, no lock, no syscall), and the thread wakes every
//! [`CHECK_EVERY`] to ask the engine, only if something was written, whether
//! a compaction is due. Asking after every write instead would make each
//! writer take the engine's writer lock once more, waiting behind the fsync
//! in progress; a timer costs four wake-ups a second and lets the files
//! overshoot the threshold by at most what a quarter second of writes adds,
//! in the spirit of Redis checking its AOF rewrite rule from its 10 Hz
//! timer.
//!
//! The event loop writes to the engine itself (see reactor.rs), and a
//! compaction holds the engine's writer lock while it seals the log and
//! while it switches its outputs in (milliseconds each, at moments the
//! loop cannot foresee), so the loop must never start a write while one
//! runs; writes go on meanwhile through the writer thread. [`Compactor::not_running`]
//! is a guard that keeps compactions from starting, which the loop takes
//! without waiting or not at all (then the writer thread writes for it).
//!
//! Invariants: at most one compaction runs at a time, on this thread; a
//! failed compaction is logged and retried no sooner than [`RETRY_AFTER`],
//! so a full disk does not turn into a log line every quarter second;
//! [`Compactor::stop`] ends the thread after the compaction in progress, if
//! any, has finished (compaction is crash-safe, but a clean stop is nicer).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use crate::cli::output;
use crate::engine::{CompactReport, Db};

/// How often the thread looks, when something was written.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How long after a failure before the next attempt.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The last compaction this server ran.
#[derive(Clone, Debug)]
pub struct Last {
    /// What it did, or why it failed.
    pub outcome: Result<CompactReport, String>,
}

/// What INFO reports.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// A compaction is running now.
    pub running: bool,
    /// Compactions finished since the server started.
    pub done: u64,
    /// Compactions that failed since the server started.
    pub failed: u64,
    /// The last one, if any.
    pub last: Option<Last>,
}

#[derive(Debug, Default)]
struct State {
    stop: bool,
    status: Status,
}

/// The compaction thread's controls.
#[derive(Debug)]
pub struct Compactor {
    // Starts dirty: the database may already be due when it is opened.
    dirty: AtomicBool,
    state: Mutex<State>,
    wake: Condvar,
    /// Held for writing while a compaction runs.
    running: RwLock<()>,
}

impl Default for Compactor {
    fn default() -> Self {
        Compactor {
            dirty: AtomicBool::new(true),
            state: Mutex::default(),
            wake: Condvar::new(),
            running: RwLock::new(()),
        }
    }
}

impl Compactor {
    /// Notes that something was written.
    pub fn note_write(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// A guard under which no compaction starts, if none is running now
    /// (never waits).
    pub fn not_running(&self) -> Option<RwLockReadGuard<'_, ()>> {
        self.running.try_read().ok()
    }

    /// Why the last compaction failed, if it did.
    pub fn failure(&self) -> Option<String> {
        match &self.lock().status.last {
            Some(Last { outcome: Err(why) }) => Some(why.clone()),
            _ => None,
        }
    }

    /// What INFO reports.
    pub fn status(&self) -> Status {
        self.lock().status.clone()
    }

    /// Asks the thread to end (after the compaction in progress).
    pub fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The thread's body: runs until [`Compactor::stop`]. With `log`, each
    /// compaction is a line on stderr (`tinykv serve`'s log); without (a
    /// REPL or script sharing its database, whose terminal is the user's),
    /// nothing is printed, and the owner asks [`Compactor::failure`] at the
    /// end.
    pub fn run(&self, db: &Db, log: bool) {
        let mut not_before = Instant::now();
        loop {
            {
                let st = self.lock();
                let (st, _) = self
                    .wake
                    .wait_timeout_while(st, CHECK_EVERY, |st| !st.stop)
                    .unwrap_or_else(|p| p.into_inner());
                if st.stop {
                    return;
                }
            }
            if Instant::now() < not_before || !self.dirty.swap(false, Ordering::Relaxed) {
                continue;
            }
            if !db.compaction_due() {
                continue;
            }
            self.lock().status.running = true;
            let outcome = {
                // Waits for a write of the event loop's to end, then keeps
                // the loop's writes on the writer thread until it is done.
                let _running = self.running.write().unwrap_or_else(|p| p.into_inner());
                db.compact().map_err(|e| e.with_causes())
            };
            match &outcome {
                _ if !log => {}
                // The engine waits for the files to grow before it is due again.
                Ok(r) if r.skipped.is_some() => output::message(&format!(
                    "serve: {}",
                    r.skipped
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )),
                Ok(r) => output::message(&format!(
                    "serve: compacted {} to {} in {}",
                    output::bytes(r.bytes_before),
                    output::bytes(r.bytes_after),
                    output::seconds(r.elapsed)
                )),
                Err(e) => output::message(&format!("serve: compaction failed ({e})")),
            }
            if outcome.is_err() {
                not_before = Instant::now() + RETRY_AFTER;
                // Look again then, written to or not.
                self.dirty.store(true, Ordering::Relaxed);
            }
            let mut st = self.lock();
            st.status.running = false;
            if outcome.is_ok() {
                st.status.done += 1;
            } else {
                st.status.failed += 1;
            }
            st.status.last = Some(Last { outcome });
        }
    }
}
