//! The tally's file, `keys.count` (docs/format.md, "The live-key tally"):
//! writing it, reading it without trusting a length it holds, and what
//! `check` asks of it.

use std::path::Path;
use std::sync::Arc;

use super::super::record::{u32_at, u64_at};
use super::super::segment::open_segment;
use super::super::storage::{OpenMode, Storage, read_exact_at};
use super::super::{OpenReport, Problem, Result};
use super::{COUNT_FILE, Cache, Covered, Tally};

const MAGIC: [u8; 4] = *b"tkvK";
const VERSION: u32 = 1;

impl Cache {
    pub(super) fn encode(&self) -> Vec<u8> {
        let t = &self.tally;
        let mut out =
            Vec::with_capacity(32 + self.covered.len() * Covered::LEN + t.expiring.len() * 12 + 4);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.covered.len() as u64).to_le_bytes());
        for c in &self.covered {
            for v in [c.id, c.log_len, c.index_len, c.keys, c.puts, c.put_bytes] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out.extend_from_slice(&t.keys.to_le_bytes());
        out.extend_from_slice(&t.bytes.to_le_bytes());
        out.extend_from_slice(&(t.expiring.len() as u64).to_le_bytes());
        for &(at, len) in &t.expiring {
            out.extend_from_slice(&at.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a `keys.count`; `None` for anything that is not one whole.
    pub(super) fn decode(b: &[u8]) -> Option<Cache> {
        let body_len = b.len().checked_sub(4)?;
        let (body, crc) = b.split_at(body_len);
        if body.len() < 16 || body[..4] != MAGIC || crc32fast::hash(body) != u32_at(crc, 0) {
            return None;
        }
        if u32_at(body, 4) != VERSION {
            return None;
        }
        let n = usize::try_from(u64_at(body, 8)).ok()?;
        let mut at = 16usize;
        let need = n.checked_mul(Covered::LEN)?.checked_add(at + 24)?;
        if need > body.len() {
            return None;
        }
        let mut covered = Vec::with_capacity(n);
        for _ in 0..n {
            let v = |k: usize| u64_at(body, at + 8 * k);
            covered.push(Covered {
                id: v(0),
                log_len: v(1),
                index_len: v(2),
                keys: v(3),
                puts: v(4),
                put_bytes: v(5),
            });
            at += Covered::LEN;
        }
        let (keys, bytes) = (u64_at(body, at), u64_at(body, at + 8));
        let m = usize::try_from(u64_at(body, at + 16)).ok()?;
        at += 24;
        if m.checked_mul(12)?.checked_add(at)? != body.len() {
            return None;
        }
        let mut expiring = Vec::with_capacity(m);
        for _ in 0..m {
            expiring.push((u64_at(body, at), u32_at(body, at + 8)));
            at += 12;
        }
        if !expiring.is_sorted() {
            return None;
        }
        Some(Cache {
            covered,
            tally: Tally {
                keys,
                bytes,
                expiring,
            },
        })
    }
}

/// Reads `dir/keys.count`; `None` when it is missing or not whole.
pub(super) fn read(storage: &dyn Storage, dir: &Path) -> Option<Cache> {
    let path = dir.join(COUNT_FILE);
    let file = storage.open(&path, OpenMode::Read).ok()?;
    let len = usize::try_from(file.len().ok()?).ok()?;
    // Sixteen bytes a segment and twelve an expiring key: a file past this
    // is not one tinykv wrote.
    if len > 1 << 34 {
        return None;
    }
    let mut bytes = vec![0u8; len];
    read_exact_at(&*file, &mut bytes, 0).ok()?;
    Cache::decode(&bytes)
}

/// For `check`: a `keys.count` that is damaged, or that describes the
/// segments `ids` (every `seg-N.log` there is, oldest first) exactly as
/// they are but holds another tally than a walk of every key of theirs.
/// A file that describes other segments is only out of date: the next
/// count brings it up to date.
pub(in crate::engine) fn check_file(
    storage: &dyn Storage,
    dir: &Path,
    ids: &[u64],
) -> Result<Option<Problem>> {
    let path = dir.join(COUNT_FILE);
    let problem = |reason: String| {
        Some(Problem {
            path: path.clone(),
            offset: 0,
            reason,
        })
    };
    let Some(cache) = read(storage, dir) else {
        return Ok(problem(
            "damaged (the next count makes it again; recover removes it)".into(),
        ));
    };
    if cache.covered.iter().map(|c| c.id).ne(ids.iter().copied()) {
        return Ok(None);
    }
    let mut segments = Vec::with_capacity(ids.len());
    for &id in ids {
        let seg = open_segment(storage, dir, id, true, &mut OpenReport::default())?;
        if Covered::of(&seg) != cache.covered[segments.len()] {
            return Ok(None);
        }
        segments.push(Arc::new(seg));
    }
    let mut walked = Cache::default();
    for i in 0..segments.len() {
        walked.add_segment(&segments, i, false)?;
    }
    if walked.tally == cache.tally {
        return Ok(None);
    }
    let (said, held) = (&cache.tally, &walked.tally);
    Ok(problem(format!(
        "says {} keys that never expire ({} bytes) and {} that expire, but the segments hold {} ({} bytes) and {} (recover removes it)",
        said.keys,
        said.bytes,
        said.expiring.len(),
        held.keys,
        held.bytes,
        held.expiring.len()
    )))
}
