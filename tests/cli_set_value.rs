//! Where `set` takes its value (papercuts from a new user's review): on a
//! terminal it says that it reads the value until Ctrl-D, never waiting
//! without a word; `--value -` stores the one byte `-` (the REPL and
//! scripts included, where a quoted "-" still means stdin); a closed
//! standard input is refused, not stored as an empty value.

mod util;

use util::TestDb;
use util::tmux::Tmux;

#[test]
fn a_literal_dash_and_a_closed_stdin() {
    let db = TestDb::new();
    db.cmd(["set", "dash", "--value", "-"]).run().code(0);
    db.cmd(["get", "dash"]).run().code(0).stdout_is("-\n");
    db.cmd(["set", "flag", "--value", "--not-an-option"])
        .run()
        .code(0);
    db.cmd(["get", "flag"])
        .run()
        .code(0)
        .stdout_is("--not-an-option\n");
    db.script("set s --value -\nget s\n").stdout_is("OK\n-\n");
    // Closed (the shell's <&-), then /dev/null: both refused, nothing stored.
    let closed = std::process::Command::new("sh")
        .args([
            "-c",
            &format!("'{}' -d '{}' set k <&-", util::bin(), db.path.display()),
        ])
        .env_clear()
        .env("HOME", db.tmp.path())
        .output()
        .unwrap();
    assert_eq!(closed.status.code(), Some(2));
    let err = String::from_utf8_lossy(&closed.stderr);
    assert!(
        err.contains("stdin is closed") && err.lines().count() == 1,
        "{err}"
    );
    let mut null = util::base_command(db.tmp.path());
    let out = null
        .arg("-d")
        .arg(&db.path)
        .args(["set", "k"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    db.cmd(["get", "k"]).run().code(1);
    // An empty value is given as an argument.
    db.cmd(["set", "k", ""]).run().code(0);
    db.cmd(["get", "k"]).run().code(0).stdout_is("\n");
}

#[test]
fn on_a_terminal_set_says_it_reads_until_ctrl_d() {
    let db = TestDb::new();
    let dir = db.path.to_str().unwrap().to_owned();
    let Some(t) = Tmux::start(
        "set-terminal",
        db.tmp.path(),
        &[],
        &["-d", &dir, "set", "note"],
    ) else {
        return;
    };
    t.wait_text("reading the value of 'note' from the terminal until Ctrl-D");
    t.type_text("typed here");
    // The first Ctrl-D ends the partial line, the second the input (a
    // terminal's canonical mode, as for `cat`).
    t.send(&["C-d"]);
    t.send(&["C-d"]);
    t.wait_exit();
    db.cmd(["get", "--raw", "note"])
        .run()
        .code(0)
        .stdout_is("typed here");
}
