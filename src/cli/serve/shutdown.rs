//! Graceful shutdown: SIGINT, SIGTERM or the SHUTDOWN command make the
//! server stop accepting, let every connection finish the commands it has
//! read (their replies included), stop the compaction thread, and close the
//! database, which flushes it and releases its lock.
//!
//! [`Shutdown::trigger`] sets the flag and wakes the event loop through its
//! mailbox; the loop sees the flag and stops. Signals are received by a
//! thread of their own (signal-hook's iterator: the handler
//! only writes to a pipe; everything else runs on a normal thread), which
//! calls the same trigger. A second signal while stopping exits at once:
//! the impatient user's Ctrl-C twice. Every acknowledged write is already
//! durable under `--sync always`, so that loses nothing acknowledged.
//!
//! [`Shutdown::abort`] is the same stop after a thread panicked (the
//! writer or the compaction thread): no message of its own (the panic hook
//! printed the one line), and the server then exits 2 (mod.rs).
//!
//! Invariant: the trigger acts once; later calls do nothing (an abort
//! after a trigger still marks the stop as a failure).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use super::mailbox::Mailbox;
use crate::cli::output;

/// The server's stop switch.
pub struct Shutdown {
    stopping: AtomicBool,
    failed: AtomicBool,
    mailbox: Arc<Mailbox>,
}

impl Shutdown {
    /// A switch for the event loop that `mailbox` wakes.
    pub fn new(mailbox: Arc<Mailbox>) -> Shutdown {
        Shutdown {
            stopping: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            mailbox,
        }
    }

    /// Whether a thread's panic stopped the server.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Stops the server after a thread panicked: it ends as on a signal,
    /// then exits 2.
    pub fn abort(&self) {
        self.failed.store(true, Ordering::Release);
        self.stopping.store(true, Ordering::Release);
        self.mailbox.wake();
    }

    /// Whether shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Begins shutdown without a word: the owner that shared its database
    /// (a REPL, a script) is ending, and says what it needs to itself.
    pub fn quietly(&self) {
        self.stopping.store(true, Ordering::Release);
        self.mailbox.wake();
    }

    /// Begins shutdown (once), saying why on stderr.
    pub fn trigger(&self, why: &str) {
        if self.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        output::message(&format!(
            "serve: {why}: shutting down (finishing the commands in progress)"
        ));
        self.mailbox.wake();
    }
}

/// The thread that turns SIGINT and SIGTERM into [`Shutdown::trigger`].
pub struct SignalThread {
    handle: Handle,
    thread: JoinHandle<()>,
}

impl SignalThread {
    /// Starts listening for the signals; until [`SignalThread::stop`] they
    /// no longer kill the process.
    pub fn start(shutdown: Arc<Shutdown>) -> Result<SignalThread> {
        let mut signals =
            Signals::new([SIGINT, SIGTERM]).context("cannot install the signal handlers")?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let name = if signal == SIGINT {
                        "SIGINT"
                    } else {
                        "SIGTERM"
                    };
                    if shutdown.is_stopping() {
                        output::message(&format!(
                            "serve: {name} again: exiting now, without waiting"
                        ));
                        std::process::exit(2);
                    }
                    shutdown.trigger(name);
                }
            })
            .context("cannot start the signal thread")?;
        Ok(SignalThread { handle, thread })
    }

    /// Stops listening and ends the thread.
    pub fn stop(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}
