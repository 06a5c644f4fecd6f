//! Webhooks v2 (saas-apis.md §1.3): CRUD on `/2.0/webhooks`, and signed, retried deliveries
//! of `webhook_event` bodies to the webhook's address.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::error::BoxError;
use crate::faults::endless_marker_page;
use crate::oauth::parse_query;
use crate::params::{marker_page, page_limit, required_item_kind, required_str};
use crate::server::{parse_json_body, Shared};
use crate::state::{box_time, now, ItemKind, ItemRef, SimState, ROOT_FOLDER_ID};

/// The triggers of the `Webhook` schema in Box's OpenAPI spec.
pub const KNOWN_TRIGGERS: &[&str] = &[
    "FILE.UPLOADED",
    "FILE.PREVIEWED",
    "FILE.DOWNLOADED",
    "FILE.TRASHED",
    "FILE.DELETED",
    "FILE.RESTORED",
    "FILE.COPIED",
    "FILE.MOVED",
    "FILE.LOCKED",
    "FILE.UNLOCKED",
    "FILE.RENAMED",
    "COMMENT.CREATED",
    "COMMENT.UPDATED",
    "COMMENT.DELETED",
    "TASK_ASSIGNMENT.CREATED",
    "TASK_ASSIGNMENT.UPDATED",
    "METADATA_INSTANCE.CREATED",
    "METADATA_INSTANCE.UPDATED",
    "METADATA_INSTANCE.DELETED",
    "FOLDER.CREATED",
    "FOLDER.RENAMED",
    "FOLDER.DOWNLOADED",
    "FOLDER.RESTORED",
    "FOLDER.DELETED",
    "FOLDER.COPIED",
    "FOLDER.MOVED",
    "FOLDER.TRASHED",
    "WEBHOOK.DELETED",
    "COLLABORATION.CREATED",
    "COLLABORATION.ACCEPTED",
    "COLLABORATION.REJECTED",
    "COLLABORATION.REMOVED",
    "COLLABORATION.UPDATED",
    "SHARED_LINK.DELETED",
    "SHARED_LINK.CREATED",
    "SHARED_LINK.UPDATED",
    "SIGN_REQUEST.COMPLETED",
    "SIGN_REQUEST.DECLINED",
    "SIGN_REQUEST.EXPIRED",
    "SIGN_REQUEST.SIGNER_EMAIL_BOUNCED",
    "SIGN_REQUEST.SIGN_SIGNER_SIGNED",
    "SIGN_REQUEST.SIGN_DOCUMENT_CREATED",
    "SIGN_REQUEST.SIGN_ERROR_FINALIZING",
];

#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    pub id: String,
    pub target: ItemRef,
    pub address: String,
    pub triggers: Vec<String>,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// How a delivery deviates from a correct one (fault injection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DeliveryTamper {
    #[default]
    None,
    /// Both signature headers computed with wrong keys.
    BadSignature,
    /// Correctly signed, but with a `BOX-DELIVERY-TIMESTAMP` this many seconds in the past.
    OldTimestamp { age_secs: u64 },
}

#[derive(Debug, Clone)]
pub(crate) struct PendingDelivery {
    pub webhook_id: String,
    /// The body `id`, stable across retries and replays (the receiver's dedupe key).
    pub webhook_event_id: String,
    pub trigger: String,
    pub address: String,
    pub body: String,
    pub tamper: DeliveryTamper,
}

/// One delivery attempt, as recorded in the inspectable delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub delivery_id: String,
    pub webhook_id: String,
    pub webhook_event_id: String,
    pub trigger: String,
    pub address: String,
    /// 1 for the first try, 2.. for retries.
    pub attempt: u32,
    pub timestamp: String,
    pub tamper: DeliveryTamper,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub body: String,
    pub signature_primary: String,
    pub signature_secondary: String,
}

impl WebhookDelivery {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// `base64(HMAC-SHA256(key = UTF-8 key, msg = raw body ‖ timestamp header))`, as
/// saas-apis.md §1.3 (Box's signatures-v2 guide) specifies.
pub fn sign_webhook_body(body: &[u8], timestamp: &str, key: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(), // HMAC accepts keys of any length; unreachable
    };
    mac.update(body);
    mac.update(timestamp.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Sends one webhook body, retrying on non-2xx after the configured delays. Each attempt has
/// a fresh delivery id and timestamp; the body (and its `id`) stays the same.
pub(crate) async fn deliver(shared: Arc<Shared>, pending: PendingDelivery) {
    let (primary_key, secondary_key, delays, timeout) = shared.with_state(|state| {
        (
            state.config.webhook_primary_key.clone(),
            state.config.webhook_secondary_key.clone(),
            state.config.webhook_retry_delays.clone(),
            state.config.webhook_timeout,
        )
    });
    let attempts = delays.len() as u32 + 1;
    for attempt in 1..=attempts {
        let sent_at = match pending.tamper {
            DeliveryTamper::OldTimestamp { age_secs } => {
                crate::state::ago(std::time::Duration::from_secs(age_secs))
            }
            _ => now(),
        };
        let timestamp = box_time(&sent_at);
        let (signature_primary, signature_secondary) = match pending.tamper {
            DeliveryTamper::BadSignature => (
                sign_webhook_body(pending.body.as_bytes(), &timestamp, "not-the-primary-key"),
                sign_webhook_body(pending.body.as_bytes(), &timestamp, "not-the-secondary-key"),
            ),
            _ => (
                sign_webhook_body(pending.body.as_bytes(), &timestamp, &primary_key),
                sign_webhook_body(pending.body.as_bytes(), &timestamp, &secondary_key),
            ),
        };
        let delivery_id = uuid::Uuid::new_v4().to_string();
        let result = shared
            .http
            .post(&pending.address)
            .timeout(timeout)
            .header("content-type", "application/json; charset=UTF-8")
            .header("user-agent", "Box-WH-Client/0.1")
            .header("BOX-DELIVERY-ID", &delivery_id)
            .header("BOX-DELIVERY-TIMESTAMP", &timestamp)
            .header("BOX-SIGNATURE-PRIMARY", &signature_primary)
            .header("BOX-SIGNATURE-SECONDARY", &signature_secondary)
            .header("BOX-SIGNATURE-VERSION", "1")
            .header("BOX-SIGNATURE-ALGORITHM", "HmacSHA256")
            .body(pending.body.clone())
            .send()
            .await;
        let (status, error) = match result {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(error) => (None, Some(error.to_string())),
        };
        let record = WebhookDelivery {
            delivery_id,
            webhook_id: pending.webhook_id.clone(),
            webhook_event_id: pending.webhook_event_id.clone(),
            trigger: pending.trigger.clone(),
            address: pending.address.clone(),
            attempt,
            timestamp,
            tamper: pending.tamper,
            status,
            error,
            body: pending.body.clone(),
            signature_primary,
            signature_secondary,
        };
        let succeeded = record.succeeded();
        shared.with_state(|state| state.deliveries.push(record));
        shared.delivery_notify.notify_waiters();
        if succeeded {
            return;
        }
        if let Some(delay) = delays.get(attempt as usize - 1) {
            tokio::time::sleep(*delay).await;
        }
    }
}

/// Box requires HTTPS on port 443; locally that cannot be met, so the simulator also accepts
/// plain http:// on loopback addresses.
fn address_allowed(address: &str) -> bool {
    if address.starts_with("https://") {
        return true;
    }
    let Some(rest) = address.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]") || host.starts_with("127.")
}

/// The webhook as `GET /2.0/webhooks` lists it.
fn webhook_mini(hook: &Webhook) -> Value {
    json!({
        "id": hook.id,
        "type": "webhook",
        "target": {"id": hook.target.id, "type": hook.target.kind.as_str()},
    })
}

impl SimState {
    pub fn webhook_json(&self, hook: &Webhook) -> Value {
        json!({
            "id": hook.id,
            "type": "webhook",
            "target": {"id": hook.target.id, "type": hook.target.kind.as_str()},
            "created_by": self.user_mini(&hook.created_by),
            "created_at": box_time(&hook.created_at),
            "address": hook.address,
            "triggers": hook.triggers,
        })
    }

    pub fn create_webhook(&mut self, actor_id: &str, body: &Value) -> Result<Value, BoxError> {
        if body.get("target").is_none() {
            return Err(BoxError::bad_request("Missing parameter target"));
        }
        let target_id = required_str(body, "target.id")?;
        let kind = required_item_kind(body, "target.type")?;
        let address = required_str(body, "address")?;
        let triggers: Vec<String> = body
            .get("triggers")
            .and_then(Value::as_array)
            .ok_or_else(|| BoxError::bad_request("Missing parameter triggers"))?
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| BoxError::bad_request("triggers must be strings"))
            })
            .collect::<Result<_, _>>()?;
        if triggers.is_empty() {
            return Err(BoxError::bad_request("triggers must not be empty"));
        }
        if let Some(unknown) = triggers
            .iter()
            .find(|t| !KNOWN_TRIGGERS.contains(&t.as_str()))
        {
            return Err(BoxError::bad_request(format!("Unknown trigger {unknown}")));
        }
        if !address_allowed(address) {
            return Err(BoxError::bad_request(
                "The address must be an HTTPS URL (or http:// on loopback in the simulator)",
            ));
        }
        // Webhooks cannot watch the root folder [box-dev:webhooks/v2/limitations-v2].
        if kind == ItemKind::Folder && target_id == ROOT_FOLDER_ID {
            return Err(BoxError::bad_request(
                "Webhooks cannot be created on the root folder (folder ID 0)",
            ));
        }
        let target = ItemRef {
            kind,
            id: target_id.to_string(),
        };
        self.live_item(&target)?;
        // One webhook per item per app per user.
        if self
            .webhooks
            .values()
            .any(|hook| hook.target == target && hook.created_by == actor_id)
        {
            return Err(BoxError::conflict(
                "conflict",
                "Webhook:create already exists for this target and application",
            ));
        }
        let id = self.new_id();
        let hook = Webhook {
            id: id.clone(),
            target,
            address: address.to_string(),
            triggers,
            created_by: actor_id.to_string(),
            created_at: now(),
        };
        let json = self.webhook_json(&hook);
        self.webhooks.insert(id, hook);
        Ok(json)
    }

    /// Queues a webhook body again (same body id) with a new delivery id and timestamp.
    pub fn replay_webhook_event(
        &mut self,
        webhook_event_id: &str,
        tamper: DeliveryTamper,
    ) -> Result<(), BoxError> {
        let mut pending = self
            .webhook_events
            .get(webhook_event_id)
            .cloned()
            .ok_or_else(|| BoxError::not_found(format!("No webhook event {webhook_event_id}")))?;
        pending.tamper = tamper;
        self.outbox.push(pending);
        Ok(())
    }
}

pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.serve_as_caller(&headers, |state, user| {
        let body = parse_json_body(&body)?;
        let json = state.create_webhook(&user, &body)?;
        Ok((StatusCode::CREATED, axum::Json(json)))
    })
}

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = parse_query(raw.as_deref());
    let limit = page_limit(&query);
    shared.serve_as_caller(&headers, |state, user| {
        let endless = state.faults.endless_pages_on(uri.path());
        // Unlike collaborations, an unreadable marker here starts from the beginning.
        let start = query
            .get("marker")
            .and_then(|m| m.parse::<usize>().ok())
            .filter(|_| !endless)
            .unwrap_or(0);
        let mine: Vec<&Webhook> = state
            .webhooks
            .values()
            .filter(|hook| hook.created_by == user)
            .collect();
        let page = marker_page(&mine, start, limit, |hook| webhook_mini(hook));
        Ok(axum::Json(if endless {
            endless_marker_page(page, limit)
        } else {
            page
        }))
    })
}

pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    shared.serve_as_caller(&headers, |state, _| {
        let hook = state
            .webhooks
            .get(&id)
            .ok_or_else(|| BoxError::not_found(format!("Webhook {id} not found")))?;
        Ok(axum::Json(state.webhook_json(hook)))
    })
}

pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    shared.serve_as_caller(&headers, |state, _| {
        state
            .webhooks
            .remove(&id)
            .ok_or_else(|| BoxError::not_found(format!("Webhook {id} not found")))?;
        Ok(StatusCode::NO_CONTENT)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answer computed outside Rust (Python's hmac + base64) for body ‖ timestamp.
    #[test]
    fn signature_matches_an_independent_known_answer() {
        let signature = sign_webhook_body(
            br#"{"type":"webhook_event"}"#,
            "2020-01-01T00:00:00-07:00",
            "SamplePrimaryKey",
        );
        assert_eq!(signature, "F1phY+x38GcNxRGEYq6wW20jpnVikZhZG/hYK2eDQro=");
    }

    #[test]
    fn tamper_modes_parse_from_control_json() {
        let parse = |text: &str| serde_json::from_str::<DeliveryTamper>(text).ok();
        assert_eq!(parse(r#"{"kind":"none"}"#), Some(DeliveryTamper::None));
        assert_eq!(
            parse(r#"{"kind":"bad_signature"}"#),
            Some(DeliveryTamper::BadSignature)
        );
        assert_eq!(
            parse(r#"{"kind":"old_timestamp","age_secs":900}"#),
            Some(DeliveryTamper::OldTimestamp { age_secs: 900 })
        );
        assert_eq!(parse(r#"{"kind":"explode"}"#), None);
    }

    #[test]
    fn only_https_or_loopback_http_addresses_are_accepted() {
        assert!(address_allowed("https://hooks.example.com/box"));
        assert!(address_allowed("http://127.0.0.1:8080/hook"));
        assert!(address_allowed("http://localhost/hook"));
        assert!(!address_allowed("http://hooks.example.com/box"));
        assert!(!address_allowed("ftp://127.0.0.1/x"));
    }
}
