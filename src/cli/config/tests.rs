//! Tests of `config`.

use super::*;
use clap::Parser;

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| OsString::from(v))
    }
}

fn resolve(
    argv: &[&str],
    tty: bool,
    env: &'static [(&'static str, &'static str)],
) -> Result<Config> {
    let args = Args::try_parse_from(argv).expect("parses");
    Config::resolve(args, tty, env_of(env))
}

#[test]
fn default_dir_follows_xdg_then_home() {
    let c = resolve(
        &["tinykv", "stats"],
        false,
        &[("XDG_DATA_HOME", "/x"), ("HOME", "/h")],
    )
    .unwrap();
    assert_eq!(c.dir, PathBuf::from("/x/tinykv"));
    let c = resolve(
        &["tinykv", "stats"],
        false,
        &[("XDG_DATA_HOME", "rel"), ("HOME", "/h")],
    )
    .unwrap();
    assert_eq!(c.dir, PathBuf::from("/h/.local/share/tinykv"));
    assert!(resolve(&["tinykv", "stats"], false, &[]).is_err());
    let c = resolve(&["tinykv", "-d", "/db", "stats"], false, &[]).unwrap();
    assert_eq!(c.dir, PathBuf::from("/db"));
}

#[test]
fn tinykv_dir_is_below_dir_and_never_empty() {
    let c = resolve(
        &["tinykv", "stats"],
        false,
        &[("TINYKV_DIR", "/env"), ("HOME", "/h")],
    )
    .unwrap();
    assert_eq!(c.dir, PathBuf::from("/env"));
    assert!(!c.default_dir);
    let c = resolve(
        &["tinykv", "-d", "/db", "stats"],
        false,
        &[("TINYKV_DIR", "/env"), ("HOME", "/h")],
    )
    .unwrap();
    assert_eq!(c.dir, PathBuf::from("/db"));
    // An empty variable does not stand in the way of an explicit --dir,
    // nor of a command that opens nothing ...
    let c = resolve(
        &["tinykv", "get", "k", "--dir", "/db"],
        false,
        &[("TINYKV_DIR", ""), ("HOME", "/h")],
    );
    assert_eq!(c.unwrap().dir, PathBuf::from("/db"));
    assert!(
        resolve(
            &["tinykv", "generate", "man"],
            false,
            &[("TINYKV_DIR", ""), ("HOME", "/h")]
        )
        .is_ok()
    );
    // ... but alone it is an error that names it, not the default database.
    let err = resolve(
        &["tinykv", "stats"],
        false,
        &[("TINYKV_DIR", ""), ("HOME", "/h")],
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("TINYKV_DIR is set but empty"),
        "{err}"
    );
}

#[test]
fn no_command_is_repl_on_a_terminal_else_a_script() {
    let env = &[("HOME", "/h")];
    assert!(matches!(
        resolve(&["tinykv"], true, env).unwrap().mode,
        Mode::Repl
    ));
    let c = resolve(&["tinykv", "--bail"], false, env).unwrap();
    assert!(matches!(
        c.mode,
        Mode::Script {
            source: ScriptSource::Stdin,
            bail: true
        }
    ));
    let c = resolve(&["tinykv", "-f", "s.txt"], true, env).unwrap();
    assert!(matches!(
        c.mode,
        Mode::Script {
            source: ScriptSource::File(_),
            bail: false
        }
    ));
}

#[test]
fn refuses_what_clap_cannot() {
    let env = &[("HOME", "/h")];
    assert!(resolve(&["tinykv", "-f", "s", "stats"], false, env).is_err());
    assert!(resolve(&["tinykv", "get", "--raw", "a", "b"], false, env).is_err());
}

#[test]
fn options_carry_wait_and_sync() {
    let c = resolve(
        &[
            "tinykv", "-d", "/d", "--wait", "2", "--sync", "never", "stats",
        ],
        false,
        &[],
    )
    .unwrap();
    let o = c.options();
    assert_eq!(o.lock_timeout, Duration::from_secs(2));
    assert_eq!(o.sync, SyncMode::Never);
}

#[test]
fn writes_are_the_commands_a_read_only_database_refuses() {
    let env = &[("HOME", "/h")];
    let writes = |args: &str| {
        let argv: Vec<&str> = args.split(' ').collect();
        resolve(&argv, false, env).unwrap().writes()
    };
    for w in [
        "tinykv set k v",
        "tinykv incr k",
        "tinykv decr k 2",
        "tinykv expire k 5",
        "tinykv persist k",
        "tinykv pop",
        "tinykv rename a b",
        "tinykv del k",
        "tinykv load",
        "tinykv compact",
        "tinykv recover",
        "tinykv serve",
    ] {
        assert!(writes(w), "{w}");
    }
    for r in [
        "tinykv get k",
        "tinykv keys",
        "tinykv dump",
        "tinykv count",
        "tinykv exists k",
        "tinykv stats",
        "tinykv check",
        "tinykv backup dest",
        "tinykv",
    ] {
        assert!(!writes(r), "{r}");
    }
}

#[test]
fn history_file_is_chosen_for_the_repl_only() {
    let env = &[("HOME", "/h"), ("XDG_STATE_HOME", "/s")];
    let c = resolve(&["tinykv"], true, env).unwrap();
    assert_eq!(c.history, Some(PathBuf::from("/s/tinykv/history")));
    let c = resolve(
        &["tinykv"],
        true,
        &[("HOME", "/h"), ("TINYKV_HISTFILE", "/dev/null")],
    )
    .unwrap();
    assert_eq!(c.history, None);
    let c = resolve(
        &["tinykv"],
        true,
        &[("HOME", "/h"), ("TINYKV_HISTFILE", "/t/h")],
    )
    .unwrap();
    assert_eq!(c.history, Some(PathBuf::from("/t/h")));
    let c = resolve(&["tinykv"], true, &[("HOME", "/h")]).unwrap();
    assert_eq!(
        c.history,
        Some(PathBuf::from("/h/.local/state/tinykv/history"))
    );
    assert_eq!(
        resolve(&["tinykv", "stats"], false, env).unwrap().history,
        None
    );
}

#[test]
fn serve_settings_are_checked_with_the_rest() {
    let env = &[("HOME", "/h")];
    let c = resolve(&["tinykv", "serve", "--listen", "6390"], false, env).unwrap();
    let serve = c.serve.unwrap();
    assert_eq!(serve.addrs, vec!["127.0.0.1:6390".parse().unwrap()]);
    assert_eq!(serve.max_clients, 10_000);
    assert!(
        resolve(&["tinykv", "stats"], false, env)
            .unwrap()
            .serve
            .is_none()
    );
    let err = |args: &str| {
        let argv: Vec<&str> = args.split(' ').collect();
        resolve(&argv, false, env).unwrap_err().to_string()
    };
    assert!(err("tinykv serve --requirepass=").starts_with("the password is empty"));
    assert_eq!(
        err("tinykv serve --max-clients 0"),
        "--max-clients must be at least 1"
    );
    // The password first, then the address, then the number of clients.
    let both = err("tinykv serve --listen 0.0.0.0:1 --max-clients 0");
    assert!(both.starts_with("refusing to serve on 0.0.0.0:1"), "{both}");
    let both = err("tinykv serve --requirepass= --listen nowhere");
    assert!(both.starts_with("the password is empty"), "{both}");
}

#[test]
fn push_takes_its_password_from_rediscli_auth() {
    let argv = ["tinykv", "push", "redis://h:1"];
    let c = resolve(&argv, false, &[("HOME", "/h"), ("REDISCLI_AUTH", "pw")]).unwrap();
    assert_eq!(c.redis_auth.as_deref(), Some(&b"pw"[..]));
    let c = resolve(&argv, false, &[("HOME", "/h"), ("REDISCLI_AUTH", "")]).unwrap();
    assert_eq!(c.redis_auth, None, "set but empty: no password");
}

#[test]
fn generate_needs_no_home() {
    let c = resolve(&["tinykv", "generate", "man"], false, &[]).unwrap();
    assert!(matches!(c.mode, Mode::Generate(Generated::Man)));
}
