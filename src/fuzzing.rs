//! Fuzz-target bodies, one `pub fn(&[u8])` per target (hidden; not API).
//!
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` are one-line wrappers
//! around these functions, and `tests/fuzz_corpus.rs` replays every seed
//! and every saved crash through them in the normal test suite, so a case
//! the fuzzer once found stays fixed. A function panics only when a property
//! is broken: no input may make the code under test panic, and readers must
//! round-trip what they accept.
//!
//! The engine's targets live in `engine::fuzz_decoders`, beside the private
//! decoders they reach; the server's request parser's, `serve_resp`, in
//! `cli::serve::request::fuzz`, for the same reason.
//!
//! Test machinery: compiled for the crate's tests and with the `testing`
//! feature only (fuzz/ turns it on). The command line's targets,
//! `repl_words` and `serve_resp`, need the `cli` feature too.

use std::io::{BufReader, Read};

#[cfg(feature = "cli")]
use crate::cli::words;
use crate::format::{Entry, Format, Reader, Writer};

#[cfg(feature = "cli")]
pub use crate::cli::serve::request::fuzz::serve_resp;
pub use crate::engine::fuzz_decoders::{fix_index_crcs, index, log_scan, record, sample};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name: the name is the directory under `fuzz/seeds/`,
/// `fuzz/regressions/` and the file under `fuzz/fuzz_targets/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("record", record),
    ("log_scan", log_scan),
    ("index", index),
    ("format_tsv", format_tsv),
    ("format_jsonl", format_jsonl),
    ("format_resp", format_resp),
    ("format_rdb", format_rdb),
    #[cfg(feature = "cli")]
    ("repl_words", repl_words),
    #[cfg(feature = "cli")]
    ("serve_resp", serve_resp),
];

/// The tsv reader: see [`format_reader`].
pub fn format_tsv(data: &[u8]) {
    format_reader(Format::Tsv, data);
}

/// The jsonl reader: see [`format_reader`].
pub fn format_jsonl(data: &[u8]) {
    format_reader(Format::Jsonl, data);
}

/// The resp reader: see [`format_reader`].
pub fn format_resp(data: &[u8]) {
    format_reader(Format::Resp, data);
}

/// The rdb reader: see [`format_reader`].
pub fn format_rdb(data: &[u8]) {
    format_reader(Format::Rdb, data);
}

/// A dump reader over arbitrary bytes: no panic; the same pairs and the same
/// first error whether the input arrives at once or a few bytes at a time;
/// and the pairs it accepted, written back and read again, are the same.
pub fn format_reader(format: Format, data: &[u8]) {
    let whole = read_all(format, data);
    let chunk = 1 + usize::from(data.first().copied().unwrap_or(0) % 7);
    let trickled = read_all(format, BufReader::with_capacity(chunk, data));
    assert_eq!(
        whole, trickled,
        "the result depends on how the input is buffered"
    );

    let (pairs, _) = whole;
    let mut w = Writer::new(format, Vec::new());
    for e in &pairs {
        w.write_entry(&e.key, &e.value, e.expires_at)
            .expect("a pair the reader accepted is writable");
    }
    let out = w.finish().expect("writing to memory");
    let (again, err) = read_all(format, &out[..]);
    assert_eq!(err, None, "the writer's own output is refused");
    assert_eq!(again, pairs, "accepted pairs do not round-trip");
}

/// The pairs before the first error, and that error as text.
fn read_all(format: Format, input: impl Read) -> (Vec<Entry>, Option<String>) {
    let mut pairs = Vec::new();
    for item in Reader::new(format, BufReader::new(input)) {
        match item {
            Ok(pair) => pairs.push(pair),
            Err(e) => {
                assert!(e.position().is_some(), "memory does not fail: {e}");
                return (pairs, Some(e.to_string()));
            }
        }
    }
    (pairs, None)
}

/// The REPL line splitter: no panic; a line that splits gives the same words
/// through `split_partial`; and every word, quoted, splits back to itself,
/// alone and joined with the others.
#[cfg(feature = "cli")]
pub fn repl_words(data: &[u8]) {
    let partial = words::split_partial(data);
    assert!(partial.last_start <= data.len());
    let Ok(split) = words::split(data) else {
        return;
    };
    let mut joined = partial.words.clone();
    if !partial.between_words {
        joined.push(partial.last.clone());
    }
    assert_eq!(joined, split, "split and split_partial disagree");
    let mut line = String::new();
    for word in &split {
        let quoted = words::quote(word);
        assert_eq!(
            words::split(quoted.as_bytes()),
            Ok(vec![word.clone()]),
            "quote({word:?}) = {quoted}"
        );
        line.push_str(&quoted);
        line.push(' ');
    }
    assert_eq!(
        words::split(line.as_bytes()),
        Ok(split),
        "quoted line {line}"
    );
}
