//! A second process on a locked database fails at once with the path and
//! the holder's pid, and succeeds under `--wait` once the holder exits.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::Instant;

use predicates::prelude::*;
use util::TestDb;

/// A `tinykv` script process holding the lock; replies are read line by line.
struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Holder {
    fn start(db: &TestDb) -> Holder {
        let mut child = util::base_command(db.tmp.path())
            .arg("-d")
            .arg(&db.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Holder {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends a line and returns its one-line reply.
    fn ask(&mut self, line: &str) -> String {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).unwrap();
        reply
    }

    /// Closes stdin: the script ends and the holder exits.
    fn finish(mut self) {
        drop(self.stdin.take());
        assert!(self.child.wait().unwrap().success());
    }
}

#[test]
fn a_locked_database_is_refused_at_once_naming_path_and_pid() {
    let db = TestDb::new();
    let mut holder = Holder::start(&db);
    // Its reply proves it has opened (and locked) the database.
    assert_eq!(holder.ask("set held yes"), "OK\n");
    let pid = holder.child.id();

    let start = Instant::now();
    db.cmd(["get", "held"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains(db.path.display().to_string()))
        .stderr_matches(predicate::str::contains(format!("pid {pid}")))
        .stderr_matches(predicate::str::contains("locked"));
    assert!(start.elapsed().as_secs() < 5, "refusal was not at once");
    db.cmd(["set", "other", "x"]).run().code(2);
    db.cmd(["check"])
        .run()
        .code(2)
        .stderr_matches(predicate::str::contains("locked"));

    // A waiter started while the lock is held gets it once the holder exits.
    let waiter = util::base_command(db.tmp.path())
        .arg("-d")
        .arg(&db.path)
        .args(["--wait", "10", "get", "held"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The holder still answers, so it still holds the lock while the waiter runs.
    assert_eq!(holder.ask("get held"), "yes\n");
    holder.finish();
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"yes\n");
}
