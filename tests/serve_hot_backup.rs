//! A hot backup of a running `tinykv serve` with `redis-cli --rdb FILE`
//! (SYNC), or PSYNC from any client: the file is an RDB that a real
//! redis-server loads holding exactly the database of one moment, binary
//! values and expiry included, taken while other clients write and are
//! answered; the server's scratch files are gone afterwards.

mod util;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use util::TestDb;
use util::redis_server::Redis;
use util::serve::{Gate, Server, eventually, read_exact, read_line, resp};

/// `redis-cli -p PORT --rdb FILE`, which must succeed.
fn rdb_backup(server: &Server, file: &Path) {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &server.port.to_string(), "--rdb"])
        .arg(file)
        .output()
        .expect("redis-cli");
    assert!(
        out.status.success(),
        "redis-cli --rdb failed: {}{}\nserver stderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
}

/// redis-server started on `rdb` (copied in as dir/dump.rdb), and a
/// connection to it.
fn redis_on(rdb: &Path, dir: &Path) -> (Redis, redis::Connection) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(rdb, dir.join("dump.rdb")).unwrap();
    let redis = Redis::start_with(dir, &[]);
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port)).unwrap();
    let con = client.get_connection().expect("redis-server");
    (redis, con)
}

/// No scratch directory of a snapshot is left beside the database.
fn assert_no_scratch(db: &TestDb) {
    let parent = db.path.parent().unwrap();
    let left: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".snapshot-"))
        .collect();
    assert!(left.is_empty(), "scratch left behind: {left:?}");
}

/// A value that is not text: every byte value, CR LF and NUL among them.
fn binary_value(i: u32) -> Vec<u8> {
    let mut v: Vec<u8> = (0..=255u8)
        .cycle()
        .skip(i as usize % 256)
        .take(300)
        .collect();
    v.extend_from_slice(b"\r\n\0");
    v.extend_from_slice(&i.to_le_bytes());
    v
}

#[test]
fn redis_cli_rdb_is_a_file_redis_server_loads_with_every_pair() {
    if !util::require_tool("redis-cli") || !util::require_tool("redis-server") {
        return;
    }
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    let now_ms: u64 = {
        let (secs, micros): (u64, u64) = redis::cmd("TIME").query(&mut con).unwrap();
        secs * 1000 + micros / 1000
    };
    let n = 2000u32;
    let mut expected = Vec::new();
    for i in 0..n {
        let key = format!("key:{i}\x01\u{e9}").into_bytes();
        let value = match i % 5 {
            0 => Vec::new(),
            1 => i.to_string().into_bytes(),
            _ => binary_value(i),
        };
        let mut set = redis::cmd("SET");
        set.arg(&key).arg(&value);
        // Every third key expires, an hour or more from now.
        let at = (i % 3 == 0).then(|| now_ms + 3_600_000 + u64::from(i));
        if let Some(at) = at {
            set.arg("PXAT").arg(at);
        }
        let () = set.query(&mut con).unwrap();
        expected.push((key, value, at));
    }
    // One that has expired already is not in the backup.
    let () = redis::cmd("SET")
        .arg("gone")
        .arg("x")
        .arg("PXAT")
        .arg(now_ms - 1000)
        .query(&mut con)
        .unwrap();
    let file = db.tmp.path().join("backup.rdb");
    rdb_backup(&server, &file);
    assert_no_scratch(&db);
    // The server goes on.
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");

    let (_redis, mut redis) = redis_on(&file, &db.tmp.path().join("redis"));
    let size: u64 = redis::cmd("DBSIZE").query(&mut redis).unwrap();
    assert_eq!(size, u64::from(n));
    for (key, value, at) in &expected {
        let got: Option<Vec<u8>> = redis::cmd("GET").arg(key).query(&mut redis).unwrap();
        assert_eq!(
            got.as_ref(),
            Some(value),
            "{}",
            String::from_utf8_lossy(key)
        );
        let when: i64 = redis::cmd("PEXPIRETIME")
            .arg(key)
            .query(&mut redis)
            .unwrap();
        assert_eq!(when, at.map_or(-1, |t| t as i64), "{key:?}");
    }
}

#[test]
fn a_backup_under_write_load_holds_one_moment() {
    if !util::require_tool("redis-cli") || !util::require_tool("redis-server") {
        return;
    }
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    // Keys between `counter` and `seq:*` in key order, so that a walk of
    // the database that were not one moment would read the counter long
    // before the last seq keys, while the writer goes on.
    let pads = 20_000u64;
    let mut con = server.client();
    for chunk in 0..pads / 1000 {
        let mut mset = redis::cmd("MSET");
        for i in chunk * 1000..(chunk + 1) * 1000 {
            mset.arg(format!("pad:{i:05}")).arg(vec![b'p'; 1000]);
        }
        let () = mset.query(&mut con).unwrap();
    }
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut con = server.client();
        let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                // seq:n and the counter at n, together: a snapshot holds
                // both or neither.
                let (_, counter): ((), u64) = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(format!("seq:{n}"))
                    .arg(n)
                    .cmd("INCR")
                    .arg("counter")
                    .query(&mut con)
                    .unwrap();
                assert_eq!(counter, n);
                acked.store(n, Ordering::SeqCst);
            }
            n
        })
    };
    // Writes were acknowledged before the backup began.
    eventually("200 acknowledged writes", || {
        acked.load(Ordering::SeqCst) >= 200
    });
    let file = db.tmp.path().join("backup.rdb");
    rdb_backup(&server, &file);
    let before_end = acked.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let last = writer.join().expect("the writer");
    assert_no_scratch(&db);

    let (_redis, mut redis) = redis_on(&file, &db.tmp.path().join("redis"));
    let counter: u64 = redis::cmd("GET").arg("counter").query(&mut redis).unwrap();
    assert!(
        counter >= 200,
        "writes acknowledged before the backup are in it"
    );
    assert!(
        // The last write may be in it before its reply was read.
        counter <= before_end + 1 && before_end <= last,
        "{counter} {before_end} {last}"
    );
    // seq:1..=counter, no hole, nothing after.
    let size: u64 = redis::cmd("DBSIZE").query(&mut redis).unwrap();
    assert_eq!(
        size,
        pads + counter + 1,
        "the pads, the counter and seq:1..={counter}"
    );
    for k in 1..=counter {
        let v: Option<u64> = redis::cmd("GET")
            .arg(format!("seq:{k}"))
            .query(&mut redis)
            .unwrap();
        assert_eq!(v, Some(k), "seq:{k} of a backup at counter {counter}");
    }
}

/// The most bytes the kernel can hold between the server and a client
/// that reads nothing: the most either socket buffer may grow to.
fn socket_buffers() -> usize {
    let max = |path: &str| -> usize {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.split_whitespace().last()?.parse().ok())
            .unwrap_or(32 << 20)
    };
    max("/proc/sys/net/ipv4/tcp_rmem")
        + max("/proc/sys/net/ipv4/tcp_wmem")
        + max("/proc/sys/net/core/rmem_max")
        + max("/proc/sys/net/core/wmem_max")
}

#[test]
fn other_clients_are_answered_while_a_snapshot_is_sent() {
    if !util::require_tool("redis-server") {
        return;
    }
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut con = server.client();
    // More than the kernel can hold for a client that does not read, and
    // more than the server holds for one connection: while this client
    // reads nothing, the server has not sent the whole snapshot.
    let value_len = 256 * 1024;
    let values = (socket_buffers() + (8 << 20)) / value_len + 1;
    for i in 0..values {
        let value = vec![(i % 251) as u8; value_len];
        let () = redis::cmd("SET")
            .arg(format!("big:{i}"))
            .arg(value)
            .query(&mut con)
            .unwrap();
    }
    let mut sync = server.connect();
    sync.write_all(&resp(&[b"SYNC"])).unwrap();
    let header = read_line(&mut sync);
    let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("not a payload header: {header:?}"));
    assert!(len > values * value_len, "{len}");
    let magic = read_exact(&mut sync, 9);
    assert_eq!(magic, b"REDIS0009");

    // The snapshot is taken and being sent: the others are answered.
    for i in 0..50 {
        let pong: String = redis::cmd("PING").query(&mut con).unwrap();
        assert_eq!(pong, "PONG", "ping {i}");
    }
    let () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut con)
        .unwrap();
    let after: String = redis::cmd("GET").arg("after").query(&mut con).unwrap();
    assert_eq!(after, "1");

    // The rest of the payload, then the server closes the connection.
    let mut payload = magic;
    payload.extend(read_exact(&mut sync, len - 9));
    let mut more = [0u8; 1];
    assert_eq!(sync.read(&mut more).unwrap(), 0, "the connection closes");
    assert_no_scratch(&db);
    let file = db.tmp.path().join("sent.rdb");
    std::fs::write(&file, &payload).unwrap();
    let (_redis, mut redis) = redis_on(&file, &db.tmp.path().join("redis"));
    let size: usize = redis::cmd("DBSIZE").query(&mut redis).unwrap();
    assert_eq!(
        size, values,
        "the write answered during the transfer is not in it"
    );
    let last: Vec<u8> = redis::cmd("GET")
        .arg(format!("big:{}", values - 1))
        .query(&mut redis)
        .unwrap();
    assert_eq!(last, vec![((values - 1) % 251) as u8; value_len]);
}

#[test]
fn psync_gets_fullresync_then_the_payload_and_sync_needs_auth() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &["--requirepass", "pw"], &[]);
    let mut s = server.connect();
    s.write_all(&resp(&[b"SYNC"])).unwrap();
    assert_eq!(read_line(&mut s), b"-NOAUTH Authentication required.\r\n");
    s.write_all(&resp(&[b"PSYNC", b"?", b"-1"])).unwrap();
    assert_eq!(read_line(&mut s), b"-NOAUTH Authentication required.\r\n");
    s.write_all(&resp(&[b"AUTH", b"pw"])).unwrap();
    assert_eq!(read_line(&mut s), b"+OK\r\n");
    s.write_all(&resp(&[b"SET", b"k", b"v"])).unwrap();
    assert_eq!(read_line(&mut s), b"+OK\r\n");
    for conf in [
        &[&b"REPLCONF"[..], b"listening-port", b"6380"][..],
        &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"],
        &[b"REPLCONF", b"rdb-only", b"1"],
    ] {
        s.write_all(&resp(conf)).unwrap();
        assert_eq!(read_line(&mut s), b"+OK\r\n");
    }
    s.write_all(&resp(&[b"REPLCONF", b"nonsense", b"1"]))
        .unwrap();
    assert_eq!(
        read_line(&mut s),
        b"-ERR Unrecognized REPLCONF option: nonsense\r\n"
    );
    s.write_all(&resp(&[b"PSYNC", b"?", b"-1"])).unwrap();
    let line = read_line(&mut s);
    let text = String::from_utf8(line).unwrap();
    let replid = text
        .strip_prefix("+FULLRESYNC ")
        .and_then(|t| t.strip_suffix(" 0\r\n"))
        .unwrap_or_else(|| panic!("not a full resync: {text:?}"));
    assert_eq!(replid.len(), 40);
    assert!(replid.bytes().all(|b| b.is_ascii_hexdigit()), "{replid}");
    let header = read_line(&mut s);
    let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    let payload = read_exact(&mut s, len);
    assert!(payload.starts_with(b"REDIS0009"));
    assert!(
        payload.windows(2).any(|w| w == b"\x01k"),
        "the key is in it"
    );
    let mut more = [0u8; 1];
    assert_eq!(s.read(&mut more).unwrap(), 0, "the connection closes");
    // INFO tells tools what this server is.
    let mut c = server.client_with_url(&format!("redis://:pw@127.0.0.1:{}/", server.port));
    let info: String = redis::cmd("INFO").query(&mut c).unwrap();
    for field in [
        "role:master",
        "connected_slaves:0",
        "master_repl_offset:0",
        "cluster_enabled:0",
    ] {
        assert!(info.contains(field), "{field} missing: {info}");
    }
    assert!(info.contains(&format!("master_replid:{replid}")), "{info}");
    assert_no_scratch(&db);
}

#[test]
fn a_snapshot_that_cannot_be_taken_is_one_error_and_the_connection_goes_on() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    // The first snapshot's scratch directory cannot be made: a file holds
    // its name.
    let name = format!(".db.snapshot-{}-0.tmp", server.pid());
    let blocker = db.path.parent().unwrap().join(&name);
    assert_eq!(db.path.file_name().unwrap(), "db");
    std::fs::write(&blocker, b"in the way").unwrap();
    let mut s = server.connect();
    s.write_all(&resp(&[b"SYNC"])).unwrap();
    let line = String::from_utf8(read_line(&mut s)).unwrap();
    assert!(
        line.starts_with("-ERR cannot take a snapshot: cannot create ")
            && line.contains(&name)
            && line.ends_with("\r\n")
            && line.matches("\r\n").count() == 1,
        "{line:?}"
    );
    assert_eq!(std::fs::read(&blocker).unwrap(), b"in the way");
    s.write_all(&resp(&[b"PING"])).unwrap();
    assert_eq!(read_line(&mut s), b"+PONG\r\n");
    // Not inside MULTI.
    s.write_all(&resp(&[b"MULTI"])).unwrap();
    assert_eq!(read_line(&mut s), b"+OK\r\n");
    s.write_all(&resp(&[b"SYNC"])).unwrap();
    assert_eq!(
        read_line(&mut s),
        b"-ERR Command not allowed inside a transaction\r\n"
    );
    s.write_all(&resp(&[b"DISCARD"])).unwrap();
    assert_eq!(read_line(&mut s), b"+OK\r\n");
    // The next one is taken.
    s.write_all(&resp(&[b"SYNC"])).unwrap();
    let header = read_line(&mut s);
    assert_eq!(header[0], b'$', "{header:?}");
    std::fs::remove_file(&blocker).unwrap();
    let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    assert!(read_exact(&mut s, len).starts_with(b"REDIS0009"));
    assert_no_scratch(&db);
    assert!(
        server.stderr().contains("cannot take a snapshot"),
        "the server's trouble is logged: {}",
        server.stderr()
    );
}

#[test]
fn a_snapshot_waiting_for_the_engine_keeps_no_other_client_waiting() {
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
    std::thread::scope(|s| {
        // Overwrites until a compaction is due; it stops at the gate with
        // the engine's writer held, which a snapshot needs for a moment.
        s.spawn(move || {
            for round in 1..=12 {
                let mut p = redis::pipe();
                for k in 0..100 {
                    p.cmd("SET")
                        .arg(format!("key{k:03}"))
                        .arg(format!("round {round} {}", "x".repeat(400)));
                }
                let () = p.query(&mut writer).unwrap();
            }
        });
        gate.wait_reached(&server);
        let mut sync = server.connect();
        sync.write_all(&resp(&[b"CLIENT", b"SETNAME", b"backup"]))
            .unwrap();
        assert_eq!(read_line(&mut sync), b"+OK\r\n");
        sync.write_all(&resp(&[b"SYNC"])).unwrap();
        eventually("the SYNC to be running", || {
            server
                .client_line("backup")
                .is_some_and(|l| l.contains(" cmd=sync"))
        });
        // The snapshot waits for the engine: the others are answered.
        let mut con = server.client();
        for _ in 0..20 {
            let pong: String = redis::cmd("PING").query(&mut con).unwrap();
            assert_eq!(pong, "PONG");
        }
        let v: Option<String> = redis::cmd("GET").arg("key000").query(&mut con).unwrap();
        assert!(v.is_some_and(|v| v.starts_with("round ")));
        // And nothing of the snapshot was sent yet.
        sync.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let early = sync.read(&mut byte);
        assert!(
            early
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "{early:?}"
        );
        sync.set_nonblocking(false).unwrap();
        gate.open();
        let header = read_line(&mut sync);
        assert_eq!(header[0], b'$', "{header:?}");
        let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
            .unwrap()
            .parse()
            .unwrap();
        assert!(read_exact(&mut sync, len).starts_with(b"REDIS0009"));
        assert_eq!(sync.read(&mut byte).unwrap(), 0, "the connection closes");
    });
    assert_no_scratch(&db);
}
