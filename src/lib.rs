//! tinykv: a small, fast, crash-safe key-value store.
//!
//! A database is a directory holding an append-only log (`wal.log`) and
//! sealed, immutable segments with on-disk indexes. The [`engine`] module is
//! the storage engine; [`format`] reads and writes the dump formats; the
//! `tinykv` binary (the `cli` module, behind the default `cli` feature)
//! builds on both. A program that embeds the library can turn default
//! features off: it gets the engine and the formats only.
//!
//! ```
//! use tinykv::{Db, Options};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! db.set(b"greeting", b"hello")?;
//! assert_eq!(db.get(b"greeting")?.as_deref(), Some(&b"hello"[..]));
//! db.delete(b"greeting")?;
//! assert_eq!(db.get(b"greeting")?, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// File offsets and lengths (u64) become in-memory sizes (usize) through
// `as` casts once they are checked against the file or a format limit:
// lossless only with 64-bit pointers (docs/format.md, "What we assume of
// the machine").
#[cfg(not(target_pointer_width = "64"))]
compile_error!(
    "tinykv needs a 64-bit target: see docs/format.md, \"What we assume of the machine\""
);

pub mod engine;
pub mod format;

// The `tinykv` binary (the default `cli` feature); not API.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;

// Fuzz-target bodies for fuzz/ and tests/ (the `testing` feature); not API.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod fuzzing;

pub use engine::{Batch, Db, Error, Options, Result, SyncMode};
