//! The connected clients: the cap on how many (Redis's `maxclients`), and
//! what CLIENT LIST, CLIENT INFO and INFO clients report.
//!
//! Invariants: a client is registered when its connection is accepted and
//! deregistered when its [`Registration`] drops with the connection, so the
//! count is exact; at most `max` clients are registered at once.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::table::COMMANDS;
use crate::engine::Stage;

/// One connected client.
#[derive(Debug)]
pub struct Client {
    /// CLIENT ID: unique for the server's life, from 1.
    pub id: u64,
    /// The peer's address.
    pub addr: Option<SocketAddr>,
    /// The server's side of the connection.
    pub laddr: Option<SocketAddr>,
    /// CLIENT SETNAME.
    pub name: Mutex<Option<Vec<u8>>>,
    /// When it connected.
    pub since: Instant,
    /// Milliseconds after `since` of its last command.
    pub active_ms: AtomicU64,
    /// Index in [`COMMANDS`] of its last command, plus one (0: none yet).
    pub last_command: AtomicU64,
    /// Bytes of replies waiting to be sent to it (CLIENT LIST's `omem`, as
    /// in Redis), as of its connection's last turn.
    pub omem: AtomicU64,
    /// Connected through the owner's Unix socket: a process of this user
    /// on this machine (its uid was checked), trusted with what a file of
    /// the user's could do (TINYKV.BACKUP writes files where it says).
    pub local: bool,
    /// The load it is gathering (TINYKV.LOAD), dropped with the client
    /// when it goes without committing.
    pub stage: Mutex<Option<Stage>>,
}

impl Client {
    /// Notes that command `index` of [`COMMANDS`] ran.
    pub fn ran(&self, index: usize) {
        self.last_command.store(index as u64 + 1, Ordering::Relaxed);
    }

    /// Notes that the client was active now (once per turn of its
    /// connection, not per command: reading the clock is not free).
    pub fn touch(&self) {
        self.active_ms
            .store(self.since.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// A client connected from nowhere, for unit tests.
    #[cfg(test)]
    pub fn for_tests() -> Client {
        Client {
            id: 0,
            addr: None,
            laddr: None,
            name: Mutex::new(None),
            since: Instant::now(),
            active_ms: AtomicU64::new(0),
            last_command: AtomicU64::new(0),
            omem: AtomicU64::new(0),
            local: false,
            stage: Mutex::new(None),
        }
    }

    /// The client's name (empty when none was set).
    pub fn name(&self) -> Vec<u8> {
        self.name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// One line of CLIENT LIST, in Redis's field order.
    pub fn describe(&self) -> String {
        let shown = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
        let age = self.since.elapsed();
        let active = Duration::from_millis(self.active_ms.load(Ordering::Relaxed));
        let command = match self.last_command.load(Ordering::Relaxed) {
            0 => "NULL",
            i => COMMANDS.get(i as usize - 1).map_or("NULL", |c| c.name),
        };
        format!(
            "id={} addr={} laddr={} name={} age={} idle={} db=0 omem={} cmd={}",
            self.id,
            shown(self.addr),
            shown(self.laddr),
            String::from_utf8_lossy(&self.name()),
            age.as_secs(),
            age.saturating_sub(active).as_secs(),
            self.omem.load(Ordering::Relaxed),
            command,
        )
    }
}

/// The server's clients.
#[derive(Debug)]
pub struct Clients {
    max: usize,
    live: Mutex<BTreeMap<u64, Arc<Client>>>,
    next_id: AtomicU64,
    /// Connections accepted since the server started.
    pub received: AtomicU64,
    /// Connections refused for the cap.
    pub rejected: AtomicU64,
}

/// The cap was reached.
#[derive(Debug)]
pub struct Full;

/// File descriptors kept for everything but clients: the listener, epoll,
/// the database's files, a refused client's socket.
const RESERVED_FDS: u64 = 128;

/// The cap the process can honour: `requested`, or fewer when the
/// open-file limit (`limits`, the text of /proc/self/limits) is too low
/// for it, with the warning to print. Over the limit `accept` itself
/// would fail, and a client would wait in the backlog with no answer
/// instead of getting Redis's error; Redis lowers its maxclients the same
/// way. (Raising the limit would need setrlimit, which std does not offer
/// without unsafe code.)
pub fn effective_max(requested: usize, limits: Option<&str>) -> (usize, Option<String>) {
    let soft = limits.and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("Max open files"))?;
        line.split_whitespace().nth(3)?.parse::<u64>().ok()
    });
    let Some(soft) = soft else {
        return (requested, None);
    };
    let room = soft.saturating_sub(RESERVED_FDS).max(1);
    if requested as u64 <= room {
        return (requested, None);
    }
    let warning = format!(
        "serve: --max-clients {requested} is more than the open-file limit ({soft}) allows; \
         serving at most {room} clients (raise the limit with `ulimit -n`)"
    );
    (room as usize, Some(warning))
}

impl Clients {
    /// Room for `max` clients.
    pub fn new(max: usize) -> Clients {
        Clients {
            max,
            live: Mutex::default(),
            next_id: AtomicU64::new(1),
            received: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Client>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }

    /// How many are connected.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Every connected client, by id.
    pub fn list(&self) -> Vec<Arc<Client>> {
        self.lock().values().cloned().collect()
    }

    /// Registers a client connected from `addr` to `laddr`, or refuses it
    /// when the cap is reached.
    pub fn register(
        &self,
        addr: Option<SocketAddr>,
        laddr: Option<SocketAddr>,
        local: bool,
    ) -> Result<Registration<'_>, Full> {
        self.received.fetch_add(1, Ordering::Relaxed);
        let mut live = self.lock();
        if live.len() >= self.max {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(Full);
        }
        let client = Arc::new(Client {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            addr,
            laddr,
            name: Mutex::new(None),
            since: Instant::now(),
            active_ms: AtomicU64::new(0),
            last_command: AtomicU64::new(0),
            omem: AtomicU64::new(0),
            local,
            stage: Mutex::new(None),
        });
        live.insert(client.id, Arc::clone(&client));
        Ok(Registration {
            clients: self,
            client,
        })
    }
}

/// A registered client; dropping it deregisters the client.
#[derive(Debug)]
pub struct Registration<'a> {
    clients: &'a Clients,
    client: Arc<Client>,
}

impl Registration<'_> {
    /// The client.
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.clients.lock().remove(&self.client.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &str =
        "Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max open files            1024                 524288               files     
";

    #[test]
    fn the_cap_fits_the_open_file_limit() {
        assert_eq!(effective_max(500, Some(LIMITS)), (500, None));
        let (max, warning) = effective_max(10_000, Some(LIMITS));
        assert_eq!(max, 1024 - RESERVED_FDS as usize);
        assert!(warning.unwrap().contains("ulimit -n"));
        assert_eq!(effective_max(10_000, None), (10_000, None));
        assert_eq!(effective_max(10_000, Some("garbage")), (10_000, None));
    }
}
