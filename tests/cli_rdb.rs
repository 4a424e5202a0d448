//! `dump --format rdb` writes a file a real redis-server loads at start,
//! with every pair and expiry; `load --format rdb` reads the string keys of
//! a file redis-server wrote (integers, LZF-compressed runs, binary bytes,
//! expiry), and refuses another type, a key of another database or a
//! damaged file, storing nothing.

mod util;

use std::fs;

use tinykv::format::{Entry, Format, Reader};
use util::TestDb;
use util::redis_server::{Raw, Redis};

fn bulk(value: &[u8]) -> Vec<u8> {
    let mut b = format!("${}\r\n", value.len()).into_bytes();
    b.extend_from_slice(value);
    b.extend_from_slice(b"\r\n");
    b
}

fn integer(reply: &[u8]) -> i64 {
    assert_eq!(reply[0], b':', "{:?}", String::from_utf8_lossy(reply));
    std::str::from_utf8(&reply[1..reply.len() - 2])
        .unwrap()
        .parse()
        .unwrap()
}

/// Every pair of `db`, with its expiry, from its tsv dump.
fn entries_of(db: &TestDb) -> Vec<Entry> {
    let out = db.cmd(["dump"]).run().code(0);
    Reader::new(Format::Tsv, out.stdout())
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_dump_is_what_redis_server_loads() {
    if !util::require_tool("redis-server") {
        return;
    }
    let db = TestDb::new();
    let pairs = util::nasty_pairs();
    let tsv: Vec<u8> = pairs
        .iter()
        .flat_map(|(k, v)| {
            let mut line = tinykv::format::escape_bytes(k).into_bytes();
            line.push(b'\t');
            line.extend(tinykv::format::escape_bytes(v).into_bytes());
            line.push(b'\n');
            line
        })
        .collect();
    db.cmd(["load"]).stdin(tsv).run().code(0);
    let deadline_secs = 4_000_000_000u64;
    db.cmd([
        "set",
        "expiring",
        "soon",
        "--expire-at",
        &deadline_secs.to_string(),
    ])
    .run()
    .code(0);
    let dir = tempfile::tempdir().unwrap();
    let dump = db.cmd(["dump", "--format", "rdb"]).run().code(0);
    fs::write(dir.path().join("dump.rdb"), dump.stdout()).unwrap();

    let redis = Redis::start(dir.path());
    let mut c: Raw = redis.connect();
    assert_eq!(integer(&c.call(&[b"DBSIZE"])), pairs.len() as i64 + 1);
    for (k, v) in &pairs {
        assert_eq!(c.call(&[b"GET", k]), bulk(v), "{k:?}");
        assert_eq!(integer(&c.call(&[b"PEXPIRETIME", k])), -1, "{k:?}");
    }
    assert_eq!(c.call(&[b"GET", b"expiring"]), bulk(b"soon"));
    assert_eq!(
        integer(&c.call(&[b"PEXPIRETIME", b"expiring"])),
        deadline_secs as i64 * 1000
    );
}

#[test]
fn an_rdb_written_by_redis_server_loads_every_string() {
    if !util::require_tool("redis-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start_with(dir.path(), &["--enable-debug-command", "yes"]);
    let mut c = redis.connect();
    assert_eq!(c.call(&[b"DEBUG", b"POPULATE", b"2000"]), b"+OK\r\n");
    let long = vec![b'z'; 10_000]; // Redis compresses it with LZF
    let binary: Vec<u8> = (0..=255u8).collect();
    let deadline_ms = 4_000_000_000_123u64.to_string();
    for (k, v) in [
        (&b"int"[..], &b"12345"[..]),
        (b"negative", b"-42"),
        (b"big int", b"2147483647"),
        (b"long", &long),
        (b"\x00binary\xff", &binary),
        (b"empty", b""),
    ] {
        assert_eq!(c.call(&[b"SET", k, v]), b"+OK\r\n");
    }
    c.call(&[b"SET", b"expiring", b"v", b"PXAT", deadline_ms.as_bytes()]);
    assert_eq!(c.call(&[b"SAVE"]), b"+OK\r\n");
    let rdb = dir.path().join("dump.rdb");

    let db = TestDb::new();
    db.cmd(["load", rdb.to_str().unwrap()]).run().code(0);
    let got = entries_of(&db);
    assert_eq!(got.len(), 2007);
    for e in &got {
        assert_eq!(c.call(&[b"GET", &e.key]), bulk(&e.value), "{:?}", e.key);
        let want = integer(&c.call(&[b"PEXPIRETIME", &e.key]));
        assert_eq!(e.expires_at.map_or(-1, |at| at as i64), want, "{:?}", e.key);
    }
    assert!(got.iter().any(|e| e.key == b"long" && e.value == long));
    assert!(
        got.iter()
            .any(|e| e.key == b"key:1999" && e.value == b"value:1999")
    );

    // A hash among the strings: refused by key and type, nothing stored.
    assert_eq!(c.call(&[b"HSET", b"a hash", b"f", b"v"]), b":1\r\n");
    assert_eq!(c.call(&[b"SAVE"]), b"+OK\r\n");
    let other = TestDb::new();
    other.cmd(["set", "kept", "1"]).run().code(0);
    let out = other
        .cmd(["load", "--format", "rdb"])
        .stdin(fs::read(&rdb).unwrap())
        .run()
        .code(2)
        .one_line_error();
    assert!(
        out.stderr_str().contains("the key `a hash` is a hash"),
        "{}",
        out.stderr_str()
    );
    other.cmd(["count"]).run().code(0).stdout_is("1\n");

    // A key of another database: refused, not mixed into database 0.
    c.call(&[b"DEL", b"a hash"]);
    c.call(&[b"SELECT", b"3"]);
    c.call(&[b"SET", b"elsewhere", b"v"]);
    assert_eq!(c.call(&[b"SAVE"]), b"+OK\r\n");
    let out = other
        .cmd(["load", rdb.to_str().unwrap()])
        .run()
        .code(2)
        .one_line_error();
    assert!(
        out.stderr_str().contains("database 3"),
        "{}",
        out.stderr_str()
    );

    // One flipped byte: the CRC says so, nothing stored.
    c.call(&[b"FLUSHALL"]);
    c.call(&[b"SELECT", b"0"]);
    c.call(&[b"SET", b"k", b"value"]);
    assert_eq!(c.call(&[b"SAVE"]), b"+OK\r\n");
    let mut bytes = fs::read(&rdb).unwrap();
    let at = bytes.windows(5).position(|w| w == b"value").unwrap();
    bytes[at] = b'V';
    let out = other
        .cmd(["load", "--format", "rdb"])
        .stdin(bytes)
        .run()
        .code(2)
        .one_line_error();
    assert!(out.stderr_str().contains("damaged"), "{}", out.stderr_str());
    other.cmd(["count"]).run().code(0).stdout_is("1\n");
}

#[test]
fn a_dump_round_trips_through_rdb() {
    let db = TestDb::new();
    db.cmd(["set", "a", "1"]).run().code(0);
    db.cmd(["set", "b", "2", "--ttl", "1h"]).run().code(0);
    let rdb = db.cmd(["dump", "--format", "rdb"]).run().code(0);
    let copy = TestDb::new();
    copy.cmd(["load", "--format", "rdb"])
        .stdin(rdb.stdout())
        .run()
        .code(0);
    assert_eq!(entries_of(&copy), entries_of(&db));
    // From a file named .rdb, the format is taken from the extension.
    let file = copy.file("copy.rdb");
    fs::write(&file, rdb.stdout()).unwrap();
    let third = TestDb::new();
    third.cmd(["load", file.to_str().unwrap()]).run().code(0);
    assert_eq!(entries_of(&third), entries_of(&db));
}
