//! A malformed `load` changes nothing and names the first bad line.

mod util;

use predicates::prelude::*;
use util::TestDb;

#[test]
fn a_bad_line_stores_nothing_and_is_reported_by_number() {
    let db = TestDb::new();
    db.script("set keep me\n");
    let before = db.cmd(["dump"]).run().code(0);
    let dump = "a\t1\nb\t2\nno tab here\nc\t3\n";
    db.cmd(["load"])
        .stdin(dump)
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::starts_with("tinykv: load: stdin: line 3: "));
    db.cmd(["dump"]).run().code(0).stdout_is(before.stdout());

    let file = db.file("bad.jsonl");
    std::fs::write(&file, "{\"key\":\"a\",\"value\":\"1\"}\n{\"key\":\n").unwrap();
    db.cmd(["load".as_ref(), file.as_os_str()])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains(format!(
            "load: {}: line 2: ",
            file.display()
        )));
    db.cmd(["dump"]).run().code(0).stdout_is(before.stdout());

    db.cmd(["load", "--format", "resp"])
        .stdin("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\nGET\r\n")
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains("line 8 (offset 27): "));
    db.cmd(["dump"]).run().code(0).stdout_is(before.stdout());
}

#[test]
fn a_bad_escape_is_caught_too() {
    let db = TestDb::new();
    db.cmd(["load"])
        .stdin("ok\tfine\nbad\\q\tx\n")
        .run()
        .code(2)
        .stderr_matches(predicate::str::contains("line 2"));
    db.cmd(["keys"]).run().code(0).stdout_is("");
}
