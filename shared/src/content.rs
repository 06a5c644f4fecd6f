//! Content inspection: what the inspector asks of a DLP engine for one downloaded file.
//!
//! [`ContentScanner`] is the seam; [`DlpScanner`] puts the DLP engine ([`crate::dlp`]: the full
//! detector catalog, document and archive extraction under limits) behind it. What to make of
//! the findings (how many contact details make a contact list, which confidence counts) is the
//! policies' business, not the scanner's: it reports every detector with its counts per
//! confidence.

use std::collections::BTreeMap;

use crate::dlp::extract::{sniff, Format, Limits};
use crate::dlp::{Category, Confidence, Engine};
use crate::domain::{Coverage, DetectorCount};

/// What scanning one file found, per detector (never the values themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentFindings {
    pub detectors: Vec<DetectorCount>,
    pub coverage: Coverage,
    pub detected_type: Option<String>,
    /// The http(s) URLs in the file's text, normalised as block lists store them, distinct,
    /// at most [`MAX_URLS`]: what the tenant's URL block list is checked against.
    pub urls: Vec<String>,
}

/// URLs kept per file: enough for any document a person writes, bounded for a link farm.
pub const MAX_URLS: usize = 256;

/// The http(s) URLs in `text`, normalised (lower-case scheme and host, no fragment), in order
/// of first appearance, at most `max`. A URL ends at white space, a quote or a bracket, and
/// loses trailing sentence punctuation.
pub fn urls_in(text: &[u8], max: usize, into: &mut Vec<String>) {
    const MAX_URL: usize = 2048;
    let mut at = 0;
    while at < text.len() && into.len() < max {
        let Some(found) = find_scheme(&text[at..]) else {
            break;
        };
        let start = at + found;
        let end = text[start..]
            .iter()
            .position(|&b| {
                b.is_ascii_whitespace()
                    || b < 0x20
                    || matches!(
                        b,
                        b'"' | b'\''
                            | b'<'
                            | b'>'
                            | b'('
                            | b')'
                            | b'['
                            | b']'
                            | b'{'
                            | b'}'
                            | b'`'
                            | b'|'
                            | b'\\'
                            | b'^'
                    )
            })
            .map_or(text.len(), |n| start + n);
        at = end.max(start + 1);
        let mut candidate = &text[start..end.min(start + MAX_URL)];
        while let [rest @ .., b'.' | b',' | b';' | b':' | b'!' | b'?'] = candidate {
            candidate = rest;
        }
        let Ok(candidate) = std::str::from_utf8(candidate) else {
            continue;
        };
        if let Ok(url) = crate::domain::BlockList::Urls.normalize(candidate) {
            if !into.contains(&url) {
                into.push(url);
            }
        }
    }
}

/// Where the next `http://` or `https://` (any case) starts.
fn find_scheme(text: &[u8]) -> Option<usize> {
    let mut from = 0;
    while from + 7 <= text.len() {
        let offset = text[from..]
            .iter()
            .position(|b| b.eq_ignore_ascii_case(&b'h'))?;
        let start = from + offset;
        let rest = &text[start..];
        let is = |scheme: &[u8]| {
            rest.len() >= scheme.len() && rest[..scheme.len()].eq_ignore_ascii_case(scheme)
        };
        if is(b"http://") || is(b"https://") {
            return Some(start);
        }
        from = start + 1;
    }
    None
}

impl Default for ContentFindings {
    fn default() -> Self {
        ContentFindings {
            detectors: Vec::new(),
            coverage: Coverage::Complete,
            detected_type: None,
            urls: Vec::new(),
        }
    }
}

impl ContentFindings {
    /// Detector ids with their counts at `confidence` or above, sorted by id.
    pub fn counts(&self, confidence: Confidence) -> Vec<(String, u32)> {
        self.detectors
            .iter()
            .map(|d| (d.detector.clone(), d.at_least(confidence)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

pub trait ContentScanner: Send + Sync {
    fn scan(&self, file_name: &str, bytes: &[u8]) -> ContentFindings;
    /// Every detector the scanner can report, with its category: what policies may name.
    fn detectors(&self) -> Vec<(String, Category)>;
    /// At most how much a file of `size` bytes may expand to when extracted (its text, its
    /// archive members), for reserving the inspector's memory before it is downloaded.
    fn max_extracted_bytes(&self, size: u64) -> u64;
}

/// Detectors that fire on nearly every business document (contact details, network
/// addresses). The default policies do not make a shared file an incident for a few of them (an
/// e-mail signature is not a leak); [`CONTACT_LIST_MIN`] of one kind do (a customer list is).
pub const CONTACT_DETAIL_DETECTORS: &[&str] = &[
    "email",
    "phone_number",
    "ip_address",
    "ipv6_address",
    "mac_address",
];

/// From this many matches of one contact-detail detector, a file is a contact list.
pub const CONTACT_LIST_MIN: u32 = 20;

/// The DLP engine as the inspector uses it: extraction under limits, then the catalog (and any
/// custom rules), summarised per detector.
pub struct DlpScanner {
    engine: Engine,
    limits: Limits,
}

impl DlpScanner {
    /// Without a DLP rules file: the whole catalog, findings of medium confidence or more,
    /// default extraction limits.
    pub fn for_incidents() -> Self {
        let engine = Engine::builder()
            .min_confidence(Confidence::Medium)
            .build()
            .unwrap_or_else(|_| Engine::with_default_catalog());
        DlpScanner {
            engine,
            limits: Limits::default(),
        }
    }

    /// From a DLP rules file (`CASB_DLP_POLICY`, loaded by [`crate::dlp::policy_file::load`]):
    /// its custom rules, disabled detectors, threshold and extraction limits.
    pub fn from_policy(policy: &crate::dlp::policy_file::Policy) -> Result<Self, String> {
        Ok(DlpScanner {
            engine: policy.build_engine()?,
            limits: policy.limits.clone(),
        })
    }
}

/// The name policies use for a format the extractor recognises.
pub fn format_name(format: Format) -> &'static str {
    match format {
        Format::Zip => "zip",
        Format::Gzip => "gzip",
        Format::Tar => "tar",
        Format::Pdf => "pdf",
        Format::Rtf => "rtf",
        Format::Utf16Le | Format::Utf16Be | Format::PlainText => "text",
        Format::Eml => "email",
        Format::Markup => "markup",
        Format::Binary => "binary",
    }
}

impl ContentScanner for DlpScanner {
    fn detectors(&self) -> Vec<(String, Category)> {
        self.engine
            .detectors()
            .into_iter()
            .map(|d| (d.id, d.category))
            .collect()
    }

    fn max_extracted_bytes(&self, size: u64) -> u64 {
        // Each archive member is refused beyond the compression ratio, and everything
        // extracted from one file stops at the total: a small file cannot need much.
        size.saturating_mul(self.limits.max_compression_ratio)
            .max(size)
            .min(self.limits.max_total_bytes)
    }

    fn scan(&self, file_name: &str, bytes: &[u8]) -> ContentFindings {
        let head = &bytes[..bytes.len().min(8192)];
        let detected_type = format_name(sniff(file_name, head));
        // Extracted once: the detectors and the URL collection read the same text.
        let extracted = crate::dlp::extract::extract(file_name, bytes, &self.limits);
        let mut report = crate::dlp::ScanReport {
            skipped: extracted.skipped,
            errors: extracted.errors,
            ..Default::default()
        };
        let mut urls = Vec::new();
        for part in extracted.parts {
            report.scanned_bytes += part.text.len() as u64;
            report.findings.extend(self.engine.scan_text(&part.text));
            urls_in(&part.text, MAX_URLS, &mut urls);
        }
        let mut counts: BTreeMap<String, DetectorCount> = BTreeMap::new();
        for finding in report.findings {
            let tier = match finding.confidence {
                Confidence::Low => 0,
                Confidence::Medium => 1,
                Confidence::High => 2,
            };
            counts
                .entry(finding.detector_id.clone())
                .or_insert_with(|| DetectorCount {
                    detector: finding.detector_id,
                    category: finding.category,
                    by_confidence: [0; 3],
                })
                .by_confidence[tier] += 1;
        }
        // Inspection fails closed: nothing scanned is "uninspected", a limit hit or a broken
        // member is "partial", and policies can act on either.
        let coverage = match (report.skipped, report.errors.is_empty()) {
            (Some(reason), _) if report.scanned_bytes == 0 => Coverage::Uninspected(reason),
            (Some(reason), _) => Coverage::Partial(reason),
            (None, false) => Coverage::Partial(report.errors.join("; ")),
            (None, true) => Coverage::Complete,
        };
        ContentFindings {
            detectors: counts.into_values().collect(),
            coverage,
            detected_type: Some(detected_type.to_string()),
            urls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(String, u32)> {
        DlpScanner::for_incidents()
            .scan("f.txt", text.as_bytes())
            .counts(Confidence::Medium)
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
    fn urls_are_collected_normalised_and_bounded() {
        let text = b"See HTTPS://Evil.Example/login?next=1#top, or (http://a.example/x). \
                     Not ftp://b.example nor httpx://c.example; again https://evil.example/login?next=1.";
        let mut urls = Vec::new();
        urls_in(text, 10, &mut urls);
        assert_eq!(
            urls,
            vec![
                "https://evil.example/login?next=1".to_string(),
                "http://a.example/x".to_string()
            ]
        );
        let many: String = (0..20).map(|i| format!("https://h{i}.example/ ")).collect();
        let mut bounded = Vec::new();
        urls_in(many.as_bytes(), 5, &mut bounded);
        assert_eq!(bounded.len(), 5);
        let found = DlpScanner::for_incidents().scan(
            "note.txt",
            b"download it from https://files.example/payload.exe today",
        );
        assert_eq!(
            found.urls,
            vec!["https://files.example/payload.exe".to_string()]
        );
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
            findings.counts(Confidence::Medium),
            vec![("credit_card".into(), 1)]
        );
        assert_eq!(findings.coverage, Coverage::Complete);
        assert_eq!(findings.detected_type.as_deref(), Some("zip"));
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
        assert_eq!(found.detectors[0].detector, "project_codename");

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
