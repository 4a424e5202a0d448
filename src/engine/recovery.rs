//! `recover`: salvage every intact record.
//!
//! It reads each log whole, keeps every complete record and committed batch,
//! and moves every other byte range into `lost+found/` (never deleting a
//! byte); a damaged log is rewritten (temp file, fsync, rename, directory
//! fsync) without those ranges. Then it rebuilds every index. A batch whose
//! records are not all intact goes to `lost+found/` whole, so recovery never
//! makes a batch partial.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::index::{self, Index, IndexMeta};
use super::open::{self, Listing};
use super::record::{self, FILE_HEADER_LEN, LOG_MAGIC, Tag};
use super::replay;
use super::storage::{OpenMode, Storage, read_exact_at};
use super::{Error, Options, Result, WAL, lock, seg_idx_name, seg_log_name};

/// What `recover` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoverReport {
    /// Log files read.
    pub files: u64,
    /// Records kept.
    pub records_kept: u64,
    /// Bytes moved to `lost+found/`.
    pub bytes_moved: u64,
    /// The files written in `lost+found/`.
    pub moved_to: Vec<PathBuf>,
    /// Logs rewritten without their damaged bytes.
    pub rewritten: Vec<PathBuf>,
    /// Indexes rebuilt.
    pub indexes_rebuilt: u64,
}

/// The usable and unusable parts of a log's bytes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Salvage {
    /// A valid log: header and every complete unit, in order.
    kept: Vec<u8>,
    /// Byte ranges that are not part of a complete unit: (offset, length).
    lost: Vec<(u64, u64)>,
    records: u64,
}

fn salvage(bytes: &[u8]) -> Salvage {
    let mut s = Salvage {
        kept: record::file_header(LOG_MAGIC).to_vec(),
        ..Salvage::default()
    };
    let lose = |s: &mut Salvage, from: usize, to: usize| {
        if to > from {
            match s.lost.last_mut() {
                Some((off, len)) if *off + *len == from as u64 => *len += (to - from) as u64,
                _ => s.lost.push((from as u64, (to - from) as u64)),
            }
        }
    };
    if bytes.len() < FILE_HEADER_LEN {
        if bytes.iter().any(|&b| b != 0) {
            lose(&mut s, 0, bytes.len());
        }
        return s;
    }
    if record::check_file_header(bytes, LOG_MAGIC).is_err() {
        lose(&mut s, 0, FILE_HEADER_LEN);
    }
    let mut pos = FILE_HEADER_LEN;
    let mut batch: Option<(usize, u32)> = None;
    while pos < bytes.len() {
        match record::decode(&bytes[pos..]) {
            Ok((rec, n)) => {
                match rec.tag {
                    Tag::Put | Tag::Delete => {
                        if let Some((start, _)) = batch.take() {
                            lose(&mut s, start, pos);
                        }
                        s.kept.extend_from_slice(&bytes[pos..pos + n]);
                        s.records += 1;
                    }
                    Tag::BatchPut | Tag::BatchDelete => {
                        let (start, count) = batch.unwrap_or((pos, 0));
                        batch = Some((start, count + 1));
                    }
                    Tag::BatchCommit => match batch.take() {
                        Some((start, count)) if rec.commit_count() == Some(count) => {
                            s.kept.extend_from_slice(&bytes[start..pos + n]);
                            s.records += u64::from(count);
                        }
                        Some((start, _)) => lose(&mut s, start, pos + n),
                        None => lose(&mut s, pos, pos + n),
                    },
                }
                pos += n;
            }
            Err(_) => {
                let next = (pos + 1..bytes.len())
                    .find(|&p| record::decode(&bytes[p..]).is_ok())
                    .unwrap_or(bytes.len());
                let from = batch.take().map_or(pos, |(start, _)| start);
                lose(&mut s, from, next);
                pos = next;
            }
        }
    }
    if let Some((start, _)) = batch {
        lose(&mut s, start, bytes.len());
    }
    s
}

/// Whether `bytes` (what follows a damaged place in a log) hold a complete
/// record or committed batch, found as `recover` finds them.
pub(super) fn holds_intact_unit(bytes: &[u8]) -> bool {
    let mut log = record::file_header(LOG_MAGIC).to_vec();
    log.extend_from_slice(bytes);
    salvage(&log).records > 0
}

pub(super) fn recover_dir(dir: &Path, opts: &Options) -> Result<RecoverReport> {
    let storage = &*opts.storage;
    open::prepare_dir(storage, dir, false)?;
    open::refuse_foreign(dir, &open::list(storage, dir)?)?;
    let _lock = lock::acquire(storage, dir, opts.lock_timeout)?;
    recover_files(storage, dir)
}

/// `recover` on a directory whose lock the caller holds.
pub(super) fn recover_files(storage: &dyn Storage, dir: &Path) -> Result<RecoverReport> {
    let listing: Listing = open::list(storage, dir)?;
    let mut report = RecoverReport::default();
    for name in &listing.tmp {
        let p = dir.join(name);
        storage
            .remove_file(&p)
            .map_err(|e| Error::io("remove", &p, e))?;
    }
    // A file of a newer format is not damage: refuse before changing a byte
    // (salvage would take its header for damage and relabel the file).
    let mut logs: Vec<PathBuf> = listing
        .logs
        .iter()
        .map(|&id| dir.join(seg_log_name(id)))
        .collect();
    if listing.has_wal {
        logs.push(dir.join(WAL));
    }
    for path in &logs {
        let file = storage
            .open(path, OpenMode::Read)
            .map_err(|e| Error::io("open", path, e))?;
        match open::check_log_header(&*file, path) {
            Err(e @ Error::UnsupportedVersion { .. }) => return Err(e),
            Ok(()) | Err(Error::Corrupt { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    // What each old index says about compaction, read before any log is
    // rewritten: a rewritten segment's index is removed first (see salvage_file).
    let mut old_meta = BTreeMap::new();
    for &id in &listing.logs {
        if let Ok(old) = Index::open(storage, &dir.join(seg_idx_name(id)))? {
            old_meta.insert(id, old.footer);
        }
    }
    let mut names: Vec<String> = listing.logs.iter().map(|&id| seg_log_name(id)).collect();
    if listing.has_wal {
        names.push(WAL.to_owned());
    }
    for name in &names {
        salvage_file(storage, dir, name, &mut report)?;
    }
    for &id in &listing.idxs {
        if !listing.logs.contains(&id) {
            let p = dir.join(seg_idx_name(id));
            storage
                .remove_file(&p)
                .map_err(|e| Error::io("remove", &p, e))?;
        }
    }
    for &id in &listing.logs {
        let log_path = dir.join(seg_log_name(id));
        let idx_path = dir.join(seg_idx_name(id));
        let log = storage
            .open(&log_path, OpenMode::Read)
            .map_err(|e| Error::io("open", &log_path, e))?;
        let len = log.len().map_err(|e| Error::io("stat", &log_path, e))?;
        // Keep what the old index said about compaction when it was readable.
        let old = old_meta.get(&id);
        let meta = IndexMeta {
            group: old.and_then(|f| f.group),
            base_live: old.map_or(0, |f| f.base_live),
            compacted_at: old.map_or(0, |f| f.compacted_at),
        };
        let (entries, kind) = open::scan_segment(&*log, &log_path)?;
        let bytes = index::encode(&entries, kind, len, meta);
        index::write_file(storage, &idx_path, &bytes)?;
        report.indexes_rebuilt += 1;
    }
    storage
        .sync_dir(dir)
        .map_err(|e| Error::io("fsync", dir, e))?;
    Ok(report)
}

fn salvage_file(
    storage: &dyn Storage,
    dir: &Path,
    name: &str,
    report: &mut RecoverReport,
) -> Result<()> {
    let path = dir.join(name);
    let file = storage
        .open(&path, OpenMode::Read)
        .map_err(|e| Error::io("open", &path, e))?;
    let len = file.len().map_err(|e| Error::io("stat", &path, e))?;
    let mut bytes = vec![0u8; len as usize];
    read_exact_at(&*file, &mut bytes, 0).map_err(|e| Error::io("read", &path, e))?;
    report.files += 1;
    let s = salvage(&bytes);
    report.records_kept += s.records;
    if s.lost.is_empty() && s.kept.len() == bytes.len() {
        return Ok(());
    }
    for &(off, n) in &s.lost {
        let range = &bytes[off as usize..(off + n) as usize];
        let saved = replay::save_lost(storage, dir, name, off, range)?;
        report.bytes_moved += n;
        report.moved_to.push(saved);
    }
    if let Some((id, "log")) = super::parse_seg_name(name) {
        // The old index describes the old length; were it left and recover
        // stopped before rebuilding it, open would take the rewritten
        // segment for one cut short. Without it, open rebuilds it.
        let idx = dir.join(seg_idx_name(id));
        match storage.remove_file(&idx) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", &idx, e)),
        }
    }
    let tmp = index::tmp_path(&path);
    let f = storage
        .open(&tmp, OpenMode::Truncate)
        .map_err(|e| Error::io("create", &tmp, e))?;
    f.write_at(&s.kept, 0)
        .map_err(|e| Error::io("write", &tmp, e))?;
    f.sync_data().map_err(|e| Error::io("fsync", &tmp, e))?;
    storage
        .rename(&tmp, &path)
        .map_err(|e| Error::io("rename", &tmp, e))?;
    storage
        .sync_dir(dir)
        .map_err(|e| Error::io("fsync", dir, e))?;
    report.rewritten.push(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::{encode, encode_commit, file_header};

    #[test]
    fn salvage_keeps_intact_records_around_damage() {
        let mut bytes = file_header(LOG_MAGIC).to_vec();
        encode(&mut bytes, Tag::Put, b"a", b"1");
        let bad_at = bytes.len();
        encode(&mut bytes, Tag::Put, b"b", b"2");
        let bad_end = bytes.len();
        encode(&mut bytes, Tag::Put, b"c", b"3");
        bytes[bad_at + 8] ^= 0xff;
        let s = salvage(&bytes);
        assert_eq!(s.records, 2);
        assert_eq!(s.lost, vec![(bad_at as u64, (bad_end - bad_at) as u64)]);
    }

    #[test]
    fn salvage_drops_a_damaged_batch_whole() {
        let mut bytes = file_header(LOG_MAGIC).to_vec();
        let start = bytes.len();
        encode(&mut bytes, Tag::BatchPut, b"a", b"1");
        let second = bytes.len();
        encode(&mut bytes, Tag::BatchPut, b"b", b"2");
        encode_commit(&mut bytes, 2);
        let end = bytes.len();
        encode(&mut bytes, Tag::Put, b"c", b"3");
        bytes[second + 8] ^= 0xff;
        let s = salvage(&bytes);
        assert_eq!(s.records, 1);
        assert_eq!(s.lost, vec![(start as u64, (end - start) as u64)]);
    }

    #[test]
    fn salvage_of_a_clean_log_changes_nothing() {
        let mut bytes = file_header(LOG_MAGIC).to_vec();
        encode(&mut bytes, Tag::Put, b"a", b"1");
        encode(&mut bytes, Tag::Delete, b"a", b"");
        let s = salvage(&bytes);
        assert_eq!(s.kept, bytes);
        assert!(s.lost.is_empty());
    }

    #[test]
    fn a_newer_format_is_refused_not_salvaged() {
        use crate::engine::{Db, Options};
        let dir = tempfile::tempdir().unwrap();
        let opts = Options {
            seal_on_close: 0,
            ..Options::default()
        };
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        db.set(b"k", b"v").unwrap();
        db.close().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.set(b"k2", b"v2").unwrap();
        drop(db);
        for name in ["wal.log", "seg-00000001.log", "seg-00000001.idx"] {
            let path = dir.path().join(name);
            let clean = std::fs::read(&path).unwrap();
            let mut newer = clean.clone();
            newer[4] = 3;
            let crc = crc32fast::hash(&newer[..12]);
            newer[12..16].copy_from_slice(&crc.to_le_bytes());
            std::fs::write(&path, &newer).unwrap();
            for result in [
                Db::check_dir(dir.path(), &opts).map(|_| ()),
                Db::recover_dir(dir.path(), &opts).map(|_| ()),
            ] {
                assert!(
                    matches!(result, Err(Error::UnsupportedVersion { found: 3, .. })),
                    "{name}: {result:?}"
                );
            }
            assert_eq!(std::fs::read(&path).unwrap(), newer, "{name} was changed");
            assert!(!dir.path().join("lost+found").exists());
            std::fs::write(&path, &clean).unwrap();
        }
    }
}
