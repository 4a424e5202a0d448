//! The interactive REPL: rustyline for editing, history (Ctrl-R searches
//! it), Tab completion of command names and of the database's keys, and
//! inline hints of a command's arguments. Each line goes to a
//! [`Session`] in the human reply style.
//!
//! Invariants: the database stays open (and locked) for the whole session;
//! an error is printed as `(error) …` and never ends the session; only
//! `exit`, `quit`, Ctrl-D or a failing terminal do. Lines typed ahead run
//! in order: the editor keeps what it read past a line's end for the next
//! `readline` (rustyline's `buffer-redux` feature, see Cargo.toml).

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hint, Hinter};
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use super::exit::Exit;
use super::key_completion::{self, Entry};
use super::output;
use super::owner::Owner;
use super::session::{self, Next, Session, Style};
use super::store::Store;
use super::{synopsis, words};

/// Commands whose positional arguments are keys.
const KEY_COMMANDS: [&str; 10] = [
    "get", "set", "del", "exists", "incr", "decr", "expire", "persist", "ttl", "rename",
];
/// Options whose value is a key or the start of one.
const KEY_OPTIONS: [&[u8]; 4] = [b"--prefix", b"--start", b"--end", b"--glob"];

/// Runs the REPL on `store` until the user leaves. `owner` is the process
/// that owns the database when it is not this one; `read_only`: whether
/// it is open read-only; `history` is the file to keep lines in (`None`:
/// no history file).
pub fn run(
    store: &dyn Store,
    owner: Option<&Owner>,
    read_only: bool,
    history: Option<&Path>,
) -> Result<Exit> {
    let keys = store.count(b"").context("cannot count the keys")?;
    let mut stdout = io::stdout();
    writeln!(
        stdout,
        "tinykv {} — {} ({keys} keys)",
        env!("CARGO_PKG_VERSION"),
        store.path().display(),
    )?;
    if let Some(owner) = owner {
        writeln!(
            stdout,
            "Owned by {owner}: this session works through it, and sees its writes."
        )?;
    }
    if read_only {
        writeln!(
            stdout,
            "Read-only: this user cannot write it here; reads work, writes are refused."
        )?;
    }
    writeln!(stdout, "Type 'help' for the commands, Ctrl-D to leave.")?;
    let config = Config::builder()
        .max_history_size(10_000)
        .context("history size")?
        .history_ignore_dups(true)
        .context("history settings")?
        .history_ignore_space(true)
        .completion_type(CompletionType::List)
        // Key completion lists a screenful at most (key_completion.rs):
        // no need to ask first.
        .completion_prompt_limit(usize::MAX)
        .auto_add_history(false)
        .build();
    let mut editor: Editor<ReplHelper, DefaultHistory> =
        Editor::with_config(config).context("cannot start the line editor")?;
    editor.set_helper(Some(ReplHelper {
        store,
        names: session::command_names(),
        screen: Cell::new((80, 24)),
    }));
    let history = history.map(prepare_history);
    if let Some(Some(path)) = &history
        && path.exists()
        && let Err(e) = editor.load_history(path)
    {
        output::message(&format!("cannot read history {} ({e})", path.display()));
    }
    let session = Session::new(store, Style::Human, false);
    loop {
        if let (Some((cols, rows)), Some(helper)) = (editor.dimensions(), editor.helper()) {
            helper.screen.set((cols.into(), rows.into()));
        }
        let line = match editor.readline("tinykv> ") {
            Ok(line) => line,
            // Ctrl-C abandons the line being typed, as in a shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("cannot read from the terminal"),
        };
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
            if let Some(Some(path)) = &history {
                // Saved at once so that a killed session keeps its lines.
                let _ = editor.append_history(path);
            }
        }
        // A paste of several lines (bracketed paste) comes back as one
        // string: run its lines one by one, as a shell would.
        let mut out = stdout.lock();
        for piece in pasted_lines(&line) {
            match session.execute(piece.as_bytes(), &mut out) {
                Ok(Next::Continue) => {}
                Ok(Next::Exit) => return Ok(Exit::Success),
                Err(e) => writeln!(out, "(error) {}", output::error_line(&e))?,
            }
            out.flush()?;
        }
    }
    Ok(Exit::Success)
}

/// The lines of what the editor returned: one, or several for a paste.
/// Blank lines of a paste are skipped; a single blank line is kept, so
/// that Enter on an empty prompt still just shows the prompt again.
fn pasted_lines(line: &str) -> Vec<&str> {
    let pieces: Vec<&str> = line.split(['\n', '\r']).collect();
    if pieces.len() == 1 {
        return pieces;
    }
    pieces
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect()
}

/// Creates the history file's directory; `None` when that is impossible
/// (the REPL then goes on without saving history).
fn prepare_history(path: &Path) -> Option<PathBuf> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        output::message(&format!("cannot keep history in {} ({e})", path.display()));
        return None;
    }
    Some(path.to_owned())
}

/// Completion, hints and hint colour for the editor.
struct ReplHelper<'a> {
    store: &'a dyn Store,
    names: Vec<String>,
    /// The terminal's columns and rows, as of the prompt.
    screen: Cell<(usize, usize)>,
}

impl<'a> ReplHelper<'a> {
    fn key_candidates(&self, prefix: &[u8]) -> Vec<Entry<'a>> {
        // A failed read completes nothing; the command will say why.
        key_completion::complete(self.store, prefix, self.screen.get()).unwrap_or_default()
    }

    fn name_candidates(&self, typed: &[u8]) -> Vec<Entry<'a>> {
        let typed = String::from_utf8_lossy(typed).to_ascii_lowercase();
        self.names
            .iter()
            .filter(|n| n.starts_with(&typed))
            .map(|n| Entry::new(n.clone(), n.clone()))
            .collect()
    }
}

impl<'a> Completer for ReplHelper<'a> {
    type Candidate = Entry<'a>;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Entry<'a>>)> {
        let partial = words::split_partial(&line.as_bytes()[..pos]);
        let Some(command) = partial.words.first() else {
            return Ok((partial.last_start, self.name_candidates(&partial.last)));
        };
        let command = String::from_utf8_lossy(command).to_ascii_lowercase();
        let previous = partial.words.last().map(Vec::as_slice);
        let candidates = if command == "help" {
            self.name_candidates(&partial.last)
        } else if KEY_COMMANDS.contains(&command.as_str())
            || previous.is_some_and(|p| KEY_OPTIONS.contains(&p))
        {
            self.key_candidates(&partial.last)
        } else {
            Vec::new()
        };
        Ok((partial.last_start, candidates))
    }
}

/// A hint that shows text but inserts nothing (the argument names are not input).
struct ArgHint(String);

impl Hint for ArgHint {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

impl Hinter for ReplHelper<'_> {
    type Hint = ArgHint;

    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<ArgHint> {
        if pos < line.len() {
            return None;
        }
        synopsis::hint(line.as_bytes()).map(ArgHint)
    }
}

impl Highlighter for ReplHelper<'_> {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
    }
}

impl Validator for ReplHelper<'_> {}

impl Helper for ReplHelper<'_> {}

#[cfg(test)]
mod tests {
    #[test]
    fn a_paste_runs_line_by_line() {
        assert_eq!(super::pasted_lines("set a 1"), vec!["set a 1"]);
        assert_eq!(super::pasted_lines(""), vec![""]);
        assert_eq!(
            super::pasted_lines("set a 1\nget a\r\n\ncount\n"),
            vec!["set a 1", "get a", "count"]
        );
    }
}
