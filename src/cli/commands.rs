//! The one-shot commands (`tinykv set …`, `tinykv dump`, …), and the
//! operations they share with the REPL and scripts.
//!
//! Invariants: writes print nothing on success; data goes to stdout and
//! messages to stderr; the database is closed explicitly at the end of every
//! command so a failed flush is an error, not a silent loss.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::args::Command;
use super::config::Config;
use super::exit::Exit;
use super::output::{self, Progress};
use super::{database, serve, stats};
use crate::engine::{Db, MAX_VALUE_LEN, RecoverReport};
use crate::format::{Format, ParseError, Reader, Writer, escape_bytes};

/// Runs one command against the configured database.
pub fn run(command: &Command, config: &Config) -> Result<Exit> {
    // `check` and `recover` must not open the database normally: a damaged
    // segment that a normal open refuses is exactly what they are for.
    match command {
        Command::Check => return check_dir(config),
        Command::Recover => return recover_dir(config),
        Command::Serve { .. } => {
            // Config::resolve has checked serve's settings into config.serve.
            let settings = config.serve.as_ref().expect("resolved with the command");
            return serve::run(config, settings);
        }
        _ => {}
    }
    let db = database::open(config)?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let exit = match command {
        Command::Set { key, value } => {
            let value = match value {
                Some(v) if v != "-" => v.as_bytes().to_vec(),
                _ => read_value(io::stdin().lock())?,
            };
            set(&db, key.as_bytes(), &value)?;
            Exit::Success
        }
        Command::Get { raw, keys } => {
            let mut exit = Exit::Success;
            for key in keys {
                match get(&db, key.as_bytes())? {
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
                if !del(&db, key.as_bytes())? {
                    not_found(config, key.as_bytes());
                    exit = Exit::NotFound;
                }
            }
            exit
        }
        Command::Keys { prefix } => {
            keys(&db, prefix_bytes(prefix), &mut out)?;
            Exit::Success
        }
        Command::Dump { format, prefix } => {
            dump(&db, *format, prefix_bytes(prefix), &mut out)?;
            Exit::Success
        }
        Command::Load { file, format } => {
            let source = LoadSource::from_arg(file.clone());
            load(&db, &source, *format)?;
            Exit::Success
        }
        Command::Compact => {
            compact(&db, &mut out)?;
            Exit::Success
        }
        Command::Stats { json } => {
            stats::print(&db, *json, &mut out)?;
            Exit::Success
        }
        Command::Check | Command::Recover | Command::Serve { .. } | Command::Generate { .. } => {
            unreachable!("handled before the database is opened")
        }
    };
    out.flush().context("cannot write to stdout")?;
    database::close(db)?;
    Ok(exit)
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
pub fn set(db: &Db, key: &[u8], value: &[u8]) -> Result<()> {
    db.set(key, value)
        .with_context(|| format!("cannot set key {}", output::key(key)))
}

/// `get`: one value.
pub fn get(db: &Db, key: &[u8]) -> Result<Option<Vec<u8>>> {
    db.get(key)
        .with_context(|| format!("cannot get key {}", output::key(key)))
}

/// `del`: whether the key was set.
pub fn del(db: &Db, key: &[u8]) -> Result<bool> {
    db.delete(key)
        .with_context(|| format!("cannot delete key {}", output::key(key)))
}

/// `keys`: every key with `prefix`, escaped, one a line.
pub fn keys(db: &Db, prefix: &[u8], out: &mut dyn Write) -> Result<u64> {
    let mut n = 0;
    for key in db.keys(prefix) {
        let key = key.context("cannot read the keys")?;
        writeln!(out, "{}", escape_bytes(&key)).context("cannot write the keys")?;
        n += 1;
    }
    Ok(n)
}

/// `dump`: every pair with `prefix`, streamed in `format`.
pub fn dump(db: &Db, format: Format, prefix: &[u8], out: &mut dyn Write) -> Result<()> {
    let mut writer = Writer::new(format, out);
    for pair in db.iter_prefix(prefix) {
        let (key, value) = pair.context("cannot read the database for the dump")?;
        writer
            .write_pair(&key, &value)
            .context("cannot write the dump")?;
    }
    writer.finish().context("cannot write the dump")?;
    Ok(())
}

/// Where `load` reads its dump.
#[derive(Debug, Clone)]
pub enum LoadSource {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
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
            LoadSource::Stdin => "stdin".to_owned(),
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

/// `load`: streams the dump into one atomic batch, so a bad line anywhere
/// stores nothing, and memory holds keys but no values. Returns the number
/// of pairs.
pub fn load(db: &Db, source: &LoadSource, format: Option<Format>) -> Result<u64> {
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
    };
    let progress = Progress::start("loading");
    // Dropping the batch on any error below takes back what it wrote.
    let mut batch = db
        .batch_writer()
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
    let n = batch.len() as u64;
    batch
        .commit()
        .with_context(|| format!("load: {name}: nothing was stored"))?;
    Ok(n)
}

/// `compact`: rewrites the live data and prints what it did.
pub fn compact(db: &Db, out: &mut dyn Write) -> Result<()> {
    let report = {
        let _progress = Progress::start("compacting");
        db.compact().context("compaction failed")?
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

fn check_dir(config: &Config) -> Result<Exit> {
    let report = {
        let _progress = Progress::start("checking");
        Db::check_dir(&config.dir, &config.options())
            .map_err(|e| database::open_error(config, e))?
    };
    let mut out = io::stdout().lock();
    let clean = print_check(&report, &mut out)?;
    out.flush()?;
    Ok(if clean { Exit::Success } else { Exit::Damaged })
}

fn recover_dir(config: &Config) -> Result<Exit> {
    let report = {
        let _progress = Progress::start("recovering");
        Db::recover_dir(&config.dir, &config.options())
            .map_err(|e| database::open_error(config, e))?
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
