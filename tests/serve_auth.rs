//! `--requirepass`: before AUTH every command but AUTH, HELLO and QUIT is
//! refused with -NOAUTH, a wrong password gets -WRONGPASS, the right one
//! +OK; a client library with the password in its URL just connects; and a
//! stranger cannot make the server hold much before authenticating. Without
//! a password, an address beyond loopback is refused at start.

mod util;

use std::io::{Read, Write};

use redis::cmd;
use util::TestDb;
use util::serve::{Server, exchange_until_closed};

fn reply(stream: &mut std::net::TcpStream, request: &[u8]) -> String {
    stream.write_all(request).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn requirepass_guards_every_command() {
    let db = TestDb::new();
    let server = Server::start(
        db.tmp.path(),
        &db.path,
        &[],
        &[("TINYKV_REQUIREPASS", "s3cret")],
    );
    let mut s = server.connect();
    assert_eq!(
        reply(&mut s, b"PING\r\n"),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        reply(&mut s, b"SET k v\r\n"),
        "-NOAUTH Authentication required.\r\n"
    );
    assert!(reply(&mut s, b"HELLO 2\r\n").starts_with("-NOAUTH HELLO must be called"));
    assert_eq!(
        reply(&mut s, b"AUTH nope\r\n"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        reply(&mut s, b"AUTH someone s3cret\r\n"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(reply(&mut s, b"AUTH s3cret\r\n"), "+OK\r\n");
    assert_eq!(reply(&mut s, b"SET k v\r\n"), "+OK\r\n");
    assert_eq!(reply(&mut s, b"GET k\r\n"), "$1\r\nv\r\n");
    // AUTH default PASSWORD and HELLO 2 AUTH default PASSWORD work too.
    let mut s = server.connect();
    assert_eq!(reply(&mut s, b"AUTH default s3cret\r\n"), "+OK\r\n");
    let mut s = server.connect();
    assert!(reply(&mut s, b"HELLO 2 AUTH default s3cret\r\n").starts_with("*14\r\n"));
    // A client library with the password in its URL.
    let url = format!("redis://:s3cret@127.0.0.1:{}/", server.port);
    let mut con = server.client_with_url(&url);
    let got: String = cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(got, "v");
    let wrong = format!("redis://:wrong@127.0.0.1:{}/", server.port);
    let refused = redis::Client::open(wrong.as_str())
        .unwrap()
        .get_connection();
    assert!(refused.is_err(), "a wrong password must not connect");
    // The password never shows in CONFIG GET or INFO.
    let config: Vec<String> = cmd("CONFIG").arg("GET").arg("*").query(&mut con).unwrap();
    assert!(!config.iter().any(|v| v.contains("s3cret")));
    let info: String = cmd("INFO").query(&mut con).unwrap();
    assert!(!info.contains("s3cret"));
}

#[test]
fn strangers_cannot_send_much_before_auth() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &["--requirepass", "pw"], &[]);
    for request in [&b"*11\r\n"[..], b"*2\r\n$4\r\nAUTH\r\n$100000\r\n"] {
        let mut s = server.connect();
        let (got, closed) = exchange_until_closed(&mut s, request);
        let got = String::from_utf8_lossy(&got);
        assert!(
            closed && got.starts_with("-ERR Protocol error: invalid "),
            "{got}"
        );
    }
    // Once authenticated, the usual limits apply.
    let mut s = server.connect();
    assert_eq!(reply(&mut s, b"AUTH pw\r\n"), "+OK\r\n");
    let value = vec![b'x'; 100_000];
    let mut set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n".to_vec();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    assert_eq!(reply(&mut s, &set), "+OK\r\n");
}

#[test]
fn beyond_loopback_needs_a_password() {
    let db = TestDb::new();
    db.cmd(["serve", "--listen", "0.0.0.0:0"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicates::str::contains(
            "refusing to serve on 0.0.0.0:0 without a password",
        ))
        .stderr_matches(predicates::str::contains("--requirepass"));
    assert!(!db.path.exists(), "nothing was opened");
    // An empty password is no password, not one that `AUTH ""` matches
    // (serve review: it served on 0.0.0.0 and let anyone in).
    db.cmd(["serve", "--listen", "0.0.0.0:0", "--requirepass", ""])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicates::str::contains("the password is empty"));
    db.cmd(["serve", "--listen", "127.0.0.1:0"])
        .env("TINYKV_REQUIREPASS", "")
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicates::str::contains("the password is empty"));
    assert!(!db.path.exists(), "nothing was opened");
    let db2 = TestDb::new();
    db2.cmd(["serve", "--listen", "nowhere"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicates::str::contains("expected HOST:PORT"));
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let err = cmd("AUTH")
        .arg("x")
        .query::<()>(&mut server.client())
        .unwrap_err();
    assert!(
        err.to_string().contains("without any password configured"),
        "{err}"
    );
}
