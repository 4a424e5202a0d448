//! Fuzz-target bodies for the engine's decoders: records, log scans and
//! segment indexes. Reached through the hidden crate-level `fuzzing` module,
//! so that the private decoders stay private API. Test machinery: compiled
//! only for the crate's tests and with the `testing` feature.
//!
//! Each function takes arbitrary bytes and panics only when a property is
//! broken: the cargo-fuzz targets (`fuzz/`) and the replay test
//! (`tests/fuzz_corpus.rs`) call the same functions.
//!
//! Every record, entry and table slot carries a CRC, so random mutations
//! almost never get past the first check. Each target therefore runs twice:
//! on the bytes as given, and on a copy whose CRCs are recomputed, so that
//! the fuzzer also explores what lies behind the CRCs (lengths, batches,
//! offsets), which is what a crafted file, or a CRC collision, would reach.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::index::{self, Index};
use super::log;
use super::record::{self, DecodeError, FILE_HEADER_LEN, INDEX_MAGIC, LOG_MAGIC, Tag};
use super::recovery;
use super::replay::INTACT_AFTER;
use super::storage::{OpenMode, SimStorage, Storage};
use super::{Batch, Db, Error, MAX_KEY_LEN, MAX_VALUE_LEN, Options, SyncMode};

const DIR: &str = "/db";
const SEGMENT: &str = "seg-00000001.log";
const SEGMENT_INDEX: &str = "seg-00000001.idx";

/// At most this many keys are looked up per input, to keep runs fast.
const MAX_PROBES: usize = 64;

/// `record::decode_header` and `record::decode` on arbitrary bytes (and on
/// them with the record's CRC fixed): no panic; what decodes re-encodes to
/// the same bytes; lengths stay within the format's limits.
pub fn record(data: &[u8]) {
    record_once(data);
    let mut fixed = data.to_vec();
    fix_record_crcs(&mut fixed, 0);
    record_once(&fixed);
    let _ = record::check_file_header(data, LOG_MAGIC);
    let _ = record::check_file_header(data, INDEX_MAGIC);
}

fn record_once(data: &[u8]) {
    let header = record::decode_header(data);
    if let Ok(h) = &header {
        assert!(h.key_len <= MAX_KEY_LEN && h.value_len <= MAX_VALUE_LEN);
    }
    match record::decode(data) {
        Ok((rec, len)) => {
            let h = header.expect("decode accepted a header decode_header refused");
            assert_eq!(len, h.total_len());
            let mut again = Vec::new();
            record::encode(&mut again, rec.tag, rec.key, rec.value);
            assert_eq!(
                again,
                &data[..len],
                "a decoded record re-encodes differently"
            );
            assert_eq!(rec.commit_count().is_some(), rec.tag == Tag::BatchCommit);
        }
        Err(DecodeError::Short { needed }) => assert!(needed > data.len()),
        Err(_) => {}
    }
}

/// `log::scan` over arbitrary bytes as `wal.log`, then `Db::open` on them:
/// no panic; the scan's committed operations lie inside the valid length and
/// read back by offset; cutting the file at the valid length loses nothing;
/// and the opened database holds exactly what the scan committed, unless
/// open refuses the log, which is right only for damage at the scan's
/// damage offset that an intact unit follows (checked as `recover` finds
/// them).
pub fn log_scan(data: &[u8]) {
    log_scan_once(data);
    let mut fixed = data.to_vec();
    fix_log_crcs(&mut fixed);
    if fixed != data {
        log_scan_once(&fixed);
    }
}

fn log_scan_once(data: &[u8]) {
    let (ops, end) = scan_bytes(data);
    let file_len = data.len() as u64;
    assert_eq!(end.file_len, file_len);
    let header_ok = record::check_file_header(data, LOG_MAGIC).is_ok();
    if file_len < FILE_HEADER_LEN as u64 {
        assert!(ops.is_empty());
        return;
    }
    assert!(end.valid_len <= file_len);
    match &end.damage {
        None => assert_eq!(end.valid_len, file_len),
        Some(d) => assert!(end.valid_len <= d.offset && d.offset < file_len),
    }

    // Every operation reads back by its offset, as a lookup would.
    let storage = SimStorage::new(0);
    let path = put(&storage, "wal.log", data);
    let file = storage.open(&path, OpenMode::Read).expect("just written");
    let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    let mut last_end = FILE_HEADER_LEN as u64;
    for op in &ops {
        assert!(op.offset >= FILE_HEADER_LEN as u64);
        assert!(op.offset + u64::from(op.len) <= end.valid_len);
        let value = log::read_value(&*file, &path, op.offset, op.len, &op.key)
            .expect("a scanned record reads back");
        assert_eq!(value.is_none(), op.delete);
        let delete = log::read_tag_at(&*file, &path, op.offset, op.len, &op.key)
            .expect("a scanned record's tag reads back");
        assert_eq!(delete, op.delete);
        last_end = last_end.max(op.offset + u64::from(op.len));
        // An expired put reads as absent (at the harness's fixed moment).
        let value = value.filter(|_| !crate::engine::clock::expired(op.expires_at, FUZZ_NOW));
        model.insert(op.key.clone(), value);
    }
    assert!(last_end <= end.valid_len);

    // Cutting the torn tail, as open does, keeps every committed operation.
    let (again, end2) = scan_bytes(&data[..end.valid_len as usize]);
    assert_eq!(
        again, ops,
        "cutting at the valid length changed the operations"
    );
    assert_eq!(end2.damage, None);

    if !header_ok {
        return;
    }
    // Open replays exactly what the scan committed; or, as docs/format.md
    // says, refuses damage that an intact record or committed batch
    // follows (cutting it would drop them), naming the damage's offset.
    let mut opts = sim_options(&storage);
    opts.clock = std::sync::Arc::new(crate::engine::clock::ManualClock::new(FUZZ_NOW));
    let db = match Db::open(DIR, opts) {
        Ok(db) => db,
        Err(Error::Corrupt {
            path: at,
            offset,
            reason,
        }) => {
            let d = end
                .damage
                .as_ref()
                .expect("open refused a log that scans whole");
            assert_eq!((at, offset), (path, d.offset), "refused elsewhere");
            assert!(reason.ends_with(INTACT_AFTER), "refused for {reason}");
            let after = data.get(d.offset as usize + 1..).unwrap_or_default();
            assert!(
                recovery::holds_intact_unit(after),
                "refused damage that no intact unit follows"
            );
            return;
        }
        Err(e) => panic!("a log with a good header failed to open: {e}"),
    };
    for (key, value) in &model {
        let got = db.get(key).expect("a replayed key reads back");
        assert_eq!(&got, value, "key {key:?} after replay");
    }
    let live: Vec<(Vec<u8>, Vec<u8>)> = model
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    let listed: Vec<_> = db
        .iter()
        .collect::<super::Result<_>>()
        .expect("iteration after replay");
    assert_eq!(listed, live, "iteration after replay");
}

/// The moment `log_scan` judges expiry at: fixed, so that a run depends
/// on its input alone.
const FUZZ_NOW: u64 = 1_700_000_000_000;

fn scan_bytes(data: &[u8]) -> (Vec<log::LoggedOp>, log::ScanEnd) {
    let storage = SimStorage::new(0);
    let path = put(&storage, "wal.log", data);
    let file = storage.open(&path, OpenMode::Read).expect("just written");
    let mut ops = Vec::new();
    let end = log::scan(&*file, &path, |op| ops.push(op)).expect("memory does not fail");
    (ops, end)
}

/// `Index::open`, `lookup`, `entries_from` and `seek` over arbitrary bytes as
/// an index file, then the same bytes as the index of a real segment in a
/// database: no panic, no allocation beyond the file's size, and a lookup
/// never returns another key's entry or a wrong value.
pub fn index(data: &[u8]) {
    index_once(data);
    let mut fixed = data.to_vec();
    fix_index_crcs(&mut fixed, None);
    if fixed != data {
        index_once(&fixed);
    }
    let sample = sample();
    let mut fixed = data.to_vec();
    fix_index_crcs(&mut fixed, Some(sample.segment.len() as u64));
    index_in_db(&fixed, sample);
}

fn index_once(data: &[u8]) {
    let storage = SimStorage::new(0);
    let path = put(&storage, SEGMENT_INDEX, data);
    // Err: another format version; Ok(Err): damaged, to be rebuilt.
    let Ok(Ok(idx)) = Index::open(&storage, &path) else {
        return;
    };
    let idx = Arc::new(idx);
    let f = idx.footer;
    assert!(f.top_off + (index::FOOTER_LEN as u64) < data.len() as u64 + 1);
    let mut probes: Vec<Vec<u8>> = vec![b"a".to_vec(), b"key".to_vec(), vec![0xff; 3]];
    if f.kind == index::Kind::Hashed {
        for (n, entry) in idx.entries_from(FILE_HEADER_LEN as u64).enumerate() {
            // Each entry takes at least 4 bytes, so the walk ends.
            assert!((n as u64) * 4 < f.sparse_off);
            match entry {
                Ok(e) => {
                    assert!(!e.key.is_empty() && e.key.len() <= MAX_KEY_LEN);
                    if probes.len() < MAX_PROBES {
                        probes.push(e.key);
                    }
                }
                Err(_) => break,
            }
        }
    }
    // Where a compaction would cut the segment: no panic, whatever the frames.
    let _ = idx.cut_keys(8);
    for key in &probes {
        if let Ok(Some(block)) = idx.locate(key) {
            assert!(block.first_key.as_slice() <= key.as_slice());
            assert!(block.offset >= FILE_HEADER_LEN as u64 && block.len > 0);
            let end = match f.kind {
                index::Kind::Sorted => f.segment_len,
                index::Kind::Hashed => f.sparse_off,
            };
            assert!(block.offset + block.len <= end);
        }
        if f.kind == index::Kind::Hashed {
            let mut seen = 0u64;
            let _ = idx.candidates(key, |_| {
                seen += 1;
                Ok(false)
            });
            let per = index::slots_per_bucket(f.slot_width) as u64;
            assert!(
                seen <= f.buckets * per,
                "a probe visits each slot once at most"
            );
        }
    }
}

fn index_in_db(index: &[u8], sample: &Sample) {
    let storage = SimStorage::new(0);
    put(&storage, SEGMENT, &sample.segment);
    put(&storage, SEGMENT_INDEX, index);
    let Ok(db) = Db::open(DIR, sim_options(&storage)) else {
        return;
    };
    let clean = db.check().is_ok_and(|r| r.is_clean());
    let mut probes: Vec<&[u8]> = sample.model.keys().map(Vec::as_slice).collect();
    probes.extend([&b"absent"[..], b"b\0"]);
    for key in probes {
        let want = sample.model.get(key).cloned().flatten();
        match db.get(key) {
            Ok(Some(v)) => assert_eq!(Some(v), want, "wrong value for {key:?}"),
            Ok(None) if clean => assert_eq!(want, None, "{key:?} lost with a clean check"),
            _ => {}
        }
    }
    for pair in db.iter().take(sample.model.len() + 1) {
        match pair {
            Ok((k, v)) => assert_eq!(sample.model.get(&k), Some(&Some(v)), "iterating {k:?}"),
            Err(_) => break,
        }
    }
}

/// A real segment written by the engine, and what it holds.
pub struct Sample {
    /// `seg-00000001.log`.
    pub segment: Vec<u8>,
    /// `seg-00000001.idx`, the engine's index of it.
    pub index: Vec<u8>,
    /// Every key the segment mentions and its value (`None`: deleted).
    pub model: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

/// The sample segment, made once: puts, overwrites, a delete and a batch,
/// sealed by closing the database.
pub fn sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let storage = SimStorage::new(0);
        let mut opts = sim_options(&storage);
        opts.seal_on_close = 0;
        let db = Db::open(DIR, opts).expect("sample database");
        let mut model = BTreeMap::new();
        let mut set = |k: &[u8], v: &[u8]| {
            db.set(k, v).expect("sample write");
            model.insert(k.to_vec(), Some(v.to_vec()));
        };
        for i in 0..70u32 {
            set(
                format!("key{i:03}").as_bytes(),
                format!("value {i}").as_bytes(),
            );
        }
        set(b"a", b"");
        set(b"b\0", b"\xff\x00binary");
        set(b"key007", b"overwritten");
        db.delete(b"key008").expect("sample delete");
        model.insert(b"key008".to_vec(), None);
        let mut batch = Batch::new();
        batch.set(b"batch1".to_vec(), b"one".to_vec());
        batch.delete(b"key009".to_vec());
        // Expiring puts (format 3): one that never comes due, one long past
        // (stored as written, so absent to every read).
        batch.set_expiring(
            b"ttl-future".to_vec(),
            b"later".to_vec(),
            Some(u64::MAX / 4),
        );
        batch.set_expiring(b"ttl-past".to_vec(), b"gone".to_vec(), Some(1));
        db.write_batch(batch).expect("sample batch");
        model.insert(b"batch1".to_vec(), Some(b"one".to_vec()));
        model.insert(b"key009".to_vec(), None);
        model.insert(b"ttl-future".to_vec(), Some(b"later".to_vec()));
        model.insert(b"ttl-past".to_vec(), None);
        db.close().expect("sample close seals");
        let read = |name: &str| {
            storage
                .read_file(&Path::new(DIR).join(name))
                .expect("the sample is sealed")
        };
        Sample {
            segment: read(SEGMENT),
            index: read(SEGMENT_INDEX),
            model,
        }
    })
}

fn sim_options(storage: &SimStorage) -> Options {
    Options {
        sync: SyncMode::Never,
        auto_compact: false,
        storage: Arc::new(storage.clone()),
        ..Options::default()
    }
}

/// Writes `bytes` as `name` in the database directory of `storage`.
fn put(storage: &SimStorage, name: &str, bytes: &[u8]) -> PathBuf {
    storage.create_dir_all(Path::new(DIR)).expect("memory");
    let path = Path::new(DIR).join(name);
    storage.write_file(&path, bytes).expect("memory");
    path
}

/// Recomputes the CRC of the record at `at`, if its header decodes and the
/// record fits. Returns the record's length.
fn fix_record_crcs(buf: &mut [u8], at: usize) -> Option<usize> {
    let h = record::decode_header(buf.get(at..)?).ok()?;
    let rec = buf.get_mut(at..at + h.total_len())?;
    let crc = crc32fast::hash(&rec[4..]);
    rec[..4].copy_from_slice(&crc.to_le_bytes());
    Some(h.total_len())
}

/// Recomputes the file header's CRC and every record's, up to the first
/// record whose header does not decode.
fn fix_log_crcs(buf: &mut [u8]) {
    fix_header_crc(buf);
    let mut at = FILE_HEADER_LEN;
    while let Some(len) = fix_record_crcs(buf, at) {
        at += len;
    }
}

fn fix_header_crc(buf: &mut [u8]) {
    if let Some(h) = buf.get_mut(..FILE_HEADER_LEN) {
        let crc = crc32fast::hash(&h[..12]);
        h[12..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Recomputes every CRC of an index file that its footer lets us find (and
/// first sets the footer's segment length, when given): the footer's, every
/// frame's that lies in its region, and every bucket's.
pub fn fix_index_crcs(buf: &mut [u8], segment_len: Option<u64>) {
    const FOOTER: usize = index::FOOTER_LEN;
    let len = buf.len();
    if len < FILE_HEADER_LEN + FOOTER {
        return;
    }
    fix_header_crc(buf);
    let foot = len - FOOTER;
    if let Some(seg) = segment_len {
        buf[foot + 64..foot + 72].copy_from_slice(&seg.to_le_bytes());
    }
    let crc = crc32fast::hash(&buf[foot..foot + 136]);
    buf[foot + 136..].copy_from_slice(&crc.to_le_bytes());
    let at = |off: usize| record::u64_at(buf, foot + off);
    let (table_off, buckets, sparse_off, top_off) = (at(32), at(40), at(48), at(56));
    let in_file = |off: u64| usize::try_from(off).ok().filter(|&o| o <= foot);
    let (Some(sparse_off), Some(top_off)) = (in_file(sparse_off), in_file(top_off)) else {
        return;
    };
    if let Some(table_off) = in_file(table_off).filter(|&t| t > 0) {
        let n = usize::try_from(buckets).unwrap_or(usize::MAX);
        let n = n.min((foot - table_off) / index::BUCKET_LEN);
        for b in 0..n {
            let s = table_off + b * index::BUCKET_LEN;
            let end = s + index::BUCKET_LEN - 4;
            let crc = crc32fast::hash(&buf[s..end]);
            buf[end..end + 4].copy_from_slice(&crc.to_le_bytes());
        }
        fix_frames(buf, table_off + n * index::BUCKET_LEN, sparse_off);
    }
    fix_frames(buf, sparse_off, top_off);
    fix_frames(buf, top_off, foot);
}

/// Recomputes the CRC of every `len | payload | crc` frame laid back to
/// back in `buf[from..to]`, up to the first that does not fit.
fn fix_frames(buf: &mut [u8], from: usize, to: usize) {
    let mut pos = from;
    while pos + 8 <= to {
        let n = record::u32_at(buf, pos) as usize;
        let Some(end) = (pos + 4).checked_add(n).filter(|&e| e + 4 <= to) else {
            return;
        };
        let crc = crc32fast::hash(&buf[pos..end]);
        buf[end..end + 4].copy_from_slice(&crc.to_le_bytes());
        pos = end + 4;
    }
}
