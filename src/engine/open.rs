//! Opening a database: lock, settle any interrupted seal or compaction,
//! load segment indexes (rebuilding damaged ones), and replay the active
//! log, cutting a torn tail; [`OpenReport`] says what it found and
//! repaired.
//!
//! Invariants: open reads the active log and each segment index's header
//! and footer, never every key. It removes only what an interrupted seal,
//! compaction or recover left behind (temporary files, indexes whose log is
//! gone, the segments a complete compaction group replaced, oldest first),
//! and fsyncs the directory before anything depends on a removal. The
//! directory's names and file operations are dir.rs's; opening a segment
//! and rebuilding its index, segment/rebuild.rs's; replaying the active
//! log, replay.rs's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::dir::{self, Listing, WAL, seg_idx_name, seg_log_name};
use super::index::Group;
use super::replay;
use super::segment::{Segment, open_segment};
use super::storage::{CachingStorage, Storage};
use super::{Db, Options, Queue, Result, State, Writer, lock};

/// What opening the database found and repaired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Committed operations replayed from the active log.
    pub replayed: u64,
    /// A torn or corrupt tail cut off the active log, if any.
    pub truncated: Option<Truncation>,
    /// Index files that were missing or damaged and were rebuilt.
    pub rebuilt_indexes: Vec<PathBuf>,
    /// Leftover files of an interrupted seal or compaction that were removed.
    pub removed: Vec<PathBuf>,
}

/// A tail cut off the active log at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// Where the log now ends.
    pub offset: u64,
    /// How many bytes were cut.
    pub bytes: u64,
    /// Why the first cut byte was not a complete record.
    pub reason: String,
    /// Where the cut bytes were saved (in `lost+found/`), when not all zero.
    pub saved_to: Option<PathBuf>,
    /// The tail was only a batch cut off before its commit (an interrupted
    /// load): never acknowledged, so nothing was lost and nothing is saved.
    pub unfinished_batch: bool,
}

pub(super) fn open(dir: &Path, mut opts: Options) -> Result<Db> {
    opts.check()?;
    if opts.cache_bytes > 0 {
        // Every file of this handle reads through one cache; see cache.rs.
        let inner = Arc::clone(&opts.storage);
        opts.storage = Arc::new(CachingStorage::new(inner, opts.cache_bytes));
    }
    let storage = &*opts.storage;
    dir::prepare_dir(storage, dir, opts.create)?;
    let listing = dir::list(storage, dir)?;
    dir::refuse_foreign(dir, &listing)?;
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
    let listing = dir::list(storage, dir)?;
    for name in &listing.tmp {
        let p = dir.join(name);
        dir::remove(storage, &p)?;
        report.removed.push(p);
    }
    let segments = load_segments(storage, dir, &listing, report)?;
    if !report.removed.is_empty() {
        dir::sync(storage, dir)?;
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
        log_synced: false,
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
        dir::sync(storage, dir)?;
    }
    Ok(segs.into_values().collect())
}

/// Removes a leftover file, if it is there, and reports it.
fn remove(storage: &dyn Storage, path: &Path, report: &mut OpenReport) -> Result<()> {
    if dir::remove_if_present(storage, path)? {
        report.removed.push(path.to_owned());
    }
    Ok(())
}
