//! For the read-only tests: a database with something in every kind of
//! file; a read-only copy of it; the user that reads it (another one,
//! through setpriv, when the tests run as root, whom file modes do not
//! stop); a digest of a directory (every name, kind, mode, size,
//! modification time and a CRC of the bytes) to show that reading changed
//! nothing; and the comparison every read-only scenario makes.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use predicates::prelude::*;

use super::{Cmd, Outcome, TestDb, bin, clean_env};

/// Who reads the read-only copy.
pub enum Reader {
    /// The test's own user (not root: file modes stop it).
    Myself,
    /// `nobody`, through setpriv, when the test runs as root.
    Nobody,
}

impl Reader {
    /// The reader this machine allows, or `None` (with a notice) when the
    /// tests run as root without setpriv to become another user.
    pub fn find() -> Option<Reader> {
        if !is_root() {
            return Some(Reader::Myself);
        }
        if super::require_tool("setpriv") {
            return Some(Reader::Nobody);
        }
        eprintln!("notice: skipped (as root, setpriv is needed to read as another user)");
        None
    }

    /// `tinykv -d DIR ARGS…` run as this reader, with a clean environment.
    pub fn cmd(&self, home: &Path, dir: &Path, args: &[&str]) -> Cmd {
        let mut cmd = match self {
            Reader::Myself => Command::new(bin()),
            Reader::Nobody => {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                    .arg(bin());
                c
            }
        };
        clean_env(&mut cmd, home);
        cmd.arg("-d").arg(dir).args(args);
        Cmd {
            cmd,
            stdin: Vec::new(),
            dir: dir.to_owned(),
        }
    }
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

/// Fills `db` with sealed segments (several, by a small segment size), a
/// live log, deletions, and keys and values of every awkward byte.
pub fn fill(db: &TestDb) {
    let mut tsv = String::new();
    for i in 0..300 {
        tsv.push_str(&format!("key{i:03}\tvalue {i} {}\n", "x".repeat(40)));
    }
    db.cmd(["load"])
        .env("TINYKV_TEST_OPTIONS", "segment_size=4096,seal_on_close=0")
        .stdin(tsv)
        .run()
        .code(0);
    let mut nasty = Vec::new();
    for (k, v) in super::nasty_pairs() {
        nasty.extend(tinykv::format::escape_bytes(&k).into_bytes());
        nasty.push(b'\t');
        nasty.extend(tinykv::format::escape_bytes(&v).into_bytes());
        nasty.push(b'\n');
    }
    db.cmd(["load"]).stdin(nasty).run().code(0);
    db.cmd(["del", "key007", "key123"]).run().code(0);
    db.cmd(["set", "key150", "overwritten"]).run().code(0);
}

/// A copy of `from` at `to` (times and modes kept) that no one may write:
/// every mode loses its write bits. Dropped, it gets them back, so that
/// the temporary directory can be removed.
pub struct ReadOnlyCopy {
    pub path: PathBuf,
}

impl ReadOnlyCopy {
    pub fn new(from: &Path, to: &Path) -> ReadOnlyCopy {
        copy_dir(from, to);
        set_write(to, false);
        ReadOnlyCopy {
            path: to.to_owned(),
        }
    }
}

impl Drop for ReadOnlyCopy {
    fn drop(&mut self) {
        set_write(&self.path, true);
    }
}

/// A read-only bind mount, unmounted when dropped.
pub struct ReadOnlyMount {
    pub path: PathBuf,
}

impl ReadOnlyMount {
    /// `from` seen read-only at `at`, or `None` (with a notice) when this
    /// machine does not let the test mount.
    pub fn new(from: &Path, at: &Path) -> Option<ReadOnlyMount> {
        std::fs::create_dir(at).unwrap();
        let (from, at) = (from.to_str()?, at.to_str()?);
        let mount = |args: &[&str]| {
            Command::new("mount")
                .args(args)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        // Unmounted again (dropped) when it cannot be made read-only.
        let ro = mount(&["--bind", from, at])
            .then(|| ReadOnlyMount { path: at.into() })
            .filter(|_| mount(&["-o", "remount,bind,ro", at]));
        if ro.is_none() {
            eprintln!("notice: skipped (this machine does not let root mount)");
        }
        ro
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        // Lazily: a failed test may leave a process with files open in it.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A copy of `db` (reads of the original, to compare with, write its lock
/// file) on a read-only mount, or `None` (with a notice) when the tests do
/// not run as root or the machine does not let root mount.
pub fn mounted_copy(db: &TestDb) -> Option<ReadOnlyMount> {
    if !is_root() {
        eprintln!("notice: skipped (a read-only bind mount needs root)");
        return None;
    }
    let copy = db.file("copy");
    copy_dir(&db.path, &copy);
    ReadOnlyMount::new(&copy, &db.file("ro"))
}

/// Copies the directory `from` to `to`, times and modes kept.
pub fn copy_dir(from: &Path, to: &Path) {
    let copied = Command::new("cp").arg("-a").arg(from).arg(to).status();
    assert!(copied.is_ok_and(|s| s.success()), "cp -a");
}

/// Takes the write bits off `dir` and everything in it, or gives the
/// owner's back.
fn set_write(dir: &Path, on: bool) {
    let how = if on { "u+w" } else { "a-w" };
    let done = Command::new("chmod").args(["-R", how]).arg(dir).status();
    assert!(done.is_ok_and(|s| s.success()), "chmod -R {how}");
}

/// One line per file or directory under `dir` (itself included): its
/// path, kind, mode, size, modification time, and a CRC of its bytes.
pub fn digest(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let crc = if meta.is_file() {
            crc32fast::hash(&std::fs::read(&path).unwrap())
        } else {
            0
        };
        lines.push(format!(
            "{} {} {:o} {} {}.{:09} {crc:08x}",
            path.strip_prefix(dir).unwrap().display(),
            if meta.is_dir() { "dir" } else { "file" },
            meta.mode(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec(),
        ));
        if meta.is_dir() {
            for e in std::fs::read_dir(&path).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    lines.sort();
    lines
}

/// The read commands, each compared between a database and its
/// read-only copy.
pub const READS: &[&[&str]] = &[
    &["get", "key001", "key150", "key299"],
    &["get", "key007", "missing"],
    &["keys"],
    &["keys", "--prefix", "key2"],
    &["dump"],
    &["dump", "--format", "jsonl"],
    &["dump", "--format", "resp", "--prefix", "key1"],
    &["count"],
    &["count", "--prefix", "key0"],
    &["exists", "key001", "key299"],
    &["exists", "key001", "key123"],
    &["stats"],
    &["stats", "--json"],
    &["check"],
    &["ttl", "key001"],
    &["ttl", "missing"],
    &["keys", "--glob", "key?5?", "--limit", "3", "-0"],
    &["dump", "--start", "key100", "--end", "key110"],
];

/// The writes, each refused on a read-only database, with their stdin.
pub const WRITES: &[(&[&str], &str)] = &[
    (&["set", "new", "value"], ""),
    (&["set", "from-stdin"], "bytes"),
    (&["del", "key001"], ""),
    (&["del", "missing"], ""),
    (&["load"], "a\t1\n"),
    (&["load", "--replace"], "a\t1\n"),
    (&["compact"], ""),
    (&["recover"], ""),
    (&["incr", "counter"], ""),
    (&["decr", "counter", "2"], ""),
    (&["set", "key001", "v", "--if-eq", "x"], ""),
    (&["set", "new", "v", "--ttl", "1h"], ""),
    (&["expire", "key001", "1h"], ""),
    (&["persist", "missing"], ""),
    (&["pop", "--prefix", "key"], ""),
    (&["pop", "--prefix", "none:"], ""),
    (&["rename", "key001", "moved"], ""),
];

/// What every read-only scenario shows, with `run` running a command on
/// the read-only database at `ro`, a copy of `db`: each read prints what
/// it prints on `db` (the directory's name aside) and exits the same; a
/// backup of it goes to a directory the reader may write and is whole;
/// each write fails with one line saying the database is read-only
/// (because of `cause`); a script reads and says that its write cannot be
/// made; and nothing under `ro` changes. `backups`: a directory the reader
/// may write.
pub fn reads_work_and_nothing_changes(
    db: &TestDb,
    ro: &Path,
    backups: &Path,
    cause: &str,
    run: &dyn Fn(&[&str], &str) -> Outcome,
) {
    let before = digest(ro);
    let ro_name = ro.display().to_string();
    let db_name = db.path.display().to_string();
    for args in READS {
        let want = db.cmd(*args).run();
        let got = run(args, "");
        let same = |a: &Outcome, b: &Outcome| {
            a.output.status.code() == b.output.status.code()
                && a.stdout_str().replace(&ro_name, &db_name) == b.stdout_str()
                && a.stderr_str().replace(&ro_name, &db_name) == b.stderr_str()
        };
        if !same(&got, &want) {
            got.fail(&format!(
                "differs from the writable database's: exit {:?}\n{}{}",
                want.output.status.code(),
                want.stdout_str(),
                want.stderr_str()
            ));
        }
    }

    let dest = backups.join("copy");
    run(&["backup", dest.to_str().unwrap()], "").code(0).quiet();
    db.cmd_on(&dest, ["check"]).run().code(0).stdout_is("ok\n");
    let dumped = db.cmd_on(&dest, ["dump"]).run().code(0);
    db.cmd(["dump"]).run().stdout_is(dumped.stdout());

    for (args, stdin) in WRITES {
        run(args, stdin)
            .code(2)
            .one_line_error()
            .stderr_matches(predicate::str::contains(format!(
                "database {ro_name} is read-only ("
            )))
            .stderr_matches(predicate::str::contains(cause));
    }

    let script = run(&[], "get key001\nset x y\ncount\n")
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains("line 2"))
        .stderr_matches(predicate::str::contains("is open read-only"));
    let count = db.cmd(["count"]).run().stdout_str();
    assert_eq!(
        script.stdout_str(),
        format!("value 1 {}\n{count}", "x".repeat(40))
    );

    let after = digest(ro);
    assert_eq!(after, before, "{} changed", ro.display());
}
