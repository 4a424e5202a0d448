//! `--max-clients`: a client over the cap gets Redis's error and is
//! closed; once a client leaves, a new one is served again.

mod util;

use util::TestDb;
use util::serve::{Server, eventually, exchange_until_closed};

#[test]
fn clients_over_the_cap_are_refused() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &["--max-clients", "2"], &[]);
    let first = server.connect();
    let second = server.connect();
    let mut third = server.connect();
    let (reply, closed) = exchange_until_closed(&mut third, b"PING\r\n");
    assert!(closed);
    assert_eq!(reply, b"-ERR max number of clients reached\r\n");
    drop(first);
    eventually("a free place", || server.cli_line_or_ping() == "PONG");
    drop(second);
    // The server sees the two leave a moment later: ask until there is room.
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let mut info = String::new();
    eventually("room for INFO", || {
        let asked = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection())
            .and_then(|mut con| redis::cmd("INFO").arg("stats").query::<String>(&mut con));
        asked.map(|text| info = text).is_ok()
    });
    assert!(info.contains("rejected_connections:"), "{info}");
    assert!(!info.contains("rejected_connections:0"), "{info}");
    db.cmd(["serve", "--max-clients", "0"])
        .run()
        .code(2)
        .one_line_error();
}
