//! Reads never create a database: a mistyped `--dir` is an error naming
//! the path, not a new empty database answering "not found". Writes create
//! it (with its parents) on first use.

mod util;

use predicates::prelude::*;
use util::TestDb;

#[test]
fn reads_refuse_a_missing_directory_and_writes_create_it() {
    let db = TestDb::new();
    for args in [
        vec!["get", "a"],
        vec!["keys"],
        vec!["dump"],
        vec!["stats"],
        vec!["compact"],
        vec!["check"],
    ] {
        db.cmd(&args)
            .run()
            .code(2)
            .one_line_error()
            .stderr_matches(predicate::str::contains(db.path.display().to_string()));
        assert!(!db.path.exists(), "{args:?} created {}", db.path.display());
    }
    db.cmd(["set", "a", "1"]).run().code(0);
    db.cmd(["get", "a"]).run().code(0).stdout_is("1\n");
}
