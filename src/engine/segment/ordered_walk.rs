//! Ordered walks over one segment: [`Walk`] from a key, through a hashed
//! index's entries (with values fetched in file order, batch by batch, see
//! hashed_walk.rs) or, for a sorted segment, through the log itself with
//! its values (sorted_walk.rs).
//!
//! A walk stands on one record at a time ([`Walk::head`]), borrowed from
//! its read buffer: stepping allocates nothing per record.

use std::sync::Arc;

use super::super::Result;
use super::super::index::{EntryRef, Kind};
use super::hashed_walk::{HashedWalk, batch_bytes};
use super::sorted_walk::LogWalk;
use super::{Entry, Segment};

impl Segment {
    /// Walks the segment's entries in key order from the first key ≥ `from`
    /// (from the start when `from` is empty), with the values of puts when
    /// `values` (a sorted segment's walk reads them from the log as it
    /// goes; a hashed one's fetches them in file order, batch by batch).
    pub fn walk(self: &Arc<Self>, from: &[u8], values: bool) -> Result<Walk> {
        self.walk_until(from, None, values, 1)
    }

    /// [`walk`](Self::walk), told that keys from `end` on will not be
    /// wanted: a sorted walk's first read then covers the blocks up to
    /// `end` (one read for a short scan), where it would otherwise start
    /// small and grow; a hashed walk with values ends before `end`, so
    /// it reads no value past it. `hashed`: how many hashed segments the
    /// caller walks with values at once, which share a bound on the
    /// memory their batches take (see hashed_walk.rs).
    pub fn walk_until(
        self: &Arc<Self>,
        from: &[u8],
        end: Option<&[u8]>,
        values: bool,
        hashed: usize,
    ) -> Result<Walk> {
        let inner = match self.index.footer.kind {
            Kind::Hashed => {
                let block = if from.is_empty() {
                    None
                } else {
                    self.index.locate(from)?
                };
                let cursor = self.index.entries_from(block.map_or(0, |b| b.offset));
                if values {
                    WalkInner::Hashed(Box::new(HashedWalk::new(
                        Arc::clone(self),
                        cursor,
                        from,
                        end,
                        batch_bytes(hashed),
                    )))
                } else {
                    WalkInner::Entries(cursor)
                }
            }
            Kind::Sorted => {
                let mut blocks = self.index.blocks_from(from)?;
                let first = blocks.next().transpose()?;
                // No block: an empty segment (a compaction that kept nothing).
                let start = first.as_ref().map_or(self.log_len, |b| b.offset);
                let end_block = match end {
                    Some(end) => Some(self.index.locate_with(end, |_, at, len, _| Ok(at + len))?),
                    None => None,
                };
                WalkInner::Log(LogWalk::new(
                    Arc::clone(self),
                    start,
                    end_block,
                    values,
                    blocks,
                    first,
                ))
            }
        };
        Ok(Walk {
            inner,
            from: from.to_vec(),
            done: false,
        })
    }
}

/// An entry of a walk, owned (what a walk as an [`Iterator`] yields).
#[derive(Debug)]
pub(in crate::engine) struct Item {
    pub entry: Entry,
}

/// The record a walk stands on, borrowed from the walk.
#[derive(Clone, Copy, Debug)]
pub(in crate::engine) struct Head<'a> {
    pub entry: EntryRef<'a>,
    /// The value of a put, when the walk reads values; `None` as well when
    /// a hashed walk found the record its entry names damaged or not the
    /// put it says (the caller asks a point lookup, which heals the index
    /// or reports the segment).
    pub value: Option<&'a [u8]>,
}

/// An ordered walk over one segment; see [`Segment::walk`].
#[derive(Debug)]
pub(in crate::engine) struct Walk {
    inner: WalkInner,
    /// Entries below this are skipped (the walk starts at a block boundary).
    from: Vec<u8>,
    done: bool,
}

#[derive(Debug)]
enum WalkInner {
    Entries(super::super::index::EntryCursor),
    Hashed(Box<HashedWalk>),
    Log(LogWalk),
}

impl Walk {
    /// The segment is read once and then removed (a compaction's input):
    /// a sorted walk's reads of its log then go past the block cache and
    /// let the system drop what they passed (see [`LogWalk::read_once`]).
    pub fn read_once(&mut self) {
        if let WalkInner::Log(l) = &mut self.inner {
            l.read_once();
        }
    }

    /// Steps to the next entry when a sorted walk has it decoded already
    /// (a data block's records are decoded at once): `true` then, as
    /// [`advance`](Self::advance) would be; else `false`, nothing done.
    #[inline]
    pub fn advance_ready(&mut self) -> bool {
        match &mut self.inner {
            WalkInner::Log(l) if self.from.is_empty() => l.advance_ready(),
            _ => false,
        }
    }

    /// Steps to the next entry; `false` at the end (and after an error).
    /// The entry is then [`head`](Self::head) until the next step.
    pub fn advance(&mut self) -> Result<bool> {
        loop {
            if self.done {
                return Ok(false);
            }
            let stepped = match &mut self.inner {
                WalkInner::Entries(c) => c.advance(),
                WalkInner::Hashed(h) => h.advance(),
                WalkInner::Log(l) => l.advance(),
            };
            match stepped {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return Ok(false);
                }
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
            // Keys rise: once one reaches `from`, none is below it.
            if !self.from.is_empty() {
                let key = self.key();
                if key.is_some_and(|k| k < self.from.as_slice()) {
                    continue;
                }
                self.from = Vec::new();
            }
            return Ok(true);
        }
    }

    /// The entry the last [`advance`](Self::advance) stepped to (`None`
    /// at the end: every walk forgets its entry when it steps or fails).
    #[inline]
    pub fn head(&self) -> Option<Head<'_>> {
        match &self.inner {
            WalkInner::Entries(c) => c.head().map(|entry| Head { entry, value: None }),
            WalkInner::Hashed(h) => h.head(),
            WalkInner::Log(l) => l.head(),
        }
    }
}

impl Walk {
    /// The key of [`head`](Self::head), alone: what a merge compares.
    #[inline]
    pub fn key(&self) -> Option<&[u8]> {
        match &self.inner {
            WalkInner::Log(l) => l.key(),
            _ => self.head().map(|h| h.entry.key),
        }
    }

    /// Of [`head`](Self::head): whether it is a tombstone, when it
    /// expires, and whether the walk holds its value.
    #[inline]
    pub fn flags(&self) -> Option<(bool, Option<u64>, bool)> {
        match &self.inner {
            WalkInner::Log(l) => l.flags(),
            _ => self
                .head()
                .map(|h| (h.entry.delete, h.entry.expires_at, h.value.is_some())),
        }
    }

    /// The value of [`head`](Self::head), alone.
    #[inline]
    pub fn value(&self) -> Option<&[u8]> {
        match &self.inner {
            WalkInner::Log(l) => l.value(),
            _ => self.head()?.value,
        }
    }

    /// The whole record of [`head`](Self::head), CRC and all, when it is a
    /// plain put (`Tag::Put`) that a sorted walk read whole and checked:
    /// a compaction copies it as it is instead of encoding it again.
    #[inline]
    pub fn put_record(&self) -> Option<&[u8]> {
        match &self.inner {
            WalkInner::Log(l) => l.put_record(),
            _ => None,
        }
    }
}

impl Iterator for Walk {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Result<Item>> {
        match self.advance() {
            Ok(true) => self.head().map(|h| {
                Ok(Item {
                    entry: h.entry.to_entry(),
                })
            }),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
