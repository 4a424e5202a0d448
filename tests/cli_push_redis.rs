//! `tinykv push` into one redis-server that wants a password: with the
//! password (in the URL or in $REDISCLI_AUTH), with an ACL user, into
//! another database (`/DB`); a key already expired is not sent; a key the
//! server refuses is named and the exit is 2; a wrong password, a server that wants one, a closed port or
//! a bad URL are each one line on stderr, exit 2, and change nothing in
//! the database pushed from.

mod util;

use predicates::prelude::*;

use util::TestDb;
use util::pairs::{self, same};
use util::redis_cluster::contents_of;
use util::redis_server::Redis;
use util::serve::eventually;

const PASSWORD: &str = "s3cret:@/";
/// PASSWORD, percent-encoded for a URL.
const ENCODED: &str = "s3cret%3A%40%2F";

fn connect(redis: &Redis, user: &str, password: &str, db: u8) -> redis::Connection {
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{}", redis.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut auth = redis::cmd("AUTH");
    if !user.is_empty() {
        auth.arg(user);
    }
    let _: () = auth.arg(password).query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(db).query(&mut c).unwrap();
    c
}

#[test]
fn a_password_an_acl_user_and_a_database_number() {
    let db = TestDb::new();
    let redis = Redis::start_with(db.tmp.path(), &["--requirepass", PASSWORD]);
    let mut admin = connect(&redis, "", PASSWORD, 0);
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "pusher", "on", ">pw", "~*", "+@all"])
        .query(&mut admin)
        .unwrap();

    let pairs = pairs::awkward(3_000, "");
    let dump = db.file("pairs.tsv");
    std::fs::write(&dump, pairs::tsv(&pairs)).unwrap();
    db.cmd(["load".as_ref(), dump.as_os_str()]).run().code(0);
    // A key that expires before the push is not sent.
    db.cmd(["set", "brief", "v", "--ttl", "1"]).run().code(0);
    eventually("brief to expire", || {
        db.cmd(["exists", "brief"]).run().output.status.code() == Some(1)
    });

    let url = format!("redis://:{ENCODED}@127.0.0.1:{}/2", redis.port);
    let out = db.cmd(["push", &url]).run().code(0).quiet();
    let report = out.stdout_str();
    for part in [
        "pushed   3000 pairs to redis://:***@127.0.0.1:",
        "/2 (one server)",
        "3000 stored, holds 3000 keys",
    ] {
        if !report.contains(part) {
            out.fail(&format!("the report lacks {part:?}"));
        }
    }
    assert!(!report.contains("s3cret"), "the password is never shown");
    same(&pairs, &contents_of(&mut connect(&redis, "", PASSWORD, 2)));
    assert!(contents_of(&mut admin).is_empty(), "database 0 untouched");

    let url = format!("redis://pusher:pw@127.0.0.1:{}", redis.port);
    db.cmd(["push", &url]).run().code(0);
    same(&pairs, &contents_of(&mut admin));

    // The password from $REDISCLI_AUTH, off the command line.
    let mut three = connect(&redis, "", PASSWORD, 3);
    let url = format!("redis://127.0.0.1:{}/3", redis.port);
    db.cmd(["push", &url])
        .env("REDISCLI_AUTH", PASSWORD)
        .run()
        .code(0);
    same(&pairs, &contents_of(&mut three));
}

#[test]
fn refused_keys_are_named_and_bad_targets_are_one_line() {
    let db = TestDb::new();
    let redis = Redis::start_with(db.tmp.path(), &["--requirepass", PASSWORD]);
    let port = redis.port;
    let mut admin = connect(&redis, "", PASSWORD, 0);
    // A user that may write only the keys starting with `ok:`.
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "narrow", "on", ">pw", "~ok:*", "+@all"])
        .query(&mut admin)
        .unwrap();
    db.script("set ok:1 a\nset ok:2 b\nset no:1 c\n");
    let before = db.cmd(["dump"]).run().code(0).stdout().to_vec();

    db.cmd(["push", &format!("redis://narrow:pw@127.0.0.1:{port}")])
        .run()
        .code(2)
        .stderr_matches(predicate::str::contains("key 'no:1' was refused (NOPERM"))
        .stderr_matches(predicate::str::contains(
            "1 of 3 pairs were refused, the others arrived",
        ));
    let held = contents_of(&mut admin);
    assert_eq!(held.len(), 2, "the keys allowed arrived");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    for (url, says) in [
        (format!("redis://:wrong@127.0.0.1:{port}"), "WRONGPASS"),
        (
            format!("redis://narrow:wrong@127.0.0.1:{port}"),
            "WRONGPASS",
        ),
        (format!("redis://127.0.0.1:{port}"), "needs a password"),
        (
            format!("redis://127.0.0.1:{closed_port}"),
            "cannot connect to",
        ),
        (
            format!("redis://:{ENCODED}@127.0.0.1:{port}/99"),
            "cannot select database 99",
        ),
        ("127.0.0.1:6379".to_owned(), "does not start with redis://"),
        (format!("redis://:pw@127.0.0.1:{port}/x"), "not a number"),
        ("rediss://h:1".to_owned(), "TLS"),
    ] {
        let out = db.cmd(["push", &url]).run().code(2).one_line_error();
        let err = out.stderr_str();
        if !err.contains(says) || err.contains("wrong@") || err.contains("s3cret") {
            out.fail(&format!("expected {says:?}, and no password shown"));
        }
    }
    db.cmd(["dump"]).run().code(0).stdout_is(before);
}
