//! The man page and completions checked in under man/ and completions/ are
//! exactly what `tinykv generate …` prints, so they cannot go stale.

mod util;

use std::path::Path;

const FILES: [(&str, &str); 6] = [
    ("man", "man/tinykv.1"),
    ("bash", "completions/tinykv.bash"),
    ("zsh", "completions/_tinykv"),
    ("fish", "completions/tinykv.fish"),
    ("elvish", "completions/tinykv.elv"),
    ("powershell", "completions/_tinykv.ps1"),
];

#[test]
fn checked_in_files_match_the_binary() {
    let db = util::TestDb::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for (what, path) in FILES {
        let generated = db.cmd(["generate", what]).run().code(0).quiet();
        let checked_in = std::fs::read(root.join(path)).unwrap_or_default();
        if generated.stdout() != checked_in {
            stale.push(path);
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files: {stale:?}; regenerate them from the repository root with:\n  \
         cargo run -q -- generate man > man/tinykv.1 && for s in bash:tinykv.bash zsh:_tinykv \
         fish:tinykv.fish elvish:tinykv.elv powershell:_tinykv.ps1; do \
         cargo run -q -- generate ${{s%%:*}} > completions/${{s#*:}}; done"
    );
}

#[test]
fn generate_needs_no_database() {
    let db = util::TestDb::new();
    db.cmd(["generate", "man"]).run().code(0);
    assert!(!db.path.exists());
}
