//! Tests of `replay`.

use crate::engine::record::{LOG_MAGIC, Tag, encode, encode_commit, file_header};
use crate::engine::{Db, Error, Options};

#[test]
fn a_torn_log_header_starts_a_fresh_log() {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path(), Options::default()).unwrap());
    let mut torn = file_header(LOG_MAGIC)[..9].to_vec();
    torn.extend_from_slice(&[0xee; 11]);
    std::fs::write(dir.path().join("wal.log"), &torn).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let t = db.open_report().truncated.clone().expect("reported");
    assert_eq!(t.bytes, 20);
    let saved = std::fs::read(t.saved_to.expect("saved")).unwrap();
    assert_eq!(saved, torn);
    db.set(b"k", b"v").unwrap();
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn a_bad_header_before_records_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path(), Options::default()).unwrap());
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"k", b"v");
    bytes[0] = b'X';
    std::fs::write(dir.path().join("wal.log"), &bytes).unwrap();
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Corrupt { offset: 0, .. }) => {}
        other => panic!("expected corruption at 0, got {other:?}"),
    }
}

#[test]
fn damage_before_intact_records_is_refused_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path(), Options::default()).unwrap());
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"a", b"1");
    let bad = bytes.len();
    encode(&mut bytes, Tag::Put, b"b", b"2");
    encode(&mut bytes, Tag::Put, b"a", b"3");
    bytes[bad + 8] ^= 0x01;
    let wal = dir.path().join("wal.log");
    std::fs::write(&wal, &bytes).unwrap();
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Corrupt { path, offset, .. }) => {
            assert_eq!((path, offset), (wal.clone(), bad as u64));
        }
        other => panic!("expected corruption at {bad}, got {other:?}"),
    }
    assert_eq!(std::fs::read(&wal).unwrap(), bytes, "nothing was cut");
    // Damage in the last record is a torn tail: cut, and the rest opens.
    let last = bytes.len() - 1;
    bytes[bad + 8] ^= 0x01;
    bytes[last] ^= 0x01;
    std::fs::write(&wal, &bytes).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(db.get(b"b").unwrap(), Some(b"2".to_vec()));
}

#[test]
fn an_unfinished_batch_is_cut_without_saving_it() {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path(), Options::default()).unwrap());
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"kept", b"1");
    let kept = bytes.len();
    for i in 0..50u32 {
        encode(&mut bytes, Tag::BatchPut, format!("b{i}").as_bytes(), b"v");
    }
    let torn = bytes.len() - 5;
    let wal = dir.path().join("wal.log");
    std::fs::write(&wal, &bytes[..torn]).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let t = db.open_report().truncated.clone().expect("cut");
    assert!(t.unfinished_batch, "{t:?}");
    assert_eq!((t.offset, t.bytes), (kept as u64, (torn - kept) as u64));
    assert_eq!(t.saved_to, None);
    assert!(!dir.path().join("lost+found").exists());
    assert_eq!(db.get(b"kept").unwrap(), Some(b"1".to_vec()));
    assert_eq!(db.get(b"b0").unwrap(), None);
    drop(db);
    // A torn plain record is not a batch: it is saved as before.
    let mut bytes = std::fs::read(&wal).unwrap();
    encode(&mut bytes, Tag::Put, b"torn", b"value");
    let n = bytes.len() - 3;
    std::fs::write(&wal, &bytes[..n]).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let t = db.open_report().truncated.clone().expect("cut");
    assert!(!t.unfinished_batch);
    assert!(t.saved_to.is_some());
}

fn open_with_wal(wal: &[u8]) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path(), Options::default()).unwrap());
    std::fs::write(dir.path().join("wal.log"), wal).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    (dir, db)
}

fn lost_found(dir: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(dir.join("lost+found")) {
        Ok(names) => names
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A wal.log that cannot hold a record (shorter than its header, or a
/// header that never reached the disk whole) is replaced by a fresh
/// one, the old bytes kept in lost+found/ unless all zero, and the
/// report says which of these it was. A whole header alone is an empty
/// log, left as it is.
#[test]
fn a_log_without_a_whole_header_is_restarted_and_said_why() {
    let header = file_header(LOG_MAGIC);
    let mut bad_crc = header;
    bad_crc[13] ^= 0xff;
    let mut torn = header[..9].to_vec();
    torn.extend_from_slice(&[0xee; 11]);
    let cases: [(&[u8], Option<&str>); 6] = [
        (&header[..9], Some("log shorter than its header")),
        (&[0; 9], None),
        (&bad_crc, Some("log header damaged")),
        (&[0; 16], None),
        (&torn, Some("log header torn")),
        (&header, None),
    ];
    for (wal, why) in cases {
        let (dir, db) = open_with_wal(wal);
        let r = db.open_report();
        assert_eq!(r.replayed, 0, "{wal:?}");
        match (why, &r.truncated) {
            (None, None) => assert!(lost_found(dir.path()).is_empty(), "{wal:?}"),
            (Some(why), Some(t)) => {
                assert_eq!(t.reason, why, "{wal:?}");
                assert_eq!((t.offset, t.bytes), (0, wal.len() as u64), "{wal:?}");
                assert!(!t.unfinished_batch);
                let saved = t.saved_to.as_ref().expect("saved");
                assert_eq!(std::fs::read(saved).unwrap(), wal);
                assert_eq!(lost_found(dir.path()).len(), 1);
            }
            (why, got) => panic!("{wal:?}: expected {why:?}, got {got:?}"),
        }
        // Either way the log is a whole header now, and writes go on.
        let path = dir.path().join("wal.log");
        assert_eq!(std::fs::read(&path).unwrap(), header, "{wal:?}");
        db.set(b"k", b"v").unwrap();
        drop(db);
        let db = Db::open(dir.path(), Options::default()).unwrap();
        assert_eq!(db.open_report().truncated, None);
        assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    }
}

/// The report counts every committed operation replayed (a batch's
/// commit record is not one), and a torn plain record is cut at the
/// last whole one, saved, with where it was damaged as the reason.
#[test]
fn open_reports_what_it_replayed_and_where_it_cut() {
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"a", b"1");
    encode(&mut bytes, Tag::Delete, b"a", b"");
    encode(&mut bytes, Tag::Put, b"b", b"2");
    encode(&mut bytes, Tag::BatchPut, b"c", b"3");
    encode(&mut bytes, Tag::BatchDelete, b"b", b"");
    encode_commit(&mut bytes, 2);
    let valid = bytes.len();
    encode(&mut bytes, Tag::Put, b"torn", b"value");
    bytes.truncate(bytes.len() - 2);
    let (dir, db) = open_with_wal(&bytes);
    let r = db.open_report();
    assert_eq!(r.replayed, 5);
    let t = r.truncated.clone().expect("cut");
    assert_eq!(
        (t.offset, t.bytes),
        (valid as u64, (bytes.len() - valid) as u64)
    );
    assert!(
        t.reason.starts_with(&format!("at offset {valid}: ")),
        "{}",
        t.reason
    );
    assert!(!t.unfinished_batch);
    let saved = t.saved_to.expect("saved");
    assert_eq!(std::fs::read(&saved).unwrap(), &bytes[valid..]);
    let name = saved.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(&format!("wal.log.at-{valid}.")), "{name}");
    // Cut, not restarted: the intact records stay where they were.
    let wal = std::fs::read(dir.path().join("wal.log")).unwrap();
    assert_eq!(wal, &bytes[..valid]);
    assert_eq!(db.get(b"a").unwrap(), None);
    assert_eq!(db.get(b"b").unwrap(), None);
    assert_eq!(db.get(b"c").unwrap(), Some(b"3".to_vec()));
}

/// Zeros past the last record (the room a writer makes ahead of its
/// appends, or what a crash leaves after a torn write) are the end of the
/// log: nothing is cut, reported or saved; the next write lands right
/// after the last record, inside the room; a close cuts the room off.
#[test]
fn a_zero_tail_is_room_kept_until_close() {
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"a", b"1");
    let valid = bytes.len();
    bytes.extend_from_slice(&[0; 100]);
    let (dir, db) = open_with_wal(&bytes);
    assert!(db.open_report().truncated.is_none());
    assert!(db.open_report().left_torn.is_none());
    assert!(lost_found(dir.path()).is_empty());
    let wal = dir.path().join("wal.log");
    assert_eq!(std::fs::read(&wal).unwrap(), bytes, "kept as it was");
    assert!(db.check().unwrap().is_clean());
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
    db.set(b"b", b"2").unwrap();
    let mut after = bytes[..valid].to_vec();
    encode(&mut after, Tag::Put, b"b", b"2");
    let on_disk = std::fs::read(&wal).unwrap();
    assert_eq!(on_disk.len(), bytes.len(), "written inside the room");
    assert_eq!(&on_disk[..after.len()], &after[..]);
    db.close().unwrap();
    assert_eq!(std::fs::read(&wal).unwrap(), after, "cut at close");
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get(b"b").unwrap(), Some(b"2".to_vec()));
}

/// An unfinished batch says how many of its records were cut, and a
/// whole batch record torn at the end counts as it would have.
#[test]
fn an_unfinished_batch_is_counted_in_the_reason() {
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"a", b"1");
    let valid = bytes.len();
    encode(&mut bytes, Tag::BatchPut, b"b", b"2");
    encode(&mut bytes, Tag::BatchDelete, b"a", b"");
    encode(&mut bytes, Tag::BatchPut, b"c", b"3");
    let (dir, db) = open_with_wal(&bytes);
    let t = db.open_report().truncated.clone().expect("cut");
    assert_eq!(
        t.reason,
        "an unfinished batch of 3 records, never acknowledged"
    );
    assert_eq!((t.offset, t.saved_to), (valid as u64, None));
    assert!(t.unfinished_batch);
    assert!(lost_found(dir.path()).is_empty());
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
}

/// A plain record after batch records that never committed is damage
/// at that record (a batch is never interleaved), and as the last thing
/// in the log it is a torn tail: cut from the batch's start, saved, not
/// refused as damage with intact records after it.
#[test]
fn a_record_inside_an_unfinished_batch_is_a_torn_tail() {
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"a", b"1");
    let valid = bytes.len();
    encode(&mut bytes, Tag::BatchPut, b"b", b"2");
    encode(&mut bytes, Tag::BatchPut, b"c", b"3");
    let inside = bytes.len();
    encode(&mut bytes, Tag::Put, b"d", b"4");
    let (dir, db) = open_with_wal(&bytes);
    let t = db.open_report().truncated.clone().expect("cut");
    assert_eq!(
        t.reason,
        format!("at offset {inside}: record inside an unfinished batch")
    );
    assert_eq!(
        (t.offset, t.bytes),
        (valid as u64, (bytes.len() - valid) as u64)
    );
    assert!(!t.unfinished_batch);
    assert!(t.saved_to.is_some());
    assert_eq!(lost_found(dir.path()).len(), 1);
    assert_eq!(db.get(b"d").unwrap(), None);
}

/// Until the log is created, the stand-in holds nothing and refuses
/// every write.
#[test]
fn no_log_holds_nothing_and_refuses_writes() {
    use crate::engine::storage::StorageFile;
    let f = super::NoLog;
    let mut buf = [7u8; 4];
    assert_eq!(f.read_at(&mut buf, 0).unwrap(), 0);
    assert_eq!(f.len().unwrap(), 0);
    assert!(f.write_at(b"x", 0).is_err());
    assert!(f.set_len(0).is_err());
    assert!(f.sync_data().is_ok());
}
