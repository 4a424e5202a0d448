//! Conditional writes from the shell: `set --nx`, `--xx` and `--if-eq`
//! (compare-and-set) store only when their condition holds, else exit 1
//! with one line (none with `-q`) and store nothing; `rename` moves a
//! value and its expiry at once, `--nx` only onto a free name.

mod util;

use predicates::str::contains;
use util::TestDb;

#[test]
fn a_condition_not_met_stores_nothing_and_exits_1() {
    let db = TestDb::new();
    db.cmd(["set", "k", "v1", "--nx"]).run().code(0).quiet();
    db.cmd(["set", "k", "v2", "--nx"])
        .run()
        .code(1)
        .stdout_is("")
        .one_line_error()
        .stderr_matches(contains("already set"));
    db.cmd(["-q", "set", "k", "v2", "--nx"])
        .run()
        .code(1)
        .quiet();
    db.cmd(["set", "k", "v2", "--xx"]).run().code(0);
    db.cmd(["set", "absent", "v", "--xx"])
        .run()
        .code(1)
        .one_line_error()
        .stderr_matches(contains("not set"));
    db.cmd(["exists", "absent"]).run().code(1);
    db.cmd(["set", "k", "v3", "--if-eq", "v1"])
        .run()
        .code(1)
        .one_line_error();
    db.cmd(["get", "k"]).run().code(0).stdout_is("v2\n");
    db.cmd(["set", "k", "v3", "--if-eq", "v2"]).run().code(0);
    db.cmd(["get", "k"]).run().code(0).stdout_is("v3\n");
    // --if-eq on a missing key never holds (not even --if-eq '').
    db.cmd(["set", "absent", "v", "--if-eq", ""]).run().code(1);
    // A value from stdin under a condition.
    db.cmd(["set", "k", "--if-eq", "v3"])
        .stdin("from stdin")
        .run()
        .code(0);
    db.cmd(["get", "k"]).run().code(0).stdout_is("from stdin\n");
    // Conditions exclude each other.
    db.cmd(["set", "k", "v", "--nx", "--xx"])
        .run()
        .code(2)
        .one_line_error();
    db.cmd(["set", "k", "v", "--nx", "--if-eq", "x"])
        .run()
        .code(2);
    // A lock with a lease: set --nx --ttl.
    db.cmd(["set", "lock", "me", "--nx", "--ttl", "30s"])
        .run()
        .code(0);
    db.cmd(["set", "lock", "you", "--nx", "--ttl", "30s"])
        .run()
        .code(1);
    let left = db.ttl("lock");
    assert!((1..=30).contains(&left), "{left}");
}

#[test]
fn compare_and_set_lets_one_of_eight_writers_win() {
    let db = TestDb::new();
    db.cmd(["set", "v", "0"]).run().code(0);
    // Eight writers each try to move 0 -> their name: exactly one wins.
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let (home, dir) = (db.tmp.path().to_owned(), db.path.clone());
            std::thread::spawn(move || {
                util::base_command(&home)
                    .arg("-d")
                    .arg(&dir)
                    .args(["set", "v", &format!("w{w}"), "--if-eq", "0"])
                    .output()
                    .unwrap()
                    .status
                    .code()
            })
        })
        .collect();
    let codes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        1,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == Some(1)).count(),
        7,
        "{codes:?}"
    );
    let won = db.cmd(["get", "v"]).run().code(0).stdout_str();
    assert!(won.starts_with('w'), "{won}");
}

#[test]
fn rename_moves_the_value_and_its_expiry() {
    let db = TestDb::new();
    db.cmd(["set", "draft", "text", "--ttl", "2h"])
        .run()
        .code(0);
    db.cmd(["set", "taken", "other"]).run().code(0);
    db.cmd(["rename", "draft", "post"]).run().code(0).quiet();
    db.cmd(["exists", "draft"]).run().code(1);
    db.cmd(["get", "post"]).run().code(0).stdout_is("text\n");
    let left = db.ttl("post");
    assert!((7000..=7200).contains(&left), "{left}");
    db.cmd(["rename", "post", "taken", "--nx"])
        .run()
        .code(1)
        .one_line_error()
        .stderr_matches(contains("'taken' is already set"));
    db.cmd(["get", "post", "taken"])
        .run()
        .code(0)
        .stdout_is("text\nother\n");
    db.cmd(["rename", "missing", "x"])
        .run()
        .code(1)
        .one_line_error()
        .stderr_matches(contains("'missing' not found"));
    db.cmd(["exists", "x"]).run().code(1);
    // Without --nx the new name is replaced, expiry and all.
    db.cmd(["rename", "post", "taken"]).run().code(0);
    db.cmd(["get", "taken"]).run().code(0).stdout_is("text\n");
    db.cmd(["keys"]).run().code(0).stdout_is("taken\n");
    // Renaming a key onto itself keeps it.
    db.cmd(["rename", "taken", "taken"]).run().code(0);
    db.cmd(["get", "taken"]).run().code(0).stdout_is("text\n");
}
