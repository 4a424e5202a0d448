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

/// Papercut (new-user review): every subcommand's help listed `--bail` and
/// the other global options among its own. `--bail` (scripts only) is now
/// only in `tinykv --help`, and the options every command takes are under
/// their own heading.
#[test]
fn each_command_lists_its_own_options_apart_from_the_global_ones() {
    let db = TestDb::new();
    let top = db.cmd(["--help"]).run().code(0).stdout_str();
    assert!(top.contains("--bail"), "{top}");
    let commands: Vec<String> = top
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        // A command's line starts two spaces in; a wrapped one, further.
        .filter_map(|l| l.strip_prefix("  ").filter(|r| !r.starts_with(' ')))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 15, "{commands:?}");
    for command in &commands {
        let help = db.cmd([command, "--help"]).run().code(0).stdout_str();
        assert!(!help.contains("--bail"), "{command}: {help}");
        let (head, global) = help
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("{command}: no global options heading:\n{help}"));
        let own = head.split_once("Options:").map_or("", |(_, o)| o);
        for flag in ["--dir", "--wait", "--sync", "--quiet"] {
            assert!(
                !own.contains(flag) && global.contains(flag),
                "{command} {flag}: {help}"
            );
        }
    }
}
