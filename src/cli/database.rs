//! Opening and closing the database for a command or a session, with the
//! messages a person needs: who holds the lock, what a torn tail cost.
//!
//! Invariant: every command ends with [`close`], so a failed final flush is
//! reported (exit 2) instead of being lost in `Drop`.

use anyhow::{Context, Result, anyhow};

use super::config::Config;
use super::output;
use crate::engine::{Db, Error};

/// Opens the configured database, creating it on first use.
pub fn open(config: &Config) -> Result<Db> {
    let db = Db::open(&config.dir, config.options()).map_err(|e| open_error(config, e))?;
    // An unfinished batch (an interrupted load) was never acknowledged:
    // cutting it loses nothing, so it is not worth a warning.
    if let Some(cut) = &db.open_report().truncated
        && !config.quiet
        && !cut.unfinished_batch
    {
        let saved = cut
            .saved_to
            .as_ref()
            .map(|p| format!("; the bytes were saved to {}", p.display()))
            .unwrap_or_default();
        // The engine's reason may already say where; do not say it twice.
        let at = if cut.reason.contains("offset") {
            String::new()
        } else {
            format!(" at offset {}", cut.offset)
        };
        output::message(&format!(
            "warning: {}: cut a torn tail of {} bytes{at} ({}){saved}",
            db.path().join("wal.log").display(),
            cut.bytes,
            cut.reason,
        ));
    }
    Ok(db)
}

/// Flushes and releases the database, reporting a failure, and warns of
/// an automatic compaction that failed on the way (the writes that
/// triggered it were stored: it is not their error, but its cause, a
/// damaged file or a full disk, needs someone to see it).
pub fn close(db: Db) -> Result<()> {
    let path = db.path().to_owned();
    if let Some(why) = db.auto_compaction_failure() {
        output::message(&format!(
            "warning: automatic compaction of {} failed, nothing was lost ({why}); \
             run 'tinykv check'",
            path.display()
        ));
    }
    db.close()
        .with_context(|| format!("cannot close database {}", path.display()))
}

/// The message for a failed open or lock: names the path and, for a lock
/// held elsewhere, the holder's pid and the way to wait for it.
pub fn open_error(config: &Config, err: Error) -> anyhow::Error {
    match err {
        Error::Locked { path, pid, .. } => {
            let holder = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            let hint = if config.wait.is_zero() {
                "; use --wait SECONDS to wait for it".to_owned()
            } else {
                format!(
                    " and was not released within {}",
                    output::seconds(config.wait)
                )
            };
            anyhow!(
                "database {} is locked by another tinykv process{holder}{hint}",
                path.display()
            )
        }
        other => anyhow::Error::new(other)
            .context(format!("cannot open database {}", config.dir.display())),
    }
}
