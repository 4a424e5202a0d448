//! The database of a REPL or a script session: reached when the session
//! first needs it, then owned (and served to this user's other tinykv
//! processes) or used through its owner until the session ends.
//!
//! Why not at once: a script of reads run with a mistyped `--dir` must not
//! create that directory (reads never create, as for one-shot commands),
//! and whether a script writes is known only when a write comes. So a
//! script reaches its database at its first line, creating it only if that
//! line writes; a read of a directory that does not exist fails as the
//! one-shot read would, and the script goes on. The REPL reaches it before
//! its banner, as a person opening a database expects it to exist after.
//!
//! A database this user cannot write here is opened read-only
//! (database.rs): the session reads it, each write says that it is
//! read-only, and nothing is shared (no socket, no note in the lock file).
//!
//! Invariants: the database is reached at most once per session (the first
//! success is kept; a failed attempt leaves the session as it was); a
//! database this session owns is shared until [`SessionDb::finish`], which
//! stops serving (other processes finish what they sent) before it closes.

use std::cell::OnceCell;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, anyhow};

use super::config::Config;
use super::database::{self, Reached};
use super::owner::{Kind, Owner};
use super::serve::{self, Sharing};
use super::store::{Entries, Keys, Loader, Local, Remote, Start, Store};
use crate::engine::{
    BackupReport, CheckReport, CompactReport, Condition, Db, Expiry, RecoverReport, Renamed, Stats,
};

/// How the session reached its database.
enum Opened {
    /// It owns it (and shares it), or has it open read-only (and shares
    /// nothing: a database this user cannot write is not theirs to own).
    Here {
        db: Arc<Db>,
        sharing: Option<Sharing>,
    },
    /// Another process does.
    Owner(Remote),
}

/// A session's database; see the module doc.
pub struct SessionDb<'c> {
    config: &'c Config,
    kind: Kind,
    opened: OnceCell<Opened>,
}

impl<'c> SessionDb<'c> {
    /// A session of `kind` on the configured database, not reached yet.
    pub fn new(config: &'c Config, kind: Kind) -> SessionDb<'c> {
        SessionDb {
            config,
            kind,
            opened: OnceCell::new(),
        }
    }

    /// Reaches the database now, creating it when allowed: for the REPL's
    /// banner.
    pub fn reach_now(&self) -> Result<()> {
        self.reach(true).map(|_| ())
    }

    /// Whether the session has its database open read-only.
    pub fn read_only(&self) -> bool {
        matches!(self.opened.get(), Some(Opened::Here { db, .. }) if db.is_read_only())
    }

    /// The owner, when the session works through one.
    pub fn owner(&self) -> Option<&Owner> {
        match self.opened.get() {
            Some(Opened::Owner(remote)) => Some(remote.owner()),
            _ => None,
        }
    }

    fn reach(&self, write: bool) -> Result<&Opened> {
        if let Some(opened) = self.opened.get() {
            return Ok(opened);
        }
        let mut config_options = self.config.options();
        // Reads never create a database (a mistyped --dir stays an error);
        // the default one is created on first use by any command.
        config_options.create = write || self.config.default_dir;
        let opened = match database::reach_opening(self.config, config_options)? {
            Reached::Here(db) => {
                let db = Arc::new(db);
                let sharing = if db.is_read_only() {
                    None
                } else {
                    Some(serve::share(Arc::clone(&db), self.config, self.kind)?)
                };
                Opened::Here { db, sharing }
            }
            Reached::Owner(remote) => Opened::Owner(remote),
        };
        Ok(self.opened.get_or_init(|| opened))
    }

    /// Runs `f` on the database, reached for a write or a read.
    fn with<T>(&self, write: bool, f: impl FnOnce(&dyn Store) -> Result<T>) -> Result<T> {
        match self.reach(write)? {
            Opened::Here { db, sharing } => f(&Local::new(db, sharing.as_ref())),
            Opened::Owner(remote) => f(remote),
        }
    }

    /// Ends the session: stops sharing, warns of a failed compaction,
    /// closes the database it owned.
    pub fn finish(self) -> Result<()> {
        let Some(Opened::Here { db, sharing }) = self.opened.into_inner() else {
            return Ok(());
        };
        // Other processes finish what they sent before the database closes.
        let stopped = sharing.map_or(Ok(None), Sharing::stop);
        let db = Arc::try_unwrap(db)
            .map_err(|_| anyhow!("the database is still shared at the end of the session"))?;
        if let Some(why) = stopped? {
            database::warn_compaction_failed(db.path(), &why);
        }
        database::close(db)
    }
}

impl Store for SessionDb<'_> {
    fn path(&self) -> &Path {
        &self.config.dir
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with(false, |s| s.get(key))
    }

    fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.with(true, |s| s.set(key, value))
    }

    fn delete(&self, key: &[u8]) -> Result<bool> {
        self.with(true, |s| s.delete(key))
    }

    fn exists(&self, key: &[u8]) -> Result<bool> {
        self.with(false, |s| s.exists(key))
    }

    fn count(&self, prefix: &[u8]) -> Result<u64> {
        self.with(false, |s| s.count(prefix))
    }

    fn keys_from<'s>(&'s self, prefix: &[u8], start: &Start) -> Keys<'s> {
        match self.reach(false) {
            Ok(Opened::Here { db, .. }) => Local::keys_of(db, prefix, start),
            Ok(Opened::Owner(remote)) => remote.keys_from(prefix, start),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    fn last_key(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with(false, |s| s.last_key(prefix))
    }

    fn entries_from<'s>(&'s self, prefix: &[u8], start: &Start) -> Entries<'s> {
        match self.reach(false) {
            Ok(Opened::Here { db, .. }) => Local::entries_of(db, prefix, start),
            Ok(Opened::Owner(remote)) => remote.entries_from(prefix, start),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    fn incr(&self, key: &[u8], by: i64) -> Result<i64> {
        self.with(true, |s| s.incr(key, by))
    }

    fn set_if(
        &self,
        key: &[u8],
        value: &[u8],
        condition: Condition,
        expiry: Expiry,
    ) -> Result<bool> {
        self.with(true, |s| s.set_if(key, value, condition, expiry))
    }

    fn expiry(&self, key: &[u8]) -> Result<Option<Option<u64>>> {
        self.with(false, |s| s.expiry(key))
    }

    fn expire(&self, key: &[u8], at: Option<u64>) -> Result<bool> {
        self.with(true, |s| s.expire(key, at))
    }

    fn pop(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.with(true, |s| s.pop(prefix))
    }

    fn rename(&self, old: &[u8], new: &[u8], if_absent: bool) -> Result<Renamed> {
        self.with(true, |s| s.rename(old, new, if_absent))
    }

    fn loader<'s>(&'s self, replace: bool) -> Result<Box<dyn Loader + 's>> {
        match self.reach(true)? {
            Opened::Here { db, sharing } => Local::loader_of(db, sharing.as_ref(), replace),
            Opened::Owner(remote) => remote.loader(replace),
        }
    }

    fn compact(&self) -> Result<CompactReport> {
        self.with(false, |s| s.compact())
    }

    fn stats(&self) -> Result<Stats> {
        self.with(false, |s| s.stats())
    }

    fn check(&self) -> Result<CheckReport> {
        self.with(false, |s| s.check())
    }

    fn backup(&self, dest: &Path) -> Result<BackupReport> {
        self.with(false, |s| s.backup(dest))
    }

    fn recover(&self) -> Result<RecoverReport> {
        self.with(false, |s| s.recover())
    }
}
