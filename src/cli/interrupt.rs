//! Ctrl-C in a long one-shot command (`load`, `dump`, `compact`,
//! `backup`): one line saying what state it left, then exit 130, instead
//! of dying without a word.
//!
//! Invariant: what the line says is true whenever the signal comes. A
//! load says nothing was stored, so [`Guard::disarm`] is called before its
//! commit starts: from then on Ctrl-C is ignored until the command ends (a
//! commit is a moment's work), and the command reports its own outcome.
//! Exiting from the signal thread leaves the database as a crash would,
//! which it is made to survive: an unfinished load's batch or compaction's
//! files are removed when the database is next opened.

use std::thread::JoinHandle;

use anyhow::{Context, Result};
use signal_hook::consts::SIGINT;
use signal_hook::iterator::{Handle, Signals};

use super::exit::Exit;
use super::output;

/// Says `message` and exits 130 on Ctrl-C, until disarmed or dropped.
pub struct Guard {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

/// Starts catching Ctrl-C for a command that, interrupted, is in the state
/// `message` describes.
pub fn on_interrupt(message: String) -> Result<Guard> {
    let mut signals = Signals::new([SIGINT]).context("cannot install the Ctrl-C handler")?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                output::message(&message);
                std::process::exit(Exit::Interrupted.code().into());
            }
        })
        .context("cannot start the Ctrl-C thread")?;
    Ok(Guard {
        handle,
        thread: Some(thread),
    })
}

impl Guard {
    /// Stops saying the message: the command's state changes now (a load's
    /// commit). Ctrl-C is ignored from here to the end of the command.
    pub fn disarm(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}
