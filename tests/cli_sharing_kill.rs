//! The owner killed with SIGKILL while one-shot writers work through it:
//! every write that was acknowledged (exit 0) is there afterwards, and the
//! next command works at once (the killed owner's note and socket stop
//! nobody: the OS lock decides).

mod util;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use util::TestDb;
use util::owner::ScriptOwner;
use util::serve::{Server, eventually};

const WRITERS: usize = 4;
const PER_WRITER: usize = 60;

/// Runs the writers, calls `kill` once a third of the writes are
/// acknowledged, and checks every acknowledged write afterwards.
fn writers_survive(db: &TestDb, kill: impl FnOnce()) {
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (acknowledged, done) = (Arc::clone(&acknowledged), Arc::clone(&done));
            let killed = Arc::clone(&killed);
            let (home, dir) = (db.tmp.path().to_owned(), db.path.clone());
            thread::spawn(move || {
                for i in 0..PER_WRITER {
                    let key = format!("w{w}:{i:03}");
                    let after_kill = killed.load(Ordering::SeqCst);
                    let out = util::base_command(&home)
                        .arg("-d")
                        .arg(&dir)
                        .args(["set", &key, &i.to_string()])
                        .output()
                        .unwrap();
                    match out.status.code() {
                        Some(0) => {
                            acknowledged.lock().unwrap().insert(key);
                        }
                        // The owner died under this command: not acknowledged.
                        // A command started after the kill must not fail.
                        Some(2) if !after_kill => {}
                        other => panic!(
                            "{key}: exit {other:?} (after the kill: {after_kill}): {}",
                            String::from_utf8_lossy(&out.stderr)
                        ),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    eventually("a third of the writes", || {
        done.load(Ordering::Relaxed) >= WRITERS * PER_WRITER / 3
    });
    kill();
    killed.store(true, Ordering::SeqCst);
    for h in handles {
        h.join().unwrap();
    }
    // The next command works at once, without waiting.
    db.cmd(["--wait", "0", "set", "after", "the kill"])
        .run()
        .code(0);
    let keys = db.cmd(["keys"]).run().code(0).stdout_str();
    let present: BTreeSet<String> = keys.lines().map(str::to_owned).collect();
    let acknowledged = acknowledged.lock().unwrap();
    let lost: Vec<_> = acknowledged.difference(&present).collect();
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
    assert!(
        acknowledged.len() >= WRITERS * PER_WRITER / 2,
        "{}",
        acknowledged.len()
    );
    db.cmd(["get", "after"])
        .run()
        .code(0)
        .stdout_is("the kill\n");
    db.cmd(["check"]).run().code(0).stdout_is("ok\n");
}

#[test]
fn a_killed_script_owner_loses_nothing_acknowledged() {
    let db = TestDb::new();
    db.cmd(["set", "seed", "x"]).run().code(0);
    let mut owner = ScriptOwner::start(db.tmp.path(), &db.path, &[]);
    writers_survive(&db, || {
        owner.child.kill().unwrap();
        owner.child.wait().unwrap();
    });
}

#[test]
fn a_killed_server_loses_nothing_acknowledged() {
    let db = TestDb::new();
    let mut server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    writers_survive(&db, || server.kill9());
}
