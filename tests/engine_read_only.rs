//! A read-only open (`Options::read_only`) reads everything and changes
//! nothing: on a simulated directory holding every kind of thing an open
//! would otherwise repair or settle (a torn tail of the active log, a
//! missing index, a stray index, a leftover temporary file), reads match
//! the model, every write is refused with `Error::ReadOnly`, other
//! read-only handles open beside it while a writer waits, `check` and
//! `backup` work, and afterwards not a byte, file or directory of the
//! database has changed; the next writable open still finds the tail to
//! cut.

mod common_engine;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common_engine::{assert_contents, fill, sim_listing, sim_options};
use tinykv::engine::{Batch, Condition, Expiry, SimStorage, Storage};
use tinykv::{Db, Error, Options};

const DIR: &str = "db";

/// Every file under `dir` with its bytes.
fn snapshot(sim: &SimStorage, dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    sim.files()
        .into_iter()
        .filter(|p| p.starts_with(dir))
        .map(|p| {
            let bytes = sim.read_file(&p).expect("listed");
            (p, bytes)
        })
        .collect()
}

fn read_only(sim: &SimStorage) -> Options {
    let mut o = sim_options(sim);
    o.read_only = true;
    o
}

fn refused<T>(what: &str, r: tinykv::engine::Result<T>) {
    match r {
        Err(Error::ReadOnly { path }) => assert_eq!(path, Path::new(DIR), "{what}"),
        Err(e) => panic!("{what}: expected ReadOnly, got {e}"),
        Ok(_) => panic!("{what}: expected ReadOnly, got success"),
    }
}

/// A database with sealed segments and a live log, then left as a crash
/// and an interrupted seal would leave it: a torn tail, a missing index,
/// an index whose log is gone, a temporary file.
fn damaged_db(sim: &SimStorage) -> (BTreeMap<Vec<u8>, Vec<u8>>, u64) {
    let dir = Path::new(DIR);
    let mut opts = sim_options(sim);
    opts.auto_compact = false;
    opts.seal_on_close = u64::MAX;
    let db = Db::open(dir, opts).expect("open");
    let mut model = fill(&db, 80, 1, 120);
    for i in (0..80).step_by(9) {
        let k = format!("key{i:03}").into_bytes();
        db.delete(&k).expect("delete");
        model.remove(&k);
    }
    db.close().expect("close");
    let idx = dir.join("seg-00000001.idx");
    let idx_bytes = sim.read_file(&idx).expect("a first segment");
    sim.remove_file(&idx).unwrap();
    sim.write_file(&dir.join("seg-00000090.idx"), &idx_bytes)
        .unwrap();
    sim.write_file(&dir.join("seg-00000091.log.tmp"), b"half a compaction")
        .unwrap();
    let wal = dir.join("wal.log");
    let mut log = sim.read_file(&wal).expect("a live log");
    let intact = log.len() as u64;
    assert!(intact > 16, "records in the log: {}", sim_listing(sim));
    log.extend_from_slice(&[0x41, 0x07, 0x00, 0x93, 0x11]);
    sim.write_file(&wal, &log).unwrap();
    (model, intact)
}

#[test]
fn a_read_only_open_reads_everything_and_changes_nothing() {
    let sim = SimStorage::new(11);
    let dir = Path::new(DIR);
    let (model, intact) = damaged_db(&sim);
    let before = snapshot(&sim, dir);

    let db = Db::open(dir, read_only(&sim)).expect("read-only open");
    assert!(db.is_read_only());
    let report = db.open_report().clone();
    let torn = report
        .left_torn
        .as_ref()
        .expect("the torn tail is reported");
    assert_eq!((torn.offset, torn.bytes), (intact, 5), "{report:?}");
    assert_eq!(report.truncated, None);
    assert!(report.removed.is_empty() && report.rebuilt_indexes.is_empty());
    assert_contents(&db, &model, "read-only");
    assert_eq!(db.len().unwrap(), model.len() as u64);
    assert!(db.contains(b"key001").unwrap() && !db.contains(b"key000").unwrap());

    refused("set", db.set(b"new", b"v"));
    refused("delete of a key", db.delete(b"key001"));
    refused("delete of no key", db.delete(b"key000"));
    let mut batch = Batch::new();
    batch.set(b"a".to_vec(), b"1".to_vec());
    refused("write_batch", db.write_batch(batch));
    refused("batch_writer", db.batch_writer().map(drop));
    refused("compact", db.compact());
    refused("recover", db.recover());
    refused("set_lock_note", db.set_lock_note("kind=x"));
    refused("stage", db.stage(false).map(drop));
    refused(
        "set_expiring",
        db.set_expiring(b"new", b"v", Some(u64::MAX)),
    );
    refused("incr", db.incr(b"n", 1));
    refused(
        "set_if",
        db.set_if(b"key001", b"v", Condition::Present, Expiry::Keep),
    );
    refused("take_first", db.take_first(b"key"));
    refused("take_first of nothing", db.take_first(b"none:"));
    refused("rename", db.rename(b"key001", b"moved", false));
    refused("expire", db.expire(b"key001", Some(u64::MAX)));
    refused("expire of no key", db.expire(b"key000", None));
    refused("transact", db.transact(|t| t.get(b"key001")));
    // Its files are past the automatic compaction's threshold, but a
    // refused write does not try one.
    assert_eq!(db.auto_compaction_failure(), None);
    assert!(db.compaction_due());
    refused("recover_dir", Db::recover_dir(dir, &read_only(&sim)));
    db.flush().expect("nothing to flush");

    // Readers share the lock; a writer, and an exclusive check, wait.
    let second = Db::open(dir, read_only(&sim)).expect("a second reader");
    assert_contents(&second, &model, "second reader");
    assert!(matches!(
        Db::open(dir, sim_options(&sim)),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        Db::check_dir(dir, &sim_options(&sim)),
        Err(Error::Locked { .. })
    ));
    let check = Db::check_dir(dir, &read_only(&sim)).expect("a read-only check");
    let found: Vec<_> = check
        .problems
        .iter()
        .map(|p| (p.path.clone(), p.offset))
        .collect();
    let want = [
        (dir.join("seg-00000001.idx"), 0),
        (dir.join("wal.log"), intact),
    ];
    assert_eq!(found, want, "{check:?}");

    // A backup goes elsewhere, and is whole.
    db.backup(Path::new("backup")).expect("backup");
    second.close().expect("close the second reader");
    db.close().expect("close");
    assert_eq!(
        snapshot(&sim, dir),
        before,
        "the database changed: {}",
        sim_listing(&sim)
    );
    assert_eq!(sim.kind(&dir.join("lost+found")).unwrap(), None);
    let copy = Db::open("backup", sim_options(&sim)).expect("open the backup");
    assert_contents(&copy, &model, "backup");
    drop(copy);

    // The tail was left for the next writable open, which cuts it.
    let db = Db::open(dir, sim_options(&sim)).expect("writable open");
    let cut = db.open_report().truncated.clone().expect("a tail to cut");
    assert_eq!(cut.offset, intact);
    assert_contents(&db, &model, "after the writable open");
}

#[test]
fn a_read_only_open_waits_for_a_writer_and_never_creates() {
    let sim = SimStorage::new(12);
    let dir = Path::new(DIR);
    let writer = Db::open(dir, sim_options(&sim)).expect("open");
    writer.set(b"k", b"v").unwrap();
    let mut o = read_only(&sim);
    o.lock_timeout = Duration::ZERO;
    assert!(matches!(
        Db::open(dir, o.clone()),
        Err(Error::Locked { .. })
    ));
    drop(writer);

    // Without a lock file (a copy of the files, a fresh backup), a reader
    // reads without a lock: it may create nothing, the lock file included.
    sim.remove_file(&dir.join("LOCK")).unwrap();
    let before = snapshot(&sim, dir);
    let db = Db::open(dir, o.clone()).expect("open without a lock file");
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    drop(db);
    assert_eq!(snapshot(&sim, dir), before);

    // A directory that does not exist is not made, whatever `create` says.
    o.create = true;
    assert!(matches!(
        Db::open("nowhere", o),
        Err(Error::NotADatabase { .. })
    ));
    assert_eq!(sim.kind(Path::new("nowhere")).unwrap(), None);
}

/// On a real directory: the active log and the lock file keep their bytes
/// (no pid is written over the old holder's).
#[test]
fn a_real_directory_keeps_every_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, Options::default()).unwrap();
    db.set(b"k", b"v").unwrap();
    db.close().unwrap();
    let wal = dir.join("wal.log");
    let mut log = std::fs::read(&wal).unwrap();
    log.extend_from_slice(b"\x41torn");
    std::fs::write(&wal, &log).unwrap();
    std::fs::write(dir.join("LOCK"), b"12345 an old holder\n").unwrap();
    let listing = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect();
        v.sort();
        v
    };
    let before = listing(&dir);
    let mut o = Options::default();
    o.read_only = true;
    let db = Db::open(&dir, o).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    assert!(matches!(db.set(b"k", b"w"), Err(Error::ReadOnly { .. })));
    db.close().unwrap();
    assert_eq!(listing(&dir), before);
}
