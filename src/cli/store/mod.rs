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

use crate::engine::{BackupReport, CheckReport, CompactReport, RecoverReport, Stats};
use crate::format::Pair;

mod local;
mod remote;

pub use local::Local;
pub use remote::Remote;

/// Keys, in order.
pub type Keys<'s> = Box<dyn Iterator<Item = Result<Vec<u8>>> + 's>;
/// Pairs, in key order.
pub type Pairs<'s> = Box<dyn Iterator<Item = Result<Pair>> + 's>;

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
        self.keys_after(prefix, b"")
    }
    /// The keys starting with `prefix` and greater than `after` (empty:
    /// from the first), in order.
    fn keys_after<'s>(&'s self, prefix: &[u8], after: &[u8]) -> Keys<'s>;
    /// The greatest key starting with `prefix`, without walking the others.
    fn last_key(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>>;
    /// The pairs whose key starts with `prefix`, in key order.
    fn pairs<'s>(&'s self, prefix: &[u8]) -> Pairs<'s>;
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
    /// Adds one pair.
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Pairs added so far.
    fn len(&self) -> u64;
    /// Whether no pair was added.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Stores every pair at once; how many.
    fn commit(self: Box<Self>) -> Result<u64>;
}
