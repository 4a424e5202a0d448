//! Script mode: the lines of stdin or of `-f FILE`, run without prompt or
//! banner, in the plain reply style, so that a program can drive tinykv
//! through a pair of pipes.
//!
//! Invariants: replies are flushed after every line, so a reply (and the
//! durability it acknowledges) is visible before the next line is read; an
//! error goes to stderr as `tinykv: line N: …` and makes the exit status 2;
//! blank lines and lines starting with `#` are skipped but counted.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};

use anyhow::{Context, Result};

use super::config::ScriptSource;
use super::exit::Exit;
use super::output;
use super::session::{Next, Session, Style};
use super::store::Store;

/// Runs every line of `source` against `store`.
pub fn run(store: &dyn Store, source: &ScriptSource, bail: bool) -> Result<Exit> {
    let input: Box<dyn BufRead> = match source {
        ScriptSource::Stdin => Box::new(io::stdin().lock()),
        ScriptSource::File(path) if path.is_dir() => {
            anyhow::bail!("cannot read script {} (it is a directory)", path.display())
        }
        ScriptSource::File(path) => {
            Box::new(BufReader::new(File::open(path).with_context(|| {
                format!("cannot open script {}", path.display())
            })?))
        }
    };
    // With -f FILE, stdin is free for `set KEY` and `load`.
    let session = Session::new(store, Style::Plain, *source != ScriptSource::Stdin);
    run_lines(&session, input, &mut io::stdout().lock(), bail)
}

/// Runs each line of `input`, replying on `out`.
pub fn run_lines(
    session: &Session<'_>,
    mut input: impl BufRead,
    out: &mut dyn Write,
    bail: bool,
) -> Result<Exit> {
    let mut exit = Exit::Success;
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("cannot read the script")?
            == 0
        {
            break;
        }
        number += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let trimmed = text.trim_ascii_start();
        if trimmed.is_empty() || trimmed.starts_with(b"#") {
            continue;
        }
        let result = session.execute(text, out);
        // Replies first, so that they and the error appear in line order.
        out.flush().context("cannot write to stdout")?;
        match result {
            Ok(Next::Continue) => {}
            Ok(Next::Exit) => break,
            Err(e) if output::is_broken_pipe(&e) => return Err(e),
            Err(e) => {
                output::message(&format!("line {number}: {}", output::error_line(&e)));
                exit = Exit::Error;
                if bail {
                    break;
                }
            }
        }
    }
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_lines_skips_comments_and_counts_failures() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::engine::Db::open(dir.path(), Default::default()).unwrap();
        let store = crate::cli::store::Local::new(&db, None);
        let session = Session::new(&store, Style::Plain, false);
        let script = b"# comment\n\nset a 1\r\nbogus\nget a\n" as &[u8];
        let mut out = Vec::new();
        assert_eq!(
            run_lines(&session, script, &mut out, false).unwrap(),
            Exit::Error
        );
        assert_eq!(out, b"OK\n1\n");
        let mut out = Vec::new();
        assert_eq!(
            run_lines(&session, script, &mut out, true).unwrap(),
            Exit::Error
        );
        assert_eq!(out, b"OK\n");
        let mut out = Vec::new();
        let ok = b"get a\nexit\nbogus\n" as &[u8];
        assert_eq!(
            run_lines(&session, ok, &mut out, false).unwrap(),
            Exit::Success
        );
        assert_eq!(out, b"1\n");
    }
}
