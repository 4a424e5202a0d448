//! Comparing keys as a merge, a sort or a prefix check does at every
//! step, without a call into `memcmp` for keys of 8 to 16 bytes (the
//! common short keys): two words each, compared as big-endian integers,
//! which orders them as bytes do. Longer or shorter keys take the slice
//! comparison. A merge's copy of the key it takes is two words as well,
//! and a sort or search that keeps a number per key to compare first takes
//! it from here ([`padded_word`]).

use std::cmp::Ordering;

/// The word of `s` at `at` (which leaves 8 bytes), big-endian.
#[inline]
fn word(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_be_bytes(w)
}

/// `a.cmp(b)`, as bytes.
#[inline]
pub(super) fn cmp(a: &[u8], b: &[u8]) -> Ordering {
    if (8..=16).contains(&a.len()) && a.len() == b.len() {
        // Equal lengths: the last word overlaps the first when shorter
        // than 16, which changes nothing once the first words are equal.
        let n = a.len();
        return word(a, 0)
            .cmp(&word(b, 0))
            .then_with(|| word(a, n - 8).cmp(&word(b, n - 8)));
    }
    a.cmp(b)
}

/// `a == b`.
#[inline]
pub(super) fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && has_prefix(a, b)
}

/// `key.starts_with(prefix)`.
#[inline]
pub(super) fn has_prefix(key: &[u8], prefix: &[u8]) -> bool {
    let n = prefix.len();
    if n == 0 {
        return true;
    }
    if (8..=16).contains(&n) && key.len() >= n {
        return word(key, 0) == word(prefix, 0) && word(key, n - 8) == word(prefix, n - 8);
    }
    key.starts_with(prefix)
}

/// Makes `dst` a copy of `src`: a key of 8 to 16 bytes as two words, not
/// through a call into `memcpy` (what a merge does with each key it takes).
#[inline]
pub(super) fn copy(dst: &mut Vec<u8>, src: &[u8]) {
    let n = src.len();
    if (8..=16).contains(&n) {
        dst.resize(n, 0);
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
        return;
    }
    dst.clear();
    dst.extend_from_slice(src);
}

/// The eight bytes of `key` from `at` on, as a big-endian number, the
/// bytes past its end taken as zeros: two keys' words order as the keys
/// do, except that equal words leave it to the keys themselves (a key
/// and the same key followed by zeros have equal words).
#[inline]
pub(super) fn padded_word(key: &[u8], at: usize) -> u64 {
    let rest = key.get(at..).unwrap_or_default();
    let mut b = [0u8; 8];
    let n = rest.len().min(8);
    b[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests;
