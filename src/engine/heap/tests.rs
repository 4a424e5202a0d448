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
