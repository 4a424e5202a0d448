//! Ctrl-C during a long command says in one line what state it left, and
//! exits 130 (papercut from a new user's review: it exited 130 without a
//! word): a load stored nothing, a dump's output is incomplete.

mod util;

use std::io::Write;
use std::process::{Child, Stdio};

use util::TestDb;
use util::serve::eventually;

/// Waits until `child` holds the database (its pid is in the lock file):
/// its Ctrl-C handler is in place before it reaches the database.
fn holds_the_lock(db: &TestDb, child: &Child) {
    let pid = child.id().to_string();
    eventually("the command to take the lock", || {
        std::fs::read_to_string(db.path.join("LOCK"))
            .is_ok_and(|l| l.split_whitespace().next() == Some(pid.as_str()))
    });
}

fn interrupt(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn an_interrupted_load_stores_nothing_and_says_so() {
    let db = TestDb::new();
    db.cmd(["set", "before", "1"]).run().code(0);
    let mut load = util::base_command(db.tmp.path())
        .arg("-d")
        .arg(&db.path)
        .arg("load")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = load.stdin.take().unwrap();
    for i in 0..10_000 {
        writeln!(input, "k{i}\tv{i}").unwrap();
    }
    holds_the_lock(&db, &load);
    interrupt(&load);
    let out = load.wait_with_output().unwrap();
    drop(input);
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tinykv: load interrupted (Ctrl-C): nothing was stored\n"
    );
    db.cmd(["count"]).run().code(0).stdout_is("1\n");
    db.cmd(["check"]).run().code(0).stdout_is("ok\n");
}

#[test]
fn an_interrupted_dump_says_its_output_is_incomplete() {
    let db = TestDb::new();
    let pairs: String = (0..200_000)
        .map(|i| format!("key{i:07}\t{}\n", "v".repeat(100)))
        .collect();
    db.cmd(["load"]).stdin(pairs).run().code(0);
    // Its stdout is a pipe nobody reads: the dump blocks, holding the lock.
    let dump = util::base_command(db.tmp.path())
        .arg("-d")
        .arg(&db.path)
        .arg("dump")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    holds_the_lock(&db, &dump);
    interrupt(&dump);
    let out = dump.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tinykv: dump interrupted (Ctrl-C): its output is incomplete\n"
    );
    db.cmd(["count"]).run().code(0).stdout_is("200000\n");
}
