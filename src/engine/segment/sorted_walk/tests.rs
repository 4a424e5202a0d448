//! Tests of a sorted walk's data blocks decoded at once: what a walk gives
//! is what the same logs walked record by record give (their indexes
//! rewritten in format 3, which gives no blocks' CRCs). That a damaged
//! record is never handed out is segment/tests.rs's.

use crate::engine::index::{Index, IndexMeta, Kind};
use crate::engine::segment::rebuild_index;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::engine::storage::{CachingStorage, Counting, OpenMode, RealStorage, Storage};
use crate::engine::{Batch, Db, Options};

/// Segments of `segment_size` bytes (so that writes seal often), no
/// automatic compaction.
fn small(segment_size: u64) -> Options {
    Options {
        auto_compact: false,
        segment_size,
        ..Options::default()
    }
}

/// Every record of every segment of `db`, as walks from `from` with values
/// and without give them: whether with values, key, tombstone, offset,
/// length, expiry, value, whole record.
type Walked = Vec<(
    bool,
    Vec<u8>,
    bool,
    u64,
    u32,
    Option<u64>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
)>;

/// What `db`'s segments give walked from each of `froms` (see
/// [`Walked`]), and how many of them give their blocks' CRCs.
fn walked(db: &Db, froms: &[&[u8]]) -> (Walked, usize) {
    let st = db.state.read().unwrap();
    let mut all = Walked::new();
    for seg in st.segments.iter() {
        for values in [true, false] {
            for from in froms {
                let mut walk = seg.walk(from, values).unwrap();
                while walk.advance().unwrap() {
                    let h = walk.head().unwrap();
                    let e = h.entry;
                    let value = h.value.map(<[u8]>::to_vec);
                    let record = walk.put_record().map(<[u8]>::to_vec);
                    let (key, offset) = (e.key.to_vec(), e.offset);
                    all.push((
                        values,
                        key,
                        e.delete,
                        offset,
                        e.len,
                        e.expires_at,
                        value,
                        record,
                    ));
                }
            }
        }
    }
    let crcs = st.segments.iter().filter(|s| s.index.footer.block_crcs);
    (all, crcs.count())
}

/// Rewrites the index of every segment log in `dir` as a rebuild from its
/// log, in format `version`, with the blocks' CRCs when the format has
/// room for them (4).
fn rewrite_indexes(dir: &std::path::Path, version: u32) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let log = entry.path();
        let name = log.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("seg-") && name.ends_with(".log")) {
            continue;
        }
        let idx = log.with_extension("idx");
        let footer = Index::open_written(&RealStorage, &idx).unwrap().footer;
        let meta = IndexMeta {
            version,
            block_crcs: version >= 4,
            ..IndexMeta::of(&footer)
        };
        let file = RealStorage.open(&log, OpenMode::Read).unwrap();
        let len = std::fs::metadata(&log).unwrap().len();
        std::fs::write(&idx, rebuild_index(&*file, &log, len, meta).unwrap()).unwrap();
    }
}

/// Walks of the same logs agree with and without blocks' CRCs, from every
/// start, with values and without; and so do `Db::iter` and `Db::keys`.
fn agree_with_and_without_crcs(dir: &std::path::Path, opts: impl Fn() -> Options) -> usize {
    let froms: [&[u8]; 3] = [b"", b"key01500", b"key01501"];
    let read = |version| {
        rewrite_indexes(dir, version);
        let db = Db::open(dir, opts()).unwrap();
        let (walks, crcs) = walked(&db, &froms);
        let pairs: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
        let keys: Vec<_> = db.keys(b"").map(|k| k.unwrap()).collect();
        db.close().unwrap();
        (walks, crcs, pairs, keys)
    };
    let (at_once, crcs, pairs, keys) = read(4);
    let (one_by_one, none, pairs_3, keys_3) = read(3);
    assert!(crcs > 0, "no segment gives its blocks' CRCs");
    assert_eq!(none, 0, "format 3 indexes give no CRCs");
    assert_eq!(at_once.len(), one_by_one.len());
    assert!(at_once == one_by_one, "the walks differ");
    assert_eq!((pairs, keys), (pairs_3, keys_3));
    at_once.len()
}

/// A load's sorted segment (tombstones, expiring puts, values longer than
/// a block) over a segment sealed before it.
#[test]
fn records_decoded_a_block_at_once_are_those_read_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || small(16 * 1024);
    let db = Db::open(dir.path(), opts()).unwrap();
    // Keys already there: the load's deletes of them are tombstones.
    db.set(b"key00007", b"old").unwrap();
    let mut b = db.batch_writer().unwrap();
    for i in (0..3_000u32).rev() {
        let key = format!("key{i:05}").into_bytes();
        let value = match i % 11 {
            0 => vec![b'v'; 3_000],
            _ => format!("value{i}").into_bytes(),
        };
        match i % 7 {
            0 => b.delete(&key).unwrap(),
            1 => b
                .set_expiring(&key, &value, Some(4_000_000_000_000 + u64::from(i)))
                .unwrap(),
            _ => b.set(&key, &value).unwrap(),
        }
    }
    b.commit().unwrap();
    db.close().unwrap();
    let walked = agree_with_and_without_crcs(dir.path(), opts);
    assert!(walked > 3 * 3_000, "{walked} records walked");
}

/// Sealed logs in key order written by batches: batch puts and deletes,
/// and the batches' commits, inside data blocks (a walk steps over a
/// commit).
#[test]
fn batches_inside_blocks_decoded_at_once_are_read_as_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || small(24 * 1024);
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut i = 0u32;
    while i < 4_000 {
        let mut b = Batch::new();
        for j in 0..(i % 4 + 1) {
            let key = format!("key{:05}", i + j).into_bytes();
            match (i + j) % 5 {
                0 => b.delete(key),
                1 => b.set_expiring(key, vec![b'e'; 10], Some(4_000_000_000_000)),
                2 => b.set(key, vec![b'w'; 200]),
                _ => b.set(key, format!("v{}", i + j).into_bytes()),
            }
        }
        i += i % 4 + 1;
        db.write_batch(b).unwrap();
        db.set(format!("key{i:05}").as_bytes(), b"single").unwrap();
        i += 1;
    }
    let sorted = {
        let st = db.state.read().unwrap();
        st.segments
            .iter()
            .filter(|s| s.index.footer.kind == Kind::Sorted)
            .count()
    };
    assert!(sorted > 1, "{sorted} sorted segments");
    db.close().unwrap();
    let walked = agree_with_and_without_crcs(dir.path(), opts);
    assert!(walked > 10_000, "{walked} records walked");
}

/// A walk keeps the blocks it reads in the block cache (it has room):
/// a second walk of the segment reads no file. A compaction's walk, which
/// drops what it passed from the system's cache, keeps nothing in the
/// block cache either: a walk after it reads the file.
#[test]
fn walks_warm_the_block_cache_and_a_compactions_walk_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let counting = Counting::over(Arc::new(RealStorage));
    let reads = Arc::clone(&counting.reads);
    let opts = Options {
        storage: Arc::new(CachingStorage::new(Arc::new(counting), 64 << 20)),
        cache_bytes: 0,
        ..small(1 << 20)
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let mut b = db.batch_writer().unwrap();
    for i in 0..20_000u32 {
        b.set(format!("key{i:05}").as_bytes(), &[b'v'; 100])
            .unwrap();
    }
    b.commit().unwrap();
    let segs = Arc::clone(&db.state.read().unwrap().segments);
    let seg = segs.iter().max_by_key(|s| s.log_len).unwrap();
    assert!(seg.log_len > 500_000, "{}", seg.log_len);
    let walk_all = |behind: bool| {
        let before = reads.load(Ordering::SeqCst);
        let mut walk = seg.walk(b"", true).unwrap();
        if behind {
            walk.read_once();
        }
        let mut n = 0;
        while walk.advance().unwrap() {
            n += 1;
        }
        assert!(n > 4_000, "{n} records");
        reads.load(Ordering::SeqCst) - before
    };
    walk_all(true);
    assert!(walk_all(true) > 0, "a compaction's walk reads the file");
    assert!(walk_all(false) > 0, "the compaction's walks kept nothing");
    assert_eq!(walk_all(false), 0, "the first walk kept every block");
    assert!(
        walk_all(true) > 0,
        "a compaction's walk reads past the cache"
    );
}
