//! [`Remote`]: a database another tinykv process owns, reached through its
//! socket with the Redis protocol: GET, SET, DEL, EXISTS where Redis has
//! them, tinykv's own TINYKV.* commands where it has none (see
//! serve/tinykv.rs for what each answers).
//!
//! Invariants: keys and values are checked here against the engine's
//! limits before they are sent, so a refusal reads as it does without an
//! owner; a write under this command's `--sync always` is on disk before
//! it returns, even when the owner runs `--sync never` (a TINYKV.FLUSH
//! follows it); a load is gathered by the owner and stored at COMMIT only,
//! and a load dropped before that is aborted.
//!
//! Over 500 lines because it implements every method of the Store trait,
//! each a short exchange with the owner; splitting them would scatter one
//! protocol.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};

use super::{Entries, Entry, Keys, Loader, Start, Store};
use crate::cli::client::{Connection, Reply, unexpected};
use crate::cli::owner::{Kind, Owner};
use crate::engine::{
    BackupReport, CheckReport, CompactReport, Condition, Error, Expiry, Problem, RecoverReport,
    Renamed, Skipped, Stats, SyncMode, check_key, check_pair,
};

/// Keys asked for per page of a walk.
const KEYS_PAGE: usize = 10_000;
/// Pairs asked for per page of a walk.
const ENTRIES_PAGE: usize = 1_000;
/// A load sends its pairs in requests of about this many bytes.
const LOAD_CHUNK: usize = 1024 * 1024;

/// A page of a walk: its keys (or keys and values, alternating), and the
/// key to resume after (`None`: the walk is done).
type Page = (Vec<Vec<u8>>, Option<Vec<u8>>);

/// A database served by its owner; see the module doc.
pub struct Remote {
    conn: RefCell<Connection>,
    dir: PathBuf,
    owner: Owner,
    /// This command's writes need a flush the owner would not do itself.
    flush_writes: bool,
}

impl Remote {
    /// Connects to the owner of `dir` serving on `socket`, for a command
    /// that runs with `sync`.
    pub fn connect(socket: &Path, dir: &Path, sync: SyncMode) -> Result<Remote> {
        // The cause as text: see client/mod.rs on broken pipes.
        let conn = Connection::connect(socket)
            .map_err(|e| anyhow!("cannot connect to {} ({e})", socket.display()))?;
        let mut remote = Remote {
            conn: RefCell::new(conn),
            dir: dir.to_owned(),
            owner: Owner::default(),
            flush_writes: false,
        };
        let reply = remote.call(&[&b"TINYKV.OWNER"[..]])?.array()?;
        let [pid, kind, _dir, owner_sync] = <[Reply; 4]>::try_from(reply)
            .map_err(|_| anyhow!("the owner's TINYKV.OWNER reply is not 4 items"))?;
        let pid = u32::try_from(pid.integer()?).ok();
        let kind = kind.bulk()?.unwrap_or_default();
        remote.owner = Owner {
            pid,
            kind: Kind::from_name(&String::from_utf8_lossy(&kind)),
            socket: Some(socket.to_owned()),
        };
        remote.flush_writes =
            sync == SyncMode::Always && owner_sync.bulk()?.as_deref() != Some(b"always");
        Ok(remote)
    }

    /// Who serves the database.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    fn call<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
        self.conn.borrow_mut().call(args)
    }

    /// After a write: on disk, if this command asked for that.
    fn acknowledged(&self) -> Result<()> {
        if self.flush_writes {
            self.call(&[&b"TINYKV.FLUSH"[..]])?;
        }
        Ok(())
    }

    fn integer<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<u64> {
        let n = self.call(args)?.integer()?;
        u64::try_from(n).map_err(|_| anyhow!("the owner answered a negative count ({n})"))
    }

    /// One page of a walk: the items, and where to resume (`None`: done).
    /// `from` (the first page of a walk that starts at a key) makes the
    /// page start at `after`, inclusive.
    fn page(&self, prefix: &[u8], after: &[u8], from: bool, values: bool) -> Result<Page> {
        let (n, kind): (usize, &[u8]) = if values {
            (ENTRIES_PAGE, b"ENTRIES")
        } else {
            (KEYS_PAGE, b"KEYS")
        };
        let n = n.to_string();
        let mut args: Vec<&[u8]> = vec![b"TINYKV.SCAN", prefix, after, n.as_bytes(), kind];
        if from {
            args.push(b"FROM");
        }
        let reply = self.call(&args)?.array()?;
        let [last, items] = <[Reply; 2]>::try_from(reply)
            .map_err(|_| anyhow!("the owner's TINYKV.SCAN reply is not 2 items"))?;
        let items = items
            .array()?
            .into_iter()
            .map(|r| {
                r.bulk()?
                    .ok_or_else(|| anyhow!("the owner sent a nil in a page"))
            })
            .collect::<Result<Vec<_>>>()?;
        if values && items.len() % 3 != 0 {
            bail!("the owner sent a page of entries that is not key, value, expiry triples");
        }
        Ok((items, last.bulk()?))
    }
}

impl Store for Remote {
    fn path(&self) -> &Path {
        &self.dir
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        self.call(&[&b"GET"[..], key])?.bulk()
    }

    fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_pair(key, value)?;
        match self.call(&[&b"SET"[..], key, value])? {
            Reply::Status(_) => self.acknowledged(),
            other => Err(unexpected("+OK", &other)),
        }
    }

    fn delete(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        let found = self.integer(&[&b"DEL"[..], key])? > 0;
        if found {
            self.acknowledged()?;
        }
        Ok(found)
    }

    fn exists(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        Ok(self.integer(&[&b"EXISTS"[..], key])? > 0)
    }

    fn count(&self, prefix: &[u8]) -> Result<u64> {
        self.integer(&[&b"TINYKV.COUNT"[..], prefix])
    }

    fn keys_from<'s>(&'s self, prefix: &[u8], start: &Start) -> Keys<'s> {
        Box::new(Walk::new(self, prefix, start, false).map(|r| r.map(|e| e.key)))
    }

    fn entries_from<'s>(&'s self, prefix: &[u8], start: &Start) -> Entries<'s> {
        Box::new(Walk::new(self, prefix, start, true))
    }

    fn incr(&self, key: &[u8], by: i64) -> Result<i64> {
        check_key(key)?;
        let by = by.to_string();
        let n = self
            .conn
            .borrow_mut()
            .call(&[&b"INCRBY"[..], key, by.as_bytes()])
            .map_err(|e| {
                // Redis's words for what the engine says in its own.
                let text = e.to_string();
                if text.starts_with("value is not an integer") {
                    Error::NotAnInteger { key: key.to_vec() }.into()
                } else if text.starts_with("increment or decrement would overflow") {
                    Error::IntegerOverflow { key: key.to_vec() }.into()
                } else {
                    e
                }
            })?
            .integer()?;
        self.acknowledged()?;
        Ok(n)
    }

    fn set_if(
        &self,
        key: &[u8],
        value: &[u8],
        condition: Condition,
        expiry: Expiry,
    ) -> Result<bool> {
        check_pair(key, value)?;
        let mut args: Vec<Vec<u8>> = vec![b"SET".to_vec(), key.to_vec(), value.to_vec()];
        match condition {
            Condition::Always => {}
            Condition::Absent => args.push(b"NX".to_vec()),
            Condition::Present => args.push(b"XX".to_vec()),
            Condition::Equals(old) => args.extend([b"IFEQ".to_vec(), old]),
        }
        match expiry {
            Expiry::Clear => {}
            Expiry::Keep => args.push(b"KEEPTTL".to_vec()),
            Expiry::At(at) => args.extend([b"PXAT".to_vec(), at.to_string().into_bytes()]),
        }
        let stored = match self.call(&args)? {
            Reply::Status(_) => true,
            Reply::Bulk(None) => false,
            other => return Err(unexpected("+OK or nil", &other)),
        };
        if stored {
            self.acknowledged()?;
        }
        Ok(stored)
    }

    fn expiry(&self, key: &[u8]) -> Result<Option<Option<u64>>> {
        check_key(key)?;
        Ok(match self.call(&[&b"PEXPIRETIME"[..], key])?.integer()? {
            -2 => None,
            -1 => Some(None),
            ms => Some(Some(u64::try_from(ms).unwrap_or(0))),
        })
    }

    fn expire(&self, key: &[u8], at: Option<u64>) -> Result<bool> {
        check_key(key)?;
        let changed = match at {
            Some(at) => {
                let at = at.to_string();
                self.integer(&[&b"PEXPIREAT"[..], key, at.as_bytes()])? == 1
            }
            // PERSIST says 0 for a key without a deadline too.
            None => {
                self.integer(&[&b"PERSIST"[..], key])? == 1
                    || self.integer(&[&b"EXISTS"[..], key])? == 1
            }
        };
        if changed {
            self.acknowledged()?;
        }
        Ok(changed)
    }

    fn pop(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let reply = self.call(&[&b"TINYKV.POP"[..], prefix])?;
        let taken = match reply {
            Reply::Bulk(None) | Reply::Array(None) => None,
            Reply::Array(Some(items)) => {
                let [key, value] = <[Reply; 2]>::try_from(items)
                    .map_err(|_| anyhow!("the owner's TINYKV.POP reply is not 2 items"))?;
                let key = key
                    .bulk()?
                    .ok_or_else(|| anyhow!("TINYKV.POP gave a nil key"))?;
                Some((key, value.bulk()?.unwrap_or_default()))
            }
            other => return Err(unexpected("an array or nil", &other)),
        };
        if taken.is_some() {
            self.acknowledged()?;
        }
        Ok(taken)
    }

    fn rename(&self, old: &[u8], new: &[u8], if_absent: bool) -> Result<Renamed> {
        check_key(old)?;
        check_key(new)?;
        let command: &[u8] = if if_absent { b"RENAMENX" } else { b"RENAME" };
        let reply = self.conn.borrow_mut().send(&[command, old, new]);
        reply?;
        let renamed = match self.conn.borrow_mut().reply()? {
            Reply::Error(text) if text.contains("no such key") => Renamed::NoSuchKey,
            Reply::Integer(0) => Renamed::TargetExists,
            Reply::Status(_) | Reply::Integer(1) => Renamed::Done,
            other => {
                return Err(other.into_result().err().unwrap_or_else(|| {
                    anyhow!(
                        "an unexpected reply to {}",
                        String::from_utf8_lossy(command)
                    )
                }));
            }
        };
        if renamed == Renamed::Done {
            self.acknowledged()?;
        }
        Ok(renamed)
    }

    fn last_key(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        self.call(&[&b"TINYKV.LASTKEY"[..], prefix])?.bulk()
    }

    fn loader<'s>(&'s self, replace: bool) -> Result<Box<dyn Loader + 's>> {
        let mut begin: Vec<&[u8]> = vec![b"TINYKV.LOAD", b"BEGIN"];
        if replace {
            begin.push(b"REPLACE");
        }
        self.call(&begin)?;
        Ok(Box::new(RemoteLoad {
            remote: self,
            chunk: vec![b"TINYKV.LOAD".to_vec(), b"ENTRIES".to_vec()],
            bytes: 0,
            pairs: 0,
            open: true,
        }))
    }

    fn compact(&self) -> Result<CompactReport> {
        let mut reply = self.call(&[&b"TINYKV.COMPACT"[..]])?.array()?;
        if reply.len() != 6 {
            bail!("the owner's TINYKV.COMPACT reply is not 6 items");
        }
        let rewritten = reply.pop().map_or(Ok(0), Reply::integer)?;
        let skipped = match reply.pop().map_or(Ok(None), Reply::bulk)?.as_deref() {
            None => None,
            Some(b"empty") => Some(Skipped::Empty),
            Some(b"already-compact") => Some(Skipped::AlreadyCompact),
            Some(_) => Some(Skipped::NoGain {
                rewritten: u64::try_from(rewritten).unwrap_or(0),
            }),
        };
        let n = integers(reply, 4)?;
        Ok(CompactReport {
            bytes_before: n[0],
            bytes_after: n[1],
            keys: n[2],
            elapsed: Duration::from_micros(n[3]),
            skipped,
        })
    }

    fn stats(&self) -> Result<Stats> {
        let reply = self.call(&[&b"TINYKV.STATS"[..]])?.array()?;
        let mut stats = Stats::default();
        let mut items = reply.into_iter();
        while let (Some(name), Some(value)) = (items.next(), items.next()) {
            let name = name.bulk()?.unwrap_or_default();
            let value = value.integer()?;
            let n = u64::try_from(value).unwrap_or(0);
            match name.as_slice() {
                b"keys" => stats.keys = n,
                b"live_bytes" => stats.live_bytes = n,
                b"total_bytes" => stats.total_bytes = n,
                b"dead_bytes" => stats.dead_bytes = n,
                b"overhead_bytes" => stats.overhead_bytes = n,
                b"segments" => stats.segments = n,
                b"wal_bytes" => stats.wal_bytes = n,
                b"files" => stats.files = n,
                b"last_compaction" if value >= 0 => {
                    stats.last_compaction = Some(UNIX_EPOCH + Duration::from_secs(n));
                }
                // A newer owner's field: not ours to show.
                _ => {}
            }
        }
        Ok(stats)
    }

    fn check(&self) -> Result<CheckReport> {
        let reply = self.call(&[&b"TINYKV.CHECK"[..]])?.array()?;
        if reply.len() < 2 || (reply.len() - 2) % 3 != 0 {
            bail!("the owner's TINYKV.CHECK reply has {} items", reply.len());
        }
        let mut items = reply.into_iter();
        let files = items.next().map_or(Ok(0), Reply::integer)?;
        let records = items.next().map_or(Ok(0), Reply::integer)?;
        let mut report = CheckReport {
            files: u64::try_from(files).unwrap_or(0),
            records: u64::try_from(records).unwrap_or(0),
            problems: Vec::new(),
        };
        while let (Some(path), Some(offset), Some(reason)) =
            (items.next(), items.next(), items.next())
        {
            use std::os::unix::ffi::OsStringExt;
            report.problems.push(Problem {
                path: PathBuf::from(std::ffi::OsString::from_vec(
                    path.bulk()?.unwrap_or_default(),
                )),
                offset: u64::try_from(offset.integer()?).unwrap_or(0),
                reason: String::from_utf8_lossy(&reason.bulk()?.unwrap_or_default()).into_owned(),
            });
        }
        Ok(report)
    }

    fn backup(&self, dest: &Path) -> Result<BackupReport> {
        // The owner's working directory is not ours.
        let dest = std::path::absolute(dest)
            .with_context(|| format!("cannot resolve {}", dest.display()))?;
        let reply = self
            .call(&[&b"TINYKV.BACKUP"[..], dest.as_os_str().as_encoded_bytes()])?
            .array()?;
        let n = integers(reply, 2)?;
        Ok(BackupReport {
            files: n[0],
            bytes: n[1],
        })
    }

    fn recover(&self) -> Result<RecoverReport> {
        bail!(
            "cannot recover {} while {} has it open (recover needs the database to itself)",
            self.dir.display(),
            self.owner
        )
    }
}

/// `n` non-negative integers.
fn integers(reply: Vec<Reply>, n: usize) -> Result<Vec<u64>> {
    if reply.len() != n {
        bail!(
            "the owner answered {} items where {n} were expected",
            reply.len()
        );
    }
    reply
        .into_iter()
        .map(|r| {
            let v = r.integer()?;
            u64::try_from(v).map_err(|_| anyhow!("the owner answered a negative number ({v})"))
        })
        .collect()
}

/// A walk of the owner's keys (or pairs), a page at a time.
struct Walk<'s> {
    remote: &'s Remote,
    prefix: Vec<u8>,
    values: bool,
    buffered: VecDeque<Vec<u8>>,
    /// Where the next page starts (empty: the beginning); `None`: no more.
    after: Option<Vec<u8>>,
    /// The first page starts at `after`, inclusive.
    from: bool,
    failed: bool,
}

impl<'s> Walk<'s> {
    fn new(remote: &'s Remote, prefix: &[u8], start: &Start, values: bool) -> Walk<'s> {
        let (after, from) = match start {
            Start::First => (Vec::new(), false),
            Start::At(k) => (k.clone(), true),
            Start::After(k) => (k.clone(), false),
        };
        Walk {
            remote,
            prefix: prefix.to_vec(),
            values,
            buffered: VecDeque::new(),
            after: Some(after),
            from,
            failed: false,
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.buffered.is_empty() {
            if self.failed {
                return None;
            }
            let after = self.after.take()?;
            let from = std::mem::replace(&mut self.from, false);
            match self.remote.page(&self.prefix, &after, from, self.values) {
                Ok((items, next)) => {
                    self.buffered.extend(items);
                    self.after = next;
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        let key = self.buffered.pop_front()?;
        if !self.values {
            return Some(Ok(Entry::new(key, Vec::new())));
        }
        let value = self.buffered.pop_front().unwrap_or_default();
        let expiry = self.buffered.pop_front().unwrap_or_default();
        let expires_at = if expiry.is_empty() {
            None
        } else {
            match std::str::from_utf8(&expiry)
                .ok()
                .and_then(|t| t.parse().ok())
            {
                Some(at) => Some(at),
                None => {
                    self.failed = true;
                    return Some(Err(anyhow!(
                        "the owner sent an expiry that is not a number"
                    )));
                }
            }
        };
        Some(Ok(Entry {
            key,
            value,
            expires_at,
        }))
    }
}

/// A load gathered by the owner.
struct RemoteLoad<'s> {
    remote: &'s Remote,
    /// The next TINYKV.LOAD PAIRS request.
    chunk: Vec<Vec<u8>>,
    bytes: usize,
    pairs: u64,
    /// BEGIN was answered and neither COMMIT nor ABORT sent yet.
    open: bool,
}

impl RemoteLoad<'_> {
    fn send_chunk(&mut self) -> Result<()> {
        if self.chunk.len() > 2 {
            self.remote.call(&self.chunk)?;
            self.chunk.truncate(2);
            self.bytes = 0;
        }
        Ok(())
    }
}

impl Loader for RemoteLoad<'_> {
    fn set(&mut self, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Result<()> {
        check_pair(key, value)?;
        self.chunk.push(key.to_vec());
        self.chunk.push(value.to_vec());
        self.chunk.push(
            expires_at
                .map(|at| at.to_string().into_bytes())
                .unwrap_or_default(),
        );
        self.bytes += key.len() + value.len();
        self.pairs += 1;
        if self.bytes >= LOAD_CHUNK {
            self.send_chunk()?;
        }
        Ok(())
    }

    fn len(&self) -> u64 {
        self.pairs
    }

    fn commit(mut self: Box<Self>) -> Result<u64> {
        self.send_chunk()?;
        self.open = false;
        let n = self.remote.integer(&[&b"TINYKV.LOAD"[..], b"COMMIT"])?;
        self.remote.acknowledged()?;
        Ok(n)
    }
}

impl Drop for RemoteLoad<'_> {
    fn drop(&mut self) {
        if self.open {
            // Best effort: a connection that closes aborts it as well.
            let _ = self.remote.call(&[&b"TINYKV.LOAD"[..], b"ABORT"]);
        }
    }
}
