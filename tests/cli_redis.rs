//! `dump --format resp | redis-cli --pipe` moves a database into a real
//! Redis (started by the test on a free loopback port), and the same pairs
//! read back with redis-cli.

mod util;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use util::TestDb;

struct Redis {
    child: Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis(dir: &std::path::Path) -> Redis {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server");
    let redis = Redis { child, port };
    let start = Instant::now();
    // Poll until it answers (a readiness check, not a sleep-and-hope).
    loop {
        let out = cli(&redis, &[], b"PING\n");
        if out.trim() == "PONG" {
            return redis;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs redis-cli with `args`, feeding it `input`; returns stdout.
fn cli(redis: &Redis, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &redis.port.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Undoes redis-cli's quoting (`"a\x00b"`, as sdscatrepr writes it).
fn unrepr(quoted: &str) -> Vec<u8> {
    let inner = quoted
        .trim()
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not quoted: {quoted}"));
    let b = inner.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let (byte, len) = match b[i + 1] {
                b'n' => (b'\n', 2),
                b'r' => (b'\r', 2),
                b't' => (b'\t', 2),
                b'a' => (7, 2),
                b'b' => (8, 2),
                b'x' => (u8::from_str_radix(&inner[i + 2..i + 4], 16).unwrap(), 4),
                other => (other, 2),
            };
            out.push(byte);
            i += len;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The form redis-cli parses back (sdssplitargs): double quotes, `\xHH`.
fn quote(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        s.push_str(&format!("\\x{b:02x}"));
    }
    s.push('"');
    s
}

#[test]
fn resp_dump_pipes_into_redis() {
    if !util::require_tool("redis-server") || !util::require_tool("redis-cli") {
        return;
    }
    let db = TestDb::new();
    let mut w = tinykv::format::Writer::new(tinykv::format::Format::Tsv, Vec::new());
    for (k, v) in util::nasty_pairs() {
        w.write_pair(&k, &v).unwrap();
    }
    db.cmd(["load"]).stdin(w.finish().unwrap()).run().code(0);
    let dump = db.cmd(["dump", "--format", "resp"]).run().code(0);

    let redis = start_redis(db.tmp.path());
    let piped = cli(&redis, &["--pipe"], dump.stdout());
    let n = util::nasty_pairs().len();
    assert!(
        piped.contains(&format!("errors: 0, replies: {n}")),
        "redis-cli --pipe said: {piped}"
    );

    let keys: Vec<Vec<u8>> = cli(&redis, &["--no-raw"], b"KEYS *\n")
        .lines()
        .map(|l| unrepr(l.split_once(") ").map(|(_, q)| q).unwrap_or(l)))
        .collect();
    let script: String = keys.iter().map(|k| format!("GET {}\n", quote(k))).collect();
    let values: Vec<Vec<u8>> = cli(&redis, &["--no-raw"], script.as_bytes())
        .lines()
        .map(unrepr)
        .collect();
    let got: BTreeMap<Vec<u8>, Vec<u8>> = keys.into_iter().zip(values).collect();
    let want: BTreeMap<Vec<u8>, Vec<u8>> = util::nasty_pairs().into_iter().collect();
    assert_eq!(got, want);
}
