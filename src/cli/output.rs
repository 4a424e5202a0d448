//! How things look on the terminal: keys in messages, sizes, times, the
//! one-line error format, warnings and the progress spinner.
//!
//! Invariant: stderr gets only messages; stdout only data and replies.
//! Nothing here panics when stderr is closed (messages are best effort).

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};

use crate::format::escape_bytes;

/// A key as shown in a message: tsv-escaped, in single quotes.
pub fn key(bytes: &[u8]) -> String {
    const SHOWN: usize = 60;
    let escaped = escape_bytes(bytes);
    if escaped.chars().count() <= SHOWN + 20 {
        return format!("'{escaped}'");
    }
    // A key can be 64 KiB: an error stays one readable line.
    let head: String = escaped.chars().take(SHOWN).collect();
    format!("'{head}…' ({} bytes)", bytes.len())
}

/// Prints `tinykv: <message>` on stderr, ignoring a closed stderr.
pub fn message(text: &str) {
    let _ = writeln!(io::stderr().lock(), "tinykv: {text}");
}

/// An error and its causes on one line: `what (cause: deeper cause)`.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut chain = err.chain().map(ToString::to_string);
    let what = chain.next().unwrap_or_default();
    let mut causes: Vec<String> = Vec::new();
    let mut previous = what.clone();
    for cause in chain {
        // An error type that prints its source in its own message and also
        // returns it as `source()` (a convention some crates break) would
        // say it twice: say it once.
        if !previous.ends_with(&cause) {
            causes.push(cause.clone());
        }
        previous = cause;
    }
    if causes.is_empty() {
        what
    } else {
        format!("{what} ({})", causes.join(": "))
    }
}

/// Whether an I/O error caused by a closed reader is anywhere in the chain.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<crate::engine::Error>()
                .is_some_and(|e| e.io_kind() == Some(io::ErrorKind::BrokenPipe))
    })
}

/// `1234567` → `1.2 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration in seconds with millisecond precision: `0.042s`.
pub fn seconds(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// A time as RFC 3339 in UTC, `2026-01-31T12:00:00Z` (no time-zone crate).
pub fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A spinner on stderr for a long operation, shown only when stderr is a
/// terminal; otherwise every method does nothing.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// Starts a spinner saying `what`.
    pub fn start(what: &str) -> Progress {
        if !io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new_spinner().with_message(what.to_owned());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {pos} {elapsed}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress(Some(bar))
    }

    /// A bar for an operation on `total` items, or a spinner when their
    /// number is not known.
    pub fn bar(what: &str, total: Option<u64>) -> Progress {
        let Some(total) = total else {
            return Progress::start(what);
        };
        if !io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new(total).with_message(what.to_owned());
        if let Ok(style) =
            ProgressStyle::with_template("{msg} [{bar:30}] {human_pos}/{human_len} ({eta} left)")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress(Some(bar))
    }

    /// Advances the counter by `n`.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_769_860_800);
        assert_eq!(utc(t), "2026-01-31T12:00:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(utc(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn error_line_puts_causes_in_parentheses() {
        let err = anyhow::anyhow!("root cause").context("cannot open /d");
        assert_eq!(error_line(&err), "cannot open /d (root cause)");
        assert_eq!(error_line(&anyhow::anyhow!("alone")), "alone");
        let io = io::Error::other("disk full");
        let engine = crate::engine::Error::Io {
            op: "write",
            path: "/d/wal.log".into(),
            source: io,
        };
        let err = anyhow::Error::new(engine).context("cannot set key 'k'");
        assert_eq!(
            error_line(&err),
            "cannot set key 'k' (write /d/wal.log: disk full)"
        );
    }

    #[test]
    fn broken_pipe_is_found_anywhere_in_the_chain() {
        let err = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("dump");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }

    #[test]
    fn keys_in_messages_are_escaped() {
        assert_eq!(key(b"a\tb\xff"), "'a\\tb\\xff'");
        let long = key(&[b'k'; 65_537]);
        assert_eq!(long, format!("'{}…' (65537 bytes)", "k".repeat(60)));
    }
}
