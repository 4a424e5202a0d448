//! The rdb format: a Redis RDB file of string keys, for `redis-server`
//! and Valkey to load at start, and the string keys of a Redis RDB file
//! for `load`.
//!
//! Written: `REDIS0009` (the version every Redis since 5.0 and every
//! Valkey loads), `SELECTDB 0`, then for each pair an optional
//! `EXPIRETIME_MS` (8 bytes, little endian) and the string type, its key
//! and value as plain length-prefixed strings; `EOF` and the CRC-64
//! (Jones, as Redis computes it) of every byte before it, little endian.
//!
//! Read: versions 1 to 12, as redis-server writes them: strings plain,
//! integer-encoded or LZF-compressed; expiry in seconds or milliseconds;
//! auxiliary fields, database sizes, slot sizes and LRU/LFU hints skipped.
//! Everything that is not a string key of database 0 is refused by name
//! (another type, with its key; keys of another database; functions and
//! module data), so a load stores nothing it cannot keep. The CRC at the
//! end is checked (a file written with `rdbchecksum no` carries 0 there).
//! Every length is checked against what it may be before anything is
//! allocated: a key against [`MAX_KEY_LEN`], a value (compressed or not)
//! against [`MAX_VALUE_LEN`]; the input is never trusted. An error names
//! the byte offset where the bad element starts.

use std::io::{self, BufRead, Read, Write};

use crc::{CRC_64_REDIS, Crc, Digest};

use super::{Entry, MAX_KEY_LEN, MAX_VALUE_LEN, ParseError, Position, escape_bytes};

const CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

/// The RDB version written.
const WRITTEN_VERSION: u32 = 9;
/// The newest RDB version read (Redis 7.4 writes 12).
const NEWEST_READ: u32 = 12;

const OP_SLOT_INFO: u8 = 0xF4;
const OP_FUNCTION2: u8 = 0xF5;
const OP_FUNCTION_PRE_GA: u8 = 0xF6;
const OP_MODULE_AUX: u8 = 0xF7;
const OP_IDLE: u8 = 0xF8;
const OP_FREQ: u8 = 0xF9;
const OP_AUX: u8 = 0xFA;
const OP_RESIZEDB: u8 = 0xFB;
const OP_EXPIRETIME_MS: u8 = 0xFC;
const OP_EXPIRETIME: u8 = 0xFD;
const OP_SELECTDB: u8 = 0xFE;
const OP_EOF: u8 = 0xFF;
const TYPE_STRING: u8 = 0;

/// Writes an RDB file, keeping the CRC of every byte written.
pub(super) struct RdbWriter {
    digest: Digest<'static, u64>,
    started: bool,
}

impl RdbWriter {
    pub(super) fn new() -> Self {
        RdbWriter {
            digest: CRC64.digest(),
            started: false,
        }
    }

    fn put<W: Write>(&mut self, out: &mut W, bytes: &[u8]) -> io::Result<()> {
        self.digest.update(bytes);
        out.write_all(bytes)
    }

    fn start<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        if !self.started {
            self.started = true;
            self.put(out, format!("REDIS{WRITTEN_VERSION:04}").as_bytes())?;
            self.put(out, &[OP_SELECTDB, 0])?;
        }
        Ok(())
    }

    fn length<W: Write>(&mut self, out: &mut W, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.put(out, &[n as u8])
        } else if n < 1 << 14 {
            self.put(out, &[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u64::from(u32::MAX) {
            self.put(out, &[0x80])?;
            self.put(out, &(n as u32).to_be_bytes())
        } else {
            self.put(out, &[0x81])?;
            self.put(out, &n.to_be_bytes())
        }
    }

    fn string<W: Write>(&mut self, out: &mut W, s: &[u8]) -> io::Result<()> {
        self.length(out, s.len() as u64)?;
        self.put(out, s)
    }

    pub(super) fn write_pair<W: Write>(
        &mut self,
        out: &mut W,
        key: &[u8],
        value: &[u8],
        expires_at: Option<u64>,
    ) -> io::Result<()> {
        self.start(out)?;
        if let Some(at) = expires_at {
            self.put(out, &[OP_EXPIRETIME_MS])?;
            self.put(out, &at.to_le_bytes())?;
        }
        self.put(out, &[TYPE_STRING])?;
        self.string(out, key)?;
        self.string(out, value)
    }

    /// Writes the end: `EOF` and the CRC (the header first, for a file
    /// with no pair).
    pub(super) fn finish<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.start(out)?;
        self.put(out, &[OP_EOF])?;
        let crc = self.digest.clone().finalize();
        out.write_all(&crc.to_le_bytes())
    }
}

/// The name Redis gives a value type, for a refusal.
fn type_name(t: u8) -> String {
    match t {
        1 | 10 | 14 | 18 => "list".into(),
        2 | 11 | 20 => "set".into(),
        3 | 5 | 12 | 17 => "zset".into(),
        4 | 9 | 13 | 16 | 22..=25 => "hash".into(),
        15 | 19 | 21 => "stream".into(),
        6 | 7 => "module".into(),
        other => format!("unknown type {other}"),
    }
}

/// Reads the string keys of an RDB file, one at a time.
pub(super) struct RdbReader<R> {
    input: R,
    /// Bytes read so far.
    offset: u64,
    /// Where the element being read starts.
    element: u64,
    digest: Digest<'static, u64>,
    version: Option<u32>,
    db: u64,
    done: bool,
}

impl<R: BufRead> RdbReader<R> {
    pub(super) fn new(input: R) -> Self {
        RdbReader {
            input,
            offset: 0,
            element: 0,
            digest: CRC64.digest(),
            version: None,
            db: 0,
            done: false,
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> ParseError {
        ParseError::Invalid {
            at: Position::Byte(self.element),
            reason: reason.into(),
        }
    }

    /// Reads exactly `buf.len()` bytes, into the CRC.
    fn read(&mut self, buf: &mut [u8]) -> Result<(), ParseError> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.digest.update(buf);
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(self.invalid("the file ends in the middle of an element"))
            }
            Err(e) => Err(ParseError::Io(e)),
        }
    }

    /// Reads `len` bytes into a buffer that grows with the bytes that
    /// arrive, so that a length the file lies about costs nothing.
    fn read_grown(&mut self, len: usize) -> Result<Vec<u8>, ParseError> {
        let mut s = Vec::with_capacity(len.min(64 * 1024));
        (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut s)
            .map_err(ParseError::Io)?;
        self.digest.update(&s);
        self.offset += s.len() as u64;
        if s.len() < len {
            return Err(self.invalid("the file ends in the middle of an element"));
        }
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, ParseError> {
        let mut b = [0u8; 1];
        self.read(&mut b)?;
        Ok(b[0])
    }

    /// A length, or the encoding of a special string (`Err` side).
    fn length_or_special(&mut self) -> Result<Result<u64, u8>, ParseError> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Ok(u64::from(first & 0x3F)),
            1 => Ok(u64::from(first & 0x3F) << 8 | u64::from(self.byte()?)),
            2 => match first {
                0x80 => {
                    let mut b = [0u8; 4];
                    self.read(&mut b)?;
                    Ok(u64::from(u32::from_be_bytes(b)))
                }
                0x81 => {
                    let mut b = [0u8; 8];
                    self.read(&mut b)?;
                    Ok(u64::from_be_bytes(b))
                }
                _ => return Err(self.invalid(format!("a bad length byte 0x{first:02x}"))),
            },
            _ => Err(first & 0x3F),
        })
    }

    fn length(&mut self) -> Result<u64, ParseError> {
        self.length_or_special()?
            .map_err(|_| self.invalid("an encoded string where a length belongs"))
    }

    /// A string of at most `max` bytes (`what` names it in an error).
    fn string(&mut self, max: usize, what: &str) -> Result<Vec<u8>, ParseError> {
        match self.length_or_special()? {
            Ok(len) => {
                let len = self.bounded(len, max, what)?;
                self.read_grown(len)
            }
            Err(0) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Err(1) => {
                let mut b = [0u8; 2];
                self.read(&mut b)?;
                Ok(i16::from_le_bytes(b).to_string().into_bytes())
            }
            Err(2) => {
                let mut b = [0u8; 4];
                self.read(&mut b)?;
                Ok(i32::from_le_bytes(b).to_string().into_bytes())
            }
            Err(3) => {
                let compressed = self.length()?;
                let len = self.length()?;
                let len = self.bounded(len, max, what)?;
                // LZF never makes data longer than a literal run allows.
                let most = len + len / 32 + 1;
                let compressed = self.bounded(compressed, most, "compressed string")?;
                let packed = self.read_grown(compressed)?;
                lzf_decompress(&packed, len)
                    .map_err(|why| self.invalid(format!("an LZF-compressed {what} {why}")))
            }
            Err(other) => Err(self.invalid(format!("an unknown string encoding {other}"))),
        }
    }

    /// `len` as a `usize`, refused past `max`.
    fn bounded(&self, len: u64, max: usize, what: &str) -> Result<usize, ParseError> {
        usize::try_from(len)
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| {
                self.invalid(format!(
                    "a {what} of {len} bytes, over the {max}-byte limit"
                ))
            })
    }

    fn header(&mut self) -> Result<(), ParseError> {
        let mut magic = [0u8; 9];
        self.read(&mut magic)?;
        let version = (&magic[..5] == b"REDIS")
            .then(|| std::str::from_utf8(&magic[5..]).ok()?.parse::<u32>().ok())
            .flatten()
            .ok_or_else(|| {
                self.invalid(format!(
                    "not a Redis RDB file (it starts with `{}`, not REDIS and a version)",
                    escape_bytes(&magic)
                ))
            })?;
        if !(1..=NEWEST_READ).contains(&version) {
            return Err(self.invalid(format!(
                "RDB version {version}: this tinykv reads versions 1 to {NEWEST_READ}"
            )));
        }
        self.version = Some(version);
        Ok(())
    }

    pub(super) fn next_entry(&mut self) -> Result<Option<Entry>, ParseError> {
        if self.done {
            return Ok(None);
        }
        if self.version.is_none() {
            self.header()?;
        }
        let mut expires_at = None;
        loop {
            self.element = self.offset;
            let op = self.byte()?;
            match op {
                OP_EOF => return self.end().map(|()| None),
                OP_SELECTDB => self.db = self.length()?,
                OP_RESIZEDB => {
                    self.length()?;
                    self.length()?;
                }
                OP_SLOT_INFO => {
                    for _ in 0..3 {
                        self.length()?;
                    }
                }
                OP_AUX => {
                    self.string(MAX_VALUE_LEN, "auxiliary field")?;
                    self.string(MAX_VALUE_LEN, "auxiliary field")?;
                }
                OP_IDLE => {
                    self.length()?;
                }
                OP_FREQ => {
                    self.byte()?;
                }
                OP_EXPIRETIME_MS => {
                    let mut b = [0u8; 8];
                    self.read(&mut b)?;
                    expires_at = Some(u64::from_le_bytes(b));
                }
                OP_EXPIRETIME => {
                    let mut b = [0u8; 4];
                    self.read(&mut b)?;
                    expires_at = Some(u64::from(u32::from_le_bytes(b)) * 1000);
                }
                OP_FUNCTION2 | OP_FUNCTION_PRE_GA => {
                    return Err(self.invalid(
                        "the file holds Redis functions (FUNCTION LOAD), which tinykv does not keep",
                    ));
                }
                OP_MODULE_AUX => {
                    return Err(
                        self.invalid("the file holds a module's data, which tinykv does not keep")
                    );
                }
                value_type => {
                    let key = self.string(MAX_KEY_LEN, "key")?;
                    if key.is_empty() {
                        return Err(self.invalid("an empty key, which tinykv cannot store"));
                    }
                    if self.db != 0 {
                        return Err(self.invalid(format!(
                            "the key `{}` is in database {}: tinykv holds one database, and loads the keys of database 0 only",
                            escape_bytes(&key),
                            self.db
                        )));
                    }
                    if value_type != TYPE_STRING {
                        return Err(self.invalid(format!(
                            "the key `{}` is a {}: tinykv stores strings only",
                            escape_bytes(&key),
                            type_name(value_type)
                        )));
                    }
                    let value = self.string(MAX_VALUE_LEN, "value")?;
                    return Ok(Some(Entry {
                        key,
                        value,
                        expires_at,
                    }));
                }
            }
        }
    }

    /// After `EOF`: the CRC (version 5 on), then nothing.
    fn end(&mut self) -> Result<(), ParseError> {
        self.done = true;
        if self.version.is_some_and(|v| v >= 5) {
            let computed = self.digest.clone().finalize();
            self.element = self.offset;
            let mut b = [0u8; 8];
            self.read(&mut b)?;
            let stored = u64::from_le_bytes(b);
            if stored != 0 && stored != computed {
                return Err(self.invalid(format!(
                    "the file's CRC-64 is {stored:016x}, but its bytes give {computed:016x}: it is damaged"
                )));
            }
        }
        self.element = self.offset;
        let mut rest = [0u8; 1];
        match self.input.read(&mut rest) {
            Ok(0) => Ok(()),
            Ok(_) => Err(self.invalid("bytes after the end of the RDB file")),
            Err(e) => Err(ParseError::Io(e)),
        }
    }
}

/// Decompresses LZF `input` into exactly `len` bytes (liblzf's format, as
/// Redis writes it): a control byte below 32 starts a literal run of that
/// many plus one bytes; otherwise its top three bits (7 meaning "one more
/// byte says") plus two are a copy's length, and its low five bits and the
/// next byte its distance back minus one. Nothing in the input is trusted.
fn lzf_decompress(input: &[u8], len: usize) -> Result<Vec<u8>, &'static str> {
    // Grown as it is filled: `len` is the file's word.
    let mut out = Vec::with_capacity(len.min(input.len().saturating_mul(8)));
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let literal = input.get(i..i + run).ok_or("is cut short")?;
            if out.len() + run > len {
                return Err("is longer than it says");
            }
            out.extend_from_slice(literal);
            i += run;
        } else {
            let mut copy = ctrl >> 5;
            if copy == 7 {
                copy += usize::from(*input.get(i).ok_or("is cut short")?);
                i += 1;
            }
            copy += 2;
            let low = usize::from(*input.get(i).ok_or("is cut short")?);
            i += 1;
            let back = ((ctrl & 0x1F) << 8 | low) + 1;
            if back > out.len() {
                return Err("refers back past its start");
            }
            if out.len() + copy > len {
                return Err("is longer than it says");
            }
            // Byte by byte: a copy may overlap what it writes.
            let from = out.len() - back;
            for k in 0..copy {
                out.push(out[from + k]);
            }
        }
    }
    if out.len() != len {
        return Err("is shorter than it says");
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
