//! [`Pending`]: what a batch writer holds of its writes in memory until it
//! spills or commits.

use crate::engine::{MemSlot, short_keys};

/// A batch's keys, back to back, and each write's key span and slot, in log
/// order.
#[derive(Debug, Default)]
pub(in crate::engine) struct Pending {
    keys: Vec<u8>,
    /// (key start, key length, slot).
    pub(super) slots: Vec<(u64, u32, MemSlot)>,
}

impl Pending {
    pub(super) fn push(&mut self, key: &[u8], slot: MemSlot) {
        self.slots
            .push((self.keys.len() as u64, key.len() as u32, slot));
        self.keys.extend_from_slice(key);
    }

    /// The memory its keys and slots take.
    pub(super) fn bytes(&self) -> u64 {
        let slot = std::mem::size_of::<(u64, u32, MemSlot)>();
        (self.keys.capacity() + self.slots.capacity() * slot) as u64
    }

    pub(in crate::engine) fn key(&self, i: usize) -> &[u8] {
        let (at, len, _) = self.slots[i];
        &self.keys[at as usize..at as usize + len as usize]
    }

    pub(in crate::engine) fn slot(&self, i: usize) -> MemSlot {
        self.slots[i].2
    }

    /// The writes in key order, only the last one of each key.
    /// `in_order`: the keys were written in strictly increasing order.
    pub(in crate::engine) fn sorted(&self, in_order: bool) -> Vec<usize> {
        let n = self.slots.len();
        if in_order || n < 2 {
            return (0..n).collect();
        }
        // Keys often share a long prefix ("user:0000…"): sort on the eight
        // bytes after the prefix they all share, then on the whole key and
        // the log order, so most comparisons never leave the array.
        let common = (1..n).fold(self.key(0).len(), |c, i| {
            let (a, b) = (self.key(0), self.key(i));
            c.min(a.iter().zip(b).take_while(|(x, y)| x == y).count())
        });
        let prefix = |i: usize| short_keys::padded_word(self.key(i), common);
        let mut order: Vec<(u64, usize)> = (0..n).map(|i| (prefix(i), i)).collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| self.key(a.1).cmp(self.key(b.1)))
                .then(a.1.cmp(&b.1))
        });
        // Keep the last write of each key.
        let mut out: Vec<usize> = Vec::with_capacity(n);
        for (_, i) in order {
            match out.last_mut() {
                Some(last) if self.key(*last) == self.key(i) => *last = i,
                _ => out.push(i),
            }
        }
        out
    }
}
