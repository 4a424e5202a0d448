//! The engine against a model: random sequences of writes, compactions,
//! reopens and reads, applied to a `Db` and to a `BTreeMap`, must agree at
//! every step. Tiny thresholds make sealing, seal-on-close, automatic and
//! multi-output compaction happen all the time. Runs on `SimStorage` and on
//! the real file system. `TINYKV_SOAK=1` runs many more cases.

mod common_engine;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common_engine::{small_options, soak, value_for};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use tinykv::engine::{RealStorage, SimStorage, Storage};
use tinykv::{Batch, Db, Options};

/// Keys over a three-letter alphabet, one to three letters: 39 keys, many
/// sharing prefixes, so that overwrites, deletes and prefix scans collide.
fn key(i: u8) -> Vec<u8> {
    let mut i = usize::from(i) % 39;
    let (len, base) = if i < 3 {
        (1, 0)
    } else if i < 12 {
        (2, 3)
    } else {
        (3, 12)
    };
    i -= base;
    let mut k = vec![b'a'; len];
    for pos in (0..len).rev() {
        k[pos] = b'a' + (i % 3) as u8;
        i /= 3;
    }
    k
}

fn prefix(i: u8) -> Vec<u8> {
    // "", and the one- and two-letter keys.
    if i.is_multiple_of(13) {
        Vec::new()
    } else {
        key(i % 13 - 1)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Set(u8, usize),
    Delete(u8),
    Batch(Vec<(u8, Option<usize>)>),
    Compact,
    Reopen,
    Get(u8),
    Iter,
    IterPrefix(u8),
    Keys(u8),
    Len,
}

fn value_len() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0usize..80, 2 => 80usize..600, 1 => 600usize..4000]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (any::<u8>(), value_len()).prop_map(|(k, l)| Op::Set(k, l)),
        10 => any::<u8>().prop_map(Op::Delete),
        10 => prop::collection::vec(
            (any::<u8>(), prop::option::weighted(0.75, value_len())),
            0..6
        )
        .prop_map(Op::Batch),
        2 => Just(Op::Compact),
        3 => Just(Op::Reopen),
        10 => any::<u8>().prop_map(Op::Get),
        2 => Just(Op::Iter),
        3 => any::<u8>().prop_map(Op::IterPrefix),
        2 => any::<u8>().prop_map(Op::Keys),
        1 => Just(Op::Len),
    ]
}

/// Thresholds, varied per case.
fn tuning() -> impl Strategy<Value = (u64, u64, u64, f64)> {
    (
        prop::sample::select(vec![4096u64, 6000]),
        prop::sample::select(vec![0u64, 300, 5000]),
        prop::sample::select(vec![2048u64, 8192, 32768]),
        prop::sample::select(vec![1.0f64, 1.5, 3.0]),
    )
}

fn options(storage: Arc<dyn Storage>, t: (u64, u64, u64, f64)) -> Options {
    let mut o = small_options(storage);
    o.segment_size = t.0;
    o.seal_on_close = t.1;
    o.compact_min_bytes = t.2;
    o.compact_ratio = t.3;
    o
}

fn prefixed(model: &BTreeMap<Vec<u8>, Vec<u8>>, p: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(k, _)| k.starts_with(p))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn run(ops: &[Op], dir: &Path, opts: Options) -> Result<(), TestCaseError> {
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut db = Some(Db::open(dir, opts.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?);
    for (seq, op) in ops.iter().enumerate() {
        let seq = seq as u64;
        let d = db.as_ref().expect("open");
        let ctx = || format!("step {seq}: {op:?}");
        match op {
            Op::Set(k, len) => {
                let k = key(*k);
                let v = value_for(&k, seq, *len);
                d.set(&k, &v)
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", ctx())))?;
                model.insert(k, v);
            }
            Op::Delete(k) => {
                let k = key(*k);
                let was = d
                    .delete(&k)
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", ctx())))?;
                prop_assert_eq!(was, model.remove(&k).is_some(), "{}", ctx());
            }
            Op::Batch(items) => {
                let mut b = Batch::new();
                let mut staged = Vec::new();
                for (i, (k, v)) in items.iter().enumerate() {
                    let k = key(*k);
                    match v {
                        Some(len) => {
                            let v = value_for(&k, seq * 100 + i as u64, *len);
                            b.set(k.clone(), v.clone());
                            staged.push((k, Some(v)));
                        }
                        None => {
                            b.delete(k.clone());
                            staged.push((k, None));
                        }
                    }
                }
                d.write_batch(b)
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", ctx())))?;
                for (k, v) in staged {
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            Op::Compact => {
                d.compact()
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", ctx())))?;
            }
            Op::Reopen => {
                drop(db.take());
                db = Some(
                    Db::open(dir, opts.clone())
                        .map_err(|e| TestCaseError::fail(format!("{}: {e}", ctx())))?,
                );
            }
            Op::Get(k) => {
                let k = key(*k);
                let got = d
                    .get(&k)
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", ctx())))?;
                prop_assert_eq!(got.as_ref(), model.get(&k), "{}", ctx());
                prop_assert_eq!(
                    d.contains(&k)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?,
                    model.contains_key(&k),
                    "{}",
                    ctx()
                );
            }
            Op::Iter => {
                let got: Vec<_> = d
                    .iter()
                    .collect::<Result<_, _>>()
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", ctx())))?;
                prop_assert_eq!(got, prefixed(&model, b""), "{}", ctx());
            }
            Op::IterPrefix(p) => {
                let p = prefix(*p);
                let got: Vec<_> = d
                    .iter_prefix(&p)
                    .collect::<Result<_, _>>()
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", ctx())))?;
                prop_assert_eq!(got, prefixed(&model, &p), "{}", ctx());
            }
            Op::Keys(p) => {
                let p = prefix(*p);
                let got: Vec<_> = d
                    .keys(&p)
                    .collect::<Result<_, _>>()
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", ctx())))?;
                let want: Vec<_> = prefixed(&model, &p).into_iter().map(|(k, _)| k).collect();
                prop_assert_eq!(got, want, "{}", ctx());
            }
            Op::Len => {
                let n = d
                    .len()
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", ctx())))?;
                prop_assert_eq!(n, model.len() as u64, "{}", ctx());
                prop_assert_eq!(
                    d.is_empty()
                        .map_err(|e| TestCaseError::fail(e.to_string()))?,
                    model.is_empty()
                );
            }
        }
    }
    // Finally: everything, across one more reopen, and a clean check.
    drop(db.take());
    let d = Db::open(dir, opts).map_err(|e| TestCaseError::fail(format!("final open: {e}")))?;
    let got: Vec<_> = d
        .iter()
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(format!("final iter: {e}")))?;
    prop_assert_eq!(got, prefixed(&model, b""), "after the final reopen");
    let report = d.check().map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(report.is_clean(), "check: {:?}", report.problems);
    Ok(())
}

fn config(quick: u32, soak_cases: u32) -> Config {
    Config {
        cases: if soak() { soak_cases } else { quick },
        // Failures print their minimal case; no regression files in tests/.
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(512, 20_000))]

    #[test]
    fn model_on_sim_storage(ops in prop::collection::vec(op(), 1..160), t in tuning(), seed in any::<u64>()) {
        let sim = SimStorage::new(seed);
        run(&ops, Path::new("/db"), options(Arc::new(sim), t))?;
    }
}

proptest! {
    #![proptest_config(config(64, 2000))]

    #[test]
    fn model_on_real_fs(ops in prop::collection::vec(op(), 1..120), t in tuning()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        run(&ops, &dir.path().join("db"), options(Arc::new(RealStorage), t))?;
    }
}

#[test]
fn key_alphabet_is_39_distinct_keys() {
    let keys: std::collections::BTreeSet<_> = (0..=255u8).map(key).collect();
    assert_eq!(keys.len(), 39);
    assert!(keys.contains(b"cab".as_slice()) && keys.contains(b"a".as_slice()));
}
