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

use super::commands::COMMANDS;

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
            "id={} addr={} laddr={} name={} age={} idle={} db=0 cmd={}",
            self.id,
            shown(self.addr),
            shown(self.laddr),
            String::from_utf8_lossy(&self.name()),
            age.as_secs(),
            age.saturating_sub(active).as_secs(),
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
