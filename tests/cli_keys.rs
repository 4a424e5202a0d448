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

#[test]
fn keys_and_dump_take_a_glob_a_range_and_a_limit() {
    let db = TestDb::new();
    db.script(
        "set a 1\nset b 2\nset ba 3\nset bb 4\nset c 5\n\
         set user:1:email e1\nset user:1:name n1\nset user:2:email e2\n",
    );
    let keys = |args: &[&str]| {
        let mut all = vec!["keys"];
        all.extend_from_slice(args);
        db.cmd(all).run().code(0).quiet().stdout_str()
    };
    assert_eq!(
        keys(&["--glob", "user:*:email"]),
        "user:1:email\nuser:2:email\n"
    );
    assert_eq!(keys(&["--glob", "?"]), "a\nb\nc\n");
    assert_eq!(keys(&["--glob", "b[a-b]"]), "ba\nbb\n");
    assert_eq!(keys(&["--start", "b", "--end", "c"]), "b\nba\nbb\n");
    assert_eq!(keys(&["--start", "bb", "--limit", "2"]), "bb\nc\n");
    assert_eq!(keys(&["--prefix", "b", "--limit", "1"]), "b\n");
    assert_eq!(keys(&["--limit", "0"]), "");
    assert_eq!(keys(&["--glob", "user:*", "--prefix", "a"]), "");
    assert_eq!(
        keys(&["--prefix", "user:", "--glob", "*name", "--end", "user:2"]),
        "user:1:name\n"
    );
    db.cmd(["dump", "--glob", "b?", "--limit", "1"])
        .run()
        .code(0)
        .stdout_is("ba\t3\n");
    db.cmd(["dump", "--format", "jsonl", "--start", "user:2"])
        .run()
        .code(0)
        .stdout_is("{\"key\":\"user:2:email\",\"value\":\"e2\"}\n");
    for bad in [
        &["keys", "--limit", "-1"][..],
        &["keys", "--limit", "x"],
        &["dump", "--limit", ""],
    ] {
        db.cmd(bad).run().code(2).one_line_error();
    }
}

#[test]
fn keys_null_separated_feed_xargs_0() {
    let db = TestDb::new();
    db.cmd(["set", "tmp:with space", "1"]).run().code(0);
    db.cmd(["set", "tmp:new\nline", "2"]).run().code(0);
    db.cmd(["set", "tmp:tab\t", "3"]).run().code(0);
    db.cmd(["set", "keep", "4"]).run().code(0);
    db.cmd(["keys", "-0", "--prefix", "tmp:"])
        .run()
        .code(0)
        .stdout_is(&b"tmp:new\nline\0tmp:tab\t\0tmp:with space\0"[..]);
    if !util::require_tool("xargs") {
        return;
    }
    let script = format!(
        "'{bin}' -d '{dir}' keys -0 --prefix tmp: | xargs -0 '{bin}' -d '{dir}' del",
        bin = util::bin(),
        dir = db.path.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .env("HOME", db.tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.cmd(["keys"]).run().code(0).stdout_is("keep\n");
}
