//! Checksum and structure rules behind the detectors. Each validator receives the raw
//! matched bytes (separators included) and says whether the value can be real.
//!
//! Every function is total: no indexing that can panic, no overflowing arithmetic.

/// The ASCII digits of `s` as numbers, separators dropped.
pub fn digits(s: &[u8]) -> Vec<u8> {
    s.iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect()
}

/// Alphanumerics of `s`, upper-cased, separators dropped.
pub fn alnum_upper(s: &[u8]) -> Vec<u8> {
    s.iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_uppercase())
        .collect()
}

/// Luhn (ISO/IEC 7812-1 annex B) over a digit sequence.
pub fn luhn(ds: &[u8]) -> bool {
    if ds.len() < 2 {
        return false;
    }
    luhn_values(ds.iter().map(|&d| u32::from(d)))
}

/// The Luhn sum over values given left to right (digits, or letters' values in alphanumeric
/// schemes): every second value from the right doubled, minus 9 above 9; a multiple of 10.
pub fn luhn_values(values: impl DoubleEndedIterator<Item = u32>) -> bool {
    let sum: u32 = values
        .rev()
        .enumerate()
        .map(|(i, v)| match (i % 2 == 1, v * 2) {
            (true, doubled) if doubled > 9 => doubled - 9,
            (true, doubled) => doubled,
            (false, _) => v,
        })
        .sum();
    sum % 10 == 0
}

/// All digits the same, or a run like 123456789: typical test fillers, never issued.
pub fn is_trivial_digits(ds: &[u8]) -> bool {
    if ds.is_empty() {
        return true;
    }
    let first = ds[0];
    if ds.iter().all(|&d| d == first) {
        return true;
    }
    let ascending = ds.windows(2).all(|w| (w[0] + 1) % 10 == w[1]);
    let descending = ds.windows(2).all(|w| (w[1] + 1) % 10 == w[0]);
    ascending || descending
}

fn number(ds: &[u8]) -> u64 {
    ds.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d))
    })
}

/// Payment card: Luhn plus an issuer range that is in use today (ISO/IEC 7812 IINs as
/// published by the networks): Visa 4; Mastercard 51-55 and the 2-series 2221-2720
/// (in use since 2017); Amex 34/37; Discover 6011, 622126-622925, 644-649, 65;
/// JCB 3528-3589; Diners 300-305, 36, 38-39; UnionPay 62; Maestro 50, 56-58, 6304, 67.
pub fn credit_card(raw: &[u8]) -> bool {
    let ds = digits(raw);
    let len = ds.len();
    if !(13..=19).contains(&len) || !luhn(&ds) || is_trivial_digits(&ds) {
        return false;
    }
    let p = |n: usize| number(&ds[..n.min(len)]);
    match ds[0] {
        4 => matches!(len, 13 | 16 | 19),
        2 => (2221..=2720).contains(&p(4)) && len == 16,
        5 => {
            let p2 = p(2);
            ((51..=55).contains(&p2) && len == 16) || (matches!(p2, 50 | 56 | 57 | 58) && len >= 12)
        }
        3 => {
            let p2 = p(2);
            ((p2 == 34 || p2 == 37) && len == 15)
                || ((3528..=3589).contains(&p(4)) && (16..=19).contains(&len))
                || (((300..=305).contains(&p(3)) || p2 == 36 || p2 == 38 || p2 == 39)
                    && (14..=19).contains(&len))
        }
        6 => {
            let ok_range = p(4) == 6011
                || (622126..=622925).contains(&p(6))
                || (644..=649).contains(&p(3))
                || p(2) == 65
                || p(2) == 62
                || p(4) == 6304
                || p(2) == 67;
            ok_range && (16..=19).contains(&len)
        }
        _ => false,
    }
}

/// US Social Security Number. SSA rules, including the 2011 randomization: area 000,
/// 666 and 900-999 are never issued; group 00 and serial 0000 are invalid. The numbers
/// SSA and advertisers have published as examples (078-05-1120, 219-09-9999) are void.
pub fn us_ssn(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 9 || is_trivial_digits(&ds) {
        return false;
    }
    let area = number(&ds[0..3]);
    let group = number(&ds[3..5]);
    let serial = number(&ds[5..9]);
    let whole = number(&ds);
    // 111-22-3333 and its kind, every group one repeated digit: the sample number of forms
    // and documentation, not a person's.
    let uniform = |g: &[u8]| g.iter().all(|&d| d == g[0]);
    let sample = uniform(&ds[0..3]) && uniform(&ds[3..5]) && uniform(&ds[5..9]);
    !sample
        && area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && whole != 78_051_120
        && whole != 219_099_999
}

/// US ITIN (IRS): 9 digits starting with 9, middle group 50-65, 70-88, 90-92 or 94-99.
pub fn us_itin(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 9 || ds[0] != 9 {
        return false;
    }
    let g = number(&ds[3..5]);
    (50..=65).contains(&g)
        || (70..=88).contains(&g)
        || (90..=92).contains(&g)
        || (94..=99).contains(&g)
}

/// ABA routing number: weights 3-7-1 summed must be a multiple of 10, and the first two
/// digits must be a Federal Reserve district prefix (00-12, 21-32, 61-72, 80).
pub fn aba_routing(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 9 || is_trivial_digits(&ds) {
        return false;
    }
    let prefix = number(&ds[0..2]);
    let prefix_ok =
        prefix <= 12 || (21..=32).contains(&prefix) || (61..=72).contains(&prefix) || prefix == 80;
    let weights = [3u32, 7, 1, 3, 7, 1, 3, 7, 1];
    let sum: u32 = ds.iter().zip(weights).map(|(&d, w)| u32::from(d) * w).sum();
    prefix_ok && sum % 10 == 0
}

/// IBAN length per country (SWIFT IBAN registry).
pub fn iban_length(country: &[u8]) -> Option<usize> {
    const TABLE: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"LY", 25),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NL", 18),
        (b"NO", 15),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"SA", 24),
        (b"SC", 31),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
    ];
    TABLE
        .iter()
        .find(|(c, _)| c.as_slice() == country)
        .map(|(_, l)| *l)
}

/// ISO 7064 MOD 97-10 over an alphanumeric string (letters count as 10..35).
fn mod97(chars: impl Iterator<Item = u8>) -> Option<u32> {
    let mut rem = 0u32;
    for c in chars {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    Some(rem)
}

/// IBAN (ISO 13616): country length from the registry and MOD 97-10 == 1.
pub fn iban(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() < 15 || s.len() > 34 {
        return false;
    }
    match iban_length(&s[..2]) {
        Some(l) if l == s.len() => {}
        _ => return false,
    }
    let rearranged = s[4..].iter().chain(s[..4].iter()).copied();
    mod97(rearranged) == Some(1)
}

/// UK National Insurance number (HMRC NIM39110): first letter not D F I Q U V, second
/// not D F I O Q U V, prefixes BG GB KN NK NT TN ZZ never used, suffix A-D.
pub fn uk_nino(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() != 9 {
        return false;
    }
    let (a, b) = (s[0], s[1]);
    if b"DFIQUV".contains(&a) || b"DFIOQUV".contains(&b) {
        return false;
    }
    if [b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"]
        .iter()
        .any(|p| p.as_slice() == &s[..2])
    {
        return false;
    }
    s[2..8].iter().all(u8::is_ascii_digit) && b"ABCD".contains(&s[8])
}

/// Canadian SIN: Luhn over 9 digits; first digit 0 and 8 are not assigned.
pub fn ca_sin(raw: &[u8]) -> bool {
    let ds = digits(raw);
    ds.len() == 9 && ds[0] != 0 && ds[0] != 8 && !is_trivial_digits(&ds) && luhn(&ds)
}

/// UK NHS number: modulus 11 with weights 10..2; check digit 10 means invalid.
pub fn uk_nhs(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 10 || is_trivial_digits(&ds) {
        return false;
    }
    let sum: u32 = ds[..9]
        .iter()
        .enumerate()
        .map(|(i, &d)| u32::from(d) * (10 - i as u32))
        .sum();
    let check = 11 - (sum % 11);
    let check = if check == 11 { 0 } else { check };
    check != 10 && check == u32::from(ds[9])
}

/// NPI (CMS): Luhn over the constant prefix 80840 followed by the 10 digits.
pub fn us_npi(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 10 || !(ds[0] == 1 || ds[0] == 2) {
        return false;
    }
    let mut all = vec![8, 0, 8, 4, 0];
    all.extend_from_slice(&ds);
    luhn(&all)
}

/// DEA registration number: 2 letters + 7 digits; (d1+d3+d5) + 2*(d2+d4+d6) ends in d7.
pub fn us_dea(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() != 9 || !s[2..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u32> = s[2..].iter().map(|c| u32::from(c - b'0')).collect();
    let sum = d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5]);
    sum % 10 == d[6] && b"ABCDEFGHJKLMPRSTUX".contains(&s[0])
}

/// Medicare Beneficiary Identifier (CMS): 11 characters, positions fixed as
/// C A AN N A AN N A A N N where A excludes S L O I B Z.
pub fn us_mbi(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() != 11 {
        return false;
    }
    let alpha = |c: u8| c.is_ascii_uppercase() && !b"SLOIBZ".contains(&c);
    let num = |c: u8| c.is_ascii_digit();
    let an = |c: u8| alpha(c) || num(c);
    (b'1'..=b'9').contains(&s[0])
        && alpha(s[1])
        && an(s[2])
        && num(s[3])
        && alpha(s[4])
        && an(s[5])
        && num(s[6])
        && alpha(s[7])
        && alpha(s[8])
        && num(s[9])
        && num(s[10])
}

/// Australian Tax File Number: weights 1,4,3,7,5,8,6,9,10, sum divisible by 11.
pub fn au_tfn(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 9 || is_trivial_digits(&ds) {
        return false;
    }
    let w = [1u32, 4, 3, 7, 5, 8, 6, 9, 10];
    ds.iter()
        .zip(w)
        .map(|(&d, w)| u32::from(d) * w)
        .sum::<u32>()
        % 11
        == 0
}

/// Australian Business Number: subtract 1 from the first digit, weights
/// 10,1,3,5,7,9,11,13,15,17,19, sum divisible by 89.
pub fn au_abn(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 11 || ds[0] == 0 || is_trivial_digits(&ds) {
        return false;
    }
    let w = [10u32, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
    let sum: u32 = ds
        .iter()
        .enumerate()
        .map(|(i, &d)| (u32::from(d) - u32::from(i == 0)) * w[i])
        .sum();
    sum % 89 == 0
}

/// Australian Medicare card: first digit 2-6, check digit (weights 1,3,7,9,1,3,7,9) mod 10.
pub fn au_medicare(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if !(10..=11).contains(&ds.len()) || !(2..=6).contains(&ds[0]) {
        return false;
    }
    let w = [1u32, 3, 7, 9, 1, 3, 7, 9];
    let sum: u32 = ds[..8].iter().zip(w).map(|(&d, w)| u32::from(d) * w).sum();
    sum % 10 == u32::from(ds[8])
}

/// Verhoeff checksum (used by India's Aadhaar).
pub fn verhoeff(ds: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut c = 0usize;
    for (i, &d) in ds.iter().rev().enumerate() {
        let p = P[i % 8][usize::from(d % 10)];
        c = usize::from(D[c][usize::from(p)]);
    }
    c == 0
}

/// Aadhaar (UIDAI): 12 digits, first digit 2-9, Verhoeff.
pub fn in_aadhaar(raw: &[u8]) -> bool {
    let ds = digits(raw);
    ds.len() == 12 && ds[0] >= 2 && !is_trivial_digits(&ds) && verhoeff(&ds)
}

/// Indian PAN: 5 letters (4th = holder type) + 4 digits + letter.
pub fn in_pan(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    s.len() == 10 && b"ABCFGHLJPTK".contains(&s[3])
}

/// Singapore NRIC/FIN: prefix S T F G M, weights 2,7,6,5,4,3,2, offset by prefix.
pub fn sg_nric(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() != 9 || !s[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let w = [2u32, 7, 6, 5, 4, 3, 2];
    let mut sum: u32 = s[1..8]
        .iter()
        .zip(w)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    let table: &[u8] = match s[0] {
        b'S' => b"JZIHGFEDCBA",
        b'T' => {
            sum += 4;
            b"JZIHGFEDCBA"
        }
        b'F' => b"XWUTRQPNMLK",
        b'G' => {
            sum += 4;
            b"XWUTRQPNMLK"
        }
        b'M' => {
            sum += 3;
            b"KLJNPQRTUWX"
        }
        _ => return false,
    };
    table.get((sum % 11) as usize) == Some(&s[8])
}

/// Spanish DNI/NIE: number mod 23 indexes the control letter; NIE maps X/Y/Z to 0/1/2.
pub fn es_dni(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() != 9 {
        return false;
    }
    let lead = match s[0] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        c if c.is_ascii_digit() => u64::from(c - b'0'),
        _ => return false,
    };
    if !s[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = s[1..8]
        .iter()
        .fold(lead, |a, &c| a * 10 + u64::from(c - b'0'));
    b"TRWAGMYFPDXBNJZSQVHLCKE".get((n % 23) as usize) == Some(&s[8])
}

/// Brazilian CPF: two mod-11 check digits.
pub fn br_cpf(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 11 || is_trivial_digits(&ds) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = ds[..n]
            .iter()
            .enumerate()
            .map(|(i, &d)| u32::from(d) * (n as u32 + 1 - i as u32))
            .sum();
        let r = (sum * 10) % 11;
        if r == 10 {
            0
        } else {
            r
        }
    };
    check(9) == u32::from(ds[9]) && check(10) == u32::from(ds[10])
}

/// Brazilian CNPJ: two mod-11 check digits with weights 5..2,9..2 and 6..2,9..2.
pub fn br_cnpj(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 14 || is_trivial_digits(&ds) {
        return false;
    }
    let w1 = [5u32, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    let w2 = [6u32, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    let dv = |w: &[u32]| {
        let s: u32 = ds.iter().zip(w).map(|(&d, &w)| u32::from(d) * w).sum();
        let r = s % 11;
        if r < 2 {
            0
        } else {
            11 - r
        }
    };
    dv(&w1) == u32::from(ds[12]) && dv(&w2) == u32::from(ds[13])
}

/// ISO 7064 MOD 11-2 (China resident identity card, GB 11643-1999).
pub fn cn_resident_id(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() != 18 || !s[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = |from: usize, to: usize| {
        s[from..to]
            .iter()
            .fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'))
    };
    // GB 11643: the province-level division (GB/T 2260: 11-15 north, 21-23 north-east, 31-37
    // east, 41-46 south-central, 50-54 south-west, 61-65 north-west, 71 Taiwan, 81-83 Hong
    // Kong, Macau and Taiwan residents' permits; a foreigner's card is 9 then the province's
    // first digit), then the date of birth.
    let province = number(0, 2);
    let known_province = matches!(
        province,
        11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81..=83 | 91..=96
    );
    if !known_province || !is_calendar_date(number(6, 10), number(10, 12), number(12, 14)) {
        return false;
    }
    cn_resident_check_character(&s[..17]) == s[17]
}

/// The check character of a Chinese resident ID's 17 digits (ISO 7064 MOD 11-2).
pub fn cn_resident_check_character(digits: &[u8]) -> u8 {
    let w = [7u32, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = digits
        .iter()
        .zip(w)
        .map(|(&c, w)| u32::from(c.wrapping_sub(b'0')) * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize]
}

/// One to three decimal digits worth at most 255: an IPv4 octet, or a colour channel.
pub fn is_decimal_octet(group: &[u8]) -> bool {
    (1..=3).contains(&group.len())
        && group.iter().all(u8::is_ascii_digit)
        && group
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
            <= 255
}

/// A day that exists, in a year 1900-2099.
fn is_calendar_date(year: u32, month: u32, day: u32) -> bool {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=2099).contains(&year) && (1..=days).contains(&day)
}

/// Dutch BSN: "11-proef" with weights 9..2 and -1 for the last digit.
pub fn nl_bsn(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 9 || is_trivial_digits(&ds) {
        return false;
    }
    let sum: i32 = ds
        .iter()
        .enumerate()
        .map(|(i, &d)| i32::from(d) * if i == 8 { -1 } else { 9 - i as i32 })
        .sum();
    sum != 0 && sum % 11 == 0
}

/// Polish PESEL: weights 1,3,7,9,1,3,7,9,1,3, check = (10 - sum mod 10) mod 10.
pub fn pl_pesel(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 11 || is_trivial_digits(&ds) {
        return false;
    }
    let w = [1u32, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = ds[..10].iter().zip(w).map(|(&d, w)| u32::from(d) * w).sum();
    (10 - sum % 10) % 10 == u32::from(ds[10])
}

/// Swedish personnummer: Luhn over the last 10 digits (YYMMDDNNNC).
pub fn se_personnummer(raw: &[u8]) -> bool {
    let ds = digits(raw);
    let tail = match ds.len() {
        10 => &ds[..],
        12 => &ds[2..],
        _ => return false,
    };
    valid_month_day(tail[2] * 10 + tail[3], tail[4] * 10 + tail[5]) && luhn(tail)
}

fn valid_month_day(month: u8, day: u8) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Danish CPR: DDMMYY-SSSS with a real date (the mod-11 rule was dropped in 2007).
pub fn dk_cpr(raw: &[u8]) -> bool {
    let ds = digits(raw);
    ds.len() == 10 && valid_month_day(ds[2] * 10 + ds[3], ds[0] * 10 + ds[1])
}

/// Finnish HETU: DDMMYY, century sign, 3-digit individual number, mod-31 check char.
pub fn fi_hetu(raw: &[u8]) -> bool {
    let s: Vec<u8> = raw.iter().map(u8::to_ascii_uppercase).collect();
    if s.len() != 11
        || !s[..6].iter().all(u8::is_ascii_digit)
        || !s[7..10].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let n = s[..6]
        .iter()
        .chain(&s[7..10])
        .fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
    let ok_date = valid_month_day(
        (s[2] - b'0') * 10 + (s[3] - b'0'),
        (s[0] - b'0') * 10 + (s[1] - b'0'),
    );
    ok_date && b"0123456789ABCDEFHJKLMNPRSTUVWXY".get((n % 31) as usize) == Some(&s[10])
}

/// Norwegian fødselsnummer: two mod-11 check digits.
pub fn no_fnr(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 11 || is_trivial_digits(&ds) {
        return false;
    }
    let k = |w: &[u32], n: usize| {
        let s: u32 = ds[..n].iter().zip(w).map(|(&d, &w)| u32::from(d) * w).sum();
        let r = 11 - s % 11;
        if r == 11 {
            Some(0)
        } else if r == 10 {
            None
        } else {
            Some(r)
        }
    };
    let k1 = k(&[3, 7, 6, 1, 8, 9, 4, 5, 2], 9);
    let k2 = k(&[5, 4, 3, 2, 7, 6, 5, 4, 3, 2], 10);
    k1 == Some(u32::from(ds[9])) && k2 == Some(u32::from(ds[10]))
}

/// Belgian national register number: 97 - (first 9 digits mod 97), or with a leading 2
/// for people born from 2000.
pub fn be_nrn(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 11 {
        return false;
    }
    let base = number(&ds[..9]);
    let check = number(&ds[9..]);
    97 - base % 97 == check || 97 - (2_000_000_000 + base) % 97 == check
}

/// French NIR (INSEE): 13 digits + key = 97 - (number mod 97); Corsica 2A/2B mapped.
pub fn fr_nir(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() != 15 || !(s[0] == b'1' || s[0] == b'2') {
        return false;
    }
    let mut body: Vec<u8> = s[..13].to_vec();
    let mut adjust = 0u64;
    if body.get(5) == Some(&b'A') {
        body[5] = b'0';
        adjust = 1_000_000;
    } else if body.get(5) == Some(&b'B') {
        body[5] = b'0';
        adjust = 2_000_000;
    }
    if !body.iter().all(u8::is_ascii_digit) || !s[13..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = number(&body.iter().map(|c| c - b'0').collect::<Vec<_>>()).saturating_sub(adjust);
    let key = number(&s[13..].iter().map(|c| c - b'0').collect::<Vec<_>>());
    97 - n % 97 == key
}

/// German Steuer-IdNr: ISO 7064 MOD 11,10; first digit not 0.
pub fn de_tax_id(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 11 || ds[0] == 0 || is_trivial_digits(&ds) {
        return false;
    }
    let mut product = 10u32;
    for &d in &ds[..10] {
        let mut sum = (u32::from(d) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = (11 - product) % 10;
    check == u32::from(ds[10])
}

/// Korean RRN: weights 2..9,2..5 then (11 - sum mod 11) mod 10.
pub fn kr_rrn(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 13 || !valid_month_day(ds[2] * 10 + ds[3], ds[4] * 10 + ds[5]) {
        return false;
    }
    let w = [2u32, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum: u32 = ds[..12].iter().zip(w).map(|(&d, w)| u32::from(d) * w).sum();
    (11 - sum % 11) % 10 == u32::from(ds[12])
}

/// Japanese My Number: weights 6,5,4,3,2,7,6,5,4,3,2 from the left; check = 11 - r (0 if r<=1).
pub fn jp_my_number(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 12 || is_trivial_digits(&ds) {
        return false;
    }
    let w = [6u32, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let r = ds[..11]
        .iter()
        .zip(w)
        .map(|(&d, w)| u32::from(d) * w)
        .sum::<u32>()
        % 11;
    let check = if r <= 1 { 0 } else { 11 - r };
    check == u32::from(ds[11])
}

/// South African ID: YYMMDD + 4 + citizenship (0/1) + 1 digit + Luhn check.
pub fn za_id(raw: &[u8]) -> bool {
    let ds = digits(raw);
    ds.len() == 13
        && valid_month_day(ds[2] * 10 + ds[3], ds[4] * 10 + ds[5])
        && ds[10] <= 1
        && luhn(&ds)
}

/// Irish PPS: 7 digits + check letter (weights 8..2, 9 for the optional 2nd letter) mod 23.
pub fn ie_pps(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if !(8..=9).contains(&s.len()) || !s[..7].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum: u32 = s[..7]
        .iter()
        .enumerate()
        .map(|(i, &c)| u32::from(c - b'0') * (8 - i as u32))
        .sum();
    if let Some(&second) = s.get(8) {
        if second.is_ascii_uppercase() {
            sum += 9 * u32::from(second - b'A' + 1);
        }
    }
    b"WABCDEFGHIJKLMNOPQRSTUV".get((sum % 23) as usize) == Some(&s[7])
}

/// EAN-13 / GTIN check digit (used by the Swiss AHV number 756.xxxx.xxxx.xx).
pub fn ean13(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 13 {
        return false;
    }
    let sum: u32 = ds[..12]
        .iter()
        .enumerate()
        .map(|(i, &d)| u32::from(d) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    (10 - sum % 10) % 10 == u32::from(ds[12])
}

/// US EIN: two-digit IRS campus prefix from the published list.
pub fn us_ein(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 9 || is_trivial_digits(&ds) {
        return false;
    }
    let p = number(&ds[..2]);
    !matches!(
        p,
        0 | 7 | 8 | 9 | 17 | 18 | 19 | 28 | 29 | 49 | 69 | 70 | 78 | 79 | 89 | 96 | 97
    )
}

/// Vehicle identification number (ISO 3779 / 49 CFR 565): position-9 check digit.
pub fn vin(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() != 17 || s.iter().any(|c| b"IOQ".contains(c)) || !s.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let value = |c: u8| -> u32 {
        match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'H' => u32::from(c - b'A') + 1,
            b'J'..=b'N' => u32::from(c - b'J') + 1,
            b'P' => 7,
            b'R'..=b'Z' => u32::from(c - b'S') + 2 + u32::from(c == b'R') * 7,
            _ => 0,
        }
    };
    let w = [8u32, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let r = s.iter().zip(w).map(|(&c, w)| value(c) * w).sum::<u32>() % 11;
    let expected = if r == 10 { b'X' } else { b'0' + r as u8 };
    s[8] == expected
}

/// ISIN (ISO 6166): letters expanded to two digits, then Luhn.
pub fn isin(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() != 12 || !s[..2].iter().all(u8::is_ascii_uppercase) || !s[11].is_ascii_digit() {
        return false;
    }
    let mut ds = Vec::with_capacity(24);
    for &c in &s {
        if c.is_ascii_digit() {
            ds.push(c - b'0');
        } else {
            let v = c - b'A' + 10;
            ds.push(v / 10);
            ds.push(v % 10);
        }
    }
    luhn(&ds)
}

/// CUSIP: weighted sum of character values, doubling every second, mod 10.
pub fn cusip(raw: &[u8]) -> bool {
    let s = alnum_upper(raw);
    if s.len() != 9 || !s[8].is_ascii_digit() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &c) in s[..8].iter().enumerate() {
        let mut v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        if i % 2 == 1 {
            v *= 2;
        }
        sum += v / 10 + v % 10;
    }
    (10 - sum % 10) % 10 == u32::from(s[8] - b'0')
}

/// Mexican CLABE: weights 3,7,1 repeated over 17 digits, check = (10 - sum mod 10) mod 10.
pub fn mx_clabe(raw: &[u8]) -> bool {
    let ds = digits(raw);
    if ds.len() != 18 || is_trivial_digits(&ds) {
        return false;
    }
    let w = [3u32, 7, 1];
    let sum: u32 = ds[..17]
        .iter()
        .enumerate()
        .map(|(i, &d)| (u32::from(d) * w[i % 3]) % 10)
        .sum();
    (10 - sum % 10) % 10 == u32::from(ds[17])
}

/// Base58Check (Bitcoin P2PKH/P2SH addresses): the last 4 bytes are the first 4 bytes of
/// double SHA-256 of the payload.
pub fn base58check(raw: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if raw.len() < 26 || raw.len() > 35 {
        return false;
    }
    let mut bytes: Vec<u8> = vec![0; 25];
    for &c in raw {
        let Some(mut carry) = ALPHABET.iter().position(|&a| a == c).map(|v| v as u32) else {
            return false;
        };
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return false;
        }
    }
    let (payload, check) = bytes.split_at(21);
    let hash = Sha256::digest(Sha256::digest(payload));
    &hash[..4] == check
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Values that vendors document as examples or that people write as placeholders:
/// AWS's `AKIAIOSFODNN7EXAMPLE` family, runs of X or *, `<your-key>`, `changeme`, ...
pub fn is_placeholder(s: &[u8]) -> bool {
    const MARKERS: &[&[u8]] = &[
        b"example",
        b"xxxx",
        b"****",
        b"....",
        b"<",
        b">",
        b"${",
        b"{{",
        b"your",
        b"dummy",
        b"sample",
        b"placeholder",
        b"changeme",
        b"redacted",
        b"fake",
        b"notreal",
        b"insert",
        b"replace",
        b"0000000000",
        b"abcdefgh",
        b"123456789",
        b"test_key",
        b"secret_here",
        b"######",
        // A password that names itself (`password123`, `123Abpassword` in gcloud's manuals)
        // is an example; gitleaks drops these too, as stop words.
        b"password",
        b"passwd",
    ];
    static AUTOMATON: std::sync::LazyLock<aho_corasick::AhoCorasick> =
        std::sync::LazyLock::new(|| {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(MARKERS)
                .expect("static marker list")
        });
    if AUTOMATON.is_match(s) {
        return true;
    }
    // Long runs of the same character are masks, not keys.
    let mut run = 1;
    for w in s.windows(2) {
        run = if w[0] == w[1] { run + 1 } else { 1 };
        if run >= 6 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_values() {
        // Published test numbers of the networks.
        for n in [
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "2223003122003222",
            "30569309025904",
        ] {
            assert!(luhn(&digits(n.as_bytes())), "{n}");
        }
        assert!(!luhn(&digits(b"4111111111111112")));
        assert!(!luhn(&digits(b"1")));
    }

    #[test]
    fn credit_card_ranges() {
        assert!(credit_card(b"4111 1111 1111 1111"));
        assert!(credit_card(b"2223003122003222"), "Mastercard 2-series");
        assert!(credit_card(b"5105-1051-0510-5100"));
        assert!(credit_card(b"378282246310005"), "Amex");
        assert!(credit_card(b"6011000990139424"), "Discover");
        assert!(credit_card(b"3566002020360505"), "JCB");
        assert!(credit_card(b"30569309025904"), "Diners");
        // Luhn-valid but no issuer range (prefix 1, 9), and IMEI-like 15 digits starting 35.
        assert!(!credit_card(b"1234567812345670"));
        assert!(!credit_card(b"9111111111111111"));
        assert!(
            !credit_card(b"490154203237518"),
            "IMEI (15 digits, Visa prefix, wrong length)"
        );
        assert!(
            !credit_card(b"2721000000000004"),
            "beyond the 2-series range"
        );
        assert!(!credit_card(b"0000000000000000"));
    }

    #[test]
    fn ssn_ssa_rules() {
        assert!(us_ssn(b"536-22-1234"));
        assert!(!us_ssn(b"000-12-3456"), "area 000");
        assert!(!us_ssn(b"666-12-3456"), "area 666");
        assert!(!us_ssn(b"912-34-5678"), "area 9xx");
        assert!(!us_ssn(b"536-00-1234"), "group 00");
        assert!(!us_ssn(b"536-22-0000"), "serial 0000");
        assert!(!us_ssn(b"078-05-1120"), "Woolworth wallet number");
        assert!(!us_ssn(b"123-45-678"));
    }

    #[test]
    fn itin_groups() {
        assert!(us_itin(b"912-70-1234"));
        assert!(us_itin(b"900-94-0000"));
        assert!(!us_itin(b"912-93-1234"), "group 93 not used");
        assert!(!us_itin(b"812-70-1234"));
    }

    #[test]
    fn aba_routing_checksum() {
        assert!(aba_routing(b"011000015"), "Federal Reserve Bank of Boston");
        assert!(aba_routing(b"021000021"), "JPMorgan Chase");
        assert!(aba_routing(b"122105155"));
        assert!(!aba_routing(b"021000022"));
        assert!(!aba_routing(b"991000021"), "prefix 99 is not a district");
    }

    #[test]
    fn iban_registry_examples() {
        assert!(iban(b"GB82 WEST 1234 5698 7654 32"));
        assert!(iban(b"DE89370400440532013000"));
        assert!(iban(b"FR1420041010050500013M02606"));
        assert!(iban(b"NO9386011117947"));
        assert!(iban(b"BE68539007547034"));
        assert!(!iban(b"GB82 WEST 1234 5698 7654 33"), "bad check digits");
        assert!(!iban(b"DE8937040044053201300"), "wrong length for DE");
        assert!(!iban(b"QQ89370400440532013000"), "unknown country");
    }

    #[test]
    fn nino_prefixes() {
        assert!(uk_nino(b"AB123456C"));
        assert!(uk_nino(b"JG 10 37 26 A"));
        assert!(!uk_nino(b"GB123456A"), "GB never used");
        assert!(!uk_nino(b"DA123456A"), "D not allowed first");
        assert!(!uk_nino(b"AO123456A"), "O not allowed second");
        assert!(!uk_nino(b"AB123456E"), "suffix must be A-D");
    }

    #[test]
    fn canadian_sin() {
        assert!(ca_sin(b"130 692 544"));
        assert!(!ca_sin(b"130 692 545"));
        // CRA's documentation example starts with 0, a prefix reserved for fictitious SINs.
        assert!(luhn(&digits(b"046 454 286")) && !ca_sin(b"046 454 286"));
        assert!(!ca_sin(b"846 454 286"));
    }

    #[test]
    fn health_numbers() {
        assert!(uk_nhs(b"943 476 5919"), "NHS Digital example");
        assert!(!uk_nhs(b"943 476 5918"));
        assert!(us_npi(b"1234567893"), "CMS example NPI");
        assert!(!us_npi(b"1234567890"));
        assert!(us_dea(b"AB1234563"));
        assert!(!us_dea(b"AB1234564"));
        assert!(us_mbi(b"1EG4-TE5-MK73"), "CMS example MBI");
        assert!(!us_mbi(b"1SG4-TE5-MK73"), "S is excluded");
    }

    #[test]
    fn national_ids() {
        assert!(au_tfn(b"123 456 782"));
        assert!(!au_tfn(b"123 456 789"));
        assert!(au_abn(b"51 824 753 556"), "ATO example ABN");
        assert!(!au_abn(b"51 824 753 557"));
        assert!(in_aadhaar(b"2341 2341 2346"));
        assert!(!in_aadhaar(b"2341 2341 2345"));
        assert!(sg_nric(b"S1234567D"));
        assert!(!sg_nric(b"S1234567A"));
        assert!(es_dni(b"12345678Z"));
        assert!(es_dni(b"X1234567L"));
        assert!(!es_dni(b"12345678A"));
        assert!(br_cpf(b"529.982.247-25"));
        assert!(!br_cpf(b"529.982.247-26"));
        assert!(br_cnpj(b"11.222.333/0001-81"));
        assert!(!br_cnpj(b"11.222.333/0001-82"));
        assert!(cn_resident_id(b"11010519491231002X"));
        assert!(!cn_resident_id(b"110105194912310021"));
        assert!(nl_bsn(b"111222333"));
        assert!(!nl_bsn(b"111222334"));
        assert!(pl_pesel(b"44051401359"));
        assert!(!pl_pesel(b"44051401358"));
        assert!(se_personnummer(b"811218-9876"));
        assert!(!se_personnummer(b"811218-9877"));
        assert!(fi_hetu(b"131052-308T"));
        assert!(!fi_hetu(b"131052-308U"));
        assert!(de_tax_id(b"86095742719"));
        assert!(!de_tax_id(b"86095742718"));
        assert!(ie_pps(b"1234567T"));
        assert!(!ie_pps(b"1234567A"));
        assert!(ean13(b"756.9217.0769.85"));
        assert!(!ean13(b"756.9217.0769.86"));
        assert!(be_nrn(b"85.07.30-033.28"));
        assert!(!be_nrn(b"85.07.30-033.29"));
        assert!(no_fnr(b"01010750160"));
        assert!(!no_fnr(b"01010750161"));
        assert!(jp_my_number(b"123456789018"));
        assert!(!jp_my_number(b"123456789012"));
    }

    #[test]
    fn financial_identifiers() {
        assert!(isin(b"US0378331005"), "Apple ISIN");
        assert!(!isin(b"US0378331006"));
        assert!(cusip(b"037833100"), "Apple CUSIP");
        assert!(!cusip(b"037833101"));
        assert!(vin(b"1M8GDM9AXKP042788"), "NHTSA example VIN");
        assert!(!vin(b"1M8GDM9A1KP042788"));
        assert!(
            base58check(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
            "genesis address"
        );
        assert!(!base58check(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"));
        assert!(mx_clabe(b"002010077777777771"));
        assert!(!mx_clabe(b"002010077777777772"));
    }

    #[test]
    fn placeholders_and_entropy() {
        assert!(is_placeholder(b"AKIAIOSFODNN7EXAMPLE"));
        assert!(is_placeholder(b"XXXX-XXXX-XXXX-1234"));
        assert!(is_placeholder(b"<your-api-key>"));
        assert!(!is_placeholder(b"AKIAZ3MSJV4WWNKWW5FG"));
        assert!(shannon_entropy(b"aaaaaaaa") < 0.01);
        assert!(shannon_entropy(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCY") > 4.0);
        assert!(is_trivial_digits(&digits(b"123456789")));
        assert!(!is_trivial_digits(&digits(b"536221234")));
    }
}
