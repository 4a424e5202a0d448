//! Writes go on while a compaction merges: the compaction holds the writer
//! lock only to seal at its start and to switch its outputs in at its end.
//! A storage that holds the compaction's first output write until the test
//! says so proves it without timing: a writer finishes its writes while the
//! merge is parked; then the compaction ends and every write, old and new,
//! is there, before and after a reopen, and nothing the merge did not see
//! (a seal made meanwhile, a delete) is lost or undone.

mod common_engine;

use std::io;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common_engine::{real_options, value_for};
use tinykv::Db;
use tinykv::engine::storage::{Layer, OpenMode, RealStorage, Storage, StorageFile};

/// Real files; the first write to a compaction output (`*.log.tmp`) says
/// "parked" and waits for "go".
#[derive(Debug)]
struct Gate {
    parked: Mutex<Option<Sender<()>>>,
    go: Mutex<Option<Receiver<()>>>,
}

#[derive(Debug)]
struct GatedFile {
    inner: Arc<dyn StorageFile>,
    gate: Arc<Gate>,
}

#[derive(Debug)]
struct GatedStorage(Arc<Gate>);

impl Layer for GatedStorage {
    fn below(&self) -> &dyn Storage {
        &RealStorage
    }
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let inner = RealStorage.open(path, mode)?;
        if path.to_string_lossy().ends_with(".log.tmp") {
            return Ok(Arc::new(GatedFile {
                inner,
                gate: Arc::clone(&self.0),
            }));
        }
        Ok(inner)
    }
}

impl StorageFile for GatedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let parked = self.gate.parked.lock().unwrap().take();
        if let Some(parked) = parked {
            parked.send(()).unwrap();
            let go = self.gate.go.lock().unwrap().take().expect("one go");
            go.recv().unwrap();
        }
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

#[test]
fn writes_go_on_while_a_compaction_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let (parked_tx, parked_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    let gate = Arc::new(Gate {
        parked: Mutex::new(Some(parked_tx)),
        go: Mutex::new(Some(go_rx)),
    });
    let mut opts = real_options();
    opts.storage = Arc::new(GatedStorage(gate));
    opts.auto_compact = false;
    let db = Arc::new(Db::open(tmp.path(), opts.clone()).unwrap());
    // Old data in sealed segments, some overwritten and some deleted.
    for i in 0..300u64 {
        let k = format!("old{i:03}").into_bytes();
        db.set(&k, &value_for(&k, 1, 100)).unwrap();
    }
    for i in (0..300u64).step_by(3) {
        db.delete(format!("old{i:03}").as_bytes()).unwrap();
    }
    let compaction = {
        let db = Arc::clone(&db);
        thread::spawn(move || db.compact().unwrap())
    };
    // The merge is parked at its first output write, past the seal.
    parked_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the compaction reached its first output");
    // Writes (enough to seal the active log more than once), overwrites and
    // deletes of old keys, and reads, all while the merge waits.
    let (done_tx, done_rx) = mpsc::channel();
    let writer = {
        let db = Arc::clone(&db);
        thread::spawn(move || {
            for i in 0..200u64 {
                let k = format!("new{i:03}").into_bytes();
                db.set(&k, &value_for(&k, 2, 100)).unwrap();
            }
            db.set(b"old001", &value_for(b"old001", 9, 100)).unwrap();
            db.delete(b"old002").unwrap();
            assert_eq!(
                db.get(b"old004").unwrap(),
                Some(value_for(b"old004", 1, 100))
            );
            done_tx.send(()).unwrap();
        })
    };
    // If the compaction held the writer lock, these writes would wait for it
    // forever (it waits for "go"): a deadline, not a timing.
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("writes finished while the compaction was parked");
    writer.join().unwrap();
    go_tx.send(()).unwrap();
    let report = compaction.join().unwrap();
    assert_eq!(report.keys, 200, "the merge saw the old live keys only");
    let check = |db: &Db, when: &str| {
        for i in 0..300u64 {
            let k = format!("old{i:03}").into_bytes();
            let want = match i {
                1 => Some(value_for(&k, 9, 100)),
                2 => None,
                i if i % 3 == 0 => None,
                _ => Some(value_for(&k, 1, 100)),
            };
            assert_eq!(db.get(&k).unwrap(), want, "{when}: old{i:03}");
        }
        for i in 0..200u64 {
            let k = format!("new{i:03}").into_bytes();
            assert_eq!(
                db.get(&k).unwrap(),
                Some(value_for(&k, 2, 100)),
                "{when}: new{i:03}"
            );
        }
        assert_eq!(db.keys(b"").count(), 200 - 1 + 200, "{when}: key count");
        assert!(db.check().unwrap().is_clean(), "{when}: check");
    };
    check(&db, "after the compaction");
    drop(db);
    let db = Db::open(tmp.path(), real_options()).unwrap();
    check(&db, "after a reopen");
}
