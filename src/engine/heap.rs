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

/// Moves the handle at `at` down until no child comes before it. Past the
/// first level, bottom up (Floyd's way): the handle's place goes down to a
/// leaf along the children that come first, one comparison a level, each
/// child moving up into it; then the handle goes back up from there to
/// where it belongs. A merge's stepped source mostly belongs near the
/// leaves (its next key lies anywhere among the others'), so this takes
/// about half the comparisons of weighing the handle against both
/// children at every level (a 100M-pair load's merge of 740 runs spent
/// about a quarter of its time in this function). Merging 20M keys from
/// 740 runs alone: 134-135 ns a key that way, 113-114 this way; from 740
/// runs that do not overlap, 7 and 6 ns (bottom up from the top, 50).
pub(super) fn sift_down<T: Copy>(heap: &mut [T], at: usize, before: impl Fn(T, T) -> bool) {
    let len = heap.len();
    let Some(&moving) = heap.get(at) else {
        return;
    };
    let mut hole = at;
    let mut child = 2 * at + 1;
    // The first level as the plain way goes: a handle that stays first
    // (a run that keeps winning, where runs barely overlap) costs two
    // comparisons, not two a level.
    if child + 1 < len {
        child += usize::from(before(heap[child + 1], heap[child]));
    }
    if child >= len || !before(heap[child], moving) {
        return;
    }
    heap[hole] = heap[child];
    hole = child;
    child = 2 * hole + 1;
    while child + 1 < len {
        child += usize::from(before(heap[child + 1], heap[child]));
        heap[hole] = heap[child];
        hole = child;
        child = 2 * hole + 1;
    }
    if child + 1 == len {
        heap[hole] = heap[child];
        hole = child;
    }
    // Back up, never above where it started.
    while hole > at {
        let up = (hole - 1) / 2;
        if !before(moving, heap[up]) {
            break;
        }
        heap[hole] = heap[up];
        hole = up;
    }
    heap[hole] = moving;
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
