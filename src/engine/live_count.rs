//! The number of live keys and the bytes of their records, known without
//! walking them ([`Db::len`], [`Db::stats`]).
//!
//! A [`Tally`] of the sealed segments is kept in `keys.count`, beside the
//! segments it covers (each named by its id, lengths and footer counts).
//! Answering takes the tally, brings it up to date by walking only the
//! segments sealed since (each key of a new segment looked up in the older
//! ones: was it live before?), then adds the active log's keys the same
//! way. A compaction's outputs need no walk at all: they hold only live,
//! distinct keys, which their footers count.
//!
//! Invariants: the tally is a function of the files alone (not of the
//! time: a key that expires stays in it with its deadline, until a write or
//! a compaction removes it), so it can never drift with the clock; a
//! `keys.count` whose covered segments are not the database's oldest
//! segments, exactly as they are now, is never used (after a compaction
//! or `recover`, the count is made again, once); the file is a cache, so a
//! failure to write it costs only speed, and reading it never trusts a
//! length it holds. An expiring key costs 12 bytes of the file (its
//! deadline and length), a key that never expires nothing.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::clock::expired;
use super::record::{u32_at, u64_at};
use super::segment::{Segment, open_segment};
use super::storage::{OpenMode, Storage, read_exact_at};
use super::{Db, MemSlot, OpenReport, Problem, Result, dir};

/// The file that holds the tally of the sealed segments.
pub(super) const COUNT_FILE: &str = "keys.count";
const MAGIC: [u8; 4] = *b"tkvK";
const VERSION: u32 = 1;

/// What a count finds at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Live {
    /// Live keys.
    pub keys: u64,
    /// Those of them that expire.
    pub expiring: u64,
    /// The bytes of their newest records.
    pub bytes: u64,
}

/// Live keys and their record bytes: those that never expire, and the
/// deadline and length of each that does (sorted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Tally {
    keys: u64,
    bytes: u64,
    expiring: Vec<(u64, u32)>,
}

/// A key's newest record, as the count sees it: a tombstone, or no record,
/// is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Put {
    len: u32,
    expires_at: Option<u64>,
}

/// A segment as the tally saw it: if any of this differs, it is not the
/// segment the tally counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Covered {
    id: u64,
    log_len: u64,
    index_len: u64,
    keys: u64,
    puts: u64,
    put_bytes: u64,
}

impl Covered {
    fn of(seg: &Segment) -> Covered {
        let f = &seg.index.footer;
        Covered {
            id: seg.id,
            log_len: seg.log_len,
            index_len: seg.index_len(),
            keys: f.keys,
            puts: f.puts,
            put_bytes: f.put_bytes,
        }
    }

    const LEN: usize = 48;
}

/// The tally of the oldest segments, `covered`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Cache {
    covered: Vec<Covered>,
    tally: Tally,
}

/// What [`Db::len`] keeps between calls: the tally of the segments, and
/// what each key of the active log held in the segments below it (for the
/// generation of the state it was looked up in).
#[derive(Debug, Default)]
pub(super) struct Counter {
    cache: Option<Cache>,
    /// Whether `keys.count` was read (or found missing or unusable).
    loaded: bool,
    generation: u64,
    below: HashMap<Vec<u8>, Option<Put>>,
}

impl Tally {
    fn add(&mut self, put: Option<Put>, adds: &mut Vec<(u64, u32)>) {
        match put {
            None => {}
            Some(Put {
                len,
                expires_at: None,
            }) => {
                self.keys += 1;
                self.bytes += u64::from(len);
            }
            Some(Put {
                len,
                expires_at: Some(at),
            }) => adds.push((at, len)),
        }
    }

    fn remove(&mut self, put: Option<Put>, removes: &mut Vec<(u64, u32)>) {
        match put {
            None => {}
            Some(Put {
                len,
                expires_at: None,
            }) => {
                self.keys = self.keys.saturating_sub(1);
                self.bytes = self.bytes.saturating_sub(u64::from(len));
            }
            Some(Put {
                len,
                expires_at: Some(at),
            }) => removes.push((at, len)),
        }
    }

    /// Applies a key's change from `was` to `now`.
    fn change(&mut self, was: Option<Put>, now: Option<Put>, pending: &mut Pending) {
        if was != now {
            self.remove(was, &mut pending.removes);
            self.add(now, &mut pending.adds);
        }
    }

    /// Merges the expiring keys gathered by [`Tally::change`].
    fn settle(&mut self, pending: Pending) {
        let Pending {
            mut adds,
            mut removes,
        } = pending;
        if adds.is_empty() && removes.is_empty() {
            return;
        }
        adds.sort_unstable();
        removes.sort_unstable();
        let old = std::mem::take(&mut self.expiring);
        let mut merged = Vec::with_capacity(old.len() + adds.len());
        let (mut a, mut r) = (adds.into_iter().peekable(), removes.into_iter().peekable());
        for item in old {
            while let Some(&x) = a.peek().filter(|&&x| x <= item) {
                push_unless_removed(&mut merged, x, &mut r);
                a.next();
            }
            push_unless_removed(&mut merged, item, &mut r);
        }
        for x in a {
            push_unless_removed(&mut merged, x, &mut r);
        }
        self.expiring = merged;
    }

    /// Live keys, those of them that expire, and their bytes at `now`.
    pub fn live_at(&self, now: u64) -> Live {
        let from = self
            .expiring
            .partition_point(|&(at, _)| expired(Some(at), now));
        let rest = &self.expiring[from..];
        let bytes: u64 = rest.iter().map(|&(_, len)| u64::from(len)).sum();
        Live {
            keys: self.keys + rest.len() as u64,
            expiring: rest.len() as u64,
            bytes: self.bytes + bytes,
        }
    }
}

/// Pushes `x` unless an equal removal is due (which it then takes): both
/// sequences are sorted.
fn push_unless_removed(
    out: &mut Vec<(u64, u32)>,
    x: (u64, u32),
    removes: &mut std::iter::Peekable<std::vec::IntoIter<(u64, u32)>>,
) {
    while removes.next_if(|&r| r < x).is_some() {}
    if removes.next_if_eq(&x).is_none() {
        out.push(x);
    }
}

/// Expiring keys gathered while a tally changes, merged at the end.
#[derive(Default)]
struct Pending {
    adds: Vec<(u64, u32)>,
    removes: Vec<(u64, u32)>,
}

/// What `segments` hold of `key` (newest first).
fn put_in(segments: &[Arc<Segment>], key: &[u8]) -> Result<Option<Put>> {
    for seg in segments.iter().rev() {
        if let Some(hit) = seg.record_of(key, false)? {
            return Ok((!hit.tag.is_delete()).then_some(Put {
                len: hit.len,
                expires_at: hit.expires_at,
            }));
        }
    }
    Ok(None)
}

/// Whether `segments[i]` is known to share no key with the segments below
/// it: it is the oldest, or it and every segment below it are the outputs
/// of one compaction (cut from one merge of every older segment, in key
/// order, so no two hold a key).
fn stands_alone(segments: &[Arc<Segment>], i: usize) -> bool {
    let first = segments[0].id;
    i == 0
        || segments[..=i]
            .iter()
            .all(|s| s.index.footer.group.is_some_and(|g| g.first == first))
}

impl Cache {
    /// Brings the tally up to `segments`: walks only those it does not
    /// cover yet; starts over when what it covers is no longer the oldest
    /// segments as they are.
    fn extend(&mut self, segments: &[Arc<Segment>]) -> Result<bool> {
        let still = self.still_holds(segments);
        if !still {
            *self = Cache::default();
        }
        let from = self.covered.len();
        for i in from..segments.len() {
            self.add_segment(segments, i, true)?;
            self.covered.push(Covered::of(&segments[i]));
        }
        Ok(!still || from < segments.len())
    }

    /// Whether what the tally covers is still the oldest of `segments`, as
    /// they are.
    fn still_holds(&self, segments: &[Arc<Segment>]) -> bool {
        self.covered.len() <= segments.len()
            && self
                .covered
                .iter()
                .zip(segments)
                .all(|(c, s)| *c == Covered::of(s))
    }

    /// Adds `segments[i]`, given the tally of those below it. `shortcuts`:
    /// trust that a compaction's outputs share no key, and take a footer's
    /// counts for a segment without expiring keys (`check` walks instead).
    fn add_segment(&mut self, segments: &[Arc<Segment>], i: usize, shortcuts: bool) -> Result<()> {
        let seg = &segments[i];
        let f = &seg.index.footer;
        let alone = i == 0 || shortcuts && stands_alone(segments, i);
        if alone && shortcuts && !f.expiring {
            self.tally.keys += f.puts;
            self.tally.bytes += f.put_bytes;
            return Ok(());
        }
        let mut pending = Pending::default();
        for item in seg.walk(&[], false)? {
            let e = item?.entry;
            let now = (!e.delete).then_some(Put {
                len: e.len,
                expires_at: e.expires_at,
            });
            let was = if alone {
                None
            } else {
                put_in(&segments[..i], &e.key)?
            };
            self.tally.change(was, now, &mut pending);
        }
        self.tally.settle(pending);
        Ok(())
    }

    fn encode(&self) -> Vec<u8> {
        let t = &self.tally;
        let mut out =
            Vec::with_capacity(32 + self.covered.len() * Covered::LEN + t.expiring.len() * 12 + 4);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.covered.len() as u64).to_le_bytes());
        for c in &self.covered {
            for v in [c.id, c.log_len, c.index_len, c.keys, c.puts, c.put_bytes] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out.extend_from_slice(&t.keys.to_le_bytes());
        out.extend_from_slice(&t.bytes.to_le_bytes());
        out.extend_from_slice(&(t.expiring.len() as u64).to_le_bytes());
        for &(at, len) in &t.expiring {
            out.extend_from_slice(&at.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a `keys.count`; `None` for anything that is not one whole.
    fn decode(b: &[u8]) -> Option<Cache> {
        let body_len = b.len().checked_sub(4)?;
        let (body, crc) = b.split_at(body_len);
        if body.len() < 16 || body[..4] != MAGIC || crc32fast::hash(body) != u32_at(crc, 0) {
            return None;
        }
        if u32_at(body, 4) != VERSION {
            return None;
        }
        let n = usize::try_from(u64_at(body, 8)).ok()?;
        let mut at = 16usize;
        let need = n.checked_mul(Covered::LEN)?.checked_add(at + 24)?;
        if need > body.len() {
            return None;
        }
        let mut covered = Vec::with_capacity(n);
        for _ in 0..n {
            let v = |k: usize| u64_at(body, at + 8 * k);
            covered.push(Covered {
                id: v(0),
                log_len: v(1),
                index_len: v(2),
                keys: v(3),
                puts: v(4),
                put_bytes: v(5),
            });
            at += Covered::LEN;
        }
        let (keys, bytes) = (u64_at(body, at), u64_at(body, at + 8));
        let m = usize::try_from(u64_at(body, at + 16)).ok()?;
        at += 24;
        if m.checked_mul(12)?.checked_add(at)? != body.len() {
            return None;
        }
        let mut expiring = Vec::with_capacity(m);
        for _ in 0..m {
            expiring.push((u64_at(body, at), u32_at(body, at + 8)));
            at += 12;
        }
        if !expiring.is_sorted() {
            return None;
        }
        Some(Cache {
            covered,
            tally: Tally {
                keys,
                bytes,
                expiring,
            },
        })
    }
}

/// Reads `dir/keys.count`; `None` when it is missing or not whole.
fn read(storage: &dyn Storage, dir: &Path) -> Option<Cache> {
    let path = dir.join(COUNT_FILE);
    let file = storage.open(&path, OpenMode::Read).ok()?;
    let len = usize::try_from(file.len().ok()?).ok()?;
    // Sixteen bytes a segment and twelve an expiring key: a file past this
    // is not one tinykv wrote.
    if len > 1 << 34 {
        return None;
    }
    let mut bytes = vec![0u8; len];
    read_exact_at(&*file, &mut bytes, 0).ok()?;
    Cache::decode(&bytes)
}

/// For `check`: a `keys.count` that is damaged, or that describes the
/// segments `ids` (every `seg-N.log` there is, oldest first) exactly as
/// they are but holds another tally than a walk of every key of theirs.
/// A file that describes other segments is only out of date: the next
/// count brings it up to date.
pub(super) fn check_file(
    storage: &dyn Storage,
    dir: &Path,
    ids: &[u64],
) -> Result<Option<Problem>> {
    let path = dir.join(COUNT_FILE);
    let problem = |reason: String| {
        Some(Problem {
            path: path.clone(),
            offset: 0,
            reason,
        })
    };
    let Some(cache) = read(storage, dir) else {
        return Ok(problem(
            "damaged (the next count makes it again; recover removes it)".into(),
        ));
    };
    if cache.covered.iter().map(|c| c.id).ne(ids.iter().copied()) {
        return Ok(None);
    }
    let mut segments = Vec::with_capacity(ids.len());
    for &id in ids {
        let seg = open_segment(storage, dir, id, true, &mut OpenReport::default())?;
        if Covered::of(&seg) != cache.covered[segments.len()] {
            return Ok(None);
        }
        segments.push(Arc::new(seg));
    }
    let mut walked = Cache::default();
    for i in 0..segments.len() {
        walked.add_segment(&segments, i, false)?;
    }
    if walked.tally == cache.tally {
        return Ok(None);
    }
    let (said, held) = (&cache.tally, &walked.tally);
    Ok(problem(format!(
        "says {} keys that never expire ({} bytes) and {} that expire, but the segments hold {} ({} bytes) and {} (recover removes it)",
        said.keys,
        said.bytes,
        said.expiring.len(),
        held.keys,
        held.bytes,
        held.expiring.len()
    )))
}

impl Db {
    /// At close: brings a kept tally up to date with the segments this
    /// handle sealed, so that the next count is instant. Only a tally that
    /// still holds is extended (walking only the new segments); one that
    /// does not, or none, is left to the next count. Best effort: it is a
    /// cache.
    pub(super) fn keep_count(&self) {
        if self.opts.read_only {
            return;
        }
        let segments = {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            Arc::clone(&st.segments)
        };
        let mut counter = self.counter.lock().unwrap_or_else(|p| p.into_inner());
        if !counter.loaded {
            counter.loaded = true;
            counter.cache = read(&*self.opts.storage, &self.dir);
        }
        let Some(cache) = counter.cache.as_mut() else {
            return;
        };
        if !cache.still_holds(&segments) {
            return;
        }
        match cache.extend(&segments) {
            Ok(true) => {
                let path = self.dir.join(COUNT_FILE);
                let _ = dir::replace(&*self.opts.storage, &path, &cache.encode());
            }
            Ok(false) => {}
            Err(_) => counter.cache = None,
        }
    }

    /// Live keys and their record bytes, at the handle's clock: from the
    /// tally of the sealed segments (see live_count.rs), brought up to
    /// date, and the active log's keys.
    pub(super) fn live_count(&self) -> Result<Live> {
        let (segments, generation, mem): (_, _, Vec<(Vec<u8>, MemSlot)>) = {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            let mem = st.mem.iter().map(|(k, s)| (k.clone(), *s)).collect();
            (Arc::clone(&st.segments), st.generation, mem)
        };
        let mut counter = self.counter.lock().unwrap_or_else(|p| p.into_inner());
        if !counter.loaded {
            counter.loaded = true;
            counter.cache = read(&*self.opts.storage, &self.dir);
        }
        let mut cache = counter.cache.take().unwrap_or_default();
        let changed = match cache.extend(&segments) {
            Ok(changed) => changed,
            Err(e) => {
                counter.cache = None;
                return Err(e);
            }
        };
        if changed && !self.opts.read_only {
            // A cache: failing to keep it costs the next count a walk.
            let path = self.dir.join(COUNT_FILE);
            let _ = dir::replace(&*self.opts.storage, &path, &cache.encode());
        }
        if counter.generation != generation {
            counter.generation = generation;
            counter.below.clear();
        }
        let mut tally = cache.tally.clone();
        counter.cache = Some(cache);
        let mut pending = Pending::default();
        for (key, slot) in mem {
            let now = (!slot.delete).then_some(Put {
                len: slot.len,
                expires_at: slot.expires_at(),
            });
            let was = match counter.below.get(&key) {
                Some(&was) => was,
                None => {
                    let was = put_in(&segments, &key)?;
                    counter.below.insert(key, was);
                    was
                }
            };
            tally.change(was, now, &mut pending);
        }
        tally.settle(pending);
        Ok(tally.live_at(self.now_ms()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(len: u32, expires_at: Option<u64>) -> Option<Put> {
        Some(Put { len, expires_at })
    }

    #[test]
    fn a_tally_counts_changes_and_expiring_keys_by_deadline() {
        let mut t = Tally::default();
        let mut p = Pending::default();
        t.change(None, put(10, None), &mut p);
        t.change(None, put(20, Some(500)), &mut p);
        t.change(None, put(30, Some(100)), &mut p);
        t.change(None, put(30, Some(100)), &mut p);
        t.settle(p);
        let live = |keys, expiring, bytes| Live {
            keys,
            expiring,
            bytes,
        };
        assert_eq!(t.live_at(0), live(4, 3, 90));
        assert_eq!(
            t.live_at(100),
            live(2, 1, 30),
            "a deadline reached is expired"
        );
        assert_eq!(t.live_at(500), live(1, 0, 10));
        let mut p = Pending::default();
        // One of the two equal expiring keys is overwritten for good, the
        // other deleted; the key that never expired gets a deadline.
        t.change(put(30, Some(100)), put(5, None), &mut p);
        t.change(put(30, Some(100)), None, &mut p);
        t.change(put(10, None), put(10, Some(50)), &mut p);
        t.change(put(20, Some(500)), put(20, Some(500)), &mut p);
        t.settle(p);
        assert_eq!(t.expiring, vec![(50, 10), (500, 20)]);
        assert_eq!(t.live_at(0), live(3, 2, 35));
        assert_eq!(t.live_at(60), live(2, 1, 25));
    }

    #[test]
    fn a_count_file_decodes_to_what_was_encoded_and_nothing_else() {
        let cache = Cache {
            covered: vec![Covered {
                id: 3,
                log_len: 4096,
                index_len: 200,
                keys: 7,
                puts: 6,
                put_bytes: 600,
            }],
            tally: Tally {
                keys: 5,
                bytes: 500,
                expiring: vec![(9, 100), (12, 1)],
            },
        };
        let bytes = cache.encode();
        assert_eq!(Cache::decode(&bytes), Some(cache.clone()));
        for cut in 0..bytes.len() {
            assert_eq!(Cache::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert_eq!(Cache::decode(&bad), None, "flipped at {at}");
        }
        // Lengths that claim more than the file holds, with a good CRC.
        let mut huge = bytes[..bytes.len() - 4].to_vec();
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        let crc = crc32fast::hash(&huge);
        huge.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(Cache::decode(&huge), None);
    }

    fn filled(dir: &std::path::Path, keys: u32) -> crate::engine::Db {
        let opts = crate::engine::Options {
            segment_size: 64 * 1024,
            ..crate::engine::Options::default()
        };
        let db = crate::engine::Db::open(dir, opts).unwrap();
        for chunk in (0..keys).collect::<Vec<_>>().chunks(300) {
            let mut batch = crate::engine::Batch::new();
            for i in chunk {
                batch.set(format!("k{i:06}").as_bytes(), [b'v'; 100]);
            }
            db.write_batch(batch).unwrap();
        }
        db.set_expiring(b"soon", b"x", Some(u64::MAX)).unwrap();
        db.delete(b"k000003").unwrap();
        db
    }

    /// Once the tally is kept, a count after reopening reads the file and
    /// the indexes' ends, not the keys: far fewer bytes than the data.
    #[test]
    fn a_kept_tally_counts_without_reading_the_keys() {
        use crate::engine::storage::{Counting, RealStorage};
        use std::sync::atomic::Ordering;
        let dir = tempfile::tempdir().unwrap();
        let db = filled(dir.path(), 20_000);
        assert_eq!(db.len().unwrap(), 20_000);
        db.close().unwrap();
        let counting = Arc::new(Counting::over(Arc::new(RealStorage)));
        let opts = crate::engine::Options {
            storage: counting.clone(),
            cache_bytes: 0,
            ..crate::engine::Options::default()
        };
        let db = crate::engine::Db::open(dir.path(), opts).unwrap();
        assert_eq!(db.len().unwrap(), 20_000, "the tally is kept at close too");
        let read = counting.bytes.load(Ordering::SeqCst);
        assert!(
            read < 64 * 1024,
            "{read} bytes read to count 20,000 keys of about 2.3 MB"
        );
        let stats = db.stats().unwrap();
        assert_eq!(stats.keys, 20_000);
    }

    /// `check` finds a tally that is damaged or says another count than
    /// the segments hold, and `recover` removes it.
    #[test]
    fn check_finds_a_wrong_tally_and_recover_removes_it() {
        use crate::engine::{Db, Options};
        let dir = tempfile::tempdir().unwrap();
        let db = filled(dir.path(), 3000);
        assert_eq!(db.len().unwrap(), 3000);
        db.set(b"after the count", b"sealed at close").unwrap();
        db.close().unwrap();
        let file = dir.path().join(COUNT_FILE);
        let good = std::fs::read(&file).expect("close keeps the tally");
        assert!(
            Db::check_dir(dir.path(), &Options::default())
                .unwrap()
                .is_clean()
        );
        // The same file, one key more, with its CRC made good.
        let mut cache = Cache::decode(&good).unwrap();
        cache.tally.keys += 1;
        std::fs::write(&file, cache.encode()).unwrap();
        let report = Db::check_dir(dir.path(), &Options::default()).unwrap();
        assert_eq!(report.problems.len(), 1, "{report:?}");
        let says = format!("says {} keys", cache.tally.keys);
        let holds = format!("hold {} (", cache.tally.keys - 1);
        let reason = &report.problems[0].reason;
        assert!(
            reason.contains(&says) && reason.contains(&holds),
            "{report:?}"
        );
        // Damaged bytes.
        let mut bad = good.clone();
        bad[20] ^= 4;
        std::fs::write(&file, &bad).unwrap();
        let report = Db::check_dir(dir.path(), &Options::default()).unwrap();
        assert!(
            report.problems[0].reason.starts_with("damaged"),
            "{report:?}"
        );
        Db::recover_dir(dir.path(), &Options::default()).unwrap();
        assert!(!file.exists());
        let db = Db::open(dir.path(), Options::default()).unwrap();
        assert_eq!(db.len().unwrap(), 3001);
    }

    /// Random writes, expiring and not, deletes, loads, compactions,
    /// reopens (with the tally's file kept, lost or damaged) and a clock
    /// that moves: the tally's count and bytes always equal a walk's.
    mod against_a_walk {
        use std::sync::Arc;

        use proptest::prelude::*;

        use crate::engine::clock::{Clock, ManualClock};
        use crate::engine::{Db, Options};

        #[derive(Clone, Debug)]
        enum Op {
            Set(u8, u8),
            Expiring(u8, u8, u8),
            Delete(u8),
            Load(Vec<(u8, Option<u8>)>),
            Compact,
            Reopen,
            LoseFile,
            DamageFile,
            Advance(u8),
            Count,
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                20 => (any::<u8>(), any::<u8>()).prop_map(|(k, l)| Op::Set(k, l)),
                10 => (any::<u8>(), any::<u8>(), any::<u8>())
                    .prop_map(|(k, l, t)| Op::Expiring(k, l, t)),
                8 => any::<u8>().prop_map(Op::Delete),
                2 => prop::collection::vec((any::<u8>(), prop::option::of(any::<u8>())), 1..60)
                    .prop_map(Op::Load),
                2 => Just(Op::Compact),
                3 => Just(Op::Reopen),
                1 => Just(Op::LoseFile),
                1 => Just(Op::DamageFile),
                3 => any::<u8>().prop_map(Op::Advance),
                8 => Just(Op::Count),
            ]
        }

        fn key(k: u8) -> Vec<u8> {
            format!("key{:02}", k % 50).into_bytes()
        }

        fn options(clock: &ManualClock) -> Options {
            Options {
                segment_size: 4096,
                seal_on_close: 256,
                compact_min_bytes: 8 * 1024,
                sync: crate::engine::SyncMode::Never,
                clock: Arc::new(clock.clone()),
                ..Options::default()
            }
        }

        fn agree(db: &Db) -> Result<(), TestCaseError> {
            let walked = db.walk_count().unwrap();
            prop_assert_eq!(db.live_count().unwrap(), walked);
            prop_assert_eq!(db.len().unwrap(), walked.keys);
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn the_tally_equals_a_walk(ops in prop::collection::vec(op(), 1..120)) {
                let dir = tempfile::tempdir().unwrap();
                let clock = ManualClock::new(1_000_000);
                let mut db = Db::open(dir.path(), options(&clock)).unwrap();
                let file = dir.path().join(super::COUNT_FILE);
                for op in ops {
                    let now = clock.now_ms();
                    match op {
                        Op::Set(k, l) => db.set(&key(k), &vec![b'v'; usize::from(l)]).unwrap(),
                        Op::Expiring(k, l, t) => db
                            .set_expiring(&key(k), &vec![b'e'; usize::from(l)], Some(now + u64::from(t) * 10))
                            .unwrap(),
                        Op::Delete(k) => {
                            db.delete(&key(k)).unwrap();
                        }
                        Op::Load(pairs) => {
                            let mut b = db.batch_writer().unwrap();
                            for (k, l) in pairs {
                                match l {
                                    Some(l) => b.set(&key(k), &vec![b'l'; usize::from(l) * 8]).unwrap(),
                                    None => b.delete(&key(k)).unwrap(),
                                }
                            }
                            b.commit().unwrap();
                        }
                        Op::Compact => {
                            db.compact().unwrap();
                        }
                        Op::Reopen => {
                            drop(db);
                            db = Db::open(dir.path(), options(&clock)).unwrap();
                        }
                        Op::LoseFile => {
                            drop(db);
                            let _ = std::fs::remove_file(&file);
                            db = Db::open(dir.path(), options(&clock)).unwrap();
                        }
                        Op::DamageFile => {
                            drop(db);
                            if let Ok(mut bytes) = std::fs::read(&file) {
                                let at = bytes.len() / 2;
                                bytes[at] ^= 1;
                                std::fs::write(&file, bytes).unwrap();
                            }
                            db = Db::open(dir.path(), options(&clock)).unwrap();
                        }
                        Op::Advance(t) => clock.advance(u64::from(t) * 7),
                        Op::Count => {}
                    }
                    agree(&db)?;
                }
                drop(db);
                let db = Db::open(dir.path(), options(&clock)).unwrap();
                agree(&db)?;
            }
        }
    }
}
