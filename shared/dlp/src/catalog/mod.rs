//! The built-in detector catalog.
//!
//! Every detector is a [`Spec`]: a stable id, a category, a *trigger* that tells the engine
//! where a candidate can be (a cluster of digits, a literal prefix such as `AKIA`, or a
//! keyword such as `password`), a regular expression verified only around the trigger, an
//! optional validator (checksum, issuer ranges, ...), and the keywords whose presence in the
//! same sentence, line or cell, within [`CONTEXT_RADIUS`] bytes, raises the confidence (the
//! Purview evidence model).
//!
//! Every detector has three tiers ([`Spec::tiers`], listed by `casb detectors`):
//! - **low**: the pattern, with its validator where one exists (a checksum-valid number
//!   with nothing around it that says what it is);
//! - **medium**: plus a keyword in the same sentence or cell, or a distinctive prefix;
//! - **high**: plus a checksum *and* a keyword, or a format that cannot occur by chance (a
//!   private key block, a token carrying its own checksum).
//!
//! Each detector carries examples in its definition: values it must find and look-alikes
//! it must not; one test runs them all, so an example that stops matching fails the build.
//!
//! Ids are stable: policies, suppressions and reports refer to them.

mod financial;
mod health;
mod national;
mod network;
mod pii;
mod secrets;
mod tokens;

use crate::model::{Category, Confidence};

/// Distance around a match in which context keywords count (Purview uses 300 characters).
pub const CONTEXT_RADIUS: usize = 300;

/// Where the engine looks for candidates of a detector.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    /// Near clusters of ASCII digits holding at least this many digits.
    Digits(u8),
    /// Near these literals, matched case-sensitively (token prefixes such as `ghp_`).
    Prefixes(&'static [&'static str]),
    /// Near these words, matched ASCII case-insensitively (`password`, `secret_access_key`).
    Keywords(&'static [&'static str]),
    /// Near runs of colon-separated hexadecimal groups (`fe80::1`, `2001:4860::8888`):
    /// IPv6 addresses, which need not contain a digit or any fixed literal.
    HexColons,
}

/// A built-in detector.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub id: &'static str,
    pub name: &'static str,
    pub category: Category,
    pub trigger: Trigger,
    /// Regex (ASCII classes, no Unicode). Capture group 1, if present, is the reported value.
    pub pattern: &'static str,
    pub validate: Option<fn(&[u8]) -> bool>,
    /// Words that support the match when found within [`CONTEXT_RADIUS`] bytes.
    pub context: &'static [&'static str],
    /// Confidence of the pattern (and validator) alone, with no supporting keyword.
    pub base: Confidence,
    /// Confidence when a supporting keyword is in the same sentence or cell.
    pub boosted: Confidence,
    /// A valid value that usually is something else (a dotted version number read as an
    /// address): without a keyword it is reported at low confidence only.
    pub demote: Option<fn(&[u8]) -> bool>,
    /// Secrets: drop documented placeholders and masks, require entropy.
    pub secret: bool,
    pub min_entropy: f32,
    /// Bytes after the trigger in which the match may end (before it: `reach_back`).
    pub reach: u16,
    pub reach_back: u16,
    /// A value written without any separator (`123456789`) is low confidence without a
    /// supporting keyword.
    pub bare_needs_context: bool,
    /// Shortens an over-long match to the value's true length (IBAN per country).
    pub refine: Option<Refine>,
    /// A literal trigger opens a window only when the bytes after it pass this test: a
    /// necessary condition of the pattern that is much cheaper than the regex over the
    /// window (`://` opens one only when `user:password@` follows).
    pub after_trigger: Option<fn(&[u8]) -> bool>,
    /// Digit triggers: what the digit set looks for in place of `pattern` when a value can
    /// run on further past its digits than the set reads (at most 16 bytes): a bitcoin
    /// address can hold 33 letters after its first digit. A start of the value, from its
    /// first digit, short enough to fit; the detector's own window then reaches `reach`
    /// bytes past the digits.
    pub digit_set_pattern: Option<&'static str>,
    /// Texts in which this detector must report a value (at some confidence)...
    pub examples: &'static [&'static str],
    /// ...and look-alikes in which it must report nothing at any confidence.
    pub counter_examples: &'static [&'static str],
}

/// Given a raw match, the length of the value inside it (`None`: no valid value).
pub type Refine = fn(&[u8]) -> Option<usize>;

/// Defaults that the catalog entries override.
pub const BASE: Spec = Spec {
    id: "",
    name: "",
    category: Category::Pii,
    trigger: Trigger::Digits(9),
    pattern: "",
    validate: None,
    context: &[],
    base: Confidence::Medium,
    boosted: Confidence::High,
    demote: None,
    secret: false,
    min_entropy: 0.0,
    reach: 256,
    reach_back: 8,
    bare_needs_context: false,
    refine: None,
    after_trigger: None,
    digit_set_pattern: None,
    examples: &[],
    counter_examples: &[],
};

/// The full built-in catalog, in priority order (earlier wins a tie on the same bytes).
pub fn builtin() -> Vec<Spec> {
    let mut all = Vec::new();
    all.extend_from_slice(secrets::SPECS);
    all.extend_from_slice(tokens::SPECS);
    all.extend_from_slice(financial::SPECS);
    all.extend_from_slice(health::SPECS);
    all.extend_from_slice(pii::SPECS);
    all.extend_from_slice(network::SPECS);
    all.extend_from_slice(national::SPECS);
    all
}

impl Spec {
    /// What makes a match reach each tier (low, medium, high), in words; `None` when no
    /// match of this detector is reported at that tier.
    pub fn tiers(&self) -> [Option<String>; 3] {
        let check = if self.validate.is_some() {
            " + checksum/structure check"
        } else if self.secret {
            " + entropy check, placeholders dropped"
        } else {
            ""
        };
        let pattern = match self.trigger {
            Trigger::Prefixes(_) => format!("pattern with its prefix{check}"),
            Trigger::Keywords(_) => format!("pattern after its key name{check}"),
            Trigger::Digits(_) | Trigger::HexColons => format!("pattern{check}"),
        };
        let mut tiers: [Vec<String>; 3] = Default::default();
        let slot = |c: Confidence| c as usize;
        tiers[slot(self.base)].push(pattern.clone());
        if self.boosted != self.base && !self.context.is_empty() {
            tiers[slot(self.boosted)].push(format!("{pattern} + keyword in the sentence"));
        }
        if self.base > Confidence::Low {
            if self.bare_needs_context {
                tiers[0].push("digits without separators and no keyword".into());
            }
            if self.demote.is_some() {
                tiers[0].push("a common look-alike and no keyword".into());
            }
            if matches!(self.trigger, Trigger::Digits(_)) {
                tiers[0].push("an order, invoice, part or version number".into());
            }
        }
        tiers.map(|t| (!t.is_empty()).then(|| t.join("; ")))
    }
}

/// The built-in catalog as a Markdown table (`casb detectors`; the README's list).
pub fn markdown_table() -> String {
    use std::fmt::Write;
    let specs = builtin();
    let mut table =
        String::from("| id | category | name | low | medium | high |\n|---|---|---|---|---|---|\n");
    for s in &specs {
        let [low, medium, high] = s.tiers().map(|t| t.unwrap_or_else(|| "-".into()));
        let _ = writeln!(
            table,
            "| `{}` | {} | {} | {low} | {medium} | {high} |",
            s.id, s.category, s.name
        );
    }
    table
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One detector alone, every tier reported (the catalog modules' tests of tiers).
    pub(crate) fn every_tier(only: &str) -> crate::Engine {
        crate::Engine::builder()
            .only([only])
            .min_confidence(Confidence::Low)
            .build()
            .unwrap()
    }

    /// Confidence of the first finding in `text`.
    pub(crate) fn confidence(engine: &crate::Engine, text: &str) -> Option<Confidence> {
        engine
            .scan_text(text.as_bytes())
            .first()
            .map(|f| f.confidence)
    }
    use std::collections::HashSet;

    #[test]
    fn catalog_has_unique_ids_and_the_required_ones() {
        let specs = builtin();
        assert!(specs.len() >= 100, "catalog has {} detectors", specs.len());
        let ids: HashSet<&str> = specs.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), specs.len(), "duplicate detector id");
        for required in [
            "credit_card",
            "us_ssn",
            "iban",
            "us_bank_routing",
            "email",
            "phone_number",
            "uk_nino",
            "ca_sin",
            "us_itin",
            "us_passport",
            "aws_access_key_id",
            "aws_secret_access_key",
            "github_token",
            "slack_token",
            "stripe_secret_key",
            "google_api_key",
            "private_key",
            "jwt",
        ] {
            assert!(ids.contains(required), "missing {required}");
        }
    }

    /// Every detector's own examples: each positive example is reported by the detector
    /// alone at some confidence and, with the whole catalog running, still reported as this
    /// detector (no other one takes the bytes); each counter-example is not reported by it
    /// at any confidence.
    #[test]
    fn every_detector_finds_its_examples_and_not_its_counter_examples() {
        use crate::Engine;
        let whole = Engine::builder()
            .min_confidence(Confidence::Low)
            .build()
            .unwrap();
        let mut failures = Vec::new();
        let mut without_examples = Vec::new();
        for spec in builtin() {
            if spec.examples.is_empty() || spec.counter_examples.is_empty() {
                without_examples.push(spec.id);
            }
            let alone = Engine::builder()
                .only([spec.id])
                .min_confidence(Confidence::Low)
                .build()
                .unwrap();
            let reported = |engine: &Engine, text: &str| {
                engine
                    .scan_text(text.as_bytes())
                    .iter()
                    .any(|f| f.detector_id == spec.id)
            };
            for example in spec.examples {
                if !reported(&alone, example) {
                    failures.push(format!("{}: misses {example:?}", spec.id));
                } else if !reported(&whole, example) {
                    let others: Vec<String> = whole
                        .scan_text(example.as_bytes())
                        .into_iter()
                        .map(|f| f.detector_id)
                        .collect();
                    failures.push(format!("{}: {example:?} taken by {others:?}", spec.id));
                }
            }
            for counter in spec.counter_examples {
                if reported(&alone, counter) {
                    failures.push(format!("{}: reports {counter:?}", spec.id));
                }
            }
        }
        assert!(
            without_examples.is_empty(),
            "detectors without examples and counter-examples: {without_examples:?}"
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn every_pattern_compiles() {
        for spec in builtin() {
            crate::engine::compile_pattern(spec.pattern)
                .unwrap_or_else(|e| panic!("{}: {e}", spec.id));
        }
    }
}
