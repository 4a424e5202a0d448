//! Tests of a run's reader.

use std::sync::Arc;

use super::RunReader;
use crate::engine::output::Output;
use crate::engine::storage::{Counting, DROP_BEHIND, OpenMode, RealStorage, Storage};

/// A reader hands the run's pages back to the system behind it as it
/// goes, never what it has not passed, and the whole run at its end: a
/// run of about 10 MiB read through a 64 KiB window has handed back more
/// than 4 MiB by its middle and everything by its end.
#[test]
fn a_run_is_handed_back_behind_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let counting = Counting::over(Arc::new(RealStorage));
    let mut out = Output::create(&counting, dir.path(), 1, false).unwrap();
    let n = 10_000u64;
    for i in 0..n {
        out.put(format!("key{i:08}").as_bytes(), &[b'v'; 1024], None)
            .unwrap();
    }
    out.close(false).unwrap();
    let (path, len) = (out.tmp_path.clone(), out.len);
    drop(out);
    let file = counting.open(&path, OpenMode::Read).unwrap();
    let mut reader = RunReader::new(file, path, 64 << 10).unwrap();
    // The end of what was handed back so far, checked to start at 0 and
    // leave no gap.
    let handed_back = || {
        counting.dropped.lock().unwrap().iter().fold(0, |end, d| {
            assert_eq!(d.offset, end, "handed back with a gap: {d:?}");
            end + d.len
        })
    };
    let mut read = 0;
    let mut at_middle = None;
    while !reader.done() {
        let at = reader.current().at;
        assert!(handed_back() <= at, "handed back the record it stands on");
        if read == n / 2 {
            at_middle = Some(handed_back());
        }
        reader.advance().unwrap();
        read += 1;
    }
    assert_eq!(read, n);
    assert!(
        at_middle.unwrap() >= DROP_BEHIND,
        "{at_middle:?} by the middle"
    );
    assert_eq!(handed_back(), len);
}
