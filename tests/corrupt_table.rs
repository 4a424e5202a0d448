//! The corruption table: every kind of database file × every kind of damage,
//! through the `tinykv` binary. For each case of [`TABLE`]:
//!
//! (a) `check` finds the damage (exit 1, a line naming the file and offset)
//!     and changes no byte, unless the row says why it cannot or need not;
//! (b) a normal open never answers wrong: each `get` and the `dump` give the
//!     written value or exit 2 with one line naming the damaged file. A key
//!     may be missing only where the row says the damage looks exactly like
//!     a crash (a torn tail of the active log), and then the first open warns;
//! (c) `recover` keeps every record outside the damage, moves exactly the
//!     dropped bytes to `lost+found/`, and leaves a database that `check`
//!     calls ok and that opens with every other key intact.
//!
//! One database with every kind of file (sealed segments from a compaction
//! and from a later seal, their indexes, a non-empty `wal.log` holding puts,
//! tombstones and a batch, and `LOCK`) is built once and copied per case.

mod layout;
mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use util::{Outcome, TestDb};

const OPTS: &str = "TINYKV_TEST_OPTIONS";
/// Small segments, sealed at every close.
const SEALING: &str = "segment_size=8192,seal_on_close=0";
/// Small segments, but a small active log stays `wal.log` at close.
const KEEP_WAL: &str = "segment_size=8192";

/// Which file of the database is damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Wal,
    /// The first segment written by `compact` (a compaction group member).
    SegCompacted,
    /// The newest sealed segment (sealed after the compaction).
    SegNewest,
    /// The index of the compaction's first segment.
    IdxCompacted,
    /// The index of the newest segment.
    IdxNewest,
    Lock,
}

/// What is done to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Damage {
    /// One random bit of the 16-byte file header (for LOCK: of its first 16 bytes).
    FlipHeader,
    /// One random bit in the middle record (non-logs: the middle of the file).
    FlipMiddle,
    /// One random bit in the last record (idx: in the footer; LOCK: last byte).
    FlipLast,
    /// Cut in the middle of the middle record (non-logs: mid-file).
    CutMidRecord,
    /// Cut to the 16-byte header.
    CutToHeader,
    /// Cut to 0 bytes.
    CutToZero,
    /// Zero a range spanning several records.
    ZeroRange,
    /// Append 37 bytes of random junk.
    AppendJunk,
    /// Replace with a new, empty file.
    Empty,
}

/// What `check` must say.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// Exit 1, a line `PATH: offset N: …` for the damaged file.
    Finds,
    /// Exit 0 `ok`, for the reason given.
    Misses(&'static str),
}

/// What reads after a normal open may do.
#[derive(Clone, Copy, Debug)]
enum Reads {
    /// Every key right, every command exits 0 (the damage is healed or harmless).
    Exact,
    /// Every key right, or exit 2 with one line naming the damaged file.
    RightOrError,
    /// A torn tail of the active log: open cuts it and warns once; keys
    /// written in the cut part may be missing or older, all others are right.
    CutWithWarning,
    /// Keys written in the damaged part may be missing or older, silently,
    /// for the reason given; all others are right.
    Undetectable(&'static str),
}

use Check::*;
use Damage::*;
use Kind::*;
use Reads::*;

const LOCK_ADVICE: &str = "LOCK holds the holder's pid as advice; the lock is the OS lock";
const SHORT_WAL: &str = "a wal.log cut at a record boundary or shorter than its header is what \
                         a crash before the first fsync leaves: a valid, shorter log";
const TORN: Reads = CutWithWarning;

/// The table: file × damage → what check finds and what reads may do.
/// Rows marked "regression" failed before the fix named in their comment.
const TABLE: &[(Kind, Damage, Check, Reads)] = &[
    (Wal, FlipHeader, Finds, RightOrError),
    // Regression: open cut everything after a damaged record in the middle
    // of wal.log, intact acknowledged records included.
    (Wal, FlipMiddle, Finds, RightOrError),
    (Wal, FlipLast, Finds, TORN),
    (Wal, CutMidRecord, Finds, TORN),
    (Wal, CutToHeader, Misses(SHORT_WAL), Undetectable(SHORT_WAL)),
    // Regression (#19): check said a bare ok for a 0-byte wal.log, which
    // every open then had to replace (so needed free space); it now says
    // what the file means, and open reads it as empty.
    (Wal, CutToZero, Finds, Undetectable(SHORT_WAL)),
    // Regression: as FlipMiddle.
    (Wal, ZeroRange, Finds, RightOrError),
    (Wal, AppendJunk, Finds, Exact),
    // Regression (#19): as CutToZero.
    (Wal, Empty, Finds, Undetectable(SHORT_WAL)),
    (SegCompacted, FlipHeader, Finds, RightOrError),
    (SegCompacted, FlipMiddle, Finds, RightOrError),
    (SegCompacted, FlipLast, Finds, RightOrError),
    (SegCompacted, CutMidRecord, Finds, RightOrError),
    // Regression: a sealed segment cut at a record boundary lost its keys
    // silently (open rebuilt the index from what was left).
    (SegCompacted, CutToHeader, Finds, RightOrError),
    (SegCompacted, CutToZero, Finds, RightOrError),
    (SegCompacted, ZeroRange, Finds, RightOrError),
    (SegCompacted, AppendJunk, Finds, RightOrError),
    (SegCompacted, Empty, Finds, RightOrError),
    (SegNewest, FlipHeader, Finds, RightOrError),
    (SegNewest, FlipMiddle, Finds, RightOrError),
    (SegNewest, FlipLast, Finds, RightOrError),
    (SegNewest, CutMidRecord, Finds, RightOrError),
    // Regression: as SegCompacted.
    (SegNewest, CutToHeader, Finds, RightOrError),
    (SegNewest, CutToZero, Finds, RightOrError),
    (SegNewest, ZeroRange, Finds, RightOrError),
    (SegNewest, AppendJunk, Finds, RightOrError),
    (SegNewest, Empty, Finds, RightOrError),
    // An index is derived data: check reports it, open rebuilds it.
    (IdxCompacted, FlipHeader, Finds, Exact),
    (IdxCompacted, FlipMiddle, Finds, Exact),
    (IdxCompacted, FlipLast, Finds, Exact),
    (IdxCompacted, CutMidRecord, Finds, Exact),
    (IdxCompacted, CutToHeader, Finds, Exact),
    (IdxCompacted, CutToZero, Finds, Exact),
    (IdxCompacted, ZeroRange, Finds, Exact),
    (IdxCompacted, AppendJunk, Finds, Exact),
    (IdxCompacted, Empty, Finds, Exact),
    (IdxNewest, FlipHeader, Finds, Exact),
    (IdxNewest, FlipMiddle, Finds, Exact),
    (IdxNewest, FlipLast, Finds, Exact),
    (IdxNewest, CutMidRecord, Finds, Exact),
    (IdxNewest, CutToHeader, Finds, Exact),
    (IdxNewest, CutToZero, Finds, Exact),
    (IdxNewest, ZeroRange, Finds, Exact),
    (IdxNewest, AppendJunk, Finds, Exact),
    (IdxNewest, Empty, Finds, Exact),
    (Lock, FlipHeader, Misses(LOCK_ADVICE), Exact),
    (Lock, FlipMiddle, Misses(LOCK_ADVICE), Exact),
    (Lock, FlipLast, Misses(LOCK_ADVICE), Exact),
    (Lock, CutMidRecord, Misses(LOCK_ADVICE), Exact),
    (Lock, CutToHeader, Misses(LOCK_ADVICE), Exact),
    (Lock, CutToZero, Misses(LOCK_ADVICE), Exact),
    (Lock, ZeroRange, Misses(LOCK_ADVICE), Exact),
    (Lock, AppendJunk, Misses(LOCK_ADVICE), Exact),
    (Lock, Empty, Misses(LOCK_ADVICE), Exact),
];

// ---------------------------------------------------------------------------
// The database every case starts from.

struct Fixture {
    db: TestDb,
    /// Key → its value now (absent: never set or deleted).
    model: BTreeMap<String, String>,
    /// Key → every value it ever had (a key deleted or never set may also be absent).
    history: BTreeMap<String, BTreeSet<String>>,
    files: BTreeMap<&'static str, String>,
}

fn value(key: &str, generation: u32) -> String {
    let mut v = format!("{key}={generation}:");
    while v.len() < 60 {
        v.push((b'a' + (v.len() * 7 + generation as usize) as u8 % 26) as char);
    }
    v
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build)
}

fn build() -> Fixture {
    let db = TestDb::new();
    let mut model = BTreeMap::new();
    let mut history: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut set = |m: &mut BTreeMap<String, String>, k: String, g| {
        let v = value(&k, g);
        history.entry(k.clone()).or_default().insert(v.clone());
        m.insert(k, v);
    };
    let run = |opts: &str, args: &[&str], stdin: &str| {
        db.cmd(args).env(OPTS, opts).stdin(stdin).run().code(0);
    };

    // Sealed segments: a bulk load, then overwrites and deletes.
    let mut dump = String::new();
    for i in 0..120 {
        let k = format!("k{i:03}");
        dump += &format!("{k}\t{}\n", value(&k, 0));
        set(&mut model, k, 0);
    }
    run(SEALING, &["load"], &dump);
    let mut script = String::new();
    for i in 0..40 {
        let k = format!("k{i:03}");
        script += &format!("set {k} {}\n", value(&k, 1));
        set(&mut model, k, 1);
    }
    for i in 100..110 {
        script += &format!("del k{i:03}\n");
        model.remove(&format!("k{i:03}"));
    }
    run(SEALING, &[], &script);
    // A compaction group, then a segment sealed after it.
    run(SEALING, &["compact"], "");
    let mut script = String::new();
    for i in (120..160).chain(40..50) {
        let k = format!("k{i:03}");
        script += &format!("set {k} {}\n", value(&k, 2));
        set(&mut model, k, 2);
    }
    run(SEALING, &[], &script);
    // The active log: puts, tombstones, a batch, and a put last.
    let mut script = String::new();
    for i in 50..60 {
        let k = format!("k{i:03}");
        script += &format!("set {k} {}\n", value(&k, 3));
        set(&mut model, k, 3);
    }
    script += "del k110\ndel k111\n";
    model.remove("k110");
    model.remove("k111");
    run(KEEP_WAL, &[], &script);
    let mut dump = String::new();
    for i in 60..65 {
        let k = format!("k{i:03}");
        dump += &format!("{k}\t{}\n", value(&k, 3));
        set(&mut model, k, 3);
    }
    run(KEEP_WAL, &["load"], &dump);
    let k = "k065".to_owned();
    run(KEEP_WAL, &["set", &k, &value(&k, 3)], "");
    set(&mut model, k, 3);

    let out = db.cmd(["dump"]).run().code(0);
    assert_eq!(parse_dump(out.stdout()), model, "the fixture's model");
    db.cmd(["check"]).run().code(0).stdout_is("ok\n");

    // Name the files each kind refers to.
    let mut segs: Vec<String> = fs::read_dir(&db.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("seg-") && n.ends_with(".log"))
        .collect();
    segs.sort();
    let group = |seg: &str| {
        let idx = fs::read(db.path.join(seg.replace(".log", ".idx"))).unwrap();
        layout::group_first(&idx)
    };
    let compacted = segs
        .iter()
        .find(|s| group(s) != 0)
        .expect("a compaction output");
    let newest = segs.last().unwrap();
    assert_eq!(
        group(newest),
        0,
        "the newest segment was sealed after compaction"
    );
    let wal = fs::read(db.path.join("wal.log")).unwrap();
    assert!(units(&wal).len() >= 10, "wal.log holds records");
    assert!(db.path.join("LOCK").exists());
    assert!(!db.path.join("lost+found").exists());
    let files = BTreeMap::from([
        ("wal", "wal.log".to_owned()),
        ("seg_compacted", compacted.clone()),
        ("seg_newest", newest.clone()),
        ("idx_compacted", compacted.replace(".log", ".idx")),
        ("idx_newest", newest.replace(".log", ".idx")),
        ("lock", "LOCK".to_owned()),
    ]);
    Fixture {
        db,
        model,
        history,
        files,
    }
}

impl Fixture {
    fn file(&self, kind: Kind) -> &str {
        let name = match kind {
            Wal => "wal",
            SegCompacted => "seg_compacted",
            SegNewest => "seg_newest",
            IdxCompacted => "idx_compacted",
            IdxNewest => "idx_newest",
            Lock => "lock",
        };
        &self.files[name]
    }

    /// Every key the tests read: the live ones and the deleted ones.
    fn keys(&self) -> Vec<String> {
        self.history.keys().cloned().collect()
    }
}

fn parse_dump(bytes: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').expect("key TAB value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Log structure, as docs/format.md describes it.

/// A record, or a whole batch: what recovery keeps or drops as one.
#[derive(Debug)]
struct Unit {
    span: Range<usize>,
    keys: Vec<String>,
}

fn units(bytes: &[u8]) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut batch: Option<Unit> = None;
    for rec in layout::records(bytes) {
        let end = rec.offset + rec.len;
        let key = String::from_utf8_lossy(&bytes[rec.key.clone()]).into_owned();
        match rec.tag {
            1 | 2 => out.push(Unit {
                span: rec.offset..end,
                keys: vec![key],
            }),
            3 | 4 => {
                let u = batch.get_or_insert(Unit {
                    span: rec.offset..rec.offset,
                    keys: Vec::new(),
                });
                u.keys.push(key);
            }
            5 => {
                let mut u = batch.take().expect("a commit ends a batch");
                u.span.end = end;
                out.push(u);
            }
            t => panic!("tag {t} in an undamaged log"),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Damage.

/// splitmix64, seeded per case so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n.max(1) as u64) as usize
    }

    fn within(&mut self, r: Range<usize>) -> usize {
        r.start + self.below(r.len())
    }
}

/// A damaged copy of a file, and which of its original bytes were changed
/// or removed (`hit`) and how many were added.
struct Damaged {
    bytes: Vec<u8>,
    hit: Range<usize>,
    added: usize,
}

fn damage(original: &[u8], units: &[Unit], what: Damage, rng: &mut Rng) -> Damaged {
    let len = original.len();
    let mut bytes = original.to_vec();
    let is_log = !units.is_empty();
    let middle = units.get(units.len() / 2).map(|u| u.span.clone());
    let flip_at = match what {
        FlipHeader => Some(rng.below(16.min(len))),
        FlipMiddle => Some(match &middle {
            Some(m) => rng.within(m.clone()),
            None => len / 2,
        }),
        // The last record of a unit; for a batch, its commit record.
        FlipLast => Some(match units.last() {
            Some(u) => rng.within(u.span.end.saturating_sub(17).max(u.span.start)..u.span.end),
            None if len > 88 => rng.within(len - 88..len),
            None => len - 1,
        }),
        _ => None,
    };
    if let Some(at) = flip_at {
        bytes[at] ^= 1 << rng.below(8);
        return Damaged {
            bytes,
            hit: at..at + 1,
            added: 0,
        };
    }
    match what {
        FlipHeader | FlipMiddle | FlipLast => unreachable!("flipped above"),
        CutMidRecord => {
            let at = match middle {
                Some(m) => m.start + m.len() / 2,
                None => len / 2,
            };
            bytes.truncate(at);
            Damaged {
                bytes,
                hit: at..len,
                added: 0,
            }
        }
        CutToHeader | CutToZero | Empty => {
            let at = if what == CutToHeader { 16.min(len) } else { 0 };
            bytes.truncate(at);
            Damaged {
                bytes,
                hit: at..len,
                added: 0,
            }
        }
        ZeroRange => {
            let range = if is_log {
                let a = &units[units.len() / 3].span;
                let b = &units[units.len() / 3 + 2].span;
                rng.within(a.clone())..rng.within(b.clone())
            } else {
                let from = len / 3;
                from..(from + 64).min(len)
            };
            bytes[range.clone()].fill(0);
            // Only bytes that changed are damage.
            let changed: Vec<usize> = range.filter(|&i| original[i] != 0).collect();
            let hit = match (changed.first(), changed.last()) {
                (Some(&a), Some(&b)) => a..b + 1,
                _ => 0..0,
            };
            Damaged {
                bytes,
                hit,
                added: 0,
            }
        }
        AppendJunk => {
            bytes.extend((0..37).map(|_| 1 + rng.below(255) as u8));
            Damaged {
                bytes,
                hit: len..len,
                added: 37,
            }
        }
    }
}

/// What the damage costs a log: the units it touches, the bytes recovery
/// must move to lost+found, and where check must report it.
struct Cost {
    keys: BTreeSet<String>,
    lost_bytes: u64,
    offset: Option<u64>,
}

fn cost(original: &[u8], units: &[Unit], d: &Damaged) -> Cost {
    let overlaps = |u: &Unit| u.span.start < d.hit.end && d.hit.start < u.span.end;
    let kept_len = d.bytes.len().min(original.len());
    let touched: Vec<&Unit> = units.iter().filter(|u| overlaps(u)).collect();
    let mut lost_bytes: u64 = touched
        .iter()
        .map(|u| kept_len.min(u.span.end).saturating_sub(u.span.start) as u64)
        .sum::<u64>()
        + d.added as u64;
    let header_hit = d.hit.start < 16 && !d.hit.is_empty();
    if header_hit && d.bytes.len() >= 16 {
        lost_bytes += 16;
    }
    let offset = if header_hit {
        Some(0)
    } else if let Some(u) = touched.first() {
        Some(u.span.start as u64)
    } else if d.added > 0 {
        Some(original.len() as u64)
    } else {
        None
    };
    Cost {
        keys: touched
            .iter()
            .flat_map(|u| u.keys.iter().cloned())
            .collect(),
        lost_bytes,
        offset,
    }
}

// ---------------------------------------------------------------------------
// Running a case.

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        // The lock's holder writes its pid there: advice, not data.
        if p.is_file() && !p.ends_with("LOCK") {
            out.insert(p.clone(), fs::read(&p).unwrap());
        }
    }
    out
}

fn lost_found_bytes(dir: &Path) -> u64 {
    match fs::read_dir(dir.join("lost+found")) {
        Ok(entries) => entries.map(|e| e.unwrap().metadata().unwrap().len()).sum(),
        Err(_) => 0,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Asserts that a failed command printed one line naming `file`.
fn names_file(out: &Outcome, file: &str, case: &str) {
    let err = out.stderr_str();
    if !err.lines().last().is_some_and(|l| l.contains(file)) {
        out.fail(&format!("{case}: the error does not name {file}"));
    }
}

fn run_case(seed: u64, kind: Kind, what: Damage, check: Check, reads: Reads) {
    let f = fixture();
    let mut case = format!("{kind:?} × {what:?} (seed {seed})");
    if let Misses(why) = check {
        case += &format!("; check misses it by design: {why}");
    }
    if let Undetectable(why) = reads {
        case += &format!("; reads may lose keys by design: {why}");
    }
    let name = f.file(kind);
    let db = TestDb::new();
    copy_dir(&f.db.path, &db.path);
    let path = db.path.join(name);
    let original = fs::read(&path).unwrap();
    let is_log = matches!(kind, Wal | SegCompacted | SegNewest);
    let units = if is_log { units(&original) } else { Vec::new() };
    let d = damage(&original, &units, what, &mut Rng(seed));
    if what == Empty {
        fs::remove_file(&path).unwrap();
    }
    fs::write(&path, &d.bytes).unwrap();
    let cost = cost(&original, &units, &d);
    let affected = |k: &str| cost.keys.contains(k);

    // (a) check: finds it or says ok, and changes nothing.
    let before = snapshot(&db.path);
    match check {
        Finds => {
            let out = db.cmd(["check"]).run().code(1);
            let stdout = out.stdout_str();
            let line = stdout
                .lines()
                .find(|l| l.contains(&format!("{name}: offset ")))
                .unwrap_or_else(|| out.fail(&format!("{case}: check does not name {name}")));
            if let Some(at) = cost.offset.filter(|_| is_log)
                && !line.contains(&format!(": offset {at}: "))
            {
                out.fail(&format!("{case}: check should report offset {at}"));
            }
        }
        Misses(_) => {
            db.cmd(["check"]).run().code(0).stdout_is("ok\n");
        }
    }
    assert!(snapshot(&db.path) == before, "{case}: check changed a file");

    // (b) every key through one script (one line per key, errors by line),
    // then the dump.
    let keys = f.keys();
    let script: String = keys.iter().map(|k| format!("get {k}\n")).collect();
    let out = db.cmd::<_, &str>([]).stdin(&script).run();
    let stderr = out.stderr_str();
    let mut failed: BTreeSet<usize> = BTreeSet::new();
    let mut open_failed = false;
    let mut warned = false;
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix("tinykv: line ") {
            let (n, msg) = rest.split_once(": ").unwrap();
            failed.insert(n.parse::<usize>().unwrap() - 1);
            if !msg.contains(name) {
                out.fail(&format!("{case}: a failed get does not name {name}"));
            }
        } else if line.starts_with("tinykv: warning: ") && line.contains("wal.log") {
            warned = true;
        } else if line.starts_with("tinykv: ") && line.contains(name) && !open_failed {
            open_failed = true;
        } else {
            out.fail(&format!("{case}: unexpected stderr line {line:?}"));
        }
    }
    if open_failed {
        if stderr.lines().count() != 1 {
            out.fail(&format!("{case}: a failed open prints one line"));
        }
        failed = (0..keys.len()).collect();
    }
    let expected_code = if failed.is_empty() { 0 } else { 2 };
    let out = out.code(expected_code);
    let mut replies = out
        .stdout_str()
        .lines()
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into_iter();
    let mut errors = 0;
    for (i, key) in keys.iter().enumerate() {
        if failed.contains(&i) {
            errors += 1;
            continue;
        }
        let reply = replies
            .next()
            .unwrap_or_else(|| out.fail("a reply is missing"));
        let got = (reply != "(nil)").then_some(reply);
        if got.as_ref() == f.model.get(key) {
            continue;
        }
        let lossy = matches!(reads, CutWithWarning | Undetectable(_));
        let plausible = got.as_ref().is_none_or(|v| f.history[key].contains(v));
        if !(lossy && affected(key) && plausible) {
            out.fail(&format!(
                "{case}: get {key} gave {got:?}, wrote {:?}",
                f.model.get(key)
            ));
        }
    }
    match reads {
        Exact if errors > 0 => out.fail(&format!("{case}: {errors} reads failed")),
        CutWithWarning if !warned => out.fail(&format!("{case}: open did not warn")),
        _ => {}
    }
    if let Some(&i) = failed.first() {
        // The same failure as a one-shot command: exit 2, one line, the file.
        let one = db.cmd(["get", &keys[i]]).run().code(2).one_line_error();
        names_file(&one, name, &case);
    }
    let out = db.cmd(["dump"]).run();
    let dumped = parse_dump(out.stdout());
    for (k, v) in &dumped {
        let right = f.model.get(k) == Some(v);
        let plausible = matches!(reads, CutWithWarning | Undetectable(_))
            && affected(k)
            && f.history.get(k).is_some_and(|h| h.contains(v));
        if !right && !plausible {
            out.fail(&format!("{case}: dump gave {k} = {v:?}"));
        }
    }
    if out.output.status.code() == Some(0) {
        for k in f.model.keys() {
            let may_lose = matches!(reads, CutWithWarning | Undetectable(_)) && affected(k);
            if !dumped.contains_key(k) && !may_lose {
                out.fail(&format!("{case}: dump is missing {k}"));
            }
        }
    } else {
        let out = out.code(2).one_line_error();
        names_file(&out, name, &case);
        if matches!(reads, Exact) {
            out.fail(&format!("{case}: dump failed"));
        }
    }

    // (c) recover keeps the rest and moves exactly the dropped bytes.
    db.cmd(["recover"]).run().code(0);
    db.cmd(["check"]).run().code(0).stdout_is("ok\n");
    let out = db.cmd(["dump"]).run().code(0).quiet();
    let dumped = parse_dump(out.stdout());
    for key in &keys {
        let got = dumped.get(key);
        if got == f.model.get(key) {
            continue;
        }
        let plausible = got.is_none_or(|v| f.history[key].contains(v));
        if !(affected(key) && plausible) {
            out.fail(&format!(
                "{case}: after recover {key} = {got:?}, wrote {:?}",
                f.model.get(key)
            ));
        }
    }
    // An index or the lock holds no data: nothing of theirs is moved.
    let dropped = if is_log { cost.lost_bytes } else { 0 };
    let moved = lost_found_bytes(&db.path);
    assert_eq!(
        moved,
        dropped,
        "{case}: lost+found holds {moved} bytes, the damage dropped {dropped}\n{}",
        util::listing(&db.path)
    );
}

fn run_kind(kind: Kind, seed: u64) {
    let rows: Vec<_> = TABLE.iter().filter(|r| r.0 == kind).collect();
    assert_eq!(rows.len(), 9, "{kind:?}: every damage has a row");
    for (i, &&(kind, what, check, reads)) in rows.iter().enumerate() {
        run_case(seed + i as u64, kind, what, check, reads);
    }
}

#[test]
fn wal_log() {
    run_kind(Wal, 1_000);
}

#[test]
fn compacted_segment_log() {
    run_kind(SegCompacted, 2_000);
}

#[test]
fn newest_segment_log() {
    run_kind(SegNewest, 3_000);
}

#[test]
fn compacted_segment_index() {
    run_kind(IdxCompacted, 4_000);
}

#[test]
fn newest_segment_index() {
    run_kind(IdxNewest, 5_000);
}

#[test]
fn lock_file() {
    run_kind(Lock, 6_000);
}
