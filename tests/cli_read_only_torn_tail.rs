//! A torn tail in a database this user cannot write is read around, never
//! cut: reads print every intact record with one warning that the tail is
//! left where it is, `check` reports it (exit 1), a backup holds the intact
//! records only, and the directory is unchanged, so that the next open
//! that can write finds the tail and cuts it.

mod util;

use std::os::unix::fs::PermissionsExt;

use predicates::prelude::*;
use util::TestDb;
use util::read_only::{ReadOnlyCopy, Reader, digest};

#[test]
fn a_torn_tail_is_read_around_and_left_in_place() {
    let Some(reader) = Reader::find() else {
        return;
    };
    let db = TestDb::new();
    db.cmd(["set", "a", "1"]).run().code(0);
    db.cmd(["set", "b", "2"]).run().code(0);
    let wal = db.path.join("wal.log");
    let mut log = std::fs::read(&wal).unwrap();
    let intact = log.len();
    // The first bytes of a record whose write was cut short by a crash.
    log.extend_from_slice(&[0x41, 0x07, 0x00]);
    std::fs::write(&wal, &log).unwrap();

    let home = db.tmp.path();
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = ReadOnlyCopy::new(&db.path, &db.file("ro"));
    let before = digest(&ro.path);
    let left = format!(
        "warning: {}: left a torn tail of 3 bytes (at offset {intact}",
        ro.path.join("wal.log").display()
    );
    reader
        .cmd(home, &ro.path, &["dump"])
        .run()
        .code(0)
        .stdout_is("a\t1\nb\t2\n")
        .stderr_matches(predicate::str::starts_with(format!("tinykv: {left}")))
        .stderr_matches(predicate::str::contains("the database is read-only here"))
        .stderr_matches(predicate::function(|e: &str| e.lines().count() == 1));
    reader
        .cmd(home, &ro.path, &["check"])
        .run()
        .code(1)
        .stdout_matches(predicate::str::contains(format!(
            "{}: offset {intact}: ",
            ro.path.join("wal.log").display()
        )));
    let backups = db.file("backups");
    std::fs::create_dir(&backups).unwrap();
    std::fs::set_permissions(&backups, std::fs::Permissions::from_mode(0o777)).unwrap();
    let copy = backups.join("copy");
    reader
        .cmd(home, &ro.path, &["-q", "backup", copy.to_str().unwrap()])
        .run()
        .code(0);
    db.cmd_on(&copy, ["check"]).run().code(0).stdout_is("ok\n");
    let copied = std::fs::read(copy.join("wal.log")).unwrap();
    assert_eq!(copied, log[..intact], "the backup holds the intact records");
    assert_eq!(digest(&ro.path), before, "the read-only copy changed");
    assert_eq!(std::fs::read(ro.path.join("wal.log")).unwrap(), log);

    // The tail is still there for the next open that can write.
    drop(ro);
    db.cmd_on(&db.file("ro"), ["get", "b"])
        .run()
        .code(0)
        .stdout_is("2\n")
        .stderr_matches(predicate::str::contains("cut a torn tail of 3 bytes"));
}
