//! `count` (and the server's TINYKV.COUNT behind it) answers from the
//! live-key tally the engine keeps in `keys.count`, not by walking the
//! keys: a tally altered on disk (its CRC made good) is what `count`
//! prints, `check` names it, and `recover` removes it. `count --prefix`
//! walks the keys it names.

mod util;

use std::fs;

use util::TestDb;

const SEALING: &str = "segment_size=8192,seal_on_close=0";

#[test]
fn count_answers_from_the_kept_tally() {
    let db = TestDb::new();
    let dump: String = (0..3000).map(|i| format!("k{i:05}\tvalue {i}\n")).collect();
    db.cmd(["load"])
        .env("TINYKV_TEST_OPTIONS", SEALING)
        .stdin(dump)
        .run()
        .code(0);
    db.cmd(["count"]).run().code(0).stdout_is("3000\n");

    // keys.count: magic, version, n, n × 48 bytes of segments, then the
    // count of keys that never expire (docs/format.md); the CRC last.
    let file = db.path.join("keys.count");
    let mut bytes = fs::read(&file).expect("the first count keeps the tally");
    let n = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
    let at = 16 + n * 48;
    let keys = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(keys, 3000);
    bytes[at..at + 8].copy_from_slice(&(keys + 5).to_le_bytes());
    let body = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    fs::write(&file, &bytes).unwrap();

    db.cmd(["count"]).run().code(0).stdout_is("3005\n");
    db.cmd(["count", "--prefix", "k"])
        .run()
        .code(0)
        .stdout_is("3000\n");
    let out = db.cmd(["check"]).run().code(1);
    assert!(
        out.stdout_str().contains("keys.count"),
        "{}",
        out.stdout_str()
    );
    db.cmd(["recover"]).run().code(0);
    db.cmd(["count"]).run().code(0).stdout_is("3000\n");
    db.cmd(["check"]).run().code(0);
}
