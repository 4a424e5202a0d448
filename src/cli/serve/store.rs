//! What a data command reads and writes through, so that one piece of
//! code answers it whether it runs on its own or inside a transaction:
//! [`Reads`] and [`Writes`], with two implementations.
//!
//! - [`DbReads`]: the database as it is now, for a command that only
//!   reads and runs on its own (GET on the event loop, MGET or KEYS on a
//!   worker). Several keys are read at one moment (`Db::get_many`).
//! - [`TxnStore`]: inside an engine transaction (txn.rs in the engine),
//!   for a round's writes and for EXEC: every read sees the writes made
//!   before it in the transaction, and no other writer's; the writes are
//!   gathered, by key, and handed to the transaction at the end
//!   ([`TxnStore::finish`]), so that reading back what the round wrote
//!   costs a hash lookup, however many writes came before.
//!
//! A key the engine cannot hold (empty, or over 64 KiB) is absent to
//! every read here, as it is to GET; a command that would write one says
//! so itself before it writes (see keyspace.rs).
//!
//! Invariants: a [`TxnStore`] touches the watched keys it writes as it
//! writes them (watches.rs), in the order the transaction applies them;
//! its writes reach the engine only through [`TxnStore::finish`], so a
//! transaction that stops early (an engine error, a panic caught) writes
//! nothing; the replies of one command are held to [`MAX_REPLY`] and to
//! the server's reply memory ([`Reads::room`]).

use std::collections::HashMap;
use std::sync::Arc;

use super::cursors::Cursors;
use super::reply::{MAX_REPLY, Output, Replies, bulk_size, too_large};
use super::request::Request;
use super::watches::Watches;
use crate::engine::{Db, Error, Stored, Txn, check_key};

/// A data command that only reads: it replies into the output, and
/// returns `Err` only for the engine's errors (I/O, a poisoned handle),
/// which fail whatever transaction it runs in.
pub type ReadFn = fn(&mut dyn Reads, &[Vec<u8>], &mut Output) -> Result<(), Error>;
/// A data command that writes (its arguments are its own: values move
/// into the store, they are not copied).
pub type WriteFn = fn(&mut dyn Writes, Request, &mut Output) -> Result<(), Error>;

/// How a data command runs.
#[derive(Clone, Copy)]
pub enum Kind {
    /// It only reads.
    Read(ReadFn),
    /// It writes (and may read first).
    Write(WriteFn),
}

/// Whether the engine can hold `key`.
pub fn valid_key(key: &[u8]) -> bool {
    check_key(key).is_ok()
}

/// For a command about to write `key`: false, with the error replied,
/// when the engine cannot hold it.
pub fn writable(key: &[u8], out: &mut Output) -> bool {
    match check_key(key) {
        Ok(()) => true,
        Err(e) => {
            out.error(&format!("ERR {e}"));
            false
        }
    }
}

/// For a command about to reply a value of `len` bytes: false, with the
/// refusal replied, when the reply may not hold it (see [`Reads::room`]).
pub fn room_for(store: &mut dyn Reads, len: usize, command: &str, out: &mut Output) -> bool {
    match store.room(bulk_size(len)) {
        Room::Fits => true,
        Room::TooLarge => {
            out.error(&too_large(command, "ask for less at a time"));
            false
        }
        Room::Busy => {
            out.error(&store.replies().busy(command));
            false
        }
    }
}

/// What a transaction needs of the server, owned: it may run on another
/// thread after the caller's borrows end (round.rs).
#[derive(Clone)]
pub struct Shared {
    /// The watched keys, touched by every write.
    pub watches: Arc<Watches>,
    /// Reply memory.
    pub replies: Arc<Replies>,
    /// SCAN cursors (SCAN inside EXEC).
    pub cursors: Arc<Cursors>,
}

/// Keys in order, as a walk yields them.
pub type KeyWalk<'a> = Box<dyn Iterator<Item = Result<Vec<u8>, Error>> + 'a>;

/// Whether a reply may be built (see [`Reads::room`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Room {
    /// Yes: the bytes are counted.
    Fits,
    /// More than one reply may hold ([`MAX_REPLY`]).
    TooLarge,
    /// More than the server's reply memory has room for now.
    Busy,
}

/// Reads, all at one moment of the database.
pub trait Reads {
    /// The moment expiry is judged at (Unix milliseconds).
    fn now(&self) -> u64;
    /// A key's value and expiry, if it is set.
    fn get(&mut self, key: &[u8]) -> Result<Option<Stored>, Error>;
    /// Whether a key is set.
    fn exists(&mut self, key: &[u8]) -> Result<bool, Error>;
    /// When a key expires: `None` when it is not set.
    fn expiry(&mut self, key: &[u8]) -> Result<Option<Option<u64>>, Error> {
        Ok(self.get(key)?.map(|s| s.expires_at))
    }
    /// The values of several keys, read at one moment.
    fn get_many(&mut self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        keys.iter()
            .map(|k| Ok(self.get(k)?.map(|s| s.value)))
            .collect()
    }
    /// Whether each of several keys is set, at one moment.
    fn exists_many(&mut self, keys: &[&[u8]]) -> Result<Vec<bool>, Error> {
        keys.iter().map(|k| self.exists(k)).collect()
    }
    /// The keys that start with `prefix`, in order, after `after` if given.
    fn keys(&mut self, prefix: &[u8], after: Option<&[u8]>) -> KeyWalk<'_>;
    /// How many keys are set: a walk of every key, unless the store can
    /// ask the engine's kept count (the database's store does).
    fn len(&mut self) -> Result<u64, Error> {
        let mut n = 0;
        for key in self.keys(b"", None) {
            key?;
            n += 1;
        }
        Ok(n)
    }
    /// Whether a reply of `size` more bytes may be built; counts them if so.
    fn room(&mut self, size: usize) -> Room;
    /// The server's reply memory, for building replies.
    fn replies(&self) -> &Arc<Replies>;
    /// The server's SCAN cursors.
    fn cursors(&self) -> &Cursors;
}

/// Writes, on top of the reads, applied at once with them.
pub trait Writes: Reads {
    /// Sets `key` (already checked) to `value`, expiring at `expires_at`.
    fn set(&mut self, key: &[u8], value: Vec<u8>, expires_at: Option<u64>);
    /// Deletes `key`.
    fn delete(&mut self, key: &[u8]);
}

/// Room for `size` more bytes of a reply that holds `used` already.
fn room_in(replies: &Replies, used: &mut usize, size: usize) -> Room {
    let total = used.saturating_add(size);
    if total > MAX_REPLY {
        Room::TooLarge
    } else if !replies.fits(total) {
        Room::Busy
    } else {
        *used = total;
        Room::Fits
    }
}

/// The database as it is now, read only.
pub struct DbReads<'a> {
    db: &'a Db,
    replies: &'a Arc<Replies>,
    cursors: &'a Cursors,
    /// The clock, read when a command first asks (most never do: the
    /// engine judges expiry on its own).
    now: std::cell::Cell<Option<u64>>,
    used: usize,
}

impl<'a> DbReads<'a> {
    /// Reads of `db`, replies counted in `replies`.
    pub fn new(db: &'a Db, replies: &'a Arc<Replies>, cursors: &'a Cursors) -> DbReads<'a> {
        DbReads {
            db,
            replies,
            cursors,
            now: std::cell::Cell::new(None),
            used: 0,
        }
    }
}

impl Reads for DbReads<'_> {
    fn now(&self) -> u64 {
        let now = self.now.get().unwrap_or_else(|| self.db.now_ms());
        self.now.set(Some(now));
        now
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Stored>, Error> {
        if !valid_key(key) {
            return Ok(None);
        }
        let found = self.db.get_with_expiry(key)?;
        Ok(found.map(|(value, expires_at)| Stored { value, expires_at }))
    }

    fn exists(&mut self, key: &[u8]) -> Result<bool, Error> {
        Ok(valid_key(key) && self.db.contains(key)?)
    }

    fn expiry(&mut self, key: &[u8]) -> Result<Option<Option<u64>>, Error> {
        if !valid_key(key) {
            return Ok(None);
        }
        self.db.expiry(key)
    }

    fn get_many(&mut self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        let valid: Vec<&[u8]> = keys.iter().copied().filter(|k| valid_key(k)).collect();
        let mut found = self.db.get_many(&valid)?.into_iter();
        Ok(keys
            .iter()
            .map(|k| {
                if valid_key(k) {
                    found.next().flatten()
                } else {
                    None
                }
            })
            .collect())
    }

    fn exists_many(&mut self, keys: &[&[u8]]) -> Result<Vec<bool>, Error> {
        let valid: Vec<&[u8]> = keys.iter().copied().filter(|k| valid_key(k)).collect();
        let mut found = self.db.contains_many(&valid)?.into_iter();
        Ok(keys
            .iter()
            .map(|k| valid_key(k) && found.next().unwrap_or(false))
            .collect())
    }

    fn keys(&mut self, prefix: &[u8], after: Option<&[u8]>) -> KeyWalk<'_> {
        let walk = self.db.keys(prefix);
        Box::new(match after {
            Some(key) => walk.after(key),
            None => walk,
        })
    }

    fn len(&mut self) -> Result<u64, Error> {
        self.db.len()
    }

    fn room(&mut self, size: usize) -> Room {
        room_in(self.replies, &mut self.used, size)
    }

    fn replies(&self) -> &Arc<Replies> {
        self.replies
    }

    fn cursors(&self) -> &Cursors {
        self.cursors
    }
}

/// Reads and writes inside an engine transaction; see the module doc.
pub struct TxnStore<'a, 'g> {
    txn: &'a mut Txn<'g>,
    /// Each key written so far: its state now (`None`: deleted).
    written: HashMap<Vec<u8>, Option<Stored>>,
    /// The keys of `written`, in the order of their first write.
    order: Vec<Vec<u8>>,
    watches: &'a Watches,
    replies: &'a Arc<Replies>,
    cursors: &'a Cursors,
    used: usize,
}

impl<'a, 'g> TxnStore<'a, 'g> {
    /// A store over `txn`; its writes touch `watches`.
    pub fn new(
        txn: &'a mut Txn<'g>,
        watches: &'a Watches,
        replies: &'a Arc<Replies>,
        cursors: &'a Cursors,
    ) -> TxnStore<'a, 'g> {
        TxnStore {
            txn,
            written: HashMap::new(),
            order: Vec::new(),
            watches,
            replies,
            cursors,
            used: 0,
        }
    }

    /// The next command's reply starts from nothing.
    pub fn next_reply(&mut self) {
        self.used = 0;
    }

    /// Hands the writes to the transaction: each key's last state, a
    /// deletion only where the key was set before.
    pub fn finish(mut self) -> Result<(), Error> {
        for key in std::mem::take(&mut self.order) {
            match self.written.remove(&key) {
                Some(Some(s)) => self.txn.set(&key, &s.value, s.expires_at)?,
                Some(None) if self.txn.exists(&key)? => self.txn.delete(&key)?,
                Some(None) | None => {}
            }
        }
        Ok(())
    }

    fn write(&mut self, key: &[u8], state: Option<Stored>) {
        self.watches.touch([key]);
        if self.written.insert(key.to_vec(), state).is_none() {
            self.order.push(key.to_vec());
        }
    }
}

impl Reads for TxnStore<'_, '_> {
    fn now(&self) -> u64 {
        self.txn.now_ms()
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Stored>, Error> {
        if !valid_key(key) {
            return Ok(None);
        }
        match self.written.get(key) {
            Some(state) => Ok(state.clone()),
            None => self.txn.get(key),
        }
    }

    fn exists(&mut self, key: &[u8]) -> Result<bool, Error> {
        if !valid_key(key) {
            return Ok(false);
        }
        match self.written.get(key) {
            Some(state) => Ok(state.is_some()),
            None => self.txn.exists(key),
        }
    }

    fn keys(&mut self, prefix: &[u8], after: Option<&[u8]>) -> KeyWalk<'_> {
        // The keys this store wrote, sorted, with whether each is set.
        let mut mine: Vec<(&[u8], bool)> = self
            .written
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && after.is_none_or(|a| k.as_slice() > a))
            .map(|(k, s)| (k.as_slice(), s.is_some()))
            .collect();
        mine.sort_unstable();
        let walk = self.txn.keys(prefix);
        let walk = match after {
            Some(key) => walk.after(key),
            None => walk,
        };
        Box::new(Merged {
            below: walk,
            head: None,
            done: false,
            mine: mine.into_iter().peekable(),
            written: &self.written,
        })
    }

    fn room(&mut self, size: usize) -> Room {
        room_in(self.replies, &mut self.used, size)
    }

    fn replies(&self) -> &Arc<Replies> {
        self.replies
    }

    fn cursors(&self) -> &Cursors {
        self.cursors
    }
}

impl Writes for TxnStore<'_, '_> {
    fn set(&mut self, key: &[u8], value: Vec<u8>, expires_at: Option<u64>) {
        self.write(key, Some(Stored { value, expires_at }));
    }

    fn delete(&mut self, key: &[u8]) {
        self.write(key, None);
    }
}

/// The transaction's keys with the store's own writes laid over them.
struct Merged<'w, I> {
    below: I,
    head: Option<Vec<u8>>,
    done: bool,
    mine: std::iter::Peekable<std::vec::IntoIter<(&'w [u8], bool)>>,
    written: &'w HashMap<Vec<u8>, Option<Stored>>,
}

impl<I: Iterator<Item = Result<Vec<u8>, Error>>> Iterator for Merged<'_, I> {
    type Item = Result<Vec<u8>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.head.is_none() && !self.done {
                match self.below.next() {
                    None => self.done = true,
                    Some(Err(e)) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                    // What the store wrote decides for its keys.
                    Some(Ok(key)) if self.written.contains_key(&key) => continue,
                    Some(Ok(key)) => self.head = Some(key),
                }
            }
            let take_mine = match (&self.head, self.mine.peek()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(h), Some((m, _))) => *m < h.as_slice(),
            };
            if !take_mine {
                return self.head.take().map(Ok);
            }
            match self.mine.next() {
                Some((key, true)) => return Some(Ok(key.to_vec())),
                Some((_, false)) => {}
                None => return self.head.take().map(Ok),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transactions_store_reads_and_walks_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Default::default()).unwrap();
        for k in ["a", "c", "d"] {
            db.set(k.as_bytes(), b"old").unwrap();
        }
        let watches = Arc::new(Watches::default());
        let replies = Arc::new(Replies::new(1 << 20));
        let cursors = Arc::new(Cursors::default());
        let walked = db
            .transact(move |txn| {
                let mut store = TxnStore::new(txn, &watches, &replies, &cursors);
                store.set(b"b", b"new".to_vec(), None);
                store.delete(b"c");
                store.set(b"e", b"new".to_vec(), Some(u64::MAX));
                store.delete(b"never");
                assert_eq!(store.get(b"b")?.unwrap().value, b"new");
                assert!(!store.exists(b"c")?);
                assert_eq!(store.expiry(b"e")?, Some(Some(u64::MAX)));
                assert_eq!(store.get(&[]).unwrap(), None, "an empty key is absent");
                let all: Vec<Vec<u8>> = store.keys(b"", None).collect::<Result<_, _>>()?;
                let after: Vec<Vec<u8>> = store.keys(b"", Some(b"b")).collect::<Result<_, _>>()?;
                let n = store.len()?;
                store.finish()?;
                Ok((all, after, n))
            })
            .unwrap();
        let names = |keys: &[Vec<u8>]| -> Vec<String> {
            keys.iter()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect()
        };
        assert_eq!(names(&walked.0), ["a", "b", "d", "e"]);
        assert_eq!(names(&walked.1), ["d", "e"]);
        assert_eq!(walked.2, 4);
        let keys: Vec<Vec<u8>> = db.keys(b"").collect::<Result<_, _>>().unwrap();
        assert_eq!(names(&keys), ["a", "b", "d", "e"]);
        assert_eq!(db.expiry(b"e").unwrap(), Some(Some(u64::MAX)));
    }
}
