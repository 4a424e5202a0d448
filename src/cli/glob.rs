//! Redis glob patterns, for KEYS and SCAN MATCH in the server and for
//! `keys --glob` and `dump --glob` on the command line: `*` any run of bytes, `?`
//! any one byte, `[abc]`, `[^a]` and `[a-z]` classes, `\x` a literal `x`.
//! Bytes, not characters, and case-sensitive, as Redis matches.
//!
//! Invariants: matching takes time proportional to the key's length times
//! the pattern's, whatever the pattern (no backtracking blow-up on `a*a*a*b`,
//! which Redis guards against with a nesting limit); a malformed pattern (an
//! unclosed `[`, a trailing `\`) matches as Redis's does, never an error.

/// One element of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// `*`.
    Any,
    /// `?`.
    One,
    /// A literal byte.
    Byte(u8),
    /// `[...]`: inclusive ranges, negated with `^`.
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

impl Token {
    fn matches(&self, b: u8) -> bool {
        match self {
            Token::Any | Token::One => true,
            Token::Byte(x) => *x == b,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= b && b <= hi) != *negated
            }
        }
    }
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    tokens: Vec<Token>,
    prefix: Vec<u8>,
}

impl Pattern {
    /// Compiles `pattern`.
    pub fn new(pattern: &[u8]) -> Pattern {
        let tokens = compile(pattern);
        let prefix = tokens
            .iter()
            .map_while(|t| match t {
                Token::Byte(b) => Some(*b),
                _ => None,
            })
            .collect();
        Pattern { tokens, prefix }
    }

    /// The literal bytes every match starts with, so that a walk of the
    /// keys can start there (`user:*` walks only the `user:` keys).
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Whether the pattern is `*`: everything matches.
    pub fn matches_all(&self) -> bool {
        self.tokens.iter().all(|t| *t == Token::Any) && !self.tokens.is_empty()
    }

    /// Whether `key` matches.
    pub fn matches(&self, key: &[u8]) -> bool {
        // The classic two-cursor wildcard match: every token but `*` takes
        // exactly one byte, so only the latest `*` ever needs revisiting.
        let (mut t, mut k) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while k < key.len() {
            match self.tokens.get(t) {
                Some(Token::Any) => {
                    star = Some((t, k));
                    t += 1;
                }
                Some(token) if token.matches(key[k]) => {
                    t += 1;
                    k += 1;
                }
                _ => match star {
                    Some((st, sk)) => {
                        t = st + 1;
                        k = sk + 1;
                        star = Some((st, sk + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[t..].iter().all(|tok| *tok == Token::Any)
    }
}

fn compile(p: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let b = p[i];
        i += 1;
        match b {
            b'*' => {
                if tokens.last() != Some(&Token::Any) {
                    tokens.push(Token::Any);
                }
            }
            b'?' => tokens.push(Token::One),
            b'\\' if i < p.len() => {
                tokens.push(Token::Byte(p[i]));
                i += 1;
            }
            b'[' => {
                let (token, next) = class(p, i);
                tokens.push(token);
                i = next;
            }
            other => tokens.push(Token::Byte(other)),
        }
    }
    tokens
}

/// The class starting at `p[i]` (after `[`) and the index after its `]`.
/// Unclosed, it runs to the end of the pattern, as in Redis.
fn class(p: &[u8], mut i: usize) -> (Token, usize) {
    let negated = p.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    while i < p.len() && p[i] != b']' {
        let mut lo = p[i];
        if lo == b'\\' && i + 1 < p.len() {
            i += 1;
            lo = p[i];
        } else if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
            let hi = p[i + 2];
            ranges.push((lo.min(hi), lo.max(hi)));
            i += 3;
            continue;
        }
        ranges.push((lo, lo));
        i += 1;
    }
    (Token::Class { negated, ranges }, (i + 1).min(p.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, key: &str) -> bool {
        Pattern::new(pattern.as_bytes()).matches(key.as_bytes())
    }

    #[test]
    fn matches_like_redis() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("user:*", "user:1"));
        assert!(!m("user:*", "use"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m(r"h\*llo", "h*llo"));
        assert!(!m(r"h\*llo", "hello"));
        assert!(m("*a*b", "xxaxxb"));
        assert!(!m("*a*b", "xxaxxc"));
        assert!(!m("a[", "a"));
        assert!(m("a[bc", "ac"), "an unclosed class runs to the end");
        assert!(m("a\\", "a\\"));
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn no_exponential_backtracking() {
        let pattern = "a*".repeat(30) + "b";
        let key = "a".repeat(5000);
        assert!(!m(&pattern, &key));
    }

    #[test]
    fn prefixes() {
        assert_eq!(Pattern::new(b"user:*").prefix(), b"user:");
        assert_eq!(Pattern::new(b"*x").prefix(), b"");
        assert_eq!(Pattern::new(b"ab?").prefix(), b"ab");
        assert_eq!(Pattern::new(b"exact").prefix(), b"exact");
        assert!(Pattern::new(b"**").matches_all());
        assert!(!Pattern::new(b"a*").matches_all());
    }

    #[test]
    fn binary_keys() {
        let p = Pattern::new(b"\x00*\xff");
        assert!(p.matches(b"\x00\r\n\xff"));
        assert!(!p.matches(b"\x00\r\n"));
    }
}
