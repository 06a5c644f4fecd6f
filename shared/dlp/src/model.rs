//! The vocabulary shared by the engine, the scan command and the consumers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of data a detector finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Pii,
    Financial,
    Health,
    Secret,
    Custom,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Pii => "pii",
            Category::Financial => "financial",
            Category::Health => "health",
            Category::Secret => "secret",
            Category::Custom => "custom",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the engine is that a match is real (the Purview model): the pattern alone,
/// plus a passed checksum, plus supporting keywords nearby.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Confidence> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Some(Confidence::Low),
            "medium" => Some(Confidence::Medium),
            "high" => Some(Confidence::High),
            _ => None,
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One match. `start`/`end` are byte offsets into the extracted text of `part` (or of the
/// file itself when `part` is `None`). `snippet` is masked: never the full value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub detector_id: String,
    pub category: Category,
    pub confidence: Confidence,
    pub start: usize,
    pub end: usize,
    /// 1-based line of `start` in the scanned text, and its 1-based column in characters
    /// (Unicode code points): what an editor and SARIF's `region` point at.
    #[serde(default)]
    pub line: usize,
    #[serde(default)]
    pub column: usize,
    pub snippet: String,
    /// Entry inside a container (zip member, e-mail attachment, tar member), `a.zip!b.docx`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub part: Option<String>,
}

/// Result of scanning one file or buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    pub findings: Vec<Finding>,
    /// Set when the content was not scanned at all (unknown binary, too large, ...).
    pub skipped: Option<String>,
    /// Problems that did not stop the scan (a broken archive member, a limit hit, ...).
    pub errors: Vec<String>,
    /// Bytes of extracted text that went through the detectors.
    pub scanned_bytes: u64,
}

impl ScanReport {
    /// Number of findings per detector id, sorted by id.
    pub fn count_by_detector(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for f in &self.findings {
            *counts.entry(f.detector_id.clone()).or_insert(0) += 1;
        }
        counts
    }
}
