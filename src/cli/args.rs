//! The command line as clap parses it: every flag and command, documented
//! once. Help, the man page and the shell completions are all generated from
//! these definitions, and the REPL parses its lines with the same commands.
//!
//! Nothing here reads the environment beyond what clap does for `env`
//! attributes, and nothing is resolved: [`crate::cli::config`] turns these
//! parsed values into a configuration.
//!
//! Over 500 lines on purpose: it is the whole command line, and keeping it
//! in one file is what keeps help, man page, completions and REPL in step.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::format::Format;

const ABOUT: &str =
    "A small, fast, crash-safe key-value store: one binary, a directory per database";

const LONG_ABOUT: &str = "\
A small, fast, crash-safe key-value store: one binary, a directory per database.

Run a command for one operation, or no command for the interactive REPL (on a
terminal) or to run the commands read from standard input as a script.";

const AFTER_HELP: &str = "\
Examples:
  tinykv set greeting 'hello world'      store a value
  tinykv get greeting                    print it
  echo -n secret | tinykv set token      the value comes from stdin
  tinykv dump --format jsonl | jq .      export as JSON lines
  tinykv -d /tmp/db load < backup.tsv    restore a dump, atomically
  tinykv                                 open the REPL

While a REPL, a script or serve owns a database, every other tinykv command
on it works through that owner.

Exit status: 0 success, 1 a key was not found (get, del, exists) or check
found damage, 2 any error.";

/// Where the options every command takes are listed in each command's
/// help, apart from the command's own.
const GLOBAL: &str = "Global options";

/// `tinykv [OPTIONS] [COMMAND]`.
#[derive(Debug, Parser)]
#[command(
    name = "tinykv",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    max_term_width = 100,
    args_override_self = true
)]
pub struct Args {
    /// Database directory, created by the first write (reads refuse a missing one) [env: TINYKV_DIR] [default: $XDG_DATA_HOME/tinykv, or ~/.local/share/tinykv]
    // TINYKV_DIR is read by `Config::resolve`, not by clap: clap would
    // refuse an empty variable even under an explicit --dir, and without
    // naming the variable.
    #[arg(short, long, global = true, value_name = "DIR", help_heading = GLOBAL)]
    pub dir: Option<PathBuf>,

    /// If a one-shot command holds the database, wait up to SECONDS for it (0: fail at once); an owner that serves it (a REPL, a script, serve) is used at once [default: 5]
    #[arg(long, global = true, value_name = "SECONDS", env = "TINYKV_WAIT", value_parser = parse_seconds, allow_negative_numbers = true, help_heading = GLOBAL)]
    pub wait: Option<Duration>,

    /// When writes reach the disk: always (every acknowledged write is fsynced) or never (left to the OS; flushed at exit)
    #[arg(long, global = true, value_name = "MODE", default_value = "always", help_heading = GLOBAL)]
    pub sync: SyncArg,

    /// No messages on stderr for keys that are not found
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,

    /// Run FILE as a script: one command a line, as in the REPL
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// In a script, stop at the first line that fails
    #[arg(long)]
    pub bail: bool,

    /// What to do; without one, the REPL (on a terminal) or a script from stdin
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--sync` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SyncArg {
    /// Every acknowledged write is fsynced first
    Always,
    /// Writes are left to the OS and fsynced when tinykv exits
    Never,
}

/// The commands, shared by the command line, the REPL and scripts.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store VALUE under KEY (VALUE omitted or `-`: read it from stdin, byte for byte)
    #[command(
        after_help = "A condition not met (--nx, --xx, --if-eq) stores nothing and exits 1.\n\nExamples:\n  tinykv set user:1 'Ada Lovelace'\n  tinykv set avatar < avatar.png\n  printf 'two\\nlines' | tinykv set note -\n  tinykv set dash --value -        the one-byte value '-'\n  tinykv set lock:job1 me --nx --ttl 30s\n  tinykv set config v2 --if-eq v1  compare-and-set"
    )]
    Set {
        /// The key (1 byte to 64 KiB)
        #[arg(value_name = "KEY")]
        key: OsString,
        /// The value (up to 256 MiB); omitted or `-`: read from stdin
        #[arg(
            value_name = "VALUE",
            allow_hyphen_values = true,
            conflicts_with = "literal"
        )]
        value: Option<OsString>,
        /// The value, taken as it is: `--value -` stores the one byte `-`
        #[arg(
            long = "value",
            value_name = "VALUE",
            id = "literal",
            allow_hyphen_values = true
        )]
        literal: Option<OsString>,
        /// Only if KEY is not set
        #[arg(long, conflicts_with_all = ["xx", "if_eq"])]
        nx: bool,
        /// Only if KEY is set
        #[arg(long, conflicts_with = "if_eq")]
        xx: bool,
        /// Only if KEY holds exactly OLD (compare-and-set)
        #[arg(long, value_name = "OLD", allow_hyphen_values = true)]
        if_eq: Option<OsString>,
        /// The key expires after DURATION: seconds, or a number with s, m, h or d (90, 30s, 10m, 2h, 7d)
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "expire_at")]
        ttl: Option<u64>,
        /// The key expires at this Unix time, in seconds
        #[arg(long, value_name = "UNIX_SECONDS", value_parser = parse_unix_seconds)]
        expire_at: Option<u64>,
    },

    /// Add BY (default 1) to the signed 64-bit integer in KEY (missing: 0) and print the sum, atomically
    #[command(
        after_help = "A value that is not an integer, or an overflow, is an error (exit 2) and changes nothing.\n\nExamples:\n  tinykv incr visits\n  tinykv incr stock -- -3\n  tinykv incr bytes --by 4096"
    )]
    Incr {
        /// The key and the step
        #[command(flatten)]
        step: Step,
    },

    /// Subtract BY (default 1) from the signed 64-bit integer in KEY (missing: 0) and print the result, atomically
    #[command(after_help = "Examples:\n  tinykv decr stock\n  tinykv decr stock 5")]
    Decr {
        /// The key and the step
        #[command(flatten)]
        step: Step,
    },

    /// Make KEY expire after DURATION (exit 1 if it is not set)
    #[command(after_help = "Examples:\n  tinykv expire session:42 30m\n  tinykv expire cache:x 90")]
    Expire {
        /// The key
        #[arg(value_name = "KEY")]
        key: OsString,
        /// Seconds, or a number with s, m, h or d (90, 30s, 10m, 2h, 7d)
        #[arg(value_name = "DURATION", value_parser = parse_duration)]
        duration: u64,
    },

    /// Make KEY never expire (exit 1 if it is not set)
    #[command(after_help = "Example:\n  tinykv persist session:42")]
    Persist {
        /// The key
        #[arg(value_name = "KEY")]
        key: OsString,
    },

    /// Print the seconds KEY has left, or `none` when it does not expire (exit 1 if it is not set)
    #[command(after_help = "Example:\n  tinykv ttl session:42")]
    Ttl {
        /// The key
        #[arg(value_name = "KEY")]
        key: OsString,
    },

    /// Remove the smallest key (with --prefix, of those starting with P) and print KEY<TAB>VALUE, atomically (exit 1 when there is none)
    #[command(
        after_help = "Each key goes to one caller only, however many take at once: a job queue.\n\nExamples:\n  tinykv set job:0001 'resize a.png'\n  while job=$(tinykv pop --prefix job:); do echo \"working on $job\"; done"
    )]
    Pop {
        /// Only keys starting with P
        #[arg(long, value_name = "P")]
        prefix: Option<OsString>,
    },

    /// Move the value of OLD (and its expiry) to NEW, atomically (exit 1 if OLD is not set)
    #[command(
        after_help = "Examples:\n  tinykv rename draft:1 post:1\n  tinykv rename tmp final --nx"
    )]
    Rename {
        /// The key to rename
        #[arg(value_name = "OLD")]
        old: OsString,
        /// Its new name
        #[arg(value_name = "NEW")]
        new: OsString,
        /// Only if NEW is not set (exit 1 otherwise)
        #[arg(long)]
        nx: bool,
    },

    /// Print the value of each KEY followed by a newline
    #[command(
        after_help = "Examples:\n  tinykv get user:1\n  tinykv get a b c          missing keys: a message on stderr, exit 1\n  tinykv get --raw avatar > avatar.png"
    )]
    Get {
        /// Print the exact bytes of the value, with no newline added (one KEY only)
        #[arg(long)]
        raw: bool,
        /// The keys to look up
        #[arg(value_name = "KEY", required = true)]
        keys: Vec<OsString>,
    },

    /// Delete each KEY (exit 1 if any was not set)
    #[command(after_help = "Examples:\n  tinykv del user:1\n  tinykv -q del tmp:1 tmp:2")]
    Del {
        /// The keys to delete
        #[arg(value_name = "KEY", required = true)]
        keys: Vec<OsString>,
    },

    /// Exit 0 when every KEY is set, else 1 (prints nothing)
    #[command(
        after_help = "Examples:\n  tinykv exists config:ready && echo ready\n  tinykv exists a b c || echo 'some are missing'"
    )]
    Exists {
        /// The keys to look for
        #[arg(value_name = "KEY", required = true)]
        keys: Vec<OsString>,
    },

    /// Print the number of keys (with --prefix, of those starting with P)
    #[command(
        alias = "len",
        after_help = "Examples:\n  tinykv count\n  tinykv count --prefix job:"
    )]
    Count {
        /// Only keys starting with P
        #[arg(long, value_name = "P")]
        prefix: Option<OsString>,
    },

    /// List keys, sorted, one a line (escaped as in the tsv dump format)
    #[command(
        after_help = "Examples:\n  tinykv keys\n  tinykv keys --prefix user: | wc -l\n  tinykv keys --glob 'user:*:email' --limit 10\n  tinykv keys --start b --end c        keys from b up to (not including) c\n  tinykv keys -0 --prefix tmp: | xargs -0 tinykv del"
    )]
    Keys {
        /// Which keys
        #[command(flatten)]
        select: Selection,
        /// Write the raw bytes of each key followed by a NUL byte (for xargs -0)
        #[arg(short = '0', long = "null")]
        null: bool,
    },

    /// Write every live pair, sorted by key, to stdout
    #[command(
        after_help = "Examples:\n  tinykv dump > backup.tsv\n  tinykv dump --format jsonl | jq -r .key\n  tinykv dump --format resp | redis-cli --pipe    into one server (a Cluster: tinykv push)\n  tinykv dump --format rdb > dump.rdb             for redis-server or Valkey to load at start"
    )]
    Dump {
        /// The dump format: tsv, jsonl, resp (Redis SET commands) or rdb (a Redis RDB file)
        #[arg(long, value_name = "FORMAT", default_value = "tsv", value_parser = parse_format)]
        format: Format,
        /// Which pairs
        #[command(flatten)]
        select: Selection,
    },

    /// Store every pair of a dump atomically: all of it, or none of it if any line is bad
    #[command(
        after_help = "Examples:\n  tinykv load backup.tsv\n  tinykv dump --format jsonl | tinykv -d copy load --format jsonl\n  tinykv dump | sed 's/old/new/' | tinykv load --replace\n  tinykv load /var/lib/redis/dump.rdb       the string keys of a Redis RDB file"
    )]
    Load {
        /// The dump to read (stdin when absent or `-`)
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// The dump format [default: from FILE's extension (.tsv, .jsonl, .resp, .rdb), else tsv]
        #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
        format: Option<Format>,
        /// Make the database hold exactly the dump's pairs: every other key is deleted, in the same atomic step
        #[arg(long)]
        replace: bool,
    },

    /// Copy the database, as it is at one moment, into DEST (a new or empty directory), even while it is in use
    #[command(
        after_help = "Examples:\n  tinykv backup /mnt/backups/db-$(date +%F)\n  tinykv backup copy && tinykv -d copy check"
    )]
    Backup {
        /// The directory to copy into (created; must be empty if it exists)
        #[arg(value_name = "DEST")]
        dest: PathBuf,
    },

    /// Rewrite the live data now, unless that cannot make the files smaller (it says why); print the bytes before and after and the time taken
    #[command(after_help = "Example:\n  tinykv compact")]
    Compact,

    /// Verify every record's CRC and every file's structure, read-only (exit 1 when damaged)
    #[command(after_help = "Example:\n  tinykv check || tinykv recover")]
    Check,

    /// Salvage every intact record, cut torn tails, rebuild indexes; unusable bytes go to DIR/lost+found/
    #[command(after_help = "Example:\n  tinykv recover && tinykv check")]
    Recover,

    /// Print keys, live and dead bytes, files and the last compaction
    #[command(after_help = "Examples:\n  tinykv stats\n  tinykv stats --json | jq .keys")]
    Stats {
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },

    /// Serve the database over the Redis protocol to many clients at once (until SIGINT or SIGTERM)
    #[command(
        long_about = "Serve the database over the Redis protocol (RESP2) to many clients at once.\n\n\
Any Redis client library, redis-cli and redis-benchmark can talk to it: GET, SET (NX, XX, GET), \
MGET, MSET (atomic), DEL, EXISTS, KEYS, SCAN (MATCH, COUNT), DBSIZE, FLUSHDB, INFO, PING, ECHO, \
AUTH, HELLO, SELECT 0, CLIENT, COMMAND, CONFIG GET, QUIT and SHUTDOWN. Every write is answered \
only once it is on disk (with --sync always); concurrent writers share fsyncs. \
redis-cli --rdb FILE takes a hot backup: an RDB file of the database at one moment, while \
clients go on writing (SYNC and PSYNC send it, then close the connection).\n\n\
The server owns the database while it runs (and serves it to this user's other tinykv commands \
on a Unix socket, as a REPL does), prints the address it listens on to stderr, \
and on SIGINT or SIGTERM stops accepting, finishes the commands in progress, closes the \
database and exits 0.",
        after_help = "Examples:\n  tinykv serve                                  listen on 127.0.0.1:6380\n  tinykv -d /srv/db serve --listen 127.0.0.1:0   any free port (printed on stderr)\n  TINYKV_REQUIREPASS=s3cret tinykv serve --listen 0.0.0.0:6380\n  redis-cli -p 6380 set greeting hello\n  tinykv dump --format resp | redis-cli -p 6380 --pipe\n  redis-cli -p 6380 --rdb backup.rdb            a hot backup"
    )]
    Serve {
        /// Address to listen on: HOST:PORT, [IPv6]:PORT or a port (port 0: any free one)
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6380")]
        listen: String,
        /// Clients must AUTH with this password first (needed to listen beyond loopback)
        #[arg(
            long,
            value_name = "PASSWORD",
            env = "TINYKV_REQUIREPASS",
            hide_env_values = true
        )]
        requirepass: Option<String>,
        /// Listen beyond loopback without a password (only on a network you trust)
        #[arg(long)]
        insecure: bool,
        /// Most clients connected at once; more are refused with an error
        #[arg(long, value_name = "N", default_value_t = 10_000)]
        max_clients: usize,
    },

    /// Copy every live pair, with its expiry, into a running Redis or Valkey, a Redis Cluster included
    #[command(
        long_about = "Copy every live pair (or those selected), with its expiry, into a running Redis or \
Valkey server, a Redis Cluster included.\n\n\
Each pair is sent as SET key value [PXAT deadline], pipelined; a pair already expired is skipped. \
On a Cluster (found from the server's INFO), push reads the slot map, sends each key to the master \
of its hash slot, and follows MOVED and ASK redirections, so a resharding during the push loses \
nothing. At the end it reads a sample of the keys back, compares the keys each server holds with \
what it sent, and prints the pairs each server stored. It exits 0 only when every pair arrived; a \
key the server refused is named. Pushing again is safe: SET overwrites.\n\n\
The database is only read: push works on a read-only database and while another tinykv process \
owns it. It needs Redis 6.2 or later, or Valkey. TLS is not supported.\n\n\
A URL without a password takes the one in $REDISCLI_AUTH (as redis-cli does), which keeps it off \
the command line.",
        after_help = "Examples:\n  tinykv push redis://127.0.0.1:6379\n  tinykv push redis://:s3cret@10.0.0.5:6379/2       password, database 2\n  tinykv push redis://app:s3cret@10.0.0.5:7000      ACL user; any node of a Cluster\n  tinykv push redis://127.0.0.1:6379 --prefix user:\n  REDISCLI_AUTH=s3cret tinykv push redis://10.0.0.5:6379\n\n`dump --format resp | redis-cli --pipe` reaches one server only: it does not follow a\nCluster's redirections."
    )]
    Push {
        /// The server: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (port 6379 unless given; a user and password are percent-decoded)
        #[arg(value_name = "URL")]
        url: OsString,
        /// Which pairs
        #[command(flatten)]
        select: Selection,
    },

    /// Print the man page or a shell completion script
    #[command(
        after_help = "Examples:\n  tinykv generate man > tinykv.1\n  tinykv generate bash > /etc/bash_completion.d/tinykv\n  tinykv generate zsh > ~/.zfunc/_tinykv"
    )]
    Generate {
        /// What to generate
        #[arg(value_name = "WHAT")]
        what: Generated,
    },
}

/// What `incr` and `decr` change, and by how much.
#[derive(Debug, Clone, clap::Args)]
pub struct Step {
    /// The key
    #[arg(value_name = "KEY")]
    pub key: OsString,
    /// The step (default 1; may be negative)
    #[arg(
        value_name = "BY",
        allow_negative_numbers = true,
        conflicts_with = "by_flag"
    )]
    pub by: Option<i64>,
    /// The step, as an option
    #[arg(
        long = "by",
        id = "by_flag",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub by_flag: Option<i64>,
}

impl Step {
    /// BY, or `--by N`, or 1.
    pub fn by(&self) -> i64 {
        self.by.or(self.by_flag).unwrap_or(1)
    }
}

/// Which keys `keys` and `dump` take, in key order.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Selection {
    /// Only keys starting with P
    #[arg(long, value_name = "P")]
    pub prefix: Option<OsString>,
    /// Only keys matching PAT, a Redis glob: * any bytes, ? one byte, [abc], [^a], [a-z], \\x a literal x
    #[arg(long, value_name = "PAT")]
    pub glob: Option<OsString>,
    /// Only keys at or after K
    #[arg(long, value_name = "K")]
    pub start: Option<OsString>,
    /// Only keys before K
    #[arg(long, value_name = "K")]
    pub end: Option<OsString>,
    /// At most N keys
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

/// What `generate` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Generated {
    /// The man page (roff)
    Man,
    /// bash completions
    Bash,
    /// zsh completions
    Zsh,
    /// fish completions
    Fish,
    /// elvish completions
    Elvish,
    /// PowerShell completions
    Powershell,
}

/// One REPL or script line: the commands above plus the session-only ones.
#[derive(Debug, Parser)]
#[command(
    name = "tinykv",
    no_binary_name = true,
    disable_help_flag = true,
    disable_help_subcommand = true,
    disable_version_flag = true,
    max_term_width = 100
)]
pub struct SessionLine {
    /// The command.
    #[command(subcommand)]
    pub command: SessionCommand,
}

/// Commands only the REPL and scripts have, and the shared ones.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// The one-shot commands.
    #[command(flatten)]
    Shared(Command),

    /// List the commands, or show one command's help
    Help {
        /// A command name
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },

    /// Leave the REPL (also `quit` and Ctrl-D)
    #[command(alias = "quit")]
    Exit,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
        .map_err(|e: crate::format::UnknownFormat| e.to_string())
}

/// Parses a duration: whole seconds, or a number with a unit, `s`, `m`,
/// `h` or `d` (`90`, `30s`, `10m`, `2h`, `7d`); at least one second.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "`{s}` is not a duration (seconds, or a number with s, m, h or d: 90, 30s, 10m, 2h, 7d)"
        )
    };
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(scale).ok_or_else(bad)?;
    if secs == 0 {
        return Err(format!("`{s}` is not a duration of at least one second"));
    }
    // Past what milliseconds since 1970 can say in 64 bits: refused, not wrapped.
    if secs > u64::MAX / 1000 / 2 {
        return Err(format!("`{s}` is too long a duration"));
    }
    Ok(secs)
}

/// Parses `--expire-at`: a Unix time in whole seconds.
fn parse_unix_seconds(s: &str) -> Result<u64, String> {
    let secs: u64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a Unix time in seconds"))?;
    if secs > u64::MAX / 1000 {
        return Err(format!("`{s}` is too far in the future"));
    }
    Ok(secs)
}

/// Parses `--wait`: a non-negative number of seconds, fractions allowed.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{s}` is not a number of seconds ≥ 0"))
}

#[cfg(test)]
mod tests;
