//! Merging a bulk load's sorted runs: each run read in order through a
//! bounded window ([`RunReader`]), the runs' current records kept in a
//! heap by key (newest run first on a tie), and the newest record of each
//! key handed on, once.
//!
//! Invariants: reads go past the handle's block cache (a merge reads each
//! byte once), and a run's reader hands back to the system's cache what it
//! has passed ([`DropBehind`]); a reader holds at most its window's bytes
//! (a record longer than that is copied from its file in pieces, its CRC
//! checked as they go, never read whole); every record's length is
//! checked against the limits and the file before it is read, and its CRC
//! before it is used.

use std::cmp::Ordering;
use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::output::{OUT_BUF, Output};
use crate::engine::record::{self, MAX_HEADER_LEN, Tag};
use crate::engine::storage::{DropBehind, StorageFile, Uncached, read_exact_at};
use crate::engine::{Error, Result, dir, heap, short_keys};

/// The largest window a reader has (and a batch's reader's).
pub(super) const WINDOW: usize = 256 * 1024;
/// The smallest.
const MIN_WINDOW: usize = 4 * 1024;

/// What a merge's readers' windows share at most (less when a run's
/// buffer is smaller). The merge takes one record at a time from any of
/// its runs, so a record is first touched long after its window was read;
/// windows that fit in a core's cache may still hold it then. The merge
/// of a 100M-pair load's 740 runs took 48.5-66.7 s (median 52.3, 5 runs)
/// with 16 MiB (22 KiB a window), 41.0-47.3 s (4 runs) with 2 MiB (4 KiB
/// a window, 3 MiB in all) and the heap's comparison without a branch
/// (`Merge::sift_down`; with 2 MiB and the branching comparison,
/// 54.4-57.7 s).
pub(super) const WINDOWS: usize = 2 * 1024 * 1024;

/// The window of each of `readers` readers sharing `budget` bytes: 256 KiB
/// for up to 8 sharing 2 MiB, 28 KiB for 74, 4 KiB from 512 on; never
/// less than 4 KiB (more than the budget when the runs are many or
/// small).
/// A record whose header and key do not fit its window is read into a
/// larger one while the reader stands on it (keys are at most 64 KiB).
pub(super) fn window(budget: usize, readers: usize) -> usize {
    (budget / readers.max(1)).clamp(MIN_WINDOW, WINDOW)
}

/// A run, read record by record in key order.
pub(in crate::engine) struct RunReader {
    file: Arc<dyn StorageFile>,
    path: PathBuf,
    /// Where the records end.
    len: u64,
    /// Records are batch records (`BatchPut`/`BatchDelete`, an unfinished
    /// batch read back from the active log), each read whole, however long.
    batch: bool,
    /// Where the record after the current one starts.
    next: u64,
    /// The most `win` holds, unless one record's header and key need more.
    window: usize,
    win: Vec<u8>,
    /// File offset of `win[0]`.
    win_at: u64,
    cur: Option<Current>,
    /// A run's pages the merge has passed, handed back to the system as
    /// it goes and whole at the run's end: a run is read once and removed
    /// (without it, a 100M-pair load's merge read back from the disk the
    /// runs its outputs had pushed out of the cache). A batch's reader
    /// hands back nothing: the active log stays.
    behind: DropBehind,
}

/// The record a reader stands on.
#[derive(Clone, Copy)]
struct Current {
    at: u64,
    total: usize,
    header_len: usize,
    key_len: usize,
    tag: Tag,
    expires_at: Option<u64>,
    crc: u32,
}

impl RunReader {
    /// A reader standing on the first record of the run in `file` (its
    /// log header checked), through a window of `window` bytes.
    pub fn new(file: Arc<dyn StorageFile>, path: PathBuf, window: usize) -> Result<RunReader> {
        let len = dir::len(&*file, &path)?;
        dir::check_log_header(&Uncached(&*file), &path)?;
        let start = record::FILE_HEADER_LEN as u64;
        RunReader::start(file, path, start, len, window, false)
    }

    /// A reader of the batch records from `start` to `end` of the log in
    /// `file`, each read whole (so its value can be handed on).
    pub fn batch(
        file: Arc<dyn StorageFile>,
        path: PathBuf,
        start: u64,
        end: u64,
    ) -> Result<RunReader> {
        RunReader::start(file, path, start, end, WINDOW, true)
    }

    fn start(
        file: Arc<dyn StorageFile>,
        path: PathBuf,
        start: u64,
        len: u64,
        window: usize,
        batch: bool,
    ) -> Result<RunReader> {
        let mut r = RunReader {
            file,
            path,
            len,
            batch,
            next: start,
            window,
            win: Vec::new(),
            win_at: 0,
            cur: None,
            behind: DropBehind::at(0),
        };
        r.advance()?;
        Ok(r)
    }

    /// Whether the run is read to its end.
    pub fn done(&self) -> bool {
        self.cur.is_none()
    }

    fn corrupt(&self, at: u64, why: impl Into<String>) -> Error {
        Error::corrupt(&self.path, at, why)
    }

    /// Makes `n` bytes from file offset `at` (inside the file) readable in
    /// the window.
    fn ensure(&mut self, at: u64, n: usize) -> Result<()> {
        let end = self.win_at + self.win.len() as u64;
        if at >= self.win_at && at + n as u64 <= end {
            return Ok(());
        }
        let want = (n.max(self.window) as u64).min(self.len - at) as usize;
        if want <= self.window && self.win.capacity() > self.window {
            // A long key's header and key needed more: not kept.
            self.win = Vec::new();
        }
        self.win.clear();
        self.win.resize(want, 0);
        read_exact_at(&Uncached(&*self.file), &mut self.win, at)
            .map_err(|e| Error::io("read", &self.path, e))?;
        self.win_at = at;
        if !self.batch {
            self.behind.passed(&*self.file, at);
        }
        Ok(())
    }

    /// Moves to the next record (or the end), checking it.
    pub fn advance(&mut self) -> Result<()> {
        let at = self.next;
        if at >= self.len {
            self.cur = None;
            if !self.batch {
                self.behind.upto(&*self.file, self.len);
            }
            return Ok(());
        }
        let head = (self.len - at).min(MAX_HEADER_LEN as u64) as usize;
        self.ensure(at, head)?;
        let s = (at - self.win_at) as usize;
        let h = record::decode_header(&self.win[s..s + head])
            .map_err(|e| self.corrupt(at, e.to_string()))?;
        let total = h.total_len();
        if at + total as u64 > self.len {
            return Err(self.corrupt(at, "a record runs past the end of the file"));
        }
        let allowed = if self.batch {
            matches!(h.tag, Tag::BatchPut | Tag::BatchDelete)
        } else {
            matches!(h.tag, Tag::Put | Tag::Delete)
        };
        if !allowed {
            return Err(self.corrupt(at, "not a record of this batch or run"));
        }
        // A record that fits the window is read whole and checked now; a
        // longer one, its header and key only (checked as it is copied).
        let whole = self.batch || total <= self.window;
        let visible = if whole {
            total
        } else {
            h.header_len + h.key_len
        };
        self.ensure(at, visible)?;
        if whole {
            let s = (at - self.win_at) as usize;
            record::decode(&self.win[s..s + total]).map_err(|e| self.corrupt(at, e.to_string()))?;
        }
        self.cur = Some(Current {
            at,
            total,
            header_len: h.header_len,
            key_len: h.key_len,
            tag: h.tag,
            expires_at: h.expires_at,
            crc: h.crc,
        });
        self.next = at + total as u64;
        Ok(())
    }

    fn current(&self) -> Current {
        self.cur
            .expect("a reader is read only while it stands on a record")
    }

    /// The current record's key.
    pub fn key(&self) -> &[u8] {
        let c = self.current();
        let s = (c.at - self.win_at) as usize + c.header_len;
        &self.win[s..s + c.key_len]
    }

    /// The current record, read whole (a reader of a batch's records).
    pub fn record(&self) -> record::Record<'_> {
        let c = self.current();
        debug_assert!(self.batch, "only a batch's records are read whole");
        let s = (c.at - self.win_at) as usize;
        // Checked by `advance`: decoded again without hashing.
        let (rec, _) = record::decode_with(&self.win[s..s + c.total], |_| c.crc)
            .expect("a record checked by advance decodes");
        rec
    }

    /// Appends the current record, as it is, to `out`.
    pub fn copy_to(&mut self, out: &mut Output) -> Result<()> {
        let c = self.current();
        let delete = c.tag.is_delete();
        if c.total <= self.window {
            let s = (c.at - self.win_at) as usize;
            let key = s + c.header_len..s + c.header_len + c.key_len;
            return out.record(
                &self.win[key.clone()],
                &self.win[s..s + c.total],
                delete,
                c.expires_at,
            );
        }
        // A long record: copied in pieces, its CRC checked on the way; the
        // key is kept aside, since the window is reused for the pieces.
        let key = self.key().to_vec();
        let start = out.size();
        out.noted(&key, delete, start, c.total as u32, c.expires_at)?;
        let mut crc = crc32fast::Hasher::new();
        let mut piece = vec![0u8; c.total.min(OUT_BUF)];
        let mut done = 0usize;
        while done < c.total {
            let n = (c.total - done).min(piece.len());
            read_exact_at(&Uncached(&*self.file), &mut piece[..n], c.at + done as u64)
                .map_err(|e| Error::io("read", &self.path, e))?;
            // The CRC covers every byte after the CRC field.
            let skip = 4usize.saturating_sub(done).min(n);
            crc.update(&piece[skip..n]);
            out.write_through(&piece[..n])?;
            done += n;
        }
        if crc.finalize() != c.crc {
            return Err(self.corrupt(c.at, record::DecodeError::CrcMismatch.to_string()));
        }
        Ok(())
    }
}

/// The runs' readers in a heap by their current key, the newest run (the
/// highest index) first on a tie.
pub(super) struct Merge {
    readers: Vec<RunReader>,
    heap: Vec<Slot>,
    /// The key last handed on, to pass over older records of it.
    last: Vec<u8>,
    started: bool,
}

/// A reader in the heap, with the first 16 bytes of its current key as
/// one number (big-endian, zero-padded): most comparisons settle on it
/// and touch no reader (a merge of 740 runs reads keys spread over 16 MiB
/// of windows); equal ones compare the keys.
#[derive(Clone, Copy)]
struct Slot {
    prefix: u128,
    reader: usize,
}

impl Slot {
    fn of(readers: &[RunReader], reader: usize) -> Slot {
        let key = readers[reader].key();
        let (hi, lo) = (
            short_keys::padded_word(key, 0),
            short_keys::padded_word(key, 8),
        );
        Slot {
            prefix: (hi as u128) << 64 | lo as u128,
            reader,
        }
    }
}

/// Whether `a` comes before `b`, the first 16 bytes of their keys alike:
/// by their whole keys, then the newer run first.
#[cold]
#[inline(never)]
fn tied(readers: &[RunReader], a: Slot, b: Slot) -> bool {
    match short_keys::cmp(readers[a.reader].key(), readers[b.reader].key()) {
        Ordering::Less => true,
        Ordering::Greater => false,
        Ordering::Equal => a.reader > b.reader,
    }
}

impl Merge {
    /// A merge of `readers`, oldest run first.
    pub fn new(readers: Vec<RunReader>) -> Merge {
        let heap: Vec<Slot> = (0..readers.len())
            .filter(|&i| !readers[i].done())
            .map(|i| Slot::of(&readers, i))
            .collect();
        let mut m = Merge {
            readers,
            heap,
            last: Vec::new(),
            started: false,
        };
        for i in (0..m.heap.len() / 2).rev() {
            m.sift_down(i);
        }
        m
    }

    fn sift_down(&mut self, at: usize) {
        let readers = &self.readers;
        // Unequal prefixes (nearly every comparison) decide without a
        // branch: with random keys, which child comes first is a coin
        // toss at every level, which no branch predictor learns.
        heap::sift_down(&mut self.heap, at, |a, b| {
            if a.prefix != b.prefix {
                a.prefix < b.prefix
            } else {
                tied(readers, a, b)
            }
        });
    }

    /// The reader holding the next key's newest record, passing over the
    /// older records of the key handed on last; `None` at the end.
    pub fn peek(&mut self) -> Result<Option<&mut RunReader>> {
        while let Some(&Slot { reader: top, .. }) = self.heap.first() {
            if self.started && short_keys::eq(self.readers[top].key(), &self.last) {
                self.step(top)?;
                continue;
            }
            return Ok(Some(&mut self.readers[top]));
        }
        Ok(None)
    }

    /// Marks the record [`peek`](Self::peek) gave as handed on, and moves
    /// past it.
    pub fn consume(&mut self) -> Result<()> {
        let top = self.heap[0].reader;
        self.last.clear();
        self.last.extend_from_slice(self.readers[top].key());
        self.started = true;
        self.step(top)
    }

    /// Advances reader `top` (at the heap's top) and restores the heap.
    fn step(&mut self, top: usize) -> Result<()> {
        self.readers[top].advance()?;
        if self.readers[top].done() {
            let last = self.heap.len() - 1;
            self.heap.swap(0, last);
            self.heap.pop();
        } else {
            self.heap[0] = Slot::of(&self.readers, top);
        }
        if !self.heap.is_empty() {
            self.sift_down(0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
