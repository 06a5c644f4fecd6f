//! The CASB's domain: activities, integrations, checkpoints, incidents and response actions, and
//! the versioned envelopes that carry them between stages. Nothing here knows about AWS or SQLite.

mod activity;
mod anomaly;
mod block_list;
mod checkpoint;
mod classification;
mod envelope;
mod incident;
mod integration;
mod poll_job;
mod response_action;

#[cfg(test)]
pub(crate) use activity::fixtures;
pub use activity::*;
pub use anomaly::*;
pub use block_list::*;
pub use checkpoint::*;
pub use classification::*;
pub use envelope::*;
pub use incident::*;
pub use integration::*;
pub use poll_job::*;
pub use response_action::*;

use serde::{Deserialize, Serialize};

/// A SaaS provider or security-event source the CASB connects to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Box,
    Microsoft365,
    GoogleWorkspace,
    Slack,
    Dropbox,
    Netskope,
    TrendMicro,
}

impl Provider {
    pub const ALL: [Provider; 7] = [
        Provider::Box,
        Provider::Microsoft365,
        Provider::GoogleWorkspace,
        Provider::Slack,
        Provider::Dropbox,
        Provider::Netskope,
        Provider::TrendMicro,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Box => "box",
            Provider::Microsoft365 => "microsoft365",
            Provider::GoogleWorkspace => "google_workspace",
            Provider::Slack => "slack",
            Provider::Dropbox => "dropbox",
            Provider::Netskope => "netskope",
            Provider::TrendMicro => "trend_micro",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Provider::ALL.iter().map(|p| p.as_str()).collect();
                format!(
                    "unknown provider '{s}': expected one of {}",
                    known.join(", ")
                )
            })
    }
}

/// Checks a tenant id (or any id that goes into URLs, keys and secret names): 1 to 64
/// characters from `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`. An id with `/` would
/// make a webhook address that never resolves; a 10 000-character one, keys no store takes.
pub fn validate_id(kind: &str, id: &str) -> Result<(), String> {
    let valid_chars = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if id.is_empty() || id.len() > 64 || !valid_chars || id.starts_with(['.', '-']) {
        return Err(format!(
            "{kind} '{}' is not valid: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            id.chars().take(80).collect::<String>()
        ));
    }
    Ok(())
}

/// Label helpers for enums stored as plain strings in tables and queues.
pub fn enum_label<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_would_break_urls_keys_or_secret_names_are_refused() {
        for good in ["tenant-a", "acme.prod_1", "T1", &"a".repeat(64)] {
            assert_eq!(validate_id("tenant id", good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "a b",
            "a#b",
            "../x",
            "-x",
            ".x",
            "é",
            &"a".repeat(65),
            &"a".repeat(10_000),
        ] {
            let error = validate_id("tenant id", bad).unwrap_err();
            assert!(error.contains("tenant id") && error.len() < 300, "{error}");
        }
    }

    #[test]
    fn provider_names_round_trip_and_unknown_names_say_what_is_allowed() {
        for provider in Provider::ALL {
            assert_eq!(provider.as_str().parse::<Provider>(), Ok(provider));
            assert_eq!(enum_label(&provider), provider.as_str());
        }
        let err = "boxx".parse::<Provider>().unwrap_err();
        assert!(err.contains("box, microsoft365"), "{err}");
    }
}
