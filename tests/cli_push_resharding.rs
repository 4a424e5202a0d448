//! `tinykv push` while a slot is being migrated between two masters
//! (`CLUSTER SETSLOT … MIGRATING/IMPORTING`, some of its keys already
//! moved with MIGRATE): the source answers ASK for the keys it no longer
//! has, and push sends them to the target after ASKING. Nothing is lost,
//! and once the migration ends every key is where the cluster says. Then
//! a push right as the slot changes hands, through a node that may not
//! have heard yet (MOVED).

mod util;

use util::TestDb;
use util::pairs::{self, Pair, now_ms, same};
use util::redis_cluster::Cluster;

/// The hash tag of the slot being migrated.
const TAG: &str = "{moving}";

#[test]
fn a_push_during_a_migration_loses_nothing() {
    let db = TestDb::new();
    let cluster = Cluster::start(db.tmp.path(), 3);
    let seed = cluster.ports[0];
    let slot = cluster.keyslots(&[TAG.as_bytes().to_vec()])[0];
    let source = Cluster::master_in(&cluster.slots(seed), slot);
    let dest = *cluster.ports.iter().find(|&&p| p != source).unwrap();
    let third = *cluster
        .ports
        .iter()
        .find(|&&p| p != source && p != dest)
        .unwrap();
    let (source_id, dest_id) = (cluster.id(source), cluster.id(dest));

    // The slot's keys: 100 already in the cluster (stale values), of
    // which half are moved before the push, and 400 new ones.
    let mut src = cluster.conn(source);
    let old: Vec<String> = (0..100).map(|i| format!("{TAG}:old:{i}")).collect();
    for k in &old {
        let _: () = redis::cmd("SET")
            .arg(k)
            .arg("stale")
            .query(&mut src)
            .unwrap();
    }
    let _: () = redis::cmd("CLUSTER")
        .arg(&["SETSLOT", &slot.to_string(), "IMPORTING", &source_id])
        .query(&mut cluster.conn(dest))
        .unwrap();
    let _: () = redis::cmd("CLUSTER")
        .arg(&["SETSLOT", &slot.to_string(), "MIGRATING", &dest_id])
        .query(&mut src)
        .unwrap();
    migrate(&mut src, dest, &old[..50]);

    let now = now_ms();
    let mut pairs: Vec<Pair> = old
        .iter()
        .chain(
            &(0..400)
                .map(|i| format!("{TAG}:new:{i}"))
                .collect::<Vec<_>>(),
        )
        .enumerate()
        .map(|(i, k)| {
            let at = (i % 3 == 0).then_some(now + 600_000 + i as u64);
            (
                k.clone().into_bytes(),
                format!("fresh {i}").into_bytes(),
                at,
            )
        })
        .collect();
    pairs.extend(pairs::awkward(2_000, "other"));
    let dump = db.file("pairs.tsv");
    std::fs::write(&dump, pairs::tsv(&pairs)).unwrap();
    db.cmd(["load".as_ref(), dump.as_os_str()]).run().code(0);

    db.cmd(["push", &format!("redis://127.0.0.1:{third}")])
        .run()
        .code(0)
        .quiet();
    // Mid-migration: the slot's keys are split between the two masters,
    // and none is stale.
    let held = cluster.contents();
    same(&pairs, &held);
    let on = |port| {
        held.iter()
            .filter(|(k, h)| k.starts_with(TAG.as_bytes()) && h.2 == port)
            .count()
    };
    assert_eq!(
        on(source),
        50,
        "the old keys not moved stayed on the source"
    );
    assert_eq!(
        on(dest),
        450,
        "the moved and the new keys are on the target (ASK)"
    );

    // The migration ends; then a push through a node that may still
    // think the slot is the source's (MOVED), with new values.
    loop {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg(&["GETKEYSINSLOT", &slot.to_string(), "1000"])
            .query(&mut src)
            .unwrap();
        if keys.is_empty() {
            break;
        }
        migrate(&mut src, dest, &keys);
    }
    for port in [dest, source] {
        let _: () = redis::cmd("CLUSTER")
            .arg(&["SETSLOT", &slot.to_string(), "NODE", &dest_id])
            .query(&mut cluster.conn(port))
            .unwrap();
    }
    for p in pairs.iter_mut() {
        p.1.extend_from_slice(b" again");
    }
    std::fs::write(&dump, pairs::tsv(&pairs)).unwrap();
    db.cmd(["load".as_ref(), dump.as_os_str()]).run().code(0);
    db.cmd(["push", &format!("redis://127.0.0.1:{third}")])
        .run()
        .code(0)
        .quiet();
    cluster.wait_until_agreed();
    let held = cluster.contents();
    same(&pairs, &held);
    let map = cluster.slots(seed);
    let keys: Vec<Vec<u8>> = pairs.iter().map(|p| p.0.clone()).collect();
    for (key, slot) in keys.iter().zip(cluster.keyslots(&keys)) {
        assert_eq!(held[key].2, Cluster::master_in(&map, slot), "{key:?}");
    }
}

/// `MIGRATE` of `keys` to the node on `port`.
fn migrate(src: &mut redis::Connection, port: u16, keys: &[String]) {
    let _: () = redis::cmd("MIGRATE")
        .arg(&[
            "127.0.0.1",
            &port.to_string(),
            "",
            "0",
            "5000",
            "REPLACE",
            "KEYS",
        ])
        .arg(keys)
        .query(src)
        .unwrap();
}
