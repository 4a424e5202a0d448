//! A sorted index's data blocks' CRCs (format 4): the builder takes the
//! log's bytes as they are written, a record's after its entry, and
//! writes a frame of the first level only once its blocks' CRCs are known.

use super::super::Kind;
use super::{BlockCrcs, Builder, SPARSE_FRAME};

impl Builder {
    /// A sorted builder that gives its data blocks CRCs as `crcs` says
    /// (format 4 on; an older one has no room for them).
    pub fn block_crcs(mut self, crcs: BlockCrcs) -> Builder {
        if self.kind == Kind::Sorted && self.version >= 4 {
            self.crcs = crcs;
        }
        self
    }

    /// Whether the index written gives its data blocks' CRCs.
    pub(super) fn has_crcs(&self) -> bool {
        self.crcs != BlockCrcs::Without
    }

    /// Takes the log's bytes from offset `at` (the file's header may be
    /// left out; after it, each call goes on where the last ended), for a
    /// builder with [`BlockCrcs::Fed`]: a record's bytes come after its
    /// entry's push, so every byte's block is known when it arrives.
    pub fn feed(&mut self, at: u64, mut bytes: &[u8]) {
        if self.crcs != BlockCrcs::Fed {
            return;
        }
        debug_assert!(at == self.fed || self.fed == 0, "bytes fed out of order");
        self.fed = at;
        while !bytes.is_empty() {
            let (start, end) = match self.sparse.get(self.hashed) {
                Some(s) => (s.offset, Some(s.offset + s.len)),
                None => (self.block.as_ref().map_or(u64::MAX, |b| b.0), None),
            };
            // Before the first block: the file's header.
            let n = if self.fed < start {
                (start - self.fed).min(bytes.len() as u64) as usize
            } else {
                let n = end.map_or(bytes.len(), |e| ((e - self.fed) as usize).min(bytes.len()));
                self.hasher.update(&bytes[..n]);
                n
            };
            self.fed += n as u64;
            bytes = &bytes[n..];
            if Some(self.fed) == end {
                self.sparse[self.hashed].crc = std::mem::take(&mut self.hasher).finalize();
                self.hashed += 1;
            }
        }
        self.flush_frames();
    }

    /// Writes the first level's frames whose blocks all have their CRCs,
    /// while a frame's worth and one are held (the last block may make a
    /// frame's worth and one at `finish`).
    pub(super) fn flush_frames(&mut self) {
        let ready = |b: &Builder| match b.crcs {
            BlockCrcs::Fed => b.hashed,
            _ => b.sparse.len(),
        };
        // The frames first, then one drain: the blocks held while their
        // bytes come (up to ~512) are not moved once a frame.
        let mut done = 0;
        while self.sparse.len() - done > SPARSE_FRAME && ready(self) - done >= SPARSE_FRAME {
            self.sorted_frame_at(done, SPARSE_FRAME);
            done += SPARSE_FRAME;
        }
        if done > 0 {
            self.sparse.drain(..done);
            self.hashed = self.hashed.saturating_sub(done);
        }
    }
}
