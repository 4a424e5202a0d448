//! Reads never create a database: a mistyped `--dir` is an error naming
//! the path, not a new empty database answering "not found". Writes create
//! it (with its parents) on first use. The same in a script, whose lines
//! are reads or writes one by one (a script that only read used to create
//! the directory: new-user review).

mod util;

use predicates::prelude::*;
use util::TestDb;

#[test]
fn reads_refuse_a_missing_directory_and_writes_create_it() {
    let db = TestDb::new();
    for args in [
        vec!["get", "a"],
        vec!["keys"],
        vec!["dump"],
        vec!["stats"],
        vec!["compact"],
        vec!["check"],
    ] {
        db.cmd(&args)
            .run()
            .code(2)
            .one_line_error()
            .stderr_matches(predicate::str::contains(db.path.display().to_string()));
        assert!(!db.path.exists(), "{args:?} created {}", db.path.display());
    }
    db.cmd(["set", "a", "1"]).run().code(0);
    db.cmd(["get", "a"]).run().code(0).stdout_is("1\n");
}

#[test]
fn a_script_creates_its_database_at_its_first_write_only() {
    let db = TestDb::new();
    for args in [vec![], vec!["--bail"]] {
        let out = db.cmd(&args).stdin("get a\nkeys\ncount\n").run().code(2);
        let err = out.stderr_str();
        assert_eq!(
            err.lines().count(),
            if args.is_empty() { 3 } else { 1 },
            "{err}"
        );
        assert!(
            err.starts_with("tinykv: line 1: ") && err.contains("cannot open database"),
            "{err}"
        );
        assert!(
            !db.path.exists(),
            "a script of reads created {}",
            db.path.display()
        );
    }
    // A read that fails, then a write that creates the database, then a
    // read that works.
    let out = db
        .cmd::<_, &str>([])
        .stdin("get a\nset a 1\nget a\n")
        .run()
        .code(2);
    assert_eq!(out.stdout_str(), "OK\n1\n");
    assert_eq!(out.stderr_str().lines().count(), 1, "{}", out.stderr_str());
    db.cmd(["get", "a"]).run().code(0).stdout_is("1\n");
}
