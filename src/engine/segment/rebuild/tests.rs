//! Rebuilding an index from its segment (what encoding every newest entry
//! writes, damage an error), a segment cut short, and healing: a damaged
//! index found by a lookup, a walk or a compaction is rebuilt and the
//! answer is still right; a damaged segment is reported with its file.

use std::path::Path;

use crate::engine::index::{BUCKET_LEN, FOOTER_LEN};
use crate::engine::record::{LOG_MAGIC, Tag, encode, encode_commit, file_header, u64_at};
use crate::engine::{Db, Error, Options};

/// The streaming rebuild of a log in key order, and the gathering one
/// of any other, write what encoding every newest entry writes.
#[test]
fn a_rebuilt_index_is_what_encoding_the_entries_gives() {
    use super::{IndexMeta, index, rebuild_index, scan_segment};
    use crate::engine::index::Kind;
    use crate::engine::storage::{OpenMode, RealStorage, Storage};
    let dir = tempfile::tempdir().unwrap();
    // Without the blocks' CRCs, which the entries alone cannot give.
    let meta = IndexMeta {
        base_live: 12345,
        block_crcs: false,
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

/// Zeroes the hash table of the hashed index a `sealed_db` wrote in
/// `dir`: the index's bytes before and after.
fn zero_the_table(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let clean = std::fs::read(idx_path(dir)).unwrap();
    let (table, buckets, _, _) = layout(&clean);
    assert!(table == 64 && buckets > 0, "a hashed index");
    let mut bytes = clean.clone();
    bytes[table..table + buckets * BUCKET_LEN].fill(0);
    std::fs::write(idx_path(dir), &bytes).unwrap();
    (clean, bytes)
}

#[test]
fn a_damaged_table_is_healed_by_lookups() {
    let dir = tempfile::tempdir().unwrap();
    sealed_db(dir.path(), false);
    let (clean, _) = zero_the_table(dir.path());
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
    // The seal wrote no blocks' CRCs (it does not see the log's bytes);
    // a rebuild gives them: the same index but for those.
    let flags = |idx: &[u8]| idx[idx.len() - FOOTER_LEN + 7];
    assert_eq!(flags(&clean) & 2, 0);
    let mut healed: Option<Vec<u8>> = None;
    for range in [top + 2..clean.len() - FOOTER_LEN, top + 9..top + 12] {
        let mut bytes = clean.clone();
        bytes[range].fill(0x5a);
        std::fs::write(idx_path(dir.path()), &bytes).unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        check_all(&db, true);
        assert_eq!(db.keys(b"key09").count(), 10);
        drop(db);
        let now = std::fs::read(idx_path(dir.path())).unwrap();
        assert_eq!(flags(&now) & 2, 2);
        assert_eq!(now.len(), clean.len() + 4, "one data block: its CRC");
        assert_eq!(*healed.get_or_insert_with(|| now.clone()), now);
        let report = Db::check_dir(dir.path(), &Options::default()).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
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

/// A read-only handle rebuilds a damaged index (found by a lookup) and a
/// missing one (at open) in memory: reads are right, and neither file is
/// written.
#[test]
fn a_read_only_handle_rebuilds_in_memory_only() {
    let dir = tempfile::tempdir().unwrap();
    sealed_db(dir.path(), false);
    let (_, bytes) = zero_the_table(dir.path());
    let read_only = || Options {
        read_only: true,
        ..Options::default()
    };
    let db = Db::open(dir.path(), read_only()).unwrap();
    check_all(&db, false);
    drop(db);
    assert_eq!(std::fs::read(idx_path(dir.path())).unwrap(), bytes);

    std::fs::remove_file(idx_path(dir.path())).unwrap();
    let db = Db::open(dir.path(), read_only()).unwrap();
    assert!(db.open_report().rebuilt_indexes.is_empty());
    check_all(&db, false);
    assert_eq!(db.keys(b"key0").count(), 99);
    drop(db);
    assert!(!idx_path(dir.path()).exists());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}
