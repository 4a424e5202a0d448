//! set, get and del from the command line: output, exit codes, stdin values,
//! `--raw`, `-q`, and bytes that are not UTF-8.

mod util;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use predicates::prelude::*;
use util::TestDb;

#[test]
fn set_prints_nothing_and_get_prints_the_value_and_a_newline() {
    let db = TestDb::new();
    db.cmd(["set", "greeting", "hello world"])
        .run()
        .code(0)
        .stdout_is("")
        .quiet();
    db.cmd(["get", "greeting"])
        .run()
        .code(0)
        .stdout_is("hello world\n")
        .quiet();
    db.cmd(["set", "greeting", "again"]).run().code(0);
    db.cmd(["get", "greeting"]).run().stdout_is("again\n");
}

#[test]
fn value_from_stdin_is_byte_exact() {
    let db = TestDb::new();
    let value: Vec<u8> = (0u8..=255).chain(*b"\n\r\t\0").collect();
    db.cmd(["set", "bin"])
        .stdin(&value)
        .run()
        .code(0)
        .stdout_is("");
    db.cmd(["get", "--raw", "bin"])
        .run()
        .code(0)
        .stdout_is(&value);
    db.cmd(["set", "dash", "-"])
        .stdin("from stdin")
        .run()
        .code(0);
    db.cmd(["get", "dash"]).run().stdout_is("from stdin\n");
    db.cmd(["set", "empty"]).run().code(0);
    db.cmd(["get", "--raw", "empty"]).run().stdout_is("");
}

#[test]
fn missing_keys_exit_1_and_the_others_are_still_printed() {
    let db = TestDb::new();
    db.cmd(["set", "a", "1"]).run().code(0);
    db.cmd(["set", "c", "3"]).run().code(0);
    db.cmd(["get", "a", "b", "c"])
        .run()
        .code(1)
        .stdout_is("1\n3\n")
        .stderr_matches(predicate::str::contains("'b' not found"))
        .one_line_error();
    db.cmd(["-q", "get", "b"])
        .run()
        .code(1)
        .stdout_is("")
        .quiet();
    db.cmd(["get", "b", "-q"]).run().code(1).quiet();
}

#[test]
fn del_deletes_each_key_and_exits_1_when_one_was_missing() {
    let db = TestDb::new();
    db.script("set a 1\nset b 2\n");
    db.cmd(["del", "a", "nope", "b"])
        .run()
        .code(1)
        .stdout_is("")
        .stderr_matches(predicate::str::contains("'nope' not found"));
    db.cmd(["get", "a"]).run().code(1);
    db.cmd(["get", "b"]).run().code(1);
    db.cmd(["del", "-q", "a"]).run().code(1).quiet();
    db.cmd(["set", "x", "1"]).run().code(0);
    db.cmd(["del", "x"]).run().code(0).stdout_is("").quiet();
}

#[test]
fn invalid_utf8_arguments_are_raw_bytes() {
    let db = TestDb::new();
    let key = OsStr::from_bytes(b"k\xff\xfe");
    let value = OsStr::from_bytes(b"v\xc3\x28");
    db.cmd([key, value]).run().code(2); // not a command: a usage error
    db.cmd([OsStr::new("set"), key, value]).run().code(0);
    db.cmd([OsStr::new("get"), key])
        .run()
        .code(0)
        .stdout_is(b"v\xc3\x28\n");
    db.cmd(["keys"]).run().stdout_is("k\\xff\\xfe\n");
    db.cmd([OsStr::new("get"), OsStr::from_bytes(b"\xff")])
        .run()
        .code(1)
        .stderr_matches(predicate::str::contains("'\\xff' not found"));
}

#[test]
fn get_raw_takes_exactly_one_key() {
    let db = TestDb::new();
    db.cmd(["get", "--raw", "a", "b"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains("--raw"));
}

#[test]
fn bad_keys_and_values_are_clear_errors_and_store_nothing() {
    let db = TestDb::new();
    db.cmd(["set", "", "v"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains("key"));
    let long_key = "k".repeat(64 * 1024 + 1);
    db.cmd(["set", &long_key, "v"])
        .run()
        .code(2)
        .one_line_error();
    db.cmd(["keys"]).run().code(0).stdout_is("");
}

#[test]
fn sync_never_still_keeps_writes_after_exit() {
    let db = TestDb::new();
    db.cmd(["--sync", "never", "set", "k", "v"]).run().code(0);
    db.cmd(["get", "k"]).run().stdout_is("v\n");
}

#[test]
fn tinykv_dir_env_and_default_dir() {
    let db = TestDb::new();
    db.cmd(["set", "k", "v"]).run().code(0);
    let mut cmd = util::base_command(db.tmp.path());
    let out = cmd
        .env("TINYKV_DIR", &db.path)
        .args(["get", "k"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"v\n");
    // Without -d or TINYKV_DIR: $XDG_DATA_HOME/tinykv, created on first use.
    let xdg = db.file("xdg");
    let status = util::base_command(db.tmp.path())
        .env("XDG_DATA_HOME", &xdg)
        .args(["set", "a", "b"])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        xdg.join("tinykv").join("wal.log").exists(),
        "{}",
        util::listing(&xdg)
    );
    // …else ~/.local/share/tinykv.
    let status = util::base_command(db.tmp.path())
        .args(["set", "a", "b"])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(db.tmp.path().join(".local/share/tinykv").is_dir());
}

#[test]
fn empty_tinykv_dir_yields_to_dir_and_never_means_the_default() {
    let db = TestDb::new();
    // An explicit --dir wins over an empty variable.
    db.cmd(["set", "k", "v"])
        .env("TINYKV_DIR", "")
        .run()
        .code(0);
    db.cmd(["get", "k"])
        .env("TINYKV_DIR", "")
        .run()
        .stdout_is("v\n");
    // Alone, it is refused by name, and the default database is untouched.
    let xdg = db.file("xdg");
    let out = util::base_command(db.tmp.path())
        .env("TINYKV_DIR", "")
        .env("XDG_DATA_HOME", &xdg)
        .args(["set", "a", "b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        "tinykv: TINYKV_DIR is set but empty (name a directory, or unset it for the default)\n"
    );
    assert!(!xdg.exists(), "{}", util::listing(&xdg));
}
