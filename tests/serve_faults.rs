//! A failed fsync under the server (injected with TINYKV_TEST_OPTIONS): the
//! write gets `-ERR` naming the cause, the server logs it once and keeps
//! serving reads, later writes are refused (the handle is poisoned, as the
//! engine promises), nothing crashes, and shutdown still ends cleanly.

mod util;

use redis::cmd;
use util::TestDb;
use util::serve::Server;

#[test]
fn a_failed_fsync_is_an_error_reply_not_a_crash() {
    let db = TestDb::new();
    let faults = [("TINYKV_TEST_OPTIONS", "fault=sync:5:eio")];
    let mut server = Server::start(db.tmp.path(), &db.path, &[], &faults);
    let mut con = server.client();
    let mut acked = Vec::new();
    let failure = (0..100)
        .find_map(|i| {
            let key = format!("k{i}");
            match cmd("SET").arg(&key).arg(i).query::<()>(&mut con) {
                Ok(()) => {
                    acked.push(key);
                    None
                }
                Err(e) => Some(e.to_string()),
            }
        })
        .expect("the injected fault never hit a write");
    assert!(failure.contains("fsync"), "{failure}");
    assert!(failure.contains("Input/output error"), "{failure}");
    // Reads still work, and every acknowledged write is there.
    for key in &acked {
        let got: Option<String> = cmd("GET").arg(key).query(&mut con).unwrap();
        assert!(got.is_some(), "{key}");
    }
    // The handle is poisoned: writes are refused with the reason.
    let err = cmd("SET")
        .arg("after")
        .arg("1")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("poisoned"), "{err}");
    let err = cmd("DEL")
        .arg(&acked[0])
        .query::<i64>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("poisoned"), "{err}");
    let pong: String = cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    drop(con);
    server.signal("TERM");
    let status = server.wait();
    let log = server.stderr();
    assert!(status.code().is_some(), "it exited by itself: {log}");
    assert!(
        !log.contains("panicked") && !log.contains("internal error"),
        "{log}"
    );
    // The failure is logged once, and so is the poisoned handle, not once
    // per refused write.
    let lines = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    assert_eq!(lines("serve: fsync"), 1, "{log}");
    assert_eq!(lines("poisoned"), 1, "{log}");
    // What was acknowledged survives the reopen.
    db.cmd(["get", &acked[acked.len() - 1]]).run().code(0);
}
