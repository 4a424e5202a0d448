//! The merges at a bulk load's commit: runs out of key order merged,
//! up to the fan-in at a time, into the load's new segments (see the
//! module doc of bulk.rs), with fewer at once when the process is short
//! of file descriptors.

use std::path::PathBuf;

use super::merge::{self, Merge, RunReader};
use super::{Bulk, meta};
use crate::engine::index::Group;
use crate::engine::output::{self, Output};
use crate::engine::record::{self, Tag};
use crate::engine::storage::OpenMode;
use crate::engine::{Error, Result, Writer, dir, short_keys};

impl Bulk {
    /// Merges the runs until one merge of at most the fan-in makes the new
    /// segments. Before it, neighbouring runs (so that the newest still
    /// wins a tie) are merged into one, the fan-in at most at a time, and
    /// only as many as bring the count down to the fan-in: with a fan-in
    /// of 64, 77 runs merge 14 of them, then the last 64 at once, so most
    /// of the data is written twice only (into a run, then into a
    /// segment), not three times. When the process cannot open as many
    /// files as a merge's runs, the fan-in drops to half of those it could
    /// open (at least 2) and the merging goes on from where it was.
    pub(super) fn merge_all(
        &mut self,
        w: &mut Writer,
        mut old_keys: Option<&mut dyn Iterator<Item = Result<Vec<u8>>>>,
    ) -> Result<Vec<Output>> {
        debug_assert!(
            self.fan_in >= 2,
            "a merge of fewer than 2 runs makes no progress"
        );
        let mut runs = std::mem::take(&mut self.spilled);
        runs.extend(self.runs.drain(..).map(Run::of));
        loop {
            let fan_in = self.fan_in;
            let mut short = None;
            while short.is_none() && runs.len() > fan_in {
                let mut merged = Vec::new();
                let mut rest = runs.into_iter();
                loop {
                    // Each merge of n runs leaves n - 1 fewer.
                    let excess = (merged.len() + rest.len()).saturating_sub(fan_in);
                    let group: Vec<Run> = rest.by_ref().take((excess + 1).min(fan_in)).collect();
                    if excess == 0 || group.len() < 2 {
                        merged.extend(group);
                        break;
                    }
                    match self.merge(w, group, u64::MAX, None)? {
                        Merged::Done(done) => merged.extend(done.into_iter().map(Run::of)),
                        Merged::OutOfFiles(group, opened, e) => {
                            merged.extend(group);
                            short = Some((opened, e));
                            break;
                        }
                    }
                }
                merged.extend(rest);
                runs = merged;
            }
            if short.is_none() {
                // Lent: a merge short of files has read no old key.
                let keys = old_keys
                    .as_mut()
                    .map(|k| &mut **k as &mut dyn Iterator<Item = _>);
                match self.merge(w, runs, self.cap, keys)? {
                    Merged::Done(done) => return Ok(done),
                    Merged::OutOfFiles(back, opened, e) => {
                        runs = back;
                        short = Some((opened, e));
                    }
                }
            }
            let (opened, e) = short.expect("a merge was short of files");
            if self.fan_in <= 2 {
                return Err(e);
            }
            // Room for the outputs' files, and whatever else the process
            // opens meanwhile.
            self.fan_in = (opened / 2).clamp(2, self.fan_in - 1);
        }
    }

    /// Merges `runs` (oldest first) into new files of up to `split_at`
    /// bytes, and removes the runs. With `old_keys`, a tombstone is written
    /// for each of them that no run holds. The readers' windows share the
    /// memory of a run's buffer (at most [`merge::WINDOW`] each). When the
    /// process runs out of files before every run is open, nothing is
    /// done: the runs are handed back, with how many were open.
    fn merge(
        &mut self,
        w: &mut Writer,
        runs: Vec<Run>,
        split_at: u64,
        mut old_keys: Option<&mut dyn Iterator<Item = Result<Vec<u8>>>>,
    ) -> Result<Merged> {
        let final_merge = split_at != u64::MAX;
        let window = merge::window(self.run_bytes.min(merge::WINDOWS), runs.len());
        let mut readers = Vec::with_capacity(runs.len());
        // Each run's file, then as many more as the merge will hold at
        // once, held together before anything is read and let go before
        // the outputs are made: a pass's one output (no index); the last
        // merge's log and index being written and the log of every
        // segment it finished (open, to be switched in), about one a
        // `split_at` of the runs' bytes (more for a replacing load's
        // tombstones: a few bytes a key).
        let room_for = match final_merge {
            true => runs.iter().map(|r| r.len).sum::<u64>().div_ceil(split_at) as usize + 2,
            false => 1,
        };
        let mut room = Vec::new();
        let spare = runs.iter().chain(runs.iter().cycle().take(room_for));
        for (i, run) in spare.enumerate() {
            let file = match dir::open(&*self.storage, &run.path, OpenMode::Read) {
                Ok(file) => file,
                Err(e) if e.is_out_of_files() => return Ok(Merged::OutOfFiles(runs, i, e)),
                Err(e) => return Err(e),
            };
            if i < runs.len() {
                readers.push(RunReader::new(file, run.path.clone(), window)?);
            } else {
                room.push(file);
            }
        }
        drop(room);
        let mut merge = Merge::new(readers);
        let mut done: Vec<Output> = Vec::new();
        let mut out: Option<Output> = None;
        let mut old = match old_keys.as_mut() {
            Some(keys) => keys.next().transpose()?,
            None => None,
        };
        let mut tomb = Vec::new();
        loop {
            let next = merge.peek()?;
            // The old keys below the next one the batch writes (or all
            // that are left) are deleted; one it writes is passed over.
            while let Some(k) = old.as_deref() {
                match next.as_ref().map(|r| short_keys::cmp(k, r.key())) {
                    Some(std::cmp::Ordering::Greater) => break,
                    Some(std::cmp::Ordering::Equal) => {}
                    _ => {
                        tomb.clear();
                        record::encode(&mut tomb, Tag::Delete, k, &[]);
                        let o = self.output(w, &mut out, &mut done, split_at, final_merge)?;
                        o.record(k, &tomb, true, None)?;
                    }
                }
                old = match old_keys.as_mut() {
                    Some(keys) => keys.next().transpose()?,
                    None => None,
                };
            }
            let Some(reader) = merge.peek()? else {
                break;
            };
            let o = self.output(w, &mut out, &mut done, split_at, final_merge)?;
            reader.copy_to(o)?;
            merge.consume()?;
        }
        if let Some(mut o) = out.take() {
            o.close(false)?;
            done.push(o);
        }
        for run in runs {
            output::discard(&*self.storage, &self.dir, run.id);
        }
        Ok(Merged::Done(done))
    }

    /// The output to append to: the current one, or a new one when there
    /// is none or it has reached `split_at`.
    fn output<'o>(
        &mut self,
        w: &mut Writer,
        out: &'o mut Option<Output>,
        done: &mut Vec<Output>,
        split_at: u64,
        indexed: bool,
    ) -> Result<&'o mut Output> {
        if out.as_ref().is_some_and(|o| o.size() >= split_at) {
            let mut full = out.take().expect("checked");
            // A new segment is finished at once (fsynced, indexed), so
            // that memory holds one index being built, not one a segment.
            full.close(indexed)?;
            if indexed {
                self.written += full.len;
                let first = done.first().map_or(full.id, |o| o.id);
                let group = self.alone.then_some(Group { first, last: false });
                let meta = meta(group, self.base_live, self.compacted_at);
                full.write_index(&*self.storage, &self.dir, |_, _| meta)?;
            }
            done.push(full);
        }
        if out.is_none() {
            let id = w.reserve_ids(1);
            self.made.push(id);
            let mut new = Output::create(&*self.storage, &self.dir, id, indexed)?;
            if indexed {
                self.hand_back_past_mark(&mut new);
            }
            *out = Some(new);
        }
        Ok(out.as_mut().expect("made above"))
    }
}

/// What [`Bulk::merge`] did.
enum Merged {
    /// The merge's outputs.
    Done(Vec<Output>),
    /// Nothing: the process could open only so many of the runs' files
    /// (the runs handed back, the error the next open gave).
    OutOfFiles(Vec<Run>, usize, Error),
}

/// A run that will be merged, by its name: its file is open only while it
/// is merged.
pub(super) struct Run {
    id: u64,
    path: PathBuf,
    /// Its bytes.
    len: u64,
}

impl Run {
    /// The run `out` (closed) is, its file let go.
    pub(super) fn of(out: Output) -> Run {
        debug_assert_eq!(out.size(), out.len, "a run is closed before it is let go");
        Run {
            id: out.id,
            path: out.tmp_path.clone(),
            len: out.len,
        }
    }
}

#[cfg(test)]
mod tests;
