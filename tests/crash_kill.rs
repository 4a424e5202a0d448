//! Real process crashes, in the manner of RocksDB's db_crashtest: `tinykv`
//! children are killed with SIGKILL at random moments while they write
//! through script mode, load dumps, delete and compact, most of them with
//! `TINYKV_TEST_OPTIONS` settings that make seals and automatic compactions
//! constant on small data. After a cycle a fresh process must open the
//! database, and what it holds must agree with the record of what was
//! acknowledged (after some kills the next workload opens it first, so that
//! kills also land in the middle of recovery):
//!
//! - an acknowledged write (an `OK` read back, or a one-shot that exited) is
//!   there with its exact value, and an acknowledged delete stays deleted,
//!   unless a later unacknowledged ("uncertain") write to the key may have
//!   replaced it;
//! - a load is all or nothing, and a load that exited 0 is all there;
//! - `check` is clean once an open (the `dump`) has cut the torn tail;
//! - no process ever panics.
//!
//! Quick by default (at least 200 kills); `TINYKV_SOAK=1` runs 3000.
//! `TINYKV_CRASH_SEED=N` fixes the base seed (printed at the start and on
//! failure); each cycle's choices come from the base seed and the cycle
//! number. Kill timing is real time, so a replay repeats the choices, not
//! the exact kill points.

mod util;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use util::TestDb;

const SIGKILL: i32 = 9;
/// Script keys: few, so that overwrites and deletes collide.
const KEYS: u64 = 24;
/// A fresh database every this many cycles, so that the dump every cycle
/// reads stays small and the test's time linear.
const EPOCH: u64 = 25;
/// Settings for the test build: seals and automatic compactions on small
/// data, each with a different rhythm. A cycle without one runs the defaults.
const TUNINGS: [&str; 4] = [
    "segment_size=16384,seal_on_close=4096,compact_min_bytes=65536",
    "segment_size=8192,seal_on_close=0,compact_min_bytes=32768,compact_ratio=1.5",
    "segment_size=4096,seal_on_close=1024,compact_min_bytes=16384,compact_ratio=1.2",
    "segment_size=65536,seal_on_close=16384,compact_min_bytes=131072",
];

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let soak = std::env::var_os("TINYKV_SOAK").is_some_and(|v| v != "0" && !v.is_empty());
    let target_kills = if soak { 3000 } else { 200 };
    let seed = match std::env::var("TINYKV_CRASH_SEED") {
        Ok(s) => s.parse().expect("TINYKV_CRASH_SEED must be a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    println!("crash_kill: base seed {seed} (TINYKV_CRASH_SEED={seed} repeats the choices)");
    let start = Instant::now();
    let mut h = Harness::new(seed);
    let mut cycle = 0;
    while h.counts.kills < target_kills {
        assert!(
            cycle < target_kills * 4,
            "only {} kills in {cycle} cycles: the children finish before the kill points",
            h.counts.kills
        );
        h.cycle(cycle);
        cycle += 1;
    }
    h.settle();
    let c = &h.counts;
    println!(
        "kills: {}, acknowledged writes checked: {}, loads: {} (complete {}, none {})",
        c.kills, c.acked_writes, c.loads, c.loads_complete, c.loads_none
    );
    println!(
        "cycles: {cycle} in {:.1}s; killed: {} scripts ({} uncertain writes, {} of them found applied), \
         {} loads (found complete {}, none {}), {} dels, {} compactions; \
         kills that left *.tmp files: {}; kills stacked on an unverified kill: {}; \
         acknowledged load records: {}; \
         time in workloads {:.1}s, in verifying {:.1}s",
        start.elapsed().as_secs_f64(),
        c.killed_scripts,
        c.uncertain_writes,
        c.uncertain_applied,
        c.killed_loads,
        c.killed_loads_complete,
        c.killed_loads_none,
        c.killed_dels,
        c.killed_compactions,
        c.kills_with_tmp,
        c.stacked_kills,
        c.acked_load_records,
        c.workload_time.as_secs_f64(),
        c.verify_time.as_secs_f64(),
    );
    println!(
        "typical durations: load {:?}, big load {:?}, del {:?}, compact {:?}",
        h.typical.load, h.typical.big_load, h.typical.del, h.typical.compact
    );
    // The kills must have interrupted work, or the test proves nothing.
    assert!(c.uncertain_writes > 0, "no kill caught a write in flight");
    assert!(c.killed_loads_none > 0, "no kill interrupted a load");
    assert!(c.acked_writes > 0 && c.loads_complete > 0);
}

/// splitmix64: small, seedable, good enough to pick kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    /// Uniform in `0..=max`, with microsecond resolution.
    fn upto(&mut self, max: Duration) -> Duration {
        Duration::from_micros(self.below(max.as_micros() as u64 + 1))
    }
}

/// How a child ended.
struct Ended {
    status: ExitStatus,
    stderr: String,
    elapsed: Duration,
}

impl Ended {
    fn killed(&self) -> bool {
        self.status.signal() == Some(SIGKILL)
    }
}

/// A running child. A watcher thread kills it at `kill_after` unless it has
/// exited by then: it learns of an exit from stderr reaching end of file, so
/// nothing polls and nothing sleeps except until the kill point.
struct Running {
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    watcher: JoinHandle<Ended>,
}

fn launch(mut cmd: Command, script: bool, kill_after: Option<Duration>) -> Running {
    cmd.stdin(if script {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn tinykv");
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        let _ = tx.send(bytes);
    });
    let watcher = thread::spawn(move || {
        let exited = match kill_after {
            None => rx.recv().ok(),
            Some(at) => rx.recv_timeout(at).ok(),
        };
        let bytes = exited.unwrap_or_else(|| {
            // SIGKILL on Unix. A child that exited just now is not "killed":
            // its status tells.
            let _ = child.kill();
            rx.recv().unwrap_or_default()
        });
        let status = child.wait().expect("wait for tinykv");
        Ended {
            status,
            stderr: String::from_utf8_lossy(&bytes).into_owned(),
            elapsed: started.elapsed(),
        }
    });
    Running {
        stdin,
        stdout,
        watcher,
    }
}

/// What was acknowledged, and what is uncertain, since the last verify.
#[derive(Default)]
struct Model {
    /// Every key's last known value: acknowledged, or seen by the last verify.
    known: BTreeMap<String, String>,
    /// Per key, the writes since then whose outcome is unknown, in order
    /// (`None` a delete). The key may hold the known value or any of these.
    uncertain: BTreeMap<String, Vec<Option<String>>>,
    /// Loads killed since the last verify: all or nothing.
    killed_loads: Vec<LoadRecord>,
    /// Acknowledged `set`/`del` writes since the last verify.
    acked: u64,
}

impl Model {
    /// `key` = `value` was acknowledged: it replaces whatever was uncertain
    /// (a later process opened the database after the earlier one died).
    fn ack(&mut self, key: String, value: Option<String>) {
        self.uncertain.remove(&key);
        self.overwritten(&key);
        match value {
            Some(v) => self.known.insert(key, v),
            None => self.known.remove(&key),
        };
    }

    fn maybe(&mut self, key: String, value: Option<String>) {
        self.overwritten(&key);
        self.uncertain.entry(key).or_default().push(value);
    }

    /// A later write to a key that a killed load also set: the key no
    /// longer tells whether the load is there.
    fn overwritten(&mut self, key: &str) {
        for load in &mut self.killed_loads {
            load.extras.retain(|(k, _)| k != key);
        }
    }
}

/// A load whose process was killed.
struct LoadRecord {
    prefix: String,
    lines: u64,
    /// Script keys the load also set, with their values.
    extras: Vec<(String, String)>,
}

#[derive(Default)]
struct Counts {
    kills: u64,
    acked_writes: u64,
    acked_load_records: u64,
    loads: u64,
    loads_complete: u64,
    loads_none: u64,
    killed_scripts: u64,
    uncertain_writes: u64,
    uncertain_applied: u64,
    killed_loads: u64,
    killed_loads_complete: u64,
    killed_loads_none: u64,
    killed_dels: u64,
    killed_compactions: u64,
    kills_with_tmp: u64,
    /// Kills of a process that opened the database after an unverified kill.
    stacked_kills: u64,
    workload_time: Duration,
    verify_time: Duration,
}

/// Running estimates of how long a one-shot takes, so that kill points fall
/// inside its work rather than after it.
struct Typical {
    load: Duration,
    big_load: Duration,
    del: Duration,
    compact: Duration,
}

fn update(typical: &mut Duration, seen: Duration) {
    *typical = (*typical * 3 + seen) / 4;
}

struct Harness {
    seed: u64,
    /// An `Option` so that a failure can keep the directory for inspection.
    db: Option<TestDb>,
    model: Model,
    counts: Counts,
    typical: Typical,
    next_load: u64,
    seq: u64,
    /// What the current cycle is doing, for failure messages.
    context: String,
    /// Cycles whose kill has not been verified yet (see [`Harness::cycle`]).
    unverified: Option<String>,
}

impl Harness {
    fn new(seed: u64) -> Harness {
        Harness {
            seed,
            db: None,
            model: Model::default(),
            counts: Counts::default(),
            typical: Typical {
                load: Duration::from_millis(200),
                big_load: Duration::from_millis(400),
                del: Duration::from_millis(20),
                compact: Duration::from_millis(60),
            },
            next_load: 0,
            seq: 0,
            context: String::new(),
            unverified: None,
        }
    }

    fn db(&self) -> &TestDb {
        self.db.as_ref().expect("a database")
    }

    fn command(&self, tuning: Option<&str>) -> Command {
        let db = self.db();
        let mut cmd = util::base_command(db.tmp.path());
        cmd.arg("-d").arg(&db.path);
        if let Some(t) = tuning {
            cmd.env("TINYKV_TEST_OPTIONS", t);
        }
        cmd
    }

    /// Panics with everything needed to understand a failure, keeping the
    /// database directory.
    fn fail(&mut self, why: &str) -> ! {
        let (listing, kept) = match self.db.take() {
            Some(db) => {
                let listing = util::listing(&db.path);
                let path = db.path.clone();
                let _ = db.tmp.keep();
                (listing, path.display().to_string())
            }
            None => (String::new(), "(none)".into()),
        };
        panic!(
            "{why}\n--- base seed {} (rerun with TINYKV_CRASH_SEED={}); {}\n--- database kept at {kept}:\n{listing}",
            self.seed, self.seed, self.context
        );
    }

    fn cycle(&mut self, n: u64) {
        if n.is_multiple_of(EPOCH) {
            let db = TestDb::new();
            // Reads never create a database, and the first workload of an
            // epoch may be a killed `compact`: start from an empty one.
            std::fs::create_dir_all(&db.path).expect("database directory");
            self.db = Some(db);
            self.model = Model::default();
        }
        let cycle_seed = self.seed ^ n.wrapping_mul(0xa076_1d64_78bd_642f);
        let mut rng = Rng(cycle_seed);
        let tuning = if rng.percent(85) {
            Some(TUNINGS[rng.below(TUNINGS.len() as u64) as usize])
        } else {
            None
        };
        self.context = format!(
            "{}cycle {n} (cycle seed {cycle_seed}), TINYKV_TEST_OPTIONS={}",
            self.unverified
                .as_ref()
                .map(|u| format!("unverified: {u}; then "))
                .unwrap_or_default(),
            tuning.unwrap_or("(none)")
        );
        let started = Instant::now();
        let ended = match rng.below(100) {
            0..50 => self.script(&mut rng, tuning),
            50..70 => self.load(&mut rng, tuning),
            70..85 => self.del(&mut rng, tuning),
            _ => self.compact(&mut rng, tuning),
        };
        self.counts.workload_time += started.elapsed();
        self.check_stderr("the workload", &ended.stderr, ended.killed());
        if ended.killed() {
            self.counts.kills += 1;
            let tmp = std::fs::read_dir(&self.db().path)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                })
                .unwrap_or(false);
            self.counts.kills_with_tmp += u64::from(tmp);
            self.counts.stacked_kills += u64::from(self.unverified.is_some());
            // Sometimes the next workload opens the database instead of the
            // verifier, so that a kill can land in the middle of recovery:
            // cutting a torn tail, settling a compaction, rebuilding an index.
            if !(n + 1).is_multiple_of(EPOCH) && rng.percent(30) {
                self.unverified = Some(self.context.clone());
                return;
            }
        }
        self.unverified = None;
        let started = Instant::now();
        // `check` reads every byte: after a kill, where it matters.
        self.verify(tuning, ended.killed());
        self.counts.verify_time += started.elapsed();
    }

    /// Verifies what the last cycle left unverified.
    fn settle(&mut self) {
        if self.unverified.take().is_some() {
            self.verify(None, true);
        }
    }

    /// A value that names its key and write, with a filler of random length
    /// so that overwrites pile up dead bytes.
    fn value(&mut self, rng: &mut Rng, tag: &str, max_filler: u64) -> String {
        self.seq += 1;
        let len = rng.below(max_filler + 1) as usize;
        let filler: String = (0..len)
            .map(|i| ALPHABET[(self.seq as usize + i) % ALPHABET.len()] as char)
            .collect();
        format!("{tag}.{}.{filler}", self.seq)
    }

    /// Script mode: `set`/`del` lines through a pair of pipes, up to
    /// `window` of them in flight; a write counts once its `OK` is read.
    fn script(&mut self, rng: &mut Rng, tuning: Option<&str>) -> Ended {
        let (kill_after, max_ops) = match rng.below(100) {
            // Mostly while it writes; sometimes during open; sometimes long
            // enough for seals and compactions to run; sometimes not at all.
            0..55 => (Some(rng.upto(Duration::from_millis(120))), u64::MAX),
            55..75 => (Some(rng.upto(Duration::from_millis(25))), u64::MAX),
            75..90 => (
                Some(Duration::from_millis(120) + rng.upto(Duration::from_millis(400))),
                u64::MAX,
            ),
            _ => (None, 1 + rng.below(60)),
        };
        let window = 1 + rng.below(8) as usize;
        self.context += &format!(", script (window {window}, kill after {kill_after:?})");
        let run = launch(self.command(tuning), true, kill_after);
        let mut stdin = run.stdin;
        let mut replies = BufReader::new(run.stdout);
        let mut in_flight: VecDeque<(String, Option<String>)> = VecDeque::new();
        let mut sent = 0;
        loop {
            while let Some(pipe) = stdin.as_mut() {
                if in_flight.len() >= window || sent >= max_ops {
                    break;
                }
                let key = format!("k{:02}", rng.below(KEYS));
                let value = if rng.percent(20) {
                    None
                } else {
                    Some(self.value(rng, &key, 1500))
                };
                let line = match &value {
                    Some(v) => format!("set {key} {v}\n"),
                    None => format!("del {key}\n"),
                };
                // Sent (perhaps in part) is uncertain until its OK is read.
                in_flight.push_back((key, value));
                sent += 1;
                if pipe.write_all(line.as_bytes()).is_err() {
                    stdin = None;
                }
            }
            if sent >= max_ops && in_flight.is_empty() {
                // End of script: the child exits on its own.
                stdin = None;
            }
            let mut reply = String::new();
            match replies.read_line(&mut reply) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if reply != "OK\n" {
                if !reply.ends_with('\n') {
                    break; // cut by the kill: not an acknowledgement
                }
                self.fail(&format!("script replied {reply:?}, expected OK"));
            }
            let Some((key, value)) = in_flight.pop_front() else {
                self.fail("script replied OK to nothing");
            };
            self.model.ack(key, value);
            self.model.acked += 1;
        }
        drop(stdin);
        let ended = run.watcher.join().expect("watcher");
        if ended.killed() {
            self.counts.killed_scripts += 1;
            self.counts.uncertain_writes += in_flight.len() as u64;
        } else if !ended.status.success() || !in_flight.is_empty() {
            self.fail(&format!(
                "script ended {} with {} writes unanswered; stderr:\n{}",
                ended.status,
                in_flight.len(),
                ended.stderr
            ));
        }
        for (key, value) in in_flight {
            self.model.maybe(key, value);
        }
        ended
    }

    /// Runs a one-shot command to the end or to the kill point, draining
    /// its stdout.
    fn one_shot(&mut self, cmd: Command, kill_after: Option<Duration>) -> (Ended, String) {
        let mut run = launch(cmd, false, kill_after);
        let mut out = Vec::new();
        let _ = run.stdout.read_to_end(&mut out);
        let ended = run.watcher.join().expect("watcher");
        (ended, String::from_utf8_lossy(&out).into_owned())
    }

    /// Kill point for a one-shot that typically takes `typical`: inside it
    /// most of the time, often in its first quarter (a load commits early:
    /// the compaction and close after it take most of its time); one in
    /// five runs to the end.
    fn kill_point(rng: &mut Rng, typical: Duration) -> Option<Duration> {
        match rng.below(100) {
            0..20 => None,
            20..60 => Some(rng.upto(typical / 4)),
            _ => Some(rng.upto(typical * 6 / 5)),
        }
    }

    /// `tinykv load FILE` of a tsv of distinct marker keys (and perhaps a
    /// script key or two at the end): all or nothing. One load in ten is
    /// big (about 2 MiB), so that the batch reaches the log before its
    /// commit record.
    fn load(&mut self, rng: &mut Rng, tuning: Option<&str>) -> Ended {
        let n = self.next_load;
        self.next_load += 1;
        let prefix = format!("load-{n}-");
        let big = rng.percent(10);
        let lines = 1000 + rng.below(1000);
        let filler = if big { 4000 } else { 40 };
        let mut tsv = String::new();
        let mut pairs = Vec::new();
        for i in 0..lines {
            let key = format!("{prefix}{i:05}");
            let value = self.value(rng, &format!("L{n}"), filler);
            tsv += &format!("{key}\t{value}\n");
            pairs.push((key, value));
        }
        let mut extras = Vec::new();
        for _ in 0..rng.below(3) {
            let key = format!("k{:02}", rng.below(KEYS));
            let value = self.value(rng, &format!("L{n}-{key}"), 200);
            tsv += &format!("{key}\t{value}\n");
            extras.push((key, value));
        }
        // A key set twice in one load: the later line wins.
        let mut seen = BTreeSet::new();
        extras = extras
            .into_iter()
            .rev()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect();
        let file = self.db().file(&format!("load-{n}.tsv"));
        std::fs::write(&file, &tsv).expect("write the dump");
        let typical = if big {
            self.typical.big_load
        } else {
            self.typical.load
        };
        let kill_after = Self::kill_point(rng, typical);
        self.context += &format!(
            ", load {n} of {lines} lines, {} bytes (kill after {kill_after:?})",
            tsv.len()
        );
        let mut cmd = self.command(tuning);
        cmd.arg("load").arg(&file);
        let (ended, _) = self.one_shot(cmd, kill_after);
        let _ = std::fs::remove_file(&file);
        self.counts.loads += 1;
        let all = pairs.into_iter().chain(extras.iter().cloned());
        if ended.killed() {
            self.counts.killed_loads += 1;
            for (key, value) in all {
                self.model.maybe(key, Some(value));
            }
            self.model.killed_loads.push(LoadRecord {
                prefix,
                lines,
                extras,
            });
        } else if ended.status.success() {
            let typical = if big {
                &mut self.typical.big_load
            } else {
                &mut self.typical.load
            };
            update(typical, ended.elapsed);
            self.counts.loads_complete += 1;
            for (key, value) in all {
                self.model.ack(key, Some(value));
                self.counts.acked_load_records += 1;
            }
        } else {
            self.fail(&format!(
                "load exited {}; stderr:\n{}",
                ended.status, ended.stderr
            ));
        }
        ended
    }

    /// `tinykv del KEY...`: exit 0, or 1 when a key was not set.
    fn del(&mut self, rng: &mut Rng, tuning: Option<&str>) -> Ended {
        let keys: BTreeSet<String> = (0..1 + rng.below(4))
            .map(|_| format!("k{:02}", rng.below(KEYS)))
            .collect();
        let kill_after = Self::kill_point(rng, self.typical.del);
        self.context += &format!(", del {keys:?} (kill after {kill_after:?})");
        let mut cmd = self.command(tuning);
        cmd.arg("del").args(&keys);
        let (ended, _) = self.one_shot(cmd, kill_after);
        if ended.killed() {
            self.counts.killed_dels += 1;
            self.counts.uncertain_writes += keys.len() as u64;
            for key in keys {
                self.model.maybe(key, None);
            }
        } else if matches!(ended.status.code(), Some(0 | 1)) {
            update(&mut self.typical.del, ended.elapsed);
            for key in keys {
                self.model.ack(key, None);
                self.model.acked += 1;
            }
        } else {
            self.fail(&format!(
                "del exited {}; stderr:\n{}",
                ended.status, ended.stderr
            ));
        }
        ended
    }

    /// `tinykv compact`: changes no key.
    fn compact(&mut self, rng: &mut Rng, tuning: Option<&str>) -> Ended {
        let kill_after = Self::kill_point(rng, self.typical.compact);
        self.context += &format!(", compact (kill after {kill_after:?})");
        let mut cmd = self.command(tuning);
        cmd.arg("compact");
        let (ended, out) = self.one_shot(cmd, kill_after);
        if ended.killed() {
            self.counts.killed_compactions += 1;
        } else if ended.status.success() && out.starts_with("before") {
            update(&mut self.typical.compact, ended.elapsed);
        } else if ended.status.success()
            && ["nothing to compact", "already compact", "not compacted"]
                .iter()
                .any(|skip| out.starts_with(skip))
        {
            // Nothing to gain: nothing written, nothing to time.
        } else {
            self.fail(&format!(
                "compact exited {}; stdout:\n{out}\nstderr:\n{}",
                ended.status, ended.stderr
            ));
        }
        ended
    }

    /// No panic, no backtrace; from a process that was not killed, only
    /// whole `tinykv: ` lines.
    fn check_stderr(&mut self, what: &str, stderr: &str, killed: bool) {
        let lower = stderr.to_lowercase();
        let clean = !lower.contains("panicked")
            && !lower.contains("backtrace")
            && (killed || stderr.lines().all(|l| l.starts_with("tinykv: ")));
        if !clean {
            self.fail(&format!("{what} wrote to stderr:\n{stderr}"));
        }
    }

    /// A fresh process opens the database (cutting any torn tail), dumps it,
    /// and the dump agrees with the model; then, when `check` is asked for,
    /// `tinykv check` is clean.
    fn verify(&mut self, tuning: Option<&str>, check: bool) {
        let dump = self.db().cmd(["dump"]);
        let dump = match tuning {
            Some(t) => dump.env("TINYKV_TEST_OPTIONS", t),
            None => dump,
        }
        .run();
        if dump.output.status.code() != Some(0) {
            let why = format!(
                "the database does not open after the kill: dump exited {}; stderr:\n{}",
                dump.output.status,
                dump.stderr_str()
            );
            self.fail(&why);
        }
        self.check_stderr("dump", &dump.stderr_str(), false);
        let mut observed = BTreeMap::new();
        for line in dump.stdout_str().lines() {
            let Some((k, v)) = line.split_once('\t') else {
                self.fail(&format!("dump line without a TAB: {line:?}"));
            };
            observed.insert(k.to_owned(), v.to_owned());
        }

        let model = std::mem::take(&mut self.model);
        let keys: BTreeSet<&String> = observed
            .keys()
            .chain(model.known.keys())
            .chain(model.uncertain.keys())
            .collect();
        for key in keys {
            let seen = observed.get(key);
            let known = model.known.get(key);
            let maybe = model.uncertain.get(key).map(Vec::as_slice).unwrap_or(&[]);
            if seen == known {
                continue;
            }
            if maybe.iter().any(|m| m.as_ref() == seen) {
                self.counts.uncertain_applied += u64::from(!key.starts_with("load-"));
                continue;
            }
            let show = |v: Option<&String>| v.map_or("<absent>".to_owned(), |v| short(v));
            let why = format!(
                "key {key} holds {}; acknowledged {}; uncertain since: {:?}",
                show(seen),
                show(known),
                maybe.iter().map(|m| show(m.as_ref())).collect::<Vec<_>>(),
            );
            self.fail(&why);
        }
        for load in &model.killed_loads {
            let present = observed
                .range(load.prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&load.prefix))
                .count() as u64;
            let complete = present == load.lines;
            if present != 0 && !complete {
                let why = format!(
                    "partial load: {present} of {} keys {}*",
                    load.lines, load.prefix
                );
                self.fail(&why);
            }
            for (key, value) in &load.extras {
                if (observed.get(key) == Some(value)) != complete {
                    let why = format!(
                        "load {}* is {} but its write of {key} is {}",
                        load.prefix,
                        if complete { "complete" } else { "absent" },
                        if complete { "missing" } else { "there" },
                    );
                    self.fail(&why);
                }
            }
            if complete {
                self.counts.killed_loads_complete += 1;
                self.counts.loads_complete += 1;
            } else {
                self.counts.killed_loads_none += 1;
                self.counts.loads_none += 1;
            }
        }
        self.counts.acked_writes += model.acked;

        if check {
            let check = self.db().cmd(["check"]).run();
            if check.output.status.code() != Some(0) || check.stdout() != b"ok\n" {
                let why = format!(
                    "check after a reopen is not clean: exit {}; stdout:\n{}\nstderr:\n{}",
                    check.output.status,
                    check.stdout_str(),
                    check.stderr_str()
                );
                self.fail(&why);
            }
            self.check_stderr("check", &check.stderr_str(), false);
        }
        // What a fresh process saw is now the known state.
        self.model = Model {
            known: observed,
            ..Model::default()
        };
    }
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A value cut short for a message.
fn short(v: &str) -> String {
    if v.len() > 40 {
        format!("{}…({} bytes)", &v[..40], v.len())
    } else {
        v.to_owned()
    }
}
