//! Network addresses beyond IPv4 and MAC (which live with the other contact details).

use super::{Spec, Trigger, BASE};
use crate::model::{Category, Confidence};

/// An IPv6 address in any of its textual forms (RFC 4291 section 2.2: full, with `::`
/// compression, with an embedded IPv4 address; RFC 4007 zone ids such as `%eth0`), parsed
/// by the standard library rather than trusted to the pattern. Addresses that identify
/// nobody are not findings, as for IPv4: unspecified (`::`), loopback (`::1`) and the
/// documentation prefix 2001:db8::/32 (RFC 3849) that manuals use. Two short groups
/// (`a::b`) read as code more often than as an address.
fn ipv6(raw: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(raw) else {
        return false;
    };
    let address = text.split('%').next().unwrap_or_default();
    let Ok(parsed) = address.parse::<std::net::Ipv6Addr>() else {
        return false;
    };
    let groups = address.split(':').filter(|g| !g.is_empty()).count();
    let longest_group = address.split(':').map(str::len).max().unwrap_or(0);
    let documentation = parsed.segments()[..2] == [0x2001, 0x0db8];
    !parsed.is_unspecified()
        && !parsed.is_loopback()
        && !documentation
        && (groups >= 3 || longest_group >= 3)
}

pub const SPECS: &[Spec] = &[Spec {
    id: "ipv6_address",
    name: "IPv6 address",
    category: Category::Pii,
    trigger: Trigger::HexColons,
    // The byte before the address is consumed (no look-behind): not part of a word, a
    // longer address or a dotted name.
    pattern: r"(?:^|[^0-9A-Za-z:._])((?:[0-9A-Fa-f]{1,4}:|:)(?::|[0-9A-Fa-f]{1,4}:){0,7}(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}|[0-9A-Fa-f]{1,4}|:)?(?:%[0-9A-Za-z_.\-]{1,15})?)(?:[^0-9A-Za-z:.]|\.(?:[^0-9]|$)|$)",
    validate: Some(ipv6),
    context: &[
        "ipv6",
        "ip address",
        "address",
        "host",
        "server",
        "client",
        "remote",
    ],
    base: Confidence::Medium,
    boosted: Confidence::High,
    reach: 48,
    reach_back: 48,
    examples: &[
        "Google Public DNS answers on 2001:4860:4860::8888 and 2001:4860:4860::8844.",
        "full form 2a00:1450:4001:081c:0000:0000:0000:200e in the log",
        "client fe80::1ff:fe23:4567:890a%eth2 connected",
        "mapped ::ffff:8.8.4.4 from the dual-stack socket",
        "listen [2606:4700:4700::1111]:853",
        "peer=2620:fe::fe,",
    ],
    counter_examples: &[
        "loopback ::1 and unspecified :: bind",
        "the manual's 2001:db8::1 and 2001:0db8:85a3::8a2e:0370:7334",
        "std::vector<int> and a::b in code",
        "at 12:30:45 on 00:1a:2b:3c:4d:5e",
        "ratio 1:2:3 and 2001:4860:zz::1",
    ],
    ..BASE
}];
