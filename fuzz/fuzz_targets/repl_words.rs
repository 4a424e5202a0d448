//! cargo-fuzz target `repl_words`; the body, and its properties, are
//! `tinykv::fuzzing::repl_words`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tinykv::fuzzing::repl_words(data));
