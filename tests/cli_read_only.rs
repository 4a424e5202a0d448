//! A database this user cannot write (a copy made read-only with
//! `chmod -R a-w`, read as `nobody` when the tests run as root) is read:
//! `get keys dump count exists stats check` print what they print on the
//! writable original, `backup` copies it to a place the user may write,
//! every write fails with one line saying the database is read-only (exit
//! 2), a script reads it and says its write cannot be made, and not a
//! byte, name, mode or time in its directory changes (PRODUCT.md §7).

mod util;

use std::os::unix::fs::PermissionsExt;

use util::TestDb;
use util::read_only::{ReadOnlyCopy, Reader, fill, reads_work_and_nothing_changes};

#[test]
fn a_database_this_user_cannot_write_is_read_and_never_changed() {
    let Some(reader) = Reader::find() else {
        return;
    };
    let db = TestDb::new();
    fill(&db);
    let home = db.tmp.path();
    // Another user must be able to reach the copy, and to write backups.
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let backups = db.file("backups");
    std::fs::create_dir(&backups).unwrap();
    std::fs::set_permissions(&backups, std::fs::Permissions::from_mode(0o777)).unwrap();
    let ro = ReadOnlyCopy::new(&db.path, &db.file("ro"));
    reads_work_and_nothing_changes(
        &db,
        &ro.path,
        &backups,
        "Permission denied",
        &|args, stdin| reader.cmd(home, &ro.path, args).stdin(stdin).run(),
    );
}
