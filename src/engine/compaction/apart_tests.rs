//! Tests of compaction outputs finished apart (output.rs, `finish_apart`):
//! each output but the last finishes on a thread of its own while the
//! next is written, and a failure there fails the compaction cleanly.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::tests::segment_ids;
use crate::engine::output::FINISH_APART;
use crate::engine::storage::{Layer, OpenMode, RealStorage, Storage, StorageFile};
use crate::engine::{Db, Options};

/// The name the finishing thread runs under.
const FINISHER: &str = "tinykv-finish";

/// Real files, with a journal of the files created, fsynced and renamed,
/// and of the ranges whose caching they were told to drop (by name, and
/// by the thread that did it); with `fail` set, every
/// `sync_data` on the finishing thread fails; with `fail_writes_on` set,
/// every `write_at` on the thread of that name.
#[derive(Debug, Default)]
pub(super) struct Journal {
    events: Mutex<Vec<(String, String)>>,
    fail: AtomicBool,
    pub(super) fail_writes_on: Mutex<Option<&'static str>>,
}

impl Journal {
    fn note(&self, what: String) {
        let thread = std::thread::current().name().unwrap_or("").to_string();
        self.events.lock().unwrap().push((what, thread));
    }

    /// Whether `what` is in the journal before place `before`.
    pub(super) fn noted_before(&self, what: &str, before: usize) -> bool {
        let events = self.events.lock().unwrap();
        events[..before].iter().any(|(w, _)| w == what)
    }

    /// Where `what` is in the journal, and the thread that did it.
    pub(super) fn find(&self, what: &str) -> Option<(usize, String)> {
        let events = self.events.lock().unwrap();
        let at = events.iter().position(|(w, _)| w == what)?;
        Some((at, events[at].1.clone()))
    }

    /// Forgets every event so far.
    pub(super) fn clear(&self) {
        self.events.lock().unwrap().clear();
    }

    /// Every event, and the thread that did it, in order.
    pub(super) fn events(&self) -> Vec<(String, String)> {
        self.events.lock().unwrap().clone()
    }
}

#[derive(Debug)]
pub(super) struct JournalStorage(pub(super) Arc<Journal>);

#[derive(Debug)]
struct JournalFile {
    inner: Arc<dyn StorageFile>,
    journal: Arc<Journal>,
    name: String,
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

impl Layer for JournalStorage {
    fn below(&self) -> &dyn Storage {
        &RealStorage
    }
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let inner = RealStorage.open(path, mode)?;
        if mode == OpenMode::Truncate {
            self.0.note(format!("create {}", name(path)));
        }
        let journal = Arc::clone(&self.0);
        let name = name(path);
        Ok(Arc::new(JournalFile {
            inner,
            journal,
            name,
        }))
    }
    fn rename_file(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.note(format!("rename {} {}", name(from), name(to)));
        RealStorage.rename(from, to)
    }
}

impl StorageFile for JournalFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let failing = *self.journal.fail_writes_on.lock().unwrap();
        if failing.is_some() && std::thread::current().name() == failing {
            return Err(io::Error::other("injected"));
        }
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        let finisher = std::thread::current().name() == Some(FINISHER);
        if finisher && self.journal.fail.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected"));
        }
        self.inner.sync_data()?;
        self.journal.note(format!("sync {}", self.name));
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn drop_cached(&self, offset: u64, len: u64) {
        self.journal
            .note(format!("drop {} {offset} {len}", self.name));
        self.inner.drop_cached(offset, len)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

const KEYS: u32 = 1200;
const VALUE: usize = 10 * 1024;

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn value(i: u32, round: u8) -> Vec<u8> {
    let mut v = vec![round; VALUE];
    v[..4].copy_from_slice(&i.to_be_bytes());
    v
}

/// The database's segments, and so its compaction's outputs: large
/// enough to be finished apart.
const SEGMENT: u64 = 4 << 20;
const _: () = assert!(SEGMENT >= FINISH_APART);

/// A database of 12 MB of live pairs, each written twice, in segments of
/// [`SEGMENT`], as its compaction's outputs will be.
fn written(dir: &Path, journal: &Arc<Journal>) -> Db {
    let opts = Options {
        storage: Arc::new(JournalStorage(Arc::clone(journal))),
        segment_size: SEGMENT,
        auto_compact: false,
        ..Options::default()
    };
    let db = Db::open(dir, opts).unwrap();
    for round in 1..=2u8 {
        let mut b = db.batch_writer().unwrap();
        for i in 0..KEYS {
            b.set(&key(i), &value(i, round)).unwrap();
        }
        b.commit().unwrap();
    }
    db
}

/// Every pair holds its last value, and `more` other keys are there.
fn holds_every_pair(db: &Db, more: usize) {
    for i in 0..KEYS {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 2)), "key {i}");
    }
    assert_eq!(db.iter().count(), KEYS as usize + more);
    assert!(db.check().unwrap().is_clean());
}

/// Each full output of a large compaction is finished (its index written
/// and renamed into place) on the finishing thread, after the next output
/// was created; the last is finished where the merge ran. The data holds,
/// before and after a reopen.
#[test]
fn a_large_output_finishes_while_the_next_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::default());
    let db = written(dir.path(), &journal);
    journal.events.lock().unwrap().clear();
    let r = db.compact().unwrap();
    assert_eq!(r.keys, u64::from(KEYS));
    let ids = segment_ids(&db);
    assert!(ids.len() >= 3, "outputs {ids:?}");
    let (last, full) = ids.split_last().unwrap();
    for &id in full {
        let renamed = format!("rename seg-{id:08}.idx.tmp seg-{id:08}.idx");
        let (renamed_at, by) = journal.find(&renamed).expect(&renamed);
        assert_eq!(by, FINISHER, "{renamed}");
        let next = format!("create seg-{:08}.log.tmp", id + 1);
        let (created_at, _) = journal.find(&next).expect(&next);
        assert!(created_at < renamed_at, "{next} after {renamed}");
        // Its log and its index are durable before the index's name.
        for file in [
            format!("seg-{id:08}.log.tmp"),
            format!("seg-{id:08}.idx.tmp"),
        ] {
            let synced = format!("sync {file}");
            assert!(journal.noted_before(&synced, renamed_at), "{synced}");
        }
    }
    group_counted(&db);
    let renamed = format!("rename seg-{last:08}.idx.tmp seg-{last:08}.idx");
    let (_, by) = journal.find(&renamed).expect(&renamed);
    assert_ne!(by, FINISHER, "the last output");
    holds_every_pair(&db, 0);
    drop(db);
    let db = reopened(dir.path());
    holds_every_pair(&db, 0);
}

/// The segments are in id order, and the last one's footer records the
/// size of them all (its group: the compaction's outputs).
pub(super) fn group_counted(db: &Db) {
    let ids = segment_ids(db);
    assert!(ids.is_sorted(), "segments out of id order: {ids:?}");
    let st = db.state.read().unwrap();
    let group: u64 = st.segments.iter().map(|s| s.log_len + s.index_len()).sum();
    let last = st.segments.last().unwrap();
    assert_eq!(last.index.footer.base_live, group, "the group's size");
}

/// Outputs cut below [`FINISH_APART`] but for one that a single large
/// value takes past it: finished apart and in place in turn, they are
/// switched in in id order, and the last footer counts them all.
#[test]
fn outputs_finished_apart_and_in_place_stay_in_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        segment_size: 1 << 20,
        auto_compact: false,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let value = |i: u32, round: u8| match i {
        50 => vec![round; 3_600_000],
        _ => vec![round; 20_000],
    };
    for round in 0..2u8 {
        let mut b = db.batch_writer().unwrap();
        for i in 0..400u32 {
            b.set(&key(i), &value(i, round)).unwrap();
        }
        b.commit().unwrap();
    }
    db.compact().unwrap();
    assert!(segment_ids(&db).len() >= 5, "{:?}", segment_ids(&db));
    group_counted(&db);
    for i in 0..400u32 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 1)), "key {i}");
    }
    assert!(db.check().unwrap().is_clean());
}

fn reopened(dir: &Path) -> Db {
    let opts = Options {
        segment_size: SEGMENT,
        auto_compact: false,
        ..Options::default()
    };
    Db::open(dir, opts).unwrap()
}

/// A failed fsync on the finishing thread fails the compaction, which
/// leaves no file of its outputs and every pair as it was; the handle
/// stays usable, and the next compaction, with the disk well, succeeds.
#[test]
fn a_failure_finishing_apart_fails_the_compaction_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::default());
    let db = written(dir.path(), &journal);
    journal.fail.store(true, Ordering::SeqCst);
    let e = db
        .compact()
        .expect_err("an fsync of the finishing thread failed");
    let source = std::error::Error::source(&e).map(|s| s.to_string());
    assert_eq!(source.as_deref(), Some("injected"), "{e}");
    assert!(e.to_string().starts_with("fsync "), "{e}");
    journal.fail.store(false, Ordering::SeqCst);
    no_leftovers(dir.path());
    holds_every_pair(&db, 0);
    db.set(b"after", b"the failure").unwrap();
    let r = db.compact().unwrap();
    assert_eq!(r.keys, u64::from(KEYS) + 1);
    holds_every_pair(&db, 1);
}

/// No file of an abandoned compaction is left in `dir`: no temporary
/// file, no index without its log.
pub(super) fn no_leftovers(dir: &Path) {
    let names = files(dir);
    for f in &names {
        assert!(!f.ends_with(".tmp"), "left behind: {f}");
        if let Some(id) = f.strip_suffix(".idx") {
            let log = format!("{id}.log");
            assert!(names.contains(&log), "an index without its log: {f}");
        }
    }
}

/// The names in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
