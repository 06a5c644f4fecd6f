//! Payment cards, bank accounts and securities identifiers.

use super::{Spec, Trigger, BASE};
use crate::model::{Category, Confidence};
use crate::validators as v;

const fn fin(id: &'static str, name: &'static str, min_digits: u8, pattern: &'static str) -> Spec {
    Spec {
        id,
        name,
        category: Category::Financial,
        trigger: Trigger::Digits(min_digits),
        pattern,
        ..BASE
    }
}

/// Cuts an IBAN match to the length the registry gives for its country, so that a word
/// following the IBAN (`... 3000 THANKS`) is not taken as part of it.
fn iban_refine(raw: &[u8]) -> Option<usize> {
    let country: Vec<u8> = raw.iter().take(2).map(u8::to_ascii_uppercase).collect();
    let want = v::iban_length(&country)?;
    let mut seen = 0;
    for (i, b) in raw.iter().enumerate() {
        if b.is_ascii_alphanumeric() {
            seen += 1;
            if seen == want {
                return Some(i + 1);
            }
        }
    }
    None
}

/// Australian Company Number: weights 8..1 over the first 8 digits, check = (10 - sum mod 10) mod 10.
fn au_acn(raw: &[u8]) -> bool {
    let ds = v::digits(raw);
    if ds.len() != 9 || v::is_trivial_digits(&ds) {
        return false;
    }
    let sum: u32 = ds[..8]
        .iter()
        .enumerate()
        .map(|(i, &d)| u32::from(d) * (8 - i as u32))
        .sum();
    (10 - sum % 10) % 10 == u32::from(ds[8])
}

fn bic_country(raw: &[u8]) -> bool {
    // Positions 5-6 are an ISO 3166 country; the IBAN registry plus the large non-IBAN
    // markets covers what a BIC in a document realistically carries.
    let Some(cc) = raw.get(4..6) else {
        return false;
    };
    v::iban_length(cc).is_some()
        || [
            b"US", b"CA", b"AU", b"JP", b"CN", b"IN", b"SG", b"HK", b"NZ", b"ZA", b"MX", b"KR",
        ]
        .iter()
        .any(|c| c.as_slice() == cc)
}

pub const SPECS: &[Spec] = &[
    Spec {
        validate: Some(v::credit_card),
        context: &[
            "credit card",
            "card number",
            "card no",
            "visa",
            "mastercard",
            "master card",
            "amex",
            "american express",
            "discover",
            "jcb",
            "diners",
            "cc#",
            "ccn",
            "expir",
            "cvv",
            "cvc",
            "payment",
            "debit card",
            "cardholder",
        ],
        ..fin(
            "credit_card",
            "Payment card number (PAN)",
            13,
            r"\b(\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{4}(?:[ -]?\d{1,3})?|\d{4}[ -]\d{6}[ -]\d{4,5}|\d{13,19})\b",
        )
    },
    Spec {
        validate: Some(v::iban),
        refine: Some(iban_refine),
        context: &[
            "iban",
            "bank account",
            "account number",
            "international bank",
            "sepa",
            "wire",
            "transfer",
            "bank",
        ],
        ..fin(
            "iban",
            "International bank account number (IBAN)",
            4,
            r"\b([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?)\b",
        )
    },
    Spec {
        validate: Some(v::aba_routing),
        base: None,
        context: &["routing", "aba", "rtn", "transit number", "bank"],
        ..fin(
            "us_bank_routing",
            "US ABA routing number",
            9,
            r"\b(\d{9}|\d{4}-\d{4}-\d)\b",
        )
    },
    Spec {
        base: None,
        boosted: Confidence::Medium,
        context: &[
            "account number",
            "acct",
            "bank account",
            "checking account",
            "savings account",
            "account no",
            "account #",
        ],
        // A number in a card issuer's range with a valid Luhn digit is a card, even when the
        // word "account" is nearby (a CSV with both columns); the card detector reports it.
        validate: Some(|raw| !v::is_trivial_digits(&v::digits(raw)) && !v::credit_card(raw)),
        ..fin(
            "us_bank_account",
            "US bank account number",
            8,
            r"\b(\d{8,17})\b",
        )
    },
    Spec {
        trigger: Trigger::Keywords(&["swift", "bic"]),
        validate: Some(bic_country),
        reach: 48,
        reach_back: 0,
        ..fin(
            "swift_bic",
            "SWIFT/BIC code",
            0,
            r"(?i:swift|bic)[A-Za-z /:#.()-]{0,20}?\b([A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)\b",
        )
    },
    Spec {
        base: None,
        context: &["sort code", "sort-code", "sortcode"],
        ..fin(
            "uk_sort_code",
            "UK bank sort code",
            6,
            r"\b(\d{2}-\d{2}-\d{2})\b",
        )
    },
    Spec {
        base: None,
        context: &["bsb"],
        ..fin("au_bsb", "Australian BSB number", 6, r"\b(\d{3}-\d{3})\b")
    },
    Spec {
        base: None,
        context: &["ifsc"],
        ..fin(
            "in_ifsc",
            "Indian IFSC code",
            1,
            r"\b([A-Z]{4}0[A-Z0-9]{6})\b",
        )
    },
    Spec {
        validate: Some(v::mx_clabe),
        base: Some(Confidence::Low),
        context: &["clabe"],
        ..fin("mx_clabe", "Mexican CLABE", 18, r"\b(\d{18})\b")
    },
    Spec {
        validate: Some(v::isin),
        base: Some(Confidence::Low),
        context: &["isin", "security", "securities", "bond", "equity"],
        ..fin(
            "isin",
            "International securities identification number (ISIN)",
            1,
            r"\b([A-Z]{2}[A-Z0-9]{9}\d)\b",
        )
    },
    Spec {
        validate: Some(v::cusip),
        base: None,
        context: &["cusip"],
        ..fin("cusip", "CUSIP", 1, r"\b(\d{3}[A-Z0-9]{5}\d)\b")
    },
    Spec {
        trigger: Trigger::Prefixes(&["0x"]),
        base: Some(Confidence::Low),
        context: &["eth", "ethereum", "wallet", "erc20", "metamask"],
        reach: 48,
        reach_back: 0,
        ..fin(
            "ethereum_address",
            "Ethereum address",
            0,
            r"\b(0x[a-fA-F0-9]{40})\b",
        )
    },
    Spec {
        validate: Some(v::us_ein),
        base: Some(Confidence::Low),
        context: &[
            "ein",
            "employer identification",
            "fein",
            "tax id",
            "taxpayer id",
        ],
        ..fin(
            "us_ein",
            "US employer identification number (EIN)",
            9,
            r"\b(\d{2}-\d{7})\b",
        )
    },
    Spec {
        validate: Some(v::au_abn),
        base: None,
        context: &["abn", "australian business number"],
        ..fin(
            "au_abn",
            "Australian business number (ABN)",
            11,
            r"\b(\d{2} ?\d{3} ?\d{3} ?\d{3})\b",
        )
    },
    Spec {
        validate: Some(au_acn),
        base: None,
        context: &["acn", "australian company number"],
        ..fin(
            "au_acn",
            "Australian company number (ACN)",
            9,
            r"\b(\d{3} ?\d{3} ?\d{3})\b",
        )
    },
    Spec {
        trigger: Trigger::Keywords(&["cvv", "cvc", "security code", "card verification"]),
        base: None,
        boosted: Confidence::Medium,
        context: &["cvv", "cvc", "cvv2", "security code", "card verification"],
        reach: 32,
        reach_back: 0,
        ..fin(
            "card_security_code",
            "Card verification code (CVV)",
            0,
            r"(?i:cvv2?|cvc2?|security code|card verification(?: code)?)\W{1,4}(\d{3,4})\b",
        )
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iban_refine_cuts_at_country_length() {
        let raw = b"GB82 WEST 1234 5698 7654 32AB";
        let cut = iban_refine(raw).unwrap();
        assert_eq!(&raw[..cut], b"GB82 WEST 1234 5698 7654 32");
        assert_eq!(iban_refine(b"QQ12 3456"), None);
    }

    #[test]
    fn a_card_number_near_the_word_account_is_still_a_card() {
        let engine = crate::Engine::with_default_catalog();
        let text = b"Bank account (IBAN) CH2947533983270938964 and CC: 5418555213504671 paid";
        let ids: Vec<String> = engine
            .scan_text(text)
            .into_iter()
            .map(|f| f.detector_id)
            .collect();
        assert_eq!(ids, ["iban", "credit_card"]);
        let account = engine.scan_text(b"checking account number 000123456789");
        assert_eq!(account[0].detector_id, "us_bank_account");
    }

    #[test]
    fn acn_checksum() {
        assert!(au_acn(b"000 000 019"));
        assert!(au_acn(b"004 085 616"));
        assert!(!au_acn(b"004 085 617"));
    }
}
