//! [`BlockWalk`]: the blocks of an index in key order, down the levels of
//! sparse frames from the top, for a walk that starts at a key.

use std::sync::Arc;

use super::super::Result;
use super::frames::{SparseEntry, SparseFrame, SparseRef};
use super::{Index, SPARSE_FRAME};

/// The blocks of an index in order; see [`Index::blocks_from`].
#[derive(Debug)]
pub struct BlockWalk {
    index: Arc<Index>,
    /// From the top down: each frame on the way to the current block, its
    /// ordinal at its depth, and the place in it (the entry after the one
    /// taken). Empty when the walk is over.
    path: Vec<(Arc<SparseFrame>, usize, usize)>,
    /// Blocks wholly below this are skipped; emptied once a block is given
    /// (every block after it starts past this).
    from: Vec<u8>,
}

impl BlockWalk {
    /// Descends from the frame at depth `path.len() - 1` to the first level,
    /// taking each frame's entry `pick(frame)`; the index keeps the frames
    /// read when `keep` is set (a seek), not otherwise (a step past the end
    /// of a frame: a whole walk would keep every frame).
    fn descend(&mut self, pick: &dyn Fn(&SparseFrame) -> usize, keep: bool) -> Result<()> {
        while self.path.len() <= usize::from(self.index.footer.levels) {
            let (frame, _, _) = self.path.last().expect("a walk starts at the top");
            let i = pick(frame);
            self.step_into(i, keep)?;
        }
        Ok(())
    }

    /// Steps from the deepest frame of the path into the child its entry `i`
    /// names.
    fn step_into(&mut self, i: usize, keep: bool) -> Result<()> {
        let (frame, ord, _) = self.path.last().expect("a walk starts at the top");
        let child_ord = ord * SPARSE_FRAME + i;
        let child = self
            .index
            .child(frame, i, self.path.len(), child_ord, keep)?
            .shared();
        self.path.last_mut().expect("just read").2 = i + 1;
        self.path.push((child, child_ord, 0));
        Ok(())
    }
}

impl BlockWalk {
    /// Moves to the next block and hands it to `found`, borrowed from its
    /// frame (what [`next`](Iterator::next) does without an owned entry).
    fn next_with<R>(&mut self, found: impl FnOnce(SparseRef<'_>) -> R) -> Option<Result<R>> {
        loop {
            let (frame, _, at) = self.path.last_mut()?;
            if *at < frame.count {
                *at += 1;
                let i = *at - 1;
                // Skip the blocks wholly below `from`: the next one starts
                // at or below it. Past the first block given, none is.
                if !self.from.is_empty()
                    && i + 1 < frame.count
                    && frame.key(i + 1) <= self.from.as_slice()
                {
                    continue;
                }
                self.from = Vec::new();
                let e = frame.entry_ref(&self.index, i).map(found);
                if e.is_err() {
                    self.path.clear();
                }
                return Some(e);
            }
            // This frame is done: on to the next entry of the one above it.
            self.path.pop();
            let (frame, _, at) = self.path.last()?;
            if *at >= frame.count {
                continue;
            }
            let at = *at;
            if let Err(e) = self
                .step_into(at, false)
                .and_then(|()| self.descend(&|_| 0, false))
            {
                self.path.clear();
                return Some(Err(e));
            }
        }
    }

    /// Moves `slot` to the next block (`None` past the last), reusing its
    /// first key's allocation: a walk of the log steps through every
    /// block, a new `Vec` each was one allocation per ~17 records.
    pub fn next_into(&mut self, slot: &mut Option<SparseEntry>) -> Result<()> {
        let mut spare = slot.take();
        let next = self.next_with(|(key, offset, len, crc)| {
            let mut first_key = spare.take().map(|e| e.first_key).unwrap_or_default();
            first_key.clear();
            first_key.extend_from_slice(key);
            SparseEntry {
                first_key,
                offset,
                len,
                crc,
            }
        });
        *slot = next.transpose()?;
        Ok(())
    }
}

impl Iterator for BlockWalk {
    type Item = Result<SparseEntry>;

    fn next(&mut self) -> Option<Result<SparseEntry>> {
        self.next_with(|(key, offset, len, crc)| SparseEntry {
            first_key: key.to_vec(),
            offset,
            len,
            crc,
        })
    }
}

impl Index {
    /// Every block in order from the one that would hold `key` (from the
    /// first when `key` is empty or below every key).
    pub fn blocks_from(self: &Arc<Self>, key: &[u8]) -> Result<BlockWalk> {
        let top = Arc::clone(self.top()?);
        let mut walk = BlockWalk {
            index: Arc::clone(self),
            path: Vec::new(),
            from: key.to_vec(),
        };
        if top.count == 0 {
            return Ok(walk);
        }
        walk.path.push((top, 0, 0));
        let start = |f: &SparseFrame| {
            if key.is_empty() {
                0
            } else {
                f.find(key).unwrap_or(0)
            }
        };
        walk.descend(&start, true)?;
        // The first level: start at the block that would hold `key`.
        if let Some((frame, _, at)) = walk.path.last_mut() {
            *at = start(frame);
        }
        Ok(walk)
    }
}
