//! A damaged, missing or stale segment index is rebuilt at open or reported
//! as `Error::Corrupt` at lookup, never read as wrong data, including the
//! indexes of a multi-output compaction.

mod common_engine;
mod layout;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common_engine::{assert_contents, dir_listing, fill, real_options, seg_files, value_for};
use tinykv::Db;

use layout::FOOTER;
use tinykv::fuzzing::fix_index_crcs;

/// A database whose data sits in several sealed segments, with overwrites
/// and deletes across them.
fn sealed_db(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = Db::open(dir, real_options()).unwrap();
    let mut model = fill(&db, 60, 1, 150);
    for i in (0..60).step_by(3) {
        let k = format!("key{i:03}").into_bytes();
        let v = value_for(&k, 2, 90);
        db.set(&k, &v).unwrap();
        model.insert(k, v);
    }
    for i in (0..60).step_by(7) {
        let k = format!("key{i:03}").into_bytes();
        db.delete(&k).unwrap();
        model.remove(&k);
    }
    db.close().unwrap();
    assert!(seg_files(dir, ".idx").len() >= 3, "{}", dir_listing(dir));
    assert!(
        !dir.join("wal.log").exists() || fs::metadata(dir.join("wal.log")).unwrap().len() <= 512
    );
    model
}

/// Opens and checks that the index at `idx` was rebuilt and nothing was lost.
fn assert_rebuilt(dir: &Path, idx: &Path, model: &BTreeMap<Vec<u8>, Vec<u8>>, what: &str) {
    let db = Db::open(dir, real_options()).unwrap_or_else(|e| panic!("{what}: open: {e}"));
    assert!(
        db.open_report().rebuilt_indexes.iter().any(|p| p == idx),
        "{what}: {} not rebuilt: {:?}",
        idx.display(),
        db.open_report()
    );
    assert_contents(&db, model, what);
    assert!(
        db.check().unwrap().is_clean(),
        "{what}: check after rebuild"
    );
}

fn damage_each_index(damage: impl Fn(&Path, &mut Vec<u8>), what: &str, rebuilt: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let model = sealed_db(&dir);
    let kinds: std::collections::BTreeSet<u8> = seg_files(&dir, ".idx")
        .iter()
        .map(|p| layout::layout(&fs::read(p).unwrap()).kind)
        .collect();
    assert_eq!(kinds.len(), 2, "sorted and hashed indexes are both damaged");
    for idx in seg_files(&dir, ".idx") {
        let clean = fs::read(&idx).unwrap();
        let mut bytes = clean.clone();
        damage(&idx, &mut bytes);
        if bytes.is_empty() && !idx.exists() {
            // `damage` removed the file.
        } else {
            fs::write(&idx, &bytes).unwrap();
        }
        let label = format!("{what} in {}", idx.display());
        if rebuilt {
            assert_rebuilt(&dir, &idx, &model, &label);
        } else {
            assert!(
                assert_reads_right(&dir, &model, &label, &idx, &bytes),
                "{label}: the damaged index was left in place"
            );
            fs::write(&idx, &clean).unwrap();
        }
    }
}

/// An index is derived data and every log here is intact, so index damage
/// never costs a read: every `get` and the iteration return exactly the
/// model. Returns whether the damage was caught: the index was rewritten
/// (rebuilt at open or healed by a read that reached the damage) or, for
/// damage no read reached (an entry shadowed by a newer segment), `check`
/// names the index.
fn assert_reads_right(
    dir: &Path,
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    what: &str,
    idx: &Path,
    damaged: &[u8],
) -> bool {
    let db =
        Db::open(dir, real_options()).unwrap_or_else(|e| panic!("{what}: open failed with {e}"));
    for i in 0..60 {
        let k = format!("key{i:03}").into_bytes();
        match db.get(&k) {
            Ok(got) => assert_eq!(got.as_ref(), model.get(&k), "{what}: wrong data for {i}"),
            Err(e) => panic!("{what}: get failed instead of healing the index: {e}"),
        }
    }
    let seen: BTreeMap<_, _> = db
        .iter()
        .map(|item| item.unwrap_or_else(|e| panic!("{what}: iteration failed: {e}")))
        .collect();
    assert_eq!(&seen, model, "{what}: iteration returned other data");
    let report = db.check().unwrap();
    for p in &report.problems {
        assert_eq!(
            p.path.extension().and_then(|e| e.to_str()),
            Some("idx"),
            "{what}: {p:?}"
        );
    }
    let flagged = report.problems.iter().any(|p| p.path == idx);
    drop(db);
    flagged || fs::read(idx).map_or(true, |now| now != damaged)
}

#[test]
fn flipped_footer_byte_rebuilds() {
    for at in [1, 8, 40, 56, 80, 85, 100, 130] {
        damage_each_index(
            |_, b| {
                let n = b.len();
                b[n - FOOTER + at] ^= 0x10;
            },
            &format!("footer byte {at} flipped"),
            true,
        );
    }
}

#[test]
fn truncated_index_rebuilds() {
    damage_each_index(|_, b| b.truncate(b.len() - 1), "last byte cut", true);
    damage_each_index(|_, b| b.truncate(b.len() / 2), "cut in half", true);
    damage_each_index(|_, b| b.truncate(10), "cut inside the header", true);
}

#[test]
fn missing_index_rebuilds() {
    damage_each_index(
        |p, b| {
            fs::remove_file(p).unwrap();
            b.clear();
        },
        "index removed",
        true,
    );
}

#[test]
fn stale_segment_len_rebuilds() {
    damage_each_index(
        |_, b| {
            let f = b.len() - FOOTER;
            let len = u64::from_le_bytes(b[f + 64..f + 72].try_into().unwrap());
            // Shorter, not longer: an intact index describing a longer
            // segment means the segment was cut short, which open reports
            // (tests/corrupt_table.rs, SegX × CutToHeader).
            fix_index_crcs(b, Some(len - 7));
        },
        "footer names a shorter segment length",
        true,
    );
}

/// Points the index somewhere else, with every CRC made right again: a
/// hashed index's slots past the segment or at other keys' records, a
/// sorted index's first block into the middle of a record.
fn misdirect(b: &mut [u8], past_the_end: bool) {
    let l = layout::layout(b);
    if l.kind == 2 {
        let slots = layout::occupied_slots(b, &l);
        assert!(slots.len() >= 2 && l.slot_width == 8);
        let first = u32::from_le_bytes(b[slots[0] + 4..slots[0] + 8].try_into().unwrap());
        for (i, &at) in slots.iter().enumerate() {
            let other = slots[(i + 1) % slots.len()];
            let to = if past_the_end {
                u32::MAX - 1
            } else if i + 1 == slots.len() {
                first
            } else {
                u32::from_le_bytes(b[other + 4..other + 8].try_into().unwrap())
            };
            b[at + 4..at + 8].copy_from_slice(&to.to_le_bytes());
        }
    } else {
        let (at, n) = layout::first_sparse_offset_field(b, &l);
        // The same width: 0x7f (127) or 0xff.. 0x7f, never a record start here.
        for (i, byte) in b[at..at + n].iter_mut().enumerate() {
            *byte = if i + 1 == n { 0x7f } else { 0xff };
        }
    }
    fix_index_crcs(b, None);
}

#[test]
fn index_pointing_past_its_segment_is_healed_not_read() {
    damage_each_index(
        |_, b| misdirect(b, true),
        "slots past the segment / block into a record",
        false,
    );
}

#[test]
fn index_pointing_at_other_records_is_healed_not_read() {
    damage_each_index(
        |_, b| misdirect(b, false),
        "slots at other records / block into a record",
        false,
    );
}

/// Bytes of an index flipped in turn: reads are always right, and the
/// damage that reads can see is repaired.
#[test]
fn any_flipped_index_byte_never_yields_wrong_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let model = sealed_db(&dir);
    let idx = seg_files(&dir, ".idx").remove(1);
    let clean = fs::read(&idx).unwrap();
    let step = (clean.len() / 300).max(1);
    let mut detected = 0;
    for at in (0..clean.len()).step_by(step) {
        let mut b = clean.clone();
        b[at] ^= 0x04;
        fs::write(&idx, &b).unwrap();
        if assert_reads_right(
            &dir,
            &model,
            &format!("byte {at} of {}", idx.display()),
            &idx,
            &b,
        ) {
            detected += 1;
        }
        fs::write(&idx, &clean).unwrap();
    }
    assert!(detected > 0);
}

/// A multi-output compaction writes a group of segments that count only
/// together; damaging any one of their indexes must not lose the others.
#[test]
fn damaged_index_of_a_compaction_output_keeps_the_whole_group() {
    type Damage = (&'static str, fn(&Path));
    let damages: [Damage; 3] = [
        ("removed", |p| fs::remove_file(p).unwrap()),
        ("footer flipped", |p| {
            let mut b = fs::read(p).unwrap();
            let n = b.len();
            b[n - 3] ^= 1;
            fs::write(p, b).unwrap();
        }),
        ("truncated", |p| {
            let b = fs::read(p).unwrap();
            fs::write(p, &b[..b.len() - 1]).unwrap();
        }),
    ];
    for (what, damage) in damages {
        for victim in 0..3 {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("db");
            let model = {
                let db = Db::open(&dir, real_options()).unwrap();
                let model = fill(&db, 60, 1, 200);
                db.compact().unwrap();
                db.close().unwrap();
                model
            };
            let outputs: Vec<PathBuf> = seg_files(&dir, ".idx");
            assert!(
                outputs.len() >= 3,
                "want a multi-output compaction: {}",
                dir_listing(&dir)
            );
            let victim_idx = &outputs[[0, outputs.len() / 2, outputs.len() - 1][victim]];
            damage(victim_idx);
            let label = format!("{what} index {}", victim_idx.display());
            let db = Db::open(&dir, real_options()).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_contents(&db, &model, &label);
            drop(db);
            let db = Db::open(&dir, real_options()).unwrap();
            assert_contents(&db, &model, &format!("{label}, second open"));
        }
    }
}

/// `recover` rebuilds every index; one it cannot read loses its group
/// membership, and the group must still survive the next open.
#[test]
fn recover_with_a_damaged_compaction_output_index_keeps_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let model = {
        let db = Db::open(&dir, real_options()).unwrap();
        let model = fill(&db, 60, 1, 200);
        db.compact().unwrap();
        db.close().unwrap();
        model
    };
    let outputs = seg_files(&dir, ".idx");
    assert!(outputs.len() >= 3, "{}", dir_listing(&dir));
    let mut b = fs::read(&outputs[0]).unwrap();
    let n = b.len();
    b[n - 2] ^= 0x08;
    fs::write(&outputs[0], b).unwrap();
    Db::recover_dir(&dir, &real_options()).unwrap();
    let db = Db::open(&dir, real_options()).unwrap();
    assert_contents(&db, &model, "after recover");
    assert!(db.check().unwrap().is_clean());
}
