//! A job queue from the shell: `pop --prefix job:` in 8 parallel worker
//! loops takes each of 200 jobs exactly once, whether nobody or a script
//! owns the database; `pop` prints `KEY<TAB>VALUE` tsv-escaped and exits
//! 1 when there is nothing to take.

mod util;

use std::collections::BTreeMap;
use std::path::Path;
use std::thread;

use util::TestDb;
use util::owner::ScriptOwner;

const JOBS: usize = 200;
const WORKERS: usize = 8;

fn fill(db: &TestDb) {
    let mut dump = String::new();
    for j in 0..JOBS {
        dump.push_str(&format!("job:{j:04}\tpayload {j}\n"));
    }
    db.cmd(["set", "other", "not a job"]).run().code(0);
    db.cmd(["load"]).stdin(dump).run().code(0);
}

/// Each worker pops until `pop` exits 1; returns every line taken.
fn workers(db: &TestDb) -> Vec<String> {
    let handles: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (home, dir) = (db.tmp.path().to_owned(), db.path.clone());
            thread::spawn(move || worker(&home, &dir))
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

fn worker(home: &Path, dir: &Path) -> Vec<String> {
    let mut taken = Vec::new();
    loop {
        let out = util::base_command(home)
            .arg("-d")
            .arg(dir)
            .args(["pop", "--prefix", "job:"])
            .output()
            .unwrap();
        match out.status.code() {
            Some(0) => taken.push(String::from_utf8(out.stdout).unwrap()),
            Some(1) => return taken,
            other => panic!(
                "pop exited {other:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

fn every_job_once(taken: Vec<String>) {
    let mut seen = BTreeMap::new();
    for line in taken {
        let (key, value) = line
            .strip_suffix('\n')
            .and_then(|l| l.split_once('\t'))
            .unwrap_or_else(|| panic!("pop printed {line:?}"));
        let j: usize = key.strip_prefix("job:").unwrap().parse().unwrap();
        assert_eq!(value, format!("payload {j}"));
        *seen.entry(j).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "taken twice: {twice:?}");
    assert_eq!(seen.len(), JOBS, "some jobs never taken");
}

#[test]
fn eight_workers_take_every_job_once_with_nobody_owning() {
    let db = TestDb::new();
    fill(&db);
    every_job_once(workers(&db));
    db.cmd(["keys"]).run().code(0).stdout_is("other\n");
}

#[test]
fn eight_workers_take_every_job_once_through_a_script() {
    let db = TestDb::new();
    fill(&db);
    let mut owner = ScriptOwner::start(db.tmp.path(), &db.path, &[]);
    every_job_once(workers(&db));
    assert_eq!(owner.ask("count"), "1\n");
    owner.finish();
}

#[test]
fn pop_prints_escaped_and_says_when_there_is_nothing() {
    let db = TestDb::new();
    db.cmd(["set", "b", "two\tcells\nand a line"]).run().code(0);
    db.cmd(["set", "a\tkey", "1"]).run().code(0);
    db.cmd(["pop"]).run().code(0).stdout_is("a\\tkey\t1\n");
    db.cmd(["pop", "--prefix", "a"])
        .run()
        .code(1)
        .stdout_is("")
        .one_line_error()
        .stderr_matches(predicates::str::contains("no key starts with 'a'"));
    db.cmd(["pop"])
        .run()
        .code(0)
        .stdout_is("b\ttwo\\tcells\\nand a line\n");
    db.cmd(["-q", "pop"]).run().code(1).quiet();
    db.cmd(["pop"])
        .run()
        .code(1)
        .stderr_matches(predicates::str::contains("empty"));
}
