//! Injected faults, shared by [`SimStorage`](super::SimStorage) and
//! [`FaultyStorage`](super::FaultyStorage): which operations a fault counts,
//! when it fires, and the OS error it raises.

use std::io;

/// Which kind of error an injected fault raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// `EIO`: an I/O error.
    Eio,
    /// `ENOSPC`: no space left on the device.
    Enospc,
}

/// Which operations an injected fault counts and fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOp {
    /// `write_at` and `set_len`.
    Write,
    /// `sync_data` and `sync_dir`.
    Sync,
    /// `rename`.
    Rename,
    /// `remove_file`.
    Remove,
    /// `open`, `try_lock` and `try_lock_shared`.
    Open,
    /// Every operation of [`Storage`] and [`StorageFile`], reads included.
    Any,
}

/// An injected fault: fail the `nth` (1-based) operation matching `op`,
/// counted from the moment of injection, and every later one if `persistent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The operations this fault counts.
    pub op: FaultOp,
    /// Which matching operation fails first (1 is the next one).
    pub nth: u64,
    /// The error it raises.
    pub kind: FaultKind,
    /// Whether every matching operation after the nth fails too.
    pub persistent: bool,
}

/// What an operation is, for fault matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Write,
    Sync,
    Rename,
    Remove,
    Open,
    Other,
}

/// The armed faults, each with its count of matching operations so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct Faults(Vec<(Fault, u64)>);

impl Faults {
    /// Arms `fault`; its count starts now.
    pub(crate) fn arm(&mut self, fault: Fault) {
        self.0.push((fault, 0));
    }

    /// Disarms every fault.
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// Counts `op` against every fault; the OS error of the first that fires.
    pub(crate) fn fire(&mut self, op: Op) -> Option<io::Error> {
        let mut fired = None;
        for (fault, seen) in &mut self.0 {
            let matches = match fault.op {
                FaultOp::Any => true,
                FaultOp::Write => op == Op::Write,
                FaultOp::Sync => op == Op::Sync,
                FaultOp::Rename => op == Op::Rename,
                FaultOp::Remove => op == Op::Remove,
                FaultOp::Open => op == Op::Open,
            };
            if !matches {
                continue;
            }
            *seen += 1;
            if *seen == fault.nth || (fault.persistent && *seen > fault.nth) {
                fired.get_or_insert(fault.kind);
            }
        }
        fired.map(|kind| {
            io::Error::from_raw_os_error(match kind {
                FaultKind::Eio => 5,
                FaultKind::Enospc => 28,
            })
        })
    }
}
