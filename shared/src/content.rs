//! Content inspection: what the inspector asks of a DLP engine for one downloaded file.
//!
//! [`ContentScanner`] is the seam; [`DlpScanner`] puts the DLP engine ([`crate::dlp`]: the full
//! detector catalog, document and archive extraction under limits) behind it.

use std::collections::BTreeMap;

use crate::dlp::extract::Limits;
use crate::dlp::{Confidence, Engine};
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

/// Detectors that fire on nearly every business document (contact details, network
/// addresses). Without a policy file a few of them do not make a shared file an incident (an
/// e-mail signature is not a leak); [`CONTACT_LIST_MIN`] of one kind do (a customer list is).
pub const CONTACT_DETAIL_DETECTORS: &[&str] =
    &["email", "phone_number", "ip_address", "mac_address"];

/// From this many matches of one contact-detail detector, a file is a contact list.
pub const CONTACT_LIST_MIN: u32 = 20;

/// The DLP engine as the inspector uses it: extraction under limits, then the catalog (and any
/// custom rules), summarised per detector.
pub struct DlpScanner {
    engine: Engine,
    limits: Limits,
    /// Detectors reported only from this many matches in one file.
    bulk_only: Vec<(&'static str, u32)>,
}

impl DlpScanner {
    /// Without a policy file: the whole catalog, findings of medium confidence or more, contact
    /// details only in bulk ([`CONTACT_LIST_MIN`]), default extraction limits.
    pub fn for_incidents() -> Self {
        let engine = Engine::builder()
            .min_confidence(Confidence::Medium)
            .build()
            .unwrap_or_else(|_| Engine::with_default_catalog());
        DlpScanner {
            engine,
            limits: Limits::default(),
            bulk_only: CONTACT_DETAIL_DETECTORS
                .iter()
                .map(|&id| (id, CONTACT_LIST_MIN))
                .collect(),
        }
    }

    /// From a policy file (`CASB_DLP_POLICY`, loaded by [`crate::dlp::policy_file::load`]): its
    /// custom rules, disabled detectors, threshold and extraction limits.
    pub fn from_policy(policy: &crate::dlp::policy_file::Policy) -> Result<Self, String> {
        Ok(DlpScanner {
            engine: policy.build_engine()?,
            limits: policy.limits.clone(),
            bulk_only: Vec::new(),
        })
    }
}

impl ContentScanner for DlpScanner {
    fn scan(&self, file_name: &str, bytes: &[u8]) -> ContentFindings {
        let report = self
            .engine
            .scan_bytes_with_limits(file_name, bytes, &self.limits);
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for finding in report.findings {
            *counts.entry(finding.detector_id).or_default() += 1;
        }
        counts.retain(|rule, count| {
            self.bulk_only
                .iter()
                .find(|(id, _)| id == rule)
                .is_none_or(|(_, min)| *count >= *min)
        });
        // A limit hit (zip bomb, nesting, timeout) is worth seeing on the incident even when
        // the rest of the file was scanned.
        let skipped = report
            .skipped
            .or_else(|| (!report.errors.is_empty()).then(|| report.errors.join("; ")));
        ContentFindings {
            matches: counts
                .into_iter()
                .map(|(rule, count)| MatchSummary { rule, count })
                .collect(),
            skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(String, u32)> {
        DlpScanner::for_incidents()
            .scan("f.txt", text.as_bytes())
            .matches
            .into_iter()
            .map(|m| (m.rule, m.count))
            .collect()
    }

    #[test]
    fn a_document_is_summarised_per_detector_and_look_alikes_do_not_fire() {
        let text = "name,card,ssn\nann,4111 1111 1111 1111,536-22-1234\nbob,5555555555554444,536-22-1235\n\
                    key=AKIAZ7VRSQ5TNBUQW3XH example=AKIAIOSFODNN7EXAMPLE\n\
                    order 1000000000000008 uuid 550e8400-e29b-41d4-a716-446655440000 date 2026-11-24";
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
    }

    #[test]
    fn a_few_contact_details_are_not_sensitive_but_a_contact_list_is() {
        assert!(rules("Regards, Jane Doe, jane.doe@example.org, call (415) 555-2671").is_empty());
        let few: String = (0..CONTACT_LIST_MIN - 1)
            .map(|i| format!("customer{i}@example.org\n"))
            .collect();
        assert!(rules(&few).is_empty());
        let list = format!("{few}customer-last@example.org\n");
        assert_eq!(rules(&list), vec![("email".into(), CONTACT_LIST_MIN)]);
    }

    #[test]
    fn documents_inside_archives_are_scanned() {
        let mut zip = Vec::new();
        {
            let mut writer = zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
            writer
                .start_file("inner/cards.csv", zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut writer, b"card\n4111 1111 1111 1111\n").unwrap();
            writer.finish().unwrap();
        }
        let findings = DlpScanner::for_incidents().scan("export.zip", &zip);
        assert_eq!(
            findings.matches,
            vec![MatchSummary {
                rule: "credit_card".into(),
                count: 1
            }]
        );
    }

    #[test]
    fn a_policy_file_adds_custom_rules_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.json");
        let core = || {
            let backend = crate::backend::EmbeddedBackend::open(&dir.path().join("data"))
                .unwrap()
                .backend;
            let settings = crate::config::Settings {
                dlp_policy: Some(path.clone()),
                ..Default::default()
            };
            crate::Core::new(
                backend,
                settings,
                crate::connector::ConnectorRegistry::new(),
            )
        };
        std::fs::write(
            &path,
            r#"{"rules":[{"id":"project_codename","type":"dictionary","terms":["bluebird"],"confidence":"high"}]}"#,
        )
        .unwrap();
        let scanner = core().unwrap().scanner().unwrap();
        let found = scanner.scan("plan.txt", b"Project Bluebird launches in May");
        assert_eq!(found.matches[0].rule, "project_codename");

        std::fs::write(
            &path,
            r#"{"rules":[{"id":"x","type":"regex","pattern":"("}]}"#,
        )
        .unwrap();
        let error = core().err().unwrap().to_string();
        assert!(
            error.contains("policy.json") && error.contains('x'),
            "{error}"
        );
    }
}
