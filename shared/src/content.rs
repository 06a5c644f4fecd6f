//! Content inspection: what the inspector asks of a DLP engine for one downloaded file.
//!
//! [`ContentScanner`] is the seam; [`BasicScanner`] is the first small detector set (payment
//! cards with Luhn and issuer ranges, US SSNs with the SSA's never-issued ranges, AWS access key
//! ids without AWS's documented examples). The full detector catalog plugs in behind the same
//! trait.

use std::collections::BTreeMap;

use crate::domain::MatchSummary;

/// What scanning one file found, summarised per detector (never the values themselves).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentFindings {
    pub matches: Vec<MatchSummary>,
    /// Why the file was not (fully) scanned, if it was not.
    pub skipped: Option<String>,
}

impl ContentFindings {
    pub fn is_sensitive(&self) -> bool {
        !self.matches.is_empty()
    }
}

pub trait ContentScanner: Send + Sync {
    fn scan(&self, file_name: &str, bytes: &[u8]) -> ContentFindings;
}

/// Three validated detectors over the file's text (UTF-8, lossy).
#[derive(Debug, Default, Clone, Copy)]
pub struct BasicScanner;

impl ContentScanner for BasicScanner {
    fn scan(&self, _file_name: &str, bytes: &[u8]) -> ContentFindings {
        if bytes.iter().take(8192).any(|&b| b == 0) {
            return ContentFindings {
                matches: vec![],
                skipped: Some("binary content is not scanned by the basic detectors".into()),
            };
        }
        let text = String::from_utf8_lossy(bytes);
        let mut counts: BTreeMap<&'static str, u32> = BTreeMap::new();
        for token in candidate_runs(&text) {
            if is_credit_card(token) {
                *counts.entry("credit_card").or_default() += 1;
            } else if is_us_ssn(token) {
                *counts.entry("us_ssn").or_default() += 1;
            }
        }
        for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
            if is_aws_access_key_id(word) {
                *counts.entry("aws_access_key_id").or_default() += 1;
            }
        }
        ContentFindings {
            matches: counts
                .into_iter()
                .map(|(rule, count)| MatchSummary {
                    rule: rule.into(),
                    count,
                })
                .collect(),
            skipped: None,
        }
    }
}

/// Runs of digits joined by single spaces or dashes, bounded by anything else.
fn candidate_runs(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut start = None;
    for (i, &b) in bytes.iter().enumerate() {
        let digit = b.is_ascii_digit();
        let joiner = (b == b' ' || b == b'-')
            && start.is_some()
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
            && bytes.get(i.wrapping_sub(1)).is_some_and(u8::is_ascii_digit);
        match (start, digit || joiner) {
            (None, true) if digit => {
                // A run glued to letters or other number syntax (v1.2.3, ids) is not a candidate.
                let glued = i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.');
                if !glued {
                    start = Some(i)
                }
            }
            (Some(s), false) => {
                if !(b.is_ascii_alphanumeric()
                    || b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
                {
                    runs.push(&text[s..i]);
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push(&text[s..]);
    }
    runs.into_iter()
}

/// Luhn over the digits (ISO/IEC 7812-1).
pub fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

fn digits_of(token: &str) -> Vec<u8> {
    token
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// A payment card number: an issuer's prefix and length (Visa 4; Mastercard 51-55 and
/// 2221-2720; Amex 34/37; Discover 6011, 644-649, 65; JCB 3528-3589; Diners 36, 300-305) and a
/// valid Luhn check digit. Separators must be consistent groups, as people write them.
pub fn is_credit_card(token: &str) -> bool {
    let digits = digits_of(token);
    let len = digits.len();
    if !(13..=19).contains(&len) || !luhn_valid(&digits) || digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    let prefix = |n: usize| {
        digits[..n]
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
    };
    let issuer = match digits[0] {
        4 => matches!(len, 13 | 16 | 19),
        5 => (51..=55).contains(&prefix(2)) && len == 16,
        2 => (2221..=2720).contains(&prefix(4)) && len == 16,
        3 => {
            (matches!(prefix(2), 34 | 37) && len == 15)
                || ((3528..=3589).contains(&prefix(4)) && (16..=19).contains(&len))
                || ((prefix(2) == 36 || (300..=305).contains(&prefix(3)))
                    && (14..=19).contains(&len))
        }
        6 => {
            (prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)))
                && (16..=19).contains(&len)
        }
        _ => false,
    };
    issuer && (token.len() == len || token.split([' ', '-']).all(|g| (3..=6).contains(&g.len())))
}

/// A US SSN written AAA-GG-SSSS, excluding what the SSA never issues: area 000, 666 and 900-999,
/// group 00, serial 0000 (SSA, "Social Security Number Randomization", 2011).
pub fn is_us_ssn(token: &str) -> bool {
    let parts: Vec<&str> = token.split('-').collect();
    let [area, group, serial] = parts.as_slice() else {
        return false;
    };
    if area.len() != 3 || group.len() != 2 || serial.len() != 4 {
        return false;
    }
    let (Ok(a), Ok(g), Ok(s)) = (
        area.parse::<u32>(),
        group.parse::<u32>(),
        serial.parse::<u32>(),
    ) else {
        return false;
    };
    a != 0 && a != 666 && a < 900 && g != 0 && s != 0
}

/// An AWS access key id (`AKIA`/`ASIA` + 16 base-32 characters), not AWS's documented
/// placeholder (`...EXAMPLE`).
pub fn is_aws_access_key_id(word: &str) -> bool {
    word.len() == 20
        && (word.starts_with("AKIA") || word.starts_with("ASIA"))
        && word[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        && !word.ends_with("EXAMPLE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(String, u32)> {
        BasicScanner
            .scan("f.txt", text.as_bytes())
            .matches
            .into_iter()
            .map(|m| (m.rule, m.count))
            .collect()
    }

    #[test]
    fn card_numbers_of_every_current_range_are_found_with_their_check_digit() {
        // Issuers' published test numbers, incl. Mastercard's 2-series.
        for card in [
            "4111111111111111",
            "5555555555554444",
            "2223003122003222",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "4111 1111 1111 1111",
            "5555-5555-5555-4444",
        ] {
            assert!(is_credit_card(card), "{card}");
        }
        // One digit off (Luhn fails), unknown issuer, wrong length, odd grouping.
        for not_card in [
            "4111111111111112",
            "9111111111111111",
            "411111111111",
            "41111 11111 11111 1",
        ] {
            assert!(!is_credit_card(not_card), "{not_card}");
        }
    }

    #[test]
    fn ssns_in_never_issued_ranges_are_not_reported() {
        assert!(is_us_ssn("123-45-6789"));
        for impossible in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "123-00-4567",
            "123-45-0000",
            "1234-5-6789",
        ] {
            assert!(!is_us_ssn(impossible), "{impossible}");
        }
    }

    #[test]
    fn aws_documented_example_keys_are_not_secrets() {
        assert!(is_aws_access_key_id("AKIAZ7VRSQ5TNBUQW3XH"));
        assert!(!is_aws_access_key_id("AKIAIOSFODNN7EXAMPLE"));
        assert!(!is_aws_access_key_id("AKIAZ7VRSQ5TNBUQW3X"));
        assert!(!is_aws_access_key_id("AKIAz7vrsq5tnbuqw3xh"));
    }

    #[test]
    fn a_document_is_summarised_per_detector_and_look_alikes_do_not_fire() {
        let text = "name,card,ssn\nann,4111 1111 1111 1111,123-45-6789\nbob,5555555555554444,078-05-1121\n\
                    key=AKIAZ7VRSQ5TNBUQW3XH example=AKIAIOSFODNN7EXAMPLE\n\
                    order 1000000000000008 v4.111111111111111.1 uuid 550e8400-e29b-41d4-a716-446655440000 date 2026-11-24";
        let found = rules(text);
        assert_eq!(
            found,
            vec![
                ("aws_access_key_id".into(), 1),
                ("credit_card".into(), 2),
                ("us_ssn".into(), 2)
            ],
            "{found:?}"
        );
        assert!(rules("nothing to see here, 42 and 2026-11-24").is_empty());
        assert!(BasicScanner
            .scan("a.bin", b"\x00\x01\x02 4111111111111111")
            .skipped
            .is_some());
    }
}
