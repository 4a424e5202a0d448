//! `tinykv push` into a real Redis Cluster of three masters: 20,000
//! awkward pairs (any bytes, empty values, hash tags, expiry) all arrive,
//! each on the master of its slot, with its value and its deadline, and
//! the report gives each master's count.

mod util;

use std::collections::HashMap;

use util::TestDb;
use util::pairs::{self, same};
use util::redis_cluster::Cluster;

#[test]
fn twenty_thousand_pairs_land_on_the_masters_of_their_slots() {
    let db = TestDb::new();
    let cluster = Cluster::start(db.tmp.path(), 3);
    let pairs = pairs::awkward(20_000, "");
    let dump = db.file("pairs.tsv");
    std::fs::write(&dump, pairs::tsv(&pairs)).unwrap();
    db.cmd(["load".as_ref(), dump.as_os_str()]).run().code(0);

    // Any node will do as the address: push finds the others.
    let url = format!("redis://127.0.0.1:{}", cluster.ports[1]);
    let out = db.cmd(["push", &url]).run().code(0).quiet();

    let held = cluster.contents();
    same(&pairs, &held);
    // Each key is on the master of its slot (as the server computes the
    // slot), so each master holds exactly the keys of its slots.
    let keys: Vec<Vec<u8>> = pairs.iter().map(|p| p.0.clone()).collect();
    let slots = cluster.keyslots(&keys);
    let map = cluster.slots(cluster.ports[0]);
    let mut expected: HashMap<u16, u64> = HashMap::new();
    for (key, slot) in keys.iter().zip(slots) {
        let master = Cluster::master_in(&map, slot);
        assert_eq!(held[key].2, master, "key {key:?} (slot {slot})");
        *expected.entry(master).or_default() += 1;
    }
    let report = out.stdout_str();
    for &port in &cluster.ports {
        let n = expected.get(&port).copied().unwrap_or(0);
        assert!(n > 0, "every master has keys");
        let line = format!("127.0.0.1:{port}  {n} stored, holds {n} keys");
        if !report.contains(&line) {
            out.fail(&format!("the report lacks {line:?}"));
        }
    }
    if !report.starts_with("pushed   20000 pairs") || !report.contains("3 masters") {
        out.fail("the report's first line");
    }

    // Pushing again is safe: the same keys, nothing doubled.
    db.cmd(["push", &url]).run().code(0);
    same(&pairs, &cluster.contents());
}
