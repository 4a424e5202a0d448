//! The commands on keys: GET, SET (NX, XX, GET), SETNX, MGET, MSET, DEL,
//! EXISTS, TYPE, STRLEN.
//!
//! Invariants: a write is answered only once the engine's write returned
//! (fsynced under `--sync always`); a read and the write that depends on it
//! (NX, XX, SET … GET, DEL's count) run under the key's stripe held
//! exclusively, so no other connection's write comes between them; reads of
//! several keys (MGET, EXISTS) read every key at one moment through the
//! engine ([`Db::get_many`](crate::engine::Db::get_many)), so they never see
//! half of an MSET, and take no stripe, so they never wait for a write (nor
//! for the compaction a write waits for). MGET's reply is held to
//! [`MAX_REPLY`]: a key named many times is read once, and a reply that
//! would be larger is refused before it is built. A key the engine cannot
//! hold (empty, or over 64 KiB) is simply absent to a read, and an error to a write. Plain SET and MSET usually do
//! not come here at all: the connection batches them (see conn/mod.rs) through
//! [`blind_write`].

use std::collections::BTreeSet;

use super::ctx::{Ctx, Flow};
use super::reply::{MAX_REPLY, bulk_size, too_large, wrong_arity};
use super::stripes::Mode;
use crate::engine::{Error, check_key, check_pair};

/// Whether the engine can hold `key`.
pub fn valid_key(key: &[u8]) -> bool {
    check_key(key).is_ok()
}

/// Keys and values to write.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// For a plain `SET k v` or an `MSET`: the pairs to write, which need no
/// read, so the connection may add them to its batch. `None` for any other
/// request (SET with options included); `Some(Err(reply))` for a bad one.
pub fn blind_write(args: &mut [Vec<u8>]) -> Option<Result<Pairs, String>> {
    let name = &args[0];
    let pairs = if name.eq_ignore_ascii_case(b"set") && args.len() == 3 {
        &mut args[1..]
    } else if name.eq_ignore_ascii_case(b"mset") {
        if args.len() < 3 || args.len().is_multiple_of(2) {
            return Some(Err(wrong_arity("mset")));
        }
        &mut args[1..]
    } else {
        return None;
    };
    let mut out = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks_exact_mut(2) {
        if let Err(e) = check_pair(&pair[0], &pair[1]) {
            return Some(Err(format!("ERR {e}")));
        }
        out.push((std::mem::take(&mut pair[0]), std::mem::take(&mut pair[1])));
    }
    Some(Ok(out))
}

/// GET key.
pub fn get(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    match read(ctx, &args[1]) {
        Ok(Some(value)) if !ctx.server.replies.fits(bulk_size(value.len())) => {
            ctx.out.error(&ctx.server.replies.busy("GET"));
        }
        Ok(value) => ctx.out.optional_owned(value),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn read(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    if !valid_key(key) {
        return Ok(None);
    }
    ctx.server.db.get(key)
}

fn contains(ctx: &Ctx<'_>, key: &[u8]) -> Result<bool, Error> {
    if !valid_key(key) {
        return Ok(false);
    }
    ctx.server.db.contains(key)
}

/// The options of SET after the key and value.
#[derive(Debug, Default)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
}

fn set_options(args: &[Vec<u8>]) -> Result<SetOptions, &'static str> {
    let mut o = SetOptions::default();
    for arg in args {
        let arg = arg.to_ascii_uppercase();
        match arg.as_slice() {
            b"NX" if !o.xx => o.nx = true,
            b"XX" if !o.nx => o.xx = true,
            b"GET" => o.get = true,
            // No key ever has a time to live, so keeping it is a no-op.
            b"KEEPTTL" => {}
            b"EX" | b"PX" | b"EXAT" | b"PXAT" => {
                return Err("ERR tinykv keys do not expire: SET EX/PX/EXAT/PXAT is not supported");
            }
            _ => return Err("ERR syntax error"),
        }
    }
    Ok(o)
}

/// SET key value [NX|XX] [GET] [KEEPTTL].
pub fn set(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let options = match set_options(&args[3..]) {
        Ok(o) => o,
        Err(e) => {
            ctx.out.error(e);
            return Flow::Continue;
        }
    };
    let (key, value) = (&args[1], &args[2]);
    if let Err(e) = check_pair(key, value) {
        ctx.out.error(&format!("ERR {e}"));
        return Flow::Continue;
    }
    let server = ctx.server;
    let _held = server.stripes.lock([key.as_slice()], Mode::Exclusive);
    let old = if options.get {
        read(ctx, key)
    } else if options.nx || options.xx {
        // Only whether it exists matters: a placeholder stands for the value.
        contains(ctx, key).map(|found| found.then(Vec::new))
    } else {
        Ok(None)
    };
    let old = match old {
        Ok(old) => old,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let exists = old.is_some();
    let write = !(options.nx && exists || options.xx && !exists);
    if write && !ctx.write(vec![(key.clone(), Some(value.clone()))]) {
        return Flow::Continue;
    }
    match (options.get, write) {
        (true, _) => ctx.out.optional(old.as_deref()),
        (false, true) => ctx.out.ok(),
        (false, false) => ctx.out.nil(),
    }
    Flow::Continue
}

/// SETNX key value: 1 when set, 0 when the key existed.
pub fn setnx(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let (key, value) = (&args[1], &args[2]);
    if let Err(e) = check_pair(key, value) {
        ctx.out.error(&format!("ERR {e}"));
        return Flow::Continue;
    }
    let server = ctx.server;
    let _held = server.stripes.lock([key.as_slice()], Mode::Exclusive);
    match contains(ctx, key) {
        Ok(true) => ctx.out.integer(0),
        Ok(false) => {
            if ctx.write(vec![(key.clone(), Some(value.clone()))]) {
                ctx.out.integer(1);
            }
        }
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// The bytes of a nil reply, `$-1\r\n`.
const NIL_SIZE: usize = 5;

/// MGET key...: nil for each missing key; every key read at one moment.
pub fn mget(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let keys = &args[1..];
    // Each distinct key is read once, however often it is named: a request
    // naming one key a million times costs one read, not a million values.
    let mut distinct: Vec<&[u8]> = keys
        .iter()
        .map(Vec::as_slice)
        .filter(|k| valid_key(k))
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut values = match ctx.server.db.get_many(&distinct) {
        Ok(values) => values,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let slots: Vec<Option<usize>> = keys
        .iter()
        .map(|k| distinct.binary_search(&k.as_slice()).ok())
        .collect();
    let mut size = 0usize;
    let mut uses = vec![0u32; distinct.len()];
    for &slot in &slots {
        let value = slot.and_then(|i| {
            uses[i] += 1;
            values[i].as_ref()
        });
        size = size.saturating_add(value.map_or(NIL_SIZE, |v| bulk_size(v.len())));
    }
    if size > MAX_REPLY {
        ctx.out
            .error(&too_large("MGET", "ask for fewer keys at a time"));
        return Flow::Continue;
    }
    if !ctx.server.replies.fits(size) {
        ctx.out.error(&ctx.server.replies.busy("MGET"));
        return Flow::Continue;
    }
    ctx.out.array(keys.len());
    for slot in slots {
        let Some(i) = slot else {
            ctx.out.nil();
            continue;
        };
        // The last use of a value moves it into the reply, unless copied.
        uses[i] -= 1;
        if uses[i] == 0 {
            ctx.out.optional_owned(values[i].take());
        } else {
            ctx.out.optional(values[i].as_deref());
        }
    }
    Flow::Continue
}

/// MSET key value [key value...], atomically (when not batched by the connection).
pub fn mset(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let mut args = args.to_vec();
    match blind_write(&mut args) {
        Some(Ok(pairs)) => {
            let server = ctx.server;
            let _held = server
                .stripes
                .lock(pairs.iter().map(|(k, _)| k.as_slice()), Mode::Write);
            let ops = pairs.into_iter().map(|(k, v)| (k, Some(v))).collect();
            if ctx.write(ops) {
                ctx.out.ok();
            }
        }
        Some(Err(e)) => ctx.out.error(&e),
        None => ctx.out.error(&wrong_arity("mset")),
    }
    Flow::Continue
}

/// DEL key...: how many existed; all of them go in one atomic batch.
pub fn del(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let keys: BTreeSet<&[u8]> = args[1..].iter().map(Vec::as_slice).collect();
    let server = ctx.server;
    let _held = server.stripes.lock(keys.iter().copied(), Mode::Exclusive);
    let mut ops = Vec::new();
    for key in keys {
        match contains(ctx, key) {
            Ok(true) => ops.push((key.to_vec(), None)),
            Ok(false) => {}
            Err(e) => {
                ctx.engine_error(&e);
                return Flow::Continue;
            }
        }
    }
    let n = ops.len() as i64;
    if ctx.write(ops) {
        ctx.out.integer(n);
    }
    Flow::Continue
}

/// EXISTS key...: how many of the keys exist (a key named twice counts
/// twice), all at one moment.
pub fn exists(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let keys: Vec<&[u8]> = args[1..]
        .iter()
        .map(Vec::as_slice)
        .filter(|k| valid_key(k))
        .collect();
    match ctx.server.db.contains_many(&keys) {
        Ok(found) => ctx
            .out
            .integer(found.into_iter().filter(|&f| f).count() as i64),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// TYPE key: `string`, or `none`.
pub fn type_of(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    match contains(ctx, &args[1]) {
        Ok(found) => ctx.out.simple(if found { "string" } else { "none" }),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// STRLEN key: the value's length, 0 when missing.
pub fn strlen(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    match read(ctx, &args[1]) {
        Ok(value) => ctx.out.integer(value.map_or(0, |v| v.len() as i64)),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&[u8]]) -> Vec<Vec<u8>> {
        list.iter().map(|a| a.to_vec()).collect()
    }

    #[test]
    fn blind_writes_are_plain_set_and_mset() {
        let mut a = args(&[b"SET", b"k", b"v"]);
        assert_eq!(
            blind_write(&mut a).unwrap().unwrap(),
            vec![(b"k".to_vec(), b"v".to_vec())]
        );
        let mut a = args(&[b"mset", b"a", b"1", b"b", b"2"]);
        assert_eq!(blind_write(&mut a).unwrap().unwrap().len(), 2);
        assert!(blind_write(&mut args(&[b"SET", b"k", b"v", b"NX"])).is_none());
        assert!(blind_write(&mut args(&[b"GET", b"k"])).is_none());
        let e = blind_write(&mut args(&[b"MSET", b"a"]))
            .unwrap()
            .unwrap_err();
        assert_eq!(e, "ERR wrong number of arguments for 'mset' command");
        let e = blind_write(&mut args(&[b"SET", b"", b"v"]))
            .unwrap()
            .unwrap_err();
        assert!(e.contains("keys must be 1 to 65536 bytes"), "{e}");
    }

    #[test]
    fn set_options_parse_like_redis() {
        assert!(set_options(&args(&[b"nx", b"GET"])).unwrap().nx);
        assert!(set_options(&args(&[b"KEEPTTL"])).is_ok());
        assert_eq!(
            set_options(&args(&[b"NX", b"XX"])).err(),
            Some("ERR syntax error")
        );
        assert!(
            set_options(&args(&[b"EX", b"10"]))
                .unwrap_err()
                .contains("expire")
        );
        assert_eq!(
            set_options(&args(&[b"BOGUS"])).err(),
            Some("ERR syntax error")
        );
    }
}
