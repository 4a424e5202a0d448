//! The commit marker of a bulk load, `load.commit`: the file whose
//! durable presence commits the load's new segments while they are still
//! named `seg-N.log.tmp`.
//!
//! ```text
//! 0 magic b"tkvB"   4 version u32 (1)   8 first id u64   16 last id u64
//! 24 crc32 u32 of bytes 0..24
//! ```
//!
//! A load writes it (as `load.commit.tmp`, fsynced, renamed, then the
//! directory fsynced), renames its segments into place, fsyncs the
//! directory and removes it. Open [`settle`]s one it finds before it
//! removes any `.tmp` file: every `seg-N.log.tmp` with `first ≤ N ≤ last`
//! is renamed to `seg-N.log` (a read-only open reads it under its
//! temporary name instead), the directory fsynced, the marker removed.
//! Ids in the range without a file are those a load reserved but did not
//! use, or renamed already.
//!
//! Invariants: the marker names only the load's new segments (its runs,
//! merged or not, have ids outside the range or are gone before it is
//! written); it is written only once they are fsynced with their
//! indexes, and removed only once their renames are durable.

use std::path::{Path, PathBuf};

use crate::engine::dir::{self, seg_log_name};
use crate::engine::record::{u32_at, u64_at};
use crate::engine::storage::{OpenMode, Storage};
use crate::engine::{Error, Result};

/// The marker's name in the database directory.
pub(in crate::engine) const MARKER: &str = "load.commit";
const MAGIC: [u8; 4] = *b"tkvB";
const VERSION: u32 = 1;
const LEN: usize = 28;

fn encode(first: u64, last: u64) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[0..4].copy_from_slice(&MAGIC);
    b[4..8].copy_from_slice(&VERSION.to_le_bytes());
    b[8..16].copy_from_slice(&first.to_le_bytes());
    b[16..24].copy_from_slice(&last.to_le_bytes());
    let crc = crc32fast::hash(&b[..24]);
    b[24..28].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode(bytes: &[u8], path: &Path) -> Result<(u64, u64)> {
    let bad = |why: &str| Error::corrupt(path, 0, format!("bulk load commit marker: {why}"));
    if bytes.len() != LEN {
        return Err(bad("wrong length"));
    }
    if crc32fast::hash(&bytes[..24]) != u32_at(bytes, 24) {
        return Err(bad("CRC mismatch"));
    }
    if bytes[0..4] != MAGIC || u32_at(bytes, 4) != VERSION {
        return Err(bad("unknown magic or version"));
    }
    let (first, last) = (u64_at(bytes, 8), u64_at(bytes, 16));
    if first == 0 || first > last {
        return Err(bad("empty range of segments"));
    }
    Ok((first, last))
}

/// Makes the marker naming segments `first..=last` durable: the commit
/// point of a bulk load.
pub(in crate::engine) fn write(
    storage: &dyn Storage,
    dir: &Path,
    first: u64,
    last: u64,
) -> Result<()> {
    dir::replace_durably(storage, dir, &dir.join(MARKER), &encode(first, last))
}

/// Removes the marker once the load's segments are in place (its removal
/// need not be durable: a marker found again names segments in place).
pub(in crate::engine) fn remove(storage: &dyn Storage, dir: &Path) -> Result<()> {
    dir::remove_if_present(storage, &dir.join(MARKER)).map(|_| ())
}

/// At open, before `.tmp` files are removed (`tmp`: their names): finishes
/// the commit of a bulk load whose marker is in `dir`. A handle that may
/// write renames the segments into place, fsyncs the directory and
/// removes the marker, and returns the names it renamed; a read-only one
/// changes nothing and returns the segments still under their temporary
/// names, to be read so.
pub(in crate::engine) fn settle(
    storage: &dyn Storage,
    dir: &Path,
    tmp: &[String],
    read_only: bool,
) -> Result<Vec<(u64, PathBuf)>> {
    let path = dir.join(MARKER);
    let file = dir::open(storage, &path, OpenMode::Read)?;
    let len = dir::len(&*file, &path)?;
    if len != LEN as u64 {
        return Err(Error::corrupt(
            &path,
            0,
            "bulk load commit marker: wrong length",
        ));
    }
    let mut bytes = [0u8; LEN];
    dir::read_exact(&*file, &path, &mut bytes, 0)?;
    let (first, last) = decode(&bytes, &path)?;
    let mut named = Vec::new();
    for name in tmp {
        let Some(log) = name.strip_suffix(".tmp") else {
            continue;
        };
        if let Some((id, "log")) = dir::parse_seg_name(log)
            && (first..=last).contains(&id)
        {
            named.push((id, dir.join(name)));
        }
    }
    if read_only {
        return Ok(named);
    }
    for (id, tmp) in &named {
        dir::rename(storage, tmp, &dir.join(seg_log_name(*id)))?;
    }
    dir::sync(storage, dir)?;
    remove(storage, dir)?;
    Ok(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_round_trips_and_any_flipped_bit_is_refused() {
        let b = encode(7, 9);
        assert_eq!(decode(&b, Path::new("m")).unwrap(), (7, 9));
        for i in 0..LEN * 8 {
            let mut c = b;
            c[i / 8] ^= 1 << (i % 8);
            assert!(decode(&c, Path::new("m")).is_err(), "bit {i}");
        }
        assert!(decode(&b[..LEN - 1], Path::new("m")).is_err());
        assert!(decode(&encode(9, 7), Path::new("m")).is_err());
        assert!(decode(&encode(0, 7), Path::new("m")).is_err());
    }
}
