//! Where `push` sends pairs: one Redis or Valkey server, or a Redis
//! Cluster, whose slot map says which master takes each key.
//!
//! Invariants: a command goes to the master the slot map names; a `MOVED`
//! reply corrects the map (and has it read again from the cluster) and
//! the command goes again to the new owner; an `ASK` reply sends the
//! command again to the node named, after `ASKING`, without touching the
//! map (the slot is being migrated: only that key is there); a busy
//! cluster (`TRYAGAIN`, `CLUSTERDOWN`, …) is tried again after a pause.
//! A command redirected more than [`MAX_HOPS`] times is refused. The
//! commands to send again are held until the main loop routes them, so
//! reading one connection's replies never writes to another.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use super::node::{Findings, Node, Redirect};
use super::slot;
use super::url::Url;
use crate::cli::client::Reply;

/// How many times one command may be redirected or retried.
pub const MAX_HOPS: u8 = 32;

/// The server or cluster pushed to; see the module doc.
pub struct Target {
    url: Url,
    /// A connection for questions (INFO, CLUSTER SLOTS, DBSIZE), never
    /// pipelined, so it can be asked while the others have replies due.
    control: Node,
    nodes: Vec<Node>,
    by_addr: HashMap<String, usize>,
    /// The node of each slot; `None`: one server takes everything (node 0).
    slots: Option<Vec<usize>>,
    findings: Findings,
}

impl Target {
    /// Connects to the server `url` names, finds out whether it is a
    /// Cluster, and, if so, reads its slot map and connects to every master.
    pub fn connect(url: &Url) -> Result<Target> {
        let mut control = Node::connect(&url.host, url.port, url)?;
        check_version(&mut control)?;
        let cluster = is_cluster(&mut control)?;
        if cluster && url.db.is_some_and(|db| db != 0) {
            bail!(
                "{} is a Redis Cluster, which has only database 0; drop the /DB from the URL",
                control.addr
            );
        }
        let mut target = Target {
            url: url.clone(),
            control,
            nodes: Vec::new(),
            by_addr: HashMap::new(),
            slots: None,
            findings: Findings::default(),
        };
        if cluster {
            target.read_slot_map()?;
        } else {
            let node = Node::connect(&url.host, url.port, url)?;
            target.by_addr.insert(node.addr.clone(), 0);
            target.nodes.push(node);
        }
        Ok(target)
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.slots.is_some()
    }

    /// Reads the slot map from the cluster (CLUSTER SLOTS) and connects
    /// to the masters not met yet.
    fn read_slot_map(&mut self) -> Result<()> {
        let answer = self.control.call(&["CLUSTER", "SLOTS"])?;
        let addr = self.control.addr.clone();
        let ranges = parse_slots(answer, &self.url.host)
            .with_context(|| format!("cannot read the slot map of the cluster at {addr}"))?;
        let mut slots = vec![usize::MAX; slot::SLOTS];
        for (range, host, port) in ranges {
            let node = self.node_at(&host, port)?;
            for s in range {
                slots[s] = node;
            }
        }
        if let Some(s) = slots.iter().position(|&n| n == usize::MAX) {
            bail!("the cluster at {addr} serves no master for slot {s} (is it fully set up?)");
        }
        self.slots = Some(slots);
        Ok(())
    }

    /// The index of the node at `host:port`, connecting to it first.
    fn node_at(&mut self, host: &str, port: u16) -> Result<usize> {
        let addr = super::url::address(host, port);
        if let Some(&i) = self.by_addr.get(&addr) {
            return Ok(i);
        }
        let node = Node::connect(host, port, &self.url)?;
        self.nodes.push(node);
        self.by_addr.insert(addr, self.nodes.len() - 1);
        Ok(self.nodes.len() - 1)
    }

    /// The node at `addr` (`HOST:PORT` as a redirection names it).
    fn node_named(&mut self, addr: &str) -> Result<usize> {
        let (host, port) = addr
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse().ok()?)))
            .ok_or_else(|| anyhow!("the cluster redirected to {addr:?}, not HOST:PORT"))?;
        self.node_at(host, port)
    }

    fn node_of(&self, key: &[u8]) -> usize {
        match &self.slots {
            Some(slots) => slots[slot::of(key) as usize],
            None => 0,
        }
    }

    /// Queues `SET key value [PXAT expires_at]` to the key's master.
    pub fn set(&mut self, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Result<()> {
        let n = self.node_of(key);
        self.nodes[n].queue_set(key, value, expires_at);
        self.flush_if_full(n)
    }

    /// Queues `EXISTS key` to the key's master.
    pub fn exists(&mut self, key: &[u8], expires_at: Option<u64>) -> Result<()> {
        let n = self.node_of(key);
        self.nodes[n].queue_exists(key, expires_at);
        self.flush_if_full(n)
    }

    fn flush_if_full(&mut self, n: usize) -> Result<()> {
        if self.nodes[n].is_full() {
            self.nodes[n].flush(&mut self.findings)?;
            self.resend()?;
        }
        Ok(())
    }

    /// Sends again what was redirected, until nothing is.
    fn resend(&mut self) -> Result<()> {
        while !self.findings.retries.is_empty() {
            let retries = std::mem::take(&mut self.findings.retries);
            let mut moved = Vec::new();
            let mut later = false;
            for r in &retries {
                match &r.why {
                    Redirect::Moved { slot, addr } => moved.push((*slot, addr.clone())),
                    Redirect::Later(_) => later = true,
                    Redirect::Ask { .. } => {}
                }
            }
            if !moved.is_empty() && self.slots.is_some() {
                // The whole map has likely changed (a resharding, a
                // failover): read it again, then trust what the nodes
                // that answered said of their own slots.
                self.read_slot_map()?;
                for (s, addr) in moved {
                    let n = self.node_named(&addr)?;
                    if let Some(slots) = &mut self.slots {
                        slots[s as usize] = n;
                    }
                }
            }
            if later {
                let worst = retries.iter().map(|r| r.hops).max().unwrap_or(1);
                std::thread::sleep(Duration::from_millis(20 * u64::from(worst.min(25))));
            }
            let mut touched = Vec::new();
            for r in retries {
                if r.hops > MAX_HOPS {
                    let key = r.bytes[r.key.clone()].to_vec();
                    let why = match &r.why {
                        Redirect::Later(e) => e.clone(),
                        _ => "redirected too many times".to_owned(),
                    };
                    self.findings.refused.push((key, why));
                    continue;
                }
                let (n, asking) = match &r.why {
                    Redirect::Ask { addr } => (self.node_named(addr)?, true),
                    Redirect::Moved { addr, .. } if self.slots.is_none() => {
                        (self.node_named(addr)?, false)
                    }
                    _ => (self.node_of(&r.bytes[r.key.clone()]), false),
                };
                self.nodes[n].queue_retry(r, asking);
                touched.push(n);
            }
            touched.sort_unstable();
            touched.dedup();
            for n in touched {
                self.nodes[n].drain(&mut self.findings)?;
            }
        }
        Ok(())
    }

    /// Sends everything queued and reads every reply, redirections
    /// followed.
    pub fn finish(&mut self) -> Result<()> {
        loop {
            for n in 0..self.nodes.len() {
                self.nodes[n].drain(&mut self.findings)?;
            }
            self.resend()?;
            if self.nodes.iter().all(Node::is_idle) && self.findings.retries.is_empty() {
                return Ok(());
            }
        }
    }

    /// What the replies read so far found: keys refused, keys missing.
    pub fn findings(&mut self) -> &mut Findings {
        &mut self.findings
    }

    /// The pairs each server acknowledged, by address, for the report.
    pub fn stored(&self) -> Vec<(String, u64)> {
        self.nodes
            .iter()
            .map(|n| (n.addr.clone(), n.stored))
            .collect()
    }

    /// The pairs without expiry acknowledged, in all.
    pub fn lasting(&self) -> u64 {
        self.nodes.iter().map(|n| n.lasting).sum()
    }

    /// The keys each master holds now (DBSIZE), by address: the masters
    /// of the slot map as it is now, or the one server.
    pub fn sizes(&mut self) -> Result<Vec<(String, u64)>> {
        if self.slots.is_some() {
            self.read_slot_map()?;
        }
        let masters: Vec<usize> = match &self.slots {
            Some(slots) => {
                let mut m = slots.clone();
                m.sort_unstable();
                m.dedup();
                m
            }
            None => vec![0],
        };
        let mut sizes = Vec::new();
        for n in masters {
            let node = &mut self.nodes[n];
            let size = node
                .call(&["DBSIZE"])?
                .into_result()
                .and_then(Reply::integer)
                .with_context(|| format!("DBSIZE on {}", node.addr))?;
            sizes.push((node.addr.clone(), u64::try_from(size).unwrap_or(0)));
        }
        Ok(sizes)
    }
}

/// Refuses a server older than Redis 6.2, which has no `SET … PXAT`.
fn check_version(control: &mut Node) -> Result<()> {
    let Reply::Bulk(Some(info)) = control.call(&["INFO", "server"])? else {
        return Ok(()); // not Redis itself: let the commands speak
    };
    let info = String::from_utf8_lossy(&info);
    let Some(version) = field(&info, "redis_version") else {
        return Ok(());
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (6, 2) {
        bail!(
            "{} runs Redis {version}; push needs 6.2 or later (or Valkey), for SET … PXAT",
            control.addr
        );
    }
    Ok(())
}

/// Whether the server is a Cluster node (`INFO cluster`: `cluster_enabled:1`).
fn is_cluster(control: &mut Node) -> Result<bool> {
    Ok(match control.call(&["INFO", "cluster"])? {
        Reply::Bulk(Some(info)) => {
            field(&String::from_utf8_lossy(&info), "cluster_enabled") == Some("1")
        }
        _ => false,
    })
}

/// The value of `name:value` in an INFO reply.
fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// CLUSTER SLOTS: each range of slots with its master's host and port
/// (a host that is empty or `?`, unknown to the cluster, is `seed_host`).
fn parse_slots(
    answer: Reply,
    seed_host: &str,
) -> Result<Vec<(std::ops::RangeInclusive<usize>, String, u16)>> {
    let mut ranges = Vec::new();
    for range in answer.into_result()?.array()? {
        let mut items = range.array()?.into_iter();
        let mut number = || -> Result<i64> {
            items
                .next()
                .ok_or_else(|| anyhow!("a range too short"))?
                .integer()
        };
        let (first, last) = (number()?, number()?);
        let master = items
            .next()
            .ok_or_else(|| anyhow!("a range without a master"))?
            .array()?;
        let mut fields = master.into_iter();
        let host = match fields.next().map(Reply::bulk).transpose()?.flatten() {
            Some(h) if !h.is_empty() && h != b"?" => String::from_utf8_lossy(&h).into_owned(),
            _ => seed_host.to_owned(),
        };
        let port = fields
            .next()
            .ok_or_else(|| anyhow!("a master without a port"))?
            .integer()?;
        let ok = |n: i64| usize::try_from(n).ok().filter(|&n| n < slot::SLOTS);
        let (Some(first), Some(last), Ok(port)) = (ok(first), ok(last), u16::try_from(port)) else {
            bail!("a range {first}-{last} or port {port} out of bounds");
        };
        ranges.push((first..=last, host, port));
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::push::fake::{self, bulk};
    use std::collections::HashMap as Map;
    use std::sync::{Arc, Mutex};

    type Held = Arc<Mutex<Map<Vec<u8>, Vec<u8>>>>;

    /// A stale seed that keeps only `here…` keys, redirects `ask…` keys
    /// with ASK and the others with MOVED to a second node; that node
    /// refuses `ask…` keys without ASKING (MOVED back, as an importing
    /// node does), is busy once for `busy`, and refuses `big` for good.
    #[test]
    fn moved_and_ask_are_followed_and_refusals_named() {
        let (one, two): (Held, Held) = Default::default();
        let held = Arc::clone(&two);
        let seed = Arc::new(Mutex::new(0u16));
        let seed_port = Arc::clone(&seed);
        let busy_once = Arc::new(Mutex::new(true));
        let second = fake::start(Arc::new(move |conn, words| {
            let key = words.get(1).cloned().unwrap_or_default();
            let slot = slot::of(&key);
            match words[0].as_slice() {
                b"SET" if key.starts_with(b"ask") && !conn.asking => {
                    let seed = *seed_port.lock().unwrap();
                    format!("-MOVED {slot} 127.0.0.1:{seed}\r\n").into_bytes()
                }
                b"SET" if key == b"busy" && std::mem::take(&mut *busy_once.lock().unwrap()) => {
                    b"-TRYAGAIN later\r\n".to_vec()
                }
                b"SET" if key == b"big" => b"-OOM command not allowed\r\n".to_vec(),
                b"SET" => {
                    held.lock().unwrap().insert(key, words[2].clone());
                    b"+OK\r\n".to_vec()
                }
                _ => b"-ERR unexpected\r\n".to_vec(),
            }
        }));
        let held = Arc::clone(&one);
        let seed_is = Arc::clone(&seed);
        let first = fake::start(Arc::new(move |_conn, words| {
            let key = words.get(1).cloned().unwrap_or_default();
            let slot = slot::of(&key);
            match (words[0].as_slice(), words.get(1).map(Vec::as_slice)) {
                (b"INFO", Some(b"server")) => bulk("# Server\r\nredis_version:7.2.0\r\n"),
                (b"INFO", Some(b"cluster")) => bulk("cluster_enabled:1\r\n"),
                (b"CLUSTER", Some(b"SLOTS")) => {
                    let me = *seed.lock().unwrap();
                    format!("*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:{me}\r\n")
                        .into_bytes()
                }
                (b"SET", _) if key.starts_with(b"here") => {
                    held.lock().unwrap().insert(key, words[2].clone());
                    b"+OK\r\n".to_vec()
                }
                (b"SET", _) if key.starts_with(b"ask") => {
                    format!("-ASK {slot} 127.0.0.1:{second}\r\n").into_bytes()
                }
                (b"SET", _) => format!("-MOVED {slot} 127.0.0.1:{second}\r\n").into_bytes(),
                _ => b"-ERR unexpected\r\n".to_vec(),
            }
        }));
        *seed_is.lock().unwrap() = first;
        let url = Url::parse(&format!("redis://127.0.0.1:{first}")).unwrap();
        let mut target = Target::connect(&url).unwrap();
        assert!(target.is_cluster());
        // More windows than may be in flight: replies are read, and
        // redirections followed, while pairs are still being queued.
        for i in 0..12_000 {
            for kind in ["here", "moved", "ask"] {
                let key = format!("{kind}{i}");
                target.set(key.as_bytes(), b"v", None).unwrap();
            }
        }
        target.set(b"busy", b"b", Some(4_000_000_000_000)).unwrap();
        target.set(b"big", b"x", None).unwrap();
        target.finish().unwrap();

        let refused = std::mem::take(&mut target.findings().refused);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].0, b"big");
        assert!(refused[0].1.starts_with("OOM"), "{}", refused[0].1);
        let stored: u64 = target.stored().iter().map(|s| s.1).sum();
        assert_eq!(stored, 36_001);
        assert_eq!(target.lasting(), 36_000);
        let (one, two) = (one.lock().unwrap(), two.lock().unwrap());
        assert!(one.keys().all(|k| k.starts_with(b"here")));
        // A `here` key in a slot that a MOVED gave to the second node
        // goes there, as a slot moves whole in a real cluster.
        let here_on_two = two.keys().filter(|k| k.starts_with(b"here")).count();
        assert_eq!(one.len() + here_on_two, 12_000);
        assert_eq!(two.len() - here_on_two, 24_001);
        assert_eq!(two.get(&b"busy"[..]), Some(&b"b".to_vec()));
    }

    #[test]
    fn slot_map_and_info_fields() {
        let bulk = |s: &str| Reply::Bulk(Some(s.as_bytes().to_vec()));
        let answer = Reply::Array(Some(vec![
            Reply::Array(Some(vec![
                Reply::Integer(0),
                Reply::Integer(5460),
                Reply::Array(Some(vec![bulk("127.0.0.1"), Reply::Integer(7000)])),
            ])),
            Reply::Array(Some(vec![
                Reply::Integer(5461),
                Reply::Integer(16383),
                Reply::Array(Some(vec![bulk(""), Reply::Integer(7001), bulk("id")])),
                Reply::Array(Some(vec![bulk("127.0.0.1"), Reply::Integer(7002)])),
            ])),
        ]));
        let ranges = parse_slots(answer, "seed").unwrap();
        assert_eq!(ranges[0], (0..=5460, "127.0.0.1".to_owned(), 7000));
        assert_eq!(ranges[1], (5461..=16383, "seed".to_owned(), 7001));
        let bad = Reply::Array(Some(vec![Reply::Array(Some(vec![
            Reply::Integer(0),
            Reply::Integer(99999),
            Reply::Array(Some(vec![bulk("h"), Reply::Integer(1)])),
        ]))]));
        assert!(parse_slots(bad, "s").is_err());
        assert!(parse_slots(Reply::Error("ERR no".into()), "s").is_err());

        let info = "# Server\r\nredis_version:7.0.15\r\ncluster_enabled:1\r\n";
        assert_eq!(field(info, "redis_version"), Some("7.0.15"));
        assert_eq!(field(info, "cluster_enabled"), Some("1"));
        assert_eq!(field(info, "redis"), None);
    }
}
