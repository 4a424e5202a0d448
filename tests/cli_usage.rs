//! Usage: help and version exit 0; unknown flags, commands and bad values
//! exit 2 with a message and never a panic.

mod util;

use predicates::prelude::*;
use util::TestDb;

#[test]
fn help_and_version_exit_0() {
    let db = TestDb::new();
    db.cmd(["--help"])
        .run()
        .code(0)
        .stdout_matches(predicate::str::contains("Examples:"));
    db.cmd(["--version"])
        .run()
        .code(0)
        .stdout_is(format!("tinykv {}\n", env!("CARGO_PKG_VERSION")));
    for command in [
        "set", "get", "del", "keys", "dump", "load", "compact", "check", "recover", "stats",
        "generate",
    ] {
        db.cmd([command, "--help"])
            .run()
            .code(0)
            .stdout_matches(predicate::str::contains("Example"));
    }
}

#[test]
fn mistakes_exit_2() {
    let db = TestDb::new();
    for args in [
        &["--bogus"][..],
        &["get", "--bogus", "k"],
        &["frobnicate"],
        &["get"],
        &["set"],
        &["dump", "--format", "csv"],
        &["--sync", "sometimes", "get", "k"],
        &["--wait", "-1", "get", "k"],
        &["--wait", "soon", "get", "k"],
        &["generate", "tcsh"],
        &["-f", "script.txt", "get", "k"],
    ] {
        let out = db.cmd(args).run().code(2);
        let err = out.stderr_str();
        assert!(
            !err.is_empty() && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
    // Nothing was created by the mistakes.
    assert!(!db.path.exists());
}

#[test]
fn unknown_command_suggests_the_closest() {
    let db = TestDb::new();
    db.cmd(["sett"])
        .run()
        .code(2)
        .stderr_matches(predicate::str::contains("set"));
}

#[test]
fn a_negative_wait_is_refused_as_a_number_not_as_a_flag() {
    let db = TestDb::new();
    db.cmd(["--wait", "-1", "get", "k"])
        .run()
        .code(2)
        .stderr_matches(predicate::str::contains(
            "`-1` is not a number of seconds ≥ 0",
        ));
}
