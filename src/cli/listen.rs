//! Where `tinykv serve` listens: `--listen` parsed and resolved, and the
//! policy for addresses beyond this machine. `Config::resolve` applies it
//! (config.rs), so the server starts from addresses already allowed.
//!
//! The policy: loopback (127.0.0.0/8, ::1, or a name such as `localhost`
//! that resolves only to those) needs nothing. Any other address serves
//! every machine that can reach it, and a tinykv server without a password
//! would let any of them read and overwrite the whole database, so it is
//! refused, with the two ways on in the message: `--requirepass`, or
//! `--insecure` for a network that is trusted (a container's, a VPN). A
//! refusal rather than a warning, because a warning scrolls by in a log
//! while the data stays exposed; Redis's protected mode makes the same
//! choice.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};

use anyhow::{Context, Result, bail};

/// Resolves `spec` (`host:port`, `[v6]:port`, or a bare port meaning
/// 127.0.0.1) into the addresses to try, and applies the policy.
pub fn resolve(spec: &str, password: bool, insecure: bool) -> Result<Vec<SocketAddr>> {
    let spec = spec.trim();
    let addrs: Vec<SocketAddr> = if let Ok(port) = spec.parse::<u16>() {
        vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))]
    } else {
        if !spec.contains(':') {
            bail!("--listen {spec}: expected HOST:PORT (e.g. 127.0.0.1:6380) or a port");
        }
        spec.to_socket_addrs()
            .with_context(|| format!("--listen {spec}: cannot resolve the address"))?
            .collect()
    };
    if addrs.is_empty() {
        bail!("--listen {spec}: the name resolves to no address");
    }
    if !password
        && !insecure
        && let Some(open) = addrs.iter().find(|a| !a.ip().is_loopback())
    {
        bail!(
            "refusing to serve on {open} without a password: any machine that can reach it \
             could read and change the database (add --requirepass PASSWORD, or --insecure \
             on a trusted network, or listen on 127.0.0.1)"
        );
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_nothing() {
        let a = resolve("127.0.0.1:0", false, false).unwrap();
        assert_eq!(a, vec!["127.0.0.1:0".parse().unwrap()]);
        assert_eq!(
            resolve("6390", false, false).unwrap(),
            vec!["127.0.0.1:6390".parse().unwrap()]
        );
        assert!(resolve("[::1]:6390", false, false).is_ok());
        assert!(resolve("127.8.9.10:1", false, false).is_ok());
    }

    #[test]
    fn other_addresses_need_a_password_or_insistence() {
        let err = resolve("0.0.0.0:6380", false, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--requirepass"), "{err}");
        assert!(err.contains("0.0.0.0:6380"), "{err}");
        assert!(resolve("0.0.0.0:6380", true, false).is_ok());
        assert!(resolve("[::]:6380", false, true).is_ok());
    }

    #[test]
    fn bad_specs_are_clear() {
        for bad in ["", "localhost", "127.0.0.1:99999"] {
            let err = resolve(bad, false, false).unwrap_err().to_string();
            assert!(err.starts_with("--listen"), "{bad}: {err}");
        }
    }
}
