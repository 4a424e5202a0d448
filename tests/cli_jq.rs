//! `dump --format jsonl` is real JSON: jq reads it, and what jq reads back
//! is the data (UTF-8 as strings, other bytes as base64).

mod util;

use std::process::{Command, Stdio};

use util::TestDb;

#[test]
fn jq_reads_the_jsonl_dump() {
    if !util::require_tool("jq") {
        return;
    }
    let db = TestDb::new();
    let mut w = tinykv::format::Writer::new(tinykv::format::Format::Tsv, Vec::new());
    for (k, v) in util::nasty_pairs() {
        w.write_pair(&k, &v).unwrap();
    }
    db.cmd(["load"]).stdin(w.finish().unwrap()).run().code(0);
    let dump = db.cmd(["dump", "--format", "jsonl"]).run().code(0);

    let jq = |filter: &str| {
        let mut child = Command::new("jq")
            .args(["-c", filter])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("jq");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dump.stdout())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "jq failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // One object per pair.
    assert_eq!(jq(".").lines().count(), util::nasty_pairs().len());
    // Text values are JSON strings jq decodes exactly.
    assert_eq!(
        jq(r#"select(.key == "tab\tkey") | .value"#),
        "\"tab\\tvalue\"\n"
    );
    assert_eq!(
        jq(r#"select(.key == "emoji 😀") | .value"#),
        "\"café 🚀\"\n"
    );
    assert_eq!(
        jq(r#"select(.key == "nul\u0000byte") | .value"#),
        "\"\\u0000\\u0000\\u0000\"\n"
    );
    // Bytes that are not UTF-8 come as base64.
    let b64 = jq(r#"select(.key_base64 != null) | .key_base64"#);
    assert!(b64.contains("\"YmFk//51dGY4\""), "{b64}");
}
