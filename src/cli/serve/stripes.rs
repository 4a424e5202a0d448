//! Striped key locks: what makes SET NX/XX, SET … GET and DEL atomic
//! against the other connections' writes, while plain writes to any keys
//! still reach the engine together and share its fsyncs.
//!
//! A key maps to one of [`STRIPES`] stripes by hash. A command locks the
//! stripes of its keys, all at once, in one of two modes:
//!
//! - [`Mode::Write`] for blind writes (SET, MSET): they read nothing, so
//!   any number may be in flight on a stripe at once, waiting together for
//!   one group commit; the engine orders them.
//! - [`Mode::Exclusive`] for a read then a write (SET NX/XX/GET, DEL,
//!   FLUSHDB): nothing else on the stripe runs between the check and the
//!   write.
//!
//! Reads take no stripe: a single-key read sees each write at once, and
//! MGET and EXISTS read all their keys at one moment in the engine
//! (`Db::get_many`), so they never see half of an MSET. (They used to hold
//! their stripes for reading, which made them wait behind writes queued
//! during a compaction.)
//!
//! Invariants: a holder keeps its stripes only across its own writes and
//! never waits for anything but the writer while holding them; stripes
//! are always taken in increasing order, so no two commands can wait for
//! each other; waiters are served first come, first served, so a stream of
//! blind writes cannot starve a waiting NX (and the reverse).

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::{Condvar, Mutex, MutexGuard};

/// How many stripes: enough that unrelated keys rarely share one.
pub const STRIPES: usize = 1024;

/// How a command holds its stripes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Blind writes; shared with other blind writes.
    Write,
    /// A check and a write; shared with nothing.
    Exclusive,
}

impl Mode {
    fn shares_with(self, other: Mode) -> bool {
        self == other && self != Mode::Exclusive
    }
}

#[derive(Debug, Default)]
struct State {
    /// The mode of the current holders (meaningless when `holders == 0`).
    mode: Option<Mode>,
    holders: u32,
    /// Tickets of the waiters, in arrival order.
    queue: VecDeque<u64>,
    next_ticket: u64,
}

#[derive(Debug, Default)]
struct Stripe {
    state: Mutex<State>,
    freed: Condvar,
}

impl Stripe {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn acquire(&self, mode: Mode) {
        let mut st = self.lock_state();
        let free = |st: &State| st.holders == 0 || st.mode.is_some_and(|m| m.shares_with(mode));
        if st.queue.is_empty() && free(&st) {
            st.mode = Some(mode);
            st.holders += 1;
            return;
        }
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.queue.push_back(ticket);
        while st.queue.front() != Some(&ticket) || !free(&st) {
            st = self.freed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.queue.pop_front();
        st.mode = Some(mode);
        st.holders += 1;
        // The next waiter may share this mode: let it look.
        if !st.queue.is_empty() {
            self.freed.notify_all();
        }
    }

    /// Takes the stripe only if that needs no wait (and no one is waiting).
    fn try_acquire(&self, mode: Mode) -> bool {
        let mut st = self.lock_state();
        let free = st.holders == 0 || st.mode.is_some_and(|m| m.shares_with(mode));
        if !(st.queue.is_empty() && free) {
            return false;
        }
        st.mode = Some(mode);
        st.holders += 1;
        true
    }

    fn release(&self) {
        let mut st = self.lock_state();
        st.holders -= 1;
        if st.holders == 0 {
            st.mode = None;
        }
        if !st.queue.is_empty() {
            self.freed.notify_all();
        }
    }
}

/// The server's stripes.
#[derive(Debug)]
pub struct Stripes {
    stripes: Vec<Stripe>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for Stripes {
    fn default() -> Self {
        Stripes {
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
            hasher: Default::default(),
        }
    }
}

impl Stripes {
    /// The stripe of `key`.
    pub fn of(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) % STRIPES as u64) as usize
    }

    /// Locks the stripes of `keys` in `mode` until the guard is dropped.
    pub fn lock<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>, mode: Mode) -> Held<'_> {
        let indexes = keys.into_iter().map(|k| self.of(k)).collect();
        self.lock_stripes(indexes, mode)
    }

    /// Locks the given stripes (any order, repeats allowed) in `mode`.
    pub fn lock_stripes(&self, indexes: Vec<usize>, mode: Mode) -> Held<'_> {
        let taken = self.take(indexes, |stripe| {
            stripe.acquire(mode);
            true
        });
        taken.expect("a waiting take always succeeds")
    }

    /// As [`Stripes::lock_stripes`], but only if no stripe needs a wait:
    /// for the event loop, which must never block.
    pub fn try_lock_stripes(&self, indexes: Vec<usize>, mode: Mode) -> Option<Held<'_>> {
        self.take(indexes, |stripe| stripe.try_acquire(mode))
    }

    /// Takes the stripes in increasing order (so two commands can never wait
    /// in a cycle) with `take_one`; `None`, with nothing held, as soon as
    /// one is refused. The guard is built first, so a refusal or a panic
    /// midway gives back what was taken.
    fn take(
        &self,
        mut indexes: Vec<usize>,
        take_one: impl Fn(&Stripe) -> bool,
    ) -> Option<Held<'_>> {
        indexes.sort_unstable();
        indexes.dedup();
        let mut held = Held {
            stripes: self,
            indexes: Vec::with_capacity(indexes.len()),
        };
        for i in indexes {
            if !take_one(&self.stripes[i]) {
                return None;
            }
            held.indexes.push(i);
        }
        Some(held)
    }

    /// Every stripe, exclusively (FLUSHDB).
    pub fn lock_all(&self) -> Held<'_> {
        self.lock_stripes((0..STRIPES).collect(), Mode::Exclusive)
    }
}

/// Stripes held; released on drop.
#[derive(Debug)]
pub struct Held<'a> {
    stripes: &'a Stripes,
    indexes: Vec<usize>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        for &i in self.indexes.iter().rev() {
            self.stripes.stripes[i].release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn writes_share_and_exclusive_waits() {
        let stripes = Stripes::default();
        let a = stripes.lock([&b"k"[..]], Mode::Write);
        let b = stripes.lock([&b"k"[..]], Mode::Write);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _x = stripes.lock([&b"k"[..]], Mode::Exclusive);
                tx.send(()).unwrap();
            });
            drop(a);
            // Still held by `b`: the exclusive waiter cannot have run.
            assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
            drop(b);
            rx.recv().unwrap();
        });
    }

    #[test]
    fn exclusive_holders_never_overlap() {
        let stripes = Stripes::default();
        let inside = AtomicU32::new(0);
        std::thread::scope(|s| {
            for t in 0..4 {
                let (stripes, inside) = (&stripes, &inside);
                s.spawn(move || {
                    for i in 0..500 {
                        let keys: [&[u8]; 2] = [b"a", if (i + t) % 2 == 0 { b"b" } else { b"c" }];
                        let _held = stripes.lock(keys, Mode::Exclusive);
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
            // Blind writers mixed in must not deadlock with them.
            s.spawn(|| {
                for _ in 0..500 {
                    let _held = stripes.lock([&b"b"[..], b"a"], Mode::Write);
                }
            });
        });
    }

    #[test]
    fn try_lock_never_waits() {
        let stripes = Stripes::default();
        let k = stripes.of(b"k");
        let w = stripes.try_lock_stripes(vec![k], Mode::Write).unwrap();
        assert!(stripes.try_lock_stripes(vec![k, k], Mode::Write).is_some());
        assert!(stripes.try_lock_stripes(vec![k], Mode::Exclusive).is_none());
        drop(w);
        let x = stripes.try_lock_stripes(vec![k], Mode::Exclusive).unwrap();
        let other = (k + 1) % STRIPES;
        // A failure midway gives back the stripes it took.
        assert!(
            stripes
                .try_lock_stripes(vec![other, k], Mode::Write)
                .is_none()
        );
        assert!(
            stripes
                .try_lock_stripes(vec![other], Mode::Exclusive)
                .is_some()
        );
        drop(x);
    }

    #[test]
    fn repeated_keys_take_a_stripe_once() {
        let stripes = Stripes::default();
        let held = stripes.lock([&b"k"[..], b"k", b"k"], Mode::Exclusive);
        assert_eq!(held.indexes.len(), 1);
        drop(held);
        let _again = stripes.lock([&b"k"[..]], Mode::Exclusive);
    }
}
