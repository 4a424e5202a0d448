//! "Did you mean …?": the closest known name to a mistyped one, by edit
//! distance (Levenshtein: insertions, deletions and substitutions).

/// The number of single-character edits (insertions, deletions,
/// substitutions and swaps of two adjacent characters) that turn `a` into
/// `b`: the optimal-string-alignment distance.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the classic table: two back (for swaps), one back, this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (last[j - 1] + cost).min(row[j - 1] + 1).min(last[j] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut last, row);
    }
    last[b.len()]
}

/// The candidate closest to `typed`, when it is close enough to be a typo
/// (one edit for words of up to four characters, else two).
pub fn closest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&typed, c), c))
        .filter(|&(d, _)| d <= if typed.chars().count() <= 4 { 1 } else { 2 })
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("set", "set"), 0);
        assert_eq!(edit_distance("sett", "set"), 1);
        assert_eq!(edit_distance("gte", "get"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("é", "e"), 1);
    }

    #[test]
    fn suggestions() {
        let names = ["set", "get", "del", "keys", "dump", "exists"];
        assert_eq!(closest("sett", names), Some("set"));
        assert_eq!(closest("GET", names), Some("get"));
        assert_eq!(closest("exist", names), Some("exists"));
        assert_eq!(closest("xyzzy", names), None);
        assert_eq!(closest("x", names), None);
        assert_eq!(closest("bad", names), None);
        assert_eq!(closest("gte", names), Some("get"));
        assert_eq!(closest("stast", ["stats", "set"]), Some("stats"));
    }
}
