//! The string commands: GET, MGET, STRLEN, SET (NX XX GET IFEQ EX PX
//! EXAT PXAT KEEPTTL), SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, MSET
//! (inside EXEC: on its own it is a plain write, keyspace.rs), MSETNX,
//! APPEND. Each is one function over the store (store.rs), with Redis 7's
//! replies and errors, in Redis's order: options are parsed whole (a
//! syntax error first), then an expiry is checked, then the key is read.
//!
//! IFEQ is Valkey's (8.1): SET only when the key holds exactly the given
//! value; it goes with GET but not with NX or XX. A deadline already past
//! (EXAT, PXAT) stores nothing and deletes the key, which Redis shows the
//! same way (the key is gone, the reply is OK).
//!
//! Invariants: a value that would be replied is checked against the
//! reply limits before anything is written (GETDEL never deletes what it
//! cannot return); MGET reads every key at one moment and each distinct
//! key once, however often it is named.

use super::expiry::Deadline;
use super::reply::{Output, bulk_size};
use super::request::Request;
use super::store::{Reads, Room, Writes, room_for, writable};
use crate::engine::{Error, MAX_VALUE_LEN, Stored, check_pair};

/// GET key.
pub fn get(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    let value = store.get(&args[1])?.map(|s| s.value);
    reply_get(store, value, out)
}

/// GET's reply, once the value is read (the event loop reads a small one
/// itself: conn/route.rs).
pub fn reply_get(
    store: &mut dyn Reads,
    value: Option<Vec<u8>>,
    out: &mut Output,
) -> Result<(), Error> {
    if let Some(v) = &value
        && !room_for(store, v.len(), "GET", out)
    {
        return Ok(());
    }
    out.optional_owned(value);
    Ok(())
}

/// STRLEN key: the value's length, 0 when missing.
pub fn strlen(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    let len = store.get(&args[1])?.map_or(0, |s| s.value.len());
    out.integer(len as i64);
    Ok(())
}

/// The bytes of a nil reply, `$-1\r\n`.
const NIL_SIZE: usize = 5;

/// MGET key...: nil for each missing key; every key read at one moment.
pub fn mget(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    let keys = &args[1..];
    // Each distinct key is read once, however often it is named: a request
    // naming one key a million times costs one read, not a million values.
    let mut distinct: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut values = store.get_many(&distinct)?;
    let slots: Vec<usize> = keys
        .iter()
        .filter_map(|k| distinct.binary_search(&k.as_slice()).ok())
        .collect();
    let mut size = 0usize;
    let mut uses = vec![0u32; distinct.len()];
    for &i in &slots {
        uses[i] += 1;
        size = size.saturating_add(values[i].as_ref().map_or(NIL_SIZE, |v| bulk_size(v.len())));
    }
    match store.room(size) {
        Room::Fits => {}
        Room::TooLarge => {
            let advice = "ask for fewer keys at a time";
            out.error(&super::reply::too_large("MGET", advice));
            return Ok(());
        }
        Room::Busy => {
            out.error(&store.replies().busy("MGET"));
            return Ok(());
        }
    }
    out.array(slots.len());
    for i in slots {
        // The last use of a value moves it into the reply, unless copied.
        uses[i] -= 1;
        if uses[i] == 0 {
            out.optional_owned(values[i].take());
        } else {
            out.optional(values[i].as_deref());
        }
    }
    Ok(())
}

/// Which command's options ([`options`]): SET's or GETEX's.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum For {
    Set,
    GetEx,
}

/// SET's and GETEX's options, as Redis 7 parses them (with Valkey's IFEQ).
#[derive(Default)]
pub struct Options<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// GETEX PERSIST.
    pub persist: bool,
    ifeq: Option<&'a [u8]>,
    /// EX, PX, EXAT or PXAT, and its argument (the last one given).
    pub expire: Option<(Deadline, &'a [u8])>,
}

/// Parses the options after the key (and value); `None` is a syntax
/// error. An option that conflicts with one given before it is one.
pub fn options(args: &[Vec<u8>], command: For) -> Option<Options<'_>> {
    let mut o = Options::default();
    let set = command == For::Set;
    let mut i = 0;
    while i < args.len() {
        let next = args.get(i + 1).map(Vec::as_slice);
        let deadline = match args[i].to_ascii_uppercase().as_slice() {
            b"NX" if set && !o.xx && o.ifeq.is_none() => {
                o.nx = true;
                None
            }
            b"XX" if set && !o.nx && o.ifeq.is_none() => {
                o.xx = true;
                None
            }
            b"IFEQ" if set && !o.nx && !o.xx && o.ifeq.is_none() && next.is_some() => {
                o.ifeq = next;
                i += 1;
                None
            }
            b"GET" if set => {
                o.get = true;
                None
            }
            b"KEEPTTL" if set && o.expire.is_none() => {
                o.keepttl = true;
                None
            }
            b"PERSIST" if !set && o.expire.is_none() => {
                o.persist = true;
                None
            }
            b"EX" => Some(Deadline::Seconds),
            b"PX" => Some(Deadline::Millis),
            b"EXAT" => Some(Deadline::UnixSeconds),
            b"PXAT" => Some(Deadline::UnixMillis),
            _ => return None,
        };
        if let Some(d) = deadline {
            // EX again replaces EX; EX after PX (or KEEPTTL) is an error.
            let free = !o.keepttl && !o.persist && o.expire.is_none_or(|(e, _)| e == d);
            let (true, Some(arg)) = (free, next) else {
                return None;
            };
            o.expire = Some((d, arg));
            i += 1;
        }
        i += 1;
    }
    Some(o)
}

/// When the key's value holds after a write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// For good: a plain write clears an expiry.
    Clear,
    /// As it was (KEEPTTL).
    Same,
    /// Until then (Unix milliseconds).
    At(u64),
}

/// Whether the write is made.
enum Condition {
    Always,
    Absent,
    Present,
    Equals(Vec<u8>),
}

/// What the command replies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// `+OK`, or nil when the condition failed.
    Ok,
    /// The old value (or nil), either way (SET … GET, GETSET).
    Old,
    /// `:1` when written, `:0` when not (SETNX).
    Done,
}

/// SET key value [NX | XX | IFEQ old] [GET] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL].
pub fn set(store: &mut dyn Writes, mut args: Request, out: &mut Output) -> Result<(), Error> {
    let Some(o) = options(&args[3..], For::Set) else {
        out.error("ERR syntax error");
        return Ok(());
    };
    let keep = match o.expire {
        Some((d, arg)) => match d.at(arg, store.now(), "set") {
            Ok(at) => Keep::At(at),
            Err(e) => {
                out.error(&e);
                return Ok(());
            }
        },
        None if o.keepttl => Keep::Same,
        None => Keep::Clear,
    };
    let condition = match (o.nx, o.xx, o.ifeq) {
        (true, _, _) => Condition::Absent,
        (_, true, _) => Condition::Present,
        (_, _, Some(old)) => Condition::Equals(old.to_vec()),
        _ => Condition::Always,
    };
    let answer = if o.get { Answer::Old } else { Answer::Ok };
    let value = std::mem::take(&mut args[2]);
    store_value(store, &args[1], value, condition, keep, answer, out)
}

/// SETNX key value: `:1` when set, `:0` when the key existed.
pub fn setnx(store: &mut dyn Writes, mut args: Request, out: &mut Output) -> Result<(), Error> {
    let value = std::mem::take(&mut args[2]);
    store_value(
        store,
        &args[1],
        value,
        Condition::Absent,
        Keep::Clear,
        Answer::Done,
        out,
    )
}

/// SETEX key seconds value.
pub fn setex(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    set_expiring(store, args, Deadline::Seconds, "setex", out)
}

/// PSETEX key milliseconds value.
pub fn psetex(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    set_expiring(store, args, Deadline::Millis, "psetex", out)
}

fn set_expiring(
    store: &mut dyn Writes,
    mut args: Request,
    unit: Deadline,
    command: &str,
    out: &mut Output,
) -> Result<(), Error> {
    let at = match unit.at(&args[2], store.now(), command) {
        Ok(at) => at,
        Err(e) => {
            out.error(&e);
            return Ok(());
        }
    };
    let value = std::mem::take(&mut args[3]);
    store_value(
        store,
        &args[1],
        value,
        Condition::Always,
        Keep::At(at),
        Answer::Ok,
        out,
    )
}

/// GETSET key value: the old value; the new one is set for good.
pub fn getset(store: &mut dyn Writes, mut args: Request, out: &mut Output) -> Result<(), Error> {
    let value = std::mem::take(&mut args[2]);
    store_value(
        store,
        &args[1],
        value,
        Condition::Always,
        Keep::Clear,
        Answer::Old,
        out,
    )
}

/// The write of SET and its kin, once the arguments are checked.
fn store_value(
    store: &mut dyn Writes,
    key: &[u8],
    value: Vec<u8>,
    condition: Condition,
    keep: Keep,
    answer: Answer,
    out: &mut Output,
) -> Result<(), Error> {
    if let Err(e) = check_pair(key, &value) {
        out.error(&format!("ERR {e}"));
        return Ok(());
    }
    let needs_value = answer == Answer::Old || matches!(condition, Condition::Equals(_));
    let current = if needs_value || keep == Keep::Same {
        store.get(key)?
    } else if matches!(condition, Condition::Always) {
        None
    } else {
        // Only whether it is set matters: a placeholder stands for it.
        store.exists(key)?.then(|| Stored {
            value: Vec::new(),
            expires_at: None,
        })
    };
    let holds = match &condition {
        Condition::Always => true,
        Condition::Absent => current.is_none(),
        Condition::Present => current.is_some(),
        Condition::Equals(old) => current.as_ref().is_some_and(|c| &c.value == old),
    };
    if answer == Answer::Old
        && let Some(c) = &current
        && !room_for(store, c.value.len(), "SET", out)
    {
        return Ok(());
    }
    if holds {
        let expires_at = match keep {
            Keep::Clear => None,
            Keep::Same => current.as_ref().and_then(|c| c.expires_at),
            Keep::At(at) => Some(at),
        };
        if expires_at.is_some_and(|at| at <= store.now()) {
            store.delete(key);
        } else {
            store.set(key, value, expires_at);
        }
    }
    match answer {
        Answer::Old => out.optional_owned(current.map(|c| c.value)),
        Answer::Ok if holds => out.ok(),
        Answer::Ok => out.nil(),
        Answer::Done => out.integer(i64::from(holds)),
    }
    Ok(())
}

/// GETDEL key: the value, and the key is gone.
pub fn getdel(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    let key = &args[1];
    let Some(current) = store.get(key)? else {
        out.nil();
        return Ok(());
    };
    if !room_for(store, current.value.len(), "GETDEL", out) {
        return Ok(());
    }
    store.delete(key);
    out.bulk_owned(current.value);
    Ok(())
}

/// GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]: the value, with
/// its expiry changed as asked.
pub fn getex(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    let Some(o) = options(&args[2..], For::GetEx) else {
        out.error("ERR syntax error");
        return Ok(());
    };
    let key = &args[1];
    // A missing key is nil before its expiry is even looked at (Redis's order).
    let Some(current) = store.get(key)? else {
        out.nil();
        return Ok(());
    };
    let at = match o.expire {
        Some((d, arg)) => match d.at(arg, store.now(), "getex") {
            Ok(at) => Some(at),
            Err(e) => {
                out.error(&e);
                return Ok(());
            }
        },
        None => None,
    };
    if !room_for(store, current.value.len(), "GETEX", out) {
        return Ok(());
    }
    match at {
        Some(at) if at <= store.now() => store.delete(key),
        Some(at) => store.set(key, current.value.clone(), Some(at)),
        None if o.persist && current.expires_at.is_some() => {
            store.set(key, current.value.clone(), None);
        }
        None => {}
    }
    out.bulk_owned(current.value);
    Ok(())
}

/// The pairs of MSET and MSETNX, checked; `None` with the error replied.
fn pairs<'a>(args: &'a [Vec<u8>], command: &str, out: &mut Output) -> Option<Vec<&'a [u8]>> {
    if args.len() < 3 || args.len().is_multiple_of(2) {
        out.error(&super::reply::wrong_arity(command));
        return None;
    }
    for pair in args[1..].chunks_exact(2) {
        if let Err(e) = check_pair(&pair[0], &pair[1]) {
            out.error(&format!("ERR {e}"));
            return None;
        }
    }
    Some(args[1..].iter().step_by(2).map(Vec::as_slice).collect())
}

/// Sets every pair of MSET's arguments (checked), for good.
fn set_all(store: &mut dyn Writes, args: Request) {
    let mut rest = args.into_iter().skip(1);
    while let (Some(key), Some(value)) = (rest.next(), rest.next()) {
        store.set(&key, value, None);
    }
}

/// MSET key value [key value...] (inside EXEC).
pub fn mset(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    if pairs(&args, "mset", out).is_some() {
        set_all(store, args);
        out.ok();
    }
    Ok(())
}

/// MSETNX key value [key value...]: `:1` when no key was set and every
/// pair is now, `:0` (and nothing written) when one was.
pub fn msetnx(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    let Some(keys) = pairs(&args, "msetnx", out) else {
        return Ok(());
    };
    for key in keys {
        if store.exists(key)? {
            out.integer(0);
            return Ok(());
        }
    }
    set_all(store, args);
    out.integer(1);
    Ok(())
}

/// APPEND key value: the new length; the key keeps its expiry.
pub fn append(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    let key = &args[1];
    if !writable(key, out) {
        return Ok(());
    }
    let (mut value, expires_at) = match store.get(key)? {
        Some(s) => (s.value, s.expires_at),
        None => (Vec::new(), None),
    };
    if value.len().saturating_add(args[2].len()) > MAX_VALUE_LEN {
        out.error(&format!(
            "ERR string exceeds maximum allowed size (tinykv values are at most {MAX_VALUE_LEN} \
             bytes)"
        ));
        return Ok(());
    }
    value.extend_from_slice(&args[2]);
    let len = value.len();
    store.set(key, value, expires_at);
    out.integer(len as i64);
    Ok(())
}

#[cfg(test)]
mod tests;
