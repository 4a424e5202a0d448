//! What the tests of compaction's threads share (apart_tests.rs,
//! parts_tests.rs, parts_crash_tests.rs): their pairs, a storage layer
//! that keeps a journal of what happens to the files, by the thread that
//! did it, and fails what it is told to on a named thread; and checks of a
//! compaction's outcome on disk.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::tests::segment_ids;
use crate::engine::Db;
use crate::engine::storage::{Layer, OpenMode, Storage, StorageFile};

/// Each value's size: a few hundred pairs make segments of some MiB.
pub(super) const VALUE: usize = 10 * 1024;

pub(super) fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

/// The value of key `i` written in round `round`.
pub(super) fn value(i: u32, round: u8) -> Vec<u8> {
    let mut v = vec![round; VALUE];
    v[..4].copy_from_slice(&i.to_be_bytes());
    v
}

/// The journal: files created, fsynced and renamed, and the ranges whose
/// caching they were told to drop (by name, and by the thread that did
/// it); with `fail_syncs_on` or `fail_writes_on` set, every `sync_data`
/// or `write_at` on the thread of that name fails.
#[derive(Debug, Default)]
pub(super) struct Journal {
    events: Mutex<Vec<(String, String)>>,
    pub(super) fail_syncs_on: Mutex<Option<&'static str>>,
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

    /// Whether an operation on this thread is to fail, by `rule`.
    fn fails(rule: &Mutex<Option<&'static str>>) -> bool {
        let failing = *rule.lock().unwrap();
        failing.is_some() && std::thread::current().name() == failing
    }
}

/// The storage `below`, journaled in `journal`.
#[derive(Debug)]
pub(super) struct JournalStorage {
    journal: Arc<Journal>,
    below: Arc<dyn Storage>,
}

impl JournalStorage {
    pub(super) fn new(journal: &Arc<Journal>, below: Arc<dyn Storage>) -> JournalStorage {
        let journal = Arc::clone(journal);
        JournalStorage { journal, below }
    }
}

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
        &*self.below
    }
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let inner = self.below.open(path, mode)?;
        if mode == OpenMode::Truncate {
            self.journal.note(format!("create {}", name(path)));
        }
        let journal = Arc::clone(&self.journal);
        let name = name(path);
        Ok(Arc::new(JournalFile {
            inner,
            journal,
            name,
        }))
    }
    fn rename_file(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.journal
            .note(format!("rename {} {}", name(from), name(to)));
        self.below.rename(from, to)
    }
}

impl StorageFile for JournalFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if Journal::fails(&self.journal.fail_writes_on) {
            return Err(io::Error::other("injected"));
        }
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        if Journal::fails(&self.journal.fail_syncs_on) {
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
