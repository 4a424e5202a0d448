//! Keys that expire, through `tinykv serve`: once a key's deadline has
//! passed it is gone for GET, EXISTS, TTL, KEYS, SCAN, DBSIZE, MGET and
//! INFO's keyspace line (which counts the keys that still expire as
//! `expires=`), and it stays gone after a restart; a deadline survives the
//! restart to the millisecond; a plain SET clears it; the command line
//! sees through the owner what serve set.

mod util;

use redis::cmd;
use util::TestDb;
use util::serve::{Server, eventually};

#[test]
fn expired_keys_are_gone_everywhere_and_deadlines_survive_a_restart() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let () = cmd("SET")
        .arg("long")
        .arg("v")
        .arg("PXAT")
        .arg(99_999_999_999_999u64)
        .query(&mut con)
        .unwrap();
    let () = cmd("SET").arg("plain").arg("v").query(&mut con).unwrap();
    let () = cmd("SET")
        .arg("cleared")
        .arg("v")
        .arg("EX")
        .arg(1000)
        .query(&mut con)
        .unwrap();
    let () = cmd("SET").arg("cleared").arg("w").query(&mut con).unwrap();
    let info = server.cli_info("keyspace");
    assert!(info.contains("db0:keys=3,expires=1,avg_ttl=0"), "{info}");
    let () = cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(200)
        .query(&mut con)
        .unwrap();

    eventually("the short key to expire", || {
        cmd("GET")
            .arg("short")
            .query::<Option<String>>(&mut con)
            .unwrap()
            .is_none()
    });
    let exists: i64 = cmd("EXISTS")
        .arg("short")
        .arg("long")
        .query(&mut con)
        .unwrap();
    assert_eq!(exists, 1);
    let ttl: i64 = cmd("TTL").arg("short").query(&mut con).unwrap();
    assert_eq!(ttl, -2);
    let ttl: i64 = cmd("TTL").arg("cleared").query(&mut con).unwrap();
    assert_eq!(ttl, -1, "a plain SET clears the expiry");
    let mut keys: Vec<String> = cmd("KEYS").arg("*").query(&mut con).unwrap();
    keys.sort();
    assert_eq!(keys, ["cleared", "long", "plain"]);
    let (cursor, scanned): (String, Vec<String>) = cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(100)
        .query(&mut con)
        .unwrap();
    assert_eq!((cursor.as_str(), scanned), ("0", keys.clone()));
    let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 3);
    let got: Vec<Option<String>> = cmd("MGET")
        .arg("short")
        .arg("plain")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, [None, Some("v".to_owned())]);
    let info = server.cli_info("keyspace");
    assert!(info.contains("db0:keys=3,expires=1,avg_ttl=0"), "{info}");
    // Through the owner, the command line sees the deadline serve set.
    db.cmd(["ttl", "plain"]).run().code(0).stdout_is("none\n");
    db.cmd(["get", "short"]).run().code(1);
    drop(con);
    drop(server);

    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let at: i64 = cmd("PEXPIRETIME").arg("long").query(&mut con).unwrap();
    assert_eq!(at, 99_999_999_999_999);
    let got: Option<String> = cmd("GET").arg("short").query(&mut con).unwrap();
    assert_eq!(got, None, "an expired key came back after a restart");
    let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 3);
}
