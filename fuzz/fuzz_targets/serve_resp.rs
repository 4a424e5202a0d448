//! cargo-fuzz target `serve_resp`; the body, and its properties, are
//! `tinykv::fuzzing::serve_resp`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tinykv::fuzzing::serve_resp(data));
