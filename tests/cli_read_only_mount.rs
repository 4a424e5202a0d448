//! A database on a read-only mount (a bind mount of a copy, remounted
//! read-only) is read even by root, whom no file mode stops: every read
//! prints what it prints on the writable original, `backup` works, every
//! write fails with one line saying the database is read-only, and not a
//! byte, name, mode or time in the directory changes. Needs root and a
//! kernel that lets it mount; skipped with a notice otherwise.

mod util;

use util::TestDb;
use util::read_only::{fill, mounted_copy, reads_work_and_nothing_changes};

#[test]
fn a_database_on_a_read_only_mount_is_read_and_never_changed() {
    let db = TestDb::new();
    fill(&db);
    let Some(ro) = mounted_copy(&db) else {
        return;
    };
    let backups = db.file("backups");
    std::fs::create_dir(&backups).unwrap();
    reads_work_and_nothing_changes(
        &db,
        &ro.path,
        &backups,
        "Read-only file system",
        &|args, stdin| db.cmd_on(&ro.path, args).stdin(stdin).run(),
    );
}
