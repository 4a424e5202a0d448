//! The commands on keys as keys: DEL, UNLINK, EXISTS, TYPE, RENAME,
//! RENAMENX; and the plain writes (SET key value, MSET) that a connection
//! batches without running them here ([`blind_write`]).
//!
//! Invariants: DEL's count is of the keys it deleted, read and deleted in
//! one transaction (of two DELs of one key, one says 1); EXISTS reads all
//! its keys at one moment; RENAME moves the value and its expiry in one
//! transaction, so no reader sees both keys or neither. A key the engine
//! cannot hold (empty, or over 64 KiB) is absent to every read, so DEL
//! and RENAME find nothing there; as a new name it is an error.

use super::reply::{Output, wrong_arity};
use super::request::Request;
use super::store::{Reads, Writes, writable};
use crate::engine::{Error, check_pair};

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

/// DEL key... (and UNLINK): how many of the keys were deleted.
pub fn del(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    let mut n = 0;
    for key in &args[1..] {
        // A key named twice is deleted once.
        if store.exists(key)? {
            store.delete(key);
            n += 1;
        }
    }
    out.integer(n);
    Ok(())
}

/// EXISTS key...: how many of the keys exist (a key named twice counts
/// twice), all at one moment.
pub fn exists(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    let keys: Vec<&[u8]> = args[1..].iter().map(Vec::as_slice).collect();
    let found = store.exists_many(&keys)?;
    out.integer(found.into_iter().filter(|&f| f).count() as i64);
    Ok(())
}

/// TYPE key: `string`, or `none`.
pub fn type_of(store: &mut dyn Reads, args: &[Vec<u8>], out: &mut Output) -> Result<(), Error> {
    let found = store.exists(&args[1])?;
    out.simple(if found { "string" } else { "none" });
    Ok(())
}

/// RENAME key newkey: `+OK`.
pub fn rename(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    move_key(store, &args[1], &args[2], false, out)
}

/// RENAMENX key newkey: `:1` when renamed, `:0` when newkey existed.
pub fn renamenx(store: &mut dyn Writes, args: Request, out: &mut Output) -> Result<(), Error> {
    move_key(store, &args[1], &args[2], true, out)
}

fn move_key(
    store: &mut dyn Writes,
    old: &[u8],
    new: &[u8],
    nx: bool,
    out: &mut Output,
) -> Result<(), Error> {
    let Some(current) = store.get(old)? else {
        out.error("ERR no such key");
        return Ok(());
    };
    // RENAME says OK, RENAMENX whether it renamed.
    let reply = |out: &mut Output, renamed: bool| {
        if nx {
            out.integer(i64::from(renamed));
        } else {
            out.ok();
        }
    };
    // A key renamed to itself: nothing to do (for RENAMENX, it exists).
    if old == new {
        reply(out, false);
        return Ok(());
    }
    if !writable(new, out) {
        return Ok(());
    }
    if nx && store.exists(new)? {
        reply(out, false);
        return Ok(());
    }
    store.set(new, current.value, current.expires_at);
    store.delete(old);
    reply(out, true);
    Ok(())
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
}
