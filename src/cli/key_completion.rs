//! Tab completion of keys in the REPL, for any number of keys: what the
//! typed word becomes, and which keys a second Tab lists.
//!
//! The typed word becomes the prefix that every key starting with it
//! shares, which is the prefix the first and the last of them share, in key
//! order: two lookups ([`Store::keys`], [`Store::last_key`]) whatever their
//! number, here or through the database's owner.
//! A second Tab lists a screenful of them and an entry that counts the rest;
//! the count walks the rest, so it is made only when that list is shown.
//!
//! Invariant: every replacement splits back ([`words::split_partial`]) into
//! the prefix it stands for, so a completed word can be typed on from.

use std::cell::OnceCell;

use rustyline::completion::Candidate;

use super::store::{Start, Store};
use super::words;

/// Columns kept for the entry that counts the keys not listed (made only
/// when shown): enough for a count of ten digits.
const REST_WIDTH: usize = "(9999999999 more)".len();

/// One entry of a completion: what is listed, and what replaces the
/// typed word (the same for every entry of a list: the common prefix).
pub struct Entry<'a> {
    display: OnceCell<String>,
    /// Makes the display on first use (the count of the keys not listed).
    make: Option<Box<dyn Fn() -> String + 'a>>,
    replacement: String,
}

impl Entry<'_> {
    /// An entry shown as `display`.
    pub fn new(display: String, replacement: String) -> Self {
        Entry {
            display: OnceCell::from(display),
            make: None,
            replacement,
        }
    }
}

impl Candidate for Entry<'_> {
    fn display(&self) -> &str {
        self.display
            .get_or_init(|| self.make.as_ref().map(|make| make()).unwrap_or_default())
    }

    fn replacement(&self) -> &str {
        &self.replacement
    }
}

/// The completion of the keys starting with `prefix` on a terminal of
/// `cols` × `rows`: none, the one key, or a list whose every entry
/// replaces the typed word with the prefix all the keys share.
pub fn complete<'a>(
    store: &'a dyn Store,
    prefix: &[u8],
    (cols, rows): (usize, usize),
) -> anyhow::Result<Vec<Entry<'a>>> {
    let mut keys = store.keys(prefix);
    let Some(first) = keys.next().transpose()? else {
        return Ok(Vec::new());
    };
    // A key written meanwhile may be past the first; none is before it.
    let last = store.last_key(prefix)?.unwrap_or_else(|| first.clone());
    if last == first {
        let quoted = words::quote(&first);
        return Ok(vec![Entry::new(quoted.clone(), quoted)]);
    }
    let common = typeable(&first[..common_len(&first, &last)]);
    let replacement = open_quote(common);
    // A screenful, in the layout rustyline lists them in.
    let mut shown = vec![words::quote(&first)];
    let mut widest = REST_WIDTH.max(width(&shown[0]));
    let mut listed_last = first;
    for key in keys.by_ref() {
        let key = key?;
        let quoted = words::quote(&key);
        let w = widest.max(width(&quoted));
        if !fits(shown.len() + 2, w, cols, rows) {
            break;
        }
        widest = w;
        shown.push(quoted);
        listed_last = key;
    }
    let mut entries: Vec<Entry<'a>> = shown
        .into_iter()
        .map(|s| Entry::new(s, replacement.clone()))
        .collect();
    if listed_last != last {
        let prefix = prefix.to_vec();
        entries.push(Entry {
            display: OnceCell::new(),
            make: Some(Box::new(move || {
                let rest = store.keys_from(&prefix, &Start::After(listed_last.clone()));
                match rest.map(|k| k.map(|_| ())).collect::<Result<Vec<()>, _>>() {
                    Ok(rest) => format!("({} more)", rest.len()),
                    Err(_) => "(and more)".to_owned(),
                }
            })),
            replacement,
        });
    }
    Ok(entries)
}

/// Whether `n` entries, the widest `widest` columns, fit on `cols` ×
/// `rows` as rustyline lists them (columns as wide as the widest entry and
/// two spaces), keeping two lines for the line typed and its prompt.
fn fits(n: usize, widest: usize, cols: usize, rows: usize) -> bool {
    let per_row = (cols / (widest + 2).min(cols.max(1))).max(1);
    n.div_ceil(per_row) <= rows.saturating_sub(2).max(1)
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// The length of the prefix `a` and `b` share.
fn common_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// `prefix` without a UTF-8 character cut short at its end (two keys may
/// share only its first byte): what is typed on is whole characters.
fn typeable(prefix: &[u8]) -> &[u8] {
    match std::str::from_utf8(prefix) {
        Err(e) if e.error_len().is_none() => &prefix[..e.valid_up_to()],
        _ => prefix,
    }
}

/// `prefix` as typed: plain when it can be, else in a double quote left
/// open, so that typing goes on inside it.
fn open_quote(prefix: &[u8]) -> String {
    let mut quoted = words::quote(prefix);
    if quoted.starts_with('"') && !prefix.is_empty() {
        quoted.pop();
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::store::Local;
    use crate::engine::{Db, Options};

    fn db_with(keys: &[&[u8]]) -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for k in keys {
            db.set(k, b"v").unwrap();
        }
        (dir, db)
    }

    fn listed(entries: &[Entry<'_>]) -> Vec<String> {
        entries.iter().map(|e| e.display().to_owned()).collect()
    }

    /// Regression (#16): with many keys, Tab completed the prefix of the
    /// first 200 (`key000`), not of every key that matched (`key`).
    #[test]
    fn the_replacement_is_the_prefix_every_match_shares() {
        let mut keys: Vec<Vec<u8>> = (0..300)
            .map(|i| format!("key{i:06}").into_bytes())
            .collect();
        keys.push(b"key1".to_vec());
        keys.push(b"other".to_vec());
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let (_dir, db) = db_with(&refs);
        let store = Local::new(&db, None);
        let entries = complete(&store, b"k", (80, 24)).unwrap();
        assert!(entries.iter().all(|e| e.replacement() == "key"));
        // A screenful: 22 lines of 4 columns (the count's 17 and 2 spaces).
        let shown = listed(&entries);
        let (count, keys_shown) = shown.split_last().unwrap();
        assert_eq!(keys_shown.len(), 87);
        assert_eq!(keys_shown[0], "key000000");
        assert_eq!(*count, format!("({} more)", 301 - 87));
        let entries = complete(&store, b"key0", (80, 24)).unwrap();
        assert!(entries.iter().all(|e| e.replacement() == "key000"));
        // All of them fit: no count.
        let entries = complete(&store, b"key00029", (80, 24)).unwrap();
        assert_eq!(listed(&entries).len(), 10);
        assert!(entries.iter().all(|e| e.replacement() == "key00029"));
        // One key: the key itself.
        let entries = complete(&store, b"ot", (80, 24)).unwrap();
        assert_eq!(listed(&entries), vec!["other"]);
        assert_eq!(entries[0].replacement(), "other");
        assert!(complete(&store, b"nope", (80, 24)).unwrap().is_empty());
        // A deleted last key is not the last match.
        db.delete(b"key1").unwrap();
        let entries = complete(&store, b"k", (80, 24)).unwrap();
        assert!(entries.iter().all(|e| e.replacement() == "key000"));
    }

    #[test]
    fn the_replacement_can_be_typed_on() {
        let (_dir, db) = db_with(&[
            b"my key 1",
            b"my key 2",
            "f\u{e9}e".as_bytes(),
            "f\u{ea}te".as_bytes(),
        ]);
        let store = Local::new(&db, None);
        let entries = complete(&store, b"my", (80, 24)).unwrap();
        let r = entries[0].replacement();
        assert_eq!(r, "\"my key ");
        assert_eq!(words::split_partial(r.as_bytes()).last, b"my key ".to_vec());
        // The two share half of a character: only the whole ones count.
        let entries = complete(&store, b"f", (80, 24)).unwrap();
        assert_eq!(entries[0].replacement(), "f");
    }

    #[test]
    fn a_screenful_is_what_rustyline_lists_without_paging() {
        assert!(fits(44, 38, 80, 24));
        assert!(!fits(45, 38, 80, 24));
        assert!(fits(1, 500, 80, 24));
        assert!(fits(1, 10, 0, 0));
    }
}
