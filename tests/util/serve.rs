//! A `tinykv serve` child for the serve_* tests: started on an OS-chosen
//! loopback port (`--listen 127.0.0.1:0`), its port read from the line it
//! announces on stderr (no guessing, no sleep), the rest of its stderr
//! kept for failure messages, and killed when the handle drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long anything may take before a test gives up on it.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A running server.
pub struct Server {
    child: Child,
    pub port: u16,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// `tinykv -d DIR serve --listen 127.0.0.1:0 ARGS…`, with `env` added.
    pub fn start(home: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::try_start(home, dir, args, env).unwrap_or_else(|(status, err)| {
            panic!("tinykv serve did not start (exit {status:?}); stderr:\n{err}")
        })
    }

    /// As [`Server::start`], but a server that exits before announcing
    /// gives its exit status and stderr.
    pub fn try_start(
        home: &Path,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, (Option<ExitStatus>, String)> {
        let mut cmd = super::base_command(home);
        cmd.arg("-d")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tinykv serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr");
        let kept = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = announced_port(&line) {
                    let _ = tx.send(port);
                }
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        match rx.recv_timeout(DEADLINE) {
            Ok(port) => Ok(Server {
                child,
                port,
                stderr,
            }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                // The reader has seen everything once the pipe closed.
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline && Arc::strong_count(&stderr) > 1 {
                    std::thread::yield_now();
                }
                let text = stderr.lock().unwrap().clone();
                Err((status, text))
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// A raw connection.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s
    }

    /// A connection through the `redis` crate.
    pub fn client(&self) -> redis::Connection {
        self.client_with_url(&format!("redis://127.0.0.1:{}/", self.port))
    }

    /// A connection through the `redis` crate, from a URL.
    pub fn client_with_url(&self, url: &str) -> redis::Connection {
        let client = redis::Client::open(url).expect("client");
        let con = client
            .get_connection_with_timeout(DEADLINE)
            .unwrap_or_else(|e| panic!("connect: {e}; server stderr:\n{}", self.stderr()));
        con.set_read_timeout(Some(DEADLINE)).unwrap();
        con
    }

    /// `redis-cli -p PORT ARGS…` with `input` on stdin.
    pub fn cli(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("redis-cli");
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }

    /// redis-cli's stdout for one command, trimmed.
    pub fn cli_line(&self, args: &[&str]) -> String {
        let out = self.cli(args, b"");
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    /// Sends a signal with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the server to exit, with a deadline.
    pub fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the server did not exit; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, and wait for it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The port in `tinykv: serving DIR on 127.0.0.1:PORT`.
fn announced_port(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("tinykv: serving ")?;
    rest.rsplit_once(" on ")?.1.rsplit_once(':')?.1.parse().ok()
}

/// Sends `request` on a fresh connection and reads until the server
/// closes it (or the deadline passes): everything it replied.
pub fn exchange_until_closed(stream: &mut TcpStream, request: &[u8]) -> (Vec<u8>, bool) {
    // The server may close as soon as it has read a bad header; a write
    // after that can fail, and that is fine.
    let _ = stream.write_all(request);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(_) => return (got, false),
        }
    }
}

/// Polls `condition` until it holds, failing with `what` at the deadline.
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Server {
    /// PING on a fresh raw connection (no redis-cli needed): the reply's
    /// line, read until its end (a read may return part of it).
    pub fn cli_line_or_ping(&self) -> String {
        let mut s = self.connect();
        s.write_all(b"PING\r\n").unwrap();
        let line = read_line(&mut s);
        String::from_utf8_lossy(&line)
            .trim_start_matches('+')
            .trim_end()
            .to_owned()
    }

    /// A field of `INFO section`, as a number.
    pub fn info_field(&self, section: &str, name: &str) -> u64 {
        let info = self.cli_info(section);
        info_number(&info, name)
    }

    /// CLIENT LIST's line for the client named `name`, if connected.
    pub fn client_line(&self, name: &str) -> Option<String> {
        let mut con = self.client();
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
        let wanted = format!(" name={name} ");
        list.lines()
            .find(|l| l.contains(&wanted))
            .map(str::to_owned)
    }

    /// `INFO section` on a fresh raw connection: the bulk's text.
    pub fn cli_info(&self, section: &str) -> String {
        let mut con = self.client();
        redis::cmd("INFO").arg(section).query(&mut con).unwrap()
    }
}

/// One line of a reply, CRLF included, read byte by byte (so nothing after
/// it is consumed): empty if the connection ended first.
pub fn read_line(stream: &mut TcpStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    line
}

/// Reads exactly `n` bytes (the deadline is the stream's read timeout).
pub fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).expect("the reply");
    buf
}

/// `name:value` from INFO's text, as a number.
pub fn info_number(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} missing from INFO: {info}"))
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number in INFO: {info}"))
}

/// `name=value` from a CLIENT LIST line, as a number.
pub fn client_field(line: &str, name: &str) -> u64 {
    line.split(' ')
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} missing from {line}"))
        .parse()
        .unwrap()
}

/// A request in RESP, as a client library sends it.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A compaction held inside the engine for as long as the test wants
/// (`compact_gate` in TINYKV_TEST_OPTIONS, see src/cli/gate.rs), with
/// thresholds small enough for a few overwrites to make one due.
pub struct Gate {
    path: PathBuf,
}

impl Gate {
    /// A closed gate (its file exists) in `dir`.
    pub fn new(dir: &Path) -> Gate {
        let path = dir.join("gate");
        std::fs::write(&path, b"").expect("the gate file");
        Gate { path }
    }

    /// TINYKV_TEST_OPTIONS for a server whose compactions stop at the gate.
    pub fn options(&self) -> String {
        format!(
            "segment_size=16384,compact_min_bytes=131072,compact_ratio=2,compact_gate={}",
            self.path.display()
        )
    }

    /// Waits until a compaction is held at the gate.
    pub fn wait_reached(&self, server: &Server) {
        let mut reached = self.path.as_os_str().to_owned();
        reached.push(".reached");
        let reached = PathBuf::from(reached);
        eventually(
            &format!("a compaction at the gate ({})", server.stderr()),
            || reached.exists(),
        );
    }

    /// Lets the held compaction finish.
    pub fn open(&self) {
        std::fs::remove_file(&self.path).expect("the gate file");
    }
}
