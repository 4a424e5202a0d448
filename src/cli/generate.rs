//! `generate`: the man page and shell completions, made from the clap
//! definitions so that they can never disagree with `--help`. The copies
//! checked in under `man/` and `completions/` are compared with this output
//! by a test.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::args::{Args, Generated};

/// Where each generated file is checked in, relative to the repository.
pub const CHECKED_IN: [(Generated, &str); 6] = [
    (Generated::Man, "man/tinykv.1"),
    (Generated::Bash, "completions/tinykv.bash"),
    (Generated::Zsh, "completions/_tinykv"),
    (Generated::Fish, "completions/tinykv.fish"),
    (Generated::Elvish, "completions/tinykv.elv"),
    (Generated::Powershell, "completions/_tinykv.ps1"),
];

/// Writes `what` to `out`.
pub fn generate(what: Generated, out: &mut dyn Write) -> Result<()> {
    let mut cmd = Args::command();
    let shell = match what {
        Generated::Man => {
            return clap_mangen::Man::new(cmd)
                .render(out)
                .context("cannot write the man page");
        }
        Generated::Bash => Shell::Bash,
        Generated::Zsh => Shell::Zsh,
        Generated::Fish => Shell::Fish,
        Generated::Elvish => Shell::Elvish,
        Generated::Powershell => Shell::PowerShell,
    };
    // clap_complete panics on a failed write (a closed pipe): generate into
    // memory, then write with errors reported.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "tinykv", &mut script);
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("cannot write the completions")
}
