//! Script mode: lines from stdin or `-f FILE`, replies on stdout, errors on
//! stderr with their line number, exit 2 if any line failed, `--bail`.

mod util;

use predicates::prelude::*;
use util::TestDb;

#[test]
fn replies_one_line_each_and_skips_comments() {
    let db = TestDb::new();
    let script = "# a comment\n\nset a 1\nset \"b c\" 'x y'\nget a\nget \"b c\"\nget nope\nexists a\ncount\nlen\nkeys\ndel a\nget --raw \"b c\"\n";
    db.cmd::<_, &str>([])
        .stdin(script)
        .run()
        .code(0)
        .quiet()
        .stdout_is("OK\nOK\n1\nx y\n(nil)\n1\n2\n2\na\nb c\nOK\nx y");
}

#[test]
fn errors_name_their_line_and_the_script_goes_on() {
    let db = TestDb::new();
    let script = "set a 1\nsett b 2\n\nget 'unclosed\nset c 3\n";
    let out = db
        .cmd::<_, &str>([])
        .stdin(script)
        .run()
        .code(2)
        .stdout_is("OK\nOK\n")
        .stderr_matches(predicate::str::contains(
            "tinykv: line 2: unknown command 'sett'; did you mean 'set'?",
        ))
        .stderr_matches(predicate::str::contains("tinykv: line 4: unclosed ' quote"));
    assert_eq!(out.stderr_str().lines().count(), 2);
    db.cmd(["get", "c"]).run().code(0).stdout_is("3\n");
}

#[test]
fn bail_stops_at_the_first_error() {
    let db = TestDb::new();
    db.cmd(["--bail"])
        .stdin("set a 1\nbogus\nset b 2\n")
        .run()
        .code(2)
        .stdout_is("OK\n")
        .stderr_matches(predicate::str::contains("line 2"));
    db.cmd(["get", "b"]).run().code(1);
}

#[test]
fn script_from_a_file_with_escapes() {
    let db = TestDb::new();
    let file = db.file("script.tkv");
    std::fs::write(&file, "set k \"tab\\there\\x00nul\"\nget --raw k\n").unwrap();
    db.cmd(["-f".as_ref(), file.as_os_str()])
        .run()
        .code(0)
        .stdout_is(b"OK\ntab\there\x00nul");
    db.cmd(["-f", "/nonexistent/script"])
        .run()
        .code(2)
        .one_line_error();
}

#[test]
fn exit_ends_the_script_and_lines_that_need_stdin_refuse() {
    let db = TestDb::new();
    db.cmd::<_, &str>([])
        .stdin("set a 1\nexit\nset b 2\n")
        .run()
        .code(0)
        .stdout_is("OK\n");
    // In a script read from stdin, stdin is not free for a value or a dump.
    db.cmd::<_, &str>([])
        .stdin("bogus\nset x\nload\n")
        .run()
        .code(2)
        .stderr_matches(
            predicate::str::contains("line 1")
                .and(predicate::str::contains("line 2"))
                .and(predicate::str::contains("line 3")),
        );
    // recover works in a script too, on the open database.
    db.cmd::<_, &str>([])
        .stdin("recover\nget a\n")
        .run()
        .code(0)
        .stdout_matches(predicate::str::contains("kept").and(predicate::str::ends_with("1\n")));
}

#[test]
fn dump_and_load_work_inside_a_script() {
    let db = TestDb::new();
    let file = db.file("in.tsv");
    std::fs::write(&file, "x\t1\ny\t2\n").unwrap();
    db.cmd::<_, &str>([])
        .stdin(format!(
            "load {}\ndump --format jsonl --prefix y\n",
            file.display()
        ))
        .run()
        .code(0)
        .stdout_is("OK\n{\"key\":\"y\",\"value\":\"2\"}\n");
}

#[test]
fn an_unknown_command_in_invalid_utf8_is_escaped_not_replaced() {
    let db = TestDb::new();
    db.cmd::<_, &str>([])
        .stdin(&b"g\xffet k\n"[..])
        .run()
        .code(2)
        .stderr_matches(predicate::str::diff(
            "tinykv: line 1: unknown command 'g\\xffet'; did you mean 'get'?\n",
        ));
}
