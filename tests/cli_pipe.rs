//! Output into a closed pipe (`tinykv dump | head -1`) ends quietly with
//! exit 0: no "Broken pipe" message, no panic.

mod util;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use util::TestDb;

#[test]
fn a_closed_reader_is_a_quiet_success() {
    let db = TestDb::new();
    let dump: String = (0..20_000)
        .map(|i| format!("key{i:06}\t{}\n", "v".repeat(40)))
        .collect();
    db.cmd(["load"]).stdin(dump).run().code(0);

    for args in [
        &["dump"][..],
        &["dump", "--format", "jsonl"],
        &["keys"],
        &["generate", "bash"],
        &["--help"],
    ] {
        let mut child = util::base_command(db.tmp.path())
            .arg("-d")
            .arg(&db.path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is dropped here, like `head -1` exiting.
        assert!(!first.is_empty(), "{args:?}");
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).as_ref()
            ),
            (Some(0), ""),
            "{args:?}"
        );
    }
}

#[test]
fn through_a_real_shell_pipe() {
    let db = TestDb::new();
    let dump: String = (0..20_000).map(|i| format!("k{i:06}\tvalue\n")).collect();
    db.cmd(["load"]).stdin(dump).run().code(0);
    let script = format!(
        "{} -d '{}' dump | head -1; echo \"status=${{PIPESTATUS[0]}}\"",
        util::bin(),
        db.path.display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "k000000\tvalue\nstatus=0\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
