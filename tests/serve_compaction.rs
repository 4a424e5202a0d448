//! Background compaction while serving, and reads answered *during* it.
//!
//! With small thresholds (test builds read TINYKV_TEST_OPTIONS), writing
//! the same keys over and over makes the server's compaction thread
//! rewrite them. `compact_gate=PATH` holds that compaction inside the
//! engine, with the engine's writer lock taken, for as long as PATH
//! exists, and says so by creating PATH.reached: so the test knows that a
//! compaction is running, for as long as it needs, without timing. While
//! it is held, writes wait (some of the writer's SETs, and 20 DELs that
//! park in the worker threads), and MGET, EXISTS, SCAN, KEYS, DBSIZE and
//! INFO must all be answered; INFO must say that a rewrite is in progress.
//! Then the gate opens, everything waiting is answered, and the files have
//! shrunk.

mod util;

use std::io::Write;

use redis::cmd;
use util::TestDb;
use util::serve::{Gate, Server, eventually, info_number, read_line, resp};

const KEYS: usize = 100;
const DELS: usize = 20;

fn key(k: usize) -> String {
    format!("key{k:03}")
}

fn value(k: usize, round: u64) -> String {
    format!("{} round {round} {}", key(k), "x".repeat(400))
}

/// Every read command, answered and right, and INFO saying that the same
/// compaction is still running (none has finished).
fn reads_are_answered(server: &Server, what: &str) {
    let mut con = server.client();
    let info: String = cmd("INFO").arg("persistence").query(&mut con).unwrap();
    still_compacting(&info, what);
    let keys: Vec<String> = (0..KEYS).map(key).collect();
    let values: Vec<Option<String>> = cmd("MGET").arg(&keys).query(&mut con).unwrap();
    for (k, v) in values.iter().enumerate() {
        let v = v
            .as_deref()
            .unwrap_or_else(|| panic!("{what}: {} missing", key(k)));
        assert!(
            v.starts_with(&format!("{} round ", key(k))),
            "{what}: {v:.40}"
        );
    }
    let n: usize = cmd("EXISTS")
        .arg(key(1))
        .arg(key(2))
        .arg("nokey")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 2, "{what}: EXISTS");
    let (cursor, found): (String, Vec<String>) = cmd("SCAN")
        .arg(0)
        .arg("MATCH")
        .arg("key*")
        .arg("COUNT")
        .arg(10_000)
        .query(&mut con)
        .unwrap();
    assert_eq!((cursor.as_str(), found.len()), ("0", KEYS), "{what}: SCAN");
    let all: Vec<String> = cmd("KEYS").arg("key*").query(&mut con).unwrap();
    assert_eq!(all.len(), KEYS, "{what}: KEYS");
    let n: usize = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, KEYS + DELS, "{what}: DBSIZE");
    let info: String = cmd("INFO").query(&mut con).unwrap();
    still_compacting(&info, what);
}

/// INFO says that a compaction runs and that none has finished: the one
/// held at the gate.
fn still_compacting(info: &str, what: &str) {
    let running = info_number(info, "aof_rewrite_in_progress");
    let done = info_number(info, "tinykv_compactions");
    assert_eq!((running, done), (1, 0), "{what}: {info}");
}

#[test]
fn reads_are_answered_while_a_compaction_runs() {
    let db = TestDb::new();
    let gate = Gate::new(db.tmp.path());
    let options = gate.options();
    let server = Server::start(
        db.tmp.path(),
        &db.path,
        &[],
        &[("TINYKV_TEST_OPTIONS", &options)],
    );
    let mut writer = server.client();
    for k in 0..KEYS {
        let () = cmd("SET")
            .arg(key(k))
            .arg(value(k, 0))
            .query(&mut writer)
            .unwrap();
    }
    for d in 0..DELS {
        let () = cmd("SET")
            .arg(format!("del{d}"))
            .arg(d)
            .query(&mut writer)
            .unwrap();
    }
    let peak = std::thread::scope(|s| {
        // Overwrites until a compaction is due; once it runs, the writes
        // of this thread wait for it (they may, a test's reads may not).
        let overwrites = s.spawn(move || {
            let mut peak = 0;
            for round in 1..=12 {
                let mut p = redis::pipe();
                for k in 0..KEYS {
                    p.cmd("SET").arg(key(k)).arg(value(k, round));
                }
                let () = p.query(&mut writer).unwrap();
                let info: String = cmd("INFO").arg("persistence").query(&mut writer).unwrap();
                peak = peak.max(info_number(&info, "tinykv_total_bytes"));
            }
            peak
        });
        gate.wait_reached(&server);
        // A SET that waits for the compaction, holding its key's stripe
        // (MGET and EXISTS once waited behind such writes).
        let mut set = server.connect();
        set.write_all(&resp(&[b"CLIENT", b"SETNAME", b"setter"]))
            .unwrap();
        assert_eq!(read_line(&mut set), b"+OK\r\n");
        set.write_all(&resp(&[b"SET", key(1).as_bytes(), value(1, 99).as_bytes()]))
            .unwrap();
        eventually("the SET to be waiting", || {
            server
                .client_line("setter")
                .is_some_and(|l| l.contains(" cmd=set"))
        });
        reads_are_answered(&server, "with writes waiting");

        // Twenty DELs: they take a worker each (of the write pool), and
        // wait there for the writer, which waits for the compaction.
        let mut dels = Vec::new();
        for d in 0..DELS {
            let mut s = server.connect();
            s.write_all(&resp(&[
                b"CLIENT",
                b"SETNAME",
                format!("del{d}").as_bytes(),
            ]))
            .unwrap();
            assert_eq!(read_line(&mut s), b"+OK\r\n");
            s.write_all(&resp(&[b"DEL", format!("del{d}").as_bytes()]))
                .unwrap();
            dels.push(s);
        }
        eventually("every DEL to be running", || {
            (0..DELS).all(|d| {
                server
                    .client_line(&format!("del{d}"))
                    .is_some_and(|l| l.contains(" cmd=del"))
            })
        });
        reads_are_answered(&server, "with DELs parked in the workers");

        gate.open();
        assert_eq!(read_line(&mut set), b"+OK\r\n", "the SET's reply");
        for mut s in dels {
            assert_eq!(read_line(&mut s), b":1\r\n", "the DEL's reply");
        }
        overwrites.join().unwrap()
    });
    let mut con = server.client();
    eventually("the compaction to finish", || {
        server.info_field("persistence", "tinykv_compactions") >= 1
    });
    let info: String = cmd("INFO").arg("persistence").query(&mut con).unwrap();
    assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
    assert!(
        info_number(&info, "tinykv_last_compaction_time") > 0,
        "{info}"
    );
    let after = info_number(&info, "tinykv_last_compaction_bytes_after");
    assert!(after < peak, "compaction left {after} bytes of {peak}");
    assert!(
        server.stderr().contains("serve: compacted "),
        "{}",
        server.stderr()
    );
    let n: usize = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, KEYS);
}
