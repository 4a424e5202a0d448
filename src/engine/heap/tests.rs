//! Tests of the heap helpers.

use super::{sift_down, sift_up};

/// Pushing with `sift_up` and popping with `sift_down` hands out every
/// value in order, under the order given (here: larger first), with
/// duplicates.
#[test]
fn pushes_and_pops_come_out_in_the_order_given() {
    let values: Vec<u32> = (0..200u32).map(|i| i * 7919 % 61).collect();
    let before = |a: u32, b: u32| a > b;
    let mut heap = Vec::new();
    for &v in &values {
        heap.push(v);
        let at = heap.len() - 1;
        sift_up(&mut heap, at, before);
    }
    let mut out = Vec::new();
    while let Some(last) = heap.pop() {
        match heap.first_mut() {
            Some(top) => {
                out.push(std::mem::replace(top, last));
                sift_down(&mut heap, 0, before);
            }
            None => out.push(last),
        }
    }
    let mut sorted = values;
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(out, sorted);
}

/// `sift_down` from every inner position, last first (how a merge orders
/// its sources at the start), makes a heap of any size, with duplicates;
/// and moving a handle down from an inner position (here after its value
/// grew) leaves the heap whole and touches nothing above it.
#[test]
fn sifting_down_from_any_position_keeps_the_heap() {
    let before = |a: (u32, u32), b: (u32, u32)| a.0 < b.0;
    let is_heap = |h: &[(u32, u32)]| (1..h.len()).all(|i| !before(h[i], h[(i - 1) / 2]));
    for len in 0..70u32 {
        // Values with duplicates, each tagged with where it started.
        let mut heap: Vec<(u32, u32)> = (0..len).map(|i| ((i * 37 + 11) % 23, i)).collect();
        let mut values: Vec<(u32, u32)> = heap.clone();
        for at in (0..heap.len() / 2).rev() {
            sift_down(&mut heap, at, before);
        }
        assert!(is_heap(&heap), "heapified {len}: {heap:?}");
        let mut now = heap.clone();
        now.sort_unstable();
        values.sort_unstable();
        assert_eq!(now, values, "heapified {len} lost or made values");
        for at in 0..heap.len() {
            let mut grown = heap.clone();
            grown[at].0 += 7 + at as u32 % 13;
            let outside = |h: &[(u32, u32)]| -> Vec<(u32, u32)> {
                (0..h.len())
                    .filter(|&i| !is_below(i, at))
                    .map(|i| h[i])
                    .collect()
            };
            let untouched = outside(&grown);
            sift_down(&mut grown, at, before);
            assert!(is_heap(&grown), "{len}, grown at {at}: {grown:?}");
            assert_eq!(outside(&grown), untouched, "{len}, grown at {at}");
        }
    }
}

/// Whether position `i` lies in the subtree under position `root`.
fn is_below(mut i: usize, root: usize) -> bool {
    while i > root {
        i = (i - 1) / 2;
    }
    i == root
}

/// A handle that stays where it is costs two comparisons, however deep
/// the heap (a merge of runs that barely overlap steps the same run again
/// and again); one that sinks to a leaf about one a level and a few more.
#[test]
fn a_handle_that_stays_first_costs_two_comparisons() {
    let count = std::cell::Cell::new(0);
    let before = |a: u32, b: u32| {
        count.set(count.get() + 1);
        a < b
    };
    // 1023 handles, 10 levels, in order: a heap.
    let mut heap: Vec<u32> = (0..1023).map(|i| 10 + i).collect();
    heap[0] = 5;
    sift_down(&mut heap, 0, before);
    assert_eq!((heap[0], count.get()), (5, 2));
    count.set(0);
    heap[0] = 5000;
    sift_down(&mut heap, 0, before);
    assert_eq!(heap[0], 11);
    assert!((1..heap.len()).all(|i| heap[i] >= heap[(i - 1) / 2]));
    assert!(count.get() <= 12, "{} comparisons", count.get());
}
