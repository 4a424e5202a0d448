//! The connected clients: the cap on how many (Redis's `maxclients`), what
//! CLIENT LIST, CLIENT INFO and INFO clients report, and the handles
//! shutdown uses to end every connection.
//!
//! Invariants: a client is registered before its thread starts and
//! deregistered when its [`Registration`] drops, whatever way the thread
//! ends (a panic included), so the count is exact and shutdown's wait for
//! "no clients left" cannot hang on a dead thread; at most `max` clients are
//! registered at once.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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
    /// A handle on the socket, for shutdown.
    stream: TcpStream,
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
    /// Notes that command `index` of [`COMMANDS`] ran now.
    pub fn ran(&self, index: usize) {
        self.active_ms
            .store(self.since.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.last_command.store(index as u64 + 1, Ordering::Relaxed);
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
    gone: Condvar,
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
            gone: Condvar::new(),
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

    /// Registers the client on `stream`, or refuses it (with Redis's error,
    /// written here) when the cap is reached.
    pub fn register(&self, stream: &TcpStream) -> Result<Registration<'_>, Full> {
        self.received.fetch_add(1, Ordering::Relaxed);
        let mut live = self.lock();
        let handle = match stream.try_clone() {
            Ok(h) if live.len() < self.max => h,
            _ => {
                drop(live);
                self.rejected.fetch_add(1, Ordering::Relaxed);
                let mut s = stream;
                let _ = s.write_all(b"-ERR max number of clients reached\r\n");
                return Err(Full);
            }
        };
        let client = Arc::new(Client {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            addr: stream.peer_addr().ok(),
            laddr: stream.local_addr().ok(),
            stream: handle,
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

    /// Ends every connection's reading: each finishes the commands it has
    /// read, sends their replies (within `write_timeout`, so a client that
    /// reads nothing cannot hold shutdown forever) and closes.
    pub fn end_all(&self, write_timeout: Duration) {
        for client in self.lock().values() {
            let _ = client.stream.set_write_timeout(Some(write_timeout));
            let _ = client.stream.shutdown(Shutdown::Read);
        }
    }

    /// Waits until every client is gone.
    pub fn wait_until_none(&self) {
        let mut live = self.lock();
        while !live.is_empty() {
            live = self.gone.wait(live).unwrap_or_else(|p| p.into_inner());
        }
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
        self.clients.gone.notify_all();
    }
}
