//! [`Stage`]: an atomic batch gathered a piece at a time, off the write
//! path, and applied later in one go by [`Db::commit_stage`].
//!
//! A [`BatchWriter`](super::BatchWriter) holds the writer for its whole
//! life, which suits a batch read from a file in one go but not one that
//! arrives over a socket at the pace of another process (`tinykv load`
//! through the process that owns the database): while it trickled in,
//! every other writer would wait, and a client that stalled would stall
//! them all. A stage holds no lock. Its writes are encoded as log records
//! into memory and, past [`MEMORY`], into a temporary file in the database
//! directory (`stage-PID-N.tmp`, which an interrupted process leaves for
//! the next open to remove with the other `.tmp` files); committing reads
//! them back into one batch writer, so the batch is as atomic as any other.
//!
//! Invariants: memory holds at most [`MEMORY`] bytes of writes (plus one
//! record); nothing of a stage is visible until its commit returns `Ok`,
//! and a stage dropped without a commit leaves nothing (its file is
//! removed); what is read back is checked (CRC) as any log record is.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::dir;
use super::record::{self, MAX_HEADER_LEN, Tag};
use super::storage::{OpenMode, Storage, StorageFile};
use super::{Db, Error, Result, check_key, check_value};

/// Writes are kept in memory up to this many bytes, then go to the file.
const MEMORY: usize = 1024 * 1024;

/// Numbers the stages of this process, for their file names.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// An atomic batch being gathered; see the module doc and [`Db::stage`].
#[derive(Debug)]
pub struct Stage {
    storage: Arc<dyn Storage>,
    path: PathBuf,
    /// Created when the writes first outgrow [`MEMORY`].
    file: Option<Arc<dyn StorageFile>>,
    /// Bytes in the file.
    flushed: u64,
    buf: Vec<u8>,
    writes: u64,
    replace: bool,
}

impl Db {
    /// Starts a [`Stage`]. With `replace`, committing it makes the
    /// database hold exactly the stage's pairs (every other key is
    /// deleted in the same batch).
    pub fn stage(&self, replace: bool) -> Result<Stage> {
        self.refuse_if_read_only()?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Ok(Stage {
            storage: Arc::clone(&self.opts.storage),
            path: self
                .dir
                .join(format!("stage-{}-{n}.tmp", std::process::id())),
            file: None,
            flushed: 0,
            buf: Vec::new(),
            writes: 0,
            replace,
        })
    }

    /// Applies every write of `stage` atomically (see
    /// [`BatchWriter::replace_all`](super::BatchWriter::replace_all) for a
    /// stage that replaces); returns how many writes it held. Other
    /// writers wait only for the time this takes, not for the time the
    /// stage took to gather.
    pub fn commit_stage(&self, mut stage: Stage) -> Result<u64> {
        let mut batch = self.batch_writer()?;
        if stage.replace {
            batch.replace_all();
        }
        let mut apply = |bytes: &[u8]| -> Result<usize> {
            let mut pos = 0;
            while pos < bytes.len() {
                let (rec, len) = match record::decode(&bytes[pos..]) {
                    Ok(r) => r,
                    Err(record::DecodeError::Short { .. }) => break,
                    Err(e) => return Err(Error::corrupt(&stage.path, pos as u64, e.to_string())),
                };
                match rec.tag {
                    Tag::BatchDelete => batch.delete(rec.key)?,
                    _ => batch.set_expiring(rec.key, rec.value, rec.expires_at)?,
                }
                pos += len;
            }
            Ok(pos)
        };
        if let Some(file) = stage.file.clone() {
            // Read back in windows, each ending at a record boundary: a
            // record longer than the window grows it to its own length.
            let mut window = vec![0u8; MEMORY];
            let mut at = 0u64;
            while at < stage.flushed {
                let n = (stage.flushed - at).min(window.len() as u64) as usize;
                dir::read_exact(&*file, &stage.path, &mut window[..n], at)?;
                let used = apply(&window[..n])?;
                if used == 0 {
                    let need = record::decode_header(&window[..n.min(MAX_HEADER_LEN)])
                        .map_or(n + 1, |h| h.total_len());
                    if need <= n || at + need as u64 > stage.flushed {
                        return Err(Error::corrupt(&stage.path, at, "stage file cut short"));
                    }
                    window.resize(need, 0);
                }
                at += used as u64;
            }
        }
        let buf = std::mem::take(&mut stage.buf);
        if apply(&buf)? != buf.len() {
            return Err(Error::corrupt(&stage.path, 0, "staged writes cut short"));
        }
        batch.commit()?;
        Ok(stage.writes)
    }
}

impl Stage {
    /// Adds `key = value`.
    pub fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.set_expiring(key, value, None)
    }

    /// Adds `key = value`, expiring at `expires_at` (Unix milliseconds)
    /// when it is `Some`.
    pub fn set_expiring(
        &mut self,
        key: &[u8],
        value: &[u8],
        expires_at: Option<u64>,
    ) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.push(Tag::BatchPut, key, value, expires_at)
    }

    /// Adds a deletion of `key`.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.push(Tag::BatchDelete, key, &[], None)
    }

    /// Writes added so far.
    pub fn len(&self) -> u64 {
        self.writes
    }

    /// Whether no write was added.
    pub fn is_empty(&self) -> bool {
        self.writes == 0
    }

    fn push(&mut self, tag: Tag, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Result<()> {
        record::encode_expiring(&mut self.buf, tag, key, value, expires_at);
        self.writes += 1;
        if self.buf.len() >= MEMORY {
            self.spill()?;
        }
        Ok(())
    }

    /// Moves the writes in memory to the end of the file.
    fn spill(&mut self) -> Result<()> {
        let file = match &self.file {
            Some(f) => Arc::clone(f),
            None => {
                let f = dir::open(&*self.storage, &self.path, OpenMode::Truncate)?;
                self.file = Some(Arc::clone(&f));
                f
            }
        };
        file.write_at(&self.buf, self.flushed)
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.flushed += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Best effort: a file left behind is removed by the next open.
            let _ = self.storage.remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Db, Options};

    #[test]
    fn a_stage_is_invisible_until_committed_and_then_whole() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.set(b"gone", b"x").unwrap();
        let mut stage = db.stage(false).unwrap();
        // Past the memory window, so the file is used and read back.
        let big = vec![b'v'; 300 * 1024];
        for i in 0..10u32 {
            stage.set(format!("k{i}").as_bytes(), &big).unwrap();
        }
        // One record longer than the read window.
        let huge = vec![b'h'; 3 * 1024 * 1024];
        stage.set(b"huge", &huge).unwrap();
        stage.delete(b"gone").unwrap();
        // Other writers go on meanwhile.
        db.set(b"other", b"1").unwrap();
        assert_eq!(db.get(b"k0").unwrap(), None);
        let files = || std::fs::read_dir(dir.path()).unwrap().count();
        assert!(std::fs::read_dir(dir.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("stage-")
        }));
        assert_eq!(db.commit_stage(stage).unwrap(), 12);
        assert_eq!(db.get(b"k9").unwrap(), Some(big.clone()));
        assert_eq!(db.get(b"huge").unwrap(), Some(huge));
        assert_eq!(db.get(b"gone").unwrap(), None);
        assert_eq!(db.get(b"other").unwrap(), Some(b"1".to_vec()));
        let before = files();
        let mut dropped = db.stage(false).unwrap();
        for i in 0..10u32 {
            dropped.set(format!("d{i}").as_bytes(), &big).unwrap();
        }
        drop(dropped);
        assert_eq!(files(), before, "a dropped stage leaves no file");
        assert_eq!(db.get(b"d0").unwrap(), None);
    }

    #[test]
    fn a_replacing_stage_leaves_exactly_its_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for k in ["a", "b", "c", "d"] {
            db.set(k.as_bytes(), b"old").unwrap();
        }
        let mut stage = db.stage(true).unwrap();
        stage.set(b"c", b"new").unwrap();
        stage.set(b"e", b"new").unwrap();
        stage.set(b"a", b"new").unwrap();
        db.commit_stage(stage).unwrap();
        let all: Vec<_> = db.iter().map(|p| p.unwrap()).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = ["a", "c", "e"]
            .iter()
            .map(|k| (k.as_bytes().to_vec(), b"new".to_vec()))
            .collect();
        assert_eq!(all, want);
        // An empty replacing stage empties the database.
        db.commit_stage(db.stage(true).unwrap()).unwrap();
        assert_eq!(db.iter().count(), 0);
    }
}
