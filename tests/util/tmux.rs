//! Driving the REPL as a person does: in a real pseudo-terminal made by
//! tmux, typing with `send-keys` and reading the screen with
//! `capture-pane`. Each test uses its own tmux server (`-L NAME`), killed
//! when the handle drops. Waiting is polling the screen until the expected
//! text appears, with a deadline; never a sleep-and-hope.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

/// One tmux server with one pane running a command.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `env ENV… tinykv ARGS…` in a 120×40 pane. `None` when tmux is
    /// missing outside CI (see [`super::require_tool`]).
    pub fn start(name: &str, home: &Path, env: &[(&str, &str)], args: &[&str]) -> Option<Tmux> {
        if !super::require_tool("tmux") {
            return None;
        }
        let socket = format!("tinykv-{name}-{}", std::process::id());
        let mut argv: Vec<String> = vec![
            "env".into(),
            "-i".into(),
            format!("HOME={}", home.display()),
            format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
            "TERM=xterm-256color".into(),
        ];
        argv.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        argv.push(super::bin().into());
        argv.extend(args.iter().map(|a| a.to_string()));
        let tmux = Tmux { socket };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-x", "120", "-y", "40", "--"])
            .args(&argv)
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        Some(tmux)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"])
            .stdin(Stdio::null());
        cmd
    }

    /// Types `keys` (tmux key names such as `Enter`, `Tab`, `C-d` are keys).
    pub fn send(&self, keys: &[&str]) {
        let status = self
            .command()
            .arg("send-keys")
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success(), "tmux send-keys failed");
    }

    /// Types `text` literally (no key names).
    pub fn type_text(&self, text: &str) {
        let status = self
            .command()
            .args(["send-keys", "-l", text])
            .status()
            .expect("tmux send-keys");
        assert!(status.success(), "tmux send-keys -l failed");
    }

    /// The visible screen, or `None` once the pane (and server) is gone.
    pub fn screen(&self) -> Option<String> {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-J"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Waits until `pred` holds for the screen; panics with the screen after the deadline.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen().unwrap_or_default();
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > DEADLINE {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `text` is on the screen.
    pub fn wait_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?}"), |s| s.contains(text))
    }

    /// Waits until the screen shows `n` prompts (the REPL is ready for line n).
    pub fn wait_prompts(&self, n: usize) -> String {
        self.wait_for(&format!("{n} prompts"), |s| {
            s.matches("tinykv>").count() >= n
        })
    }

    /// Waits until the program in the pane has exited (the server goes away).
    pub fn wait_exit(&self) {
        let start = Instant::now();
        while self.screen().is_some() {
            if start.elapsed() > DEADLINE {
                panic!(
                    "the REPL did not exit; the screen:\n{}",
                    self.screen().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}
