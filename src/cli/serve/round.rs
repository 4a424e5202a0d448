//! A round: the writes of every connection served in one turn of the
//! event loop, written to the engine together (reactor.rs writes it, or
//! the writer thread, committer.rs), with one fsync.
//!
//! A round is a list of jobs, one per connection, each the entries of that
//! connection's batch in order ([`Entry`]): plain SETs and MSETs, commands
//! that read what they change (INCR, SET NX, GETDEL, EXPIRE, …: a
//! [`Call`]), and EXEC with what it queued ([`Exec`]). How it is written:
//!
//! - only plain writes: one engine batch ([`Db::write_batch`]), as before
//!   there were other kinds; nothing is read, so nothing needs more;
//! - anything else: one engine transaction ([`Db::transact`]) that runs
//!   every entry in order against a [`TxnStore`], so each command reads
//!   what the entries before it wrote, no other writer of the database
//!   (another thread, the owner's own process) comes between a command's
//!   read and its write, and all of the round's writes share one fsync,
//!   as a batch's do. This is what makes INCR as cheap as SET.
//!
//! Invariants: the replies of a job are sent only after the round was
//! written (fsynced under `--sync always`) or failed, and a failed round
//! fails every job in it (nothing of it is written: one batch, or one
//! transaction that writes at its end); a command's errors of its own
//! (not an integer, no such key) are its reply, not the round's failure;
//! a panic inside the transaction (a bug) writes nothing and answers the
//! round with an error, since the transaction may run on another thread
//! (whichever leads the engine's group: the owner's REPL, say), which it
//! must never bring down.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::keyspace::Pairs;
use super::reply::{Output, Replies};
use super::request::Request;
use super::store::{Kind, Reads, Shared, TxnStore, Writes};
use super::watches::WatchList;
use crate::engine::{Batch, Db, Error};

/// A command to run inside a transaction, with its arguments (the name
/// first), checked for arity only: a command checks the rest itself, as
/// Redis's do, so that inside EXEC a bad argument is that command's error.
pub struct Call {
    kind: Kind,
    args: Request,
}

impl Call {
    /// Command `kind` with `args`.
    pub fn new(kind: Kind, args: Request) -> Call {
        Call { kind, args }
    }

    /// Runs it, its reply into `out`.
    pub fn run(self, store: &mut TxnStore<'_, '_>, out: &mut Output) -> Result<(), Error> {
        match self.kind {
            Kind::Read(f) => f(store, &self.args, out),
            Kind::Write(f) => f(store, self.args, out),
        }
    }

    /// The bytes of its arguments.
    pub fn bytes(&self) -> usize {
        self.args.iter().map(Vec::len).sum()
    }
}

/// EXEC: what MULTI queued, and the keys WATCHed before it.
pub struct Exec {
    /// The queued commands, in order.
    pub calls: Vec<Call>,
    /// The watched keys (unwatched when this is dropped).
    pub watching: Option<WatchList>,
}

impl Exec {
    /// Runs the queued commands if no watched key changed: an array of
    /// their replies, or a nil array.
    fn run(self, store: &mut TxnStore<'_, '_>, out: &mut Output) -> Result<(), Error> {
        if let Some(watching) = &self.watching
            && !watching.unchanged(|key| store.get(key))?
        {
            out.nil_array();
            return Ok(());
        }
        out.array(self.calls.len());
        for call in self.calls {
            call.run(store, out)?;
        }
        Ok(())
    }
}

/// One request's work in a round.
pub enum Entry {
    /// A plain SET or MSET: its pairs (checked already); replied `+OK`.
    Blind(Pairs),
    /// A command that reads and writes: its reply is its own.
    Call(Call),
    /// EXEC.
    Exec(Exec),
}

impl Entry {
    /// The bytes of keys and values it holds (for the round's size).
    pub fn bytes(&self) -> usize {
        match self {
            Entry::Blind(pairs) => pairs.iter().map(|(k, v)| k.len() + v.len()).sum(),
            Entry::Call(call) => call.bytes(),
            Entry::Exec(exec) => exec.calls.iter().map(Call::bytes).sum(),
        }
    }
}

/// One connection's entries in a round.
pub type Job = Vec<Entry>;

/// The bytes of keys and values of a job.
pub fn job_bytes(job: &Job) -> usize {
    job.iter().map(Entry::bytes).sum()
}

/// What each job of a written round replies beyond `+OK`: one reply per
/// entry that is not a plain write, in order.
pub type Written = Vec<Vec<Output>>;

/// Writes a round: one batch when every entry is a plain write, else one
/// transaction (see the module doc). The error is the engine's, as text.
pub fn write(db: &Db, shared: &Shared, jobs: Vec<Job>) -> Result<Written, String> {
    let plain = jobs.iter().flatten().all(|e| matches!(e, Entry::Blind(_)));
    if plain {
        let n = jobs.len();
        let mut batch = Batch::new();
        for entry in jobs.into_iter().flatten() {
            let Entry::Blind(pairs) = entry else { continue };
            shared
                .watches
                .touch(pairs.iter().map(|(k, _)| k.as_slice()));
            for (key, value) in pairs {
                batch.set(key, value);
            }
        }
        db.write_batch(batch).map_err(|e| e.with_causes())?;
        return Ok((0..n).map(|_| Vec::new()).collect());
    }
    transact(db, shared, move |store, replies| {
        let mut written = Vec::with_capacity(jobs.len());
        for job in jobs {
            let mut outs = Vec::new();
            for entry in job {
                store.next_reply();
                match entry {
                    Entry::Blind(pairs) => {
                        for (key, value) in pairs {
                            store.set(&key, value, None);
                        }
                    }
                    Entry::Call(call) => {
                        let mut out = Output::new(replies);
                        call.run(store, &mut out)?;
                        outs.push(out);
                    }
                    Entry::Exec(exec) => {
                        let mut out = Output::new(replies);
                        exec.run(store, &mut out)?;
                        outs.push(out);
                    }
                }
            }
            written.push(outs);
        }
        Ok(written)
    })
}

/// Runs `f` in one engine transaction over a [`TxnStore`], whose writes
/// are made only if `f` returns `Ok` (and does not panic).
pub fn transact<T: Send + 'static>(
    db: &Db,
    shared: &Shared,
    f: impl FnOnce(&mut TxnStore<'_, '_>, &Arc<Replies>) -> Result<T, Error> + Send + 'static,
) -> Result<T, String> {
    let shared = shared.clone();
    let ran = db.transact(move |txn| {
        let mut store = TxnStore::new(txn, &shared.watches, &shared.replies, &shared.cursors);
        match catch_unwind(AssertUnwindSafe(|| f(&mut store, &shared.replies))) {
            Ok(Ok(value)) => {
                store.finish()?;
                Ok(Ok(value))
            }
            Ok(Err(e)) => Err(e),
            // The store never reached the transaction: nothing is written.
            Err(_) => Ok(Err(
                "internal error: a command panicked (see the server's log); nothing was written"
                    .to_owned(),
            )),
        }
    });
    match ran {
        Ok(inner) => inner,
        Err(e) => Err(e.with_causes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::serve::program;
    use crate::cli::serve::reply::Replies;
    use crate::cli::serve::watches::Watches;

    fn shared() -> Shared {
        Shared {
            watches: Arc::new(Watches::default()),
            replies: Arc::new(Replies::new(1 << 30)),
            cursors: Default::default(),
        }
    }

    fn call(words: &[&str]) -> Call {
        let kind = program::kind(&words[0].to_ascii_lowercase()).expect("a data command");
        Call::new(kind, words.iter().map(|w| w.as_bytes().to_vec()).collect())
    }

    fn text(out: Output) -> String {
        let mut out = out;
        let mut sink = Vec::new();
        out.send(&mut sink).unwrap();
        String::from_utf8(sink).unwrap()
    }

    fn open() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Default::default()).unwrap();
        (dir, db)
    }

    #[test]
    fn each_entry_reads_what_the_entries_before_it_wrote() {
        let (_dir, db) = open();
        let shared = shared();
        let jobs = vec![
            vec![Entry::Blind(vec![(b"n".to_vec(), b"1".to_vec())])],
            vec![
                Entry::Call(call(&["INCR", "n"])),
                Entry::Call(call(&["GETDEL", "n"])),
            ],
            vec![Entry::Exec(Exec {
                calls: vec![call(&["INCRBY", "n", "5"]), call(&["RENAME", "n", "m"])],
                watching: None,
            })],
        ];
        let written = write(&db, &shared, jobs).unwrap();
        let replies: Vec<Vec<String>> = written
            .into_iter()
            .map(|outs| outs.into_iter().map(text).collect())
            .collect();
        assert_eq!(
            replies[0],
            Vec::<String>::new(),
            "a plain write says +OK itself"
        );
        assert_eq!(replies[1], [":2\r\n", "$1\r\n2\r\n"]);
        assert_eq!(replies[2], ["*2\r\n:5\r\n+OK\r\n"]);
        assert_eq!(db.get(b"n").unwrap(), None);
        assert_eq!(db.get(b"m").unwrap().as_deref(), Some(&b"5"[..]));
    }

    #[test]
    fn a_write_before_exec_in_the_same_round_aborts_it() {
        let (_dir, db) = open();
        let shared = shared();
        db.set(b"k", b"v").unwrap();
        let mut watching = WatchList::new(&shared.watches);
        watching
            .watch(b"k", || {
                let v = db.get_with_expiry(b"k")?;
                Ok::<_, Error>(
                    v.map(|(value, expires_at)| crate::engine::Stored { value, expires_at }),
                )
            })
            .unwrap();
        let jobs = vec![
            vec![Entry::Call(call(&["APPEND", "k", "w"]))],
            vec![Entry::Exec(Exec {
                calls: vec![call(&["SET", "k", "mine"])],
                watching: Some(watching),
            })],
        ];
        let written = write(&db, &shared, jobs).unwrap();
        assert_eq!(
            text(written.into_iter().nth(1).unwrap().remove(0)),
            "*-1\r\n"
        );
        assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"vw"[..]));
    }

    fn panics(_: &mut dyn Writes, _: Request, _: &mut Output) -> Result<(), Error> {
        panic!("a test panic inside a round");
    }

    #[test]
    fn a_panicking_command_fails_the_round_and_writes_nothing() {
        let (_dir, db) = open();
        let shared = shared();
        let jobs = vec![
            vec![Entry::Blind(vec![(b"a".to_vec(), b"1".to_vec())])],
            vec![Entry::Call(call(&["INCR", "b"]))],
            vec![Entry::Call(Call::new(
                Kind::Write(panics),
                vec![b"X".to_vec()],
            ))],
        ];
        let err = write(&db, &shared, jobs).unwrap_err();
        assert!(err.contains("internal error"), "{err}");
        assert_eq!(db.get(b"a").unwrap(), None);
        assert_eq!(db.get(b"b").unwrap(), None);
        // The engine goes on.
        db.set(b"c", b"1").unwrap();
    }
}
