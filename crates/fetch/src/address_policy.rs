//! Which IP addresses an outbound fetch may connect to (SPEC R068, CIMD-01 §SSRF).
//!
//! Deny by default: IPv4 special-purpose ranges (RFC 6890 and its successors) are refused, and
//! IPv6 is allowed only inside global unicast `2000::/3`, minus the special ranges there. Every
//! IPv6 form that embeds an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) is refused
//! outright: those are the usual ways to smuggle `127.0.0.1` or `169.254.169.254` past a filter.
//! Operators adjust the table with `deny_cidrs` (always wins) and `allow_cidrs` (e.g.
//! `127.0.0.1/32` in tests, `10.0.0.0/8` for an intranet).

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The outcome for one address, with the reason an operator will read in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Blocked(&'static str),
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed)
    }
}

/// IPv4 ranges that are never public destinations.
const BLOCKED_V4: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "\"this network\" (0.0.0.0/8)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private network (10.0.0.0/8)"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "carrier-grade NAT (100.64.0.0/10)"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback (127.0.0.0/8)"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local and cloud metadata (169.254.0.0/16)"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private network (172.16.0.0/12)"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments (192.0.0.0/24)"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation (192.0.2.0/24)"),
    (Ipv4Addr::new(192, 31, 196, 0), 24, "AS112 (192.31.196.0/24)"),
    (Ipv4Addr::new(192, 52, 193, 0), 24, "AMT (192.52.193.0/24)"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast (192.88.99.0/24)"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private network (192.168.0.0/16)"),
    (Ipv4Addr::new(192, 175, 48, 0), 24, "AS112 direct delegation (192.175.48.0/24)"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking (198.18.0.0/15)"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation (198.51.100.0/24)"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation (203.0.113.0/24)"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast (224.0.0.0/4)"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved and broadcast (240.0.0.0/4)"),
];

/// Special ranges inside IPv6 global unicast `2000::/3`.
const BLOCKED_V6_IN_GLOBAL: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, "Teredo, embeds an IPv4 address (2001::/32)"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF protocol assignments (2001::/23)"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation (2001:db8::/32)"),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, "6to4, embeds an IPv4 address (2002::/16)"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation (3fff::/20)"),
];

/// Well-known IPv6 ranges outside `2000::/3`, named so a refusal says why.
const NAMED_V6_OUTSIDE_GLOBAL: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, "IPv4-mapped IPv6 (::ffff:0:0/96)"),
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, "NAT64, embeds an IPv4 address (64:ff9b::/96)"),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "local-use NAT64 (64:ff9b:1::/48)"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128, "loopback (::1)"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96, "unspecified or IPv4-compatible IPv6 (::/96)"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "discard-only (100::/64)"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "unique local (fc00::/7)"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local (fe80::/10)"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local (fec0::/10)"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast (ff00::/8)"),
];

#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl AddressPolicy {
    /// `deny` always wins; `allow` opens ranges the built-in table refuses.
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> Self {
        Self { allow, deny }
    }

    pub fn verdict(&self, ip: IpAddr) -> Verdict {
        if self.deny.iter().any(|net| net.contains(&ip)) {
            return Verdict::Blocked("denied by outbound.deny_cidrs");
        }
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return Verdict::Allowed;
        }
        builtin_verdict(ip)
    }
}

/// The built-in table alone.
pub fn builtin_verdict(ip: IpAddr) -> Verdict {
    match ip {
        IpAddr::V4(v4) => v4_verdict(v4),
        IpAddr::V6(v6) => v6_verdict(v6),
    }
}

fn v4_verdict(ip: Ipv4Addr) -> Verdict {
    for &(network, prefix, reason) in BLOCKED_V4 {
        if Ipv4Net::new(network, prefix).is_ok_and(|net| net.contains(&ip)) {
            return Verdict::Blocked(reason);
        }
    }
    Verdict::Allowed
}

fn v6_verdict(ip: Ipv6Addr) -> Verdict {
    let within = |table: &[(Ipv6Addr, u8, &'static str)]| {
        table
            .iter()
            .find(|&&(network, prefix, _)| Ipv6Net::new(network, prefix).is_ok_and(|net| net.contains(&ip)))
            .map(|&(_, _, reason)| reason)
    };
    let global_unicast = Ipv6Net::new(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3).is_ok_and(|net| net.contains(&ip));
    if !global_unicast {
        return Verdict::Blocked(within(NAMED_V6_OUTSIDE_GLOBAL).unwrap_or("outside IPv6 global unicast (2000::/3)"));
    }
    match within(BLOCKED_V6_IN_GLOBAL) {
        Some(reason) => Verdict::Blocked(reason),
        None => Verdict::Allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn verdict(s: &str) -> Verdict {
        builtin_verdict(s.parse().unwrap())
    }

    #[test]
    fn r068_blocks_the_ranges_the_spec_names() {
        for blocked in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(!verdict(blocked).is_allowed(), "{blocked} must be blocked");
        }
    }

    #[test]
    fn r068_blocks_every_ipv6_form_that_embeds_ipv4() {
        for (embedded, why) in [
            ("::ffff:127.0.0.1", "mapped"),
            ("::ffff:169.254.169.254", "mapped"),
            ("::ffff:8.8.8.8", "mapped, even of a public address"),
            ("::127.0.0.1", "compatible"),
            ("64:ff9b::7f00:1", "NAT64"),
            ("64:ff9b:1::a00:1", "local NAT64"),
            ("2002:7f00:1::", "6to4"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ] {
            assert!(!verdict(embedded).is_allowed(), "{embedded} ({why}) must be blocked");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for public in ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"] {
            assert_eq!(verdict(public), Verdict::Allowed, "{public}");
        }
    }

    #[test]
    fn operator_lists_adjust_the_table_and_deny_wins() {
        let loopback: IpNet = "127.0.0.1/32".parse().unwrap();
        let policy = AddressPolicy::new(vec![loopback], vec![]);
        assert!(policy.verdict("127.0.0.1".parse().unwrap()).is_allowed());
        assert!(!policy.verdict("127.0.0.2".parse().unwrap()).is_allowed());
        let public: IpNet = "8.8.8.0/24".parse().unwrap();
        let policy = AddressPolicy::new(vec![loopback, public], vec![public, loopback]);
        assert_eq!(policy.verdict("8.8.8.8".parse().unwrap()), Verdict::Blocked("denied by outbound.deny_cidrs"));
        assert!(!policy.verdict("127.0.0.1".parse().unwrap()).is_allowed());
    }

    #[test]
    fn refusals_name_the_range() {
        assert_eq!(verdict("169.254.169.254"), Verdict::Blocked("link-local and cloud metadata (169.254.0.0/16)"));
        assert_eq!(verdict("::ffff:10.0.0.1"), Verdict::Blocked("IPv4-mapped IPv6 (::ffff:0:0/96)"));
        assert_eq!(verdict("2001:0:1::1"), Verdict::Blocked("Teredo, embeds an IPv4 address (2001::/32)"));
    }

    fn private_v4() -> impl Strategy<Value = Ipv4Addr> {
        prop_oneof![
            any::<[u8; 3]>().prop_map(|[b, c, d]| Ipv4Addr::new(10, b, c, d)),
            any::<[u8; 3]>().prop_map(|[b, c, d]| Ipv4Addr::new(127, b, c, d)),
            (16u8..32, any::<[u8; 2]>()).prop_map(|(b, [c, d])| Ipv4Addr::new(172, b, c, d)),
            any::<[u8; 2]>().prop_map(|[c, d]| Ipv4Addr::new(192, 168, c, d)),
            any::<[u8; 2]>().prop_map(|[c, d]| Ipv4Addr::new(169, 254, c, d)),
            (64u8..128, any::<[u8; 2]>()).prop_map(|(b, [c, d])| Ipv4Addr::new(100, b, c, d)),
        ]
    }

    proptest! {
        #[test]
        fn private_ipv4_is_blocked_in_every_encoding(ip in private_v4()) {
            prop_assert!(!builtin_verdict(IpAddr::V4(ip)).is_allowed());
            prop_assert!(!builtin_verdict(IpAddr::V6(ip.to_ipv6_mapped())).is_allowed());
            #[allow(deprecated)]
            let compatible = ip.to_ipv6_compatible();
            prop_assert!(!builtin_verdict(IpAddr::V6(compatible)).is_allowed());
            let [a, b, c, d] = ip.octets();
            let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
            prop_assert!(!builtin_verdict(IpAddr::V6(nat64)).is_allowed());
            let six_to_four = Ipv6Addr::new(0x2002, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]), 0, 0, 0, 0, 1);
            prop_assert!(!builtin_verdict(IpAddr::V6(six_to_four)).is_allowed());
        }

        #[test]
        fn any_ipv6_outside_global_unicast_is_blocked(bits in any::<u128>()) {
            let ip = Ipv6Addr::from(bits);
            if bits >> 125 != 0b001 {
                prop_assert!(!builtin_verdict(IpAddr::V6(ip)).is_allowed());
            }
        }

        #[test]
        fn allowed_ipv4_is_never_in_a_blocked_range(bits in any::<u32>()) {
            let ip = Ipv4Addr::from(bits);
            let blocked = BLOCKED_V4.iter().any(|&(n, p, _)| Ipv4Net::new(n, p).unwrap().contains(&ip));
            prop_assert_eq!(builtin_verdict(IpAddr::V4(ip)).is_allowed(), !blocked);
            // Cross-check against the standard library's own classification.
            if ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_multicast() || ip.is_broadcast() || ip.is_documentation() || ip.is_unspecified() {
                prop_assert!(!builtin_verdict(IpAddr::V4(ip)).is_allowed());
            }
        }
    }
}
