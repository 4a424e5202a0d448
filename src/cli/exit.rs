//! Exit statuses, in one place: what each number means, as grep has it.
//!
//! Invariant: the process exits only with these codes (clap's usage errors
//! already use 2, and `--help`/`--version` use 0).

use std::process::ExitCode;

/// How a run of `tinykv` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Everything asked for was done.
    Success,
    /// A key asked for (`get`, `del`, `ttl`, …) was not found, the others
    /// handled; or a `set` condition was not met, or `pop` found nothing.
    NotFound,
    /// `check` found damage.
    Damaged,
    /// Any error: usage, I/O, lock, corruption, a failed script line.
    Error,
    /// Interrupted by Ctrl-C (SIGINT) in a long command, after saying
    /// what state it left (128 + SIGINT, as a shell reports it).
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::NotFound | Exit::Damaged => 1,
            Exit::Error => 2,
            Exit::Interrupted => 130,
        }
    }

    /// The worse of two outcomes, so a run reports its most serious one.
    pub fn worst(self, other: Exit) -> Exit {
        self.max(other)
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_greps() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::NotFound.code(), 1);
        assert_eq!(Exit::Damaged.code(), 1);
        assert_eq!(Exit::Error.code(), 2);
    }

    #[test]
    fn worst_wins() {
        assert_eq!(Exit::Success.worst(Exit::NotFound), Exit::NotFound);
        assert_eq!(Exit::Error.worst(Exit::NotFound), Exit::Error);
        assert_eq!(Exit::Success.worst(Exit::Success), Exit::Success);
    }

    #[test]
    fn converts_to_exit_code() {
        assert_eq!(ExitCode::from(Exit::Error), ExitCode::from(2));
        assert_eq!(ExitCode::from(Exit::Success), ExitCode::SUCCESS);
    }
}
