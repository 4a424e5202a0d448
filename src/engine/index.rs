//! The on-disk index of a sealed segment (`seg-N.idx`).
//!
//! A segment's index lets a lookup find a key with a few small reads and lets
//! iteration walk the segment's keys in order, so that opening a database
//! never reads every key. Layout (all integers little-endian):
//!
//! ```text
//! header   16 bytes, magic b"tkvI" (see record.rs)
//! entries  one per distinct key of the segment, sorted by key:
//!            crc32 u32 (of the rest of the entry) | kind u8 (1 put, 2 tombstone)
//!            | key_len u32 | record offset u64 | record length u32 | key
//! sparse   u64 offset of every 64th entry, then a crc32 u32 of those offsets
//! table    slots × 16 bytes, open addressing with linear probing, at most
//!          half full: entry offset u64 (0 = empty) | key hash u32
//!          | crc32 u32 of the slot's first 12 bytes
//! footer   88 bytes, see [`Footer`], ending in a crc32 of its first 84 bytes
//! ```
//!
//! Every piece carries its own CRC, so a lookup verifies exactly what it
//! reads and open reads only the header and footer. An index is derived data:
//! when it is missing or its header, footer or size do not match its segment,
//! open rebuilds it from the segment.

use std::cmp::Ordering;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::record::{self, FILE_HEADER_LEN, HeaderError, INDEX_MAGIC, u32_at, u64_at};
use super::storage::{OpenMode, Storage, StorageFile, Uncached, read_exact_at};
use super::{Error, Result};

const ENTRY_HEADER_LEN: usize = 21;
const SLOT_LEN: usize = 16;
const FOOTER_LEN: usize = 88;
const FOOTER_MAGIC: [u8; 4] = *b"tkvF";
/// One sparse offset is kept for every this many entries.
pub const SPARSE_EVERY: usize = 64;

/// The last 88 bytes of an index file.
///
/// ```text
///  0 magic b"tkvF"            4 compacted at, u32 Unix seconds (0: not a compaction output)
///  8 entry count u64         16 put count u64          24 put bytes u64
/// 32 sparse offset u64       40 table offset u64       48 table slots u64
/// 56 segment length u64      64 group first id u64 (0: not in a group)
/// 72 group flags u32 (bit 0: last of its group)
/// 76 base size u64: the database's size after the compaction that wrote it
/// 84 crc32 of bytes 0..84
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footer {
    /// Number of entries (distinct keys).
    pub entries: u64,
    /// Number of entries that are puts.
    pub puts: u64,
    /// Sum of the record lengths of the puts.
    pub put_bytes: u64,
    /// Where the sparse offsets start (= where the entries end).
    pub sparse_off: u64,
    /// Where the hash table starts.
    pub table_off: u64,
    /// Number of hash slots, a power of two.
    pub table_slots: u64,
    /// Length of the segment file this index describes.
    pub segment_len: u64,
    /// The group this segment was written in, if any (see [`Group`]).
    pub group: Option<Group>,
    /// For the last output of a compaction: the database's size after it.
    pub base_live: u64,
    /// For compaction outputs: when the compaction ran, in Unix seconds.
    pub compacted_at: u64,
}

/// Segments written together (by one compaction) that count only together:
/// the group's segments have consecutive ids from `first`, and the one with
/// `last` set ends it. A compaction group replaces every segment older than
/// `first`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    /// Id of the group's first segment.
    pub first: u64,
    /// Whether this segment is the group's last.
    pub last: bool,
}

impl Footer {
    fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut f = [0u8; FOOTER_LEN];
        f[..4].copy_from_slice(&FOOTER_MAGIC);
        f[4..8].copy_from_slice(&(self.compacted_at.min(u64::from(u32::MAX)) as u32).to_le_bytes());
        let put = |f: &mut [u8; FOOTER_LEN], at: usize, v: u64| {
            f[at..at + 8].copy_from_slice(&v.to_le_bytes())
        };
        put(&mut f, 8, self.entries);
        put(&mut f, 16, self.puts);
        put(&mut f, 24, self.put_bytes);
        put(&mut f, 32, self.sparse_off);
        put(&mut f, 40, self.table_off);
        put(&mut f, 48, self.table_slots);
        put(&mut f, 56, self.segment_len);
        put(&mut f, 64, self.group.map_or(0, |g| g.first));
        let flags: u32 = self.group.map_or(0, |g| g.last as u32);
        f[72..76].copy_from_slice(&flags.to_le_bytes());
        put(&mut f, 76, self.base_live);
        let crc = crc32fast::hash(&f[..84]);
        f[84..].copy_from_slice(&crc.to_le_bytes());
        f
    }

    fn decode(f: &[u8], file_len: u64) -> std::result::Result<Footer, String> {
        if f.len() != FOOTER_LEN || f[..4] != FOOTER_MAGIC {
            return Err("bad footer magic".into());
        }
        if crc32fast::hash(&f[..84]) != u32_at(f, 84) {
            return Err("footer CRC mismatch".into());
        }
        let first = u64_at(f, 64);
        let footer = Footer {
            entries: u64_at(f, 8),
            puts: u64_at(f, 16),
            put_bytes: u64_at(f, 24),
            sparse_off: u64_at(f, 32),
            table_off: u64_at(f, 40),
            table_slots: u64_at(f, 48),
            segment_len: u64_at(f, 56),
            group: (first != 0).then(|| Group {
                first,
                last: u32_at(f, 72) & 1 == 1,
            }),
            base_live: u64_at(f, 76),
            compacted_at: u64::from(u32_at(f, 4)),
        };
        // Every offset must fit the file exactly before anything is read through it.
        let sparse_len = footer
            .entries
            .div_ceil(SPARSE_EVERY as u64)
            .checked_mul(8)
            .and_then(|n| n.checked_add(4));
        let table_len = footer.table_slots.checked_mul(SLOT_LEN as u64);
        let ok = footer.table_slots.is_power_of_two()
            && footer.entries < footer.table_slots
            && footer.puts <= footer.entries
            && footer.sparse_off >= FILE_HEADER_LEN as u64
            && sparse_len.and_then(|l| footer.sparse_off.checked_add(l)) == Some(footer.table_off)
            && table_len
                .and_then(|l| footer.table_off.checked_add(l))
                .and_then(|e| e.checked_add(FOOTER_LEN as u64))
                == Some(file_len);
        if !ok {
            return Err("footer offsets do not fit the file".into());
        }
        Ok(footer)
    }
}

/// Hash of a key for the slot table.
pub fn key_hash(key: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(0x9e37_79b9);
    h.update(key);
    h.finalize()
}

/// One entry: where a key's latest record in the segment is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: Vec<u8>,
    /// Whether the latest record is a tombstone.
    pub delete: bool,
    /// Offset of the record in the segment.
    pub offset: u64,
    /// Length of the record.
    pub len: u32,
}

/// What to write in an index besides its entries.
#[derive(Clone, Copy, Debug, Default)]
pub struct IndexMeta {
    /// Length of the segment file.
    pub segment_len: u64,
    /// The group the segment belongs to.
    pub group: Option<Group>,
    /// The database's size after the compaction (its last output only).
    pub base_live: u64,
    /// When the compaction ran, in Unix seconds (compaction outputs only).
    pub compacted_at: u64,
}

/// Encodes a complete index file from entries sorted by key (one per key).
pub fn encode(entries: &[Entry], meta: IndexMeta) -> Vec<u8> {
    let mut out = record::file_header(INDEX_MAGIC).to_vec();
    let slots = (entries.len() * 2 + 2).next_power_of_two();
    let mut table = vec![0u64; slots];
    let mut hashes = vec![0u32; slots];
    let mut sparse = Vec::with_capacity(entries.len() / SPARSE_EVERY + 1);
    let (mut puts, mut put_bytes) = (0u64, 0u64);
    for (i, e) in entries.iter().enumerate() {
        let at = out.len() as u64;
        if i % SPARSE_EVERY == 0 {
            sparse.push(at);
        }
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.push(if e.delete { 2 } else { 1 });
        out.extend_from_slice(&(e.key.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.offset.to_le_bytes());
        out.extend_from_slice(&e.len.to_le_bytes());
        out.extend_from_slice(&e.key);
        let crc = crc32fast::hash(&out[start + 4..]);
        out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
        if !e.delete {
            puts += 1;
            put_bytes += u64::from(e.len);
        }
        let h = key_hash(&e.key);
        let mut s = h as usize & (slots - 1);
        while table[s] != 0 {
            s = (s + 1) & (slots - 1);
        }
        table[s] = at;
        hashes[s] = h;
    }
    let sparse_off = out.len() as u64;
    let sparse_start = out.len();
    for off in &sparse {
        out.extend_from_slice(&off.to_le_bytes());
    }
    let crc = crc32fast::hash(&out[sparse_start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    let table_off = out.len() as u64;
    for (off, h) in table.iter().zip(&hashes) {
        let start = out.len();
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&h.to_le_bytes());
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    let footer = Footer {
        entries: entries.len() as u64,
        puts,
        put_bytes,
        sparse_off,
        table_off,
        table_slots: slots as u64,
        segment_len: meta.segment_len,
        group: meta.group,
        base_live: meta.base_live,
        compacted_at: meta.compacted_at,
    };
    out.extend_from_slice(&footer.encode());
    out
}

/// The size of the file [`encode`] makes from `entries`.
pub fn encoded_len(entries: &[Entry]) -> u64 {
    let n = entries.len() as u64;
    let entry_bytes: u64 = entries
        .iter()
        .map(|e| (ENTRY_HEADER_LEN + e.key.len()) as u64)
        .sum();
    let slots = (entries.len() * 2 + 2).next_power_of_two() as u64;
    FILE_HEADER_LEN as u64
        + entry_bytes
        + n.div_ceil(SPARSE_EVERY as u64) * 8
        + 4
        + slots * SLOT_LEN as u64
        + FOOTER_LEN as u64
}

/// Writes an index file durably: to `path` + ".tmp", fsync, rename into
/// place. The caller syncs the directory.
pub fn write(storage: &dyn Storage, path: &Path, entries: &[Entry], meta: IndexMeta) -> Result<()> {
    let bytes = encode(entries, meta);
    let tmp = tmp_path(path);
    let f = storage
        .open(&tmp, OpenMode::Truncate)
        .map_err(|e| Error::io("create", &tmp, e))?;
    f.write_at(&bytes, 0)
        .map_err(|e| Error::io("write", &tmp, e))?;
    f.sync_data().map_err(|e| Error::io("fsync", &tmp, e))?;
    storage
        .rename(&tmp, path)
        .map_err(|e| Error::io("rename", &tmp, e))?;
    Ok(())
}

/// `path` with ".tmp" appended.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// An open, validated index file.
#[derive(Debug)]
pub struct Index {
    file: Arc<dyn StorageFile>,
    path: PathBuf,
    /// The decoded footer.
    pub footer: Footer,
    /// The sparse offsets, once read and verified (8 bytes per 64 keys):
    /// every seek needs them, and the file never changes.
    sparse: OnceLock<Arc<[u64]>>,
}

impl Index {
    /// Opens an index and checks its header and footer (not its entries).
    /// `Ok(Err(reason))` means the file is damaged or stale and should be rebuilt.
    pub fn open(storage: &dyn Storage, path: &Path) -> Result<std::result::Result<Index, String>> {
        let file = match storage.open(path, OpenMode::Read) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Err("missing".into())),
            Err(e) => return Err(Error::io("open", path, e)),
        };
        let len = file.len().map_err(|e| Error::io("stat", path, e))?;
        if len < (FILE_HEADER_LEN + FOOTER_LEN) as u64 {
            return Ok(Err("shorter than a header and footer".into()));
        }
        let mut head = [0u8; FILE_HEADER_LEN];
        read_exact_at(&*file, &mut head, 0).map_err(|e| Error::io("read", path, e))?;
        match record::check_file_header(&head, INDEX_MAGIC) {
            Ok(()) => {}
            Err(HeaderError::Damaged(why)) => return Ok(Err(why.into())),
            Err(HeaderError::Version(found)) => {
                return Err(Error::UnsupportedVersion {
                    path: path.to_owned(),
                    found,
                    supported: record::FORMAT_VERSION,
                });
            }
        }
        let mut foot = [0u8; FOOTER_LEN];
        read_exact_at(&*file, &mut foot, len - FOOTER_LEN as u64)
            .map_err(|e| Error::io("read", path, e))?;
        Ok(Footer::decode(&foot, len).map(|footer| Index {
            file,
            path: path.to_owned(),
            footer,
            sparse: OnceLock::new(),
        }))
    }

    /// Finds the entry for `key`, reading the slot table and one entry.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Entry>> {
        let slots = self.footer.table_slots;
        let h = key_hash(key);
        let mut s = u64::from(h) & (slots - 1);
        let mut buf = [0u8; SLOT_LEN * 16];
        for _ in 0..slots {
            let n = (slots - s).min(16) as usize;
            let at = self.footer.table_off + s * SLOT_LEN as u64;
            read_exact_at(&*self.file, &mut buf[..n * SLOT_LEN], at)
                .map_err(|e| self.read_err(e))?;
            for i in 0..n {
                let slot = &buf[i * SLOT_LEN..(i + 1) * SLOT_LEN];
                if crc32fast::hash(&slot[..12]) != u32_at(slot, 12) {
                    return Err(self.corrupt(at + (i * SLOT_LEN) as u64, "slot CRC mismatch"));
                }
                let off = u64_at(slot, 0);
                if off == 0 {
                    return Ok(None);
                }
                if u32_at(slot, 8) == h {
                    let entry = self.entry_at(off)?.0;
                    if entry.key == key {
                        return Ok(Some(entry));
                    }
                }
            }
            s = (s + n as u64) & (slots - 1);
        }
        Ok(None)
    }

    /// Reads and checks the entry at `off`; returns it and the offset after it.
    pub fn entry_at(&self, off: u64) -> Result<(Entry, u64)> {
        if off < FILE_HEADER_LEN as u64 || off >= self.footer.sparse_off {
            return Err(self.corrupt(off, "entry offset outside the entries"));
        }
        let mut buf = vec![0u8; ENTRY_HEADER_LEN + 64];
        let room = (self.footer.sparse_off - off) as usize;
        if room < ENTRY_HEADER_LEN {
            return Err(self.corrupt(off, "entry cut short"));
        }
        buf.truncate(room.min(buf.len()));
        read_exact_at(&*self.file, &mut buf, off).map_err(|e| self.read_err(e))?;
        let key_len = u32_at(&buf, 5) as usize;
        if key_len == 0 || key_len > super::MAX_KEY_LEN || ENTRY_HEADER_LEN + key_len > room {
            return Err(self.corrupt(off, "impossible key length"));
        }
        let total = ENTRY_HEADER_LEN + key_len;
        if buf.len() < total {
            let have = buf.len();
            buf.resize(total, 0);
            read_exact_at(&*self.file, &mut buf[have..], off + have as u64)
                .map_err(|e| self.read_err(e))?;
        }
        buf.truncate(total);
        decode_entry(&buf)
            .map(|e| (e, off + total as u64))
            .map_err(|why| self.corrupt(off, why))
    }

    /// The sparse offsets (every 64th entry), verified.
    pub fn sparse(&self) -> Result<Arc<[u64]>> {
        if let Some(sparse) = self.sparse.get() {
            return Ok(Arc::clone(sparse));
        }
        let n = self.footer.entries.div_ceil(SPARSE_EVERY as u64) as usize;
        let mut buf = vec![0u8; n * 8 + 4];
        read_exact_at(&*self.file, &mut buf, self.footer.sparse_off)
            .map_err(|e| self.read_err(e))?;
        if crc32fast::hash(&buf[..n * 8]) != u32_at(&buf, n * 8) {
            return Err(self.corrupt(self.footer.sparse_off, "sparse index CRC mismatch"));
        }
        let sparse: Arc<[u64]> = (0..n).map(|i| u64_at(&buf, i * 8)).collect();
        Ok(Arc::clone(self.sparse.get_or_init(|| sparse)))
    }

    /// Offset of the first entry whose key is ≥ `key` (or the end of the entries).
    pub fn seek(&self, key: &[u8]) -> Result<u64> {
        if key.is_empty() || self.footer.entries == 0 {
            return Ok(FILE_HEADER_LEN as u64);
        }
        let sparse = self.sparse()?;
        // Last sparse point whose key is < key: the answer lies after it.
        let (mut lo, mut hi) = (0usize, sparse.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.entry_at(sparse[mid])?.0.key.as_slice() < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut off = if lo == 0 {
            FILE_HEADER_LEN as u64
        } else {
            sparse[lo - 1]
        };
        while off < self.footer.sparse_off {
            let (e, next) = self.entry_at(off)?;
            if e.key.as_slice().cmp(key) != Ordering::Less {
                return Ok(off);
            }
            off = next;
        }
        Ok(off)
    }

    /// Entries in key order, starting at entry offset `from`.
    pub fn entries_from(self: &Arc<Self>, from: u64) -> EntryIter {
        EntryIter {
            index: Arc::clone(self),
            pos: from,
            buf: Vec::new(),
            base: from,
        }
    }

    fn read_err(&self, e: io::Error) -> Error {
        Error::io("read", &self.path, e)
    }

    fn corrupt(&self, off: u64, why: &str) -> Error {
        Error::corrupt(&self.path, off, why)
    }
}

fn decode_entry(buf: &[u8]) -> std::result::Result<Entry, &'static str> {
    if crc32fast::hash(&buf[4..]) != u32_at(buf, 0) {
        return Err("entry CRC mismatch");
    }
    let delete = match buf[4] {
        1 => false,
        2 => true,
        _ => return Err("unknown entry kind"),
    };
    Ok(Entry {
        key: buf[ENTRY_HEADER_LEN..].to_vec(),
        delete,
        offset: u64_at(buf, 9),
        len: u32_at(buf, 17),
    })
}

/// Sequential reader of an index's entries, buffered.
#[derive(Debug)]
pub struct EntryIter {
    index: Arc<Index>,
    pos: u64,
    base: u64,
    buf: Vec<u8>,
}

const ITER_CHUNK: usize = 64 * 1024;

impl Iterator for EntryIter {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        let end = self.index.footer.sparse_off;
        if self.pos >= end {
            return None;
        }
        let rel = (self.pos - self.base) as usize;
        let have = self.buf.len().saturating_sub(rel);
        let need_header = ENTRY_HEADER_LEN.min((end - self.pos) as usize);
        let key_len = if have >= ENTRY_HEADER_LEN {
            u32_at(&self.buf, rel + 5) as usize
        } else {
            0
        };
        if have < need_header || have < ENTRY_HEADER_LEN + key_len {
            let want = (ENTRY_HEADER_LEN + super::MAX_KEY_LEN).max(ITER_CHUNK) as u64;
            let n = want.min(end - self.pos) as usize;
            self.buf.resize(n, 0);
            let file = Uncached(&*self.index.file);
            if let Err(e) = read_exact_at(&file, &mut self.buf, self.pos) {
                self.pos = end;
                return Some(Err(self.index.read_err(e)));
            }
            self.base = self.pos;
            return self.next_in_buf();
        }
        self.next_in_buf()
    }
}

impl EntryIter {
    fn next_in_buf(&mut self) -> Option<Result<Entry>> {
        let end = self.index.footer.sparse_off;
        let rel = (self.pos - self.base) as usize;
        let avail = &self.buf[rel..];
        let fail = |this: &mut Self, why| {
            let off = this.pos;
            this.pos = end;
            Some(Err(this.index.corrupt(off, why)))
        };
        if avail.len() < ENTRY_HEADER_LEN {
            return fail(self, "entry cut short");
        }
        let key_len = u32_at(avail, 5) as usize;
        if key_len == 0 || key_len > super::MAX_KEY_LEN || avail.len() < ENTRY_HEADER_LEN + key_len
        {
            return fail(self, "impossible key length");
        }
        match decode_entry(&avail[..ENTRY_HEADER_LEN + key_len]) {
            Ok(e) => {
                self.pos += (ENTRY_HEADER_LEN + key_len) as u64;
                Some(Ok(e))
            }
            Err(why) => fail(self, why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::storage::RealStorage;

    fn entries(n: usize) -> Vec<Entry> {
        (0..n)
            .map(|i| Entry {
                key: format!("key{i:06}").into_bytes(),
                delete: i % 7 == 3,
                offset: 16 + i as u64 * 40,
                len: 40,
            })
            .collect()
    }

    fn written(n: usize) -> (tempfile::TempDir, Arc<Index>, Vec<Entry>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg-1.idx");
        let es = entries(n);
        let meta = IndexMeta {
            segment_len: 9999,
            ..Default::default()
        };
        write(&RealStorage, &path, &es, meta).unwrap();
        let idx = Index::open(&RealStorage, &path).unwrap().unwrap();
        (dir, Arc::new(idx), es)
    }

    #[test]
    fn lookup_finds_every_key_and_misses_others() {
        let (_d, idx, es) = written(1000);
        for e in &es {
            assert_eq!(idx.lookup(&e.key).unwrap().as_ref(), Some(e));
        }
        assert_eq!(idx.lookup(b"nope").unwrap(), None);
        assert_eq!(idx.footer.entries, 1000);
        assert_eq!(idx.footer.segment_len, 9999);
    }

    #[test]
    fn iteration_and_seek() {
        let (_d, idx, es) = written(300);
        let all: Vec<_> = idx
            .entries_from(FILE_HEADER_LEN as u64)
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(all, es);
        let from = idx.seek(b"key000150").unwrap();
        let rest: Vec<_> = idx.entries_from(from).map(|e| e.unwrap().key).collect();
        assert_eq!(rest.first().map(Vec::as_slice), Some(&b"key000150"[..]));
        assert_eq!(rest.len(), 150);
        let from = idx.seek(b"key0001505").unwrap();
        assert_eq!(
            idx.entries_from(from).next().unwrap().unwrap().key,
            b"key000151"
        );
        let end = idx.seek(b"zzz").unwrap();
        assert!(idx.entries_from(end).next().is_none());
    }

    #[test]
    fn empty_index() {
        let (_d, idx, _) = written(0);
        assert_eq!(idx.lookup(b"x").unwrap(), None);
        assert!(idx.entries_from(16).next().is_none());
    }

    #[test]
    fn damaged_footer_or_size_asks_for_rebuild() {
        let (d, _idx, _) = written(50);
        let path = d.path().join("seg-1.idx");
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 10] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        assert!(Index::open(&RealStorage, &path).unwrap().is_err());
        bytes[n - 10] ^= 0x40;
        bytes.truncate(n - 1);
        std::fs::write(&path, &bytes).unwrap();
        assert!(Index::open(&RealStorage, &path).unwrap().is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(Index::open(&RealStorage, &path).unwrap().is_err());
    }

    #[test]
    fn damaged_slot_or_entry_is_an_error_not_a_miss() {
        let (d, _idx, es) = written(20);
        let path = d.path().join("seg-1.idx");
        let clean = std::fs::read(&path).unwrap();
        let table_off = Index::open(&RealStorage, &path)
            .unwrap()
            .unwrap()
            .footer
            .table_off as usize;
        // Zero the whole table: every lookup must notice, not report "absent".
        let mut bytes = clean.clone();
        let n = bytes.len();
        bytes[table_off..n - FOOTER_LEN].fill(0);
        std::fs::write(&path, &bytes).unwrap();
        let idx = Index::open(&RealStorage, &path).unwrap().unwrap();
        assert!(matches!(idx.lookup(&es[3].key), Err(Error::Corrupt { .. })));
        // Flip a bit in the first entry's key.
        let mut bytes = clean;
        bytes[16 + ENTRY_HEADER_LEN] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let idx = Arc::new(Index::open(&RealStorage, &path).unwrap().unwrap());
        assert!(idx.entries_from(16).next().unwrap().is_err());
    }
}
