//! Short-key comparisons against the slices'.

use super::*;

/// Every pair of keys of 0 to 20 bytes that differ from a common one
/// in one byte (at every place, by values across the signed boundary),
/// or are cut short, compares as the slice comparison does, and has
/// a prefix when it does.
#[test]
fn as_the_slices_compare() {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for len in 0..=20usize {
        let base = vec![b'k'; len];
        keys.push(base.clone());
        for at in 0..len {
            for b in [0u8, 0x6a, 0x6c, 0x7f, 0x80, 0xff] {
                let mut k = base.clone();
                k[at] = b;
                keys.push(k);
            }
        }
    }
    for a in &keys {
        for b in &keys {
            assert_eq!(cmp(a, b), a.cmp(b), "{a:?} {b:?}");
            assert_eq!(has_prefix(a, b), a.starts_with(b), "{a:?} {b:?}");
            assert_eq!(eq(a, b), a == b, "{a:?} {b:?}");
        }
    }
}

/// A copy is the key, whatever the length of the key and of what the
/// destination held before.
#[test]
fn a_copy_is_the_key() {
    let of = |x: u8| -> Vec<Vec<u8>> {
        (0..=40u8)
            .map(|n| (0..n).map(|b| b ^ x).collect())
            .collect()
    };
    // What the destination held differs from every key at every byte.
    let (keys, befores) = (of(0x5a), of(0xa5));
    for before in &befores {
        for key in &keys {
            let mut dst = before.clone();
            copy(&mut dst, key);
            assert_eq!(&dst, key, "after {before:?}");
        }
    }
}

/// A padded word orders keys as the keys do wherever the words differ,
/// from every place in the key, and is the key's bytes there.
#[test]
fn padded_words_order_as_the_keys() {
    let keys: Vec<Vec<u8>> = (0..=20u8)
        .flat_map(|n| {
            [0u8, 0x01, 0x7f, 0x80, 0xff].map(|b| (0..n).map(|i| b.wrapping_add(i)).collect())
        })
        .collect();
    for at in 0..=22 {
        for a in &keys {
            let w = padded_word(a, at);
            let mut bytes = a.get(at..).unwrap_or_default().to_vec();
            bytes.resize(8.max(bytes.len()), 0);
            assert_eq!(w.to_be_bytes(), bytes[..8], "{a:?} at {at}");
            for b in &keys {
                let (sa, sb) = (
                    a.get(at..).unwrap_or_default(),
                    b.get(at..).unwrap_or_default(),
                );
                let v = padded_word(b, at);
                if w != v {
                    assert_eq!(w.cmp(&v), sa.cmp(sb), "{a:?} {b:?} at {at}");
                }
            }
        }
    }
}
