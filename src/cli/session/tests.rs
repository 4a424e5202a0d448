//! Tests of `session`.

use super::*;

use crate::cli::store::Local;
use crate::engine::Db;

fn run(db: &Db, style: Style, line: &str) -> Result<String> {
    let mut out = Vec::new();
    Session::new(&Local::new(db, None), style, false).execute(line.as_bytes(), &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn recover_and_generate_work_in_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Default::default()).unwrap();
    run(&db, Style::Plain, "set a 1").unwrap();
    db.flush().unwrap();
    // A torn tail that the open handle does not know about.
    let wal = dir.path().join("wal.log");
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes.extend_from_slice(b"junk at the end");
    std::fs::write(&wal, &bytes).unwrap();
    let out = run(&db, Style::Human, "recover").unwrap();
    assert!(out.contains("moved     15 bytes"), "{out}");
    assert_eq!(run(&db, Style::Plain, "get a").unwrap(), "1\n");
    run(&db, Style::Plain, "set b 2").unwrap();
    assert_eq!(run(&db, Style::Plain, "count").unwrap(), "2\n");
    assert!(
        run(&db, Style::Human, "generate bash")
            .unwrap()
            .contains("complete")
    );
}

#[test]
fn human_replies_like_redis_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Default::default()).unwrap();
    let h = Style::Human;
    assert_eq!(run(&db, h, "set \"my key\" 'a b'").unwrap(), "OK\n");
    assert_eq!(run(&db, h, "SET k \"x\\ty\"").unwrap(), "OK\n");
    assert_eq!(run(&db, h, "get \"my key\"").unwrap(), "\"a b\"\n");
    assert_eq!(run(&db, h, "get k").unwrap(), "\"x\\ty\"\n");
    assert_eq!(run(&db, h, "get nope").unwrap(), "(nil)\n");
    assert_eq!(
        run(&db, h, "get k nope").unwrap(),
        "1) \"x\\ty\"\n2) (nil)\n"
    );
    assert_eq!(run(&db, h, "exists k").unwrap(), "(integer) 1\n");
    assert_eq!(run(&db, h, "len").unwrap(), "(integer) 2\n");
    assert_eq!(run(&db, h, "keys --prefix k").unwrap(), "1) \"k\"\n");
    assert_eq!(run(&db, h, "del k nope").unwrap(), "(integer) 1\n");
    assert_eq!(run(&db, h, "keys --prefix k").unwrap(), "(empty array)\n");
    assert_eq!(run(&db, h, "").unwrap(), "");
}

#[test]
fn plain_replies_like_the_one_shot_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Default::default()).unwrap();
    let p = Style::Plain;
    assert_eq!(run(&db, p, "set k \"a\\nb\"").unwrap(), "OK\n");
    assert_eq!(run(&db, p, "get k").unwrap(), "a\nb\n");
    assert_eq!(run(&db, p, "get --raw k").unwrap(), "a\nb");
    assert_eq!(run(&db, p, "get nope").unwrap(), "(nil)\n");
    assert_eq!(run(&db, p, "count").unwrap(), "1\n");
    assert_eq!(run(&db, p, "keys").unwrap(), "k\n");
    assert_eq!(run(&db, p, "del k").unwrap(), "OK\n");
    assert_eq!(run(&db, p, "exit").unwrap(), "");
}

#[test]
fn scripting_commands_reply_in_both_styles() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Default::default()).unwrap();
    let (h, p) = (Style::Human, Style::Plain);
    assert_eq!(run(&db, h, "incr n").unwrap(), "(integer) 1\n");
    assert_eq!(run(&db, p, "incr n 4").unwrap(), "5\n");
    assert_eq!(run(&db, p, "decr n --by 7").unwrap(), "-2\n");
    assert_eq!(
        run(&db, p, "incr n 9223372036854775809")
            .unwrap_err()
            .to_string(),
        "invalid value '9223372036854775809' for '[BY]': number too large to fit in \
         target type; try 'help incr'"
    );
    assert!(run(&db, p, "incr n 9223372036854775807").is_ok());
    let err = run(&db, p, "incr n 3").unwrap_err();
    assert!(format!("{err:#}").contains("overflow"), "{err:#}");
    assert_eq!(run(&db, h, "set k v --nx").unwrap(), "OK\n");
    assert_eq!(run(&db, h, "set k w --nx").unwrap(), "(nil)\n");
    assert_eq!(run(&db, p, "set k w --if-eq v").unwrap(), "OK\n");
    assert_eq!(run(&db, p, "set k x --if-eq v").unwrap(), "(nil)\n");
    assert_eq!(run(&db, h, "ttl k").unwrap(), "none\n");
    assert_eq!(run(&db, h, "ttl nope").unwrap(), "(nil)\n");
    assert_eq!(run(&db, h, "expire k 1h").unwrap(), "(integer) 1\n");
    assert_eq!(run(&db, h, "ttl k").unwrap(), "(integer) 3600\n");
    assert_eq!(run(&db, p, "ttl k").unwrap(), "3600\n");
    assert_eq!(run(&db, p, "persist k").unwrap(), "OK\n");
    assert_eq!(run(&db, p, "persist nope").unwrap(), "(nil)\n");
    assert_eq!(run(&db, h, "expire nope 5").unwrap(), "(integer) 0\n");
    assert_eq!(run(&db, p, "rename k k2").unwrap(), "OK\n");
    assert_eq!(run(&db, h, "rename k k2").unwrap(), "(integer) 0\n");
    assert_eq!(run(&db, p, "set job:2 'b c'").unwrap(), "OK\n");
    assert_eq!(run(&db, p, "set \"job:1\\t\" a").unwrap(), "OK\n");
    assert_eq!(run(&db, p, "pop --prefix job:").unwrap(), "job:1\\t\ta\n");
    assert_eq!(
        run(&db, h, "pop --prefix job:").unwrap(),
        "1) \"job:2\"\n2) \"b c\"\n"
    );
    assert_eq!(run(&db, p, "pop --prefix job:").unwrap(), "(nil)\n");
    assert_eq!(run(&db, h, "keys --glob ?2").unwrap(), "1) \"k2\"\n");
    assert_eq!(run(&db, h, "keys -0 --limit 1").unwrap(), "k2\0");
    assert_eq!(
        run(&db, p, "dump --start n").unwrap(),
        "n\t9223372036854775805\n"
    );
    let help = run(&db, h, "help").unwrap();
    assert!(help.contains("  set KEY [VALUE] [OPTIONS] "), "{help}");
    assert!(help.contains("  pop [--prefix P] "), "{help}");
}

#[test]
fn mistakes_are_errors_with_help() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Default::default()).unwrap();
    let err = run(&db, Style::Human, "sett a b").unwrap_err().to_string();
    assert_eq!(err, "unknown command 'sett'; did you mean 'set'?");
    let err = run(&db, Style::Human, "get").unwrap_err().to_string();
    assert_eq!(
        err,
        "the following required arguments were not provided: <KEY>...; try 'help get'"
    );
    assert!(run(&db, Style::Human, "set k").is_err());
    let err = run(&db, Style::Plain, "serve --listen 127.0.0.1:0")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot run inside the REPL or a script"),
        "{err}"
    );
    assert!(!run(&db, Style::Human, "help").unwrap().contains("serve"));
    assert!(run(&db, Style::Human, "set 'k").is_err());
    assert!(run(&db, Style::Human, "help").unwrap().contains("exists"));
    assert!(
        run(&db, Style::Human, "help set")
            .unwrap()
            .contains("VALUE")
    );
}

#[test]
fn synopses() {
    assert_eq!(
        synopsis("set").as_deref(),
        Some(
            "KEY [VALUE] [--value VALUE] [--nx] [--xx] [--if-eq OLD] [--ttl DURATION] \
             [--expire-at UNIX_SECONDS]"
        )
    );
    assert_eq!(synopsis("incr").as_deref(), Some("KEY [BY] [--by N]"));
    assert_eq!(synopsis("get").as_deref(), Some("[--raw] KEY..."));
    assert_eq!(synopsis("quit").as_deref(), Some(""));
    assert_eq!(synopsis("nope"), None);
}
