//! A real Redis Cluster of a few masters on loopback ports, for the push
//! tests: each `redis-server --cluster-enabled yes` in a directory of its
//! own, joined with `redis-cli --cluster create … --cluster-yes`, ready
//! once every node reports `cluster_state:ok` and the same slot map
//! (polled, never slept on); killed when the handle drops. And what the
//! tests read back from it: every key of every master, with its value,
//! its deadline and the master that holds it.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::serve::eventually;

/// The cluster's nodes.
pub struct Cluster {
    children: Vec<Child>,
    /// The masters' ports on 127.0.0.1.
    pub ports: Vec<u16>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A free port whose cluster bus port (port + 10000) is free too.
fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

impl Cluster {
    /// `masters` masters (no replicas) with their files under `dir`.
    pub fn start(dir: &Path, masters: usize) -> Cluster {
        let mut cluster = Cluster {
            children: Vec::new(),
            ports: Vec::new(),
        };
        for _ in 0..masters {
            let port = free_port();
            let home = dir.join(format!("node-{port}"));
            std::fs::create_dir_all(&home).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"])
                .args(["--cluster-config-file", "nodes.conf"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&home)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server (apt-get install redis-server)");
            cluster.children.push(child);
            cluster.ports.push(port);
        }
        for &port in &cluster.ports {
            eventually("redis-server to answer", || {
                redis::Client::open(format!("redis://127.0.0.1:{port}"))
                    .and_then(|c| c.get_connection())
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                    .is_ok()
            });
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli (apt-get install redis-tools)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_until_agreed();
        cluster
    }

    /// Polls until every node says `cluster_state:ok` and every node
    /// gives the same slot map, covering every slot.
    pub fn wait_until_agreed(&self) {
        eventually("the cluster to agree on its slot map", || {
            let maps: Vec<_> = self.ports.iter().map(|&p| self.try_slots(p)).collect();
            maps.iter().all(|m| {
                m.as_ref().is_some_and(|m| {
                    m.iter()
                        .map(|r| r.1 as usize - r.0 as usize + 1)
                        .sum::<usize>()
                        == 16384
                })
            }) && maps.windows(2).all(|w| w[0] == w[1])
                && self.ports.iter().all(|&p| {
                    let info: String = redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query(&mut self.conn(p))
                        .unwrap_or_default();
                    info.contains("cluster_state:ok")
                })
        });
    }

    /// A plain connection to the node on `port`.
    pub fn conn(&self, port: u16) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .unwrap()
            .get_connection()
            .expect("connect to a cluster node")
    }

    /// The node's id (`CLUSTER MYID`).
    pub fn id(&self, port: u16) -> String {
        redis::cmd("CLUSTER")
            .arg("MYID")
            .query(&mut self.conn(port))
            .unwrap()
    }

    /// The slot map as the node on `port` sees it: (first, last, port of
    /// the master), sorted.
    pub fn slots(&self, port: u16) -> Vec<(u16, u16, u16)> {
        self.try_slots(port).expect("CLUSTER SLOTS")
    }

    fn try_slots(&self, port: u16) -> Option<Vec<(u16, u16, u16)>> {
        let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut self.conn(port))
            .ok()?;
        let mut map = Vec::new();
        for r in ranges {
            let redis::Value::Array(items) = r else {
                return None;
            };
            let n = |v: &redis::Value| match v {
                redis::Value::Int(n) => Some(*n as u16),
                _ => None,
            };
            let redis::Value::Array(master) = &items[2] else {
                return None;
            };
            map.push((n(&items[0])?, n(&items[1])?, n(&master[1])?));
        }
        map.sort_unstable();
        Some(map)
    }

    /// The master of `slot`, by port, in a slot map.
    pub fn master_in(map: &[(u16, u16, u16)], slot: u16) -> u16 {
        map.iter()
            .find(|r| r.0 <= slot && slot <= r.1)
            .expect("every slot has a master")
            .2
    }

    /// Every key of every master: key → (value, PEXPIRETIME, master's
    /// port), also in the middle of a migration.
    /// A key held by two masters fails the test.
    pub fn contents(&self) -> HashMap<Vec<u8>, (Vec<u8>, i64, u16)> {
        let mut all = HashMap::new();
        for &port in &self.ports {
            let mut c = self.conn(port);
            let keys = scan_all(&mut c);
            for chunk in keys.chunks(1000) {
                let mut p = redis::pipe();
                for k in chunk {
                    // ASKING: a slot being imported is read on its new
                    // master too (harmless elsewhere).
                    p.cmd("ASKING").ignore().cmd("GET").arg(k);
                    p.cmd("ASKING").ignore().cmd("PEXPIRETIME").arg(k);
                }
                let replies: Vec<(Vec<u8>, i64)> = p.query(&mut c).unwrap();
                for (k, (v, at)) in chunk.iter().zip(replies) {
                    let before = all.insert(k.clone(), (v, at, port));
                    assert!(before.is_none(), "key {k:?} is on two masters");
                }
            }
        }
        all
    }

    /// The hash slot of each key, as the server computes it.
    pub fn keyslots(&self, keys: &[Vec<u8>]) -> Vec<u16> {
        let mut c = self.conn(self.ports[0]);
        let mut slots = Vec::new();
        for chunk in keys.chunks(1000) {
            let mut p = redis::pipe();
            for k in chunk {
                p.cmd("CLUSTER").arg("KEYSLOT").arg(k);
            }
            let got: Vec<u16> = p.query(&mut c).unwrap();
            slots.extend(got);
        }
        slots
    }
}

/// Every key of one server's database: key → (value, PEXPIRETIME, ()).
pub fn contents_of(c: &mut redis::Connection) -> HashMap<Vec<u8>, (Vec<u8>, i64, ())> {
    let keys = scan_all(c);
    let mut all = HashMap::new();
    for chunk in keys.chunks(1000) {
        let mut p = redis::pipe();
        for k in chunk {
            p.cmd("GET").arg(k).cmd("PEXPIRETIME").arg(k);
        }
        let replies: Vec<(Vec<u8>, i64)> = p.query(c).unwrap();
        for (k, (v, at)) in chunk.iter().zip(replies) {
            all.insert(k.clone(), (v, at, ()));
        }
    }
    all
}

/// Every key on one server (SCAN to the end).
pub fn scan_all(c: &mut redis::Connection) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(c)
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys.dedup();
    keys
}
