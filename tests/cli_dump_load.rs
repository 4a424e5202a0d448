//! Every dump format round-trips any bytes: dump | load into an empty
//! database gives an identical dump, through files and through stdin.

mod util;

use tinykv::format::{Format, Reader, Writer};
use util::TestDb;

fn encode(format: Format, pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut w = Writer::new(format, Vec::new());
    for (k, v) in pairs {
        w.write_pair(k, v).unwrap();
    }
    w.finish().unwrap()
}

fn decode(format: Format, bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    Reader::new(format, bytes)
        .map(|e| e.unwrap().into_pair())
        .collect()
}

#[test]
fn every_format_round_trips_nasty_bytes() {
    let pairs = util::nasty_pairs();
    for format in Format::ALL {
        let name = format.name();
        let db = TestDb::new();
        // Load from stdin.
        db.cmd(["load", "--format", name])
            .stdin(encode(format, &pairs))
            .run()
            .code(0)
            .stdout_is("")
            .quiet();
        let dump = db.cmd(["dump", "--format", name]).run().code(0).quiet();
        assert_eq!(decode(format, dump.stdout()), pairs, "{name}");
        // Load the dump from a file into another database: an identical dump.
        let file = db.file(&format!("dump.{name}"));
        std::fs::write(&file, dump.stdout()).unwrap();
        let copy = TestDb::new();
        copy.cmd(["load".as_ref(), file.as_os_str()]).run().code(0);
        copy.cmd(["dump", "--format", name])
            .run()
            .code(0)
            .stdout_is(dump.stdout());
        // Every value reads back through get --raw too.
        for (k, v) in &pairs {
            if !k.contains(&0) {
                use std::os::unix::ffi::OsStrExt;
                let key = std::ffi::OsStr::from_bytes(k);
                copy.cmd([
                    std::ffi::OsStr::new("get"),
                    std::ffi::OsStr::new("--raw"),
                    key,
                ])
                .run()
                .code(0)
                .stdout_is(v);
            }
        }
    }
}

#[test]
fn tsv_is_the_default_and_plain_text_stays_plain() {
    let db = TestDb::new();
    db.script("set b 2\nset a \"x y\"\nset c \"tab\\there\"\n");
    db.cmd(["dump"])
        .run()
        .code(0)
        .stdout_is("a\tx y\nb\t2\nc\ttab\\there\n");
    db.cmd(["dump", "--prefix", "b"])
        .run()
        .code(0)
        .stdout_is("b\t2\n");
    db.cmd(["load", "-"]).stdin("d\t4\n").run().code(0);
    db.cmd(["get", "d"]).run().stdout_is("4\n");
}

#[test]
fn load_picks_the_format_from_the_extension() {
    let db = TestDb::new();
    let file = db.file("in.jsonl");
    std::fs::write(&file, "{\"key\":\"j\",\"value\":\"son\"}\n").unwrap();
    db.cmd(["load".as_ref(), file.as_os_str()]).run().code(0);
    db.cmd(["get", "j"]).run().stdout_is("son\n");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let db = TestDb::new();
    db.cmd(["load", "/nonexistent/dump.tsv"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicates::str::contains("/nonexistent/dump.tsv"));
}
