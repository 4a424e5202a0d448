//! cargo-fuzz target `log_scan`; the body, and its properties, are
//! `tinykv::fuzzing::log_scan`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tinykv::fuzzing::log_scan(data));
