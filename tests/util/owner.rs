//! A script session that owns a database for the sharing tests: `tinykv -d
//! DB` with its stdin a pipe the test keeps open (a script "fed slowly"),
//! asked one line at a time. Once it has answered a line it has opened the
//! database and serves it (the REPL and scripts start serving before their
//! first line). Killed when the handle drops.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

/// A script owning a database.
pub struct ScriptOwner {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ScriptOwner {
    /// Starts the session on `dir` and waits until it owns the database.
    pub fn start(home: &Path, dir: &Path, args: &[&str]) -> ScriptOwner {
        ScriptOwner::start_with(home, dir, args, &[])
    }

    /// [`ScriptOwner::start`] with `env` added.
    pub fn start_with(home: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> ScriptOwner {
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
        let mut owner = ScriptOwner {
            child,
            stdin,
            stdout,
        };
        owner.ask("count");
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
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).expect("read the reply");
        assert!(!reply.is_empty(), "the owning script ended");
        reply
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
