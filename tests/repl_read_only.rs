//! The REPL on a database on a read-only mount: its banner says so, reads
//! answer, a write says that the database is read-only and the session
//! goes on, it serves nothing (no socket is made), and nothing in the
//! directory changes. Needs root (to mount) and tmux; skipped with a
//! notice otherwise.

mod util;

use util::TestDb;
use util::read_only::{digest, mounted_copy};
use util::tmux::Tmux;

#[test]
fn the_repl_reads_a_read_only_database_and_refuses_its_writes() {
    let db = TestDb::new();
    db.cmd(["set", "one", "1"]).run().code(0);
    let Some(ro) = mounted_copy(&db) else {
        return;
    };
    let before = digest(&ro.path);
    let run = db.file("run");
    std::fs::create_dir(&run).unwrap();
    let dir = ro.path.to_str().unwrap();
    let Some(t) = Tmux::start(
        "read-only",
        db.tmp.path(),
        &[
            ("TINYKV_HISTFILE", "/dev/null"),
            ("XDG_RUNTIME_DIR", run.to_str().unwrap()),
        ],
        &["-d", dir],
    ) else {
        return;
    };
    let screen = t.wait_prompts(1);
    assert!(
        screen.contains(&format!("tinykv 0.1.0 — {dir} (1 keys)"))
            && screen.contains("Read-only: this user cannot write it here"),
        "{screen}"
    );
    t.type_text("set two 2");
    t.send(&["Enter"]);
    t.wait_text(&format!("{dir} is open read-only"));
    t.wait_prompts(2);
    t.type_text("get one");
    t.send(&["Enter"]);
    t.wait_text("\"1\"");
    t.wait_prompts(3);
    assert!(
        std::fs::read_dir(&run).unwrap().next().is_none(),
        "a read-only session serves nothing"
    );
    t.send(&["C-d"]);
    t.wait_exit();
    assert_eq!(digest(&ro.path), before);
}
