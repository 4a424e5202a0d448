//! `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`, the address `push` is
//! given, as redis-cli's `-u` and the client libraries take it.
//!
//! Invariants: the password is never shown: [`Url`]'s `Display` prints it
//! as `***`, and no error message repeats the text given. User and
//! password are percent-decoded (a password may hold `@`, `:` or `/`);
//! the host may be a name, an IPv4 address or `[IPv6]`; the port defaults
//! to 6379 and the database to none (the server's own, 0).

use std::fmt;

use anyhow::{Result, anyhow, bail};

/// The port Redis listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 6379;

/// A parsed `redis://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    /// The ACL user (`AUTH user pass`); `None`: the default user.
    pub user: Option<Vec<u8>>,
    /// The password; `None`: no AUTH.
    pub password: Option<Vec<u8>>,
    /// A host name or address, without IPv6 brackets.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The database to SELECT; `None`: the connection's default.
    pub db: Option<u32>,
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({self})")
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redis://")?;
        match (&self.user, &self.password) {
            (Some(user), _) => write!(f, "{}:***@", String::from_utf8_lossy(user))?,
            (None, Some(_)) => f.write_str(":***@")?,
            (None, None) => {}
        }
        write!(f, "{}", self.address())?;
        if let Some(db) = self.db {
            write!(f, "/{db}")?;
        }
        Ok(())
    }
}

impl Url {
    /// Parses `text`; the error says what is wrong without repeating it
    /// (it may hold a password).
    pub fn parse(text: &str) -> Result<Url> {
        let usage = "expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]";
        let Some(rest) = text.strip_prefix("redis://") else {
            if text.starts_with("rediss://") {
                bail!("TLS (rediss://) is not supported; use redis://");
            }
            if text.contains("://") {
                bail!("not a redis:// URL ({usage})");
            }
            bail!("the address does not start with redis:// ({usage})");
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (credentials, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (user, password) = match credentials {
            None => (None, None),
            Some(c) => {
                let (u, p) = match c.find(':') {
                    Some(i) => (&c[..i], Some(&c[i + 1..])),
                    None => (c, None),
                };
                let user = Some(decode(u)?).filter(|u| !u.is_empty());
                // `redis://user@host` names a password, as the redis crate
                // reads it: `redis://:pass@host` and `redis://pass@host`
                // alike would surprise someone; a user alone is refused.
                let password = match p {
                    Some(p) => Some(decode(p)?),
                    None if user.is_some() => {
                        bail!("the URL names a user but no password (redis://USER:PASSWORD@HOST)")
                    }
                    None => None,
                };
                (user, password)
            }
        };
        let (host, port) = host_port(hostport)?;
        let db = match path {
            "" | "/" => None,
            p if p.starts_with('?') || p.starts_with('#') => {
                bail!("the URL has options after the address; push takes none ({usage})")
            }
            p => {
                let n = &p[1..];
                Some(n.parse::<u32>().map_err(|_| {
                    anyhow!("the database after the address is not a number ({usage})")
                })?)
            }
        };
        Ok(Url {
            user,
            password,
            host,
            port,
            db,
        })
    }

    /// `HOST:PORT`, with an IPv6 host in brackets.
    pub fn address(&self) -> String {
        address(&self.host, self.port)
    }
}

/// `HOST:PORT`, with an IPv6 host in brackets.
pub fn address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn host_port(text: &str) -> Result<(String, u16)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| anyhow!("an IPv6 address in the URL lacks its closing ]"))?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => bail!("unexpected text after the IPv6 address in the URL"),
        };
        (&rest[..end], port)
    } else {
        match text.rfind(':') {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        }
    };
    if host.is_empty() {
        bail!("the URL names no host (redis://HOST:PORT)");
    }
    if host.contains(['[', ']', '@', ' ']) {
        bail!("the host in the URL is not a host name or address");
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => bail!("the port in the URL is not a number from 1 to 65535"),
        },
    };
    Ok((host.to_owned(), port))
}

/// Percent-decoding (`%40` is `@`).
fn decode(text: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("a bad %-escape in the URL's user or password"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part() {
        let u = Url::parse("redis://alice:p%40ss:w@db.example:6390/3").unwrap();
        assert_eq!(u.user.as_deref(), Some(&b"alice"[..]));
        assert_eq!(u.password.as_deref(), Some(&b"p@ss:w"[..]));
        assert_eq!(
            (u.host.as_str(), u.port, u.db),
            ("db.example", 6390, Some(3))
        );
        assert_eq!(u.to_string(), "redis://alice:***@db.example:6390/3");

        let u = Url::parse("redis://:secret@127.0.0.1").unwrap();
        assert_eq!(u.user, None);
        assert_eq!(u.password.as_deref(), Some(&b"secret"[..]));
        assert_eq!(u.port, 6379);
        assert_eq!(u.to_string(), "redis://:***@127.0.0.1:6379");

        let u = Url::parse("redis://[::1]:7000/").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("::1", 7000, None));
        assert_eq!(u.address(), "[::1]:7000");
        assert_eq!(Url::parse("redis://h").unwrap().address(), "h:6379");
    }

    #[test]
    fn mistakes_are_named_and_the_password_never_shown() {
        for (text, why) in [
            ("127.0.0.1:6379", "does not start with redis://"),
            ("http://h:1", "not a redis:// URL"),
            ("rediss://h:1", "TLS"),
            ("redis://", "no host"),
            ("redis://:pw@:6379", "no host"),
            ("redis://h:0", "port"),
            ("redis://h:70000", "port"),
            ("redis://h:x", "port"),
            ("redis://h:1/x", "database"),
            ("redis://h:1/-1", "database"),
            ("redis://h:1?db=2", "options"),
            ("redis://u@h:1", "no password"),
            ("redis://:p%4@h", "%-escape"),
            ("redis://[::1:1", "closing ]"),
            ("redis://[::1]x", "after the IPv6"),
        ] {
            let err = Url::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
            assert!(!err.contains("pw@"), "{err}");
        }
    }
}
