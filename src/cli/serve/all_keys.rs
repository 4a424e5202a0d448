//! The commands that walk the keys: SCAN, KEYS, DBSIZE, FLUSHDB.
//!
//! SCAN resumes a sorted walk strictly after the last key it examined (the
//! engine's `keys(prefix).after(key)`), through the server's cursor table,
//! so it has Redis's guarantee: every key present for the whole scan is
//! returned, and never twice, whatever is written meanwhile. COUNT is, as in
//! Redis, how many keys to examine, not how many to return. A MATCH pattern
//! with a literal prefix walks only the keys with that prefix.
//!
//! Replies are held to [`MAX_REPLY`]: KEYS refuses (pointing to SCAN) a
//! reply that would be larger, and SCAN returns early with the cursor of
//! the last key it examined, which COUNT, a hint, allows.
//!
//! Invariants: KEYS, DBSIZE and SCAN on their own hold no lock (the
//! engine's walk is not a snapshot, like Redis's SCAN); inside EXEC they
//! walk the transaction's keys (the engine's `Txn::keys`), which see its
//! writes. FLUSHDB on its own holds the engine's writer from its walk to
//! its commit (a streamed batch), so no write lands between them, and its
//! deletions are one atomic batch; it touches the watched keys it deletes
//! (watches.rs). Inside EXEC it deletes every key in the transaction.
//!
//! FLUSHDB's memory grows with the number of keys: the engine's streamed
//! batch keeps every key it deletes in memory until the commit (about the
//! key's length plus a few dozen bytes each), since it becomes visible all at
//! once. Deleting in chunks would bound that, but a reader could then see
//! the database half flushed (GET takes no lock), which FLUSHDB must
//! never show; Redis's FLUSHDB is O(n) as well. Documented in the README.

use super::ctx::{Ctx, Flow};
use super::reply::{MAX_REPLY, Output, too_large};
use super::request::Request;
use super::request::parse::parse_int;
use super::store::{Reads, Room, Writes};
use crate::cli::glob::Pattern;
use crate::engine::Error;

/// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type].
pub fn scan(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    let Some(cursor) = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|c| c.parse::<u64>().ok())
    else {
        out.error("ERR invalid cursor");
        return Ok(());
    };
    let (mut pattern, mut count, mut strings) = (None, 10, true);
    let mut options = args[2..].chunks(2);
    for option in options.by_ref() {
        let [name, value] = option else {
            out.error("ERR syntax error");
            return Ok(());
        };
        match name.to_ascii_uppercase().as_slice() {
            b"MATCH" => pattern = Some(Pattern::new(value)),
            b"COUNT" => match parse_int(value) {
                Some(n) if n >= 1 => count = n as usize,
                _ => {
                    out.error("ERR syntax error");
                    return Ok(());
                }
            },
            // Every tinykv value is a string.
            b"TYPE" => strings = value.eq_ignore_ascii_case(b"string"),
            _ => {
                out.error("ERR syntax error");
                return Ok(());
            }
        }
    }
    let after = match cursor {
        0 => None,
        id => match store.cursors().resume(id) {
            Some(key) => Some(key),
            None => {
                out.error("ERR invalid cursor (unknown or expired; start the scan again from 0)");
                return Ok(());
            }
        },
    };
    let pattern = pattern.filter(|p| !p.matches_all());
    let prefix = pattern.as_ref().map_or(&[][..], Pattern::prefix);
    let mut found = Output::new(store.replies());
    let (mut n, mut last, mut examined) = (0, None, 0);
    for key in store.keys(prefix, after.as_deref()) {
        let key = key?;
        examined += 1;
        if strings && pattern.as_ref().is_none_or(|p| p.matches(&key)) {
            found.bulk(&key);
            n += 1;
        }
        // Resuming after the last key examined keeps SCAN's guarantee, so
        // a reply grown to the limit may end early.
        if examined == count || found.pending() >= MAX_REPLY {
            last = Some(key);
            break;
        }
    }
    let next = match last {
        Some(key) => store.cursors().save(key).to_string(),
        None => "0".to_owned(),
    };
    if store.room(found.pending()) != Room::Fits {
        out.error(&store.replies().busy("SCAN"));
        return Ok(());
    }
    out.array(2);
    out.bulk(next.as_bytes());
    out.array(n);
    out.append(found);
    Ok(())
}

/// KEYS pattern: every matching key, sorted.
pub fn keys(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    let pattern = Pattern::new(&args[1]);
    let all = pattern.matches_all();
    let mut found = Output::new(store.replies());
    let mut n = 0;
    for key in store.keys(pattern.prefix(), None) {
        let key = key?;
        if all || pattern.matches(&key) {
            found.bulk_owned(key);
            n += 1;
            if found.pending() > MAX_REPLY {
                let advice = "use SCAN, which returns them a few at a time";
                out.error(&too_large("KEYS", advice));
                return Ok(());
            }
        }
    }
    match store.room(found.pending()) {
        Room::Fits => {
            out.array(n);
            out.append(found);
        }
        Room::TooLarge => {
            let advice = "use SCAN, which returns them a few at a time";
            out.error(&too_large("KEYS", advice));
        }
        Room::Busy => out.error(&store.replies().busy("KEYS")),
    }
    Ok(())
}

/// DBSIZE: the number of keys (the engine's kept count; inside EXEC, a
/// walk of the transaction's keys).
pub fn dbsize(store: &mut dyn Reads, _args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    out.integer(store.len()? as i64);
    Ok(())
}

/// FLUSHDB's and FLUSHALL's one option: false, with the error replied,
/// for anything but ASYNC or SYNC (both flush at once: the deletions are
/// one batch either way).
fn flush_mode_ok(args: &[Vec<u8>], out: &mut Output) -> bool {
    match args.get(1..).unwrap_or_default() {
        [] => true,
        [mode] if mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async") => true,
        _ => {
            out.error("ERR syntax error");
            false
        }
    }
}

/// FLUSHDB / FLUSHALL [ASYNC|SYNC] on its own: deletes every key,
/// atomically, on a worker.
pub fn flushdb(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    if !flush_mode_ok(args, ctx.out) {
        return Flow::Continue;
    }
    let server = ctx.server;
    let result = (|| {
        // The batch holds the writer from here to its commit: what it
        // walks is what it deletes, and no other write comes between.
        let mut batch = server.db.batch_writer()?;
        let mut watched = Vec::new();
        for key in server.watches.watched() {
            if super::store::valid_key(&key) && server.db.contains(&key)? {
                watched.push(key);
            }
        }
        server.watches.touch(watched.iter().map(Vec::as_slice));
        for key in server.db.keys(b"") {
            batch.delete(&key?)?;
        }
        batch.commit()
    })();
    match result {
        Ok(()) => {
            server.compactor.note_write();
            ctx.out.ok();
        }
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// FLUSHDB / FLUSHALL inside EXEC: every key of the transaction deleted.
pub fn flush_in_transaction(
    store: &mut dyn Writes,
    args: Request,
    out: &mut Output,
) -> Result<(), Error> {
    if !flush_mode_ok(&args, out) {
        return Ok(());
    }
    let all: Vec<Vec<u8>> = store.keys(b"", None).collect::<Result<_, _>>()?;
    for key in all {
        store.delete(&key);
    }
    out.ok();
    Ok(())
}
