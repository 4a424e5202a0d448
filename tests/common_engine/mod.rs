//! Helpers shared by the engine's integration tests: a seeded RNG, small
//! options that make sealing and compaction happen often, values that name
//! their key, and a dump of a database's state for failure messages.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tinykv::engine::storage::{Fault, FaultKind, FaultOp};
use tinykv::engine::{SimStorage, Storage};
use tinykv::{Db, Options};

/// splitmix64: deterministic, seedable, no dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

/// Options with tiny thresholds: seals every few KiB, seals on close above
/// 512 bytes, compacts automatically from 8 KiB on.
pub fn small_options(storage: Arc<dyn Storage>) -> Options {
    let mut o = Options::default();
    o.segment_size = 4096;
    o.seal_on_close = 512;
    o.compact_min_bytes = 8 * 1024;
    o.compact_ratio = 1.5;
    o.storage = storage;
    o
}

pub fn sim_options(sim: &SimStorage) -> Options {
    small_options(Arc::new(sim.clone()))
}

/// A value for `key` that names the key and a sequence number, padded to
/// `len` bytes (at least the name's length), so that a reader can tell which
/// key and which write it came from.
pub fn value_for(key: &[u8], seq: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(key.len() + 24));
    v.extend_from_slice(key);
    v.extend_from_slice(format!("={seq}:").as_bytes());
    let mut x = seq.wrapping_mul(0x9E37_79B9) as u8;
    while v.len() < len {
        v.push(b'a' + x % 26);
        x = x.wrapping_add(7);
    }
    v
}

/// Whether `value` was made by [`value_for`] for `key`.
pub fn value_names_key(key: &[u8], value: &[u8]) -> bool {
    value.len() > key.len() && value.starts_with(key) && value[key.len()] == b'='
}

/// Every live pair, through `iter`, failing on any error.
pub fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.iter().map(|r| r.expect("iteration failed")).collect()
}

/// Names and sizes of the files in a simulated directory, for messages.
pub fn sim_listing(sim: &SimStorage) -> String {
    sim.files()
        .iter()
        .map(|p| {
            let len = sim.read_file(p).map_or(0, |b| b.len());
            format!("{} ({len})", p.display())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names and sizes of the files in a real directory, for messages.
pub fn dir_listing(dir: &Path) -> String {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let len = e.metadata().map_or(0, |m| m.len());
                out.push(format!(
                    "{} ({len})",
                    p.strip_prefix(dir).unwrap_or(&p).display()
                ));
            }
        }
    }
    out.sort();
    out.join(", ")
}

/// Power loss: every handle dies; the old `Db` is then dropped while every
/// operation fails, so that it cannot touch the rebooted file system.
pub fn power_loss(sim: &SimStorage, db: Db) {
    sim.crash();
    sim.inject(Fault {
        op: FaultOp::Any,
        nth: 1,
        kind: FaultKind::Eio,
        persistent: true,
    });
    drop(db);
    sim.clear_faults();
}

/// Whether the soak mode (many more cases) is on.
pub fn soak() -> bool {
    std::env::var_os("TINYKV_SOAK").is_some_and(|v| v != "0")
}

/// Options for a real directory with the small thresholds, no automatic
/// compaction (tests that want it turn it on).
pub fn real_options() -> Options {
    let mut o = small_options(Arc::new(tinykv::engine::RealStorage));
    o.auto_compact = false;
    o
}

/// `n` keys `key000..`, each set to `value_for(key, seq, len)`.
pub fn fill(db: &Db, n: u64, seq: u64, len: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut model = BTreeMap::new();
    for i in 0..n {
        let k = format!("key{i:03}").into_bytes();
        let v = value_for(&k, seq, len);
        db.set(&k, &v).expect("set");
        model.insert(k, v);
    }
    model
}

/// The `seg-N.idx` / `seg-N.log` files of a real database directory, sorted.
pub fn seg_files(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("seg-") && name.ends_with(ext)
        })
        .collect();
    v.sort();
    v
}

/// Asserts that every key of `model` reads back exactly (and nothing else is there).
pub fn assert_contents(db: &Db, model: &BTreeMap<Vec<u8>, Vec<u8>>, what: &str) {
    for (k, v) in model {
        let got = db
            .get(k)
            .unwrap_or_else(|e| panic!("{what}: get {k:?}: {e}"));
        assert_eq!(
            got.as_ref(),
            Some(v),
            "{what}: key {}",
            String::from_utf8_lossy(k)
        );
    }
    assert_eq!(&contents(db), model, "{what}: iteration");
}

/// Whether `value` is exactly a [`value_for`] of `key` (any sequence number):
/// names the key and is not torn or mixed with another value.
pub fn value_is_intact(key: &[u8], value: &[u8]) -> bool {
    if !value_names_key(key, value) {
        return false;
    }
    let rest = &value[key.len() + 1..];
    let Some(colon) = rest.iter().position(|&b| b == b':') else {
        return false;
    };
    let Some(seq) = std::str::from_utf8(&rest[..colon])
        .ok()
        .and_then(|s| s.parse().ok())
    else {
        return false;
    };
    value_for(key, seq, value.len()) == value
}
