//! The REPL as a person uses it, in a real terminal (tmux): typing,
//! quoting, Tab completion of a key, history across sessions, Ctrl-D.

mod util;

use util::TestDb;
use util::tmux::Tmux;

fn start(name: &str, db: &TestDb, histfile: &str) -> Option<Tmux> {
    let dir = db.path.to_str().unwrap().to_owned();
    Tmux::start(
        name,
        db.tmp.path(),
        &[("TINYKV_HISTFILE", histfile)],
        &["-d", &dir],
    )
}

#[test]
fn typing_quoting_and_replies() {
    let db = TestDb::new();
    db.cmd(["set", "one", "1"]).run().code(0);
    let Some(t) = start("typing", &db, "/dev/null") else {
        return;
    };
    let screen = t.wait_prompts(1);
    assert!(
        screen.contains(&format!("tinykv 0.1.0 — {} (1 keys)", db.path.display())),
        "{screen}"
    );
    t.type_text(r#"set "my key" 'a value'"#);
    t.send(&["Enter"]);
    t.wait_prompts(2);
    t.type_text(r#"set bin "tab\there\x00""#);
    t.send(&["Enter"]);
    t.wait_prompts(3);
    t.type_text(r#"get "my key""#);
    t.send(&["Enter"]);
    t.wait_text("\"a value\"");
    t.wait_prompts(4);
    t.type_text("get bin nope");
    t.send(&["Enter"]);
    t.wait_text("1) \"tab\\there\\x00\"\n2) (nil)");
    t.wait_prompts(5);
    t.type_text("sett x");
    t.send(&["Enter"]);
    t.wait_text("(error) unknown command 'sett'; did you mean 'set'?");
    t.wait_prompts(6);
    t.type_text("count");
    t.send(&["Enter"]);
    t.wait_text("(integer) 3");
    t.wait_prompts(7);
    t.type_text("exists one");
    t.send(&["Enter"]);
    t.wait_text("(integer) 1");
    // Ctrl-D leaves, and the lock is released.
    t.wait_prompts(8);
    t.send(&["C-d"]);
    t.wait_exit();
    db.cmd(["get", "my key"])
        .run()
        .code(0)
        .stdout_is("a value\n");
}

#[test]
fn tab_completes_keys_and_commands_and_hints_arguments() {
    let db = TestDb::new();
    db.script("set user:alice 1\nset other 2\nset \"with space\" 3\n");
    let Some(t) = start("tab", &db, "/dev/null") else {
        return;
    };
    t.wait_prompts(1);
    t.type_text("get us");
    t.send(&["Tab"]);
    t.wait_text("tinykv> get user:alice");
    t.send(&["Enter"]);
    t.wait_text("\"1\"");
    t.wait_prompts(2);
    t.type_text("get wi");
    t.send(&["Tab"]);
    t.wait_text("tinykv> get \"with space\"");
    t.send(&["Enter"]);
    t.wait_text("\"3\"");
    t.wait_prompts(3);
    t.type_text("exis");
    t.send(&["Tab"]);
    t.wait_text("tinykv> exists");
    t.send(&["C-u"]);
    t.type_text("set ");
    t.wait_text(
        "tinykv> set [--value VALUE] [--nx] [--xx] [--if-eq OLD] [--ttl DURATION] \
         [--expire-at UNIX_SECONDS] KEY [VALUE]",
    );
    t.send(&["C-u"]);
    t.type_text("dump ");
    t.wait_text("tinykv> dump [--format FORMAT] [--prefix P]");
    t.send(&["C-u"]);
    t.type_text("load --format jsonl ");
    t.wait_text("tinykv> load --format jsonl [--replace] [FILE]");
    t.send(&["C-u"]);
    t.type_text("quit");
    t.send(&["Enter"]);
    t.wait_exit();
}

#[test]
fn history_is_kept_across_sessions() {
    let db = TestDb::new();
    let hist = db.file("history");
    let hist = hist.to_str().unwrap();
    {
        let Some(t) = start("hist1", &db, hist) else {
            return;
        };
        t.wait_prompts(1);
        t.type_text("set remembered yes");
        t.send(&["Enter"]);
        t.wait_text("OK");
        t.wait_prompts(2);
        t.send(&["C-d"]);
        t.wait_exit();
    }
    let t = start("hist2", &db, hist).expect("tmux");
    t.wait_prompts(1);
    t.send(&["Up"]);
    t.wait_text("tinykv> set remembered yes");
    t.send(&["C-u", "C-d"]);
    t.wait_exit();
}

/// Lines typed ahead in one burst (a fast typist, a terminal macro, tmux
/// `send-keys`) all run, in order, as in bash and sqlite3: the line editor
/// keeps what it read past the end of a line for the next one.
#[test]
fn lines_typed_ahead_run_in_order() {
    let db = TestDb::new();
    let Some(t) = start("typeahead", &db, "/dev/null") else {
        return;
    };
    t.wait_prompts(1);
    // One send-keys: the three lines reach the terminal in one write.
    t.send(&[
        "set p5 a",
        "Enter",
        "set p6 b",
        "Enter",
        "get p5 p6",
        "Enter",
    ]);
    t.wait_text("1) \"a\"\n2) \"b\"");
    t.wait_prompts(4);
    t.send(&["C-d"]);
    t.wait_exit();
    db.cmd(["get", "p5", "p6"])
        .run()
        .code(0)
        .stdout_is("a\nb\n");
}

/// Tab on many keys completes what every matching key shares, and a second
/// Tab lists a screenful of them with a count of the rest (#16: with 2M
/// keys, `get k` became `get key000000`, the prefix of the first 200).
#[test]
fn tab_on_many_keys_completes_what_they_all_share() {
    let db = TestDb::new();
    let mut script: String = (0..300).map(|i| format!("set key{i:06} v\n")).collect();
    script.push_str("set key1 v\n");
    db.script(&script);
    let Some(t) = start("many", &db, "/dev/null") else {
        return;
    };
    t.wait_prompts(1);
    t.type_text("get k");
    t.send(&["Tab"]);
    let line_is = |want: &'static str| move |s: &str| s.lines().any(|l| l.trim_end() == want);
    t.wait_for("`get key`", line_is("tinykv> get key"));
    t.send(&["Tab"]);
    // 120 x 40: 38 lines of 6 columns (the count's 17 and 2 spaces).
    let screen = t.wait_text(&format!("({} more)", 301 - 227));
    assert!(screen.contains("key000000") && screen.contains("key000226"));
    assert!(!screen.contains("key000227"), "{screen}");
    assert!(!screen.contains("--More--") && !screen.contains("Display all"));
    t.send(&["C-u"]);
    t.type_text("quit");
    t.send(&["Enter"]);
    t.wait_exit();
}
