//! cargo-fuzz target `format_rdb`; the body, and its properties, are
//! `tinykv::fuzzing::format_rdb`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tinykv::fuzzing::format_rdb(data));
