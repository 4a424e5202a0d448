//! Graceful shutdown: SIGINT, SIGTERM or the SHUTDOWN command make the
//! server stop accepting, let every connection finish the commands it has
//! read (their replies included), stop the compaction thread, and close the
//! database, which flushes it and releases its lock.
//!
//! The accept loop blocks in `accept`, which std cannot interrupt, so
//! [`Shutdown::trigger`] sets the flag and then connects to the listener
//! itself: `accept` returns, the loop sees the flag and stops. Signals are
//! received by a thread of their own (signal-hook's iterator: the handler
//! only writes to a pipe; everything else runs on a normal thread), which
//! calls the same trigger. A second signal while stopping exits at once:
//! the impatient user's Ctrl-C twice. Every acknowledged write is already
//! durable under `--sync always`, so that loses nothing acknowledged.
//!
//! Invariant: the trigger acts once; later calls do nothing.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use crate::cli::output;

/// The server's stop switch.
#[derive(Debug)]
pub struct Shutdown {
    stopping: AtomicBool,
    wake: SocketAddr,
}

impl Shutdown {
    /// A switch for the listener that `wake` reaches.
    pub fn new(wake: SocketAddr) -> Shutdown {
        Shutdown {
            stopping: AtomicBool::new(false),
            wake,
        }
    }

    /// Whether shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Begins shutdown (once), saying why on stderr.
    pub fn trigger(&self, why: &str) {
        if self.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        output::message(&format!(
            "serve: {why}: shutting down (finishing the commands in progress)"
        ));
        // Wake the accept loop; if this fails the loop still stops at the
        // next connection, and there is nothing better to do here.
        let _ = TcpStream::connect_timeout(&self.wake, Duration::from_secs(1));
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
    pub fn start(shutdown: std::sync::Arc<Shutdown>) -> Result<SignalThread> {
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
