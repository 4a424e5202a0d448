//! Power loss at every step of the write paths whose order is their
//! safety: the first write into a new nested directory, the seal of a log
//! this handle did not sync, a compaction, and `recover`.
//!
//! A step is chosen by failing the Nth storage operation, and every one
//! after it, for good (the process stops there); then the power goes, and
//! `SimStorage` decides, by the seed, what of the unsynced state survives:
//! file bytes, and each directory operation on its own (ALICE's model;
//! see src/engine/storage/sim.rs). N runs from 1 to one past the last
//! operation, so the last case is a power loss after a clean finish.
//!
//! A failure prints the scenario, N and the seed; the cases are
//! deterministic in them.

mod common_engine;

use std::collections::BTreeMap;
use std::path::Path;

use common_engine::{sim_options, soak, value_for};
use tinykv::engine::SimStorage;
use tinykv::engine::storage::{Fault, FaultKind, FaultOp};
use tinykv::{Db, Error, Options, SyncMode};

type Model = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

fn seeds() -> u64 {
    if soak() { 300 } else { 12 }
}

/// From the `nth` operation on, every storage operation fails.
fn stop_at(sim: &SimStorage, nth: u64) {
    sim.inject(Fault {
        op: FaultOp::Any,
        nth,
        kind: FaultKind::Eio,
        persistent: true,
    });
}

/// Kills the process: what it wrote stays in the page cache, unsynced,
/// and its handles do nothing more.
fn kill(sim: &SimStorage, db: Db) {
    stop_at(sim, 1);
    drop(db);
    sim.clear_faults();
}

/// Runs `action` on a fresh `setup` for every N and seed, with the power
/// lost at operation N, and checks the state a reopen finds with `verify`
/// (given what `action` returned). Returns how many cases ran.
fn sweep<S, A>(
    name: &str,
    setup: impl Fn(&SimStorage) -> S,
    action: impl Fn(&SimStorage, &S) -> A,
    verify: impl Fn(&SimStorage, &S, &A) -> Result<(), String>,
) -> u64 {
    let mut cases = 0;
    let mut failures = Vec::new();
    for seed in 0..seeds() {
        // How many operations the action takes when nothing fails.
        let sim = SimStorage::new(seed);
        let state = setup(&sim);
        let before = sim.op_count();
        action(&sim, &state);
        let total = sim.op_count() - before;
        for nth in 1..=total + 1 {
            let sim = SimStorage::new(seed.wrapping_mul(1000).wrapping_add(nth));
            let state = setup(&sim);
            stop_at(&sim, nth);
            let outcome = action(&sim, &state);
            sim.crash();
            sim.clear_faults();
            cases += 1;
            if let Err(e) = verify(&sim, &state, &outcome) {
                failures.push(format!(
                    "{name}: seed {seed}, power lost at operation {nth} of {total}: {e}"
                ));
            }
        }
    }
    if !failures.is_empty() {
        let n = failures.len();
        failures.truncate(10);
        panic!("{n} of {cases} cases failed:\n{}", failures.join("\n"));
    }
    eprintln!("{name}: {cases} cases");
    cases
}

/// Every key of `model` holds its value (`None`: absent), nothing else is
/// there, and `check` finds nothing wrong.
fn holds(db: &Db, model: &Model) -> Result<(), String> {
    for (k, want) in model {
        let got = db.get(k).map_err(|e| format!("get: {e}"))?;
        if &got != want {
            return Err(format!(
                "{} holds {:?}, expected {:?}",
                String::from_utf8_lossy(k),
                got.map(|v| v.len()),
                want.as_ref().map(|v| v.len())
            ));
        }
    }
    for item in db.iter() {
        let (k, _) = item.map_err(|e| format!("iter: {e}"))?;
        if !model.contains_key(&k) {
            return Err(format!(
                "{} is there, never written",
                String::from_utf8_lossy(&k)
            ));
        }
    }
    clean(db)
}

fn clean(db: &Db) -> Result<(), String> {
    let report = db.check().map_err(|e| format!("check: {e}"))?;
    if !report.is_clean() {
        return Err(format!("check found {:?}", report.problems));
    }
    Ok(())
}

fn key(i: u64) -> Vec<u8> {
    format!("k{i:02}").into_bytes()
}

/// The first `set` of a database in directories that do not exist yet:
/// once it is acknowledged, the directories holding it are durable too.
/// (Before #18, `create_dir_all`'s new directories were never fsynced in
/// their parents, and a power loss could take the whole database.)
#[test]
fn first_write_in_new_nested_directories() {
    const DIR: &str = "/new/nested/db";
    sweep(
        "first write in new directories",
        |_| (),
        |sim, ()| {
            let db = Db::open(DIR, sim_options(sim)).ok()?;
            let acked = db.set(b"k", b"v").is_ok();
            drop(db);
            Some(acked)
        },
        |sim, (), acked| {
            let db = Db::open(DIR, sim_options(sim)).map_err(|e| format!("open: {e}"))?;
            let got = db.get(b"k").map_err(|e| e.to_string())?;
            match (acked, got.as_deref()) {
                (Some(true), Some(b"v")) => {}
                (Some(true), _) => {
                    return Err("the acknowledged write is gone (and its directory?)".into());
                }
                (_, None | Some(b"v")) => {}
                (_, Some(other)) => return Err(format!("k holds {other:?}")),
            }
            clean(&db)
        },
    );
}

/// A log written under `SyncMode::Never` by a process killed before its
/// flush, then opened by another that seals it at close: the seal must
/// fsync the log before its index, which describes those bytes, becomes
/// durable. (Before #18 it did not: after a power loss the index could
/// describe bytes that never reached the disk, and open refused the
/// database with "segment cut short" until `recover`.)
#[test]
fn seal_of_a_log_nobody_synced() {
    const DIR: &str = "/db";
    sweep(
        "seal of an unsynced log",
        |sim| {
            let mut opts = sim_options(sim);
            opts.sync = SyncMode::Never;
            opts.seal_on_close = u64::MAX;
            opts.auto_compact = false;
            let db = Db::open(DIR, opts).expect("open");
            for i in 0..20 {
                db.set(&key(i), &value_for(&key(i), i, 100)).expect("set");
            }
            kill(sim, db);
        },
        |sim, ()| {
            let mut opts = sim_options(sim);
            opts.seal_on_close = 0;
            if let Ok(db) = Db::open(DIR, opts) {
                let _ = db.get(&key(0));
                drop(db);
            }
        },
        |sim, (), ()| {
            let db = Db::open(DIR, sim_options(sim)).map_err(|e| format!("open: {e}"))?;
            // Never flushed, so never promised: each key is there whole or absent.
            for i in 0..20 {
                match db.get(&key(i)).map_err(|e| e.to_string())? {
                    None => {}
                    Some(v) if v == value_for(&key(i), i, 100) => {}
                    Some(v) => return Err(format!("k{i:02} holds {} wrong bytes", v.len())),
                }
            }
            clean(&db)
        },
    );
}

/// The database `compaction` and `recover` start from: 40 keys over a few
/// sealed segments, some overwritten, some deleted.
fn segments(sim: &SimStorage) -> Model {
    let mut opts = sim_options(sim);
    opts.auto_compact = false;
    opts.seal_on_close = 0;
    let db = Db::open("/db", opts).expect("open");
    let mut model = Model::new();
    for round in 0..3u64 {
        for i in 0..40 {
            if (i + round) % 7 == 0 {
                db.delete(&key(i)).expect("delete");
                model.insert(key(i), None);
            } else {
                let v = value_for(&key(i), round * 100 + i, 60);
                db.set(&key(i), &v).expect("set");
                model.insert(key(i), Some(v));
            }
        }
    }
    db.close().expect("close");
    model
}

fn compact_options(sim: &SimStorage) -> Options {
    let mut opts = sim_options(sim);
    opts.auto_compact = false;
    opts
}

/// A compaction stopped by a power loss at any step loses nothing and
/// leaves a database that opens clean.
#[test]
fn compaction() {
    sweep(
        "compaction",
        segments,
        |sim, _| {
            if let Ok(db) = Db::open("/db", compact_options(sim)) {
                let _ = db.compact();
                drop(db);
            }
        },
        |sim, model, ()| {
            let db = Db::open("/db", compact_options(sim)).map_err(|e| format!("open: {e}"))?;
            holds(&db, model)
        },
    );
}

/// `recover` of a segment damaged in the middle, stopped by a power loss
/// at any step: open finds either the damage recover started from or a
/// database that opens, never a segment shorter than its index (which
/// would say records were lost). Then recover finishes the job. (Before
/// #18, the old index's removal and the rewritten segment's rename shared
/// one directory fsync, and a power loss could keep the rename alone.)
#[test]
fn recover_of_a_damaged_segment() {
    let seg = Path::new("/db/seg-00000001.log");
    sweep(
        "recover",
        |sim| {
            let model = segments(sim);
            let mut bytes = sim.read_file(seg).expect("a sealed segment");
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x40;
            sim.write_file(seg, &bytes).expect("plant damage");
            model
        },
        |sim, _| {
            let _ = Db::recover_dir("/db", &compact_options(sim));
        },
        |sim, model, ()| {
            let opts = compact_options(sim);
            match Db::open("/db", opts.clone()) {
                Ok(_) => {}
                Err(Error::Corrupt { reason, .. }) if !reason.contains("cut short") => {}
                Err(e) => return Err(format!("open after the crash: {e}")),
            }
            Db::recover_dir("/db", &opts).map_err(|e| format!("recover again: {e}"))?;
            let db = Db::open("/db", opts).map_err(|e| format!("open: {e}"))?;
            // The damaged record's key may be gone (or back to an older
            // value); every other key holds what was written.
            let mut wrong = 0;
            for (k, want) in model {
                if &db.get(k).map_err(|e| e.to_string())? != want {
                    wrong += 1;
                }
            }
            if wrong > 1 {
                return Err(format!("{wrong} keys lost or wrong"));
            }
            clean(&db)
        },
    );
}

/// The pairs every reopen must find: all of them or none, with what the
/// database held before.
fn all_or_nothing(db: &Db, before: &Model, after: &Model, acked: bool) -> Result<(), String> {
    let now: Model = db
        .iter()
        .map(|p| p.map(|(k, v)| (k, Some(v))))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("iter: {e}"))?;
    if now == *after {
        return clean(db);
    }
    if acked {
        return Err("the acknowledged load is not all there".into());
    }
    if now != *before {
        let (n, b, a) = (now.len(), before.len(), after.len());
        return Err(format!(
            "{n} pairs: neither the {b} before nor the {a} after the load"
        ));
    }
    clean(db)
}

/// A load larger than a segment, in random order or in key order: it
/// spills into sorted runs, which are merged (or, in key order, kept) into
/// new segments, the active log sealed below them, a marker the commit
/// point. A power loss at any step leaves all of the load or none of it,
/// and all of it once the commit returned.
#[test]
fn bulk_load_of_many_runs() {
    for in_order in [false, true] {
        let name = if in_order {
            "bulk load in key order"
        } else {
            "bulk load in random order"
        };
        sweep(
            name,
            |sim| {
                let mut opts = sim_options(sim);
                opts.auto_compact = false;
                let db = Db::open("/db", opts).expect("open");
                let mut before = Model::new();
                for i in (0..150).step_by(5) {
                    db.set(&key(i), b"before").expect("set");
                    before.insert(key(i), Some(b"before".to_vec()));
                }
                drop(db);
                let mut after = before.clone();
                let mut order: Vec<u64> = (0..150).collect();
                if !in_order {
                    order.sort_by_key(|i| (i * 7919) % 151);
                }
                let writes: Vec<(Vec<u8>, Vec<u8>)> = order
                    .into_iter()
                    .map(|i| (key(i), value_for(&key(i), i, 48)))
                    .collect();
                for (k, v) in &writes {
                    after.insert(k.clone(), Some(v.clone()));
                }
                (before, after, writes)
            },
            |sim, (_, _, writes)| {
                let mut opts = sim_options(sim);
                opts.auto_compact = false;
                let db = Db::open("/db", opts).ok()?;
                let mut batch = db.batch_writer().ok()?;
                for (k, v) in writes {
                    batch.set(k, v).ok()?;
                }
                let acked = batch.commit().is_ok();
                drop(db);
                Some(acked)
            },
            |sim, (before, after, _), acked| {
                let mut opts = sim_options(sim);
                opts.auto_compact = false;
                let db = Db::open("/db", opts).map_err(|e| format!("open: {e}"))?;
                all_or_nothing(&db, before, after, *acked == Some(true))?;
                let names = sim.files();
                if let Some(left) = names.iter().find(|p| {
                    let n = p.to_string_lossy();
                    n.ends_with(".tmp") || n.ends_with("load.commit")
                }) {
                    return Err(format!("{} left behind", left.display()));
                }
                Ok(())
            },
        );
    }
}
