//! kill -9 of the server while 8 clients write, then a restart on the same
//! directory: every write that was acknowledged (+OK) is there, and every
//! MSET, acknowledged or not, is all there or not there at all.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};

use redis::cmd;
use util::TestDb;
use util::serve::{Server, eventually};

const CLIENTS: usize = 8;

/// What one client did: acknowledged SETs, and every MSET it sent.
#[derive(Default)]
struct Log {
    acked: Vec<(String, String)>,
    msets: Vec<(String, String, bool)>,
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let db = TestDb::new();
    let mut server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let acks = AtomicUsize::new(0);
    let connections: Vec<_> = (0..CLIENTS).map(|_| server.client()).collect();
    let logs: Vec<Log> = std::thread::scope(|s| {
        let workers: Vec<_> = connections
            .into_iter()
            .enumerate()
            .map(|(c, mut con)| {
                let acks = &acks;
                s.spawn(move || {
                    let mut log = Log::default();
                    for i in 0.. {
                        let (key, value) = (format!("c{c}:{i:06}"), format!("value {c} {i}"));
                        if i % 5 == 4 {
                            let (a, b) = (format!("m{c}:{i}:a"), format!("m{c}:{i}:b"));
                            let r = cmd("MSET")
                                .arg(&a)
                                .arg(i)
                                .arg(&b)
                                .arg(i)
                                .query::<()>(&mut con);
                            log.msets.push((a, b, r.is_ok()));
                            if r.is_err() {
                                return log;
                            }
                        }
                        match cmd("SET").arg(&key).arg(&value).query::<()>(&mut con) {
                            Ok(()) => {
                                log.acked.push((key, value));
                                acks.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => return log,
                        }
                    }
                    unreachable!()
                })
            })
            .collect();
        eventually("2000 acknowledged writes", || {
            acks.load(Ordering::Relaxed) >= 2000
        });
        server.kill9();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    drop(server);

    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let mut checked = 0;
    for log in &logs {
        for chunk in log.acked.chunks(200) {
            let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
            let got: Vec<Option<String>> = cmd("MGET").arg(&keys).query(&mut con).unwrap();
            for ((key, want), got) in chunk.iter().zip(got) {
                assert_eq!(
                    got.as_deref(),
                    Some(want.as_str()),
                    "acknowledged {key} is lost"
                );
                checked += 1;
            }
        }
        for (a, b, acked) in &log.msets {
            let got: Vec<Option<String>> = cmd("MGET").arg(a).arg(b).query(&mut con).unwrap();
            assert_eq!(
                got[0].is_some(),
                got[1].is_some(),
                "MSET {a} {b} is half there"
            );
            if *acked {
                assert!(got[0].is_some(), "acknowledged MSET {a} {b} is lost");
            }
        }
    }
    assert!(checked >= 2000);
}
