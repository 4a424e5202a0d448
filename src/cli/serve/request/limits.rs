//! How much one request may make the server hold, and how that memory is
//! counted: the limits the parser enforces ([`Limits`]), and the bytes a
//! request holds beyond its arguments' bytes, which [`request_bytes`] and
//! the parser's `held` count the same way, so that what the budget
//! (budget.rs) reserves for a request while it arrives is what it keeps
//! reserved once parsed.
//!
//! Invariant: an argument costs its buffer's capacity, its `Vec` in the
//! request's list (the list's capacity, which doubles, counted) and a heap
//! block, even when empty: a million empty bulks count as the 24-40 MiB
//! they hold, not as nothing.

use super::Request;
use crate::engine::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// Room for what comes with two values of the largest size in one request
/// or reply (their keys, the command, the framing), so that an MSET of two
/// such values is read and an MGET of them answered (serve review: the
/// 512 MiB limit counted the keys inside the values' own 512 MiB).
pub const TWO_VALUES: usize = 2 * MAX_VALUE_LEN + 2 * MAX_KEY_LEN + 64 * 1024;

/// What one argument's `Vec` costs in the request's list of arguments.
pub const ARG_HEADER: usize = std::mem::size_of::<Vec<u8>>();
/// What the allocator adds to each argument's own buffer (glibc's chunk
/// header, rounded), counted even for an empty one, to be safe.
pub const HEAP_BLOCK: usize = 16;
/// The list of arguments starts with room for this many (the declared
/// count is not trusted), then doubles.
pub const FIRST_ARGS: usize = 16;

/// The most the list of arguments and the arguments' overhead can hold
/// for a request of `args` arguments: the list's capacity is at most
/// twice its length (it doubles), or [`FIRST_ARGS`].
pub fn overhead_bound(args: usize) -> usize {
    (2 * args).max(FIRST_ARGS) * ARG_HEADER + args * HEAP_BLOCK
}

/// The memory `request` holds: its bytes (as allocated), its list of
/// arguments and each argument's overhead. What the parser's
/// `Parser::held` was when the request completed, for a multibulk one.
pub fn request_bytes(request: &Request) -> usize {
    let data: usize = request.iter().map(Vec::capacity).sum();
    data + request.capacity() * ARG_HEADER + request.len() * HEAP_BLOCK
}

/// How much one request may make the server hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string (one argument).
    pub bulk: usize,
    /// Most arguments in one request.
    pub args: usize,
    /// Longest inline command line.
    pub inline: usize,
    /// Most argument bytes in one request.
    pub request: usize,
}

impl Limits {
    /// For a connection that may run commands: a bulk as large as the
    /// largest value the engine stores, and room for an MSET of a few.
    pub const DEFAULT: Limits = Limits {
        bulk: MAX_VALUE_LEN,
        args: 1024 * 1024,
        inline: 64 * 1024,
        request: TWO_VALUES,
    };

    /// Before AUTH on a server with a password, as Redis does: enough for
    /// AUTH or HELLO, too little for a stranger to make the server hold much.
    pub const UNAUTHENTICATED: Limits = Limits {
        bulk: 16 * 1024,
        args: 10,
        inline: 16 * 1024,
        request: 64 * 1024,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::serve::reply::{MAX_REPLY, bulk_size};
    use crate::engine::MAX_KEY_LEN;

    /// What one MSET of two values of the largest size, under keys of the
    /// largest size, holds; and what the MGET that reads them back replies.
    #[test]
    fn two_values_of_the_largest_size_fit_one_mset_and_one_mget() {
        let mset = b"MSET".len() + 2 * (MAX_KEY_LEN + MAX_VALUE_LEN) + overhead_bound(5);
        assert!(mset <= Limits::DEFAULT.request, "{mset}");
        let mget = b"*2\r\n".len() + 2 * bulk_size(MAX_VALUE_LEN);
        assert!(mget <= MAX_REPLY, "{mget}");
    }
}
