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

/// Labels that introduce a bank account number.
const ACCOUNT_LABELS: &[&str] = &[
    "account number",
    "account no",
    "account #",
    "acct",
    "bank account",
    "checking account",
    "savings account",
    "kontonummer",
    "numéro de compte",
    "numero de compte",
    "número de cuenta",
    "numero de cuenta",
];

pub const SPECS: &[Spec] = &[
    Spec {
        validate: Some(v::credit_card),
        // Sixteen digits in a row with a valid Luhn digit are as often an integer literal in
        // source code or an id in a dump as a card: without a keyword, low confidence. A
        // card written in groups (`4539 1488 0343 6467`) keeps its medium confidence.
        bare_needs_context: true,
        context: &[
            "card",
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
        examples: &[
            "Visa card number 4539 1488 0343 6467",
            "value 4539-1488-0343-6467 x",
            "cc: 4539148803436467 exp 04/27",
        ],
        counter_examples: &[
            // Unicode code points in Perl's CJK collation tables (Unicode::Collate::CJK).
            "524C 525E 5261 525C 84AF 527D 5282 5281 5290 5293",
            "card number 4539 1488 0343 6468",
            "card number 9539 1488 0343 6467",
            "card number 4539 1488 0343 646",
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
        // A checksum-valid IBAN is reported wherever it is (low), and high next to a word
        // about bank details, in any of the languages of the IBAN countries.
        base: Confidence::Low,
        context: &[
            "iban",
            "bank account",
            "account number",
            "international bank",
            "sepa",
            "wire",
            "transfer",
            "bank",
            "pay to",
            "payee",
            "beneficiary",
            "remittance",
            "bankverbindung",
            "kontonummer",
            "überweisung",
            "Überweisung",
            "coordonnées bancaires",
            "virement",
            "cuenta bancaria",
            "transferencia",
            "conto corrente",
            "bonifico",
            "rekeningnummer",
            "overboeking",
            "conta bancária",
            "rachunek",
            "numer konta",
            "bankkonto",
        ],
        examples: &[
            "Please wire the deposit to DE62 3704 0044 0532 0130 01 by Friday.",
            "Our details: NL91ABNA0417164300.",
            "IBAN: NL91 ABNA 0417 1643 00",
        ],
        counter_examples: &[
            "IBAN DE62 3704 0044 0532 0130 02",
            "IBAN QQ62 3704 0044 0532 0130 01",
            "IBAN DE62 3704 0044 0532 0130 0",
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
        base: Confidence::Low,
        context: &["routing", "aba", "rtn", "transit number", "bank"],
        examples: &["ABA routing number 021300213", "261074972"],
        counter_examples: &["routing number 021300214", "routing number 991000021"],
        ..fin(
            "us_bank_routing",
            "US ABA routing number",
            9,
            r"\b(\d{9}|\d{4}-\d{4}-\d)\b",
        )
    },
    Spec {
        // Any run of 8-17 digits fits: without the word there is nothing to go on (Purview
        // requires it too), and a bare number is left to the identifiers with a checksum. So
        // the label triggers the detector and the number must follow it closely.
        trigger: Trigger::Keywords(ACCOUNT_LABELS),
        base: Confidence::Medium,
        boosted: Confidence::Medium,
        context: ACCOUNT_LABELS,
        reach: 48,
        reach_back: 0,
        // A number in a card issuer's range with a valid Luhn digit is a card, even when the
        // word "account" is nearby (a CSV with both columns); the card detector reports it.
        validate: Some(|raw| !v::is_trivial_digits(&v::digits(raw)) && !v::credit_card(raw)),
        examples: &[
            "checking account number 38291047561",
            "Account no: 00482913",
            "acct # 482910375",
        ],
        counter_examples: &[
            "account number 1111111111",
            "account number 4829103",
            "account number 4539148803436467",
            "38291047561",
        ],
        ..fin(
            "us_bank_account",
            "US bank account number",
            0,
            r"(?i:account number|account no|account #|acct|bank account|checking account|savings account|kontonummer|num(?:e|\xC3\xA9)ro de compte|n(?:u|\xC3\xBA)mero de cuenta)[^0-9\n]{0,20}?\b(\d{8,17})\b",
        )
    },
    Spec {
        trigger: Trigger::Keywords(&["swift", "bic"]),
        validate: Some(bic_country),
        reach: 48,
        reach_back: 0,
        examples: &["SWIFT code: QWERDE2L", "BIC: QWERDE2LXXX"],
        counter_examples: &[
            "SWIFT code: QWERQQ2L",
            "BIC: QWE1DE2L",
            "0x00aa: 0xfe95, # ARABIC LETTER TEH ISOLATED FORM",
        ],
        ..fin(
            "swift_bic",
            "SWIFT/BIC code",
            0,
            r"(?i:swift|bic)[A-Za-z /:#.()-]{0,20}?\b([A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)\b",
        )
    },
    Spec {
        base: Confidence::Low,
        context: &["sort code", "sort-code", "sortcode"],
        examples: &["sort code 20-45-77"],
        counter_examples: &["sort code 20-45-7", "sort code 2045-77"],
        ..fin(
            "uk_sort_code",
            "UK bank sort code",
            6,
            r"\b(\d{2}-\d{2}-\d{2})\b",
        )
    },
    Spec {
        base: Confidence::Low,
        context: &["bsb"],
        examples: &["BSB 062-000"],
        counter_examples: &["BSB 062-00"],
        ..fin("au_bsb", "Australian BSB number", 6, r"\b(\d{3}-\d{3})\b")
    },
    Spec {
        base: Confidence::Low,
        context: &["ifsc"],
        examples: &["IFSC: HDFC0001234"],
        counter_examples: &["IFSC: HDFC1001234"],
        ..fin(
            "in_ifsc",
            "Indian IFSC code",
            1,
            r"\b([A-Z]{4}0[A-Z0-9]{6})\b",
        )
    },
    Spec {
        validate: Some(v::mx_clabe),
        base: Confidence::Low,
        context: &["clabe"],
        examples: &["CLABE 012180001183597198"],
        counter_examples: &["CLABE 012180001183597199"],
        ..fin("mx_clabe", "Mexican CLABE", 18, r"\b(\d{18})\b")
    },
    Spec {
        validate: Some(v::isin),
        base: Confidence::Low,
        context: &["isin", "security", "securities", "bond", "equity"],
        // Up to eleven letters before the check digit.
        reach_back: 12,
        examples: &["ISIN XS1234567896"],
        counter_examples: &["ISIN XS1234567897", "ISIN 121234567896"],
        ..fin(
            "isin",
            "International securities identification number (ISIN)",
            1,
            r"\b([A-Z]{2}[A-Z0-9]{9}\d)\b",
        )
    },
    Spec {
        validate: Some(v::cusip),
        base: Confidence::Low,
        context: &["cusip"],
        examples: &["CUSIP 123ABC457"],
        counter_examples: &["CUSIP 123ABC458"],
        ..fin("cusip", "CUSIP", 1, r"\b(\d{3}[A-Z0-9]{5}\d)\b")
    },
    Spec {
        trigger: Trigger::Prefixes(&["0x"]),
        base: Confidence::Low,
        context: &["eth", "ethereum", "wallet", "erc20", "metamask"],
        reach: 48,
        reach_back: 0,
        examples: &["wallet 0x9f2c4e7a1b3d5f60718293a4b5c6d7e8f9012ab3"],
        counter_examples: &["wallet 0x9f2c4e7a1b3d5f60718293a4b5c6d7e8f9012ab"],
        ..fin(
            "ethereum_address",
            "Ethereum address",
            0,
            r"\b(0x[a-fA-F0-9]{40})\b",
        )
    },
    Spec {
        validate: Some(v::us_ein),
        base: Confidence::Low,
        context: &[
            "ein",
            "employer identification",
            "fein",
            "tax id",
            "taxpayer id",
        ],
        examples: &["EIN 12-4829103"],
        counter_examples: &["EIN 07-3456789", "EIN 12-345678"],
        ..fin(
            "us_ein",
            "US employer identification number (EIN)",
            9,
            r"\b(\d{2}-\d{7})\b",
        )
    },
    Spec {
        validate: Some(v::au_abn),
        base: Confidence::Low,
        context: &["abn", "australian business number"],
        examples: &["ABN 70 738 291 045", "70 738 291 045"],
        counter_examples: &["ABN 70 738 291 046"],
        ..fin(
            "au_abn",
            "Australian business number (ABN)",
            11,
            r"\b(\d{2} ?\d{3} ?\d{3} ?\d{3})\b",
        )
    },
    Spec {
        validate: Some(au_acn),
        base: Confidence::Low,
        context: &["acn", "australian company number"],
        examples: &["ACN 123 456 780", "123 456 780"],
        counter_examples: &["ACN 123 456 781"],
        ..fin(
            "au_acn",
            "Australian company number (ACN)",
            9,
            r"\b(\d{3} ?\d{3} ?\d{3})\b",
        )
    },
    Spec {
        trigger: Trigger::Keywords(&["cvv", "cvc", "security code", "card verification"]),
        base: Confidence::Low,
        boosted: Confidence::Medium,
        context: &["cvv", "cvc", "cvv2", "security code", "card verification"],
        reach: 32,
        reach_back: 0,
        examples: &["CVV: 739"],
        counter_examples: &["CVV: 73", "CVV: 73912"],
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
        let text = b"Bank account (IBAN) CH2947533983270938964 and CC#: 5418555213504671 paid";
        let ids: Vec<String> = engine
            .scan_text(text)
            .into_iter()
            .map(|f| f.detector_id)
            .collect();
        assert_eq!(ids, ["iban", "credit_card"]);
        let account = engine.scan_text(b"checking account number 000123456789");
        assert_eq!(account[0].detector_id, "us_bank_account");
    }

    use crate::catalog::tests::{confidence, every_tier};

    #[test]
    fn a_luhn_valid_integer_in_source_code_is_low_without_a_keyword() {
        let cards = every_tier("credit_card");
        let code = "    let seed: u64 = 4539148803436467;\n    rng.reseed(seed);";
        assert_eq!(confidence(&cards, code), Some(Confidence::Low));
        assert_eq!(
            confidence(&cards, "card number: 4539148803436467"),
            Some(Confidence::High)
        );
        assert_eq!(
            confidence(&cards, "paid with 4539 1488 0343 6467"),
            Some(Confidence::Medium)
        );
    }

    #[test]
    fn an_iban_is_low_alone_and_high_with_a_keyword() {
        let ibans = every_tier("iban");
        assert_eq!(
            confidence(&ibans, "Our details: NL91ABNA0417164300."),
            Some(Confidence::Low)
        );
        assert_eq!(
            confidence(&ibans, "IBAN: NL91 ABNA 0417 1643 00"),
            Some(Confidence::High)
        );
        assert_eq!(
            confidence(
                &ibans,
                "Bitte per Überweisung an DE62 3704 0044 0532 0130 01"
            ),
            Some(Confidence::High)
        );
    }

    #[test]
    fn a_bank_account_needs_its_label() {
        let accounts = every_tier("us_bank_account");
        assert_eq!(confidence(&accounts, "38291047561"), None);
        assert_eq!(
            confidence(&accounts, "savings account: 38291047561"),
            Some(Confidence::Medium)
        );
    }

    #[test]
    fn acn_checksum() {
        assert!(au_acn(b"000 000 019"));
        assert!(au_acn(b"004 085 616"));
        assert!(!au_acn(b"004 085 617"));
    }
}
