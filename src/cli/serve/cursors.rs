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
//! the oldest cursors go first (a walk in progress always holds the newest
//! one), and a forgotten or made-up cursor is an error, never a silent
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
    keys: HashMap<u64, Vec<u8>>,
    order: VecDeque<u64>,
    bytes: usize,
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
        t.keys.insert(id, key);
        t.order.push_back(id);
        while t.order.len() > MAX_ENTRIES || t.bytes > MAX_BYTES {
            let Some(old) = t.order.pop_front() else {
                break;
            };
            if let Some(k) = t.keys.remove(&old) {
                t.bytes -= k.len();
            }
        }
        id
    }

    /// The key cursor `id` resumes after, if the table still has it.
    pub fn resume(&self, id: u64) -> Option<Vec<u8>> {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.keys.get(&id).cloned()
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
}
