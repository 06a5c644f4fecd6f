//! The built-in detector catalog.
//!
//! Every detector is a [`Spec`]: a stable id, a category, a *trigger* that tells the engine
//! where a candidate can be (a cluster of digits, a literal prefix such as `AKIA`, or a
//! keyword such as `password`), a regular expression verified only around the trigger, an
//! optional validator (checksum, issuer ranges, ...), and the keywords whose presence
//! within [`CONTEXT_RADIUS`] bytes raises the confidence (the Purview evidence model).
//!
//! Ids are stable: policies, suppressions and reports refer to them.

mod financial;
mod health;
mod pii;
mod secrets;

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
    /// Confidence without supporting keywords; `None` = not reported without them.
    pub base: Option<Confidence>,
    /// Confidence when a supporting keyword is near.
    pub boosted: Confidence,
    /// Secrets: drop documented placeholders and masks, require entropy.
    pub secret: bool,
    pub min_entropy: f32,
    /// Bytes after the trigger in which the match may end (before it: `reach_back`).
    pub reach: u16,
    pub reach_back: u16,
    /// A value written without any separator (`123456789`) needs a supporting keyword.
    pub bare_needs_context: bool,
    /// Shortens an over-long match to the value's true length (IBAN per country).
    pub refine: Option<Refine>,
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
    base: Some(Confidence::Medium),
    boosted: Confidence::High,
    secret: false,
    min_entropy: 0.0,
    reach: 256,
    reach_back: 8,
    bare_needs_context: false,
    refine: None,
};

/// The full built-in catalog, in priority order (earlier wins a tie on the same bytes).
pub fn builtin() -> Vec<Spec> {
    let mut all = Vec::new();
    all.extend_from_slice(secrets::SPECS);
    all.extend_from_slice(financial::SPECS);
    all.extend_from_slice(health::SPECS);
    all.extend_from_slice(pii::SPECS);
    all
}

/// The built-in catalog as a Markdown table (`casb detectors`; the README's list).
pub fn markdown_table() -> String {
    use std::fmt::Write;
    let specs = builtin();
    let mut table = String::from(
        "| id | category | name | validation | reported without keyword |\n|---|---|---|---|---|\n",
    );
    for s in &specs {
        let validation = if s.validate.is_some() {
            "checksum/structure"
        } else if s.secret {
            "entropy + placeholder filter"
        } else {
            "pattern"
        };
        let base = match s.base {
            Some(c) => c.as_str(),
            None => "no (keyword required)",
        };
        let _ = writeln!(
            table,
            "| `{}` | {} | {} | {} | {} |",
            s.id, s.category, s.name, validation, base
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn every_pattern_compiles() {
        for spec in builtin() {
            crate::engine::compile_pattern(spec.pattern)
                .unwrap_or_else(|e| panic!("{}: {e}", spec.id));
        }
    }
}
