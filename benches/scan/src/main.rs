//! Times one kind of scan over an existing database, with the calls
//! `benches/peers` makes, and prints ns a pair: what the A/B figures of
//! docs/benchmarks-library.md (run 9) come from. Build it once per build
//! of tinykv to compare (a worktree each, `cargo build --release` here),
//! and alternate the two binaries on the same database (a copy per
//! format when the format changed).
//!
//! ```text
//! tinykv-scan-bench DIR full N      N full scans
//! tinykv-scan-bench DIR prefix N    N prefix scans of the 14-byte prefixes
//!                                   of random keys key0000000000000..
//! tinykv-scan-bench DIR range N     N scans of up to 1,000 pairs from a
//!                                   random key
//! tinykv-scan-bench DIR get N       N gets of random keys (the same keys
//!                                   again when timed: warm, as the
//!                                   peers benchmark's gets)
//! ```
//!
//! Keys are expected as `benches/peers` and `/tmp`-style loads write them:
//! `key` and 13 digits, 1,000,000 of them. Knobs (environment):
//! `WARM=1` first looks every key up in random order (the block cache then
//! holds the blocks, as in the peers benchmark's first scans); `NOPRE=1`
//! skips the untimed pass over the same scans (so each scan is timed on
//! its first run: what the compacted rows of the peers benchmark see);
//! `FULLFIRST=1` walks the whole database once first (as the peers
//! benchmark does after a compaction).

use std::hint::black_box;
use std::time::Instant;

use tinykv::engine::{Db, Options};

const KEYS: u64 = 1_000_000;

#[path = "../../common/xorshift.rs"]
mod xorshift;
use xorshift::Rng;

fn key(i: u64) -> String {
    format!("key{i:013}")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, mode, n] = &args[..] else {
        eprintln!("usage: tinykv-scan-bench DIR full|prefix|range|get N");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N: a number");
    let mut opts = Options::default();
    opts.auto_compact = false;
    let db = Db::open(std::path::Path::new(dir), opts).expect("open");
    let mut rng = Rng(4242);
    let starts: Vec<Vec<u8>> = (0..n)
        .map(|_| key(rng.next() % KEYS).into_bytes())
        .collect();
    if std::env::var_os("WARM").is_some() {
        let mut ids: Vec<u64> = (0..KEYS).collect();
        let mut r = Rng(99);
        for i in (1..ids.len()).rev() {
            ids.swap(i, (r.next() % (i as u64 + 1)) as usize);
        }
        for i in ids {
            black_box(db.get(key(i).as_bytes()).expect("get"));
        }
    }
    if std::env::var_os("FULLFIRST").is_some() {
        black_box(run(&db, "full", &starts[..1]));
    }
    if std::env::var_os("NOPRE").is_none() {
        black_box(run(&db, mode, &starts));
    }
    let t = Instant::now();
    let pairs = run(&db, mode, &starts);
    let d = t.elapsed();
    println!(
        "{mode}: {n} scans, {pairs} pairs, {:.0} ns a pair, {:.0} scans/s",
        d.as_nanos() as f64 / pairs.max(1) as f64,
        n as f64 / d.as_secs_f64()
    );
}

/// Runs the scans; the pairs seen.
#[inline(never)]
fn run(db: &Db, mode: &str, starts: &[Vec<u8>]) -> usize {
    let mut pairs = 0;
    if mode == "get" {
        for s in starts {
            let value = db.get(s).expect("get");
            pairs += usize::from(black_box(value).is_some());
        }
        return pairs;
    }
    for s in starts {
        let (mut it, limit) = match mode {
            "prefix" => (db.iter_prefix(&s[..14]), usize::MAX),
            "range" => (db.iter().from(s), 1000),
            _ => (db.iter(), usize::MAX),
        };
        for _ in 0..limit {
            let Some(pair) = it.next_pair() else { break };
            black_box(pair.expect("scan"));
            pairs += 1;
        }
    }
    pairs
}
