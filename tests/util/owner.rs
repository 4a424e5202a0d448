//! A script session that owns a database for the sharing tests: `tinykv -d
//! DB` with its stdin a pipe the test keeps open (a script "fed slowly"),
//! asked one line at a time. Once it has answered a line it has opened the
//! database and serves it (a script reaches its database at its first
//! line, so the database must exist: a script of reads never creates one).
//! Replies are read with a deadline, never waited for without end. Killed
//! when the handle drops.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, channel};

use super::serve::DEADLINE;

/// A script owning a database.
pub struct ScriptOwner {
    pub child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
}

impl ScriptOwner {
    /// Starts the session on `dir` (which must hold a database) and waits
    /// until it owns the database.
    pub fn start(home: &Path, dir: &Path, args: &[&str]) -> ScriptOwner {
        ScriptOwner::start_with(home, dir, args, &[])
    }

    /// [`ScriptOwner::start`] with `env` added.
    pub fn start_with(home: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> ScriptOwner {
        assert!(
            dir.exists(),
            "the owner needs a database: {}",
            dir.display()
        );
        let mut cmd = super::base_command(home);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .arg("-d")
            .arg(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the owning script");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, replies) = channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line + "\n").is_err() {
                    break;
                }
            }
        });
        let mut owner = ScriptOwner {
            child,
            stdin,
            replies,
        };
        let count = owner.ask("count");
        assert!(
            count.trim().parse::<u64>().is_ok(),
            "the owning script answered {count:?} to count"
        );
        owner
    }

    /// The script's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a line and returns its one-line reply.
    pub fn ask(&mut self, line: &str) -> String {
        let stdin = self.stdin.as_mut().expect("the script is running");
        writeln!(stdin, "{line}").expect("write to the script");
        stdin.flush().expect("flush the script");
        self.replies
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|e| panic!("no reply to {line:?} from the owning script ({e})"))
    }

    /// Ends the script (its stdin closes) and waits for it.
    pub fn finish(mut self) {
        drop(self.stdin.take());
        assert!(self.child.wait().expect("wait").success());
    }
}

impl Drop for ScriptOwner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
