//! [`Db::last_key`]: the greatest live key with a prefix, found from the end
//! of the prefix's range backwards, without walking the keys before it.
//! (Tab completion needs it: the prefix that every key starting with what
//! was typed shares is the prefix the first and the last of them share.)
//!
//! Each source gives its greatest key at most a limit, live or not: the
//! active log's in-memory map by a range lookup; a segment through its
//! index, down the sparse frames to the block that would hold the limit,
//! then along that block. Both kinds of index allow it: a sorted index names
//! the log's data blocks (about 2 KiB of records each), a hashed one keeps
//! every key's entry sorted, in frames of about 4 KiB. The greatest of the
//! sources' keys is the answer when its newest record is a put; when it is a
//! tombstone, the search goes on below it.
//!
//! Cost: per segment, the sparse frames on the way down (kept once read)
//! and one block or entry frame; one more such round per deleted key at the
//! end of the range, as a forward walk steps over deleted keys at its start.
//!
//! Not a snapshot: each round reads the state as it is then, so a key
//! returned was live at some moment during the call.

use std::ops::Bound;
use std::sync::Arc;

use super::clock::expired;
use super::segment::{Entry, Segment};
use super::{Db, Error, MAX_KEY_LEN, Result};

impl Db {
    /// The greatest live key that starts with `prefix` (any key when it is
    /// empty), or `None` when there is none. Reads a few index frames and a
    /// block per segment, not the keys before it (see the module docs).
    pub fn last_key(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        if prefix.len() > MAX_KEY_LEN {
            return Ok(None);
        }
        // The greatest key that can start with `prefix`: every key that does
        // lies between `prefix` and it, and no other key does.
        let mut limit = prefix.to_vec();
        limit.resize(MAX_KEY_LEN, 0xff);
        // An expired key is absent, as a deleted one is (and hides the
        // older records of its key as a tombstone does).
        let now = self.now_ms();
        loop {
            let (mut best, segments) = {
                let st = self.state.read().unwrap_or_else(|p| p.into_inner());
                let mem = st
                    .mem
                    .range::<[u8], _>((Bound::Unbounded, Bound::Included(limit.as_slice())))
                    .next_back()
                    .map(|(k, slot)| (k.clone(), slot.delete || expired(slot.expires_at(), now)));
                (mem, Arc::clone(&st.segments))
            };
            // Newest first: on equal keys the newer source's record stands.
            for seg in segments.iter().rev() {
                let found = match seg.last_at_most(&limit) {
                    Err(Error::Corrupt { .. }) => self.heal(seg)?.last_at_most(&limit)?,
                    other => other?,
                };
                if let Some(e) = found
                    && best.as_ref().is_none_or(|(key, _)| e.key > *key)
                {
                    let gone = e.delete || expired(e.expires_at, now);
                    best = Some((e.key, gone));
                }
            }
            match best {
                Some((key, deleted)) if key.starts_with(prefix) => {
                    if !deleted {
                        return Ok(Some(key));
                    }
                    match below(&key) {
                        Some(next) => limit = next,
                        None => return Ok(None),
                    }
                }
                _ => return Ok(None),
            }
        }
    }
}

impl Segment {
    /// The entry of this segment's greatest key at most `limit`.
    fn last_at_most(self: &Arc<Self>, limit: &[u8]) -> Result<Option<Entry>> {
        if self.index.footer.keys == 0 {
            return Ok(None);
        }
        // The last block whose first key is at most `limit`: the greatest
        // key at most `limit` is in it.
        let Some(block) = self.index.locate(limit)? else {
            return Ok(None);
        };
        let mut last = None;
        for item in self.walk(&block.first_key, false)? {
            let item = item?;
            if item.entry.key.as_slice() > limit {
                break;
            }
            last = Some(item.entry);
        }
        Ok(last)
    }
}

/// The greatest key (at most [`MAX_KEY_LEN`] bytes) less than `key`, if any.
fn below(key: &[u8]) -> Option<Vec<u8>> {
    let (&last, head) = key.split_last()?;
    if last == 0 {
        // Below `a\0` comes `a` itself; below `\0`, no key (keys are not empty).
        return (!head.is_empty()).then(|| head.to_vec());
    }
    let mut k = head.to_vec();
    k.push(last - 1);
    k.resize(MAX_KEY_LEN, 0xff);
    Some(k)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::below;
    use crate::engine::index::Kind;
    use crate::engine::storage::Counting;
    use crate::engine::{Db, MAX_KEY_LEN, Options, SimStorage, SyncMode};

    #[test]
    fn below_is_the_greatest_smaller_key() {
        assert_eq!(below(b"\0"), None);
        assert_eq!(below(b""), None);
        assert_eq!(below(b"a\0"), Some(b"a".to_vec()));
        let b = below(b"ab").unwrap();
        assert_eq!(b.len(), MAX_KEY_LEN);
        assert!(b.starts_with(b"aa\xff") && b.as_slice() < &b"ab"[..]);
        assert!(&b"aa\xff\xff"[..] < b.as_slice());
    }

    fn opts(storage: &SimStorage) -> Options {
        Options {
            sync: SyncMode::Never,
            segment_size: 4096,
            seal_on_close: 0,
            auto_compact: false,
            cache_bytes: 0,
            storage: Arc::new(storage.clone()),
            ..Options::default()
        }
    }

    /// A model check: puts and deletes of keys from a small alphabet
    /// (0x00 and 0xff bytes included), spread over the active log, hashed
    /// segments (written out of key order), sorted ones (written in order)
    /// and compaction outputs; the last key of every prefix agrees with a
    /// map's.
    #[test]
    fn agrees_with_a_model_across_sources() {
        let sim = SimStorage::new(7);
        let db = Db::open("/db", opts(&sim)).unwrap();
        let mut model: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
        let alphabet: [&[u8]; 5] = [b"\0", b"a", b"b", b"\xff", b"ab"];
        let mut rng = 1u64;
        let mut next = || {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (rng >> 33) as usize
        };
        let check = |db: &Db, model: &BTreeMap<Vec<u8>, bool>, when: &str| {
            let mut prefixes: Vec<Vec<u8>> = vec![Vec::new()];
            for a in alphabet {
                prefixes.push(a.to_vec());
                for b in alphabet {
                    prefixes.push([a, b].concat());
                }
            }
            for p in prefixes {
                let want = model
                    .iter()
                    .filter(|(k, live)| **live && k.starts_with(&p))
                    .map(|(k, _)| k.clone())
                    .next_back();
                assert_eq!(db.last_key(&p).unwrap(), want, "{when}: prefix {p:?}");
            }
        };
        for round in 0..12 {
            let in_order = round % 3 == 1;
            let mut keys: Vec<Vec<u8>> = (0..60)
                .map(|_| {
                    let n = 1 + next() % 3;
                    (0..n).flat_map(|_| alphabet[next() % 5].to_vec()).collect()
                })
                .collect();
            if in_order {
                keys.sort();
                keys.dedup();
            }
            for key in keys {
                if next() % 3 == 0 {
                    db.delete(&key).unwrap();
                    model.insert(key, false);
                } else {
                    db.set(&key, &[b'v'; 90]).unwrap();
                    model.insert(key, true);
                }
            }
            check(&db, &model, &format!("round {round}"));
            if round == 3 || round == 7 {
                db.compact().unwrap();
                check(&db, &model, &format!("round {round}, compacted"));
            }
        }
        let kinds: Vec<Kind> = {
            let st = db.state.read().unwrap();
            st.segments.iter().map(|s| s.index.footer.kind).collect()
        };
        assert!(
            kinds.contains(&Kind::Sorted) && kinds.contains(&Kind::Hashed),
            "{kinds:?}"
        );
        db.close().unwrap();
        let db = Db::open("/db", opts(&sim)).unwrap();
        check(&db, &model, "after reopen");
    }

    /// The point of it: the last key of a prefix costs a few index frames
    /// and a block, not a walk over the keys before it, for a sorted and
    /// for a hashed segment alike.
    #[test]
    fn reads_a_few_frames_not_every_key() {
        for in_order in [true, false] {
            let counting = Counting::over(Arc::new(SimStorage::new(1)));
            let read = Arc::clone(&counting.bytes);
            let mut o = opts(&SimStorage::new(1));
            o.storage = Arc::new(counting);
            o.segment_size = 64 << 20;
            let db = Db::open("/db", o.clone()).unwrap();
            let n = 20_000u32;
            for i in 0..n {
                let i = if in_order { i } else { (i * 7919) % n };
                db.set(format!("key{i:06}").as_bytes(), b"value").unwrap();
            }
            db.close().unwrap();
            let db = Db::open("/db", o).unwrap();
            let kind = db.state.read().unwrap().segments[0].index.footer.kind;
            assert_eq!(kind == Kind::Sorted, in_order);
            let before = read.load(Ordering::Relaxed);
            assert_eq!(
                db.last_key(b"key").unwrap().as_deref(),
                Some(&format!("key{:06}", n - 1).into_bytes()[..])
            );
            let last = read.load(Ordering::Relaxed) - before;
            let before = read.load(Ordering::Relaxed);
            assert_eq!(db.keys(b"key").count(), n as usize);
            let walk = read.load(Ordering::Relaxed) - before;
            assert!(
                last <= 16 * 1024 && walk > 10 * last,
                "{kind:?}: last_key read {last} bytes, a walk {walk}"
            );
        }
    }
}
