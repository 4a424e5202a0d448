//! The `tinykv` command line: argument parsing, one-shot commands, the REPL
//! and script mode. Uses the engine only through its public API.
//!
//! One file per concern: [`args`] (clap definitions), [`config`] (resolved
//! configuration), [`exit`] (exit codes), [`commands`] (one-shot commands),
//! [`session`] (a REPL or script line), [`repl`], [`script`], [`words`] (the
//! line splitter), [`output`] (messages and formatting), [`generate`] (man
//! page and completions), [`serve`] (the Redis-protocol server), [`listen`]
//! (where it listens, and the policy for addresses beyond this machine).
//!
//! Invariants: stdout carries only data and replies; every error is printed
//! once, as one line `tinykv: <what> (<cause>)`, by [`main`]; a closed
//! stdout (broken pipe) ends the run quietly with exit 0.

pub mod args;
pub mod client;
pub mod commands;
pub mod config;
pub mod database;
pub mod exit;
#[cfg(feature = "testing")]
pub mod gate;
pub mod generate;
pub mod glob;
pub mod interrupt;
pub mod key_completion;
pub mod listen;
pub mod ops;
pub mod output;
pub mod owner;
pub mod push;
pub mod repl;
pub mod script;
pub mod select;
pub mod serve;
pub mod session;
pub mod session_db;
pub mod stats;
pub mod store;
pub mod suggest;
pub mod synopsis;
pub mod tuning;
pub mod words;

use std::io::{self, IsTerminal, Write};
use std::panic;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use args::Args;
use config::{Config, Mode};
use exit::Exit;
use owner::Kind;
use session_db::SessionDb;

/// Parses the command line, runs it, and turns the outcome into an exit code.
pub fn main() -> ExitCode {
    // A bug must still end as one line and exit 2, never a backtrace.
    panic::set_hook(Box::new(|info| output::message(&panic_line(info))));
    let exit = panic::catch_unwind(|| {
        let args = match Args::try_parse() {
            Ok(args) => args,
            Err(e) => return usage_error(&e),
        };
        match run(args) {
            Ok(exit) => exit,
            Err(e) if output::is_broken_pipe(&e) => Exit::Success,
            Err(e) => {
                output::message(&output::error_line(&e));
                Exit::Error
            }
        }
    })
    .unwrap_or(Exit::Error);
    exit.into()
}

/// A panic as one line: `internal error: MESSAGE (at FILE:LINE:COL)`
/// (the standard `Display` puts the message on a line of its own).
fn panic_line(info: &panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    let message = message.replace(['\r', '\n'], " ");
    match info.location() {
        Some(at) => format!("internal error: {message} (at {at})"),
        None => format!("internal error: {message}"),
    }
}

/// Prints clap's message (help, version or a usage error) and picks the
/// exit code: 0 for help and version, 2 for a mistake, which is one line
/// like every other error.
fn usage_error(err: &clap::Error) -> Exit {
    if err.use_stderr() {
        output::message(&usage_line(&err.to_string()));
        return Exit::Error;
    }
    // `tinykv --help | head -1` is a success too, whether printed or not.
    let _ = err.print();
    Exit::Success
}

/// clap's usage error on one line: the message, its tips in parentheses,
/// and where to read more, without the usage block.
fn usage_line(text: &str) -> String {
    let (mut message, mut tips) = (Vec::new(), Vec::new());
    for line in text.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        match line.strip_prefix("tip: ") {
            Some(tip) => tips.push(tip),
            None if !line.is_empty() => message.push(line.trim_start_matches("error: ")),
            None => {}
        }
    }
    let tips = if tips.is_empty() {
        String::new()
    } else {
        format!(" ({})", tips.join("; "))
    };
    format!("{}{tips}; try 'tinykv --help'", message.join(" "))
}

/// Resolves the configuration and does what it asks.
pub fn run(args: Args) -> Result<Exit> {
    let config = Config::resolve(args, io::stdin().is_terminal(), |name| {
        std::env::var_os(name)
    })?;
    match &config.mode {
        Mode::Generate(what) => {
            let mut out = io::stdout().lock();
            generate::generate(*what, &mut out)?;
            out.flush()?;
            Ok(Exit::Success)
        }
        Mode::Command(command) => commands::run(command, &config),
        Mode::Repl => {
            let session = SessionDb::new(&config, Kind::Repl);
            session.reach_now()?;
            let exit = repl::run(
                &session,
                session.owner(),
                session.read_only(),
                config.history.as_deref(),
            );
            let finished = session.finish();
            let exit = exit?;
            finished?;
            Ok(exit)
        }
        Mode::Script { source, bail } => {
            let session = SessionDb::new(&config, Kind::Script);
            let exit = script::run(&session, source, *bail);
            let finished = session.finish();
            let exit = exit?;
            finished?;
            Ok(exit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_are_one_line() {
        for argv in [
            &["tinykv", "--bogus"][..],
            &["tinykv", "sett"],
            &["tinykv", "generate", "tcsh"],
            &["tinykv", "get"],
        ] {
            let err = Args::try_parse_from(argv).unwrap_err();
            let line = usage_line(&err.to_string());
            assert!(!line.contains('\n') && !line.contains("Usage"), "{line}");
            assert!(line.ends_with("; try 'tinykv --help'"), "{line}");
        }
        let err = Args::try_parse_from(["tinykv", "sett"]).unwrap_err();
        assert_eq!(
            usage_line(&err.to_string()),
            "unrecognized subcommand 'sett' (some similar subcommands exist: 'get', 'stats', \
             'set'); try 'tinykv --help'"
        );
    }
}
