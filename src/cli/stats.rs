//! `stats`: the numbers a person or a monitoring script wants, as aligned
//! text or as one JSON object (field names are part of the interface).

use std::io::Write;

use anyhow::{Context, Result};
use serde::Serialize;

use super::output;
use super::store::Store;

/// The JSON form of `stats --json`.
#[derive(Debug, Serialize)]
struct StatsJson {
    path: String,
    keys: u64,
    live_bytes: u64,
    dead_bytes: u64,
    overhead_bytes: u64,
    total_bytes: u64,
    wal_bytes: u64,
    segments: u64,
    files: u64,
    /// RFC 3339 UTC, or null when no compaction is recorded.
    last_compaction: Option<String>,
}

/// Prints the statistics of `store`.
pub fn print(store: &dyn Store, json: bool, out: &mut dyn Write) -> Result<()> {
    let s = store.stats().context("cannot read the statistics")?;
    let last = s.last_compaction.map(output::utc);
    if json {
        let stats = StatsJson {
            path: store.path().display().to_string(),
            keys: s.keys,
            live_bytes: s.live_bytes,
            dead_bytes: s.dead_bytes,
            overhead_bytes: s.overhead_bytes,
            total_bytes: s.total_bytes,
            wal_bytes: s.wal_bytes,
            segments: s.segments,
            files: s.files,
            last_compaction: last,
        };
        serde_json::to_writer(&mut *out, &stats).context("cannot write the statistics")?;
        writeln!(out)?;
        return Ok(());
    }
    let sized = |n: u64| format!("{n} ({})", output::bytes(n));
    let rows = [
        ("path", store.path().display().to_string()),
        ("keys", s.keys.to_string()),
        ("live bytes", sized(s.live_bytes)),
        ("dead bytes", sized(s.dead_bytes)),
        ("overhead bytes", sized(s.overhead_bytes)),
        ("total bytes", sized(s.total_bytes)),
        ("wal bytes", sized(s.wal_bytes)),
        ("segments", s.segments.to_string()),
        ("files", s.files.to_string()),
        (
            "last compaction",
            last.unwrap_or_else(|| "never".to_owned()),
        ),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<16} {value}")?;
    }
    Ok(())
}
