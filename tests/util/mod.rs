//! Shared helpers for the integration tests: a temporary database, the
//! `tinykv` binary run against it, and failures that show everything needed
//! to understand them (the command, its exit status, stdout, stderr, and a
//! listing of the database directory).
#![allow(dead_code)] // each test file uses a different part

pub mod owner;
pub mod pairs;
pub mod read_only;
pub mod redis_cluster;
pub mod redis_server;
pub mod serve;
pub mod tmux;

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use predicates::Predicate;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tinykv")
}

/// A temporary directory with a database path inside (not yet created).
pub struct TestDb {
    pub tmp: tempfile::TempDir,
    pub path: PathBuf,
}

impl TestDb {
    pub fn new() -> TestDb {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("db");
        TestDb { tmp, path }
    }

    /// `tinykv -d DB ARGS…` with a clean environment.
    pub fn cmd<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd_on(&self.path, args)
    }

    /// `tinykv -d DIR ARGS…` with the same environment: for another
    /// database of the test (a backup, a copy).
    pub fn cmd_on<I, S>(&self, dir: &Path, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = base_command(self.tmp.path());
        cmd.arg("-d").arg(dir).args(args);
        Cmd {
            cmd,
            stdin: Vec::new(),
            dir: dir.to_owned(),
        }
    }

    /// Runs a script of lines on stdin and expects every line to succeed.
    pub fn script(&self, lines: &str) -> Outcome {
        self.cmd::<_, &str>([]).stdin(lines).run().code(0)
    }

    /// The seconds `ttl KEY` prints for a key that expires.
    pub fn ttl(&self, key: &str) -> u64 {
        let out = self.cmd(["ttl", key]).run().code(0);
        match out.stdout_str().trim().parse() {
            Ok(secs) => secs,
            Err(_) => out.fail("ttl printed no number of seconds"),
        }
    }

    /// A file path inside the temporary directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
}

/// A command with the environment cleared of anything that would change
/// where tinykv looks: HOME and XDG point into `home`.
pub fn base_command(home: &Path) -> Command {
    let mut cmd = Command::new(bin());
    clean_env(&mut cmd, home);
    cmd
}

/// Clears `cmd`'s environment of anything that would change where tinykv
/// looks: HOME and XDG point into `home`.
pub fn clean_env(cmd: &mut Command, home: &Path) {
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TINYKV_HISTFILE", "/dev/null")
        .env("RUST_BACKTRACE", "1");
}

/// A command about to run.
pub struct Cmd {
    pub cmd: Command,
    stdin: Vec<u8>,
    dir: PathBuf,
}

impl Cmd {
    pub fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Cmd {
        self.stdin = bytes.as_ref().to_vec();
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Cmd {
        self.cmd.env(key, value);
        self
    }

    pub fn run(mut self) -> Outcome {
        let described = describe(&self.cmd);
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawn tinykv");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = std::mem::take(&mut self.stdin);
        let writer = std::thread::spawn(move || {
            // The command may not read stdin at all: ignore a closed pipe.
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().expect("wait for tinykv");
        writer.join().expect("stdin writer");
        Outcome {
            described,
            output,
            dir: self.dir,
        }
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let _ = write!(s, " {:?}", arg);
    }
    s
}

/// A finished command, with assertions that explain themselves.
pub struct Outcome {
    pub described: String,
    pub output: Output,
    pub dir: PathBuf,
}

impl Outcome {
    pub fn stdout(&self) -> &[u8] {
        &self.output.stdout
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Expects exit code `code`.
    pub fn code(self, code: i32) -> Outcome {
        if self.output.status.code() != Some(code) {
            self.fail(&format!("expected exit code {code}"));
        }
        self
    }

    /// Expects stdout to be exactly `expected`.
    pub fn stdout_is(self, expected: impl AsRef<[u8]>) -> Outcome {
        if self.output.stdout != expected.as_ref() {
            self.fail(&format!(
                "expected stdout {:?}",
                String::from_utf8_lossy(expected.as_ref())
            ));
        }
        self
    }

    /// Expects stderr to satisfy `pred`.
    pub fn stderr_matches(self, pred: impl Predicate<str>) -> Outcome {
        if !pred.eval(&self.stderr_str()) {
            self.fail(&format!("stderr does not satisfy: {pred}"));
        }
        self
    }

    /// Expects stdout to satisfy `pred`.
    pub fn stdout_matches(self, pred: impl Predicate<str>) -> Outcome {
        if !pred.eval(&self.stdout_str()) {
            self.fail(&format!("stdout does not satisfy: {pred}"));
        }
        self
    }

    /// Expects stderr to be empty.
    pub fn quiet(self) -> Outcome {
        if !self.output.stderr.is_empty() {
            self.fail("expected an empty stderr");
        }
        self
    }

    /// Expects the one-line error format: `tinykv: …`, no panic, no backtrace.
    pub fn one_line_error(self) -> Outcome {
        let err = self.stderr_str();
        let ok = err.starts_with("tinykv: ")
            && err.ends_with('\n')
            && err.lines().count() == 1
            && !err.contains("panicked")
            && !err.contains("backtrace");
        if !ok {
            self.fail("expected one line on stderr starting with `tinykv: `");
        }
        self
    }

    pub fn fail(&self, why: &str) -> ! {
        panic!(
            "{why}\n--- command: {}\n--- exit: {:?}\n--- stdout:\n{}\n--- stderr:\n{}\n--- directory {}:\n{}",
            self.described,
            self.output.status,
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr),
            self.dir.display(),
            listing(&self.dir),
        )
    }
}

/// `ls -lR`, in Rust.
pub fn listing(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            let _ = writeln!(out, "  (cannot list {})", d.display());
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let meta = e.metadata().ok();
            let len = meta.as_ref().map(|m| m.len()).unwrap_or(0);
            let _ = writeln!(out, "  {:>10}  {}", len, e.path().display());
            if meta.is_some_and(|m| m.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out
}

/// `tinykv load FIFO`: a one-shot command that holds the database until
/// its input ends, which is when the test closes the named pipe `fifo`.
/// (Not a load from stdin: one that finds the database locked reads its
/// input before it waits, so it would not hold the lock meanwhile.)
pub fn start_holder(db: &TestDb, fifo: &Path) -> Child {
    let made = Command::new("mkfifo").arg(fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    let child = base_command(db.tmp.path())
        .arg("-d")
        .arg(&db.path)
        .arg("load")
        .arg(fifo)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Until it holds the lock, a command that does not wait succeeds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut child = child;
    loop {
        let out = db.cmd(["--wait", "0", "get", "held"]).run();
        if out.output.status.code() == Some(2) && out.stderr_str().contains("locked") {
            return child;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the holder never took the lock");
        }
    }
}

/// Ends the holder of [`start_holder`]: feeds `input` into its `fifo`,
/// closes it, and waits for the load to succeed.
pub fn release_holder(mut holder: Child, fifo: &Path, input: &[u8]) {
    let mut pipe = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    pipe.write_all(input).unwrap();
    drop(pipe);
    assert!(holder.wait().unwrap().success(), "the holder's load failed");
}

/// Keys and values that break naive tools: TAB, LF, CR, backslash, NUL,
/// invalid UTF-8, emoji, quotes, spaces, and an empty value.
pub fn nasty_pairs() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = vec![
        (b"plain".to_vec(), b"value".to_vec()),
        (b"tab\tkey".to_vec(), b"tab\tvalue".to_vec()),
        (b"line\nfeed".to_vec(), b"two\nlines\n".to_vec()),
        (b"carriage\rreturn".to_vec(), b"\r\n".to_vec()),
        (b"back\\slash".to_vec(), b"\\x41 not an escape\\".to_vec()),
        (b"nul\0byte".to_vec(), b"\0\0\0".to_vec()),
        (b"bad\xff\xfeutf8".to_vec(), b"\xc3\x28\x80".to_vec()),
        (
            "emoji \u{1F600}".as_bytes().to_vec(),
            "caf\u{e9} \u{1F680}".as_bytes().to_vec(),
        ),
        (b"quotes \"' ".to_vec(), b"{\"json\": true}".to_vec()),
        (b"empty".to_vec(), Vec::new()),
        (b"\x01\x7f\x9b".to_vec(), (0u8..=255).collect()),
    ];
    pairs.sort();
    pairs
}

/// Whether an external tool is usable. Without it, a test is skipped with a
/// notice, except under CI (CI set), where it must be there.
pub fn require_tool(name: &str) -> bool {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{name} is required under CI (bash .ci/run installs it)");
        }
        eprintln!("notice: {name} is not installed; skipping this test (bash .ci/run installs it)");
    }
    found
}
