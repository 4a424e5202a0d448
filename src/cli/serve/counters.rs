//! Counters: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT, with Redis's
//! parsing (a signed 64-bit decimal integer as `string2ll` reads it; a
//! float as `strtold` does, long_double.rs) and errors. A missing key
//! counts as 0; the key keeps its expiry, as in Redis.
//!
//! Invariant: the read and the write of one increment happen in one
//! transaction (they run in the event loop's round, round.rs), so
//! concurrent increments of one key all count, whoever else writes the
//! database meanwhile.

use super::long_double::LongDouble;
use super::reply::Output;
use super::request::Request;
use super::store::{Writes, writable};
use crate::engine::{Error, parse_integer};

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";

/// INCR key.
pub fn incr(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    add(store, &args[1], 1, out)
}

/// DECR key.
pub fn decr(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    add(store, &args[1], -1, out)
}

/// INCRBY key increment.
pub fn incrby(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    match parse_integer(&args[2]) {
        Some(by) => add(store, &args[1], by, out),
        None => {
            out.error(NOT_INTEGER);
            Ok(())
        }
    }
}

/// DECRBY key decrement.
pub fn decrby(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    match parse_integer(&args[2]).map(i64::checked_neg) {
        Some(Some(by)) => add(store, &args[1], by, out),
        Some(None) => {
            out.error("ERR decrement would overflow");
            Ok(())
        }
        None => {
            out.error(NOT_INTEGER);
            Ok(())
        }
    }
}

fn add(store: &mut dyn Writes, key: &[u8], by: i64, out: &mut Output) -> Result<(), Error> {
    if !writable(key, out) {
        return Ok(());
    }
    let current = store.get(key)?;
    let (value, expires_at) = match current {
        None => (0, None),
        Some(s) => match parse_integer(&s.value) {
            Some(n) => (n, s.expires_at),
            None => {
                out.error(NOT_INTEGER);
                return Ok(());
            }
        },
    };
    let Some(sum) = value.checked_add(by) else {
        out.error("ERR increment or decrement would overflow");
        return Ok(());
    };
    store.set(key, sum.to_string().into_bytes(), expires_at);
    out.integer(sum);
    Ok(())
}

/// INCRBYFLOAT key increment: the new value, as Redis prints it.
pub fn incrbyfloat(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    let key = &args[1];
    if !writable(key, out) {
        return Ok(());
    }
    let current = store.get(key)?;
    let (value, expires_at) = match &current {
        None => (LongDouble::parse(b"0"), None),
        Some(s) => (LongDouble::parse(&s.value), s.expires_at),
    };
    let (Some(value), Some(by)) = (value, LongDouble::parse(&args[2])) else {
        out.error(NOT_FLOAT);
        return Ok(());
    };
    let Some(text) = value.add(&by).ok().and_then(|sum| sum.to_text()) else {
        out.error("ERR increment would produce NaN or Infinity");
        return Ok(());
    };
    let text = text.into_bytes();
    out.bulk(&text);
    store.set(key, text, expires_at);
    Ok(())
}
