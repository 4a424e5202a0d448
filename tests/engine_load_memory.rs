//! A load (one atomic batch) costs memory bounded whatever its size and
//! key order: measured by a counting allocator around the batch (the peak
//! of bytes allocated at once, beyond what was allocated before). The
//! batch spills out of the active log into sorted runs on disk and is
//! merged from there (see src/engine/bulk.rs); before, memory held every
//! key of the batch.

mod peak_alloc;

use tinykv::{Db, Options};

use peak_alloc::{MIB, peak_of};

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
    // No block cache: it holds what reads bring in up to its own budget,
    // and a table for each file read through it (the new segments' indexes
    // are opened, one per 64 KiB here: a few KiB each, as at any open), which
    // would hide what the load itself takes.
    opts.cache_bytes = 0;
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
    // 2.4 MB and 24 MB of records, keys alone 0.8 MB and 3.2 MB. The
    // larger is 370 runs, merged 64 at a time, then once more: its peak
    // is the 64 readers' windows (each at most a run here), bounded.
    let small = load(20_000);
    let large = load(200_000);
    eprintln!("peak of a load: 20,000 pairs {small} bytes, 200,000 pairs {large} bytes");
    assert!(
        large < 8 * MIB,
        "a load of 200,000 pairs peaked at {large} bytes"
    );
    assert!(
        large < small * 2 + 2 * MIB,
        "ten times the pairs took {large} bytes against {small}"
    );
}
