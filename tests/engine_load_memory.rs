//! A load (one atomic batch) costs memory bounded whatever its size and
//! key order: measured by a counting allocator around the batch (the peak
//! of bytes allocated at once, beyond what was allocated before). The
//! batch spills out of the active log into sorted runs on disk and is
//! merged from there (see src/engine/bulk.rs); before, memory held every
//! key of the batch.

mod peak_alloc;

use tinykv::{Db, Options};

use peak_alloc::{MIB, peak_of, serial};

#[global_allocator]
static ALLOC: peak_alloc::Peak = peak_alloc::Peak;

/// The `n`th of `count` keys in a scattered order (a permutation: 7919 is
/// prime and does not divide `count`), 16 bytes like the benchmarks'.
fn scattered(n: u64, count: u64) -> [u8; 16] {
    let i = (n * 7919) % count;
    let mut k = *b"key:000000000000";
    k[4..].copy_from_slice(format!("{i:012}").as_bytes());
    k
}

/// Loads `count` pairs of 16-byte keys and 100-byte values in scattered
/// order into a fresh database; returns the peak memory of the batch.
fn load(count: u64) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::default();
    // A small segment: the batch is hundreds of segments, runs and merges
    // long without taking long in a test.
    opts.segment_size = 64 * 1024;
    opts.auto_compact = false;
    // A small block cache, as a load through a session or a server has: it
    // holds at most 1 MiB of blocks, and each file handle's table only once
    // a block of it is kept (the merge opens hundreds of runs, read past
    // the cache: 12 KiB a handle took the peak from 3.6 to 8.3 MB).
    opts.cache_bytes = 1024 * 1024;
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let value = [b'v'; 100];
    let ((), peak) = peak_of(|| {
        let mut batch = db.batch_writer().unwrap();
        for n in 0..count {
            batch.set(&scattered(n, count), &value).unwrap();
        }
        batch.commit().unwrap();
    });
    assert_eq!(db.len().unwrap(), count);
    for n in [0, count / 3, count - 1] {
        let k = scattered(n, count);
        assert_eq!(db.get(&k).unwrap().as_deref(), Some(&value[..]));
    }
    drop(db);
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(db.len().unwrap(), count);
    peak
}

#[test]
fn a_load_in_any_order_takes_memory_bounded_whatever_its_size() {
    let _one_at_a_time = serial();
    // 2.4 MB and 24 MB of records, keys alone 0.8 MB and 3.2 MB. The
    // larger is 370 runs, merged in one pass: its peak is the 370
    // readers' windows (4 KiB each, the least they have), bounded.
    let small = load(20_000);
    let large = load(200_000);
    eprintln!("peak of a load: 20,000 pairs {small} bytes, 200,000 pairs {large} bytes");
    assert!(
        large < 6 * MIB,
        "a load of 200,000 pairs peaked at {large} bytes"
    );
    assert!(
        large < small * 2 + 2 * MIB,
        "ten times the pairs took {large} bytes against {small}"
    );
}

/// `recover` and `check` of a database whose one segment is many times a
/// small memory budget read it through a window: a whole log is kept as
/// it is, never read into memory whole (only a damaged one is, to be
/// salvaged), and its index is rebuilt or compared as the log streams by.
#[test]
fn recover_and_check_of_a_large_segment_take_bounded_memory() {
    let _one_at_a_time = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::default();
    // Outputs of up to 64 MiB: the load below is one segment of 24 MB.
    opts.segment_size = 1024 * 1024;
    opts.auto_compact = false;
    opts.cache_bytes = 0;
    let count = 200_000;
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let mut batch = db.batch_writer().unwrap();
    for n in 0..count {
        batch.set(&scattered(n, count), &[b'v'; 100]).unwrap();
    }
    batch.commit().unwrap();
    assert_eq!(db.len().unwrap(), count);
    drop(db);
    let segments = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count();
    assert_eq!(segments, 2, "one segment and the active log");

    let (report, check) = peak_of(|| Db::check_dir(dir.path(), &opts).unwrap());
    assert!(report.is_clean(), "{:?}", report.problems);
    let (report, recover) = peak_of(|| Db::recover_dir(dir.path(), &opts).unwrap());
    assert_eq!(report.records_kept, count);
    assert!(report.rewritten.is_empty());
    eprintln!("peak of check {check} bytes, of recover {recover} bytes (24 MB of records)");
    assert!(check < 8 * MIB, "check peaked at {check} bytes");
    assert!(recover < 8 * MIB, "recover peaked at {recover} bytes");
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(db.len().unwrap(), count);
}
