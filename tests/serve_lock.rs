//! While a server runs, it holds the database lock: a one-shot command or a
//! second server on the same directory fails at once with the usual lock
//! message naming the server's pid, and nothing is changed.

mod util;

use predicates::str::contains;
use util::TestDb;
use util::serve::Server;

#[test]
fn the_server_holds_the_lock() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let holder = format!("locked by another tinykv process (pid {})", server.pid());
    db.cmd(["get", "k"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(contains(holder.as_str()))
        .stderr_matches(contains("--wait"));
    db.cmd(["set", "k", "v"])
        .run()
        .code(2)
        .stderr_matches(contains(holder.as_str()));
    db.cmd(["--wait", "0.2", "serve", "--listen", "127.0.0.1:0"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(contains(holder.as_str()))
        .stderr_matches(contains("was not released within 0.200s"));
    assert_eq!(server.cli_line_or_ping(), "PONG");
}
