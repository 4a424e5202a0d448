//! `tinykv serve`: the database over the Redis protocol (RESP2), to many
//! clients at once.
//!
//! Threads: one event loop (mio's epoll) reads, parses and answers every
//! connection, runs the commands that cannot wait (GET, PING, …), and
//! writes each turn's writes as one round with one fsync, as Redis does:
//! plain SETs and MSETs as one engine batch, and with any command that
//! reads what it writes (INCR, SET NX, GETDEL, EXPIRE, EXEC, …) as one
//! engine transaction ([`round`]); one writer thread (the committer) writes
//! the rounds the loop must not wait for (a compaction runs, the round is
//! large); worker threads run what may wait for the engine's writer lock or
//! walks every key, in two pools so that reads never wait behind writes
//! ([`workers::WRITE_WORKERS`] for FLUSHDB, TINYKV.LOAD, …,
//! [`workers::READ_WORKERS`] for MGET, SCAN, INFO, …); one thread compacts
//! in the background; one receives signals. Not tokio: the engine is
//! synchronous and a write blocks until its fsync, so an async runtime
//! would hand writes to a blocking pool anyway; the loop and the few
//! threads around it are small enough to own, and mio is the part of tokio
//! that matters here. Not a thread per connection either (the first
//! version): it cost a context switch per request, and another per write,
//! which capped SET at about 0.7× Redis (see reactor.rs).
//!
//! The settings come checked, as [`ServeConfig`] (config.rs: the address
//! and its policy, the password, the number of clients). The files, by
//! role:
//!
//! - shared state, which the rest imports: [`server`] (the [`Server`]
//!   every thread shares), [`mailbox`] (results for the event loop),
//!   [`reply`] (replies and their memory), [`budget`] (request memory),
//!   [`clients`] (registry and cap), [`cursors`] (SCAN cursors),
//!   [`watches`] (WATCHed keys), [`shutdown`] (signals);
//! - [`request`]: a request as it arrives, its parser, inline commands,
//!   what a request may hold, and the parser's fuzz target;
//! - commands: [`table`] (every command, described), [`ctx`] (what a
//!   command can touch), [`store`] (what a data command reads and writes
//!   through, alone or in a transaction), the data commands by family
//!   ([`strings`], [`counters`] with [`long_double`], [`expiry`],
//!   [`keyspace`], [`all_keys`]), [`program`] (the data commands by name),
//!   the others ([`admin`], [`info`], [`tinykv`], [`other_types`],
//!   [`snapshot`]: SYNC and PSYNC, the hot backup), and
//!   [`dispatch`], the one module that imports the handlers (the checks,
//!   and the workers' body);
//! - threads: [`reactor`] (the event loop), [`conn`] (one connection: its
//!   unparsed input, its batch of writes, MULTI and WATCH, where each
//!   request runs), [`round`] (a turn's writes, written together),
//!   [`workers`] (their queues), [`committer`] (the writer thread),
//!   [`compactor`] (background compaction).
//!
//! Invariants: the database lock is held from before the address is
//! announced until after the last reply is sent; the announcement
//! (`tinykv: serving DIR on ADDR`, on stderr) names the address actually
//! bound, so `--listen 127.0.0.1:0` can be used and read back; on shutdown
//! the server stops accepting first, then lets every connection finish,
//! then stops the workers, the writer and compaction, then closes the
//! database, and exits 0. A panic (a bug) never leaves the server hanging
//! with the lock held: on the event loop it stops the other threads as it
//! unwinds (a drop guard), and in the writer or the compaction thread it
//! stops the server as a signal would; either way the panic hook's one line
//! (`tinykv: internal error: …`) is all that is printed, the database is
//! closed (its lock released), and the exit status is 2.

mod admin;
mod all_keys;
mod budget;
mod clients;
mod committer;
mod compactor;
mod conn;
mod counters;
mod ctx;
mod cursors;
mod dispatch;
mod expiry;
mod info;
mod keyspace;
mod long_double;
mod mailbox;
mod other_types;
mod program;
mod reactor;
mod reply;
pub(crate) mod request;
mod round;
mod server;
mod shutdown;
mod snapshot;
mod store;
mod strings;
mod table;
mod tinykv;
mod watches;
mod workers;

use std::fs;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, anyhow};

use super::config::{Config, ServeConfig};
use super::exit::Exit;
use super::owner::{self, Kind, Owner};
use super::tuning::Thread;
use super::{database, output};
use crate::engine::Db;
use mailbox::Mailbox;
use reactor::Listeners;
use server::{Hooks, Server, Settings};

/// Most local clients an owner that is not `tinykv serve` lets in at once.
const SHARING_CLIENTS: usize = 1024;

/// Runs the server until SIGINT, SIGTERM or SHUTDOWN, with `serve`'s
/// settings as [`Config::resolve`] checked them. Besides the network, it
/// serves the database to this user's other tinykv processes, as every
/// owner does (owner.rs).
pub fn run(config: &Config, serve_config: &ServeConfig) -> Result<Exit> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok();
    let (max_clients, warning) =
        clients::effective_max(serve_config.max_clients, limits.as_deref());
    if let Some(warning) = warning {
        output::message(&warning);
    }
    let db = Arc::new(database::open(config)?);
    let listener = match TcpListener::bind(&serve_config.addrs[..]) {
        Ok(l) => l,
        Err(e) => {
            database::close(unshared(db)?)?;
            return Err(e).with_context(|| format!("cannot listen on {}", serve_config.listen));
        }
    };
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let local = bind_owner_socket(&db, config, Kind::Serve);
    let poll = mio::Poll::new().context("cannot start the event loop")?;
    let mailbox = Arc::new(Mailbox::new(&poll).context("cannot start the event loop")?);
    let shutdown = Arc::new(shutdown::Shutdown::new(Arc::clone(&mailbox)));
    let signals = shutdown::SignalThread::start(Arc::clone(&shutdown))?;
    let settings = Settings {
        requirepass: serve_config.requirepass.clone(),
        sync: config.sync,
        bound: Some(bound),
        kind: Kind::Serve,
    };
    let server = new_server(Arc::clone(&db), config, settings, max_clients, shutdown);
    output::message(&format!("serving {} on {bound}", db.path().display()));
    let (unix, socket) = local.map_or((None, None), |(l, p)| (Some(l), Some(p)));
    let listeners = Listeners {
        tcp: Some(listener),
        unix,
    };
    let served = serve(&server, poll, &mailbox, listeners);
    signals.stop();
    let failed = server.shutdown.failed();
    drop(server);
    if let Some(socket) = socket {
        let _ = fs::remove_file(socket);
    }
    let db = unshared(db)?;
    if let Err(e) = served {
        let _ = database::close(db);
        return Err(e);
    }
    if failed {
        // A thread panicked: the panic hook has said so, on one line, and
        // a failure to close after it would only say it again.
        let _ = database::close(db);
        return Ok(Exit::Error);
    }
    database::close(db)?;
    output::message("serve: stopped; the database is closed");
    Ok(Exit::Success)
}

/// A database shared by the REPL or script that owns it, with this user's
/// other tinykv processes: the server's threads, on the owner's Unix
/// socket only, while the owner goes on with its own work on the same
/// [`Db`]. Compaction runs on the server's thread too (the database is
/// opened with automatic compaction off, as for `serve`): the owner's own
/// writes say so with [`Sharing::note_write`].
pub struct Sharing {
    server: Arc<Server>,
    thread: Option<thread::JoinHandle<Result<()>>>,
    socket: Option<PathBuf>,
}

/// Starts sharing `db`, which this process owns as a `kind`. Failing to
/// make the socket is not fatal (a warning says why): the database is then
/// this process's alone, as before sharing existed, and still compacted.
pub fn share(db: Arc<Db>, config: &Config, kind: Kind) -> Result<Sharing> {
    let local = bind_owner_socket(&db, config, kind);
    let poll = mio::Poll::new().context("cannot start the event loop")?;
    let mailbox = Arc::new(Mailbox::new(&poll).context("cannot start the event loop")?);
    let shutdown = Arc::new(shutdown::Shutdown::new(Arc::clone(&mailbox)));
    let settings = Settings {
        requirepass: None,
        sync: config.sync,
        bound: None,
        kind,
    };
    let server = Arc::new(new_server(db, config, settings, SHARING_CLIENTS, shutdown));
    let (unix, socket) = local.map_or((None, None), |(l, p)| (Some(l), Some(p)));
    let listeners = Listeners { tcp: None, unix };
    let running = Arc::clone(&server);
    let thread = thread::Builder::new()
        .name("sharing".into())
        .spawn(move || serve(&running, poll, &mailbox, listeners))
        .context("cannot start the sharing thread")?;
    Ok(Sharing {
        server,
        thread: Some(thread),
        socket,
    })
}

impl Sharing {
    /// Notes a write of the owner's own (so compaction looks again).
    pub fn note_write(&self) {
        self.server.compactor.note_write();
    }

    /// Stops serving: no new client, every one finishes what it sent,
    /// compaction ends, the socket goes. The database stays open. A
    /// compaction that has come due since the thread last looked (it looks
    /// four times a second: a short script may end first) runs now, as it
    /// would have run inside the write that made it due before sharing.
    /// Returns why the last compaction failed, if it did (for the owner to
    /// warn).
    pub fn stop(mut self) -> Result<Option<String>> {
        self.end()?;
        let db = &self.server.db;
        if db.compaction_due() {
            return Ok(db.compact().err().map(|e| e.with_causes()));
        }
        Ok(self.server.compactor.failure())
    }

    fn end(&mut self) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.server.shutdown.quietly();
        let result = thread
            .join()
            .map_err(|_| anyhow!("the sharing thread failed"))
            .and_then(|r| r);
        if let Some(socket) = self.socket.take() {
            let _ = fs::remove_file(socket);
        }
        result
    }
}

impl Drop for Sharing {
    fn drop(&mut self) {
        let _ = self.end();
    }
}

/// The database alone again, once every server thread let go of it.
fn unshared(db: Arc<Db>) -> Result<Db> {
    Arc::try_unwrap(db).map_err(|_| anyhow!("the database is still in use by a server thread"))
}

fn new_server(
    db: Arc<Db>,
    config: &Config,
    settings: Settings,
    max_clients: usize,
    shutdown: Arc<shutdown::Shutdown>,
) -> Server {
    Server {
        db,
        settings,
        cursors: Default::default(),
        watches: Default::default(),
        clients: clients::Clients::new(max_clients),
        committer: Default::default(),
        workers: Default::default(),
        compactor: Default::default(),
        shutdown,
        budget: budget::Budget::new(config.tuning.request_budget().unwrap_or(budget::TOTAL)),
        replies: Arc::new(reply::Replies::new(
            config.tuning.reply_limit().unwrap_or(reply::QUEUED_LIMIT),
        )),
        hooks: Hooks::new(&config.tuning),
        started: Instant::now(),
        started_at: SystemTime::now(),
        commands: AtomicU64::new(0),
        last_error: Mutex::default(),
        snapshots: Mutex::default(),
    }
}

/// Makes the owner's Unix socket for `db` and says where it is in the lock
/// file's note; `None`, with a warning, when it cannot.
fn bind_owner_socket(db: &Db, config: &Config, kind: Kind) -> Option<(UnixListener, PathBuf)> {
    let bound = (|| -> Result<(UnixListener, PathBuf)> {
        let path = owner::socket_path(db.path(), config.runtime_dir.as_deref())?;
        owner::prepare_socket_dir(&path)?;
        // A killed owner's socket: this process owns the database now.
        remove_stale(&path)?;
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        owner::restrict(&path)?;
        db.set_lock_note(&Owner::note(kind, &path))?;
        Ok((listener, path))
    })();
    match bound {
        Ok(b) => Some(b),
        Err(e) => {
            output::message(&format!(
                "warning: other tinykv commands cannot use {} while this {} runs ({})",
                db.path().display(),
                kind.name(),
                output::error_line(&e)
            ));
            None
        }
    }
}

fn remove_stale(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Stops the threads when dropped: at the end of [`serve`], and also while
/// a panic of the event loop unwinds, or the scope would wait forever for
/// threads that wait for work.
struct StopThreads<'a>(&'a Server);

impl Drop for StopThreads<'_> {
    fn drop(&mut self) {
        // Workers first: they may still hand the writer a write.
        self.0.workers.stop();
        self.0.committer.stop();
        self.0.compactor.stop();
    }
}

/// Stops the server when its thread panics (the writer, compaction, a
/// worker outside a task): the loop would otherwise go on without it.
struct AbortOnPanic<'a>(&'a Server);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.shutdown.abort();
        }
    }
}

/// The writer thread's write: a round into the engine.
fn write(server: &Server, jobs: Vec<round::Job>) -> Result<round::Written, String> {
    server.hooks.panic_if_asked(Thread::Writer);
    round::write(&server.db, &server.shared(), jobs)
        .inspect_err(|text| server.log_engine_error(text))
}

/// Starts the threads, runs the event loop on this one until shutdown, and
/// stops the threads in order.
fn serve(server: &Server, poll: mio::Poll, mailbox: &Mailbox, listeners: Listeners) -> Result<()> {
    thread::scope(|scope| {
        let mut threads = Vec::new();
        let result = {
            let _stop = StopThreads(server);
            let mut started = || -> Result<()> {
                threads.push(spawn(scope, server, "writer", || {
                    let abort = || server.shutdown.abort();
                    server.committer.run(mailbox, |b| write(server, b), abort);
                })?);
                for (pool, n, name) in [
                    (workers::Pool::Writes, workers::WRITE_WORKERS, "writes"),
                    (workers::Pool::Reads, workers::READ_WORKERS, "reads"),
                ] {
                    for _ in 0..n {
                        threads.push(spawn(scope, server, name, move || {
                            dispatch::work(server, mailbox, pool)
                        })?);
                    }
                }
                threads.push(spawn(scope, server, "compaction", || {
                    server
                        .compactor
                        .run(&server.db, server.settings.kind == Kind::Serve)
                })?);
                Ok(())
            };
            started().and_then(|()| {
                reactor::run(server, poll, mailbox, listeners).context("the event loop failed")
            })
        };
        // A thread that panicked has said so (the panic hook); joining it
        // here keeps the scope from panicking again with a second line.
        for handle in threads {
            let _ = handle.join();
        }
        result
    })
}

/// Starts a thread of the server's; its panic stops the server.
fn spawn<'scope, 'env>(
    scope: &'scope thread::Scope<'scope, 'env>,
    server: &'scope Server,
    name: &str,
    body: impl FnOnce() + Send + 'scope,
) -> Result<thread::ScopedJoinHandle<'scope, ()>> {
    thread::Builder::new()
        .name(name.into())
        .spawn_scoped(scope, move || {
            let _abort = AbortOnPanic(server);
            body();
        })
        .with_context(|| format!("cannot start the {name} thread"))
}
