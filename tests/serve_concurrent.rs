//! 50 clients writing at once, each its own keys, through the `redis`
//! crate: every acknowledged write reads back, from the server and, after a
//! graceful stop, from the files with a one-shot `tinykv get`; and SET NX
//! races on one key have exactly one winner.

mod util;

use std::sync::atomic::{AtomicU64, Ordering};

use redis::cmd;
use util::TestDb;
use util::serve::Server;

const CLIENTS: usize = 50;
const WRITES: usize = 40;

#[test]
fn fifty_clients_lose_no_acknowledged_write() {
    let db = TestDb::new();
    let mut server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let winners = AtomicU64::new(0);
    std::thread::scope(|s| {
        for c in 0..CLIENTS {
            let (server, winners) = (&server, &winners);
            s.spawn(move || {
                let mut con = server.client();
                for i in 0..WRITES {
                    let key = format!("c{c:02}:{i:03}");
                    let () = cmd("SET")
                        .arg(&key)
                        .arg(format!("v{c}.{i}"))
                        .query(&mut con)
                        .unwrap();
                }
                // Every client tries to claim the same key once.
                let won: Option<String> = cmd("SET")
                    .arg("claim")
                    .arg(c)
                    .arg("NX")
                    .query(&mut con)
                    .unwrap();
                if won.is_some() {
                    winners.fetch_add(1, Ordering::SeqCst);
                }
                // Half of them also MSET a pair that must land together.
                if c % 2 == 0 {
                    let () = cmd("MSET")
                        .arg(format!("pair:{c}:a"))
                        .arg(c)
                        .arg(format!("pair:{c}:b"))
                        .arg(c)
                        .query(&mut con)
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(winners.load(Ordering::SeqCst), 1, "SET NX had one winner");
    let mut con = server.client();
    for c in 0..CLIENTS {
        let keys: Vec<String> = (0..WRITES).map(|i| format!("c{c:02}:{i:03}")).collect();
        let values: Vec<Option<String>> = cmd("MGET").arg(&keys).query(&mut con).unwrap();
        for (i, v) in values.iter().enumerate() {
            assert_eq!(
                v.as_deref(),
                Some(format!("v{c}.{i}").as_str()),
                "{}",
                keys[i]
            );
        }
    }
    let n: usize = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, CLIENTS * WRITES + 1 + CLIENTS);
    drop(con);
    server.signal("TERM");
    assert!(server.wait().success(), "{}", server.stderr());
    db.cmd(["get", "c49:039", "pair:48:b"])
        .run()
        .code(0)
        .stdout_is("v49.39\n48\n");
}
