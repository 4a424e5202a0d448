//! Tests of `compaction`.

use std::io;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use crate::engine::storage::{Layer, OpenMode, RealStorage, Storage, StorageFile};
use crate::engine::{Db, Options};

fn opts() -> Options {
    Options {
        segment_size: 4096,
        auto_compact: false,
        ..Options::default()
    }
}

/// The ids of the database's segments, newest last.
pub(super) fn segment_ids(db: &Db) -> Vec<u64> {
    let st = db.state.read().unwrap();
    st.segments.iter().map(|s| s.id).collect()
}

/// Bytes of the database's files as the file system has them.
fn on_disk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let name = e.file_name().into_string().unwrap();
            name.ends_with(".log") || name.ends_with(".idx")
        })
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// The report's sizes and the base for the next automatic compaction
/// are the files' real sizes, summed over several outputs, and the last
/// output's footer carries the group's size over a reopen.
#[test]
fn a_compaction_reports_and_remembers_the_size_it_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    for round in 0..3u8 {
        for i in 0..200u32 {
            db.set(format!("key{i:04}").as_bytes(), &[round; 50])
                .unwrap();
        }
    }
    for i in (0..200u32).step_by(4) {
        db.delete(format!("key{i:04}").as_bytes()).unwrap();
    }
    let before = on_disk(dir.path());
    let r = db.compact().unwrap();
    assert_eq!((&r.skipped, r.keys), (&None, 150));
    let after = on_disk(dir.path());
    assert_eq!((r.bytes_before, r.bytes_after), (before, after));
    let outputs = db.state.read().unwrap().segments.len();
    assert!(outputs >= 3, "{outputs} outputs: sizes add up across them");
    {
        let w = db.lock_writer();
        assert_eq!(w.base_live, after, "the base for the next compaction");
        assert_eq!(db.total_bytes(&w), after);
    }
    let wal = std::fs::metadata(dir.path().join("wal.log")).unwrap().len();
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.lock_writer().base_live, after - wal, "the outputs' size");
    assert_eq!(db.len().unwrap(), 150);
}

/// With nothing to drop, the outputs are as large as the old segments,
/// and the ids reserved for them must suffice. 255 records of 64 bytes
/// (7-byte keys, 50-byte values): 3 sealed segments of 64 and a log of
/// 63, exactly 4 x 4096 bytes with their headers, rewritten into 4
/// outputs (64 a segment), which needs more ids than 16384 % 4096 + 2.
#[test]
fn segments_with_nothing_dead_are_rewritten_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    for i in 0..255u32 {
        db.set(format!("key{i:04}").as_bytes(), &[7; 50]).unwrap();
    }
    let segments = Arc::clone(&db.state.read().unwrap().segments);
    let logs: u64 = segments.iter().map(|s| s.log_len).sum();
    assert_eq!(logs + db.lock_writer().wal_len, 4 * 4096, "as designed");
    let one = db.compact_lock.lock().unwrap();
    let r = db.compact_with(one).unwrap();
    assert_eq!((&r.skipped, r.keys), (&None, 255));
    assert_eq!(r.bytes_after, on_disk(dir.path()));
    assert_eq!(db.state.read().unwrap().segments.len(), 4);
    assert_eq!(db.len().unwrap(), 255);
    assert!(db.check().unwrap().is_clean());
}

type Written = Arc<Mutex<std::collections::BTreeMap<std::path::PathBuf, u64>>>;

/// Real files, keeping how far each path opened was written (from
/// offset 0, so a file's length when it was only appended to).
#[derive(Debug, Default)]
struct Metered(Written);

#[derive(Debug)]
struct MeteredFile {
    inner: Arc<dyn StorageFile>,
    path: std::path::PathBuf,
    written: Written,
}

impl Layer for Metered {
    fn below(&self) -> &dyn Storage {
        &RealStorage
    }
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let inner = RealStorage.open(path, mode)?;
        let written = Arc::clone(&self.0);
        let path = path.to_owned();
        Ok(Arc::new(MeteredFile {
            inner,
            path,
            written,
        }))
    }
}

impl StorageFile for MeteredFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let end = offset + buf.len() as u64;
        let mut written = self.written.lock().unwrap();
        let far = written.entry(self.path.clone()).or_default();
        *far = end.max(*far);
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

/// The space a compaction says it needs covers what it writes before
/// it removes anything, when nothing is dead (everything is rewritten,
/// the active log sealed and indexed first, a new one created), and is
/// not more than twice that; for a database that fits one output, it
/// covers the new files rounded up to 4 KiB blocks too.
#[test]
fn the_space_a_compaction_needs_covers_what_it_writes() {
    // (keys, value bytes, segment size): one output; several outputs;
    // everything in the active log.
    for (n, value, segment_size) in [
        (40u32, 10usize, 4096),
        (1000, 20, 4096),
        (1000, 50, 1 << 20),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let metered = Arc::new(Metered::default());
        let written = Arc::clone(&metered.0);
        let o = Options {
            storage: metered,
            segment_size,
            ..opts()
        };
        let db = Db::open(dir.path(), o).unwrap();
        for i in 0..n {
            db.set(format!("key{i:04}").as_bytes(), &vec![7; value])
                .unwrap();
        }
        let needed = {
            let w = db.lock_writer();
            super::space_needed(db.total_bytes(&w), w.wal_len)
        };
        written.lock().unwrap().clear();
        let one = db.compact_lock.lock().unwrap();
        let r = db.compact_with(one).unwrap();
        assert_eq!((r.skipped, r.keys), (None, u64::from(n)));
        let files = std::mem::take(&mut *written.lock().unwrap());
        let wrote: u64 = files.values().sum();
        assert!(wrote <= needed, "{n}: wrote {wrote}, said {needed}");
        assert!(
            needed <= 2 * wrote + 4 * 4096,
            "{n}: wrote {wrote}, said {needed}"
        );
        if segment_size == 4096 && n == 40 {
            let names: Vec<_> = files.keys().collect();
            assert_eq!(
                files.len(),
                4,
                "seal's index, new log, output, its index: {names:?}"
            );
            let blocks: u64 = files.values().map(|n| n.div_ceil(4096) * 4096).sum();
            assert!(blocks <= needed, "{n}: {blocks} in blocks, said {needed}");
        }
    }
}

/// Real files; the first write to a compaction output (`*.log.tmp`)
/// says [`Event::Parked`] and waits for "go", then fails if `fail`.
#[derive(Debug)]
struct Gate {
    parked: Mutex<Option<Sender<Event>>>,
    go: Mutex<Option<Receiver<()>>>,
    fail: bool,
}

#[derive(Debug)]
struct GatedStorage(Arc<Gate>);

#[derive(Debug)]
struct GatedFile {
    inner: Arc<dyn StorageFile>,
    gate: Arc<Gate>,
}

impl Layer for GatedStorage {
    fn below(&self) -> &dyn Storage {
        &RealStorage
    }
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let inner = RealStorage.open(path, mode)?;
        if !path.to_string_lossy().ends_with(".log.tmp") {
            return Ok(inner);
        }
        let gate = Arc::clone(&self.0);
        Ok(Arc::new(GatedFile { inner, gate }))
    }
}

impl StorageFile for GatedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let parked = self.gate.parked.lock().unwrap().take();
        if let Some(parked) = parked {
            parked.send(Event::Parked).unwrap();
            let go = self.gate.go.lock().unwrap().take().expect("one go");
            go.recv().unwrap();
            if self.gate.fail {
                return Err(io::Error::other("injected"));
            }
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

/// What a held compaction's test hears: its merge is held, or it ended
/// (with its outcome, or a panic).
enum Event {
    Parked,
    Ended(std::thread::Result<crate::engine::Result<super::CompactReport>>),
}

/// The two ends of a compaction held at its first output write.
struct Held {
    events: Receiver<Event>,
    ended: Sender<Event>,
    go: Sender<()>,
}

impl Held {
    /// Starts `db.compact()` on a thread and returns once its merge is
    /// held; a compaction that ends first fails the test at once
    /// (rather than leaving it waiting for an output that never comes).
    fn start(&self, db: &Arc<Db>) {
        let (db, ended) = (Arc::clone(db), self.ended.clone());
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.compact()));
            // Let go of the database first: the test may reopen it.
            drop(db);
            let _ = ended.send(Event::Ended(r));
        });
        if let Event::Ended(r) = self.events.recv().unwrap() {
            panic!("the compaction ended before its first output write: {r:?}");
        }
    }

    /// Lets the merge go on; returns the compaction's outcome.
    fn release(self) -> crate::engine::Result<super::CompactReport> {
        self.go.send(()).unwrap();
        match self.events.recv().unwrap() {
            Event::Ended(r) => r.expect("the compaction panicked"),
            Event::Parked => panic!("held twice"),
        }
    }
}

/// Options over real files whose first compaction output write is held
/// (see [`Gate`] and [`Held`]).
fn gated(fail: bool) -> (Options, Held) {
    let (events_tx, events) = mpsc::channel();
    let (go, go_rx) = mpsc::channel();
    let gate = Arc::new(Gate {
        parked: Mutex::new(Some(events_tx.clone())),
        go: Mutex::new(Some(go_rx)),
        fail,
    });
    let mut o = opts();
    o.storage = Arc::new(GatedStorage(gate));
    let held = Held {
        events,
        ended: events_tx,
        go,
    };
    (o, held)
}

/// A compaction whose merge is held at its first output write while
/// more than one segment is sealed (and then fails there, if `fail`);
/// returns its outcome and how many segments were sealed meanwhile.
fn compact_while_sealing(
    dir: &Path,
    fail: bool,
) -> (Arc<Db>, crate::engine::Result<super::CompactReport>, usize) {
    let (o, held) = gated(fail);
    let db = Arc::new(Db::open(dir, o).unwrap());
    for i in 0..200u32 {
        db.set(format!("old{i:04}").as_bytes(), &[1; 50]).unwrap();
        db.set(format!("old{i:04}").as_bytes(), &[2; 50]).unwrap();
    }
    held.start(&db);
    let sealed = db.state.read().unwrap().segments.len();
    for i in 0..200u32 {
        db.set(format!("new{i:04}").as_bytes(), &[3; 50]).unwrap();
    }
    let newer = db.state.read().unwrap().segments.len() - sealed;
    assert!(newer >= 2, "{newer} segments sealed during the merge");
    let r = held.release();
    assert_eq!(db.len().unwrap(), 400);
    (db, r, newer)
}

/// Segments sealed while the merge runs stay, newer than the outputs,
/// and count in the report's size and in the base for the next
/// automatic compaction.
#[test]
fn segments_sealed_during_the_merge_count_in_the_size_after() {
    let dir = tempfile::tempdir().unwrap();
    let (db, r, _) = compact_while_sealing(dir.path(), false);
    let r = r.unwrap();
    assert_eq!((&r.skipped, r.keys), (&None, 200));
    let after = on_disk(dir.path());
    assert_eq!(r.bytes_after, after);
    let w = db.lock_writer();
    assert_eq!(w.base_live, after, "the base for the next compaction");
}

/// The base and time of a compaction are kept over a reopen (and told
/// by stats) even when segments sealed during its merge, which carry
/// the older ones, are the newest files.
#[test]
fn a_compaction_with_seals_during_its_merge_is_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let (db, r, newer) = compact_while_sealing(dir.path(), false);
    r.unwrap();
    let outputs: u64 = {
        let st = db.state.read().unwrap();
        let n = st.segments.len() - newer;
        let out = st.segments[..n].iter();
        out.map(|s| s.log_len + s.index_len()).sum()
    };
    let when = db.stats().unwrap().last_compaction;
    assert!(when.is_some(), "stats knows of the compaction");
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().unwrap().last_compaction, when);
    let base = db.lock_writer().base_live;
    assert_eq!(base, outputs, "the outputs' size, not the base from before");
}

/// A merge that fails removes its own files only: the indexes of the
/// segments sealed meanwhile (ids past the reserved ones) stay.
#[test]
fn a_failed_merge_leaves_the_segments_sealed_meanwhile_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (db, r, _) = compact_while_sealing(dir.path(), true);
    assert!(r.is_err(), "{r:?}");
    for id in &segment_ids(&db) {
        let idx = dir.path().join(super::seg_idx_name(*id));
        assert!(idx.exists(), "{idx:?} was removed");
    }
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(
        db.open_report().rebuilt_indexes,
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(db.len().unwrap(), 400);
}

/// An iteration begun during a merge (after the compaction's seal) lets
/// go of the segments the compaction removed once it next looks at the
/// database, instead of holding their files, and their disk space, to
/// its end; and it still returns every key once.
#[test]
fn an_iteration_lets_go_of_the_segments_a_compaction_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (o, held) = gated(false);
    let db = Arc::new(Db::open(dir.path(), o).unwrap());
    for round in 0..2u8 {
        for i in 0..100u32 {
            db.set(format!("old{i:04}").as_bytes(), &[round; 50])
                .unwrap();
        }
    }
    held.start(&db);
    let old: Vec<std::sync::Weak<crate::engine::Segment>> = {
        let st = db.state.read().unwrap();
        st.segments.iter().map(Arc::downgrade).collect()
    };
    // More keys in the in-memory map than the iterator reads at once
    // (256), all before the old ones, and not enough to seal the log.
    for i in 0..300u32 {
        db.set(format!("a{i:03}").as_bytes(), b"v").unwrap();
    }
    assert_eq!(db.state.read().unwrap().segments.len(), old.len());
    let mut it = db.iter();
    let mut seen: Vec<Vec<u8>> = vec![it.next().unwrap().unwrap().0];
    held.release().unwrap();
    // Past the first window of the map: the iterator has looked again.
    seen.extend(it.by_ref().take(299).map(|p| p.unwrap().0));
    assert!(
        old.iter().all(|s| s.upgrade().is_none()),
        "the removed segments are still held"
    );
    seen.extend(it.map(|p| p.unwrap().0));
    assert_eq!(seen.len(), 400);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
}

/// An iteration under way when a compaction switches its outputs in
/// goes on over them and misses nothing, though the compaction's seal
/// emptied the in-memory map it was reading in windows.
#[test]
fn an_iteration_goes_on_across_a_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        auto_compact: false,
        ..Options::default()
    };
    let db = Db::open(dir.path(), o).unwrap();
    let keys: Vec<Vec<u8>> = (0..1000u32)
        .map(|i| format!("key{i:04}").into_bytes())
        .collect();
    for k in &keys {
        db.set(k, b"v").unwrap();
    }
    let mut it = db.iter();
    let mut seen: Vec<Vec<u8>> = it.by_ref().take(10).map(|p| p.unwrap().0).collect();
    let one = db.compact_lock.lock().unwrap();
    db.compact_with(one).unwrap();
    seen.extend(it.map(|p| p.unwrap().0));
    assert_eq!(seen, keys);
}
