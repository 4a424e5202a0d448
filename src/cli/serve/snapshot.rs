//! SYNC, PSYNC and REPLCONF: as much of Redis's replication handshake as
//! `redis-cli --rdb FILE` needs to take a hot backup of a running server.
//! SYNC is answered with `$LEN` and an RDB file of the database at one
//! moment (format/rdb.rs), PSYNC with `+FULLRESYNC REPLID 0` first, every
//! REPLCONF option with `+OK`. Then the connection closes: tinykv does not
//! replicate, so no stream of writes follows the snapshot.
//!
//! How a snapshot is taken, on a worker of the write pool (the copy holds
//! the engine's writer for a moment, workers.rs): [`Db::backup`] copies the
//! database as it is at one moment (every write acknowledged before it,
//! none after, a batch or transaction whole or not at all) into a scratch
//! directory beside the database; the copy is opened read-only and walked
//! into an RDB file in the same directory; the copy is removed, the RDB
//! file's name too (the open file lives on), and its bytes follow the
//! reply as the connection's file tail (reply.rs): read a chunk at a time
//! as the socket takes them, by the event loop, which never waits for the
//! client. Writes go on meanwhile; they are not in the snapshot.
//!
//! Why a copy rather than a walk of the live database: the engine's
//! iteration is not a snapshot (iter.rs: a key written during the walk
//! may or may not be seen), and a backup is the engine's one consistent
//! view that does not stop writers. It costs disk room, the database's
//! files and the RDB, while the snapshot is taken, never memory. Beside
//! the database rather than in the temporary directory: the same file
//! system, which holds the database already, where /tmp may be memory.
//!
//! Invariants: the scratch directory (`.NAME.snapshot-PID-N.tmp` next to
//! the database directory NAME) is removed on every path, error and panic
//! included (a guard; only a killed server leaves one behind, named for
//! what it is); one snapshot is taken at a time (the server's
//! `snapshots` lock), so clients asking together need the room of one
//! copy; a failure before the payload's first byte is one `-ERR` line, and
//! the connection goes on; a shutdown stops a snapshot being taken.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::ctx::{Ctx, Flow};
use super::reply::shown;
use super::server::Server;
use crate::engine::{Db, Options};
use crate::format::{Format, Writer};

/// Numbers this process's snapshots, for their scratch directories' names.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A shutdown is looked for once per this many pairs written.
const SHUTDOWN_CHECK: u64 = 1024;

/// The options REPLCONF accepts (Redis 7's, and those later versions
/// added); tinykv needs none of them.
const REPLCONF_OPTIONS: [&str; 9] = [
    "listening-port",
    "ip-address",
    "capa",
    "rdb-only",
    "rdb-filter-only",
    "ack",
    "fack",
    "getack",
    "rdb-channel",
];

/// Why no snapshot was sent.
enum Failure {
    /// The server is stopping.
    Stopping,
    /// The server's trouble (disk room, permissions, the engine), as text.
    Trouble(String),
}

/// SYNC and PSYNC: the snapshot, then the connection closes.
pub fn sync(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    let taken = {
        let _one = ctx
            .server
            .snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        take(ctx.server)
    };
    match taken {
        Ok((file, len)) => {
            if args[0].eq_ignore_ascii_case(b"psync") {
                ctx.out
                    .simple(&format!("FULLRESYNC {} 0", ctx.server.replid()));
            }
            ctx.out.payload_header(len);
            ctx.out.file_tail(file, len);
            Flow::Close
        }
        Err(Failure::Stopping) => {
            ctx.out
                .error("ERR the server is shutting down: no snapshot was taken");
            Flow::Continue
        }
        Err(Failure::Trouble(text)) => {
            let text = format!("cannot take a snapshot: {text}");
            ctx.server.log_engine_error(&text);
            ctx.out.error(&format!("ERR {text}"));
            Flow::Continue
        }
    }
}

/// REPLCONF option value ...: `+OK`, for every option a replica or
/// redis-cli sends (Redis's words for an unknown one).
pub fn replconf(ctx: &mut Ctx<'_>, args: &[Vec<u8>]) -> Flow {
    if args.len().is_multiple_of(2) {
        return ctx.syntax_error();
    }
    for pair in args[1..].chunks(2) {
        let known = REPLCONF_OPTIONS
            .iter()
            .any(|o| o.as_bytes().eq_ignore_ascii_case(&pair[0]));
        if !known {
            ctx.out.error(&format!(
                "ERR Unrecognized REPLCONF option: {}",
                shown(&pair[0], 128)
            ));
            return Flow::Continue;
        }
    }
    ctx.out.ok();
    Flow::Continue
}

/// Takes a snapshot: an RDB file of the database at one moment, open at
/// its start and no longer named, and its length.
fn take(server: &Server) -> Result<(File, u64), Failure> {
    // One that waited for another's snapshot may find the server stopping.
    if server.shutdown.is_stopping() {
        return Err(Failure::Stopping);
    }
    let scratch = Scratch::new(server.db.path())?;
    let copy = scratch.path.join("copy");
    server.db.backup(&copy).map_err(|e| {
        Failure::Trouble(format!(
            "cannot copy the database into {} ({})",
            copy.display(),
            e.with_causes()
        ))
    })?;
    let rdb = scratch.path.join("dump.rdb");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&rdb)
        .map_err(|e| Failure::Trouble(format!("cannot create {} ({e})", rdb.display())))?;
    let mut file = write_rdb(server, &copy, file)
        .map_err(|e| e.map_trouble(|t| format!("{t}, writing {}", rdb.display())))?;
    // The copy's room back before the (maybe long) transfer.
    let _ = fs::remove_dir_all(&copy);
    let placed = |e: io::Error| Failure::Trouble(format!("cannot read {} ({e})", rdb.display()));
    let len = file.seek(SeekFrom::End(0)).map_err(placed)?;
    file.seek(SeekFrom::Start(0)).map_err(placed)?;
    Ok((file, len))
}

impl Failure {
    fn map_trouble(self, f: impl FnOnce(String) -> String) -> Failure {
        match self {
            Failure::Trouble(t) => Failure::Trouble(f(t)),
            stopping => stopping,
        }
    }
}

/// Walks the copy at `copy` into `file`, in the RDB format, with expiry.
fn write_rdb(server: &Server, copy: &Path, file: File) -> Result<File, Failure> {
    let options = Options {
        read_only: true,
        auto_compact: false,
        ..Options::default()
    };
    let db = Db::open(copy, options).map_err(|e| {
        Failure::Trouble(format!(
            "cannot open the copy {} ({})",
            copy.display(),
            e.with_causes()
        ))
    })?;
    let written = |e: io::Error| Failure::Trouble(format!("cannot write the snapshot ({e})"));
    let mut writer = Writer::new(Format::Rdb, file);
    let mut pairs = db.iter();
    let mut n = 0u64;
    while let Some(pair) = pairs.next() {
        let (key, value) = pair
            .map_err(|e| Failure::Trouble(format!("cannot read the copy ({})", e.with_causes())))?;
        writer
            .write_entry(&key, &value, pairs.last_expiry())
            .map_err(written)?;
        n += 1;
        if n.is_multiple_of(SHUTDOWN_CHECK) && server.shutdown.is_stopping() {
            return Err(Failure::Stopping);
        }
    }
    writer.finish().map_err(written)
}

/// The scratch directory of one snapshot, removed with all it holds when
/// dropped.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// A new directory beside the database directory `db_dir`.
    fn new(db_dir: &Path) -> Result<Scratch, Failure> {
        let trouble = |e: io::Error| {
            Failure::Trouble(format!(
                "cannot find the directory beside {} ({e})",
                db_dir.display()
            ))
        };
        let db_dir = fs::canonicalize(db_dir).map_err(trouble)?;
        let (Some(parent), Some(name)) = (db_dir.parent(), db_dir.file_name()) else {
            return Err(trouble(io::Error::other("it has no parent directory")));
        };
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!(
            ".{}.snapshot-{}-{n}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        fs::create_dir(&path)
            .map_err(|e| Failure::Trouble(format!("cannot create {} ({e})", path.display())))?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
