//! `tinykv serve`: the database over the Redis protocol (RESP2), to many
//! clients at once.
//!
//! Threads, not an async runtime: the engine is synchronous and a write
//! blocks its caller until the group commit's fsync, so under tokio every
//! write would go through `spawn_blocking` anyway and pay a hand-off each
//! way. A thread per connection runs each command where it was read, gets
//! the engine's group commit for free (concurrent writers on different
//! threads share one fsync), and keeps the dependency tree to std and
//! signal-hook. The cost is a stack per client, which is why connections are
//! capped (`--max-clients`, like Redis's `maxclients`) and each thread gets a
//! small stack ([`STACK`]); a client over the cap gets Redis's `-ERR max
//! number of clients reached`.
//!
//! The files: [`listen`] (addresses and their policy), [`shutdown`]
//! (signals), [`clients`] (registry and cap), [`conn`] (one connection),
//! [`resp`] (the request parser), [`reply`] (replies), [`commands`] (the
//! table and dispatch), [`keyspace`], [`walk`], [`admin`] and [`info`] (the
//! commands), [`stripes`] (key locks), [`committer`] (the one writer, which
//! batches the writes of every connection), [`cursors`] (SCAN cursors),
//! [`glob`] (patterns), [`compactor`] (background compaction), [`budget`]
//! (request memory).
//!
//! Invariants: the database lock is held from before the address is
//! announced until after the last reply is sent; the announcement
//! (`tinykv: serving DIR on ADDR`, on stderr) names the address actually
//! bound, so `--listen 127.0.0.1:0` can be used and read back; on shutdown
//! the server stops accepting first, then lets every connection finish,
//! then stops compaction, then closes the database, and exits 0.

mod admin;
mod budget;
mod clients;
mod commands;
mod committer;
mod compactor;
mod conn;
mod cursors;
mod glob;
mod info;
mod keyspace;
mod listen;
mod reply;
mod resp;
mod shutdown;
mod stripes;
mod walk;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use super::config::Config;
use super::exit::Exit;
use super::{database, output};
use crate::engine::{Db, SyncMode};

pub use listen::DEFAULT as DEFAULT_LISTEN;

/// Stack of a connection thread: what the deepest command path needs with
/// room to spare (the default, 2 MiB, times 10,000 clients is a lot to map).
const STACK: usize = 512 * 1024;
/// How long shutdown waits for a client to take its last replies.
const LAST_WRITE: Duration = Duration::from_secs(10);

/// What `tinykv serve` was asked for.
#[derive(Clone, Debug)]
pub struct ServeArgs {
    /// `--listen`.
    pub listen: String,
    /// `--requirepass`.
    pub requirepass: Option<String>,
    /// `--insecure`.
    pub insecure: bool,
    /// `--max-clients`.
    pub max_clients: usize,
}

/// Settings fixed for the server's life.
#[derive(Debug)]
pub struct Settings {
    /// The password clients must AUTH with, if any.
    pub requirepass: Option<Vec<u8>>,
    /// When writes reach the disk.
    pub sync: SyncMode,
    /// The address bound.
    pub bound: SocketAddr,
}

/// What every connection shares.
pub struct Server {
    /// The database.
    pub db: Db,
    /// Fixed settings.
    pub settings: Settings,
    /// Key locks.
    pub stripes: stripes::Stripes,
    /// SCAN cursors.
    pub cursors: cursors::Cursors,
    /// Connected clients.
    pub clients: clients::Clients,
    /// The one writer.
    pub committer: committer::Committer,
    /// Background compaction.
    pub compactor: compactor::Compactor,
    /// The stop switch.
    pub shutdown: Arc<shutdown::Shutdown>,
    /// Memory for requests in progress.
    pub budget: budget::Budget,
    /// When the server started.
    pub started: Instant,
    /// The same, by the wall clock.
    pub started_at: SystemTime,
    /// Commands run.
    pub commands: AtomicU64,
    /// The last engine error logged, so a poisoned handle logs once.
    last_error: Mutex<String>,
}

impl Server {
    /// One line on stderr for an engine failure, not repeated while the same
    /// failure keeps coming back (a poisoned handle refuses every write).
    pub fn log_engine_error(&self, text: &str) {
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        if *last != text {
            output::message(&format!("serve: {text}"));
            text.clone_into(&mut last);
        }
    }
}

/// Runs the server until SIGINT, SIGTERM or SHUTDOWN.
pub fn run(config: &Config, args: &ServeArgs) -> Result<Exit> {
    let addrs = listen::resolve(&args.listen, args.requirepass.is_some(), args.insecure)?;
    if args.max_clients == 0 {
        anyhow::bail!("--max-clients must be at least 1");
    }
    let db = database::open(config)?;
    let listener = match TcpListener::bind(&addrs[..]) {
        Ok(l) => l,
        Err(e) => {
            database::close(db)?;
            return Err(e).with_context(|| format!("cannot listen on {}", args.listen));
        }
    };
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let shutdown = Arc::new(shutdown::Shutdown::new(listen::wake_address(bound)));
    let signals = shutdown::SignalThread::start(Arc::clone(&shutdown))?;
    let server = Server {
        db,
        settings: Settings {
            requirepass: args.requirepass.clone().map(String::into_bytes),
            sync: config.sync,
            bound,
        },
        stripes: Default::default(),
        cursors: Default::default(),
        clients: clients::Clients::new(args.max_clients),
        committer: Default::default(),
        compactor: Default::default(),
        shutdown,
        budget: Default::default(),
        started: Instant::now(),
        started_at: SystemTime::now(),
        commands: AtomicU64::new(0),
        last_error: Mutex::default(),
    };
    output::message(&format!(
        "serving {} on {bound}",
        server.db.path().display()
    ));
    thread::scope(|scope| {
        let writer = thread::Builder::new()
            .name("writer".into())
            .spawn_scoped(scope, || {
                server
                    .committer
                    .run(&server.db, |e| server.log_engine_error(e))
            });
        if let Err(e) = writer {
            // Without the writer no write could ever be answered.
            output::message(&format!("serve: cannot start the writer thread ({e})"));
            server.shutdown.trigger("no writer thread");
        }
        let compaction = thread::Builder::new()
            .name("compaction".into())
            .spawn_scoped(scope, || server.compactor.run(&server.db));
        if let Err(e) = &compaction {
            output::message(&format!(
                "serve: cannot start the compaction thread ({e}); compacting never"
            ));
        }
        accept(scope, &server, &listener);
        drop(listener);
        server.clients.end_all(LAST_WRITE);
        server.clients.wait_until_none();
        server.committer.stop();
        server.compactor.stop();
    });
    signals.stop();
    database::close(server.db)?;
    output::message("serve: stopped; the database is closed");
    Ok(Exit::Success)
}

/// Accepts connections until shutdown, each on a thread of its own.
fn accept<'scope>(
    scope: &'scope thread::Scope<'scope, '_>,
    server: &'scope Server,
    listener: &TcpListener,
) {
    let mut warned = false;
    for stream in listener.incoming() {
        if server.shutdown.is_stopping() {
            return;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, mostly: say so once, and give the
                // other connections a moment to free some.
                if !warned {
                    output::message(&format!("serve: cannot accept a connection ({e})"));
                    warned = true;
                }
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        start_connection(scope, server, stream);
    }
}

fn start_connection<'scope>(
    scope: &'scope thread::Scope<'scope, '_>,
    server: &'scope Server,
    stream: TcpStream,
) {
    let Ok(registration) = server.clients.register(&stream) else {
        return;
    };
    let id = registration.client().id;
    let spawned = thread::Builder::new()
        .name(format!("client-{id}"))
        .stack_size(STACK)
        .spawn_scoped(scope, move || {
            let client = Arc::clone(registration.client());
            // A bug in one connection must not take the others down; the
            // panic hook has already said what happened.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                conn::serve(server, &client, stream)
            }));
            drop(registration);
        });
    if let Err(e) = spawned {
        output::message(&format!("serve: cannot start a thread for a client ({e})"));
    }
}
