//! Another user's database, which this user may read but not write, and
//! its owner: while the owner's one-shot command holds it, a read waits
//! for it like for any one-shot holder, and `--wait 0` says at once that
//! the database is read-only here and whose process holds it; while a
//! read holds its shared lock (a dump into a pipe nobody reads yet), the
//! owner's write waits for it, and both finish once the pipe is read.
//! Needs root (to be another user with setpriv); skipped with a notice
//! otherwise.

mod util;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use predicates::prelude::*;
use util::TestDb;
use util::read_only::{Reader, is_root};

#[test]
fn another_users_database_is_read_around_its_owners_writes() {
    if !is_root() {
        eprintln!("notice: skipped (needs root, to read as another user)");
        return;
    }
    let Some(nobody) = Reader::find() else {
        return;
    };
    let db = TestDb::new();
    let home = db.tmp.path();
    let mut tsv = String::new();
    for i in 0..3000 {
        tsv.push_str(&format!("key{i:04}\t{}\n", "v".repeat(100)));
    }
    db.cmd(["load"]).stdin(tsv).run().code(0);
    db.cmd(["set", "held", "yes"]).run().code(0);
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o755)).unwrap();

    // The owner's one-shot command holds the lock.
    let fifo = db.file("input.tsv");
    let holder = util::start_holder(&db, &fifo);
    nobody
        .cmd(home, &db.path, &["--wait", "0", "get", "held"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains(format!(
            "database {} is read-only here and locked by another tinykv process (pid {}) \
             of another user (uid 0); use --wait SECONDS to wait for it",
            db.path.display(),
            holder.id()
        )));
    let waiter = nobody
        .cmd(home, &db.path, &["get", "loaded"])
        .cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    util::release_holder(holder, &fifo, b"loaded\tby the owner\n");
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), &b"by the owner\n"[..]),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A read holds its shared lock until its output is read.
    let want = db.cmd(["dump"]).run().code(0).stdout().to_vec();
    let mut dump = nobody
        .cmd(home, &db.path, &["dump"])
        .cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = dump.stdout.take().unwrap();
    let mut got = vec![0u8; 1];
    out.read_exact(&mut got).unwrap(); // It has the database open.
    db.cmd(["--wait", "0", "set", "k", "v"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains("locked"));
    let writer = db
        .cmd(["set", "k", "v"])
        .cmd
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    out.read_to_end(&mut got).unwrap();
    assert!(dump.wait().unwrap().success());
    assert_eq!(got, want, "the dump");
    let written = writer.wait_with_output().unwrap();
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    db.cmd(["get", "k"]).run().code(0).stdout_is("v\n");
}
