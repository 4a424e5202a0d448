//! A torn `wal.log` tail, cut at every byte of the last records, loses
//! exactly the cut records; a zero-length `wal.log` and an empty `LOCK` file
//! are harmless.

mod common_engine;

use std::fs;
use std::path::Path;

use common_engine::{dir_listing, real_options};
use tinykv::{Batch, Db, Options};

fn wal_only_options() -> Options {
    let mut o = real_options();
    o.segment_size = 1 << 20;
    o.seal_on_close = u64::MAX;
    o
}

fn wal_len(dir: &Path) -> u64 {
    fs::metadata(dir.join("wal.log")).unwrap().len()
}

/// The writes of the log, in order: each is a set of (key, value) it makes visible.
fn writes() -> Vec<Vec<(&'static [u8], &'static [u8])>> {
    vec![
        vec![(b"alpha", b"one")],
        vec![(b"beta", b"two two two")],
        vec![(b"gamma", b"3"), (b"delta", b"4444"), (b"eps", b"")],
        vec![(b"zeta", b"the last record")],
    ]
}

#[test]
fn torn_tail_at_every_byte_of_the_last_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let mut bounds = Vec::new();
    {
        let db = Db::open(&dir, wal_only_options()).unwrap();
        bounds.push(wal_len(&dir));
        for w in writes() {
            if w.len() == 1 {
                db.set(w[0].0, w[0].1).unwrap();
            } else {
                let mut b = Batch::new();
                for (k, v) in &w {
                    b.set(*k, *v);
                }
                db.write_batch(b).unwrap();
            }
            bounds.push(wal_len(&dir));
        }
        db.close().unwrap();
    }
    let pristine = fs::read(dir.join("wal.log")).unwrap();
    assert_eq!(
        pristine.len() as u64,
        *bounds.last().unwrap(),
        "{}",
        dir_listing(&dir)
    );
    let all = writes();
    // Cut anywhere from the end of the first record to one byte short of the end.
    for cut in bounds[1]..bounds[bounds.len() - 1] {
        fs::write(dir.join("wal.log"), &pristine[..cut as usize]).unwrap();
        // `whole` writes survive: those that end at or before the cut.
        let whole = bounds.iter().skip(1).filter(|&&b| b <= cut).count();
        let db = Db::open(&dir, wal_only_options()).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        for (i, w) in all.iter().enumerate() {
            for (k, v) in w {
                let got = db.get(k).unwrap();
                if i < whole {
                    assert_eq!(got.as_deref(), Some(*v), "cut {cut}: write {i} lost");
                } else {
                    assert_eq!(got, None, "cut {cut}: write {i} half-applied");
                }
            }
        }
        let end = bounds[whole];
        match &db.open_report().truncated {
            Some(t) => {
                assert!(cut > end, "cut {cut}: nothing to truncate but {t:?}");
                assert_eq!((t.offset, t.bytes), (end, cut - end), "cut {cut}");
            }
            None => assert_eq!(cut, end, "cut {cut}: torn bytes not reported"),
        }
        assert_eq!(
            db.open_report().replayed,
            all[..whole].iter().map(|w| w.len() as u64).sum::<u64>()
        );
        drop(db);
        assert_eq!(wal_len(&dir), end, "cut {cut}: the torn tail stays on disk");
        let report = Db::check_dir(&dir, &wal_only_options()).unwrap();
        assert!(report.is_clean(), "cut {cut}: {:?}", report.problems);
    }
}

#[test]
fn zero_length_wal_is_an_empty_log() {
    // Alone: an empty database.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("wal.log"), b"").unwrap();
    let db = Db::open(&dir, real_options()).unwrap();
    assert!(db.is_empty().unwrap());
    assert_eq!(
        db.open_report().truncated,
        None,
        "zero bytes are nothing to save"
    );
    db.set(b"k", b"v").unwrap();
    drop(db);
    let db = Db::open(&dir, real_options()).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    drop(db);

    // Next to sealed segments: they are untouched.
    let mut seal_all = real_options();
    seal_all.seal_on_close = 0;
    let db = Db::open(&dir, seal_all.clone()).unwrap();
    db.set(b"k2", b"v2").unwrap();
    db.close().unwrap();
    fs::write(dir.join("wal.log"), b"").unwrap();
    let db = Db::open(&dir, seal_all).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(db.get(b"k2").unwrap(), Some(b"v2".to_vec()));
    assert!(db.check().unwrap().is_clean());
}

#[test]
fn empty_lock_file_is_harmless() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, real_options()).unwrap();
    db.set(b"k", b"v").unwrap();
    drop(db);
    fs::write(dir.join("LOCK"), b"").unwrap();
    let db = Db::open(&dir, real_options()).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    // The lock still excludes a second opener.
    assert!(matches!(
        Db::open(&dir, real_options()),
        Err(tinykv::Error::Locked { .. })
    ));
    drop(db);
    // A LOCK file alone is an empty database, not a foreign directory.
    let tmp2 = tempfile::tempdir().unwrap();
    fs::write(tmp2.path().join("LOCK"), b"").unwrap();
    let db = Db::open(tmp2.path(), real_options()).unwrap();
    assert!(db.is_empty().unwrap());
}
