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
use super::segment::{Found, Segment};
use super::{Db, Error, Result, open, seg_idx_name};

impl Db {
    /// Looks `key` up in `segments`, newest first.
    pub(super) fn find_in_segments(
        &self,
        segments: &[Arc<Segment>],
        key: &[u8],
        want_value: bool,
    ) -> Result<Found> {
        for seg in segments.iter().rev() {
            let found = match seg.find(key, want_value) {
                // Heal whatever the damage: the rebuild reads the whole log,
                // so damage there is reported by it, with the log's offset.
                Err(Error::Corrupt { .. }) => {
                    let healed = self.heal(seg)?;
                    healed.find(key, want_value)?
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
        let idx_path = self.dir.join(seg_idx_name(seg.id));
        let meta = IndexMeta::of(&seg.index.footer);
        let bytes = open::rebuild_index(&*seg.log, &seg.log_path, seg.log_len, meta)?;
        index::write_file(storage, &idx_path, &bytes)?;
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
    use crate::engine::index::{BUCKET_LEN, FOOTER_LEN};
    use crate::engine::record::u64_at;
    use crate::engine::{Db, Error, Options};
    use std::path::Path;

    /// Keys key000..key099 written in order, then key050 deleted (so the log
    /// is out of key order: a hashed index), or left alone (a sorted one).
    fn sealed_db(dir: &Path, sorted: bool) {
        let db = Db::open(dir, Options::default()).unwrap();
        for i in 0..100u32 {
            db.set(
                format!("key{i:03}").as_bytes(),
                format!("value{i}").as_bytes(),
            )
            .unwrap();
        }
        if !sorted {
            db.delete(b"key050").unwrap();
        }
        db.flush().unwrap();
        let mut w = db.lock_writer();
        db.seal(&mut w).unwrap();
    }

    fn check_all(db: &Db, sorted: bool) {
        for i in 0..100u32 {
            let want = (sorted || i != 50).then(|| format!("value{i}").into_bytes());
            assert_eq!(
                db.get(format!("key{i:03}").as_bytes()).unwrap(),
                want,
                "key{i:03}"
            );
        }
        assert_eq!(db.contains(b"key050").unwrap(), sorted);
        assert_eq!(db.get(b"key0505").unwrap(), None);
    }

    /// (table offset, buckets, sparse offset, top offset) from the footer.
    fn layout(idx: &[u8]) -> (usize, usize, usize, usize) {
        let f = idx.len() - FOOTER_LEN;
        let at = |o| u64_at(idx, f + o) as usize;
        (at(32), at(40), at(48), at(56))
    }

    fn idx_path(dir: &Path) -> std::path::PathBuf {
        dir.join("seg-00000001.idx")
    }

    #[test]
    fn a_damaged_table_is_healed_by_lookups() {
        let dir = tempfile::tempdir().unwrap();
        sealed_db(dir.path(), false);
        let clean = std::fs::read(idx_path(dir.path())).unwrap();
        let (table, buckets, _, _) = layout(&clean);
        assert!(table == 64 && buckets > 0, "a hashed index");
        let mut bytes = clean.clone();
        bytes[table..table + buckets * BUCKET_LEN].fill(0);
        std::fs::write(idx_path(dir.path()), &bytes).unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        check_all(&db, false);
        drop(db);
        assert_eq!(
            std::fs::read(idx_path(dir.path())).unwrap(),
            clean,
            "rebuilt"
        );
    }

    #[test]
    fn damaged_entries_are_healed_by_iteration() {
        let dir = tempfile::tempdir().unwrap();
        sealed_db(dir.path(), false);
        let clean = std::fs::read(idx_path(dir.path())).unwrap();
        let (table, buckets, sparse, _) = layout(&clean);
        let entries = table + buckets * BUCKET_LEN;
        let mut bytes = clean.clone();
        bytes[entries + 100..sparse - 100].fill(0xa5);
        std::fs::write(idx_path(dir.path()), &bytes).unwrap();
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
        assert_eq!(std::fs::read(idx_path(dir.path())).unwrap(), clean);
    }

    #[test]
    fn a_damaged_sorted_index_is_healed_by_lookups_and_walks() {
        let dir = tempfile::tempdir().unwrap();
        sealed_db(dir.path(), true);
        let clean = std::fs::read(idx_path(dir.path())).unwrap();
        let (table, _, sparse, top) = layout(&clean);
        assert_eq!((table, sparse), (0, 16), "a sorted index");
        // The top frame (a hundred short keys fit one: no frame below it).
        assert_eq!(top, sparse, "no sparse frames below the top");
        for range in [top + 2..clean.len() - FOOTER_LEN, top + 9..top + 12] {
            let mut bytes = clean.clone();
            bytes[range].fill(0x5a);
            std::fs::write(idx_path(dir.path()), &bytes).unwrap();
            let db = Db::open(dir.path(), Options::default()).unwrap();
            check_all(&db, true);
            assert_eq!(db.keys(b"key09").count(), 10);
            drop(db);
            assert_eq!(std::fs::read(idx_path(dir.path())).unwrap(), clean);
        }
    }

    #[test]
    fn compaction_over_a_damaged_index_heals_it() {
        let dir = tempfile::tempdir().unwrap();
        sealed_db(dir.path(), false);
        let mut bytes = std::fs::read(idx_path(dir.path())).unwrap();
        let (table, buckets, sparse, _) = layout(&bytes);
        bytes[table + buckets * BUCKET_LEN + 50..sparse - 50].fill(0xa5);
        std::fs::write(idx_path(dir.path()), &bytes).unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        assert_eq!(db.compact().unwrap().keys, 99);
        check_all(&db, false);
        drop(db);
        check_all(&Db::open(dir.path(), Options::default()).unwrap(), false);
    }

    #[test]
    fn a_slot_pointing_past_its_segment_is_healed() {
        let dir = tempfile::tempdir().unwrap();
        sealed_db(dir.path(), false);
        let mut bytes = std::fs::read(idx_path(dir.path())).unwrap();
        let (table, buckets, _, _) = layout(&bytes);
        // Every occupied slot's offset points far past the segment; each
        // bucket's CRC is made right again, so only the offsets are wrong.
        for b in 0..buckets {
            let at = table + b * BUCKET_LEN;
            for s in 0..7 {
                let slot = at + s * 8;
                if bytes[slot + 4..slot + 8] != [0; 4] {
                    bytes[slot + 4..slot + 8].copy_from_slice(&u32::MAX.to_le_bytes());
                }
            }
            let crc = crc32fast::hash(&bytes[at..at + BUCKET_LEN - 4]);
            bytes[at + BUCKET_LEN - 4..at + BUCKET_LEN].copy_from_slice(&crc.to_le_bytes());
        }
        std::fs::write(idx_path(dir.path()), &bytes).unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        check_all(&db, false);
    }

    #[test]
    fn a_damaged_segment_is_reported_with_its_file() {
        for sorted in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            sealed_db(dir.path(), sorted);
            let log = dir.path().join("seg-00000001.log");
            let mut bytes = std::fs::read(&log).unwrap();
            let n = bytes.len();
            bytes[n / 4] ^= 0xff; // in a live record (key02x), not the overwritten key050
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
            assert!(
                saw,
                "the damaged record was read without complaint (sorted {sorted})"
            );
        }
    }
}
