//! `tinykv push redis://…`: copies every live pair, with its expiry, into
//! a running Redis or Valkey, a Redis Cluster included (PRODUCT.md §8).
//!
//! The database is streamed in key order (it is never held in memory),
//! read on one thread and sent on another; each pair becomes `SET key value [PXAT t]`, pipelined in windows of
//! bounded size to the master of its hash slot ([`target`], [`node`]);
//! a pair already expired is skipped. At the end every reply has been
//! read and matched to its key, a sample of the keys is read back with
//! EXISTS, and the keys each master holds (DBSIZE) are compared with the
//! pairs that cannot have expired meanwhile. The run succeeds only when
//! every pair was acknowledged and the check found nothing missing; a key
//! refused is named. Rerunning is safe: SET overwrites.
//!
//! Invariant: nothing here writes to the database pushed from; the
//! server is connected to before the database is reached, so a bad
//! address or password leaves the database untouched and unlocked.

#[cfg(test)]
mod fake;
mod node;
mod slot;
mod target;
mod url;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};

use super::exit::Exit;
use super::output::{self, Progress};
use super::select::Select;
use super::store::{Entry, Store};
use target::Target;
pub use url::Url;

/// How many keys are read back at the end.
const SAMPLE: usize = 256;
/// Longer keys are not sampled (the sample's memory stays small).
const SAMPLE_KEY_MAX: usize = 1024;
/// How many refused keys are named, one line each.
const NAMED: usize = 10;
/// Pairs handed to the sending thread at once ...
const BATCH: usize = 512;
/// ... or fewer, when they hold this many bytes.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches waiting for the sending thread.
const QUEUED: usize = 4;

/// A server, connected, ready to be pushed to.
pub struct Connected {
    url: Url,
    target: Target,
}

/// Parses the URL and connects: before the database is reached. A URL
/// without a password takes `password` (`$REDISCLI_AUTH`), if any.
pub fn connect(url: &OsStr, password: Option<&[u8]>) -> Result<Connected> {
    let text = url
        .to_str()
        .ok_or_else(|| anyhow!("push: the URL is not valid UTF-8"))?;
    let mut url = Url::parse(text).context("push: bad URL")?;
    if url.password.is_none() {
        url.password = password.map(<[u8]>::to_vec);
    }
    let target = Target::connect(&url).with_context(|| format!("push to {url} failed"))?;
    Ok(Connected { url, target })
}

/// Pushes the pairs `select` takes from `store` and prints what arrived.
pub fn run(
    store: &dyn Store,
    mut to: Connected,
    select: &Select,
    out: &mut dyn Write,
) -> Result<Exit> {
    let url = to.url.clone();
    push(store, &mut to, select, out).with_context(|| format!("push to {url} failed"))
}

fn push(
    store: &dyn Store,
    to: &mut Connected,
    select: &Select,
    out: &mut dyn Write,
) -> Result<Exit> {
    let started = Instant::now();
    let total = if select.is_all() {
        store.count(b"").ok()
    } else {
        None
    };
    let progress = Progress::bar("pushing", total);
    let target = &mut to.target;
    let mut sample = Sample::new();
    let (mut sent, mut skipped) = (0u64, 0u64);
    // The database is read on this thread (a store need not be Send) and
    // sent on another, so that reading and sending overlap: batches of at
    // most BATCH pairs or BATCH_BYTES, at most QUEUED of them waiting.
    let (tx, rx) = mpsc::sync_channel::<Vec<Entry>>(QUEUED);
    let sending_to = &mut *target;
    let (walked, sending) = std::thread::scope(|s| {
        let sender = s.spawn(move || -> Result<()> {
            for batch in rx {
                for e in batch {
                    sending_to.set(&e.key, &e.value, e.expires_at)?;
                }
            }
            sending_to.finish()
        });
        let walked = (|| -> Result<()> {
            let (mut batch, mut bytes) = (Vec::with_capacity(BATCH), 0);
            for entry in select.entries(store) {
                let entry = entry.context("cannot read the database")?;
                progress.inc(1);
                // The walk leaves out what had expired when it read it; a
                // deadline may pass during a long push.
                if entry.expires_at.is_some_and(|at| at <= now_ms()) {
                    skipped += 1;
                    continue;
                }
                sample.offer(&entry.key, entry.expires_at);
                sent += 1;
                bytes += entry.key.len() + entry.value.len();
                batch.push(entry);
                if batch.len() >= BATCH || bytes >= BATCH_BYTES {
                    bytes = 0;
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if tx.send(full).is_err() {
                        return Ok(()); // the sender stopped: its error says why
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            Ok(())
        })();
        drop(tx);
        let sending = sender
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the thread sending the pairs failed")));
        (walked, sending)
    });
    walked?;
    sending?;
    drop(progress);
    let refused = std::mem::take(&mut target.findings().refused);
    if !refused.is_empty() {
        for (key, why) in refused.iter().take(NAMED) {
            output::message(&format!(
                "push: key {} was refused ({why})",
                output::key(key)
            ));
        }
        if refused.len() > NAMED {
            output::message(&format!(
                "push: … and {} more keys were refused",
                refused.len() - NAMED
            ));
        }
        bail!(
            "{} of {sent} pairs were refused, the others arrived (pushing again is safe)",
            refused.len()
        );
    }
    let stored: u64 = target.stored().iter().map(|(_, n)| n).sum();
    if stored != sent {
        bail!("{sent} pairs were sent but {stored} acknowledged");
    }
    let elapsed = started.elapsed();

    // The check: a sample read back, and the totals.
    for (key, expires_at) in &sample.keys {
        target.exists(key, *expires_at)?;
    }
    target.finish()?;
    let missing = std::mem::take(&mut target.findings().missing);
    if let Some(key) = missing.first() {
        bail!(
            "{} of {} keys read back were missing, {} among them (was something deleting keys?)",
            missing.len(),
            sample.keys.len(),
            output::key(key)
        );
    }
    let sizes = target.sizes()?;
    let held: u64 = sizes.iter().map(|(_, n)| n).sum();
    let lasting = target.lasting();
    if held < lasting {
        bail!(
            "the {} hold {held} keys, fewer than the {lasting} pairs without expiry that were \
             acknowledged (was something deleting keys?)",
            if target.is_cluster() {
                "masters"
            } else {
                "database"
            }
        );
    }

    let mut rows: BTreeMap<String, (u64, Option<u64>)> = BTreeMap::new();
    for (addr, n) in target.stored() {
        rows.entry(addr).or_default().0 += n;
    }
    for (addr, n) in sizes {
        rows.entry(addr).or_default().1 = Some(n);
    }
    let kind = if target.is_cluster() {
        format!(
            "a Redis Cluster of {} masters",
            rows.values().filter(|r| r.1.is_some()).count()
        )
    } else {
        "one server".to_owned()
    };
    writeln!(
        out,
        "pushed   {sent} pairs to {} ({kind}) in {}",
        to.url,
        output::seconds(elapsed)
    )?;
    for (addr, (n, held)) in &rows {
        match held {
            Some(h) => writeln!(out, "  {addr}  {n} stored, holds {h} keys")?,
            None => writeln!(out, "  {addr}  {n} stored, no longer a master")?,
        }
    }
    if skipped > 0 {
        writeln!(out, "skipped  {skipped} pairs that had already expired")?;
    }
    writeln!(
        out,
        "verified {} keys read back; {held} keys held, {lasting} pushed without expiry",
        sample.keys.len()
    )?;
    Ok(Exit::Success)
}

/// A uniform sample of the keys pushed (reservoir sampling), for the
/// check at the end.
struct Sample {
    keys: Vec<(Vec<u8>, Option<u64>)>,
    seen: u64,
    state: u64,
}

impl Sample {
    fn new() -> Sample {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Sample {
            keys: Vec::with_capacity(SAMPLE),
            seen: 0,
            state: seed | 1,
        }
    }

    fn offer(&mut self, key: &[u8], expires_at: Option<u64>) {
        if key.len() > SAMPLE_KEY_MAX {
            return;
        }
        self.seen += 1;
        if self.keys.len() < SAMPLE {
            self.keys.push((key.to_vec(), expires_at));
            return;
        }
        // xorshift64: enough to pick fairly, and no crate for it.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let i = self.state % self.seen;
        if let Some(slot) = self.keys.get_mut(i as usize) {
            *slot = (key.to_vec(), expires_at);
        }
    }
}

/// The current time, in Unix milliseconds.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_bounded_and_skips_long_keys() {
        let mut s = Sample::new();
        for i in 0..10_000u32 {
            s.offer(&i.to_be_bytes(), None);
        }
        s.offer(&[b'k'; SAMPLE_KEY_MAX + 1], None);
        assert_eq!(s.keys.len(), SAMPLE);
        assert_eq!(s.seen, 10_000);
        assert!(
            s.keys
                .iter()
                .any(|(k, _)| k.as_slice() > &1000u32.to_be_bytes()[..])
        );
    }
}
