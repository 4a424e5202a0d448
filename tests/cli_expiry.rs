//! Expiry from the command line, on the real clock with wide margins: a
//! key set to expire vanishes from get, exists, count, keys and dump, and
//! compaction removes its bytes; `ttl`, `expire` and `persist` report and
//! change deadlines; every dump format carries the expiry and `load`
//! round-trips it, storing nothing for a pair already expired.
//!
//! No test sleeps and hopes: a key meant to expire is polled until it is
//! gone (for up to a minute), and keys meant to stay have hours left.

mod util;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use predicates::str::contains;
use util::TestDb;

/// 2100-01-01T00:00:00Z, in Unix seconds: far enough for any test run.
const FAR: u64 = 4_102_444_800;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Polls until `get key` exits 1, for up to a minute.
fn until_gone(db: &TestDb, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = db.cmd(["get", key]).run();
        match out.output.status.code() {
            Some(1) => return,
            Some(0) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => out.fail("the key did not expire within a minute"),
        }
    }
}

#[test]
fn an_expired_key_is_gone_for_every_read_and_from_the_files() {
    let db = TestDb::new();
    db.cmd(["set", "keep", "forever"]).run().code(0);
    db.cmd(["set", "later", "an hour", "--ttl", "1h"])
        .run()
        .code(0);
    // Large enough that compacting gains bytes (a compaction that cannot
    // gain is skipped).
    let marker = "short-lived-value-4f1c";
    let value = format!("{marker}{}", "x".repeat(64 << 10));
    db.cmd(["set", "soon", &value, "--ttl", "1"]).run().code(0);
    until_gone(&db, "soon");
    db.cmd(["exists", "soon"]).run().code(1);
    db.cmd(["count"]).run().code(0).stdout_is("2\n");
    db.cmd(["count", "--prefix", "s"])
        .run()
        .code(0)
        .stdout_is("0\n");
    db.cmd(["keys"]).run().code(0).stdout_is("keep\nlater\n");
    db.cmd(["ttl", "soon"]).run().code(1);
    let dump = db.cmd(["dump"]).run().code(0).stdout_str();
    assert!(!dump.contains("soon"), "{dump}");
    db.cmd(["pop", "--prefix", "soon"]).run().code(1);
    db.cmd(["rename", "soon", "x"]).run().code(1);
    db.cmd(["set", "soon", "v", "--xx"]).run().code(1);
    // Compaction drops the expired record's bytes.
    db.cmd(["compact"])
        .run()
        .code(0)
        .stdout_matches(contains("after"));
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&db.path).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files.extend(std::fs::read(&path).unwrap());
        }
    }
    let found = files.windows(marker.len()).any(|w| w == marker.as_bytes());
    assert!(!found, "the expired value is still in the files");
    // Nothing else went with it.
    db.cmd(["get", "keep", "later"])
        .run()
        .code(0)
        .stdout_is("forever\nan hour\n");
    // And it stays gone after a reopen and a write of another key.
    db.cmd(["set", "other", "1"]).run().code(0);
    db.cmd(["exists", "soon"]).run().code(1);
}

#[test]
fn ttl_expire_and_persist() {
    let db = TestDb::new();
    db.cmd(["set", "k", "v", "--ttl", "2h"]).run().code(0);
    let left = db.ttl("k");
    assert!((7000..=7200).contains(&left), "{left}");
    db.cmd(["expire", "k", "10m"]).run().code(0).quiet();
    let left = db.ttl("k");
    assert!((500..=600).contains(&left), "{left}");
    db.cmd(["persist", "k"]).run().code(0);
    db.cmd(["ttl", "k"]).run().code(0).stdout_is("none\n");
    // A plain write clears an expiry; a conditional one without --ttl too.
    db.cmd(["expire", "k", "7d"]).run().code(0);
    db.cmd(["set", "k", "v2"]).run().code(0);
    db.cmd(["ttl", "k"]).run().code(0).stdout_is("none\n");
    // --expire-at, in Unix seconds.
    let at = now_secs() + 3 * 3600;
    db.cmd(["set", "at", "v", "--expire-at", &at.to_string()])
        .run()
        .code(0);
    let left = db.ttl("at");
    assert!((3 * 3600 - 120..=3 * 3600).contains(&left), "{left}");
    // A deadline already past stores a key that is at once absent.
    db.cmd(["set", "past", "v", "--expire-at", "1000"])
        .run()
        .code(0);
    db.cmd(["exists", "past"]).run().code(1);
    // A missing key: exit 1 and one line, or nothing with -q.
    for args in [
        &["ttl", "nope"][..],
        &["expire", "nope", "5"],
        &["persist", "nope"],
    ] {
        db.cmd(args)
            .run()
            .code(1)
            .stdout_is("")
            .one_line_error()
            .stderr_matches(contains("'nope' not found"));
    }
    db.cmd(["-q", "ttl", "nope"]).run().code(1).quiet();
    db.cmd(["exists", "nope"]).run().code(1);
}

#[test]
fn bad_durations_are_one_line_and_change_nothing() {
    let db = TestDb::new();
    db.cmd(["set", "k", "v"]).run().code(0);
    for bad in [
        "0",
        "1.5h",
        "-5",
        "5x",
        "m",
        "10 m",
        "99999999999999999999d",
    ] {
        let refused = db.cmd(["expire", "k", bad]).run().code(2).one_line_error();
        // clap itself refuses what looks like an option (`-5`).
        if !bad.starts_with('-') {
            refused.stderr_matches(contains("duration"));
        }
        db.cmd(["set", "k", "w", "--ttl", bad])
            .run()
            .code(2)
            .one_line_error();
    }
    db.cmd(["set", "k", "w", "--expire-at", "soon"])
        .run()
        .code(2)
        .one_line_error();
    db.cmd(["set", "k", "w", "--ttl", "1h", "--expire-at", "5"])
        .run()
        .code(2);
    db.cmd(["get", "k"]).run().code(0).stdout_is("v\n");
    db.cmd(["ttl", "k"]).run().code(0).stdout_is("none\n");
}

#[test]
fn every_format_round_trips_the_expiry() {
    let far_ms = FAR * 1000;
    for format in ["tsv", "jsonl", "resp"] {
        let db = TestDb::new();
        db.cmd(["set", "plain", "p"]).run().code(0);
        db.cmd(["set", "tab\tkey", "v\n", "--expire-at", &FAR.to_string()])
            .run()
            .code(0);
        let dump = db.cmd(["dump", "--format", format]).run().code(0);
        let text = dump.stdout_str();
        assert!(text.contains(&far_ms.to_string()), "{format}: {text}");
        let copy = TestDb::new();
        copy.cmd(["load", "--format", format])
            .stdin(dump.stdout())
            .run()
            .code(0);
        copy.cmd(["dump", "--format", format])
            .run()
            .code(0)
            .stdout_is(dump.stdout());
        let before = now_secs();
        let left = copy.ttl("tab\tkey");
        // The same deadline, give or take the second the command took.
        let after = now_secs();
        assert!(
            (FAR - after - 1..=FAR - before + 1).contains(&left),
            "{format}: {left}"
        );
        copy.cmd(["ttl", "plain"]).run().code(0).stdout_is("none\n");
    }
}

#[test]
fn a_pair_already_expired_in_a_dump_stores_nothing() {
    let db = TestDb::new();
    db.cmd(["set", "old", "kept"]).run().code(0);
    let far = (FAR * 1000).to_string();
    let tsv = format!("old\tstale\t1000\nnew\tfresh\t{far}\ngone\tx\t1\n");
    db.cmd(["load"]).stdin(tsv).run().code(0);
    db.cmd(["get", "old", "new"])
        .run()
        .code(0)
        .stdout_is("kept\nfresh\n");
    db.cmd(["exists", "gone"]).run().code(1);
    let jsonl = "{\"key\":\"j\",\"value\":\"v\",\"expires_at\":5}\n";
    db.cmd(["load", "--format", "jsonl"])
        .stdin(jsonl)
        .run()
        .code(0);
    db.cmd(["exists", "j"]).run().code(1);
    // With --replace, the database becomes the dump's live pairs only.
    db.cmd(["load", "--replace"])
        .stdin("a\t1\nb\t2\t1000\n")
        .run()
        .code(0);
    db.cmd(["keys"]).run().code(0).stdout_is("a\n");
    // A bad expiry column is a bad line: nothing stored.
    db.cmd(["load"])
        .stdin("c\t3\nd\t4\tsoon\n")
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(contains("line 2"));
    db.cmd(["exists", "c"]).run().code(1);
}
