//! Bad input to `Db`: a second opener, files of a future format version,
//! directories that are not databases, and keys or values beyond the
//! limits. Each fails with its own error and writes nothing.

mod common_engine;

use std::fs;
use std::path::Path;

use common_engine::real_options;
use tinykv::engine::{MAX_KEY_LEN, MAX_VALUE_LEN};
use tinykv::{Batch, Db, Error, Options};

/// [`real_options`] sealing the log at close when it holds more than
/// `bytes`.
fn sealing_above(bytes: u64) -> Options {
    let mut o = real_options();
    o.seal_on_close = bytes;
    o
}

fn with_data(dir: &Path) {
    let db = Db::open(dir, sealing_above(0)).unwrap();
    db.set(b"k", b"v").unwrap();
    db.close().unwrap();
    let db = Db::open(dir, sealing_above(u64::MAX)).unwrap();
    db.set(b"w", b"in the wal").unwrap();
    db.close().unwrap();
}

#[test]
fn second_open_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), real_options()).unwrap();
    match Db::open(tmp.path(), real_options()) {
        Err(Error::Locked { path, pid, .. }) => {
            assert_eq!(path, tmp.path());
            assert_eq!(pid, Some(std::process::id()));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(matches!(
        Db::check_dir(tmp.path(), &real_options()),
        Err(Error::Locked { .. })
    ));
    drop(db);
    Db::open(tmp.path(), real_options()).unwrap();
}

/// Rewrites the version field of a file header (and its CRC).
fn set_version(path: &Path, version: u32) {
    let mut b = fs::read(path).unwrap();
    b[4..8].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&b[..12]);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    fs::write(path, b).unwrap();
}

#[test]
fn future_format_version_is_unsupported() {
    for file in ["wal.log", "seg-00000001.log", "seg-00000001.idx"] {
        let tmp = tempfile::tempdir().unwrap();
        with_data(tmp.path());
        let path = tmp.path().join(file);
        let before = fs::read(&path).unwrap();
        set_version(&path, 5);
        match Db::open(tmp.path(), real_options()) {
            Err(Error::UnsupportedVersion {
                path: p,
                found,
                supported,
            }) => {
                assert_eq!((p, found, supported), (path.clone(), 5, 4), "{file}");
            }
            other => panic!("{file}: expected UnsupportedVersion, got {other:?}"),
        }
        // Nothing was rewritten or rebuilt over the newer file.
        let mut after = fs::read(&path).unwrap();
        after[4..8].copy_from_slice(&4u32.to_le_bytes());
        let crc = crc32fast::hash(&after[..12]);
        after[12..16].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(after, before, "{file} was modified");
    }
}

#[test]
fn foreign_directories_are_not_databases() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("notes.txt"), b"mine").unwrap();
    fs::create_dir(tmp.path().join("photos")).unwrap();
    for r in [
        Db::open(tmp.path(), real_options()).map(|_| ()),
        Db::check_dir(tmp.path(), &real_options()).map(|_| ()),
        Db::recover_dir(tmp.path(), &real_options()).map(|_| ()),
    ] {
        match r {
            Err(Error::NotADatabase { reason, .. }) => {
                assert!(reason.contains("notes.txt"), "{reason}")
            }
            other => panic!("expected NotADatabase, got {other:?}"),
        }
    }
    let mut names: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["notes.txt", "photos"], "nothing was created");

    // A file where the directory should be.
    let file = tmp.path().join("notes.txt");
    assert!(matches!(
        Db::open(&file, real_options()),
        Err(Error::NotADatabase { .. })
    ));
    // A missing directory without `create`.
    let missing = tmp.path().join("missing");
    let mut no_create = real_options();
    no_create.create = false;
    assert!(matches!(
        Db::open(&missing, no_create),
        Err(Error::NotADatabase { .. })
    ));
    assert!(!missing.exists());
}

#[test]
fn oversized_or_empty_keys_and_values_are_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), sealing_above(u64::MAX)).unwrap();
    db.set(b"ok", b"v").unwrap();
    let wal = tmp.path().join("wal.log");
    let len = fs::metadata(&wal).unwrap().len();
    let big_key = vec![b'k'; MAX_KEY_LEN + 1];
    assert!(
        matches!(db.set(&big_key, b"v"), Err(Error::KeyTooLarge { len, max }) if len == MAX_KEY_LEN + 1 && max == MAX_KEY_LEN)
    );
    assert!(matches!(
        db.set(b"", b"v"),
        Err(Error::KeyTooLarge { len: 0, .. })
    ));
    assert!(matches!(db.get(&big_key), Err(Error::KeyTooLarge { .. })));
    assert!(matches!(
        db.delete(&big_key),
        Err(Error::KeyTooLarge { .. })
    ));
    let big_value = vec![0u8; MAX_VALUE_LEN + 1];
    assert!(
        matches!(db.set(b"k", &big_value), Err(Error::ValueTooLarge { len, max }) if len == MAX_VALUE_LEN + 1 && max == MAX_VALUE_LEN)
    );
    // One bad operation refuses the whole batch.
    let mut b = Batch::new();
    b.set(b"fine".to_vec(), b"v".to_vec());
    b.set(big_key.clone(), b"v".to_vec());
    assert!(matches!(db.write_batch(b), Err(Error::KeyTooLarge { .. })));
    let mut b = Batch::new();
    b.set(b"fine".to_vec(), b"v".to_vec());
    b.set(b"huge".to_vec(), big_value);
    assert!(matches!(
        db.write_batch(b),
        Err(Error::ValueTooLarge { .. })
    ));
    assert_eq!(
        fs::metadata(&wal).unwrap().len(),
        len,
        "a refused write reached the log"
    );
    // The largest legal key works, and the handle is not poisoned.
    let max_key = vec![b'm'; MAX_KEY_LEN];
    db.set(&max_key, b"v").unwrap();
    assert_eq!(db.get(b"fine").unwrap(), None);
    drop(db);
    let db = Db::open(tmp.path(), real_options()).unwrap();
    assert_eq!(db.get(&max_key).unwrap(), Some(b"v".to_vec()));
    assert_eq!(db.len().unwrap(), 2);
}

#[test]
fn invalid_options_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let invalid: [fn(&mut Options); 3] = [
        |o| o.segment_size = 4095,
        |o| o.compact_ratio = 0.5,
        |o| o.compact_ratio = f64::NAN,
    ];
    for make_invalid in invalid {
        let mut o = real_options();
        make_invalid(&mut o);
        assert!(matches!(
            Db::open(tmp.path(), o),
            Err(Error::InvalidOption(_))
        ));
    }
}
