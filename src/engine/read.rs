//! The read path: point lookups (`get`, `contains`) and multi-key lookups
//! read at one moment (`get_many`, `contains_many`).
//!
//! Invariant: a lookup runs under the state's read lock without touching a
//! reference count, so a warm get is a few memory reads and readers share
//! no cache line but the lock's; a write becomes visible in one write-lock
//! step (a group's slots, a batch, a seal, a compaction swap), so what one
//! hold of the read lock sees is one moment's state. Damage needs the write
//! lock to heal: a lookup that meets it lets go, heals the index
//! ([`find_in_segments`](Db::find_in_segments)) and is done again.

use std::sync::Arc;

/// What [`Db::get_unless_larger`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bounded {
    /// The key is not set (or has expired).
    Absent,
    /// Its value.
    Value(Vec<u8>),
    /// Its record (header, key and value) is this many bytes, more than
    /// the limit: the value was not read.
    Larger(u64),
}

use super::clock::expired;
use super::segment::{self, Found, Hit, Segment};
use super::{Db, Error, MemSlot, Result, State, check_key, log};

impl Db {
    /// The value of `key`, if it is set (and has not expired).
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let now = self.now_ms();
        Ok(self.find(key, true)?.into_value(now))
    }

    /// The value of `key`, unless its record is longer than `limit` bytes:
    /// then only that length, the value unread. For a reader that must not
    /// stall on a large value (a server's event loop: reading 200 MiB takes
    /// a good part of a second) and hands those to a thread that may.
    /// A value in a segment is found with one lookup.
    pub fn get_unless_larger(&self, key: &[u8], limit: u64) -> Result<Bounded> {
        check_key(key)?;
        let now = self.now_ms();
        let len = {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            match st.mem.get(key) {
                Some(slot) if slot.delete || expired(slot.expires_at(), now) => {
                    return Ok(Bounded::Absent);
                }
                Some(slot) => Some(u64::from(slot.len)),
                None => match segment::newest_record(&st.segments, key, limit) {
                    Ok(None) => return Ok(Bounded::Absent),
                    Ok(Some(hit)) if hit.tag.is_delete() || expired(hit.expires_at, now) => {
                        return Ok(Bounded::Absent);
                    }
                    Ok(Some(Hit {
                        value: Some(value), ..
                    })) => return Ok(Bounded::Value(value)),
                    Ok(Some(hit)) => Some(u64::from(hit.len)),
                    // Damage: the whole lookup below heals it first.
                    Err(Error::Corrupt { .. }) => None,
                    Err(e) => return Err(e),
                },
            }
        };
        if let Some(len) = len.filter(|&len| len > limit) {
            return Ok(Bounded::Larger(len));
        }
        Ok(self.get(key)?.map_or(Bounded::Absent, Bounded::Value))
    }

    /// Whether `key` is set (and has not expired).
    pub fn contains(&self, key: &[u8]) -> Result<bool> {
        let now = self.now_ms();
        Ok(self.find(key, false)?.is_live(now))
    }

    /// When `key` expires: `None` when it is not set, `Some(None)` when it
    /// is set for good, `Some(Some(ms))` when it expires at `ms` (Unix
    /// milliseconds).
    pub fn expiry(&self, key: &[u8]) -> Result<Option<Option<u64>>> {
        let now = self.now_ms();
        Ok(match self.find(key, false)? {
            Found::Live(_, at) if !expired(at, now) => Some(at),
            _ => None,
        })
    }

    /// The value of `key` and when it expires, if it is set: what a dump
    /// or a rename carries along.
    pub fn get_with_expiry(&self, key: &[u8]) -> Result<Option<(Vec<u8>, Option<u64>)>> {
        let now = self.now_ms();
        Ok(match self.find(key, true)? {
            Found::Live(Some(v), at) if !expired(at, now) => Some((v, at)),
            _ => None,
        })
    }

    /// The newest record of `key`: in the active log, else in the
    /// segments (a damaged index healed on the way).
    pub(super) fn find(&self, key: &[u8], want_value: bool) -> Result<Found> {
        check_key(key)?;
        // Under the read lock, with no reference count touched: a warm get
        // is a few memory reads, and two threads' gets share no cache line
        // but the lock's. Damage needs the write lock to heal: it is
        // retried below without this one.
        let segments = {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            if let Some(slot) = st.mem.get(key) {
                return mem_found(self, &st, key, slot, want_value);
            }
            match segment::find(&st.segments, key, want_value) {
                Err(Error::Corrupt { .. }) => Arc::clone(&st.segments),
                other => return other,
            }
        };
        self.find_in_segments(&segments, key, want_value)
    }

    /// The values of `keys`, all read at one moment: no write lands between
    /// two of them, so an atomic batch is seen whole or not at all (what a
    /// server's MGET needs, without locking the keys against writers).
    pub fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let now = self.now_ms();
        Ok(self
            .find_many(keys, true)?
            .into_iter()
            .map(|f| f.into_value(now))
            .collect())
    }

    /// Whether each of `keys` is set, all at one moment (see [`Db::get_many`]).
    pub fn contains_many(&self, keys: &[&[u8]]) -> Result<Vec<bool>> {
        let now = self.now_ms();
        Ok(self
            .find_many(keys, false)?
            .into_iter()
            .map(|f| f.is_live(now))
            .collect())
    }

    /// Looks every key up under one hold of the state's read lock. Damage
    /// found on the way is healed without the lock (one key at a time, as a
    /// get does), and then the whole lookup is done again, so the answer is
    /// still one moment's.
    fn find_many(&self, keys: &[&[u8]], want_value: bool) -> Result<Vec<Found>> {
        for key in keys {
            check_key(key)?;
        }
        for attempt in 0.. {
            let damaged = {
                let st = self.state.read().unwrap_or_else(|p| p.into_inner());
                let mut found = Vec::with_capacity(keys.len());
                let mut damaged = None;
                for key in keys {
                    let f = match st.mem.get(*key) {
                        Some(slot) => mem_found(self, &st, key, slot, want_value)?,
                        None => match segment::find(&st.segments, key, want_value) {
                            Err(Error::Corrupt { .. }) if attempt < 3 => {
                                damaged = Some((Arc::clone(&st.segments), *key));
                                break;
                            }
                            other => other?,
                        },
                    };
                    found.push(f);
                }
                match damaged {
                    None => return Ok(found),
                    Some(d) => d,
                }
            };
            let (segments, key) = damaged;
            self.find_in_segments(&segments, key, want_value)?;
        }
        unreachable!("the loop returns")
    }

    /// Looks `key` up in `segments`, newest first, healing a damaged index
    /// on the way ([`Db::heal`]) and looking again in the rebuilt one, so
    /// that a damaged index never gives a wrong answer and never stops reads;
    /// damage in a segment itself is reported, with its file and offset.
    fn find_in_segments(
        &self,
        segments: &[Arc<Segment>],
        key: &[u8],
        want_value: bool,
    ) -> Result<Found> {
        for seg in segments.iter().rev() {
            let found = match seg.find(key, want_value) {
                // Heal whatever the damage: the rebuild reads the whole log,
                // so damage there is reported by it, with the log's offset.
                Err(Error::Corrupt { .. }) => {
                    let healed = self.heal(seg)?;
                    healed.find(key, want_value)?
                }
                other => other?,
            };
            if !matches!(found, Found::Absent) {
                return Ok(found);
            }
        }
        Ok(Found::Absent)
    }
}

/// What the active log's slot of `key` says.
fn mem_found(db: &Db, st: &State, key: &[u8], slot: &MemSlot, want_value: bool) -> Result<Found> {
    if slot.delete {
        return Ok(Found::Deleted);
    }
    let value = if want_value {
        log::read_value(&*st.wal, &db.wal_path, slot.offset, slot.len, key)?
    } else {
        None
    };
    Ok(Found::Live(value, slot.expires_at()))
}

#[cfg(test)]
mod tests;
