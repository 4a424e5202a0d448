//! A GET of a large value is read off the event loop: while one client
//! GETs a 200 MiB value, another client's PINGs are answered at once. The
//! worst PING round trip during the GET is compared with the GET's own
//! time, as a ratio (the machines are shared: no fixed time). Before, the
//! event loop read the value itself and every other client waited for it:
//! the worst PING took most of the GET's time.

mod util;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::cmd;
use util::TestDb;
use util::serve::{Server, eventually, read_line};

const MIB: usize = 1024 * 1024;

#[test]
fn pings_are_answered_while_a_large_value_is_read() {
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    let value: Vec<u8> = (0..200 * MIB).map(|i| (i % 251) as u8).collect();
    let mut con = server.client();
    let () = cmd("SET").arg("big").arg(&value).query(&mut con).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let pings = Arc::new(AtomicU64::new(0));
    let mut pinger = server.connect();
    let pinger = {
        let (stop, pings) = (Arc::clone(&stop), Arc::clone(&pings));
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            while !stop.load(Ordering::SeqCst) {
                let t = Instant::now();
                pinger.write_all(b"PING\r\n").unwrap();
                assert_eq!(read_line(&mut pinger), b"+PONG\r\n");
                worst = worst.max(t.elapsed());
                pings.fetch_add(1, Ordering::SeqCst);
            }
            worst
        })
    };
    eventually("the first PING", || pings.load(Ordering::SeqCst) > 0);
    let before = pings.load(Ordering::SeqCst);
    let t = Instant::now();
    let got: Vec<u8> = cmd("GET").arg("big").query(&mut con).unwrap();
    let get = t.elapsed();
    stop.store(true, Ordering::SeqCst);
    let during = pings.load(Ordering::SeqCst) - before;
    let worst = pinger.join().unwrap();
    assert!(got == value, "the value read back differs");
    eprintln!("GET of 200 MiB: {get:?}; {during} PINGs meanwhile, the worst {worst:?}");
    assert!(during >= 2, "only {during} PINGs during the GET");
    assert!(
        worst * 5 < get,
        "the worst PING took {worst:?} during a GET of {get:?}"
    );
}
