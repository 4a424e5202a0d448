//! The handler context: what a command can touch ([`Ctx`]: the server,
//! its client, where its replies go) and what it tells its connection
//! afterwards ([`Flow`]). Every handler imports this module; it imports
//! none of them.
//!
//! Invariant: an engine error becomes a `-ERR` reply and, when it is the
//! server's trouble rather than the client's (I/O, a poisoned handle),
//! one line on stderr.

use std::sync::Arc;

use super::clients::Client;
use super::reply::Output;
use super::server::Server;
use crate::engine::Error;

/// What the connection does after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Send the replies so far, then close (QUIT, SHUTDOWN).
    Close,
}

/// Everything a command can touch.
pub struct Ctx<'a> {
    /// The server's shared state.
    pub server: &'a Server,
    /// This connection's client.
    pub client: &'a Arc<Client>,
    /// Whether AUTH succeeded (always true without `--requirepass`).
    pub authed: &'a mut bool,
    /// Where replies go.
    pub out: &'a mut Output,
}

impl Ctx<'_> {
    /// Replies with an engine error, logging it when it is the server's.
    pub fn engine_error(&mut self, err: &Error) {
        let text = err.with_causes();
        if !matches!(err, Error::KeyTooLarge { .. } | Error::ValueTooLarge { .. }) {
            self.server.log_engine_error(&text);
        }
        self.out.error(&format!("ERR {text}"));
    }

    /// `-ERR syntax error`.
    pub fn syntax_error(&mut self) -> Flow {
        self.out.error("ERR syntax error");
        Flow::Continue
    }
}
