//! Personal data: contact details and national identifiers.

use super::{Spec, Trigger, BASE};
use crate::model::{Category, Confidence};
use crate::validators as v;

const fn pii(id: &'static str, name: &'static str, min_digits: u8, pattern: &'static str) -> Spec {
    Spec {
        id,
        name,
        category: Category::Pii,
        trigger: Trigger::Digits(min_digits),
        pattern,
        ..BASE
    }
}

/// Identifier whose pattern alone is too weak: low confidence alone, medium next to a word
/// naming it (high when a checksum also holds: those entries set `boosted`).
const fn named_id(
    id: &'static str,
    name: &'static str,
    min_digits: u8,
    context: &'static [&'static str],
    pattern: &'static str,
) -> Spec {
    Spec {
        base: Confidence::Low,
        boosted: Confidence::Medium,
        context,
        ..pii(id, name, min_digits, pattern)
    }
}

fn email(raw: &[u8]) -> bool {
    // The pattern's first branch takes `scheme://user:password@` whole, so that the password
    // and the host are never read as an address; that match lands here and is dropped.
    if memchr::memmem::find(raw, b"://").is_some() {
        return false;
    }
    let Some(at) = memchr::memrchr(b'@', raw) else {
        return false;
    };
    let (local, domain) = (&raw[..at], &raw[at + 1..]);
    let tld = domain.rsplit(|&b| b == b'.').next().unwrap_or_default();
    // `logo@2x.png` is a retina image name, not an address.
    const FILE_EXTENSIONS: &[&[u8]] = &[
        b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"js", b"css", b"ts", b"map",
    ];
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with(b".")
        && memchr::memmem::find(raw, b"..").is_none()
        && tld.len() >= 2
        && tld.iter().all(u8::is_ascii_alphabetic)
        && !FILE_EXTENSIONS.iter().any(|e| tld.eq_ignore_ascii_case(e))
}

/// North American numbers: area code and exchange start with 2-9 and the area code is
/// not an N11 service code (NANP numbering plan). International numbers: E.164 allows
/// at most 15 digits.
fn phone(raw: &[u8]) -> bool {
    let ds = v::digits(raw);
    if v::is_trivial_digits(&ds) || is_timestamp(raw, &ds) || is_number_or_date(raw) {
        return false;
    }
    if raw.first() == Some(&b'+') {
        return match country_code_length(&ds) {
            // North America and Russia/Kazakhstan: the code and ten digits.
            Some(1) if matches!(ds[0], 1 | 7) => ds.len() == 11 && (ds[0] == 7 || nanp(&ds[1..])),
            Some(_) => (8..=15).contains(&ds.len()),
            None => false,
        };
    }
    match ds.len() {
        10 => nanp(&ds),
        11 if ds[0] == 1 => nanp(&ds[1..]),
        _ => false,
    }
}

/// A North American number: area code and exchange do not start with 0 or 1, and the area
/// code is not an N11 service code.
fn nanp(ds: &[u8]) -> bool {
    ds.len() == 10 && ds[0] >= 2 && ds[3] >= 2 && !(ds[1] == 1 && ds[2] == 1)
}

/// The country calling codes in use (ITU-T E.164), as libphonenumber 9.0 lists them. No code
/// is the beginning of another, so the first one that matches is the one.
const COUNTRY_CODES: &[u16] = &[
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211,
    212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253,
    254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298,
    299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377,
    378, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505, 506,
    507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675, 676,
    677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 800, 808, 850, 852,
    853, 855, 856, 870, 878, 880, 881, 882, 883, 886, 888, 960, 961, 962, 963, 964, 965, 966, 967,
    968, 970, 971, 972, 973, 974, 975, 976, 977, 979, 992, 993, 994, 995, 996, 998,
];

/// Digits of the country calling code `ds` starts with, if it starts with one in use.
fn country_code_length(ds: &[u8]) -> Option<usize> {
    let mut code = 0u16;
    for (i, &d) in ds.iter().take(3).enumerate() {
        code = code * 10 + u16::from(d);
        if COUNTRY_CODES.contains(&code) {
            return Some(i + 1);
        }
    }
    None
}

/// Shapes a signed number takes that no phone number has: a decimal (`+1441497364.649`), a
/// date with a signed year (`+10000-01-01`, ISO 8601's expanded years), a latitude and
/// longitude (`+4339-07923`), or dotted groups of one digit (`+14 20.8.2.2.11`, a section
/// number).
fn is_number_or_date(raw: &[u8]) -> bool {
    let groups: Vec<&[u8]> = raw
        .split(|b| !b.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    let separators: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_digit() && *b != b'+')
        .collect();
    let decimal = separators == [b'.'];
    let date = separators == [b'-', b'-']
        && groups.len() == 3
        && groups[0].len() >= 4
        && groups[1].len() <= 2
        && groups[2].len() <= 2;
    // ISO 6709 coordinates, as in tzdata's zone.tab: ±DDMM±DDDMM or ±DDMMSS±DDDMMSS.
    let coordinates = separators == [b'-']
        && groups.len() == 2
        && matches!((groups[0].len(), groups[1].len()), (4, 5) | (6, 7));
    let dotted_single_digits = separators.contains(&b'.')
        && raw
            .split(|&b| b == b'.')
            .skip(1)
            .any(|g| g.iter().filter(|b| b.is_ascii_digit()).count() == 1);
    decimal || date || coordinates || dotted_single_digits
}

/// Three groups of three digits, each at most 255: an RGB colour (`255 250 250` in X11's
/// rgb.txt) far more often than a SIN, which without a keyword is then low confidence.
fn reads_as_a_colour(raw: &[u8]) -> bool {
    let groups: Vec<&[u8]> = raw.split(|&b| b == b' ').collect();
    groups.len() == 3
        && groups
            .iter()
            .all(|g| g.len() == 3 && v::is_decimal_octet(g))
}

/// A build or log timestamp written as one run of digits (`20240315123045`,
/// `+202403151230`): a year 1970-2099, a month, a day, an hour and a minute (and second).
/// Real numbers that happen to read as one are rare; a phone number written in groups is
/// never taken for one.
fn is_timestamp(raw: &[u8], ds: &[u8]) -> bool {
    let unseparated = raw
        .iter()
        .skip_while(|&&b| b == b'+')
        .all(u8::is_ascii_digit);
    if !unseparated || !(ds.len() == 12 || ds.len() == 14) {
        return false;
    }
    let n = |at: usize| u32::from(ds[at]) * 10 + u32::from(ds[at + 1]);
    let year = n(0) * 100 + n(2);
    (1970..=2099).contains(&year)
        && (1..=12).contains(&n(4))
        && (1..=31).contains(&n(6))
        && n(8) < 24
        && n(10) < 60
        && (ds.len() == 12 || n(12) < 60)
}

/// An IPv4 address, with a port (`8.8.4.4:53`) or a prefix length (`192.168.1.0/24`) when
/// written with one. Addresses that identify nobody are not findings: "this network"
/// (0.x.x.x), loopback (127/8), the broadcast address, and the documentation ranges of RFC 5737
/// (192.0.2/24, 198.51.100/24, 203.0.113/24), which examples and manuals are full of.
fn ipv4(raw: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(raw) else {
        return false;
    };
    let (address, suffix) = match text.find([':', '/']) {
        Some(at) => (&text[..at], Some((text.as_bytes()[at], &text[at + 1..]))),
        None => (text, None),
    };
    let Ok(address) = address.parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let suffix_ok = match suffix {
        None => true,
        Some((b':', port)) => port.parse::<u16>().is_ok_and(|p| p > 0),
        Some((_, prefix)) => prefix.parse::<u8>().is_ok_and(|p| p <= 32),
    };
    let [a, b, c, _] = address.octets();
    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
    // A subnet mask (`255.255.255.0`): ones then zeros, naming no host.
    let bits = u32::from(address);
    let netmask = a == 255 && (!bits).wrapping_add(1) & !bits == 0;
    suffix_ok
        && a != 0
        && !address.is_loopback()
        && !address.is_broadcast()
        && !documentation
        && !netmask
}

/// A dotted quad that reads as a version or section number (`Git 1.8.5.6`, `4.2.1.3`): a
/// one-digit first part, the others under 100, no port or prefix. Real addresses of that
/// shape exist (`8.8.4.4`, `1.1.1.1`), so it stays a low-confidence finding, and a keyword
/// (`dns 8.8.4.4`, `server 4.2.2.2`) makes it a full one.
fn looks_like_a_version(raw: &[u8]) -> bool {
    let mut parts = raw.split(|&b| b == b'.');
    parts.next().is_some_and(|first| first.len() == 1)
        && parts.all(|p| p.len() <= 2 && p.iter().all(u8::is_ascii_digit))
}

/// A MAC address, but not the all-zero one (no interface) or the broadcast address.
/// One device's address: not all zeros, and not a group address. The lowest bit of the first
/// octet (I/G) set means multicast or broadcast, which name no single device (and documentation
/// examples such as `01:02:03:0a:0b:0c` are often written that way).
fn mac(raw: &[u8]) -> bool {
    let hex: Vec<u8> = raw.iter().copied().filter(u8::is_ascii_hexdigit).collect();
    let individual = hex
        .get(1)
        .and_then(|&c| char::from(c).to_digit(16))
        .is_some_and(|low_nibble| low_nibble & 1 == 0);
    individual && !hex.iter().all(|&c| c == b'0') && !is_typed_in_sequence(&hex)
}

/// Hexadecimal digits typed in order, the addresses manuals use as examples:
/// `00:11:22:33:44:55` (each octet a repeated digit, one up from the last), `12:34:56:78:9a:bc`
/// or `12:34:56:78:90:ab` (one digit up each time, `0` after `9` as on a keyboard).
fn is_typed_in_sequence(hex: &[u8]) -> bool {
    let value = |c: u8| char::from(c).to_digit(16).unwrap_or(99);
    let nibbles: Vec<u32> = hex.iter().map(|&c| value(c.to_ascii_lowercase())).collect();
    let next = |a: u32, b: u32| b == (a + 1) % 16 || (a == 9 && b == 0) || (a == 0 && b == 10);
    let one_up = nibbles.windows(2).all(|w| next(w[0], w[1]));
    let doubled_one_up = nibbles
        .chunks(2)
        .all(|octet| octet.len() == 2 && octet[0] == octet[1])
        && nibbles
            .chunks(2)
            .collect::<Vec<_>>()
            .windows(2)
            .all(|w| next(w[0][0], w[1][0]));
    one_up || doubled_one_up
}

/// Chilean RUT: mod 11 with weights 2..7 from the right; 10 is written K.
fn cl_rut(raw: &[u8]) -> bool {
    let s = v::alnum_upper(raw);
    let Some((&dv, body)) = s.split_last() else {
        return false;
    };
    if body.is_empty() || !body.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| u32::from(c - b'0') * (2 + (i as u32 % 6)))
        .sum();
    let expected = match 11 - sum % 11 {
        11 => b'0',
        10 => b'K',
        d => b'0' + d as u8,
    };
    dv == expected
}

/// Turkish T.C. Kimlik No: two check digits from the odd/even sums.
fn tr_kimlik(raw: &[u8]) -> bool {
    let d: Vec<u32> = v::digits(raw).into_iter().map(u32::from).collect();
    if d.len() != 11 || d[0] == 0 {
        return false;
    }
    let odd = d[0] + d[2] + d[4] + d[6] + d[8];
    let even = d[1] + d[3] + d[5] + d[7];
    let d10 = (odd * 7 + 10 * 10 - even) % 10; // +100 keeps the subtraction non-negative
    let d11 = d[..10].iter().sum::<u32>() % 10;
    d10 == d[9] && d11 == d[10]
}

/// Israeli Teudat Zehut: Luhn-like with weights 1,2 and digit sums.
fn il_id(raw: &[u8]) -> bool {
    let ds = v::digits(raw);
    ds.len() == 9 && !v::is_trivial_digits(&ds) && v::luhn(&ds)
}

/// Italian codice fiscale: the 16th character is computed from the first 15 with the
/// odd/even position tables of DM 23/12/1976.
fn it_fiscal_code(raw: &[u8]) -> bool {
    const ODD: [u32; 36] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3,
        6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
    ];
    let s = v::alnum_upper(raw);
    if s.len() != 16 {
        return false;
    }
    let index = |c: u8| -> Option<usize> {
        match c {
            b'0'..=b'9' => Some(usize::from(c - b'0')),
            b'A'..=b'Z' => Some(usize::from(c - b'A') + 10),
            _ => None,
        }
    };
    let mut sum = 0u32;
    for (i, &c) in s[..15].iter().enumerate() {
        let Some(idx) = index(c) else { return false };
        sum += if i % 2 == 0 {
            ODD[idx]
        } else if idx < 10 {
            idx as u32
        } else {
            (idx - 10) as u32
        };
    }
    s[15] == b'A' + (sum % 26) as u8
}

/// Labels that introduce a date of birth, in the languages of the catalog.
const DOB_LABELS: &[&str] = &[
    "date of birth",
    "birth date",
    "birthdate",
    "birthday",
    "d.o.b",
    "dob",
    "born",
    "geburtsdatum",
    "geboren am",
    "date de naissance",
    "né le",
    "née le",
    "fecha de nacimiento",
    "data di nascita",
    "nato il",
    "nata il",
    "geboortedatum",
    "data de nascimento",
    "data urodzenia",
    "födelsedatum",
    "doğum tarihi",
    "생년월일",
    "生年月日",
    "出生日期",
];

/// A [`named_id`] with its examples.
const fn named_id_ex(
    spec: Spec,
    examples: &'static [&'static str],
    counter_examples: &'static [&'static str],
) -> Spec {
    Spec {
        examples,
        counter_examples,
        ..spec
    }
}

pub const SPECS: &[Spec] = &[
    Spec {
        trigger: Trigger::Prefixes(&["@"]),
        validate: Some(email),
        reach: 255,
        // Far enough back to see the scheme of a URL whose user name and password precede
        // the `@` (the first branch of the pattern).
        reach_back: 160,
        context: &["email", "e-mail", "mail", "contact"],
        examples: &[
            "mail jane.doe@example.org please",
            "Contact: ops-team+alerts@corp.example.co.uk",
        ],
        counter_examples: &[
            "https://admin:s3cret@db.example.internal/x",
            "postgres://svc_user:Pa55word@10.0.0.5:5432/app",
            "logo@2x.png",
            "a..b@example.org",
        ],
        ..pii(
            "email",
            "E-mail address",
            0,
            r"[A-Za-z][A-Za-z0-9+.\-]{0,15}://[^\s/?#@]{1,128}@|\b([A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24})\b",
        )
    },
    Spec {
        validate: Some(v::us_ssn),
        bare_needs_context: true,
        context: &[
            "ssn",
            "social security",
            "ss#",
            "ssn#",
            "social sec",
            "soc sec",
            "sozialversicherungsnummer us",
            "numero de seguro social",
            "número de seguro social",
        ],
        examples: &[
            "SSN: 482-39-1057",
            "Your SSN: 482391057.",
            "Employee 482-39-1057 started in May",
            "482391057",
        ],
        counter_examples: &[
            "SSN: 912-39-1057",
            "SSN: 482-00-1057",
            "SSN: 482-39-0000",
            "SSN: 078-05-1120",
            "SSN: 482-39-105",
            "ssn : 111-22-3333",
        ],
        ..pii(
            "us_ssn",
            "US Social Security number",
            9,
            r"\b(\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}|\d{9})\b",
        )
    },
    Spec {
        validate: Some(v::us_itin),
        // ITINs are written exactly like SSNs: without the word, "SSN: 9xx-..." is an
        // impossible SSN, not an ITIN.
        base: Confidence::Low,
        context: &[
            "itin",
            "taxpayer identification",
            "individual taxpayer",
            "tax id",
        ],
        examples: &["ITIN: 943-82-5561", "943-82-5561"],
        counter_examples: &["ITIN: 943-93-5561", "ITIN: 843-82-5561"],
        ..pii(
            "us_itin",
            "US individual taxpayer identification number (ITIN)",
            9,
            r"\b(9\d{2}-\d{2}-\d{4}|9\d{2} \d{2} \d{4}|9\d{8})\b",
        )
    },
    Spec {
        validate: Some(v::ca_sin),
        bare_needs_context: true,
        demote: Some(reads_as_a_colour),
        // Not the bare word `sin`: it is the sine function in every programming language,
        // and a large integer next to `Math.sin(` is no insurance number.
        context: &[
            "social insurance",
            "sin number",
            "sin no",
            "sin#",
            "sin #",
            "numéro d'assurance sociale",
            "numero d'assurance sociale",
            "assurance sociale",
        ],
        examples: &[
            "SIN number: 271 649 386",
            "social insurance number 271649386",
            "271 649 386",
        ],
        counter_examples: &[
            "SIN number: 271 649 387",
            "SIN number: 046 454 286",
            // A negative number first (a PostScript font's bounding box, in gdb's refcard).
            "/FontBBox {-5 -232 545 699 }readonly def",
        ],
        ..pii(
            "ca_sin",
            "Canadian social insurance number (SIN)",
            9,
            r"\b(\d{3}-\d{3}-\d{3}|\d{3} \d{3} \d{3}|\d{9})\b",
        )
    },
    Spec {
        validate: Some(v::uk_nino),
        context: &[
            "national insurance",
            "nino",
            "ni number",
            "ni no",
            "nat ins",
        ],
        examples: &["NI number: JT 48 72 19 C", "JT487219C"],
        counter_examples: &["NI number: GB 48 72 19 C", "NI number: JT 48 72 19 E"],
        ..pii(
            "uk_nino",
            "UK National Insurance number",
            6,
            r"\b([A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D])\b",
        )
    },
    Spec {
        validate: Some(phone),
        context: &[
            "phone",
            "tel",
            "telephone",
            "mobile",
            "cell",
            "call",
            "fax",
            "contact",
        ],
        // `+` or `(` before the first digit.
        reach_back: 8,
        examples: &[
            "phone: (415) 555-2671",
            "call +49 30 901820",
            "+1 415 555 2671",
            "+44 20 7946 0018",
            "+7 495 123-45-67",
        ],
        counter_examples: &[
            "build +20240315123045",
            "build 2024.03.15.1230",
            "ts=20240315123045",
            "phone: (115) 555-2671",
            // From other projects' tests and docs (chrono, time, arrow, the DOCSIS spec):
            // signed decimals, dates with a signed five-digit year, a +1 number one digit
            // short, a country code nobody has (+214), a section number.
            r#""+1441497364.649","#,
            r#"Some("+123.234000"),"#,
            r#"let input = "+10000-01-01";"#,
            r#"parse("+5881580-07-12")"#,
            "max = +2147483647",
            r#""+1441497364", // valid"#,
            "see +14 20.8.2.2.11",
            // tzdata's zone.tab: a country, its zone's coordinates (ISO 6709), the zone.
            "CA\t+4339-07923\tAmerica/Toronto",
            "US\t+433649-1161209\tAmerica/Boise",
        ],
        ..pii(
            "phone_number",
            "Telephone number",
            7,
            r"((?:\+1[ .\-]?)?(?:\(\d{3}\)[ .\-]?|\b\d{3}[ .\-])\d{3}[ .\-]\d{4}\b|\+[1-9]\d{0,2}[ .\-]?(?:\(?\d{1,4}\)?[ .\-]?){1,4}\d{2,4}\b)",
        )
    },
    Spec {
        validate: Some(ipv4),
        demote: Some(looks_like_a_version),
        base: Confidence::Medium,
        context: &[
            "ip",
            "address",
            "host",
            "server",
            "client",
            "remote",
            "src",
            "dst",
            "dns",
            "resolver",
            "gateway",
            "nameserver",
            "route",
            "subnet",
        ],
        examples: &["server 10.20.30.40 is down", "allow 172.16.0.0/12"],
        counter_examples: &[
            "127.0.0.1",
            "server 192.0.2.10",
            "10.20.30.400",
            "netmask 255.255.255.0",
            "mask = 255.255.240.0",
        ],
        ..pii(
            "ip_address",
            "IPv4 address",
            4,
            r"\b((?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?::\d{1,5}|/\d{1,2})?)\b",
        )
    },
    Spec {
        validate: Some(mac),
        base: Confidence::Low,
        context: &["mac", "ethernet", "hardware address", "wifi"],
        reach_back: 20,
        examples: &["MAC 3c:22:fb:12:9a:01"],
        counter_examples: &[
            "MAC 00:00:00:00:00:00",
            "MAC 3c:22:fb:12:9a",
            "mac: '01:02:03:0a:0b:0c'",
            "MAC ff:ff:ff:ff:ff:ff",
            // Examples in iproute2's and systemd's manuals.
            "vdpa dev add name foo mgmtdev vdpa_sim_net mac 00:11:22:33:44:55",
            r#"MACAddress="12:34:56:78:90:ab""#,
            "MAC 12:34:56:78:9a:bc",
            "mDNS MAC 01:00:5e:00:00:fb",
        ],
        ..pii(
            "mac_address",
            "MAC address",
            2,
            r"\b([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})\b",
        )
    },
    Spec {
        // A date is a date of birth only when the text says so: every changelog, log line and
        // invoice is full of dates. So the label triggers the detector and the date must
        // follow it closely: after a few words, or after a key-value separator (`": "` in
        // JSON, `","` in CSV); other text with a double quote in it ends the label's reach.
        trigger: Trigger::Keywords(DOB_LABELS),
        base: Confidence::Medium,
        boosted: Confidence::Medium,
        context: DOB_LABELS,
        reach: 64,
        reach_back: 8,
        examples: &[
            "Date of birth: 12/03/1985",
            "DOB 1985-03-12",
            "born on 12.03.1985 in Lyon",
            r#"{"name": "Ada", "birthday": "1985-03-12"}"#,
            r#""Birthday","12/03/1985""#,
            "Geburtsdatum: 12.03.1985",
            "Fecha de nacimiento 12/03/1985",
            "生年月日 1985-03-12",
        ],
        counter_examples: &[
            "## [2.4.0] - 2024-03-15",
            "Released 15/03/2024, build 2024-03-15",
            "Date of birth: 12/03/85",
            // A release's name, quoted, then its date (lm-sensors' changelog): the label is
            // inside a quotation the date is not part of.
            r#"3.3.5 "Happy Birthday Beddy" (2014-01-22)"#,
        ],
        ..pii(
            "date_of_birth",
            "Date of birth",
            0,
            r#"(?i:date of birth|birth ?date|d\.o\.b\.?|dob|born|birthday|geburtsdatum|geboren am|date de naissance|n(?:\xC3\xA9|e)e? le|fecha de nacimiento|data di nascita|nat[oa] il|geboortedatum|data de nascimento|data urodzenia|f\xC3\xB6delsedatum|do\xC4\x9Fum tarihi|\xEC\x83\x9D\xEB\x85\x84\xEC\x9B\x94\xEC\x9D\xBC|\xE7\x94\x9F\xE5\xB9\xB4\xE6\x9C\x88\xE6\x97\xA5|\xE5\x87\xBA\xE7\x94\x9F\xE6\x97\xA5\xE6\x9C\x9F)(?:"?[ \t]*[:=,;\t][ \t]*"?|[^0-9\n"]{0,24}?)\b(\d{1,2}[/.\-]\d{1,2}[/.\-](?:19|20)\d{2}|(?:19|20)\d{2}[/.\-]\d{2}[/.\-]\d{2})\b"#,
        )
    },
    Spec {
        // Listed before `us_passport`: on the same number with the same keyword distance,
        // the more specific detector wins the tie.
        examples: &["Passport held: 534829107 (UK passport)"],
        counter_examples: &["UK passport 53482910"],
        ..named_id(
            "uk_passport",
            "UK passport number",
            9,
            &["uk passport", "british passport", "hm passport", "hmpo"],
            r"\b(\d{9})\b",
        )
    },
    named_id_ex(
        named_id(
            "us_passport",
            "US passport number",
            8,
            &[
                "passport",
                "passport no",
                "passport #",
                "passport number",
                "passport num",
                "pass. no",
                "pass no",
                "travel document",
                "u.s. passport",
            ],
            r"\b([A-Z]\d{8}|\d{9})\b",
        ),
        &[
            "passport no. 483920175",
            "Passport #: 483920175",
            "passport number A48392017",
            "pass. no 483920175",
            "travel document 483920175",
            "passport num 483920175",
        ],
        &["passport no. 48392017", "passport no. AB4839201"],
    ),
    named_id_ex(
        named_id(
            "ca_passport",
            "Canadian passport number",
            6,
            &["canadian passport", "passeport canadien"],
            r"\b([A-Z]{2}\d{6})\b",
        ),
        &["Canadian passport GA482910", "passeport canadien GA482910"],
        &["Canadian passport GA48291"],
    ),
    named_id_ex(
        named_id(
            "au_passport",
            "Australian passport number",
            7,
            &["australian passport"],
            r"\b([A-Z]{1,2}\d{7})\b",
        ),
        &["Australian passport PA4829103"],
        &["Australian passport PA482910"],
    ),
    named_id_ex(
        named_id(
            "in_passport",
            "Indian passport number",
            7,
            &["indian passport", "पासपोर्ट"],
            r"\b([A-Z]\d{7})\b",
        ),
        &["Indian passport J4829103"],
        &["Indian passport J482910"],
    ),
    Spec {
        // Up to eight letters before a digit.
        reach_back: 9,
        ..named_id_ex(
            named_id(
                "de_passport",
                "German passport number",
                1,
                &[
                    "reisepass",
                    "reisepassnummer",
                    "passnummer",
                    "german passport",
                ],
                r"\b([CFGHJK][0-9CFGHJKLMNPRTVWXYZ]{8})\b",
            ),
            &["Reisepassnummer: C01X00T47", "Reisepass C4J7R2T91"],
            &["Reisepass C01X00T4", "Reisepass CAAAAAAAA"],
        )
    },
    Spec {
        examples: &["driver's license D4829103", "drivers license 48291037"],
        counter_examples: &["driver's license D48291", "driver's license 482910"],
        ..named_id(
            "us_drivers_license",
            "US driver's license number",
            7,
            &[
                "driver's license",
                "drivers license",
                "driver license",
                "driver's licence",
                "dl#",
                "dl number",
                "dl no",
            ],
            r"\b([A-Z]\d{7,12}|\d{7,9})\b",
        )
    },
    Spec {
        validate: Some(v::in_aadhaar),
        base: Confidence::Low,
        // Not `uid`: a user id in every database dump and config file.
        context: &[
            "aadhaar",
            "aadhar",
            "uidai",
            "आधार",
            "unique identification number",
        ],
        examples: &["Aadhaar 4918 3726 1509", "आधार संख्या 491837261509"],
        counter_examples: &["Aadhaar 4918 3726 1508", "Aadhaar 1918 3726 1509"],
        ..pii(
            "in_aadhaar",
            "Indian Aadhaar number",
            12,
            r"\b([2-9]\d{3}[ \-]?\d{4}[ \-]?\d{4})\b",
        )
    },
    Spec {
        validate: Some(v::in_pan),
        base: Confidence::Low,
        context: &["pan", "permanent account", "income tax"],
        examples: &["PAN: ABCPK4829F"],
        counter_examples: &["PAN: ABCQK4829F", "PAN: ABCPK482F"],
        ..pii(
            "in_pan",
            "Indian permanent account number (PAN)",
            4,
            r"\b([A-Z]{5}\d{4}[A-Z])\b",
        )
    },
    Spec {
        validate: Some(v::sg_nric),
        context: &["nric", "fin", "identity card"],
        examples: &["NRIC S8734512B"],
        counter_examples: &["NRIC S8734512C"],
        ..pii(
            "sg_nric",
            "Singapore NRIC/FIN",
            7,
            r"\b([STFGM]\d{7}[A-Z])\b",
        )
    },
    Spec {
        validate: Some(v::es_dni),
        base: Confidence::Low,
        context: &[
            "dni",
            "nie",
            "nif",
            "documento nacional",
            "número de identidad",
            "numero de identidad",
            "número de identificación de extranjero",
        ],
        examples: &[
            "DNI 48392716A",
            "documento nacional de identidad: 48392716-A",
        ],
        counter_examples: &["DNI 48392716B"],
        ..pii(
            "es_dni",
            "Spanish DNI/NIE",
            7,
            r"\b(\d{8}-?[A-Z]|[XYZ]-?\d{7}-?[A-Z])\b",
        )
    },
    Spec {
        validate: Some(it_fiscal_code),
        context: &[
            "codice fiscale",
            "fiscal code",
            "tax code",
            "cod. fiscale",
            "c.f.",
        ],
        examples: &["Codice fiscale: BNCGPP80A41H501I"],
        counter_examples: &["Codice fiscale: BNCGPP80A41H501J"],
        ..pii(
            "it_fiscal_code",
            "Italian fiscal code",
            2,
            r"\b([A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z])\b",
        )
    },
    Spec {
        validate: Some(v::fr_nir),
        // One check of 97: a bare 15-digit number passes one time in a hundred, and source
        // code is full of them (tables of powers, field constants in aws-lc's curve25519).
        bare_needs_context: true,
        context: &[
            "insee",
            "sécurité sociale",
            "securite sociale",
            "nir",
            "numéro de sécu",
            "social security",
            "carte vitale",
        ],
        examples: &["numéro de sécurité sociale 1 85 03 75 123 456 41"],
        counter_examples: &["numéro de sécurité sociale 1 85 03 75 123 456 42"],
        ..pii(
            "fr_insee",
            "French social security number (NIR)",
            12,
            r"\b([12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2})\b",
        )
    },
    Spec {
        validate: Some(v::de_tax_id),
        boosted: Confidence::High,
        examples: &[
            "Steuer-ID: 47291038560",
            "Steueridentifikationsnummer 47 291 038 560",
            "IdNr. 47291038560",
        ],
        counter_examples: &["Steuer-ID: 47291038561", "Steuer-ID: 07291038560"],
        ..named_id(
            "de_tax_id",
            "German tax identification number",
            11,
            &[
                "steuer-id",
                "steuerid",
                "steueridentifikationsnummer",
                "steuerliche identifikationsnummer",
                "identifikationsnummer",
                "idnr",
                "tax id",
            ],
            r"\b(\d{2} ?\d{3} ?\d{3} ?\d{3})\b",
        )
    },
    Spec {
        validate: Some(v::nl_bsn),
        boosted: Confidence::High,
        examples: &["BSN 237845192", "burgerservicenummer: 2378.45.192"],
        counter_examples: &["BSN 237845193"],
        ..named_id(
            "nl_bsn",
            "Dutch citizen service number (BSN)",
            9,
            &["bsn", "burgerservicenummer", "sofinummer", "sofi-nummer"],
            r"\b(\d{9}|\d{4}\.\d{2}\.\d{3})\b",
        )
    },
    Spec {
        validate: Some(v::be_nrn),
        boosted: Confidence::High,
        examples: &[
            "rijksregisternummer 85.07.30-033.28",
            "numéro national: 85073003328",
        ],
        counter_examples: &["rijksregisternummer 85.07.30-033.29"],
        ..named_id(
            "be_national_number",
            "Belgian national register number",
            11,
            &[
                "rijksregisternummer",
                "numéro national",
                "national number",
                "registre national",
                "insz",
                "numéro de registre national",
            ],
            r"\b(\d{2}\.?\d{2}\.?\d{2}[\- ]?\d{3}\.?\d{2})\b",
        )
    },
    Spec {
        validate: Some(v::pl_pesel),
        boosted: Confidence::High,
        examples: &["PESEL 85031212343", "numer PESEL: 85031212343"],
        counter_examples: &["PESEL 85031212344"],
        ..named_id("pl_pesel", "Polish PESEL", 11, &["pesel"], r"\b(\d{11})\b")
    },
    Spec {
        validate: Some(v::se_personnummer),
        boosted: Confidence::High,
        examples: &["personnummer 850312-1231", "Personnummer: 19850312-1231"],
        counter_examples: &["personnummer 850312-1232", "personnummer 851312-1231"],
        ..named_id(
            "se_personnummer",
            "Swedish personal identity number",
            10,
            &["personnummer", "personal identity number", "personnr"],
            r"\b((?:19|20)?\d{6}[\-+]\d{4}|(?:19|20)?\d{10})\b",
        )
    },
    Spec {
        validate: Some(v::fi_hetu),
        context: &[
            "hetu",
            "henkilötunnus",
            "personal identity code",
            "sosiaaliturvatunnus",
            "personbeteckning",
        ],
        examples: &["henkilötunnus 120385-1232", "Henkilötunnus: 120385-1232"],
        counter_examples: &["henkilötunnus 120385-1233", "henkilötunnus 321385-1232"],
        ..pii(
            "fi_hetu",
            "Finnish personal identity code (HETU)",
            9,
            r"\b(\d{6}[\-+A-FU-Y]\d{3}[0-9A-Y])\b",
        )
    },
    Spec {
        validate: Some(v::dk_cpr),
        boosted: Confidence::High,
        examples: &["CPR-nr. 120385-1234", "cpr-nummer 1203851234"],
        counter_examples: &["CPR-nr. 321385-1234", "CPR-nr. 121385-1234"],
        ..named_id(
            "dk_cpr",
            "Danish CPR number",
            10,
            &["cpr", "cpr-nr", "cpr-nummer", "personnummer"],
            r"\b(\d{6}-?\d{4})\b",
        )
    },
    Spec {
        validate: Some(v::no_fnr),
        boosted: Confidence::High,
        examples: &["fødselsnummer 12038510183", "Fødselsnummer: 120385 10183"],
        counter_examples: &["fødselsnummer 12038510184"],
        ..named_id(
            "no_fodselsnummer",
            "Norwegian national identity number",
            11,
            &[
                "fødselsnummer",
                "fodselsnummer",
                "personnummer",
                "national identity number",
                "d-nummer",
            ],
            r"\b(\d{6} ?\d{5})\b",
        )
    },
    Spec {
        validate: Some(v::br_cpf),
        bare_needs_context: true,
        context: &["cpf", "cadastro de pessoas", "cadastro de pessoa física"],
        examples: &["CPF 390.533.447-05", "CPF: 39053344705"],
        counter_examples: &["CPF 390.533.447-06", "CPF 111.111.111-11"],
        ..pii(
            "br_cpf",
            "Brazilian CPF",
            11,
            r"\b(\d{3}\.\d{3}\.\d{3}-\d{2}|\d{11})\b",
        )
    },
    Spec {
        validate: Some(v::br_cnpj),
        bare_needs_context: true,
        context: &["cnpj", "cadastro nacional da pessoa jurídica"],
        examples: &["CNPJ 45.372.891/0001-45"],
        counter_examples: &["CNPJ 45.372.891/0001-46"],
        ..pii(
            "br_cnpj",
            "Brazilian CNPJ",
            14,
            r"\b(\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}|\d{14})\b",
        )
    },
    Spec {
        // The layout (initials, birth date, sex, state, consonants) and the check digit
        // together are specific enough without the word.
        validate: Some(super::national::mx_curp),
        context: &[
            "curp",
            "clave única de registro de población",
            "clave unica de registro de poblacion",
        ],
        examples: &["CURP GOMA850312HDFRRN09"],
        counter_examples: &["CURP GOMA850312HDFRRN08", "CURP GOMA851312HDFRRN09"],
        ..pii(
            "mx_curp",
            "Mexican CURP",
            6,
            r"\b([A-Z][AEIOUX][A-Z]{2}\d{6}[HM][A-Z]{5}[A-Z0-9]\d)\b",
        )
    },
    named_id_ex(
        named_id(
            "mx_rfc",
            "Mexican RFC",
            6,
            &["rfc", "registro federal"],
            r"\b([A-Z&]{3,4}\d{6}[A-Z0-9]{3})\b",
        ),
        &["RFC GOMA850312K4A"],
        &["RFC GOMA85031K4A"],
    ),
    Spec {
        validate: Some(v::cn_resident_id),
        context: &[
            "resident identity",
            "id card",
            "身份证",
            "身份证号",
            "居民身份证",
            "citizen id",
        ],
        examples: &["身份证号 440304198503121235"],
        counter_examples: &[
            "身份证号 440304198503121236",
            // 2^58 in linux-raw-sys: the check character agrees, but 28 is no province and
            // 3761 no year of birth.
            "pub const HWCAP2_SME_F8F16: u64 = 288230376151711744;",
        ],
        ..pii(
            "cn_resident_id",
            "Chinese resident identity card number",
            17,
            r"\b(\d{17}[\dXx])\b",
        )
    },
    Spec {
        validate: Some(v::kr_rrn),
        bare_needs_context: true,
        base: Confidence::Low,
        context: &["rrn", "resident registration", "주민등록번호", "주민번호"],
        examples: &["주민등록번호 850312-1234565"],
        counter_examples: &["주민등록번호 850312-1234566", "주민등록번호 851312-1234565"],
        ..pii(
            "kr_rrn",
            "Korean resident registration number",
            13,
            r"\b(\d{6}-[1-8]\d{6}|\d{6}[1-8]\d{6})\b",
        )
    },
    Spec {
        validate: Some(v::jp_my_number),
        boosted: Confidence::High,
        examples: &["マイナンバー 4860 5912 3769", "個人番号: 486059123769"],
        counter_examples: &["マイナンバー 4860 5912 3768"],
        ..named_id(
            "jp_my_number",
            "Japanese My Number",
            12,
            &["my number", "mynumber", "個人番号", "マイナンバー"],
            r"\b(\d{4} ?\d{4} ?\d{4})\b",
        )
    },
    Spec {
        validate: Some(v::za_id),
        boosted: Confidence::High,
        examples: &["South African ID number 8503125123088"],
        counter_examples: &[
            "South African ID number 8503125123089",
            "South African ID number 8513125123088",
        ],
        ..named_id(
            "za_id_number",
            "South African ID number",
            13,
            &["identity number", "id number", "rsa id", "south african id"],
            r"\b(\d{13})\b",
        )
    },
    Spec {
        validate: Some(v::ie_pps),
        base: Confidence::Low,
        context: &[
            "pps",
            "ppsn",
            "personal public service",
            "uimhir phearsanta",
        ],
        examples: &["PPS number 8765432S", "PPSN: 8765432EA"],
        counter_examples: &["PPS number 8765432T"],
        ..pii(
            "ie_pps",
            "Irish PPS number",
            7,
            r"\b(\d{7}[A-W][ABHWTX]?)\b",
        )
    },
    Spec {
        validate: Some(v::ean13),
        context: &[
            "ahv",
            "avs",
            "social security",
            "sozialversicherung",
            "ahv-nummer",
            "numéro avs",
        ],
        examples: &["AHV-Nr. 756.1234.5678.97"],
        counter_examples: &["AHV-Nr. 756.1234.5678.98", "AHV-Nr. 757.1234.5678.96"],
        ..pii(
            "ch_ahv",
            "Swiss social security number (AHV/AVS)",
            13,
            r"\b(756\.?\d{4}\.?\d{4}\.?\d{2})\b",
        )
    },
    Spec {
        validate: Some(v::au_tfn),
        boosted: Confidence::High,
        examples: &[
            "TFN 463 829 164",
            "tax file number: 463829164",
            "463 829 164",
        ],
        counter_examples: &["TFN 463 829 165"],
        ..named_id(
            "au_tfn",
            "Australian tax file number",
            8,
            &["tfn", "tax file number"],
            r"\b(\d{3} ?\d{3} ?\d{2,3})\b",
        )
    },
    Spec {
        validate: Some(super::national::nz_ird),
        boosted: Confidence::High,
        examples: &["IRD number 49-091-850", "inland revenue number 136-048-171"],
        counter_examples: &["IRD number 49-091-851", "IRD number 9-091-850"],
        ..named_id(
            "nz_ird",
            "New Zealand IRD number",
            8,
            &["ird", "inland revenue", "ird number"],
            r"\b(\d{2,3}-?\d{3}-?\d{3})\b",
        )
    },
    Spec {
        base: Confidence::Low,
        boosted: Confidence::Medium,
        context: &[
            "cnic",
            "nadra",
            "computerized national identity",
            "شناختی کارڈ",
        ],
        examples: &["CNIC 35202-4829103-7"],
        counter_examples: &["CNIC 35202-482910-7"],
        ..pii("pk_cnic", "Pakistani CNIC", 13, r"\b(\d{5}-\d{7}-\d)\b")
    },
    Spec {
        validate: Some(cl_rut),
        context: &["rut", "rol único tributario", "run", "rol unico tributario"],
        examples: &["RUT 17.482.910-1"],
        counter_examples: &["RUT 17.482.910-2"],
        ..pii(
            "cl_rut",
            "Chilean RUT",
            7,
            r"\b(\d{1,2}\.\d{3}\.\d{3}-[\dkK])\b",
        )
    },
    Spec {
        validate: Some(tr_kimlik),
        boosted: Confidence::High,
        examples: &[
            "T.C. Kimlik No: 38491720510",
            "TC Kimlik Numarası 51273640974",
            "Kimlik No 38491720510",
        ],
        counter_examples: &["T.C. Kimlik No: 38491720511", "T.C. Kimlik No: 08491720510"],
        ..named_id(
            "tr_tc_kimlik",
            "Turkish identity number (T.C. Kimlik No)",
            11,
            &[
                "kimlik",
                "tckn",
                "tc no",
                "t.c.",
                "kimlik no",
                "kimlik numarası",
                "turkish identity number",
            ],
            r"\b([1-9]\d{10})\b",
        )
    },
    Spec {
        validate: Some(il_id),
        boosted: Confidence::High,
        examples: &["Teudat Zehut 039351234", "מספר זהות 039351234"],
        counter_examples: &["Teudat Zehut 039351235"],
        ..named_id(
            "il_id_number",
            "Israeli identity number",
            9,
            &[
                "teudat zehut",
                "israeli id",
                "zehut",
                "מספר זהות",
                "תעודת זהות",
            ],
            r"\b(\d{9})\b",
        )
    },
    Spec {
        validate: Some(v::vin),
        base: Confidence::Low,
        context: &["vin", "vehicle", "chassis"],
        // Any of its first sixteen characters can be a letter.
        reach_back: 17,
        examples: &["VIN 2HGFB2F59DH512345"],
        counter_examples: &["VIN 2HGFB2F58DH512345", "VIN 2HGFB2F59DH51234O"],
        ..pii(
            "us_vin",
            "Vehicle identification number (VIN)",
            2,
            r"\b([A-HJ-NPR-Z0-9]{17})\b",
        )
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_takes_a_port_or_a_prefix_and_skips_addresses_that_identify_nobody() {
        for valid in [
            "8.8.4.4",
            "8.8.4.4:53",
            "192.168.1.0/24",
            "10.0.0.1:8080",
            "172.16.0.0/12",
        ] {
            assert!(ipv4(valid.as_bytes()), "{valid}");
        }
        for invalid in [
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.9:443",
            "8.8.4.4:0",
            "8.8.4.4:70000",
            "10.0.0.0/33",
        ] {
            assert!(!ipv4(invalid.as_bytes()), "{invalid}");
        }
        for version in ["1.8.5.6", "4.2.1.3", "3.10.12.1"] {
            assert!(looks_like_a_version(version.as_bytes()), "{version}");
        }
        for address in [
            "10.0.0.1",
            "192.168.1.20",
            "8.8.4.4:53",
            "8.8.4.0/24",
            "4.2.2.200",
        ] {
            assert!(!looks_like_a_version(address.as_bytes()), "{address}");
        }
        // In text: a version number is low confidence; the same shape next to "dns" is not.
        let every_tier = crate::Engine::builder()
            .min_confidence(Confidence::Low)
            .build()
            .unwrap();
        let tier = |text: &str| {
            every_tier
                .scan_text(text.as_bytes())
                .into_iter()
                .find(|f| f.detector_id == "ip_address")
                .map(|f| f.confidence)
        };
        assert_eq!(tier("Upgrade to Git 1.8.5.6 first."), Some(Confidence::Low));
        assert_eq!(tier("dns 8.8.4.4 answered"), Some(Confidence::High));
        assert_eq!(
            tier("blocked 91.198.174.192 twice"),
            Some(Confidence::Medium)
        );
        assert!(mac(b"3c:22:fb:12:9a:01"));
        assert!(!mac(b"00:00:00:00:00:00"));
        assert!(!mac(b"FF:FF:FF:FF:FF:FF"));
    }

    #[test]
    fn email_rules() {
        assert!(email(b"jane.doe@example.org"));
        assert!(!email(b"logo@2x.png"));
        assert!(!email(b"a..b@example.org"));
    }

    #[test]
    fn nanp_phone_rules() {
        assert!(phone(b"(415) 555-2671"));
        assert!(phone(b"+1 415 555 2671"));
        assert!(phone(b"+44 20 7946 0958"));
        assert!(!phone(b"(115) 555-2671"), "area code cannot start with 1");
        assert!(!phone(b"(411) 555-2671"), "N11 is a service code");
        assert!(!phone(b"415-155-2671"), "exchange cannot start with 1");
    }

    use crate::catalog::tests::{confidence, every_tier};

    #[test]
    fn an_ssn_keyword_in_another_sentence_does_not_raise_a_part_number() {
        let ssn = every_tier("us_ssn");
        assert_eq!(
            confidence(
                &ssn,
                "Mail your SSN card to HR. Part 482391057 shipped today."
            ),
            Some(Confidence::Low)
        );
        assert_eq!(
            confidence(&ssn, "Your SSN: 482391057."),
            Some(Confidence::High)
        );
        assert_eq!(confidence(&ssn, "482391057"), Some(Confidence::Low));
    }

    #[test]
    fn large_integers_in_code_are_not_raised_by_code_words() {
        let sin = every_tier("ca_sin");
        assert_eq!(
            confidence(&sin, "double y = Math.sin(271649386);"),
            Some(Confidence::Low)
        );
        assert_eq!(
            confidence(&sin, "SIN number 271649386"),
            Some(Confidence::High)
        );
        let aadhaar = every_tier("in_aadhaar");
        assert_eq!(
            confidence(&aadhaar, "uid = 491837261509"),
            Some(Confidence::Low)
        );
        assert_eq!(
            confidence(&aadhaar, "Aadhaar: 491837261509"),
            Some(Confidence::High)
        );
    }

    #[test]
    fn build_timestamps_are_not_phone_numbers() {
        assert!(!phone(b"+20240315123045"));
        assert!(!phone(b"+202403151230"));
        assert!(
            phone(b"+201001234567"),
            "an Egyptian mobile: hour 45 is no time"
        );
        assert!(phone(b"+20 2024 031512"), "written in groups");
    }

    #[test]
    fn credentials_in_a_url_are_not_an_address() {
        let email = every_tier("email");
        assert_eq!(
            confidence(&email, "https://admin:s3cret@db.example.internal/x"),
            None
        );
        assert_eq!(
            confidence(&email, "url = ftp://backup:hunter22@files.example.com/dump"),
            None
        );
        assert!(confidence(&email, "mail jane.doe@example.org").is_some());
    }

    #[test]
    fn a_date_is_a_date_of_birth_only_after_its_label() {
        let dob = every_tier("date_of_birth");
        assert_eq!(confidence(&dob, "## [2.4.0] - 2024-03-15"), None);
        assert_eq!(
            confidence(&dob, "Date of birth: 12/03/1985"),
            Some(Confidence::Medium)
        );
    }

    #[test]
    fn a_french_nir_written_bare_needs_a_keyword() {
        let nir = every_tier("fr_insee");
        // An entry of a table of field constants in aws-lc's curve25519_tables.h.
        assert_eq!(
            confidence(&nir, "272268252444639, 1374166457774292,"),
            Some(Confidence::Low)
        );
        assert_eq!(
            confidence(&nir, "numéro de sécurité sociale 185037512345641"),
            Some(Confidence::High)
        );
        // Written in its groups, it is a NIR without a keyword too.
        assert_eq!(
            confidence(&nir, "1 85 03 75 123 456 41"),
            Some(Confidence::Medium)
        );
    }

    #[test]
    fn a_chinese_resident_id_has_a_province_and_a_birth_date() {
        assert!(v::cn_resident_id(b"440304198503121235"));
        // The same number with the date of birth made 1985-02-30: its check character
        // recomputed, so only the date is wrong.
        let mut wrong_date = *b"44030419850230123X";
        wrong_date[17] = v::cn_resident_check_character(&wrong_date[..17]);
        assert!(!v::cn_resident_id(&wrong_date));
    }

    #[test]
    fn an_object_identifier_is_not_an_address() {
        let ip = every_tier("ip_address");
        // X.500 attribute types, as windows-sys and const-oid declare them.
        for line in [
            r#"pub const szOID_ORGANIZATIONAL_UNIT_NAME: PCSTR = s!("2.5.4.11");"#,
            r#"pub const POSTAL_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.16");"#,
            "oid 2.5.4.3 (commonName), host address",
        ] {
            assert_eq!(confidence(&ip, line), Some(Confidence::Low), "{line}");
        }
        // `void` is not `oid`, nor is `VOID`.
        for line in [
            r#"void connect() { server = "10.20.30.40"; }"#,
            r#"VOID Connect() { server = "10.20.30.40"; }"#,
        ] {
            assert_eq!(confidence(&ip, line), Some(Confidence::High), "{line}");
        }
    }

    #[test]
    fn three_bytes_read_as_a_colour_before_a_sin() {
        let sin = every_tier("ca_sin");
        // X11's rgb.txt: one colour in ten passes the Luhn check.
        assert_eq!(
            confidence(&sin, "255 250 250\t\tsnow"),
            Some(Confidence::Low)
        );
        assert!(confidence(&sin, "SIN number: 255 250 250") > Some(Confidence::Low));
        // A group above 255 is no colour.
        assert_eq!(confidence(&sin, "271 649 386"), Some(Confidence::Medium));
    }

    #[test]
    fn chilean_rut() {
        assert!(cl_rut(b"12.345.678-5"));
        assert!(!cl_rut(b"12.345.678-4"));
    }

    #[test]
    fn turkish_kimlik() {
        assert!(tr_kimlik(b"10000000146"));
        assert!(!tr_kimlik(b"10000000147"));
    }

    #[test]
    fn italian_fiscal_code() {
        assert!(it_fiscal_code(b"RSSMRA85T10A562S"));
        assert!(!it_fiscal_code(b"RSSMRA85T10A562T"));
    }
}
