//! compact, stats, check and recover: what they print and their exit codes,
//! on a clean and on a damaged database.

mod util;

use predicates::prelude::*;
use util::TestDb;

fn filled() -> TestDb {
    let db = TestDb::new();
    let dump: String = (0..200).map(|i| format!("k{i:03}\tvalue {i}\n")).collect();
    db.cmd(["load"]).stdin(&dump).run().code(0);
    db.cmd(["load"]).stdin(&dump).run().code(0); // overwrites: dead bytes
    db
}

#[test]
fn compact_reports_bytes_and_time_and_keeps_the_data() {
    let db = filled();
    let before = db.cmd(["dump"]).run().code(0);
    db.cmd(["compact"])
        .run()
        .code(0)
        .quiet()
        .stdout_matches(predicate::str::is_match(r"(?m)^before\s+\d+ bytes").unwrap())
        .stdout_matches(predicate::str::is_match(r"(?m)^after\s+\d+ bytes").unwrap())
        .stdout_matches(predicate::str::is_match(r"(?m)^time\s+\d+\.\d{3}s$").unwrap());
    db.cmd(["dump"]).run().code(0).stdout_is(before.stdout());
}

#[test]
fn stats_human_and_json() {
    let db = filled();
    db.cmd(["stats"])
        .run()
        .code(0)
        .stdout_matches(predicate::str::is_match(r"(?m)^keys\s+200$").unwrap())
        .stdout_matches(predicate::str::contains("dead bytes"))
        .stdout_matches(predicate::str::contains("last compaction  never"));
    let out = db.cmd(["stats", "--json"]).run().code(0);
    let v: serde_json::Value = serde_json::from_slice(out.stdout()).unwrap();
    assert_eq!(v["keys"], 200);
    assert!(v["live_bytes"].as_u64().unwrap() > 0);
    assert!(v["dead_bytes"].as_u64().unwrap() > 0);
    assert!(v["last_compaction"].is_null());
    db.cmd(["compact"]).run().code(0);
    let out = db.cmd(["stats", "--json"]).run().code(0);
    let v: serde_json::Value = serde_json::from_slice(out.stdout()).unwrap();
    assert!(
        v["last_compaction"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{v}"
    );
}

#[test]
fn check_says_ok_then_finds_damage_and_recover_repairs_it() {
    let db = filled();
    db.cmd(["check"]).run().code(0).stdout_is("ok\n").quiet();

    let wal = db.path.join("wal.log");
    let mut bytes = std::fs::read(&wal).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0xff;
    std::fs::write(&wal, &bytes).unwrap();

    let report = db
        .cmd(["check"])
        .run()
        .code(1)
        .stdout_matches(predicate::str::is_match(r"wal\.log: offset \d+: .+").unwrap());
    let _ = report;
    // check changed nothing.
    assert_eq!(std::fs::read(&wal).unwrap(), bytes);

    db.cmd(["recover"])
        .run()
        .code(0)
        .stdout_matches(predicate::str::contains("kept"))
        .stdout_matches(predicate::str::contains("lost+found"));
    db.cmd(["check"]).run().code(0).stdout_is("ok\n");
    assert!(
        db.path
            .join("lost+found")
            .read_dir()
            .unwrap()
            .next()
            .is_some()
    );
    // Every record before the damage is still there.
    db.cmd(["get", "k000"]).run().code(0).stdout_is("value 0\n");
}

#[test]
fn a_torn_tail_is_cut_with_one_warning() {
    let db = TestDb::new();
    db.script("set a 1\nset b 2\n");
    let wal = db.path.join("wal.log");
    let mut bytes = std::fs::read(&wal).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0xff;
    std::fs::write(&wal, &bytes).unwrap();
    db.cmd(["get", "a"])
        .run()
        .code(0)
        .stdout_is("1\n")
        .one_line_error()
        .stderr_matches(
            predicate::str::contains("warning").and(predicate::str::contains("wal.log")),
        );
    db.cmd(["-q", "get", "a"]).run().code(0).quiet();
}

#[test]
fn check_and_recover_on_a_missing_or_foreign_directory_are_errors() {
    let db = TestDb::new();
    db.cmd(["check"]).run().code(2).one_line_error();
    let file = db.file("plain-file");
    std::fs::write(&file, "not a db").unwrap();
    db.cmd(["-d".as_ref(), file.as_os_str(), "stats".as_ref()])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains("plain-file"));
}
