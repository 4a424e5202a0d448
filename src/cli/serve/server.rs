//! What every connection shares: [`Server`], the state of one running
//! server (the database, its fixed settings, the threads' queues, the
//! clients, the memory its requests and replies may hold), which the event
//! loop, the threads and every command reach through one shared reference.
//!
//! Invariants: [`Settings`] and [`Hooks`] are fixed for the server's life;
//! everything else that changes keeps its own lock or atomics, so a
//! `&Server` is all a thread needs. Only the server's start (mod.rs) builds
//! one.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::budget::Budget;
use super::clients::Clients;
use super::committer::Committer;
use super::compactor::Compactor;
use super::cursors::Cursors;
use super::reply::Replies;
use super::shutdown::Shutdown;
use super::store::Shared;
use super::watches::Watches;
use super::workers::Workers;
use crate::cli::output;
use crate::cli::owner::Kind;
use crate::cli::tuning::{Thread, Tuning};
use crate::engine::{Db, SyncMode};

/// Settings fixed for the server's life.
#[derive(Debug)]
pub struct Settings {
    /// The password clients must AUTH with, if any.
    pub requirepass: Option<Vec<u8>>,
    /// When writes reach the disk.
    pub sync: SyncMode,
    /// The network address bound (`tinykv serve`; none for an owner that
    /// serves only its own user's processes).
    pub bound: Option<SocketAddr>,
    /// What kind of process this server runs in (TINYKV.OWNER says).
    pub kind: Kind,
}

/// What test builds may ask of the server (`TINYKV_TEST_OPTIONS`; nothing
/// in a release build, where it is empty and its checks compile away).
#[derive(Debug, Default)]
pub struct Hooks {
    /// The thread that panics on purpose, if any.
    #[cfg(feature = "testing")]
    pub panic_in: Option<Thread>,
}

impl Hooks {
    /// The hooks a configuration asks for.
    pub fn new(tuning: &Tuning) -> Hooks {
        #[cfg(not(feature = "testing"))]
        let _ = tuning;
        Hooks {
            #[cfg(feature = "testing")]
            panic_in: tuning.serve_panic(),
        }
    }

    /// Test builds only: panics, as a bug would, when a test asked `here`
    /// to (proving that a panic there ends the server cleanly, mod.rs).
    pub fn panic_if_asked(&self, here: Thread) {
        #[cfg(feature = "testing")]
        if self.panic_in == Some(here) {
            match here {
                Thread::Loop => {
                    panic!("a test panic on the event loop (TINYKV_TEST_OPTIONS serve_panic=loop)")
                }
                Thread::Writer => panic!(
                    "a test panic in the writer thread (TINYKV_TEST_OPTIONS serve_panic=writer)"
                ),
            }
        }
        #[cfg(not(feature = "testing"))]
        let _ = here;
    }
}

/// What every connection shares.
pub struct Server {
    /// The database (shared with the REPL or script that owns it, if any).
    pub db: Arc<Db>,
    /// Fixed settings.
    pub settings: Settings,
    /// SCAN cursors.
    pub cursors: Arc<Cursors>,
    /// Watched keys (WATCH) and their last writes.
    pub watches: Arc<Watches>,
    /// Connected clients.
    pub clients: Clients,
    /// The one writer.
    pub committer: Committer,
    /// The worker threads' queue.
    pub workers: Workers,
    /// Background compaction.
    pub compactor: Compactor,
    /// The stop switch.
    pub shutdown: Arc<Shutdown>,
    /// Memory for requests in progress.
    pub budget: Budget,
    /// Memory for replies not sent yet.
    pub replies: Arc<Replies>,
    /// Test hooks.
    pub hooks: Hooks,
    /// When the server started.
    pub started: Instant,
    /// The same, by the wall clock.
    pub started_at: SystemTime,
    /// Commands run.
    pub commands: AtomicU64,
    /// The last engine error logged, so a poisoned handle logs once.
    pub(super) last_error: Mutex<String>,
    /// Held while a snapshot is taken (snapshot.rs): one at a time, so
    /// that clients asking together need the disk room of one copy.
    pub snapshots: Mutex<()>,
}

impl Server {
    /// What a transaction needs of the server (round.rs).
    pub fn shared(&self) -> Shared {
        Shared {
            watches: Arc::clone(&self.watches),
            replies: Arc::clone(&self.replies),
            cursors: Arc::clone(&self.cursors),
        }
    }

    /// The replication id INFO and PSYNC report: 40 hex digits, fixed for
    /// the server's life, different from one start to the next (Redis's
    /// is random; this one is drawn from the start time and process id).
    pub fn replid(&self) -> String {
        let nanos = self
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut x = nanos ^ (u64::from(std::process::id()) << 40);
        let mut id = String::with_capacity(48);
        for _ in 0..3 {
            // splitmix64: each step mixes every bit of the seed.
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            id.push_str(&format!("{:016x}", z ^ (z >> 31)));
        }
        id.truncate(40);
        id
    }

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
