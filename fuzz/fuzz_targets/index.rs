//! cargo-fuzz target `index`; the body, and its properties, are
//! `tinykv::fuzzing::index`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tinykv::fuzzing::index(data));
