//! Atomic read-modify-write: [`Db::transact`] runs a function that reads
//! keys and decides writes ([`Txn`]), inside group commit, so that no other
//! write comes between its reads and its writes; and the operations built
//! on it (`incr`, conditional sets, `take_first`, `rename`, expiry).
//!
//! How: a transaction is a request like a put. The group-commit leader
//! runs it in ticket order, holding the writer, after encoding the writes
//! queued before it in the same group; it reads through those (the
//! group's overlay), then through the database as it was before the
//! group. Its writes are appended with the group (as one batch when there
//! are several, so a crash keeps all or none of them) and share its fsync.
//!
//! Invariants: a transaction sees every write acknowledged before it was
//! queued and every write queued before it in its group, and no later
//! one; its writes are made only if it returns `Ok`; it runs on whichever
//! thread leads the group, so it must be quick and must not write through
//! the `Db` itself (that write would wait for the group it is in); expired
//! keys are absent to it as to every read, at the group's moment.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::batch::Op;
use super::clock::expired;
use super::record;
use super::{Db, Error, Request, Result, check_key, check_value};

/// A value and when it expires, as a transaction reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The value.
    pub value: Vec<u8>,
    /// When the key expires (Unix milliseconds), if it does.
    pub expires_at: Option<u64>,
}

/// Where a write queued earlier in the group is, in the group's buffer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pending {
    /// Offset of its record in the buffer (`None`: a deletion).
    pub at: Option<usize>,
    pub expires_at: Option<u64>,
}

/// The writes queued before a transaction in its group: by key, the last
/// one, and where its record is in `buf`.
pub(super) struct Overlay<'g> {
    pub buf: &'g [u8],
    pub writes: &'g BTreeMap<Vec<u8>, Pending>,
}

/// A transaction's view of the database; see the module doc.
pub struct Txn<'g> {
    db: &'g Db,
    now: u64,
    overlay: Overlay<'g>,
    writes: Vec<Op>,
}

/// What a lookup through the layers found.
enum Layer {
    /// A layer said: this value (or absent, for `None`).
    Known(Option<Stored>),
    /// No layer above the database knows the key.
    Unknown,
}

impl<'g> Txn<'g> {
    pub(super) fn new(db: &'g Db, now: u64, overlay: Overlay<'g>) -> Txn<'g> {
        Txn {
            db,
            now,
            overlay,
            writes: Vec::new(),
        }
    }

    pub(super) fn into_writes(self) -> Vec<Op> {
        self.writes
    }

    /// The moment the transaction runs at (Unix milliseconds): expiry is
    /// judged against it.
    pub fn now_ms(&self) -> u64 {
        self.now
    }

    /// What this transaction's own writes, then the group's, say of `key`.
    fn above(&self, key: &[u8], want_value: bool) -> Result<Layer> {
        if let Some(w) = self.writes.iter().rev().find(|w| w.key == key) {
            return Ok(Layer::Known(w.value.as_ref().map(|v| Stored {
                value: v.clone(),
                expires_at: w.expires_at,
            })));
        }
        let Some(p) = self.overlay.writes.get(key) else {
            return Ok(Layer::Unknown);
        };
        let Some(at) = p.at else {
            return Ok(Layer::Known(None));
        };
        let value = if want_value {
            let (rec, _) =
                record::decode(&self.overlay.buf[at..]).map_err(|e| Error::Poisoned {
                    cause: format!("a write queued in this group does not decode: {e}"),
                })?;
            rec.value.to_vec()
        } else {
            Vec::new()
        };
        Ok(Layer::Known(Some(Stored {
            value,
            expires_at: p.expires_at,
        })))
    }

    fn lookup(&self, key: &[u8], want_value: bool) -> Result<Option<Stored>> {
        check_key(key)?;
        let stored = match self.above(key, want_value)? {
            Layer::Known(s) => s,
            Layer::Unknown => match self.db.find(key, want_value)? {
                super::segment::Found::Live(v, at) => Some(Stored {
                    value: v.unwrap_or_default(),
                    expires_at: at,
                }),
                _ => None,
            },
        };
        Ok(stored.filter(|s| !expired(s.expires_at, self.now)))
    }

    /// The value of `key` and its expiry, if it is set.
    pub fn get(&self, key: &[u8]) -> Result<Option<Stored>> {
        self.lookup(key, true)
    }

    /// Whether `key` is set.
    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        Ok(self.lookup(key, false)?.is_some())
    }

    /// The smallest key that is set and starts with `prefix`.
    pub fn first_with_prefix(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        // From the database as it was before the group: the first key that
        // no write above it deleted (or let expire).
        let mut from_db = None;
        for key in self.db.keys(prefix) {
            let key = key?;
            match self.above(&key, false)? {
                Layer::Unknown => {
                    from_db = Some(key);
                    break;
                }
                Layer::Known(Some(s)) if !expired(s.expires_at, self.now) => {
                    from_db = Some(key);
                    break;
                }
                Layer::Known(_) => {}
            }
        }
        // From the writes above it: the smallest key they set.
        let mut candidates: Vec<&[u8]> = self
            .overlay
            .writes
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.as_slice())
            .collect();
        candidates.extend(
            self.writes
                .iter()
                .filter(|w| w.key.starts_with(prefix))
                .map(|w| w.key.as_slice()),
        );
        candidates.sort_unstable();
        let mut from_above = None;
        for key in candidates {
            if from_db.as_deref().is_some_and(|d| d <= key) {
                break;
            }
            if matches!(self.above(key, false)?, Layer::Known(Some(s)) if !expired(s.expires_at, self.now))
            {
                from_above = Some(key.to_vec());
                break;
            }
        }
        Ok(from_above.or(from_db))
    }

    /// Every key set at the transaction's moment that starts with
    /// `prefix`, in order: the database's keys as the writes above them
    /// left them, and the keys those writes set. What a server's KEYS,
    /// SCAN or FLUSHDB inside a transaction walks: like any walk, it takes
    /// as long as the keys, and the transaction holds the writer meanwhile.
    pub fn keys(&self, prefix: &[u8]) -> TxnKeys<'_> {
        let mut above: Vec<Vec<u8>> = self
            .overlay
            .writes
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect();
        above.extend(
            self.writes
                .iter()
                .filter(|w| w.key.starts_with(prefix))
                .map(|w| w.key.clone()),
        );
        above.sort_unstable();
        above.dedup();
        TxnKeys {
            txn: self,
            db: self.db.keys(prefix),
            db_head: None,
            db_done: false,
            above,
            next: 0,
        }
    }

    /// Sets `key = value`, expiring at `expires_at` (Unix milliseconds)
    /// when it is `Some`.
    pub fn set(&mut self, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.writes.push(Op {
            key: key.to_vec(),
            value: Some(value.to_vec()),
            expires_at,
        });
        Ok(())
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.writes.push(Op {
            key: key.to_vec(),
            value: None,
            expires_at: None,
        });
        Ok(())
    }
}

/// The keys of a transaction's moment, in order; see [`Txn::keys`].
pub struct TxnKeys<'t> {
    txn: &'t Txn<'t>,
    /// The database's keys, as they were before the group.
    db: super::Keys<'t>,
    /// The next of them, not yet returned.
    db_head: Option<Vec<u8>>,
    db_done: bool,
    /// The keys the writes above the database touch, sorted.
    above: Vec<Vec<u8>>,
    /// The next of them not yet looked at.
    next: usize,
}

impl TxnKeys<'_> {
    /// Starts after `key`: only keys greater than it are returned (a
    /// resumed walk). Call it before the first `next`.
    pub fn after(mut self, key: &[u8]) -> Self {
        self.db = self.db.after(key);
        self.above.retain(|k| k.as_slice() > key);
        self
    }

    /// The next key of either source, smallest first (one key in both
    /// comes once); `None` when both are done.
    fn next_candidate(&mut self) -> Result<Option<Vec<u8>>> {
        while self.db_head.is_none() && !self.db_done {
            match self.db.next() {
                None => self.db_done = true,
                Some(Err(e)) => {
                    self.db_done = true;
                    return Err(e);
                }
                // Judged at the transaction's moment, as every read of it is.
                Some(Ok(_)) if expired(self.db.last_expiry(), self.txn.now) => {}
                Some(Ok(key)) => self.db_head = Some(key),
            }
        }
        let above = self.above.get(self.next);
        let take_above = match (&self.db_head, above) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(d), Some(a)) => a <= d,
        };
        if !take_above {
            return Ok(self.db_head.take());
        }
        self.next += 1;
        let key = self.above.get(self.next - 1).cloned();
        if key.is_some() && key == self.db_head {
            self.db_head = None;
        }
        Ok(key)
    }
}

impl Iterator for TxnKeys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Result<Vec<u8>>> {
        loop {
            let key = match self.next_candidate() {
                Ok(Some(key)) => key,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            match self.txn.above(&key, false) {
                Err(e) => return Some(Err(e)),
                // Only a key of the database: live, as its walk said.
                Ok(Layer::Unknown) => return Some(Ok(key)),
                Ok(Layer::Known(Some(s))) if !expired(s.expires_at, self.txn.now) => {
                    return Some(Ok(key));
                }
                Ok(Layer::Known(_)) => {}
            }
        }
    }
}

impl Db {
    /// Runs `f` atomically against every other write (see the module doc):
    /// its reads and writes as if no other writer existed between them;
    /// its writes durable, like any write, before this returns `Ok`, and
    /// not made at all when `f` fails.
    pub fn transact<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Txn<'_>) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let out: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let into = Arc::clone(&out);
        self.submit(Request::Txn(Box::new(move |txn: &mut Txn<'_>| {
            let value = f(txn)?;
            *into.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
            Ok(())
        })))?;
        let value = out.lock().unwrap_or_else(|p| p.into_inner()).take();
        value.ok_or_else(|| Error::Poisoned {
            cause: "a transaction that succeeded left no result".into(),
        })
    }
}

mod ops;

pub use ops::{Condition, Expiry, Renamed, SetOutcome, parse_integer};

#[cfg(test)]
mod tests;
