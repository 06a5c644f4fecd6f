//! Versioned JSON envelopes for messages between stages.
//!
//! Every queue message is `{"version": 1, "kind": "...", "id": "...", "sent_at": "...",
//! "payload": {...}}`. The version lets a consumer refuse a message it does not understand with a
//! clear error (the message then ends in the dead-letter queue, nothing is lost) instead of
//! misreading it during a rolling deploy.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Activity, ResponseAction};

pub const ENVELOPE_VERSION: u32 = 1;

/// What a message carries; each kind has a fixed payload type.
pub trait MessageKind: Serialize + DeserializeOwned {
    const KIND: &'static str;
    /// A stable id: the same payload always gets the same message id (used for SQS batch entry
    /// ids and as the dedup handle downstream).
    fn message_id(&self) -> String;
}

impl MessageKind for Activity {
    const KIND: &'static str = "activity";
    fn message_id(&self) -> String {
        self.id()
    }
}

impl MessageKind for ResponseAction {
    const KIND: &'static str = "response_action";
    fn message_id(&self) -> String {
        self.id.clone()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub version: u32,
    pub kind: String,
    pub id: String,
    pub sent_at: DateTime<Utc>,
    pub payload: T,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvelopeError {
    #[error("message is not a JSON envelope: {0}")]
    Malformed(String),
    #[error("message envelope version {found} is not supported (this build reads version {ENVELOPE_VERSION}); deploy a matching build or replay the message from the dead-letter queue")]
    UnsupportedVersion { found: u32 },
    #[error("message kind '{found}' sent to a consumer of '{expected}': check the queue wiring")]
    WrongKind {
        expected: &'static str,
        found: String,
    },
}

impl<T: MessageKind> Envelope<T> {
    pub fn wrap(payload: T, sent_at: DateTime<Utc>) -> Self {
        Envelope {
            version: ENVELOPE_VERSION,
            kind: T::KIND.to_string(),
            id: payload.message_id(),
            sent_at,
            payload,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("envelopes contain only JSON-representable data")
    }

    /// Parses a message body, checking version and kind before the payload.
    pub fn parse(body: &str) -> Result<Self, EnvelopeError> {
        #[derive(Deserialize)]
        struct Header {
            version: u32,
            kind: String,
        }
        let header: Header =
            serde_json::from_str(body).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if header.version != ENVELOPE_VERSION {
            return Err(EnvelopeError::UnsupportedVersion {
                found: header.version,
            });
        }
        if header.kind != T::KIND {
            return Err(EnvelopeError::WrongKind {
                expected: T::KIND,
                found: header.kind,
            });
        }
        serde_json::from_str(body).map_err(|e| EnvelopeError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::fixtures;

    #[test]
    fn envelope_round_trips_and_checks_version_and_kind() {
        let activity = fixtures::public_share("e-1");
        let envelope = Envelope::wrap(activity.clone(), Utc::now());
        let parsed = Envelope::<Activity>::parse(&envelope.to_json()).unwrap();
        assert_eq!(parsed.payload, activity);
        assert_eq!(parsed.id, activity.id());

        let future = envelope.to_json().replace("\"version\":1", "\"version\":2");
        assert_eq!(
            Envelope::<Activity>::parse(&future).unwrap_err(),
            EnvelopeError::UnsupportedVersion { found: 2 }
        );
        let wrong = Envelope::<ResponseAction>::parse(&envelope.to_json()).unwrap_err();
        assert!(matches!(
            wrong,
            EnvelopeError::WrongKind {
                expected: "response_action",
                ..
            }
        ));
        assert!(matches!(
            Envelope::<Activity>::parse("{not json").unwrap_err(),
            EnvelopeError::Malformed(_)
        ));
    }
}
