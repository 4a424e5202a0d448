//! The read-modify-write operations built on [`Txn`](super::Txn):
//! `incr`, `set_if` (compare-and-set, expiry kept, cleared or set),
//! `take_first` (a queue's pop), `rename`, `expire`, and the integers they
//! read.

use super::super::clock::expired;
use super::super::{Db, Error, LARGE_VALUE, Result, check_key, check_value};

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
        if value.len() >= LARGE_VALUE && !expired(expires_at, self.now_ms()) {
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
