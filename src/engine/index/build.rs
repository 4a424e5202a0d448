//! Writing an index: [`Builder`] takes a segment's entries in key order and
//! lays out the file described in [`super`]. Memory holds the sparse
//! entries and, for a hashed index, 12 bytes per key for the table; a sorted
//! index (a compaction output) holds no per-key state at all, and its first
//! level of sparse frames is encoded as its blocks end (about 30 bytes a
//! block of 2 KiB with their CRCs: 15 MiB for a 1 GiB segment, where
//! holding each block's entry took three times that), or, when the blocks'
//! CRCs come from the bytes fed after the entries, once they have come (the
//! writer's buffer of 1 MiB behind: about 512 blocks more held). The
//! writer may take what is encoded as it goes
//! ([`take_written`](Builder::take_written)): then only the level above
//! (an entry a frame of 32 blocks) stays to the end.

use super::super::record::{self, FILE_HEADER_LEN, INDEX_MAGIC, write_varint};
use super::{
    BUCKET_LEN, DATA_BLOCK, ENTRY_FRAME, Entry, FOOTER_LEN, Footer, IndexMeta, KeyBound, Kind,
    SPARSE_FRAME, bucket_of, key_hash, slots_per_bucket,
};

mod crcs;

/// An entry's parts, borrowed.
struct Part<'a> {
    key: &'a [u8],
    delete: bool,
    offset: u64,
    len: u32,
    expires_at: Option<u64>,
}

/// One sparse entry: the first key of a block and where the block is,
/// and for a data block, its CRC when the index carries them.
struct Sparse {
    first_key: Vec<u8>,
    offset: u64,
    len: u64,
    crc: u32,
}

/// Whether a sorted index's entries for its data blocks carry each block's
/// CRC (format 4; footer flag bit 1): what lets a walk check a block of
/// records at once instead of each record's own CRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockCrcs {
    /// None: a hashed index, an older format, or a log whose bytes the
    /// builder does not see (a sealed active log).
    Without,
    /// Computed from the log's bytes, which the writer hands to
    /// [`Builder::feed`] in order, each record's after its entry's push.
    Fed,
    /// Room for them, all zero: what a size estimate lays out.
    Sized,
}

/// Builds an index file from entries pushed in strictly increasing key order.
pub struct Builder {
    kind: Kind,
    /// The format version written: 2's entries cannot hold an expiry (what
    /// `check` compares an old index with is written in its own version).
    version: u32,
    /// The entry frames so far (hashed); they go after the table, so the
    /// sparse entries hold offsets relative to their start until `finish`.
    entries: Vec<u8>,
    /// The entry frame being filled (hashed) and its first key.
    frame: Vec<u8>,
    frame_first: Vec<u8>,
    /// The data block being covered (sorted): its start and first key.
    block: Option<(u64, Vec<u8>)>,
    /// The sparse entries not yet in a frame: all of them (hashed), or at
    /// most a frame's worth and one (sorted) besides the blocks whose bytes
    /// have not all been fed (see [`BlockCrcs::Fed`]).
    sparse: Vec<Sparse>,
    crcs: BlockCrcs,
    /// Fed: the log's bytes seen so far (the offset of the next), the CRC
    /// of the block they are in (the first of `sparse` without its CRC,
    /// `hashed` of them have it, or else the open block) so far.
    fed: u64,
    hasher: crc32fast::Hasher,
    hashed: usize,
    /// Sorted, once the blocks outnumber a frame: the file from
    /// `sorted_base` on (its header, then the first level's frames, in
    /// order; what `take_written` has not handed out) and an entry for
    /// each of those frames (the level above).
    sorted_out: Vec<u8>,
    /// Sorted: the file's bytes before `sorted_out[0]`, handed out by
    /// [`take_written`](Self::take_written).
    sorted_base: u64,
    above: Vec<Sparse>,
    /// (hash, record offset) of every key (hashed).
    slots: Vec<(u32, u64)>,
    keys: u64,
    puts: u64,
    put_bytes: u64,
    /// Some put pushed expires.
    expiring: bool,
    /// The first and last keys pushed, for the footer's key range.
    first_key: Vec<u8>,
    last_key: Vec<u8>,
}

impl Builder {
    /// A builder for an index of `kind`.
    pub fn new(kind: Kind) -> Builder {
        Builder::with_version(kind, record::FORMAT_VERSION)
    }

    /// A builder for an index of `kind` in format `version`.
    pub fn with_version(kind: Kind, version: u32) -> Builder {
        Builder {
            kind,
            version,
            entries: Vec::new(),
            frame: Vec::new(),
            frame_first: Vec::new(),
            block: None,
            sparse: Vec::new(),
            crcs: BlockCrcs::Without,
            fed: 0,
            hasher: crc32fast::Hasher::new(),
            hashed: 0,
            sorted_out: Vec::new(),
            sorted_base: 0,
            above: Vec::new(),
            slots: Vec::new(),
            keys: 0,
            puts: 0,
            put_bytes: 0,
            expiring: false,
            first_key: Vec::new(),
            last_key: Vec::new(),
        }
    }

    /// Adds the entry of the next key (greater than every key before it).
    pub fn push(&mut self, e: &Entry) {
        self.push_expiring(&e.key, e.delete, e.offset, e.len, e.expires_at);
    }

    /// [`push`](Self::push) from borrowed parts: the key's newest record is
    /// at `offset`, `len` bytes, a tombstone when `delete`.
    pub fn push_parts(&mut self, key: &[u8], delete: bool, offset: u64, len: u32) {
        self.push_expiring(key, delete, offset, len, None);
    }

    /// [`push_parts`](Self::push_parts) for a put that expires at
    /// `expires_at` (Unix milliseconds) when it is `Some`.
    pub fn push_expiring(
        &mut self,
        key: &[u8],
        delete: bool,
        offset: u64,
        len: u32,
        expires_at: Option<u64>,
    ) {
        let e = Part {
            key,
            delete,
            offset,
            len,
            expires_at,
        };
        if self.keys == 0 {
            self.first_key = key.to_vec();
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.keys += 1;
        if !e.delete {
            self.puts += 1;
            self.put_bytes += u64::from(e.len);
            self.expiring |= e.expires_at.is_some();
        }
        match self.kind {
            Kind::Sorted => {
                let new_block = match &self.block {
                    None => true,
                    Some((start, _)) => e.offset >= start + DATA_BLOCK as u64,
                };
                if new_block {
                    debug_assert!(self.crcs != BlockCrcs::Fed || self.fed <= e.offset);
                    if let Some((start, first_key)) = self.block.take() {
                        self.sparse.push(Sparse {
                            first_key,
                            offset: start,
                            len: e.offset - start,
                            crc: 0,
                        });
                        self.flush_frames();
                    }
                    self.block = Some((e.offset, e.key.to_vec()));
                }
            }
            Kind::Hashed => {
                if self.frame.is_empty() {
                    self.frame_first.clear();
                    self.frame_first.extend_from_slice(e.key);
                }
                write_varint(&mut self.frame, e.key.len() as u64);
                self.frame.extend_from_slice(e.key);
                write_varint(&mut self.frame, e.offset);
                if self.version >= 3 {
                    let expiring = e.expires_at.is_some();
                    write_varint(
                        &mut self.frame,
                        u64::from(e.len) << 2 | u64::from(expiring) << 1 | u64::from(e.delete),
                    );
                    if let Some(at) = e.expires_at {
                        write_varint(&mut self.frame, at);
                    }
                } else {
                    write_varint(&mut self.frame, u64::from(e.len) << 1 | u64::from(e.delete));
                }
                self.slots.push((key_hash(e.key), e.offset));
                if self.frame.len() >= ENTRY_FRAME {
                    self.end_entry_frame();
                }
            }
        }
    }

    /// The sparse entries held, not yet in a frame (tests: a sorted index
    /// holds at most a frame's worth, however many blocks it names).
    #[cfg(test)]
    pub(super) fn sparse_held(&self) -> usize {
        self.sparse.len()
    }

    /// Writes the first `n` pending sparse entries (sorted) as a frame of
    /// the first level, right after the header or the frame before.
    fn sorted_frame(&mut self, n: usize) {
        self.sorted_frame_at(0, n);
        self.sparse.drain(..n);
        self.hashed = self.hashed.saturating_sub(n);
    }

    /// Writes pending sparse entries `at..at + n` (sorted) as the next
    /// frame of the first level; the caller drops them from `sparse`.
    fn sorted_frame_at(&mut self, at: usize, n: usize) {
        if self.sorted_base == 0 && self.sorted_out.is_empty() {
            self.sorted_out = record::file_header_of(INDEX_MAGIC, self.version).to_vec();
        }
        let offset = self.sorted_base + self.sorted_out.len() as u64;
        let crcs = self.has_crcs();
        push_frame(
            &mut self.sorted_out,
            &sparse_payload(&self.sparse[at..at + n], crcs),
        );
        let first_key = std::mem::take(&mut self.sparse[at].first_key);
        self.above.push(Sparse {
            first_key,
            offset,
            len: self.sorted_base + self.sorted_out.len() as u64 - offset,
            crc: 0,
        });
    }

    /// Hands the file's bytes laid out so far (a sorted index's header and
    /// first-level frames) to `write`, with their offset in the file, once
    /// they are at least `at_least`, and lets them go:
    /// [`finish`](Self::finish) then gives the rest of the file only. So a
    /// large segment's index is written while it is built, not held (16
    /// MiB for a log of 1 GiB).
    pub fn take_written<E>(
        &mut self,
        at_least: usize,
        write: impl FnOnce(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.sorted_out.is_empty() || self.sorted_out.len() < at_least {
            return Ok(());
        }
        write(self.sorted_base, &self.sorted_out)?;
        self.sorted_base += self.sorted_out.len() as u64;
        self.sorted_out.clear();
        Ok(())
    }

    fn end_entry_frame(&mut self) {
        let offset = self.entries.len() as u64;
        push_frame(&mut self.entries, &self.frame);
        self.sparse.push(Sparse {
            first_key: std::mem::take(&mut self.frame_first),
            offset,
            len: self.entries.len() as u64 - offset,
            crc: 0,
        });
        self.frame.clear();
    }

    /// Lays out the rest of the file for a segment `segment_len` bytes long
    /// (what [`take_written`](Self::take_written) has not handed out).
    /// `meta` gets the index file's final length (for a compaction's last
    /// output, whose footer records the size of everything it wrote).
    pub fn finish(mut self, segment_len: u64, meta: impl FnOnce(u64) -> IndexMeta) -> Vec<u8> {
        let mut out = record::file_header_of(INDEX_MAGIC, self.version).to_vec();
        let (mut table_off, mut buckets, mut slot_width) = (0, 0, 0);
        // Sorted, the first level of frames when they were written as the
        // blocks ended: the levels start from the one above.
        let mut from_above = false;
        match self.kind {
            Kind::Sorted => {
                if let Some((start, first_key)) = self.block.take() {
                    self.sparse.push(Sparse {
                        first_key,
                        offset: start,
                        len: segment_len - start,
                        crc: 0,
                    });
                    if self.crcs == BlockCrcs::Fed {
                        // Every byte was fed: the last block ends the log.
                        debug_assert_eq!(self.fed, segment_len, "a log not fed whole");
                        let last = self.sparse.len() - 1;
                        self.sparse[last].crc = std::mem::take(&mut self.hasher).finalize();
                        self.hashed = self.sparse.len();
                    }
                }
                self.flush_frames();
                if !self.above.is_empty() {
                    // The last block may make a frame's worth and one.
                    while !self.sparse.is_empty() {
                        self.sorted_frame(self.sparse.len().min(SPARSE_FRAME));
                    }
                    out = std::mem::take(&mut self.sorted_out);
                    from_above = true;
                }
            }
            Kind::Hashed => {
                if !self.frame.is_empty() {
                    self.end_entry_frame();
                }
                slot_width = if segment_len <= u64::from(u32::MAX) {
                    8
                } else {
                    12
                };
                let per = slots_per_bucket(slot_width);
                // At most 80% full: a probe rarely leaves its first bucket.
                buckets = ((self.slots.len() * 5).div_ceil(4 * per)).max(1) as u64;
                // Buckets at multiples of 64 never straddle a cache block.
                out.resize(BUCKET_LEN, 0);
                table_off = out.len() as u64;
                out.extend(write_table(&self.slots, buckets, slot_width));
                let entries_off = out.len() as u64;
                out.extend_from_slice(&self.entries);
                for s in &mut self.sparse {
                    s.offset += entries_off;
                }
            }
        }
        // Where `out` starts in the file.
        let base = if from_above { self.sorted_base } else { 0 };
        let sparse_off = if from_above {
            FILE_HEADER_LEN as u64
        } else {
            out.len() as u64
        };
        // Levels of sparse frames of SPARSE_FRAME entries: the first level
        // names the blocks, each next one the frames of the level below,
        // until one frame's worth is left: that is the top. So the top holds
        // at most SPARSE_FRAME entries however large the segment.
        let (mut level, mut levels) = if from_above {
            (std::mem::take(&mut self.above), 1u8)
        } else {
            (std::mem::take(&mut self.sparse), 0u8)
        };
        // Only entries naming data blocks carry CRCs.
        let crcs = |levels: u8| levels == 0 && self.has_crcs();
        while level.len() > SPARSE_FRAME {
            let mut above = Vec::with_capacity(level.len().div_ceil(SPARSE_FRAME));
            for chunk in level.chunks(SPARSE_FRAME) {
                let offset = base + out.len() as u64;
                push_frame(&mut out, &sparse_payload(chunk, crcs(levels)));
                above.push(Sparse {
                    first_key: chunk[0].first_key.clone(),
                    offset,
                    len: base + out.len() as u64 - offset,
                    crc: 0,
                });
            }
            level = above;
            levels += 1;
        }
        let top_off = base + out.len() as u64;
        push_frame(&mut out, &sparse_payload(&level, crcs(levels)));
        let meta = meta(base + out.len() as u64 + FOOTER_LEN as u64);
        let footer = Footer {
            kind: self.kind,
            levels,
            first_key: KeyBound::of(&self.first_key),
            last_key: KeyBound::of(&self.last_key),
            slot_width,
            keys: self.keys,
            puts: self.puts,
            put_bytes: self.put_bytes,
            table_off,
            buckets,
            sparse_off,
            top_off,
            segment_len,
            group: meta.group,
            base_live: meta.base_live,
            compacted_at: meta.compacted_at,
            // A format 2 index has no room for the flag (nor the expiries).
            expiring: self.expiring && self.version >= 3,
            block_crcs: self.has_crcs(),
        };
        out.extend_from_slice(&footer.encode());
        out
    }
}

/// A sparse frame's payload: `count u32 | count × u32 offsets of the
/// entries (from the first) | entries`, each entry with its block's CRC
/// when `crcs`.
fn sparse_payload(entries: &[Sparse], crcs: bool) -> Vec<u8> {
    let mut body = Vec::new();
    let mut payload = (entries.len() as u32).to_le_bytes().to_vec();
    for s in entries {
        payload.extend_from_slice(&(body.len() as u32).to_le_bytes());
        write_sparse(&mut body, &s.first_key, s.offset, s.len);
        if crcs {
            body.extend_from_slice(&s.crc.to_le_bytes());
        }
    }
    payload.extend_from_slice(&body);
    payload
}

/// Appends a frame: `len u32 | payload | crc32` (the CRC covers the length
/// and the payload).
fn push_frame(out: &mut Vec<u8>, payload: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

fn write_sparse(out: &mut Vec<u8>, key: &[u8], offset: u64, len: u64) {
    write_varint(out, key.len() as u64);
    out.extend_from_slice(key);
    write_varint(out, offset);
    write_varint(out, len);
}

/// The hash table: `buckets` buckets of 64 bytes, each a run of slots
/// (`hash u32 | record offset`, u32 or u64 by `width`), zero when empty,
/// and a CRC of the bucket's first 60 bytes in its last 4. A key goes to its
/// home bucket or, when that is full, the next one with room (wrapping).
fn write_table(slots: &[(u32, u64)], buckets: u64, width: usize) -> Vec<u8> {
    let per = slots_per_bucket(width);
    let mut table = vec![0u8; buckets as usize * BUCKET_LEN];
    let mut used = vec![0u8; buckets as usize];
    for &(hash, offset) in slots {
        let mut b = bucket_of(hash, buckets) as usize;
        while used[b] as usize == per {
            b = (b + 1) % buckets as usize;
        }
        let at = b * BUCKET_LEN + used[b] as usize * width;
        table[at..at + 4].copy_from_slice(&hash.to_le_bytes());
        if width == 8 {
            table[at + 4..at + 8].copy_from_slice(&(offset as u32).to_le_bytes());
        } else {
            table[at + 4..at + 12].copy_from_slice(&offset.to_le_bytes());
        }
        used[b] += 1;
    }
    for bucket in table.chunks_exact_mut(BUCKET_LEN) {
        let crc = crc32fast::hash(&bucket[..BUCKET_LEN - 4]);
        bucket[BUCKET_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
    }
    table
}

/// Encodes a whole index from entries sorted by key (one per key).
pub fn encode(entries: &[Entry], kind: Kind, segment_len: u64, meta: IndexMeta) -> Vec<u8> {
    let mut b = Builder::with_version(kind, meta.version);
    for e in entries {
        b.push(e);
    }
    b.finish(segment_len, |_| meta)
}
