//! Opening a database: lock, classify the directory's files, settle any
//! interrupted seal or compaction, load segment indexes (rebuilding damaged
//! ones), and replay the active log, cutting a torn tail.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::index::{self, Entry, Group, Index, IndexMeta, Kind};
use super::log::{self, LoggedOp};
use super::record::{self, FILE_HEADER_LEN, HeaderError, LOG_MAGIC};
use super::replay;
use super::storage::{CachingStorage, OpenMode, PathKind, Storage, StorageFile, read_exact_at};
use super::{
    Db, Error, LOST_FOUND, LogOrder, OpenReport, Options, Queue, Result, Segment, State, WAL,
    Writer, lock, parse_seg_name, seg_idx_name, seg_log_name,
};

/// The files of a database directory, by role.
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// Ids that have a `seg-N.log`.
    pub logs: Vec<u64>,
    /// Ids that have a `seg-N.idx`.
    pub idxs: Vec<u64>,
    pub has_wal: bool,
    pub tmp: Vec<String>,
    pub foreign: Vec<String>,
}

pub(super) fn list(storage: &dyn Storage, dir: &Path) -> Result<Listing> {
    let mut l = Listing::default();
    let names = storage
        .list_dir(dir)
        .map_err(|e| Error::io("list", dir, e))?;
    for name in names {
        match parse_seg_name(&name) {
            Some((id, "log")) => l.logs.push(id),
            Some((id, _)) => l.idxs.push(id),
            None if name == WAL => l.has_wal = true,
            None if name.ends_with(".tmp") => l.tmp.push(name),
            None if name == lock::LOCK_FILE || name == LOST_FOUND => {}
            None => l.foreign.push(name),
        }
    }
    l.logs.sort_unstable();
    l.idxs.sort_unstable();
    Ok(l)
}

/// Checks that `dir` is (or may become) a database directory, creating it
/// when allowed.
pub(super) fn prepare_dir(storage: &dyn Storage, dir: &Path, create: bool) -> Result<()> {
    match storage.kind(dir).map_err(|e| Error::io("stat", dir, e))? {
        Some(PathKind::Dir) => Ok(()),
        Some(_) => Err(Error::NotADatabase {
            path: dir.to_owned(),
            reason: "it is not a directory".into(),
        }),
        None if create => storage
            .create_dir_all(dir)
            .map_err(|e| Error::io("create directory", dir, e)),
        None => Err(Error::NotADatabase {
            path: dir.to_owned(),
            reason: "no such directory".into(),
        }),
    }
}

/// Refuses a directory that holds other programs' files and none of ours.
pub(super) fn refuse_foreign(dir: &Path, l: &Listing) -> Result<()> {
    if !l.foreign.is_empty() && !l.has_wal && l.logs.is_empty() {
        let mut names = l.foreign.clone();
        names.sort();
        names.truncate(3);
        return Err(Error::NotADatabase {
            path: dir.to_owned(),
            reason: format!("it holds other files, such as {}", names.join(", ")),
        });
    }
    Ok(())
}

pub(super) fn open(dir: &Path, mut opts: Options) -> Result<Db> {
    if opts.segment_size < 4096 || opts.compact_ratio.is_nan() || opts.compact_ratio < 1.0 {
        return Err(Error::InvalidOption(
            "segment_size must be at least 4096 and compact_ratio at least 1".into(),
        ));
    }
    if opts.cache_bytes > 0 {
        // Every file of this handle reads through one cache; see cache.rs.
        let inner = Arc::clone(&opts.storage);
        opts.storage = Arc::new(CachingStorage::new(inner, opts.cache_bytes));
    }
    let storage = &*opts.storage;
    prepare_dir(storage, dir, opts.create)?;
    let listing = list(storage, dir)?;
    refuse_foreign(dir, &listing)?;
    let lock = lock::acquire(storage, dir, opts.lock_timeout)?;
    let mut report = OpenReport::default();
    let (state, writer) = load(storage, dir, &mut report)?;
    let log_len = std::sync::atomic::AtomicU64::new(writer.wal_len);
    Ok(Db {
        log_len,
        dir: dir.to_owned(),
        wal_path: dir.join(WAL),
        _lock: lock,
        state: RwLock::new(state),
        writer: Mutex::new(writer),
        queue: Mutex::new(Queue::default()),
        queue_cv: Condvar::new(),
        heal_lock: Mutex::new(()),
        compact_lock: Mutex::new(()),
        report,
        opts,
    })
}

/// Reads the directory (under its lock) into the state readers see and the
/// writer's state: settles leftovers, opens segments, replays the log.
pub(super) fn load(
    storage: &dyn Storage,
    dir: &Path,
    report: &mut OpenReport,
) -> Result<(State, Writer)> {
    let listing = list(storage, dir)?;
    for name in &listing.tmp {
        let p = dir.join(name);
        storage
            .remove_file(&p)
            .map_err(|e| Error::io("remove", &p, e))?;
        report.removed.push(p);
    }
    let segments = load_segments(storage, dir, &listing, report)?;
    if !report.removed.is_empty() {
        storage
            .sync_dir(dir)
            .map_err(|e| Error::io("fsync", dir, e))?;
    }
    let next_id = segments.last().map_or(1, |s| s.id + 1);
    let (base_live, last_compaction) = compaction_base(&segments);

    let wal_path = dir.join(WAL);
    let (wal, wal_len, mem, order) = replay::replay_wal(storage, dir, &wal_path, report)?;
    let state = State {
        mem,
        wal: Arc::clone(&wal),
        segments: Arc::new(segments),
        generation: 0,
    };
    let writer = Writer {
        wal,
        wal_len,
        order,
        next_id,
        poisoned: None,
        unsynced: false,
        base_live,
        last_compaction,
        auto_floor: 0,
        auto_failure: None,
    };
    Ok((state, writer))
}

/// The compaction base (the size after the newest compaction, or the size of
/// a bulk load into an empty database) and when compaction last ran: each
/// sealed segment's footer carries both forward, so the newest one knows.
pub(super) fn compaction_base(segments: &[Arc<Segment>]) -> (u64, Option<SystemTime>) {
    segments.last().map_or((0, None), |s| {
        let f = &s.index.footer;
        let when = (f.compacted_at != 0)
            .then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(f.compacted_at));
        (f.base_live, when)
    })
}

/// Opens every sealed segment, settling compaction groups: a complete group
/// replaces every older segment. A group that looks incomplete is kept as
/// plain segments: either its commit never finished, so every older segment
/// is still there and the group only repeats their newest state, or it did
/// and a member's index was rebuilt without its group (the footer that
/// said so was damaged), and then it holds the only copy of the data.
fn load_segments(
    storage: &dyn Storage,
    dir: &Path,
    listing: &Listing,
    report: &mut OpenReport,
) -> Result<Vec<Arc<Segment>>> {
    let mut segs: BTreeMap<u64, Arc<Segment>> = BTreeMap::new();
    for &id in &listing.logs {
        segs.insert(id, Arc::new(open_segment(storage, dir, id, report)?));
    }
    // Index files whose log is gone are leftovers of a seal that did not finish.
    for &id in &listing.idxs {
        if !segs.contains_key(&id) {
            remove(storage, &dir.join(seg_idx_name(id)), report)?;
        }
    }
    let mut replaced_below = 0;
    let mut id_iter = segs
        .keys()
        .copied()
        .collect::<Vec<_>>()
        .into_iter()
        .peekable();
    while let Some(id) = id_iter.next() {
        let Some(Group { first, .. }) = segs[&id].index.footer.group else {
            continue;
        };
        // Walk the group's members from `first`.
        let complete = if first != id {
            false
        } else {
            let mut cur = id;
            loop {
                let g = segs[&cur].index.footer.group;
                if g.is_some_and(|g| g.last) {
                    break true;
                }
                match id_iter.peek() {
                    Some(&next)
                        if next == cur + 1
                            && segs[&next]
                                .index
                                .footer
                                .group
                                .is_some_and(|g| g.first == first) =>
                    {
                        cur = next;
                        id_iter.next();
                    }
                    _ => break false,
                }
            }
        };
        if complete {
            replaced_below = replaced_below.max(first);
        }
    }
    let stale: Vec<u64> = segs
        .keys()
        .copied()
        .filter(|&id| id < replaced_below)
        .collect();
    // Oldest first, so that a crash part-way leaves a newest-suffix of segments.
    for id in stale {
        segs.remove(&id);
        remove(storage, &dir.join(seg_log_name(id)), report)?;
        remove(storage, &dir.join(seg_idx_name(id)), report)?;
        storage
            .sync_dir(dir)
            .map_err(|e| Error::io("fsync", dir, e))?;
    }
    Ok(segs.into_values().collect())
}

fn remove(storage: &dyn Storage, path: &Path, report: &mut OpenReport) -> Result<()> {
    match storage.remove_file(path) {
        Ok(()) => {
            report.removed.push(path.to_owned());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

/// Opens one segment and its index, rebuilding the index when it is
/// missing, damaged or does not match the segment's length.
pub(super) fn open_segment(
    storage: &dyn Storage,
    dir: &Path,
    id: u64,
    report: &mut OpenReport,
) -> Result<Segment> {
    let log_path = dir.join(seg_log_name(id));
    let idx_path = dir.join(seg_idx_name(id));
    let log = storage
        .open(&log_path, OpenMode::Read)
        .map_err(|e| Error::io("open", &log_path, e))?;
    let log_len = log.len().map_err(|e| Error::io("stat", &log_path, e))?;
    check_log_header(&*log, &log_path)?;
    let index = match Index::open(storage, &idx_path)? {
        Ok(index) if index.footer.segment_len == log_len => index,
        // A sealed segment never shrinks. Rebuilding the index from what is
        // left would hide the cut records' keys, or bring back their older
        // values, without a word.
        Ok(index) if index.footer.segment_len > log_len => {
            return Err(cut_short(&log_path, log_len, index.footer.segment_len));
        }
        _ => {
            let bytes = rebuild_index(&*log, &log_path, log_len, IndexMeta::default())?;
            index::write_file(storage, &idx_path, &bytes)?;
            storage
                .sync_dir(dir)
                .map_err(|e| Error::io("fsync", dir, e))?;
            report.rebuilt_indexes.push(idx_path.clone());
            Index::open(storage, &idx_path)?.map_err(|why| Error::corrupt(&idx_path, 0, why))?
        }
    };
    Ok(Segment {
        id,
        log_path,
        log,
        log_len,
        index: Arc::new(index),
    })
}

/// The error for a sealed segment shorter than its intact index says.
pub(super) fn cut_short(log_path: &Path, len: u64, indexed: u64) -> Error {
    Error::corrupt(
        log_path,
        len,
        format!("segment cut short: {len} bytes, its index describes {indexed}"),
    )
}

/// The index of a sealed log, rebuilt from its records, with `meta` in its
/// footer. A log in key order (what compaction and sorted bulk loads
/// write) streams into the builder, which keeps only its sparse levels;
/// any other gets a second pass that gathers every key ([`scan_segment`]).
/// A 1M-key bulk load's rebuild held 228 MB when every log was gathered
/// (CLI review). Any damage is an error.
pub(super) fn rebuild_index(
    log: &dyn StorageFile,
    path: &Path,
    segment_len: u64,
    meta: IndexMeta,
) -> Result<Vec<u8>> {
    let (end, bytes) = index_from_log(log, path, segment_len, meta, |_| {})?;
    match end.damage {
        Some(d) => Err(Error::corrupt(path, d.offset, d.reason)),
        None => Ok(bytes),
    }
}

/// [`rebuild_index`] for a caller that judges the log itself (`check`):
/// how the scan ended, with `seen` shown every operation of its first
/// pass, and the index bytes (empty when the log is damaged).
pub(super) fn index_from_log(
    log: &dyn StorageFile,
    path: &Path,
    segment_len: u64,
    meta: IndexMeta,
    mut seen: impl FnMut(&LoggedOp),
) -> Result<(log::ScanEnd, Vec<u8>)> {
    let mut order = LogOrder::default();
    let mut sorted = index::Builder::new(Kind::Sorted);
    let end = log::scan_eager(log, path, |op| {
        seen(&op);
        order.note(&op.key);
        if order.sorted {
            sorted.push(&Entry::from(op));
        }
    })?;
    let bytes = if end.damage.is_some() {
        Vec::new()
    } else if order.sorted {
        sorted.finish(segment_len, |_| meta)
    } else {
        let (entries, kind) = scan_segment(log, path)?;
        index::encode(&entries, kind, segment_len, meta)
    };
    Ok((end, bytes))
}

/// Index entries for a sealed log, from a full scan, and the kind of index
/// it gets (sorted when its keyed records are in strictly increasing key
/// order). Any damage is an error: a sealed segment is never silently
/// shortened.
pub(super) fn scan_segment(log: &dyn StorageFile, path: &Path) -> Result<(Vec<Entry>, Kind)> {
    let mut latest: BTreeMap<Vec<u8>, LoggedOp> = BTreeMap::new();
    let mut order = LogOrder::default();
    // Eager: any damage discards what was gathered, so a batch (a bulk
    // load's segment is one of millions) need not be held until its commit.
    let end = log::scan_eager(log, path, |op| {
        order.note(&op.key);
        latest.insert(op.key.clone(), op);
    })?;
    if let Some(d) = end.damage {
        return Err(Error::corrupt(path, d.offset, d.reason));
    }
    let entries = latest.into_values().map(Entry::from).collect();
    let kind = order.kind();
    Ok((entries, kind))
}

pub(super) fn check_log_header(log: &dyn StorageFile, path: &Path) -> Result<()> {
    let mut head = [0u8; FILE_HEADER_LEN];
    if let Err(e) = read_exact_at(log, &mut head, 0) {
        return Err(match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                Error::corrupt(path, 0, "file shorter than its header")
            }
            _ => Error::io("read", path, e),
        });
    }
    header_result(path, record::check_file_header(&head, LOG_MAGIC))
}

fn header_result(path: &Path, r: std::result::Result<(), HeaderError>) -> Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(HeaderError::Damaged(why)) => Err(Error::corrupt(path, 0, why)),
        Err(HeaderError::Version(found)) => Err(Error::UnsupportedVersion {
            path: path.to_owned(),
            found,
            supported: record::FORMAT_VERSION,
        }),
    }
}

/// Creates an empty active log durably.
pub(super) fn create_wal(storage: &dyn Storage, dir: &Path) -> Result<Arc<dyn StorageFile>> {
    let path = dir.join(WAL);
    let f = storage
        .open(&path, OpenMode::Truncate)
        .map_err(|e| Error::io("create", &path, e))?;
    f.write_at(&record::file_header(LOG_MAGIC), 0)
        .map_err(|e| Error::io("write", &path, e))?;
    f.sync_data().map_err(|e| Error::io("fsync", &path, e))?;
    storage
        .sync_dir(dir)
        .map_err(|e| Error::io("fsync", dir, e))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use crate::engine::record::{LOG_MAGIC, Tag, encode, encode_commit, file_header};
    use crate::engine::{Db, Error, Options};

    /// The streaming rebuild of a log in key order, and the gathering one
    /// of any other, write what encoding every newest entry writes.
    #[test]
    fn a_rebuilt_index_is_what_encoding_the_entries_gives() {
        use super::{IndexMeta, index, rebuild_index, scan_segment};
        use crate::engine::index::Kind;
        use crate::engine::storage::{OpenMode, RealStorage, Storage};
        let dir = tempfile::tempdir().unwrap();
        let meta = IndexMeta {
            base_live: 12345,
            ..IndexMeta::default()
        };
        let sorted: Vec<&[u8]> = vec![b"a", b"b", b"c", b"d"];
        let unsorted: Vec<&[u8]> = vec![b"c", b"a", b"d", b"a"];
        for (keys, kind) in [(sorted, Kind::Sorted), (unsorted, Kind::Hashed)] {
            let mut bytes = file_header(LOG_MAGIC).to_vec();
            encode(&mut bytes, Tag::Put, keys[0], b"0");
            // A batch in the middle, as a bulk load writes one.
            encode(&mut bytes, Tag::BatchPut, keys[1], b"1");
            encode(&mut bytes, Tag::BatchDelete, keys[2], b"");
            encode_commit(&mut bytes, 2);
            encode(&mut bytes, Tag::Put, keys[3], b"3");
            let path = dir.path().join("seg.log");
            std::fs::write(&path, &bytes).unwrap();
            let log = RealStorage.open(&path, OpenMode::Read).unwrap();
            let len = bytes.len() as u64;
            let (entries, found) = scan_segment(&*log, &path).unwrap();
            assert_eq!(found, kind);
            let want = index::encode(&entries, kind, len, meta);
            assert_eq!(
                rebuild_index(&*log, &path, len, meta).unwrap(),
                want,
                "{kind:?}"
            );
            // Damage is an error either way.
            let mut bad = bytes.clone();
            bad[FILE_HEADER + 6] ^= 0x10;
            std::fs::write(&path, &bad).unwrap();
            let log = RealStorage.open(&path, OpenMode::Read).unwrap();
            assert!(matches!(
                rebuild_index(&*log, &path, len, meta),
                Err(Error::Corrupt { .. })
            ));
        }
    }
    const FILE_HEADER: usize = crate::engine::record::FILE_HEADER_LEN;

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
    fn a_sealed_segment_cut_at_a_record_boundary_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let opts = || Options {
            seal_on_close: 0,
            ..Options::default()
        };
        let db = Db::open(dir.path(), opts()).unwrap();
        db.set(b"a", b"1").unwrap();
        db.set(b"b", b"2").unwrap();
        db.close().unwrap();
        let seg = dir.path().join("seg-00000001.log");
        let bytes = std::fs::read(&seg).unwrap();
        // Cut the last record whole: what is left is a valid, shorter log.
        let cut = bytes.len() - (7 + 1 + 1);
        std::fs::write(&seg, &bytes[..cut]).unwrap();
        match Db::open(dir.path(), opts()) {
            Err(Error::Corrupt { path, offset, .. }) => {
                assert_eq!((path, offset), (seg.clone(), cut as u64));
            }
            other => panic!("expected corruption, got {other:?}"),
        }
        let report = Db::check_dir(dir.path(), &opts()).unwrap();
        assert_eq!(report.problems.len(), 1, "{report:?}");
        assert_eq!(report.problems[0].path, seg);
        // recover keeps what is left; the database opens again.
        Db::recover_dir(dir.path(), &opts()).unwrap();
        assert!(Db::check_dir(dir.path(), &opts()).unwrap().is_clean());
        let db = Db::open(dir.path(), opts()).unwrap();
        assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
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
}
