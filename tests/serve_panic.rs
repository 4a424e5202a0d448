//! A bug that panics on the event loop or on the writer thread ends the
//! server cleanly: one `tinykv: internal error: …` line on stderr, exit
//! status 2, and the database lock released (a one-shot command can open
//! the database at once), with nothing acknowledged lost. Test builds make
//! the thread panic on purpose (TINYKV_TEST_OPTIONS `serve_panic`); before
//! this, such a panic left the process hanging with the lock held.

mod util;

use std::io::Write;

use util::TestDb;
use util::serve::{Server, read_line, resp};

/// Waits for the server to exit, and checks that it exited 2 after one
/// line (beside its announcement) naming the panic, with the lock freed.
fn ended_with_one_line(db: &TestDb, server: &mut Server, panic: &str) {
    let status = server.wait();
    let stderr = server.stderr();
    assert_eq!(status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("tinykv: serving "))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("tinykv: internal error: "), "{stderr}");
    assert!(lines[0].contains(panic), "{stderr}");
    // The lock is released: a one-shot command opens the database.
    db.cmd(["get", "nothing"]).run().code(1);
}

#[test]
fn a_panic_on_the_event_loop_ends_the_server_with_one_line() {
    let db = TestDb::new();
    let mut server = Server::start(
        db.tmp.path(),
        &db.path,
        &[],
        &[("TINYKV_TEST_OPTIONS", "serve_panic=loop")],
    );
    // The loop panics when it accepts this connection.
    let mut s = server.connect();
    let _ = s.write_all(&resp(&[b"PING"]));
    ended_with_one_line(&db, &mut server, "a test panic on the event loop");
}

#[test]
fn a_panic_in_the_writer_ends_the_server_with_one_line() {
    let db = TestDb::new();
    let mut server = Server::start(
        db.tmp.path(),
        &db.path,
        &[],
        &[("TINYKV_TEST_OPTIONS", "serve_panic=writer")],
    );
    let mut s = server.connect();
    // A plain SET is written by the event loop itself...
    s.write_all(&resp(&[b"SET", b"k", b"v"])).unwrap();
    assert_eq!(read_line(&mut s), b"+OK\r\n");
    // ...a round larger than the loop writes itself (256 KiB) goes to the
    // writer thread, which panics: the SET is answered with an error,
    // never left waiting.
    let big = vec![b'x'; 512 * 1024];
    s.write_all(&resp(&[b"SET", b"big", &big])).unwrap();
    let line = String::from_utf8(read_line(&mut s)).unwrap();
    assert!(
        line.starts_with("-ERR internal error: the writer failed"),
        "{line}"
    );
    ended_with_one_line(&db, &mut server, "a test panic in the writer thread");
    // The acknowledged SET is there.
    db.cmd(["get", "k"]).run().code(0).stdout_is("v\n");
}
