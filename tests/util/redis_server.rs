//! A real `redis-server` beside `tinykv serve`, for the tests that check
//! serve's replies against Redis's own: started on an OS-chosen loopback
//! port with nothing persisted, ready once it answers PING (polled, not
//! slept on), killed when the handle drops. And a raw RESP reader that
//! returns a whole reply's bytes, so two servers' replies can be compared
//! byte for byte.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use super::serve::DEADLINE;

/// A running redis-server.
pub struct Redis {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    /// `redis-server` with its files (none are written) in `dir`.
    pub fn start(dir: &Path) -> Redis {
        Redis::start_with(dir, &[])
    }

    /// [`Redis::start`] with more of redis-server's options (it loads
    /// `dir/dump.rdb` at start when there is one, and SAVE writes it;
    /// `--requirepass`: ready once it answers NOAUTH).
    pub fn start_with(dir: &Path, options: &[&str]) -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(options)
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        let redis = Redis { child, port };
        let start = Instant::now();
        loop {
            if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
                c.set_read_timeout(Some(DEADLINE)).unwrap();
                if c.write_all(b"PING\r\n").is_ok() {
                    let mut line = String::new();
                    let _ = BufReader::new(&mut c).read_line(&mut line);
                    if line == "+PONG\r\n" || line.starts_with("-NOAUTH") {
                        return redis;
                    }
                }
            }
            assert!(start.elapsed() < DEADLINE, "redis-server did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// A raw connection.
    pub fn connect(&self) -> Raw {
        Raw::connect(self.port)
    }
}

/// A raw RESP connection that reads whole replies.
pub struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        Raw {
            reader: BufReader::new(s),
        }
    }

    /// Sends `args` and returns the reply's bytes.
    pub fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(args);
        self.reply()
    }

    /// Sends `args` without reading the reply.
    pub fn send(&mut self, args: &[&[u8]]) {
        self.reader
            .get_mut()
            .write_all(&super::serve::resp(args))
            .expect("send");
    }

    /// The next reply, whole (an array with its elements).
    pub fn reply(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).expect("a reply");
        assert!(line.ends_with(b"\r\n"), "a cut reply: {line:?}");
        let n = || -> i64 {
            std::str::from_utf8(&line[1..line.len() - 2])
                .unwrap()
                .parse()
                .unwrap()
        };
        match line[0] {
            b'$' if n() >= 0 => {
                let mut body = vec![0u8; n() as usize + 2];
                self.reader.read_exact(&mut body).expect("a bulk");
                line.extend_from_slice(&body);
            }
            b'*' => {
                for _ in 0..n().max(0) {
                    let item = self.reply();
                    line.extend_from_slice(&item);
                }
            }
            _ => {}
        }
        line
    }
}
