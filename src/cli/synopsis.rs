//! A command's arguments as a session shows them: the synopsis `help` lists
//! (`dump [--format FORMAT] [--prefix P]`) and the hint the REPL shows as a
//! line is typed. Both are read from the clap definitions that `--help`,
//! the man page and the completions come from, so none of them can drift.
//!
//! Invariant: a synopsis is kept as its parts, one per argument, and never
//! split again from its text: `[--format FORMAT]` is one part, whatever
//! spaces it holds.

use std::fmt;

use clap::CommandFactory;

use super::args::SessionLine;
use super::words;

/// One argument of a command, as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// How it is shown: `[--format FORMAT]`, `[--raw]`, `KEY...`, `[VALUE]`.
    pub text: String,
    /// The flag's long name (`format`); `None` for a positional argument.
    pub long: Option<String>,
    /// The name of the flag's value (`FORMAT`), when it takes one.
    pub value: Option<String>,
    /// A positional argument that takes any number of words (`KEY...`).
    pub repeats: bool,
}

/// The arguments of one command, in the order clap defines them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synopsis {
    /// One part per argument.
    pub parts: Vec<Part>,
}

/// The synopsis of the session command `name` (or alias), if there is one.
pub fn of(name: &str) -> Option<Synopsis> {
    let cmd = SessionLine::command();
    let sub = cmd
        .get_subcommands()
        .find(|s| s.get_name() == name || s.get_all_aliases().any(|a| a == name))?;
    let parts = sub
        .get_arguments()
        .filter(|arg| !arg.is_hide_set())
        .map(|arg| {
            let value = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
            let repeats = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
            let dots = if repeats { "..." } else { "" };
            let takes_value = arg.get_action().takes_values();
            let text = match arg.get_long() {
                Some(long) if takes_value => format!("[--{long} {value}]"),
                Some(long) => format!("[--{long}]"),
                None if arg.is_required_set() => format!("{value}{dots}"),
                None => format!("[{value}]{dots}"),
            };
            Part {
                text,
                long: arg.get_long().map(str::to_owned),
                value: takes_value.then_some(value),
                repeats: arg.get_long().is_none() && repeats,
            }
        })
        .collect();
    Some(Synopsis { parts })
}

impl fmt::Display for Synopsis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<&str> = self.parts.iter().map(|p| p.text.as_str()).collect();
        f.write_str(&texts.join(" "))
    }
}

impl Synopsis {
    /// What is left to type after `typed`, the words after the command
    /// name: the value a flag just typed waits for (`FORMAT`); else, while
    /// no positional argument is typed, the flags not typed yet, then the
    /// positional arguments not typed yet (the last one again when it
    /// repeats).
    pub fn remaining(&self, typed: &[Vec<u8>]) -> Vec<&str> {
        let mut used = vec![false; self.parts.len()];
        let mut positionals = 0;
        let mut words = typed.iter();
        while let Some(word) = words.next() {
            let Some(flag) = word.strip_prefix(b"--").filter(|f| !f.is_empty()) else {
                positionals += 1;
                continue;
            };
            let (name, inline_value) = match flag.iter().position(|&b| b == b'=') {
                Some(eq) => (&flag[..eq], true),
                None => (flag, false),
            };
            let Some(i) = self
                .parts
                .iter()
                .position(|p| p.long.as_deref().is_some_and(|l| l.as_bytes() == name))
            else {
                continue;
            };
            used[i] = true;
            if let Some(value) = &self.parts[i].value
                && !inline_value
                && words.next().is_none()
            {
                return vec![value.as_str()];
            }
        }
        let flags = self
            .parts
            .iter()
            .zip(&used)
            .filter(|(p, used)| p.long.is_some() && !**used && positionals == 0)
            .map(|(p, _)| p.text.as_str());
        let all: Vec<&Part> = self.parts.iter().filter(|p| p.long.is_none()).collect();
        let mut rest: Vec<&str> = all
            .iter()
            .skip(positionals)
            .map(|p| p.text.as_str())
            .collect();
        if rest.is_empty()
            && let Some(last) = all.last().filter(|p| p.repeats)
        {
            rest.push(&last.text);
        }
        flags.chain(rest).collect()
    }
}

/// The hint for `line` with the cursor at its end: what is left to type,
/// once the command name is a whole one, and only between words.
pub fn hint(line: &[u8]) -> Option<String> {
    let partial = words::split_partial(line);
    let (command, typed, lead) = match partial.words.split_first() {
        // Still typing the command name: hint once it is a whole name.
        None => (&partial.last, &[][..], " "),
        Some((command, args)) if partial.between_words => (command, args, ""),
        Some(_) => return None,
    };
    let name = String::from_utf8_lossy(command).to_ascii_lowercase();
    let synopsis = of(&name)?;
    let shown = synopsis.remaining(typed);
    (!shown.is_empty()).then(|| format!("{lead}{}", shown.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hint's top-level groups: split at spaces outside brackets.
    /// Panics when a bracket is unbalanced or opens inside another.
    fn groups(hint: &str) -> Vec<String> {
        let mut groups = vec![String::new()];
        let mut depth = 0;
        for c in hint.chars() {
            match c {
                '[' => {
                    assert_eq!(depth, 0, "nested brackets in {hint:?}");
                    depth += 1;
                }
                ']' => {
                    assert_eq!(depth, 1, "unopened bracket in {hint:?}");
                    depth -= 1;
                }
                ' ' if depth == 0 => {
                    groups.push(String::new());
                    continue;
                }
                _ => {}
            }
            groups.last_mut().unwrap().push(c);
        }
        assert_eq!(depth, 0, "unclosed bracket in {hint:?}");
        groups
    }

    /// Every command clap defines (a new one included): the hint after its
    /// name shows each argument once, whole, as --help defines it, flags
    /// first, and nothing else.
    #[test]
    fn every_commands_hint_shows_each_argument_whole() {
        let cmd = SessionLine::command();
        let mut seen = 0;
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            let mut want_flags = Vec::new();
            let mut want_positionals = Vec::new();
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                let value = arg
                    .get_action()
                    .takes_values()
                    .then(|| arg.get_value_names().map(|v| v[0].to_string()))
                    .flatten();
                match (arg.get_long(), value) {
                    (Some(long), Some(value)) => want_flags.push(format!("[--{long} {value}]")),
                    (Some(long), None) => want_flags.push(format!("[--{long}]")),
                    (None, Some(value)) => {
                        let many = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
                        let dots = if many { "..." } else { "" };
                        want_positionals.push(if arg.is_required_set() {
                            format!("{value}{dots}")
                        } else {
                            format!("[{value}]{dots}")
                        });
                    }
                    (None, None) => panic!("{name}: a positional argument without a value name"),
                }
            }
            let want: Vec<String> = want_flags.into_iter().chain(want_positionals).collect();
            let line = format!("{name} ");
            match hint(line.as_bytes()) {
                None => assert!(want.is_empty(), "{name}: no hint, but it takes {want:?}"),
                Some(h) => assert_eq!(groups(&h), want, "the hint of {line:?} is {h:?}"),
            }
            // Typed without the space, the same with one space before it.
            let typed = hint(name.as_bytes());
            assert_eq!(typed, hint(line.as_bytes()).map(|h| format!(" {h}")));
            // `help` lists the same parts.
            let listed = of(name).unwrap().to_string();
            let mut parts = groups(&listed);
            parts.retain(|p| !p.is_empty());
            parts.sort();
            let mut sorted = want.clone();
            sorted.sort();
            assert_eq!(parts, sorted, "{name}: help lists {listed:?}");
            seen += 1;
        }
        assert!(seen >= 15, "only {seen} commands");
    }

    #[test]
    fn hints_follow_what_is_typed() {
        let cases: [(&str, Option<&str>); 19] = [
            (
                "dump ",
                Some(
                    "[--format FORMAT] [--prefix P] [--glob PAT] [--start K] [--end K] [--limit N]",
                ),
            ),
            (
                "dump",
                Some(
                    " [--format FORMAT] [--prefix P] [--glob PAT] [--start K] [--end K] [--limit N]",
                ),
            ),
            ("load ", Some("[--format FORMAT] [--replace] [FILE]")),
            ("dump --format ", Some("FORMAT")),
            (
                "dump --format jsonl ",
                Some("[--prefix P] [--glob PAT] [--start K] [--end K] [--limit N]"),
            ),
            (
                "dump --format=jsonl --limit 5 ",
                Some("[--prefix P] [--glob PAT] [--start K] [--end K]"),
            ),
            ("load --format jsonl ", Some("[--replace] [FILE]")),
            ("load backup.tsv ", None),
            ("get ", Some("[--raw] KEY...")),
            ("get a ", Some("KEY...")),
            ("get --raw ", Some("KEY...")),
            (
                "set ",
                Some(
                    "[--value VALUE] [--nx] [--xx] [--if-eq OLD] [--ttl DURATION] \
                     [--expire-at UNIX_SECONDS] KEY [VALUE]",
                ),
            ),
            ("SET k ", Some("[VALUE]")),
            ("set k v ", None),
            ("set \"my key\" ", Some("[VALUE]")),
            ("get a", None),
            ("nope ", None),
            ("exit ", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(hint(line.as_bytes()).as_deref(), want, "{line:?}");
        }
    }
}
