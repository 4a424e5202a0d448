//! SET … IFEQ, compare-and-set as Valkey 8.1 has it (Redis 7 has no such
//! option, so these replies follow Valkey's documentation): the value is
//! set only when the key holds exactly the given one, a missing key is not
//! created, GET returns the old value either way; and 8 clients racing to
//! move a counter on with GET then SET IFEQ: the counter ends at exactly
//! the number of SETs that said OK.

mod util;

use redis::{Value, cmd};
use util::TestDb;
use util::serve::Server;

#[test]
fn set_ifeq_replies() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let set = |con: &mut redis::Connection, args: &[&str]| -> Value {
        cmd("SET").arg(args).query(con).unwrap()
    };
    assert_eq!(set(&mut con, &["k", "v", "IFEQ", "x"]), Value::Nil);
    let exists: i64 = cmd("EXISTS").arg("k").query(&mut con).unwrap();
    assert_eq!(exists, 0, "IFEQ does not create a key");
    let () = cmd("SET").arg("k").arg("old").query(&mut con).unwrap();
    assert_eq!(set(&mut con, &["k", "v", "IFEQ", "other"]), Value::Nil);
    assert_eq!(set(&mut con, &["k", "new", "IFEQ", "old"]), Value::Okay);
    assert_eq!(
        set(&mut con, &["k", "newer", "IFEQ", "nope", "GET"]),
        Value::BulkString(b"new".to_vec())
    );
    assert_eq!(
        set(&mut con, &["k", "newer", "IFEQ", "new", "GET", "EX", "100"]),
        Value::BulkString(b"new".to_vec())
    );
    let ttl: i64 = cmd("TTL").arg("k").query(&mut con).unwrap();
    assert!((1..=100).contains(&ttl), "{ttl}");
    for bad in [
        &["k", "v", "IFEQ"][..],
        &["k", "v", "IFEQ", "a", "NX"],
        &["k", "v", "XX", "IFEQ", "a"],
    ] {
        let err = cmd("SET").arg(bad).query::<Value>(&mut con).unwrap_err();
        assert!(err.to_string().contains("syntax error"), "{bad:?}: {err}");
    }
}

#[test]
fn compare_and_set_races_lose_nothing() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let () = cmd("SET").arg("n").arg(0).query(&mut con).unwrap();
    let connections: Vec<_> = (0..8).map(|_| server.client()).collect();
    let won: i64 = std::thread::scope(|s| {
        let workers: Vec<_> = connections
            .into_iter()
            .map(|mut con| {
                s.spawn(move || {
                    let mut won = 0;
                    for _ in 0..100 {
                        let n: i64 = cmd("GET").arg("n").query(&mut con).unwrap();
                        let reply: Value = cmd("SET")
                            .arg("n")
                            .arg(n + 1)
                            .arg("IFEQ")
                            .arg(n)
                            .query(&mut con)
                            .unwrap();
                        match reply {
                            Value::Okay => won += 1,
                            Value::Nil => {}
                            other => panic!("SET IFEQ replied {other:?}"),
                        }
                    }
                    won
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let n: i64 = cmd("GET").arg("n").query(&mut con).unwrap();
    assert_eq!(n, won);
    assert!(won > 0);
}
