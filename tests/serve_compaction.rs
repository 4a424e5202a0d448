//! Background compaction while serving: with small thresholds (test builds
//! read TINYKV_TEST_OPTIONS), overwriting the same keys grows the files
//! until the server's compaction thread rewrites them; INFO persistence
//! reports it, the files shrink, and a reader that kept reading the whole
//! time always got a right value.

mod util;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use redis::cmd;
use util::TestDb;
use util::serve::{DEADLINE, Server};

const KEYS: usize = 100;

fn field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} missing from INFO: {info}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn compaction_runs_in_the_background_while_reads_go_on() {
    let db = TestDb::new();
    let options = "segment_size=16384,compact_min_bytes=131072,compact_ratio=2";
    let server = Server::start(
        db.tmp.path(),
        &db.path,
        &[],
        &[("TINYKV_TEST_OPTIONS", options)],
    );
    let mut writer = server.client();
    let value = |k: usize, round: u64| format!("key{k:03} round {round} {}", "x".repeat(400));
    for k in 0..KEYS {
        let () = cmd("SET")
            .arg(format!("key{k:03}"))
            .arg(value(k, 0))
            .query(&mut writer)
            .unwrap();
    }
    let done = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    let mut reader = server.client();
    let (peak, info) = std::thread::scope(|s| {
        s.spawn(|| {
            let mut k = 0;
            while !done.load(Ordering::Relaxed) {
                let key = format!("key{k:03}");
                let got: String = cmd("GET").arg(&key).query(&mut reader).unwrap();
                assert!(
                    got.starts_with(&format!("{key} round ")),
                    "{key}: {got:.40}"
                );
                reads.fetch_add(1, Ordering::Relaxed);
                k = (k + 1) % KEYS;
            }
        });
        let start = std::time::Instant::now();
        let mut peak = 0;
        let mut round = 1;
        let info = loop {
            let mut p = redis::pipe();
            for k in 0..KEYS {
                p.cmd("SET").arg(format!("key{k:03}")).arg(value(k, round));
            }
            let () = p.query(&mut writer).unwrap();
            round += 1;
            let info: String = cmd("INFO").arg("persistence").query(&mut writer).unwrap();
            peak = peak.max(field(&info, "tinykv_total_bytes"));
            if field(&info, "tinykv_compactions") >= 1 {
                break info;
            }
            assert!(start.elapsed() < DEADLINE, "no compaction ran: {info}");
        };
        done.store(true, Ordering::Relaxed);
        (peak, info)
    });
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
    assert!(field(&info, "tinykv_last_compaction_time") > 0, "{info}");
    let after = field(&info, "tinykv_last_compaction_bytes_after");
    assert!(after < peak, "compaction left {after} bytes of {peak}");
    assert!(
        server.stderr().contains("serve: compacted "),
        "{}",
        server.stderr()
    );
    let n: usize = cmd("DBSIZE").query(&mut writer).unwrap();
    assert_eq!(n, KEYS);
}
