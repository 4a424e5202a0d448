//! WATCH as optimistic locking: 8 clients increment one counter with
//! WATCH, GET, MULTI, SET, EXEC, retrying when EXEC says nil; the counter
//! ends at exactly the number of EXECs that succeeded. And a write that
//! does not come from a network client (another tinykv process, through
//! the owner's Unix socket) aborts a watching EXEC too, as does a watched
//! key's expiry.

mod util;

use redis::cmd;
use util::TestDb;
use util::serve::{Server, eventually};

const CLIENTS: usize = 8;
const EACH: i64 = 40;

#[test]
fn optimistic_increments_all_count() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let connections: Vec<_> = (0..CLIENTS).map(|_| server.client()).collect();
    let aborted: Vec<i64> = std::thread::scope(|s| {
        let workers: Vec<_> = connections
            .into_iter()
            .map(|mut con| {
                s.spawn(move || {
                    let mut aborted = 0;
                    for _ in 0..EACH {
                        loop {
                            let () = cmd("WATCH").arg("n").query(&mut con).unwrap();
                            let n: Option<i64> = cmd("GET").arg("n").query(&mut con).unwrap();
                            let done: Option<((),)> = redis::pipe()
                                .atomic()
                                .cmd("SET")
                                .arg("n")
                                .arg(n.unwrap_or(0) + 1)
                                .query(&mut con)
                                .unwrap();
                            if done.is_some() {
                                break;
                            }
                            aborted += 1;
                        }
                    }
                    aborted
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut con = server.client();
    let n: i64 = cmd("GET").arg("n").query(&mut con).unwrap();
    assert_eq!(n, CLIENTS as i64 * EACH, "aborted EXECs: {aborted:?}");
}

/// EXEC's reply after `WATCH key` on `con`, `change` and a queued SET.
fn exec_after(con: &mut redis::Connection, key: &str, change: impl FnOnce()) -> Option<((),)> {
    let () = cmd("WATCH").arg(key).query(con).unwrap();
    change();
    redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(key)
        .arg("from the transaction")
        .query(con)
        .unwrap()
}

#[test]
fn writes_from_another_process_and_expiry_abort_exec() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let () = cmd("SET").arg("k").arg("v").query(&mut con).unwrap();

    // Nothing changed: EXEC runs.
    assert!(exec_after(&mut con, "k", || {}).is_some());

    // `tinykv set` goes through the owner's Unix socket.
    let done = exec_after(&mut con, "k", || {
        db.cmd(["set", "k", "from the command line"]).run().code(0);
    });
    assert!(
        done.is_none(),
        "a write through the owner's socket aborts EXEC"
    );
    let v: String = cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "from the command line");

    // The same value written again still counts as a write, as in Redis.
    let done = exec_after(&mut con, "k", || {
        db.cmd(["set", "k", "from the command line"]).run().code(0);
    });
    assert!(done.is_none());

    // A watched key that expires meanwhile aborts EXEC (Redis 7). The key
    // is read back after WATCH: present then, it was present when watched
    // (a slow machine gets a longer deadline and another try).
    let mut other = server.client();
    for px in [300, 3_000, 30_000] {
        let () = cmd("SET")
            .arg("e")
            .arg("v")
            .arg("PX")
            .arg(px)
            .query(&mut con)
            .unwrap();
        let () = cmd("WATCH").arg("e").query(&mut con).unwrap();
        let watched: Option<String> = cmd("GET").arg("e").query(&mut con).unwrap();
        if watched.is_none() {
            let () = cmd("UNWATCH").query(&mut con).unwrap();
            continue;
        }
        eventually("the key to expire", || {
            !cmd("EXISTS").arg("e").query::<bool>(&mut other).unwrap()
        });
        let done: Option<((),)> = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg("e")
            .arg("from the transaction")
            .query(&mut con)
            .unwrap();
        assert!(done.is_none(), "an expired watched key aborts EXEC");
        let e: Option<String> = cmd("GET").arg("e").query(&mut con).unwrap();
        assert_eq!(e, None);
        return;
    }
    panic!("the key expired before WATCH even with a 30 s deadline");
}
