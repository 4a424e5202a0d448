//! The memory all connections together may hold for requests: the part of
//! a request still arriving, and every request that has arrived and is not
//! done yet (in a connection's batch, waiting behind another, queued for a
//! worker or for the writer thread, being written). One request is already
//! held to its limits by the parser (a 256 MiB bulk, 512 MiB in all), but
//! many connections each sending a large request could still add up to
//! more memory than the machine has, above all while a compaction holds
//! every write back; this budget bounds their sum.
//!
//! Each connection holds up to [`FREE`] bytes without asking (so ordinary
//! commands never touch the shared counter) and reserves the rest from the
//! budget in steps of [`STEP`] as the bytes arrive. A request's bytes stay
//! reserved until its reply is back (they are "kept"), not merely until it
//! is parsed: what waits in the writer's queue is as real as what is still
//! on the wire.
//!
//! When the budget is spent, a connection that is reading a request stops
//! reading (back-pressure: the client's sends block) as long as some kept
//! bytes will come back without its help ([`Budget::kept`] is not zero:
//! parsed requests finish on their own); only when every reserved byte
//! belongs to requests still arriving, which could otherwise wait for each
//! other forever, is the request refused.
//!
//! A connection also holds bytes for as long as it likes: the commands
//! queued between MULTI and EXEC, and the keys it WATCHes. They are
//! "parked": reserved like the rest, but not counted as kept, since they
//! come back only when the client sends EXEC, DISCARD or UNWATCH, so a
//! request never waits for them; when only parked bytes and requests
//! still arriving hold the budget, the request is refused as above.
//!
//! Invariants: the sum of reservations never exceeds the total; a
//! reservation shrinks when its requests are done and is given back
//! whole when its connection ends (on drop), so the budget cannot leak;
//! [`Budget::kept`] is the sum of every connection's kept bytes as of its
//! last [`Reservation::settle`] (published then, not at every request, so
//! that a GET, kept and done in one go, touches no shared counter).

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
    kept: AtomicUsize,
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
            kept: AtomicUsize::new(0),
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

    /// Bytes of parsed requests not done yet, over every connection.
    pub fn kept(&self) -> usize {
        self.kept.load(Ordering::Relaxed)
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

/// One connection's share of the budget: it covers the connection's kept
/// bytes plus the request it is reading.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a Budget,
    held: usize,
    kept: usize,
    /// Bytes held until the client lets them go (see the module doc).
    parked: usize,
    /// What [`Budget::kept`] counts of `kept`.
    published: usize,
}

impl<'a> Reservation<'a> {
    /// Nothing reserved yet.
    pub fn new(budget: &'a Budget) -> Reservation<'a> {
        Reservation {
            budget,
            held: 0,
            kept: 0,
            parked: 0,
            published: 0,
        }
    }

    /// Bytes stay with the connection until it lets them go (a command
    /// queued after MULTI, watched keys): a kept request's, once it is
    /// `done`, or new ones.
    pub fn park(&mut self, bytes: usize) {
        self.parked += bytes;
    }

    /// Parked bytes are let go of (DISCARD, UNWATCH), or become part of
    /// a request in flight (`keep` them then: EXEC).
    pub fn unpark(&mut self, bytes: usize) {
        self.parked -= bytes.min(self.parked);
    }

    /// A parsed request of `bytes` stays with the connection until it is
    /// done (its bytes were covered while it was read).
    pub fn keep(&mut self, bytes: usize) {
        self.kept += bytes;
    }

    /// A kept request of `bytes` is done.
    pub fn done(&mut self, bytes: usize) {
        self.kept -= bytes.min(self.kept);
    }

    /// Makes [`Budget::kept`] count this connection's kept bytes now.
    pub fn publish(&mut self) {
        if self.kept > self.published {
            let more = self.kept - self.published;
            self.budget.kept.fetch_add(more, Ordering::Relaxed);
        } else if self.kept < self.published {
            let less = self.published - self.kept;
            self.budget.kept.fetch_sub(less, Ordering::Relaxed);
        }
        self.published = self.kept;
    }

    /// Covers the kept bytes and a request being read that holds
    /// `reading`; false when the budget is spent.
    pub fn cover(&mut self, reading: usize) -> bool {
        let needed = self.needed(reading);
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

    /// Publishes the kept bytes, and gives back the whole steps that they
    /// and `reading` no longer need (never less than they need, so no step
    /// is taken and given back on every request).
    pub fn settle(&mut self, reading: usize) {
        self.publish();
        let keep = self.needed(reading).div_ceil(STEP) * STEP;
        if keep < self.held {
            self.budget.give(self.held - keep);
            self.held = keep;
        }
    }

    fn needed(&self, reading: usize) -> usize {
        (self.kept + self.parked + reading).saturating_sub(FREE)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.kept = 0;
        self.parked = 0;
        self.publish();
        if self.held > 0 {
            self.budget.give(self.held);
        }
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
        a.settle(0);
        assert_eq!(budget.used(), STEP);
        assert!(b.cover(FREE + 2 * STEP));
        drop(b);
        drop(a);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn kept_requests_stay_reserved_until_done() {
        let budget = Budget::new(4 * STEP);
        let mut r = Reservation::new(&budget);
        // A request of 2 MiB arrives...
        assert!(r.cover(2 * STEP));
        let reserved = budget.used();
        assert!(reserved >= 2 * STEP - FREE);
        // ...is parsed and queued: still reserved, now kept.
        r.keep(2 * STEP);
        assert_eq!(budget.kept(), 0, "published when settled");
        r.settle(0);
        assert_eq!(budget.used(), reserved);
        assert_eq!(budget.kept(), 2 * STEP);
        // The next one cannot have more than what is left.
        assert!(r.cover(2 * STEP));
        assert!(!r.cover(3 * STEP));
        // Once the first is done, its bytes come back.
        r.done(2 * STEP);
        r.settle(0);
        assert_eq!(budget.kept(), 0);
        assert_eq!(budget.used(), 0);
        r.keep(STEP);
        drop(r);
        assert_eq!((budget.used(), budget.kept()), (0, 0));
    }

    #[test]
    fn parked_bytes_stay_reserved_but_are_never_waited_for() {
        let budget = Budget::new(4 * STEP);
        let mut r = Reservation::new(&budget);
        assert!(r.cover(FREE + 2 * STEP));
        r.keep(FREE + 2 * STEP);
        r.done(FREE + 2 * STEP);
        r.park(FREE + 2 * STEP);
        r.settle(0);
        assert_eq!(budget.kept(), 0, "nothing will come back by itself");
        assert_eq!(budget.used(), 2 * STEP);
        assert!(!r.cover(3 * STEP));
        r.unpark(2 * STEP);
        r.settle(0);
        assert_eq!(budget.used(), 0);
        drop(r);
        assert_eq!(budget.used(), 0);
    }
}
