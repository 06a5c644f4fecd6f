//! Box webhook v2 signatures and payloads (saas-apis.md §1.3; Box's "signatures-v2" guide).
//!
//! Signature: base64(HMAC-SHA256(key, raw body bytes ‖ BOX-DELIVERY-TIMESTAMP bytes)), compared
//! in constant time with BOX-SIGNATURE-PRIMARY (primary key) and BOX-SIGNATURE-SECONDARY
//! (secondary key); valid if either matches and the timestamp is within the replay window.
//! (Box's own sample code swaps the two headers; this follows the prose.)

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::events::{event_name_for_trigger, event_type, text, timestamp};
use casb_shared::connector::{ConnectorError, NoticeId, WebhookDelivery, WebhookRejection};
use casb_shared::domain::{Activity, Enrichments, IngestPath, Integration, Provider, UserType};

/// How far in the future a delivery timestamp may be (clock skew); Box documents only the past.
const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

fn matches(key: &str, body: &[u8], timestamp: &str, signature: &str) -> bool {
    let Ok(expected) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.update(timestamp.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

pub fn verify(
    delivery: &WebhookDelivery<'_>,
    primary_key: Option<&str>,
    secondary_key: Option<&str>,
    now: DateTime<Utc>,
    max_age: Duration,
) -> Result<(), WebhookRejection> {
    if primary_key.is_none() && secondary_key.is_none() {
        return Err(WebhookRejection::NoKeys);
    }
    let header = |name: &'static str| delivery.headers.get(name).map(String::as_str);
    let timestamp = header("box-delivery-timestamp")
        .ok_or(WebhookRejection::MissingHeader("BOX-DELIVERY-TIMESTAMP"))?;
    let sent = DateTime::parse_from_rfc3339(timestamp)
        .map_err(|_| WebhookRejection::BadTimestamp)?
        .with_timezone(&Utc);
    if now - sent > max_age || sent - now > MAX_CLOCK_SKEW {
        return Err(WebhookRejection::Expired);
    }
    let primary = primary_key.zip(header("box-signature-primary"));
    let secondary = secondary_key.zip(header("box-signature-secondary"));
    if primary.is_none() && secondary.is_none() {
        return Err(WebhookRejection::MissingHeader("BOX-SIGNATURE-PRIMARY"));
    }
    let valid = primary
        .is_some_and(|(key, signature)| matches(key, delivery.body, timestamp, signature))
        || secondary
            .is_some_and(|(key, signature)| matches(key, delivery.body, timestamp, signature));
    if valid {
        Ok(())
    } else {
        Err(WebhookRejection::BadSignature)
    }
}

/// Which delivery a verified body is: its `id` (stable across Box's retries) and the webhook
/// that sent it. Reads the body only; no call to Box.
pub fn notice_id(body: &[u8]) -> Result<NoticeId, WebhookRejection> {
    let event: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookRejection::Unreadable(format!("webhook body is not JSON: {e}")))?;
    let delivery_id = text(&event, "id")
        .ok_or_else(|| WebhookRejection::Unreadable("webhook body has no id".into()))?;
    Ok(NoticeId {
        delivery_id,
        webhook_id: event.get("webhook").and_then(|w| text(w, "id")),
    })
}

/// A verified `webhook_event` body as activities (before enrichment).
pub fn parse(integration: &Integration, body: &[u8]) -> Result<Vec<Activity>, ConnectorError> {
    let event: Value = serde_json::from_slice(body)
        .map_err(|e| ConnectorError::Permanent(format!("webhook body is not JSON: {e}")))?;
    let delivery_id = text(&event, "id")
        .ok_or_else(|| ConnectorError::Permanent("webhook body has no id".into()))?;
    let trigger = text(&event, "trigger").unwrap_or_default();
    if trigger == "WEBHOOK.DELETED" || trigger == "NO_ACTIVE_SESSION" {
        // Lifecycle notices, not user activity (Box deletes idle webhooks; expired sessions).
        tracing::warn!(integration = %integration.id, %trigger, "Box webhook lifecycle notice");
        return Ok(vec![]);
    }
    let event_name = event_name_for_trigger(&trigger).to_string();
    let created_by = event.get("created_by").cloned().unwrap_or(Value::Null);
    let source = event.get("source").cloned().unwrap_or(Value::Null);
    // For COLLABORATION.* the source is the collaboration; the item is inside it.
    let item = source
        .get("item")
        .filter(|_| text(&source, "type").as_deref() == Some("collaboration"))
        .cloned();
    let object = item.as_ref().unwrap_or(&source);
    let target = if item.is_some() {
        source.get("accessible_by").cloned()
    } else {
        None
    };
    let activity = Activity {
        tenant_id: integration.tenant_id.clone(),
        event_id: delivery_id.clone(),
        event_type: event_type(&event_name),
        event_timestamp: timestamp(&event, "created_at").unwrap_or_else(Utc::now),
        log_timestamp: None,
        actor_id: text(&created_by, "id"),
        actor_name: text(&created_by, "name"),
        actor_email: text(&created_by, "login").map(|e| e.to_ascii_lowercase()),
        actor_type: UserType::Unknown,
        actor_role: None,
        actor_ip: None,
        object_id: text(object, "id"),
        file_download_url: None,
        object_type: text(object, "type"),
        object_name: text(object, "name"),
        object_path: None,
        from_email: None,
        target_user_email: target
            .as_ref()
            .and_then(|t| text(t, "login"))
            .or_else(|| text(&source, "invite_email"))
            .map(|e| e.to_ascii_lowercase()),
        target_user_id: target.as_ref().and_then(|t| text(t, "id")),
        target_user_type: None,
        role_granted: if item.is_some() {
            text(&source, "role")
        } else {
            None
        },
        shared_link: None,
        link_visibility: None,
        event_name,
        provider: Provider::Box,
        integration_id: integration.id.clone(),
        ingest_path: IngestPath::Push,
        raw: event.clone(),
        enrichments: Enrichments::default(),
        identity: None,
        incomplete: None,
        seen_by: vec![],
    };
    Ok(vec![activity])
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn sign(key: &str, body: &[u8], timestamp: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(body);
        mac.update(timestamp.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    fn headers(
        timestamp: &str,
        primary: Option<String>,
        secondary: Option<String>,
    ) -> HashMap<String, String> {
        let mut h = HashMap::from([("box-delivery-timestamp".to_string(), timestamp.to_string())]);
        if let Some(p) = primary {
            h.insert("box-signature-primary".into(), p);
        }
        if let Some(s) = secondary {
            h.insert("box-signature-secondary".into(), s);
        }
        h
    }

    #[test]
    fn signatures_verify_with_either_key_within_the_window_only() {
        let body = br#"{"type":"webhook_event","id":"d-1"}"#;
        let now: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
        let ts = "2026-11-24T09:58:00Z";
        let age = Duration::minutes(10);
        let check = |h: &HashMap<String, String>, body: &[u8], now| {
            verify(
                &WebhookDelivery { headers: h, body },
                Some("primary-key"),
                Some("secondary-key"),
                now,
                age,
            )
        };

        let both = headers(
            ts,
            Some(sign("primary-key", body, ts)),
            Some(sign("secondary-key", body, ts)),
        );
        assert_eq!(check(&both, body, now), Ok(()));
        // Mid-rotation: only the secondary matches.
        let rotated = headers(
            ts,
            Some(sign("old-key", body, ts)),
            Some(sign("secondary-key", body, ts)),
        );
        assert_eq!(check(&rotated, body, now), Ok(()));
        // Keys swapped between headers (the guide's sample bug) do not verify.
        let swapped = headers(
            ts,
            Some(sign("secondary-key", body, ts)),
            Some(sign("primary-key", body, ts)),
        );
        assert_eq!(
            check(&swapped, body, now),
            Err(WebhookRejection::BadSignature)
        );
        // A changed body, or a changed timestamp under the same signature.
        assert_eq!(
            check(&both, br#"{"type":"webhook_event","id":"d-2"}"#, now),
            Err(WebhookRejection::BadSignature)
        );
        let retimed = headers(
            "2026-11-24T09:59:00Z",
            Some(sign("primary-key", body, ts)),
            None,
        );
        assert_eq!(
            check(&retimed, body, now),
            Err(WebhookRejection::BadSignature)
        );
        // Older than 10 minutes, or from the future.
        assert_eq!(
            check(&both, body, now + Duration::minutes(9)),
            Err(WebhookRejection::Expired)
        );
        assert_eq!(
            check(&both, body, now - Duration::minutes(8)),
            Err(WebhookRejection::Expired)
        );
        // Missing or broken headers.
        assert_eq!(
            check(&HashMap::new(), body, now),
            Err(WebhookRejection::MissingHeader("BOX-DELIVERY-TIMESTAMP"))
        );
        assert_eq!(
            check(&headers("yesterday", None, None), body, now),
            Err(WebhookRejection::BadTimestamp)
        );
        assert_eq!(
            check(&headers(ts, Some("%%%".into()), None), body, now),
            Err(WebhookRejection::BadSignature)
        );
        assert_eq!(
            verify(
                &WebhookDelivery {
                    headers: &both,
                    body
                },
                None,
                None,
                now,
                age
            ),
            Err(WebhookRejection::NoKeys)
        );
    }
}
