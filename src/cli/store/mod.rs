//! [`Store`]: what the commands, the REPL and scripts ask of a database,
//! whether this process has it open ([`Local`]) or another tinykv process
//! owns it and serves it on its socket ([`Remote`], PRODUCT.md §7).
//!
//! The commands are written once, against this trait, and print the same
//! bytes either way; only how a request reaches the engine differs.
//!
//! Invariants: a write returns only once it is acknowledged as the
//! command's `--sync` asks (through an owner that runs `--sync never`, a
//! `--sync always` write is followed by a flush before it returns); a
//! load is atomic either way (all of it or none of it); iteration returns
//! every key present for the whole walk exactly once, in order.

use std::path::Path;

use anyhow::Result;

use crate::engine::{
    BackupReport, CheckReport, CompactReport, Condition, Expiry, RecoverReport, Renamed, Stats,
};
pub use crate::format::Entry;

mod local;
mod remote;

pub use local::Local;
pub use remote::Remote;

/// Keys, in order.
pub type Keys<'s> = Box<dyn Iterator<Item = Result<Vec<u8>>> + 's>;
/// Pairs with their expiry, in key order.
pub type Entries<'s> = Box<dyn Iterator<Item = Result<Entry>> + 's>;
/// What [`Store::visit_entries`] calls with each pair (key, value, expiry):
/// `false` to stop.
pub type Visit<'v> = &'v mut dyn FnMut(&[u8], &[u8], Option<u64>) -> Result<bool>;

/// Where a walk of the keys begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// At the first key.
    First,
    /// At this key (inclusive).
    At(Vec<u8>),
    /// Just after this key (a walk resumed).
    After(Vec<u8>),
}

/// A database, however it is reached; see the module doc.
pub trait Store {
    /// The database directory.
    fn path(&self) -> &Path;
    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Stores `key = value`.
    fn set(&self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Deletes `key`; whether it was set.
    fn delete(&self, key: &[u8]) -> Result<bool>;
    /// Whether `key` is set.
    fn exists(&self, key: &[u8]) -> Result<bool>;
    /// How many keys start with `prefix`.
    fn count(&self, prefix: &[u8]) -> Result<u64>;
    /// The keys starting with `prefix`, in order.
    fn keys<'s>(&'s self, prefix: &[u8]) -> Keys<'s> {
        self.keys_from(prefix, &Start::First)
    }
    /// The keys starting with `prefix` from `start` on, in order.
    fn keys_from<'s>(&'s self, prefix: &[u8], start: &Start) -> Keys<'s>;
    /// The greatest key starting with `prefix`, without walking the others.
    fn last_key(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>>;
    /// The pairs whose key starts with `prefix`, from `start` on, in key
    /// order, with their expiry.
    fn entries_from<'s>(&'s self, prefix: &[u8], start: &Start) -> Entries<'s>;
    /// Calls `visit` with each pair [`entries_from`](Self::entries_from)
    /// gives, borrowed (a local database copies none), until it returns
    /// `false`: the fast way through many pairs (a dump).
    fn visit_entries(&self, prefix: &[u8], start: &Start, visit: Visit<'_>) -> Result<()> {
        for entry in self.entries_from(prefix, start) {
            let e = entry?;
            if !visit(&e.key, &e.value, e.expires_at)? {
                break;
            }
        }
        Ok(())
    }
    /// Adds `by` to the integer in `key` (missing: 0), at once; the sum.
    fn incr(&self, key: &[u8], by: i64) -> Result<i64>;
    /// Stores `key = value` with `expiry` if `condition` holds, at once;
    /// whether it did.
    fn set_if(
        &self,
        key: &[u8],
        value: &[u8],
        condition: Condition,
        expiry: Expiry,
    ) -> Result<bool>;
    /// When `key` expires: `None` when it is not set, `Some(None)` when it
    /// never does.
    fn expiry(&self, key: &[u8]) -> Result<Option<Option<u64>>>;
    /// Gives `key` a deadline (Unix milliseconds; `None`: for good);
    /// whether it was set.
    fn expire(&self, key: &[u8], at: Option<u64>) -> Result<bool>;
    /// Removes the smallest key with `prefix`, at once, with its value.
    fn pop(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>>;
    /// Moves `old`'s value (and expiry) to `new`, at once.
    fn rename(&self, old: &[u8], new: &[u8], if_absent: bool) -> Result<Renamed>;
    /// Starts an atomic load; with `replace`, the database will hold
    /// exactly its pairs.
    fn loader<'s>(&'s self, replace: bool) -> Result<Box<dyn Loader + 's>>;
    /// Compacts now.
    fn compact(&self) -> Result<CompactReport>;
    /// Sizes and counts.
    fn stats(&self) -> Result<Stats>;
    /// Verifies every file, read-only.
    fn check(&self) -> Result<CheckReport>;
    /// A consistent copy into `dest`.
    fn backup(&self, dest: &Path) -> Result<BackupReport>;
    /// Salvages the database in place (only where it is open here).
    fn recover(&self) -> Result<RecoverReport>;
}

/// An atomic load in progress: nothing is stored until [`Loader::commit`]
/// returns `Ok`; dropped before that, it stores nothing.
pub trait Loader {
    /// Adds one pair, expiring at `expires_at` (Unix milliseconds) when set.
    fn set(&mut self, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Result<()>;
    /// Pairs added so far.
    fn len(&self) -> u64;
    /// Whether no pair was added.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Stores every pair at once; how many.
    fn commit(self: Box<Self>) -> Result<u64>;
}
