//! A full disk never locks anyone out of their data (#19). Fill the disk,
//! `compact`; then `get`, `keys`, `dump`, `stats`, `count` and `check`
//! work and tell the truth, a write fails with one line naming ENOSPC, and
//! once space is freed every acknowledged write is there and writes work.
//!
//! Twice: on a real 1 MiB tmpfs that the test mounts (as root; skipped with
//! a notice where it cannot), filled to 0, 1, 2 and 8 free pages; and
//! everywhere through the test build's injected faults, with the disk
//! becoming full at each write of `compact` in turn.
//!
//! Regression: on a tmpfs with one free page, `compact` sealed the log,
//! failed to write the new `wal.log`'s header and left it at 0 bytes; from
//! then on every command but `check` (which said `ok`) failed with "cannot
//! open database (write …/wal.log: No space left on device)".

mod util;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use predicates::prelude::*;
use util::TestDb;

const OPTS: &str = "TINYKV_TEST_OPTIONS";
const FULL: &str = "fault=write:1:enospc:persistent";

/// A value too large to fit in pages a file already has.
fn big() -> Vec<u8> {
    vec![b'x'; 100_000]
}

/// What runs with the disk full: `env` is the fault setting for the
/// injected case (`None` on the real file system).
fn while_full(db: &TestDb, env: Option<&str>) {
    let cmd = |args: &[&str]| {
        let c = db.cmd(args);
        match env {
            Some(spec) => c.env(OPTS, spec),
            None => c,
        }
    };
    cmd(&["get", "k1", "k2"])
        .run()
        .code(0)
        .stdout_is("v1\nv2\n");
    cmd(&["keys"]).run().code(0).stdout_is("k1\nk2\n");
    cmd(&["dump"]).run().code(0).stdout_is("k1\tv1\nk2\tv2\n");
    cmd(&["stats"])
        .run()
        .code(0)
        .stdout_matches(predicate::str::is_match("keys +2").unwrap());
    cmd(&[]).stdin("count\n").run().code(0).stdout_is("2\n");
    // A database that opens and loses nothing is `ok`; never an `ok` for
    // one that does not open (the regression above).
    cmd(&["check"]).run().code(0).stdout_is("ok\n");
    // A backup to another disk (the real file system: injected faults
    // would fail its writes too, wherever they go).
    if env.is_none() {
        let copy = db.tmp.path().join(format!("copy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&copy);
        cmd(&["backup", copy.to_str().unwrap()]).run().code(0);
        db.cmd(["-d", copy.to_str().unwrap(), "dump"])
            .run()
            .code(0)
            .stdout_is("k1\tv1\nk2\tv2\n");
        std::fs::remove_dir_all(&copy).unwrap();
    }
    cmd(&["set", "big", "-"])
        .stdin(big())
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicate::str::contains("No space left on device"));
    cmd(&["get", "k1"]).run().code(0).stdout_is("v1\n");
}

/// With space back: everything acknowledged is there, and writes work.
fn after_space_returns(db: &TestDb) {
    db.cmd(["dump"]).run().code(0).stdout_is("k1\tv1\nk2\tv2\n");
    db.cmd(["set", "k3", "v3"]).run().code(0);
    db.cmd(["set", "big", "-"]).stdin(big()).run().code(0);
    db.cmd(["compact"]).run().code(0);
    db.cmd(["check"]).run().code(0).stdout_is("ok\n");
    db.cmd(["keys"])
        .run()
        .code(0)
        .stdout_is("big\nk1\nk2\nk3\n");
}

/// `compact` on a full disk either runs or says, in one line, how much
/// free space it needs.
fn compact_on_a_full_disk(out: util::Outcome) {
    if out.output.status.code() != Some(0) {
        out.code(2).one_line_error().stderr_matches(
            predicate::str::contains("it needs about")
                .and(predicate::str::contains("No space left on device")),
        );
    }
}

/// Through injected faults: the disk fills up at the Nth write of
/// `compact` (N = 1, 2, … until compact succeeds with room to spare).
#[test]
fn a_full_disk_through_injected_faults() {
    let mut n = 0;
    let mut failed = 0;
    loop {
        n += 1;
        assert!(n < 100, "compact still fails at write {n}");
        let db = TestDb::new();
        // A value overwritten: dead bytes, so that `compact` has something
        // to reclaim and runs (one that cannot gain writes nothing).
        db.cmd(["set", "k1", "-"]).stdin(big()).run().code(0);
        db.cmd(["set", "k1", "v1"]).run().code(0);
        db.cmd(["set", "k2", "v2"]).run().code(0);
        let spec = format!("seal_on_close=0,fault=write:{n}:enospc:persistent");
        let out = db.cmd(["compact"]).env(OPTS, &spec).run();
        let ok = out.output.status.code() == Some(0);
        compact_on_a_full_disk(out);
        while_full(&db, Some(FULL));
        after_space_returns(&db);
        if ok {
            break;
        }
        failed += 1;
    }
    assert!(failed >= 3, "the fault landed in only {failed} runs");
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    _tmp: tempfile::TempDir,
    mnt: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let tmp = tempfile::tempdir().ok()?;
        let mnt = tmp.path().join("mnt");
        fs::create_dir(&mnt).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mnt)
            .output()
            .ok()?;
        status.status.success().then_some(Tmpfs { _tmp: tmp, mnt })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).status();
    }
}

/// Fills the file system holding `dir` but for `free_pages` pages, with
/// the file `dir/name`.
fn fill(dir: &Path, name: &str, free_pages: u64) -> PathBuf {
    let path = dir.join(name);
    let mut f = fs::File::create(&path).unwrap();
    let chunk = [0xAAu8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let len = f.metadata().unwrap().len() / 4096 * 4096;
    f.set_len(len.saturating_sub(free_pages * 4096)).unwrap();
    path
}

#[test]
fn a_full_tmpfs() {
    for free_pages in [0, 1, 2, 8] {
        let Some(tmpfs) = Tmpfs::mount("1m") else {
            eprintln!(
                "notice: a_full_tmpfs skipped: cannot mount a tmpfs here (it needs root); \
                 a_full_disk_through_injected_faults runs the same sequence"
            );
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let db = TestDb {
            path: tmpfs.mnt.join("db"),
            tmp,
        };
        // A value overwritten: dead bytes, so that `compact` has something
        // to reclaim and runs (one that cannot gain writes nothing).
        db.cmd(["set", "k1", "-"]).stdin(big()).run().code(0);
        db.cmd(["set", "k1", "v1"]).run().code(0);
        db.cmd(["set", "k2", "v2"]).run().code(0);
        let filler = fill(&tmpfs.mnt, "filler", free_pages);
        eprintln!("a full tmpfs, {free_pages} pages left free");
        compact_on_a_full_disk(db.cmd(["compact"]).run());
        // Fill what compact may have freed, so that writes must fail.
        let more = fill(&tmpfs.mnt, "more", 0);
        while_full(&db, None);
        fs::remove_file(&filler).unwrap();
        fs::remove_file(&more).unwrap();
        after_space_returns(&db);
    }
}
