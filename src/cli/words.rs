//! Splitting a REPL or script line into words, the way a shell would.
//!
//! - Unquoted whitespace (space, TAB, CR, LF) separates words.
//! - `'single quotes'` keep every byte up to the next `'` as it is.
//! - `"double quotes"` understand `\n`, `\t`, `\r`, `\\`, `\"`, `\'` and
//!   `\xHH` (any byte), so every byte can be typed; another escape is an error.
//! - Outside quotes, a backslash takes the next byte literally (`a\ b`).
//! - Adjacent pieces join into one word (`"a"'b'c` is `abc`); `""` is an
//!   empty word.
//!
//! Input is bytes, not text: a script line may hold any bytes, and an
//! unquoted byte goes into its word unchanged. No input makes this panic
//! (it is fuzzed). [`quote`] writes the inverse form: its output always
//! splits back into the same single word.

use std::fmt;

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// A quote was opened and never closed.
    UnclosedQuote(char),
    /// The line ends in a lone backslash.
    TrailingBackslash,
    /// `\` followed by something other than a known escape, inside `"`.
    UnknownEscape(String),
    /// `\x` not followed by two hex digits.
    BadHexEscape,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::UnclosedQuote(q) => write!(f, "unclosed {q} quote"),
            SplitError::TrailingBackslash => f.write_str("the line ends in a lone backslash"),
            SplitError::UnknownEscape(e) => write!(
                f,
                "unknown escape `\\{e}` in double quotes (use \\n \\t \\r \\\\ \\\" \\xHH)"
            ),
            SplitError::BadHexEscape => f.write_str("`\\x` must be followed by two hex digits"),
        }
    }
}

impl std::error::Error for SplitError {}

/// The state after the last byte of a (possibly unfinished) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    /// The complete words before the last one.
    pub words: Vec<Vec<u8>>,
    /// The last word so far (empty when the line ends in whitespace outside quotes).
    pub last: Vec<u8>,
    /// Byte offset in the line where the last word starts.
    pub last_start: usize,
    /// Whether the line ends outside any word (so `last` is not begun).
    pub between_words: bool,
}

/// Splits a complete line into words.
pub fn split(line: &[u8]) -> Result<Vec<Vec<u8>>, SplitError> {
    let mut lexer = Lexer::new(line);
    lexer.run()?;
    match lexer.quote {
        Some(q) => Err(SplitError::UnclosedQuote(q as char)),
        None => {
            let mut words = lexer.words;
            if let Some(word) = lexer.current {
                words.push(word);
            }
            Ok(words)
        }
    }
}

/// Splits an unfinished line (for completion and hints): an open quote or a
/// trailing backslash is allowed, and bad escapes are ignored.
pub fn split_partial(line: &[u8]) -> Partial {
    let mut lexer = Lexer::new(line);
    lexer.lenient = true;
    // Lenient lexing cannot fail; a broken escape is taken literally.
    let _ = lexer.run();
    let between_words = lexer.current.is_none();
    Partial {
        words: lexer.words,
        last: lexer.current.unwrap_or_default(),
        last_start: if between_words {
            line.len()
        } else {
            lexer.word_start
        },
        between_words,
    }
}

/// Writes `word` so that [`split`] gives it back as one word: as it is when
/// it is plain printable text without quotes, backslashes or spaces, else in
/// double quotes with escapes (non-printable bytes and invalid UTF-8 as `\xHH`).
pub fn quote(word: &[u8]) -> String {
    let plain = !word.is_empty()
        && std::str::from_utf8(word).is_ok_and(|s| {
            s.chars()
                .all(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, '"' | '\'' | '\\'))
        });
    if plain {
        return String::from_utf8_lossy(word).into_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    escape_into(word, &mut out);
    out.push('"');
    out
}

/// The double-quoted form of `bytes` without the quotes (for replies).
pub fn escape_into(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let mut buf = [0; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
}

struct Lexer<'a> {
    line: &'a [u8],
    pos: usize,
    words: Vec<Vec<u8>>,
    current: Option<Vec<u8>>,
    word_start: usize,
    quote: Option<u8>,
    lenient: bool,
}

impl<'a> Lexer<'a> {
    fn new(line: &'a [u8]) -> Self {
        Lexer {
            line,
            pos: 0,
            words: Vec::new(),
            current: None,
            word_start: 0,
            quote: None,
            lenient: false,
        }
    }

    fn word(&mut self) -> &mut Vec<u8> {
        if self.current.is_none() {
            self.word_start = self.pos;
        }
        self.current.get_or_insert_with(Vec::new)
    }

    fn run(&mut self) -> Result<(), SplitError> {
        while let Some(&b) = self.line.get(self.pos) {
            match self.quote {
                None => self.unquoted(b)?,
                Some(b'\'') => {
                    if b == b'\'' {
                        self.quote = None;
                    } else {
                        self.word().push(b);
                    }
                    self.pos += 1;
                }
                Some(_) => self.double_quoted(b)?,
            }
        }
        Ok(())
    }

    fn unquoted(&mut self, b: u8) -> Result<(), SplitError> {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                if let Some(word) = self.current.take() {
                    self.words.push(word);
                }
                self.pos += 1;
            }
            b'\'' | b'"' => {
                self.word();
                self.quote = Some(b);
                self.pos += 1;
            }
            b'\\' => {
                self.word();
                match self.line.get(self.pos + 1) {
                    Some(&next) => {
                        self.word().push(next);
                        self.pos += 2;
                    }
                    None if self.lenient => self.pos += 1,
                    None => return Err(SplitError::TrailingBackslash),
                }
            }
            _ => {
                self.word().push(b);
                self.pos += 1;
            }
        }
        Ok(())
    }

    fn double_quoted(&mut self, b: u8) -> Result<(), SplitError> {
        match b {
            b'"' => {
                self.quote = None;
                self.pos += 1;
            }
            b'\\' => {
                let Some(&e) = self.line.get(self.pos + 1) else {
                    // An unclosed quote is reported by the caller.
                    self.pos += 1;
                    return Ok(());
                };
                let byte = match e {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'\\' | b'"' | b'\'' => e,
                    b'x' => match self.hex_at(self.pos + 2) {
                        Some(v) => {
                            self.word().push(v);
                            self.pos += 4;
                            return Ok(());
                        }
                        None if self.lenient => e,
                        None => return Err(SplitError::BadHexEscape),
                    },
                    _ if self.lenient => e,
                    _ => {
                        let rest = &self.line[self.pos + 1..];
                        let shown = String::from_utf8_lossy(&rest[..rest.len().min(4)])
                            .chars()
                            .next()
                            .map(String::from)
                            .unwrap_or_default();
                        return Err(SplitError::UnknownEscape(shown));
                    }
                };
                self.word().push(byte);
                self.pos += 2;
            }
            _ => {
                self.word().push(b);
                self.pos += 1;
            }
        }
        Ok(())
    }

    fn hex_at(&self, at: usize) -> Option<u8> {
        let digits = self.line.get(at..at + 2)?;
        let hi = (digits[0] as char).to_digit(16)?;
        let lo = (digits[1] as char).to_digit(16)?;
        u8::try_from(hi * 16 + lo).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split(line.as_bytes())
            .unwrap()
            .into_iter()
            .map(|w| String::from_utf8(w).unwrap())
            .collect()
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(words("set a b"), ["set", "a", "b"]);
        assert_eq!(words("  set\t a  b \r\n"), ["set", "a", "b"]);
        assert_eq!(
            words(r#"set "my key" 'a value'"#),
            ["set", "my key", "a value"]
        );
        assert_eq!(words(r#""a"'b'c"#), ["abc"]);
        assert_eq!(words(r"a\ b"), ["a b"]);
        assert_eq!(words(r#"set k """#), ["set", "k", ""]);
        assert_eq!(words(r#"'it''s' "say \"hi\"""#), ["its", "say \"hi\""]);
        assert_eq!(words(r"'\n stays'"), [r"\n stays"]);
        assert!(words("").is_empty());
        assert!(words("   ").is_empty());
    }

    #[test]
    fn double_quotes_take_escapes() {
        let w = split(br#""a\nb\tc\rd\\e\x00\xfF\'""#).unwrap();
        assert_eq!(w, vec![b"a\nb\tc\rd\\e\x00\xff'".to_vec()]);
    }

    #[test]
    fn raw_bytes_pass_through() {
        assert_eq!(split(b"set \xff\xfe v").unwrap()[1], b"\xff\xfe");
        assert_eq!(
            split("k\u{1F600}".as_bytes()).unwrap()[0],
            "k\u{1F600}".as_bytes()
        );
    }

    #[test]
    fn reports_broken_lines() {
        assert_eq!(split(b"set 'a"), Err(SplitError::UnclosedQuote('\'')));
        assert_eq!(split(b"set \"a"), Err(SplitError::UnclosedQuote('"')));
        assert_eq!(split(b"set \"a\\"), Err(SplitError::UnclosedQuote('"')));
        assert_eq!(split(b"set a\\"), Err(SplitError::TrailingBackslash));
        assert_eq!(
            split(br#""\q""#),
            Err(SplitError::UnknownEscape("q".into()))
        );
        assert_eq!(split(br#""\x4""#), Err(SplitError::BadHexEscape));
        assert_eq!(split(br#""\x"#), Err(SplitError::BadHexEscape));
        assert_eq!(
            split("\"\\é\"".as_bytes()),
            Err(SplitError::UnknownEscape("é".into()))
        );
    }

    #[test]
    fn partial_lines_give_the_word_being_typed() {
        let p = split_partial(b"get us");
        assert_eq!(p.words, vec![b"get".to_vec()]);
        assert_eq!(
            (p.last.as_slice(), p.last_start, p.between_words),
            (&b"us"[..], 4, false)
        );
        let p = split_partial(b"get \"my k");
        assert_eq!((p.last.as_slice(), p.last_start), (&b"my k"[..], 4));
        let p = split_partial(b"get ");
        assert!(p.between_words);
        assert_eq!(p.last_start, 4);
        let p = split_partial(b"x \"\\q\\x1\\");
        assert_eq!(p.last, b"qx1".to_vec());
    }

    #[test]
    fn quote_round_trips() {
        let samples: [&[u8]; 9] = [
            b"plain",
            b"",
            b"with space",
            b"tab\there",
            b"q\"uo'te\\",
            b"\x00\x01\x7f\xff",
            "caf\u{e9} \u{1F600}".as_bytes(),
            b"\xc3",
            b"#hash",
        ];
        for s in samples {
            let q = quote(s);
            assert_eq!(split(q.as_bytes()).unwrap(), vec![s.to_vec()], "{q}");
        }
        assert_eq!(quote(b"plain"), "plain");
        assert_eq!(quote(b"a b"), "\"a b\"");
    }

    #[test]
    fn never_panics_on_any_short_input() {
        let alphabet: &[u8] = b"a \"'\\xnF0\xff\t";
        let mut line = Vec::new();
        for n in 0..alphabet.len().pow(4) {
            line.clear();
            let mut k = n;
            for _ in 0..4 {
                line.push(alphabet[k % alphabet.len()]);
                k /= alphabet.len();
            }
            let _ = split(&line);
            let _ = split_partial(&line);
        }
    }
}
