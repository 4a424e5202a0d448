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
        "set", "get", "del", "keys", "dump", "load", "compact", "check", "recover", "stats",
        "generate", "serve",
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
