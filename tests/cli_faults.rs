//! I/O failures below the product, driven from the command line: the test
//! build of `tinykv` reads `TINYKV_TEST_OPTIONS=fault=OP:NTH:KIND[:persistent]`
//! and fails that file operation. A failed command exits 2 with one clear
//! line, and the database afterwards holds exactly the acknowledged writes.

mod util;

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
    db.script("set c 3\ndel a\nset b 22\n");
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
