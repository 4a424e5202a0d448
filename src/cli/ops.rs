//! The operations the one-shot commands, the REPL and scripts share: each
//! reads or writes one [`Store`] and returns what it found, with errors
//! that name the key; how the answer is printed is the caller's.
//!
//! Invariant: nothing here prints to stdout unless handed the writer to
//! print to, and nothing here decides an exit status.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};

use super::interrupt;
use super::output::{self, Progress};
use super::select::Select;
use super::store::Store;
use crate::engine::{Condition, Expiry, MAX_VALUE_LEN, RecoverReport, Renamed};
use crate::format::{Format, ParseError, Reader, Writer, write_escaped};

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

/// The condition `set --nx`, `--xx` or `--if-eq OLD` asks for.
pub fn condition(nx: bool, xx: bool, if_eq: Option<&OsStr>) -> Condition {
    match (nx, xx, if_eq) {
        (_, _, Some(old)) => Condition::Equals(old.as_bytes().to_vec()),
        (true, _, _) => Condition::Absent,
        (_, true, _) => Condition::Present,
        _ => Condition::Always,
    }
}

/// The expiry `set --ttl SECONDS` or `--expire-at UNIX_SECONDS` asks for.
pub fn expiry(ttl: Option<u64>, expire_at: Option<u64>) -> Expiry {
    match (ttl, expire_at) {
        (Some(secs), _) => Expiry::At(in_seconds(secs)),
        (_, Some(at)) => Expiry::At(at.saturating_mul(1000)),
        _ => Expiry::Clear,
    }
}

/// `set` with a condition or an expiry: whether it stored the value.
pub fn set_if(
    store: &dyn Store,
    key: &[u8],
    value: &[u8],
    condition: Condition,
    expiry: Expiry,
) -> Result<bool> {
    if condition == Condition::Always && expiry == Expiry::Clear {
        set(store, key, value)?;
        return Ok(true);
    }
    store
        .set_if(key, value, condition, expiry)
        .with_context(|| format!("cannot set key {}", output::key(key)))
}

/// Why a conditional `set` stored nothing, for its message.
pub fn not_stored(key: &[u8], condition: &Condition) -> String {
    let why = match condition {
        Condition::Absent => "it is already set (--nx)",
        Condition::Present => "it is not set (--xx)",
        Condition::Equals(_) => "it does not hold the value --if-eq names",
        Condition::Always => "",
    };
    format!("key {} not stored: {why}", output::key(key))
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

/// `incr` and `decr`: adds `by` at once; the sum.
pub fn incr(store: &dyn Store, key: &[u8], by: i64) -> Result<i64> {
    store
        .incr(key, by)
        .with_context(|| format!("cannot increment key {}", output::key(key)))
}

/// The amount `decr BY` adds: `-BY`, refused where it has no negative.
pub fn negated(by: i64) -> Result<i64> {
    by.checked_neg()
        .ok_or_else(|| anyhow!("cannot decrement by {by}: its negative is not a 64-bit integer"))
}

/// How long `key` has left, for `ttl`: `None` when it is not set,
/// `Some(None)` when it never expires, else whole seconds, rounded to the
/// nearest (as Redis's TTL rounds).
pub fn ttl(store: &dyn Store, key: &[u8]) -> Result<Option<Option<u64>>> {
    let expiry = store
        .expiry(key)
        .with_context(|| format!("cannot look up key {}", output::key(key)))?;
    Ok(expiry.map(|at| at.map(|at| (at.saturating_sub(now_ms()) + 500) / 1000)))
}

/// `expire` (a deadline `secs` from now) and `persist` (`None`): whether
/// the key was set.
pub fn expire(store: &dyn Store, key: &[u8], secs: Option<u64>) -> Result<bool> {
    store
        .expire(key, secs.map(in_seconds))
        .with_context(|| format!("cannot change the expiry of key {}", output::key(key)))
}

/// `pop`: the smallest key with `prefix` and its value, removed at once.
pub fn pop(store: &dyn Store, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    store.pop(prefix).context("cannot take a key")
}

/// `rename`: moves `old` to `new` at once.
pub fn rename(store: &dyn Store, old: &[u8], new: &[u8], nx: bool) -> Result<Renamed> {
    store.rename(old, new, nx).with_context(|| {
        format!(
            "cannot rename key {} to {}",
            output::key(old),
            output::key(new)
        )
    })
}

/// Why a `rename` did nothing, for its message.
pub fn not_renamed(old: &[u8], new: &[u8], renamed: Renamed) -> Option<String> {
    match renamed {
        Renamed::Done => None,
        Renamed::NoSuchKey => Some(format!("key {} not found", output::key(old))),
        Renamed::TargetExists => Some(format!(
            "key {} not renamed: {} is already set (--nx)",
            output::key(old),
            output::key(new)
        )),
    }
}

/// The current time, in Unix milliseconds.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The Unix millisecond `secs` seconds from now.
fn in_seconds(secs: u64) -> u64 {
    now_ms().saturating_add(secs.saturating_mul(1000))
}

/// `keys`: the selected keys, escaped, one a line; with `null`, raw and
/// each followed by a NUL byte. Returns how many.
pub fn keys(store: &dyn Store, select: &Select, null: bool, out: &mut dyn Write) -> Result<u64> {
    let mut n = 0;
    for key in select.keys(store) {
        let key = key.context("cannot read the keys")?;
        if null {
            out.write_all(&key)
                .and_then(|()| out.write_all(b"\0"))
                .context("cannot write the keys")?;
        } else {
            write_escaped(out, &key)
                .and_then(|()| out.write_all(b"\n"))
                .context("cannot write the keys")?;
        }
        n += 1;
    }
    Ok(n)
}

/// `dump`: the selected pairs, with their expiry, streamed in `format`.
pub fn dump(store: &dyn Store, format: Format, select: &Select, out: &mut dyn Write) -> Result<()> {
    if format.is_binary() && io::stdout().is_terminal() {
        bail!(
            "dump --format {format} writes a binary file: redirect it (tinykv dump --format {format} > dump.{format})"
        );
    }
    let mut writer = Writer::new(format, out);
    let mut failed_write = false;
    select
        .visit_entries(store, &mut |key, value, expires_at| {
            writer.write_entry(key, value, expires_at).map_err(|e| {
                failed_write = true;
                anyhow::Error::new(e)
            })
        })
        .map_err(|e| match failed_write {
            true => e.context("cannot write the dump"),
            false => e.context("cannot read the database for the dump"),
        })?;
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
    /// commands.rs).
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
            "rdb" => Some(Format::Rdb),
            _ => None,
        }
    }
}

/// `load`: streams the dump into one atomic load, so a bad line anywhere
/// stores nothing, and memory holds keys but no values; with `replace`,
/// the database then holds exactly the dump's pairs. A pair that has
/// already expired is skipped. Returns the number of pairs stored.
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
    let now = now_ms();
    for entry in Reader::new(format, input) {
        let entry = entry.map_err(|e| match e {
            // Displays as "line N: reason" (or "command N: reason" for resp).
            ParseError::Invalid { .. } => anyhow!("load: {name}: {e}; nothing was stored"),
            ParseError::Io(io) => anyhow::Error::new(io)
                .context(format!("load: cannot read {name}; nothing was stored")),
        })?;
        progress.inc(1);
        // A pair whose deadline has passed is not stored: it would be
        // absent for every read, and compaction would drop it anyway.
        if entry.expires_at.is_some_and(|at| at <= now) {
            continue;
        }
        batch
            .set(&entry.key, &entry.value, entry.expires_at)
            .with_context(|| format!("load: {name}: nothing was stored"))?;
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
