//! The bad-input table: wrong paths, foreign and newer-format databases,
//! keys and values over the limits, empty keys, invalid UTF-8, unknown and
//! conflicting flags, and broken dumps. Each case exits 2 with exactly one
//! line on stderr starting `tinykv: ` (no panic, no backtrace: the tests run
//! with RUST_BACKTRACE=1), and nothing already stored changes.
//!
//! "Unwritable directory" is tested without permissions, because CI runs as
//! root and root writes anywhere: the parent is a regular file (ENOTDIR), or
//! a path under /proc, where not even root can create a directory.
//!
//! A real 256 MiB + 1 value on stdin would cost a second and half a GiB per
//! run; the limit is tested through `load` of a resp stream that declares
//! such a value (`$268435457`), which must be refused before it is read.

mod util;

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use util::{Outcome, TestDb};

const SEALING: &str = "segment_size=8192,seal_on_close=0";

/// One case: its name, the arguments (after `-d DB`, which a `-d` among
/// them overrides), stdin, and a string the error must contain.
struct Case {
    name: String,
    args: Vec<OsString>,
    stdin: Vec<u8>,
    says: String,
}

fn case(name: &str, args: &[&[u8]], stdin: &[u8], says: &str) -> Case {
    Case {
        name: name.to_owned(),
        args: args
            .iter()
            .map(|a| OsString::from_vec(a.to_vec()))
            .collect(),
        stdin: stdin.to_vec(),
        says: says.to_owned(),
    }
}

/// A database with a sealed segment and a non-empty wal.log, holding the
/// nasty pairs.
fn seeded() -> TestDb {
    let db = TestDb::new();
    let pairs = util::nasty_pairs();
    let dump: Vec<u8> = pairs
        .iter()
        .flat_map(|(k, v)| {
            let mut line = tinykv::format::escape_bytes(k).into_bytes();
            line.push(b'\t');
            line.extend(tinykv::format::escape_bytes(v).into_bytes());
            line.push(b'\n');
            line
        })
        .collect();
    db.cmd(["load"])
        .env("TINYKV_TEST_OPTIONS", SEALING)
        .stdin(dump)
        .run()
        .code(0);
    db.cmd(["set", "a", "1"]).run().code(0);
    assert!(db.path.join("seg-00000001.log").exists());
    assert!(fs::metadata(db.path.join("wal.log")).unwrap().len() > 16);
    db
}

fn dump(db: &TestDb) -> Vec<u8> {
    db.cmd(["dump"]).run().code(0).quiet().stdout().to_vec()
}

fn run(db: &TestDb, c: &Case) -> Outcome {
    // A `-d` among the case's arguments overrides the database's.
    let out = db.cmd(&c.args).stdin(&c.stdin).run();
    let out = out.code(2).one_line_error();
    if !out.stderr_str().contains(&c.says) {
        out.fail(&format!("{}: the error should say {:?}", c.name, c.says));
    }
    out
}

/// Runs every case against `db` and checks that its dump never changes.
fn run_all(db: &TestDb, cases: &[Case]) {
    let before = dump(db);
    for c in cases {
        run(db, c);
        assert!(dump(db) == before, "{}: the stored data changed", c.name);
    }
}

#[test]
fn paths_that_cannot_be_a_database() {
    let db = seeded();
    let file = db.file("plain-file");
    fs::write(&file, "not a db").unwrap();
    let foreign = db.file("foreign");
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let p = |p: &Path| p.as_os_str().as_encoded_bytes().to_vec();
    let under_file = p(&file.join("db"));
    let (file_b, foreign_b) = (p(&file), p(&foreign));
    let cases = [
        // The parent is a regular file: not even root can create the directory.
        case(
            "parent is a file",
            &[b"-d", &under_file, b"set", b"k", b"v"],
            b"",
            "plain-file/db",
        ),
        case(
            "parent is a file: get",
            &[b"-d", &under_file, b"get", b"k"],
            b"",
            "plain-file/db",
        ),
        // procfs refuses new directories, also to root.
        case(
            "under /proc",
            &[b"-d", b"/proc/tinykv-test/db", b"set", b"k", b"v"],
            b"",
            "/proc/tinykv-test/db",
        ),
        case(
            "file as the directory",
            &[b"-d", &file_b, b"set", b"k", b"v"],
            b"",
            "plain-file",
        ),
        case(
            "file as the directory: check",
            &[b"-d", &file_b, b"check"],
            b"",
            "plain-file",
        ),
        case(
            "file as the directory: recover",
            &[b"-d", &file_b, b"recover"],
            b"",
            "plain-file",
        ),
        case(
            "foreign files",
            &[b"-d", &foreign_b, b"set", b"k", b"v"],
            b"",
            "not a tinykv database",
        ),
        case(
            "foreign files: load",
            &[b"-d", &foreign_b, b"load"],
            b"k\tv\n",
            "not a tinykv database",
        ),
        case(
            "foreign files: recover",
            &[b"-d", &foreign_b, b"recover"],
            b"",
            "not a tinykv database",
        ),
    ];
    run_all(&db, &cases);
    assert_eq!(fs::read(&file).unwrap(), b"not a db");
    let names: Vec<_> = fs::read_dir(&foreign)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["notes.txt"],
        "nothing was created among foreign files"
    );
}

/// Sets the version field of a file header to 2 and fixes its CRC.
fn set_version(path: &Path, version: u32) {
    let mut b = fs::read(path).unwrap();
    b[4..8].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&b[..12]);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    fs::write(path, b).unwrap();
}

#[test]
fn a_database_from_a_future_format_version() {
    let db = seeded();
    let before = dump(&db);
    // Regression: check reported a newer header as damage and recover
    // rewrote the file in the current version.
    for file in ["wal.log", "seg-00000001.log", "seg-00000001.idx"] {
        let path = db.path.join(file);
        let clean = fs::read(&path).unwrap();
        set_version(&path, 5);
        let newer = fs::read(&path).unwrap();
        for args in [
            &[&b"get"[..], b"a"][..],
            &[b"set", b"k", b"v"],
            &[b"del", b"a"],
            &[b"dump"],
            &[b"keys"],
            &[b"stats"],
            &[b"compact"],
            &[b"check"],
            &[b"recover"],
        ] {
            let c = case(
                &format!("{file} version 5: {args:?}"),
                args,
                b"",
                "format version 5",
            );
            let out = run(&db, &c);
            if !out.stderr_str().contains(file) {
                out.fail(&format!("{}: the error should name {file}", c.name));
            }
            assert!(
                fs::read(&path).unwrap() == newer,
                "{}: the file was changed",
                c.name
            );
        }
        let c = case(
            &format!("{file} version 5: load"),
            &[b"load"],
            b"k\tv\n",
            "format version 5",
        );
        run(&db, &c);
        assert!(
            !db.path.join("lost+found").exists(),
            "{file}: nothing was moved"
        );
        fs::write(&path, clean).unwrap();
        assert!(dump(&db) == before, "{file}: the data changed");
    }
}

#[test]
fn keys_and_values_over_the_limits_and_empty_keys() {
    let db = seeded();
    let big_key = vec![b'k'; 64 * 1024 + 1];
    let mut script = b"set ".to_vec();
    script.extend(&big_key);
    script.extend(b" v\n");
    let mut tsv = big_key.clone();
    tsv.extend(b"\tv\n");
    let mut resp_key = b"*3\r\n$3\r\nSET\r\n$65537\r\n".to_vec();
    resp_key.extend(&big_key);
    resp_key.extend(b"\r\n$1\r\nv\r\n");
    let resp_value = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$268435457\r\nvvvv";
    let cases = [
        case(
            "key of 64 KiB + 1 in argv",
            &[b"set", &big_key, b"v"],
            b"",
            "65537 bytes",
        ),
        case("key of 64 KiB + 1 in a script", &[], &script, "line 1: "),
        case(
            "key of 64 KiB + 1 in a tsv load",
            &[b"load"],
            &tsv,
            "line 1: ",
        ),
        case(
            "key of 64 KiB + 1 in a resp load",
            &[b"load", b"--format", b"resp"],
            &resp_key,
            "65537",
        ),
        case(
            "value of 256 MiB + 1 in a resp load",
            &[b"load", b"--format", b"resp"],
            resp_value,
            "268435457",
        ),
        case(
            "empty key: set",
            &[b"set", b"", b"v"],
            b"",
            "key of 0 bytes",
        ),
        case("empty key: get", &[b"get", b""], b"", "key of 0 bytes"),
        case("empty key: del", &[b"del", b""], b"", "key of 0 bytes"),
        case("empty key in a script", &[], b"set \"\" v\n", "line 1: "),
        case(
            "empty key in a tsv load",
            &[b"load"],
            b"a\t2\n\tv\n",
            "nothing was stored",
        ),
        case(
            "empty key in a jsonl load",
            &[b"load", b"--format", b"jsonl"],
            b"{\"key\":\"\",\"value\":\"v\"}\n",
            "nothing was stored",
        ),
    ];
    run_all(&db, &cases);
    // The largest legal key is fine.
    let max_key = vec![b'k'; 64 * 1024];
    let args = [b"set".to_vec(), max_key, b"v".to_vec()].map(OsString::from_vec);
    db.cmd(args).run().code(0).quiet();
}

#[test]
fn bad_arguments() {
    let db = seeded();
    let cases = [
        case("unknown flag", &[b"--bogus"], b"", "--bogus"),
        case(
            "unknown flag of a command",
            &[b"get", b"--bogus", b"a"],
            b"",
            "--bogus",
        ),
        case("unknown command", &[b"sett", b"a"], b"", "sett"),
        case(
            "invalid UTF-8 as a command",
            &[b"\xff\xfe"],
            b"",
            "tinykv --help",
        ),
        case(
            "invalid UTF-8 as a format",
            &[b"dump", b"--format", b"\xff"],
            b"",
            "UTF-8",
        ),
        case(
            "invalid UTF-8 as --sync",
            &[b"--sync", b"\xff", b"get", b"a"],
            b"",
            "--sync",
        ),
        case(
            "invalid UTF-8 as --wait",
            &[b"--wait", b"\xff", b"get", b"a"],
            b"",
            "tinykv --help",
        ),
        case(
            "-f FILE with a command",
            &[b"-f", b"script.txt", b"get", b"a"],
            b"",
            "--file",
        ),
        case(
            "get --raw with two keys",
            &[b"get", b"--raw", b"a", b"b"],
            b"",
            "exactly one KEY",
        ),
        case(
            "a flag without its value",
            &[b"keys", b"--prefix"],
            b"",
            "--prefix",
        ),
        case("a command without its key", &[b"get"], b"", "KEY"),
    ];
    run_all(&db, &cases);
}

#[test]
fn broken_dumps_store_nothing() {
    let db = seeded();
    // Fixed bytes, so the case is the same on every run: NUL first, no TAB.
    let mut x: u32 = 0x1234_5678;
    let garbage: Vec<u8> = std::iter::once(0)
        .chain((0..4000).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        }))
        .filter(|&b| b != b'\t')
        .collect();
    let file = db.file("garbage.bin");
    fs::write(&file, &garbage).unwrap();
    let file = file.as_os_str().as_encoded_bytes().to_vec();
    let cases = [
        case("binary garbage as tsv", &[b"load"], &garbage, "line 1: "),
        case(
            "binary garbage as jsonl",
            &[b"load", b"--format", b"jsonl"],
            &garbage,
            "line 1: ",
        ),
        case(
            "binary garbage as resp",
            &[b"load", b"--format", b"resp"],
            &garbage,
            "line 1 (offset 0): ",
        ),
        case(
            "binary garbage from a file",
            &[b"load", &file],
            b"",
            "garbage.bin",
        ),
        case(
            "truncated jsonl line",
            &[b"load", b"--format", b"jsonl"],
            b"{\"key\":\"x\",\"value\":\"1\"}\n{\"key\":\"y\",\"val",
            "line 2: ",
        ),
        case(
            "resp cut mid-command",
            &[b"load", b"--format", b"resp"],
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nhel",
            "line 6 (offset 20): ",
        ),
        case(
            "resp cut in a header",
            &[b"load", b"--format", b"resp"],
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nhello\r\n*3\r\n$3\r\nSE",
            "line 9 (offset 35): ",
        ),
        case(
            "tsv with a bad escape",
            &[b"load"],
            b"a\t1\nb\t\\q\n",
            "line 2: ",
        ),
        case(
            "a missing dump file",
            &[b"load", b"/nonexistent/dump.tsv"],
            b"",
            "/nonexistent/dump.tsv",
        ),
    ];
    run_all(&db, &cases);
}
