//! tinykv's library benchmark beside redb, sled and SQLite (PRODUCT.md §5).
//!
//! `cargo run --release -- [--keys N] [--gets N] [--durable-rounds R] [OUT.json]`
//! from `benches/peers`. Every engine runs the same workloads on 16-byte keys
//! and 100-byte values, in the same temp directory (`TINYKV_BENCH_DIR`, else
//! the system temp dir), so the raw append+fsync loop measures the same disk.
//! Results are printed as a table and written as JSON (default
//! `target/peers.json`, relative to the current directory).

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const VALUE_LEN: usize = 100;
const KEY_LEN: usize = 16;

#[path = "../../common/xorshift.rs"]
mod xorshift;
use xorshift::Rng;

impl Rng {
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

type Key = [u8; KEY_LEN];
type Val = [u8; VALUE_LEN];

/// `key0000000000042`: sorted like the numbers, so that a 14-byte prefix
/// holds exactly 100 keys.
fn key(i: u64) -> Key {
    let mut k = [0u8; KEY_LEN];
    k.copy_from_slice(format!("key{i:013}").as_bytes());
    k
}

fn value(i: u64, gen_: u8) -> Val {
    let mut v = [b'a' + gen_; VALUE_LEN];
    v[..20].copy_from_slice(format!("{i:020}").as_bytes());
    v
}

/// A write of a durable batch: set (with the value) or delete.
type Op = (Key, Option<Val>);

/// One engine under test. Every write method returns only once its writes are
/// durable (fsynced), except where noted.
trait Engine: Sync {
    fn name(&self) -> &'static str;
    /// Writes every pair through the engine's fastest honest bulk path and
    /// makes it durable once at the end.
    fn bulk(&mut self, keys: &[u64], gen_: u8);
    /// Closes and reopens the database.
    fn reopen(&mut self);
    /// One write, committed and fsynced.
    fn durable_set(&self, k: &Key, v: &Val);
    /// One atomic, durable batch.
    fn durable_batch(&self, ops: &[Op]);
    /// Gets every key from one thread; returns how many were found.
    fn get_many(&self, thread: usize, keys: &[Key]) -> usize;
    /// For each 14-byte prefix, reads every pair under it; returns the pairs read.
    fn scan_many(&self, prefixes: &[[u8; 14]]) -> usize;
    /// For each start key, reads the first `len` pairs at or after it, in
    /// key order; returns the pairs read.
    fn range_many(&self, starts: &[Key], len: usize) -> usize;
    /// Reads every pair in key order; returns how many.
    fn full_scan(&self) -> usize;
    /// Makes everything durable and the files quiet (checkpoints), before sizing.
    fn settle(&mut self);
    /// Reclaims space; false when the engine has no way to.
    fn compact(&mut self) -> bool;
    fn dir(&self) -> &Path;
}

// ---------------------------------------------------------------- tinykv

struct TinyKv {
    dir: PathBuf,
    db: Option<tinykv::engine::Db>,
}

impl TinyKv {
    fn options() -> tinykv::engine::Options {
        let mut o = tinykv::engine::Options::default();
        o.sync = tinykv::engine::SyncMode::Always;
        // The size before compaction is measured: no automatic compaction
        // (redb, sled and SQLite have none either).
        o.auto_compact = false;
        o
    }

    fn new(dir: PathBuf) -> Self {
        let db = tinykv::engine::Db::open(&dir, Self::options()).expect("tinykv open");
        TinyKv { dir, db: Some(db) }
    }

    fn db(&self) -> &tinykv::engine::Db {
        self.db.as_ref().expect("open")
    }
}

impl Engine for TinyKv {
    fn name(&self) -> &'static str {
        "tinykv"
    }
    fn bulk(&mut self, keys: &[u64], gen_: u8) {
        // One streamed atomic batch, one fsync at commit.
        let mut b = self.db().batch_writer().expect("batch_writer");
        for &i in keys {
            b.set(&key(i), &value(i, gen_)).expect("set");
        }
        b.commit().expect("commit");
    }
    fn reopen(&mut self) {
        self.db.take().expect("open").close().expect("close");
        self.db = Some(tinykv::engine::Db::open(&self.dir, Self::options()).expect("reopen"));
    }
    fn durable_set(&self, k: &Key, v: &Val) {
        self.db().set(k, v).expect("set");
    }
    fn durable_batch(&self, ops: &[Op]) {
        let mut b = tinykv::engine::Batch::new();
        for (k, v) in ops {
            match v {
                Some(v) => b.set(k.to_vec(), v.to_vec()),
                None => b.delete(k.to_vec()),
            }
        }
        self.db().write_batch(b).expect("write_batch");
    }
    fn get_many(&self, _thread: usize, keys: &[Key]) -> usize {
        let db = self.db();
        keys.iter()
            .filter(|k| black_box(db.get(&k[..]).expect("get")).is_some())
            .count()
    }
    fn scan_many(&self, prefixes: &[[u8; 14]]) -> usize {
        let db = self.db();
        let mut n = 0;
        // Borrowed pairs (`next_pair`), as redb hands out guards and SQLite
        // column references: no copy of each key and value.
        for p in prefixes {
            let mut it = db.iter_prefix(p);
            while let Some(kv) = it.next_pair() {
                let (k, v) = kv.expect("iter");
                black_box((k.len(), v.len()));
                n += 1;
            }
        }
        n
    }
    fn range_many(&self, starts: &[Key], len: usize) -> usize {
        let db = self.db();
        let mut n = 0;
        for s in starts {
            let mut it = db.iter().from(s);
            for _ in 0..len {
                let Some(kv) = it.next_pair() else { break };
                let (k, v) = kv.expect("iter");
                black_box((k.len(), v.len()));
                n += 1;
            }
        }
        n
    }
    fn full_scan(&self) -> usize {
        let mut n = 0;
        let mut it = self.db().iter();
        while let Some(kv) = it.next_pair() {
            let (k, v) = kv.expect("iter");
            black_box((k.len(), v.len()));
            n += 1;
        }
        n
    }
    fn settle(&mut self) {
        self.db().flush().expect("flush");
    }
    fn compact(&mut self) -> bool {
        self.db().compact().expect("compact");
        true
    }
    fn dir(&self) -> &Path {
        &self.dir
    }
}

// ---------------------------------------------------------------- redb

const TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("kv");

struct Redb {
    dir: PathBuf,
    db: Option<redb::Database>,
}

impl Redb {
    fn new(dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).expect("mkdir");
        let db = redb::Database::create(dir.join("db.redb")).expect("redb create");
        let r = Redb { dir, db: Some(db) };
        let tx = r.db().begin_write().expect("begin_write");
        tx.open_table(TABLE).expect("open_table");
        tx.commit().expect("commit");
        r
    }
    fn db(&self) -> &redb::Database {
        self.db.as_ref().expect("open")
    }
}

impl Engine for Redb {
    fn name(&self) -> &'static str {
        "redb"
    }
    fn bulk(&mut self, keys: &[u64], gen_: u8) {
        // One write transaction, default (immediate) durability.
        let tx = self.db().begin_write().expect("begin_write");
        {
            let mut t = tx.open_table(TABLE).expect("open_table");
            for &i in keys {
                t.insert(&key(i)[..], &value(i, gen_)[..]).expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    fn reopen(&mut self) {
        drop(self.db.take());
        self.db = Some(redb::Database::create(self.dir.join("db.redb")).expect("reopen"));
    }
    fn durable_set(&self, k: &Key, v: &Val) {
        let tx = self.db().begin_write().expect("begin_write");
        tx.open_table(TABLE)
            .expect("open_table")
            .insert(&k[..], &v[..])
            .expect("insert");
        tx.commit().expect("commit");
    }
    fn durable_batch(&self, ops: &[Op]) {
        let tx = self.db().begin_write().expect("begin_write");
        {
            let mut t = tx.open_table(TABLE).expect("open_table");
            for (k, v) in ops {
                match v {
                    Some(v) => {
                        t.insert(&k[..], &v[..]).expect("insert");
                    }
                    None => {
                        t.remove(&k[..]).expect("remove");
                    }
                }
            }
        }
        tx.commit().expect("commit");
    }
    fn get_many(&self, _thread: usize, keys: &[Key]) -> usize {
        use redb::ReadableDatabase;
        // One read transaction for the whole run: redb's fastest honest path.
        let tx = self.db().begin_read().expect("begin_read");
        let t = tx.open_table(TABLE).expect("open_table");
        keys.iter()
            .filter(|k| {
                t.get(&k[..])
                    .expect("get")
                    .map(|g| black_box(g.value().len()))
                    .is_some()
            })
            .count()
    }
    fn scan_many(&self, prefixes: &[[u8; 14]]) -> usize {
        use redb::ReadableDatabase;
        let tx = self.db().begin_read().expect("begin_read");
        let t = tx.open_table(TABLE).expect("open_table");
        let mut n = 0;
        for p in prefixes {
            let end = prefix_end(p);
            for kv in t.range(&p[..]..&end[..]).expect("range") {
                let (k, v) = kv.expect("range item");
                black_box((k.value().len(), v.value().len()));
                n += 1;
            }
        }
        n
    }
    fn range_many(&self, starts: &[Key], len: usize) -> usize {
        use redb::ReadableDatabase;
        let tx = self.db().begin_read().expect("begin_read");
        let t = tx.open_table(TABLE).expect("open_table");
        let mut n = 0;
        for s in starts {
            for kv in t.range(&s[..]..).expect("range").take(len) {
                let (k, v) = kv.expect("range item");
                black_box((k.value().len(), v.value().len()));
                n += 1;
            }
        }
        n
    }
    fn full_scan(&self) -> usize {
        use redb::{ReadableDatabase, ReadableTable};
        let tx = self.db().begin_read().expect("begin_read");
        let t = tx.open_table(TABLE).expect("open_table");
        let mut n = 0;
        for kv in t.iter().expect("iter") {
            let (k, v) = kv.expect("iter item");
            black_box((k.value().len(), v.value().len()));
            n += 1;
        }
        n
    }
    fn settle(&mut self) {}
    fn compact(&mut self) -> bool {
        let db = self.db.as_mut().expect("open");
        while db.compact().expect("compact") {}
        true
    }
    fn dir(&self) -> &Path {
        &self.dir
    }
}

// ---------------------------------------------------------------- sled

struct Sled {
    dir: PathBuf,
    db: Option<sled::Db>,
}

impl Sled {
    fn new(dir: PathBuf) -> Self {
        let db = sled::open(&dir).expect("sled open");
        Sled { dir, db: Some(db) }
    }
    fn db(&self) -> &sled::Db {
        self.db.as_ref().expect("open")
    }
}

impl Engine for Sled {
    fn name(&self) -> &'static str {
        "sled"
    }
    fn bulk(&mut self, keys: &[u64], gen_: u8) {
        let db = self.db();
        for &i in keys {
            db.insert(key(i), &value(i, gen_)[..]).expect("insert");
        }
        db.flush().expect("flush");
    }
    fn reopen(&mut self) {
        self.db.take().expect("open").flush().expect("flush");
        self.db = Some(sled::open(&self.dir).expect("reopen"));
    }
    fn durable_set(&self, k: &Key, v: &Val) {
        self.db().insert(k, &v[..]).expect("insert");
        self.db().flush().expect("flush");
    }
    fn durable_batch(&self, ops: &[Op]) {
        let mut b = sled::Batch::default();
        for (k, v) in ops {
            match v {
                Some(v) => b.insert(&k[..], &v[..]),
                None => b.remove(&k[..]),
            }
        }
        self.db().apply_batch(b).expect("apply_batch");
        self.db().flush().expect("flush");
    }
    fn get_many(&self, _thread: usize, keys: &[Key]) -> usize {
        let db = self.db();
        keys.iter()
            .filter(|k| black_box(db.get(k).expect("get")).is_some())
            .count()
    }
    fn scan_many(&self, prefixes: &[[u8; 14]]) -> usize {
        let db = self.db();
        let mut n = 0;
        for p in prefixes {
            for kv in db.scan_prefix(p) {
                black_box(kv.expect("scan"));
                n += 1;
            }
        }
        n
    }
    fn range_many(&self, starts: &[Key], len: usize) -> usize {
        let db = self.db();
        let mut n = 0;
        for s in starts {
            for kv in db.range(&s[..]..).take(len) {
                black_box(kv.expect("range"));
                n += 1;
            }
        }
        n
    }
    fn full_scan(&self) -> usize {
        let mut n = 0;
        for kv in self.db().iter() {
            black_box(kv.expect("iter"));
            n += 1;
        }
        n
    }
    fn settle(&mut self) {
        self.db().flush().expect("flush");
    }
    fn compact(&mut self) -> bool {
        false
    }
    fn dir(&self) -> &Path {
        &self.dir
    }
}

// ---------------------------------------------------------------- SQLite

struct Sqlite {
    dir: PathBuf,
    write: Mutex<rusqlite::Connection>,
    /// One connection per reader thread (a connection is not `Sync`).
    readers: Vec<Mutex<rusqlite::Connection>>,
}

impl Sqlite {
    fn connect(dir: &Path) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(dir.join("db.sqlite")).expect("sqlite open");
        // WAL with synchronous=FULL: every commit is fsynced; WAL is SQLite's
        // fastest durable mode. A 256 MiB page cache and mmap of the file
        // give reads a warm cache like the others.
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
             PRAGMA cache_size=-262144; PRAGMA mmap_size=1073741824;",
        )
        .expect("pragmas");
        c
    }

    fn new(dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).expect("mkdir");
        let write = Self::connect(&dir);
        write
            .execute_batch("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;")
            .expect("create table");
        let readers = (0..2).map(|_| Mutex::new(Self::connect(&dir))).collect();
        Sqlite {
            dir,
            write: Mutex::new(write),
            readers,
        }
    }
}

const SQL_PUT: &str = "INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)";

impl Engine for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn bulk(&mut self, keys: &[u64], gen_: u8) {
        let mut c = self.write.lock().unwrap();
        let tx = c.transaction().expect("begin");
        {
            let mut st = tx.prepare_cached(SQL_PUT).expect("prepare");
            for &i in keys {
                st.execute((&key(i)[..], &value(i, gen_)[..]))
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    fn reopen(&mut self) {
        let dir = self.dir.clone();
        *self = Sqlite {
            write: Mutex::new(Self::connect(&dir)),
            readers: (0..2).map(|_| Mutex::new(Self::connect(&dir))).collect(),
            dir,
        };
    }
    fn durable_set(&self, k: &Key, v: &Val) {
        let c = self.write.lock().unwrap();
        c.prepare_cached(SQL_PUT)
            .expect("prepare")
            .execute((&k[..], &v[..]))
            .expect("insert");
    }
    fn durable_batch(&self, ops: &[Op]) {
        let mut c = self.write.lock().unwrap();
        let tx = c.transaction().expect("begin");
        {
            let mut put = tx.prepare_cached(SQL_PUT).expect("prepare");
            let mut del = tx
                .prepare_cached("DELETE FROM kv WHERE k = ?1")
                .expect("prepare");
            for (k, v) in ops {
                match v {
                    Some(v) => put.execute((&k[..], &v[..])).expect("insert"),
                    None => del.execute([&k[..]]).expect("delete"),
                };
            }
        }
        tx.commit().expect("commit");
    }
    fn get_many(&self, thread: usize, keys: &[Key]) -> usize {
        let c = self.readers[thread].lock().unwrap();
        let mut st = c
            .prepare_cached("SELECT v FROM kv WHERE k = ?1")
            .expect("prepare");
        let mut n = 0;
        for k in keys {
            let mut rows = st.query([&k[..]]).expect("query");
            if let Some(row) = rows.next().expect("row") {
                let v = row.get_ref(0).expect("v").as_blob().expect("blob");
                black_box(v.len());
                n += 1;
            }
        }
        n
    }
    fn scan_many(&self, prefixes: &[[u8; 14]]) -> usize {
        let c = self.readers[0].lock().unwrap();
        let mut st = c
            .prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 AND k < ?2 ORDER BY k")
            .expect("prepare");
        let mut n = 0;
        for p in prefixes {
            let end = prefix_end(p);
            let mut rows = st.query((&p[..], &end[..])).expect("query");
            while let Some(row) = rows.next().expect("row") {
                let k = row.get_ref(0).expect("k").as_blob().expect("blob");
                let v = row.get_ref(1).expect("v").as_blob().expect("blob");
                black_box((k.len(), v.len()));
                n += 1;
            }
        }
        n
    }
    fn range_many(&self, starts: &[Key], len: usize) -> usize {
        let c = self.readers[0].lock().unwrap();
        let mut st = c
            .prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2")
            .expect("prepare");
        let mut n = 0;
        for s in starts {
            let mut rows = st.query((&s[..], len as i64)).expect("query");
            while let Some(row) = rows.next().expect("row") {
                let k = row.get_ref(0).expect("k").as_blob().expect("blob");
                let v = row.get_ref(1).expect("v").as_blob().expect("blob");
                black_box((k.len(), v.len()));
                n += 1;
            }
        }
        n
    }
    fn full_scan(&self) -> usize {
        let c = self.readers[0].lock().unwrap();
        let mut st = c
            .prepare_cached("SELECT k, v FROM kv ORDER BY k")
            .expect("prepare");
        let mut n = 0;
        let mut rows = st.query(()).expect("query");
        while let Some(row) = rows.next().expect("row") {
            let k = row.get_ref(0).expect("k").as_blob().expect("blob");
            let v = row.get_ref(1).expect("v").as_blob().expect("blob");
            black_box((k.len(), v.len()));
            n += 1;
        }
        n
    }
    fn settle(&mut self) {
        self.write
            .lock()
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
    }
    fn compact(&mut self) -> bool {
        self.write
            .lock()
            .unwrap()
            .execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("vacuum");
        true
    }
    fn dir(&self) -> &Path {
        &self.dir
    }
}

// ---------------------------------------------------------------- helpers

/// The smallest key above every key with prefix `p` (digits only, so no carry).
fn prefix_end(p: &[u8; 14]) -> [u8; 14] {
    let mut e = *p;
    e[13] += 1;
    e
}

/// The reads in key order, the same for every engine and both rounds.
struct ScanWork {
    prefixes: Vec<[u8; 14]>,
    starts: Vec<Key>,
    full_passes: u64,
    /// Pairs every full scan must see.
    keys: u64,
}

/// Pairs per range scan.
const RANGE_LEN: usize = 1000;

impl ScanWork {
    fn new(rng: &mut Rng, n: u64, args: &Args) -> ScanWork {
        let prefixes = (0..args.scans)
            .map(|_| {
                let k = key((rng.next() % (n / 100)) * 100);
                let mut p = [0u8; 14];
                p.copy_from_slice(&k[..14]);
                p
            })
            .collect();
        // Starts far enough from the end that every range is whole.
        let room = n.saturating_sub(RANGE_LEN as u64).max(1);
        let starts = (0..args.scans / 10)
            .map(|_| key(rng.next() % room))
            .collect();
        ScanWork {
            prefixes,
            starts,
            full_passes: 3,
            keys: n,
        }
    }

    /// Runs the three workloads on every engine and adds their rows, with
    /// `id` and `what` telling the round apart.
    fn run(&self, engines: &[Box<dyn Engine>], id: &str, what: &str, rows: &mut Vec<Row>) {
        let (mut vp, mut vr, mut vf) = (Vec::new(), Vec::new(), Vec::new());
        let scans = self.prefixes.len() as u64;
        let ranges = self.starts.len() as u64;
        for e in engines {
            let (pairs, d) = timed(|| e.scan_many(&self.prefixes));
            assert_eq!(pairs as u64, scans * 100, "{} scan", e.name());
            vp.push(rate(scans, d));
            let (pairs, d) = timed(|| e.range_many(&self.starts, RANGE_LEN));
            assert_eq!(
                pairs as u64,
                ranges * RANGE_LEN as u64,
                "{} range",
                e.name()
            );
            vr.push(rate(ranges, d));
            let (pairs, d) = timed(|| (0..self.full_passes).map(|_| e.full_scan()).sum::<usize>());
            assert!(
                pairs as u64 >= self.full_passes * self.keys,
                "{} full scan",
                e.name()
            );
            vf.push(rate(pairs as u64, d));
            println!(
                "  scans ({what}) {:>8}: prefix {:>8.0}/s, range {:>8.0}/s, full {:>10.0} pairs/s",
                e.name(),
                vp.last().unwrap(),
                vr.last().unwrap(),
                vf.last().unwrap()
            );
        }
        let id = |base: &str| format!("{base}{id}");
        rows.push(Row {
            id: id("scan"),
            label: format!("prefix scans of 100 pairs, {what} ({scans})"),
            unit: "scans/s",
            values: vp,
            higher_better: true,
        });
        rows.push(Row {
            id: id("range"),
            label: format!("range scans of {RANGE_LEN} pairs, {what} ({ranges})"),
            unit: "scans/s",
            values: vr,
            higher_better: true,
        });
        rows.push(Row {
            id: id("full"),
            label: format!("full scans, {what} (pairs/s)"),
            unit: "pairs/s",
            values: vf,
            higher_better: true,
        });
    }
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let md = entry.metadata().expect("metadata");
        total += if md.is_dir() {
            dir_size(&entry.path())
        } else {
            md.len()
        };
    }
    total
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    json!({ "cpu": cpu, "cores": cores, "kernel": kernel })
}

struct Args {
    keys: u64,
    gets: u64,
    scans: u64,
    durable_rounds: u64,
    batches: u64,
    /// Engines to run, by name (all four when empty).
    only: Vec<String>,
    out: PathBuf,
}

fn parse_args() -> Args {
    let mut a = Args {
        keys: 1_000_000,
        gets: 300_000,
        scans: 10_000,
        durable_rounds: 20,
        batches: 200,
        only: Vec::new(),
        out: PathBuf::from("target/peers.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        let mut num = |name: &str| -> u64 {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{name} N"))
        };
        match s.as_str() {
            "--keys" => a.keys = num("--keys"),
            "--gets" => a.gets = num("--gets"),
            "--scans" => a.scans = num("--scans"),
            "--durable-rounds" => a.durable_rounds = num("--durable-rounds"),
            "--batches" => a.batches = num("--batches"),
            "--only" => {
                let list = it.next().expect("--only NAME[,NAME...]");
                a.only = list.split(',').map(str::to_owned).collect();
            }
            "--help" | "-h" => {
                println!(
                    "usage: peers [--keys N] [--gets N] [--scans N] [--durable-rounds R] [--batches B] [--only tinykv,redb,sled,sqlite] [OUT.json]"
                );
                std::process::exit(0);
            }
            other if !other.starts_with('-') => a.out = PathBuf::from(other),
            other => panic!("unknown option {other}"),
        }
    }
    assert!(a.keys >= 100, "--keys must be at least 100");
    a
}

/// One measured row: a workload, ops/s per engine (same order as `engines`).
struct Row {
    id: String,
    label: String,
    unit: &'static str,
    values: Vec<f64>,
    /// Whether larger is better (ops/s) or smaller (bytes).
    higher_better: bool,
}

fn main() {
    let args = parse_args();
    let n = args.keys;
    let base: PathBuf =
        std::env::var_os("TINYKV_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let root = tempfile::tempdir_in(&base).expect("temp dir");
    println!(
        "tinykv library benchmark: {n} keys of {KEY_LEN} B, values of {VALUE_LEN} B, in {}",
        root.path().display()
    );

    let make = |name: &str, dir: PathBuf| -> Box<dyn Engine> {
        match name {
            "tinykv" => Box::new(TinyKv::new(dir)),
            "redb" => Box::new(Redb::new(dir)),
            "sled" => Box::new(Sled::new(dir)),
            "sqlite" => Box::new(Sqlite::new(dir)),
            other => panic!("unknown engine {other} (tinykv, redb, sled, sqlite)"),
        }
    };
    let names: Vec<&str> = ["tinykv", "redb", "sled", "sqlite"]
        .into_iter()
        .filter(|n| args.only.is_empty() || args.only.iter().any(|o| o == n))
        .collect();
    let mut engines: Vec<Box<dyn Engine>> = names
        .iter()
        .map(|name| make(name, root.path().join(name)))
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    // Bulk load, keys in random order.
    let mut order: Vec<u64> = (0..n).collect();
    rng.shuffle(&mut order);
    let mut vals = Vec::new();
    for e in engines.iter_mut() {
        let ((), d) = timed(|| e.bulk(&order, 0));
        println!("  bulk load {:>8}: {d:>10.2?}", e.name());
        vals.push(rate(n, d));
    }
    rows.push(Row {
        id: "bulk".into(),
        label: format!("bulk load, {n} pairs, random order"),
        unit: "ops/s",
        values: vals,
        higher_better: true,
    });

    // The same in key order, into separate databases (B-trees' best case).
    let sorted: Vec<u64> = (0..n).collect();
    let mut vals = Vec::new();
    for name in &names {
        let dir = root.path().join(format!("sorted-{name}"));
        let mut e = make(name, dir.clone());
        let ((), d) = timed(|| e.bulk(&sorted, 0));
        println!("  bulk load sorted {:>8}: {d:>10.2?}", e.name());
        vals.push(rate(n, d));
        drop(e);
        std::fs::remove_dir_all(&dir).expect("rm");
    }
    rows.push(Row {
        id: "bulk_sorted".into(),
        label: format!("bulk load, {n} pairs, key order"),
        unit: "ops/s",
        values: vals,
        higher_better: true,
    });

    // Reopen, then warm every cache: one full pass over every key.
    let mut open_times = Vec::new();
    for e in engines.iter_mut() {
        let ((), d) = timed(|| e.reopen());
        open_times.push(d.as_secs_f64());
    }
    let all_keys: Vec<Key> = (0..n).map(key).collect();
    let mut warm: Vec<Key> = all_keys.clone();
    rng.shuffle(&mut warm);
    for e in &engines {
        assert_eq!(e.get_many(0, &warm), n as usize, "{} lost keys", e.name());
        assert_eq!(
            e.get_many(1, &warm[..(n as usize).min(100_000)]),
            (n as usize).min(100_000)
        );
    }

    // Random gets, warm cache, 1 and 2 threads.
    let gets: Vec<Vec<Key>> = (0..2)
        .map(|_| (0..args.gets).map(|_| key(rng.next() % n)).collect())
        .collect();
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    for e in &engines {
        let (found, d) = timed(|| e.get_many(0, &gets[0]));
        assert_eq!(found as u64, args.gets);
        v1.push(rate(args.gets, d));
        let e: &dyn Engine = e.as_ref();
        let (found, d) = timed(|| {
            std::thread::scope(|s| {
                let hs: Vec<_> = (0..2)
                    .map(|t| {
                        let ks = &gets[t];
                        s.spawn(move || e.get_many(t, ks))
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
            })
        });
        assert_eq!(found as u64, 2 * args.gets);
        v2.push(rate(2 * args.gets, d));
        println!(
            "  gets {:>8}: 1 thread {:>10.0}/s, 2 threads {:>10.0}/s",
            e.name(),
            v1.last().unwrap(),
            v2.last().unwrap()
        );
    }
    rows.push(Row {
        id: "get1".into(),
        label: "random gets, warm, 1 thread".into(),
        unit: "ops/s",
        values: v1,
        higher_better: true,
    });
    rows.push(Row {
        id: "get2".into(),
        label: "random gets, warm, 2 threads".into(),
        unit: "ops/s",
        values: v2,
        higher_better: true,
    });

    // Reads in key order on the randomly loaded data: prefix scans of 100
    // pairs, range scans of 1,000 pairs from a random start, full scans.
    let scans = ScanWork::new(&mut rng, n, &args);
    scans.run(&engines, "", "random-order load", &mut rows);

    // Individual durable writes of new keys, interleaved in rounds of 100
    // with the raw append+fsync loop, so that all see the same disk weather.
    let raw_path = root.path().join("raw.log");
    let mut raw: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&raw_path)
        .expect("raw");
    // About the size of a tinykv record of a 16-byte key and 100-byte value.
    let record = [0x5au8; 129];
    let per_round = 100u64;
    let mut times = vec![Duration::ZERO; engines.len()];
    let mut raw_time = Duration::ZERO;
    for r in 0..args.durable_rounds {
        for (e, t) in engines.iter().zip(times.iter_mut()) {
            let start = Instant::now();
            for i in 0..per_round {
                let k = n + r * per_round + i;
                e.durable_set(&key(k), &value(k, 0));
            }
            *t += start.elapsed();
        }
        let start = Instant::now();
        for _ in 0..per_round {
            raw.write_all(&record).expect("append");
            raw.sync_data().expect("fsync");
        }
        raw_time += start.elapsed();
    }
    let durable_n = args.durable_rounds * per_round;
    let raw_rate = rate(durable_n, raw_time);
    let vals: Vec<f64> = times.iter().map(|&t| rate(durable_n, t)).collect();
    println!("  durable sets: {vals:.0?}/s, raw append+fsync {raw_rate:.0}/s");
    rows.push(Row {
        id: "durable".into(),
        label: format!("durable single sets ({durable_n})"),
        unit: "ops/s",
        values: vals,
        higher_better: true,
    });

    // Durable batches of 100 new keys, then durable deletes of those keys,
    // in batches of 100.
    let batch_base = n + durable_n;
    let batch_keys: Vec<u64> = (batch_base..batch_base + args.batches * 100).collect();
    let mut vb = Vec::new();
    let mut vd = Vec::new();
    for e in &engines {
        let ((), d) = timed(|| {
            for c in batch_keys.chunks(100) {
                let ops: Vec<Op> = c.iter().map(|&i| (key(i), Some(value(i, 0)))).collect();
                e.durable_batch(&ops);
            }
        });
        vb.push(rate(batch_keys.len() as u64, d));
        let mut del = batch_keys.clone();
        rng.shuffle(&mut del);
        let ((), d) = timed(|| {
            for c in del.chunks(100) {
                let ops: Vec<Op> = c.iter().map(|&i| (key(i), None)).collect();
                e.durable_batch(&ops);
            }
        });
        vd.push(rate(batch_keys.len() as u64, d));
        println!(
            "  batches {:>8}: sets {:>10.0}/s deletes {:>10.0}/s",
            e.name(),
            vb.last().unwrap(),
            vd.last().unwrap()
        );
    }
    rows.push(Row {
        id: "batch".into(),
        label: format!("durable batch sets, 100 per batch ({})", batch_keys.len()),
        unit: "ops/s",
        values: vb,
        higher_better: true,
    });
    rows.push(Row {
        id: "delete".into(),
        label: format!("durable deletes, 100 per batch ({})", batch_keys.len()),
        unit: "ops/s",
        values: vd,
        higher_better: true,
    });

    // Overwrite every live key once (bulk path, random order), then size
    // before and after compaction.
    let live_n = n + durable_n;
    let mut live: Vec<u64> = (0..live_n).collect();
    rng.shuffle(&mut live);
    let live_bytes = live_n * (KEY_LEN + VALUE_LEN) as u64;
    let (mut vo, mut before, mut after, mut ctime) = (vec![], vec![], vec![], vec![]);
    for e in engines.iter_mut() {
        let ((), d) = timed(|| e.bulk(&live, 1));
        vo.push(rate(live_n, d));
        e.settle();
        before.push(dir_size(e.dir()) as f64);
        let (did, d) = timed(|| e.compact());
        e.settle();
        ctime.push(if did { d.as_secs_f64() } else { f64::NAN });
        after.push(dir_size(e.dir()) as f64);
        println!(
            "  overwrite {:>8}: {:>10.0}/s, size {:.1} MB -> {:.1} MB",
            e.name(),
            vo.last().unwrap(),
            before.last().unwrap() / 1e6,
            after.last().unwrap() / 1e6
        );
    }
    // The same reads on the compacted data (sled has no compaction: its
    // data is as the overwrite left it).
    for e in engines.iter_mut() {
        e.reopen();
        black_box(e.full_scan());
    }
    scans.run(&engines, "_compacted", "compacted", &mut rows);
    drop(engines);
    let tinykv_stats = {
        let db = tinykv::engine::Db::open(root.path().join("tinykv"), TinyKv::options())
            .expect("tinykv reopen for stats");
        let st = db.stats().expect("stats");
        json!({
            "keys": st.keys,
            "live_bytes": st.live_bytes,
            "total_bytes": st.total_bytes,
            "dead_bytes": st.dead_bytes,
            "overhead_bytes": st.overhead_bytes,
            "segments": st.segments,
            "files": st.files,
        })
    };
    rows.push(Row {
        id: "overwrite".into(),
        label: format!("overwrite every key, bulk path ({live_n})"),
        unit: "ops/s",
        values: vo,
        higher_better: true,
    });
    rows.push(Row {
        id: "size_before".into(),
        label: "size on disk after overwrite (MB)".into(),
        unit: "bytes",
        values: before,
        higher_better: false,
    });
    rows.push(Row {
        id: "size_after".into(),
        label: "size on disk after compaction (MB)".into(),
        unit: "bytes",
        values: after,
        higher_better: false,
    });

    report(
        &args,
        &names,
        &rows,
        raw_rate,
        live_bytes,
        &open_times,
        &ctime,
        tinykv_stats,
    );
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    names: &[&str],
    rows: &[Row],
    raw_rate: f64,
    live_bytes: u64,
    open_times: &[f64],
    compact_secs: &[f64],
    tinykv_stats: Value,
) {
    let get = |id: &str| rows.iter().find(|r| r.id == id).expect(id);
    let fmt = |r: &Row, v: f64| {
        if v.is_nan() {
            "—".to_string()
        } else if r.unit == "bytes" {
            format!("{:.1}", v / 1e6)
        } else {
            format!("{v:.0}")
        }
    };

    println!();
    print!("{:<56}", "workload");
    for n in names {
        print!("{n:>12}");
    }
    for n in &names[1..] {
        print!("{:>12}", format!("tk/{n}"));
    }
    println!();
    for r in rows {
        print!("{:<56}", r.label);
        for &v in &r.values {
            print!("{:>12}", fmt(r, v));
        }
        for &v in &r.values[1..] {
            print!("{:>12}", format!("{:.2}x", r.values[0] / v));
        }
        println!();
    }
    println!("{:<56}{raw_rate:>12.0}", "raw append+fsync (129 B records)");
    println!(
        "live data: {:.1} MB ({} keys x {} B)",
        live_bytes as f64 / 1e6,
        live_bytes / 116,
        KEY_LEN + VALUE_LEN
    );

    // §5 targets.
    // tinykv's figure over a peer's, NaN when that peer did not run (--only).
    let ratio = |id: &str, peer: &str| {
        let r = get(id);
        names
            .iter()
            .position(|n| *n == peer)
            .map_or(f64::NAN, |i| r.values[0] / r.values[i])
    };
    let targets = vec![
        ("random gets >= 1.5x redb", ratio("get1", "redb"), 1.5, true),
        (
            "prefix scans, random load >= 1.5x redb",
            ratio("scan", "redb"),
            1.5,
            true,
        ),
        (
            "range scans, random load >= 1.5x redb",
            ratio("range", "redb"),
            1.5,
            true,
        ),
        (
            "full scans, random load >= 1.5x redb",
            ratio("full", "redb"),
            1.5,
            true,
        ),
        (
            "prefix scans, compacted >= 1.5x redb",
            ratio("scan_compacted", "redb"),
            1.5,
            true,
        ),
        (
            "range scans, compacted >= 1.5x redb",
            ratio("range_compacted", "redb"),
            1.5,
            true,
        ),
        (
            "full scans, compacted >= 1.5x redb",
            ratio("full_compacted", "redb"),
            1.5,
            true,
        ),
        (
            "durable batches of 100 >= 1.0x SQLite",
            ratio("batch", "sqlite"),
            1.0,
            true,
        ),
        ("bulk sets >= 3x redb", ratio("bulk", "redb"), 3.0, true),
        ("bulk sets >= 3x sled", ratio("bulk", "sled"), 3.0, true),
        (
            "durable single-thread sets >= 0.8x raw append+fsync",
            get("durable").values[0] / raw_rate,
            0.8,
            true,
        ),
        (
            "space after compact <= 1.1x live data",
            get("size_after").values[0] / live_bytes as f64,
            1.1,
            false,
        ),
    ];
    println!("\n§5 targets:");
    let mut tj = Vec::new();
    for (name, got, want, ge) in &targets {
        if got.is_nan() {
            continue;
        }
        let met = if *ge { got >= want } else { got <= want };
        println!(
            "  {:<56} {got:>7.2}  {}",
            name,
            if met { "MET" } else { "NOT MET" }
        );
        tj.push(json!({ "target": name, "ratio": got, "threshold": want, "met": met }));
    }

    let rows_json: Vec<Value> = rows
        .iter()
        .map(|r| {
            let values: serde_json::Map<String, Value> = names
                .iter()
                .zip(&r.values)
                .map(|(n, &v)| {
                    (
                        n.to_string(),
                        if v.is_nan() { Value::Null } else { json!(v) },
                    )
                })
                .collect();
            let ratios: serde_json::Map<String, Value> = names[1..]
                .iter()
                .zip(&r.values[1..])
                .map(|(n, &v)| (n.to_string(), json!(r.values[0] / v)))
                .collect();
            json!({
                "id": r.id, "label": r.label, "unit": r.unit,
                "higher_is_better": r.higher_better,
                "values": values, "tinykv_over_peer": ratios,
            })
        })
        .collect();
    let doc = json!({
        "machine": machine(),
        "keys": args.keys,
        "key_len": KEY_LEN,
        "value_len": VALUE_LEN,
        "gets_per_thread": args.gets,
        "scans": args.scans,
        "engines": names,
        "rows": rows_json,
        "raw_append_fsync_ops_per_sec": raw_rate,
        "live_bytes": live_bytes,
        "reopen_seconds": names.iter().zip(open_times).map(|(n, t)| (n.to_string(), json!(t))).collect::<serde_json::Map<_, _>>(),
        "compact_seconds": names.iter().zip(compact_secs).map(|(n, &t)| (n.to_string(), if t.is_nan() { Value::Null } else { json!(t) })).collect::<serde_json::Map<_, _>>(),
        "tinykv_stats_after_compact": tinykv_stats,
        "targets": tj,
    });
    if let Some(dir) = args.out.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).expect("out dir");
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&doc).unwrap()).expect("write json");
    println!("\nwrote {}", args.out.display());
}
