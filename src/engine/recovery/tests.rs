//! Tests of `recovery`.

use super::*;
use crate::engine::record::{FORMAT_VERSION, encode, encode_commit, file_header};

#[test]
fn salvage_keeps_intact_records_around_damage() {
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"a", b"1");
    let bad_at = bytes.len();
    encode(&mut bytes, Tag::Put, b"b", b"2");
    let bad_end = bytes.len();
    encode(&mut bytes, Tag::Put, b"c", b"3");
    bytes[bad_at + 8] ^= 0xff;
    let s = salvage(&bytes, Log::Sealed);
    assert_eq!(s.records, 2);
    assert_eq!(s.lost, vec![(bad_at as u64, (bad_end - bad_at) as u64)]);
}

/// Regression (#16): the search for the next intact record hashed each
/// candidate over the length its header claimed, so 64 KiB of crafted
/// damage (a plausible header claiming 2 MiB every 5 bytes) before
/// 3 MiB of records hashed 27 GB, 8,000 times the log. Now it hashes
/// a few times the log's length at most.
#[test]
fn searching_crafted_damage_hashes_about_the_log_once() {
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"before", b"1");
    let damage_at = bytes.len();
    for _ in 0..64 * 1024 / 5 {
        bytes.extend_from_slice(b"\x01\x01\xff\xff\x7f");
    }
    let damage_end = bytes.len();
    let mut after = 0;
    while bytes.len() < damage_end + (3 << 20) {
        encode(
            &mut bytes,
            Tag::Put,
            format!("k{after:06}").as_bytes(),
            &[b'v'; 100],
        );
        after += 1;
    }
    let s = salvage(&bytes, Log::Sealed);
    assert_eq!(s.records, 1 + after);
    assert_eq!(
        s.lost,
        vec![(damage_at as u64, (damage_end - damage_at) as u64)]
    );
    let len = bytes.len() as u64;
    assert!(
        s.hashed <= 4 * len,
        "hashed {} bytes for a log of {len}",
        s.hashed
    );
}

/// A log of `a` (plain), a batch of `b1 b2 b3`, and `c` (plain), with
/// the byte offsets of the batch's start, its second record, its third
/// and its commit record, and of the end of the batch.
fn log_with_a_batch() -> (Vec<u8>, [usize; 5]) {
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"a", b"1");
    let start = bytes.len();
    encode(&mut bytes, Tag::BatchPut, b"b1", b"1");
    let second = bytes.len();
    encode(&mut bytes, Tag::BatchPut, b"b2", b"2");
    let third = bytes.len();
    encode(&mut bytes, Tag::BatchDelete, b"b3", b"");
    let commit = bytes.len();
    encode_commit(&mut bytes, 3);
    let end = bytes.len();
    encode(&mut bytes, Tag::Put, b"c", b"3");
    (bytes, [start, second, third, commit, end])
}

fn kept_keys(s: &Salvage) -> Vec<(Tag, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = FILE_HEADER_LEN;
    while pos < s.kept.len() {
        let (rec, n) = record::decode(&s.kept[pos..]).expect("the kept log is valid");
        out.push((rec.tag, rec.key.to_vec()));
        pos += n;
    }
    out
}

/// Regression (CLI review): one flipped byte in a `load` of 200,000
/// pairs (one batch) made recover keep none of them.
#[test]
fn salvage_keeps_the_intact_records_of_a_damaged_committed_batch() {
    let (mut bytes, [_, second, third, commit, end]) = log_with_a_batch();
    bytes[second + 8] ^= 0xff;
    for log in [Log::Sealed, Log::Active] {
        let s = salvage(&bytes, log);
        assert_eq!(s.records, 4, "{log:?}: a, b1, b3, c");
        // The damaged record and the old commit (it counts 3) are lost.
        assert_eq!(
            s.lost,
            vec![
                (second as u64, (third - second) as u64),
                (commit as u64, (end - commit) as u64)
            ],
            "{log:?}"
        );
        assert_eq!(
            kept_keys(&s),
            vec![
                (Tag::Put, b"a".to_vec()),
                (Tag::BatchPut, b"b1".to_vec()),
                (Tag::BatchDelete, b"b3".to_vec()),
                (Tag::BatchCommit, Vec::new()),
                (Tag::Put, b"c".to_vec()),
            ],
            "{log:?}"
        );
        // What is kept is a log that salvages to itself.
        let again = salvage(&s.kept, log);
        assert_eq!((again.kept, again.records), (s.kept.clone(), 4));
        assert!(again.lost.is_empty());
    }
}

#[test]
fn a_damaged_commit_is_replaced_when_writes_follow_it() {
    let (mut bytes, [_, _, _, commit, end]) = log_with_a_batch();
    bytes[commit + 2] ^= 0xff;
    let s = salvage(&bytes, Log::Active);
    assert_eq!(s.records, 5);
    assert_eq!(s.lost, vec![(commit as u64, (end - commit) as u64)]);
}

/// The end of `wal.log` in a batch without its commit is what a crash
/// during the write leaves: never acknowledged, so lost whole, while in
/// a sealed segment (sealed after the commit) the records are kept.
#[test]
fn an_uncommitted_batch_at_the_end_of_the_active_log_is_lost_whole() {
    let (bytes, [start, _, third, commit, _]) = log_with_a_batch();
    let mut torn = bytes[..commit].to_vec();
    torn[third + 8] ^= 0xff;
    let s = salvage(&torn, Log::Active);
    assert_eq!(s.records, 1);
    assert_eq!(s.lost, vec![(start as u64, (commit - start) as u64)]);
    let s = salvage(&torn, Log::Sealed);
    assert_eq!(s.records, 3, "a, b1, b2");
    assert_eq!(s.lost, vec![(third as u64, (commit - third) as u64)]);
}

/// What open and check ask of the bytes after damage: a damaged batch
/// is not an intact unit there (it may be the torn write itself).
#[test]
fn strict_salvage_drops_a_damaged_batch_whole() {
    let (mut bytes, [start, second, _, _, end]) = log_with_a_batch();
    bytes[second + 8] ^= 0xff;
    let s = salvage(&bytes, Log::Strict);
    assert_eq!(s.records, 2);
    assert_eq!(s.lost, vec![(start as u64, (end - start) as u64)]);
    assert!(!holds_intact_unit(&bytes[start..end]));
    assert!(holds_intact_unit(&bytes[start..]));
}

#[test]
fn salvage_of_a_clean_log_changes_nothing() {
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"a", b"1");
    encode(&mut bytes, Tag::Delete, b"a", b"");
    let s = salvage(&bytes, Log::Active);
    assert_eq!(s.kept, bytes);
    assert!(s.lost.is_empty());
}

#[test]
fn a_newer_format_is_refused_not_salvaged() {
    use crate::engine::{Db, Options};
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        seal_on_close: 0,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    db.set(b"k", b"v").unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.set(b"k2", b"v2").unwrap();
    drop(db);
    for name in ["wal.log", "seg-00000001.log", "seg-00000001.idx"] {
        let path = dir.path().join(name);
        let clean = std::fs::read(&path).unwrap();
        let mut newer = clean.clone();
        newer[4] = FORMAT_VERSION as u8 + 1;
        let crc = crc32fast::hash(&newer[..12]);
        newer[12..16].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&path, &newer).unwrap();
        for result in [
            Db::check_dir(dir.path(), &opts).map(|_| ()),
            Db::recover_dir(dir.path(), &opts).map(|_| ()),
        ] {
            assert!(
                matches!(result, Err(Error::UnsupportedVersion { found, .. }) if found == FORMAT_VERSION + 1),
                "{name}: {result:?}"
            );
        }
        assert_eq!(std::fs::read(&path).unwrap(), newer, "{name} was changed");
        assert!(!dir.path().join("lost+found").exists());
        std::fs::write(&path, &clean).unwrap();
    }
}

/// Zeros after the active log's last record are its room (what a crash of
/// a writer that made room leaves): recover cuts them and saves nothing,
/// while other bytes there still go to lost+found.
#[test]
fn the_active_logs_room_is_cut_not_saved() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = file_header(LOG_MAGIC).to_vec();
    encode(&mut bytes, Tag::Put, b"a", b"1");
    let valid = bytes.len();
    bytes.extend_from_slice(&[0; 5000]);
    std::fs::write(dir.path().join(WAL), &bytes).unwrap();
    let r = crate::engine::Db::recover_dir(dir.path(), &Options::default()).unwrap();
    assert_eq!((r.records_kept, r.bytes_moved), (1, 0));
    assert!(r.moved_to.is_empty());
    assert_eq!(
        std::fs::read(dir.path().join(WAL)).unwrap(),
        &bytes[..valid]
    );
    // Not all zero: saved, as before.
    bytes.truncate(valid);
    bytes.extend_from_slice(&[0, 0, 7, 0]);
    std::fs::write(dir.path().join(WAL), &bytes).unwrap();
    let r = crate::engine::Db::recover_dir(dir.path(), &Options::default()).unwrap();
    assert_eq!((r.records_kept, r.bytes_moved), (1, 4));
}
