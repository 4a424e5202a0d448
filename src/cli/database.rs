//! Reaching the database for a command or a session: open it here, or,
//! when another tinykv process owns it, go through that owner (owner.rs,
//! PRODUCT.md §7); and the messages a person needs on the way: who holds
//! the lock, what a torn tail cost.
//!
//! Who waits for whom: an owner that serves the database (a REPL, a
//! script, `serve`) is reached at once through its socket; one that does
//! not (a one-shot command, or an owner starting up or going away) is
//! waited for, up to `--wait` (5 s unless told otherwise), polling its
//! lock with a short backoff, so that parallel one-shot commands from
//! `xargs -P` all succeed.
//!
//! A database this user cannot write here (a read-only mount, another
//! user's files: the lock file or another file in it cannot be opened for
//! writing) is opened read-only for a read, under a shared lock, and
//! refused in one line for a write (PRODUCT.md §7). Such a database is
//! locked only by a process that may write it: it is waited for like a
//! one-shot command, since another user's owner cannot be reached on its
//! socket.
//!
//! Invariant: every command that opened the database ends with [`close`],
//! so a failed final flush is reported (exit 2) instead of being lost in
//! `Drop`.

use std::io;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use super::config::Config;
use super::output;
use super::owner::{self, Owner};
use super::store::Remote;
use crate::engine::{Db, Error, Options};

/// The longest pause between two looks at a lock held by a one-shot
/// command (a few milliseconds of work, usually).
const MAX_NAP: Duration = Duration::from_millis(20);

/// How a command reached the database.
pub enum Reached<T> {
    /// This process holds the lock: `T` is what it did with it.
    Here(T),
    /// Another process owns the database and serves it.
    Owner(Remote),
}

/// Opens the configured database (creating it when the command may), or
/// reaches the process that owns it.
pub fn reach(config: &Config) -> Result<Reached<Db>> {
    reach_opening(config, config.options())
}

/// [`reach`], opening with `options` (a session decides for itself
/// whether it may create the database: session_db.rs).
pub fn reach_opening(config: &Config, options: Options) -> Result<Reached<Db>> {
    let reached = reach_with(config, |mut opts| {
        opts.create = options.create;
        Db::open(&config.dir, opts)
    })?;
    if let Reached::Here(db) = &reached {
        warn_of_torn_tail(config, db);
    }
    Ok(reached)
}

/// [`reach`], but without waiting: `None` while a one-shot command (an
/// owner that does not serve the database) holds the lock.
pub fn try_reach(config: &Config) -> Result<Option<Reached<Db>>> {
    let mut opts = config.options();
    opts.lock_timeout = Duration::ZERO;
    match Db::open(&config.dir, opts) {
        Ok(db) => {
            warn_of_torn_tail(config, &db);
            Ok(Some(Reached::Here(db)))
        }
        Err(Error::Locked { pid, note, .. }) => {
            let owner = Owner::parse(pid, &note);
            match &owner.socket {
                Some(socket) => match Remote::connect(socket, &config.dir, config.sync) {
                    Ok(remote) => Ok(Some(Reached::Owner(remote))),
                    Err(_) => Ok(None),
                },
                None => Ok(None),
            }
        }
        Err(e) => Err(open_error(config, e)),
    }
}

/// Opens the configured database in this process, waiting for a one-shot
/// owner; for the command that must own it itself (`serve`), so an owner
/// that serves it already is an error that names it.
pub fn open(config: &Config) -> Result<Db> {
    match reach(config)? {
        Reached::Here(db) => Ok(db),
        Reached::Owner(remote) => Err(anyhow!(
            "database {} is owned by {}, which serves it to other tinykv commands; \
             only one process can own it",
            config.dir.display(),
            remote.owner()
        )),
    }
}

/// Does `attempt` with the lock, or reaches the owner: see the module doc.
/// `attempt` is given the options to open with (the lock not waited for:
/// the waiting is done here, where the owner's note is read).
pub fn reach_with<T>(
    config: &Config,
    mut attempt: impl FnMut(Options) -> crate::engine::Result<T>,
) -> Result<Reached<T>> {
    let start = Instant::now();
    let mut nap = Duration::from_millis(1);
    let mut read_only = false;
    loop {
        let mut opts = config.options();
        opts.lock_timeout = Duration::ZERO;
        opts.read_only = read_only;
        let (pid, note) = match attempt(opts) {
            Ok(t) => return Ok(Reached::Here(t)),
            Err(Error::Locked { pid, note, .. }) => (pid, note),
            Err(e) if !read_only && !config.writes() && cannot_write_here(&e, &config.dir) => {
                read_only = true;
                continue;
            }
            Err(e) => return Err(open_error(config, e)),
        };
        let owner = Owner::parse(pid, &note);
        // An owner's socket that does not answer is one going away or not
        // listening yet (or killed: its lock will be free at once).
        if let Some(socket) = &owner.socket
            && let Ok(remote) = Remote::connect(socket, &config.dir, config.sync)
        {
            return Ok(Reached::Owner(remote));
        }
        let waited = start.elapsed();
        if waited >= config.wait {
            return Err(locked_error(config, &owner, read_only));
        }
        thread::sleep(nap.min(config.wait - waited));
        nap = (nap * 2).min(MAX_NAP);
    }
}

/// Whether `err` says that this user cannot write the database here: the
/// lock file, or another file in the directory, cannot be opened for
/// writing (EACCES, EROFS). Not a directory that cannot be created: a read
/// has nothing to read there.
fn cannot_write_here(err: &Error, dir: &Path) -> bool {
    let Error::Io { path, source, .. } = err else {
        return false;
    };
    matches!(
        source.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    ) && path.parent() == Some(dir)
}

/// A torn tail cut at open is worth a warning, and so is one a read-only
/// open left in place, unless it was only an unfinished batch (an
/// interrupted load): never acknowledged, nothing lost.
fn warn_of_torn_tail(config: &Config, db: &Db) {
    let report = db.open_report();
    let (cut, verb) = match (&report.truncated, &report.left_torn) {
        (Some(cut), _) => (cut, "cut"),
        (None, Some(left)) => (left, "left"),
        (None, None) => return,
    };
    if config.quiet || cut.unfinished_batch {
        return;
    }
    let after = match &cut.saved_to {
        Some(p) => format!("; the bytes were saved to {}", p.display()),
        None if verb == "left" => {
            "; the database is read-only here: the next open that can write cuts it".into()
        }
        None => String::new(),
    };
    // The engine's reason may already say where; do not say it twice.
    let at = if cut.reason.contains("offset") {
        String::new()
    } else {
        format!(" at offset {}", cut.offset)
    };
    output::message(&format!(
        "warning: {}: {verb} a torn tail of {} bytes{at} ({}){after}",
        db.path().join("wal.log").display(),
        cut.bytes,
        cut.reason,
    ));
}

/// Flushes and releases the database, reporting a failure, and warns of
/// an automatic compaction that failed on the way (the writes that
/// triggered it were stored: it is not their error, but its cause, a
/// damaged file or a full disk, needs someone to see it).
pub fn close(db: Db) -> Result<()> {
    let path = db.path().to_owned();
    if let Some(why) = db.auto_compaction_failure() {
        warn_compaction_failed(&path, &why);
    }
    db.close()
        .with_context(|| format!("cannot close database {}", path.display()))
}

/// The warning for an automatic compaction that failed: the writes that
/// triggered it were stored, but its cause (a damaged file, a full disk)
/// needs someone to see it.
pub fn warn_compaction_failed(path: &std::path::Path, why: &str) {
    output::message(&format!(
        "warning: automatic compaction of {} failed, nothing was lost ({why}); \
         run 'tinykv check'",
        path.display()
    ));
}

/// The message for a lock that stayed taken: who holds it, and what can
/// help. `read_only`: the database is read-only here, so its holder is a
/// process that may write it, another user's when its uid says so.
fn locked_error(config: &Config, owner: &Owner, read_only: bool) -> anyhow::Error {
    let path = config.dir.display();
    if owner.socket.is_some() && !read_only {
        return anyhow!(
            "database {path} is owned by {owner}, which did not answer on its socket within {}",
            output::seconds(config.wait)
        );
    }
    let (held, not_released) = if read_only {
        let user = match owner.pid.and_then(owner::uid_of) {
            Some(uid) if uid != owner::uid() => format!(" of another user (uid {uid})"),
            _ => String::new(),
        };
        let held = format!("is read-only here and locked by {owner}{user}");
        (held, ", which did not let go within")
    } else {
        let holder = owner.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        let held = format!("is locked by another tinykv process{holder}");
        (held, " and was not released within")
    };
    let hint = if config.wait.is_zero() {
        "; use --wait SECONDS to wait for it".to_owned()
    } else {
        format!(
            "{not_released} {}; use --wait SECONDS to wait longer",
            output::seconds(config.wait)
        )
    };
    anyhow!("database {path} {held}{hint}")
}

/// The message for a failed open: names the path; says that the database
/// is read-only when a command that writes cannot write it here.
pub fn open_error(config: &Config, err: Error) -> anyhow::Error {
    match err {
        Error::Locked { pid, note, .. } => locked_error(config, &Owner::parse(pid, &note), false),
        e if config.writes() && cannot_write_here(&e, &config.dir) => anyhow!(
            "database {} is read-only ({})",
            config.dir.display(),
            e.with_causes()
        ),
        other => anyhow::Error::new(other)
            .context(format!("cannot open database {}", config.dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_file_in_the_directory_that_cannot_be_written_makes_it_read_only() {
        let dir = Path::new("/d");
        let io = |op, path: &str, kind| Error::Io {
            op,
            path: path.into(),
            source: io::Error::from(kind),
        };
        use io::ErrorKind::{Other, PermissionDenied, ReadOnlyFilesystem};
        assert!(cannot_write_here(
            &io("lock", "/d/LOCK", PermissionDenied),
            dir
        ));
        assert!(cannot_write_here(
            &io("open", "/d/wal.log", ReadOnlyFilesystem),
            dir
        ));
        assert!(cannot_write_here(
            &io("lock", "/d/./LOCK", PermissionDenied),
            Path::new("/d/")
        ));
        // A directory that cannot be made, or listed, is no database to read.
        assert!(!cannot_write_here(
            &io("create directory", "/d", PermissionDenied),
            dir
        ));
        assert!(!cannot_write_here(&io("list", "/d", PermissionDenied), dir));
        assert!(!cannot_write_here(&io("lock", "/d/LOCK", Other), dir));
        let locked = Error::Locked {
            path: dir.into(),
            pid: None,
            note: String::new(),
        };
        assert!(!cannot_write_here(&locked, dir));
    }
}
