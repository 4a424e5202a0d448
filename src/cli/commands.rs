//! The one-shot commands (`tinykv set …`, `tinykv dump`, …): how each
//! reaches its database, runs its operation (ops.rs, shared with the REPL
//! and scripts) and turns the answer into output and an exit status.
//!
//! Invariants: writes print nothing on success; data goes to stdout and
//! messages to stderr; the database is closed explicitly at the end of every
//! command so a failed flush is an error, not a silent loss.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{Context, Result};

use super::args::Command;
use super::config::Config;
use super::database::{self, Reached};
use super::exit::Exit;
use super::ops::{self, LoadSource};
use super::output::{self, Progress};
use super::select::Select;
use super::store::{Local, Store};
use super::{interrupt, push, serve, stats};
use crate::engine::Db;
use crate::format::escape_bytes;

/// What a long command says when Ctrl-C interrupts it (interrupt.rs):
/// caught from before the database is reached, so that the words are true
/// whenever the signal comes.
fn interrupted(command: &Command) -> Option<String> {
    Some(match command {
        Command::Load { .. } => "load interrupted (Ctrl-C): nothing was stored".into(),
        Command::Dump { .. } => "dump interrupted (Ctrl-C): its output is incomplete".into(),
        Command::Backup { dest } => format!(
            "backup interrupted (Ctrl-C): {} is incomplete; remove it",
            dest.display()
        ),
        Command::Push { .. } => "push interrupted (Ctrl-C): some pairs may have arrived; \
                                 pushing again is safe (SET overwrites)"
            .into(),
        Command::Compact => "compact interrupted (Ctrl-C): nothing was lost (the database is in \
                             its old files or its new ones; an unfinished compaction's files \
                             are removed when it is next opened)"
            .into(),
        _ => return None,
    })
}

/// Runs one command against the configured database: here, or through the
/// process that owns it (database.rs).
pub fn run(command: &Command, config: &Config) -> Result<Exit> {
    let ctrl_c = interrupted(command)
        .map(interrupt::on_interrupt)
        .transpose()?;
    // `check` and `recover` must not open the database normally: a damaged
    // segment that a normal open refuses is exactly what they are for.
    let mut source = None;
    let reached = match command {
        Command::Check => return check_dir(config),
        Command::Recover => return recover_dir(config),
        Command::Serve { .. } => {
            // Config::resolve has checked serve's settings into config.serve.
            let settings = config.serve.as_ref().expect("resolved with the command");
            return serve::run(config, settings);
        }
        Command::Push { url, select } => {
            // The server first: a bad address or password never touches
            // (nor waits for) the database.
            let to = push::connect(url, config.redis_auth.as_deref())?;
            return push_from(config, to, &Select::new(select));
        }
        Command::Load { file, .. } => {
            let (reached, from) = reach_for_load(config, LoadSource::from_arg(file.clone()))?;
            source = Some(from);
            reached
        }
        _ => database::reach(config)?,
    };
    match reached {
        Reached::Here(db) => {
            let exit = run_on(&Local::new(&db, None), command, config, source, ctrl_c)?;
            database::close(db)?;
            Ok(exit)
        }
        Reached::Owner(remote) => run_on(&remote, command, config, source, ctrl_c),
    }
}

/// What a command's output gathers before a write to stdout: a `dump` of
/// 1M pairs made 14,000 writes through the default 8 KiB (7% of its time).
/// At 128 KiB glibc maps it (an mmap and munmap a command); 64 KiB made
/// that `dump` 3% slower, which costs more than the two calls.
const STDOUT_BUF: usize = 128 * 1024;

/// The command's work, on `store`, however it was reached.
fn run_on(
    store: &dyn Store,
    command: &Command,
    config: &Config,
    source: Option<LoadSource>,
    ctrl_c: Option<interrupt::Guard>,
) -> Result<Exit> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(STDOUT_BUF, stdout.lock());
    let exit = match command {
        Command::Set {
            key,
            value,
            literal,
            nx,
            xx,
            if_eq,
            ttl,
            expire_at,
        } => {
            let value = ops::set_value(key, value.as_deref(), literal.as_deref(), true)?;
            let key = key.as_bytes();
            let condition = ops::condition(*nx, *xx, if_eq.as_deref());
            let expiry = ops::expiry(*ttl, *expire_at);
            if ops::set_if(store, key, &value, condition.clone(), expiry)? {
                Exit::Success
            } else {
                quietly(config, &ops::not_stored(key, &condition));
                Exit::NotFound
            }
        }
        Command::Incr { step } => {
            writeln!(out, "{}", ops::incr(store, step.key.as_bytes(), step.by())?)?;
            Exit::Success
        }
        Command::Decr { step } => {
            let by = ops::negated(step.by())?;
            writeln!(out, "{}", ops::incr(store, step.key.as_bytes(), by)?)?;
            Exit::Success
        }
        Command::Expire { key, duration } => found(
            config,
            key,
            ops::expire(store, key.as_bytes(), Some(*duration))?,
        ),
        Command::Persist { key } => found(config, key, ops::expire(store, key.as_bytes(), None)?),
        Command::Ttl { key } => match ops::ttl(store, key.as_bytes())? {
            Some(Some(secs)) => {
                writeln!(out, "{secs}")?;
                Exit::Success
            }
            Some(None) => {
                writeln!(out, "none")?;
                Exit::Success
            }
            None => found(config, key, false),
        },
        Command::Pop { prefix } => match ops::pop(store, prefix_bytes(prefix))? {
            Some((key, value)) => {
                writeln!(out, "{}\t{}", escape_bytes(&key), escape_bytes(&value))?;
                Exit::Success
            }
            None => {
                quietly(
                    config,
                    &match prefix {
                        Some(p) => format!("no key starts with {}", output::key(p.as_bytes())),
                        None => "the database is empty".to_owned(),
                    },
                );
                Exit::NotFound
            }
        },
        Command::Rename { old, new, nx } => {
            let (old, new) = (old.as_bytes(), new.as_bytes());
            match ops::not_renamed(old, new, ops::rename(store, old, new, *nx)?) {
                None => Exit::Success,
                Some(why) => {
                    quietly(config, &why);
                    Exit::NotFound
                }
            }
        }
        Command::Get { raw, keys } => {
            let mut exit = Exit::Success;
            for key in keys {
                match ops::get(store, key.as_bytes())? {
                    Some(value) => {
                        out.write_all(&value)?;
                        if !*raw {
                            out.write_all(b"\n")?;
                        }
                    }
                    None => exit = exit.worst(found(config, key, false)),
                }
            }
            exit
        }
        Command::Del { keys } => {
            let mut exit = Exit::Success;
            for key in keys {
                let deleted = ops::del(store, key.as_bytes())?;
                exit = exit.worst(found(config, key, deleted));
            }
            exit
        }
        Command::Exists { keys } => {
            let mut exit = Exit::Success;
            for key in keys {
                if !ops::exists(store, key.as_bytes())? {
                    exit = Exit::NotFound;
                }
            }
            exit
        }
        Command::Count { prefix } => {
            writeln!(out, "{}", ops::count(store, prefix_bytes(prefix))?)?;
            Exit::Success
        }
        Command::Keys { select, null } => {
            ops::keys(store, &Select::new(select), *null, &mut out)?;
            Exit::Success
        }
        Command::Dump { format, select } => {
            ops::dump(store, *format, &Select::new(select), &mut out)?;
            Exit::Success
        }
        Command::Load {
            format, replace, ..
        } => {
            let source = source.expect("load reached its source first");
            ops::load(store, &source, *format, *replace, ctrl_c)?;
            Exit::Success
        }
        Command::Backup { dest } => {
            ops::backup(store, dest)?;
            Exit::Success
        }
        Command::Compact => {
            ops::compact(store, &mut out)?;
            Exit::Success
        }
        Command::Stats { json } => {
            stats::print(store, *json, &mut out)?;
            Exit::Success
        }
        Command::Check
        | Command::Recover
        | Command::Serve { .. }
        | Command::Generate { .. }
        | Command::Push { .. } => {
            unreachable!("handled before the database is reached")
        }
    };
    out.flush().context("cannot write to stdout")?;
    Ok(exit)
}

/// `push`: reads the database here or through its owner (read-only
/// works: push never writes to it).
fn push_from(config: &Config, to: push::Connected, select: &Select) -> Result<Exit> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let exit = match database::reach(config)? {
        Reached::Here(db) => {
            let exit = push::run(&Local::new(&db, None), to, select, &mut out)?;
            database::close(db)?;
            exit
        }
        Reached::Owner(remote) => push::run(&remote, to, select, &mut out)?,
    };
    out.flush().context("cannot write to stdout")?;
    Ok(exit)
}

/// Reaches the database for `load`. When a one-shot command holds it
/// (`tinykv dump | sed … | tinykv load` on one database: the dump holds
/// the lock until its output is read), standard input is first read to
/// the end into a private temporary file, so that the command before it
/// in the pipe can finish and let go; the wait for the lock starts then.
fn reach_for_load(config: &Config, source: LoadSource) -> Result<(Reached<Db>, LoadSource)> {
    if let Some(reached) = database::try_reach(config)? {
        return Ok((reached, source));
    }
    let source = match source {
        LoadSource::Stdin => LoadSource::Spooled(spool_stdin()?),
        other => other,
    };
    Ok((database::reach(config)?, source))
}

/// Standard input, copied into an unnamed temporary file (removed at once:
/// only this process holds it), rewound.
fn spool_stdin() -> Result<File> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("tinykv-load-{}.tmp", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("load: cannot create {}", path.display()))?;
    let _ = fs::remove_file(&path);
    io::copy(&mut io::stdin().lock(), &mut file)
        .with_context(|| format!("load: cannot keep stdin in {}", dir.display()))?;
    file.rewind().context("load: cannot read stdin back")?;
    Ok(file)
}

/// `Success` when `key` was `there`; else says it was not found (unless
/// `-q`) and is `NotFound`.
fn found(config: &Config, key: &OsStr, there: bool) -> Exit {
    if there {
        return Exit::Success;
    }
    quietly(
        config,
        &format!("key {} not found", output::key(key.as_bytes())),
    );
    Exit::NotFound
}

/// Says `message` on stderr, unless `-q`.
fn quietly(config: &Config, message: &str) {
    if !config.quiet {
        output::message(message);
    }
}

fn prefix_bytes(prefix: &Option<std::ffi::OsString>) -> &[u8] {
    prefix.as_deref().map(OsStr::as_bytes).unwrap_or_default()
}

/// `check`: on the directory (it must not open the database normally,
/// which a damaged file could stop), or through its owner.
fn check_dir(config: &Config) -> Result<Exit> {
    let report = {
        let _progress = Progress::start("checking");
        match database::reach_with(config, |opts| Db::check_dir(&config.dir, &opts))? {
            Reached::Here(report) => report,
            Reached::Owner(remote) => remote.check().context("check failed")?,
        }
    };
    let mut out = io::stdout().lock();
    let clean = ops::print_check(&report, &mut out)?;
    out.flush()?;
    Ok(if clean { Exit::Success } else { Exit::Damaged })
}

/// `recover`: needs the database to itself; an owner is named, not used.
fn recover_dir(config: &Config) -> Result<Exit> {
    let report = {
        let _progress = Progress::start("recovering");
        match database::reach_with(config, |opts| Db::recover_dir(&config.dir, &opts))? {
            Reached::Here(report) => report,
            Reached::Owner(remote) => return Err(remote.recover().unwrap_err()),
        }
    };
    let mut out = io::stdout().lock();
    ops::print_recover(&report, &config.dir, &mut out)?;
    out.flush()?;
    Ok(Exit::Success)
}
