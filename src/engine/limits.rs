//! The sizes a key and a value may have: defined here once, and checked
//! here for every way in (the engine's writes, the dump readers, the
//! server), so that nothing accepts what the engine would refuse.
//!
//! Invariant: a key is 1 to [`MAX_KEY_LEN`] bytes and a value at most
//! [`MAX_VALUE_LEN`] bytes; the record decoder refuses larger lengths read
//! from disk with the same constants.

use super::{Error, Result};

/// Largest key, in bytes (64 KiB).
pub const MAX_KEY_LEN: usize = 64 * 1024;
/// Largest value, in bytes (256 MiB).
pub const MAX_VALUE_LEN: usize = 256 * 1024 * 1024;

/// Refuses an empty key or one longer than [`MAX_KEY_LEN`].
pub fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLarge {
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// Refuses a value longer than [`MAX_VALUE_LEN`].
pub fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::ValueTooLarge {
            len: value.len(),
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

/// [`check_key`] then [`check_value`].
pub fn check_pair(key: &[u8], value: &[u8]) -> Result<()> {
    check_key(key)?;
    check_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_are_inclusive() {
        assert!(check_key(&[b'k'; MAX_KEY_LEN]).is_ok());
        assert!(check_key(&[b'k'; MAX_KEY_LEN + 1]).is_err());
        assert!(check_key(b"").is_err());
        assert!(check_value(&vec![0; MAX_VALUE_LEN]).is_ok());
        assert!(check_value(&vec![0; MAX_VALUE_LEN + 1]).is_err());
        assert!(matches!(
            check_pair(b"", b"v"),
            Err(Error::KeyTooLarge { len: 0, .. })
        ));
    }
}
