//! Atomic counters from the shell: 8 parallel loops of one-shot `incr`
//! (or `decr`) end at exactly the sum, and every printed value is printed
//! once, whether nobody, a script or a server owns the database, and with
//! the owner killed midway (every acknowledged increment counted, none
//! twice). Bad counters are refused and change nothing.

mod util;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use util::TestDb;
use util::owner::ScriptOwner;
use util::serve::Server;

const LOOPS: usize = 8;
const PER_LOOP: usize = 250;

/// What the loops saw: each acknowledged command's printed value, and how
/// many commands failed.
struct Seen {
    values: Vec<i64>,
    failed: usize,
}

/// Runs `LOOPS` threads, each running `PER_LOOP` one-shot commands made by
/// `args(loop)`; calls `midway` once half the commands are acknowledged.
fn loops(db: &TestDb, args: impl Fn(usize) -> Vec<String>, midway: impl FnOnce()) -> Seen {
    let values = Arc::new(Mutex::new(Vec::new()));
    let (acked, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let handles: Vec<_> = (0..LOOPS)
        .map(|l| {
            let (values, acked, failed) = (values.clone(), acked.clone(), failed.clone());
            let (home, dir) = (db.tmp.path().to_owned(), db.path.clone());
            let args = args(l);
            thread::spawn(move || {
                for _ in 0..PER_LOOP {
                    let out = run(&home, &dir, &args);
                    if out.status.success() {
                        let text = String::from_utf8(out.stdout).unwrap();
                        let n = text
                            .trim_end()
                            .parse::<i64>()
                            .unwrap_or_else(|_| panic!("incr printed {text:?}"));
                        values.lock().unwrap().push(n);
                        acked.fetch_add(1, Ordering::SeqCst);
                    } else {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    let mut midway = Some(midway);
    while handles.iter().any(|h| !h.is_finished()) {
        if acked.load(Ordering::SeqCst) >= LOOPS * PER_LOOP / 2
            && let Some(f) = midway.take()
        {
            f();
        }
        thread::sleep(std::time::Duration::from_millis(5));
    }
    for h in handles {
        h.join().unwrap();
    }
    let values = values.lock().unwrap().clone();
    Seen {
        values,
        failed: failed.load(Ordering::SeqCst),
    }
}

fn run(home: &Path, dir: &Path, args: &[String]) -> std::process::Output {
    util::base_command(home)
        .arg("-d")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn incr(by: Option<&str>) -> impl Fn(usize) -> Vec<String> {
    let by = by.map(str::to_owned);
    move |_| {
        let mut args = vec!["incr".to_owned(), "counter".to_owned()];
        if let Some(by) = &by {
            args.extend(["--by".to_owned(), by.clone()]);
        }
        args
    }
}

fn counter(db: &TestDb) -> i64 {
    let out = db.cmd(["get", "counter"]).run().code(0);
    out.stdout_str().trim_end().parse().unwrap()
}

/// Every loop acknowledged every command, the counter is `expected`, and
/// no two commands printed the same value (no increment seen twice).
fn exact(db: &TestDb, seen: &Seen, expected: i64) {
    assert_eq!(seen.failed, 0, "some commands failed");
    assert_eq!(seen.values.len(), LOOPS * PER_LOOP);
    assert_eq!(counter(db), expected);
    let distinct: BTreeSet<i64> = seen.values.iter().copied().collect();
    assert_eq!(distinct.len(), seen.values.len(), "a value printed twice");
}

#[test]
fn parallel_incr_with_nobody_owning_the_database() {
    let db = TestDb::new();
    let seen = loops(&db, incr(None), || {});
    exact(&db, &seen, 2000);
    // Each increment printed its own new value: 1 to 2000, each once.
    let all: BTreeSet<i64> = seen.values.iter().copied().collect();
    assert_eq!(all, (1..=2000).collect());
}

#[test]
fn parallel_incr_by_three_through_a_script() {
    let db = TestDb::new();
    db.cmd(["set", "seed", "x"]).run().code(0);
    let mut owner = ScriptOwner::start(db.tmp.path(), &db.path, &[]);
    let seen = loops(&db, incr(Some("3")), || {});
    assert_eq!(owner.ask("get counter"), "6000\n");
    owner.finish();
    exact(&db, &seen, 6000);
    assert!(seen.values.iter().all(|v| v % 3 == 0));
}

#[test]
fn parallel_incr_and_decr_through_a_server() {
    if !util::require_tool("redis-cli") {
        return;
    }
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    // Even loops add 1, odd loops take 2: 4*250 - 4*500 = -1000.
    let mixed = |l: usize| -> Vec<String> {
        let words: &[&str] = if l.is_multiple_of(2) {
            &["incr", "counter"]
        } else {
            &["decr", "counter", "2"]
        };
        words.iter().map(|w| w.to_string()).collect()
    };
    let seen = loops(&db, mixed, || {});
    assert_eq!(server.cli_line(&["get", "counter"]), "-1000");
    assert_eq!(seen.failed, 0);
    assert_eq!(seen.values.len(), LOOPS * PER_LOOP);
    drop(server);
    assert_eq!(counter(&db), -1000);
}

#[test]
fn a_killed_owner_counts_every_acknowledged_increment_once() {
    let db = TestDb::new();
    db.cmd(["set", "counter", "0"]).run().code(0);
    let owner = ScriptOwner::start(db.tmp.path(), &db.path, &[]);
    let pid = owner.pid();
    let seen = loops(&db, incr(None), || {
        // SIGKILL: the owner gets no chance to tidy up.
        let killed = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    });
    drop(owner);
    let acked = seen.values.len() as i64;
    assert!(
        acked >= (LOOPS * PER_LOOP / 2) as i64,
        "only {acked} acknowledged: the owner was never killed midway"
    );
    let total = counter(&db);
    // An increment the owner stored but could not acknowledge before it
    // died is counted yet reported failed: at most one per failure.
    assert!(
        acked <= total && total <= acked + seen.failed as i64,
        "{acked} acknowledged, {} failed, counter {total}",
        seen.failed
    );
    let distinct: BTreeSet<i64> = seen.values.iter().copied().collect();
    assert_eq!(distinct.len(), seen.values.len(), "a value printed twice");
    assert!(seen.values.iter().all(|&v| v <= total));
}

#[test]
fn a_bad_counter_is_refused_and_unchanged() {
    let db = TestDb::new();
    db.cmd(["set", "word", "abc"]).run().code(0);
    db.cmd(["set", "max", "9223372036854775807"]).run().code(0);
    db.cmd(["set", "min", "-9223372036854775808"]).run().code(0);
    db.cmd(["set", "padded", " 1"]).run().code(0);
    db.cmd(["incr", "word"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicates::str::contains("not an integer"));
    db.cmd(["incr", "padded"]).run().code(2).one_line_error();
    db.cmd(["incr", "max"])
        .run()
        .code(2)
        .one_line_error()
        .stderr_matches(predicates::str::contains("overflow"));
    db.cmd(["decr", "min"]).run().code(2).one_line_error();
    db.cmd(["decr", "x", "--", "-9223372036854775808"])
        .run()
        .code(2)
        .one_line_error();
    db.cmd(["incr", "x", "1.5"]).run().code(2).one_line_error();
    db.cmd(["incr", "x", "2", "--by", "3"]).run().code(2);
    db.cmd(["get", "word", "max", "min", "padded"])
        .run()
        .code(0)
        .stdout_is("abc\n9223372036854775807\n-9223372036854775808\n 1\n");
    db.cmd(["exists", "x"]).run().code(1);
    // A missing key counts as 0; negative steps and decr work both ways.
    db.cmd(["incr", "n", "-5"]).run().code(0).stdout_is("-5\n");
    db.cmd(["decr", "n", "--by", "-7"])
        .run()
        .code(0)
        .stdout_is("2\n");
    db.cmd(["decr", "n"]).run().code(0).stdout_is("1\n");
    db.cmd(["incr", "max", "-1"])
        .run()
        .code(0)
        .stdout_is("9223372036854775806\n");
}
