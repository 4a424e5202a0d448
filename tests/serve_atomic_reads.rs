//! MGET and EXISTS never see half of an MSET, while MSETs run on other
//! connections, through every path a write takes: the event loop's own
//! round (small MSETs), the writer thread (an MSET over 256 KiB), and a
//! worker (an MSET whose stripes a SET NX holds). Readers check every
//! reply: the ten keys an MSET writes together have one value between
//! them, and the ten fresh keys of another exist all or none.

mod util;

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use redis::cmd;
use util::TestDb;
use util::serve::Server;

const WRITERS: usize = 3;
const MSETS: usize = 150;
const GROUP: usize = 10;

fn group(w: usize) -> Vec<String> {
    (0..GROUP).map(|k| format!("g{w}:{k}")).collect()
}

fn fresh(w: usize, i: usize) -> Vec<String> {
    (0..GROUP).map(|k| format!("f{w}:{i}:{k}")).collect()
}

/// Writers go on until the readers have checked this many replies, so
/// the reads overlap the writes however the threads are scheduled.
const MIN_READS: u64 = 300;

#[test]
fn mget_and_exists_never_see_half_an_mset() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let done = AtomicBool::new(false);
    // Set when a reader ends (a failed check included), so that writers
    // waiting for reads do not wait forever.
    let reader_gone = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    let start = Barrier::new(WRITERS + 3);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (server, start, reads, gone) = (&server, &start, &reads, &reader_gone);
                s.spawn(move || {
                    let mut con = server.client();
                    start.wait();
                    let mut i = 0;
                    let more =
                        || reads.load(Ordering::SeqCst) < MIN_READS && !gone.load(Ordering::SeqCst);
                    while i < MSETS || more() {
                        write(&mut con, w, i);
                        i += 1;
                    }
                })
            })
            .collect();
        for r in 0..2 {
            let (server, start, done, reads) = (&server, &start, &done, &reads);
            let gone = Gone(&reader_gone);
            s.spawn(move || {
                let _gone = gone;
                let mut con = server.client();
                start.wait();
                let mut i = 0;
                while !done.load(Ordering::SeqCst) {
                    check(&mut con, (i + r) % WRITERS, i % MSETS);
                    reads.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                }
            });
        }
        start.wait();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
    });
    assert!(reads.load(Ordering::SeqCst) >= MIN_READS);
}

/// Sets its flag when dropped: when its thread ends, even by a panic.
struct Gone<'a>(&'a AtomicBool);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Writer `w`'s `i`th step: an MSET of its group, one of fresh keys, and
/// now and then a SET NX that makes the next MSET wait in a worker.
fn write(con: &mut redis::Connection, w: usize, i: usize) {
    // Writer 0's values are large enough for its rounds to go to the
    // writer thread.
    let pad = if w == 0 { 30_000 } else { 10 };
    let value = format!("{w}-{i}-{}", "x".repeat(pad));
    let mut m = cmd("MSET");
    for key in group(w) {
        m.arg(key).arg(&value);
    }
    let () = m.query(con).unwrap();
    let mut m = cmd("MSET");
    for key in fresh(w, i) {
        m.arg(key).arg(i);
    }
    let () = m.query(con).unwrap();
    if w == 1 && i.is_multiple_of(10) {
        let _: Option<String> = cmd("SET")
            .arg(format!("g{w}:0"))
            .arg("nx")
            .arg("NX")
            .query(con)
            .unwrap();
    }
}

/// One MGET of writer `w`'s group and one EXISTS of its `i`th fresh keys.
fn check(con: &mut redis::Connection, w: usize, i: usize) {
    let values: Vec<Option<String>> = cmd("MGET").arg(group(w)).query(con).unwrap();
    let short = |v: &Option<String>| v.as_deref().map(|v| v[..v.len().min(12)].to_owned());
    assert!(
        values.iter().all(|v| v == &values[0]),
        "MGET saw half an MSET: {:?}",
        values.iter().map(short).collect::<Vec<_>>()
    );
    let n: usize = cmd("EXISTS").arg(fresh(w, i)).query(con).unwrap();
    assert!(
        n == 0 || n == GROUP,
        "EXISTS saw {n} of the {GROUP} keys of one MSET"
    );
}
