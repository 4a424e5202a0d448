//! [`Local`]: a database this process has open (the one-shot command that
//! holds the lock, or the REPL or script that owns it).
//!
//! Invariant: every call is the engine's own, unchanged; when the owner
//! shares the database, each write also tells the sharing server's
//! compaction thread to look (the database is opened with automatic
//! compaction off then, see serve/mod.rs).

use std::path::Path;

use anyhow::Result;

use super::{Keys, Loader, Pairs, Store};
use crate::cli::serve::Sharing;
use crate::engine::{
    BackupReport, BatchWriter, CheckReport, CompactReport, Db, RecoverReport, Stats,
};

/// A database open in this process.
pub struct Local<'a> {
    db: &'a Db,
    sharing: Option<&'a Sharing>,
}

impl<'a> Local<'a> {
    /// `db`, shared by `sharing` when it is.
    pub fn new(db: &'a Db, sharing: Option<&'a Sharing>) -> Local<'a> {
        Local { db, sharing }
    }

    /// The database.
    pub fn db(&self) -> &'a Db {
        self.db
    }

    fn wrote(&self) {
        if let Some(s) = self.sharing {
            s.note_write();
        }
    }

    /// [`Store::keys_after`] for `db`, borrowing it rather than a `Local`.
    pub fn keys_of<'s>(db: &'s Db, prefix: &[u8], after: &[u8]) -> Keys<'s> {
        let mut keys = db.keys(prefix);
        if !after.is_empty() {
            keys = keys.after(after);
        }
        Box::new(keys.map(|k| k.map_err(Into::into)))
    }

    /// [`Store::loader`] for `db` (shared by `sharing`), borrowing them
    /// rather than a `Local`.
    pub fn loader_of<'s>(
        db: &'s Db,
        sharing: Option<&'s Sharing>,
        replace: bool,
    ) -> Result<Box<dyn Loader + 's>> {
        let mut batch = db.batch_writer()?;
        if replace {
            batch.replace_all();
        }
        Ok(Box::new(LocalLoad { batch, sharing }))
    }
}

impl Store for Local<'_> {
    fn path(&self) -> &Path {
        self.db.path()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?)
    }

    fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.set(key, value)?;
        self.wrote();
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<bool> {
        let found = self.db.delete(key)?;
        self.wrote();
        Ok(found)
    }

    fn exists(&self, key: &[u8]) -> Result<bool> {
        Ok(self.db.contains(key)?)
    }

    fn count(&self, prefix: &[u8]) -> Result<u64> {
        let mut n = 0;
        for key in self.db.keys(prefix) {
            key?;
            n += 1;
        }
        Ok(n)
    }

    fn keys_after<'s>(&'s self, prefix: &[u8], after: &[u8]) -> Keys<'s> {
        Local::keys_of(self.db, prefix, after)
    }

    fn last_key(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.last_key(prefix)?)
    }

    fn pairs<'s>(&'s self, prefix: &[u8]) -> Pairs<'s> {
        Box::new(self.db.iter_prefix(prefix).map(|p| p.map_err(Into::into)))
    }

    fn loader<'s>(&'s self, replace: bool) -> Result<Box<dyn Loader + 's>> {
        Local::loader_of(self.db, self.sharing, replace)
    }

    fn compact(&self) -> Result<CompactReport> {
        Ok(self.db.compact()?)
    }

    fn stats(&self) -> Result<Stats> {
        Ok(self.db.stats()?)
    }

    fn check(&self) -> Result<CheckReport> {
        Ok(self.db.check()?)
    }

    fn backup(&self, dest: &Path) -> Result<BackupReport> {
        Ok(self.db.backup(dest)?)
    }

    fn recover(&self) -> Result<RecoverReport> {
        Ok(self.db.recover()?)
    }
}

/// A load streamed into the engine's batch writer.
struct LocalLoad<'s> {
    batch: BatchWriter<'s>,
    sharing: Option<&'s Sharing>,
}

impl Loader for LocalLoad<'_> {
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.batch.set(key, value)?)
    }

    fn len(&self) -> u64 {
        self.batch.len() as u64
    }

    fn commit(self: Box<Self>) -> Result<u64> {
        let n = self.batch.len() as u64;
        self.batch.commit()?;
        if let Some(s) = self.sharing {
            s.note_write();
        }
        Ok(n)
    }
}
