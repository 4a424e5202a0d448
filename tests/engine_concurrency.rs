//! Many readers (get and iter) while one writer forces seals and
//! compactions; eight concurrent writers sharing fsyncs. Readers check that
//! every value they see was written for its key; writers that were
//! acknowledged are all there after a reopen.

mod common_engine;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use common_engine::{real_options, value_for, value_is_intact};
use tinykv::{Batch, Db, Options};

fn opts() -> Options {
    let mut o = real_options();
    o.auto_compact = true;
    o.compact_min_bytes = 16 * 1024;
    o.compact_ratio = 1.5;
    o.sync = tinykv::SyncMode::Never;
    o
}

const KEYS: u64 = 64;

fn key(i: u64) -> Vec<u8> {
    format!("key{:03}", i % KEYS).into_bytes()
}

/// Readers run until the writer is done; returns how many reads they made.
fn readers(db: &Arc<Db>, done: &Arc<AtomicBool>, n: usize) -> Vec<thread::JoinHandle<u64>> {
    (0..n)
        .map(|t| {
            let (db, done) = (Arc::clone(db), Arc::clone(done));
            thread::spawn(move || {
                let mut reads = 0u64;
                let mut i = t as u64;
                // At least a few rounds even if the writer is quick.
                while !done.load(Ordering::Acquire) || reads < 200 {
                    i += 1;
                    let k = key(i * 7);
                    if let Some(v) = db.get(&k).expect("get") {
                        assert!(
                            value_is_intact(&k, &v),
                            "get({k:?}) read another key's value"
                        );
                    }
                    reads += 1;
                    if i.is_multiple_of(16) {
                        let mut last: Option<Vec<u8>> = None;
                        for item in db.iter() {
                            let (k, v) = item.expect("iter");
                            assert!(
                                value_is_intact(&k, &v),
                                "iter paired {k:?} with a foreign value"
                            );
                            assert!(last.as_ref().is_none_or(|l| *l < k), "iter out of order");
                            last = Some(k);
                            reads += 1;
                        }
                    }
                }
                reads
            })
        })
        .collect()
}

#[test]
fn readers_see_only_written_values_while_a_writer_seals_and_compacts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for session in 0..2u64 {
        let db = Arc::new(Db::open(&dir, opts()).unwrap());
        // Before the writer starts, readers see the previous session's data.
        for (k, v) in &model {
            assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "session {session}");
        }
        let done = Arc::new(AtomicBool::new(false));
        let rs = readers(&db, &done, 3);
        for i in 0..1500u64 {
            let k = key(i);
            if i.is_multiple_of(11) {
                db.delete(&k).unwrap();
                model.remove(&k);
            } else {
                let v = value_for(&k, session * 10_000 + i, 40 + (i % 5) as usize * 60);
                db.set(&k, &v).unwrap();
                model.insert(k, v);
            }
        }
        done.store(true, Ordering::Release);
        let reads: u64 = rs
            .into_iter()
            .map(|h| h.join().expect("reader panicked"))
            .sum();
        assert!(reads > 0);
        let stats = db.stats().unwrap();
        assert!(
            stats.last_compaction.is_some(),
            "the writer never compacted"
        );
        assert_eq!(common_engine::contents(&db), model, "session {session}");
        drop(db);
    }
    let db = Db::open(&dir, opts()).unwrap();
    assert_eq!(common_engine::contents(&db), model);
}

#[test]
fn eight_concurrent_writers_are_all_acknowledged_and_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let mut opts = opts();
    opts.sync = tinykv::SyncMode::Always;
    let db = Arc::new(Db::open(&dir, opts.clone()).unwrap());
    let threads = 8u64;
    let per = 60u64;
    let barrier = Arc::new(Barrier::new(threads as usize));
    let acked = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (db, barrier, acked) = (Arc::clone(&db), Arc::clone(&barrier), Arc::clone(&acked));
            thread::spawn(move || {
                barrier.wait();
                for i in 0..per {
                    let k = format!("t{t}-{i:03}").into_bytes();
                    if i % 10 == 9 {
                        let mut b = Batch::new();
                        b.set(k.clone(), value_for(&k, i, 30));
                        b.set(format!("t{t}-{i:03}-b").into_bytes(), b"batch".to_vec());
                        db.write_batch(b).unwrap();
                    } else {
                        db.set(&k, &value_for(&k, i, 30)).unwrap();
                    }
                    acked.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("writer panicked");
    }
    assert_eq!(acked.load(Ordering::Relaxed), threads * per);
    drop(db);
    let db = Db::open(&dir, opts).unwrap();
    for t in 0..threads {
        for i in 0..per {
            let k = format!("t{t}-{i:03}").into_bytes();
            assert_eq!(
                db.get(&k).unwrap(),
                Some(value_for(&k, i, 30)),
                "{}",
                String::from_utf8_lossy(&k)
            );
            if i % 10 == 9 {
                assert_eq!(
                    db.get(format!("t{t}-{i:03}-b").as_bytes()).unwrap(),
                    Some(b"batch".to_vec())
                );
            }
        }
    }
    assert_eq!(db.len().unwrap(), threads * per + threads * (per / 10));
    assert!(db.check().unwrap().is_clean());
}

/// `get_many` and `contains_many` see one moment: while a writer sets three
/// keys to the same round number in one batch (and deletes them together
/// every seventh round), with seals and compactions in between, a reader
/// never sees the three disagree.
#[test]
fn multi_key_reads_never_see_half_a_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(tmp.path(), opts()).unwrap());
    let keys: [&[u8]; 3] = [b"a", b"m", b"z"];
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, done) = (Arc::clone(&db), Arc::clone(&done));
        thread::spawn(move || {
            let mut reads = 0u64;
            while !done.load(Ordering::SeqCst) || reads < 100 {
                let values = db.get_many(&keys).unwrap();
                // The round each value was written in ("k=ROUND:...").
                let rounds: Vec<Option<String>> = values
                    .iter()
                    .map(|v| {
                        v.as_ref().map(|v| {
                            let s = String::from_utf8_lossy(v);
                            s.split(['=', ':']).nth(1).unwrap_or_default().to_owned()
                        })
                    })
                    .collect();
                assert!(
                    rounds.windows(2).all(|w| w[0] == w[1]),
                    "half a batch seen: rounds {rounds:?}"
                );
                let there = db.contains_many(&keys).unwrap();
                assert!(there.windows(2).all(|w| w[0] == w[1]), "{there:?}");
                reads += 1;
            }
            reads
        })
    };
    for round in 0..2_000u64 {
        let mut b = Batch::new();
        for k in keys {
            if round % 7 == 6 {
                b.delete(k.to_vec());
            } else {
                b.set(k.to_vec(), value_for(k, round, 120));
            }
        }
        // Other keys between, so the log seals and compacts.
        b.set(key(round).to_vec(), value_for(&key(round), round, 200));
        db.write_batch(b).unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let reads = reader.join().unwrap();
    assert!(reads >= 100);
    let last = db.get_many(&keys).unwrap();
    assert_eq!(last[0].as_deref(), Some(&value_for(b"a", 1999, 120)[..]));
}
