//! I/O failures below the product, driven from the command line: the test
//! build of `tinykv` reads `TINYKV_TEST_OPTIONS=fault=OP:NTH:KIND[:persistent]`
//! and fails that file operation. A failed command exits 2 with one clear
//! line, and the database afterwards holds exactly the acknowledged writes.
//!
//! The sweeps run set, del, load, compact, recover and a script with the
//! Nth write, fsync or rename failing (EIO or ENOSPC, once or for good) for
//! N = 1, 2, … until the fault no longer lands; set and the script also with
//! every operation of the command failed once in turn (`fault=any:N`).

mod util;

use std::collections::BTreeMap;
use std::fs;

use predicates::prelude::*;
use util::TestDb;

const OPTS: &str = "TINYKV_TEST_OPTIONS";

fn seeded() -> TestDb {
    let db = TestDb::new();
    db.script("set a 1\nset b 2\n");
    db
}

#[test]
fn a_failed_fsync_fails_the_set_and_stores_nothing() {
    let db = seeded();
    db.cmd(["set", "c", "3"])
        .env(OPTS, "fault=sync:1:eio")
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(
            predicate::str::contains("wal.log").and(predicate::str::contains("Input/output error")),
        );
    db.cmd(["dump"]).run().code(0).stdout_is("a\t1\nb\t2\n");
    db.cmd(["check"]).run().code(0).stdout_is("ok\n");
}

#[test]
fn a_full_disk_during_load_stores_none_of_it() {
    let db = seeded();
    let dump: String = (0..20_000)
        .map(|i| format!("k{i:05}\t{}\n", "v".repeat(100)))
        .collect();
    db.cmd(["load"])
        .stdin(dump.clone())
        .env(OPTS, "fault=write:2:enospc:persistent")
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains("No space left on device"));
    db.cmd(["dump"]).run().code(0).stdout_is("a\t1\nb\t2\n");
    // With the disk back, the same load goes through whole.
    db.cmd(["load"]).stdin(dump).run().code(0);
    db.cmd(["get", "k19999"]).run().code(0);
}

#[test]
fn a_failed_rename_during_compaction_keeps_every_key() {
    let db = seeded();
    // An overwritten large value: bytes a compaction reclaims, so it runs.
    let large = "x".repeat(2000);
    db.script(&format!("set b {large}\nset c 3\ndel a\nset b 22\n"));
    db.cmd(["compact"])
        .env(OPTS, "fault=rename:2:eio")
        .run()
        .code(2)
        .one_line_error();
    db.cmd(["dump"]).run().code(0).stdout_is("b\t22\nc\t3\n");
    db.cmd(["check"]).run().code(0).stdout_is("ok\n");
    db.cmd(["compact"]).run().code(0);
    db.cmd(["dump"]).run().code(0).stdout_is("b\t22\nc\t3\n");
}

// ---------------------------------------------------------------------------
// Sweeps: every workload with the Nth operation failed, for N = 1, 2, … until
// the fault no longer lands anywhere that matters. After each run, a clean
// run (no faults) finds exactly the acknowledged writes and `check` says ok.

/// Small segments sealed at every close, so that one-shot writes seal and
/// renames happen on every command.
const SEALING: &str = "segment_size=8192,seal_on_close=0";

/// A command, the database it runs on, and what a clean run must find.
struct Workload {
    name: &'static str,
    args: &'static [&'static str],
    stdin: String,
    /// The database before, copied for every run.
    template: TestDb,
    /// The dump before and after a successful run.
    before: Vec<u8>,
    after: Vec<u8>,
}

/// The state the sweeps start from: a sealed segment and a non-empty wal.log.
fn template() -> TestDb {
    let db = TestDb::new();
    db.cmd(["load"])
        .env(OPTS, SEALING)
        .stdin("a\t1\nb\t2\nc\t3\n")
        .run()
        .code(0);
    db.script("set b 22\ndel a\nset d 4\n");
    assert!(db.path.join("seg-00000001.log").exists());
    db
}

fn copy_of(db: &TestDb) -> TestDb {
    let copy = TestDb::new();
    fs::create_dir_all(&copy.path).unwrap();
    for e in fs::read_dir(&db.path).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), copy.path.join(e.file_name())).unwrap();
        }
    }
    copy
}

fn dump_of(db: &TestDb) -> Vec<u8> {
    db.cmd(["dump"]).run().code(0).quiet().stdout().to_vec()
}

fn workload(name: &'static str, args: &'static [&'static str], stdin: String) -> Workload {
    let template = template();
    if name == "recover" {
        // Something to recover: a flipped bit in the middle of wal.log.
        let wal = template.path.join("wal.log");
        let mut bytes = fs::read(&wal).unwrap();
        let at = 16 + 13 + 2;
        bytes[at] ^= 0x10;
        fs::write(&wal, bytes).unwrap();
    }
    let before = if name == "recover" {
        Vec::new()
    } else {
        dump_of(&template)
    };
    let clean = copy_of(&template);
    clean
        .cmd(args)
        .env(OPTS, SEALING)
        .stdin(&stdin)
        .run()
        .code(0);
    let after = dump_of(&clean);
    Workload {
        name,
        args,
        stdin,
        template,
        before,
        after,
    }
}

/// Runs `w` with `fault=OP:N:KIND[:persistent]` for N = 1, 2, … until four
/// runs in a row succeed (the faults no longer land), checking each run.
/// Returns how many runs failed.
fn sweep(w: &Workload, op: &str, kind: &str, persistent: bool) -> usize {
    let mut failures = 0;
    let mut quiet_runs = 0;
    let mut n = 0;
    while quiet_runs < 4 {
        n += 1;
        assert!(n < 200, "{}: the fault still lands at N={n}", w.name);
        let spec = format!(
            "{SEALING},fault={op}:{n}:{kind}{}",
            if persistent { ":persistent" } else { "" }
        );
        let case = format!(
            "{} with fault={op}:{n}:{kind} (persistent: {persistent})",
            w.name
        );
        let db = copy_of(&w.template);
        let out = db.cmd(w.args).env(OPTS, &spec).stdin(&w.stdin).run();
        let failed = out.output.status.code() != Some(0);
        // A write acknowledged before the command failed (at close) stays.
        let acked = !failed || out.stderr_str().contains("cannot close");
        if failed {
            failures += 1;
            quiet_runs = 0;
            out.code(2).one_line_error();
        } else {
            quiet_runs += 1;
        }
        settle_and_compare(&db, w, acked, &case);
    }
    failures
}

/// The clean run after a faulted one: `check` is ok, and the data is the
/// state after the command if it succeeded, else the state before it (a
/// command is all or nothing). Interrupted recovery is finished by running
/// it again, which must give the same result.
fn settle_and_compare(db: &TestDb, w: &Workload, acked: bool, case: &str) {
    if w.name == "recover" {
        db.cmd(["recover"]).run().code(0);
    }
    let check = db.cmd(["check"]).run();
    if check.output.status.code() != Some(0) || check.stdout() != b"ok\n" {
        check.fail(&format!("{case}: check after the faulted run"));
    }
    let now = dump_of(db);
    let ok = if acked || w.name == "recover" {
        now == w.after
    } else {
        now == w.before
    };
    assert!(
        ok,
        "{case}: the database holds\n{}\nwanted (before)\n{}\nor (after)\n{}",
        String::from_utf8_lossy(&now),
        String::from_utf8_lossy(&w.before),
        String::from_utf8_lossy(&w.after),
    );
}

fn load_dump() -> String {
    (0..300)
        .map(|i| format!("k{i:03}\t{}\n", "v".repeat(40)))
        .collect()
}

/// Writes, fsyncs and renames failed with EIO or ENOSPC, once or for good:
/// two rotations that between them cover every combination, so each
/// workload runs three sweeps, not twelve.
const ONCE: bool = false;
const FOR_GOOD: bool = true;
const ROTATION_A: [(&str, &str, bool); 3] = [
    ("write", "eio", ONCE),
    ("sync", "enospc", FOR_GOOD),
    ("rename", "eio", FOR_GOOD),
];
const ROTATION_B: [(&str, &str, bool); 3] = [
    ("write", "enospc", FOR_GOOD),
    ("sync", "eio", ONCE),
    ("rename", "enospc", ONCE),
];
const ROTATION_C: [(&str, &str, bool); 3] = [
    ("write", "eio", FOR_GOOD),
    ("sync", "eio", FOR_GOOD),
    ("rename", "eio", ONCE),
];
const ROTATION_D: [(&str, &str, bool); 3] = [
    ("write", "enospc", ONCE),
    ("sync", "enospc", ONCE),
    ("rename", "enospc", FOR_GOOD),
];

/// Sweeps `w` with each fault of `rotation`, and with `every_op`, first
/// with every operation of the command (reads, opens and listings too)
/// failed once (fault=any).
fn sweep_all(w: &Workload, every_op: bool, rotation: &[(&str, &str, bool)]) {
    if every_op {
        let landed = sweep(w, "any", "eio", ONCE);
        assert!(landed > 5, "{}: the faults never landed", w.name);
    }
    for &(op, kind, persistent) in rotation {
        sweep(w, op, kind, persistent);
    }
}

#[test]
fn sweep_set() {
    sweep_all(
        &workload("set", &["set", "e", "5"], String::new()),
        true,
        &ROTATION_A,
    );
}

#[test]
fn sweep_del() {
    sweep_all(
        &workload("del", &["del", "b"], String::new()),
        false,
        &ROTATION_B,
    );
}

#[test]
fn sweep_load() {
    sweep_all(
        &workload("load", &["load"], load_dump()),
        false,
        &ROTATION_C,
    );
}

#[test]
fn sweep_compact() {
    sweep_all(
        &workload("compact", &["compact"], String::new()),
        false,
        &ROTATION_D,
    );
}

#[test]
fn sweep_recover() {
    sweep_all(
        &workload("recover", &["recover"], String::new()),
        false,
        &ROTATION_A,
    );
}

/// Script mode: each line is acknowledged by its `OK`. With the Nth
/// operation failed, the failing line is reported with its number, every
/// write after a failed write or fsync reports the poisoned handle, and a
/// clean run finds exactly the acknowledged lines applied.
fn sweep_script(template: &TestDb, op: &str, kind: &str, persistent: bool) {
    const LINES: [&str; 4] = ["set e 5", "del b", "set f 6", "set b 7"];
    let script: String = LINES.iter().map(|l| format!("{l}\n")).collect();
    let before: BTreeMap<String, String> = String::from_utf8(dump_of(template))
        .unwrap()
        .lines()
        .map(|l| l.split_once('\t').unwrap())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let (mut n, mut quiet_runs) = (0, 0);
    while quiet_runs < 4 {
        n += 1;
        let spec = format!(
            "{SEALING},fault={op}:{n}:{kind}{}",
            if persistent { ":persistent" } else { "" }
        );
        let case = format!("script with fault={op}:{n}:{kind} (persistent: {persistent})");
        let db = copy_of(template);
        let out = db.cmd::<_, &str>([]).env(OPTS, &spec).stdin(&script).run();
        if out.output.status.code() == Some(0) {
            quiet_runs += 1;
        } else if out.output.status.code() == Some(2) {
            quiet_runs = 0;
        } else {
            out.fail(&format!("{case}: exit code not 0 or 2"));
        }
        let err = out.stderr_str();
        let mut failed = BTreeMap::new();
        let mut open_failed = false;
        for line in err.lines() {
            if let Some(rest) = line.strip_prefix("tinykv: line ") {
                let (num, msg) = rest.split_once(": ").unwrap();
                failed.insert(num.parse::<usize>().unwrap() - 1, msg.to_owned());
            } else if line.starts_with("tinykv: cannot open database") && err.lines().count() == 1 {
                open_failed = true;
            } else if line.starts_with("tinykv: warning: other tinykv commands cannot use") {
                // The fault hit the lock file's note: the script goes on
                // with the database to itself (serve/mod.rs).
            } else if !line.starts_with("tinykv: cannot close database") {
                out.fail(&format!("{case}: unexpected stderr line {line:?}"));
            }
        }
        if err.contains("panicked") {
            out.fail(&format!("{case}: a panic"));
        }
        // After a failed write or fsync, the handle refuses every write.
        let poisoned_from = failed
            .iter()
            .find(|(_, m)| m.contains("poisoned") || m.contains("fsync") || m.contains("write "))
            .map(|(&i, _)| i);
        if let Some(first) = poisoned_from {
            for later in first + 1..LINES.len() {
                if !failed.get(&later).is_some_and(|m| m.contains("poisoned")) {
                    out.fail(&format!(
                        "{case}: line {} should report the poisoned handle",
                        later + 1
                    ));
                }
            }
        }
        let acked: Vec<&str> = (0..LINES.len())
            .filter(|i| !open_failed && !failed.contains_key(i))
            .map(|i| LINES[i])
            .collect();
        let oks = out.stdout_str().lines().filter(|l| *l == "OK").count();
        if oks != acked.len() {
            out.fail(&format!(
                "{case}: {oks} OK replies for {} acknowledged lines",
                acked.len()
            ));
        }
        let mut model = before.clone();
        for line in acked {
            match line.split(' ').collect::<Vec<_>>()[..] {
                ["set", k, v] => model.insert(k.to_owned(), v.to_owned()),
                ["del", k] => model.remove(k),
                _ => unreachable!(),
            };
        }
        let want: String = model.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
        db.cmd(["check"]).run().code(0).stdout_is("ok\n");
        let now = dump_of(&db);
        assert!(
            now == want.as_bytes(),
            "{case}: the database holds\n{}\nwanted the acknowledged lines applied\n{want}",
            String::from_utf8_lossy(&now)
        );
    }
}

#[test]
fn sweep_script_mode() {
    let template = template();
    sweep_script(&template, "any", "eio", ONCE);
    for (op, kind, persistent) in ROTATION_B {
        sweep_script(&template, op, kind, persistent);
    }
}
