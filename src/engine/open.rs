//! Opening a database: lock, settle any interrupted seal or compaction,
//! load segment indexes (rebuilding damaged ones), and replay the active
//! log, cutting a torn tail; [`OpenReport`] says what it found and
//! repaired.
//!
//! A read-only open ([`Options::read_only`]) takes a shared lock and
//! changes nothing: leftovers stay, a torn tail is read around, a missing
//! or damaged index is rebuilt in memory only.
//!
//! Invariants: open reads the active log and each segment index's header
//! and footer, never every key; it needs no free space to open a database
//! whose files are whole (see replay.rs for the active log's repairs). It removes only what an interrupted seal,
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
use super::segment::{Segment, open_segment, open_segment_at};
use super::storage::{CachingStorage, ReadOnlyStorage, Storage};
use super::{Db, Error, Options, Queue, Result, State, Writer, lock};
use super::{bulk, replay};

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
    /// A torn tail of the active log that a read-only open read around and
    /// left in place (the next open that may write cuts it).
    pub left_torn: Option<Truncation>,
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
    if opts.read_only {
        // Every change to the directory fails before it is made (the write
        // paths refuse first): see read_only.rs. Nothing to compact either.
        let inner = Arc::clone(&opts.storage);
        opts.storage = Arc::new(ReadOnlyStorage::new(inner, dir));
        opts.auto_compact = false;
    }
    if opts.cache_bytes > 0 {
        // Every file of this handle reads through one cache; see cache.rs.
        let inner = Arc::clone(&opts.storage);
        opts.storage = Arc::new(CachingStorage::new(inner, opts.cache_bytes));
    }
    let storage = &*opts.storage;
    dir::prepare_dir(storage, dir, opts.create && !opts.read_only)?;
    let listing = dir::list(storage, dir)?;
    dir::refuse_foreign(dir, &listing)?;
    let lock = if opts.read_only {
        lock::acquire_shared(storage, dir, opts.lock_timeout)?
    } else {
        Some(lock::acquire(storage, dir, opts.lock_timeout)?)
    };
    let mut report = OpenReport::default();
    let (state, writer) = load(storage, dir, opts.read_only, &mut report)?;
    let log_len = std::sync::atomic::AtomicU64::new(writer.wal_len);
    Ok(Db {
        log_len,
        batching: std::sync::atomic::AtomicBool::new(false),
        counter: Mutex::new(Default::default()),
        dir: dir.to_owned(),
        wal_path: dir.join(WAL),
        lock,
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

impl Db {
    /// Whether this handle was opened read-only
    /// ([`Options::read_only`]): it refuses every write.
    pub fn is_read_only(&self) -> bool {
        self.opts.read_only
    }

    /// [`Error::ReadOnly`] for a read-only handle: for the writes that
    /// do not reach the writer (a delete of a missing key, a lock note,
    /// recover, a stage).
    pub(super) fn refuse_if_read_only(&self) -> Result<()> {
        if self.opts.read_only {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        }
        Ok(())
    }
}

/// Reads the directory (under its lock) into the state readers see and the
/// writer's state: settles leftovers, opens segments, replays the log.
/// `read_only`: changes nothing; leftovers are passed over (nothing reads
/// them), and the writer refuses every write.
pub(super) fn load(
    storage: &dyn Storage,
    dir: &Path,
    read_only: bool,
    report: &mut OpenReport,
) -> Result<(State, Writer)> {
    let mut listing = dir::list(storage, dir)?;
    // A bulk load committed but not yet renamed into place is finished
    // first, before its segments could go with the other `.tmp` files.
    let mut committed_tmp = Vec::new();
    if listing.has_marker {
        committed_tmp = bulk::settle(storage, dir, &listing.tmp, read_only)?;
        if !read_only {
            committed_tmp.clear();
            listing = dir::list(storage, dir)?;
        }
    }
    for name in listing.tmp.iter().filter(|_| !read_only) {
        let p = dir.join(name);
        dir::remove(storage, &p)?;
        report.removed.push(p);
    }
    // A directory fsync that fails after leftovers were removed does not
    // stop the open: what is read is the same either way, and a later open
    // removes whatever comes back. It poisons the handle (no success after
    // a failed fsync), so that a full disk still lets the database be read.
    let mut unsynced = None;
    let segments = load_segments(
        storage,
        dir,
        &listing,
        &committed_tmp,
        read_only,
        report,
        &mut unsynced,
    )?;
    if !report.removed.is_empty()
        && unsynced.is_none()
        && let Err(e) = dir::sync(storage, dir)
    {
        unsynced = Some(e);
    }
    let next_id = segments.last().map_or(1, |s| s.id + 1);
    let (base_live, last_compaction) = compaction_base(&segments);

    let wal_path = dir.join(WAL);
    let log = replay::replay_wal(storage, &wal_path, listing.has_wal, read_only, report)?;
    let mut writer = Writer {
        wal: log.file,
        wal_len: log.len,
        room_end: log.room_end,
        growths: 0,
        order: log.order,
        next_id,
        poisoned: None,
        unsynced: false,
        log_synced: false,
        repair: log.repair,
        base_live,
        last_compaction,
        auto_floor: 0,
        auto_failure: None,
        read_only: read_only.then(|| dir.to_owned()),
    };
    if let Some(e) = unsynced {
        writer.poison(&e);
    }
    if let Some(replay::LogRepair::CutTail { cut, .. }) =
        writer.repair.as_ref().filter(|_| read_only)
    {
        report.left_torn = Some(cut.clone());
    }
    // Repairs that need space are made now when they can be. When they
    // cannot (a full disk), the database still opens to be read, and the
    // first write makes them (or fails saying why).
    if !writer.is_poisoned()
        && let Ok(Some(cut)) = replay::make_repair(storage, dir, &mut writer)
    {
        report.truncated = Some(cut);
    }
    let state = State {
        mem: log.mem,
        wal: Arc::clone(&writer.wal),
        segments: Arc::new(segments),
        generation: 0,
    };
    Ok((state, writer))
}

/// The compaction base (the size after the newest compaction, or the size of
/// a bulk load into an empty database) and when compaction last ran: each
/// sealed segment's footer carries both forward, so the newest footer of the
/// latest compaction knows. Not simply the newest segment's: one sealed
/// while a compaction merged is newer than its outputs but carries the base
/// and time from before it.
pub(super) fn compaction_base(segments: &[Arc<Segment>]) -> (u64, Option<SystemTime>) {
    let latest = segments.iter().max_by_key(|s| s.index.footer.compacted_at);
    latest.map_or((0, None), |s| {
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
    committed_tmp: &[(u64, PathBuf)],
    read_only: bool,
    report: &mut OpenReport,
    unsynced: &mut Option<Error>,
) -> Result<Vec<Arc<Segment>>> {
    let mut segs: BTreeMap<u64, Arc<Segment>> = BTreeMap::new();
    for &id in &listing.logs {
        let seg = open_segment(storage, dir, id, read_only, report)?;
        segs.insert(id, Arc::new(seg));
    }
    for (id, path) in committed_tmp {
        let seg = open_segment_at(storage, dir, *id, path.clone(), read_only, report)?;
        segs.insert(*id, Arc::new(seg));
    }
    // Index files whose log is gone are leftovers of a seal that did not finish.
    for &id in &listing.idxs {
        if !segs.contains_key(&id) && !read_only {
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
    // After a failed fsync, the rest stay on the disk for a later open, as
    // they all do for a read-only one.
    for id in stale {
        segs.remove(&id);
        if unsynced.is_some() || read_only {
            continue;
        }
        remove(storage, &dir.join(seg_log_name(id)), report)?;
        remove(storage, &dir.join(seg_idx_name(id)), report)?;
        if let Err(e) = dir::sync(storage, dir) {
            *unsynced = Some(e);
        }
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
