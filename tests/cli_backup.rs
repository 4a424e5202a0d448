//! `tinykv backup` under a concurrent write load, through the server that
//! owns the database: the copy opens clean, `check` says ok, and its pairs
//! are the database's at one instant (the writer writes k0, k1, … in turn,
//! so the copy holds exactly k0..kN, with every key acknowledged before the
//! backup started and none written after it returned). Without an owner,
//! the copy is the database; an existing non-empty destination is refused.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread;

use util::TestDb;
use util::serve::{Server, eventually};

#[test]
fn a_backup_under_load_is_the_database_at_one_instant() {
    let db = TestDb::new();
    // Small segments, so that seals (and compactions) happen during the copy.
    let options = "segment_size=65536,compact_min_bytes=131072";
    let server = Server::start(
        db.tmp.path(),
        &db.path,
        &[],
        &[("TINYKV_TEST_OPTIONS", options)],
    );
    let acked = Arc::new(AtomicI64::new(-1));
    let stop = Arc::new(AtomicBool::new(false));
    let mut con = server.client();
    let writer = {
        let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
        thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let _: () = redis::cmd("SET")
                    .arg(format!("k{i:06}"))
                    .arg(vec![b'v'; 200])
                    .query(&mut con)
                    .unwrap();
                acked.store(i, Ordering::SeqCst);
                i += 1;
            }
        })
    };
    eventually("some writes", || acked.load(Ordering::SeqCst) >= 1000);
    let before = acked.load(Ordering::SeqCst);
    let copy = db.file("copy");
    db.cmd(["backup".as_ref(), copy.as_os_str()])
        .env("TINYKV_TEST_OPTIONS", options)
        .run()
        .code(0);
    let after = acked.load(Ordering::SeqCst);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    db.cmd(["-d".as_ref(), copy.as_os_str(), "check".as_ref()])
        .run()
        .code(0)
        .stdout_is("ok\n");
    let keys = db
        .cmd(["-d".as_ref(), copy.as_os_str(), "keys".as_ref()])
        .run()
        .code(0)
        .stdout_str();
    let n = keys.lines().count() as i64;
    assert!(
        n > before && n <= after + 2,
        "the copy holds {n} keys; {before} were acknowledged before it, {after} after"
    );
    let want: String = (0..n).map(|i| format!("k{i:06}\n")).collect();
    assert_eq!(keys, want, "the copy is not a prefix of the writes");
}

#[test]
fn a_backup_without_an_owner_and_its_refusals() {
    let db = TestDb::new();
    db.cmd(["load"])
        .stdin(
            (0..500)
                .map(|i| format!("key{i}\tvalue{i}\n"))
                .collect::<String>(),
        )
        .run()
        .code(0);
    let copy = db.file("nested/copy");
    db.cmd(["backup".as_ref(), copy.as_os_str()]).run().code(0);
    let dump = db.cmd(["dump"]).run().code(0);
    db.cmd(["-d".as_ref(), copy.as_os_str(), "dump".as_ref()])
        .run()
        .code(0)
        .stdout_is(dump.stdout());
    db.cmd(["backup".as_ref(), copy.as_os_str()])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicates::str::contains("holds files"));
    // A read-only command: a missing database is not created by it.
    let missing = TestDb::new();
    missing
        .cmd(["backup".as_ref(), missing.file("x").as_os_str()])
        .run()
        .code(2)
        .one_line_error();
    assert!(!missing.path.exists());
}
