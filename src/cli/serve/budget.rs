//! The memory all connections together may hold for requests still
//! arriving. One request is already held to its limits by the parser (a
//! 256 MiB bulk, 512 MiB in all), but many connections each sending a large
//! request slowly could still add up to more memory than the machine has;
//! this budget bounds their sum.
//!
//! Each connection holds up to [`FREE`] bytes of a request without asking
//! (so ordinary commands never touch the shared counter) and reserves the
//! rest from the budget in steps of [`STEP`] as the bytes arrive.
//!
//! Invariants: the sum of reservations never exceeds the total; a
//! reservation is given back when its request completes or its connection
//! ends (on drop), so the budget cannot leak.

use std::sync::atomic::{AtomicUsize, Ordering};

/// What a connection may hold without reserving.
pub const FREE: usize = 64 * 1024;
/// Reservations grow by this much at a time.
pub const STEP: usize = 1024 * 1024;
/// The budget of a server.
pub const TOTAL: usize = 1024 * 1024 * 1024;

/// The server's budget.
#[derive(Debug)]
pub struct Budget {
    total: usize,
    used: AtomicUsize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(TOTAL)
    }
}

impl Budget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Budget {
        Budget {
            total,
            used: AtomicUsize::new(0),
        }
    }

    /// The total.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&u| u <= self.total)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// One connection's share of the budget.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a Budget,
    held: usize,
}

impl<'a> Reservation<'a> {
    /// Nothing reserved yet.
    pub fn new(budget: &'a Budget) -> Reservation<'a> {
        Reservation { budget, held: 0 }
    }

    /// Covers a request holding `bytes`; false when the budget is spent.
    pub fn cover(&mut self, bytes: usize) -> bool {
        let needed = bytes.saturating_sub(FREE);
        if needed <= self.held {
            return true;
        }
        let step = (needed - self.held).div_ceil(STEP) * STEP;
        if !self.budget.take(step) {
            return false;
        }
        self.held += step;
        true
    }

    /// Gives everything back (the request completed).
    pub fn release(&mut self) {
        if self.held > 0 {
            self.budget.give(self.held);
            self.held = 0;
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_requests_are_free_and_large_ones_are_bounded() {
        let budget = Budget::new(3 * STEP);
        let mut a = Reservation::new(&budget);
        assert!(a.cover(FREE));
        assert_eq!(budget.used(), 0);
        assert!(a.cover(FREE + 1));
        assert_eq!(budget.used(), STEP);
        assert!(a.cover(FREE + 2 * STEP));
        assert_eq!(budget.used(), 2 * STEP);
        let mut b = Reservation::new(&budget);
        assert!(b.cover(FREE + STEP));
        assert!(!b.cover(FREE + 2 * STEP), "the budget is spent");
        a.release();
        assert!(b.cover(FREE + 2 * STEP));
        drop(b);
        assert_eq!(budget.used(), 0);
    }
}
