//! Reading one record of a log back by offset, as the in-memory map or a
//! segment index names it: its value ([`read_value`], or through a
//! [`ReadAhead`] window when iteration walks a segment in file order) or
//! only whether it is a tombstone ([`read_tag_at`]).
//!
//! Invariant: nothing is returned from bytes that were not checked: the
//! record must lie inside the file, decode whole with its CRC, be exactly
//! the length it was named with, and hold the key asked for. Anything else
//! is corruption of `path` at `offset`, never a wrong value.

use std::io;
use std::path::Path;

use crate::engine::record;
use crate::engine::storage::{StorageFile, read_exact_at};
use crate::engine::{Error, Result};

/// Reads the record at `offset` of `len` bytes and returns its value, after
/// checking its CRC and that it holds `key`. A record that does not match is
/// reported as corruption of `path`.
pub fn read_value(
    file: &dyn StorageFile,
    path: &Path,
    offset: u64,
    len: u32,
    key: &[u8],
) -> Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; len as usize];
    read_named(file, path, &mut buf, offset)?;
    let value = value_of(&buf, path, offset, key)?;
    Ok(value.map(|range| {
        buf.truncate(range.end);
        buf.drain(..range.start);
        buf
    }))
}

/// Reads the bytes of a record that was named at `offset`: a file that
/// ends first is corruption (the name pointed past it), not a short read.
fn read_named(file: &dyn StorageFile, path: &Path, buf: &mut [u8], offset: u64) -> Result<()> {
    read_exact_at(file, buf, offset).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            Error::corrupt(path, offset, "record points past the end of the file")
        }
        _ => Error::io("read", path, e),
    })
}

/// Checks that `bytes` is exactly one intact record holding `key` and
/// returns where its value is in `bytes` (`None` for a tombstone).
fn value_of(
    bytes: &[u8],
    path: &Path,
    offset: u64,
    key: &[u8],
) -> Result<Option<std::ops::Range<usize>>> {
    let (rec, total) =
        record::decode(bytes).map_err(|e| Error::corrupt(path, offset, e.to_string()))?;
    if total != bytes.len() || rec.key != key {
        return Err(Error::corrupt(
            path,
            offset,
            "index entry does not match the record it points to",
        ));
    }
    if rec.tag.is_delete() {
        return Ok(None);
    }
    Ok(Some(total - rec.value.len()..total))
}

/// A read-ahead window over one sealed (immutable) segment, for iteration:
/// records read in file order, as after a compaction or a sorted load, are
/// served from one large read instead of one `pread` each. A jump backwards
/// or far ahead falls back to a plain read, so random order costs nothing
/// extra.
#[derive(Debug, Default)]
pub struct ReadAhead {
    /// File offset of `buf[0]`.
    base: u64,
    buf: Vec<u8>,
    /// End of the last record read, to tell a forward walk from a jump.
    last_end: u64,
}

/// Bytes read at once by a [`ReadAhead`].
const READ_AHEAD: usize = 128 * 1024;

impl ReadAhead {
    /// As [`read_value`], for the record at `offset..offset + len` of an
    /// immutable file `file_len` bytes long.
    pub fn read_value(
        &mut self,
        file: &dyn StorageFile,
        path: &Path,
        file_len: u64,
        offset: u64,
        len: u32,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let end = offset.saturating_add(u64::from(len));
        let forward = offset >= self.last_end && offset - self.last_end <= READ_AHEAD as u64;
        self.last_end = end;
        let cached = offset >= self.base && end <= self.base + self.buf.len() as u64;
        if !cached {
            if !forward || len as usize > READ_AHEAD / 2 || end > file_len {
                return read_value(file, path, offset, len, key);
            }
            let n = (READ_AHEAD as u64).min(file_len - offset) as usize;
            self.buf.resize(n, 0);
            if let Err(e) = read_exact_at(file, &mut self.buf, offset) {
                self.buf.clear();
                return Err(Error::io("read", path, e));
            }
            self.base = offset;
        }
        let start = (offset - self.base) as usize;
        let bytes = &self.buf[start..start + len as usize];
        Ok(value_of(bytes, path, offset, key)?.map(|r| bytes[r].to_vec()))
    }
}

/// Reads just the header and key of the record at `offset` (not its value)
/// and returns whether it is a tombstone, after checking that the record
/// has length `len` and holds `key`.
#[cfg(any(test, feature = "testing"))]
pub fn read_tag_at(
    file: &dyn StorageFile,
    path: &Path,
    offset: u64,
    len: u32,
    key: &[u8],
) -> Result<bool> {
    let mut buf = vec![0u8; (record::MAX_HEADER_LEN + key.len()).min(len as usize)];
    read_named(file, path, &mut buf, offset)?;
    let header =
        record::decode_header(&buf).map_err(|e| Error::corrupt(path, offset, e.to_string()))?;
    let key_at = header.header_len..header.header_len + header.key_len;
    if header.total_len() != len as usize || buf.get(key_at) != Some(key) {
        return Err(Error::corrupt(
            path,
            offset,
            "index entry does not match the record it points to",
        ));
    }
    Ok(header.tag.is_delete())
}

#[cfg(test)]
mod tests {
    use super::super::tests::log_file;
    use super::*;
    use crate::engine::record::{FILE_HEADER_LEN, Tag, encode};

    #[test]
    fn read_ahead_serves_a_forward_walk_and_checks_every_record() {
        let mut body = Vec::new();
        let mut at = Vec::new();
        for i in 0..500u32 {
            let start = FILE_HEADER_LEN + body.len();
            let tag = if i % 50 == 7 { Tag::Delete } else { Tag::Put };
            let value = if tag == Tag::Put {
                format!("value{i}")
            } else {
                String::new()
            };
            encode(
                &mut body,
                tag,
                format!("k{i:04}").as_bytes(),
                value.as_bytes(),
            );
            at.push((
                start as u64,
                (FILE_HEADER_LEN + body.len() - start) as u32,
                tag,
            ));
        }
        let (_d, f) = log_file(&body);
        let len = f.len().unwrap();
        let p = Path::new("seg");
        let mut ra = ReadAhead::default();
        // Forward, then backwards (plain reads), then forward again.
        let order: Vec<usize> = (0..500).chain((0..500).rev()).chain(0..500).collect();
        for i in order {
            let (off, n, tag) = at[i];
            let got = ra
                .read_value(&*f, p, len, off, n, format!("k{i:04}").as_bytes())
                .unwrap();
            let want = (tag == Tag::Put).then(|| format!("value{i}").into_bytes());
            assert_eq!(got, want, "record {i}");
        }
        // A record damaged after the window was filled is still caught.
        let (off, n, _) = at[3];
        assert!(ra.read_value(&*f, p, len, off, n, b"k9999").is_err());
        f.write_at(b"X", at[10].0 + 15).unwrap();
        let mut ra = ReadAhead::default();
        let mut errors = 0;
        for (i, &(off, n, _)) in at.iter().enumerate().take(20) {
            errors += ra
                .read_value(&*f, p, len, off, n, format!("k{i:04}").as_bytes())
                .is_err() as u32;
        }
        assert_eq!(errors, 1);
    }

    #[test]
    fn read_value_checks_key_and_crc() {
        let mut body = Vec::new();
        encode(&mut body, Tag::Put, b"key", b"value");
        let len = body.len() as u32;
        let (_d, f) = log_file(&body);
        let p = Path::new("x");
        assert_eq!(
            read_value(&*f, p, 16, len, b"key").unwrap(),
            Some(b"value".to_vec())
        );
        assert!(matches!(
            read_value(&*f, p, 16, len, b"other"),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            read_value(&*f, p, 16, len + 5, b"key"),
            Err(Error::Corrupt { .. })
        ));
        f.write_at(b"X", 16 + 14).unwrap();
        assert!(matches!(
            read_value(&*f, p, 16, len, b"key"),
            Err(Error::Corrupt { .. })
        ));
    }
}
