//! Finishing an output on a thread of its own ([`Output::finish_apart`]):
//! its closing fsync and its index, while its writer goes on with the
//! next output. The thread is joined on every path, an error's included,
//! before its [`Finishing`] is gone.

use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use super::{FINISHER, Output};
use crate::engine::index::IndexMeta;
use crate::engine::storage::Storage;
use crate::engine::{Error, Result};

impl Output {
    /// [`finish`](Self::finish), on a thread of its own: the output comes
    /// back from [`Finishing::join`]. Where the system cannot make a
    /// thread, it is finished here and now.
    pub fn finish_apart<M>(self, storage: Arc<dyn Storage>, dir: PathBuf, meta: M) -> Finishing
    where
        M: FnOnce(u64, u64) -> IndexMeta + Send + 'static,
    {
        let tmp_path = self.tmp_path.clone();
        let finish = |(mut out, storage, dir, meta): (Output, Arc<dyn Storage>, PathBuf, M)| {
            out.finish(&*storage, &dir, true, meta)?;
            Ok(out)
        };
        // The work goes to the thread once it runs: were it given to a
        // thread that could not be made, it would be lost with it.
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(FINISHER.into())
            .spawn(move || rx.recv().ok().map(finish));
        let work = (self, storage, dir, meta);
        let state = match spawned {
            Ok(thread) => match tx.send(work) {
                Ok(()) => Finish::Apart(thread),
                Err(mpsc::SendError(work)) => Finish::Here(Box::new(finish(work))),
            },
            Err(_) => Finish::Here(Box::new(finish(work))),
        };
        Finishing {
            tmp_path,
            state: Some(state),
        }
    }
}

/// An output being finished apart ([`Output::finish_apart`]). Dropped
/// unjoined (an error elsewhere), it waits for its thread all the same:
/// whatever the caller does next (remove the output's files) comes after
/// the thread's last operation.
pub(in crate::engine) struct Finishing {
    tmp_path: PathBuf,
    state: Option<Finish>,
}

enum Finish {
    /// The thread: `None` if it never got the work (then it was done
    /// here).
    Apart(JoinHandle<Option<Result<Output>>>),
    Here(Box<Result<Output>>),
}

impl Finishing {
    /// The output, finished, once its thread is done; or why it is not.
    pub fn join(mut self) -> Result<Output> {
        let stopped = |what: &str| {
            let e = std::io::Error::other(format!("the thread finishing it {what}"));
            Err(Error::io("finish", &self.tmp_path, e))
        };
        match self.state.take() {
            Some(Finish::Here(r)) => *r,
            Some(Finish::Apart(thread)) => match thread.join() {
                Ok(Some(r)) => r,
                Ok(None) => stopped("never got it"),
                Err(_) => stopped("panicked"),
            },
            None => stopped("was joined before"),
        }
    }
}

impl Drop for Finishing {
    fn drop(&mut self) {
        if let Some(Finish::Apart(thread)) = self.state.take() {
            let _ = thread.join();
        }
    }
}
