//! What the server holds for clients that send more than they read, or
//! more than memory allows: replies do not pile up for a client that does
//! not read them; a reply too large to build is refused with an error; a
//! request of a million empty arguments is counted for what it holds; and
//! writes waiting for a compaction stay counted in the request budget,
//! which, once spent, makes the next client wait (its sends block) rather
//! than fail, until the compaction is done.

mod util;

use std::io::Write;

use redis::cmd;
use util::TestDb;
use util::serve::{
    Gate, Server, client_field, eventually, info_number, read_exact, read_line, resp,
};

const MIB: usize = 1024 * 1024;
/// conn.rs's OUT_HIGH: no request runs while this much waits to be sent.
const OUT_HIGH: u64 = MIB as u64;

fn request_memory(server: &Server) -> u64 {
    server.info_field("clients", "tinykv_request_memory_bytes")
}

#[test]
fn replies_do_not_pile_up_for_a_client_that_does_not_read() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let value = vec![b'v'; 2 * MIB];
    let mut con = server.client();
    let () = cmd("SET").arg("big").arg(&value).query(&mut con).unwrap();
    // 64 GETs of 2 MiB in one write, 128 MiB of replies, and no read.
    let mut hog = server.connect();
    hog.write_all(&resp(&[b"CLIENT", b"SETNAME", b"hog"]))
        .unwrap();
    assert_eq!(read_line(&mut hog), b"+OK\r\n");
    hog.write_all(&b"GET big\r\n".repeat(64)).unwrap();
    let omem = || client_field(&server.client_line("hog").unwrap(), "omem");
    eventually("the GETs to start", || omem() > 0);
    // At most what was waiting before the last GET ran, and that GET.
    let limit = OUT_HIGH + value.len() as u64 + 64;
    for _ in 0..20 {
        let held = omem();
        assert!(held <= limit, "{held} bytes of replies wait, over {limit}");
    }
    // Every reply is still there, whole and in order, once it is read.
    let header = format!("${}\r\n", value.len()).into_bytes();
    for i in 0..64 {
        assert_eq!(read_line(&mut hog), header, "reply {i}");
        assert!(read_exact(&mut hog, value.len() + 2) == [&value[..], b"\r\n"].concat());
    }
    eventually("the replies to be sent", || omem() == 0);
}

#[test]
fn a_reply_too_large_to_build_is_refused() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let () = cmd("SET")
        .arg("k")
        .arg(vec![b'x'; 4096])
        .query(&mut con)
        .unwrap();
    // 140,000 times the same 4 KiB key: a 1 MB request, a 574 MB reply.
    let mut s = server.connect();
    let mut request = format!("*{}\r\n$4\r\nMGET\r\n", 140_001).into_bytes();
    request.extend_from_slice(&b"$1\r\nk\r\n".repeat(140_000));
    s.write_all(&request).unwrap();
    let line = String::from_utf8(read_line(&mut s)).unwrap();
    // Two values of the largest size (256 MiB), their keys (64 KiB) and
    // 64 KiB of framing: what one MSET may write.
    let max_reply = 2 * 256 * MIB + 3 * 64 * 1024;
    assert!(
        line.starts_with(&format!(
            "-ERR reply too large: MGET would return more than the {max_reply} bytes"
        )),
        "{line}"
    );
    // The connection goes on, and a reply within the limit is built.
    s.write_all(&resp(&[b"PING"])).unwrap();
    assert_eq!(read_line(&mut s), b"+PONG\r\n");
    let keys = vec!["k"; 1000];
    let values: Vec<Vec<u8>> = cmd("MGET").arg(&keys).query(&mut con).unwrap();
    assert_eq!(values.len(), 1000);
    assert!(values.iter().all(|v| v.len() == 4096));
}

#[test]
fn a_million_empty_arguments_are_counted() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let n = 1024 * 1024;
    let sent = 600_000;
    let mut s = server.connect();
    s.write_all(format!("*{n}\r\n").as_bytes()).unwrap();
    s.write_all(&b"$0\r\n\r\n".repeat(sent)).unwrap();
    // Each empty argument holds a Vec (24 bytes) at least, which the
    // budget counts: 3.6 MB sent, more than 14 MB held, none of it free.
    let held = (sent * std::mem::size_of::<Vec<u8>>() - 64 * 1024) as u64;
    eventually("the empty arguments to be counted", || {
        request_memory(&server) >= held
    });
    s.write_all(&b"$0\r\n\r\n".repeat(n - sent)).unwrap();
    let line = String::from_utf8(read_line(&mut s)).unwrap();
    assert!(line.starts_with("-ERR unknown command ''"), "{line}");
    eventually("the memory to be given back", || {
        request_memory(&server) == 0
    });
    s.write_all(&resp(&[b"PING"])).unwrap();
    assert_eq!(read_line(&mut s), b"+PONG\r\n");
}

#[test]
fn writes_waiting_for_a_compaction_stay_counted_and_the_next_one_waits() {
    let db = TestDb::new();
    let gate = Gate::new(db.tmp.path());
    let budget = 8 * MIB;
    let options = format!("{},request_budget={budget}", gate.options());
    let server = Server::start(
        db.tmp.path(),
        &db.path,
        &[],
        &[("TINYKV_TEST_OPTIONS", &options)],
    );
    let value = |c: u8| vec![c; 3 * MIB];
    std::thread::scope(|s| {
        // Small overwrites until a compaction is due (and then waits).
        s.spawn(|| {
            let mut con = server.client();
            for round in 0..12 {
                let mut p = redis::pipe();
                for k in 0..100 {
                    p.cmd("SET")
                        .arg(format!("k{k}"))
                        .arg(format!("{round}{:400}", ""));
                }
                let () = p.query(&mut con).unwrap();
            }
        });
        eventually("a compaction to be held", || {
            db.file("gate.reached").exists()
        });
        // Two SETs of 3 MiB wait for it, and keep their bytes counted.
        let mut a = server.connect();
        let mut b = server.connect();
        a.write_all(&resp(&[b"SET", b"a", &value(b'a')])).unwrap();
        b.write_all(&resp(&[b"SET", b"b", &value(b'b')])).unwrap();
        eventually("both SETs to be counted while they wait", || {
            request_memory(&server) >= (6 * MIB - 2 * 64 * 1024) as u64
        });
        // A third cannot be covered: it waits, with its sends blocked,
        // instead of being refused, and the budget is never exceeded.
        let mut c = server.connect();
        let sender = s.spawn(move || {
            c.write_all(&resp(&[b"SET", b"c", &value(b'c')])).unwrap();
            c
        });
        eventually("the budget to be spent", || {
            let used = request_memory(&server);
            assert!(
                used <= budget as u64,
                "{used} bytes reserved, over {budget}"
            );
            used + MIB as u64 > budget as u64
        });
        let info = server.cli_info("persistence");
        assert_eq!(info_number(&info, "aof_rewrite_in_progress"), 1, "{info}");
        gate.open();
        assert_eq!(read_line(&mut a), b"+OK\r\n");
        assert_eq!(read_line(&mut b), b"+OK\r\n");
        let mut c = sender.join().unwrap();
        assert_eq!(read_line(&mut c), b"+OK\r\n", "the waiting SET was refused");
    });
    let mut con = server.client();
    let got: Vec<u8> = cmd("GET").arg("c").query(&mut con).unwrap();
    assert!(got == value(b'c'));
    eventually("the budget to be given back", || {
        request_memory(&server) == 0
    });
}

/// Regression (serve review): the per-connection limits bound one client,
/// not all of them: eight clients that never read, each asking MGET for a
/// 1 MiB value 500 times, made the server hold 4 GB. Replies queued in all
/// connections are bounded: a large reply that would pass the limit is
/// refused with `-ERR server busy`, and served again once the queue drains.
#[test]
fn large_replies_for_clients_that_do_not_read_are_bounded_in_all() {
    const LIMIT: usize = 48 * MIB;
    let db = TestDb::new();
    let opts = format!("reply_limit={LIMIT}");
    let server = Server::start(
        db.tmp.path(),
        &db.path,
        &[],
        &[("TINYKV_TEST_OPTIONS", opts.as_str())],
    );
    let reply_memory = || server.info_field("clients", "tinykv_reply_memory_bytes");
    assert_eq!(
        server.info_field("clients", "tinykv_reply_memory_limit"),
        LIMIT as u64
    );
    let value = vec![b'v'; 8 * MIB];
    let mut con = server.client();
    let () = cmd("SET").arg("big").arg(&value).query(&mut con).unwrap();
    let mid = vec![b'm'; MIB];
    let () = cmd("SET").arg("mid").arg(&mid).query(&mut con).unwrap();
    // 40 MiB of reply for a client that does not read: the socket takes a
    // few MiB, the rest waits in the server.
    let mut hog = server.connect();
    hog.write_all(&resp(&[b"MGET", b"big", b"big", b"big", b"big", b"big"]))
        .unwrap();
    eventually("the hog's reply to be queued", || {
        reply_memory() >= 24 * MIB as u64
    });
    // 24 MiB more would pass 48 MiB: refused, and the connection goes on.
    let err = cmd("MGET")
        .arg(&["big", "big", "big"])
        .query::<Vec<Vec<u8>>>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("server busy"), "{err}");
    // 1 MiB more fits (at most 40 MiB wait), and small replies always do.
    let got: Vec<u8> = cmd("GET").arg("mid").query(&mut con).unwrap();
    assert!(got == mid);
    let pong: String = cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    // Once the hog is gone, its replies are given back, and large ones served.
    drop(hog);
    eventually("the hog's replies to be dropped", || reply_memory() == 0);
    let got: Vec<Vec<u8>> = cmd("MGET")
        .arg(&["big", "big", "big"])
        .query(&mut con)
        .unwrap();
    assert_eq!(got, vec![value.clone(), value.clone(), value]);
}
