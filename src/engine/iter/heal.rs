//! Healing met on a walk: an error from a source that names a segment
//! whose index is damaged rebuilds that index (at most three times a
//! walk), and the merge's sources are rebuilt from the last key taken.

use std::sync::Arc;

use super::Iter;
use crate::engine::{Error, Result, Segment};

impl Iter<'_> {
    /// Handles an error from refilling or stepping a source: heals the
    /// segment it names when that can help (then the sources are rebuilt
    /// from the last key taken), else ends the walk with it.
    pub(super) fn recover(&mut self, e: Error, seg: Option<Arc<Segment>>) -> Result<()> {
        let seg = seg.or_else(|| match &e {
            Error::Corrupt { path, .. } => self.segment_of(path),
            _ => None,
        });
        let outcome = match seg {
            Some(seg) => self.heal_or(seg, e),
            None => Err(e),
        };
        if outcome.is_err() {
            self.done = true;
        }
        outcome
    }

    /// Heals `seg`'s index after `e` and makes the next step rebuild the
    /// sources; returns `e` when healing is not possible.
    fn heal_or(&mut self, seg: Arc<Segment>, e: Error) -> Result<()> {
        if self.heals >= 3 || !matches!(e, Error::Corrupt { .. }) {
            return Err(e);
        }
        self.heals += 1;
        let healed = self.db.heal(&seg)?;
        if let Some(pinned) = &mut self.pinned {
            let list = Arc::make_mut(pinned);
            for s in list.iter_mut().filter(|s| s.id == healed.id) {
                *s = Arc::clone(&healed);
            }
        }
        self.started = false;
        self.held = None;
        Ok(())
    }

    /// The segment whose index is `path`, among the current sources.
    fn segment_of(&self, path: &std::path::Path) -> Option<Arc<Segment>> {
        self.segs
            .iter()
            .find(|s| s.seg.log_path.with_extension("idx") == path)
            .map(|s| Arc::clone(&s.seg))
            .or_else(|| {
                let st = self.db.state.read().unwrap_or_else(|p| p.into_inner());
                st.segments
                    .iter()
                    .find(|s| s.log_path.with_extension("idx") == path)
                    .cloned()
            })
    }
}
