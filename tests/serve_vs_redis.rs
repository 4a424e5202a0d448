//! Every string, key and transaction command of `tinykv serve` against a
//! real redis-server: the same requests, in the same order, on two
//! connections to each, and the replies compared byte for byte (errors
//! included, since tinykv uses Redis's words). Where tinykv differs on
//! purpose (other data types, server commands inside MULTI) the test says
//! what it answers instead; where a reply depends on the clock (a TTL
//! counted from now), both must be integers within a few seconds of each
//! other.

mod util;

use util::TestDb;
use util::redis_server::{Raw, Redis};
use util::serve::Server;

/// How a step's replies are compared.
enum Check {
    /// Byte for byte.
    Same,
    /// Both integers, at most this far apart (a deadline from now).
    Near(i64),
    /// The same elements, in any order (KEYS: Redis's follow its hash
    /// table, tinykv's are sorted).
    AnyOrder,
    /// tinykv answers this, on purpose; Redis's reply is not looked at.
    Tinykv(&'static str),
}
use Check::{AnyOrder, Near, Same, Tinykv};

/// The steps: `2:` runs on the second connection; `{sp}` is a space
/// inside an argument; `{big}` is 2^63 - 1.
const STEPS: &[(&str, Check)] = &[
    // Counters.
    ("SET n 10", Same),
    ("INCR n", Same),
    ("INCRBY n 5", Same),
    ("INCRBY n abc", Same),
    ("INCRBY n {big}", Same),
    ("DECR n", Same),
    ("DECRBY n 3", Same),
    ("DECRBY n -9223372036854775808", Same),
    ("DECRBY n 9223372036854775808", Same),
    ("INCR missing", Same),
    ("SET s hello", Same),
    ("INCR s", Same),
    ("INCRBYFLOAT s 1", Same),
    ("SET f 10.5", Same),
    ("INCRBYFLOAT f 0.1", Same),
    ("INCRBYFLOAT f -5", Same),
    ("INCRBYFLOAT f 1e3", Same),
    ("INCRBYFLOAT f abc", Same),
    ("INCRBYFLOAT f inf", Same),
    ("INCRBYFLOAT nf 3.0e3", Same),
    ("INCRBYFLOAT nf2 5.0000", Same),
    ("SET big {big}", Same),
    ("INCR big", Same),
    ("SET neg -9223372036854775808", Same),
    ("DECR neg", Same),
    ("SET sp {sp}1", Same),
    ("INCR sp", Same),
    ("SET z 007", Same),
    ("INCR z", Same),
    ("GET n", Same),
    // Strings.
    ("APPEND a foo", Same),
    ("APPEND a bar", Same),
    ("GET a", Same),
    ("STRLEN a", Same),
    ("STRLEN nokey", Same),
    ("SET k v NX", Same),
    ("SET k v2 NX", Same),
    ("SET k v3 XX", Same),
    ("GET k", Same),
    ("SET k2 v XX", Same),
    ("SET k v4 GET", Same),
    ("SET k v5 NX GET", Same),
    ("SET k2 v NX XX", Same),
    ("SET k v EX 0", Same),
    ("SET k v EX -1", Same),
    ("SET k v EX abc", Same),
    ("SET k v PX 100000 EX 10", Same),
    ("SET k v KEEPTTL EX 10", Same),
    ("SET k v EX 100", Same),
    ("TTL k", Near(2)),
    ("SET k v2 KEEPTTL", Same),
    ("TTL k", Near(2)),
    ("SET k v3", Same),
    ("TTL k", Same),
    ("SET k v EX {big}", Same),
    ("SET k v PX {big}", Same),
    ("SET k v EXAT 1", Same),
    ("EXISTS k", Same),
    ("SET k v PXAT 1", Same),
    ("GET k", Same),
    ("SET k v BOGUS", Same),
    ("SET k", Same),
    ("SETNX k v", Same),
    ("SETNX k v2", Same),
    ("GET k", Same),
    ("SETEX k 100 v", Same),
    ("TTL k", Near(2)),
    ("SETEX k 0 v", Same),
    ("SETEX k abc v", Same),
    ("PSETEX k 100000 v", Same),
    ("PTTL k", Near(2000)),
    ("PSETEX k -5 v", Same),
    ("GETSET k new", Same),
    ("TTL k", Same),
    ("GETSET nokey2 v", Same),
    ("GETDEL k", Same),
    ("GETDEL k", Same),
    ("SET g v", Same),
    ("GETEX g EX 100", Same),
    ("TTL g", Near(2)),
    ("GETEX g PERSIST", Same),
    ("TTL g", Same),
    ("GETEX g PX 100 PERSIST", Same),
    ("GETEX g BOGUS", Same),
    ("GETEX nokey", Same),
    ("GETEX g EX 0", Same),
    ("GETEX g EXAT 1", Same),
    ("EXISTS g", Same),
    ("MSETNX m1 a m2 b", Same),
    ("MSETNX m2 c m3 d", Same),
    ("MGET m1 m2 m3", Same),
    ("MSETNX m1", Same),
    ("MSET x 1 y", Same),
    ("MSET x 1 y 2", Same),
    ("MGET x y x nokey", Same),
    // Expiry.
    ("SET e v", Same),
    ("EXPIRE e 100", Same),
    ("EXPIRE e 100 NX", Same),
    ("EXPIRE e 200 XX", Same),
    ("EXPIRE e 50 GT", Same),
    ("EXPIRE e 300 GT", Same),
    ("EXPIRE e 400 LT", Same),
    ("EXPIRE e 10 LT", Same),
    ("TTL e", Near(2)),
    ("EXPIRE e 10 NX XX", Same),
    ("EXPIRE e 10 GT LT", Same),
    ("EXPIRE e 10 FOO", Same),
    ("EXPIRE e abc", Same),
    ("EXPIRE e {big}", Same),
    ("PEXPIRE e {big}", Same),
    ("EXPIREAT e {big}", Same),
    ("PEXPIREAT e {big}", Same),
    ("EXPIRE nokey 10", Same),
    ("PERSIST e", Same),
    ("PERSIST e", Same),
    ("PERSIST nokey", Same),
    ("TTL e", Same),
    ("TTL nokey", Same),
    ("PTTL nokey", Same),
    ("EXPIRETIME e", Same),
    ("EXPIRETIME nokey", Same),
    ("PEXPIREAT e 99999999999999", Same),
    ("PEXPIRETIME e", Same),
    ("EXPIRETIME e", Same),
    ("EXPIREAT e 99999999999", Same),
    ("EXPIRETIME e", Same),
    ("PEXPIRETIME e", Same),
    ("SET e2 v", Same),
    ("EXPIRE e2 -1", Same),
    ("EXISTS e2", Same),
    ("SET e2 v", Same),
    ("PEXPIRE e2 0", Same),
    ("GET e2", Same),
    ("SET e3 v", Same),
    ("EXPIRE e3 10 LT", Same),
    ("TTL e3", Near(2)),
    ("SET e4 v", Same),
    ("EXPIRE e4 10 GT", Same),
    ("EXPIRE e4 10 XX", Same),
    ("EXPIRE e4 10 NX", Same),
    ("TTL e4", Near(2)),
    // Keys.
    ("SET r1 v", Same),
    ("RENAME r1 r2", Same),
    ("GET r2", Same),
    ("RENAME r1 r3", Same),
    ("RENAME r2 r2", Same),
    ("RENAMENX r2 r2", Same),
    ("SET r3 x", Same),
    ("RENAMENX r2 r3", Same),
    ("RENAMENX r2 r4", Same),
    ("RENAMENX nokey r4", Same),
    ("EXPIREAT r4 99999999999", Same),
    ("RENAME r4 r5", Same),
    ("EXPIRETIME r5", Same),
    ("DEL r5 r3 nokey r3", Same),
    ("UNLINK r4 r2", Same),
    ("SET a 1", Same),
    ("SET b 2", Same),
    ("EXISTS a b a nokey", Same),
    ("TYPE a", Same),
    ("TYPE nokey", Same),
    ("KEYS m*", AnyOrder),
    ("DBSIZE", Same),
    // Arity.
    ("DEL", Same),
    ("EXISTS", Same),
    ("GET", Same),
    ("INCR", Same),
    ("INCRBY a", Same),
    ("GETEX", Same),
    ("RENAME a", Same),
    ("EXPIRE a", Same),
    ("PERSIST", Same),
    // Transactions, on one connection.
    ("EXEC", Same),
    ("DISCARD", Same),
    ("MULTI", Same),
    ("MULTI", Same),
    ("SET t 1", Same),
    ("INCR t", Same),
    ("SET s abc", Same),
    ("INCR s", Same),
    ("GET t", Same),
    ("EXEC", Same),
    ("MULTI", Same),
    ("SET t 2", Same),
    ("GET", Same),
    ("EXEC", Same),
    ("GET t", Same),
    ("MULTI", Same),
    ("SET t 3", Same),
    ("DISCARD", Same),
    ("GET t", Same),
    ("MULTI", Same),
    ("WATCH t", Same),
    ("EXEC", Same),
    ("MULTI", Same),
    ("NOSUCH", Same),
    ("EXEC", Same),
    ("SET x 1", Same),
    ("MULTI", Same),
    ("RENAME nokey y", Same),
    ("INCR x", Same),
    ("PING", Same),
    ("ECHO hi", Same),
    ("EXEC", Same),
    ("MULTI", Same),
    ("EXEC", Same),
    // WATCH, with a second connection writing.
    ("WATCH t", Same),
    ("MULTI", Same),
    ("INCR t", Same),
    ("EXEC", Same),
    ("WATCH t", Same),
    ("2:SET t 10", Same),
    ("MULTI", Same),
    ("INCR t", Same),
    ("EXEC", Same),
    ("GET t", Same),
    ("WATCH t", Same),
    ("2:SET t 10", Same),
    ("MULTI", Same),
    ("INCR t", Same),
    ("EXEC", Same),
    ("WATCH t nokey", Same),
    ("2:SET nokey 1", Same),
    ("UNWATCH", Same),
    ("MULTI", Same),
    ("INCR t", Same),
    ("EXEC", Same),
    ("WATCH x", Same),
    ("2:EXPIRE x 100", Same),
    ("MULTI", Same),
    ("INCR x", Same),
    ("EXEC", Same),
    ("WATCH x", Same),
    ("2:GET x", Same),
    ("2:INCR other", Same),
    ("MULTI", Same),
    ("INCR x", Same),
    ("EXEC", Same),
    ("WATCH x", Same),
    ("2:DEL x", Same),
    ("MULTI", Same),
    ("SET x fresh", Same),
    ("EXEC", Same),
    ("GET x", Same),
    ("WATCH gone", Same),
    ("2:DEL gone", Same),
    ("MULTI", Same),
    ("SET gone 1", Same),
    ("EXEC", Same),
    ("MULTI", Same),
    ("WATCH x", Same),
    ("DISCARD", Same),
    ("WATCH x", Same),
    ("MULTI", Same),
    ("2:SET x 5", Same),
    ("EXEC", Same),
    ("2:MULTI", Same),
    ("2:SET q 1", Same),
    ("GET q", Same),
    ("2:EXEC", Same),
    ("GET q", Same),
    ("MULTI", Same),
    ("DBSIZE", Same),
    // One match: EXEC's array is compared whole, and Redis's KEYS order
    // follows its hash table.
    ("KEYS mi*", Same),
    ("FLUSHDB", Same),
    ("SET after 1", Same),
    ("DBSIZE", Same),
    ("EXEC", Same),
    ("KEYS *", AnyOrder),
    // On purpose: other data types name themselves; server commands are
    // not queued (EXEC runs inside one engine transaction).
    (
        "HSET h f v",
        Tinykv("-ERR tinykv stores strings only: 'HSET' (hashes) is not supported\r\n"),
    ),
    (
        "LPUSH l x",
        Tinykv("-ERR tinykv stores strings only: 'LPUSH' (lists) is not supported\r\n"),
    ),
    (
        "ZADD z 1 x",
        Tinykv("-ERR tinykv stores strings only: 'ZADD' (sorted sets) is not supported\r\n"),
    ),
    ("MULTI", Same),
    (
        "INFO",
        Tinykv("-ERR Command not allowed inside a transaction\r\n"),
    ),
    (
        "EXEC",
        Tinykv("-EXECABORT Transaction discarded because of previous errors.\r\n"),
    ),
];

fn args(step: &str) -> (bool, Vec<Vec<u8>>) {
    let (second, line) = match step.strip_prefix("2:") {
        Some(rest) => (true, rest),
        None => (false, step),
    };
    let big = i64::MAX.to_string();
    let words = line
        .split_whitespace()
        .map(|w| w.replace("{sp}", " ").replace("{big}", &big).into_bytes())
        .collect();
    (second, words)
}

/// A flat array's elements, sorted (its header first).
fn sorted(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = reply.split_inclusive(|&b| b == b'\n');
    let header = lines.next().unwrap_or_default().to_vec();
    let mut items: Vec<Vec<u8>> = Vec::new();
    while let (Some(len), Some(body)) = (lines.next(), lines.next()) {
        items.push([len, body].concat());
    }
    items.sort();
    items.insert(0, header);
    items
}

fn integer(reply: &[u8]) -> Option<i64> {
    std::str::from_utf8(reply.strip_prefix(b":")?.strip_suffix(b"\r\n")?)
        .ok()?
        .parse()
        .ok()
}

#[test]
fn replies_match_redis_servers() {
    let db = TestDb::new();
    let redis = Redis::start(db.tmp.path());
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let mut redis_conns = [redis.connect(), redis.connect()];
    let mut tinykv_conns = [Raw::connect(server.port), Raw::connect(server.port)];
    let mut differences = Vec::new();
    for (step, check) in STEPS {
        let (second, words) = args(step);
        let words: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
        let i = usize::from(second);
        let want = redis_conns[i].call(&words);
        let got = tinykv_conns[i].call(&words);
        let agrees = match check {
            Same => got == want,
            Near(by) => matches!(
                (integer(&want), integer(&got)),
                (Some(w), Some(g)) if (w - g).abs() <= *by
            ),
            AnyOrder => sorted(&got) == sorted(&want),
            Tinykv(text) => got == text.as_bytes(),
        };
        if !agrees {
            differences.push(format!(
                "{step}\n  redis:  {:?}\n  tinykv: {:?}",
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} steps differ:\n{}\nserver stderr:\n{}",
        differences.len(),
        STEPS.len(),
        differences.join("\n"),
        server.stderr()
    );
}

/// `redis-cli -p PORT` with `input` on stdin: what it prints.
fn redis_cli(port: u16, input: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The same session typed into redis-cli against both servers prints the
/// same (redis-cli shows errors, nils, integers and arrays its own way,
/// which is what a user sees).
#[test]
fn redis_cli_prints_the_same_for_both() {
    let db = TestDb::new();
    let redis = Redis::start(db.tmp.path());
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let session = "\
SET counter 41
INCR counter
INCRBY counter notanumber
DECRBY counter 2
INCRBYFLOAT counter 0.5
SET cache page EX 1000 NX
SET cache page2 NX GET
SET cache page3 XX KEEPTTL GET
EXPIRETIME nope
GETEX cache PERSIST
TTL cache
EXPIREAT cache 99999999999 GT
EXPIRETIME cache
GETDEL cache
GETDEL cache
APPEND log line1
APPEND log ,line2
STRLEN log
MSETNX a 1 b 2
MSETNX b 3 c 4
MGET a b c
RENAME a z
RENAMENX z b
RENAME nope x
SETEX s 0 v
UNLINK z b log
EXISTS z b log counter
MULTI
INCR counter
SET t x
INCR t
GET counter
EXEC
MULTI
GETDEL counter
DISCARD
GET counter
";
    let want = redis_cli(redis.port, session);
    let got = redis_cli(server.port, session);
    assert!(!want.is_empty());
    assert_eq!(
        got,
        want,
        "redis-cli printed differently; server stderr:\n{}",
        server.stderr()
    );
}
