//! A sealed segment: its immutable log and its index, and the two ways to
//! read it: a point lookup ([`Segment::find`]) and an ordered walk from a
//! key ([`Segment::walk`]).
//!
//! Invariants: every record a lookup or walk returns was read whole and its
//! CRC checked (a lookup without the value checks the header and key), and
//! is the record of the key asked for; every offset and length from the
//! index is checked against the segment before it is used. Whatever does not
//! fit is corruption of the index (the caller heals it by rebuilding) or of
//! the log (reported with its file and offset).

use std::cmp::Ordering;
use std::path::PathBuf;
use std::sync::Arc;

use super::index::{BlockWalk, EntryCursor, Index, Kind, SparseEntry, key_hash};
use super::record::{self, DecodeError, FILE_HEADER_LEN, MAX_HEADER_LEN, Tag};
use super::storage::{StorageFile, read_exact_at};
use super::{Error, Result};

pub(super) use super::index::Entry;

/// What a lookup in the segments found.
pub(super) enum Found {
    /// No segment holds the key.
    Absent,
    /// The newest record is a tombstone.
    Deleted,
    /// The newest record is a put (its value, when asked for).
    Live(Option<Vec<u8>>),
}

impl Found {
    /// The value, for a get.
    pub fn into_value(self) -> Option<Vec<u8>> {
        match self {
            Found::Live(v) => v,
            Found::Deleted | Found::Absent => None,
        }
    }
}

/// Looks `key` up in `segments`, newest first, without healing anything.
pub(super) fn find(segments: &[Arc<Segment>], key: &[u8], want_value: bool) -> Result<Found> {
    for seg in segments.iter().rev() {
        let found = seg.find(key, want_value)?;
        if !matches!(found, Found::Absent) {
            return Ok(found);
        }
    }
    Ok(Found::Absent)
}

/// A sealed segment: its log and its index.
#[derive(Debug)]
pub(super) struct Segment {
    pub id: u64,
    pub log_path: PathBuf,
    pub log: Arc<dyn StorageFile>,
    pub log_len: u64,
    pub index: Arc<Index>,
}

/// Records longer than this are skipped by a lookup's block scan without
/// reading their values (so without their CRC): the records around them
/// are still checked.
const SKIP_UNREAD: usize = 64 * 1024;

/// A record found by a lookup.
struct Hit {
    tag: Tag,
    value: Option<Vec<u8>>,
}

impl Segment {
    /// Bytes of the index file.
    pub fn index_len(&self) -> u64 {
        self.index.file_len
    }

    fn idx_corrupt(&self, off: u64, why: &str) -> Error {
        Error::corrupt(self.index.path(), off, why)
    }

    fn log_corrupt(&self, off: u64, why: impl Into<String>) -> Error {
        Error::corrupt(&self.log_path, off, why)
    }

    /// Looks `key` up in this segment.
    pub fn find(&self, key: &[u8], want_value: bool) -> Result<Found> {
        // The footer's key range rules most segments out with no read.
        let f = &self.index.footer;
        if f.keys == 0 || f.first_key.after(key) || f.last_key.before(key) {
            return Ok(Found::Absent);
        }
        let hit = match f.kind {
            Kind::Hashed => self.find_hashed(key, want_value)?,
            Kind::Sorted => self.find_sorted(key, want_value)?,
        };
        Ok(match hit {
            None => Found::Absent,
            Some(h) if h.tag.is_delete() => Found::Deleted,
            Some(h) => Found::Live(h.value),
        })
    }

    fn find_hashed(&self, key: &[u8], want_value: bool) -> Result<Option<Hit>> {
        let mut hit = None;
        self.index.candidates(key, |offset| {
            if offset < FILE_HEADER_LEN as u64 || offset >= self.log_len {
                return Err(self.idx_corrupt(0, "a slot points outside its segment"));
            }
            let found = match self.read_at(offset, key, want_value) {
                Ok(r) => r,
                // The slot, not the log, is what is wrong: it points at no record.
                Err(Error::Corrupt { .. }) => {
                    return Err(self.idx_corrupt(0, "a slot points at no record"));
                }
                Err(e) => return Err(e),
            };
            match found {
                Ok(h) => {
                    hit = Some(h);
                    Ok(true)
                }
                // Another key with the same hash is a collision; a key with
                // another hash means the slot points at the wrong record.
                Err(other_hash) if other_hash != key_hash(key) => {
                    Err(self.idx_corrupt(0, "a slot points at another key's record"))
                }
                Err(_) => Ok(false),
            }
        })?;
        Ok(hit)
    }

    /// Reads the record at `offset`: when it holds `key`, its tag and (when
    /// asked) value, checking its CRC when the value is read; otherwise the
    /// hash of the key it holds.
    fn read_at(
        &self,
        offset: u64,
        key: &[u8],
        want_value: bool,
    ) -> Result<std::result::Result<Hit, u32>> {
        let room = self.log_len - offset;
        // One read of a small record whole, into the stack.
        let mut head = [0u8; 256];
        let n = (head.len() as u64).min(room) as usize;
        self.read(&mut head[..n], offset)?;
        let h = record::decode_header(&head[..n])
            .map_err(|e| self.log_corrupt(offset, e.to_string()))?;
        let total = h.total_len();
        if total as u64 > room || h.tag == Tag::BatchCommit {
            return Err(self.log_corrupt(offset, "not a keyed record"));
        }
        let key_at = h.header_len..h.header_len + h.key_len;
        let mut big = Vec::new();
        let need = if want_value { total } else { key_at.end };
        let bytes: &[u8] = if need <= n {
            &head[..need]
        } else {
            big.resize(need, 0);
            big[..n].copy_from_slice(&head[..n]);
            self.read(&mut big[n..], offset + n as u64)?;
            &big
        };
        if &bytes[key_at.clone()] != key {
            return Ok(Err(key_hash(&bytes[key_at])));
        }
        if !want_value {
            return Ok(Ok(Hit {
                tag: h.tag,
                value: None,
            }));
        }
        let (rec, _) =
            record::decode(bytes).map_err(|e| self.log_corrupt(offset, e.to_string()))?;
        Ok(Ok(Hit {
            tag: rec.tag,
            value: Some(rec.value.to_vec()),
        }))
    }

    fn read(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        read_exact_at(&*self.log, buf, offset).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => self.log_corrupt(offset, "segment cut short"),
            _ => Error::io("read", &self.log_path, e),
        })
    }

    fn find_sorted(&self, key: &[u8], want_value: bool) -> Result<Option<Hit>> {
        let Some(block) = self.index.locate(key)? else {
            return Ok(None);
        };
        // Each record's header and key are read in place (through the block
        // cache, the same few blocks), without its value. Only the record
        // that ends the search, the key's or the first one past it, is read
        // whole and its CRC checked: a record passed over is not the answer,
        // and damage to its lengths derails the walk into one that fails.
        let (mut pos, end) = (block.offset, block.offset + block.len);
        let mut head = [0u8; MAX_HEADER_LEN + 48];
        let mut prev: Vec<u8> = Vec::new();
        let mut first = true;
        while pos < end {
            let n = (head.len() as u64).min(end - pos) as usize;
            self.read(&mut head[..n], pos)?;
            let h = record::decode_header(&head[..n])
                .map_err(|e| self.log_corrupt(pos, e.to_string()))?;
            let total = h.total_len() as u64;
            if pos + total > end {
                return Err(self.idx_corrupt(0, "a data block ends inside a record"));
            }
            if h.tag == Tag::BatchCommit {
                pos += total;
                continue;
            }
            let key_end = h.header_len + h.key_len;
            let long_key;
            let rec_key: &[u8] = if key_end <= n {
                &head[h.header_len..key_end]
            } else {
                let mut k = vec![0u8; h.key_len];
                self.read(&mut k, pos + h.header_len as u64)?;
                long_key = k;
                &long_key
            };
            if first && rec_key != block.first_key.as_slice() {
                return Err(self.idx_corrupt(0, "a data block does not start with its key"));
            }
            if !first && rec_key <= prev.as_slice() {
                return Err(
                    self.idx_corrupt(0, "a sorted index describes a segment out of key order")
                );
            }
            first = false;
            let order = rec_key.cmp(key);
            if order == Ordering::Less {
                prev.clear();
                prev.extend_from_slice(rec_key);
                pos += total;
                continue;
            }
            let found = order == Ordering::Equal;
            if total as usize > SKIP_UNREAD && !(found && want_value) {
                // Too long to read only to check it; its header and key are
                // what the answer rests on.
                return Ok(found.then_some(Hit {
                    tag: h.tag,
                    value: None,
                }));
            }
            let mut whole = vec![0u8; total as usize];
            self.read(&mut whole, pos)?;
            let (rec, _) =
                record::decode(&whole).map_err(|e| self.log_corrupt(pos, e.to_string()))?;
            if !found {
                return Ok(None);
            }
            let (tag, value_at) = (rec.tag, total as usize - rec.value.len());
            let value = want_value.then(|| {
                whole.drain(..value_at);
                whole
            });
            return Ok(Some(Hit { tag, value }));
        }
        Ok(None)
    }

    /// Whether every key of this segment is greater than every key that
    /// starts with `prefix`, as the footer tells.
    pub fn starts_past(&self, prefix: &[u8]) -> bool {
        self.index.footer.keys == 0 || self.index.footer.first_key.past_prefix(prefix)
    }

    /// Whether every key of this segment is less than `key`, as the footer
    /// tells.
    pub fn ends_before(&self, key: &[u8]) -> bool {
        self.index.footer.keys == 0 || self.index.footer.last_key.before(key)
    }

    /// Walks the segment's entries in key order from the first key ≥ `from`
    /// (from the start when `from` is empty). A sorted segment's walk reads
    /// the log itself and yields values along (when `values`).
    pub fn walk(self: &Arc<Self>, from: &[u8], values: bool) -> Result<Walk> {
        let inner = match self.index.footer.kind {
            Kind::Hashed => {
                let block = if from.is_empty() {
                    None
                } else {
                    self.index.locate(from)?
                };
                WalkInner::Entries(self.index.entries_from(block.map_or(0, |b| b.offset)))
            }
            Kind::Sorted => {
                let mut blocks = self.index.blocks_from(from)?;
                let first = blocks.next().transpose()?;
                // No block: an empty segment (a compaction that kept nothing).
                let start = first.as_ref().map_or(self.log_len, |b| b.offset);
                WalkInner::Log(LogWalk {
                    seg: Arc::clone(self),
                    base: start,
                    pos: start,
                    buf: Vec::new(),
                    ahead: FIRST_READ,
                    values,
                    last: Vec::new(),
                    started: false,
                    blocks,
                    next_block: first,
                })
            }
        };
        Ok(Walk {
            inner,
            from: from.to_vec(),
            done: false,
        })
    }
}

/// An entry of a walk, with its value when the walk read it.
#[derive(Debug)]
pub(super) struct Item {
    pub entry: Entry,
    pub value: Option<Vec<u8>>,
}

/// An ordered walk over one segment; see [`Segment::walk`].
#[derive(Debug)]
pub(super) struct Walk {
    inner: WalkInner,
    /// Entries below this are skipped (the walk starts at a block boundary).
    from: Vec<u8>,
    done: bool,
}

#[derive(Debug)]
enum WalkInner {
    Entries(EntryCursor),
    Log(LogWalk),
}

impl Iterator for Walk {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Result<Item>> {
        loop {
            if self.done {
                return None;
            }
            let next = match &mut self.inner {
                WalkInner::Entries(c) => {
                    c.next().map(|r| r.map(|entry| Item { entry, value: None }))
                }
                WalkInner::Log(l) => l.next(),
            };
            match next {
                // Keys rise: once one reaches `from`, none is below it.
                Some(Ok(item)) if !self.from.is_empty() => {
                    if item.entry.key.as_slice() < self.from.as_slice() {
                        continue;
                    }
                    self.from = Vec::new();
                    return Some(Ok(item));
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    return None;
                }
                other => return other,
            }
        }
    }
}

/// A sorted walk's first read is this long, and each one after it twice
/// the one before, up to [`WALK_READ`]: a short scan reads little, through
/// the block cache (reads up to 16 KiB use it), a long walk soon reads in
/// large pieces past it.
const FIRST_READ: usize = 4096;
const WALK_READ: usize = 128 * 1024;

/// Reads a sorted segment's records in order, each whole and checked.
#[derive(Debug)]
struct LogWalk {
    seg: Arc<Segment>,
    /// File offset of `buf[0]`.
    base: u64,
    pos: u64,
    buf: Vec<u8>,
    /// How much the next read fetches (see [`FIRST_READ`]).
    ahead: usize,
    values: bool,
    /// The previous key (once `started`): a sorted segment's keys must
    /// strictly increase.
    last: Vec<u8>,
    started: bool,
    /// The index's blocks, walked alongside: every block must start at a
    /// record holding its first key. This is what ties a sorted index to
    /// its segment (a foreign or damaged index fails it at its first block
    /// instead of passing a log that is not in key order off as one).
    blocks: BlockWalk,
    next_block: Option<SparseEntry>,
}

impl LogWalk {
    /// The bytes `pos..pos + n` (fewer at the end of the segment).
    fn window(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.seg.log_len;
        let want_end = (self.pos + n as u64).min(end);
        if self.pos < self.base || want_end > self.base + self.buf.len() as u64 {
            let want = (n.max(self.ahead) as u64).min(end - self.pos) as usize;
            self.buf.resize(want, 0);
            read_exact_at(&*self.seg.log, &mut self.buf, self.pos)
                .map_err(|e| Error::io("read", &self.seg.log_path, e))?;
            self.base = self.pos;
            self.ahead = (self.ahead * 2).min(WALK_READ);
        }
        let s = (self.pos - self.base) as usize;
        let e = (s + n).min(self.buf.len());
        Ok(&self.buf[s..e])
    }

    fn next(&mut self) -> Option<Result<Item>> {
        loop {
            if self.pos >= self.seg.log_len {
                return None;
            }
            match self.step() {
                Ok(Some(item)) => return Some(Ok(item)),
                Ok(None) => continue,
                Err(e) => {
                    self.pos = self.seg.log_len;
                    return Some(Err(e));
                }
            }
        }
    }

    /// Decodes the record at `pos`; `None` for a batch commit.
    fn step(&mut self) -> Result<Option<Item>> {
        let at = self.pos;
        let seg = Arc::clone(&self.seg);
        // At a block start the index says a record begins here: if none
        // does, the index is what is wrong (healing it rebuilds from the
        // log, which reports the log if the damage is there after all).
        let block_start = self.next_block.as_ref().is_some_and(|b| b.offset == at);
        let corrupt = |e: DecodeError| match block_start {
            true => seg.idx_corrupt(0, "a data block does not start at a record"),
            false => seg.log_corrupt(at, e.to_string()),
        };
        let head = self.window(MAX_HEADER_LEN)?;
        let h = record::decode_header(head).map_err(corrupt)?;
        let total = h.total_len();
        let values = self.values;
        let bytes = self.window(total)?;
        let (rec, _) = record::decode(bytes).map_err(corrupt)?;
        let (tag, key) = (rec.tag, rec.key.to_vec());
        let value = (values && !tag.is_delete()).then(|| rec.value.to_vec());
        let at_block = match &self.next_block {
            Some(b) if b.offset == at => {
                if tag == Tag::BatchCommit || b.first_key != key {
                    return Err(self
                        .seg
                        .idx_corrupt(0, "a data block does not start with its key"));
                }
                true
            }
            Some(b) if b.offset < at => {
                return Err(self
                    .seg
                    .idx_corrupt(0, "a data block starts inside a record"));
            }
            _ => false,
        };
        if at_block {
            self.next_block = self.blocks.next().transpose()?;
        }
        self.pos += total as u64;
        if tag == Tag::BatchCommit {
            return Ok(None);
        }
        if self.started && self.last >= key {
            return Err(self
                .seg
                .idx_corrupt(0, "a sorted index describes a segment out of key order"));
        }
        self.started = true;
        self.last.clear();
        self.last.extend_from_slice(&key);
        Ok(Some(Item {
            entry: Entry {
                key,
                delete: tag.is_delete(),
                offset: at,
                len: total as u32,
            },
            value,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::index::Kind;
    use crate::engine::{Batch, Db, Options};

    /// A log written in key order, with batches (their commit records sit
    /// between keyed records), tombstones and values past the scan's
    /// read-whole limit, sealed: a sorted segment whose every lookup and walk
    /// must match what was written.
    #[test]
    fn a_sorted_segment_with_batches_tombstones_and_big_values() {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options {
            seal_on_close: 0,
            sync: crate::engine::SyncMode::Never,
            ..Options::default()
        };
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        let mut model = std::collections::BTreeMap::new();
        let mut i = 0u32;
        while i < 3000 {
            let key = format!("k{i:05}").into_bytes();
            if i % 100 == 50 {
                let mut b = Batch::new();
                for j in 0..5 {
                    let k = format!("k{:05}", i + j).into_bytes();
                    b.set(k.clone(), vec![b'b'; 30]);
                    model.insert(k, Some(vec![b'b'; 30]));
                }
                db.write_batch(b).unwrap();
                i += 5;
                continue;
            }
            let value = match i % 997 {
                0 => vec![b'x'; 200_000],
                _ => format!("value {i}").into_bytes(),
            };
            if i % 13 == 7 {
                // A tombstone of a key never set, still in key order.
                db.delete(&key).unwrap();
                model.insert(key, None);
            } else {
                db.set(&key, &value).unwrap();
                model.insert(key, Some(value));
            }
            i += 1;
        }
        db.close().unwrap();
        let db = Db::open(dir.path(), opts).unwrap();
        {
            let st = db.state.read().unwrap();
            assert_eq!(st.segments.len(), 1);
            assert_eq!(st.segments[0].index.footer.kind, Kind::Sorted);
        }
        for (k, v) in &model {
            assert_eq!(&db.get(k).unwrap(), v, "{}", String::from_utf8_lossy(k));
            assert_eq!(db.contains(k).unwrap(), v.is_some());
            let mut between = k.clone();
            between.push(b'!');
            assert_eq!(db.get(&between).unwrap(), None);
        }
        let live: Vec<_> = model.iter().filter(|(_, v)| v.is_some()).collect();
        let walked: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
        assert_eq!(walked.len(), live.len());
        for ((k, v), (wk, wv)) in live.iter().zip(&walked) {
            assert_eq!((*k, v.as_ref().unwrap()), (wk, wv));
        }
        let from: Vec<_> = db.keys(b"k015").map(|k| k.unwrap()).collect();
        assert_eq!(
            from.len(),
            model
                .range(b"k015".to_vec()..b"k016".to_vec())
                .filter(|(_, v)| v.is_some())
                .count()
        );
        assert!(db.check().unwrap().is_clean());
    }
}
