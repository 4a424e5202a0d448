//! `tinykv push` from a database another tinykv process owns (a script
//! session, then `serve`): the pairs are read through the owner, which
//! goes on serving; from inside a script (a `push` line); and from a
//! database this user cannot write, which is read without a byte of it
//! changing (PRODUCT.md §7).

mod util;

use std::os::unix::fs::PermissionsExt;

use util::TestDb;
use util::owner::ScriptOwner;
use util::pairs::{self, same};
use util::read_only::{ReadOnlyCopy, Reader, digest};
use util::redis_cluster::contents_of;
use util::redis_server::Redis;
use util::serve::Server;

fn flush(c: &mut redis::Connection) {
    let _: () = redis::cmd("FLUSHALL").query(c).unwrap();
}

#[test]
fn through_an_owner_in_a_script_and_from_a_read_only_copy() {
    let db = TestDb::new();
    let home = db.tmp.path();
    let redis = Redis::start(home);
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let mut c = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let pairs = pairs::awkward(2_000, "");
    let dump = db.file("pairs.tsv");
    std::fs::write(&dump, pairs::tsv(&pairs)).unwrap();
    db.cmd(["load".as_ref(), dump.as_os_str()]).run().code(0);

    let mut owner = ScriptOwner::start(home, &db.path, &[]);
    db.cmd(["push", &url]).run().code(0).quiet();
    same(&pairs, &contents_of(&mut c));
    assert_eq!(owner.ask("count"), "2000\n", "the owner goes on");
    owner.finish();

    flush(&mut c);
    let server = Server::start(home, &db.path, &[], &[]);
    db.cmd(["push", &url]).run().code(0).quiet();
    same(&pairs, &contents_of(&mut c));
    drop(server);

    // A `push` line in a script prints the same report.
    flush(&mut c);
    let out = db
        .cmd::<_, &str>([])
        .stdin(format!("push {url}\n"))
        .run()
        .code(0);
    if !out.stdout_str().contains("2000 stored, holds 2000 keys") {
        out.fail("the script's push report");
    }
    same(&pairs, &contents_of(&mut c));

    let Some(reader) = Reader::find() else {
        return;
    };
    flush(&mut c);
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = ReadOnlyCopy::new(&db.path, &db.file("ro"));
    let before = digest(&ro.path);
    reader
        .cmd(home, &ro.path, &["push", &url])
        .run()
        .code(0)
        .quiet();
    same(&pairs, &contents_of(&mut c));
    assert_eq!(digest(&ro.path), before, "the read-only copy is unchanged");
}
