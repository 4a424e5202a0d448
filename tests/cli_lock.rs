//! A one-shot command that holds the lock (it serves no one) is waited for:
//! up to `--wait` (5 s unless told otherwise), after which the refusal names
//! the path and the holder's pid and says how to wait longer; `--wait 0`
//! fails at once. A command that waits gets the database once the holder
//! exits.

mod util;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;
use util::TestDb;

#[test]
fn a_one_shot_holder_is_waited_for_and_named_when_it_is_not_released() {
    let db = TestDb::new();
    db.cmd(["set", "held", "yes"]).run().code(0);
    let fifo = db.file("input.tsv");
    let holder = util::start_holder(&db, &fifo);
    let pid = holder.id();

    let start = Instant::now();
    db.cmd(["--wait", "0", "get", "held"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains(db.path.display().to_string()))
        .stderr_matches(predicate::str::contains(format!("pid {pid}")))
        .stderr_matches(predicate::str::contains(
            "use --wait SECONDS to wait for it",
        ));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "refusal was not at once"
    );
    db.cmd(["--wait", "0.3", "set", "other", "x"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains(format!("pid {pid}")))
        .stderr_matches(predicate::str::contains("was not released within 0.300s"));
    db.cmd(["check"])
        .env("TINYKV_WAIT", "0")
        .run()
        .code(2)
        .stderr_matches(predicate::str::contains("locked"));

    // Waiters with the default wait, started while the lock is held, get the
    // database once the holder has stored its input and exited.
    let waiters: Vec<Child> = ["held", "loaded"]
        .iter()
        .map(|key| {
            util::base_command(db.tmp.path())
                .arg("-d")
                .arg(&db.path)
                .args(["get", key])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    util::release_holder(holder, &fifo, b"loaded\tby the holder\n");
    for (waiter, want) in waiters.into_iter().zip(["yes\n", "by the holder\n"]) {
        let out = waiter.wait_with_output().unwrap();
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).as_ref()
            ),
            (Some(0), want),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
