//! Keys that expire: TTL, PTTL, EXPIRETIME, PEXPIRETIME; EXPIRE,
//! PEXPIRE, EXPIREAT, PEXPIREAT (with Redis 7's NX, XX, GT, LT);
//! PERSIST; and the deadlines SET, SETEX, PSETEX and GETEX take
//! ([`Deadline`]).
//!
//! A deadline is wall-clock Unix milliseconds, as the engine keeps it
//! (its clock: clock.rs); a relative one counts from the moment the
//! command runs (inside a transaction, the transaction's moment). Redis's
//! arithmetic and checks are kept to the letter: a time that is not an
//! integer, not positive where it must be, or that overflows on its way
//! to milliseconds is the same error as Redis's; TTL rounds to the nearest
//! second; EXPIRE to a moment already past deletes the key and says 1.
//!
//! Invariant: changing a key's expiry rewrites its value with the new
//! deadline (the engine keeps the deadline in the value's record), in the
//! same transaction as the read, so no write comes between.

use super::reply::Output;
use super::request::Request;
use super::store::{Reads, Writes};
use crate::engine::{Error, parse_integer};

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// How a time argument counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Seconds from now (EX, SETEX).
    Seconds,
    /// Milliseconds from now (PX, PSETEX).
    Millis,
    /// A Unix time in seconds (EXAT).
    UnixSeconds,
    /// A Unix time in milliseconds (PXAT).
    UnixMillis,
}

impl Deadline {
    fn seconds(self) -> bool {
        matches!(self, Deadline::Seconds | Deadline::UnixSeconds)
    }

    fn relative(self) -> bool {
        matches!(self, Deadline::Seconds | Deadline::Millis)
    }

    /// The deadline `arg` names, as SET, SETEX and GETEX read it (it must
    /// be positive); the error names `command`.
    pub fn at(self, arg: &[u8], now: u64, command: &str) -> Result<u64, String> {
        let n = parse_integer(arg).ok_or(NOT_INTEGER)?;
        let invalid = || format!("ERR invalid expire time in '{command}' command");
        if n <= 0 || self.seconds() && n > i64::MAX / 1000 {
            return Err(invalid());
        }
        let ms = if self.seconds() { n * 1000 } else { n };
        let base = if self.relative() { clock(now) } else { 0 };
        match ms.checked_add(base) {
            Some(at) if at > 0 => Ok(at as u64),
            _ => Err(invalid()),
        }
    }
}

/// The engine's clock as Redis's signed milliseconds.
fn clock(now: u64) -> i64 {
    i64::try_from(now).unwrap_or(i64::MAX)
}

/// TTL key: seconds left, rounded; -1 for a key that does not expire,
/// -2 for a missing one.
pub fn ttl(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    time_left(store, &args[1], false, false, out)
}

/// PTTL key: milliseconds left.
pub fn pttl(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    time_left(store, &args[1], true, false, out)
}

/// EXPIRETIME key: the deadline, Unix seconds.
pub fn expiretime(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    time_left(store, &args[1], false, true, out)
}

/// PEXPIRETIME key: the deadline, Unix milliseconds.
pub fn pexpiretime(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    time_left(store, &args[1], true, true, out)
}

fn time_left(
    store: &mut dyn Reads,
    key: &[u8],
    ms: bool,
    absolute: bool,
    out: &mut Output,
) -> Result<(), Error> {
    let n = match store.expiry(key)? {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let at = clock(at);
            let left = if absolute {
                at
            } else {
                at.saturating_sub(clock(store.now()))
            };
            let left = left.max(0);
            if ms {
                left
            } else {
                left.saturating_add(500) / 1000
            }
        }
    };
    out.integer(n);
    Ok(())
}

/// EXPIRE's conditions (Redis 7).
#[derive(Debug, Default)]
struct Only {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Only {
    /// The options after the time, with Redis's errors.
    fn parse(args: &[Vec<u8>]) -> Result<Only, String> {
        let mut o = Only::default();
        for arg in args {
            match arg.to_ascii_uppercase().as_slice() {
                b"NX" => o.nx = true,
                b"XX" => o.xx = true,
                b"GT" => o.gt = true,
                b"LT" => o.lt = true,
                _ => {
                    let shown = String::from_utf8_lossy(arg);
                    return Err(format!("ERR Unsupported option {shown}"));
                }
            }
        }
        if o.nx && (o.xx || o.gt || o.lt) {
            return Err(
                "ERR NX and XX, GT or LT options at the same time are not compatible".to_owned(),
            );
        }
        if o.gt && o.lt {
            return Err("ERR GT and LT options at the same time are not compatible".to_owned());
        }
        Ok(o)
    }

    /// Whether the new deadline `when` may replace `current` (`None`:
    /// the key does not expire, which GT and LT count as forever).
    fn allows(&self, current: Option<i64>, when: i64) -> bool {
        !(self.nx && current.is_some()
            || self.xx && current.is_none()
            || self.gt && current.is_none_or(|c| when <= c)
            || self.lt && current.is_some_and(|c| when >= c))
    }
}

/// EXPIRE key seconds [NX | XX | GT | LT].
pub fn expire(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    set_expiry(store, &args, Deadline::Seconds, "expire", out)
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT].
pub fn pexpire(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    set_expiry(store, &args, Deadline::Millis, "pexpire", out)
}

/// EXPIREAT key unix-seconds [NX | XX | GT | LT].
pub fn expireat(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    set_expiry(store, &args, Deadline::UnixSeconds, "expireat", out)
}

/// PEXPIREAT key unix-milliseconds [NX | XX | GT | LT].
pub fn pexpireat(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    set_expiry(store, &args, Deadline::UnixMillis, "pexpireat", out)
}

/// The EXPIRE family: `:1` when the deadline was set (or, past already,
/// the key deleted), `:0` when the key is missing or a condition failed.
fn set_expiry(
    store: &mut dyn Writes,
    args: &[Vec<u8>],
    unit: Deadline,
    command: &str,
    out: &mut Output,
) -> Result<(), Error> {
    let only = match Only::parse(&args[3..]) {
        Ok(o) => o,
        Err(e) => {
            out.error(&e);
            return Ok(());
        }
    };
    let Some(mut when) = parse_integer(&args[2]) else {
        out.error(NOT_INTEGER);
        return Ok(());
    };
    let invalid = format!("ERR invalid expire time in '{command}' command");
    if unit.seconds() {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => {
                out.error(&invalid);
                return Ok(());
            }
        }
    }
    let now = clock(store.now());
    let base = if unit.relative() { now } else { 0 };
    let Some(when) = when.checked_add(base) else {
        out.error(&invalid);
        return Ok(());
    };
    let key = &args[1];
    let Some(current) = store.get(key)? else {
        out.integer(0);
        return Ok(());
    };
    if !only.allows(current.expires_at.map(clock), when) {
        out.integer(0);
        return Ok(());
    }
    if when <= now {
        store.delete(key);
    } else {
        store.set(key, current.value, Some(when as u64));
    }
    out.integer(1);
    Ok(())
}

/// PERSIST key: `:1` when the key had an expiry, now gone.
pub fn persist(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    let key = &args[1];
    match store.get(key)? {
        Some(current) if current.expires_at.is_some() => {
            store.set(key, current.value, None);
            out.integer(1);
        }
        _ => out.integer(0),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_checked_as_redis_checks_them() {
        let now = 1_000_000;
        let at = |d: Deadline, arg: &str| d.at(arg.as_bytes(), now, "set");
        assert_eq!(at(Deadline::Seconds, "10"), Ok(now + 10_000));
        assert_eq!(at(Deadline::Millis, "10"), Ok(now + 10));
        assert_eq!(at(Deadline::UnixSeconds, "5"), Ok(5_000));
        assert_eq!(at(Deadline::UnixMillis, "5"), Ok(5));
        let invalid = Err("ERR invalid expire time in 'set' command".to_owned());
        for bad in ["0", "-1", "9223372036854775807", "9223372036854776"] {
            assert_eq!(at(Deadline::Seconds, bad), invalid, "{bad}");
        }
        assert_eq!(at(Deadline::Millis, "9223372036854775807"), invalid);
        assert_eq!(at(Deadline::Seconds, "9223372036854775").ok(), None);
        assert!(at(Deadline::Seconds, "922337203685477").is_ok());
        assert_eq!(at(Deadline::Seconds, "x"), Err(NOT_INTEGER.to_owned()));
        assert_eq!(at(Deadline::Seconds, "007"), Err(NOT_INTEGER.to_owned()));
    }

    #[test]
    fn expire_conditions() {
        let only = |list: &[&str]| {
            let args: Vec<Vec<u8>> = list.iter().map(|a| a.as_bytes().to_vec()).collect();
            Only::parse(&args)
        };
        assert!(
            only(&["nx", "xx"])
                .unwrap_err()
                .starts_with("ERR NX and XX")
        );
        assert!(
            only(&["gt", "LT"])
                .unwrap_err()
                .starts_with("ERR GT and LT")
        );
        assert_eq!(only(&["fOo"]).err().unwrap(), "ERR Unsupported option fOo");
        let gt = only(&["GT"]).unwrap();
        assert!(!gt.allows(None, 5) && !gt.allows(Some(5), 5) && gt.allows(Some(4), 5));
        let lt = only(&["LT"]).unwrap();
        assert!(lt.allows(None, 5) && !lt.allows(Some(5), 5) && lt.allows(Some(6), 5));
        let xx = only(&["xx", "gt"]).unwrap();
        assert!(!xx.allows(None, 5) && xx.allows(Some(1), 5));
        assert!(only(&["NX"]).unwrap().allows(None, 1));
    }
}
