//! The commands about the connection and the server rather than the data:
//! PING, ECHO, AUTH, HELLO, SELECT, QUIT, CLIENT, COMMAND, CONFIG GET,
//! SHUTDOWN, TIME. What client libraries and redis-cli send when they
//! connect is answered the way they expect, so they connect cleanly.
//!
//! Invariants: the password is compared in constant time and never echoed
//! (CONFIG GET does not report it); only RESP2 is spoken, so HELLO 3 gets
//! `-NOPROTO` and the client falls back, as clients do with Redis 5.

use std::time::{SystemTime, UNIX_EPOCH};

use super::ctx::{Ctx, Flow};
use super::reply::{Output, shown, wrong_arity};
use super::request::parse::parse_int;
use super::store::Reads;
use super::table::{COMMANDS, REDIS_VERSION, Spec, lookup};
use crate::cli::glob::Pattern;
use crate::engine::{Error, SyncMode, parse_integer};

/// PING [message]. Like ECHO, TIME and SELECT, it touches no data but may
/// be queued in MULTI, so it takes the store a data command takes
/// (store.rs) and runs the same anywhere.
pub fn ping(_: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    match args {
        [_] => out.simple("PONG"),
        [_, message] => out.bulk(message),
        _ => out.error(&wrong_arity("ping")),
    }
    Ok(())
}

/// ECHO message.
pub fn echo(_: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    out.bulk(&args[1]);
    Ok(())
}

/// TIME: seconds and microseconds since the epoch.
pub fn time(_: &mut dyn Reads, _args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    out.array(2);
    out.bulk(now.as_secs().to_string().as_bytes());
    out.bulk(now.subsec_micros().to_string().as_bytes());
    Ok(())
}

/// UNWATCH inside MULTI: EXEC forgets the watched keys anyway.
pub fn unwatch_queued(_: &mut dyn Reads, _: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    out.ok();
    Ok(())
}

/// MULTI, EXEC, DISCARD, WATCH and UNWATCH run on their connection
/// (conn/multi.rs), which holds what they change; they never come here.
pub fn by_connection(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let name = shown(&args[0], 32).to_ascii_uppercase();
    ctx.out.error(&format!(
        "ERR internal error: {name} runs on its connection"
    ));
    Flow::Continue
}

/// QUIT: `+OK`, then the connection closes.
pub fn quit(ctx: &mut Ctx<'_>, _args: &[Vec<u8>]) -> Flow {
    ctx.out.ok();
    Flow::Close
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: a graceful stop, as on
/// SIGTERM. Its options are checked as Redis checks them (NOSAVE and SAVE
/// together are a syntax error; ABORT alone finds no shutdown to abort);
/// none changes what the stop does: every write was durable already.
pub fn shutdown(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for arg in &args[1..] {
        let arg = arg.to_ascii_uppercase();
        match arg.as_slice() {
            b"NOSAVE" => nosave = true,
            b"SAVE" => save = true,
            b"ABORT" => abort = true,
            b"NOW" | b"FORCE" => {}
            _ => return ctx.syntax_error(),
        }
    }
    if save && nosave || abort && args.len() > 2 {
        return ctx.syntax_error();
    }
    if abort {
        ctx.out.error("ERR No shutdown in progress.");
        return Flow::Continue;
    }
    ctx.server.shutdown.trigger("SHUTDOWN");
    // As in Redis, the reply is the connection closing.
    Flow::Close
}

/// Whether `given` is the password, in time independent of where they differ.
fn password_matches(given: &[u8], password: &[u8]) -> bool {
    let mut diff = given.len() ^ password.len();
    for (i, &b) in password.iter().enumerate() {
        diff |= usize::from(b ^ given.get(i).copied().unwrap_or(!b));
    }
    diff == 0
}

/// Checks AUTH's arguments (`password` or `default password`); replies
/// with the refusal, if any.
fn authenticate(ctx: &mut Ctx<'_>, user: Option<&[u8]>, given: &[u8]) -> bool {
    let Some(password) = ctx.server.settings.requirepass.as_deref() else {
        ctx.out.error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
        return false;
    };
    let user_ok = user.is_none_or(|u| u == b"default");
    if !(password_matches(given, password) && user_ok) {
        ctx.out
            .error("WRONGPASS invalid username-password pair or user is disabled.");
        return false;
    }
    *ctx.authed = true;
    true
}

/// AUTH [username] password.
pub fn auth(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let ok = match args {
        [_, password] => authenticate(ctx, None, password),
        [_, user, password] => authenticate(ctx, Some(user), password),
        _ => return ctx.syntax_error(),
    };
    if ok {
        ctx.out.ok();
    }
    Flow::Continue
}

/// HELLO [protover [AUTH username password] [SETNAME name]].
pub fn hello(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    if let Some(version) = args.get(1) {
        match parse_int(version) {
            Some(2) => {}
            Some(_) => {
                ctx.out.error("NOPROTO unsupported protocol version");
                return Flow::Continue;
            }
            None => {
                ctx.out
                    .error("ERR Protocol version is not an integer or out of range");
                return Flow::Continue;
            }
        }
    }
    let mut rest = args.get(2..).unwrap_or_default();
    let mut name = None;
    while let Some(option) = rest.first() {
        match (option.to_ascii_uppercase().as_slice(), rest) {
            (b"AUTH", [_, user, password, more @ ..]) => {
                if !authenticate(ctx, Some(user), password) {
                    return Flow::Continue;
                }
                rest = more;
            }
            (b"SETNAME", [_, n, more @ ..]) => {
                name = Some(n.clone());
                rest = more;
            }
            _ => return ctx.syntax_error(),
        }
    }
    if !*ctx.authed {
        ctx.out.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        );
        return Flow::Continue;
    }
    if let Some(name) = name
        && !set_name(ctx, name)
    {
        return Flow::Continue;
    }
    let id = ctx.client.id.to_string();
    let fields: [(&str, &[u8]); 6] = [
        ("server", b"tinykv"),
        ("version", REDIS_VERSION.as_bytes()),
        ("proto", b""),
        ("id", id.as_bytes()),
        ("mode", b"standalone"),
        ("role", b"master"),
    ];
    ctx.out.array(14);
    for (field, value) in fields {
        ctx.out.bulk(field.as_bytes());
        match field {
            "proto" => ctx.out.integer(2),
            "id" => ctx.out.integer(ctx.client.id as i64),
            _ => ctx.out.bulk(value),
        }
    }
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
    Flow::Continue
}

/// SELECT index: only database 0 exists.
pub fn select(_: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    match parse_integer(&args[1]) {
        Some(0) => out.ok(),
        Some(_) => out.error("ERR DB index is out of range"),
        None => out.error("ERR value is not an integer or out of range"),
    }
    Ok(())
}

/// The longest client name. Redis has no limit, but a name lives as long
/// as its connection, outside the request budget, and CLIENT LIST copies
/// every one into one reply on the event loop (serve review: four 200 MiB
/// names made an 800 MiB CLIENT LIST that stalled every client).
pub const MAX_NAME: usize = 1024;

/// Sets the client's name, as Redis checks it; replies with the refusal.
fn set_name(ctx: &mut Ctx<'_>, name: Vec<u8>) -> bool {
    if name.len() > MAX_NAME {
        ctx.out
            .error(&format!("ERR Client names are at most {MAX_NAME} bytes"));
        return false;
    }
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        ctx.out
            .error("ERR Client names cannot contain spaces, newlines or special characters.");
        return false;
    }
    let name = (!name.is_empty()).then_some(name);
    *ctx.client.name.lock().unwrap_or_else(|p| p.into_inner()) = name;
    true
}

/// CLIENT SETNAME|GETNAME|ID|INFO|LIST|SETINFO|HELP.
pub fn client(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let sub = args[1].to_ascii_uppercase();
    match (sub.as_slice(), args.len()) {
        (b"SETNAME", 3) => {
            if set_name(ctx, args[2].clone()) {
                ctx.out.ok();
            }
        }
        (b"GETNAME", 2) => {
            let name = ctx.client.name();
            ctx.out
                .optional((!name.is_empty()).then_some(name.as_slice()));
        }
        (b"ID", 2) => ctx.out.integer(ctx.client.id as i64),
        (b"INFO", 2) => ctx
            .out
            .bulk(format!("{}\n", ctx.client.describe()).as_bytes()),
        (b"LIST", _) => {
            let text: String = ctx
                .server
                .clients
                .list()
                .iter()
                .map(|c| c.describe() + "\n")
                .collect();
            ctx.out.bulk(text.as_bytes());
        }
        // Client libraries announce themselves; the reply is ignored.
        (b"SETINFO", 4) => ctx.out.ok(),
        (b"HELP", 2) => {
            let lines = [
                "CLIENT <subcommand> [<arg> ...]. Subcommands are:",
                "GETNAME",
                "ID",
                "INFO",
                "LIST",
                "SETINFO <option> <value>",
                "SETNAME <name>",
            ];
            ctx.out.array(lines.len());
            for line in lines {
                ctx.out.simple(line);
            }
        }
        (b"SETNAME" | b"GETNAME" | b"ID" | b"INFO" | b"SETINFO" | b"HELP", _) => {
            let name = format!("client|{}", sub.to_ascii_lowercase().escape_ascii());
            ctx.out.error(&wrong_arity(&name));
        }
        _ => ctx.out.error(&format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            shown(&args[1], 128)
        )),
    }
    Flow::Continue
}

/// One entry of COMMAND's reply, as Redis 7 gives it.
fn describe(ctx: &mut Ctx<'_>, spec: &Spec) {
    ctx.out.array(10);
    ctx.out.bulk(spec.name.as_bytes());
    ctx.out.integer(i64::from(spec.arity));
    ctx.out.array(spec.flags.len());
    for flag in spec.flags {
        ctx.out.simple(flag);
    }
    let (first, last, step) = spec.keys;
    ctx.out.integer(i64::from(first));
    ctx.out.integer(i64::from(last));
    ctx.out.integer(i64::from(step));
    // ACL categories, tips, key specifications, subcommands: none given.
    for _ in 0..4 {
        ctx.out.array(0);
    }
}

/// COMMAND [COUNT | INFO name... | LIST | DOCS [name...]].
pub fn command(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let sub = args.get(1).map(|s| s.to_ascii_uppercase());
    match sub.as_deref() {
        None => {
            ctx.out.array(COMMANDS.len());
            for spec in &COMMANDS {
                describe(ctx, spec);
            }
        }
        Some(b"COUNT") => ctx.out.integer(COMMANDS.len() as i64),
        Some(b"LIST") => {
            ctx.out.array(COMMANDS.len());
            for spec in &COMMANDS {
                ctx.out.bulk(spec.name.as_bytes());
            }
        }
        Some(b"INFO") => {
            ctx.out.array(args.len() - 2);
            for name in &args[2..] {
                match lookup(name) {
                    Some(i) => describe(ctx, &COMMANDS[i]),
                    None => ctx.out.nil(),
                }
            }
        }
        // redis-cli asks for the docs to show hints; none is a valid answer.
        Some(b"DOCS") => ctx.out.array(0),
        Some(_) => ctx.out.error(&format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            shown(&args[1], 128)
        )),
    }
    Flow::Continue
}

/// CONFIG GET pattern... (what redis-benchmark and tools read), CONFIG
/// RESETSTAT; CONFIG SET is refused: the settings are the command line's.
pub fn config(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let sub = args[1].to_ascii_uppercase();
    match sub.as_slice() {
        b"GET" if args.len() >= 3 => {
            let settings = &ctx.server.settings;
            let always = settings.sync == SyncMode::Always;
            let port = settings.bound.map_or(0, |b| b.port()).to_string();
            let bind = settings.bound.map(|b| b.ip().to_string()).unwrap_or_default();
            let dir = ctx.server.db.path().display().to_string();
            let max = ctx.server.clients.max().to_string();
            let table: [(&str, &str); 10] = [
                ("appendonly", "yes"),
                ("appendfsync", if always { "always" } else { "no" }),
                ("save", ""),
                ("databases", "1"),
                ("maxclients", &max),
                ("port", &port),
                ("bind", &bind),
                ("dir", &dir),
                ("timeout", "0"),
                ("maxmemory", "0"),
            ];
            let patterns: Vec<Pattern> = args[2..]
                .iter()
                .map(|p| Pattern::new(&p.to_ascii_lowercase()))
                .collect();
            let found: Vec<_> = table
                .iter()
                .filter(|(name, _)| patterns.iter().any(|p| p.matches(name.as_bytes())))
                .collect();
            ctx.out.array(found.len() * 2);
            for (name, value) in found {
                ctx.out.bulk(name.as_bytes());
                ctx.out.bulk(value.as_bytes());
            }
        }
        b"SET" => ctx.out.error(
            "ERR CONFIG SET is not supported: tinykv serve takes its settings from its command line",
        ),
        b"RESETSTAT" => ctx.out.ok(),
        b"GET" => ctx.out.error(&wrong_arity("config|get")),
        _ => ctx.out.error(&format!(
            "ERR unknown subcommand '{}'. Try CONFIG HELP.",
            shown(&args[1], 128)
        )),
    }
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        assert!(password_matches(b"secret", b"secret"));
        assert!(!password_matches(b"secre", b"secret"));
        assert!(!password_matches(b"secret!", b"secret"));
        assert!(!password_matches(b"Secret", b"secret"));
        assert!(!password_matches(b"", b"secret"));
        assert!(password_matches(b"", b""));
    }
}
