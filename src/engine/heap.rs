//! Binary min-heaps of handles (indices of a merge's sources) ordered by a
//! comparison the caller gives, for the two merges that step sources in key
//! order (iter/merge.rs, bulk/merge.rs): the keys live in the sources and
//! change as they step, so the heap holds no key of its own (bulk/merge.rs's
//! handles carry a copy of a key's first 16 bytes, made again when the
//! source steps).
//!
//! Invariant: no handle comes before its parent (`before(heap[i],
//! heap[(i - 1) / 2])` is false for every `i > 0`), so none comes before
//! `heap[0]`.

/// Moves the handle at `at` down until no child comes before it.
pub(super) fn sift_down<T: Copy>(heap: &mut [T], mut at: usize, before: impl Fn(T, T) -> bool) {
    loop {
        let (l, r) = (2 * at + 1, 2 * at + 2);
        let mut first = at;
        if l < heap.len() && before(heap[l], heap[first]) {
            first = l;
        }
        if r < heap.len() && before(heap[r], heap[first]) {
            first = r;
        }
        if first == at {
            return;
        }
        heap.swap(at, first);
        at = first;
    }
}

/// Moves the handle at `at` up while it comes before its parent.
pub(super) fn sift_up<T: Copy>(heap: &mut [T], mut at: usize, before: impl Fn(T, T) -> bool) {
    while at > 0 {
        let up = (at - 1) / 2;
        if !before(heap[at], heap[up]) {
            return;
        }
        heap.swap(at, up);
        at = up;
    }
}

#[cfg(test)]
mod tests;
