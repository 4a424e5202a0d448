//! [`SimStorage`]: an in-memory file system for crash and fault tests.
//! (Being written; see the brief.)

use super::StorageFile;

/// Which kind of error an injected fault raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// `EIO`: an I/O error.
    Eio,
    /// `ENOSPC`: no space left on the device.
    Enospc,
}

/// An injected fault.
#[derive(Clone, Copy, Debug)]
pub struct Fault;

/// In-memory simulated storage.
#[derive(Clone, Debug, Default)]
pub struct SimStorage;

#[allow(dead_code)]
fn _unused(_: &dyn StorageFile) {}
