//! tinykv: a small, fast, crash-safe key-value store.
//!
//! A database is a directory holding an append-only log (`wal.log`) and
//! sealed, immutable segments with on-disk indexes. The [`engine`] module is
//! the storage engine; [`format`] reads and writes the dump formats; the
//! `tinykv` binary (the `cli` module) builds on both.
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

pub mod engine;
pub mod format;

#[doc(hidden)]
pub mod cli;

#[doc(hidden)]
pub mod fuzzing;

pub use engine::{Batch, Db, Error, Options, Result, SyncMode};
