//! Resolved configuration: what a run will do, with every default applied.
//!
//! [`Config::resolve`] is the one function that turns parsed [`Args`] into a
//! [`Config`]; it reads the environment only through the `env` function it
//! is given, so it is tested without touching the process environment.
//! `serve`'s options are checked here too ([`ServeConfig`]), so that the
//! server starts from settings already known to be good.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};

use super::args::{Args, Command, Generated, SyncArg};
use super::listen;
use super::tuning::Tuning;
use crate::engine::{Options, SyncMode};

/// How long a command waits for a one-shot command that holds the lock
/// (`--wait`, `TINYKV_WAIT`), like sqlite3's busy timeout in Python.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// Everything a run needs to know.
#[derive(Debug)]
pub struct Config {
    /// The database directory.
    pub dir: PathBuf,
    /// How long to wait for the lock.
    pub wait: Duration,
    /// When writes reach the disk.
    pub sync: SyncMode,
    /// No "not found" messages on stderr.
    pub quiet: bool,
    /// The REPL's history file (`None`: no history kept).
    pub history: Option<PathBuf>,
    /// What to do.
    pub mode: Mode,
    /// Engine overrides, in test builds only.
    pub tuning: Tuning,
    /// Whether `dir` is the default one (created on first use by any
    /// command; a directory named with `--dir` is created only by writes).
    pub default_dir: bool,
    /// `serve`'s settings: `Some` exactly when the command is `serve`.
    pub serve: Option<ServeConfig>,
    /// `$XDG_RUNTIME_DIR`, where an owner puts its socket (owner.rs).
    pub runtime_dir: Option<PathBuf>,
    /// `$REDISCLI_AUTH`: the password `push` gives a server whose URL
    /// names none (redis-cli's variable, so it stays off the command line).
    pub redis_auth: Option<Vec<u8>>,
}

/// What `tinykv serve` was asked for, checked.
#[derive(Debug)]
pub struct ServeConfig {
    /// `--listen` as given, for messages.
    pub listen: String,
    /// The addresses it names, all allowed by the policy (listen.rs).
    pub addrs: Vec<SocketAddr>,
    /// The password clients must AUTH with (`--requirepass`): never empty.
    pub requirepass: Option<Vec<u8>>,
    /// `--max-clients`: at least 1 (the open-file limit may lower it when
    /// the server starts).
    pub max_clients: usize,
}

/// What a run does.
#[derive(Debug)]
pub enum Mode {
    /// One command, then exit.
    Command(Command),
    /// Print generated documentation; needs no database.
    Generate(Generated),
    /// The interactive REPL.
    Repl,
    /// Run a script.
    Script {
        /// Where the lines come from.
        source: ScriptSource,
        /// Stop at the first failed line.
        bail: bool,
    },
}

/// Where a script's lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptSource {
    /// Standard input.
    Stdin,
    /// A file (`-f FILE`).
    File(PathBuf),
}

impl Config {
    /// Applies defaults and checks the combinations clap cannot.
    ///
    /// `stdin_is_terminal` picks the REPL or a script when no command is
    /// given; `env` reads an environment variable.
    pub fn resolve(
        args: Args,
        stdin_is_terminal: bool,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Config> {
        let mode = match (args.command, args.file) {
            (Some(_), Some(_)) => {
                bail!("--file runs a script and cannot be combined with a command")
            }
            (Some(Command::Generate { what }), None) => Mode::Generate(what),
            (Some(Command::Get { raw: true, keys }), None) if keys.len() != 1 => {
                bail!("get --raw takes exactly one KEY ({} given)", keys.len())
            }
            (Some(command), None) => Mode::Command(command),
            (None, Some(file)) => Mode::Script {
                source: if file.as_os_str() == "-" {
                    ScriptSource::Stdin
                } else {
                    ScriptSource::File(file)
                },
                bail: args.bail,
            },
            (None, None) if stdin_is_terminal => Mode::Repl,
            (None, None) => Mode::Script {
                source: ScriptSource::Stdin,
                bail: args.bail,
            },
        };
        let named = match args.dir {
            Some(dir) if dir.as_os_str().is_empty() => bail!("--dir is empty"),
            Some(dir) => Some(dir),
            // `generate` opens nothing: do not fail for want of a home.
            None if matches!(mode, Mode::Generate(_)) => Some(PathBuf::new()),
            None => match env("TINYKV_DIR") {
                // Not the default in its place: a script that sets
                // TINYKV_DIR from a variable it forgot to fill would
                // otherwise write into the user's own database.
                Some(dir) if dir.is_empty() => bail!(
                    "TINYKV_DIR is set but empty (name a directory, or unset it for the default)"
                ),
                dir => dir.map(PathBuf::from),
            },
        };
        let from_default = named.is_none();
        let dir = match named {
            Some(dir) => dir,
            None => default_dir(&env)?,
        };
        let history = match mode {
            Mode::Repl => history_file(&env),
            _ => None,
        };
        let tuning = Tuning::from_env(&env)?;
        let serve = match &mode {
            Mode::Command(Command::Serve {
                listen,
                requirepass,
                insecure,
                max_clients,
            }) => Some(ServeConfig::resolve(
                listen,
                requirepass.as_deref(),
                *insecure,
                *max_clients,
            )?),
            _ => None,
        };
        Ok(Config {
            dir,
            history,
            wait: args.wait.unwrap_or(DEFAULT_WAIT),
            sync: match args.sync {
                SyncArg::Always => SyncMode::Always,
                SyncArg::Never => SyncMode::Never,
            },
            quiet: args.quiet,
            mode,
            tuning,
            default_dir: from_default,
            serve,
            redis_auth: env("REDISCLI_AUTH")
                .filter(|p| !p.is_empty())
                .map(|p| p.into_encoded_bytes()),
            runtime_dir: env("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute()),
        })
    }

    /// Whether the run changes the database, so that it cannot run on one
    /// this user cannot write (a read opens that one read-only instead:
    /// database.rs). A session (the REPL, a script) reads and writes line
    /// by line: it opens read-only, and each write says so.
    pub fn writes(&self) -> bool {
        matches!(
            &self.mode,
            Mode::Command(
                Command::Set { .. }
                    | Command::Incr { .. }
                    | Command::Decr { .. }
                    | Command::Expire { .. }
                    | Command::Persist { .. }
                    | Command::Pop { .. }
                    | Command::Rename { .. }
                    | Command::Del { .. }
                    | Command::Load { .. }
                    | Command::Compact
                    | Command::Recover
                    | Command::Serve { .. }
            )
        )
    }

    /// The engine options this configuration asks for.
    pub fn options(&self) -> Options {
        // Reads never create a database: a mistyped --dir is an error, not
        // a new empty database that answers "not found". Nor do writes that
        // need a key already there (expire, persist, pop, rename).
        let writes = match &self.mode {
            Mode::Command(c) => matches!(
                c,
                Command::Set { .. }
                    | Command::Incr { .. }
                    | Command::Decr { .. }
                    | Command::Del { .. }
                    | Command::Load { .. }
                    | Command::Serve { .. }
            ),
            Mode::Generate(_) => false,
            // A REPL creates its database; a script only at its first
            // write (session_db.rs).
            Mode::Repl => true,
            Mode::Script { .. } => false,
        };
        // The server compacts in a thread of its own, so that no client's
        // write ever runs a compaction; so does a REPL or a script, which
        // serves its database to other tinykv processes (serve::share).
        let serving = matches!(
            self.mode,
            Mode::Command(Command::Serve { .. }) | Mode::Repl | Mode::Script { .. }
        );
        // A one-shot command reads each block once or twice: a block cache
        // would cost it more (memory to fault in) than it saves. A session
        // or a server reads the same blocks again and again.
        let cache_bytes = match &self.mode {
            _ if serving => Options::default().cache_bytes,
            Mode::Command(_) | Mode::Generate(_) => 0,
            Mode::Repl | Mode::Script { .. } => Options::default().cache_bytes,
        };
        self.tuning.apply(Options {
            sync: self.sync,
            lock_timeout: self.wait,
            create: writes || self.default_dir,
            cache_bytes,
            auto_compact: !serving,
            ..Options::default()
        })
    }
}

impl ServeConfig {
    /// Checks `serve`'s options, in the order a user fixes them: the
    /// password, the address, then the number of clients.
    fn resolve(
        listen: &str,
        requirepass: Option<&str>,
        insecure: bool,
        max_clients: usize,
    ) -> Result<ServeConfig> {
        // Not "no password" (as Redis takes it): whoever set one empty meant
        // to set one, and `AUTH ""` would let anyone in (serve review).
        if requirepass == Some("") {
            bail!(
                "the password is empty (--requirepass or TINYKV_REQUIREPASS): give one, or leave both unset"
            );
        }
        let addrs = listen::resolve(listen, requirepass.is_some(), insecure)?;
        if max_clients == 0 {
            bail!("--max-clients must be at least 1");
        }
        Ok(ServeConfig {
            listen: listen.to_owned(),
            addrs,
            requirepass: requirepass.map(|p| p.as_bytes().to_vec()),
            max_clients,
        })
    }
}

/// `$XDG_DATA_HOME/tinykv`, else `~/.local/share/tinykv`.
fn default_dir(env: &impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    xdg_dir(env, "XDG_DATA_HOME", ".local/share").ok_or_else(|| {
        anyhow::anyhow!("no database directory (set --dir, TINYKV_DIR, XDG_DATA_HOME or HOME)")
    })
}

/// `TINYKV_HISTFILE` (`/dev/null` or empty: none), else
/// `$XDG_STATE_HOME/tinykv/history`, else `~/.local/state/tinykv/history`.
fn history_file(env: &impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    match env("TINYKV_HISTFILE") {
        Some(path) if path.is_empty() || path == "/dev/null" => None,
        Some(path) => Some(PathBuf::from(path)),
        None => Some(xdg_dir(env, "XDG_STATE_HOME", ".local/state")?.join("history")),
    }
}

/// `$VAR/tinykv` when VAR holds an absolute path (as the XDG spec says),
/// else `$HOME/<fallback>/tinykv`.
pub fn xdg_dir(
    env: &impl Fn(&str) -> Option<OsString>,
    var: &str,
    fallback: &str,
) -> Option<PathBuf> {
    if let Some(base) = env(var).map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Some(base.join("tinykv"));
    }
    let home = env("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(fallback).join("tinykv"))
}

#[cfg(test)]
mod tests;
