//! Graceful shutdown: on SIGTERM (or SIGINT, or SHUTDOWN) while clients
//! write, the server stops accepting, answers what it has read, closes the
//! database and exits 0; every acknowledged write is in the files, and the
//! lock is free at once for a one-shot command or the library.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};

use redis::cmd;
use util::TestDb;
use util::serve::{Server, eventually};

fn write_until_refused(server: &mut Server, stop: impl FnOnce(&mut Server)) -> Vec<String> {
    let acks = AtomicUsize::new(0);
    let connections: Vec<_> = (0..6).map(|_| server.client()).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = connections
            .into_iter()
            .enumerate()
            .map(|(c, mut con)| {
                let acks = &acks;
                s.spawn(move || {
                    let mut acked = Vec::new();
                    for i in 0.. {
                        // Pipelines of 20, so that some are mid-flight at the signal.
                        let keys: Vec<String> =
                            (0..20).map(|j| format!("c{c}:{i:05}:{j:02}")).collect();
                        let mut p = redis::pipe();
                        for k in &keys {
                            p.cmd("SET").arg(k).arg(k);
                        }
                        match p.query::<Vec<redis::Value>>(&mut con) {
                            Ok(replies) if replies.iter().all(|r| *r == redis::Value::Okay) => {
                                acked.extend(keys);
                                acks.fetch_add(20, Ordering::Relaxed);
                            }
                            _ => return acked,
                        }
                    }
                    unreachable!()
                })
            })
            .collect();
        eventually("1000 acknowledged writes", || {
            acks.load(Ordering::Relaxed) >= 1000
        });
        stop(server);
        let status = server.wait();
        assert!(
            status.success(),
            "exit {status:?}; stderr:\n{}",
            server.stderr()
        );
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

fn check_all_there(db: &TestDb, acked: &[String]) {
    // The library opens it: the lock was released.
    let opened = tinykv::Db::open(&db.path, tinykv::Options::default()).expect("lock released");
    for key in acked {
        let got = opened.get(key.as_bytes()).unwrap();
        assert_eq!(
            got.as_deref(),
            Some(key.as_bytes()),
            "acknowledged {key} is lost"
        );
    }
}

#[test]
fn sigterm_answers_in_flight_writes_and_exits_0() {
    let db = TestDb::new();
    let mut server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let acked = write_until_refused(&mut server, |s| s.signal("TERM"));
    let err = server.stderr();
    assert!(err.contains("SIGTERM: shutting down"), "{err}");
    assert!(err.contains("stopped; the database is closed"), "{err}");
    let last = acked.last().expect("some writes were acknowledged").clone();
    // A one-shot command right after: no lock message.
    db.cmd(["get", &last])
        .run()
        .code(0)
        .stdout_is(format!("{last}\n"));
    check_all_there(&db, &acked);
}

#[test]
fn sigint_and_shutdown_stop_it_the_same_way() {
    let db = TestDb::new();
    let mut server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let acked = write_until_refused(&mut server, |s| s.signal("INT"));
    assert!(server.stderr().contains("SIGINT: shutting down"));
    check_all_there(&db, &acked);

    let mut server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    // Options checked as Redis checks them, and a refused one stops nothing.
    let mut c = server.client();
    let err = cmd("SHUTDOWN")
        .arg("SAVE")
        .arg("NOSAVE")
        .query::<()>(&mut c);
    assert!(err.unwrap_err().to_string().contains("syntax error"));
    let err = cmd("SHUTDOWN").arg("ABORT").query::<()>(&mut c);
    assert!(
        err.unwrap_err()
            .to_string()
            .contains("No shutdown in progress")
    );
    let pong: String = cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    let acked = write_until_refused(&mut server, |s| {
        // SHUTDOWN's answer is the connection closing.
        assert!(cmd("SHUTDOWN").query::<()>(&mut s.client()).is_err());
    });
    assert!(server.stderr().contains("SHUTDOWN: shutting down"));
    check_all_there(&db, &acked);
}
