//! What content inspection found in one version of a file: its classification.
//!
//! Kept per content version (the provider's hash, or SHA-256 of the bytes downloaded), never
//! per event: a later share of the same version is judged without downloading it again, and a
//! new version (a new hash) is inspected again. Holds detector ids, categories, counts and
//! confidence, never the values found.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dlp::{Category, Confidence};

/// How one detector fired in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectorCount {
    pub detector: String,
    pub category: Category,
    /// Matches at each confidence, lowest first: `[low, medium, high]`.
    pub by_confidence: [u32; 3],
}

impl DetectorCount {
    /// Matches of at least `confidence`.
    pub fn at_least(&self, confidence: Confidence) -> u32 {
        let from = match confidence {
            Confidence::Low => 0,
            Confidence::Medium => 1,
            Confidence::High => 2,
        };
        self.by_confidence[from..].iter().sum()
    }

    pub fn total(&self) -> u32 {
        self.by_confidence.iter().sum()
    }
}

/// Whether the whole file went through the detectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum Coverage {
    /// Every byte of extracted text was scanned.
    Complete,
    /// Part was scanned (the first part of an oversized member, the text runs of a mostly
    /// binary file); the reason says what was left out.
    Partial(String),
    /// Nothing was scanned: too large to download, download refused, unknown format, timeout.
    Uninspected(String),
}

impl Coverage {
    /// Inspection fails closed: anything short of complete is worth a policy's attention.
    pub fn is_complete(&self) -> bool {
        matches!(self, Coverage::Complete)
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Coverage::Complete => None,
            Coverage::Partial(reason) | Coverage::Uninspected(reason) => Some(reason),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub tenant_id: String,
    /// `{algorithm}:{hex}`: the provider's content hash (`sha1:` for Box) or `sha256:` of the
    /// bytes downloaded.
    pub content_key: String,
    pub detectors: Vec<DetectorCount>,
    pub coverage: Coverage,
    /// The format the extractor recognised (`pdf`, `docx`, `zip`, `text`, ...).
    pub detected_type: Option<String>,
    /// Bytes downloaded, when the file was downloaded.
    pub size: Option<u64>,
    /// The SHA-256 of the bytes downloaded (lower-case hex), for the tenant's SHA-256 block list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The URLs in the file's text ([`crate::content::urls_in`]), for the URL block list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    pub inspected_at: DateTime<Utc>,
}

impl Classification {
    /// The content's SHA-1 (the provider's content hash, when it is one).
    pub fn sha1(&self) -> Option<&str> {
        self.content_key.strip_prefix("sha1:")
    }
}

impl Classification {
    /// A file that could not be inspected at all, with why.
    pub fn uninspected(
        tenant_id: &str,
        content_key: &str,
        reason: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Classification {
            tenant_id: tenant_id.to_string(),
            content_key: content_key.to_string(),
            detectors: Vec::new(),
            coverage: Coverage::Uninspected(reason.into()),
            detected_type: None,
            size: None,
            sha256: None,
            urls: Vec::new(),
            inspected_at: now,
        }
    }
}

/// The cache key of a content hash the provider reports: `sha1:<hex>`, lower-case.
pub fn content_key(algorithm: &str, hex_digest: &str) -> String {
    format!(
        "{}:{}",
        algorithm.to_ascii_lowercase(),
        hex_digest.to_ascii_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_at_a_confidence_include_the_tiers_above_it() {
        let count = DetectorCount {
            detector: "credit_card".into(),
            category: Category::Financial,
            by_confidence: [5, 2, 1],
        };
        assert_eq!(count.at_least(Confidence::Low), 8);
        assert_eq!(count.at_least(Confidence::Medium), 3);
        assert_eq!(count.at_least(Confidence::High), 1);
    }
}
