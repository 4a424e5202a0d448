//! Replaying the active log at open: every committed operation into the
//! in-memory map, and a torn or corrupt tail cut off at the last intact
//! record (saved in `lost+found/` unless it is all zero or only an
//! unfinished batch); damage with intact records after it is refused, not
//! cut, so that `recover` keeps what follows.
//!
//! Invariant: no open needs free space to read. What replay finds to
//! repair with new bytes (a missing log, one whose header never reached the
//! disk, a torn tail to save) is a [`LogRepair`]: open tries it, and when
//! it cannot be made (a full disk) the database opens all the same, reading
//! the log as it is, and the next write or seal makes the repair first
//! ([`make_repair`]). Until then nothing is appended to the log. A
//! read-only handle never makes it: it reads the log, as it is, up to its
//! last intact record.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::dir::{self, WAL, check_log_header, create_wal};
use super::log;
use super::record::{self, FILE_HEADER_LEN};
use super::recovery;
use super::storage::{OpenMode, Storage, StorageFile};
use super::{Error, LogOrder, MemSlot, OpenReport, Result, Truncation, Writer};

/// Why damage in the middle of the active log is not cut like a torn tail.
pub(super) const INTACT_AFTER: &str =
    "intact records follow it, so it is not a torn write; recover keeps them";

/// A repair of the active log that needs free space, made before the next
/// append or seal (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum LogRepair {
    /// `wal.log` is missing, or holds no record (its header never reached
    /// the disk whole): a new log replaces it. `save`: why its bytes, which
    /// are not all zero, go to `lost+found/` first.
    NewLog { save: Option<String> },
    /// The bytes past the log's valid length are a torn tail, to be cut
    /// (and first saved to `lost+found/` when `save`).
    CutTail { cut: Truncation, save: bool },
}

/// The active log as replay found it.
pub(super) struct Replayed {
    /// The log to read (and, once `repair` is made, to append to).
    pub file: Arc<dyn StorageFile>,
    /// Where its intact records end.
    pub len: u64,
    pub mem: BTreeMap<Vec<u8>, MemSlot>,
    pub order: LogOrder,
    pub repair: Option<LogRepair>,
}

/// What stands for the active log while there is none (see
/// [`LogRepair::NewLog`]): it holds no byte and refuses every write, so
/// that nothing can be appended before the log is created.
#[derive(Debug)]
pub(super) struct NoLog;

impl StorageFile for NoLog {
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> io::Result<usize> {
        Ok(0)
    }
    fn write_at(&self, _buf: &[u8], _offset: u64) -> io::Result<()> {
        Err(io::Error::other("the active log has not been created"))
    }
    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(0)
    }
    fn set_len(&self, _len: u64) -> io::Result<()> {
        Err(io::Error::other("the active log has not been created"))
    }
}

/// A log that holds no record yet and must be created.
fn no_log(save: Option<String>) -> Replayed {
    Replayed {
        file: Arc::new(NoLog),
        len: FILE_HEADER_LEN as u64,
        mem: BTreeMap::new(),
        order: LogOrder::default(),
        repair: Some(LogRepair::NewLog { save }),
    }
}

/// Replays `wal.log` at `path`; `exists`: whether the directory's listing
/// holds it (a missing log is not created here: see the module doc);
/// `read_only`: the log is opened for reading only, and its repair is
/// never made (a torn tail stays where it is).
pub(super) fn replay_wal(
    storage: &dyn Storage,
    path: &Path,
    exists: bool,
    read_only: bool,
    report: &mut OpenReport,
) -> Result<Replayed> {
    if !exists {
        return Ok(no_log(None));
    }
    let mode = if read_only {
        OpenMode::Read
    } else {
        OpenMode::ReadWrite
    };
    let file = dir::open(storage, path, mode)?;
    let len = dir::len(&*file, path)?;
    // A log no longer than its header holds no record. If the header is
    // damaged too, it never reached the disk whole (a crash while a log
    // was created by an older tinykv, which wrote it in place): start
    // afresh, as for a shorter file, keeping any bytes that are not zero.
    let torn_header = len == FILE_HEADER_LEN as u64
        && matches!(check_log_header(&*file, path), Err(Error::Corrupt { .. }));
    if len < FILE_HEADER_LEN as u64 || torn_header {
        let mut head = vec![0u8; len as usize];
        dir::read_exact(&*file, path, &mut head, 0)?;
        let why = if torn_header {
            "log header damaged"
        } else {
            "log shorter than its header"
        };
        return Ok(no_log(head.iter().any(|&b| b != 0).then(|| why.into())));
    }
    if let Err(e) = check_log_header(&*file, path) {
        // A crash while the log was being created can leave its header torn.
        // That log holds no record: start afresh, keeping its bytes. A bad
        // header in front of intact records is real damage, for recover.
        let Error::Corrupt { .. } = e else {
            return Err(e);
        };
        let mut records = 0u64;
        log::scan(&*file, path, |_| records += 1)?;
        if records > 0 {
            return Err(e);
        }
        return Ok(no_log(Some("log header torn".into())));
    }
    let mut mem = BTreeMap::new();
    let mut order = LogOrder::default();
    let mut replayed = 0;
    let end = log::scan(&*file, path, |op| {
        replayed += 1;
        order.note(&op.key);
        mem.insert(
            op.key,
            MemSlot {
                delete: op.delete,
                offset: op.offset,
                len: op.len,
                expires: MemSlot::encode_expiry(op.expires_at),
            },
        );
    })?;
    report.replayed = replayed;
    let mut repair = None;
    if let Some(damage) = end.damage {
        let cut = end.file_len - end.valid_len;
        let mut tail = vec![0u8; cut as usize];
        dir::read_exact(&*file, path, &mut tail, end.valid_len)?;
        // A crash tears only the end of the log. Damage with intact records
        // after it is something else, and cutting there would drop them
        // (and bring older values back): leave it whole for recover.
        let after = (damage.offset - end.valid_len + 1) as usize;
        if recovery::holds_intact_unit(tail.get(after..).unwrap_or_default()) {
            return Err(Error::corrupt(
                path,
                damage.offset,
                format!("{}; {INTACT_AFTER}", damage.reason),
            ));
        }
        let unfinished = unfinished_batch(&tail);
        // A batch cut off before its commit (an interrupted `load`) was
        // never acknowledged: nothing is lost, nothing worth keeping.
        let reason = if unfinished > 0 {
            format!("an unfinished batch of {unfinished} records, never acknowledged")
        } else {
            format!("at offset {}: {}", damage.offset, damage.reason)
        };
        repair = Some(LogRepair::CutTail {
            cut: Truncation {
                offset: end.valid_len,
                bytes: cut,
                reason,
                saved_to: None,
                unfinished_batch: unfinished > 0,
            },
            save: unfinished == 0 && tail.iter().any(|&b| b != 0),
        });
    }
    Ok(Replayed {
        file,
        len: end.valid_len,
        mem,
        order,
        repair,
    })
}

/// Makes the writer's pending [`LogRepair`], if any; returns what was cut,
/// for the open report. A failed fsync poisons the writer (the kernel may
/// have dropped what it was to write); any other failure (a full disk)
/// leaves the repair pending and the log as it was.
pub(super) fn make_repair(
    storage: &dyn Storage,
    dir: &Path,
    w: &mut Writer,
) -> Result<Option<Truncation>> {
    let Some(repair) = w.repair.clone() else {
        return Ok(None);
    };
    let path = dir.join(WAL);
    let done = match repair {
        LogRepair::NewLog { save } => (|| {
            let mut cut = None;
            if let Some(why) = save
                && dir::kind(storage, &path)?.is_some()
            {
                let old = dir::open(storage, &path, OpenMode::Read)?;
                let mut bytes = vec![0u8; dir::len(&*old, &path)? as usize];
                dir::read_exact(&*old, &path, &mut bytes, 0)?;
                cut = Some(save_tail(storage, dir, &bytes, 0, &why)?);
            }
            let f = create_wal(storage, dir)?;
            w.wal = f;
            w.wal_len = FILE_HEADER_LEN as u64;
            w.order = LogOrder::default();
            w.log_synced = true;
            Ok(cut)
        })(),
        LogRepair::CutTail { mut cut, save } => (|| {
            let file = Arc::clone(&w.wal);
            if save {
                let mut tail = vec![0u8; cut.bytes as usize];
                dir::read_exact(&*file, &path, &mut tail, cut.offset)?;
                cut.saved_to = save_tail(storage, dir, &tail, cut.offset, &cut.reason)?.saved_to;
            }
            file.set_len(cut.offset)
                .map_err(|e| Error::io("truncate", &path, e))?;
            file.sync_data().map_err(|e| Error::io("fsync", &path, e))?;
            w.log_synced = true;
            Ok(Some(cut))
        })(),
    };
    match done {
        Ok(cut) => {
            w.repair = None;
            Ok(cut)
        }
        Err(e) => {
            if matches!(e, Error::Io { op: "fsync", .. }) {
                w.poison(&e);
            }
            Err(e)
        }
    }
}

/// How many intact batch records `tail` starts with, when nothing but batch
/// records (and at most one torn record at the end) is there; 0 otherwise.
fn unfinished_batch(tail: &[u8]) -> usize {
    let (mut pos, mut n) = (0, 0);
    while let Ok((rec, len)) = record::decode(&tail[pos..]) {
        if !matches!(rec.tag, record::Tag::BatchPut | record::Tag::BatchDelete) {
            return 0;
        }
        pos += len;
        n += 1;
    }
    n
}

/// Saves the bytes cut off the active log in `lost+found/` unless they are
/// all zero (what a crash leaves after a pre-allocated or torn write).
fn save_tail(
    storage: &dyn Storage,
    dir: &Path,
    tail: &[u8],
    offset: u64,
    reason: &str,
) -> Result<Truncation> {
    let saved_to = if tail.iter().any(|&b| b != 0) {
        Some(dir::save_lost(storage, dir, WAL, offset, tail)?)
    } else {
        None
    };
    Ok(Truncation {
        offset,
        bytes: tail.len() as u64,
        reason: reason.into(),
        saved_to,
        unfinished_batch: false,
    })
}

#[cfg(test)]
mod tests {
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

    /// Zeros past the last record (what a crash leaves after a torn or
    /// pre-allocated write) are cut and not saved: nothing was in them.
    #[test]
    fn a_zero_tail_is_cut_without_saving_it() {
        let mut bytes = file_header(LOG_MAGIC).to_vec();
        encode(&mut bytes, Tag::Put, b"a", b"1");
        let valid = bytes.len();
        bytes.extend_from_slice(&[0; 100]);
        let (dir, db) = open_with_wal(&bytes);
        let t = db.open_report().truncated.clone().expect("cut");
        assert_eq!((t.offset, t.bytes, t.saved_to), (valid as u64, 100, None));
        assert!(!t.unfinished_batch);
        assert!(lost_found(dir.path()).is_empty());
        assert_eq!(
            std::fs::read(dir.path().join("wal.log")).unwrap().len(),
            valid
        );
        assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
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
}
