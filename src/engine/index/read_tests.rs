//! Where a sorted index cuts its segment into parts (`Index::cut_keys`).

use super::tests::{entries, written};
use super::*;

/// The cuts are the first keys of the data blocks `j × blocks / n`, by
/// count, at every depth of the frames (a level's last frame short or
/// full); a segment of fewer blocks has fewer, a hashed one none.
#[test]
fn the_cut_keys_are_the_first_keys_of_evenly_spaced_blocks() {
    // Records of 100 bytes: a data block holds 21 of them.
    for blocks in [1, 2, 3, 31, 32, 33, 64, 65, 97, 1024, 1025, 1100] {
        let n = 21 * blocks;
        let es = entries(n, 100);
        let (_d, idx) = written(&es, Kind::Sorted, 16 + n as u64 * 100);
        let all: Vec<_> = idx.blocks_from(b"").unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(all.len(), blocks);
        for parts in [2, 3, 8] {
            let mut want: Vec<Vec<u8>> = (1..parts)
                .map(|j| j * blocks / parts)
                .filter(|&b| b > 0)
                .map(|b| all[b].first_key.clone())
                .collect();
            want.dedup();
            let cuts = idx.cut_keys(parts).unwrap();
            assert_eq!(cuts, want, "{blocks} blocks in {parts}");
        }
    }
    let es = entries(21 * 40, 100);
    let (_d, idx) = written(&es, Kind::Hashed, 16 + 21 * 40 * 100);
    assert_eq!(idx.cut_keys(2).unwrap(), Vec::<Vec<u8>>::new(), "hashed");
}
