//! Eight parallel one-shot writers (`xargs -P 8`), with default options:
//! every write is stored and every command exits 0, whether nobody, a
//! script or a server owns the database meanwhile.

mod util;

use std::process::Command;

use util::TestDb;
use util::owner::ScriptOwner;
use util::serve::Server;

/// `seq 1 N | xargs -P 8 -I{} tinykv -d DB set job:{} pending`.
fn parallel_sets(db: &TestDb, n: usize) {
    let script = format!(
        "seq 1 {n} | xargs -P 8 -I{{}} '{bin}' -d '{dir}' set job:{{}} pending",
        bin = util::bin(),
        dir = db.path.display()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .env_clear()
        .env("HOME", db.tmp.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xargs: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.cmd(["count", "--prefix", "job:"])
        .run()
        .code(0)
        .stdout_is(format!("{n}\n"));
    db.cmd(["get", "job:1", &format!("job:{n}")])
        .run()
        .code(0)
        .stdout_is("pending\npending\n");
}

#[test]
fn parallel_writers_with_nobody_owning_the_database() {
    let db = TestDb::new();
    parallel_sets(&db, 200);
}

#[test]
fn parallel_writers_through_a_script() {
    let db = TestDb::new();
    db.cmd(["set", "seed", "x"]).run().code(0);
    let mut owner = ScriptOwner::start(db.tmp.path(), &db.path, &[]);
    parallel_sets(&db, 200);
    assert_eq!(owner.ask("count --prefix job:"), "200\n");
    owner.finish();
}

#[test]
fn parallel_writers_through_a_server() {
    if !util::require_tool("redis-cli") {
        return;
    }
    let db = TestDb::new();
    let server = Server::start(db.tmp.path(), &db.path, &[], &[]);
    parallel_sets(&db, 200);
    assert_eq!(server.cli_line(&["dbsize"]), "200");
}
