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

/// Identifier that is only reported next to a word naming it (the pattern alone is too weak).
const fn named_id(
    id: &'static str,
    name: &'static str,
    min_digits: u8,
    context: &'static [&'static str],
    pattern: &'static str,
) -> Spec {
    Spec {
        base: None,
        context,
        ..pii(id, name, min_digits, pattern)
    }
}

fn email(raw: &[u8]) -> bool {
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
    if v::is_trivial_digits(&ds) {
        return false;
    }
    if raw.first() == Some(&b'+') && !(raw.get(1) == Some(&b'1') && ds.len() == 11) {
        return (8..=15).contains(&ds.len());
    }
    let nanp = match ds.len() {
        10 => &ds[..],
        11 if ds[0] == 1 => &ds[1..],
        _ => return false,
    };
    nanp[0] >= 2 && nanp[3] >= 2 && !(nanp[1] == 1 && nanp[2] == 1)
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
    suffix_ok && a != 0 && !address.is_loopback() && !address.is_broadcast() && !documentation
}

/// A MAC address, but not the all-zero one (no interface) or the broadcast address.
fn mac(raw: &[u8]) -> bool {
    let hex: Vec<u8> = raw.iter().copied().filter(u8::is_ascii_hexdigit).collect();
    !hex.iter().all(|&c| c == b'0') && !hex.iter().all(|&c| c.eq_ignore_ascii_case(&b'f'))
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

pub const SPECS: &[Spec] = &[
    Spec {
        trigger: Trigger::Prefixes(&["@"]),
        validate: Some(email),
        reach: 255,
        reach_back: 64,
        context: &["email", "e-mail", "mail", "contact"],
        ..pii(
            "email",
            "E-mail address",
            0,
            r"\b([A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24})\b",
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
        base: None,
        context: &[
            "itin",
            "taxpayer identification",
            "individual taxpayer",
            "tax id",
        ],
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
        context: &[
            "sin",
            "social insurance",
            "numéro d'assurance sociale",
            "nas",
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
        reach_back: 16,
        ..pii(
            "phone_number",
            "Telephone number",
            7,
            r"((?:\+1[ .\-]?)?(?:\(\d{3}\)[ .\-]?|\b\d{3}[ .\-])\d{3}[ .\-]\d{4}\b|\+[1-9]\d{0,2}[ .\-]?(?:\(?\d{1,4}\)?[ .\-]?){1,4}\d{2,4}\b)",
        )
    },
    Spec {
        validate: Some(ipv4),
        base: Some(Confidence::Medium),
        context: &[
            "ip", "address", "host", "server", "client", "remote", "src", "dst",
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
        base: Some(Confidence::Low),
        context: &["mac", "ethernet", "hardware address", "wifi"],
        reach_back: 20,
        ..pii(
            "mac_address",
            "MAC address",
            2,
            r"\b([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})\b",
        )
    },
    Spec {
        base: None,
        boosted: Confidence::Medium,
        context: &[
            "dob",
            "date of birth",
            "born",
            "birth date",
            "birthdate",
            "birthday",
            "d.o.b",
        ],
        ..pii(
            "date_of_birth",
            "Date of birth",
            6,
            r"\b(\d{1,2}[/.\-]\d{1,2}[/.\-](?:19|20)\d{2}|(?:19|20)\d{2}-\d{2}-\d{2})\b",
        )
    },
    named_id(
        "us_passport",
        "US passport number",
        8,
        &["passport"],
        r"\b([A-Z]\d{8}|\d{9})\b",
    ),
    named_id(
        "uk_passport",
        "UK passport number",
        9,
        &["uk passport", "british passport", "hm passport", "hmpo"],
        r"\b(\d{9})\b",
    ),
    named_id(
        "ca_passport",
        "Canadian passport number",
        6,
        &["canadian passport", "passeport canadien"],
        r"\b([A-Z]{2}\d{6})\b",
    ),
    named_id(
        "au_passport",
        "Australian passport number",
        7,
        &["australian passport"],
        r"\b([A-Z]{1,2}\d{7})\b",
    ),
    named_id(
        "in_passport",
        "Indian passport number",
        7,
        &["indian passport"],
        r"\b([A-Z]\d{7})\b",
    ),
    named_id(
        "de_passport",
        "German passport number",
        1,
        &["reisepass", "german passport"],
        r"\b([CFGHJK][0-9CFGHJKLMNPRTVWXYZ]{8})\b",
    ),
    Spec {
        boosted: Confidence::Medium,
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
        base: Some(Confidence::Low),
        context: &["aadhaar", "aadhar", "uidai", "uid"],
        ..pii(
            "in_aadhaar",
            "Indian Aadhaar number",
            12,
            r"\b([2-9]\d{3}[ \-]?\d{4}[ \-]?\d{4})\b",
        )
    },
    Spec {
        validate: Some(v::in_pan),
        base: Some(Confidence::Low),
        context: &["pan", "permanent account", "income tax"],
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
        ..pii(
            "sg_nric",
            "Singapore NRIC/FIN",
            7,
            r"\b([STFGM]\d{7}[A-Z])\b",
        )
    },
    Spec {
        validate: Some(v::es_dni),
        base: Some(Confidence::Low),
        context: &["dni", "nie", "nif", "documento nacional"],
        ..pii(
            "es_dni",
            "Spanish DNI/NIE",
            7,
            r"\b(\d{8}-?[A-Z]|[XYZ]-?\d{7}-?[A-Z])\b",
        )
    },
    Spec {
        validate: Some(it_fiscal_code),
        context: &["codice fiscale", "fiscal code", "tax code"],
        ..pii(
            "it_fiscal_code",
            "Italian fiscal code",
            2,
            r"\b([A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z])\b",
        )
    },
    Spec {
        validate: Some(v::fr_nir),
        context: &[
            "insee",
            "sécurité sociale",
            "securite sociale",
            "nir",
            "numéro de sécu",
            "social security",
        ],
        ..pii(
            "fr_insee",
            "French social security number (NIR)",
            12,
            r"\b([12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2})\b",
        )
    },
    named_id(
        "de_tax_id",
        "German tax identification number",
        11,
        &[
            "steuer",
            "steuerid",
            "steuer-id",
            "identifikationsnummer",
            "idnr",
            "tax id",
        ],
        r"\b(\d{2} ?\d{3} ?\d{3} ?\d{3})\b",
    ),
    Spec {
        validate: Some(v::nl_bsn),
        ..named_id(
            "nl_bsn",
            "Dutch citizen service number (BSN)",
            9,
            &["bsn", "burgerservicenummer", "sofinummer"],
            r"\b(\d{9}|\d{4}\.\d{2}\.\d{3})\b",
        )
    },
    Spec {
        validate: Some(v::be_nrn),
        ..named_id(
            "be_national_number",
            "Belgian national register number",
            11,
            &[
                "rijksregisternummer",
                "numéro national",
                "national number",
                "registre national",
            ],
            r"\b(\d{2}\.?\d{2}\.?\d{2}[\- ]?\d{3}\.?\d{2})\b",
        )
    },
    Spec {
        validate: Some(v::pl_pesel),
        ..named_id("pl_pesel", "Polish PESEL", 11, &["pesel"], r"\b(\d{11})\b")
    },
    Spec {
        validate: Some(v::se_personnummer),
        ..named_id(
            "se_personnummer",
            "Swedish personal identity number",
            10,
            &["personnummer", "personal identity number"],
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
        ],
        ..pii(
            "fi_hetu",
            "Finnish personal identity code (HETU)",
            9,
            r"\b(\d{6}[\-+A-FU-Y]\d{3}[0-9A-Y])\b",
        )
    },
    Spec {
        validate: Some(v::dk_cpr),
        ..named_id(
            "dk_cpr",
            "Danish CPR number",
            10,
            &["cpr", "personnummer", "cpr-nr"],
            r"\b(\d{6}-?\d{4})\b",
        )
    },
    Spec {
        validate: Some(v::no_fnr),
        ..named_id(
            "no_fodselsnummer",
            "Norwegian national identity number",
            11,
            &[
                "fødselsnummer",
                "fodselsnummer",
                "personnummer",
                "national identity number",
            ],
            r"\b(\d{6} ?\d{5})\b",
        )
    },
    Spec {
        validate: Some(v::br_cpf),
        bare_needs_context: true,
        context: &["cpf", "cadastro de pessoas"],
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
        context: &["cnpj"],
        ..pii(
            "br_cnpj",
            "Brazilian CNPJ",
            14,
            r"\b(\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}|\d{14})\b",
        )
    },
    Spec {
        context: &["curp"],
        ..pii(
            "mx_curp",
            "Mexican CURP",
            6,
            r"\b([A-Z][AEIOUX][A-Z]{2}\d{6}[HM][A-Z]{5}[A-Z0-9]\d)\b",
        )
    },
    named_id(
        "mx_rfc",
        "Mexican RFC",
        6,
        &["rfc", "registro federal"],
        r"\b([A-Z&]{3,4}\d{6}[A-Z0-9]{3})\b",
    ),
    Spec {
        validate: Some(v::cn_resident_id),
        context: &["resident identity", "id card", "身份证", "citizen id"],
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
        base: Some(Confidence::Low),
        context: &["rrn", "resident registration", "주민등록번호"],
        ..pii(
            "kr_rrn",
            "Korean resident registration number",
            13,
            r"\b(\d{6}-[1-8]\d{6}|\d{6}[1-8]\d{6})\b",
        )
    },
    Spec {
        validate: Some(v::jp_my_number),
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
        base: Some(Confidence::Low),
        context: &["pps", "ppsn", "personal public service"],
        ..pii(
            "ie_pps",
            "Irish PPS number",
            7,
            r"\b(\d{7}[A-W][ABHWTX]?)\b",
        )
    },
    Spec {
        validate: Some(v::ean13),
        context: &["ahv", "avs", "social security", "sozialversicherung"],
        ..pii(
            "ch_ahv",
            "Swiss social security number (AHV/AVS)",
            13,
            r"\b(756\.?\d{4}\.?\d{4}\.?\d{2})\b",
        )
    },
    Spec {
        validate: Some(v::au_tfn),
        ..named_id(
            "au_tfn",
            "Australian tax file number",
            8,
            &["tfn", "tax file number"],
            r"\b(\d{3} ?\d{3} ?\d{2,3})\b",
        )
    },
    named_id(
        "nz_ird",
        "New Zealand IRD number",
        8,
        &["ird", "inland revenue"],
        r"\b(\d{2,3}-?\d{3}-?\d{3})\b",
    ),
    Spec {
        base: Some(Confidence::Low),
        context: &["cnic", "nadra"],
        ..pii("pk_cnic", "Pakistani CNIC", 13, r"\b(\d{5}-\d{7}-\d)\b")
    },
    Spec {
        validate: Some(cl_rut),
        context: &["rut", "rol único tributario", "run"],
        ..pii(
            "cl_rut",
            "Chilean RUT",
            7,
            r"\b(\d{1,2}\.\d{3}\.\d{3}-[\dkK])\b",
        )
    },
    Spec {
        validate: Some(tr_kimlik),
        ..named_id(
            "tr_tc_kimlik",
            "Turkish identity number (T.C. Kimlik No)",
            11,
            &["kimlik", "tckn", "tc no", "t.c."],
            r"\b([1-9]\d{10})\b",
        )
    },
    Spec {
        validate: Some(il_id),
        ..named_id(
            "il_id_number",
            "Israeli identity number",
            9,
            &["teudat zehut", "israeli id", "zehut"],
            r"\b(\d{9})\b",
        )
    },
    Spec {
        validate: Some(v::vin),
        base: Some(Confidence::Low),
        context: &["vin", "vehicle", "chassis"],
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
