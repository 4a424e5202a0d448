//! The iterator against a model: random writes (puts, tombstones, keys that
//! expire, batches in key order and out of it) spread over the active log,
//! hashed segments, sorted segments and compaction outputs, then every kind
//! of walk (prefix, start, resume after a key, a limit, keys alone, owned or
//! borrowed pairs) must give exactly what a `BTreeMap` gives.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use proptest::prelude::*;

use crate::engine::clock::{Clock, ManualClock};
use crate::engine::index::Kind;
use crate::engine::storage::{Counting, RealStorage};
use crate::engine::{Db, Options};

/// Keys `k000`..`k059`, some with a longer tail so that prefixes of
/// several lengths match several keys; some of 11 bytes that differ only
/// past the eighth (the merge compares keys of 8 to 16 bytes as two
/// words), and some of 21 that share their first 16 (all a segment's
/// footer keeps of its first key, the bound a segment waits by).
fn key(k: u8) -> Vec<u8> {
    let k = k % 60;
    match k % 5 {
        0 => format!("k{k:03}").into_bytes(),
        1 => format!("k{:03}x", k - 1).into_bytes(),
        2 => format!("k{:02}", k / 10).into_bytes(),
        3 => format!("k0-stem-{k:03}").into_bytes(),
        _ => format!("k0-shared-stem-16-{k:03}").into_bytes(),
    }
}

fn value(k: u8, len: u8, round: u8) -> Vec<u8> {
    let mut v = vec![b'a' + round % 26; usize::from(len) * 3];
    v.extend_from_slice(&[k]);
    v
}

#[derive(Clone, Debug)]
enum Op {
    Set(u8, u8),
    Expiring(u8, u8, u8),
    Delete(u8),
    /// A batch of puts and deletes, written in key order when the flag says
    /// so (a sealed log in key order becomes a sorted segment).
    Batch(Vec<(u8, Option<u8>)>, bool),
    /// Close and reopen: the active log becomes a segment.
    Seal,
    Compact,
    Advance(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (any::<u8>(), any::<u8>()).prop_map(|(k, l)| Op::Set(k, l)),
        6 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(k, l, t)| Op::Expiring(k, l, t)),
        8 => any::<u8>().prop_map(Op::Delete),
        4 => (
            prop::collection::vec((any::<u8>(), prop::option::of(any::<u8>())), 1..40),
            any::<bool>()
        )
            .prop_map(|(pairs, sorted)| Op::Batch(pairs, sorted)),
        4 => Just(Op::Seal),
        1 => Just(Op::Compact),
        2 => any::<u8>().prop_map(Op::Advance),
    ]
}

/// A walk to compare: a prefix, where it starts, and how many pairs.
#[derive(Clone, Debug)]
struct Query {
    prefix: Vec<u8>,
    start: Start,
    limit: Option<usize>,
    keys_only: bool,
    borrowed: bool,
}

#[derive(Clone, Debug)]
enum Start {
    First,
    From(Vec<u8>),
    After(Vec<u8>),
}

fn query() -> impl Strategy<Value = Query> {
    let bound =
        || (any::<u8>(), 0usize..18).prop_map(|(k, n)| key(k)[..n.min(key(k).len())].to_vec());
    (
        bound(),
        prop_oneof![
            Just(Start::First),
            bound().prop_map(Start::From),
            bound().prop_map(Start::After),
        ],
        prop::option::of(0usize..30),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(prefix, start, limit, keys_only, borrowed)| Query {
            prefix,
            start,
            limit,
            keys_only,
            borrowed,
        })
}

type Model = BTreeMap<Vec<u8>, (Vec<u8>, Option<u64>)>;

fn options(clock: &ManualClock, seal: bool) -> Options {
    Options {
        // Small segments: writes seal often, so walks merge many sources.
        segment_size: 4096,
        seal_on_close: if seal { 0 } else { u64::MAX },
        auto_compact: false,
        sync: crate::engine::SyncMode::Never,
        clock: Arc::new(clock.clone()),
        ..Options::default()
    }
}

/// What the model says `q` returns at `now`.
fn expected(model: &Model, q: &Query, now: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let live = model
        .iter()
        .filter(|(_, (_, at))| at.is_none_or(|at| at > now))
        .filter(|(k, _)| k.starts_with(&q.prefix))
        .filter(|(k, _)| match &q.start {
            Start::First => true,
            // A start below the prefix changes nothing.
            Start::From(s) => s.as_slice() < q.prefix.as_slice() || k.as_slice() >= s.as_slice(),
            Start::After(s) => s.as_slice() < q.prefix.as_slice() || k.as_slice() > s.as_slice(),
        })
        .map(|(k, (v, _))| (k.clone(), if q.keys_only { Vec::new() } else { v.clone() }));
    live.take(q.limit.unwrap_or(usize::MAX)).collect()
}

/// What the database returns for `q`.
fn walked(db: &Db, q: &Query) -> Vec<(Vec<u8>, Vec<u8>)> {
    let it = if q.keys_only {
        db.keys(&q.prefix).0
    } else {
        db.iter_prefix(&q.prefix)
    };
    let mut it = match &q.start {
        Start::First => it,
        Start::From(s) => it.from(s),
        Start::After(s) => it.after(s),
    };
    let limit = q.limit.unwrap_or(usize::MAX);
    if q.borrowed {
        let mut out = Vec::new();
        while out.len() < limit {
            match it.next_pair() {
                Some(r) => {
                    let (k, v) = r.unwrap();
                    out.push((k.to_vec(), v.to_vec()));
                }
                None => break,
            }
        }
        out
    } else {
        it.take(limit).map(|r| r.unwrap()).collect()
    }
}

/// Applies `op` to the database and the model; returns the database (a
/// seal closes and reopens it).
fn apply(
    db: Db,
    dir: &std::path::Path,
    clock: &ManualClock,
    model: &mut Model,
    op: Op,
    round: u8,
) -> Db {
    let now = clock.now_ms();
    match op {
        Op::Set(k, l) => {
            let v = value(k, l, round);
            db.set(&key(k), &v).unwrap();
            model.insert(key(k), (v, None));
        }
        Op::Expiring(k, l, t) => {
            let v = value(k, l, round);
            let at = now + u64::from(t) * 10;
            db.set_expiring(&key(k), &v, Some(at)).unwrap();
            model.insert(key(k), (v, Some(at)));
        }
        Op::Delete(k) => {
            db.delete(&key(k)).unwrap();
            model.remove(&key(k));
        }
        Op::Batch(mut pairs, sorted) => {
            if sorted {
                pairs.sort_by_key(|(k, _)| key(*k));
                pairs.dedup_by_key(|(k, _)| key(*k));
            }
            let mut b = db.batch_writer().unwrap();
            for (k, l) in pairs {
                match l {
                    Some(l) => {
                        let v = value(k, l, round);
                        b.set(&key(k), &v).unwrap();
                        model.insert(key(k), (v, None));
                    }
                    None => {
                        b.delete(&key(k)).unwrap();
                        model.remove(&key(k));
                    }
                }
            }
            b.commit().unwrap();
        }
        Op::Seal => {
            db.close().unwrap();
            Db::open(dir, options(clock, true))
                .unwrap()
                .close()
                .unwrap();
            return Db::open(dir, options(clock, false)).unwrap();
        }
        Op::Compact => {
            db.compact().unwrap();
        }
        Op::Advance(t) => clock.advance(u64::from(t) * 3),
    }
    db
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn every_walk_gives_what_the_model_gives(
        ops in prop::collection::vec(op(), 1..80),
        queries in prop::collection::vec(query(), 1..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_000_000);
        let mut db = Db::open(dir.path(), options(&clock, false)).unwrap();
        let mut model = Model::new();
        for (i, op) in ops.into_iter().enumerate() {
            db = apply(db, dir.path(), &clock, &mut model, op, i as u8);
        }
        let now = clock.now_ms();
        for q in &queries {
            prop_assert_eq!(walked(&db, q), expected(&model, q, now), "{:?}", q);
        }
    }
}

/// Checks one database against the model for a fixed set of queries.
fn agree(db: &Db, model: &Model, now: u64) {
    let mut queries = Vec::new();
    for prefix in [&b""[..], b"k", b"k0", b"k01", b"k012", b"k03x", b"z"] {
        for start in [
            Start::First,
            Start::From(b"k02".to_vec()),
            Start::After(b"k024".to_vec()),
            Start::From(b"k0".to_vec()),
        ] {
            for limit in [None, Some(1), Some(7)] {
                for (keys_only, borrowed) in [(false, false), (false, true), (true, true)] {
                    queries.push(Query {
                        prefix: prefix.to_vec(),
                        start: start.clone(),
                        limit,
                        keys_only,
                        borrowed,
                    });
                }
            }
        }
    }
    for q in &queries {
        assert_eq!(walked(db, q), expected(model, q, now), "{q:?}");
    }
}

/// Every kind of source at once: a hashed segment, a sorted one, both
/// holding keys the other hides (tombstones, overwrites, expired puts), and
/// the active log over them; then the same after a compaction.
#[test]
fn hashed_and_sorted_segments_and_the_log_merge_as_the_model_says() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    let mut db = Db::open(dir.path(), options(&clock, false)).unwrap();
    let mut model = Model::new();
    let mut run = |db: Db, op: Op, round: u8| apply(db, dir.path(), &clock, &mut model, op, round);
    // Out of key order, sealed: a hashed segment.
    let shuffled: Vec<u8> = (0..60u16).map(|i| ((i * 37 + 11) % 60) as u8).collect();
    let pairs = shuffled.iter().map(|&k| (k, Some(k % 20))).collect();
    db = run(db, Op::Batch(pairs, false), 0);
    db = run(db, Op::Seal, 0);
    // In key order, sealed: a sorted segment, hiding some of the above.
    let mut pairs: Vec<(u8, Option<u8>)> = (0..60).step_by(4).map(|k| (k, Some(9))).collect();
    pairs.extend((2..60).step_by(8).map(|k| (k, None)));
    db = run(db, Op::Batch(pairs, true), 1);
    db = run(db, Op::Seal, 1);
    // Keys that expire, one of them before the walks.
    db = run(db, Op::Expiring(5, 4, 2), 2);
    db = run(db, Op::Expiring(7, 4, 200), 2);
    db = run(db, Op::Seal, 2);
    // The active log over both.
    for k in (1..60).step_by(5) {
        db = run(db, Op::Set(k, 7), 3);
    }
    db = run(db, Op::Delete(3), 3);
    db = run(db, Op::Advance(10), 3);
    {
        let st = db.state.read().unwrap();
        let kinds: Vec<Kind> = st.segments.iter().map(|s| s.index.footer.kind).collect();
        assert!(kinds.contains(&Kind::Hashed), "{kinds:?}");
        assert!(kinds.contains(&Kind::Sorted), "{kinds:?}");
        assert!(!st.mem.is_empty());
    }
    agree(&db, &model, clock.now_ms());
    db.compact().unwrap();
    agree(&db, &model, clock.now_ms());
}

/// A walk whose sources change under it (writes that seal the log, then a
/// compaction) is rebuilt after the last key it took, heap and all: it
/// still gives every key that lived throughout exactly once, in increasing
/// order, with its value; a key written meanwhile comes with one of the
/// values it had, a key deleted meanwhile with its old value or not at all.
#[test]
fn a_walk_across_seals_and_a_compaction_gives_every_lasting_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    let opts = Options {
        // The map holds some 500 keys: the walk refills it, and
        // a refill after a change rebuilds the sources.
        segment_size: 16 * 1024,
        ..options(&clock, false)
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let n = 3000u32;
    let k = |i: u32| format!("key{i:04}").into_bytes();
    let v = |i: u32, round: u32| format!("v{i}-{round}").into_bytes();
    // Out of key order: every sealed segment and the map span all keys.
    for j in 0..n {
        let i = j * 7 % n;
        db.set(&k(i), &v(i, 0)).unwrap();
    }
    let sealed = db.state.read().unwrap().segments.len();
    assert!(sealed >= 2, "{sealed} segments");
    let mut it = db.iter();
    let mut got: Vec<(Vec<u8>, Vec<u8>)> = (0..1000).map(|_| it.next().unwrap().unwrap()).collect();
    // Meanwhile: the odd keys past the walk's place get new values (the
    // log seals again), every tenth is deleted, and the files compact.
    let generation = db.state.read().unwrap().generation;
    for i in (1000..n).filter(|i| i % 2 == 1) {
        db.set(&k(i), &v(i, 1)).unwrap();
    }
    for i in (1000..n).step_by(10) {
        db.delete(&k(i)).unwrap();
    }
    db.compact().unwrap();
    // And after the compaction, in the new log: some of them again.
    for i in (1001..n).step_by(4) {
        db.set(&k(i), &v(i, 2)).unwrap();
    }
    assert!(db.state.read().unwrap().generation > generation + 1);
    assert!(!db.state.read().unwrap().mem.is_empty());
    got.extend(it.map(|p| p.unwrap()));
    assert!(
        got.windows(2).all(|w| w[0].0 < w[1].0),
        "out of order or repeated"
    );
    let got: BTreeMap<Vec<u8>, Vec<u8>> = got.into_iter().collect();
    for i in 0..n {
        let value = got.get(&k(i));
        if i < 1000 || (i % 2 == 0 && i % 10 != 0) {
            assert_eq!(value, Some(&v(i, 0)), "key {i}");
        } else if i % 10 == 0 {
            assert!(value.is_none_or(|x| *x == v(i, 0)), "key {i}: {value:?}");
        } else {
            let written = [v(i, 0), v(i, 1), v(i, 2)];
            assert!(
                value.is_some_and(|x| written.contains(x)),
                "key {i}: {value:?}"
            );
        }
    }
}

/// A database in `dir` with segments of `segment_size`, no block cache
/// (every read reaches the storage) and no automatic compaction, over a
/// [`Counting`] storage, and the storage, for its counters.
fn counted(dir: &std::path::Path, segment_size: u64) -> (Db, Arc<Counting>) {
    let counting = Arc::new(Counting::over(Arc::new(RealStorage)));
    let opts = Options {
        cache_bytes: 0,
        auto_compact: false,
        segment_size,
        storage: Arc::clone(&counting) as Arc<dyn crate::engine::storage::Storage>,
        ..Options::default()
    };
    (Db::open(dir, opts).unwrap(), counting)
}

/// A walk from a key over the disjoint segments a compaction writes begins
/// only the walks it reaches: a short range scan in the first of many
/// segments reads about as much as it would in a database of one.
#[test]
fn a_short_range_begins_only_the_segments_it_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let (db, counting) = counted(dir.path(), 64 * 1024);
    let reads = &counting.reads;
    // Written twice: the compaction has the first values to drop.
    for _ in 0..2 {
        let mut b = db.batch_writer().unwrap();
        for i in 0..20_000u32 {
            b.set(format!("key{i:06}").as_bytes(), &[b'v'; 100])
                .unwrap();
        }
        b.commit().unwrap();
    }
    db.compact().unwrap();
    let segments = db.state.read().unwrap().segments.len();
    assert!(segments >= 8, "{segments} segments");
    // Each segment's index read once (its frames are kept), then counted.
    for _ in 0..2 {
        let mut it = db.iter().from(b"key000100");
        for want in 100..110u32 {
            let (k, _) = it.next_pair().unwrap().unwrap();
            assert_eq!(k, format!("key{want:06}").as_bytes());
        }
    }
    let before = reads.load(Ordering::SeqCst);
    let mut it = db.iter().from(b"key000200");
    for want in 200..210u32 {
        let (k, _) = it.next_pair().unwrap().unwrap();
        assert_eq!(k, format!("key{want:06}").as_bytes());
    }
    let made = reads.load(Ordering::SeqCst) - before;
    assert!(made <= 2, "{made} reads over {segments} segments");
}

/// A walk's reads grow as it goes, by half of what it read so far: a range
/// of a large sorted segment reads at most about half again what its pairs
/// take, whatever its length (reads that doubled read 2.14 times the
/// pairs' bytes at 250 pairs here).
#[test]
fn a_range_reads_little_more_than_its_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let (db, counting) = counted(dir.path(), 1 << 20);
    let bytes = &counting.bytes;
    let mut b = db.batch_writer().unwrap();
    for i in (0..20_000u32).rev() {
        b.set(format!("key{i:06}").as_bytes(), &[b'v'; 100])
            .unwrap();
    }
    b.commit().unwrap();
    // One sorted segment (the batch spilled past 1 MiB).
    assert_eq!(db.state.read().unwrap().segments.len(), 1);
    let range = |n: u32| {
        let mut it = db.iter().from(b"key005000");
        let mut taken = 0;
        for want in 5_000..5_000 + n {
            let (k, v) = it.next_pair().unwrap().unwrap();
            assert_eq!(k, format!("key{want:06}").as_bytes());
            taken += crate::engine::record::encoded_len(k.len(), v.len());
        }
        taken as f64
    };
    // The index's frames are read once, then kept.
    range(1);
    for n in [250, 600, 1_100, 2_000, 4_000] {
        let before = bytes.load(Ordering::SeqCst);
        let taken = range(n);
        let read = (bytes.load(Ordering::SeqCst) - before) as f64;
        assert!(
            read <= 1.55 * taken,
            "{read} bytes read for {n} pairs, {taken} bytes"
        );
    }
}
