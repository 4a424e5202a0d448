//! Inline commands: one line of words, as `redis-cli`, `telnet` and `nc`
//! send them, split the way redis-cli splits what is typed at its prompt
//! (Redis's `sdssplitargs`), so that a line typed there means the same here.
//!
//! Invariant: any bytes give words or [`ProtocolError::UnbalancedQuotes`],
//! never a panic; the line's length was bounded by the parser already.

use super::{ProtocolError, Request};

/// Splits an inline command into words as redis-cli does (`sdssplitargs`):
/// spaces separate words; `"…"` allows `\n \r \t \b \a \\ \" \xHH`
/// escapes; `'…'` allows `\'`; a closing quote must end its word.
pub fn split(line: &[u8]) -> Result<Request, ProtocolError> {
    let mut words = Vec::new();
    let mut i = 0;
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c | 0);
    loop {
        while i < line.len() && space(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Ok(words);
        }
        let mut word = Vec::new();
        while let Some(&b) = line.get(i) {
            if space(b) {
                break;
            }
            i += 1;
            match b {
                b'"' => i = quoted(line, i, &mut word, true)?,
                b'\'' => i = quoted(line, i, &mut word, false)?,
                _ => word.push(b),
            }
        }
        words.push(word);
    }
}

/// Reads a quoted part starting at `i` (after the opening quote) into
/// `word`; returns the index after the closing quote.
fn quoted(
    line: &[u8],
    mut i: usize,
    word: &mut Vec<u8>,
    double: bool,
) -> Result<usize, ProtocolError> {
    let close = if double { b'"' } else { b'\'' };
    loop {
        let Some(&b) = line.get(i) else {
            return Err(ProtocolError::UnbalancedQuotes);
        };
        i += 1;
        if b == close {
            // Redis refuses `"a"b`: a closing quote must end the word.
            return match line.get(i) {
                None | Some(&(b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c | 0)) => Ok(i),
                Some(_) => Err(ProtocolError::UnbalancedQuotes),
            };
        }
        if b != b'\\' || i == line.len() {
            word.push(b);
            continue;
        }
        let next = line[i];
        i += 1;
        if !double {
            if next != b'\'' {
                word.push(b'\\');
            }
            word.push(next);
            continue;
        }
        match next {
            b'n' => word.push(b'\n'),
            b'r' => word.push(b'\r'),
            b't' => word.push(b'\t'),
            b'b' => word.push(8),
            b'a' => word.push(7),
            b'x' => match hex_pair(line.get(i..i + 2)) {
                Some(byte) => {
                    word.push(byte);
                    i += 2;
                }
                None => word.push(b'x'),
            },
            other => word.push(other),
        }
    }
}

fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    let pair = std::str::from_utf8(pair?).ok()?;
    u8::from_str_radix(pair, 16)
        .ok()
        .filter(|_| pair.len() == 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&[u8]]) -> Request {
        list.iter().map(|w| w.to_vec()).collect()
    }

    #[test]
    fn inline_commands_split_like_redis_cli() {
        let s = |line: &[u8]| split(line);
        assert_eq!(s(b"set k v").unwrap(), words(&[b"set", b"k", b"v"]));
        assert_eq!(
            s(b"set \"a b\" 'c d'").unwrap(),
            words(&[b"set", b"a b", b"c d"])
        );
        assert_eq!(
            s(br#"set "\x00\xff\n\"" 'it\'s'"#).unwrap(),
            words(&[b"set", b"\0\xff\n\"", b"it's"])
        );
        assert_eq!(s(b"   ").unwrap(), Request::new());
        assert_eq!(
            s(b"set \"open").unwrap_err(),
            ProtocolError::UnbalancedQuotes
        );
        assert_eq!(
            s(b"set \"a\"b").unwrap_err(),
            ProtocolError::UnbalancedQuotes
        );
    }
}
