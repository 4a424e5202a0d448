//! `keys`: sorted, one a line, escaped like the tsv format, `--prefix`.

mod util;

use util::TestDb;

#[test]
fn keys_are_sorted_escaped_and_filtered_by_prefix() {
    let db = TestDb::new();
    db.cmd(["load", "--format", "jsonl"])
        .stdin(jsonl(&util::nasty_pairs()))
        .run()
        .code(0);
    db.script("set user:2 b\nset user:1 a\nset users x\n");
    let out = db.cmd(["keys"]).run().code(0).quiet();
    let lines: Vec<&str> = std::str::from_utf8(out.stdout()).unwrap().lines().collect();
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| tinykv::format::unescape(l.as_bytes()).unwrap());
    assert_eq!(lines, sorted);
    assert!(lines.contains(&"tab\\tkey"));
    assert!(lines.contains(&"line\\nfeed"));
    assert!(lines.contains(&"nul\\x00byte"));
    assert!(lines.contains(&"bad\\xff\\xfeutf8"));
    assert!(lines.contains(&"emoji \u{1F600}"));
    assert_eq!(lines.len(), util::nasty_pairs().len() + 3);
    db.cmd(["keys", "--prefix", "user:"])
        .run()
        .code(0)
        .stdout_is("user:1\nuser:2\n");
    db.cmd(["keys", "--prefix", "zzz"])
        .run()
        .code(0)
        .stdout_is("");
}

fn jsonl(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut w = tinykv::format::Writer::new(tinykv::format::Format::Jsonl, Vec::new());
    for (k, v) in pairs {
        w.write_pair(k, v).unwrap();
    }
    w.finish().unwrap()
}
