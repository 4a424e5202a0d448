//! Dump and load formats (tsv, jsonl, resp, rdb): streaming readers and writers.
//!
//! This module owns the byte-exact text forms of a database dump. Every
//! format round-trips any key and value bytes exactly, and both directions
//! stream: a [`Writer`] holds nothing beyond its `BufWriter`, and a [`Reader`]
//! holds one input line (tsv, jsonl) or one command (resp) at a time.
//!
//! Invariants kept here:
//! - Readers never trust the input: line lengths are capped before they are
//!   buffered, declared lengths are checked against [`MAX_KEY_LEN`] and
//!   [`MAX_VALUE_LEN`] before anything is read, and no input makes them panic.
//! - A reader stops (returns `None`) after its first error, so the first bad
//!   position is the only one reported.
//! - A [`ParseError`] carries a [`Position`]: the 1-based line for tsv and
//!   jsonl; the line and the byte offset for resp; the byte offset for rdb.
//!
//! ```
//! use tinykv::format::{Format, Reader, Writer};
//!
//! let mut w = Writer::new(Format::Tsv, Vec::new());
//! w.write_pair(b"name", b"caf\xc3\xa9\ttab")?;
//! let dump = w.finish()?;
//! assert_eq!(dump, b"name\tcaf\xc3\xa9\\ttab\n");
//!
//! let entries: Vec<_> = Reader::new(Format::Tsv, &dump[..]).collect::<Result<_, _>>()?;
//! assert_eq!(entries[0].key, b"name");
//! assert_eq!(entries[0].value, b"caf\xc3\xa9\ttab");
//! assert_eq!(entries[0].expires_at, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod escape;
mod jsonl;
mod rdb;
mod resp;
mod tsv;

use std::fmt;
use std::io::{self, BufRead, BufWriter, Write};
use std::iter::FusedIterator;
use std::str::FromStr;

#[cfg(feature = "cli")]
pub(crate) use escape::write_escaped;
pub use escape::{UnescapeError, escape_bytes, unescape};

/// The largest key and value a dump may hold: the engine's limits.
pub use crate::engine::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// One key and its value, as raw bytes.
pub type Pair = (Vec<u8>, Vec<u8>);

/// One pair of a dump, and when its key expires (Unix milliseconds), if it
/// does: every format carries the expiry (tsv in a third column, jsonl in
/// an `expires_at` field, resp as `SET … PXAT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// When the key expires, in Unix milliseconds.
    pub expires_at: Option<u64>,
}

impl Entry {
    /// A pair that does not expire.
    pub fn new(key: Vec<u8>, value: Vec<u8>) -> Entry {
        Entry {
            key,
            value,
            expires_at: None,
        }
    }

    /// The key and value, the expiry dropped.
    pub fn into_pair(self) -> Pair {
        (self.key, self.value)
    }
}

/// A dump format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// `KEY<TAB>VALUE\n` with backslash escapes (the default).
    #[default]
    Tsv,
    /// One JSON object a line: `{"key":…,"value":…}`.
    Jsonl,
    /// Redis protocol `SET` commands, for `redis-cli --pipe`.
    Resp,
    /// A Redis RDB file of string keys, for `redis-server` and Valkey.
    Rdb,
}

impl Format {
    /// Every format, in the order they are documented.
    pub const ALL: [Format; 4] = [Format::Tsv, Format::Jsonl, Format::Resp, Format::Rdb];

    /// The name used on the command line: `tsv`, `jsonl`, `resp` or `rdb`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Tsv => "tsv",
            Format::Jsonl => "jsonl",
            Format::Resp => "resp",
            Format::Rdb => "rdb",
        }
    }

    /// Whether the format is binary (not for a terminal).
    pub fn is_binary(self) -> bool {
        self == Format::Rdb
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not `tsv`, `jsonl`, `resp` or `rdb`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}` (expected tsv, jsonl, resp or rdb)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Where in the input a [`ParseError`] was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// 1-based line number (tsv, jsonl; blank lines count).
    Line(u64),
    /// Where a bad element starts (resp): its 1-based line (every LF
    /// counts, those inside payloads too) and 0-based byte offset.
    Offset {
        /// 1-based line number.
        line: u64,
        /// 0-based byte offset from the start of the input.
        offset: u64,
    },
    /// Where a bad element starts (rdb): its 0-based byte offset.
    Byte(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Offset { line, offset } => write!(f, "line {line} (offset {offset})"),
            Position::Byte(offset) => write!(f, "byte {offset}"),
        }
    }
}

/// Why a dump could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The input is malformed at `at`; displays as `line 7: <reason>`.
    #[error("{at}: {reason}")]
    Invalid {
        /// Where the bad input is.
        at: Position,
        /// A short description of what is wrong.
        reason: String,
    },
    /// Reading the input failed; the cause is the `source`.
    #[error("cannot read the dump")]
    Io(#[from] io::Error),
}

impl ParseError {
    /// The position of the bad input, or `None` for an I/O error.
    pub fn position(&self) -> Option<Position> {
        match self {
            ParseError::Invalid { at, .. } => Some(*at),
            ParseError::Io(_) => None,
        }
    }
}

/// Writes pairs in one format, streaming to `W` through a `BufWriter`.
pub struct Writer<W: Write> {
    format: Format,
    out: BufWriter<W>,
    /// The rdb format's header, end and CRC.
    rdb: rdb::RdbWriter,
}

impl<W: Write> Writer<W> {
    /// A writer of `format` onto `out`.
    pub fn new(format: Format, out: W) -> Self {
        Writer {
            format,
            out: BufWriter::new(out),
            rdb: rdb::RdbWriter::new(),
        }
    }

    /// Writes one pair. A key that is empty or longer than [`MAX_KEY_LEN`], or
    /// a value longer than [`MAX_VALUE_LEN`], is refused with
    /// `ErrorKind::InvalidInput` (no reader would accept it back).
    pub fn write_pair(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.write_entry(key, value, None)
    }

    /// [`write_pair`](Self::write_pair) for a key that expires at
    /// `expires_at` (Unix milliseconds) when it is `Some`.
    pub fn write_entry(
        &mut self,
        key: &[u8],
        value: &[u8],
        expires_at: Option<u64>,
    ) -> io::Result<()> {
        check_lengths(key, value).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        match self.format {
            Format::Tsv => tsv::write_pair(&mut self.out, key, value, expires_at),
            Format::Jsonl => jsonl::write_pair(&mut self.out, key, value, expires_at),
            Format::Resp => resp::write_pair(&mut self.out, key, value, expires_at),
            Format::Rdb => self.rdb.write_pair(&mut self.out, key, value, expires_at),
        }
    }

    /// Ends the dump (rdb: its end mark and CRC), flushes everything
    /// written and gives back the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        if self.format == Format::Rdb {
            self.rdb.finish(&mut self.out)?;
        }
        self.out.flush()?;
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// Reads pairs in one format from any `BufRead`, one line or command at a time.
///
/// Yields `Ok(entry)` for each pair (with its expiry, if it has one) in
/// input order; after the first `Err` it yields nothing more.
pub struct Reader<R: BufRead> {
    inner: ReaderInner<R>,
    done: bool,
}

enum ReaderInner<R> {
    Lines {
        lines: LineReader<R>,
        parse: fn(&[u8]) -> Result<Entry, String>,
    },
    Resp(resp::RespReader<R>),
    Rdb(rdb::RdbReader<R>),
}

impl<R: BufRead> Reader<R> {
    /// A reader of `format` from `input`.
    pub fn new(format: Format, input: R) -> Self {
        let inner = match format {
            Format::Tsv => ReaderInner::Lines {
                lines: LineReader {
                    tab_within: Some(4 * MAX_KEY_LEN + 1),
                    ..LineReader::new(input, tsv::MAX_LINE_LEN, false)
                },
                parse: tsv::parse_line,
            },
            Format::Jsonl => ReaderInner::Lines {
                lines: LineReader::new(input, jsonl::MAX_LINE_LEN, true),
                parse: jsonl::parse_line,
            },
            Format::Resp => ReaderInner::Resp(resp::RespReader::new(input)),
            Format::Rdb => ReaderInner::Rdb(rdb::RdbReader::new(input)),
        };
        Reader { inner, done: false }
    }

    fn next_entry(&mut self) -> Result<Option<Entry>, ParseError> {
        match &mut self.inner {
            ReaderInner::Lines { lines, parse } => {
                let Some((line_no, line)) = lines.next_line()? else {
                    return Ok(None);
                };
                let at = Position::Line(line_no);
                parse(line)
                    .map(Some)
                    .map_err(|reason| ParseError::Invalid { at, reason })
            }
            ReaderInner::Resp(r) => r.next_entry(),
            ReaderInner::Rdb(r) => r.next_entry(),
        }
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Entry, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_entry().transpose();
        // Stop after the end or the first error: positions after a bad line
        // mean nothing, and `load` stores nothing from a bad dump anyway.
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

impl<R: BufRead> FusedIterator for Reader<R> {}

/// A deadline in a dump: Unix milliseconds, decimal digits only.
fn parse_deadline(text: &[u8]) -> Result<u64, String> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "the expiry `{}` is not a Unix time in milliseconds",
            escape_bytes(text)
        ));
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("the expiry `{}` is too large", escape_bytes(text)))
}

/// Checks the limits every format shares; the error is a reader's reason.
/// The engine decides (see engine/limits.rs); the words are the readers'.
fn check_lengths(key: &[u8], value: &[u8]) -> Result<(), String> {
    match crate::engine::check_pair(key, value) {
        Ok(()) => Ok(()),
        Err(_) if key.is_empty() => Err("empty key".to_owned()),
        Err(crate::engine::Error::KeyTooLarge { len, max }) => {
            Err(format!("key is {len} bytes, over the {max}-byte limit"))
        }
        Err(crate::engine::Error::ValueTooLarge { len, max }) => {
            Err(format!("value is {len} bytes, over the {max}-byte limit"))
        }
        Err(other) => Err(other.to_string()),
    }
}

/// Reads `\n`-terminated lines, never buffering more than `max_len` bytes.
struct LineReader<R> {
    input: R,
    buf: Vec<u8>,
    max_len: usize,
    /// For tsv: a line must show its TAB within this many bytes (the longest
    /// escaped key), so a line without one is refused without buffering it.
    tab_within: Option<usize>,
    /// Whether a line of only ASCII whitespace counts as blank (else only "").
    skip_whitespace: bool,
    /// 1-based number of the line last returned.
    line_no: u64,
}

impl<R: BufRead> LineReader<R> {
    fn new(input: R, max_len: usize, skip_whitespace: bool) -> Self {
        LineReader {
            input,
            buf: Vec::new(),
            max_len,
            tab_within: None,
            skip_whitespace,
            line_no: 0,
        }
    }

    /// Reads one line into `buf` (with its `\n`, if any); stops early, with
    /// an error, past `max_len` or past `tab_within` without a TAB.
    fn fill_line(&mut self) -> Result<usize, ParseError> {
        let mut tab_seen = false;
        loop {
            let avail = match self.input.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if avail.is_empty() {
                return Ok(self.buf.len());
            }
            let (take, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            let chunk = &avail[..take];
            tab_seen = tab_seen || chunk.contains(&b'\t');
            self.buf.extend_from_slice(chunk);
            self.input.consume(take);
            let content = self.buf.len() - usize::from(done);
            let at = Position::Line(self.line_no + 1);
            if content > self.max_len {
                return Err(ParseError::Invalid {
                    at,
                    reason: format!("line longer than {} bytes", self.max_len),
                });
            }
            if let Some(limit) = self.tab_within
                && !tab_seen
                && content > limit
            {
                return Err(ParseError::Invalid {
                    at,
                    reason: format!(
                        "expected a TAB within the first {limit} bytes (keys are at most {MAX_KEY_LEN} bytes)"
                    ),
                });
            }
            if done {
                return Ok(self.buf.len());
            }
        }
    }

    /// The next non-blank line without its `\n`, and its number; `None` at the end.
    fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, ParseError> {
        loop {
            self.buf.clear();
            if self.fill_line()? == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            if self.buf.last() == Some(&b'\n') {
                self.buf.pop();
            }
            let blank = if self.skip_whitespace {
                self.buf.iter().all(u8::is_ascii_whitespace)
            } else {
                self.buf.is_empty()
            };
            if !blank {
                return Ok(Some((self.line_no, &self.buf)));
            }
        }
    }
}

#[cfg(test)]
mod testutil;

#[cfg(test)]
mod tests;
