//! A walk with values over many hashed segments (sealed logs: records in
//! write order, keys scattered) reads each segment a batch at a time, and
//! the batches of all the segments it merges share one bound
//! (src/engine/segment/hashed_walk.rs): a full walk over fourteen of them
//! takes 14 MB, not twice that. Measured by a counting allocator.

mod common_engine;
mod peak_alloc;

use tinykv::{Batch, Db, Options};

use common_engine::seg_files;
use peak_alloc::{MIB, peak_of, serial};

#[global_allocator]
static ALLOC: peak_alloc::Peak = peak_alloc::Peak;

#[test]
fn a_walk_over_many_hashed_segments_shares_one_bound_on_its_batches() {
    let _one_at_a_time = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::default();
    // Segments of 2 MiB: a batch of its own could grow to half of one.
    opts.segment_size = 2 * 1024 * 1024;
    opts.auto_compact = false;
    opts.cache_bytes = 0;
    let db = Db::open(dir.path(), opts).unwrap();
    let count = 260_000u64;
    let key = |i: u64| format!("key:{i:012}").into_bytes();
    let value = |i: u64| format!("{i:0100}").into_bytes();
    // Scattered: every segment holds keys from the whole range.
    for first in (0..count).step_by(1000) {
        let mut b = Batch::new();
        for n in first..(first + 1000).min(count) {
            let i = n * 7919 % count;
            b.set(key(i), value(i));
        }
        db.write_batch(b).unwrap();
    }
    let logs = seg_files(dir.path(), ".log").len();
    assert!(logs >= 14, "{logs} sealed segments");
    // The segments keep the index frames a walk reads (about each index's
    // size, for the lookups after it): a first walk reads them all.
    assert_eq!(db.keys(b"").count() as u64, count);
    let (walked, peak) = peak_of(|| {
        let mut it = db.iter();
        let mut n = 0u64;
        while let Some(pair) = it.next_pair() {
            let (k, v) = pair.unwrap();
            assert_eq!((k, v), (&key(n)[..], &value(n)[..]));
            n += 1;
        }
        n
    });
    assert_eq!(walked, count);
    eprintln!("a walk over {logs} hashed segments of 2 MiB peaked at {peak} bytes");
    // Shared, the batches hold 4 MiB of records in all (14.2 MB with their
    // entries, keys, the arenas' room and a read window a segment). Were
    // each segment's batch to grow to a MiB of records on its own, the
    // walk would peak at 25.7 MB (measured so).
    assert!(peak < 20 * MIB, "the walk peaked at {peak} bytes");
}
