//! Replays every fuzz seed (`fuzz/seeds/<target>/`) and every input that
//! once crashed a target (`fuzz/regressions/<target>/`) through the target's
//! body, `tinykv::fuzzing::<target>`, so the fuzzers' properties hold in the
//! normal test suite and a found bug stays fixed. See fuzz/README.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use tinykv::fuzzing::TARGETS;

/// No input may size a buffer from a length it declares: the fuzzers run
/// with `-malloc_limit_mb=512`, and the replay checks the same limit here,
/// where a huge zeroed allocation would otherwise pass unnoticed (the
/// kernel maps its pages lazily).
const MALLOC_LIMIT: usize = 512 << 20;

/// The largest single allocation so far, of any test in this file.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, noting the largest request.
struct Tracking;

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the contract; the only addition is an atomic store.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files under `dir/<target>/`, sorted; none when the directory is absent.
fn inputs(dir: &Path, target: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir.join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(kind: &str) -> usize {
    let dir = fuzz_dir().join(kind);
    let mut failures = Vec::new();
    let mut count = 0;
    for (target, body) in TARGETS {
        for file in inputs(&dir, target) {
            let data = fs::read(&file).expect("a readable input");
            count += 1;
            let before = LARGEST.load(Ordering::Relaxed);
            if panic::catch_unwind(|| body(&data)).is_err() {
                failures.push(file.display().to_string());
            }
            let largest = LARGEST.load(Ordering::Relaxed);
            if largest > MALLOC_LIMIT && before <= MALLOC_LIMIT {
                failures.push(format!("{}: allocated {largest} bytes", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "fuzz inputs that fail: {failures:#?}");
    count
}

#[test]
fn every_seed_passes() {
    for (target, _) in TARGETS {
        let n = inputs(&fuzz_dir().join("seeds"), target).len();
        assert!(n > 0, "fuzz/seeds/{target}/ has no seeds");
    }
    replay("seeds");
}

#[test]
fn every_saved_crash_stays_fixed() {
    replay("regressions");
}

#[test]
fn every_input_directory_names_a_target() {
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = fs::read_dir(fuzz_dir().join(kind)) else {
            continue;
        };
        for entry in entries {
            let name = entry.expect("a readable entry").file_name();
            let name = name.to_string_lossy();
            assert!(
                TARGETS.iter().any(|(t, _)| *t == name),
                "fuzz/{kind}/{name} is not a fuzz target"
            );
        }
    }
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    for (target, _) in TARGETS {
        let file = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        assert!(file.is_file(), "{} is missing", file.display());
    }
}

/// The seeds include the sample segment that the `index` target opens a
/// database with, and the engine's index of it; this rewrites them
/// (`cargo test --test fuzz_corpus -- --ignored`, run by fuzz/make-seeds.sh).
#[test]
#[ignore = "writes the sample segment's seeds"]
fn write_sample_seeds() {
    let sample = tinykv::fuzzing::sample();
    for (target, name, bytes) in [
        ("index", "sample.idx", &sample.index),
        ("log_scan", "sample.log", &sample.segment),
    ] {
        let dir = fuzz_dir().join("seeds").join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes).unwrap();
    }
}
