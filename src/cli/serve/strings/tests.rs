//! Tests of `strings`.

use super::*;

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.as_bytes().to_vec()).collect()
}

#[test]
fn options_parse_like_redis() {
    let parse = |list: &[&str], c| options(&args(list), c).is_some();
    assert!(parse(&["nx", "GET", "EX", "10"], For::Set));
    assert!(parse(&["EX", "10", "EX", "20"], For::Set));
    assert!(parse(&["IFEQ", "old", "GET"], For::Set));
    assert!(parse(&["KEEPTTL", "XX"], For::Set));
    for bad in [
        &["NX", "XX"][..],
        &["IFEQ", "a", "NX"],
        &["XX", "IFEQ", "a"],
        &["IFEQ"],
        &["EX"],
        &["EX", "1", "PX", "1"],
        &["KEEPTTL", "EX", "1"],
        &["EX", "1", "KEEPTTL"],
        &["PERSIST"],
        &["BOGUS"],
    ] {
        assert!(!parse(bad, For::Set), "{bad:?}");
    }
    assert!(parse(&["PERSIST"], For::GetEx));
    assert!(parse(&["PXAT", "5"], For::GetEx));
    assert!(!parse(&["PERSIST", "EX", "1"], For::GetEx));
    assert!(!parse(&["NX"], For::GetEx));
    assert!(!parse(&["GET"], For::GetEx));
    let list = args(&["ex", "5", "Ex", "7"]);
    let o = options(&list, For::Set).unwrap();
    assert_eq!(o.expire, Some((Deadline::Seconds, &b"7"[..])));
}
