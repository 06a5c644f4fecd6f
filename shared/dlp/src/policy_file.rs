//! The policy file: custom rules, detector selection, reporting threshold and limits.
//!
//! JSON, all keys optional:
//!
//! ```json
//! {
//!   "min_confidence": "medium",
//!   "disable": ["ip_address"],
//!   "only": null,
//!   "limits": { "max_total_bytes": 134217728, "max_entries": 10000, "max_depth": 5,
//!               "max_compression_ratio": 200, "timeout_secs": 30 },
//!   "rules": [
//!     { "id": "project_codename", "type": "dictionary", "terms": ["Blue Falcon"],
//!       "terms_file": "codenames.txt", "case_sensitive": false, "whole_word": true,
//!       "confidence": "high" },
//!     { "id": "internal_ticket", "type": "regex", "pattern": "\\bCASE-\\d{5}\\b",
//!       "anchors": ["CASE-"], "context": ["confidential"], "confidence": "low",
//!       "confidence_with_context": "high" },
//!     { "id": "employee_id", "type": "exact_data", "pattern": "\\bE\\d{6}\\b",
//!       "salt": "per-tenant-salt", "hashes_file": "employees.sha256" }
//!   ]
//! }
//! ```
//!
//! Rule types: `regex`, `keywords` and `dictionary` (the same thing: exact terms, any
//! number, matched by one Aho-Corasick automaton), `exact_data` (values of `pattern`'s
//! shape whose `sha256(salt + value)` is listed, hex, one per line in `hashes_file` or in
//! `hashes`: the clear values are never stored; make the list with
//! `cargo run --example edm_hash -- SALT < values.txt`). `confidence: "none"` (or
//! `requires_context: true`) reports a match only with a `context` word within 300 bytes.
//! Relative file paths are relative to the policy file.

use crate::engine::{CustomKind, CustomRule, Engine, ExactData};
use crate::extract::Limits;
use crate::model::{Category, Confidence};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    min_confidence: Option<String>,
    #[serde(default)]
    disable: Vec<String>,
    only: Option<Vec<String>>,
    limits: Option<RawLimits>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_total_bytes: Option<u64>,
    max_entries: Option<usize>,
    max_depth: Option<usize>,
    max_compression_ratio: Option<u64>,
    timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    category: Option<Category>,
    pattern: Option<String>,
    #[serde(default)]
    anchors: Vec<String>,
    #[serde(default)]
    terms: Vec<String>,
    terms_file: Option<PathBuf>,
    #[serde(default)]
    case_sensitive: bool,
    whole_word: Option<bool>,
    #[serde(default)]
    context: Vec<String>,
    confidence: Option<String>,
    confidence_with_context: Option<String>,
    #[serde(default)]
    requires_context: bool,
    salt: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    hashes_file: Option<PathBuf>,
}

/// A loaded policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub rules: Vec<CustomRule>,
    pub disable: Vec<String>,
    pub only: Option<Vec<String>>,
    pub min_confidence: Option<Confidence>,
    pub limits: Limits,
}

impl Policy {
    /// The engine this policy describes: built-in catalog (minus `disable`, or `only`)
    /// plus the custom rules.
    pub fn build_engine(&self) -> Result<Engine, String> {
        let mut b = Engine::builder()
            .disable(self.disable.clone())
            .custom_rules(self.rules.clone());
        if let Some(only) = &self.only {
            b = b.only(only.clone());
        }
        if let Some(c) = self.min_confidence {
            b = b.min_confidence(c);
        }
        b.build()
    }
}

/// Hex digest under which an exact-data value is listed (see the module docs).
pub fn hash_value(salt: &str, value: &str, case_sensitive: bool) -> String {
    hex::encode(ExactData::digest(salt, value.as_bytes(), case_sensitive))
}

fn parse_confidence(
    field: &str,
    value: Option<&str>,
    default: Option<Confidence>,
) -> Result<Option<Confidence>, String> {
    match value {
        None => Ok(default),
        Some("none") => Ok(None),
        Some(v) => Confidence::parse(v)
            .map(Some)
            .ok_or_else(|| format!("{field}: `{v}` is not low, medium, high or none")),
    }
}

fn read_lines(base: &Path, file: &Path) -> Result<Vec<String>, String> {
    let path = if file.is_absolute() {
        file.to_path_buf()
    } else {
        base.join(file)
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Loads and validates a policy file. Errors name the rule and field at fault.
pub fn load(path: &Path) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses policy JSON; relative file references resolve against `base`.
pub fn parse(json: &str, base: &Path) -> Result<Policy, String> {
    let raw: RawPolicy = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut policy = Policy {
        disable: raw.disable,
        only: raw.only,
        min_confidence: parse_confidence("min_confidence", raw.min_confidence.as_deref(), None)?,
        ..Default::default()
    };
    if let Some(l) = raw.limits {
        let d = Limits::default();
        policy.limits = Limits {
            max_total_bytes: l.max_total_bytes.unwrap_or(d.max_total_bytes),
            max_entries: l.max_entries.unwrap_or(d.max_entries),
            max_depth: l.max_depth.unwrap_or(d.max_depth),
            max_compression_ratio: l.max_compression_ratio.unwrap_or(d.max_compression_ratio),
            timeout: l.timeout_secs.map(Duration::from_secs).unwrap_or(d.timeout),
        };
    }
    let mut seen = HashSet::new();
    for r in raw.rules {
        let id = r.id.clone();
        if !seen.insert(id.clone()) {
            return Err(format!("rule `{id}` is defined twice"));
        }
        let err = |m: &str| format!("rule `{id}`: {m}");
        let base_conf = parse_confidence(
            "confidence",
            r.confidence.as_deref(),
            Some(Confidence::Medium),
        )
        .map_err(|e| err(&e))?;
        let base_conf = if r.requires_context { None } else { base_conf };
        let boosted = parse_confidence(
            "confidence_with_context",
            r.confidence_with_context.as_deref(),
            Some(Confidence::High),
        )
        .map_err(|e| err(&e))?
        .unwrap_or(Confidence::High);
        if base_conf.is_none() && r.context.is_empty() {
            return Err(err("needs `context` words when it requires context"));
        }
        let kind = match r.kind.as_str() {
            "regex" => {
                let pattern = r.pattern.ok_or_else(|| err("`pattern` is required"))?;
                crate::engine::compile_pattern(&pattern)
                    .map_err(|e| err(&format!("bad pattern: {e}")))?;
                CustomKind::Regex {
                    pattern,
                    anchors: r.anchors,
                }
            }
            "keywords" | "dictionary" => {
                let mut terms = r.terms;
                if let Some(f) = &r.terms_file {
                    terms.extend(read_lines(base, f).map_err(|e| err(&e))?);
                }
                if terms.is_empty() {
                    return Err(err("`terms` or `terms_file` must list at least one term"));
                }
                CustomKind::Terms {
                    terms,
                    case_sensitive: r.case_sensitive,
                    whole_word: r.whole_word.unwrap_or(true),
                }
            }
            "exact_data" => {
                let pattern = r
                    .pattern
                    .ok_or_else(|| err("`pattern` (the shape of the values) is required"))?;
                crate::engine::compile_pattern(&pattern)
                    .map_err(|e| err(&format!("bad pattern: {e}")))?;
                let salt = r.salt.unwrap_or_default();
                let mut listed = r.hashes;
                if let Some(f) = &r.hashes_file {
                    listed.extend(read_lines(base, f).map_err(|e| err(&e))?);
                }
                let mut hashes = HashSet::with_capacity(listed.len());
                for h in listed {
                    let bytes = hex::decode(h.trim())
                        .map_err(|_| err(&format!("`{h}` is not a hex SHA-256")))?;
                    let arr: [u8; 32] = bytes
                        .try_into()
                        .map_err(|_| err(&format!("`{h}` is not 32 bytes")))?;
                    hashes.insert(arr);
                }
                if hashes.is_empty() {
                    return Err(err(
                        "`hashes` or `hashes_file` must list at least one digest",
                    ));
                }
                CustomKind::ExactData {
                    pattern,
                    data: ExactData {
                        salt,
                        hashes,
                        case_sensitive: r.case_sensitive,
                    },
                }
            }
            other => {
                return Err(err(&format!(
                    "unknown type `{other}` (regex, keywords, dictionary, exact_data)"
                )))
            }
        };
        policy.rules.push(CustomRule {
            id,
            category: r.category.unwrap_or(Category::Custom),
            kind,
            context: r.context,
            base: base_conf,
            boosted,
        });
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_policy_builds_an_engine_that_applies_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("names.txt"),
            "Blue Falcon\n# comment\nNightjar\n",
        )
        .unwrap();
        let digest = hash_value("pepper", "E123456", false);
        std::fs::write(dir.path().join("emp.sha256"), format!("{digest}\n")).unwrap();
        let json = r#"{
            "min_confidence": "medium",
            "disable": ["ip_address"],
            "rules": [
              {"id": "codename", "type": "dictionary", "terms_file": "names.txt", "confidence": "high"},
              {"id": "ticket", "type": "regex", "pattern": "\\bCASE-\\d{5}\\b", "anchors": ["case-"], "context": ["confidential"], "requires_context": true},
              {"id": "employee", "type": "exact_data", "pattern": "\\bE\\d{6}\\b", "salt": "pepper", "hashes_file": "emp.sha256"}
            ]}"#;
        let path = dir.path().join("policy.json");
        std::fs::write(&path, json).unwrap();
        let policy = load(&path).unwrap();
        let engine = policy.build_engine().unwrap();
        // The first ticket is more than 300 bytes away from the context word.
        let text = format!(
            "nightjar at 10.1.2.3; CASE-12345;{} confidential CASE-54321; E123456 E999999",
            " filler".repeat(60)
        );
        let found: Vec<String> = engine
            .scan_text(text.as_bytes())
            .into_iter()
            .map(|f| f.detector_id)
            .collect();
        assert_eq!(found, ["codename", "ticket", "employee"]);
        assert!(!std::fs::read_to_string(dir.path().join("emp.sha256"))
            .unwrap()
            .contains("E123456"));
    }

    #[test]
    fn errors_name_the_rule() {
        let e = parse(
            r#"{"rules":[{"id":"r1","type":"regex","pattern":"("}]}"#,
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.contains("r1") && e.contains("bad pattern"), "{e}");
        let e = parse(
            r#"{"rules":[{"id":"r2","type":"exact_data","pattern":"x","hashes":["zz"]}]}"#,
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.contains("r2"), "{e}");
        let e = parse(r#"{"rules":[{"id":"r3","type":"magic"}]}"#, Path::new(".")).unwrap_err();
        assert!(e.contains("unknown type"), "{e}");
        assert!(parse(r#"{"bogus": 1}"#, Path::new(".")).is_err());
    }
}
