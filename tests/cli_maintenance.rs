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

/// Regression (review): an automatic compaction that failed on a damaged
/// segment poisoned the session, so every later write of a script failed;
/// now the writes go on and the failure is one warning at the end.
#[test]
fn a_failed_automatic_compaction_warns_and_writes_go_on() {
    const NO_COMPACTION: &str = "segment_size=8192,seal_on_close=0,compact_min_bytes=1000000";
    const SMALL: &str = "segment_size=8192,seal_on_close=0,compact_min_bytes=16384";
    let db = TestDb::new();
    let value = "z".repeat(300);
    let first: String = (0..60).map(|i| format!("set k{i:02} {value}\n")).collect();
    db.cmd::<_, &str>([])
        .env("TINYKV_TEST_OPTIONS", NO_COMPACTION)
        .stdin(&first)
        .run()
        .code(0);
    let seg = db.path.join("seg-00000001.log");
    let mut bytes = std::fs::read(&seg).expect("the writes sealed a segment");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&seg, bytes).unwrap();
    // Enough new writes to pass the threshold, then some more.
    let more: String = (0..120).map(|i| format!("set n{i:03} {value}\n")).collect();
    let out = db
        .cmd::<_, &str>([])
        .env("TINYKV_TEST_OPTIONS", SMALL)
        .stdin(&more)
        .run()
        .code(0);
    assert_eq!(out.stdout_str(), "OK\n".repeat(120));
    let err = out.stderr_str();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("tinykv: warning: automatic compaction of ")
            && err.contains("seg-00000001.log is corrupt at offset"),
        "{err}"
    );
    db.cmd(["get", "n119"])
        .run()
        .code(0)
        .stdout_is(format!("{value}\n"));
}

/// The database's files and their sizes, the lock file aside.
fn files(db: &TestDb) -> Vec<(String, u64)> {
    let mut files: Vec<_> = std::fs::read_dir(&db.path)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "LOCK")
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Regression (#16): `compact` made a tiny database bigger (before 104
/// bytes, after 230: the new segment's index). It now writes nothing when
/// a rewrite cannot make the files smaller, and says why; on an empty or
/// just compacted database it is a quick no-op that says so.
#[test]
fn compact_writes_nothing_when_it_cannot_make_the_files_smaller() {
    let db = TestDb::new();
    db.cmd(["load"]).stdin("").run().code(0);
    db.cmd(["compact"]).run().code(0).quiet().stdout_matches(
        predicate::str::is_match(r"^nothing to compact: the database is empty\nsize +16 bytes")
            .unwrap(),
    );
    db.cmd(["set", "greeting", "hello world"]).run().code(0);
    let before = files(&db);
    db.cmd(["compact"])
        .run()
        .code(0)
        .quiet()
        .stdout_matches(
            predicate::str::is_match(
                r"^not compacted: rewriting would take \d+ bytes, no fewer than the files take now\nsize +\d+ bytes \(.*\)\nkeys +1\ntime +\d+\.\d{3}s\n$",
            )
            .unwrap(),
        );
    assert_eq!(files(&db), before, "compact wrote something");
    db.cmd(["get", "greeting"])
        .run()
        .code(0)
        .stdout_is("hello world\n");

    let db = filled();
    db.cmd(["compact"])
        .run()
        .code(0)
        .stdout_matches(predicate::str::is_match(r"(?m)^after\s+\d+ bytes").unwrap());
    let before = files(&db);
    db.cmd(["compact"])
        .run()
        .code(0)
        .stdout_matches(predicate::str::is_match(
            r"^already compact: nothing was written since the last compaction\nsize +\d+ bytes \(.*\)\nkeys +200\n",
        ).unwrap());
    assert_eq!(files(&db), before, "compact wrote something");
}
