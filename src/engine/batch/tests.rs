//! Tests of `batch`.

use crate::engine::{Batch, Db, Options, SimStorage};

fn small_opts() -> Options {
    Options {
        segment_size: 4096,
        ..Options::default()
    }
}

/// A batch counts its operations and the bytes of its keys and values,
/// and every kind of write in it is applied.
#[test]
fn a_batch_counts_what_it_holds_and_applies_it() {
    let mut b = Batch::new();
    assert!(b.is_empty());
    assert_eq!((b.len(), b.size_bytes()), (0, 0));
    b.set(b"ab".to_vec(), b"cde".to_vec());
    assert!(!b.is_empty());
    assert_eq!((b.len(), b.size_bytes()), (1, 5));
    b.delete(b"gone".to_vec());
    assert_eq!((b.len(), b.size_bytes()), (2, 9));
    b.set_expiring(b"t".to_vec(), b"vv".to_vec(), Some(u64::MAX / 2));
    assert_eq!((b.len(), b.size_bytes()), (3, 12));
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.set(b"gone", b"x").unwrap();
    db.write_batch(b).unwrap();
    assert_eq!(db.get(b"ab").unwrap(), Some(b"cde".to_vec()));
    assert_eq!(db.get(b"gone").unwrap(), None);
    assert_eq!(db.get(b"t").unwrap(), Some(b"vv".to_vec()));
}

/// A batch writer counts its operations as they are added.
#[test]
fn a_batch_writer_counts_its_operations() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut b = db.batch_writer().unwrap();
    assert!(b.is_empty());
    assert_eq!(b.len(), 0);
    b.set(b"a", b"1").unwrap();
    assert!(!b.is_empty());
    assert_eq!(b.len(), 1);
    b.delete(b"b").unwrap();
    b.set_expiring(b"c", b"3", Some(u64::MAX / 2)).unwrap();
    assert_eq!(b.len(), 3);
    b.commit().unwrap();
    // A batch that does not fill the log is not sealed at commit.
    assert!(db.state.read().unwrap().segments.is_empty());
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(db.get(b"c").unwrap(), Some(b"3".to_vec()));
}

/// A replacing batch leaves exactly its own live pairs: every other key
/// (before, between and after the batch's keys, in segments and in the
/// in-memory map) is deleted, and a key it writes twice or deletes is
/// handled as any batch would.
#[test]
fn a_replacing_batch_leaves_only_its_own_pairs() {
    for sealed in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), small_opts()).unwrap();
        for k in ["a", "b", "c", "d", "e", "f", "g"] {
            db.set(k.as_bytes(), b"old").unwrap();
        }
        if sealed {
            db.set(b"h", &[0; 4096]).unwrap();
            assert!(db.state.read().unwrap().mem.is_empty());
        }
        let mut b = db.batch_writer().unwrap();
        b.replace_all();
        b.set(b"e", b"1").unwrap();
        b.set(b"bb", b"2").unwrap();
        b.set(b"c", b"3").unwrap();
        b.set(b"e", b"4").unwrap();
        b.delete(b"f").unwrap();
        b.set(b"z", b"5").unwrap();
        b.commit().unwrap();
        let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = [("bb", "2"), ("c", "3"), ("e", "4"), ("z", "5")]
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(all, want, "sealed: {sealed}");
        drop(db);
        let db = Db::open(dir.path(), small_opts()).unwrap();
        let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
        assert_eq!(all, want, "sealed: {sealed}, reopened");
    }
}

/// A batch whose commit fills the log and whose seal then fails is
/// durable already: its commit succeeds and the handle is poisoned;
/// unless nothing was fsynced (`SyncMode::Never`), where the failed
/// seal may have been its flush, and the commit fails.
#[test]
fn a_failed_seal_after_a_batch_fails_its_commit_only_when_unsynced() {
    use crate::engine::storage::{Fault, FaultKind, FaultOp};
    use crate::engine::{Error, SyncMode};
    for sync in [SyncMode::Always, SyncMode::Never] {
        let sim = SimStorage::new(5);
        let o = Options {
            sync,
            auto_compact: false,
            storage: std::sync::Arc::new(sim.clone()),
            ..small_opts()
        };
        let db = Db::open("/db", o).unwrap();
        // The log is filled by the batch, which is smaller than a segment
        // (a larger one would spill into sorted runs: see bulk.rs).
        db.set(b"pad", &[b'p'; 900]).unwrap();
        let mut b = db.batch_writer().unwrap();
        for i in 0..30u32 {
            b.set(format!("k{i:02}").as_bytes(), &[b'v'; 100]).unwrap();
        }
        assert!(b.bulk.is_none());
        // The seal's first step that can fail alone: renaming its index.
        sim.inject(Fault {
            op: FaultOp::Rename,
            nth: 1,
            kind: FaultKind::Eio,
            persistent: true,
        });
        let r = b.commit();
        match sync {
            SyncMode::Never => assert!(matches!(r, Err(Error::Io { .. })), "{r:?}"),
            _ => assert!(r.is_ok(), "{r:?}"),
        }
        assert!(matches!(
            db.set(b"later", b"x"),
            Err(Error::Poisoned { .. })
        ));
        sim.clear_faults();
        if sync == SyncMode::Always {
            assert_eq!(db.get(b"k29").unwrap(), Some(vec![b'v'; 100]));
            drop(db);
            let o = Options {
                storage: std::sync::Arc::new(sim.clone()),
                ..small_opts()
            };
            let db = Db::open("/db", o).unwrap();
            assert_eq!(db.len().unwrap(), 31);
        }
    }
}

/// A batch that could not start, because the log it would write to
/// could not be created (a full disk), leaves the handle usable: once
/// there is space, the next write creates the log.
#[test]
fn a_batch_that_cannot_start_leaves_the_handle_usable() {
    use crate::engine::storage::{Fault, FaultKind, FaultOp, Storage};
    let sim = SimStorage::new(9);
    let o = || Options {
        storage: std::sync::Arc::new(sim.clone()),
        ..small_opts()
    };
    let db = Db::open("/db", o()).unwrap();
    db.set(b"a", b"1").unwrap();
    drop(db);
    sim.remove_file(std::path::Path::new("/db/wal.log"))
        .unwrap();
    sim.inject(Fault {
        op: FaultOp::Write,
        nth: 1,
        kind: FaultKind::Enospc,
        persistent: true,
    });
    let db = Db::open("/db", o()).unwrap();
    let r = db.batch_writer();
    assert!(r.as_ref().is_err_and(|e| e.is_no_space()), "{r:?}");
    drop(r);
    sim.clear_faults();
    db.set(b"b", b"2").unwrap();
    let mut b = db.batch_writer().unwrap();
    b.set(b"c", b"3").unwrap();
    b.commit().unwrap();
    assert_eq!(db.len().unwrap(), 2);
}

/// A replacing batch of two writes out of key order, whose keys differ
/// in their first byte and agree in their second, deletes neither: its
/// writes are sorted before they are merged with the database's keys.
#[test]
fn a_replacing_batch_of_two_sorts_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    for k in ["a", "axc", "bx", "c"] {
        db.set(k.as_bytes(), b"old").unwrap();
    }
    let mut b = db.batch_writer().unwrap();
    b.replace_all();
    b.set(b"bx", b"1").unwrap();
    b.set(b"axc", b"2").unwrap();
    b.commit().unwrap();
    let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
    let want = vec![
        (b"axc".to_vec(), b"2".to_vec()),
        (b"bx".to_vec(), b"1".to_vec()),
    ];
    assert_eq!(all, want);
}

#[test]
fn committed_batch_is_visible_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    db.set(b"gone", b"x").unwrap();
    let mut b = db.batch_writer().unwrap();
    for i in 0..2000u32 {
        b.set(format!("k{i:05}").as_bytes(), &[b'v'; 100]).unwrap();
    }
    b.delete(b"gone").unwrap();
    assert_eq!(b.len(), 2001);
    b.commit().unwrap();
    assert_eq!(db.get(b"k01999").unwrap(), Some(vec![b'v'; 100]));
    assert_eq!(db.get(b"gone").unwrap(), None);
    drop(db);
    let db = Db::open(dir.path(), small_opts()).unwrap();
    assert_eq!(db.len().unwrap(), 2000);
    assert_eq!(db.get(b"gone").unwrap(), None);
}

/// A batch that fills the log is sealed straight from its slots, merged
/// with what the in-memory map already held: the batch's last write of
/// a key wins over earlier ones and over the map's.
#[test]
fn a_batch_sealed_at_commit_merges_with_the_map() {
    for shuffled in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), small_opts()).unwrap();
        let mut model = std::collections::BTreeMap::new();
        // Most of a segment in the map, so that the batch, smaller than a
        // segment (a larger one would spill: see bulk.rs), fills the log.
        let old = vec![b'o'; 600];
        for k in ["a", "c", "m", "z"] {
            db.set(k.as_bytes(), &old).unwrap();
            model.insert(k.as_bytes().to_vec(), old.clone());
        }
        let mut keys: Vec<u32> = (0..40).collect();
        if shuffled {
            keys.reverse();
            keys.swap(10, 30);
        }
        let mut b = db.batch_writer().unwrap();
        for &i in &keys {
            let k = format!("k{i:04}").into_bytes();
            b.set(&k, &[b'v'; 40]).unwrap();
            model.insert(k, vec![b'v'; 40]);
        }
        b.set(b"a", b"first").unwrap();
        b.delete(b"c").unwrap();
        b.set(b"a", b"last").unwrap();
        b.set(b"k0007", b"again").unwrap();
        model.insert(b"a".to_vec(), b"last".to_vec());
        model.remove(&b"c"[..]);
        model.insert(b"k0007".to_vec(), b"again".to_vec());
        assert!(b.bulk.is_none());
        b.commit().unwrap();
        {
            let st = db.state.read().unwrap();
            assert!(st.mem.is_empty(), "the batch was sealed at commit");
            assert_eq!(st.segments.len(), 1);
        }
        for (k, v) in &model {
            assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "{k:?}");
        }
        assert_eq!(db.get(b"c").unwrap(), None);
        let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
        assert_eq!(all, model.clone().into_iter().collect::<Vec<_>>());
        assert!(db.check().unwrap().is_clean());
        drop(db);
        let db = Db::open(dir.path(), small_opts()).unwrap();
        let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
        assert_eq!(all, model.into_iter().collect::<Vec<_>>());
    }
}

#[test]
fn dropped_batch_leaves_nothing_and_writes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.set(b"before", b"1").unwrap();
    {
        let mut b = db.batch_writer().unwrap();
        for i in 0..20_000u32 {
            b.set(format!("k{i:05}").as_bytes(), &[b'v'; 100]).unwrap();
        }
    }
    assert_eq!(db.get(b"k00001").unwrap(), None);
    db.set(b"after", b"2").unwrap();
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(db.open_report().truncated.is_none());
    let keys: Vec<_> = db.keys(b"").map(|k| k.unwrap()).collect();
    assert_eq!(keys, vec![b"after".to_vec(), b"before".to_vec()]);
}

#[test]
fn other_writers_wait_for_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(Db::open(dir.path(), Options::default()).unwrap());
    let mut b = db.batch_writer().unwrap();
    b.set(b"a", b"batch").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let other = {
        let db = std::sync::Arc::clone(&db);
        std::thread::spawn(move || {
            db.set(b"a", b"later").unwrap();
            tx.send(()).unwrap();
        })
    };
    // The other writer cannot finish while the batch is open.
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(200))
            .is_err()
    );
    b.commit().unwrap();
    other.join().unwrap();
    assert_eq!(db.get(b"a").unwrap(), Some(b"later".to_vec()));
}

/// A batch of many short writes spills once the memory its keys take
/// passes a segment's bytes, while its records in the log are still far
/// from a segment; what it wrote reads back whole.
#[test]
fn a_batch_of_short_writes_spills_for_its_keys_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small_opts()).unwrap();
    let mut b = db.batch_writer().unwrap();
    let mut spilled_at = None;
    for i in 0..300u32 {
        b.set(&i.to_be_bytes()[2..], b"").unwrap();
        if spilled_at.is_none() && b.bulk.is_some() {
            spilled_at = Some((i, b.written + b.buf.len() as u64));
        }
    }
    // About 12 bytes a record in the log, 40 a key's slot in memory.
    let (at, logged) = spilled_at.expect("the batch spilled");
    assert!(at < 150, "spilled at write {at}");
    assert!(logged < 4096 / 2, "{logged} bytes in the log");
    b.commit().unwrap();
    let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
    let want: Vec<_> = (0..300u32)
        .map(|i| (i.to_be_bytes()[2..].to_vec(), Vec::new()))
        .collect();
    assert_eq!(all, want);
}
