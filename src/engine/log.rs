//! Log files: the active log (`wal.log`) and sealed segments share one
//! format (see [`record`](super::record)). This module scans a log from the
//! start, turning its records into committed operations; values.rs reads
//! single records back by offset.
//!
//! A scan applies the batch rule: records tagged `BatchPut`/`BatchDelete`
//! count only once the `BatchCommit` that follows them is read, so a batch cut
//! by a crash contributes nothing. The scan stops at the first damaged record
//! and reports the end of the last complete unit (a single record or a
//! committed batch): for the active log that is where a torn tail is cut.

use std::io;
use std::path::Path;

use super::record::{self, DecodeError, FILE_HEADER_LEN, MAX_HEADER_LEN, Tag};
use super::storage::{StorageFile, read_exact_at};
use super::{Error, Result, dir};

mod values;

// Only the fuzz targets check a tombstone without its value.
#[cfg(any(test, feature = "testing"))]
pub use values::read_tag_at;
pub use values::{ReadAhead, read_value};

/// One committed operation found in a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedOp {
    /// True for a tombstone.
    pub delete: bool,
    /// The key.
    pub key: Vec<u8>,
    /// Offset of the record in the file.
    pub offset: u64,
    /// Length of the whole record.
    pub len: u32,
    /// When the key expires (Unix milliseconds), for a put that does.
    pub expires_at: Option<u64>,
}

/// Whether the active log's keyed records are in strictly increasing key
/// order (each key once): then its seal gets a sorted index (see index/).
#[derive(Clone, Debug)]
pub(super) struct LogOrder {
    pub(super) sorted: bool,
    last: Vec<u8>,
}

impl Default for LogOrder {
    fn default() -> LogOrder {
        LogOrder {
            sorted: true,
            last: Vec::new(),
        }
    }
}

impl LogOrder {
    /// The kind of index a segment in this order gets.
    pub(super) fn kind(&self) -> super::index::Kind {
        if self.sorted {
            super::index::Kind::Sorted
        } else {
            super::index::Kind::Hashed
        }
    }

    /// Notes a keyed record appended after every earlier one.
    pub(super) fn note(&mut self, key: &[u8]) {
        if self.sorted {
            if key > self.last.as_slice() {
                self.last.clear();
                self.last.extend_from_slice(key);
            } else {
                self.sorted = false;
                self.last = Vec::new();
            }
        }
    }
}

impl From<LoggedOp> for super::index::Entry {
    fn from(op: LoggedOp) -> Self {
        super::index::Entry {
            key: op.key,
            delete: op.delete,
            offset: op.offset,
            len: op.len,
            expires_at: op.expires_at,
        }
    }
}

/// Where and why a scan stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Offset of the first byte that is not part of a complete unit.
    pub offset: u64,
    /// What was wrong.
    pub reason: String,
}

/// How a scan ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanEnd {
    /// End of the last complete unit: the log's valid length.
    pub valid_len: u64,
    /// The file's length when scanned.
    pub file_len: u64,
    /// `None` when every byte after the header belongs to a complete unit.
    pub damage: Option<Damage>,
}

/// A forward reader over a file with a growable window, so that records of
/// any legal size can be decoded from one slice.
struct Window<'a> {
    file: &'a dyn StorageFile,
    file_len: u64,
    /// File offset of `buf[0]`.
    base: u64,
    buf: Vec<u8>,
}

const WINDOW: usize = 256 * 1024;

impl<'a> Window<'a> {
    /// Makes `n` bytes starting at file offset `at` available, or as many as
    /// the file has. Returns the slice.
    fn get(&mut self, at: u64, n: usize) -> io::Result<&[u8]> {
        let have_from = at.checked_sub(self.base).map(|d| d as usize);
        let in_window = matches!(have_from, Some(s) if s + n <= self.buf.len());
        if !in_window {
            let want = (n.max(WINDOW) as u64).min(self.file_len.saturating_sub(at)) as usize;
            self.buf.clear();
            self.buf.resize(want, 0);
            read_exact_at(self.file, &mut self.buf, at)?;
            self.base = at;
        }
        let s = (at - self.base) as usize;
        let e = (s + n).min(self.buf.len());
        Ok(&self.buf[s..e])
    }
}

/// Scans a log file from just after its header, calling `apply` for every
/// committed operation in log order.
pub fn scan(file: &dyn StorageFile, path: &Path, apply: impl FnMut(LoggedOp)) -> Result<ScanEnd> {
    scan_with(file, path, false, apply, |_, _| {})
}

/// [`scan`] for a reader that only judges the file, such as `check` of a
/// sealed segment: a batch's operations are given to `apply` as they come,
/// not held until its commit record, so that memory does not grow with a
/// batch (a bulk load is one batch of millions). The damage reported is
/// the same; what `apply` saw of a batch that turns out damaged is the
/// caller's to discard.
pub fn scan_eager(
    file: &dyn StorageFile,
    path: &Path,
    apply: impl FnMut(LoggedOp),
) -> Result<ScanEnd> {
    scan_with(file, path, true, apply, |_, _| {})
}

/// [`scan_eager`] that also shows `bytes` each intact record's offset and
/// bytes, in file order, after `apply` saw its operation (what a rebuilt
/// index's blocks' CRCs are computed from).
pub fn scan_eager_bytes(
    file: &dyn StorageFile,
    path: &Path,
    apply: impl FnMut(LoggedOp),
    bytes: impl FnMut(u64, &[u8]),
) -> Result<ScanEnd> {
    scan_with(file, path, true, apply, bytes)
}

fn scan_with(
    file: &dyn StorageFile,
    path: &Path,
    eager: bool,
    mut apply: impl FnMut(LoggedOp),
    mut raw: impl FnMut(u64, &[u8]),
) -> Result<ScanEnd> {
    let file_len = dir::len(file, path)?;
    let mut win = Window {
        file,
        file_len,
        base: 0,
        buf: Vec::new(),
    };
    let mut pos = FILE_HEADER_LEN as u64;
    let mut valid_len = pos;
    // The batch being read: its operations (unless eager) and how many.
    let mut batch: Vec<LoggedOp> = Vec::new();
    let mut batch_len = 0u32;
    let mut batch_start = pos;
    let read_err = |e| Error::io("read", path, e);

    let damage = loop {
        if pos >= file_len {
            break (batch_len > 0).then(|| Damage {
                offset: batch_start,
                reason: "batch without its commit record".into(),
            });
        }
        let head = win.get(pos, MAX_HEADER_LEN).map_err(read_err)?;
        let header = match record::decode_header(head) {
            Ok(h) => h,
            Err(e) => break Some(damage_at(pos, &e)),
        };
        let total = header.total_len();
        let bytes = win.get(pos, total).map_err(read_err)?;
        let rec = match record::decode(bytes) {
            Ok((rec, _)) => rec,
            Err(e) => break Some(damage_at(pos, &e)),
        };
        let op = |delete| LoggedOp {
            delete,
            key: rec.key.to_vec(),
            offset: pos,
            len: total as u32,
            expires_at: rec.expires_at,
        };
        match rec.tag {
            Tag::Put | Tag::Delete => {
                if batch_len > 0 {
                    break Some(Damage {
                        offset: pos,
                        reason: "record inside an unfinished batch".into(),
                    });
                }
                apply(op(rec.tag.is_delete()));
                valid_len = pos + total as u64;
            }
            Tag::BatchPut | Tag::BatchDelete => {
                if batch_len == 0 {
                    batch_start = pos;
                }
                batch_len += 1;
                if eager {
                    apply(op(rec.tag.is_delete()));
                } else {
                    batch.push(op(rec.tag.is_delete()));
                }
            }
            Tag::BatchCommit => {
                if rec.commit_count() != Some(batch_len) {
                    break Some(Damage {
                        offset: pos,
                        reason: format!(
                            "batch commit counts {:?} records but {batch_len} precede it",
                            rec.commit_count(),
                        ),
                    });
                }
                batch_len = 0;
                batch.drain(..).for_each(&mut apply);
                valid_len = pos + total as u64;
            }
        }
        raw(pos, bytes);
        pos += total as u64;
    };
    Ok(ScanEnd {
        valid_len,
        file_len,
        damage,
    })
}

fn damage_at(offset: u64, e: &DecodeError) -> Damage {
    Damage {
        offset,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::{LOG_MAGIC, encode, encode_commit, file_header};
    use crate::engine::storage::{OpenMode, RealStorage, Storage};

    /// A `wal.log` of a header and `body`, open for reading and writing.
    pub(super) fn log_file(body: &[u8]) -> (tempfile::TempDir, std::sync::Arc<dyn StorageFile>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let f = RealStorage.open(&path, OpenMode::Truncate).unwrap();
        let mut all = file_header(LOG_MAGIC).to_vec();
        all.extend_from_slice(body);
        f.write_at(&all, 0).unwrap();
        (dir, f)
    }

    fn scan_all(f: &dyn StorageFile) -> (Vec<LoggedOp>, ScanEnd) {
        let mut ops = Vec::new();
        let end = scan(f, Path::new("wal.log"), |op| ops.push(op)).unwrap();
        (ops, end)
    }

    #[test]
    fn committed_batch_counts_and_torn_batch_does_not() {
        let mut body = Vec::new();
        encode(&mut body, Tag::Put, b"a", b"1");
        let after_a = body.len();
        encode(&mut body, Tag::BatchPut, b"b", b"2");
        encode(&mut body, Tag::BatchDelete, b"a", b"");
        encode_commit(&mut body, 2);
        let after_batch = body.len();
        encode(&mut body, Tag::BatchPut, b"c", b"3");
        let (_d, f) = log_file(&body);
        let (ops, end) = scan_all(&*f);
        let keys: Vec<_> = ops.iter().map(|o| (o.key.clone(), o.delete)).collect();
        assert_eq!(
            keys,
            vec![
                (b"a".to_vec(), false),
                (b"b".to_vec(), false),
                (b"a".to_vec(), true)
            ]
        );
        assert_eq!(end.valid_len, (FILE_HEADER_LEN + after_batch) as u64);
        let damage = end.damage.unwrap();
        assert_eq!(damage.offset, (FILE_HEADER_LEN + after_batch) as u64);
        assert!(after_a < after_batch);
    }

    #[test]
    fn torn_tail_at_every_byte_keeps_the_whole_records() {
        let mut body = Vec::new();
        encode(&mut body, Tag::Put, b"first", b"one");
        let first = body.len();
        encode(&mut body, Tag::Put, b"second", b"two");
        for cut in first..body.len() {
            let (_d, f) = log_file(&body[..cut]);
            let (ops, end) = scan_all(&*f);
            assert_eq!(ops.len(), 1, "cut at {cut}");
            assert_eq!(end.valid_len, (FILE_HEADER_LEN + first) as u64);
            assert_eq!(end.damage.is_some(), cut > first);
        }
    }
}
