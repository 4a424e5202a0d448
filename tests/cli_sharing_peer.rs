//! Only the owner's own user gets in: another user cannot use the owner's
//! socket even when its mode and its directory's are loosened to 0777 (the
//! owner checks each peer's uid with the kernel). Needs root (to be another
//! user with setpriv) and redis-cli; skipped with a notice otherwise.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use util::TestDb;
use util::owner::ScriptOwner;

/// The socket the owner of `db` named in its lock file's note.
fn socket_of(db: &TestDb) -> PathBuf {
    let lock = std::fs::read_to_string(db.path.join("LOCK")).unwrap();
    let line = lock
        .lines()
        .find_map(|l| l.strip_prefix("socket="))
        .unwrap_or_else(|| panic!("no socket in the lock file: {lock:?}"));
    PathBuf::from(line)
}

fn ping(socket: &std::path::Path, as_nobody: bool) -> String {
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "redis-cli",
        ]);
        c
    } else {
        Command::new("redis-cli")
    };
    let out = cmd.arg("-s").arg(socket).arg("PING").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn another_user_cannot_use_the_owners_socket() {
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if !root || !util::require_tool("redis-cli") || !util::require_tool("setpriv") {
        eprintln!("notice: skipped (needs root, redis-cli and setpriv to act as another user)");
        return;
    }
    let db = TestDb::new();
    db.cmd(["set", "seed", "x"]).run().code(0);
    // A runtime directory of the test's own, so that loosening it touches
    // no other test's sockets.
    let run = db.file("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(db.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let owner = ScriptOwner::start_with(
        db.tmp.path(),
        &db.path,
        &[],
        &[("XDG_RUNTIME_DIR", run.to_str().unwrap())],
    );
    let socket = socket_of(&db);
    assert!(socket.starts_with(&run), "{socket:?}");
    assert_eq!(ping(&socket, false), "PONG");
    for path in [socket.parent().unwrap(), &socket] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_ne!(ping(&socket, true), "PONG", "another user got in");
    // The owner goes on serving its own user.
    assert_eq!(ping(&socket, false), "PONG");
    owner.finish();
}
