//! [`Local`]: a database this process has open (the one-shot command that
//! holds the lock, or the REPL or script that owns it).
//!
//! Invariant: every call is the engine's own, unchanged; when the owner
//! shares the database, each write also tells the sharing server's
//! compaction thread to look (the database is opened with automatic
//! compaction off then, see serve/mod.rs).

use std::path::Path;

use anyhow::Result;

use super::{Entries, Entry, Keys, Loader, Start, Store, Visit};
use crate::cli::serve::Sharing;
use crate::engine::{
    BackupReport, BatchWriter, CheckReport, CompactReport, Condition, Db, Expiry, Iter,
    RecoverReport, Renamed, Stats,
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

    /// [`Store::keys_from`] for `db`, borrowing it rather than a `Local`.
    pub fn keys_of<'s>(db: &'s Db, prefix: &[u8], start: &Start) -> Keys<'s> {
        let keys = match start {
            Start::First => db.keys(prefix),
            Start::At(k) => db.keys(prefix).from(k),
            Start::After(k) => db.keys(prefix).after(k),
        };
        Box::new(keys.map(|k| k.map_err(Into::into)))
    }

    /// [`Store::entries_from`] for `db`, borrowing it rather than a `Local`.
    pub fn entries_of<'s>(db: &'s Db, prefix: &[u8], start: &Start) -> Entries<'s> {
        Box::new(EntryIter(Local::walk(db, prefix, start)))
    }

    /// The pairs of `db` whose key starts with `prefix`, from `start` on.
    fn walk<'s>(db: &'s Db, prefix: &[u8], start: &Start) -> Iter<'s> {
        match start {
            Start::First => db.iter_prefix(prefix),
            Start::At(k) => db.iter_prefix(prefix).from(k),
            Start::After(k) => db.iter_prefix(prefix).after(k),
        }
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
        Ok(self.db.count(prefix)?)
    }

    fn keys_from<'s>(&'s self, prefix: &[u8], start: &Start) -> Keys<'s> {
        Local::keys_of(self.db, prefix, start)
    }

    fn last_key(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.last_key(prefix)?)
    }

    fn entries_from<'s>(&'s self, prefix: &[u8], start: &Start) -> Entries<'s> {
        Local::entries_of(self.db, prefix, start)
    }

    fn visit_entries(&self, prefix: &[u8], start: &Start, visit: Visit<'_>) -> Result<()> {
        let mut it = Local::walk(self.db, prefix, start);
        while let Some(entry) = it.next_entry() {
            let (key, value, expires_at) = entry?;
            if !visit(key, value, expires_at)? {
                break;
            }
        }
        Ok(())
    }

    fn incr(&self, key: &[u8], by: i64) -> Result<i64> {
        let n = self.db.incr(key, by)?;
        self.wrote();
        Ok(n)
    }

    fn set_if(
        &self,
        key: &[u8],
        value: &[u8],
        condition: Condition,
        expiry: Expiry,
    ) -> Result<bool> {
        let outcome = self.db.set_if(key, value, condition, expiry)?;
        self.wrote();
        Ok(outcome.stored)
    }

    fn expiry(&self, key: &[u8]) -> Result<Option<Option<u64>>> {
        Ok(self.db.expiry(key)?)
    }

    fn expire(&self, key: &[u8], at: Option<u64>) -> Result<bool> {
        let found = self.db.expire(key, at)?;
        self.wrote();
        Ok(found)
    }

    fn pop(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let taken = self.db.take_first(prefix)?;
        self.wrote();
        Ok(taken)
    }

    fn rename(&self, old: &[u8], new: &[u8], if_absent: bool) -> Result<Renamed> {
        let renamed = self.db.rename(old, new, if_absent)?;
        self.wrote();
        Ok(renamed)
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
    fn set(&mut self, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Result<()> {
        Ok(self.batch.set_expiring(key, value, expires_at)?)
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

/// The engine's iteration, each pair with its expiry.
struct EntryIter<'s>(Iter<'s>);

impl Iterator for EntryIter<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        let (key, value) = match self.0.next()? {
            Ok(pair) => pair,
            Err(e) => return Some(Err(e.into())),
        };
        Some(Ok(Entry {
            key,
            value,
            expires_at: self.0.last_expiry(),
        }))
    }
}
