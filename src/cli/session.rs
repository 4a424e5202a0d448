//! One line of the REPL or of a script: split into words, parsed with the
//! same clap commands as the command line, run against the open database,
//! and answered.
//!
//! Replies come in two styles. [`Style::Human`] (the REPL) answers like
//! redis-cli: `OK`, `"value"` (always quoted, escaped exactly as a double-
//! quoted word is typed, so a reply can be pasted back), `(nil)`,
//! `(integer) N`, numbered lists. [`Style::Plain`] (scripts) prints what the
//! one-shot commands print, for programs: `OK` per acknowledged write, the
//! raw value and a newline per read, `(nil)` for a missing key, bare numbers.
//!
//! Invariant: an error is returned, never printed here, and never ends the
//! session; only `exit`/`quit` do.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use anyhow::{Result, anyhow, bail};
use clap::{CommandFactory, Parser};

use super::args::{Command, SessionCommand, SessionLine};
use super::ops::{self, LoadSource};
use super::select::Select;
use super::store::Store;
use super::{generate, push, stats, suggest, words};
use crate::engine::Renamed;
use crate::format::escape_bytes;

/// How replies are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// redis-cli style, for a person at the REPL.
    Human,
    /// One-shot style, for a program driving a script.
    Plain,
}

/// What the caller does after a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Read the next line.
    Continue,
    /// `exit` or `quit`: end the session.
    Exit,
}

/// A database and how to talk about it.
pub struct Session<'a> {
    store: &'a dyn Store,
    style: Style,
    /// Whether `set KEY` and `load` may read stdin (not when stdin is the script).
    stdin_free: bool,
}

impl<'a> Session<'a> {
    /// A session on `store`.
    pub fn new(store: &'a dyn Store, style: Style, stdin_free: bool) -> Self {
        Session {
            store,
            style,
            stdin_free,
        }
    }

    /// The database.
    pub fn store(&self) -> &'a dyn Store {
        self.store
    }

    /// Runs one line, writing its reply to `out`.
    pub fn execute(&self, line: &[u8], out: &mut dyn Write) -> Result<Next> {
        let mut words = words::split(line)?;
        let Some(first) = words.first_mut() else {
            return Ok(Next::Continue);
        };
        first.make_ascii_lowercase();
        let name = String::from_utf8_lossy(first).into_owned();
        if NOT_IN_SESSIONS.contains(&name.as_str()) {
            return Err(not_in_sessions(&name));
        }
        if !command_names().contains(&name) {
            return Err(unknown_command(first, &name));
        }
        let argv = words.into_iter().map(OsString::from_vec);
        match SessionLine::try_parse_from(argv) {
            Ok(parsed) => self.run(parsed.command, out),
            // `get --help` in a session is a request, not a mistake.
            Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
                out.write_all(e.to_string().as_bytes())?;
                Ok(Next::Continue)
            }
            Err(e) => Err(clap_error(&name, &e)),
        }
    }

    fn run(&self, command: SessionCommand, out: &mut dyn Write) -> Result<Next> {
        let human = self.style == Style::Human;
        match command {
            SessionCommand::Shared(command) => self.run_shared(command, out)?,
            SessionCommand::Help { command } => help(command.as_deref(), human, out)?,
            SessionCommand::Exit => return Ok(Next::Exit),
        }
        Ok(Next::Continue)
    }

    fn run_shared(&self, command: Command, out: &mut dyn Write) -> Result<()> {
        let human = self.style == Style::Human;
        match command {
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
                let value =
                    ops::set_value(&key, value.as_deref(), literal.as_deref(), self.stdin_free)?;
                let condition = ops::condition(nx, xx, if_eq.as_deref());
                let expiry = ops::expiry(ttl, expire_at);
                let stored = ops::set_if(self.store, key.as_bytes(), &value, condition, expiry)?;
                writeln!(out, "{}", if stored { "OK" } else { "(nil)" })?;
            }
            Command::Incr { step } => {
                let n = ops::incr(self.store, step.key.as_bytes(), step.by())?;
                self.integer(n, out)?;
            }
            Command::Decr { step } => {
                let by = ops::negated(step.by())?;
                self.integer(ops::incr(self.store, step.key.as_bytes(), by)?, out)?;
            }
            Command::Expire { key, duration } => {
                let set = ops::expire(self.store, key.as_bytes(), Some(duration))?;
                self.done(set, out)?;
            }
            Command::Persist { key } => {
                let set = ops::expire(self.store, key.as_bytes(), None)?;
                self.done(set, out)?;
            }
            Command::Ttl { key } => match ops::ttl(self.store, key.as_bytes())? {
                Some(Some(secs)) => self.integer(secs, out)?,
                Some(None) => writeln!(out, "none")?,
                None => writeln!(out, "(nil)")?,
            },
            Command::Pop { prefix } => {
                let prefix = prefix.as_ref().map(|p| p.as_bytes()).unwrap_or_default();
                match ops::pop(self.store, prefix)? {
                    None => writeln!(out, "(nil)")?,
                    Some((k, v)) if human => {
                        writeln!(out, "1) \"{}\"\n2) \"{}\"", escaped(&k), escaped(&v))?;
                    }
                    Some((k, v)) => writeln!(out, "{}\t{}", escape_bytes(&k), escape_bytes(&v))?,
                }
            }
            Command::Rename { old, new, nx } => {
                let renamed = ops::rename(self.store, old.as_bytes(), new.as_bytes(), nx)?;
                self.done(renamed == Renamed::Done, out)?;
            }
            Command::Get { raw: true, keys } => {
                let [key] = keys.as_slice() else {
                    bail!("get --raw takes exactly one KEY ({} given)", keys.len());
                };
                match ops::get(self.store, key.as_bytes())? {
                    Some(value) => {
                        out.write_all(&value)?;
                        if human && !value.ends_with(b"\n") {
                            out.write_all(b"\n")?;
                        }
                    }
                    None => writeln!(out, "(nil)")?,
                }
            }
            Command::Get { raw: false, keys } => {
                let many = keys.len() > 1;
                for (i, key) in keys.iter().enumerate() {
                    let value = ops::get(self.store, key.as_bytes())?;
                    if human && many {
                        write!(out, "{}) ", i + 1)?;
                    }
                    match value {
                        None => writeln!(out, "(nil)")?,
                        Some(v) if human => writeln!(out, "\"{}\"", escaped(&v))?,
                        Some(v) => {
                            out.write_all(&v)?;
                            out.write_all(b"\n")?;
                        }
                    }
                }
            }
            Command::Del { keys } => {
                let mut deleted = 0;
                for key in &keys {
                    deleted += u64::from(ops::del(self.store, key.as_bytes())?);
                }
                if human {
                    writeln!(out, "(integer) {deleted}")?;
                } else {
                    writeln!(out, "OK")?;
                }
            }
            Command::Exists { keys } => {
                let mut n = 0;
                for key in &keys {
                    n += u64::from(ops::exists(self.store, key.as_bytes())?);
                }
                self.integer(n, out)?;
            }
            Command::Count { prefix } => {
                let prefix = prefix.as_ref().map(|p| p.as_bytes()).unwrap_or_default();
                let n = ops::count(self.store, prefix)?;
                self.integer(n, out)?;
            }
            Command::Keys { select, null } => {
                let select = Select::new(&select);
                if human && !null {
                    let mut n = 0;
                    for key in select.keys(self.store) {
                        n += 1;
                        writeln!(out, "{n}) \"{}\"", escaped(&key?))?;
                    }
                    if n == 0 {
                        writeln!(out, "(empty array)")?;
                    }
                } else {
                    ops::keys(self.store, &select, null, out)?;
                }
            }
            Command::Dump { format, select } => {
                ops::dump(self.store, format, &Select::new(&select), out)?;
            }
            Command::Load {
                file,
                format,
                replace,
            } => {
                let source = LoadSource::from_arg(file);
                if matches!(source, LoadSource::Stdin) && !self.stdin_free {
                    bail!("load needs a FILE here (stdin is not free to read a dump)");
                }
                let n = ops::load(self.store, &source, format, replace, None)?;
                if human {
                    writeln!(out, "OK ({n} pairs)")?;
                } else {
                    writeln!(out, "OK")?;
                }
            }
            Command::Backup { dest } => {
                ops::backup(self.store, &dest)?;
                writeln!(out, "OK")?;
            }
            Command::Compact => ops::compact(self.store, out)?,
            Command::Check => {
                let report = self.store.check()?;
                if !ops::print_check(&report, out)? {
                    bail!("check found damage; run `recover` to salvage every intact record");
                }
            }
            Command::Stats { json } => stats::print(self.store, json, out)?,
            Command::Recover => {
                let report = self.store.recover()?;
                ops::print_recover(&report, self.store.path(), out)?;
            }
            Command::Generate { what } => generate::generate(what, out)?,
            Command::Serve { .. } => return Err(not_in_sessions("serve")),
            Command::Push { url, select } => {
                // As for the one-shot command (config.rs), read here: a
                // session has no configuration of its own to carry it.
                let auth = std::env::var_os("REDISCLI_AUTH")
                    .filter(|p| !p.is_empty())
                    .map(std::ffi::OsString::into_encoded_bytes);
                let to = push::connect(&url, auth.as_deref())?;
                push::run(self.store, to, &Select::new(&select), out)?;
            }
        }
        Ok(())
    }

    fn integer(&self, n: impl std::fmt::Display, out: &mut dyn Write) -> io::Result<()> {
        match self.style {
            Style::Human => writeln!(out, "(integer) {n}"),
            Style::Plain => writeln!(out, "{n}"),
        }
    }

    /// A write that needs its key (`expire`, `rename`): `(integer) 1` or
    /// `0` for a person, as Redis answers; `OK` or `(nil)` for a program.
    fn done(&self, done: bool, out: &mut dyn Write) -> io::Result<()> {
        match (self.style, done) {
            (Style::Human, _) => writeln!(out, "(integer) {}", u8::from(done)),
            (Style::Plain, true) => writeln!(out, "OK"),
            (Style::Plain, false) => writeln!(out, "(nil)"),
        }
    }
}

/// One-shot commands a session refuses: `serve` would need the database
/// lock the session already holds, and would never return to the prompt.
const NOT_IN_SESSIONS: [&str; 1] = ["serve"];

fn not_in_sessions(name: &str) -> anyhow::Error {
    anyhow!(
        "'{name}' cannot run inside the REPL or a script (this session holds the database \
         lock); run 'tinykv {name}' from the shell"
    )
}

/// Every command name and alias a session accepts, in help order.
pub fn command_names() -> Vec<String> {
    let cmd = SessionLine::command();
    let mut names = Vec::new();
    for sub in cmd
        .get_subcommands()
        .filter(|s| !NOT_IN_SESSIONS.contains(&s.get_name()))
    {
        names.push(sub.get_name().to_owned());
        names.extend(sub.get_all_aliases().map(str::to_owned));
    }
    names
}

/// The argument synopsis of `name` (`KEY [VALUE]`), as `help` lists it.
pub fn synopsis(name: &str) -> Option<String> {
    super::synopsis::of(name).map(|s| s.to_string())
}

/// The synopsis of `name` for the `help` list: in full when it is short,
/// else its positional arguments and `[OPTIONS]` (`help set` shows all).
fn short_synopsis(name: &str) -> String {
    let Some(synopsis) = super::synopsis::of(name) else {
        return String::new();
    };
    let full = synopsis.to_string();
    if full.len() <= 34 {
        return full;
    }
    let mut parts: Vec<&str> = synopsis
        .parts
        .iter()
        .filter(|p| p.long.is_none())
        .map(|p| p.text.as_str())
        .collect();
    parts.push("[OPTIONS]");
    parts.join(" ")
}

fn escaped(bytes: &[u8]) -> String {
    let mut s = String::new();
    words::escape_into(bytes, &mut s);
    s
}

/// `raw` as typed (escaped in the message: invalid UTF-8 as `\xHH`), and
/// `name`, its lossy text, for the suggestion.
fn unknown_command(raw: &[u8], name: &str) -> anyhow::Error {
    let names = command_names();
    let offered = names.iter().map(String::as_str);
    match suggest::closest(name, offered) {
        Some(best) => anyhow!(
            "unknown command '{}'; did you mean '{best}'?",
            escape_bytes(raw)
        ),
        None => anyhow!(
            "unknown command '{}'; type 'help' for the list",
            escape_bytes(raw)
        ),
    }
}

/// clap's message for a bad line, on one line, with where to read more.
fn clap_error(name: &str, err: &clap::Error) -> anyhow::Error {
    let text = err.to_string();
    // The message proper ends where clap's usage and tips begin.
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("tip:"))
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.trim_start_matches("error: ");
    anyhow!("{message}; try 'help {name}'")
}

/// `help` lists the commands; `help CMD` shows one command's full help.
fn help(command: Option<&str>, human: bool, out: &mut dyn Write) -> Result<()> {
    let mut cmd = SessionLine::command();
    cmd.build();
    match command {
        None => {
            for sub in cmd
                .get_subcommands()
                .filter(|s| !NOT_IN_SESSIONS.contains(&s.get_name()))
            {
                let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
                let usage = short_synopsis(sub.get_name());
                let head = format!("{} {usage}", sub.get_name());
                writeln!(out, "  {head:<36} {about}")?;
            }
            if human {
                writeln!(
                    out,
                    "\nWords split like a shell: \"a b\" and 'a b' are one word; inside double \
                     quotes \\n \\t \\r \\\\ \\\" \\xHH are escapes.\nTab completes commands and keys; \
                     Ctrl-R searches the history; Ctrl-D or 'exit' leaves."
                )?;
            }
        }
        Some(name) => {
            let name = name.to_ascii_lowercase();
            let Some(sub) = cmd
                .get_subcommands_mut()
                .find(|s| s.get_name() == name || s.get_all_aliases().any(|a| a == name))
            else {
                return Err(unknown_command(name.as_bytes(), &name));
            };
            let text = sub.render_long_help().to_string();
            out.write_all(text.as_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
