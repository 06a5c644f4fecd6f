//! National identifiers, tax numbers, driver's licences and passports, country by country
//! (the national sensitive information types of Microsoft Purview, with their public
//! definitions).
//!
//! Two kinds of entry:
//! - [`checked`]: the format has a check digit (or a date and a check digit). The pattern
//!   and checksum alone are low confidence, a keyword in the same sentence makes them high.
//! - [`shape`]: no check digit (most passports and driver's licences: a few letters and
//!   digits). The pattern alone is low confidence and a keyword only lifts it to medium.
//!
//! Keywords are listed per language, in the words that people and forms use for the
//! identifier (`Personalausweis`, `numéro fiscal`, `여권번호`); they are matched as bytes,
//! ASCII-case-insensitively, so UTF-8 labels work as they are. Acronyms of three letters or
//! fewer are avoided unless they are the identifier's only name and rare in text (`oib`,
//! `cnp`, `nhi`): short keywords fire inside many words.

use super::{Spec, Trigger, BASE};
use crate::model::{Category, Confidence};
use crate::validators as v;

/// Identifier with a checksum: low alone, high with a keyword.
const fn checked(
    id: &'static str,
    name: &'static str,
    min_digits: u8,
    validate: fn(&[u8]) -> bool,
    context: &'static [&'static str],
    pattern: &'static str,
) -> Spec {
    Spec {
        id,
        name,
        category: Category::Pii,
        trigger: Trigger::Digits(min_digits),
        pattern,
        validate: Some(validate),
        context,
        base: Confidence::Low,
        boosted: Confidence::High,
        ..BASE
    }
}

/// Identifier without a checksum: low alone, medium with a keyword.
const fn shape(
    id: &'static str,
    name: &'static str,
    min_digits: u8,
    context: &'static [&'static str],
    pattern: &'static str,
) -> Spec {
    Spec {
        id,
        name,
        category: Category::Pii,
        trigger: Trigger::Digits(min_digits),
        pattern,
        validate: None,
        context,
        base: Confidence::Low,
        boosted: Confidence::Medium,
        ..BASE
    }
}

// ---------------------------------------------------------------------------------------
// Shared arithmetic

fn weighted(ds: &[u8], weights: &[u32]) -> u32 {
    ds.iter()
        .zip(weights)
        .map(|(&d, &w)| u32::from(d) * w)
        .sum()
}

fn num(ds: &[u8]) -> u64 {
    ds.iter().fold(0u64, |a, &d| {
        a.saturating_mul(10).saturating_add(u64::from(d))
    })
}

fn two(ds: &[u8], at: usize) -> u8 {
    ds.get(at).copied().unwrap_or(0) * 10 + ds.get(at + 1).copied().unwrap_or(0)
}

fn month_day(month: u8, day: u8) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Digits of `raw`, when there are exactly `len` of them and they are not a filler
/// (`000000000`, `123456789`).
fn digits_of(raw: &[u8], len: usize) -> Option<Vec<u8>> {
    let ds = v::digits(raw);
    (ds.len() == len && !v::is_trivial_digits(&ds)).then_some(ds)
}

/// Weighted sum mod 11 as a check digit, the common European scheme: `r` is the digit,
/// 10 is invalid.
fn mod11_digit(ds: &[u8], weights: &[u32]) -> Option<u8> {
    let r = weighted(ds, weights) % 11;
    (r < 10).then_some(r as u8)
}

/// ISO 7064 MOD 11,10 (Croatian OIB; the German Steuer-IdNr uses it too).
fn iso7064_mod11_10(ds: &[u8]) -> bool {
    let Some((&check, body)) = ds.split_last() else {
        return false;
    };
    let mut product = 10u32;
    for &d in body {
        let mut sum = (u32::from(d) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    (11 - product) % 10 == u32::from(check)
}

/// Luhn over a fixed number of digits, fillers excluded.
fn luhn_of(raw: &[u8], len: usize) -> bool {
    digits_of(raw, len).is_some_and(|ds| v::luhn(&ds))
}

/// A letter as a number in the ICAO / ISO 7064 way: A = 10 ... Z = 35.
fn alnum_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Europe

/// Austrian social security number (Versicherungsnummer): serial (3), check digit, birth
/// date DDMMYY; weights 3,7,9,-,5,8,4,2,1,6 mod 11, 10 is never issued.
fn at_svnr(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 10) else {
        return false;
    };
    let sum = weighted(&ds, &[3, 7, 9, 0, 5, 8, 4, 2, 1, 6]) % 11;
    ds[0] != 0 && sum < 10 && sum == u32::from(ds[3]) && month_day(two(&ds, 6), two(&ds, 4))
}

/// Austrian VAT number ATU + 8 digits: every second digit doubled and digit-summed,
/// check = (10 - (sum + 4) mod 10) mod 10.
fn at_vat(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 8) else {
        return false;
    };
    let sum: u32 = ds[..7]
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            }
        })
        .sum();
    (10 - (sum + 4) % 10) % 10 == u32::from(ds[7])
}

/// Belgian enterprise (VAT) number: 10 digits starting 0 or 1, the last two are 97 minus
/// the first eight mod 97.
fn be_vat(raw: &[u8]) -> bool {
    let mut ds = v::digits(raw);
    if ds.len() == 9 {
        ds.insert(0, 0);
    }
    ds.len() == 10 && ds[0] <= 1 && 97 - num(&ds[..8]) % 97 == num(&ds[8..])
}

/// Bulgarian EGN: YYMMDD (month +20 before 1900, +40 from 2000), 3 digits, check digit with
/// weights 2,4,8,5,10,9,7,3,6 mod 11 (10 is 0).
fn bg_egn(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 10) else {
        return false;
    };
    let month = two(&ds, 2) % 20;
    let check = weighted(&ds, &[2, 4, 8, 5, 10, 9, 7, 3, 6]) % 11 % 10;
    two(&ds, 2) <= 52 && month_day(month, two(&ds, 4)) && check == u32::from(ds[9])
}

/// Croatian OIB: 11 digits, ISO 7064 MOD 11,10.
fn hr_oib(raw: &[u8]) -> bool {
    digits_of(raw, 11).is_some_and(|ds| iso7064_mod11_10(&ds))
}

/// Cypriot TIN: 8 digits and a check letter: digits in odd positions through the table
/// 1,0,5,7,9,13,15,17,19,21, even positions as they are, sum mod 26 as a letter.
fn cy_tin(raw: &[u8]) -> bool {
    const ODD: [u32; 10] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21];
    let s = v::alnum_upper(raw);
    if s.len() != 9 || !s[..8].iter().all(u8::is_ascii_digit) || !b"01359".contains(&s[0]) {
        return false;
    }
    let sum: u32 = s[..8]
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let d = usize::from(c - b'0');
            if i % 2 == 0 {
                ODD[d]
            } else {
                d as u32
            }
        })
        .sum();
    s[8] == b'A' + (sum % 26) as u8
}

/// Czech and Slovak birth number (rodné číslo): YYMMDD (month +50 for women, +20 for the
/// numbers issued since 2004) and a serial; the 10-digit numbers (from 1954) are divisible
/// by 11, or end in 0 when the first nine leave 10.
fn cz_birth_number(raw: &[u8]) -> bool {
    let ds = v::digits(raw);
    if !(9..=10).contains(&ds.len()) || v::is_trivial_digits(&ds) {
        return false;
    }
    let month = match two(&ds, 2) {
        m @ 1..=12 => m,
        m @ 21..=32 => m - 20,
        m @ 51..=62 => m - 50,
        m @ 71..=82 => m - 70,
        _ => return false,
    };
    if !month_day(month, two(&ds, 4)) {
        return false;
    }
    if ds.len() == 9 {
        return two(&ds, 0) < 54;
    }
    let n = num(&ds);
    n % 11 == 0 || ((n / 10) % 11 == 10 && ds[9] == 0)
}

/// Estonian isikukood and Lithuanian asmens kodas: century/sex digit, YYMMDD, serial and a
/// check digit: weights 1..9,1 mod 11; on 10, weights 3..9,1,2,3; on 10 again, 0.
fn baltic_personal_code(raw: &[u8], max_first: u8) -> bool {
    let Some(ds) = digits_of(raw, 11) else {
        return false;
    };
    if !(1..=max_first).contains(&ds[0]) || !month_day(two(&ds, 3), two(&ds, 5)) {
        return false;
    }
    let mut r = weighted(&ds, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 1]) % 11;
    if r == 10 {
        r = weighted(&ds, &[3, 4, 5, 6, 7, 8, 9, 1, 2, 3]) % 11 % 10;
    }
    r == u32::from(ds[10])
}

fn ee_isikukood(raw: &[u8]) -> bool {
    baltic_personal_code(raw, 8)
}

fn lt_personal_code(raw: &[u8]) -> bool {
    baltic_personal_code(raw, 6)
}

/// Finnish business ID (Y-tunnus): 7 digits, weights 7,9,10,5,8,4,2 mod 11; remainder 0 is
/// check 0, 1 is never issued, otherwise 11 - r.
fn fi_business_id(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 8) else {
        return false;
    };
    match weighted(&ds, &[7, 9, 10, 5, 8, 4, 2]) % 11 {
        0 => ds[7] == 0,
        1 => false,
        r => 11 - r == u32::from(ds[7]),
    }
}

/// French tax number (numéro fiscal / SPI): 13 digits starting 0-3; the last three are the
/// first ten mod 511.
fn fr_tax_id(raw: &[u8]) -> bool {
    digits_of(raw, 13).is_some_and(|ds| ds[0] <= 3 && num(&ds[..10]) % 511 == num(&ds[10..]))
}

/// German social insurance number (Rentenversicherungsnummer): area (2), birth date
/// DDMMYY, initial of the birth name, serial (2), check digit: the letter as two digits
/// (A = 01), weights 2,1,2,5,7,1,2,1,2,1,2,1, products' digit sums mod 10.
fn de_svnr(raw: &[u8]) -> bool {
    let s = v::alnum_upper(raw);
    if s.len() != 12 || !s[8].is_ascii_uppercase() {
        return false;
    }
    let mut ds: Vec<u8> = Vec::with_capacity(13);
    for (i, &c) in s.iter().enumerate() {
        if i == 8 {
            let n = c - b'A' + 1;
            ds.extend([n / 10, n % 10]);
        } else if c.is_ascii_digit() {
            ds.push(c - b'0');
        } else {
            return false;
        }
    }
    let sum: u32 = ds[..12]
        .iter()
        .zip([2u32, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1])
        .map(|(&d, w)| {
            let p = u32::from(d) * w;
            p / 10 + p % 10
        })
        .sum();
    month_day(two(&ds, 4), two(&ds, 2)) && sum % 10 == u32::from(ds[12])
}

/// Greek AMKA: birth date DDMMYY, serial, Luhn.
fn gr_amka(raw: &[u8]) -> bool {
    digits_of(raw, 11).is_some_and(|ds| month_day(two(&ds, 2), two(&ds, 0)) && v::luhn(&ds))
}

/// Greek AFM (tax number): 9 digits, sum of d_i * 2^(8-i) mod 11 mod 10 is the last.
fn gr_afm(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 9) else {
        return false;
    };
    let sum: u32 = ds[..8]
        .iter()
        .enumerate()
        .map(|(i, &d)| u32::from(d) << (8 - i))
        .sum();
    sum % 11 % 10 == u32::from(ds[8])
}

/// Hungarian tax number (adóazonosító jel): 8, then 8 digits, check = sum d_i * i mod 11.
fn hu_tax_id(raw: &[u8]) -> bool {
    digits_of(raw, 10).is_some_and(|ds| {
        ds[0] == 8 && mod11_digit(&ds[..9], &[1, 2, 3, 4, 5, 6, 7, 8, 9]) == Some(ds[9])
    })
}

/// Hungarian social security number (TAJ): 8 digits weighted 3,7,3,7,... and the sum mod
/// 10 as the ninth.
fn hu_taj(raw: &[u8]) -> bool {
    digits_of(raw, 9)
        .is_some_and(|ds| weighted(&ds, &[3, 7, 3, 7, 3, 7, 3, 7]) % 10 == u32::from(ds[8]))
}

/// Hungarian personal identification number (személyi szám): sex/century, YYMMDD,
/// serial, check digit with weights 10..1 (born before 1997) or 1..10 (from 1997), mod 11.
fn hu_personal_id(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 11) else {
        return false;
    };
    let old = mod11_digit(&ds[..10], &[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    let new = mod11_digit(&ds[..10], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    (1..=8).contains(&ds[0])
        && month_day(two(&ds, 3), two(&ds, 5))
        && (old == Some(ds[10]) || new == Some(ds[10]))
}

/// Italian VAT number (partita IVA): 7-digit company number, 3-digit tax office
/// (001-100, 120, 121, 888, 999), Luhn check digit.
fn it_vat(raw: &[u8]) -> bool {
    digits_of(raw, 11).is_some_and(|ds| {
        let office = num(&ds[7..10]);
        (matches!(office, 1..=100 | 120 | 121 | 888 | 999)) && v::luhn(&ds)
    })
}

/// Latvian personal code: DDMMYY-CNNNX with weights 1,6,3,7,9,10,5,8,4,2 and
/// (1101 - sum) mod 11; the codes issued since 2017 start with 32 and carry no date.
fn lv_personal_code(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 11) else {
        return false;
    };
    if ds[0] == 3 && ds[1] == 2 {
        return true;
    }
    let check = (1101 - weighted(&ds, &[1, 6, 3, 7, 9, 10, 5, 8, 4, 2])) % 11;
    month_day(two(&ds, 2), two(&ds, 0)) && check == u32::from(ds[10])
}

/// Luxembourg national identification number (matricule): YYYYMMDD, serial (3), a Luhn
/// digit and a Verhoeff digit, both over the first eleven.
fn lu_national_id(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 13) else {
        return false;
    };
    let year = num(&ds[..4]);
    let mut luhn_part = ds[..11].to_vec();
    luhn_part.push(ds[11]);
    let mut verhoeff_part = ds[..11].to_vec();
    verhoeff_part.push(ds[12]);
    (1900..=2099).contains(&year)
        && month_day(two(&ds, 4), two(&ds, 6))
        && v::luhn(&luhn_part)
        && v::verhoeff(&verhoeff_part)
}

/// Polish NIP: weights 6,5,7,2,3,4,5,6,7 mod 11 (10 is never issued).
fn pl_nip(raw: &[u8]) -> bool {
    digits_of(raw, 10)
        .is_some_and(|ds| mod11_digit(&ds[..9], &[6, 5, 7, 2, 3, 4, 5, 6, 7]) == Some(ds[9]))
}

/// Polish REGON: 9 digits (weights 8,9,2,3,4,5,6,7) or 14 (2,4,8,5,0,9,7,3,6,1,2,4,8),
/// mod 11 with 10 read as 0.
fn pl_regon(raw: &[u8]) -> bool {
    let ds = v::digits(raw);
    if v::is_trivial_digits(&ds) {
        return false;
    }
    let weights: &[u32] = match ds.len() {
        9 => &[8, 9, 2, 3, 4, 5, 6, 7],
        14 => &[2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8],
        _ => return false,
    };
    let n = ds.len();
    weighted(&ds[..n - 1], weights) % 11 % 10 == u32::from(ds[n - 1])
}

/// ICAO-style weighted check (7,3,1,...; letters A = 10) where the check digit sits inside
/// the number at `check_at`, as on Polish identity cards and passports.
fn embedded_check(
    raw: &[u8],
    letters: usize,
    len: usize,
    check_at: usize,
    weights: &[u32],
) -> bool {
    let s = v::alnum_upper(raw);
    if s.len() != len
        || !s[..letters].iter().all(u8::is_ascii_uppercase)
        || !s[letters..].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let mut sum = 0u32;
    for (i, (&c, &w)) in s.iter().zip(weights).enumerate() {
        if i != check_at {
            let Some(value) = alnum_value(c) else {
                return false;
            };
            sum += value * w;
        }
    }
    alnum_value(s[check_at]) == Some(sum % 10)
}

/// Polish identity card (dowód osobisty): 3 letters, check digit, 5 digits.
fn pl_id_card(raw: &[u8]) -> bool {
    embedded_check(raw, 3, 9, 3, &[7, 3, 1, 9, 7, 3, 1, 7, 3])
}

/// Polish passport: 2 letters, check digit, 6 digits.
fn pl_passport(raw: &[u8]) -> bool {
    embedded_check(raw, 2, 9, 2, &[7, 3, 9, 1, 7, 3, 1, 7, 3])
}

/// Portuguese NIF: 9 digits, weights 9..2 mod 11, 11 - r (10 and 11 are 0).
fn pt_nif(raw: &[u8]) -> bool {
    digits_of(raw, 9).is_some_and(|ds| {
        let r = weighted(&ds, &[9, 8, 7, 6, 5, 4, 3, 2]) % 11;
        let check = if r < 2 { 0 } else { 11 - r };
        b"1235689"[..].contains(&(ds[0] + b'0')) && check == u32::from(ds[8])
    })
}

/// Portuguese citizen card (cartão de cidadão): civil number (8), check digit, two letters
/// of version, check digit; letters count 10-35 and every second value from the right is
/// doubled (minus 9 above 9), the sum a multiple of 10.
fn pt_cc(raw: &[u8]) -> bool {
    let s = v::alnum_upper(raw);
    if s.len() != 12 || !s[..9].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some(values) = s
        .iter()
        .map(|&c| alnum_value(c))
        .collect::<Option<Vec<u32>>>()
    else {
        return false;
    };
    v::luhn_values(values.into_iter())
}

/// Romanian CNP: sex/century, YYMMDD, county, serial, check digit with weights
/// 2,7,9,1,4,6,3,5,8,2,7,9 mod 11 (10 is 1).
fn ro_cnp(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 13) else {
        return false;
    };
    let r = weighted(&ds, &[2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9]) % 11;
    let check = if r == 10 { 1 } else { r };
    ds[0] != 0 && month_day(two(&ds, 3), two(&ds, 5)) && check == u32::from(ds[12])
}

/// Slovenian EMŠO (and the former Yugoslav JMBG): DDMMYYY, region, serial, check digit
/// with weights 7..2,7..2 mod 11 (remainder 1 is never issued).
fn si_emso(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 13) else {
        return false;
    };
    let r = weighted(&ds, &[7, 6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2]) % 11;
    let check = match r {
        0 => 0,
        1 => return false,
        r => 11 - r,
    };
    month_day(two(&ds, 2), two(&ds, 0)) && check == u32::from(ds[12])
}

/// Slovenian tax number (davčna številka): 8 digits, weights 8..2, 11 - r (10 is 0, 11 is
/// never issued).
fn si_tax_id(raw: &[u8]) -> bool {
    digits_of(raw, 8).is_some_and(|ds| {
        let check = match 11 - weighted(&ds, &[8, 7, 6, 5, 4, 3, 2]) % 11 {
            11 => return false,
            10 => 0,
            c => c,
        };
        ds[0] != 0 && check == u32::from(ds[7])
    })
}

/// Spanish social security number: province (2), number (8), control = the province and
/// number read together mod 97 (the number without its leading zero below 10 million).
fn es_ssn(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 12) else {
        return false;
    };
    let province = num(&ds[..2]);
    let number = num(&ds[2..10]);
    let body = if number < 10_000_000 {
        province * 10_000_000 + number
    } else {
        province * 100_000_000 + number
    };
    ((1..=53).contains(&province) || province == 66) && body % 97 == num(&ds[10..])
}

/// Spanish CIF (company tax code): organisation letter, 7 digits, control digit or letter
/// from the Luhn-like sum of the digits.
fn es_cif(raw: &[u8]) -> bool {
    let s = v::alnum_upper(raw);
    if s.len() != 9 || !s[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = s[1..8]
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let d = u32::from(c - b'0');
            if i % 2 == 0 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            }
        })
        .sum();
    let control = ((10 - sum % 10) % 10) as u8;
    let letter = b"JABCDEFGHI"[usize::from(control)];
    match s[0] {
        b'P' | b'Q' | b'R' | b'S' | b'N' | b'W' => s[8] == letter,
        b'A' | b'B' | b'E' | b'H' => s[8] == b'0' + control,
        b'C' | b'D' | b'F' | b'G' | b'J' | b'U' | b'V' => s[8] == letter || s[8] == b'0' + control,
        _ => false,
    }
}

/// Swedish organisation number: 10 digits, third digit at least 2 (a personnummer has a
/// month there), Luhn.
fn se_orgnummer(raw: &[u8]) -> bool {
    digits_of(raw, 10).is_some_and(|ds| ds[2] >= 2 && v::luhn(&ds))
}

/// UK Unique Taxpayer Reference: the first digit checks the other nine (weights
/// 6,7,8,9,10,5,4,3,2; 11 - r, minus 9 above 9).
fn uk_utr(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 10) else {
        return false;
    };
    let mut check = 11 - weighted(&ds[1..], &[6, 7, 8, 9, 10, 5, 4, 3, 2]) % 11;
    if check > 9 {
        check -= 9;
    }
    check == u32::from(ds[0])
}

/// UK driving licence number (DVLA): surname (5, padded with 9), decade digit, month (+50
/// for women), day, year digit, initials (2), a digit and two check letters.
fn uk_driving_licence(raw: &[u8]) -> bool {
    let s = v::alnum_upper(raw);
    if s.len() < 16 || !s[5..11].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = (s[6] - b'0') % 5 * 10 + (s[7] - b'0');
    let day = (s[8] - b'0') * 10 + (s[9] - b'0');
    s[..5].iter().any(u8::is_ascii_uppercase) && month_day(month, day)
}

/// Swiss business identification number (UID): CHE + 8 digits + check digit with weights
/// 5,4,3,2,7,6,5,4; 11 - r, 11 is 0 and 10 is never issued.
fn ch_uid(raw: &[u8]) -> bool {
    digits_of(raw, 9).is_some_and(
        |ds| match 11 - weighted(&ds, &[5, 4, 3, 2, 7, 6, 5, 4]) % 11 {
            10 => false,
            11 => ds[8] == 0,
            c => c == u32::from(ds[8]),
        },
    )
}

// ---------------------------------------------------------------------------------------
// Americas

/// Argentine CUIT/CUIL: type (20, 23, 24, 27, 30, 33, 34), DNI (8), check digit with
/// weights 5,4,3,2,7,6,5,4,3,2; 11 - r (11 is 0, 10 is never issued).
fn ar_cuit(raw: &[u8]) -> bool {
    digits_of(raw, 11).is_some_and(|ds| {
        let check = match 11 - weighted(&ds, &[5, 4, 3, 2, 7, 6, 5, 4, 3, 2]) % 11 {
            11 => 0,
            10 => return false,
            c => c,
        };
        matches!(num(&ds[..2]), 20 | 23 | 24 | 27 | 30 | 33 | 34) && check == u32::from(ds[10])
    })
}

/// Brazilian RG (São Paulo): 8 digits weighted 2..9, 11 - r (10 is X, 11 is 0).
fn br_rg(raw: &[u8]) -> bool {
    let s = v::alnum_upper(raw);
    if s.len() != 9 || !s[..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let ds = v::digits(&s[..8]);
    if v::is_trivial_digits(&ds) {
        return false;
    }
    let expected = match 11 - weighted(&ds, &[2, 3, 4, 5, 6, 7, 8, 9]) % 11 {
        10 => b'X',
        11 => b'0',
        c => b'0' + c as u8,
    };
    s[8] == expected
}

/// Colombian NIT: prime weights 3,7,13,17,19,23,29,37,41,43,47,53,59,67,71 from the right,
/// mod 11; remainders 0 and 1 are the digit, otherwise 11 - r.
fn co_nit(raw: &[u8]) -> bool {
    const W: [u32; 15] = [3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71];
    let ds = v::digits(raw);
    let Some((&check, body)) = ds.split_last() else {
        return false;
    };
    if body.len() < 8 || body.len() > 15 || v::is_trivial_digits(body) {
        return false;
    }
    let sum: u32 = body
        .iter()
        .rev()
        .zip(W)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    let r = sum % 11;
    let expected = if r < 2 { r } else { 11 - r };
    expected == u32::from(check)
}

/// Mexican CURP check digit (RENAPO): characters valued 0-9, A-N = 10-23, Ñ = 24, O-Z =
/// 25-36, weights 18..2, (10 - sum mod 10) mod 10.
pub fn mx_curp(raw: &[u8]) -> bool {
    let s = v::alnum_upper(raw);
    if s.len() != 18 || !s[4..10].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let value = |c: u8| -> Option<u32> {
        match c {
            b'0'..=b'9' => Some(u32::from(c - b'0')),
            b'A'..=b'N' => Some(u32::from(c - b'A') + 10),
            b'O'..=b'Z' => Some(u32::from(c - b'O') + 25),
            _ => None,
        }
    };
    let mut sum = 0u32;
    for (i, &c) in s[..17].iter().enumerate() {
        let Some(x) = value(c) else { return false };
        sum += x * (18 - i as u32);
    }
    month_day(
        (s[6] - b'0') * 10 + (s[7] - b'0'),
        (s[8] - b'0') * 10 + (s[9] - b'0'),
    ) && u32::from(s[17].wrapping_sub(b'0')) == (10 - sum % 10) % 10
}

/// Peruvian RUC: type (10, 15, 17, 20), 8 digits, check digit with weights
/// 5,4,3,2,7,6,5,4,3,2; 11 - r (10 is 0, 11 is 1).
fn pe_ruc(raw: &[u8]) -> bool {
    digits_of(raw, 11).is_some_and(|ds| {
        let check = (11 - weighted(&ds, &[5, 4, 3, 2, 7, 6, 5, 4, 3, 2]) % 11) % 10;
        matches!(num(&ds[..2]), 10 | 15 | 17 | 20) && check == u32::from(ds[10])
    })
}

/// Ontario health number: 10 digits, Luhn.
fn ca_on_health(raw: &[u8]) -> bool {
    luhn_of(raw, 10)
}

/// British Columbia personal health number: 9, 8 digits weighted 2,4,8,5,10,9,7,3, and
/// 11 - r as the check digit.
fn ca_bc_phn(raw: &[u8]) -> bool {
    digits_of(raw, 10).is_some_and(|ds| {
        let c = 11 - weighted(&ds[1..9], &[2, 4, 8, 5, 10, 9, 7, 3]) % 11;
        ds[0] == 9 && c < 10 && c == u32::from(ds[9])
    })
}

// ---------------------------------------------------------------------------------------
// Asia, Middle East, Africa, Oceania

/// Japanese corporate number: the first digit checks the other twelve: 9 - (sum mod 9),
/// weights 1 and 2 alternating from the right.
fn jp_corporate_number(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 13) else {
        return false;
    };
    let sum: u32 = ds[1..]
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| u32::from(d) * if i % 2 == 0 { 1 } else { 2 })
        .sum();
    9 - sum % 9 == u32::from(ds[0])
}

/// Hong Kong identity card: 1-2 letters, 6 digits, check character: a single letter is
/// preceded by a space worth 36; weights 9..2, 11 - r mod 11 (10 is A).
fn hk_hkid(raw: &[u8]) -> bool {
    let s = v::alnum_upper(raw);
    let letters = s.iter().take_while(|c| c.is_ascii_uppercase()).count();
    if !(1..=2).contains(&letters) || s.len() != letters + 7 {
        return false;
    }
    let mut values: Vec<u32> = Vec::with_capacity(8);
    if letters == 1 {
        values.push(36);
    }
    for &c in &s[..s.len() - 1] {
        let Some(x) = alnum_value(c) else {
            return false;
        };
        values.push(x);
    }
    let sum: u32 = values
        .iter()
        .zip([9u32, 8, 7, 6, 5, 4, 3, 2])
        .map(|(&x, w)| x * w)
        .sum();
    let expected = match (11 - sum % 11) % 11 {
        10 => b'A',
        c => b'0' + c as u8,
    };
    s.last() == Some(&expected)
}

/// Taiwanese national identification number: letter (its two-digit area code), sex (1/2),
/// 8 digits; weights 1,9,8,...,1 over the expanded 11 digits, sum a multiple of 10.
fn tw_national_id(raw: &[u8]) -> bool {
    const AREA: &[u8; 26] = &[
        10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29, 32,
        30, 31, 33,
    ];
    let s = v::alnum_upper(raw);
    if s.len() != 10 || !s[0].is_ascii_uppercase() || !s[1..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let area = AREA[usize::from(s[0] - b'A')];
    let mut ds = vec![area / 10, area % 10];
    ds.extend(s[1..].iter().map(|c| c - b'0'));
    matches!(ds[2], 1 | 2) && weighted(&ds, &[1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1]) % 10 == 0
}

/// Thai national ID: 13 digits, first 1-8, check = (11 - sum d_i * (13 - i) mod 11) mod 10.
fn th_national_id(raw: &[u8]) -> bool {
    digits_of(raw, 13).is_some_and(|ds| {
        let sum = weighted(&ds, &[13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2]);
        (1..=8).contains(&ds[0]) && (11 - sum % 11) % 10 == u32::from(ds[12])
    })
}

/// Malaysian MyKad: birth date YYMMDD, place-of-birth code (never 00, 17-20, 69, 70, 73,
/// 80, 81, 94-97), serial.
fn my_mykad(raw: &[u8]) -> bool {
    digits_of(raw, 12).is_some_and(|ds| {
        let place = two(&ds, 6);
        month_day(two(&ds, 2), two(&ds, 4))
            && !matches!(place, 0 | 17..=20 | 69 | 70 | 73 | 80 | 81 | 94..=97)
    })
}

/// Indonesian NIK: province (11-94), regency, district, birth date DDMMYY (day +40 for
/// women), serial.
fn id_nik(raw: &[u8]) -> bool {
    digits_of(raw, 16).is_some_and(|ds| {
        (11..=94).contains(&two(&ds, 0)) && month_day(two(&ds, 8), two(&ds, 6) % 40)
    })
}

/// Saudi national ID / iqama: 1 (citizen) or 2 (resident), then 9 digits, Luhn.
fn sa_national_id(raw: &[u8]) -> bool {
    digits_of(raw, 10).is_some_and(|ds| matches!(ds[0], 1 | 2) && v::luhn(&ds))
}

/// Emirates ID: 784 (the UAE's ISO country code), birth year, serial, Luhn.
fn ae_emirates_id(raw: &[u8]) -> bool {
    digits_of(raw, 15).is_some_and(|ds| num(&ds[..3]) == 784 && v::luhn(&ds))
}

/// Russian INN: 10 digits (organisations, one check digit) or 12 (people, two), weights
/// from the Federal Tax Service, mod 11 mod 10.
fn ru_inn(raw: &[u8]) -> bool {
    let ds = v::digits(raw);
    if v::is_trivial_digits(&ds) {
        return false;
    }
    let check = |n: usize, w: &[u32]| weighted(&ds[..n], w) % 11 % 10 == u32::from(ds[n]);
    match ds.len() {
        10 => check(9, &[2, 4, 10, 3, 5, 9, 4, 6, 8]),
        12 => {
            check(10, &[7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
                && check(11, &[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
        }
        _ => false,
    }
}

/// Russian SNILS: 9 digits and a two-digit check: sum d_i * (9 - i), then mod 101 with 100
/// read as 00.
fn ru_snils(raw: &[u8]) -> bool {
    let Some(ds) = digits_of(raw, 11) else {
        return false;
    };
    let sum = weighted(&ds, &[9, 8, 7, 6, 5, 4, 3, 2, 1]);
    let check = if sum < 100 { sum } else { sum % 101 % 100 };
    num(&ds[..9]) > 1_001_998 && u64::from(check) == num(&ds[9..])
}

/// Ukrainian taxpayer number (RNOKPP): 10 digits, weights -1,5,7,9,4,6,10,5,7 mod 11 mod 10.
fn ua_tax_id(raw: &[u8]) -> bool {
    digits_of(raw, 10).is_some_and(|ds| {
        let sum: i32 = ds[..9]
            .iter()
            .zip([-1i32, 5, 7, 9, 4, 6, 10, 5, 7])
            .map(|(&d, w)| i32::from(d) * w)
            .sum();
        sum.rem_euclid(11) % 10 == i32::from(ds[9])
    })
}

/// Egyptian national ID: century (2 = 1900s, 3 = 2000s), birth date YYMMDD, governorate
/// (01-04, 11-19, 21-35, 88), serial, check digit.
fn eg_national_id(raw: &[u8]) -> bool {
    digits_of(raw, 14).is_some_and(|ds| {
        matches!(ds[0], 2 | 3)
            && month_day(two(&ds, 3), two(&ds, 5))
            && matches!(two(&ds, 7), 1..=4 | 11..=19 | 21..=35 | 88)
    })
}

/// New Zealand NHI number. Old format AAANNNC: letters (I and O excluded) numbered 1-24,
/// weights 7..2, 11 - r mod 11 (remainder 0 is never issued, 10 is 0). New format AAANNAX:
/// same weights, mod 24, the check a letter.
fn nz_nhi(raw: &[u8]) -> bool {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    let s = v::alnum_upper(raw);
    if s.len() != 7 {
        return false;
    }
    let value = |c: u8| -> Option<u32> {
        if c.is_ascii_digit() {
            Some(u32::from(c - b'0'))
        } else {
            LETTERS.iter().position(|&l| l == c).map(|p| p as u32 + 1)
        }
    };
    let mut sum = 0u32;
    for (i, &c) in s[..6].iter().enumerate() {
        let Some(x) = value(c) else { return false };
        sum += x * (7 - i as u32);
    }
    if s[5].is_ascii_digit() {
        let r = sum % 11;
        r != 0 && (11 - r) % 10 == u32::from(s[6].wrapping_sub(b'0'))
    } else {
        let r = sum % 24;
        r != 0 && LETTERS.get((23 - r) as usize) == Some(&s[6])
    }
}

/// New Zealand IRD number: 8 or 9 digits in 10,000,000-150,000,000; the base padded to 8
/// digits weighted 3,2,7,6,5,4,3,2 mod 11; on a check of 10, weights 7,4,3,2,5,2,7,6.
pub fn nz_ird(raw: &[u8]) -> bool {
    let ds = v::digits(raw);
    if !(8..=9).contains(&ds.len()) || !(10_000_000..=150_000_000).contains(&num(&ds)) {
        return false;
    }
    let Some((&check, body)) = ds.split_last() else {
        return false;
    };
    let mut base = vec![0u8; 8 - body.len()];
    base.extend_from_slice(body);
    for w in [[3u32, 2, 7, 6, 5, 4, 3, 2], [7, 4, 3, 2, 5, 2, 7, 6]] {
        let c = match weighted(&base, &w) % 11 {
            0 => 0,
            r => 11 - r,
        };
        if c != 10 {
            return c == u32::from(check);
        }
    }
    false
}

/// Indian GSTIN: state code, PAN, entity number, Z, and a check character mod 36 (values
/// 0-9 A-Z, factors 1,2 alternating, each product's base-36 digits summed).
fn in_gstin(raw: &[u8]) -> bool {
    let s = v::alnum_upper(raw);
    if s.len() != 15 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &c) in s[..14].iter().enumerate() {
        let Some(x) = alnum_value(c) else {
            return false;
        };
        let p = x * if i % 2 == 0 { 1 } else { 2 };
        sum += p / 36 + p % 36;
    }
    let state = v::digits(&s[..2]);
    alnum_value(s[14]) == Some((36 - sum % 36) % 36)
        && state.len() == 2
        && (1..=38).contains(&two(&state, 0))
}

/// A letter and a digit at least: German document numbers mix both.
fn has_letter_and_digit(raw: &[u8]) -> bool {
    raw.iter().any(u8::is_ascii_uppercase) && raw.iter().any(u8::is_ascii_digit)
}

pub const SPECS: &[Spec] = &[
    // ---------------------------------------------------------------- Austria
    Spec {
        examples: &["Sozialversicherungsnummer: 1237 010180", "SVNR 1237010180"],
        counter_examples: &["Sozialversicherungsnummer: 1238 010180", "SVNR 1237 011380"],
        ..checked(
            "at_social_security_number",
            "Austrian social security number",
            10,
            at_svnr,
            &[
                "sozialversicherungsnummer",
                "versicherungsnummer",
                "svnr",
                "vsnr",
                "sv-nummer",
                "austrian ssn",
                "e-card",
            ],
            r"\b([1-9]\d{3} ?\d{6})\b",
        )
    },
    Spec {
        examples: &["Steuernummer: 12-345/6782"],
        counter_examples: &["Steuernummer: 12-345/6783", "Steuernummer: 12-345/678"],
        ..checked(
            "at_tax_id",
            "Austrian tax number (Steuernummer)",
            9,
            |raw| luhn_of(raw, 9),
            &[
                "steuernummer",
                "abgabenkontonummer",
                "austrian tax",
                "finanzamt",
            ],
            r"\b(\d{2}-?\d{3}/?\d{4})\b",
        )
    },
    Spec {
        // The ATU prefix names the value.
        base: Confidence::Medium,
        examples: &["UID-Nummer ATU10223998", "VAT ATU57382914"],
        counter_examples: &["UID-Nummer ATU10223997", "ATU1022399"],
        ..checked(
            "at_vat_number",
            "Austrian VAT number (UID)",
            8,
            at_vat,
            &[
                "uid-nummer",
                "umsatzsteuer",
                "ust-idnr",
                "vat number",
                "vat no",
            ],
            r"\b(ATU ?\d{8})\b",
        )
    },
    Spec {
        examples: &["Reisepassnummer: P 4827103"],
        counter_examples: &["Reisepassnummer: P 482710"],
        ..shape(
            "at_passport",
            "Austrian passport number",
            7,
            &[
                "reisepass",
                "passnummer",
                "österreichischer pass",
                "Österreichischer pass",
                "austrian passport",
            ],
            r"\b([A-Z] ?\d{7})\b",
        )
    },
    Spec {
        examples: &["Führerscheinnummer 48271036"],
        counter_examples: &["Führerscheinnummer 4827103"],
        ..shape(
            "at_drivers_license",
            "Austrian driver's licence number",
            8,
            &[
                "führerschein",
                "fuhrerschein",
                "lenkberechtigung",
                "austrian driver",
            ],
            r"\b(\d{8})\b",
        )
    },
    // ---------------------------------------------------------------- Belgium
    Spec {
        examples: &["Paspoortnummer: EP482910"],
        counter_examples: &["Paspoortnummer: EP48291"],
        ..shape(
            "be_passport",
            "Belgian passport number",
            6,
            &[
                "paspoortnummer",
                "paspoort",
                "passeport belge",
                "numéro de passeport",
                "reisepass belgien",
                "belgian passport",
            ],
            r"\b([A-Z]{2} ?\d{6})\b",
        )
    },
    Spec {
        examples: &["Permis de conduire: 4827103615"],
        counter_examples: &["Permis de conduire: 482710361"],
        ..shape(
            "be_drivers_license",
            "Belgian driver's licence number",
            10,
            &[
                "permis de conduire",
                "rijbewijs nr",
                "belgisch rijbewijs",
                "belgian driver",
            ],
            r"\b(\d{10})\b",
        )
    },
    Spec {
        base: Confidence::Medium,
        examples: &["BTW-nummer BE 0403.123.486", "numéro de TVA BE0876543270"],
        counter_examples: &["BTW-nummer BE 0403.123.487", "BE 2403.123.486"],
        ..checked(
            "be_vat_number",
            "Belgian enterprise / VAT number",
            9,
            be_vat,
            &[
                "btw-nummer",
                "btw nummer",
                "ondernemingsnummer",
                "numéro de tva",
                "numéro d'entreprise",
                "vat number",
                "enterprise number",
            ],
            r"\b(BE ?[01]\d{3}\.?\d{3}\.?\d{3})\b",
        )
    },
    // ---------------------------------------------------------------- Bulgaria
    Spec {
        examples: &["ЕГН: 7503169269", "uniform civil number 7503169269"],
        counter_examples: &["ЕГН: 7503169268", "ЕГН: 7513169261"],
        ..checked(
            "bg_egn",
            "Bulgarian uniform civil number (EGN)",
            10,
            bg_egn,
            &[
                "егн",
                "Егн",
                "ЕГН",
                "единен граждански номер",
                "Единен граждански номер",
                "uniform civil number",
                "bulgarian personal number",
                "личен номер",
                "Личен номер",
            ],
            r"\b(\d{10})\b",
        )
    },
    Spec {
        examples: &["Номер на паспорт: 384920175"],
        counter_examples: &["Номер на паспорт: 38492017"],
        ..shape(
            "bg_passport",
            "Bulgarian passport number",
            9,
            &[
                "номер на паспорт",
                "Номер на паспорт",
                "български паспорт",
                "Български паспорт",
                "bulgarian passport",
            ],
            r"\b(\d{9})\b",
        )
    },
    Spec {
        examples: &["Шофьорска книжка № 284910376"],
        counter_examples: &["Шофьорска книжка № 28491037"],
        ..shape(
            "bg_drivers_license",
            "Bulgarian driver's licence number",
            9,
            &[
                "шофьорска книжка",
                "Шофьорска книжка",
                "свидетелство за управление",
                "Свидетелство за управление",
                "bulgarian driver",
            ],
            r"\b(\d{9})\b",
        )
    },
    Spec {
        examples: &["Лична карта № 648201937"],
        counter_examples: &["Лична карта № 64820193"],
        ..shape(
            "bg_id_card",
            "Bulgarian identity card number",
            9,
            &[
                "лична карта",
                "Лична карта",
                "номер на лична карта",
                "Номер на лична карта",
                "bulgarian identity card",
            ],
            r"\b(\d{9})\b",
        )
    },
    // ---------------------------------------------------------------- Croatia
    Spec {
        examples: &[
            "OIB: 69656572823",
            "osobni identifikacijski broj 69656572823",
        ],
        counter_examples: &["OIB: 69656572824", "OIB: 6965657282"],
        ..checked(
            "hr_oib",
            "Croatian personal identification number (OIB)",
            11,
            hr_oib,
            &[
                "oib",
                "osobni identifikacijski broj",
                "osobnog identifikacijskog broja",
                "croatian pin",
            ],
            r"\b(\d{11})\b",
        )
    },
    Spec {
        examples: &["Broj osobne iskaznice: 104829371"],
        counter_examples: &["Broj osobne iskaznice: 10482937"],
        ..shape(
            "hr_id_card",
            "Croatian identity card number",
            9,
            &[
                "osobna iskaznica",
                "osobne iskaznice",
                "croatian identity card",
            ],
            r"\b(\d{9})\b",
        )
    },
    Spec {
        examples: &["Broj putovnice: 117482930"],
        counter_examples: &["Broj putovnice: 11748293"],
        ..shape(
            "hr_passport",
            "Croatian passport number",
            9,
            &["putovnica", "putovnice", "croatian passport"],
            r"\b(\d{9})\b",
        )
    },
    Spec {
        examples: &["Vozačka dozvola: 12837465"],
        counter_examples: &["Vozačka dozvola: 1283746"],
        ..shape(
            "hr_drivers_license",
            "Croatian driver's licence number",
            8,
            &[
                "vozačka dozvola",
                "vozacka dozvola",
                "vozačke dozvole",
                "croatian driver",
            ],
            r"\b(\d{8})\b",
        )
    },
    // ---------------------------------------------------------------- Cyprus
    Spec {
        examples: &["Αριθμός ταυτότητας 0010482913"],
        counter_examples: &["Αριθμός ταυτότητας 001048291"],
        ..shape(
            "cy_id_card",
            "Cypriot identity card number",
            10,
            &[
                "ταυτότητα",
                "Ταυτότητα",
                "ταυτότητας",
                "Ταυτότητας",
                "cypriot identity card",
                "cyprus id card",
            ],
            r"\b(\d{10})\b",
        )
    },
    Spec {
        examples: &["Cyprus tax identification code 10259033P"],
        counter_examples: &["Cyprus tax identification code 10259033Q", "TIC 20259033P"],
        ..checked(
            "cy_tin",
            "Cypriot tax identification code (TIC)",
            8,
            cy_tin,
            &[
                "φορολογικού μητρώου",
                "Φορολογικού μητρώου",
                "φορολογική ταυτότητα",
                "Φορολογική ταυτότητα",
                "tax identification code",
                "cyprus tin",
                "cyprus tax",
            ],
            r"\b(\d{8}[A-Z])\b",
        )
    },
    Spec {
        examples: &["Αριθμός διαβατηρίου K00482913"],
        counter_examples: &["Αριθμός διαβατηρίου K00482"],
        ..shape(
            "cy_passport",
            "Cypriot passport number",
            6,
            &[
                "διαβατηρίου",
                "Διαβατηρίου",
                "διαβατήριο",
                "Διαβατήριο",
                "cyprus passport",
                "cypriot passport",
            ],
            r"\b([A-Z]\d{6,8})\b",
        )
    },
    Spec {
        examples: &["Άδεια οδήγησης 104829374652"],
        counter_examples: &["Άδεια οδήγησης 10482937465"],
        ..shape(
            "cy_drivers_license",
            "Cypriot driver's licence number",
            12,
            &[
                "άδεια οδήγησης",
                "Άδεια οδήγησης",
                "άδειας οδήγησης",
                "Άδειας οδήγησης",
                "cyprus driver",
                "cypriot driver",
            ],
            r"\b(\d{12})\b",
        )
    },
    // ---------------------------------------------------------------- Czechia, Slovakia
    Spec {
        examples: &["Rodné číslo: 855312/4569", "rodne cislo 8553124569"],
        counter_examples: &["Rodné číslo: 855312/4568", "Rodné číslo: 854312/4569"],
        ..checked(
            "cz_birth_number",
            "Czech birth number (rodné číslo)",
            9,
            cz_birth_number,
            &[
                "rodné číslo",
                "rodne cislo",
                "rodného čísla",
                "czech birth number",
                "personal identification number cz",
            ],
            r"\b(\d{6}/?\d{3,4})\b",
        )
    },
    Spec {
        examples: &["Číslo pasu: 40482913"],
        counter_examples: &["Číslo pasu: 4048291"],
        ..shape(
            "cz_passport",
            "Czech passport number",
            8,
            &[
                "číslo pasu",
                "Číslo pasu",
                "cestovní pas",
                "cestovni pas",
                "czech passport",
            ],
            r"\b(\d{8})\b",
        )
    },
    Spec {
        examples: &["Řidičský průkaz EA 482910"],
        counter_examples: &["Řidičský průkaz EA 48291"],
        ..shape(
            "cz_drivers_license",
            "Czech driver's licence number",
            6,
            &[
                "řidičský průkaz",
                "Řidičský průkaz",
                "ridicsky prukaz",
                "řidičského průkazu",
                "Řidičského průkazu",
                "czech driver",
            ],
            r"\b([A-Z]{2} ?\d{6})\b",
        )
    },
    Spec {
        examples: &["Občanský průkaz č. 204829371"],
        counter_examples: &["Občanský průkaz č. 20482937"],
        ..shape(
            "cz_id_card",
            "Czech identity card number",
            9,
            &[
                "občanský průkaz",
                "obcansky prukaz",
                "občanského průkazu",
                "czech identity card",
            ],
            r"\b(\d{9})\b",
        )
    },
    Spec {
        examples: &[
            "Slovak birth number 900105/1235",
            "Slovak birth number: 9001051235",
        ],
        counter_examples: &["Slovak birth number 900105/1236"],
        ..checked(
            "sk_birth_number",
            "Slovak birth number (rodné číslo)",
            9,
            cz_birth_number,
            &[
                "slovak birth number",
                "slovenské rodné číslo",
                "slovenske rodne cislo",
                "rodného čísla sr",
            ],
            r"\b(\d{6}/?\d{3,4})\b",
        )
    },
    Spec {
        examples: &["Cestovný pas: EA4829103"],
        counter_examples: &["Cestovný pas: EA482910"],
        ..shape(
            "sk_passport",
            "Slovak passport number",
            7,
            &[
                "cestovný pas",
                "cestovny pas",
                "cestovného pasu",
                "slovak passport",
            ],
            r"\b([A-Z]{2}\d{7})\b",
        )
    },
    Spec {
        examples: &["Vodičský preukaz: S1482930"],
        counter_examples: &["Vodičský preukaz: S148293"],
        ..shape(
            "sk_drivers_license",
            "Slovak driver's licence number",
            7,
            &[
                "vodičský preukaz",
                "vodicsky preukaz",
                "vodičského preukazu",
                "slovak driver",
            ],
            r"\b([A-Z]\d{7})\b",
        )
    },
    // ---------------------------------------------------------------- Denmark
    Spec {
        examples: &["Pasnummer 204829371"],
        counter_examples: &["Pasnummer 20482937"],
        ..shape(
            "dk_passport",
            "Danish passport number",
            9,
            &["pasnummer", "dansk pas", "danish passport"],
            r"\b(\d{9})\b",
        )
    },
    Spec {
        examples: &["Kørekortnummer 20482937"],
        counter_examples: &["Kørekortnummer 2048293"],
        ..shape(
            "dk_drivers_license",
            "Danish driver's licence number",
            8,
            &["kørekort", "korekort", "danish driver"],
            r"\b(\d{8})\b",
        )
    },
    // ---------------------------------------------------------------- Estonia
    Spec {
        examples: &["Isikukood 38503121236", "isikukood: 60101010006"],
        counter_examples: &["Isikukood 38503121237", "Isikukood 98503121236"],
        ..checked(
            "ee_isikukood",
            "Estonian personal identification code (isikukood)",
            11,
            ee_isikukood,
            &[
                "isikukood",
                "isikukoodi",
                "personal identification code",
                "estonian personal code",
            ],
            r"\b([1-8]\d{10})\b",
        )
    },
    Spec {
        examples: &["Passi number: KE4829103"],
        counter_examples: &["Passi number: KE482910"],
        ..shape(
            "ee_passport",
            "Estonian passport number",
            7,
            &["passi number", "eesti pass", "estonian passport"],
            r"\b([A-Z]{1,2}\d{7})\b",
        )
    },
    Spec {
        examples: &["Juhiluba: ET482910"],
        counter_examples: &["Juhiluba: ET48291"],
        ..shape(
            "ee_drivers_license",
            "Estonian driver's licence number",
            6,
            &["juhiluba", "juhiloa", "estonian driver"],
            r"\b([A-Z]{2}\d{6})\b",
        )
    },
    // ---------------------------------------------------------------- Finland
    Spec {
        examples: &["Passinumero: FP4829103"],
        counter_examples: &["Passinumero: FP482910"],
        ..shape(
            "fi_passport",
            "Finnish passport number",
            7,
            &[
                "passinumero",
                "passin numero",
                "suomen passi",
                "finnish passport",
            ],
            r"\b([A-Z]{2}\d{7})\b",
        )
    },
    Spec {
        examples: &["Y-tunnus 2034567-1", "business id 1572860-0"],
        counter_examples: &["Y-tunnus 2034567-2"],
        ..checked(
            "fi_business_id",
            "Finnish business ID (Y-tunnus)",
            8,
            fi_business_id,
            &[
                "y-tunnus",
                "ytunnus",
                "business id",
                "fo-nummer",
                "företags- och organisationsnummer",
            ],
            r"\b(\d{7}-\d)\b",
        )
    },
    // ---------------------------------------------------------------- France
    Spec {
        examples: &["Carte nationale d'identité n° 482910375612"],
        counter_examples: &["Carte nationale d'identité n° 48291037561"],
        ..shape(
            "fr_id_card",
            "French national identity card number (CNI)",
            12,
            &[
                "carte nationale d'identité",
                "carte nationale d'identite",
                "carte d'identité",
                "french id card",
            ],
            r"\b(\d{12})\b",
        )
    },
    Spec {
        examples: &["Numéro de passeport : 18AB48291"],
        counter_examples: &["Numéro de passeport : 18AB4829"],
        ..shape(
            "fr_passport",
            "French passport number",
            7,
            &["passeport", "numéro de passeport", "french passport"],
            r"\b(\d{2}[A-Z]{2}\d{5})\b",
        )
    },
    Spec {
        examples: &["Numéro de permis de conduire : 120675304821"],
        counter_examples: &["Numéro de permis de conduire : 12067530482"],
        ..shape(
            "fr_drivers_license",
            "French driver's licence number",
            12,
            &["permis de conduire", "numéro de permis", "french driver"],
            r"\b(\d{12})\b",
        )
    },
    Spec {
        examples: &[
            "Numéro fiscal : 30 23 217 600 053",
            "numéro SPI 3023217600053",
        ],
        counter_examples: &[
            "Numéro fiscal : 30 23 217 600 054",
            "Numéro fiscal : 5023217600053",
        ],
        ..checked(
            "fr_tax_id",
            "French tax identification number (numéro fiscal / SPI)",
            13,
            fr_tax_id,
            &[
                "numéro fiscal",
                "numero fiscal",
                "identifiant fiscal",
                "numéro spi",
                "french tax id",
                "n° fiscal",
            ],
            r"\b([0-3]\d ?\d{2} ?\d{3} ?\d{3} ?\d{3})\b",
        )
    },
    // ---------------------------------------------------------------- Germany
    Spec {
        validate: Some(has_letter_and_digit),
        // Up to eight letters before a digit.
        reach_back: 9,
        examples: &["Personalausweis Nr. L01X00T47", "Ausweisnummer: T22000129"],
        counter_examples: &["Ausweisnummer: T2200012", "Ausweisnummer: TXXXXXXXX"],
        ..shape(
            "de_id_card",
            "German identity card number (Personalausweis)",
            1,
            &[
                "personalausweis",
                "ausweisnummer",
                "ausweis-nr",
                "ausweis nr",
                "identitätskarte",
                "german identity card",
            ],
            r"\b([LMNPRTVWXY][0-9CFGHJKLMNPRTVWXYZ]{8})\b",
        )
    },
    Spec {
        validate: Some(has_letter_and_digit),
        examples: &["Führerscheinnummer B072RRE2I55"],
        counter_examples: &["Führerscheinnummer B072RRE2I5"],
        ..shape(
            "de_drivers_license",
            "German driver's licence number",
            3,
            &[
                "führerscheinnummer",
                "führerschein-nr",
                "fahrerlaubnis",
                "german driver",
            ],
            r"\b([A-Z0-9]\d{2}[A-Z0-9]{6}\d[A-Z0-9])\b",
        )
    },
    Spec {
        examples: &[
            "Sozialversicherungsnummer 65 180539 M 009",
            "Rentenversicherungsnummer: 12010190A124",
        ],
        counter_examples: &[
            "Sozialversicherungsnummer 65 180539 M 008",
            "Rentenversicherungsnummer: 12013390A124",
        ],
        ..checked(
            "de_social_security_number",
            "German social insurance number (Rentenversicherungsnummer)",
            11,
            de_svnr,
            &[
                "sozialversicherungsnummer",
                "rentenversicherungsnummer",
                "versicherungsnummer",
                "sv-nummer",
                "rvnr",
                "german social security",
            ],
            r"\b(\d{2} ?\d{6} ?[A-Z] ?\d{3})\b",
        )
    },
    // ---------------------------------------------------------------- Greece
    Spec {
        examples: &["ΑΜΚΑ: 01038512347", "AMKA 01038512347"],
        counter_examples: &["ΑΜΚΑ: 01038512348", "ΑΜΚΑ: 01138512340"],
        ..checked(
            "gr_amka",
            "Greek social security number (AMKA)",
            11,
            gr_amka,
            &[
                "αμκα",
                "Αμκα",
                "ΑΜΚΑ",
                "amka",
                "αριθμός μητρώου κοινωνικής ασφάλισης",
                "Αριθμός μητρώου κοινωνικής ασφάλισης",
                "greek social security",
            ],
            r"\b(\d{11})\b",
        )
    },
    Spec {
        examples: &["ΑΦΜ: 094477963", "Greek tax number 094477963"],
        counter_examples: &["ΑΦΜ: 094477964"],
        ..checked(
            "gr_afm",
            "Greek tax identification number (AFM)",
            9,
            gr_afm,
            &[
                "αφμ",
                "Αφμ",
                "ΑΦΜ",
                "α.φ.μ",
                "Α.φ.μ",
                "Α.Φ.Μ",
                "αριθμός φορολογικού μητρώου",
                "Αριθμός φορολογικού μητρώου",
                "greek tax number",
                "greek tin",
            ],
            r"\b(\d{9})\b",
        )
    },
    Spec {
        examples: &["Αριθμός δελτίου ταυτότητας: AK 482910"],
        counter_examples: &["Αριθμός δελτίου ταυτότητας: AK 48291"],
        ..shape(
            "gr_id_card",
            "Greek identity card number",
            6,
            &[
                "δελτίου ταυτότητας",
                "Δελτίου ταυτότητας",
                "δελτίο ταυτότητας",
                "Δελτίο ταυτότητας",
                "greek id card",
                "greek identity card",
            ],
            r"\b([A-Z]{1,2}[ -]?\d{6})\b",
        )
    },
    Spec {
        examples: &["Αριθμός διαβατηρίου: AE 4829103"],
        counter_examples: &["Αριθμός διαβατηρίου: AE 482910"],
        ..shape(
            "gr_passport",
            "Greek passport number",
            7,
            &[
                "διαβατηρίου",
                "Διαβατηρίου",
                "διαβατήριο",
                "Διαβατήριο",
                "greek passport",
            ],
            r"\b([A-Z]{2} ?\d{7})\b",
        )
    },
    // ---------------------------------------------------------------- Hungary
    Spec {
        examples: &["Adóazonosító jel: 8374562358"],
        counter_examples: &[
            "Adóazonosító jel: 8374562357",
            "Adóazonosító jel: 7374562358",
        ],
        ..checked(
            "hu_tax_id",
            "Hungarian tax identification number (adóazonosító jel)",
            10,
            hu_tax_id,
            &[
                "adóazonosító",
                "adoazonosito",
                "adóazonosító jel",
                "hungarian tax",
            ],
            r"\b(8\d{9})\b",
        )
    },
    Spec {
        examples: &["TAJ szám: 111 222 337"],
        counter_examples: &["TAJ szám: 111 222 338"],
        ..checked(
            "hu_taj",
            "Hungarian social security number (TAJ)",
            9,
            hu_taj,
            &[
                "taj szám",
                "taj-szám",
                "tajszám",
                "taj szam",
                "társadalombiztosítási azonosító",
                "hungarian social security",
            ],
            r"\b(\d{3} ?\d{3} ?\d{3})\b",
        )
    },
    Spec {
        examples: &[
            "Személyi szám: 1 850312 1239",
            "személyi azonosító 30101011238",
        ],
        counter_examples: &[
            "Személyi szám: 1 850312 1238",
            "Személyi szám: 9 850312 1239",
        ],
        ..checked(
            "hu_personal_id",
            "Hungarian personal identification number (személyi szám)",
            11,
            hu_personal_id,
            &[
                "személyi szám",
                "szemelyi szam",
                "személyi azonosító",
                "szemelyi azonosito",
                "hungarian personal",
            ],
            r"\b([1-8] ?\d{6} ?\d{4})\b",
        )
    },
    Spec {
        examples: &["Útlevélszám: FA482910"],
        counter_examples: &["Útlevélszám: FA48291"],
        ..shape(
            "hu_passport",
            "Hungarian passport number",
            6,
            &[
                "útlevél",
                "Útlevél",
                "útlevélszám",
                "Útlevélszám",
                "utlevel",
                "hungarian passport",
            ],
            r"\b([A-Z]{2}\d{6,7})\b",
        )
    },
    Spec {
        examples: &["Vezetői engedély: MB482910"],
        counter_examples: &["Vezetői engedély: MB48291"],
        ..shape(
            "hu_drivers_license",
            "Hungarian driver's licence number",
            6,
            &[
                "vezetői engedély",
                "vezetoi engedely",
                "jogosítvány",
                "jogositvany",
                "hungarian driver",
            ],
            r"\b([A-Z]{2}\d{6})\b",
        )
    },
    // ---------------------------------------------------------------- Ireland
    Spec {
        examples: &["Uimhir pas: PA4829103"],
        counter_examples: &["Uimhir pas: PA482910"],
        ..shape(
            "ie_passport",
            "Irish passport number",
            7,
            &["uimhir pas", "pas éireannach", "irish passport"],
            r"\b([A-Z]{2} ?\d{7})\b",
        )
    },
    // ---------------------------------------------------------------- Italy
    Spec {
        examples: &["Numero passaporto: YA4829103"],
        counter_examples: &["Numero passaporto: YA482910"],
        ..shape(
            "it_passport",
            "Italian passport number",
            7,
            &["passaporto", "numero passaporto", "italian passport"],
            r"\b([A-Z]{2}\d{7})\b",
        )
    },
    Spec {
        examples: &["Patente di guida: U14829103K"],
        counter_examples: &["Patente di guida: U1482910K"],
        ..shape(
            "it_drivers_license",
            "Italian driver's licence number",
            7,
            &[
                "patente di guida",
                "numero patente",
                "n. patente",
                "italian driver",
            ],
            r"\b([A-Z][A-Z0-9]\d{7}[A-Z])\b",
        )
    },
    Spec {
        examples: &["Carta d'identità CA48291BX"],
        counter_examples: &["Carta d'identità CA4829BX"],
        ..shape(
            "it_id_card",
            "Italian electronic identity card number (CIE)",
            5,
            &[
                "carta d'identità",
                "carta di identità",
                "carta d'identita",
                "italian identity card",
            ],
            r"\b(C[A-Z]\d{5}[A-Z]{2})\b",
        )
    },
    Spec {
        examples: &["Partita IVA: IT12345670553", "P.IVA 12345670553"],
        counter_examples: &["Partita IVA: 12345670554", "Partita IVA: 00123456782"],
        ..checked(
            "it_vat_number",
            "Italian VAT number (partita IVA)",
            11,
            it_vat,
            &[
                "partita iva",
                "p.iva",
                "p. iva",
                "codice iva",
                "italian vat",
            ],
            r"\b((?:IT ?)?\d{11})\b",
        )
    },
    // ---------------------------------------------------------------- Latvia
    Spec {
        examples: &["Personas kods: 120385-12342", "personas kods 321111-11114"],
        counter_examples: &["Personas kods: 120385-12343", "Personas kods: 121385-12342"],
        ..checked(
            "lv_personal_code",
            "Latvian personal code (personas kods)",
            11,
            lv_personal_code,
            &["personas kods", "personas koda", "latvian personal code"],
            r"\b(\d{6}-?\d{5})\b",
        )
    },
    Spec {
        examples: &["Pases numurs: LV4829103"],
        counter_examples: &["Pases numurs: LV482910"],
        ..shape(
            "lv_passport",
            "Latvian passport number",
            7,
            &["pases numurs", "latvijas pase", "latvian passport"],
            r"\b([A-Z]{2}\d{7})\b",
        )
    },
    Spec {
        examples: &["Vadītāja apliecība: AKR482910"],
        counter_examples: &["Vadītāja apliecība: AKR48291"],
        ..shape(
            "lv_drivers_license",
            "Latvian driver's licence number",
            6,
            &["vadītāja apliecība", "vaditaja aplieciba", "latvian driver"],
            r"\b([A-Z]{3}\d{6})\b",
        )
    },
    // ---------------------------------------------------------------- Lithuania
    Spec {
        examples: &["Asmens kodas: 49001052340"],
        counter_examples: &["Asmens kodas: 49001052341", "Asmens kodas: 79001052340"],
        ..checked(
            "lt_personal_code",
            "Lithuanian personal code (asmens kodas)",
            11,
            lt_personal_code,
            &["asmens kodas", "asmens kodo", "lithuanian personal code"],
            r"\b([1-6]\d{10})\b",
        )
    },
    Spec {
        examples: &["Paso numeris: 20482913"],
        counter_examples: &["Paso numeris: 2048291"],
        ..shape(
            "lt_passport",
            "Lithuanian passport number",
            8,
            &["paso numeris", "lietuvos pasas", "lithuanian passport"],
            r"\b(\d{8})\b",
        )
    },
    Spec {
        examples: &["Vairuotojo pažymėjimas 30482917"],
        counter_examples: &["Vairuotojo pažymėjimas 3048291"],
        ..shape(
            "lt_drivers_license",
            "Lithuanian driver's licence number",
            8,
            &[
                "vairuotojo pažymėjimas",
                "vairuotojo pazymejimas",
                "lithuanian driver",
            ],
            r"\b(\d{8})\b",
        )
    },
    // ---------------------------------------------------------------- Luxembourg
    Spec {
        examples: &[
            "Matricule: 1983 0312 12324",
            "numéro d'identification national 1999010100090",
        ],
        counter_examples: &["Matricule: 1983 0312 12325", "Matricule: 1983 1312 12324"],
        ..checked(
            "lu_national_id",
            "Luxembourg national identification number (matricule)",
            13,
            lu_national_id,
            &[
                "matricule",
                "numéro d'identification national",
                "identifiant national",
                "sozialversicherungsnummer lu",
                "luxembourg national id",
            ],
            r"\b(\d{4} ?\d{4} ?\d{5})\b",
        )
    },
    Spec {
        validate: Some(has_letter_and_digit),
        examples: &["Passeport luxembourgeois: JH48T291"],
        counter_examples: &["Passeport luxembourgeois: JH48T29"],
        ..shape(
            "lu_passport",
            "Luxembourg passport number",
            1,
            &[
                "passeport luxembourgeois",
                "luxemburgischer reisepass",
                "luxembourg passport",
            ],
            r"\b([A-Z]{2}[A-Z0-9]{6})\b",
        )
    },
    Spec {
        examples: &["Permis de conduire luxembourgeois 482910"],
        counter_examples: &["Permis de conduire luxembourgeois 48291"],
        ..shape(
            "lu_drivers_license",
            "Luxembourg driver's licence number",
            6,
            &[
                "permis de conduire luxembourgeois",
                "luxemburgischer führerschein",
                "luxembourg driver",
            ],
            r"\b(\d{6})\b",
        )
    },
    // ---------------------------------------------------------------- Malta
    Spec {
        examples: &["Karta tal-identità: 0482910M"],
        counter_examples: &["Karta tal-identità: 0482910X"],
        ..shape(
            "mt_id_card",
            "Maltese identity card number",
            7,
            &[
                "karta tal-identità",
                "karta tal-identita",
                "maltese identity card",
                "malta id card",
            ],
            r"\b(\d{7}[MGAPLHBZ])\b",
        )
    },
    Spec {
        examples: &["Numru tal-passaport: 1048291"],
        counter_examples: &["Numru tal-passaport: 104829"],
        ..shape(
            "mt_passport",
            "Maltese passport number",
            7,
            &["tal-passaport", "passaport malti", "maltese passport"],
            r"\b(\d{7})\b",
        )
    },
    // ---------------------------------------------------------------- Netherlands
    Spec {
        examples: &[
            "Paspoortnummer: NXC4829P1",
            "documentnummer identiteitskaart IR57BK3F6",
        ],
        counter_examples: &["Paspoortnummer: NXC4829PA", "Paspoortnummer: NO57BK3F6"],
        ..shape(
            "nl_passport",
            "Dutch passport / identity card number",
            1,
            &[
                "paspoortnummer",
                "identiteitskaart",
                "documentnummer",
                "dutch passport",
            ],
            r"\b([A-NP-Z]{2}[A-NP-Z0-9]{6}\d)\b",
        )
    },
    Spec {
        examples: &["Rijbewijsnummer 4829103756"],
        counter_examples: &["Rijbewijsnummer 482910375"],
        ..shape(
            "nl_drivers_license",
            "Dutch driver's licence number",
            10,
            &["rijbewijsnummer", "rijbewijs", "dutch driver"],
            r"\b(\d{10})\b",
        )
    },
    // ---------------------------------------------------------------- Poland
    Spec {
        examples: &["Numer NIP: 123-456-32-18", "NIP: 1234563218"],
        counter_examples: &["Numer NIP: 123-456-32-19"],
        ..checked(
            "pl_nip",
            "Polish tax identification number (NIP)",
            10,
            pl_nip,
            &[
                "numer nip",
                "nip:",
                "nip nr",
                "numer identyfikacji podatkowej",
                "polish tax",
            ],
            r"\b(\d{3}-?\d{3}-?\d{2}-?\d{2}|\d{3}-\d{2}-\d{2}-\d{3})\b",
        )
    },
    Spec {
        examples: &["REGON 123456785"],
        counter_examples: &["REGON 123456786"],
        ..checked(
            "pl_regon",
            "Polish business registry number (REGON)",
            9,
            pl_regon,
            &["regon", "numer regon"],
            r"\b(\d{9}|\d{14})\b",
        )
    },
    Spec {
        examples: &["Dowód osobisty: ABS012345", "numer dowodu AXB 754321"],
        counter_examples: &["Dowód osobisty: ABS112345"],
        ..checked(
            "pl_id_card",
            "Polish identity card number (dowód osobisty)",
            6,
            pl_id_card,
            &[
                "dowód osobisty",
                "dowod osobisty",
                "dowodu osobistego",
                "numer dowodu",
                "polish identity card",
            ],
            r"\b([A-Z]{3} ?\d{6})\b",
        )
    },
    Spec {
        examples: &["Numer paszportu: EK9123456"],
        counter_examples: &["Numer paszportu: EK8123456"],
        ..checked(
            "pl_passport",
            "Polish passport number",
            7,
            pl_passport,
            &["paszport", "numer paszportu", "polish passport"],
            r"\b([A-Z]{2} ?\d{7})\b",
        )
    },
    // ---------------------------------------------------------------- Portugal
    Spec {
        examples: &[
            "Número de contribuinte: 234 567 899",
            "NIF (contribuinte) 234567899",
        ],
        counter_examples: &[
            "Número de contribuinte: 234 567 898",
            "Número de contribuinte: 434567899",
        ],
        ..checked(
            "pt_nif",
            "Portuguese tax identification number (NIF)",
            9,
            pt_nif,
            &[
                "contribuinte",
                "número de identificação fiscal",
                "numero de identificacao fiscal",
                "portuguese tax",
            ],
            r"\b(\d{9}|\d{3} \d{3} \d{3})\b",
        )
    },
    Spec {
        examples: &[
            "Cartão de Cidadão n.º 15497361 8 ZZ1",
            "cartao de cidadao 123456789ZX5",
        ],
        counter_examples: &["Cartão de Cidadão n.º 15497361 8 ZZ2"],
        ..checked(
            "pt_citizen_card",
            "Portuguese citizen card number (cartão de cidadão)",
            9,
            pt_cc,
            &[
                "cartão de cidadão",
                "cartao de cidadao",
                "citizen card",
                "número de documento",
            ],
            r"\b(\d{8} ?\d ?[A-Z]{2}\d)\b",
        )
    },
    Spec {
        examples: &["Número do passaporte: P482910"],
        counter_examples: &["Número do passaporte: P48291"],
        ..shape(
            "pt_passport",
            "Portuguese passport number",
            6,
            &["passaporte", "número do passaporte", "portuguese passport"],
            r"\b([A-Z]\d{6})\b",
        )
    },
    Spec {
        examples: &["Carta de condução: L-482910 3"],
        counter_examples: &["Carta de condução: L-48291 3"],
        ..shape(
            "pt_drivers_license",
            "Portuguese driver's licence number",
            7,
            &[
                "carta de condução",
                "carta de conducao",
                "portuguese driver",
            ],
            r"\b([A-Z]{1,2}-?\d{6} ?\d)\b",
        )
    },
    // ---------------------------------------------------------------- Romania
    Spec {
        examples: &["CNP: 1850312123457", "cod numeric personal 2850312400161"],
        counter_examples: &["CNP: 1850312123458", "CNP: 1851312123457"],
        ..checked(
            "ro_cnp",
            "Romanian personal numeric code (CNP)",
            13,
            ro_cnp,
            &[
                "cnp",
                "cod numeric personal",
                "codul numeric personal",
                "romanian personal code",
            ],
            r"\b([1-9]\d{12})\b",
        )
    },
    Spec {
        examples: &["Număr pașaport: 054829103"],
        counter_examples: &["Număr pașaport: 0548291"],
        ..shape(
            "ro_passport",
            "Romanian passport number",
            8,
            &[
                "pașaport",
                "paşaport",
                "număr pașaport",
                "romanian passport",
            ],
            r"\b(\d{8,9})\b",
        )
    },
    Spec {
        examples: &["Permis de conducere: B04829103"],
        counter_examples: &["Permis de conducere: B0482910"],
        ..shape(
            "ro_drivers_license",
            "Romanian driver's licence number",
            8,
            &[
                "permis de conducere",
                "permisul de conducere",
                "romanian driver",
            ],
            r"\b([A-Z]\d{8})\b",
        )
    },
    // ---------------------------------------------------------------- Slovenia
    Spec {
        examples: &[
            "EMŠO: 1203985500128",
            "enotna matična številka občana 1203985500128",
        ],
        counter_examples: &["EMŠO: 1203985500129", "EMŠO: 1213985500126"],
        ..checked(
            "si_emso",
            "Slovenian unique master citizen number (EMŠO)",
            13,
            si_emso,
            &[
                "emšo",
                "EMŠO",
                "emso",
                "enotna matična številka",
                "maticna stevilka",
                "jmbg",
            ],
            r"\b(\d{13})\b",
        )
    },
    Spec {
        examples: &["Davčna številka: 15598110", "davcna stevilka 56789122"],
        counter_examples: &["Davčna številka: 15598111"],
        ..checked(
            "si_tax_id",
            "Slovenian tax number (davčna številka)",
            8,
            si_tax_id,
            &[
                "davčna številka",
                "davcna stevilka",
                "davčne številke",
                "slovenian tax",
            ],
            r"\b(\d{8})\b",
        )
    },
    Spec {
        examples: &["Številka potnega lista: PB4829103"],
        counter_examples: &["Številka potnega lista: PB482910"],
        ..shape(
            "si_passport",
            "Slovenian passport number",
            7,
            &["potni list", "potnega lista", "slovenian passport"],
            r"\b([A-Z]{2}\d{7})\b",
        )
    },
    Spec {
        examples: &["Vozniško dovoljenje: 004829103"],
        counter_examples: &["Vozniško dovoljenje: 00482910"],
        ..shape(
            "si_drivers_license",
            "Slovenian driver's licence number",
            9,
            &[
                "vozniško dovoljenje",
                "voznisko dovoljenje",
                "slovenian driver",
            ],
            r"\b(\d{9})\b",
        )
    },
    // ---------------------------------------------------------------- Spain
    Spec {
        examples: &[
            "Número de la Seguridad Social: 28/12345678/40",
            "seguridad social 281234567840",
        ],
        counter_examples: &[
            "Número de la Seguridad Social: 28/12345678/41",
            "Número de la Seguridad Social: 78/12345678/40",
        ],
        ..checked(
            "es_social_security_number",
            "Spanish social security number",
            12,
            es_ssn,
            &[
                "seguridad social",
                "número de afiliación",
                "numero de afiliacion",
                "spanish social security",
            ],
            r"\b(\d{2}[ /]?\d{8}[ /]?\d{2})\b",
        )
    },
    Spec {
        examples: &["Número de pasaporte: PAA482910"],
        counter_examples: &["Número de pasaporte: PAA48291"],
        ..shape(
            "es_passport",
            "Spanish passport number",
            6,
            &["pasaporte", "número de pasaporte", "spanish passport"],
            r"\b([A-Z]{3}\d{6})\b",
        )
    },
    Spec {
        examples: &[
            "Código de identificación fiscal B58095761",
            "CIF: Q2826000H",
        ],
        counter_examples: &["Código de identificación fiscal B58095762"],
        ..checked(
            "es_cif",
            "Spanish company tax code (CIF)",
            7,
            es_cif,
            &[
                "código de identificación fiscal",
                "codigo de identificacion fiscal",
                "cif:",
                "nif de empresa",
            ],
            r"\b([ABCDEFGHJNPQRSUVW]-?\d{7}-?[0-9A-J])\b",
        )
    },
    // ---------------------------------------------------------------- Sweden
    Spec {
        examples: &["Passnummer: 48291037"],
        counter_examples: &["Passnummer: 4829103"],
        ..shape(
            "se_passport",
            "Swedish passport number",
            8,
            &["passnummer", "svenskt pass", "swedish passport"],
            r"\b(\d{8})\b",
        )
    },
    Spec {
        examples: &["Organisationsnummer 556036-0793"],
        counter_examples: &[
            "Organisationsnummer 556036-0794",
            "Organisationsnummer 551036-0790",
        ],
        ..checked(
            "se_organisation_number",
            "Swedish organisation number",
            10,
            se_orgnummer,
            &[
                "organisationsnummer",
                "org.nr",
                "orgnr",
                "org nr",
                "swedish organisation number",
            ],
            r"\b(\d{6}-?\d{4})\b",
        )
    },
    // ---------------------------------------------------------------- United Kingdom, Switzerland
    Spec {
        examples: &[
            "Unique Taxpayer Reference: 11847 36290",
            "UTR number 1184736290",
        ],
        counter_examples: &["Unique Taxpayer Reference: 21847 36290"],
        ..checked(
            "uk_utr",
            "UK Unique Taxpayer Reference (UTR)",
            10,
            uk_utr,
            &[
                "unique taxpayer reference",
                "utr number",
                "utr:",
                "utr no",
                "self assessment",
            ],
            r"\b(\d{5} ?\d{5})\b",
        )
    },
    Spec {
        // The layout (surname, coded birth date, initials) is specific enough on its own.
        base: Confidence::Medium,
        examples: &[
            "Driving licence number HARRI802154JB9QX",
            "DVLA: MORGN751116SM9IJ 02",
        ],
        counter_examples: &["Driving licence number HARRI813154JB9QX"],
        ..checked(
            "uk_drivers_license",
            "UK driving licence number",
            6,
            uk_driving_licence,
            &[
                "driving licence",
                "driving license",
                "dvla",
                "driver number",
                "licence number",
            ],
            r"\b([A-Z9]{5}\d[0156]\d[0-3]\d\d[A-Z9]{2}\d[A-Z]{2}(?: \d{2})?)\b",
        )
    },
    Spec {
        base: Confidence::Medium,
        examples: &[
            "UID CHE-109.156.471",
            "Unternehmens-Identifikationsnummer CHE116827738",
        ],
        counter_examples: &["UID CHE-109.156.472"],
        ..checked(
            "ch_uid",
            "Swiss business identification number (UID)",
            9,
            ch_uid,
            &[
                "unternehmens-identifikationsnummer",
                "numéro ide",
                "numero ide",
                "mwst-nr",
                "business identification number",
            ],
            r"\b(CHE-?\d{3}\.?\d{3}\.?\d{3})\b",
        )
    },
    // ---------------------------------------------------------------- Latin America
    Spec {
        examples: &["Documento Nacional de Identidad (DNI argentino): 27.482.910"],
        counter_examples: &["DNI argentino: 27.482.91"],
        ..shape(
            "ar_dni",
            "Argentine national identity number (DNI)",
            8,
            &[
                "dni argentino",
                "documento nacional de identidad",
                "número de documento",
                "argentina national id",
            ],
            r"\b(\d{2}\.\d{3}\.\d{3})\b",
        )
    },
    Spec {
        examples: &["CUIT: 20-12345678-6", "CUIL 27-38291045-7"],
        counter_examples: &["CUIT: 20-12345678-7", "CUIT: 21-12345678-6"],
        ..checked(
            "ar_cuit",
            "Argentine tax identification (CUIT/CUIL)",
            11,
            ar_cuit,
            &[
                "cuit",
                "cuil",
                "clave única de identificación tributaria",
                "clave unica de identificacion tributaria",
            ],
            r"\b(\d{2}-?\d{8}-?\d)\b",
        )
    },
    Spec {
        examples: &[
            "RG: 24.678.131-2 (Registro Geral)",
            "carteira de identidade 38.921.456-5",
        ],
        counter_examples: &["Registro Geral 24.678.131-3"],
        ..checked(
            "br_rg",
            "Brazilian identity card number (RG)",
            8,
            br_rg,
            &[
                "registro geral",
                "carteira de identidade",
                "cédula de identidade",
                "cedula de identidade",
                "rg nº",
                "RG Nº",
            ],
            r"\b(\d{2}\.?\d{3}\.?\d{3}-?[0-9Xx])\b",
        )
    },
    Spec {
        examples: &[
            "Cédula de ciudadanía 1.020.482.913",
            "cedula de ciudadania 79482913",
        ],
        counter_examples: &["Cédula de ciudadanía 1.020.48"],
        ..shape(
            "co_cedula",
            "Colombian citizenship card number (cédula de ciudadanía)",
            8,
            &[
                "cédula de ciudadanía",
                "cedula de ciudadania",
                "número de cédula",
                "numero de cedula",
                "colombian id",
            ],
            r"\b(1\.\d{3}\.\d{3}\.\d{3}|\d{2}\.\d{3}\.\d{3}|\d{8}|\d{10})\b",
        )
    },
    Spec {
        examples: &[
            "NIT: 890.903.938-8",
            "número de identificación tributaria 900123456-8",
        ],
        counter_examples: &["NIT: 890.903.938-7"],
        ..checked(
            "co_nit",
            "Colombian tax identification number (NIT)",
            10,
            co_nit,
            &[
                "nit:",
                "nit no",
                "número de identificación tributaria",
                "numero de identificacion tributaria",
            ],
            r"\b(\d{3}\.?\d{3}\.?\d{3}-\d)\b",
        )
    },
    Spec {
        examples: &["Clave de elector: GMRSAN85031209H400"],
        counter_examples: &["Clave de elector: GMRSAN850312H400"],
        ..shape(
            "mx_voter_id",
            "Mexican voter key (clave de elector)",
            8,
            &[
                "clave de elector",
                "credencial para votar",
                "credencial de elector",
            ],
            r"\b([A-Z]{6}\d{8}[HM]\d{3})\b",
        )
    },
    Spec {
        examples: &["DNI peruano 48291037", "RENIEC: 48291037"],
        counter_examples: &["DNI peruano 4829103"],
        ..shape(
            "pe_dni",
            "Peruvian national identity number (DNI)",
            8,
            &["dni peruano", "reniec", "documento nacional de identidad"],
            r"\b(\d{8})\b",
        )
    },
    Spec {
        examples: &[
            "RUC: 20100123453",
            "registro único de contribuyentes 10468237917",
        ],
        counter_examples: &["RUC: 20100123454", "RUC: 30100123453"],
        ..checked(
            "pe_ruc",
            "Peruvian taxpayer number (RUC)",
            11,
            pe_ruc,
            &[
                "ruc:",
                "número de ruc",
                "numero de ruc",
                "registro único de contribuyentes",
                "registro unico de contribuyentes",
            ],
            r"\b((?:10|15|17|20)\d{9})\b",
        )
    },
    // ---------------------------------------------------------------- Japan, Korea, China, Taiwan
    Spec {
        examples: &["住民票コード 48291037561"],
        counter_examples: &["住民票コード 4829103756"],
        ..shape(
            "jp_resident_registration",
            "Japanese resident registration code (住民票コード)",
            11,
            &[
                "住民票コード",
                "住民票番号",
                "住民基本台帳",
                "resident registration code",
                "juminhyo",
            ],
            r"\b(\d{11})\b",
        )
    },
    Spec {
        examples: &["旅券番号: TK4829103", "パスポート番号 TK4829103"],
        counter_examples: &["旅券番号: TK482910"],
        ..shape(
            "jp_passport",
            "Japanese passport number",
            7,
            &[
                "旅券番号",
                "パスポート番号",
                "パスポート",
                "旅券",
                "japanese passport",
            ],
            r"\b([A-Z]{2} ?\d{7})\b",
        )
    },
    Spec {
        examples: &["運転免許証番号 304829103756"],
        counter_examples: &["運転免許証番号 30482910375"],
        ..shape(
            "jp_drivers_license",
            "Japanese driver's licence number",
            12,
            &["運転免許証", "免許証番号", "運転免許", "japanese driver"],
            r"\b(\d{12})\b",
        )
    },
    Spec {
        examples: &["法人番号 8700110005901", "corporate number 9123401234567"],
        counter_examples: &["法人番号 7700110005901"],
        ..checked(
            "jp_corporate_number",
            "Japanese corporate number (法人番号)",
            13,
            jp_corporate_number,
            &["法人番号", "corporate number", "houjin bangou"],
            r"\b(\d{13})\b",
        )
    },
    Spec {
        examples: &["여권번호: M48291037", "여권 번호 M482K1037"],
        counter_examples: &["여권번호: M4829103"],
        ..shape(
            "kr_passport",
            "Korean passport number",
            7,
            &["여권번호", "여권 번호", "여권", "korean passport"],
            r"\b([MSRODG]\d{8}|M\d{3}[A-Z]\d{4})\b",
        )
    },
    Spec {
        examples: &["운전면허번호 11-24-482910-37"],
        counter_examples: &["운전면허번호 11-24-48291-37"],
        ..shape(
            "kr_drivers_license",
            "Korean driver's licence number",
            12,
            &["운전면허", "운전면허번호", "면허번호", "korean driver"],
            r"\b(\d{2}-\d{2}-\d{6}-\d{2})\b",
        )
    },
    Spec {
        examples: &["护照号码: E48291037", "護照 EA4829103"],
        counter_examples: &["护照号码: E4829103"],
        ..shape(
            "cn_passport",
            "Chinese passport number",
            7,
            &["护照", "護照", "护照号码", "chinese passport"],
            r"\b([EG]\d{8}|E[A-HJ-NP-Z]\d{7})\b",
        )
    },
    Spec {
        examples: &["HKID: K381572(2)", "香港身份證 AB987654(3)"],
        counter_examples: &["HKID: K381572(3)"],
        ..checked(
            "hk_hkid",
            "Hong Kong identity card number (HKID)",
            6,
            hk_hkid,
            &[
                "hkid",
                "香港身份證",
                "身份證",
                "hong kong identity card",
                "hong kong id",
            ],
            r"\b([A-Z]{1,2}\d{6}(?:\([0-9A]\)|[0-9A]\b))",
        )
    },
    Spec {
        examples: &[
            "身分證字號 F131485422",
            "national identification card A234567893",
        ],
        counter_examples: &["身分證字號 F131485423", "身分證字號 F331485422"],
        ..checked(
            "tw_national_id",
            "Taiwanese national identification number",
            9,
            tw_national_id,
            &[
                "身分證",
                "身份證字號",
                "身分證字號",
                "national identification card",
                "taiwan id",
            ],
            r"\b([A-Z][12]\d{8})\b",
        )
    },
    // ---------------------------------------------------------------- South and South-East Asia
    Spec {
        examples: &[
            "เลขประจำตัวประชาชน 3-1007-00234-56-3",
            "Thai national ID 1101700234568",
        ],
        counter_examples: &[
            "เลขประจำตัวประชาชน 3-1007-00234-56-4",
            "Thai national ID 9101700234568",
        ],
        ..checked(
            "th_national_id",
            "Thai national identification number",
            13,
            th_national_id,
            &[
                "เลขประจำตัวประชาชน",
                "บัตรประชาชน",
                "thai national id",
                "thai id",
            ],
            r"\b(\d{13}|\d-\d{4}-\d{5}-\d{2}-\d)\b",
        )
    },
    Spec {
        examples: &["MyKad 850312-14-5527", "no. kad pengenalan 850312145527"],
        counter_examples: &["MyKad 851312-14-5527", "MyKad 850312-00-5527"],
        ..checked(
            "my_mykad",
            "Malaysian identity card number (MyKad)",
            12,
            my_mykad,
            &[
                "mykad",
                "kad pengenalan",
                "malaysian ic",
                "malaysia identity card",
            ],
            r"\b(\d{6}-?\d{2}-?\d{4})\b",
        )
    },
    Spec {
        examples: &["UMID CRN 0111-2948371-5"],
        counter_examples: &["UMID CRN 0111-294837-5"],
        ..shape(
            "ph_umid",
            "Philippine unified multi-purpose ID (UMID CRN)",
            12,
            &["umid", "unified multi-purpose", "common reference number"],
            r"\b(\d{4}-\d{7}-\d)\b",
        )
    },
    Spec {
        examples: &["Nomor Induk Kependudukan: 3174055203851234"],
        counter_examples: &[
            "Nomor Induk Kependudukan: 9974055203851234",
            "Nomor Induk Kependudukan: 3174055213851234",
        ],
        ..checked(
            "id_nik",
            "Indonesian identity number (NIK)",
            16,
            id_nik,
            &[
                "nomor induk kependudukan",
                "kartu tanda penduduk",
                "nomor ktp",
                "nik ktp",
            ],
            r"\b(\d{16})\b",
        )
    },
    Spec {
        examples: &["Voter ID: XKT4829103"],
        counter_examples: &["Voter ID: XKT482910"],
        ..shape(
            "in_voter_id",
            "Indian voter ID (EPIC) number",
            7,
            &[
                "voter id",
                "electors photo identity",
                "elector's photo identity",
                "epic no",
                "epic number",
            ],
            r"\b([A-Z]{3}\d{7})\b",
        )
    },
    Spec {
        base: Confidence::Medium,
        examples: &["GSTIN 27AAPFU0939F1ZV", "GST no. 29ABCDE1234F1ZW"],
        counter_examples: &["GSTIN 27AAPFU0939F1ZW"],
        ..checked(
            "in_gstin",
            "Indian GST identification number (GSTIN)",
            6,
            in_gstin,
            &["gstin", "gst number", "gst no", "goods and services tax"],
            r"\b(\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z])\b",
        )
    },
    // ---------------------------------------------------------------- Middle East, Turkey, Russia, Ukraine
    Spec {
        examples: &["رقم الهوية 1054321870", "Saudi national ID 2109876546"],
        counter_examples: &["رقم الهوية 1054321871", "Saudi national ID 3054321870"],
        ..checked(
            "sa_national_id",
            "Saudi national ID / iqama number",
            10,
            sa_national_id,
            &[
                "رقم الهوية",
                "الهوية الوطنية",
                "رقم الإقامة",
                "saudi national id",
                "iqama",
            ],
            r"\b([12]\d{9})\b",
        )
    },
    Spec {
        examples: &[
            "Emirates ID 784-1985-1234567-3",
            "رقم الهوية الإماراتية 784198512345673",
        ],
        counter_examples: &[
            "Emirates ID 784-1985-1234567-4",
            "Emirates ID 785-1985-1234567-3",
        ],
        ..checked(
            "ae_emirates_id",
            "UAE Emirates ID number",
            15,
            ae_emirates_id,
            &["emirates id", "الهوية الإماراتية", "بطاقة الهوية", "uae id"],
            r"\b(\d{3}-?\d{4}-?\d{7}-?\d)\b",
        )
    },
    Spec {
        examples: &["Pasaport No: U48291037", "pasaport numarası U48291037"],
        counter_examples: &["Pasaport No: U4829103"],
        ..shape(
            "tr_passport",
            "Turkish passport number",
            8,
            &[
                "pasaport no",
                "pasaport numarası",
                "pasaport numarasi",
                "turkish passport",
            ],
            r"\b([A-Z]\d{8})\b",
        )
    },
    Spec {
        examples: &["Паспорт серия 45 06 482910", "номер паспорта 4506482910"],
        counter_examples: &["Паспорт серия 45 06 48291"],
        ..shape(
            "ru_passport",
            "Russian internal passport number",
            10,
            &[
                "паспорт",
                "Паспорт",
                "серия и номер",
                "Серия и номер",
                "номер паспорта",
                "Номер паспорта",
                "russian passport",
            ],
            r"\b(\d{2} ?\d{2} ?\d{6})\b",
        )
    },
    Spec {
        examples: &["ИНН 770708389324", "ИНН организации 5001007329"],
        counter_examples: &["ИНН 770708389325"],
        ..checked(
            "ru_inn",
            "Russian taxpayer identification number (INN)",
            10,
            ru_inn,
            &[
                "инн",
                "Инн",
                "ИНН",
                "идентификационный номер налогоплательщика",
                "Идентификационный номер налогоплательщика",
                "russian inn",
                "russian tax id",
            ],
            r"\b(\d{10}|\d{12})\b",
        )
    },
    Spec {
        examples: &["СНИЛС 112-233-445 95", "snils 98765432183"],
        counter_examples: &["СНИЛС 112-233-445 96"],
        ..checked(
            "ru_snils",
            "Russian insurance number (SNILS)",
            11,
            ru_snils,
            &[
                "снилс",
                "Снилс",
                "СНИЛС",
                "страховой номер",
                "Страховой номер",
                "snils",
            ],
            r"\b(\d{3}-\d{3}-\d{3}[ -]\d{2}|\d{11})\b",
        )
    },
    Spec {
        examples: &["РНОКПП 3124567896", "ідентифікаційний код 2987654320"],
        counter_examples: &["РНОКПП 3124567897"],
        ..checked(
            "ua_tax_id",
            "Ukrainian taxpayer number (RNOKPP / ІПН)",
            10,
            ua_tax_id,
            &[
                "рнокпп",
                "Рнокпп",
                "РНОКПП",
                "іпн",
                "Іпн",
                "ІПН",
                "ідентифікаційний код",
                "Ідентифікаційний код",
                "ідентифікаційний номер",
                "Ідентифікаційний номер",
                "ukrainian tax",
            ],
            r"\b(\d{10})\b",
        )
    },
    Spec {
        examples: &["Паспорт громадянина України № 004829103"],
        counter_examples: &["Паспорт громадянина України № 00482910"],
        ..shape(
            "ua_passport",
            "Ukrainian passport (ID card) number",
            9,
            &[
                "паспорт громадянина",
                "Паспорт громадянина",
                "id-картка",
                "ukrainian passport",
            ],
            r"\b(\d{9})\b",
        )
    },
    // ---------------------------------------------------------------- Africa
    Spec {
        examples: &["NIMC national identification number 48291037561"],
        counter_examples: &["NIMC national identification number 4829103756"],
        ..shape(
            "ng_nin",
            "Nigerian national identification number (NIN)",
            11,
            &["nimc", "national identification number", "nigerian nin"],
            r"\b(\d{11})\b",
        )
    },
    Spec {
        examples: &["KRA PIN A004829103K"],
        counter_examples: &["KRA PIN A00482910K"],
        ..shape(
            "ke_kra_pin",
            "Kenyan tax PIN (KRA)",
            9,
            &["kra pin", "kenya revenue authority", "pin number"],
            r"\b([AP]\d{9}[A-Z])\b",
        )
    },
    Spec {
        examples: &["Kitambulisho cha taifa 24829103"],
        counter_examples: &["Kitambulisho cha taifa 248291"],
        ..shape(
            "ke_national_id",
            "Kenyan national identity card number",
            7,
            &[
                "kitambulisho",
                "huduma namba",
                "kenyan id",
                "kenya national id",
            ],
            r"\b(\d{7,8})\b",
        )
    },
    Spec {
        examples: &[
            "الرقم القومي 28503120101234",
            "Egyptian national ID 28503120101234",
        ],
        counter_examples: &["الرقم القومي 28513120101234", "الرقم القومي 28503125001234"],
        ..checked(
            "eg_national_id",
            "Egyptian national ID number",
            14,
            eg_national_id,
            &["الرقم القومي", "بطاقة الرقم القومي", "egyptian national id"],
            r"\b([23]\d{13})\b",
        )
    },
    // ---------------------------------------------------------------- Oceania
    Spec {
        examples: &["NHI number PRT4814", "National Health Index: MKD45XA"],
        counter_examples: &["NHI number PRT4815", "NHI number PIT4814"],
        ..checked(
            "nz_nhi",
            "New Zealand National Health Index (NHI) number",
            2,
            nz_nhi,
            &["nhi", "national health index", "nhi number"],
            r"\b([A-HJ-NP-Z]{3}\d{2}(?:\d{2}|[A-HJ-NP-Z]{2}))\b",
        )
    },
    Spec {
        examples: &["NZ driver licence DA482910"],
        counter_examples: &["NZ driver licence DA48291"],
        ..shape(
            "nz_drivers_license",
            "New Zealand driver licence number",
            6,
            &["nz driver licence", "new zealand driver", "nzta"],
            r"\b([A-Z]{2}\d{6})\b",
        )
    },
    Spec {
        examples: &["Australian driver licence 048291037"],
        counter_examples: &["Australian driver licence 0482910"],
        ..shape(
            "au_drivers_license",
            "Australian driver licence number",
            8,
            &[
                "australian driver",
                "driver licence no",
                "driver licence number",
                "licence no",
            ],
            r"\b(\d{8,10})\b",
        )
    },
    // ---------------------------------------------------------------- Canada
    Spec {
        examples: &[
            "OHIP health card 4592-173-845-AB",
            "Ontario health number 4592173845",
        ],
        counter_examples: &["OHIP health card 4592-173-846-AB"],
        ..checked(
            "ca_on_health_number",
            "Ontario health card number (OHIP)",
            10,
            ca_on_health,
            &[
                "ohip",
                "ontario health",
                "carte santé de l'ontario",
                "health card number",
            ],
            r"\b(\d{4}[ -]?\d{3}[ -]?\d{3}(?:[ -]?[A-Z]{2})?)\b",
        )
    },
    Spec {
        examples: &["BC personal health number 9123 456 798"],
        counter_examples: &["BC personal health number 9123 456 797"],
        ..checked(
            "ca_bc_phn",
            "British Columbia personal health number (PHN)",
            10,
            ca_bc_phn,
            &[
                "personal health number",
                "bc services card",
                "carecard",
                "medical services plan",
            ],
            r"\b(9\d{3} ?\d{3} ?\d{3})\b",
        )
    },
    Spec {
        examples: &["Carte d'assurance maladie RAMQ: GOMA 8503 1214"],
        counter_examples: &["Carte d'assurance maladie RAMQ: GOMA 8503 121"],
        ..shape(
            "ca_qc_health_number",
            "Québec health insurance number (RAMQ)",
            8,
            &["ramq", "assurance maladie", "carte soleil", "quebec health"],
            r"\b([A-Z]{4} ?\d{4} ?\d{4})\b",
        )
    },
    Spec {
        examples: &["Ontario driver's licence G4829-10375-61203"],
        counter_examples: &["Ontario driver's licence G4829-10375-6120"],
        ..shape(
            "ca_on_drivers_license",
            "Ontario driver's licence number",
            14,
            &[
                "ontario driver",
                "permis de conduire de l'ontario",
                "ontario dl",
            ],
            r"\b([A-Z]\d{4}-?\d{5}-?\d{5})\b",
        )
    },
    Spec {
        examples: &["Permis de conduire du Québec T4829-103756-12"],
        counter_examples: &["Permis de conduire du Québec T4829-10375-12"],
        ..shape(
            "ca_qc_drivers_license",
            "Québec driver's licence number",
            12,
            &[
                "permis de conduire du québec",
                "permis de conduire du quebec",
                "saaq",
                "quebec driver",
            ],
            r"\b([A-Z]\d{4}-?\d{6}-?\d{2})\b",
        )
    },
    // ---------------------------------------------------------------- United States (state licences)
    Spec {
        examples: &["Florida driver license S530-482-91-037-0"],
        counter_examples: &["Florida driver license S530-482-91-037"],
        ..shape(
            "us_fl_drivers_license",
            "Florida driver's licence number",
            12,
            &["florida driver", "florida dl", "flhsmv"],
            r"\b([A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d)\b",
        )
    },
    Spec {
        examples: &["Illinois driver's license D482-9103-7561"],
        counter_examples: &["Illinois driver's license D482-9103-756"],
        ..shape(
            "us_il_drivers_license",
            "Illinois driver's licence number",
            11,
            &["illinois driver", "illinois dl"],
            r"\b([A-Z]\d{3}-\d{4}-\d{4})\b",
        )
    },
    Spec {
        examples: &["New Jersey driver license S4829 10375 61203"],
        counter_examples: &["New Jersey driver license S4829 10375 6120"],
        ..shape(
            "us_nj_drivers_license",
            "New Jersey driver's licence number",
            14,
            &["new jersey driver", "nj driver", "nj mvc"],
            r"\b([A-Z]\d{4} \d{5} \d{5})\b",
        )
    },
    Spec {
        examples: &["Wisconsin driver license S482-9103-7561-20"],
        counter_examples: &["Wisconsin driver license S482-9103-7561-2"],
        ..shape(
            "us_wi_drivers_license",
            "Wisconsin driver's licence number",
            13,
            &["wisconsin driver", "wisconsin dl"],
            r"\b([A-Z]\d{3}-\d{4}-\d{4}-\d{2})\b",
        )
    },
    Spec {
        // The WDL prefix names the value.
        base: Confidence::Medium,
        // Found by its prefix: its first digit can be the twelfth character.
        trigger: Trigger::Prefixes(&["WDL"]),
        reach: 12,
        examples: &["Washington driver license WDL48K2910X7", "WDLABCDEFGH1"],
        counter_examples: &["Washington driver license WDL48K2910X"],
        ..shape(
            "us_wa_drivers_license",
            "Washington driver's licence number",
            1,
            &["washington driver", "washington dl"],
            r"\b(WDL[A-Z0-9]{9})\b",
        )
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The specimen numbers that the formats' definitions publish, and each with its last
    /// character changed.
    #[test]
    fn published_specimens_validate() {
        type Validator = fn(&[u8]) -> bool;
        let specimens: &[(Validator, &str, &str)] = &[
            (hk_hkid, "A123456(3)", "A123456(4)"),
            (nz_nhi, "ZAC5361", "ZAC5362"),
            (nz_nhi, "ABC12DV", "ABC12DW"),
            (uk_utr, "3282497350", "4282497350"),
            (tw_national_id, "A123456789", "A123456788"),
            (ee_isikukood, "37605030299", "37605030298"),
            (lt_personal_code, "33309240064", "33309240065"),
            (pl_id_card, "ABA300000", "ABA400000"),
            (cz_birth_number, "710319/2745", "710319/2746"),
            (at_svnr, "1237 010180", "1238 010180"),
            (ru_snils, "112-233-445 95", "112-233-445 96"),
        ];
        for (validate, good, bad) in specimens {
            assert!(validate(good.as_bytes()), "{good}");
            assert!(!validate(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn birth_numbers_before_1954_have_nine_digits_and_no_check() {
        assert!(cz_birth_number(b"450312/123"));
        assert!(
            !cz_birth_number(b"550312/123"),
            "from 1954 the number has ten digits"
        );
    }

    #[test]
    fn spanish_social_security_numbers_below_ten_million_drop_the_leading_zero() {
        // 28 / 01234567: the control is 2801234567 read as 281234567, mod 97.
        let control = 281_234_567u64 % 97;
        assert!(es_ssn(format!("28 01234567 {control:02}").as_bytes()));
        assert!(!es_ssn(
            format!("28 01234567 {:02}", (control + 1) % 97).as_bytes()
        ));
    }
}
