//! A large value costs about its own size in memory to write and to read,
//! not a multiple of it: measured by a counting allocator around the call
//! (the peak of bytes allocated at once, beyond what was allocated before).

mod peak_alloc;

use tinykv::{Db, Options};

use peak_alloc::{MIB, peak_of, serial};

#[global_allocator]
static ALLOC: peak_alloc::Peak = peak_alloc::Peak;

#[test]
fn a_large_value_is_written_and_read_in_about_its_own_size() {
    let _one_at_a_time = serial();
    let dir = tempfile::tempdir().unwrap();
    // No automatic compaction inside the sets: it is not what is measured.
    let opts = || {
        let mut o = Options::default();
        o.auto_compact = false;
        o
    };
    let db = Db::open(dir.path(), opts()).unwrap();
    let value: Vec<u8> = (0..64 * MIB).map(|i| (i % 251) as u8).collect();

    let ((), set) = peak_of(|| db.set(b"big", &value).unwrap());
    assert!(
        set < 4 * MIB,
        "set of 64 MiB allocated {set} bytes beyond the value"
    );

    let expires = db.now_ms() + 3_600_000;
    let ((), set_expiring) = peak_of(|| db.set_expiring(b"big2", &value, Some(expires)).unwrap());
    assert!(
        set_expiring < 4 * MIB,
        "set_expiring of 64 MiB allocated {set_expiring} bytes beyond the value"
    );

    let (got, get) = peak_of(|| db.get(b"big").unwrap().unwrap());
    assert!(got == value, "the value read back differs");
    assert!(
        get < 64 * MIB + 4 * MIB,
        "get of 64 MiB allocated {get} bytes"
    );
    drop(got);
    assert_eq!(db.expiry(b"big2").unwrap(), Some(Some(expires)));

    // A compaction writes a large value from where it read it, after its
    // header: it must come back whole, with its deadline.
    db.set(b"big", b"small now").unwrap();
    let report = db.compact().unwrap();
    assert!(report.skipped.is_none(), "{report:?}");
    assert!(db.get(b"big2").unwrap().unwrap() == value);
    assert_eq!(db.expiry(b"big2").unwrap(), Some(Some(expires)));
    db.set(b"big", &value).unwrap();
    drop(db);

    // Through a reopen, from the segment it was sealed into.
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.get(b"big").unwrap().unwrap() == value);
    assert!(db.get(b"big2").unwrap().unwrap() == value);
    assert!(db.check().unwrap().is_clean());
}
