//! The README and .ci/run agree: CI runs exactly the README's test command,
//! and the README's tour mentions every command the binary has.

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

const TEST_COMMAND: &str =
    "cargo fmt --check && cargo clippy --all-targets -- -D warnings && cargo test";

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    assert!(
        readme.contains(TEST_COMMAND),
        "README.md lost its test command"
    );
    assert!(
        readme.contains("bash .ci/run"),
        "README.md lost the command that sets up and runs the tests"
    );
    let last = ci.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert_eq!(
        last.trim(),
        TEST_COMMAND,
        ".ci/run must end with the README's test command"
    );
}

#[test]
fn readme_tours_every_command() {
    let readme = read("README.md");
    for command in [
        "set", "get", "del", "incr", "ttl", "rename", "pop", "exists", "count", "keys", "dump",
        "load", "backup", "compact", "check", "recover", "stats", "generate", "serve", "push",
    ] {
        assert!(
            readme.contains(&format!("tinykv {command}")),
            "README.md does not show `tinykv {command}`"
        );
    }
}

/// A reader who skips Install meets `tinykv` in the tour first: the tour
/// itself says how to run it from the checkout (#16).
#[test]
fn the_tour_says_how_to_run_tinykv_from_the_checkout() {
    let readme = read("README.md");
    let tour = readme
        .split("\n## Tour\n")
        .nth(1)
        .expect("README.md has a Tour")
        .split("\n```console\n")
        .next()
        .unwrap();
    for how in ["cargo install --path .", "cargo run --release --"] {
        assert!(
            tour.contains(how),
            "the Tour does not say `{how}` before its first example"
        );
    }
}

/// The README's recipes for counters, caches and queues are shell that
/// works: each `sh` block, run on a fresh database with `tinykv` on the
/// PATH, prints exactly the `text` block that follows it.
#[test]
fn the_scripting_recipes_print_what_the_readme_says() {
    let readme = read("README.md");
    let section = readme
        .split("\n## Counters, caches and queues\n")
        .nth(1)
        .expect("README.md has the recipes")
        .split("\n## ")
        .next()
        .unwrap();
    let blocks: Vec<&str> = section.split("```").collect();
    let mut ran = 0;
    // Between every two fences: a block, whose first line names its kind.
    for (i, block) in blocks.iter().enumerate().skip(1).step_by(2) {
        let Some(script) = block.strip_prefix("sh\n") else {
            continue;
        };
        let expected = blocks
            .get(i + 2)
            .and_then(|b| b.strip_prefix("text\n"))
            .expect("each recipe is followed by its output");
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tinykv"), bin.join("tinykv")).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = std::process::Command::new("sh")
            .args(["-c", script])
            .env_clear()
            .env("PATH", path)
            .env("HOME", tmp.path())
            .env("TINYKV_DIR", tmp.path().join("db"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}\nexited {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{script}");
        ran += 1;
    }
    assert_eq!(ran, 3, "the counter, the cache and the queue");
}
