//! The one-shot commands (`tinykv set …`, `tinykv dump`, …), and the
//! operations they share with the REPL and scripts.
//!
//! Invariants: writes print nothing on success; data goes to stdout and
//! messages to stderr; the database is closed explicitly at the end of every
//! command so a failed flush is an error, not a silent loss.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::args::Command;
use super::config::Config;
use super::database::{self, Reached};
use super::exit::Exit;
use super::output::{self, Progress};
use super::store::{Local, Store};
use super::{interrupt, serve, stats};
use crate::engine::{Db, MAX_VALUE_LEN, RecoverReport};
use crate::format::{Format, ParseError, Reader, Writer, escape_bytes};

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

/// The command's work, on `store`, however it was reached.
fn run_on(
    store: &dyn Store,
    command: &Command,
    config: &Config,
    source: Option<LoadSource>,
    ctrl_c: Option<interrupt::Guard>,
) -> Result<Exit> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let exit = match command {
        Command::Set {
            key,
            value,
            literal,
        } => {
            let value = set_value(key, value.as_deref(), literal.as_deref(), true)?;
            set(store, key.as_bytes(), &value)?;
            Exit::Success
        }
        Command::Get { raw, keys } => {
            let mut exit = Exit::Success;
            for key in keys {
                match get(store, key.as_bytes())? {
                    Some(value) => {
                        out.write_all(&value)?;
                        if !*raw {
                            out.write_all(b"\n")?;
                        }
                    }
                    None => {
                        not_found(config, key.as_bytes());
                        exit = Exit::NotFound;
                    }
                }
            }
            exit
        }
        Command::Del { keys } => {
            let mut exit = Exit::Success;
            for key in keys {
                if !del(store, key.as_bytes())? {
                    not_found(config, key.as_bytes());
                    exit = Exit::NotFound;
                }
            }
            exit
        }
        Command::Exists { keys } => {
            let mut exit = Exit::Success;
            for key in keys {
                if !exists(store, key.as_bytes())? {
                    exit = Exit::NotFound;
                }
            }
            exit
        }
        Command::Count { prefix } => {
            writeln!(out, "{}", count(store, prefix_bytes(prefix))?)?;
            Exit::Success
        }
        Command::Keys { prefix } => {
            keys(store, prefix_bytes(prefix), &mut out)?;
            Exit::Success
        }
        Command::Dump { format, prefix } => {
            dump(store, *format, prefix_bytes(prefix), &mut out)?;
            Exit::Success
        }
        Command::Load {
            format, replace, ..
        } => {
            let source = source.expect("load reached its source first");
            load(store, &source, *format, *replace, ctrl_c)?;
            Exit::Success
        }
        Command::Backup { dest } => {
            backup(store, dest)?;
            Exit::Success
        }
        Command::Compact => {
            compact(store, &mut out)?;
            Exit::Success
        }
        Command::Stats { json } => {
            stats::print(store, *json, &mut out)?;
            Exit::Success
        }
        Command::Check | Command::Recover | Command::Serve { .. } | Command::Generate { .. } => {
            unreachable!("handled before the database is reached")
        }
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

/// Prints the not-found message for `key`, unless `-q`.
fn not_found(config: &Config, key: &[u8]) {
    if !config.quiet {
        output::message(&format!("key {} not found", output::key(key)));
    }
}

fn prefix_bytes(prefix: &Option<std::ffi::OsString>) -> &[u8] {
    prefix.as_deref().map(OsStr::as_bytes).unwrap_or_default()
}

/// The value `set KEY` stores: `--value V` as it is; VALUE unless it is
/// `-`; else standard input, when it is free to read (`stdin_free`: not
/// in a script read from stdin). Reading from a terminal says so first
/// (the command would otherwise wait without a word); a closed standard
/// input is refused rather than taken for an empty value.
pub fn set_value(
    key: &OsStr,
    value: Option<&OsStr>,
    literal: Option<&OsStr>,
    stdin_free: bool,
) -> Result<Vec<u8>> {
    if let Some(v) = literal {
        return Ok(v.as_bytes().to_vec());
    }
    match value {
        Some(v) if v != "-" => return Ok(v.as_bytes().to_vec()),
        _ if !stdin_free => bail!(
            "set needs a VALUE here (stdin is not free to read one; `--value -` stores a '-')"
        ),
        _ => {}
    }
    let stdin = io::stdin();
    if stdin.is_terminal() {
        output::message(&format!(
            "reading the value of {} from the terminal until Ctrl-D (end of file)",
            output::key(key.as_bytes())
        ));
    } else if stdin_is_closed() {
        bail!(
            "cannot set key {}: stdin is closed or /dev/null (give the value as an argument, \
             '' for an empty one)",
            output::key(key.as_bytes())
        );
    }
    read_value(stdin.lock())
}

/// Whether standard input was closed when the process started (the Rust
/// runtime then opens /dev/null in its place, which an explicit `<
/// /dev/null` also gives: both are refused as a source of a value).
fn stdin_is_closed() -> bool {
    fs::read_link("/proc/self/fd/0").is_ok_and(|p| p == Path::new("/dev/null"))
}

/// Reads a value from `input`, refusing (without reading it all) one over the limit.
pub fn read_value(input: impl Read) -> Result<Vec<u8>> {
    let mut value = Vec::new();
    input
        .take(MAX_VALUE_LEN as u64 + 1)
        .read_to_end(&mut value)
        .context("cannot read the value from stdin")?;
    if value.len() > MAX_VALUE_LEN {
        bail!("the value on stdin is larger than the {MAX_VALUE_LEN}-byte limit; nothing stored");
    }
    Ok(value)
}

/// `set`: stores one pair.
pub fn set(store: &dyn Store, key: &[u8], value: &[u8]) -> Result<()> {
    store
        .set(key, value)
        .with_context(|| format!("cannot set key {}", output::key(key)))
}

/// `get`: one value.
pub fn get(store: &dyn Store, key: &[u8]) -> Result<Option<Vec<u8>>> {
    store
        .get(key)
        .with_context(|| format!("cannot get key {}", output::key(key)))
}

/// `del`: whether the key was set.
pub fn del(store: &dyn Store, key: &[u8]) -> Result<bool> {
    store
        .delete(key)
        .with_context(|| format!("cannot delete key {}", output::key(key)))
}

/// `exists`: whether the key is set.
pub fn exists(store: &dyn Store, key: &[u8]) -> Result<bool> {
    store
        .exists(key)
        .with_context(|| format!("cannot look up key {}", output::key(key)))
}

/// `count`: the keys with `prefix`.
pub fn count(store: &dyn Store, prefix: &[u8]) -> Result<u64> {
    store.count(prefix).context("cannot count the keys")
}

/// `keys`: every key with `prefix`, escaped, one a line.
pub fn keys(store: &dyn Store, prefix: &[u8], out: &mut dyn Write) -> Result<u64> {
    let mut n = 0;
    for key in store.keys(prefix) {
        let key = key.context("cannot read the keys")?;
        writeln!(out, "{}", escape_bytes(&key)).context("cannot write the keys")?;
        n += 1;
    }
    Ok(n)
}

/// `dump`: every pair with `prefix`, streamed in `format`.
pub fn dump(store: &dyn Store, format: Format, prefix: &[u8], out: &mut dyn Write) -> Result<()> {
    let mut writer = Writer::new(format, out);
    for pair in store.pairs(prefix) {
        let (key, value) = pair.context("cannot read the database for the dump")?;
        writer
            .write_pair(&key, &value)
            .context("cannot write the dump")?;
    }
    writer.finish().context("cannot write the dump")?;
    Ok(())
}

/// Where `load` reads its dump.
#[derive(Debug)]
pub enum LoadSource {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
    /// Standard input, already read into a temporary file (see
    /// [`reach_for_load`]).
    Spooled(File),
}

impl LoadSource {
    /// `None` or `-` is stdin.
    pub fn from_arg(file: Option<PathBuf>) -> LoadSource {
        match file {
            Some(f) if f.as_os_str() != "-" => LoadSource::File(f),
            _ => LoadSource::Stdin,
        }
    }

    fn name(&self) -> String {
        match self {
            LoadSource::Stdin | LoadSource::Spooled(_) => "stdin".to_owned(),
            LoadSource::File(f) => f.display().to_string(),
        }
    }

    /// The format named by the file's extension, if any.
    fn format_by_extension(&self) -> Option<Format> {
        let LoadSource::File(path) = self else {
            return None;
        };
        match Path::new(path).extension()?.to_str()? {
            "tsv" => Some(Format::Tsv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "resp" => Some(Format::Resp),
            _ => None,
        }
    }
}

/// `load`: streams the dump into one atomic load, so a bad line anywhere
/// stores nothing, and memory holds keys but no values; with `replace`,
/// the database then holds exactly the dump's pairs. Returns the number of
/// pairs.
/// With `ctrl_c`, Ctrl-C says nothing was stored until the commit starts.
pub fn load(
    store: &dyn Store,
    source: &LoadSource,
    format: Option<Format>,
    replace: bool,
    ctrl_c: Option<interrupt::Guard>,
) -> Result<u64> {
    let format = format
        .or_else(|| source.format_by_extension())
        .unwrap_or_default();
    let name = source.name();
    let input: Box<dyn BufRead> = match source {
        LoadSource::Stdin => Box::new(BufReader::new(io::stdin())),
        LoadSource::File(path) => {
            Box::new(BufReader::new(File::open(path).with_context(|| {
                format!("load: cannot open {}", path.display())
            })?))
        }
        LoadSource::Spooled(file) => Box::new(BufReader::new(
            file.try_clone().context("load: cannot read stdin back")?,
        )),
    };
    let progress = Progress::start("loading");
    // Dropping the load on any error below stores nothing.
    let mut batch = store
        .loader(replace)
        .with_context(|| format!("load: {name}: nothing was stored"))?;
    for pair in Reader::new(format, input) {
        let (key, value) = pair.map_err(|e| match e {
            // Displays as "line N: reason" (or "command N: reason" for resp).
            ParseError::Invalid { .. } => anyhow!("load: {name}: {e}; nothing was stored"),
            ParseError::Io(io) => anyhow::Error::new(io)
                .context(format!("load: cannot read {name}; nothing was stored")),
        })?;
        batch
            .set(&key, &value)
            .with_context(|| format!("load: {name}: nothing was stored"))?;
        progress.inc(1);
    }
    let n = batch.len();
    if let Some(guard) = ctrl_c {
        guard.disarm();
    }
    batch
        .commit()
        .with_context(|| format!("load: {name}: nothing was stored"))?;
    Ok(n)
}

/// `backup`: a consistent copy into `dest`.
pub fn backup(store: &dyn Store, dest: &Path) -> Result<()> {
    let _progress = Progress::start("copying");
    store.backup(dest).with_context(|| {
        format!(
            "cannot back up {} into {}",
            store.path().display(),
            dest.display()
        )
    })?;
    Ok(())
}

/// `compact`: rewrites the live data and prints what it did.
pub fn compact(store: &dyn Store, out: &mut dyn Write) -> Result<()> {
    let report = {
        let _progress = Progress::start("compacting");
        store.compact().context("compaction failed")?
    };
    match &report.skipped {
        Some(why) => writeln!(
            out,
            "{why}\nsize    {} bytes ({})",
            report.bytes_before,
            output::bytes(report.bytes_before),
        )?,
        None => writeln!(
            out,
            "before  {} bytes ({})\nafter   {} bytes ({})",
            report.bytes_before,
            output::bytes(report.bytes_before),
            report.bytes_after,
            output::bytes(report.bytes_after),
        )?,
    }
    writeln!(
        out,
        "keys    {}\ntime    {}",
        report.keys,
        output::seconds(report.elapsed),
    )?;
    Ok(())
}

/// Prints a check report: `ok`, or one `path: offset N: reason` a problem.
/// Returns whether the database is clean.
pub fn print_check(report: &crate::engine::CheckReport, out: &mut dyn Write) -> Result<bool> {
    if report.is_clean() {
        writeln!(out, "ok")?;
        return Ok(true);
    }
    for p in &report.problems {
        writeln!(
            out,
            "{}: offset {}: {}",
            p.path.display(),
            p.offset,
            p.reason
        )?;
    }
    Ok(false)
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
    let clean = print_check(&report, &mut out)?;
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
    print_recover(&report, &config.dir, &mut out)?;
    out.flush()?;
    Ok(Exit::Success)
}

/// Prints what `recover` kept, moved, rewrote and rebuilt.
pub fn print_recover(report: &RecoverReport, dir: &Path, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "kept      {} records from {} files",
        report.records_kept, report.files
    )?;
    writeln!(
        out,
        "moved     {} bytes ({}) to {}",
        report.bytes_moved,
        output::bytes(report.bytes_moved),
        dir.join("lost+found").display()
    )?;
    for path in &report.moved_to {
        writeln!(out, "          {}", path.display())?;
    }
    for path in &report.rewritten {
        writeln!(out, "rewrote   {}", path.display())?;
    }
    writeln!(out, "rebuilt   {} indexes", report.indexes_rebuilt)?;
    Ok(())
}
