//! A REPL owns the database and serves it meanwhile: one-shot commands
//! from another shell work (and the REPL sees their writes at its next
//! command); a second REPL works through the first and says so in its
//! banner; once both have left, the database is free.

mod util;

use util::TestDb;
use util::tmux::Tmux;

fn repl(name: &str, db: &TestDb) -> Option<Tmux> {
    let dir = db.path.to_str().unwrap().to_owned();
    Tmux::start(name, db.tmp.path(), &[], &["-d", &dir])
}

#[test]
fn a_repl_serves_its_database_to_commands_and_to_a_second_repl() {
    let db = TestDb::new();
    db.cmd(["set", "one", "1"]).run().code(0);
    let Some(first) = repl("owner", &db) else {
        return;
    };
    let screen = first.wait_prompts(1);
    assert!(!screen.contains("Owned by"), "{screen}");

    db.cmd(["--wait", "0", "set", "outside", "from a shell"])
        .run()
        .code(0);
    db.cmd(["--wait", "0", "get", "one"])
        .run()
        .code(0)
        .stdout_is("1\n");
    first.type_text("get outside");
    first.send(&["Enter"]);
    first.wait_text("\"from a shell\"");
    first.wait_prompts(2);

    let Some(second) = repl("second", &db) else {
        return;
    };
    let screen = second.wait_prompts(1);
    assert!(
        screen.contains(&format!("— {} (2 keys)", db.path.display()))
            && screen.contains("Owned by a tinykv REPL (pid "),
        "{screen}"
    );
    second.type_text("set from2 'the second repl'");
    second.send(&["Enter"]);
    second.wait_prompts(2);
    second.type_text("keys");
    second.send(&["Enter"]);
    second.wait_text("3) \"outside\"");
    second.wait_prompts(3);
    first.type_text("get from2");
    first.send(&["Enter"]);
    first.wait_text("\"the second repl\"");
    first.wait_prompts(3);
    // recover needs the database to itself, even from the second REPL.
    second.type_text("recover");
    second.send(&["Enter"]);
    second.wait_text("(error) cannot recover");
    second.wait_prompts(4);

    second.send(&["C-d"]);
    second.wait_exit();
    first.send(&["C-d"]);
    first.wait_exit();
    db.cmd(["--wait", "0", "get", "from2"])
        .run()
        .code(0)
        .stdout_is("the second repl\n");
}
