//! The on-disk index of a sealed segment (`seg-N.idx`).
//!
//! An index lets a lookup find a key with a few small reads and lets
//! iteration walk the segment's keys in order, so that opening a database
//! never reads every key. There are two kinds:
//!
//! - **sorted**: the segment's keyed records are in strictly increasing key
//!   order, one per key (every compaction output; a seal of a log written in
//!   key order, such as a load of a dump). The log is its own list of
//!   entries: the index only names the first key of every data block of
//!   about [`DATA_BLOCK`] bytes of the log. About 1 byte per key.
//! - **hashed**: any other segment (a sealed active log). The index holds
//!   every key's entry, sorted, and a hash table of record offsets for point
//!   lookups. About 35 bytes per 16-byte key.
//!
//! Layout (integers little-endian; varints as in records):
//!
//! ```text
//! header    16 bytes, magic b"tkvI" (see record.rs)
//! table     hashed only, from offset 64 (zeros before it): buckets of 64
//!             bytes, see build.rs; a CRC in each bucket's last 4 bytes
//! entries   hashed only: frames of entries sorted by key; an entry is
//!             key_len varint | key | record offset varint
//!             | (record length << 1 | tombstone) varint
//! sparse    frames of up to 32 sparse entries: count u32 | count × u32
//!             offsets of the entries within the frame's entry bytes
//!             | sparse entries; a sparse entry is
//!             first key_len varint | first key | offset varint | len varint
//!             [| crc u32 of the data block: the first level of a sorted
//!             index whose footer has flag bit 1, format 4]
//!           of a data block of the log (sorted) or an entry frame (hashed)
//!           for the first level; each next level's entries name the frames
//!           of the level below, until one frame's worth (32) is left:
//! top       one frame laid out as a sparse frame (so the top stays small,
//!             and a lookup reads a frame per level whatever the size)
//! footer    140 bytes, see [`Footer`]
//! ```
//!
//! A frame is `len u32 | payload | crc32` over the length and payload.
//! Every piece carries its own CRC, so a lookup verifies what it reads, and
//! open reads only the header and footer. An index is derived data: when it
//! is missing or its header, footer or size do not match its segment, open
//! rebuilds it from the segment.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::record::{self, FILE_HEADER_LEN, HeaderError, INDEX_MAGIC};
use super::storage::{OpenMode, Storage, StorageFile};
use super::{Error, MAX_KEY_LEN, Result, dir};

mod block_walk;
mod build;
mod entries;
mod footer;
mod frames;
mod read;

pub use block_walk::BlockWalk;
pub use build::{BlockCrcs, Builder, encode};
pub use entries::{EntryCursor, EntryRef};
pub use footer::{Footer, Group, IndexMeta, KeyBound};
pub use frames::SparseEntry;

/// A sorted index names a data block of about this many bytes of log.
pub const DATA_BLOCK: usize = 2048;
/// A hashed index's entry frames hold about this many bytes of entries.
pub const ENTRY_FRAME: usize = 4096;
/// Sparse entries per sparse frame.
pub const SPARSE_FRAME: usize = 32;
/// Size of a hash-table bucket.
pub const BUCKET_LEN: usize = 64;
/// Size of the footer.
pub const FOOTER_LEN: usize = 140;
/// Which of the two layouts an index has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The log is in key order; the index names its data blocks.
    Sorted = 1,
    /// Entries and a hash table.
    Hashed = 2,
}

/// Hash of a key for the hash table.
pub fn key_hash(key: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(0x9e37_79b9);
    h.update(key);
    h.finalize()
}

/// The home bucket of a hash.
pub fn bucket_of(hash: u32, buckets: u64) -> u64 {
    // Multiply-shift: uses the hash's high bits, spreads over any count.
    (u64::from(hash) * buckets) >> 32
}

/// Slots in a bucket of slots `width` bytes wide (the last 4 bytes are its CRC).
pub fn slots_per_bucket(width: usize) -> usize {
    (BUCKET_LEN - 4) / width
}

/// One entry: where a key's newest record in the segment is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: Vec<u8>,
    /// Whether the newest record is a tombstone.
    pub delete: bool,
    /// Offset of the record in the segment.
    pub offset: u64,
    /// Length of the record.
    pub len: u32,
    /// When the key expires (Unix milliseconds), for a put that does.
    pub expires_at: Option<u64>,
}

/// The sparse frames of one level a handle has read, by ordinal, in chunks
/// of [`KEPT_CHUNK`] slots made on first use: memory follows the frames
/// read (a one-shot lookup touches a chunk a level), not the index's size.
#[derive(Debug, Default)]
struct Level {
    chunks: OnceLock<Box<[Kept]>>,
}

type Kept = OnceLock<Box<[OnceLock<Arc<frames::SparseFrame>>]>>;
const KEPT_CHUNK: usize = 64;

/// A frame of a lookup or walk: one the index keeps (borrowed, so a
/// lookup touches no reference count two threads would share), or one read
/// for this use only.
#[derive(Debug)]
enum Held<'a> {
    Kept(&'a Arc<frames::SparseFrame>),
    Once(Arc<frames::SparseFrame>),
}

impl std::ops::Deref for Held<'_> {
    type Target = frames::SparseFrame;

    fn deref(&self) -> &frames::SparseFrame {
        match self {
            Held::Kept(f) => f,
            Held::Once(f) => f,
        }
    }
}

impl Held<'_> {
    /// A handle that outlives the borrow (for a walk that holds its path).
    fn shared(&self) -> Arc<frames::SparseFrame> {
        match self {
            Held::Kept(f) => Arc::clone(f),
            Held::Once(f) => Arc::clone(f),
        }
    }
}

impl Level {
    /// The frame at `ordinal`: kept, or `read`. A frame read is kept when
    /// `keep` is set and the ordinal is one this level can hold.
    /// `top_count` and `region` bound the level: no more frames than the
    /// top's entries times SPARSE_FRAME to the power `depth - 1`, nor than
    /// the sparse region could hold (16 bytes a frame at least), so a
    /// crafted footer cannot make it allocate more.
    fn get_or_init(
        &self,
        top_count: usize,
        depth: usize,
        region: u64,
        ordinal: usize,
        keep: bool,
        read: impl FnOnce() -> Result<frames::SparseFrame>,
    ) -> Result<Held<'_>> {
        let chunks = self.chunks.get_or_init(|| {
            let fan = SPARSE_FRAME.saturating_pow(depth.saturating_sub(1) as u32);
            let bound = top_count.saturating_mul(fan).min((region / 16) as usize);
            (0..bound.div_ceil(KEPT_CHUNK))
                .map(|_| OnceLock::new())
                .collect()
        });
        let Some(chunk) = chunks.get(ordinal / KEPT_CHUNK) else {
            return read().map(|f| Held::Once(Arc::new(f)));
        };
        let chunk = match chunk.get() {
            Some(c) => c,
            None if keep => {
                chunk.get_or_init(|| (0..KEPT_CHUNK).map(|_| OnceLock::new()).collect())
            }
            None => return read().map(|f| Held::Once(Arc::new(f))),
        };
        let slot = &chunk[ordinal % KEPT_CHUNK];
        if let Some(frame) = slot.get() {
            // This entry's frame: no other frame has this ordinal, since no
            // frame has more than SPARSE_FRAME entries (checked by parse),
            // and the parent's first key was checked when it was read.
            return Ok(Held::Kept(frame));
        }
        if !keep {
            return read().map(|f| Held::Once(Arc::new(f)));
        }
        let frame = Arc::new(read()?);
        Ok(Held::Kept(slot.get_or_init(|| frame)))
    }
}

/// An open index whose header and footer were checked.
#[derive(Debug)]
pub struct Index {
    file: Arc<dyn StorageFile>,
    /// The file's format version: 2's entries have no room for an expiry.
    version: u32,
    path: PathBuf,
    /// The decoded footer.
    pub footer: Footer,
    /// Length of the index file.
    pub file_len: u64,
    /// The top frame, once read and verified: every lookup and seek starts
    /// there, and the file never changes.
    top: OnceLock<Arc<frames::SparseFrame>>,
    /// The sparse frames read so far: per level below the top, by ordinal.
    frames: Box<[Level]>,
}

impl Index {
    /// Opens an index and checks its header and footer (nothing else).
    /// `Ok(Err(reason))` means the file is damaged or stale and should be rebuilt.
    pub fn open(storage: &dyn Storage, path: &Path) -> Result<std::result::Result<Index, String>> {
        let file = match storage.open(path, OpenMode::Read) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Err("missing".into())),
            Err(e) => return Err(Error::io("open", path, e)),
        };
        let len = dir::len(&*file, path)?;
        if len < (FILE_HEADER_LEN + FOOTER_LEN) as u64 {
            return Ok(Err("shorter than a header and footer".into()));
        }
        let mut head = [0u8; FILE_HEADER_LEN];
        dir::read_exact(&*file, path, &mut head, 0)?;
        let version = match record::check_file_header(&head, INDEX_MAGIC) {
            Ok(v) => v,
            Err(HeaderError::Damaged(why)) => return Ok(Err(why.into())),
            Err(HeaderError::Version(found)) => {
                return Err(Error::UnsupportedVersion {
                    path: path.to_owned(),
                    found,
                    supported: record::FORMAT_VERSION,
                });
            }
        };
        let mut foot = [0u8; FOOTER_LEN];
        dir::read_exact(&*file, path, &mut foot, len - FOOTER_LEN as u64)?;
        let footer = Footer::decode(&foot, len).and_then(|f| match f.block_crcs && version < 4 {
            // Format 4's: in an older index, its entries have no room for them.
            true => Err("blocks' CRCs in an index of format 3 or older".to_string()),
            false => Ok(f),
        });
        Ok(footer.map(|footer| Index {
            file,
            version,
            path: path.to_owned(),
            footer,
            file_len: len,
            top: OnceLock::new(),
            frames: (0..footer.levels).map(|_| Level::default()).collect(),
        }))
    }

    /// Opens an index this handle has just written and fsynced: it is
    /// whole, so anything wrong with it is corruption, not a reason to
    /// rebuild it.
    pub fn open_written(storage: &dyn Storage, path: &Path) -> Result<Index> {
        Index::open(storage, path)?.map_err(|why| Error::corrupt(path, 0, why))
    }

    /// The file's format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The index file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open index file (what a backup copies: it never changes).
    pub fn file(&self) -> &dyn StorageFile {
        &*self.file
    }

    fn read_err(&self, e: io::Error) -> Error {
        Error::io("read", &self.path, e)
    }

    fn corrupt(&self, off: u64, why: impl Into<String>) -> Error {
        Error::corrupt(&self.path, off, why)
    }

    /// How many chunks of slots for kept frames the handle made (tests).
    #[cfg(test)]
    fn kept_chunks(&self) -> usize {
        self.frames
            .iter()
            .filter_map(|level| level.chunks.get())
            .map(|chunks| chunks.iter().filter(|c| c.get().is_some()).count())
            .sum()
    }

    /// How many sparse frames below the top the handle keeps (tests).
    #[cfg(test)]
    fn kept_frames(&self) -> usize {
        self.frames
            .iter()
            .filter_map(|level| level.chunks.get())
            .flat_map(|chunks| chunks.iter().filter_map(OnceLock::get))
            .flat_map(|chunk| chunk.iter())
            .filter(|slot| slot.get().is_some())
            .count()
    }
}

/// Checks a key length read from a file.
fn key_len_ok(len: u64) -> bool {
    len >= 1 && len <= MAX_KEY_LEN as u64
}

#[cfg(test)]
mod build_tests;
#[cfg(test)]
mod entries_tests;
#[cfg(test)]
mod footer_tests;
#[cfg(test)]
mod frames_tests;
#[cfg(test)]
mod read_tests;
#[cfg(test)]
mod tests;
