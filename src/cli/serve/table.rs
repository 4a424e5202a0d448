//! The command table: every command the server knows, with its arity,
//! flags and keys as COMMAND reports them (Redis's), whether it may run
//! before AUTH, and whether it runs on the event loop or on a worker; and
//! the Redis version whose commands and replies the server follows.
//!
//! The handlers are not here: dispatch.rs pairs each entry with its own,
//! so what describes the commands (COMMAND, CLIENT LIST, the worker pools)
//! needs nothing of what runs them.
//!
//! Invariants: names are lowercase and unique; a command marked `inline`
//! never waits (it runs on the event loop); one that writes says so in its
//! flags (it runs on the write pool); the hot ones come first, since
//! [`lookup`] walks the names of a request's length in the table's order.

use std::sync::LazyLock;

/// The Redis version whose commands and replies tinykv follows. Clients
/// read `redis_version` (INFO) and `version` (HELLO) to decide what they
/// may send, so it is the Redis version, not tinykv's own.
pub const REDIS_VERSION: &str = "7.0.0";

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
}

impl Spec {
    /// Whether it writes (its flags say `write`): such a command may wait
    /// for the engine's writer lock, so it runs on the write pool
    /// (workers.rs), never where reads would wait behind it.
    pub fn writes(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// Whether it may wait for the engine's writer lock: it writes, or it
    /// copies the database (SYNC and PSYNC take a snapshot, TINYKV.BACKUP
    /// a copy, and both hold the writer for a moment, which a compaction
    /// may keep them waiting for). It runs on the write pool.
    pub fn waits_for_writer(&self) -> bool {
        self.writes() || matches!(self.name, "sync" | "psync" | "tinykv.backup")
    }
}

const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        keys,
        before_auth: false,
        inline: false,
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
const WRITE_FAST: &[&str] = &["write", "denyoom", "fast"];
const EXPIRES: &[&str] = &["write", "fast"];
const REPLICA: &[&str] = &["admin", "noscript", "no_async_loading", "no_multi"];
const REPLCONF: &[&str] = &["admin", "noscript", "loading", "stale", "allow_busy"];
const TRANSACTION: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];

/// How many commands there are.
pub const COUNT: usize = 69;

/// Every command, the hot ones first (lookup walks the list).
pub static COMMANDS: [Spec; COUNT] = [
    inline(spec("get", 2, READ_FAST, (1, 1, 1))),
    spec("set", -3, WRITE, (1, 1, 1)),
    spec("mget", -2, READ_FAST, (1, -1, 1)),
    spec("mset", -3, WRITE, (1, -1, 2)),
    spec("del", -2, &["write"], (1, -1, 1)),
    spec("exists", -2, READ_FAST, (1, -1, 1)),
    inline(spec("ping", -1, CONN, NONE)),
    inline(spec("echo", 2, CONN, NONE)),
    spec("scan", -2, &["readonly"], NONE),
    spec("keys", 2, &["readonly"], NONE),
    spec("dbsize", 1, &["readonly"], NONE),
    spec("flushdb", -1, &["write"], NONE),
    spec("flushall", -1, &["write"], NONE),
    spec("info", -1, STATUS, NONE),
    inline(spec("select", 2, CONN, NONE)),
    inline(open(spec("auth", -2, CONN, NONE))),
    inline(open(spec("hello", -1, CONN, NONE))),
    inline(open(spec("quit", -1, CONN, NONE))),
    inline(spec("client", -2, STATUS, NONE)),
    inline(spec("command", -1, STATUS, NONE)),
    inline(spec("config", -2, ADMIN, NONE)),
    inline(spec("shutdown", -1, ADMIN, NONE)),
    inline(spec("type", 2, READ_FAST, (1, 1, 1))),
    inline(spec("strlen", 2, READ_FAST, (1, 1, 1))),
    spec("setnx", 3, WRITE, (1, 1, 1)),
    inline(spec("time", 1, CONN, NONE)),
    // tinykv's own (tinykv.rs), for the tinykv command line.
    inline(spec("tinykv.owner", 1, CONN, NONE)),
    spec("tinykv.scan", -5, &["readonly"], NONE),
    spec("tinykv.count", 2, &["readonly"], NONE),
    spec("tinykv.lastkey", 2, &["readonly"], NONE),
    spec("tinykv.stats", 1, STATUS, NONE),
    spec("tinykv.compact", 1, &["write", "admin"], NONE),
    spec("tinykv.check", 1, &["readonly", "admin"], NONE),
    spec("tinykv.flush", 1, &["write"], NONE),
    spec("tinykv.load", -2, WRITE, NONE),
    spec("tinykv.backup", 2, &["readonly", "admin"], NONE),
    spec("tinykv.pop", 2, &["write"], NONE),
    // The rest of the string and keyspace commands (strings.rs, counters.rs,
    // expiry.rs, keyspace.rs), and transactions (conn/multi.rs).
    spec("getset", 3, WRITE_FAST, (1, 1, 1)),
    spec("getdel", 2, EXPIRES, (1, 1, 1)),
    spec("getex", -2, EXPIRES, (1, 1, 1)),
    spec("setex", 4, WRITE, (1, 1, 1)),
    spec("psetex", 4, WRITE, (1, 1, 1)),
    spec("msetnx", -3, WRITE, (1, -1, 2)),
    spec("append", 3, WRITE_FAST, (1, 1, 1)),
    spec("incr", 2, WRITE_FAST, (1, 1, 1)),
    spec("incrby", 3, WRITE_FAST, (1, 1, 1)),
    spec("incrbyfloat", 3, WRITE_FAST, (1, 1, 1)),
    spec("decr", 2, WRITE_FAST, (1, 1, 1)),
    spec("decrby", 3, WRITE_FAST, (1, 1, 1)),
    spec("unlink", -2, EXPIRES, (1, -1, 1)),
    spec("expire", -3, EXPIRES, (1, 1, 1)),
    spec("pexpire", -3, EXPIRES, (1, 1, 1)),
    spec("expireat", -3, EXPIRES, (1, 1, 1)),
    spec("pexpireat", -3, EXPIRES, (1, 1, 1)),
    inline(spec("ttl", 2, READ_FAST, (1, 1, 1))),
    inline(spec("pttl", 2, READ_FAST, (1, 1, 1))),
    inline(spec("expiretime", 2, READ_FAST, (1, 1, 1))),
    inline(spec("pexpiretime", 2, READ_FAST, (1, 1, 1))),
    spec("persist", 2, EXPIRES, (1, 1, 1)),
    spec("rename", 3, &["write"], (1, 2, 1)),
    spec("renamenx", 3, EXPIRES, (1, 2, 1)),
    inline(spec("multi", 1, TRANSACTION, NONE)),
    inline(spec(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        NONE,
    )),
    inline(spec("discard", 1, TRANSACTION, NONE)),
    inline(spec("watch", -2, TRANSACTION, (1, -1, 1))),
    inline(spec("unwatch", 1, TRANSACTION, NONE)),
    // The replication handshake, for a hot backup (snapshot.rs).
    spec("sync", 1, REPLICA, NONE),
    spec("psync", -3, REPLICA, NONE),
    inline(spec("replconf", -1, REPLCONF, NONE)),
];

/// The longest command name lookup compares.
const LONGEST: usize = 32;

/// The indices in [`COMMANDS`] of the commands, by the length of their
/// name, each list in the table's order (the hot ones first).
static BY_LENGTH: LazyLock<Vec<Vec<usize>>> = LazyLock::new(|| {
    let longest = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut by_length = vec![Vec::new(); longest + 1];
    for (i, c) in COMMANDS.iter().enumerate() {
        by_length[c.name.len()].push(i);
    }
    by_length
});

/// The command named `name` (any case): its index in [`COMMANDS`]. Every
/// request is looked up, so it is lowercased once and compared only with
/// the names of its length (a walk of the whole table, comparing each name
/// without regard to case, made INCR, its 45th entry, cost 600
/// instructions here).
pub fn lookup(name: &[u8]) -> Option<usize> {
    let mut lower = [0u8; LONGEST];
    let lower = lower.get_mut(..name.len())?;
    for (l, b) in lower.iter_mut().zip(name) {
        *l = b.to_ascii_lowercase();
    }
    let lower = &*lower;
    BY_LENGTH
        .get(name.len())?
        .iter()
        .copied()
        .find(|&i| COMMANDS[i].name.as_bytes() == lower)
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
    fn every_name_fits_lookup() {
        assert!(COMMANDS.iter().all(|c| c.name.len() <= LONGEST));
        assert_eq!(lookup(&[b'a'; LONGEST + 1]), None);
    }

    #[test]
    fn names_are_lowercase_and_unique() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert_eq!(lookup(c.name.as_bytes()), Some(i), "{}", c.name);
            let upper = c.name.to_ascii_uppercase();
            assert_eq!(lookup(upper.as_bytes()), Some(i), "{upper}");
            // One letter off, first or last: not this command.
            let mut first = upper.clone().into_bytes();
            first[0] = b'#';
            assert_eq!(lookup(&first), None, "{upper}");
            let mut last = upper.into_bytes();
            *last.last_mut().unwrap() = b'#';
            assert_eq!(lookup(&last), None, "{}", c.name);
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
}
