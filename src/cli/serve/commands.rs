//! The command table and dispatch: every command the server knows, its
//! arity and flags (which COMMAND reports, as Redis does), and the checks
//! every request passes before it runs (known name, authenticated, right
//! number of arguments), with Redis's words for each refusal.
//!
//! Invariants: a request gets exactly one reply, in order (QUIT's included;
//! SHUTDOWN's is the connection closing, as in Redis); no command can panic
//! on its arguments; a command marked `inline` never waits (it runs on the
//! event loop); an engine error becomes a `-ERR` reply and, when it is the
//! server's trouble rather than the client's (I/O, a poisoned handle), one
//! line on stderr.

use std::sync::Arc;

use super::clients::Client;
use super::committer::{Op, Slot};
use super::reply::Output;
use super::server::Server;
use super::{admin, info, keyspace, walk};
use crate::engine::Error;
use crate::format::escape_bytes;

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
    /// Where this connection waits for its writes.
    pub slot: &'a Arc<Slot>,
}

impl Ctx<'_> {
    /// Writes `ops` atomically through the server's committer; on failure,
    /// replies with the error and returns false.
    pub fn write(&mut self, ops: Vec<Op>) -> bool {
        let outcome = self.server.committer.commit(ops, self.slot);
        self.server.compactor.note_write();
        match outcome {
            Ok(()) => true,
            Err(text) => {
                self.out.error(&format!("ERR {text}"));
                false
            }
        }
    }

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

/// A command's handler: runs with the full argument list (the name first).
pub type Handler = fn(&mut Ctx<'_>, &[Vec<u8>]) -> Flow;

/// One command, as COMMAND describes it.
pub struct Spec {
    /// Lowercase name.
    pub name: &'static str,
    /// Redis's arity: N exactly N arguments (the name counted), -N at least N.
    pub arity: i32,
    /// Redis's flags.
    pub flags: &'static [&'static str],
    /// First key, last key (-1: the last argument), step between keys.
    pub keys: (i32, i32, i32),
    /// Allowed before AUTH.
    pub before_auth: bool,
    /// Runs on the event loop: never waits, never walks the keys. The
    /// others run on a worker thread.
    pub inline: bool,
    /// The handler.
    pub run: Handler,
}

impl Spec {
    /// Whether it writes (its flags say `write`): such a command may wait
    /// for the engine's writer lock, so it runs on the write pool
    /// (workers.rs), never where reads would wait behind it.
    pub fn writes(&self) -> bool {
        self.flags.contains(&"write")
    }
}

const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    run: Handler,
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        keys,
        before_auth: false,
        inline: false,
        run,
    }
}

/// Allowed before AUTH.
const fn open(mut s: Spec) -> Spec {
    s.before_auth = true;
    s
}

/// Runs on the event loop.
const fn inline(mut s: Spec) -> Spec {
    s.inline = true;
    s
}

const NONE: (i32, i32, i32) = (0, 0, 0);
const READ_FAST: &[&str] = &["readonly", "fast"];
const WRITE: &[&str] = &["write", "denyoom"];
const CONN: &[&str] = &["fast", "loading", "stale"];
const STATUS: &[&str] = &["loading", "stale"];
const ADMIN: &[&str] = &["admin", "loading", "stale"];

/// Every command, the hot ones first (lookup walks the list).
pub static COMMANDS: [Spec; 26] = [
    inline(spec("get", 2, READ_FAST, (1, 1, 1), keyspace::get)),
    spec("set", -3, WRITE, (1, 1, 1), keyspace::set),
    spec("mget", -2, READ_FAST, (1, -1, 1), keyspace::mget),
    spec("mset", -3, WRITE, (1, -1, 2), keyspace::mset),
    spec("del", -2, &["write"], (1, -1, 1), keyspace::del),
    spec("exists", -2, READ_FAST, (1, -1, 1), keyspace::exists),
    inline(spec("ping", -1, CONN, NONE, admin::ping)),
    inline(spec("echo", 2, CONN, NONE, admin::echo)),
    spec("scan", -2, &["readonly"], NONE, walk::scan),
    spec("keys", 2, &["readonly"], NONE, walk::keys),
    spec("dbsize", 1, &["readonly"], NONE, walk::dbsize),
    spec("flushdb", -1, &["write"], NONE, walk::flushdb),
    spec("flushall", -1, &["write"], NONE, walk::flushdb),
    spec("info", -1, STATUS, NONE, info::info),
    inline(spec("select", 2, CONN, NONE, admin::select)),
    inline(open(spec("auth", -2, CONN, NONE, admin::auth))),
    inline(open(spec("hello", -1, CONN, NONE, admin::hello))),
    inline(open(spec("quit", -1, CONN, NONE, admin::quit))),
    inline(spec("client", -2, STATUS, NONE, admin::client)),
    inline(spec("command", -1, STATUS, NONE, admin::command)),
    inline(spec("config", -2, ADMIN, NONE, admin::config)),
    inline(spec("shutdown", -1, ADMIN, NONE, admin::shutdown)),
    inline(spec("type", 2, READ_FAST, (1, 1, 1), keyspace::type_of)),
    inline(spec("strlen", 2, READ_FAST, (1, 1, 1), keyspace::strlen)),
    spec("setnx", 3, WRITE, (1, 1, 1), keyspace::setnx),
    inline(spec("time", 1, CONN, NONE, admin::time)),
];

/// The command named `name` (any case): its index in [`COMMANDS`].
pub fn lookup(name: &[u8]) -> Option<usize> {
    COMMANDS
        .iter()
        .position(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Whether `args` has the number of arguments `spec` wants.
pub fn arity_ok(spec: &Spec, args: usize) -> bool {
    let n = spec.arity.unsigned_abs() as usize;
    if spec.arity >= 0 {
        args == n
    } else {
        args >= n
    }
}

/// The checks every request passes: the command's index, or `None` with
/// the refusal already replied.
pub fn check(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Option<usize> {
    let name = &args[0];
    let Some(index) = lookup(name) else {
        ctx.out.error(&unknown_command(args));
        return None;
    };
    let spec = &COMMANDS[index];
    ctx.client.ran(index);
    if !*ctx.authed && !spec.before_auth {
        ctx.out.error("NOAUTH Authentication required.");
        return None;
    }
    if !arity_ok(spec, args.len()) {
        ctx.out.error(&wrong_arity(spec.name));
        return None;
    }
    Some(index)
}

/// `ERR wrong number of arguments for 'get' command`.
pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// Redis 7's message for an unknown command, its first arguments quoted.
fn unknown_command(args: &[Vec<u8>]) -> String {
    let mut text = format!("ERR unknown command '{}'", shown(&args[0], 128));
    text.push_str(", with args beginning with: ");
    for arg in &args[1..] {
        if text.len() > 256 {
            break;
        }
        text.push_str(&format!("'{}' ", shown(arg, 128)));
    }
    text
}

/// Bytes as they can appear in a one-line reply: escaped, and cut.
pub fn shown(bytes: &[u8], max: usize) -> String {
    escape_bytes(&bytes[..bytes.len().min(max)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"GET"), Some(0));
        assert_eq!(lookup(b"gEt"), Some(0));
        assert_eq!(lookup(b"nope"), None);
        assert_eq!(lookup(b""), None);
    }

    #[test]
    fn names_are_lowercase_and_unique() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert_eq!(lookup(c.name.as_bytes()), Some(i), "{}", c.name);
        }
    }

    #[test]
    fn arity() {
        let get = &COMMANDS[lookup(b"get").unwrap()];
        assert!(arity_ok(get, 2));
        assert!(!arity_ok(get, 1) && !arity_ok(get, 3));
        let set = &COMMANDS[lookup(b"set").unwrap()];
        assert!(arity_ok(set, 3) && arity_ok(set, 7));
        assert!(!arity_ok(set, 2));
    }

    #[test]
    fn unknown_commands_say_what_was_sent() {
        let args = vec![b"FOO".to_vec(), b"a\r\nb".to_vec(), b"\xff".to_vec()];
        assert_eq!(
            unknown_command(&args),
            "ERR unknown command 'FOO', with args beginning with: 'a\\r\\nb' '\\xff' "
        );
    }
}
