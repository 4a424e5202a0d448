//! The dispatcher: each command's handler, by its place in the command
//! table (table.rs); the checks every request passes before it runs (a
//! known name, authenticated, the right number of arguments), with Redis's
//! words for each refusal; and the worker threads' body, which runs the
//! tasks the event loop hands them (workers.rs keeps their queues).
//!
//! This is the one module that imports the handlers (program, which runs
//! every data command, all_keys, admin, info, snapshot, tinykv); they import the
//! small modules below it (ctx, table, reply), never this one.
//!
//! Invariants: a request gets exactly one reply, in order (QUIT's included;
//! SHUTDOWN's is the connection closing, as in Redis); no command can panic
//! on its arguments, and a panic (a bug) on a worker still answers its
//! task, with an error (the panic hook has said what happened); every
//! entry of [`COMMANDS`] has its handler, at the same index.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::ctx::{Ctx, Flow};
use super::mailbox::{Completion, Mailbox};
use super::reply::{Output, shown, wrong_arity};
use super::server::Server;
use super::table::{COMMANDS, COUNT, arity_ok};
use super::workers::{Pool, Task};
use super::{admin, all_keys, info, other_types, program, snapshot, tinykv};

/// A command's handler: runs with the full argument list (the name first).
pub type Handler = fn(&mut Ctx<'_>, &[Vec<u8>]) -> Flow;

/// Every command's handler, in the order of [`COMMANDS`] (the name is
/// there for the test that checks the order).
static HANDLERS: [(&str, Handler); COUNT] = [
    ("get", program::run),
    ("set", program::run),
    ("mget", program::run),
    ("mset", program::run),
    ("del", program::run),
    ("exists", program::run),
    ("ping", program::run),
    ("echo", program::run),
    ("scan", program::run),
    ("keys", program::run),
    ("dbsize", program::run),
    ("flushdb", all_keys::flushdb),
    ("flushall", all_keys::flushdb),
    ("info", info::info),
    ("select", program::run),
    ("auth", admin::auth),
    ("hello", admin::hello),
    ("quit", admin::quit),
    ("client", admin::client),
    ("command", admin::command),
    ("config", admin::config),
    ("shutdown", admin::shutdown),
    ("type", program::run),
    ("strlen", program::run),
    ("setnx", program::run),
    ("time", program::run),
    ("tinykv.owner", tinykv::owner),
    ("tinykv.scan", tinykv::scan),
    ("tinykv.count", tinykv::count),
    ("tinykv.lastkey", tinykv::last_key),
    ("tinykv.stats", tinykv::stats),
    ("tinykv.compact", tinykv::compact),
    ("tinykv.check", tinykv::check),
    ("tinykv.flush", tinykv::flush),
    ("tinykv.load", tinykv::load),
    ("tinykv.backup", tinykv::backup),
    ("tinykv.pop", tinykv::pop),
    ("getset", program::run),
    ("getdel", program::run),
    ("getex", program::run),
    ("setex", program::run),
    ("psetex", program::run),
    ("msetnx", program::run),
    ("append", program::run),
    ("incr", program::run),
    ("incrby", program::run),
    ("incrbyfloat", program::run),
    ("decr", program::run),
    ("decrby", program::run),
    ("unlink", program::run),
    ("expire", program::run),
    ("pexpire", program::run),
    ("expireat", program::run),
    ("pexpireat", program::run),
    ("ttl", program::run),
    ("pttl", program::run),
    ("expiretime", program::run),
    ("pexpiretime", program::run),
    ("persist", program::run),
    ("rename", program::run),
    ("renamenx", program::run),
    ("multi", admin::by_connection),
    ("exec", admin::by_connection),
    ("discard", admin::by_connection),
    ("watch", admin::by_connection),
    ("unwatch", admin::by_connection),
    ("sync", snapshot::sync),
    ("psync", snapshot::sync),
    ("replconf", snapshot::replconf),
];

/// Runs command `index` of [`COMMANDS`], already checked ([`check`]).
pub fn run(index: usize, ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    (HANDLERS[index].1)(ctx, args)
}

/// The checks every request passes: the command's index, or `None` with
/// the refusal already replied. `found` is `lookup(&args[0])`, which the
/// caller made already (to route the request).
pub fn check(ctx: &mut Ctx<'_>, found: Option<usize>, args: &[Vec<u8>]) -> Option<usize> {
    let Some(index) = found else {
        let name = &args[0];
        let refusal = other_types::refusal(name).unwrap_or_else(|| unknown_command(args));
        ctx.out.error(&refusal);
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

/// A worker thread's body, for `pool`: runs its tasks until the workers
/// stop, and posts each one's replies to the event loop's mailbox.
pub fn work(server: &Server, mailbox: &Mailbox, pool: Pool) {
    while let Some(task) = server.workers.next(pool) {
        let token = task.token();
        let mut out = Output::new(&server.replies);
        let flow = catch_unwind(AssertUnwindSafe(|| run_task(server, task, &mut out)))
            .unwrap_or_else(|_| {
                out = Output::new(&server.replies);
                out.error("ERR internal error (see the server's log)");
                Flow::Continue
            });
        let close = flow == Flow::Close;
        mailbox.post(Completion::Replied { token, out, close });
    }
}

fn run_task(server: &Server, task: Task, out: &mut Output) -> Flow {
    let Task::Command {
        client,
        index,
        args,
        ..
    } = task;
    // Only AUTH changes this, and AUTH runs on the event loop.
    let mut authed = true;
    let mut ctx = Ctx {
        server,
        client: &client,
        authed: &mut authed,
        out,
    };
    run(index, &mut ctx, &args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_its_handler_at_its_index() {
        for (spec, (name, _)) in COMMANDS.iter().zip(&HANDLERS) {
            assert_eq!(spec.name, *name);
        }
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
