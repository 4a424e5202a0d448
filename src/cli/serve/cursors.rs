//! SCAN cursors: Redis clients expect a decimal number (0 = start, and 0
//! back = done), but a walk of tinykv's sorted keys resumes after a key, and
//! a key can be 64 KiB. So the server keeps a table from cursor numbers to
//! the last key a SCAN returned.
//!
//! The table is server-wide, not per connection, because client libraries
//! with connection pools carry on a SCAN on whichever connection is free.
//! An entry stays after it is used, so a client that lost a reply can send
//! the same cursor again.
//!
//! Invariants: the table is bounded, in entries and in key bytes; when full,
//! cursors already resumed go first, oldest first (a walk in progress
//! always holds its newest one, unused), then the oldest unused ones, so
//! that one client walking a million keys does not push out another
//! client's paused scan (serve review); a forgotten or made-up cursor is an
//! error, never a silent
//! restart that would loop a client forever. Numbers start from a value
//! derived from the clock and the pid, so a cursor from an earlier run of
//! the server is very unlikely to resume somewhere else; they stay below
//! 2^53 so clients that parse them as doubles (JavaScript) keep them exact.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Most cursors kept.
const MAX_ENTRIES: usize = 65_536;
/// Most key bytes kept in them.
const MAX_BYTES: usize = 64 * 1024 * 1024;
/// Cursor numbers stay below this.
const LIMIT: u64 = 1 << 53;

#[derive(Debug)]
struct Table {
    next: u64,
    /// Each cursor's key, and whether it was resumed.
    keys: HashMap<u64, (Vec<u8>, bool)>,
    /// Every cursor, oldest first (and ids already evicted, skipped).
    order: VecDeque<u64>,
    /// Cursors resumed at least once, in the order of their first resume
    /// (and ids already evicted, skipped).
    resumed: VecDeque<u64>,
    bytes: usize,
}

impl Table {
    /// Removes the cursor that should go first; false when none is left.
    fn evict_one(&mut self) -> bool {
        while let Some(id) = self.resumed.pop_front() {
            if let Some((k, _)) = self.keys.remove(&id) {
                self.bytes -= k.len();
                return true;
            }
        }
        while let Some(id) = self.order.pop_front() {
            if let Some((k, _)) = self.keys.remove(&id) {
                self.bytes -= k.len();
                return true;
            }
        }
        false
    }

    /// Drops the ids of evicted cursors from both queues once they make up
    /// most of them, so the queues stay within a few times the table.
    fn tidy(&mut self) {
        let Table {
            keys,
            order,
            resumed,
            ..
        } = self;
        if order.len() > 2 * MAX_ENTRIES.max(keys.len()) {
            order.retain(|id| keys.contains_key(id));
        }
        if resumed.len() > 2 * MAX_ENTRIES.max(keys.len()) {
            resumed.retain(|id| keys.contains_key(id));
        }
    }
}

/// The server's cursors.
#[derive(Debug)]
pub struct Cursors {
    table: Mutex<Table>,
}

impl Default for Cursors {
    fn default() -> Self {
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = clock ^ (u64::from(std::process::id()) << 32);
        Cursors::starting_at(seed % (LIMIT / 2) + 1)
    }
}

impl Cursors {
    fn starting_at(first: u64) -> Cursors {
        Cursors {
            table: Mutex::new(Table {
                next: first,
                keys: HashMap::new(),
                order: VecDeque::new(),
                resumed: VecDeque::new(),
                bytes: 0,
            }),
        }
    }

    /// A new cursor that resumes after `key`.
    pub fn save(&self, key: Vec<u8>) -> u64 {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let id = t.next;
        t.next = if t.next + 1 >= LIMIT { 1 } else { t.next + 1 };
        t.bytes += key.len();
        t.keys.insert(id, (key, false));
        t.order.push_back(id);
        while (t.keys.len() > MAX_ENTRIES || t.bytes > MAX_BYTES) && t.evict_one() {}
        t.tidy();
        id
    }

    /// The key cursor `id` resumes after, if the table still has it. It
    /// stays (a client that lost the reply may send it again), first in
    /// line to go when the table is full.
    pub fn resume(&self, id: u64) -> Option<Vec<u8>> {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let (key, resumed) = t.keys.get_mut(&id)?;
        let key = key.clone();
        if !std::mem::replace(resumed, true) {
            t.resumed.push_back(id);
        }
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_resumes_again() {
        let c = Cursors::default();
        let a = c.save(b"k1".to_vec());
        let b = c.save(b"k2".to_vec());
        assert_ne!(a, b);
        assert!(a != 0 && a < LIMIT);
        assert_eq!(c.resume(a).as_deref(), Some(&b"k1"[..]));
        assert_eq!(c.resume(a).as_deref(), Some(&b"k1"[..]));
        assert_eq!(c.resume(b).as_deref(), Some(&b"k2"[..]));
        assert_eq!(c.resume(b + 1000), None);
    }

    #[test]
    fn oldest_go_first_when_full() {
        let c = Cursors::starting_at(LIMIT - 2);
        let first = c.save(vec![b'x'; MAX_BYTES / 2]);
        let second = c.save(vec![b'y'; MAX_BYTES / 2]);
        let third = c.save(b"z".to_vec());
        assert_eq!(third, 1, "numbers wrap below 2^53 and skip 0");
        assert_eq!(c.resume(first), None);
        assert!(c.resume(second).is_some());
        assert!(c.resume(third).is_some());
    }

    /// Regression (serve review): one client's `--scan` of a million keys
    /// (100,000 cursors) pushed out another client's paused scan. The
    /// cursors a walk has resumed go first; its newest one and the paused
    /// scan's stay.
    #[test]
    fn a_long_walk_does_not_push_out_a_paused_scan() {
        let c = Cursors::starting_at(1);
        let paused = c.save(b"paused at".to_vec());
        let mut cursor = c.save(b"k0".to_vec());
        for i in 1..3 * MAX_ENTRIES {
            assert!(c.resume(cursor).is_some(), "step {i}");
            cursor = c.save(format!("k{i}").into_bytes());
        }
        assert_eq!(c.resume(paused).as_deref(), Some(&b"paused at"[..]));
        assert!(c.resume(cursor).is_some());
        let t = c.table.lock().unwrap();
        assert!(t.keys.len() <= MAX_ENTRIES);
        assert!(t.order.len() <= 2 * MAX_ENTRIES + 1 && t.resumed.len() <= 2 * MAX_ENTRIES + 1);
    }

    #[test]
    fn unused_cursors_go_oldest_first_once_no_resumed_one_is_left() {
        let c = Cursors::starting_at(1);
        let ids: Vec<u64> = (0..MAX_ENTRIES + 2)
            .map(|i| c.save(vec![i as u8]))
            .collect();
        assert_eq!(c.resume(ids[0]), None);
        assert_eq!(c.resume(ids[1]), None);
        assert!(c.resume(ids[2]).is_some());
        // ids[2] was resumed: it goes before the unused ids[3].
        c.save(b"more".to_vec());
        assert_eq!(c.resume(ids[2]), None);
        assert!(c.resume(ids[3]).is_some());
    }
}
