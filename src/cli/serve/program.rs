//! The data commands, by name: each is one function over the store
//! (store.rs) that reads or writes, so that it runs the same on its own
//! and inside EXEC. A read ([`Kind::Read`]) runs on the database as it is,
//! on the event loop or a worker as the command table says; a write
//! ([`Kind::Write`]) runs inside an engine transaction: in the event
//! loop's round (conn/route.rs) when the connection sends it, or in one
//! of its own here ([`run`]) when a worker runs it.
//!
//! What is not here (CLIENT, CONFIG, INFO, …) is about the server or the
//! connection, not the data: inside MULTI it is refused (see multi.rs).
//!
//! Invariants: a command function replies exactly once, its own errors
//! included; it returns `Err` only for the engine's (I/O, a poisoned
//! handle), which fail the whole transaction it runs in; it never panics
//! on its arguments.

use super::ctx::{Ctx, Flow};
use super::reply::Output;
use super::round;
use super::store::{DbReads, Kind};
use super::table::{COMMANDS, lookup};
use super::{admin, all_keys, counters, expiry, keyspace, strings};

/// The data command named `name` (lowercase, as in the command table).
pub fn kind(name: &str) -> Option<Kind> {
    use Kind::{Read, Write};
    Some(match name {
        "get" => Read(strings::get),
        "mget" => Read(strings::mget),
        "strlen" => Read(strings::strlen),
        "exists" => Read(keyspace::exists),
        "type" => Read(keyspace::type_of),
        "ttl" => Read(expiry::ttl),
        "pttl" => Read(expiry::pttl),
        "expiretime" => Read(expiry::expiretime),
        "pexpiretime" => Read(expiry::pexpiretime),
        "keys" => Read(all_keys::keys),
        "scan" => Read(all_keys::scan),
        "dbsize" => Read(all_keys::dbsize),
        "ping" => Read(admin::ping),
        "echo" => Read(admin::echo),
        "time" => Read(admin::time),
        "select" => Read(admin::select),
        "unwatch" => Read(admin::unwatch_queued),
        "set" => Write(strings::set),
        "setnx" => Write(strings::setnx),
        "setex" => Write(strings::setex),
        "psetex" => Write(strings::psetex),
        "getset" => Write(strings::getset),
        "getdel" => Write(strings::getdel),
        "mset" => Write(strings::mset),
        "msetnx" => Write(strings::msetnx),
        "append" => Write(strings::append),
        "getex" => Write(strings::getex),
        "incr" => Write(counters::incr),
        "decr" => Write(counters::decr),
        "incrby" => Write(counters::incrby),
        "decrby" => Write(counters::decrby),
        "incrbyfloat" => Write(counters::incrbyfloat),
        "del" | "unlink" => Write(keyspace::del),
        "rename" => Write(keyspace::rename),
        "renamenx" => Write(keyspace::renamenx),
        "expire" => Write(expiry::expire),
        "pexpire" => Write(expiry::pexpire),
        "expireat" => Write(expiry::expireat),
        "pexpireat" => Write(expiry::pexpireat),
        "persist" => Write(expiry::persist),
        "flushdb" | "flushall" => Write(all_keys::flush_in_transaction),
        _ => return None,
    })
}

/// Whether a connection's command named `name` joins the event loop's
/// round: every data command that writes, but FLUSHDB, which walks every
/// key and runs on a worker (all_keys.rs).
pub fn in_round(name: &str) -> bool {
    matches!(kind(name), Some(Kind::Write(_))) && !matches!(name, "flushdb" | "flushall")
}

/// The handler of every data command run on its own: a read on the
/// database as it is now, a write in a transaction of its own (a worker's
/// way; a connection's writes go to the round instead).
pub fn run(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let Some(kind) = lookup(&args[0]).and_then(|i| kind(COMMANDS[i].name)) else {
        ctx.out.error("ERR internal error: not a data command");
        return Flow::Continue;
    };
    let server = ctx.server;
    let done = match kind {
        Kind::Read(f) => {
            let mut store = DbReads::new(&server.db, &server.replies, &server.cursors);
            f(&mut store, args, ctx.out).map_err(|e| e.with_causes())
        }
        Kind::Write(f) => {
            let args = args.to_vec();
            let shared = server.shared();
            let written = round::transact(&server.db, &shared, move |store, replies| {
                let mut out = Output::new(replies);
                f(store, args, &mut out)?;
                Ok(out)
            });
            server.compactor.note_write();
            written.map(|out| ctx.out.append(out))
        }
    };
    if let Err(text) = done {
        server.log_engine_error(&text);
        ctx.out.error(&format!("ERR {text}"));
    }
    Flow::Continue
}
