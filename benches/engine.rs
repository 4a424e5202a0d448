//! Engine benchmark: open time at 1k vs 1M keys, random gets, durable sets
//! beside a raw append+fsync loop on the same disk, and bulk sets.
//!
//! Run with `cargo bench --bench engine` (or `-- --keys 100000` for a
//! quicker run). Figures are printed as a table; the ratios are what the
//! product's targets are stated in, since absolute numbers depend on the
//! machine. Set `TINYKV_BENCH_DIR` to put the databases on a given disk
//! (default: the system temp directory).

use std::fs::OpenOptions;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tinykv::engine::{Batch, Db, Options, SyncMode};

#[path = "common/xorshift.rs"]
mod xorshift;
use xorshift::Rng;

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(format!("key{i:013}").as_bytes());
    k
}

fn value(i: u64) -> [u8; 100] {
    let mut v = [b'v'; 100];
    v[..20].copy_from_slice(format!("{i:020}").as_bytes());
    v
}

fn fill(dir: &Path, n: u64) {
    let mut opts = Options::default();
    opts.sync = SyncMode::Never;
    let db = Db::open(dir, opts).expect("open");
    let mut i = 0;
    while i < n {
        let mut batch = Batch::new();
        for j in i..(i + 10_000).min(n) {
            batch.set(key(j).to_vec(), value(j).to_vec());
        }
        db.write_batch(batch).expect("batch");
        i += 10_000;
    }
    db.close().expect("close");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median time of open + one get + close.
fn open_time(dir: &Path, n: u64, rounds: usize) -> Duration {
    let mut times = Vec::with_capacity(rounds);
    let mut rng = Rng(7);
    for _ in 0..rounds {
        let k = key(rng.next() % n);
        let t = Instant::now();
        let db = Db::open(dir, Options::default()).expect("open");
        black_box(db.get(&k).expect("get"));
        drop(db);
        times.push(t.elapsed());
    }
    median(times)
}

fn ops_per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let mut keys: u64 = 1_000_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--keys" {
            keys = args.next().and_then(|s| s.parse().ok()).expect("--keys N");
        }
    }
    let base: PathBuf =
        std::env::var_os("TINYKV_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let root = tempfile::tempdir_in(&base).expect("temp dir");
    let small = root.path().join("small");
    let large = root.path().join("large");

    let t = Instant::now();
    fill(&small, 1_000);
    fill(&large, keys);
    let fill_time = t.elapsed();
    println!("setup: filled 1,000 and {keys} keys in {fill_time:.2?}");

    let open_small = open_time(&small, 1_000, 200);
    let open_large = open_time(&large, keys, 200);
    println!(
        "open+get+close   1k keys: {open_small:>10.2?}   {keys} keys: {open_large:>10.2?}   ratio {:.2} (target <= 1.5)",
        open_large.as_secs_f64() / open_small.as_secs_f64()
    );

    // Random gets on the large database, warm cache.
    let db = Db::open(&large, Options::default()).expect("open");
    let mut rng = Rng(42);
    for _ in 0..50_000 {
        black_box(db.get(&key(rng.next() % keys)).expect("get"));
    }
    let gets = 200_000;
    let t = Instant::now();
    for _ in 0..gets {
        black_box(db.get(&key(rng.next() % keys)).expect("get"));
    }
    let get_rate = ops_per_sec(gets, t.elapsed());
    println!("random gets ({keys} keys, 1 thread): {get_rate:>12.0} ops/s");
    drop(db);

    // Durable single-thread sets beside the disk's raw append+fsync loop,
    // interleaved in rounds so that both see the same disk weather.
    let durable_dir = root.path().join("durable");
    let db = Db::open(&durable_dir, Options::default()).expect("open");
    let raw_path = root.path().join("raw.log");
    let mut raw = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&raw_path)
        .expect("raw");
    let record = [0x5au8; 129];
    let (rounds, per_round) = (20u64, 100u64);
    let (mut db_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
    for r in 0..rounds {
        let t = Instant::now();
        for i in 0..per_round {
            let k = r * per_round + i;
            db.set(&key(k), &value(k)).expect("set");
        }
        db_time += t.elapsed();
        let t = Instant::now();
        for _ in 0..per_round {
            raw.write_all(&record).expect("append");
            raw.sync_data().expect("fsync");
        }
        raw_time += t.elapsed();
    }
    drop(db);
    let n = rounds * per_round;
    let (db_rate, raw_rate) = (ops_per_sec(n, db_time), ops_per_sec(n, raw_time));
    println!(
        "durable sets: {db_rate:>10.0} ops/s   raw append+fsync: {raw_rate:>10.0} ops/s   ratio {:.2} (target >= 0.8)",
        db_rate / raw_rate
    );

    // Group commit: eight threads writing durably share fsyncs.
    let group_dir = root.path().join("group");
    let db = std::sync::Arc::new(Db::open(&group_dir, Options::default()).expect("open"));
    let (threads, each) = (8u64, 250u64);
    let t = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|th| {
            let db = std::sync::Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..each {
                    let k = th * each + i;
                    db.set(&key(k), &value(k)).expect("set");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer thread");
    }
    let group_rate = ops_per_sec(threads * each, t.elapsed());
    drop(db);
    println!(
        "durable sets, {threads} threads: {group_rate:>10.0} ops/s   = {:.1}x one thread (group commit)",
        group_rate / db_rate
    );

    // Bulk sets without a sync per operation: one at a time, and in batches.
    let bulk_n = keys.min(1_000_000);
    let bulk_dir = root.path().join("bulk");
    let mut opts = Options::default();
    opts.sync = SyncMode::Never;
    let db = Db::open(&bulk_dir, opts.clone()).expect("open");
    let t = Instant::now();
    for i in 0..bulk_n {
        db.set(&key(i), &value(i)).expect("set");
    }
    db.flush().expect("flush");
    let single_rate = ops_per_sec(bulk_n, t.elapsed());
    drop(db);
    let batch_dir = root.path().join("bulk-batch");
    let t = Instant::now();
    fill(&batch_dir, bulk_n);
    let batch_rate = ops_per_sec(bulk_n, t.elapsed());
    println!(
        "bulk sets (sync never): one at a time {single_rate:>10.0} ops/s   batches of 10k {batch_rate:>10.0} ops/s"
    );
}
