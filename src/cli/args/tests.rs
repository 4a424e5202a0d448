//! Tests of `args`.

use super::*;
use clap::CommandFactory;

#[test]
fn definitions_are_consistent() {
    Args::command().debug_assert();
    SessionLine::command().debug_assert();
}

#[test]
fn wait_takes_fractions_and_refuses_negatives() {
    assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
    assert!(parse_seconds("-1").is_err());
    assert!(parse_seconds("soon").is_err());
    assert!(parse_seconds("inf").is_err());
}

#[test]
fn durations() {
    for (text, secs) in [
        ("90", 90),
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("7d", 604_800),
    ] {
        assert_eq!(parse_duration(text), Ok(secs), "{text}");
    }
    for bad in [
        "",
        "0",
        "0s",
        "1.5h",
        "-5",
        "5x",
        "m",
        "5 m",
        "99999999999999999999d",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

#[test]
fn value_may_start_with_a_dash() {
    let args = Args::try_parse_from(["tinykv", "set", "n", "-5"]).unwrap();
    match args.command {
        Some(Command::Set { value, .. }) => assert_eq!(value, Some("-5".into())),
        other => panic!("{other:?}"),
    }
}
