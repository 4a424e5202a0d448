//! While a script session owns a database, every one-shot command works
//! through it: the same stdout, stderr and exit code, byte for byte, as the
//! same command on a twin database that nobody owns; loads stay atomic
//! (a bad line 501 stores nothing and is named); the owner sees the writes
//! at its next line; `backup` copies through it; `recover` is refused with
//! one line naming it.

mod util;

use util::TestDb;
use util::owner::ScriptOwner;

/// Runs `args` (with `stdin`) on both databases, with `--wait 0` (so the
/// owned one cannot be waited for: it must be served), and checks that the
/// outcomes are the same once each database's path reads `DB`.
fn same(owned: &TestDb, alone: &TestDb, args: &[&[u8]], stdin: &[u8]) -> (i32, Vec<u8>) {
    use std::os::unix::ffi::OsStrExt;
    let run = |db: &TestDb| {
        let mut argv: Vec<&std::ffi::OsStr> = vec!["--wait".as_ref(), "0".as_ref()];
        argv.extend(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)));
        let out = db.cmd(argv).stdin(stdin).run();
        let path = db.path.display().to_string();
        let code = out.output.status.code().unwrap_or(-1);
        let stderr = out.stderr_str().replace(&path, "DB");
        let stdout = String::from_utf8_lossy(out.stdout())
            .replace(&path, "DB")
            .into_bytes();
        (code, stdout, stderr, out)
    };
    let (code_a, out_a, err_a, outcome) = run(owned);
    let (code_b, out_b, err_b, _) = run(alone);
    let shown: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned())
        .collect();
    if (code_a, &out_a, &err_a) != (code_b, &out_b, &err_b) {
        outcome.fail(&format!(
            "{shown:?} differs through the owner:\n  owned: exit {code_a}, stdout {:?}, stderr {err_a:?}\n  alone: exit {code_b}, stdout {:?}, stderr {err_b:?}",
            String::from_utf8_lossy(&out_a),
            String::from_utf8_lossy(&out_b)
        ));
    }
    (code_a, out_a)
}

/// A command's arguments, its stdin, and the exit code it must have.
type Case<'a> = (Vec<&'a [u8]>, &'a [u8], i32);

fn tsv(pairs: impl Iterator<Item = (String, String)>) -> Vec<u8> {
    pairs
        .map(|(k, v)| format!("{k}\t{v}\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn every_command_works_through_a_script_owner_as_without_one() {
    let (owned, alone) = (TestDb::new(), TestDb::new());
    for db in [&owned, &alone] {
        db.cmd(["set", "before", "the owner"]).run().code(0);
    }
    let mut owner = ScriptOwner::start(owned.tmp.path(), &owned.path, &[]);

    let big: Vec<u8> = tsv((0..2000).map(|i| (format!("big{i:05}"), "x".repeat(1000))));
    let mut bad = tsv((0..500).map(|i| (format!("bad{i:04}"), "v".to_owned())));
    bad.extend_from_slice(b"line 501 has no tab\n");
    bad.extend(tsv(
        (501..600).map(|i| (format!("bad{i:04}"), "v".to_owned()))
    ));
    let long_key = vec![b'k'; 70_000];
    let cases: Vec<Case> = vec![
        (vec![b"set", b"k1", b"v1"], b"", 0),
        (vec![b"set", b"bin"], b"\x00\xff\r\n\ttab", 0),
        (vec![b"set", b"k\xff\x01", b"-dash"], b"", 0),
        (vec![b"get", b"k1"], b"", 0),
        (vec![b"get", b"--raw", b"bin"], b"", 0),
        (vec![b"get", b"k1", b"nope", b"before"], b"", 1),
        (vec![b"-q", b"get", b"nope"], b"", 1),
        (vec![b"exists", b"bin", b"k1"], b"", 0),
        (vec![b"exists", b"bin", b"nope"], b"", 1),
        (vec![b"count"], b"", 0),
        (vec![b"count", b"--prefix", b"b"], b"", 0),
        (vec![b"keys"], b"", 0),
        (vec![b"keys", b"--prefix", b"k"], b"", 0),
        (vec![b"dump"], b"", 0),
        (vec![b"dump", b"--format", b"jsonl"], b"", 0),
        (
            vec![b"dump", b"--format", b"resp", b"--prefix", b"b"],
            b"",
            0,
        ),
        (vec![b"load"], &big, 0),
        (vec![b"count"], b"", 0),
        (vec![b"load"], &bad, 2),
        (vec![b"count", b"--prefix", b"bad"], b"", 0),
        (vec![b"del", b"k1", b"nope"], b"", 1),
        (vec![b"set", &long_key, b"v"], b"", 2),
        (vec![b"get", b""], b"", 2),
        (vec![b"check"], b"", 0),
        (vec![b"dump", b"--prefix", b"big0000"], b"", 0),
        (vec![b"load", b"--replace"], b"only\tthese\nand\tthose\n", 0),
        (vec![b"keys"], b"", 0),
        (vec![b"dump", b"--format", b"jsonl"], b"", 0),
    ];
    for (args, stdin, want) in &cases {
        let (code, stdout) = same(&owned, &alone, args, stdin);
        assert_eq!(code, *want, "{:?}", String::from_utf8_lossy(&args.concat()));
        if args == &vec![&b"count"[..], b"--prefix", b"bad"] {
            assert_eq!(
                stdout, b"0\n",
                "a load with a bad line 501 stored something"
            );
        }
    }
    // The bad load named its line.
    owned
        .cmd(["--wait", "0", "load"])
        .stdin(&bad)
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicates::str::contains("line 501"));
    // The owner sees what went through it, at its next line.
    assert_eq!(owner.ask("get only"), "these\n");
    assert_eq!(owner.ask("count"), "2\n");

    // stats and compact: their numbers depend on each file's history, not
    // on the way in; the keys and the shape must agree.
    let stats = owned.cmd(["--wait", "0", "stats", "--json"]).run().code(0);
    let json: serde_json::Value = serde_json::from_slice(stats.stdout()).unwrap();
    assert_eq!(json["keys"], 2, "{json}");
    assert_eq!(json["path"], owned.path.display().to_string());
    let compact = owned.cmd(["--wait", "0", "compact"]).run().code(0);
    let lines: Vec<String> = compact
        .stdout_str()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(lines, ["before", "after", "keys", "time"]);

    // A backup through the owner is the database, and checks clean.
    let copy = owned.file("copy");
    owned
        .cmd([
            "--wait".as_ref(),
            "0".as_ref(),
            "backup".as_ref(),
            copy.as_os_str(),
        ])
        .run()
        .code(0)
        .stdout_is("");
    let dump = owned.cmd(["--wait", "0", "dump"]).run().code(0);
    owned
        .cmd(["-d".as_ref(), copy.as_os_str(), "check".as_ref()])
        .run()
        .code(0)
        .stdout_is("ok\n");
    owned
        .cmd(["-d".as_ref(), copy.as_os_str(), "dump".as_ref()])
        .run()
        .code(0)
        .stdout_is(dump.stdout());
    // Not over a directory that holds files.
    owned
        .cmd([
            "--wait".as_ref(),
            "0".as_ref(),
            "backup".as_ref(),
            copy.as_os_str(),
        ])
        .run()
        .code(2)
        .one_line_error();

    // recover needs the database to itself.
    owned
        .cmd(["recover"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicates::str::contains(format!(
            "while a tinykv script (pid {}) has it open",
            owner.pid()
        )));
    owner.finish();
    // Once the owner is gone, the next command owns the database itself.
    owned.cmd(["--wait", "0", "recover"]).run().code(0);
}

/// `tinykv dump | … | tinykv load --replace` on the database a script owns,
/// large enough that neither side can finish without the other.
#[test]
fn dump_into_load_replace_on_an_owned_database() {
    let db = TestDb::new();
    let pairs = tsv((0..30_000).map(|i| (format!("key{i:06}"), format!("old{i}"))));
    db.cmd(["load"]).stdin(&pairs).run().code(0);
    let owner = ScriptOwner::start(db.tmp.path(), &db.path, &[]);
    let script = format!(
        "{bin} -d '{dir}' dump | sed 's/old/new/' | grep -v '^key00000' | {bin} -d '{dir}' load --replace",
        bin = util::bin(),
        dir = db.path.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .env_clear()
        .env("HOME", db.tmp.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.cmd(["count"]).run().code(0).stdout_is("29990\n");
    db.cmd(["get", "key029999", "key000009"])
        .run()
        .code(1)
        .stdout_is("new29999\n");
    owner.finish();
}
