//! While a server runs it owns the database: one-shot commands work through
//! it (what they write, its clients read, and the other way round), while a
//! second server and `recover`, which need the database to themselves, are
//! refused with one line naming it.

mod util;

use predicates::str::contains;
use util::TestDb;
use util::serve::Server;

#[test]
fn the_server_owns_the_database_and_serves_it_to_commands() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    db.cmd(["set", "k", "from the command line"]).run().code(0);
    assert_eq!(server.cli_line(&["get", "k"]), "from the command line");
    assert_eq!(server.cli_line(&["set", "r", "from redis"]), "OK");
    db.cmd(["get", "r"]).run().code(0).stdout_is("from redis\n");
    let owner = format!("a tinykv serve (pid {})", server.pid());
    db.cmd(["--wait", "0", "serve", "--listen", "127.0.0.1:0"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(contains(format!("is owned by {owner}")));
    db.cmd(["recover"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(contains(format!("while {owner} has it open")));
    assert_eq!(server.cli_line_or_ping(), "PONG");
    db.cmd(["keys"]).run().code(0).stdout_is("k\nr\n");
}
