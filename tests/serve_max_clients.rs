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
    let info = server.cli_info("stats");
    assert!(info.contains("rejected_connections:"), "{info}");
    assert!(!info.contains("rejected_connections:0"), "{info}");
    db.cmd(["serve", "--max-clients", "0"])
        .run()
        .code(2)
        .one_line_error();
}
