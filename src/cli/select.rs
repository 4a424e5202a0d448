//! Which keys `keys` and `dump` take: `--prefix`, `--glob`, `--start`,
//! `--end` and `--limit`, turned into one walk of the sorted keys.
//!
//! Invariants: the walk starts at the first key that can match (the
//! longer of the prefix and the glob's literal start, or `--start`) and
//! stops at the first key that cannot (past the prefix, at `--end`, or
//! once `--limit` keys matched), so a narrow selection of a large
//! database reads only its own keys; keys come in order, each once.

use std::os::unix::ffi::OsStrExt;

use anyhow::Result;

use super::args::Selection;
use super::glob::Pattern;
use super::store::{Entry, Start, Store};

/// What [`Select::visit_entries`] calls with each selected pair (key,
/// value, expiry).
pub type Take<'v> = &'v mut dyn FnMut(&[u8], &[u8], Option<u64>) -> Result<()>;

/// A [`Selection`], checked and ready to walk.
#[derive(Clone, Debug)]
pub struct Select {
    /// Every key taken starts with this; `None` when `--prefix` and the
    /// glob's literal start disagree, so nothing can match.
    prefix: Option<Vec<u8>>,
    start: Start,
    end: Option<Vec<u8>>,
    glob: Option<Pattern>,
    limit: Option<u64>,
}

impl Select {
    /// Everything.
    pub fn all() -> Select {
        Select::from_prefix(b"")
    }

    /// The keys starting with `prefix`.
    pub fn from_prefix(prefix: &[u8]) -> Select {
        Select {
            prefix: Some(prefix.to_vec()),
            start: Start::First,
            end: None,
            glob: None,
            limit: None,
        }
    }

    /// The keys `selection` names.
    pub fn new(selection: &Selection) -> Select {
        let given = selection
            .prefix
            .as_deref()
            .map(|p| p.as_bytes().to_vec())
            .unwrap_or_default();
        let glob = selection
            .glob
            .as_deref()
            .map(|g| Pattern::new(g.as_bytes()))
            .filter(|g| !g.matches_all());
        // Both are prefixes of every key taken: the longer, when one
        // starts with the other; else no key has both.
        let prefix = match &glob {
            None => Some(given),
            Some(g) if g.prefix().starts_with(&given) => Some(g.prefix().to_vec()),
            Some(g) if given.starts_with(g.prefix()) => Some(given),
            Some(_) => None,
        };
        Select {
            prefix,
            start: match &selection.start {
                Some(k) => Start::At(k.as_bytes().to_vec()),
                None => Start::First,
            },
            end: selection.end.as_deref().map(|k| k.as_bytes().to_vec()),
            glob,
            limit: selection.limit,
        }
    }

    /// Whether every key is taken (so their number is known at once).
    pub fn is_all(&self) -> bool {
        self.prefix.as_deref() == Some(b"")
            && self.start == Start::First
            && self.end.is_none()
            && self.glob.is_none()
            && self.limit.is_none()
    }

    fn takes(&self, key: &[u8]) -> bool {
        self.glob.as_ref().is_none_or(|g| g.matches(key))
    }

    fn past_end(&self, key: &[u8]) -> bool {
        self.end.as_deref().is_some_and(|end| key >= end)
    }

    fn nothing(&self) -> bool {
        self.prefix.is_none() || self.limit == Some(0)
    }

    /// The selected keys of `store`, in order.
    pub fn keys<'s>(
        &'s self,
        store: &'s dyn Store,
    ) -> Box<dyn Iterator<Item = Result<Vec<u8>>> + 's> {
        let Some(prefix) = self.prefix.as_deref().filter(|_| !self.nothing()) else {
            return Box::new(std::iter::empty());
        };
        let walk = store
            .keys_from(prefix, &self.start)
            .take_while(|k| k.as_ref().map_or(true, |k| !self.past_end(k)))
            .filter(|k| k.as_ref().map_or(true, |k| self.takes(k)));
        self.limited(walk)
    }

    /// The selected pairs of `store`, with their expiry, in key order.
    pub fn entries<'s>(
        &'s self,
        store: &'s dyn Store,
    ) -> Box<dyn Iterator<Item = Result<Entry>> + 's> {
        let Some(prefix) = self.prefix.as_deref().filter(|_| !self.nothing()) else {
            return Box::new(std::iter::empty());
        };
        let walk = store
            .entries_from(prefix, &self.start)
            .take_while(|e| e.as_ref().map_or(true, |e| !self.past_end(&e.key)))
            .filter(|e| e.as_ref().map_or(true, |e| self.takes(&e.key)));
        self.limited(walk)
    }

    /// Calls `visit` with each selected pair of `store`, with its expiry,
    /// in key order, borrowed: [`entries`](Self::entries) without a copy
    /// of each pair (what a dump walks).
    pub fn visit_entries(&self, store: &dyn Store, visit: Take<'_>) -> Result<()> {
        let Some(prefix) = self.prefix.as_deref().filter(|_| !self.nothing()) else {
            return Ok(());
        };
        let mut left = self.limit.unwrap_or(u64::MAX);
        store.visit_entries(prefix, &self.start, &mut |key, value, expires_at| {
            if self.past_end(key) {
                return Ok(false);
            }
            if self.takes(key) {
                visit(key, value, expires_at)?;
                left -= 1;
            }
            Ok(left > 0)
        })
    }

    fn limited<'s, T: 's>(
        &self,
        walk: impl Iterator<Item = Result<T>> + 's,
    ) -> Box<dyn Iterator<Item = Result<T>> + 's> {
        match self.limit {
            // An error counts against the limit too, but ends the walk anyway.
            Some(n) => Box::new(walk.take(usize::try_from(n).unwrap_or(usize::MAX))),
            None => Box::new(walk),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;
    use crate::cli::store::Local;
    use crate::engine::Db;

    fn selection(args: &[(&str, &str)]) -> Selection {
        let mut s = Selection::default();
        for (flag, v) in args {
            let text = Some(OsString::from(v));
            match *flag {
                "prefix" => s.prefix = text,
                "glob" => s.glob = text,
                "start" => s.start = text,
                "end" => s.end = text,
                "limit" => s.limit = Some(v.parse().unwrap()),
                _ => unreachable!(),
            }
        }
        s
    }

    fn keys(db: &Db, args: &[(&str, &str)]) -> Vec<String> {
        let store = Local::new(db, None);
        let select = Select::new(&selection(args));
        let keys: Vec<String> = select
            .keys(&store)
            .map(|k| String::from_utf8(k.unwrap()).unwrap())
            .collect();
        let entries: Vec<String> = select
            .entries(&store)
            .map(|e| String::from_utf8(e.unwrap().key).unwrap())
            .collect();
        assert_eq!(keys, entries, "keys and dump select alike");
        keys
    }

    #[test]
    fn every_flag_narrows_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Default::default()).unwrap();
        for k in [
            "a",
            "b",
            "ba",
            "bb",
            "c",
            "user:1:email",
            "user:1:name",
            "user:2:email",
        ] {
            db.set(k.as_bytes(), b"v").unwrap();
        }
        assert_eq!(keys(&db, &[]).len(), 8);
        assert_eq!(keys(&db, &[("prefix", "b")]), ["b", "ba", "bb"]);
        assert_eq!(
            keys(&db, &[("start", "b"), ("end", "c")]),
            ["b", "ba", "bb"]
        );
        assert_eq!(keys(&db, &[("start", "bb")]).len(), 5);
        assert_eq!(keys(&db, &[("end", "b")]), ["a"]);
        assert_eq!(keys(&db, &[("limit", "2")]), ["a", "b"]);
        assert!(keys(&db, &[("limit", "0")]).is_empty());
        assert_eq!(
            keys(&db, &[("glob", "user:*:email")]),
            ["user:1:email", "user:2:email"]
        );
        assert_eq!(keys(&db, &[("glob", "?")]), ["a", "b", "c"]);
        assert_eq!(keys(&db, &[("glob", "*")]).len(), 8);
        assert_eq!(
            keys(&db, &[("glob", "user:*"), ("prefix", "user:1")]),
            ["user:1:email", "user:1:name"]
        );
        assert_eq!(
            keys(&db, &[("glob", "user:1*"), ("prefix", "user:")]),
            ["user:1:email", "user:1:name"]
        );
        assert!(keys(&db, &[("glob", "user:*"), ("prefix", "b")]).is_empty());
        assert_eq!(
            keys(
                &db,
                &[
                    ("prefix", "b"),
                    ("start", "a"),
                    ("end", "bb"),
                    ("limit", "5")
                ]
            ),
            ["b", "ba"]
        );
        assert_eq!(
            keys(&db, &[("glob", "*a*"), ("start", "b"), ("limit", "1")]),
            ["ba"]
        );
        assert!(keys(&db, &[("start", "z")]).is_empty());
        assert!(keys(&db, &[("start", "c"), ("end", "b")]).is_empty());
    }
}
