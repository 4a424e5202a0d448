//! Tests of `long_double`.

use super::*;

fn sum(a: &str, b: &str) -> Option<String> {
    let a = LongDouble::parse(a.as_bytes())?;
    let b = LongDouble::parse(b.as_bytes())?;
    a.add(&b).ok()?.to_text()
}

#[test]
fn sums_print_as_redis_prints_them() {
    for (a, b, want) in [
        ("10.5", "0.1", "10.6"),
        ("0", "0.1", "0.1"),
        ("5.0e3", "2.0e2", "5200"),
        ("3", "1.1", "4.1"),
        ("0", "-0.0000000000000000001", "0"),
        ("0", "0x10", "16"),
        ("0", "+3.", "3"),
        ("3", ".5e1", "8"),
        ("1e3", "1", "1001"),
        ("0", "1e-4940", "0"),
        ("0", "0.00000000000000001", "0.00000000000000001"),
        ("0", "0.000000000000000005", "0"),
        ("0", "0.000000000000000015", "0.00000000000000002"),
        // 2^-18 has 18 decimals: the tie goes to the even digit.
        ("0", "0.000003814697265625", "0.00000381469726562"),
        ("1", "0.000003814697265635", "1.00000381469726563"),
        ("0", "-2.5", "-2.5"),
        ("1", "-1", "0"),
    ] {
        assert_eq!(sum(a, b).as_deref(), Some(want), "{a} + {b}");
    }
    let huge = "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144";
    assert_eq!(sum("0", "1e300").as_deref(), Some(huge));
}

#[test]
fn refusals_are_string2ld_refusals() {
    for bad in [
        "", " 5", "5 ", "5abc", "nan", "-nan", "1e5000", "1e-5000", "1e", ".", "e5", "0x", "1..2",
        "--1", "0xg",
    ] {
        assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
    }
    assert_eq!(LongDouble::parse(&vec![b'0'; MAX_CHARS]), None);
    assert!(LongDouble::parse(&vec![b'0'; MAX_CHARS - 1]).is_some());
    assert_eq!(
        LongDouble::parse(b"inf"),
        Some(LongDouble::Infinite { neg: false })
    );
    assert_eq!(
        LongDouble::parse(b"-Infinity"),
        Some(LongDouble::Infinite { neg: true })
    );
    assert_eq!(sum("inf", "1"), None);
    // C stops at a NUL: what follows it is never seen.
    assert_eq!(
        LongDouble::parse(b"2\0junk").and_then(|v| v.to_text()),
        Some("2".into())
    );
}

#[test]
fn overflow_is_refused_and_extremes_are_kept() {
    let max = LongDouble::parse(b"1.18973149535723176502e+4932").unwrap();
    assert_eq!(max.add(&max), Err(NotFinite));
    let text = max.to_text().unwrap();
    assert_eq!(text.len(), 4933);
    assert!(text.starts_with("118973149535723176502"));
    let tiny = LongDouble::parse(b"3.6e-4951").unwrap();
    assert_eq!(tiny.to_text().as_deref(), Some("0"));
}
