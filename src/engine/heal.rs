//! Point lookups in sealed segments, and healing a damaged index.
//!
//! An index is derived data. When a lookup finds it damaged (a slot or
//! entry CRC mismatch, an entry pointing past its segment or at a record of
//! another key), the index is rebuilt from its segment and the lookup
//! retried, so a damaged index never gives a wrong answer and never stops
//! reads. If the segment itself is damaged, that is reported instead, with
//! the segment's file and offset: only `recover` changes a sealed log.

use std::sync::Arc;

use super::index::{self, Index, IndexMeta};
use super::{Db, Error, Result, Segment, log, open, seg_idx_name};

/// What a lookup in the segments found.
pub(super) enum Found {
    /// No segment holds the key.
    Absent,
    /// The newest record is a tombstone.
    Deleted,
    /// The newest record is a put (its value, when asked for).
    Live(Option<Vec<u8>>),
}

fn in_segment(seg: &Segment, key: &[u8], want_value: bool) -> Result<Found> {
    let Some(entry) = seg.index.lookup(key)? else {
        return Ok(Found::Absent);
    };
    // Built only on the error paths: a lookup allocates nothing it can avoid.
    let idx_path = || seg.log_path.with_extension("idx");
    // Checked: the offset is read from the index, and may be anything.
    let end = entry.offset.checked_add(u64::from(entry.len));
    if end.is_none_or(|end| end > seg.log_len) {
        return Err(Error::corrupt(
            idx_path(),
            0,
            "an entry points past the end of its segment",
        ));
    }
    let delete = if want_value {
        match log::read_value(&*seg.log, &seg.log_path, entry.offset, entry.len, key)? {
            Some(v) if !entry.delete => return Ok(Found::Live(Some(v))),
            Some(_) => false,
            None => true,
        }
    } else {
        log::read_tag_at(&*seg.log, &seg.log_path, entry.offset, entry.len, key)?
    };
    if delete != entry.delete {
        return Err(Error::corrupt(
            idx_path(),
            0,
            "an entry's kind does not match its record",
        ));
    }
    Ok(if delete {
        Found::Deleted
    } else {
        Found::Live(None)
    })
}

impl Db {
    /// Looks `key` up in `segments`, newest first.
    pub(super) fn find_in_segments(
        &self,
        segments: &[Arc<Segment>],
        key: &[u8],
        want_value: bool,
    ) -> Result<Found> {
        for seg in segments.iter().rev() {
            let found = match in_segment(seg, key, want_value) {
                Err(Error::Corrupt { .. }) => {
                    let healed = self.heal(seg)?;
                    in_segment(&healed, key, want_value)?
                }
                other => other?,
            };
            if !matches!(found, Found::Absent) {
                return Ok(found);
            }
        }
        Ok(Found::Absent)
    }

    /// Rebuilds the index of `seg` from its log and swaps it in.
    pub(super) fn heal(&self, seg: &Arc<Segment>) -> Result<Arc<Segment>> {
        // Not the writer lock: compaction reads through this path while it
        // holds that. A heal racing a compaction that removes the segment at
        // worst leaves a stray index, which open removes.
        let _h = self.heal_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            st.segments.iter().find(|s| s.id == seg.id).cloned()
        };
        if let Some(current) = &current
            && !Arc::ptr_eq(&current.index, &seg.index)
        {
            return Ok(Arc::clone(current)); // Another reader healed it first.
        }
        let storage = &*self.opts.storage;
        let entries = open::scan_segment(&*seg.log, &seg.log_path)?;
        let idx_path = self.dir.join(seg_idx_name(seg.id));
        let old = seg.index.footer;
        let meta = IndexMeta {
            segment_len: seg.log_len,
            group: old.group,
            base_live: old.base_live,
            compacted_at: old.compacted_at,
        };
        index::write(storage, &idx_path, &entries, meta)?;
        storage
            .sync_dir(&self.dir)
            .map_err(|e| Error::io("fsync", &self.dir, e))?;
        let index =
            Index::open(storage, &idx_path)?.map_err(|why| Error::corrupt(&idx_path, 0, why))?;
        let healed = Arc::new(Segment {
            id: seg.id,
            log_path: seg.log_path.clone(),
            log: Arc::clone(&seg.log),
            log_len: seg.log_len,
            index: Arc::new(index),
        });
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        if !st.segments.iter().any(|s| s.id == seg.id) {
            return Ok(healed); // Compacted away meanwhile; still right for this lookup.
        }
        let segments: Vec<_> = st
            .segments
            .iter()
            .map(|s| {
                if s.id == seg.id {
                    Arc::clone(&healed)
                } else {
                    Arc::clone(s)
                }
            })
            .collect();
        st.segments = Arc::new(segments);
        st.generation += 1;
        Ok(healed)
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Db, Error, Options};
    use std::path::Path;

    fn sealed_db(dir: &Path) {
        let db = Db::open(dir, Options::default()).unwrap();
        for i in 0..100u32 {
            db.set(
                format!("key{i:03}").as_bytes(),
                format!("value{i}").as_bytes(),
            )
            .unwrap();
        }
        db.delete(b"key050").unwrap();
        db.flush().unwrap();
        let mut w = db.lock_writer();
        db.seal(&mut w).unwrap();
    }

    fn check_all(db: &Db) {
        for i in 0..100u32 {
            let want = (i != 50).then(|| format!("value{i}").into_bytes());
            assert_eq!(
                db.get(format!("key{i:03}").as_bytes()).unwrap(),
                want,
                "key{i:03}"
            );
        }
        assert!(!db.contains(b"key050").unwrap());
    }

    #[test]
    fn damaged_entries_and_table_are_healed_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        sealed_db(dir.path());
        let idx = dir.path().join("seg-00000001.idx");
        let clean = std::fs::read(&idx).unwrap();
        // Zero a stretch of entries, then a stretch of the table.
        for range in [40..400, clean.len() - 600..clean.len() - 200] {
            let mut bytes = clean.clone();
            bytes[range].fill(0);
            std::fs::write(&idx, &bytes).unwrap();
            let db = Db::open(dir.path(), Options::default()).unwrap();
            check_all(&db);
            drop(db);
            assert_eq!(std::fs::read(&idx).unwrap(), clean, "the index was rebuilt");
        }
    }

    #[test]
    fn iteration_over_a_damaged_index_heals_it() {
        let dir = tempfile::tempdir().unwrap();
        sealed_db(dir.path());
        let idx = dir.path().join("seg-00000001.idx");
        let clean = std::fs::read(&idx).unwrap();
        let mut bytes = clean.clone();
        bytes[600..900].fill(0xa5);
        std::fs::write(&idx, &bytes).unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let pairs: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
        let want: Vec<_> = (0..100u32)
            .filter(|&i| i != 50)
            .map(|i| {
                (
                    format!("key{i:03}").into_bytes(),
                    format!("value{i}").into_bytes(),
                )
            })
            .collect();
        assert_eq!(pairs, want);
        assert_eq!(std::fs::read(&idx).unwrap(), clean);
    }

    #[test]
    fn compaction_over_a_damaged_index_heals_it() {
        let dir = tempfile::tempdir().unwrap();
        sealed_db(dir.path());
        let idx = dir.path().join("seg-00000001.idx");
        let mut bytes = std::fs::read(&idx).unwrap();
        bytes[600..900].fill(0xa5);
        std::fs::write(&idx, &bytes).unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        assert_eq!(db.compact().unwrap().keys, 99);
        check_all(&db);
        drop(db);
        check_all(&Db::open(dir.path(), Options::default()).unwrap());
    }

    #[test]
    fn an_entry_pointing_past_its_segment_is_healed() {
        let dir = tempfile::tempdir().unwrap();
        sealed_db(dir.path());
        let idx = dir.path().join("seg-00000001.idx");
        let mut bytes = std::fs::read(&idx).unwrap();
        // First entry: offset field at 16 + 9; rewrite it and fix the entry CRC.
        let key_len = u32::from_le_bytes(bytes[21..25].try_into().unwrap()) as usize;
        bytes[25..33].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let crc = crc32fast::hash(&bytes[20..16 + 21 + key_len]);
        bytes[16..20].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&idx, &bytes).unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        check_all(&db);
    }

    #[test]
    fn a_damaged_segment_is_reported_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        sealed_db(dir.path());
        let log = dir.path().join("seg-00000001.log");
        let mut bytes = std::fs::read(&log).unwrap();
        let n = bytes.len();
        bytes[n - 40] ^= 0xff;
        std::fs::write(&log, &bytes).unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let mut saw = false;
        for i in 0..100u32 {
            match db.get(format!("key{i:03}").as_bytes()) {
                Ok(_) => {}
                Err(Error::Corrupt { path, .. }) => {
                    assert_eq!(path, log);
                    saw = true;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert!(saw, "the damaged record was read without complaint");
    }
}
