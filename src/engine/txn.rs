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

/// A condition on a key's current value, for [`Db::set_if`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Store whatever the key holds.
    Always,
    /// Only when the key is not set.
    Absent,
    /// Only when the key is set.
    Present,
    /// Only when the key holds exactly this value.
    Equals(Vec<u8>),
}

/// The expiry a write leaves the key with, for [`Db::set_if`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// None: the key is set for good (a plain write clears an expiry).
    Clear,
    /// Whatever the key had (none when it was not set).
    Keep,
    /// Expires at this Unix time in milliseconds.
    At(u64),
}

/// What [`Db::set_if`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetOutcome {
    /// Whether the value was stored (the condition held).
    pub stored: bool,
    /// The value before, had the key been set.
    pub previous: Option<Vec<u8>>,
}

/// What [`Db::rename`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renamed {
    /// The value (and its expiry) moved to the new key.
    Done,
    /// The old key is not set.
    NoSuchKey,
    /// The new key is set, and the rename was asked not to replace it.
    TargetExists,
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

    /// Sets `key` to `value` with `expiry` when `condition` holds, at once
    /// (compare-and-set, set-if-absent, set-if-present).
    pub fn set_if(
        &self,
        key: &[u8],
        value: &[u8],
        condition: Condition,
        expiry: Expiry,
    ) -> Result<SetOutcome> {
        check_key(key)?;
        check_value(value)?;
        let (key, value) = (key.to_vec(), value.to_vec());
        self.transact(move |t| {
            let now = t.now_ms();
            let current = t.get(&key)?;
            let holds = match &condition {
                Condition::Always => true,
                Condition::Absent => current.is_none(),
                Condition::Present => current.is_some(),
                Condition::Equals(old) => current.as_ref().is_some_and(|c| &c.value == old),
            };
            if holds {
                let expires_at = match expiry {
                    Expiry::Clear => None,
                    Expiry::Keep => current.as_ref().and_then(|c| c.expires_at),
                    Expiry::At(at) => Some(at),
                };
                if expired(expires_at, now) {
                    // A deadline already past stores nothing but a deletion.
                    t.delete(&key)?;
                } else {
                    t.set(&key, &value, expires_at)?;
                }
            }
            Ok(SetOutcome {
                stored: holds,
                previous: current.map(|c| c.value),
            })
        })
    }

    /// Sets `key = value`, expiring at `expires_at` (Unix milliseconds) when
    /// it is `Some`; a deadline already past deletes the key.
    pub fn set_expiring(&self, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Result<()> {
        if value.len() >= super::LARGE_VALUE && !expired(expires_at, self.now_ms()) {
            check_key(key)?;
            check_value(value)?;
            return self.set_large(key, value, expires_at);
        }
        let expiry = expires_at.map_or(Expiry::Clear, Expiry::At);
        self.set_if(key, value, Condition::Always, expiry)
            .map(|_| ())
    }

    /// Adds `by` to the signed 64-bit decimal integer in `key` (a missing
    /// key counts as 0) and returns the sum, at once. A value that is not
    /// such an integer, or a sum out of range, is an error and changes
    /// nothing. The key keeps its expiry.
    pub fn incr(&self, key: &[u8], by: i64) -> Result<i64> {
        check_key(key)?;
        let key = key.to_vec();
        self.transact(move |t| {
            let current = t.get(&key)?;
            let n = match &current {
                None => 0,
                Some(c) => parse_integer(&c.value)
                    .ok_or_else(|| Error::NotAnInteger { key: key.clone() })?,
            };
            let sum = n
                .checked_add(by)
                .ok_or_else(|| Error::IntegerOverflow { key: key.clone() })?;
            t.set(
                &key,
                sum.to_string().as_bytes(),
                current.and_then(|c| c.expires_at),
            )?;
            Ok(sum)
        })
    }

    /// Removes the smallest key that starts with `prefix` and returns it
    /// with its value, at once: of many takers, each key goes to one.
    pub fn take_first(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let prefix = prefix.to_vec();
        self.transact(move |t| {
            let Some(key) = t.first_with_prefix(&prefix)? else {
                return Ok(None);
            };
            let Some(current) = t.get(&key)? else {
                return Ok(None);
            };
            t.delete(&key)?;
            Ok(Some((key, current.value)))
        })
    }

    /// Moves the value of `old` (and its expiry) to `new`, at once; with
    /// `if_absent`, only when `new` is not set. Renaming a key to itself
    /// changes nothing.
    pub fn rename(&self, old: &[u8], new: &[u8], if_absent: bool) -> Result<Renamed> {
        check_key(old)?;
        check_key(new)?;
        let (old, new) = (old.to_vec(), new.to_vec());
        self.transact(move |t| {
            let Some(current) = t.get(&old)? else {
                return Ok(Renamed::NoSuchKey);
            };
            if if_absent && t.exists(&new)? {
                return Ok(Renamed::TargetExists);
            }
            if old != new {
                t.delete(&old)?;
                t.set(&new, &current.value, current.expires_at)?;
            }
            Ok(Renamed::Done)
        })
    }

    /// Gives `key` a new expiry (`None`: for good), at once; whether it was
    /// set. A deadline already past deletes it.
    pub fn expire(&self, key: &[u8], expires_at: Option<u64>) -> Result<bool> {
        check_key(key)?;
        let key = key.to_vec();
        self.transact(move |t| {
            let Some(current) = t.get(&key)? else {
                return Ok(false);
            };
            if expired(expires_at, t.now_ms()) {
                t.delete(&key)?;
            } else if current.expires_at != expires_at {
                t.set(&key, &current.value, expires_at)?;
            }
            Ok(true)
        })
    }
}

/// A signed 64-bit integer written in decimal as Redis writes one: an
/// optional `-`, then digits, no leading zero (but `0` itself), nothing
/// else; `None` for anything else.
pub fn parse_integer(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    if digits.is_empty()
        || digits.len() > 19
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits[0] == b'0' && (digits.len() > 1 || bytes.len() > 1))
    {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::ManualClock;
    use crate::engine::{Db, Options};

    fn open(clock: &ManualClock) -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options {
            clock: Arc::new(clock.clone()),
            ..Options::default()
        };
        let db = Db::open(dir.path(), opts).unwrap();
        (dir, db)
    }

    #[test]
    fn integers_are_parsed_as_redis_parses_them() {
        for (text, want) in [
            (&b"0"[..], Some(0)),
            (b"-5", Some(-5)),
            (b"9223372036854775807", Some(i64::MAX)),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"9223372036854775808", None),
            (b"007", None),
            (b"-0", None),
            (b"+5", None),
            (b" 5", None),
            (b"5 ", None),
            (b"", None),
            (b"-", None),
            (b"1e3", None),
        ] {
            assert_eq!(
                parse_integer(text),
                want,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn incr_counts_refuses_non_integers_and_overflow_and_keeps_expiry() {
        let clock = ManualClock::new(1_000);
        let (_dir, db) = open(&clock);
        assert_eq!(db.incr(b"n", 1).unwrap(), 1);
        assert_eq!(db.incr(b"n", -3).unwrap(), -2);
        db.set(b"text", b"abc").unwrap();
        assert!(matches!(
            db.incr(b"text", 1),
            Err(Error::NotAnInteger { .. })
        ));
        assert_eq!(db.get(b"text").unwrap(), Some(b"abc".to_vec()));
        db.set(b"big", i64::MAX.to_string().as_bytes()).unwrap();
        assert!(matches!(
            db.incr(b"big", 1),
            Err(Error::IntegerOverflow { .. })
        ));
        db.set_expiring(b"t", b"5", Some(2_000)).unwrap();
        assert_eq!(db.incr(b"t", 1).unwrap(), 6);
        assert_eq!(db.expiry(b"t").unwrap(), Some(Some(2_000)));
        clock.set(2_000);
        assert_eq!(db.get(b"t").unwrap(), None);
        assert_eq!(db.incr(b"t", 1).unwrap(), 1, "an expired key counts as 0");
        assert_eq!(db.expiry(b"t").unwrap(), Some(None));
    }

    #[test]
    fn conditions_take_first_rename_and_expire() {
        let clock = ManualClock::new(10);
        let (_dir, db) = open(&clock);
        let nx = |v: &[u8]| {
            db.set_if(b"k", v, Condition::Absent, Expiry::Clear)
                .unwrap()
        };
        assert!(nx(b"1").stored);
        assert_eq!(
            nx(b"2"),
            SetOutcome {
                stored: false,
                previous: Some(b"1".to_vec()),
            }
        );
        let cas = |old: &[u8], v: &[u8]| {
            db.set_if(b"k", v, Condition::Equals(old.to_vec()), Expiry::Keep)
                .unwrap()
                .stored
        };
        assert!(!cas(b"2", b"3"));
        assert!(cas(b"1", b"3"));
        assert_eq!(db.get(b"k").unwrap(), Some(b"3".to_vec()));
        assert!(
            !db.set_if(b"x", b"v", Condition::Present, Expiry::Clear)
                .unwrap()
                .stored
        );
        assert_eq!(db.get(b"x").unwrap(), None);

        for k in ["job:3", "job:1", "job:2", "other"] {
            db.set(k.as_bytes(), k.as_bytes()).unwrap();
        }
        db.delete(b"job:1").unwrap();
        let popped = db.take_first(b"job:").unwrap();
        assert_eq!(popped, Some((b"job:2".to_vec(), b"job:2".to_vec())));
        assert_eq!(db.take_first(b"job:").unwrap().unwrap().0, b"job:3");
        assert_eq!(db.take_first(b"job:").unwrap(), None);

        assert_eq!(db.rename(b"nope", b"x", false).unwrap(), Renamed::NoSuchKey);
        db.set_expiring(b"a", b"A", Some(100)).unwrap();
        db.set(b"b", b"B").unwrap();
        assert_eq!(db.rename(b"a", b"b", true).unwrap(), Renamed::TargetExists);
        assert_eq!(db.rename(b"a", b"c", false).unwrap(), Renamed::Done);
        assert_eq!(db.get(b"a").unwrap(), None);
        assert_eq!(
            db.get_with_expiry(b"c").unwrap(),
            Some((b"A".to_vec(), Some(100)))
        );
        assert_eq!(db.rename(b"c", b"c", false).unwrap(), Renamed::Done);
        assert_eq!(db.get(b"c").unwrap(), Some(b"A".to_vec()));

        assert!(db.expire(b"b", Some(50)).unwrap());
        assert_eq!(db.expiry(b"b").unwrap(), Some(Some(50)));
        assert!(db.expire(b"b", None).unwrap());
        assert_eq!(db.expiry(b"b").unwrap(), Some(None));
        assert!(!db.expire(b"nope", Some(50)).unwrap());
        assert!(db.expire(b"b", Some(5)).unwrap(), "a past deadline deletes");
        assert_eq!(db.get(b"b").unwrap(), None);
    }

    #[test]
    fn keys_see_the_groups_writes_and_their_own() {
        let clock = ManualClock::new(10);
        let (_dir, db) = open(&clock);
        for k in ["a", "b", "c", "d", "x"] {
            db.set(k.as_bytes(), b"v").unwrap();
        }
        db.set_expiring(b"e", b"v", Some(20)).unwrap();
        let walked = db
            .transact(|t| {
                t.delete(b"b")?;
                t.set(b"bb", b"v", None)?;
                t.set(b"f", b"v", Some(5))?;
                t.set(b"g", b"v", None)?;
                let all = t.keys(b"").collect::<Result<Vec<_>>>()?;
                let after = t.keys(b"").after(b"c").collect::<Result<Vec<_>>>()?;
                Ok((all, after))
            })
            .unwrap();
        let names = |keys: &[Vec<u8>]| -> Vec<String> {
            keys.iter()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect()
        };
        assert_eq!(names(&walked.0), ["a", "bb", "c", "d", "e", "g", "x"]);
        assert_eq!(names(&walked.1), ["d", "e", "g", "x"]);
        clock.set(20);
        let walked = db
            .transact(|t| t.keys(b"").collect::<Result<Vec<_>>>())
            .unwrap();
        assert_eq!(names(&walked), ["a", "bb", "c", "d", "g", "x"]);
        assert_eq!(db.stats().unwrap().expiring, 0);
        db.set_expiring(b"h", b"v", Some(99)).unwrap();
        assert_eq!(db.stats().unwrap().expiring, 1);
    }

    /// Many threads taking from one queue: each key goes to exactly one,
    /// and concurrent increments all count, with group commit sharing
    /// their writes.
    #[test]
    fn concurrent_takers_and_counters() {
        let clock = ManualClock::new(1);
        let (_dir, db) = open(&clock);
        for i in 0..200 {
            db.set(format!("job:{i:03}").as_bytes(), b"todo").unwrap();
        }
        let db = Arc::new(db);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    let mut taken = Vec::new();
                    while let Some((k, _)) = db.take_first(b"job:").unwrap() {
                        taken.push(k);
                        db.incr(b"count", 1).unwrap();
                    }
                    taken
                })
            })
            .collect();
        let mut all: Vec<Vec<u8>> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort();
        let want: Vec<Vec<u8>> = (0..200)
            .map(|i| format!("job:{i:03}").into_bytes())
            .collect();
        assert_eq!(all, want);
        assert_eq!(db.get(b"count").unwrap(), Some(b"200".to_vec()));
    }
}
