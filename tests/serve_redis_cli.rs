//! `tinykv serve` with the real redis-cli: every command of the issue, binary
//! values both ways, and a pipeline of `tinykv dump --format resp` from
//! another database through `redis-cli --pipe`, which arrives byte for byte
//! (the dumps of the two databases are identical afterwards).

mod util;

use util::TestDb;
use util::serve::Server;

fn lines(out: &str) -> Vec<&str> {
    out.lines().collect()
}

#[test]
fn every_command_through_redis_cli() {
    if !util::require_tool("redis-cli") {
        return;
    }
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let one = |args: &[&str]| server.cli_line(args);
    assert_eq!(one(&["PING"]), "PONG");
    assert_eq!(one(&["PING", "hi there"]), "hi there");
    assert_eq!(one(&["ECHO", "echo me"]), "echo me");
    assert_eq!(one(&["SET", "greeting", "hello world"]), "OK");
    assert_eq!(one(&["GET", "greeting"]), "hello world");
    assert_eq!(one(&["GET", "nope"]), "");
    assert_eq!(one(&["SET", "greeting", "other", "NX"]), "");
    assert_eq!(one(&["SET", "fresh", "1", "NX"]), "OK");
    assert_eq!(one(&["SET", "absent", "1", "XX"]), "");
    assert_eq!(one(&["SET", "fresh", "2", "XX", "GET"]), "1");
    assert_eq!(one(&["GET", "fresh"]), "2");
    assert_eq!(
        one(&["MSET", "user:1", "ada", "user:2", "bob", "user:3", "cy"]),
        "OK"
    );
    assert_eq!(
        lines(&one(&["MGET", "user:1", "nope", "user:3"])),
        ["ada", "", "cy"]
    );
    assert_eq!(one(&["EXISTS", "user:1", "user:1", "nope"]), "2");
    assert_eq!(one(&["DBSIZE"]), "5");
    assert_eq!(
        lines(&one(&["KEYS", "user:*"])),
        ["user:1", "user:2", "user:3"]
    );
    // redis-cli --scan walks SCAN (with MATCH) until cursor 0: 25 keys
    // take it three rounds of Redis's default COUNT 10.
    let many: Vec<String> = (0..25).map(|i| format!("many:{i:02}")).collect();
    let mut mset = vec!["MSET"];
    for key in &many {
        mset.extend([key.as_str(), "x"]);
    }
    assert_eq!(one(&mset), "OK");
    let scanned = one(&["--scan", "--pattern", "many:*"]);
    assert_eq!(lines(&scanned), many);
    let scanned = one(&["--scan", "--pattern", "user:[12]"]);
    assert_eq!(lines(&scanned), ["user:1", "user:2"]);
    let scan = one(&["SCAN", "0", "MATCH", "user:*", "COUNT", "100"]);
    assert_eq!(lines(&scan), ["0", "user:1", "user:2", "user:3"]);
    // COUNT 2 from the start: two keys and a cursor that resumes after them.
    let scan = one(&["SCAN", "0", "COUNT", "2"]);
    let scan = lines(&scan);
    assert_eq!(&scan[1..], ["fresh", "greeting"]);
    let next = one(&["SCAN", scan[0], "COUNT", "1", "MATCH", "many:*"]);
    assert_eq!(&lines(&next)[1..], ["many:00"]);
    assert!(one(&["SCAN", "12345"]).contains("invalid cursor"));
    assert_eq!(
        one(&["DEL"]
            .iter()
            .copied()
            .chain(many.iter().map(String::as_str))
            .collect::<Vec<_>>()),
        "25"
    );
    assert_eq!(one(&["DEL", "user:1", "user:2", "nope"]), "2");
    assert_eq!(one(&["EXISTS", "user:1"]), "0");
    let info = one(&["INFO", "keyspace"]);
    assert!(info.contains("db0:keys=3,expires=0,avg_ttl=0"), "{info}");
    let info = one(&["INFO", "persistence"]);
    assert!(info.contains("aof_enabled:1"), "{info}");
    assert!(info.contains("tinykv_sync:always"), "{info}");
    let info = one(&["INFO"]);
    for section in [
        "# Server",
        "# Clients",
        "# Persistence",
        "# Stats",
        "# Keyspace",
    ] {
        assert!(info.contains(section), "{section} missing: {info}");
    }
    let count: usize = one(&["COMMAND", "COUNT"]).parse().unwrap();
    assert!(count >= 20);
    assert_eq!(one(&["COMMAND", "DOCS"]), "");
    assert!(one(&["COMMAND", "INFO", "get"]).contains("get"));
    assert_eq!(one(&["SELECT", "0"]), "OK");
    assert_eq!(one(&["SELECT", "1"]), "ERR DB index is out of range");
    assert_eq!(
        one(&["BOGUS", "x"]),
        "ERR unknown command 'BOGUS', with args beginning with: 'x'"
    );
    assert_eq!(
        one(&["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(one(&["SET", "k", "v", "NX", "XX"]), "ERR syntax error");
    // Several commands on one connection: names stick to it, QUIT ends it.
    let out = server.cli(
        &[],
        b"CLIENT SETNAME worker-1\nCLIENT GETNAME\nCLIENT ID\nQUIT\nPING\n",
    );
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let got = lines(&out);
    assert_eq!(&got[..2], ["OK", "worker-1"], "{out}");
    assert!(got[2].parse::<u64>().is_ok(), "{out}");
    // redis-cli leaves at QUIT: the PING after it is never sent.
    assert_eq!(got.len(), 3, "{out}");
    assert_eq!(one(&["FLUSHDB"]), "OK");
    assert_eq!(one(&["DBSIZE"]), "0");
    assert!(server.stderr().contains("serving"), "{}", server.stderr());
}

#[test]
fn binary_values_through_redis_cli() {
    if !util::require_tool("redis-cli") {
        return;
    }
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    for (i, (_, value)) in util::nasty_pairs().into_iter().enumerate() {
        let key = format!("bin:{i}");
        // -x: the last argument is stdin, byte for byte.
        let out = server.cli(&["-x", "SET", &key], &value);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
        let out = server.cli(&["--raw", "GET", &key], b"");
        // --raw prints the bytes and one newline.
        assert_eq!(out.stdout.strip_suffix(b"\n").unwrap(), &value[..], "{key}");
    }
    // A value with CR LF and NUL inside, set through an escaped argument.
    let out = server.cli(&[], b"SET crlf \"a\\r\\nb\\x00c\"\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    let out = server.cli(&["--no-raw", "GET", "crlf"], b"");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#""a\r\nb\x00c""#
    );
}

#[test]
fn a_resp_dump_pipes_in_byte_for_byte() {
    if !util::require_tool("redis-cli") {
        return;
    }
    let source = TestDb::new();
    let mut tsv = tinykv::format::Writer::new(tinykv::format::Format::Tsv, Vec::new());
    let mut pairs = util::nasty_pairs();
    for i in 0..2000u32 {
        pairs.push((
            format!("many:{i:05}").into_bytes(),
            vec![b'v'; (i % 300) as usize],
        ));
    }
    for (k, v) in &pairs {
        tsv.write_pair(k, v).unwrap();
    }
    source
        .cmd(["load"])
        .stdin(tsv.finish().unwrap())
        .run()
        .code(0);
    let dump = source.cmd(["dump", "--format", "resp"]).run().code(0);

    let db = TestDb::new();
    let mut server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let out = server.cli(&["--pipe"], dump.stdout());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("errors: 0, replies: {}", pairs.len())),
        "redis-cli --pipe said: {said}"
    );
    server.signal("TERM");
    assert!(server.wait().success(), "{}", server.stderr());
    let copied = db.cmd(["dump"]).run().code(0);
    let original = source.cmd(["dump"]).run().code(0);
    assert!(copied.stdout() == original.stdout(), "the dumps differ");
}
