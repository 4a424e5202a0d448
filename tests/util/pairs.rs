//! Databases of awkward pairs for the push tests: keys and values of any
//! bytes (NUL, CR LF, TAB, 0xff, UTF-8), empty values, hash tags of every
//! shape Redis reads (`{tag}`, `{}`, `{{x}}`, a `{` never closed), and
//! keys that expire; written as a tsv dump for `tinykv load`.

use std::collections::HashMap;

/// A pair and its deadline (Unix milliseconds).
pub type Pair = (Vec<u8>, Vec<u8>, Option<u64>);

/// The current time, in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `n` pairs, `prefix` in every key; every fourth expires an hour or so
/// from now.
pub fn awkward(n: usize, prefix: &str) -> Vec<Pair> {
    let now = now_ms();
    (0..n)
        .map(|i| {
            let key: Vec<u8> = match i % 6 {
                0 => format!("{{tag{}}}:{prefix}{i}", i % 7).into_bytes(),
                1 => [&b"\xff\x00\r\n\t"[..], prefix.as_bytes(), &i.to_le_bytes()].concat(),
                2 => format!("{prefix}plain:{i}").into_bytes(),
                3 => format!("{{}}{prefix}{i}{{x}}").into_bytes(),
                4 => format!("{prefix}ключ{{{{{i}}}}}").into_bytes(),
                _ => format!("{prefix}{i}{{never closed").into_bytes(),
            };
            let value: Vec<u8> = match i % 11 {
                0 => Vec::new(),
                1 => vec![0u8; 3],
                2 => b"line\r\nbreak\ttab\\".to_vec(),
                3 => (0..=255u8).collect(),
                _ => format!("value {i} {}", "x".repeat(i % 97)).into_bytes(),
            };
            let expires = (i % 4 == 0).then(|| now + 3_600_000 + i as u64);
            (key, value, expires)
        })
        .collect()
}

/// The pairs as a tsv dump (`KEY<TAB>VALUE[<TAB>EXPIRES_AT]`).
pub fn tsv(pairs: &[Pair]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v, at) in pairs {
        escape(k, &mut out);
        out.push(b'\t');
        escape(v, &mut out);
        if let Some(at) = at {
            out.extend_from_slice(format!("\t{at}").as_bytes());
        }
        out.push(b'\n');
    }
    out
}

fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
    }
}

/// Checks that `held` (key → value, PEXPIRETIME, where) holds exactly
/// `pairs`: the same keys, the same values, deadlines within a second.
pub fn same<W: std::fmt::Debug>(pairs: &[Pair], held: &HashMap<Vec<u8>, (Vec<u8>, i64, W)>) {
    assert_eq!(held.len(), pairs.len(), "the number of keys");
    for (k, v, at) in pairs {
        let Some((value, deadline, _)) = held.get(k) else {
            panic!("key {:?} did not arrive", String::from_utf8_lossy(k));
        };
        assert_eq!(value, v, "the value of {:?}", String::from_utf8_lossy(k));
        match at {
            None => assert_eq!(*deadline, -1, "{:?} expires", String::from_utf8_lossy(k)),
            Some(at) => assert!(
                (*deadline - *at as i64).abs() <= 1000,
                "{:?} expires at {deadline}, not {at}",
                String::from_utf8_lossy(k)
            ),
        }
    }
}
