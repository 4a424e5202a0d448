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
//! Invariants: KEYS, DBSIZE and SCAN hold no lock (the engine's walk is not
//! a snapshot, like Redis's SCAN); FLUSHDB holds every stripe exclusively,
//! so no write of another connection lands between its walk and its commit,
//! and its deletions are one atomic batch streamed to the log.
//!
//! FLUSHDB's memory grows with the number of keys: the engine's streamed
//! batch keeps every key it deletes in memory until the commit (about the
//! key's length plus a few dozen bytes each), since it becomes visible all at
//! once. Deleting in chunks would bound that, but a reader could then see
//! the database half flushed (GET takes no stripe), which FLUSHDB must
//! never show; Redis's FLUSHDB is O(n) as well. Documented in the README.

use super::ctx::{Ctx, Flow};
use super::reply::{MAX_REPLY, Output, too_large};
use super::request::parse::parse_int;
use crate::cli::glob::Pattern;

/// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type].
pub fn scan(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let Some(cursor) = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|c| c.parse::<u64>().ok())
    else {
        ctx.out.error("ERR invalid cursor");
        return Flow::Continue;
    };
    let (mut pattern, mut count, mut strings) = (None, 10, true);
    let mut options = args[2..].chunks(2);
    for option in options.by_ref() {
        let [name, value] = option else {
            return ctx.syntax_error();
        };
        match name.to_ascii_uppercase().as_slice() {
            b"MATCH" => pattern = Some(Pattern::new(value)),
            b"COUNT" => match parse_int(value) {
                Some(n) if n >= 1 => count = n as usize,
                _ => return ctx.syntax_error(),
            },
            // Every tinykv value is a string.
            b"TYPE" => strings = value.eq_ignore_ascii_case(b"string"),
            _ => return ctx.syntax_error(),
        }
    }
    let server = ctx.server;
    let after = match cursor {
        0 => None,
        id => match server.cursors.resume(id) {
            Some(key) => Some(key),
            None => {
                ctx.out
                    .error("ERR invalid cursor (unknown or expired; start the scan again from 0)");
                return Flow::Continue;
            }
        },
    };
    let pattern = pattern.filter(|p| !p.matches_all());
    let prefix = pattern.as_ref().map_or(&[][..], Pattern::prefix);
    let mut walk = server.db.keys(prefix);
    if let Some(key) = &after {
        walk = walk.after(key);
    }
    let (mut found, mut n, mut last, mut examined) = (Output::new(&server.replies), 0, None, 0);
    for key in walk.by_ref() {
        let key = match key {
            Ok(k) => k,
            Err(e) => {
                ctx.engine_error(&e);
                return Flow::Continue;
            }
        };
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
        Some(key) => server.cursors.save(key).to_string(),
        None => "0".to_owned(),
    };
    if !server.replies.fits(found.pending()) {
        ctx.out.error(&server.replies.busy("SCAN"));
        return Flow::Continue;
    }
    ctx.out.array(2);
    ctx.out.bulk(next.as_bytes());
    ctx.out.array(n);
    ctx.out.append(found);
    Flow::Continue
}

/// KEYS pattern: every matching key, sorted.
pub fn keys(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let pattern = Pattern::new(&args[1]);
    let all = pattern.matches_all();
    let replies = &ctx.server.replies;
    let (mut found, mut n) = (Output::new(replies), 0);
    for key in ctx.server.db.keys(pattern.prefix()) {
        match key {
            Ok(key) if all || pattern.matches(&key) => {
                found.bulk_owned(key);
                n += 1;
                if found.pending() > MAX_REPLY {
                    let advice = "use SCAN, which returns them a few at a time";
                    ctx.out.error(&too_large("KEYS", advice));
                    return Flow::Continue;
                }
            }
            Ok(_) => {}
            Err(e) => {
                ctx.engine_error(&e);
                return Flow::Continue;
            }
        }
    }
    if !replies.fits(found.pending()) {
        ctx.out.error(&replies.busy("KEYS"));
        return Flow::Continue;
    }
    ctx.out.array(n);
    ctx.out.append(found);
    Flow::Continue
}

/// DBSIZE: the number of keys (a walk of every key).
pub fn dbsize(ctx: &mut Ctx<'_>, _args: &[Vec<u8>]) -> Flow {
    match ctx.server.db.len() {
        Ok(n) => ctx.out.integer(n as i64),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// FLUSHDB / FLUSHALL [ASYNC|SYNC]: deletes every key, atomically.
pub fn flushdb(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    match args.get(1..).unwrap_or_default() {
        [] => {}
        [mode] if mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async") => {}
        _ => return ctx.syntax_error(),
    }
    let server = ctx.server;
    let _all = server.stripes.lock_all();
    let result = (|| {
        let mut batch = server.db.batch_writer()?;
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
