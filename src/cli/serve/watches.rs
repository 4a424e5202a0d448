//! WATCH: what lets EXEC tell that a watched key was modified since it
//! was watched, as Redis's optimistic locking does.
//!
//! Two records, checked together inside EXEC's transaction (so nothing
//! can be written between the check and EXEC's own writes):
//!
//! - [`Watches`], the server's table of watched keys, each with the
//!   version of its last write through this server. Every write the server
//!   makes (a round's writes as they are applied, a batch of plain SETs
//!   just before it goes to the engine, FLUSHDB) touches the keys it
//!   writes, so a write through any of its connections, the owner's Unix
//!   socket included, aborts the EXEC, even one that stores the value the
//!   key already had, as in Redis. Versions come from one counter and are
//!   never reused; the table holds only watched keys, and writes skip it
//!   without taking its lock while none is watched.
//! - a digest of the key's value and expiry when it was watched
//!   ([`WatchList`]), compared with what the transaction reads. It catches
//!   what does not pass through this server: the writes of the process
//!   that owns the database (a REPL or script writes through the engine
//!   directly) and a key that expired meanwhile (Redis 7 aborts then too).
//!
//! Limits, said plainly: a write that does not pass through this server
//! and leaves the key exactly as it was (the same value and expiry) is not
//! seen, where Redis would abort; the state EXEC runs against is then the
//! one it was watched in. Digests are 128 bits of SipHash under keys
//! drawn at start, so two different values pass for the same one with a
//! probability of about 2^-128. A write that is touched but then fails
//! aborts an EXEC that could have gone on: an abort is always safe.
//!
//! Invariants: a key is in the table while a connection watches it (its
//! [`WatchList`] unwatches on drop, whatever ends it: EXEC, DISCARD,
//! UNWATCH, the connection closing); a key is registered before its value
//! is read for the digest, so no write can fall between the two unseen.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::engine::Stored;

/// The server's watched keys and the version of each one's last write.
#[derive(Debug, Default)]
pub struct Watches {
    /// How many keys the table holds (read without the lock).
    count: AtomicUsize,
    table: Mutex<Table>,
    keys: (RandomState, RandomState),
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<Vec<u8>, Entry>,
    /// The last version given.
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    version: u64,
    watchers: usize,
}

impl Watches {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers one more watcher of `key`; returns its version now.
    fn watch(&self, key: &[u8]) -> u64 {
        let mut t = self.lock();
        let entry = t.entries.entry(key.to_vec()).or_insert(Entry {
            version: 0,
            watchers: 0,
        });
        entry.watchers += 1;
        let version = entry.version;
        self.count.store(t.entries.len(), Ordering::Release);
        version
    }

    /// One watcher of `key` fewer.
    fn unwatch(&self, key: &[u8]) {
        let mut t = self.lock();
        if let Some(entry) = t.entries.get_mut(key) {
            entry.watchers -= 1;
            if entry.watchers == 0 {
                t.entries.remove(key);
            }
        }
        self.count.store(t.entries.len(), Ordering::Release);
    }

    /// Notes a write of each of `keys` (before it is applied or, inside a
    /// transaction, as it is).
    pub fn touch<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut t = self.lock();
        for key in keys {
            if t.entries.contains_key(key) {
                t.clock += 1;
                let version = t.clock;
                if let Some(entry) = t.entries.get_mut(key) {
                    entry.version = version;
                }
            }
        }
    }

    /// Every key watched now (for FLUSHDB, which writes them all).
    pub fn watched(&self) -> Vec<Vec<u8>> {
        if self.count.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        self.lock().entries.keys().cloned().collect()
    }

    fn version(&self, key: &[u8]) -> Option<u64> {
        self.lock().entries.get(key).map(|e| e.version)
    }

    /// The digest of a key's state: its value and expiry, or its absence.
    pub fn digest(&self, stored: Option<&Stored>) -> u128 {
        let state = stored.map(|s| (&s.value, s.expires_at));
        let low = self.keys.0.hash_one(state);
        let high = self.keys.1.hash_one(state);
        u128::from(high) << 64 | u128::from(low)
    }
}

/// One key a connection watches, as it was when watched.
#[derive(Debug)]
struct Watched {
    key: Vec<u8>,
    version: u64,
    digest: u128,
}

/// A connection's watched keys; dropping it unwatches them.
#[derive(Debug)]
pub struct WatchList {
    watches: Arc<Watches>,
    keys: Vec<Watched>,
    bytes: usize,
}

impl WatchList {
    /// Nothing watched yet.
    pub fn new(watches: &Arc<Watches>) -> WatchList {
        WatchList {
            watches: Arc::clone(watches),
            keys: Vec::new(),
            bytes: 0,
        }
    }

    /// Watches `key` (once, however often it is named), whose state
    /// `read` gives; returns the bytes the list grew by.
    pub fn watch<E>(
        &mut self,
        key: &[u8],
        read: impl FnOnce() -> Result<Option<Stored>, E>,
    ) -> Result<usize, E> {
        if self.keys.iter().any(|w| w.key == key) {
            return Ok(0);
        }
        // Registered first: a write from now on changes the version.
        let version = self.watches.watch(key);
        let stored = match read() {
            Ok(s) => s,
            Err(e) => {
                self.watches.unwatch(key);
                return Err(e);
            }
        };
        let digest = self.watches.digest(stored.as_ref());
        self.keys.push(Watched {
            key: key.to_vec(),
            version,
            digest,
        });
        let bytes = key.len() + std::mem::size_of::<Watched>();
        self.bytes += bytes;
        Ok(bytes)
    }

    /// Whether no key is watched.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The bytes the list holds (keys and their records).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether every watched key is as it was: no write through this
    /// server since, and the same state as `read` gives now (inside the
    /// transaction that then writes).
    pub fn unchanged<E>(
        &self,
        mut read: impl FnMut(&[u8]) -> Result<Option<Stored>, E>,
    ) -> Result<bool, E> {
        for w in &self.keys {
            if self.watches.version(&w.key) != Some(w.version) {
                return Ok(false);
            }
            if self.watches.digest(read(&w.key)?.as_ref()) != w.digest {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Drop for WatchList {
    fn drop(&mut self) {
        for w in &self.keys {
            self.watches.unwatch(&w.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(v: &[u8], at: Option<u64>) -> Option<Stored> {
        Some(Stored {
            value: v.to_vec(),
            expires_at: at,
        })
    }

    #[test]
    fn a_write_through_the_server_or_a_changed_state_aborts() {
        let watches = Arc::new(Watches::default());
        let mut list = WatchList::new(&watches);
        let read = || Ok::<_, ()>(stored(b"v", None));
        assert!(list.watch(b"k", read).unwrap() > 0);
        assert_eq!(list.watch(b"k", read).unwrap(), 0, "once per key");
        let same = |_: &[u8]| Ok::<_, ()>(stored(b"v", None));
        assert!(list.unchanged(same).unwrap());
        watches.touch([&b"other"[..]]);
        assert!(list.unchanged(same).unwrap());
        // The same value written again through the server still counts.
        watches.touch([&b"k"[..]]);
        assert!(!list.unchanged(same).unwrap());

        let mut list = WatchList::new(&watches);
        list.watch(b"k", read).unwrap();
        let other_value = |_: &[u8]| Ok::<_, ()>(stored(b"w", None));
        let other_expiry = |_: &[u8]| Ok::<_, ()>(stored(b"v", Some(5)));
        let gone = |_: &[u8]| Ok::<_, ()>(None);
        assert!(!list.unchanged(other_value).unwrap());
        assert!(!list.unchanged(other_expiry).unwrap());
        assert!(!list.unchanged(gone).unwrap());
    }

    #[test]
    fn keys_leave_the_table_with_their_last_watcher() {
        let watches = Arc::new(Watches::default());
        let mut a = WatchList::new(&watches);
        let mut b = WatchList::new(&watches);
        a.watch(b"k", || Ok::<_, ()>(None)).unwrap();
        b.watch(b"k", || Ok::<_, ()>(None)).unwrap();
        drop(a);
        assert_eq!(watches.watched(), vec![b"k".to_vec()]);
        drop(b);
        assert!(watches.watched().is_empty());
        // A failed read leaves nothing registered.
        let mut c = WatchList::new(&watches);
        assert!(c.watch(b"k", || Err::<Option<Stored>, _>(())).is_err());
        assert!(watches.watched().is_empty() && c.is_empty());
    }
}
