//! MULTI/EXEC is one engine batch: while 6 clients run transactions that
//! increment two counters each, a reader never sees one counter moved
//! without the other; then kill -9 of the server, and after a restart on
//! the same directory both counters of every client are equal (no
//! transaction half there) and hold at least every acknowledged EXEC (at
//! most one more: the one in flight when the server died).

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use redis::cmd;
use util::TestDb;
use util::serve::{Server, eventually};

const CLIENTS: usize = 6;

/// One transaction of client `c`: both of its counters up by one, and an
/// expiring key beside them. Its replies: the two counters.
fn transaction(c: usize, con: &mut redis::Connection) -> redis::RedisResult<(i64, i64)> {
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("INCR")
        .arg(format!("c{c}:a"))
        .cmd("SET")
        .arg(format!("c{c}:ttl"))
        .arg("x")
        .arg("EX")
        .arg(1000)
        .ignore()
        .cmd("INCR")
        .arg(format!("c{c}:b"));
    pipe.query(con)
}

#[test]
fn exec_is_all_or_nothing_for_readers_and_across_sigkill() {
    let db = TestDb::new();
    let mut server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let acks = AtomicUsize::new(0);
    let stop_reading = AtomicBool::new(false);
    let connections: Vec<_> = (0..CLIENTS).map(|_| server.client()).collect();
    let mut reader = server.client();
    let acked: Vec<i64> = std::thread::scope(|s| {
        let workers: Vec<_> = connections
            .into_iter()
            .enumerate()
            .map(|(c, mut con)| {
                let acks = &acks;
                s.spawn(move || {
                    let mut acked = 0;
                    loop {
                        match transaction(c, &mut con) {
                            Ok((a, b)) => {
                                assert_eq!((a, b), (acked + 1, acked + 1), "client {c}");
                                acked += 1;
                                acks.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => return acked,
                        }
                    }
                })
            })
            .collect();
        let stop = &stop_reading;
        let watcher = s.spawn(move || {
            let mut seen = 0;
            // At least one pass, however late this thread starts.
            loop {
                let last = stop.load(Ordering::Relaxed);
                for c in 0..CLIENTS {
                    let got: Vec<Option<i64>> = cmd("MGET")
                        .arg(format!("c{c}:a"))
                        .arg(format!("c{c}:b"))
                        .query(&mut reader)
                        .unwrap_or_else(|_| vec![None, None]);
                    assert_eq!(got[0], got[1], "a reader saw half of an EXEC");
                    seen += 1;
                }
                if last {
                    break;
                }
            }
            seen
        });
        eventually("1000 acknowledged transactions", || {
            acks.load(Ordering::Relaxed) >= 1000
        });
        stop_reading.store(true, Ordering::Relaxed);
        assert!(watcher.join().unwrap() > 0);
        server.kill9();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    drop(server);

    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    for (c, acked) in acked.iter().enumerate() {
        let (a, b): (Option<i64>, Option<i64>) = cmd("MGET")
            .arg(format!("c{c}:a"))
            .arg(format!("c{c}:b"))
            .query(&mut con)
            .unwrap();
        let (a, b) = (a.unwrap_or(0), b.unwrap_or(0));
        assert_eq!(a, b, "client {c}'s transaction is half there");
        assert!(
            (*acked..=acked + 1).contains(&a),
            "client {c}: {acked} acknowledged, {a} there"
        );
        if a > 0 {
            let ttl: i64 = cmd("TTL").arg(format!("c{c}:ttl")).query(&mut con).unwrap();
            assert!(ttl > 0, "client {c}'s expiring key lost its expiry: {ttl}");
        }
    }
}
