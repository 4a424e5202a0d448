//! `tinykv serve` through a Rust client library (the `redis` crate, as an
//! application would use it): its connection handshake, every command of
//! the issue, binary keys and values, and pipelines in which reads see the
//! writes before them.

mod util;

use redis::{Value, cmd, pipe};
use util::TestDb;
use util::serve::Server;

#[test]
fn every_command_through_the_redis_crate() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let c = &mut con;
    let pong: String = cmd("PING").query(c).unwrap();
    assert_eq!(pong, "PONG");
    let echoed: Vec<u8> = cmd("ECHO").arg(b"\0echo\r\n").query(c).unwrap();
    assert_eq!(echoed, b"\0echo\r\n");
    let () = cmd("SET").arg("a").arg("1").query(c).unwrap();
    let got: Option<String> = cmd("GET").arg("a").query(c).unwrap();
    assert_eq!(got.as_deref(), Some("1"));
    let nx: Option<String> = cmd("SET").arg("a").arg("2").arg("NX").query(c).unwrap();
    assert_eq!(nx, None);
    let xx: Option<String> = cmd("SET").arg("a").arg("3").arg("XX").query(c).unwrap();
    assert_eq!(xx.as_deref(), Some("OK"));
    let old: Option<String> = cmd("SET").arg("a").arg("4").arg("GET").query(c).unwrap();
    assert_eq!(old.as_deref(), Some("3"));
    let () = cmd("MSET").arg(&["b", "2", "c", "3"]).query(c).unwrap();
    let values: Vec<Option<String>> = cmd("MGET").arg(&["a", "b", "x", "c"]).query(c).unwrap();
    assert_eq!(
        values,
        [Some("4".into()), Some("2".into()), None, Some("3".into())]
    );
    let n: i64 = cmd("EXISTS").arg(&["a", "x", "b"]).query(c).unwrap();
    assert_eq!(n, 2);
    let n: i64 = cmd("DBSIZE").query(c).unwrap();
    assert_eq!(n, 3);
    let keys: Vec<String> = cmd("KEYS").arg("*").query(c).unwrap();
    assert_eq!(keys, ["a", "b", "c"]);
    // A whole SCAN, one key a round.
    let mut cursor = 0u64;
    let mut scanned = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("[ab]")
            .arg("COUNT")
            .arg(1)
            .query(c)
            .unwrap();
        scanned.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(scanned, ["a", "b"]);
    let n: i64 = cmd("DEL").arg(&["a", "a", "x"]).query(c).unwrap();
    assert_eq!(n, 1);
    let info: String = cmd("INFO").arg("keyspace").query(c).unwrap();
    assert!(info.contains("db0:keys=2,"), "{info}");
    let info: String = cmd("INFO").arg("persistence").query(c).unwrap();
    assert!(info.contains("aof_enabled:1"), "{info}");
    let commands: Vec<Value> = cmd("COMMAND").query(c).unwrap();
    assert!(commands.len() >= 20);
    let () = cmd("CLIENT").arg("SETNAME").arg("crate").query(c).unwrap();
    let name: Option<String> = cmd("CLIENT").arg("GETNAME").query(c).unwrap();
    assert_eq!(name.as_deref(), Some("crate"));
    let list: String = cmd("CLIENT").arg("LIST").query(c).unwrap();
    assert!(list.contains("name=crate"), "{list}");
    // A name is kept for the connection's life: it is bounded (review).
    let () = cmd("CLIENT")
        .arg("SETNAME")
        .arg("n".repeat(1024))
        .query(c)
        .unwrap();
    let err = cmd("CLIENT")
        .arg("SETNAME")
        .arg("n".repeat(1025))
        .query::<()>(c)
        .unwrap_err();
    assert!(err.to_string().contains("at most 1024 bytes"), "{err}");
    let name: Option<String> = cmd("CLIENT").arg("GETNAME").query(c).unwrap();
    assert_eq!(
        name.map(|n| n.len()),
        Some(1024),
        "the refused name changed nothing"
    );
    let () = cmd("SELECT").arg(0).query(c).unwrap();
    let err = cmd("SELECT").arg(3).query::<()>(c).unwrap_err();
    assert!(
        err.to_string().contains("DB index is out of range"),
        "{err}"
    );
    let err = cmd("LPUSH").arg("l").arg("x").query::<()>(c).unwrap_err();
    assert!(
        err.to_string()
            .contains("tinykv stores strings only: 'LPUSH' (lists) is not supported"),
        "{err}"
    );
    let err = cmd("HELLO").arg(3).query::<Value>(c).unwrap_err();
    assert!(err.to_string().contains("NOPROTO"), "{err}");
    let hello: Vec<Value> = cmd("HELLO").arg(2).query(c).unwrap();
    assert_eq!(hello.len(), 14);
    let () = cmd("FLUSHDB").query(c).unwrap();
    let n: i64 = cmd("DBSIZE").query(c).unwrap();
    assert_eq!(n, 0);
    let () = cmd("QUIT").query(c).unwrap();
    assert!(cmd("PING").query::<String>(c).is_err(), "QUIT closes");
}

#[test]
fn binary_keys_and_values() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let pairs = util::nasty_pairs();
    for (k, v) in &pairs {
        let () = cmd("SET").arg(k).arg(v).query(&mut con).unwrap();
    }
    for (k, v) in &pairs {
        let got: Vec<u8> = cmd("GET").arg(k).query(&mut con).unwrap();
        assert_eq!(&got, v, "{k:?}");
    }
    let keys: Vec<Vec<u8>> = cmd("KEYS").arg("*").query(&mut con).unwrap();
    let want: Vec<Vec<u8>> = pairs.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, want);
    // A value as large as 1 MiB, every byte value in it.
    let big: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 256) as u8).collect();
    let () = cmd("SET")
        .arg(b"big\r\n")
        .arg(&big)
        .query(&mut con)
        .unwrap();
    let got: Vec<u8> = cmd("GET").arg(b"big\r\n").query(&mut con).unwrap();
    assert!(got == big);
    // Keys the engine cannot hold: absent to reads, an error for writes.
    let long = vec![b'k'; 64 * 1024 + 1];
    let got: Option<Vec<u8>> = cmd("GET").arg(&long).query(&mut con).unwrap();
    assert_eq!(got, None);
    for bad in [&long[..], b""] {
        let err = cmd("SET")
            .arg(bad)
            .arg("v")
            .query::<()>(&mut con)
            .unwrap_err();
        assert!(
            err.to_string().contains("keys must be 1 to 65536 bytes"),
            "{err}"
        );
    }
}

#[test]
fn pipelines_keep_order_and_see_their_own_writes() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let mut p = pipe();
    // Errors come back as values in their place, not as a failure of all.
    p.ignore_errors();
    for i in 0..500 {
        p.cmd("SET").arg(format!("k{i:03}")).arg(i);
        if i % 100 == 99 {
            // A read in the middle sees every write before it.
            p.cmd("GET").arg(format!("k{i:03}"));
            p.cmd("DBSIZE");
        }
    }
    p.cmd("SET").arg("").arg("bad key in the middle");
    p.cmd("MSET").arg("x").arg("1").arg("y").arg("2");
    p.cmd("MGET").arg("x").arg("y");
    let replies: Vec<Value> = p.query(&mut con).unwrap_or_else(|e| panic!("{e}"));
    let mut i = 0;
    let mut reads = 0;
    for r in &replies[..replies.len() - 3] {
        match r {
            Value::Okay => i += 1,
            Value::BulkString(v) => {
                assert_eq!(v, (i - 1).to_string().as_bytes());
                reads += 1;
            }
            Value::Int(n) => assert_eq!(*n, i),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((i, reads), (500, 5));
    let tail = &replies[replies.len() - 3..];
    assert!(matches!(tail[0], Value::ServerError(_)), "{:?}", tail[0]);
    assert_eq!(tail[1], Value::Okay);
    assert_eq!(
        tail[2],
        Value::Array(vec![
            Value::BulkString(b"1".to_vec()),
            Value::BulkString(b"2".to_vec())
        ])
    );
}
