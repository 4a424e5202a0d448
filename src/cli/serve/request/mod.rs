//! Requests as they arrive on the wire: what one is ([`Request`]), how a
//! stream that cannot be framed is refused ([`ProtocolError`]), and the
//! files that read them: [`parse`] (the streaming RESP2 parser), [`inline`]
//! (inline commands, split as redis-cli splits them), [`limits`] (what one
//! request may make the server hold, and how it is counted) and [`fuzz`]
//! (the parser's fuzz target).
//!
//! Invariant: a [`ProtocolError`]'s text is the `-ERR` reply Redis would
//! give, after which the connection is closed (the stream can no longer be
//! framed).

#[cfg(any(test, feature = "testing"))]
pub(crate) mod fuzz;
mod inline;
pub mod limits;
pub mod parse;

use std::fmt;

/// A request that cannot be framed; the connection is closed after the reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// An inline command longer than the limit, or with no end of line in it.
    InlineTooLong(usize),
    /// An inline command with a quote that is not closed.
    UnbalancedQuotes,
    /// A `*` header that is not a number, or too large a number.
    BadArrayLength(usize),
    /// A `*` or `$` header line with no end within its limit.
    HeaderTooLong(char),
    /// Something other than `$` where a bulk string must begin.
    ExpectedBulk(u8),
    /// A `$` header that is not a number, negative, or over the limit.
    BadBulkLength(usize),
    /// A bulk string not followed by CRLF.
    MissingCrlf,
    /// The arguments of one request add up to more than the limit.
    RequestTooLarge(usize),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Protocol error: ")?;
        match self {
            ProtocolError::InlineTooLong(max) => {
                write!(f, "too big inline request (at most {max} bytes)")
            }
            ProtocolError::UnbalancedQuotes => write!(f, "unbalanced quotes in request"),
            ProtocolError::BadArrayLength(max) => {
                write!(f, "invalid multibulk length (at most {max} arguments)")
            }
            ProtocolError::HeaderTooLong('*') => write!(f, "too big mbulk count string"),
            ProtocolError::HeaderTooLong(_) => write!(f, "too big bulk count string"),
            ProtocolError::ExpectedBulk(got) => {
                write!(f, "expected '$', got '{}'", shown_byte(*got))
            }
            ProtocolError::BadBulkLength(max) => {
                write!(f, "invalid bulk length (at most {max} bytes)")
            }
            ProtocolError::MissingCrlf => write!(f, "expected CRLF after a bulk string"),
            ProtocolError::RequestTooLarge(max) => {
                write!(f, "request larger than {max} bytes")
            }
        }
    }
}

/// A byte as it can appear inside a one-line error reply.
fn shown_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        (b as char).to_string()
    } else {
        format!("\\x{b:02x}")
    }
}

/// One request: the command name and its arguments.
pub type Request = Vec<Vec<u8>>;
