//! Bucket keys from untrusted input: escaping for Redis keys, email and IP normalisation, and
//! the client address behind trusted proxies.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// The longest key part kept readable.
const MAX_READABLE: usize = 64;

/// Makes untrusted text safe as one segment of a Redis key. Short text of `[A-Za-z0-9._-]`
/// stays as is (an IPv4 address, a UUID, an operation name) so keys remain readable; anything
/// else — `:`, `@`, spaces, non-ASCII, more than 64 bytes — becomes `~` and 32 hex digits of
/// its SHA-256. `~` is never readable, so the two forms cannot collide. SHA-256 rather than a
/// faster hash because every replica, on any CPU, must derive the same key; emails (`@`)
/// therefore never reach Redis in clear. [`super::RateLimiter::check`] applies this itself.
pub fn key_part(raw: &str) -> Cow<'_, str> {
    let readable = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    if raw.len() <= MAX_READABLE && raw.bytes().all(readable) {
        return Cow::Borrowed(raw);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(raw.as_bytes());
    let mut out = String::with_capacity(33);
    out.push('~');
    for byte in &digest[..16] {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    Cow::Owned(out)
}

/// The key for a per-email limit: trimmed and lower-cased, so `Alice@X.org ` and
/// `alice@x.org` share one budget (otherwise changing case would buy a fresh one).
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The key for a per-IP limit. IPv6 clients are keyed by their /64: one host usually holds a
/// whole /64, and keying single addresses would give it 2^64 budgets. IPv4-mapped IPv6
/// addresses count as the IPv4 address.
pub fn ip_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("v6-{:x}-{:x}-{:x}-{:x}", s[0], s[1], s[2], s[3])
        }
    }
}

/// An IP network (`10.0.0.0/8`, `fd00::/8`, or a single address), e.g. a trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The network of `addr` with `prefix` bits; host bits are cleared.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, String> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
                _ => (addr, prefix),
            },
            IpAddr::V4(_) => (addr, prefix),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!(
                "{addr}/{prefix}: the prefix is longer than {max} bits"
            ));
        }
        Ok(Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// Whether `ip` is in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & mask))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let invalid = || {
            format!("invalid IP network {text:?}: expected e.g. 10.0.0.0/8, ::1/128 or 192.0.2.7")
        };
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
        let prefix = match prefix {
            Some(prefix) => prefix.parse().map_err(|_| invalid())?,
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        Self::new(addr, prefix)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for IpNet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy. Then
/// `X-Forwarded-For` (all its header values joined by `,`) is walked right to left — each
/// proxy appends the address it received from — past every trusted proxy; the first untrusted
/// address is the client. Addresses further left were written by the client and are ignored,
/// so a spoofed header gains nothing. A hop that does not parse stops the walk at the last
/// trusted address. With no trusted proxies the peer is always the answer.
pub fn client_ip(peer: SocketAddr, x_forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = canonical(peer.ip());
    if !is_trusted(client) {
        return client;
    }
    let Some(header) = x_forwarded_for else {
        return client;
    };
    for hop in header
        .rsplit(',')
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
    {
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`) or in brackets, as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    let bracketed = hop.strip_prefix('[')?.strip_suffix(']')?;
    bracketed
        .parse::<Ipv6Addr>()
        .ok()
        .map(|v6| canonical(IpAddr::V6(v6)))
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`, as dual-stack sockets report IPv4 peers) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|net| net.parse().expect("valid net"))
            .collect()
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().expect("valid ip"), 40000)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid ip")
    }

    #[test]
    fn key_parts_stay_readable_only_when_safe() {
        assert_eq!(key_part("203.0.113.7"), "203.0.113.7");
        assert_eq!(key_part("getUser_2-x"), "getUser_2-x");
        // Stable across versions and machines: replicas must agree (sha256("a:b")[..16]).
        assert_eq!(key_part("a:b"), "~6783a31eabf68ccc0660f935c0826282");
        assert_eq!(
            key_part("alice@example.com"),
            "~ff8d9819fc0e12bf0d24892e45987e24"
        );
        let huge = "x".repeat(10_000);
        for raw in [
            "a:b",
            "x y",
            "é",
            "~6783a31eabf68ccc0660f935c0826282",
            &huge,
        ] {
            let part = key_part(raw);
            assert_eq!(part.len(), 33, "{raw:?}");
            assert!(!part.contains(':'));
        }
        assert_eq!(key_part(&"x".repeat(64)), "x".repeat(64));
        assert_ne!(key_part("a:b"), key_part("a:c"));
    }

    #[test]
    fn emails_and_ips_are_normalised() {
        assert_eq!(email_key("  Alice@Example.COM "), "alice@example.com");
        assert_eq!(ip_key(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(ip_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(ip_key(ip("2001:db8:1:2:aaaa::1")), "v6-2001-db8-1-2");
        assert_eq!(
            ip_key(ip("2001:db8:1:2:ffff::9")),
            ip_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(key_part(&ip_key(ip("2001:db8::1"))), "v6-2001-db8-0-0");
    }

    #[test]
    fn networks_parse_mask_and_match() {
        let net: IpNet = "10.1.2.3/8".parse().expect("valid");
        assert_eq!(net.to_string(), "10.0.0.0/8");
        assert!(net.contains(ip("10.255.0.1")));
        assert!(net.contains(ip("::ffff:10.0.0.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::a00:1")));
        let host: IpNet = "192.0.2.7".parse().expect("valid");
        assert_eq!(host.to_string(), "192.0.2.7/32");
        assert!(host.contains(ip("192.0.2.7")) && !host.contains(ip("192.0.2.8")));
        let v6: IpNet = "fd00::/8".parse().expect("valid");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert_eq!(
            "::1".parse::<IpNet>().expect("valid").to_string(),
            "::1/128"
        );
        let mapped: IpNet = "::ffff:10.0.0.0/104".parse().expect("valid");
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
        let all: IpNet = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/x",
            "",
            "host",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let spoofed = Some("1.2.3.4");
        assert_eq!(
            client_ip(peer("203.0.113.9"), spoofed, &[]),
            ip("203.0.113.9")
        );
        // The header of an untrusted peer is ignored.
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(peer("203.0.113.9"), spoofed, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(peer("::ffff:203.0.113.9"), None, &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "::1/128"]);
        let via = |header: &str| client_ip(peer("10.0.0.2"), Some(header), &trusted);
        assert_eq!(via("198.51.100.4"), ip("198.51.100.4"));
        // The client prepended a fake address; the proxy appended the real one.
        assert_eq!(via("6.6.6.6, 198.51.100.4"), ip("198.51.100.4"));
        // Two trusted proxies in a row are skipped.
        assert_eq!(via("6.6.6.6, 198.51.100.4, 10.0.0.1"), ip("198.51.100.4"));
        // Ports, brackets and stray blanks as some proxies write them.
        assert_eq!(via("198.51.100.4:5555"), ip("198.51.100.4"));
        assert_eq!(via("[2001:db8::7]:443"), ip("2001:db8::7"));
        assert_eq!(via("[2001:db8::7]"), ip("2001:db8::7"));
        assert_eq!(via(" 198.51.100.4 , "), ip("198.51.100.4"));
        // Garbage stops the walk at the last trusted address.
        assert_eq!(via("198.51.100.4, garbage, 10.0.0.1"), ip("10.0.0.1"));
        assert_eq!(via("garbage"), ip("10.0.0.2"));
        // Only trusted hops: the leftmost is the best there is.
        assert_eq!(via("10.0.0.9, 10.0.0.1"), ip("10.0.0.9"));
        // No header: the proxy itself.
        assert_eq!(client_ip(peer("10.0.0.2"), None, &trusted), ip("10.0.0.2"));
        let v6_peer = client_ip(peer("::1"), Some("2001:db8::1"), &trusted);
        assert_eq!(v6_peer, ip("2001:db8::1"));
    }
}
