//! Power loss at every step of a compaction merged in two parts: a small
//! database on `SimStorage`, made to split (`split_from_here`), the Nth
//! storage operation and every one after it failing for good (across both
//! threads: which one that is may vary with the threads' timing, and each
//! is a place the power can go), then the power lost. A reopen must find
//! every key as written, nothing else, and `check` clean; when the
//! compaction said it was done, one group of outputs and nothing older.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::parts::{MERGER, split_from_here};
use super::test_support::{Journal, JournalStorage};
use super::tests::segment_ids;
use crate::engine::storage::{Fault, FaultKind, FaultOp, Storage};
use crate::engine::{Db, Options, SimStorage};

const DIR: &str = "/db";
const KEYS: u64 = 150;

type Model = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

fn key(i: u64) -> Vec<u8> {
    format!("k{i:03}").into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    format!("{round}:{i}:").repeat(12).into_bytes()
}

/// Segments of 4 KiB (two data blocks each): the outputs are several in
/// each part.
fn options(storage: Arc<dyn Storage>) -> Options {
    Options {
        storage,
        segment_size: 4096,
        auto_compact: false,
        ..Options::default()
    }
}

/// Every key set, a third of them set again, a fifth deleted, in sealed
/// segments; what each key holds now.
fn setup(sim: &SimStorage) -> Model {
    let db = Db::open(DIR, options(Arc::new(sim.clone()))).expect("open");
    let mut model = Model::new();
    for round in 0..2 {
        for i in (0..KEYS).filter(|i| round == 0 || i % 3 == 0) {
            db.set(&key(i), &value(i, round)).expect("set");
            model.insert(key(i), Some(value(i, round)));
        }
    }
    for i in (0..KEYS).step_by(5) {
        db.delete(&key(i)).expect("delete");
        model.insert(key(i), None);
    }
    db.seal(&mut db.lock_writer()).expect("seal");
    model
}

/// Compacts, split in two; whether the compaction said it was done.
fn action(sim: &SimStorage, journal: &Arc<Journal>) -> bool {
    split_from_here(0);
    let storage = Arc::new(JournalStorage::new(journal, Arc::new(sim.clone())));
    let Ok(db) = Db::open(DIR, options(storage)) else {
        return false;
    };
    db.compact().is_ok()
}

fn verify(sim: &SimStorage, model: &Model, compacted: bool) -> Result<(), String> {
    let db = Db::open(DIR, options(Arc::new(sim.clone()))).map_err(|e| format!("open: {e}"))?;
    for (k, want) in model {
        let got = db.get(k).map_err(|e| format!("get: {e}"))?;
        if &got != want {
            return Err(format!("{} holds {got:?}", String::from_utf8_lossy(k)));
        }
    }
    for item in db.iter() {
        let (k, _) = item.map_err(|e| format!("iter: {e}"))?;
        if !model.contains_key(&k) {
            return Err(format!("{} is there", String::from_utf8_lossy(&k)));
        }
    }
    let report = db.check().map_err(|e| format!("check: {e}"))?;
    if !report.is_clean() {
        return Err(format!("check found {:?}", report.problems));
    }
    let ids = segment_ids(&db);
    let st = db.state.read().unwrap();
    let one_group = st.segments.iter().all(|s| {
        let group = s.index.footer.group;
        group.is_some_and(|g| g.first == ids[0])
    });
    if compacted && !one_group {
        return Err(format!(
            "segments {ids:?} after the compaction said it was done"
        ));
    }
    Ok(())
}

#[test]
fn power_lost_at_every_step_of_a_compaction_in_two_parts() {
    let (mut cases, mut failures) = (0, Vec::new());
    for seed in 0..3u64 {
        // How many operations the compaction takes when nothing fails, and
        // that it did merge in two parts.
        let sim = SimStorage::new(seed);
        let model = setup(&sim);
        let journal = Arc::new(Journal::default());
        let before = sim.op_count();
        assert!(action(&sim, &journal), "seed {seed}: the compaction failed");
        let total = sim.op_count() - before;
        let merged_apart = journal.events().iter().any(|(what, thread)| {
            what.starts_with("create seg-") && what.ends_with(".log.tmp") && thread == MERGER
        });
        assert!(
            merged_apart,
            "seed {seed}: no output made by the upper part"
        );
        verify(&sim, &model, true).unwrap();
        for nth in 1..=total + 1 {
            let sim = SimStorage::new(seed.wrapping_mul(1000).wrapping_add(nth));
            let model = setup(&sim);
            sim.inject(Fault {
                op: FaultOp::Any,
                nth,
                kind: FaultKind::Eio,
                persistent: true,
            });
            let compacted = action(&sim, &Arc::new(Journal::default()));
            sim.crash();
            sim.clear_faults();
            cases += 1;
            if let Err(e) = verify(&sim, &model, compacted) {
                failures.push(format!("seed {seed}, lost at {nth} of {total}: {e}"));
            }
        }
    }
    assert!(cases > 100, "{cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
