//! Counters through `tinykv serve` under load: redis-benchmark's INCR test
//! with 50 clients ends with the counter at exactly the number of requests
//! (each one acknowledged, none lost or counted twice); and 8 clients
//! mixing INCRBY 3 and DECR end at the exact sum.

mod util;

use std::process::Command;

use redis::cmd;
use util::TestDb;
use util::serve::Server;

#[test]
fn redis_benchmark_incr_counts_every_request() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &["--sync", "never"], &[]);
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &server.port.to_string()])
        .args(["-t", "incr", "-n", "20000", "-c", "50", "-q"])
        .output()
        .expect("redis-benchmark (apt-get install redis-tools)");
    assert!(
        out.status.success(),
        "redis-benchmark failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
    let mut con = server.client();
    // Without -r, redis-benchmark increments this one key.
    let n: i64 = cmd("GET")
        .arg("counter:__rand_int__")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 20000);
}

#[test]
fn parallel_incrby_and_decr_end_at_the_sum() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let connections: Vec<_> = (0..8).map(|_| server.client()).collect();
    std::thread::scope(|s| {
        for (i, mut con) in connections.into_iter().enumerate() {
            s.spawn(move || {
                for _ in 0..250 {
                    if i % 2 == 0 {
                        let _: i64 = cmd("INCRBY").arg("n").arg(3).query(&mut con).unwrap();
                    } else {
                        let _: i64 = cmd("DECR").arg("n").query(&mut con).unwrap();
                    }
                }
            });
        }
    });
    let mut con = server.client();
    let n: i64 = cmd("GET").arg("n").query(&mut con).unwrap();
    assert_eq!(n, 4 * 250 * 3 - 4 * 250);
}
