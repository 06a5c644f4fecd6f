//! A tenant's block lists: senders, URLs and file hashes the security team has judged bad. The
//! inspector applies them to every file it reads; the REST API edits them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockList {
    /// Mail addresses (`user@example.com`) or whole domains (`@example.com`).
    Senders,
    /// Absolute http(s) URLs.
    Urls,
    Sha1,
    Sha256,
}

impl BlockList {
    pub const ALL: [BlockList; 4] = [
        BlockList::Senders,
        BlockList::Urls,
        BlockList::Sha1,
        BlockList::Sha256,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BlockList::Senders => "senders",
            BlockList::Urls => "urls",
            BlockList::Sha1 => "sha1",
            BlockList::Sha256 => "sha256",
        }
    }

    /// The value in the one form it is stored and matched in, or why it is not valid for this
    /// list.
    pub fn normalize(self, value: &str) -> Result<String, String> {
        let value = value.trim();
        if value.is_empty() || value.len() > 2048 {
            return Err(format!(
                "a {} entry must be 1 to 2048 characters",
                self.as_str()
            ));
        }
        match self {
            BlockList::Sha1 | BlockList::Sha256 => {
                let digits = if self == BlockList::Sha1 { 40 } else { 64 };
                if value.len() != digits || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "'{}' is not a {} hash: expected {digits} hexadecimal digits",
                        preview(value),
                        self.as_str().to_uppercase()
                    ));
                }
                Ok(value.to_ascii_lowercase())
            }
            BlockList::Senders => {
                let lower = value.to_lowercase();
                let (local, domain) = lower.rsplit_once('@').ok_or_else(|| {
                    format!(
                        "'{}' is not a sender: give a mail address (user@example.com) or a domain (@example.com)",
                        preview(value)
                    )
                })?;
                let domain_ok = domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && domain
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                let local_ok = !local.contains(['@', ' ', '<', '>', ',', ';']);
                if !domain_ok || !local_ok {
                    return Err(format!(
                        "'{}' is not a sender: give a mail address (user@example.com) or a domain (@example.com)",
                        preview(value)
                    ));
                }
                Ok(lower)
            }
            BlockList::Urls => {
                let mut url = reqwest::Url::parse(value)
                    .map_err(|e| format!("'{}' is not an absolute URL: {e}", preview(value)))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(format!(
                        "'{}' is not an http or https URL with a host",
                        preview(value)
                    ));
                }
                url.set_fragment(None);
                Ok(url.to_string())
            }
        }
    }
}

impl std::str::FromStr for BlockList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BlockList::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("unknown block list '{s}': use senders, urls, sha1 or sha256"))
    }
}

fn preview(value: &str) -> String {
    value.chars().take(80).collect()
}

/// One blocked value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlockEntry {
    pub tenant_id: String,
    pub list: BlockList,
    /// Normalised: hashes in lower case, senders in lower case, URLs without their fragment.
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub added_at: DateTime<Utc>,
    /// The credential that added it.
    pub added_by: String,
}

/// A block-list entry an activity or its file matched: worked out by the inspector for each
/// activity (lists change; classifications are cached), never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEntryMatch {
    pub list: BlockList,
    pub value: String,
}

impl BlockList {
    /// Whether the list is judged on a file's content (its hash, the URLs in it) rather than
    /// on the activity (its sender).
    pub fn on_content(self) -> bool {
        self != BlockList::Senders
    }
}

/// Whether `sender` (a mail address) is on a senders list entry: the address itself, or
/// `@domain` for every address at that domain.
pub fn sender_listed(entry: &str, sender: &str) -> bool {
    let sender = sender.trim().to_lowercase();
    match entry.strip_prefix('@') {
        Some(domain) => sender.rsplit_once('@').is_some_and(|(_, d)| d == domain),
        None => sender == entry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_list_accepts_its_own_format_and_explains_a_refusal() {
        let sha1 = "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709";
        assert_eq!(
            BlockList::Sha1.normalize(sha1).unwrap(),
            sha1.to_lowercase()
        );
        assert!(BlockList::Sha256
            .normalize(sha1)
            .unwrap_err()
            .contains("64 hexadecimal digits"));
        assert!(BlockList::Sha1.normalize(&"g".repeat(40)).is_err());
        assert_eq!(
            BlockList::Senders.normalize(" Eve@Evil.Example ").unwrap(),
            "eve@evil.example"
        );
        assert_eq!(
            BlockList::Senders.normalize("@evil.example").unwrap(),
            "@evil.example"
        );
        assert!(BlockList::Senders.normalize("evil.example").is_err());
        assert!(BlockList::Senders.normalize("a@b@c.example").is_err());
        assert!(BlockList::Senders.normalize("eve@localhost").is_err());
        assert_eq!(
            BlockList::Urls
                .normalize("HTTPS://Evil.Example/path?q=1#frag")
                .unwrap(),
            "https://evil.example/path?q=1"
        );
        assert!(BlockList::Urls.normalize("javascript:alert(1)").is_err());
        assert!(BlockList::Urls.normalize("/relative").is_err());
        assert!("md5".parse::<BlockList>().is_err());
    }

    #[test]
    fn a_sender_is_listed_by_address_or_by_domain() {
        assert!(sender_listed("eve@evil.example", "Eve@Evil.Example"));
        assert!(sender_listed("@evil.example", "anyone@evil.example"));
        assert!(!sender_listed("@evil.example", "eve@notevil.example"));
        assert!(!sender_listed("@evil.example", "eve@sub.evil.example.com"));
        assert!(!sender_listed("eve@evil.example", "adam@evil.example"));
    }
}
