//! Tests of [`Output`]'s fsyncs started in the background as it writes.

use std::path::Path;

use super::Output;
use crate::engine::Error;
use crate::engine::storage::{Fault, FaultKind, FaultOp, SimStorage, Storage};

fn pairs(n: u32) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
    (0..n).map(|i| (format!("key{i:06}").into_bytes(), vec![i as u8; 100]))
}

/// An output that starts an fsync every kilobyte writes the same bytes as
/// one that starts none, and once its closing fsync returns, a power loss
/// keeps every byte of it.
#[test]
fn background_fsyncs_leave_the_same_file_and_all_of_it_durable() {
    let (mut files, mut ops) = (Vec::new(), Vec::new());
    for every in [u64::MAX, 1024] {
        let sim = SimStorage::new(7);
        let dir = Path::new("/db");
        sim.create_dir_all(dir).unwrap();
        let mut out = Output::create(&sim, dir, 5, true).unwrap();
        out.sync_ahead_every(every);
        // 2.3 MB: the write buffer goes out twice before the close.
        for (k, v) in pairs(20_000) {
            out.put(&k, &v, None).unwrap();
        }
        let len = out.size();
        out.close(true).unwrap();
        ops.push(sim.op_count());
        let path = out.tmp_path.clone();
        assert!(len > 2_300_000, "{len}");
        // The name is not synced into the directory: sync it, then lose
        // power; the bytes are what the fsyncs made durable.
        sim.sync_dir(dir).unwrap();
        sim.crash();
        let bytes = sim.read_file(&path).expect("the output");
        assert_eq!(bytes.len() as u64, len, "every byte survives");
        files.push(bytes);
    }
    assert_eq!(files[0], files[1]);
    // The three writes each started an fsync ahead (the last one joined
    // by the close): three more operations than without.
    assert_eq!(ops[1], ops[0] + 3, "{ops:?}");
}

/// A background fsync that fails fails the output: at the next write that
/// starts another, or at its closing fsync.
#[test]
fn a_failed_background_fsync_fails_the_output() {
    for closing in [false, true] {
        let sim = SimStorage::new(3);
        let dir = Path::new("/db");
        sim.create_dir_all(dir).unwrap();
        let mut out = Output::create(&sim, dir, 5, true).unwrap();
        // The buffer goes out at 1 and 2 MiB and at the close (2.3 MB):
        // an fsync starts at the first, or only at the close.
        out.sync_ahead_every(if closing { 2_200_000 } else { 4096 });
        sim.inject(Fault {
            op: FaultOp::Sync,
            nth: 1,
            kind: FaultKind::Eio,
            persistent: false,
        });
        let mut failed = None;
        for (k, v) in pairs(20_000) {
            if let Err(e) = out.put(&k, &v, None) {
                failed = Some(e);
                break;
            }
        }
        let failed = match failed {
            Some(e) => {
                assert!(!closing, "a write failed though one fsync started");
                e
            }
            None => {
                assert!(closing, "every write succeeded after a failed fsync");
                out.close(true).expect_err("the closing fsync")
            }
        };
        assert!(
            matches!(failed, Error::Io { op: "fsync", .. }),
            "{failed:?}"
        );
    }
}

/// The index an output builds as it writes, its blocks' CRCs computed from
/// the bytes as they go out (a megabyte behind the entries, and records of
/// a megabyte or more written straight from where they are), is the index
/// a rebuild from the finished log gives, byte for byte: with no record,
/// one, a frame's worth of blocks (32, of 18 of these records each), a
/// frame's worth and one, 65 blocks, many frames, and enough (about 300
/// KiB of index) that its file is written while it is built.
#[test]
fn the_blocks_crcs_built_as_it_writes_are_a_rebuilds() {
    for (n, big) in [
        (0, false),
        (1, false),
        (576, false),
        (577, false),
        (1_153, false),
        (20_000, true),
        (200_000, false),
    ] {
        let (built, rebuilt, early) = built_and_rebuilt(n, big);
        assert!(
            built == rebuilt,
            "{n} records: the index differs from a rebuild"
        );
        assert_eq!(early > 0, n == 200_000, "{n} records: {early} bytes early");
        let flags = built[built.len() - crate::engine::index::FOOTER_LEN + 7];
        let want = if big { 3 } else { 2 };
        assert_eq!(
            flags & 3,
            want,
            "{n} records: blocks' CRCs (and an expiring put)"
        );
    }
}

/// The index an output of `n` pairs writes, a rebuild's from its log, and
/// how much of the index was in its file before the output was finished;
/// with `big`, two records of a megabyte among them and tombstones.
fn built_and_rebuilt(n: u32, big: bool) -> (Vec<u8>, Vec<u8>, usize) {
    use crate::engine::dir::seg_idx_name;
    use crate::engine::index::IndexMeta;
    use crate::engine::record::{self, Tag};
    use crate::engine::segment::rebuild_index;
    use crate::engine::storage::OpenMode;
    let sim = SimStorage::new(11);
    let dir = Path::new("/db");
    sim.create_dir_all(dir).unwrap();
    let mut out = Output::create(&sim, dir, 5, true).unwrap();
    let large = vec![7u8; super::OUT_BUF + 10];
    for (i, (k, v)) in pairs(n).enumerate() {
        match i {
            // A put whose value goes straight to the file.
            5_000 if big => out.put(&k, &large, None).unwrap(),
            // A whole record copied as it is, straight to the file.
            9_000 if big => {
                let mut rec = Vec::new();
                record::encode_expiring(&mut rec, Tag::Put, &k, &large, Some(1 << 50));
                out.record(&k, &rec, false, Some(1 << 50)).unwrap();
            }
            // A tombstone, copied as it is.
            _ if big && i % 1_000 == 7 => {
                let mut rec = Vec::new();
                record::encode(&mut rec, Tag::Delete, &k, b"");
                out.record(&k, &rec, true, None).unwrap();
            }
            _ => out.put(&k, &v, None).unwrap(),
        }
    }
    out.close(true).unwrap();
    let tmp = crate::engine::dir::tmp_path(&dir.join(seg_idx_name(5)));
    let early = sim.read_file(&tmp).unwrap().len();
    let meta = IndexMeta::default();
    out.write_index(&sim, dir, |_, _| meta).unwrap();
    let built = sim.read_file(&dir.join(seg_idx_name(5))).unwrap();
    let log = sim.open(&out.tmp_path, OpenMode::Read).unwrap();
    let rebuilt = rebuild_index(&*log, &out.tmp_path, out.len, meta).unwrap();
    (built, rebuilt, early)
}

/// An output told to hand back its pages tells its file to drop only
/// ranges an fsync had made durable, from the start, each once, and all
/// of the file by its closing fsync; its index's pages, and every page of
/// an output not told to, are kept.
#[test]
fn handed_back_pages_are_durable_ones_and_all_of_them() {
    use std::sync::Arc;

    use crate::engine::storage::{Counting, RealStorage};
    for hand_back in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let counting = Counting::over(Arc::new(RealStorage));
        let mut out = Output::create(&counting, dir.path(), 5, true).unwrap();
        out.sync_ahead_every(512 * 1024);
        if hand_back {
            out.hand_back_pages();
        }
        // 2.3 MB: the buffer goes out at 1 and 2 MiB, each write starting
        // a background fsync, and at the close (too little for another).
        for (k, v) in pairs(20_000) {
            out.put(&k, &v, None).unwrap();
        }
        out.close(true).unwrap();
        let dropped = counting.dropped.lock().unwrap().clone();
        if !hand_back {
            assert_eq!(dropped, [], "kept");
            continue;
        }
        let log = out.tmp_path.file_name().unwrap().to_str().unwrap();
        let mut upto = 0;
        for d in &dropped {
            assert_eq!(d.file, log, "only the log's pages: {d:?}");
            assert!(d.durable, "not durable yet: {d:?}");
            assert_eq!(d.offset, upto, "in order, each once: {dropped:?}");
            upto += d.len;
        }
        // Behind each background fsync once it is joined (the one started
        // at 1 MiB by the write at 2 MiB, that one by the close), and the
        // rest after the closing fsync.
        assert_eq!(dropped.len(), 3, "{dropped:?}");
        assert_eq!(upto, out.len, "all of it by the close");
    }
}
