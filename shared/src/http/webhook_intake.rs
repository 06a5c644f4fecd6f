//! The webhook intake function: answer handshakes, verify, dedupe, enqueue, answer. It never
//! calls the provider and never refreshes a token, so it answers in milliseconds whatever the
//! provider is doing (Graph wants its validation answered within 10 seconds, Slack within 3).
//!
//! `POST|GET /webhooks/{provider}/{tenant_id}/{integration_id}`:
//! 1. handshakes the connector declares that the provider does not sign are answered first;
//! 2. the signature and timestamp are checked over the exact raw bytes (401, nothing queued);
//! 3. signed handshakes (Slack's `url_verification`) are answered;
//! 4. the delivery must name a webhook the integration in the URL registered (403);
//! 5. a delivery seen before is acknowledged and dropped; otherwise the raw notice goes onto the
//!    poll-jobs queue and its delivery id is recorded, in one step (`OnceQueue`); the poller
//!    turns the notice into activities.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Duration;

use super::{connector_for, ApiError};
use crate::connector::{HandshakeAnswer, WebhookDelivery, WebhookRequest};
use crate::core::Core;
use crate::domain::{Envelope, PollJob, PollWork};
use crate::ports::{OutgoingMessage, SendOnce};

/// Our own body limit, far below API Gateway's 10 MB and inside SQS's 256 KiB message limit
/// (the notice travels on the poll-jobs queue): webhook payloads are small JSON.
pub const MAX_WEBHOOK_BYTES: usize = 200 * 1024;

/// Routes owned by the webhook-intake function, under `/webhooks`.
pub fn routes(core: Core) -> Router {
    Router::new()
        .route(
            "/webhooks/healthz",
            get(|| async { super::health("webhook-intake") }),
        )
        .route(
            "/webhooks/{provider}/{tenant_id}/{integration_id}",
            post(receive)
                .get(receive)
                .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES)),
        )
        .with_state(core)
}

pub fn router(core: Core) -> Router {
    routes(core).fallback(super::not_found)
}

fn answer(handshake: HandshakeAnswer) -> Response {
    let mut response = (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, handshake.content_type)],
        handshake.body,
    )
        .into_response();
    for (name, value) in handshake.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn receive(
    State(core): State<Core>,
    method: Method,
    Path((provider, tenant_id, integration_id)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (provider, connector) = connector_for(&core, &provider)?;
    let lowered: HashMap<String, String> = headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_ascii_lowercase(),
                value.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let query: HashMap<String, String> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or(""))
            .unwrap_or_default()
            .into_iter()
            .collect();
    let request = WebhookRequest {
        method: method.as_str(),
        query: &query,
        headers: &lowered,
        body: &body,
    };
    let handshakes = connector.webhook_handshakes();
    // The provider proving the address is ours to receive at: echo, nothing else.
    if let Some(reply) = handshakes
        .iter()
        .filter(|h| h.unsigned())
        .find_map(|h| h.answer(&request))
    {
        tracing::info!(%provider, %integration_id, "webhook validation handshake answered");
        return Ok(answer(reply));
    }
    if method != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "webhook deliveries are POSTed",
        ));
    }
    let now = core.backend.clock.now();
    let delivery = WebhookDelivery {
        headers: &lowered,
        body: &body,
    };
    if let Err(rejection) = connector.verify_webhook(&delivery, now).await {
        tracing::warn!(%provider, %integration_id, %rejection, "webhook rejected");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("webhook rejected: {rejection}"),
        ));
    }
    if let Some(reply) = handshakes
        .iter()
        .filter(|h| !h.unsigned())
        .find_map(|h| h.answer(&request))
    {
        return Ok(answer(reply));
    }
    let unavailable =
        |e: &dyn std::fmt::Display| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    let Some(integration) = core
        .backend
        .integrations
        .get_integration(&tenant_id, &integration_id)
        .await
        .map_err(|e| unavailable(&e))?
        .filter(|i| i.provider == provider)
    else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such integration"));
    };
    if !integration.accepts_webhooks() {
        // Acknowledge so the provider stops retrying; a paused or disconnected tenant is not watched.
        tracing::info!(integration = %integration.id, status = ?integration.status, "webhook for an inactive integration dropped");
        return Ok(Json(
            serde_json::json!({"status": "ignored", "reason": "integration is not connected"}),
        )
        .into_response());
    }
    let notice = connector.webhook_notice_id(&delivery).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("webhook not readable: {e}"),
        )
    })?;
    // A signed delivery for another integration's webhook, replayed to this URL inside the
    // window, is refused: the webhook must be one this integration registered.
    if let Some(webhook_id) = &notice.webhook_id {
        if !integration.webhook_ids.iter().any(|id| id == webhook_id) {
            tracing::warn!(integration = %integration.id, %webhook_id, "delivery for a webhook this integration did not register");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("webhook {webhook_id} does not belong to this integration"),
            ));
        }
    }
    let body_text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "webhook body is not UTF-8 text"))?;
    let delivery_key = format!(
        "webhook#{}#{}#{}",
        integration.tenant_id, integration.id, notice.delivery_id
    );
    let job = PollJob {
        tenant_id: integration.tenant_id.clone(),
        integration_id: integration.id.clone(),
        work: PollWork::Notice {
            delivery_id: notice.delivery_id.clone(),
            headers: lowered
                .into_iter()
                .filter(|(name, _)| name != "authorization" && name != "cookie")
                .collect::<BTreeMap<_, _>>(),
            body: body_text,
        },
    };
    let envelope = Envelope::wrap(job, now);
    let ttl = Duration::from_std(core.settings.dedup_ttl).unwrap_or(Duration::days(14));
    // Queued and remembered together before the 200: see `OnceQueue` for what each back end
    // guarantees when it fails in between.
    let sent = core
        .backend
        .webhook_notices
        .send_once(
            &delivery_key,
            now + ttl,
            now,
            OutgoingMessage::new(envelope.id.clone(), envelope.to_json()),
        )
        .await
        .map_err(|e| unavailable(&e))?;
    if sent == SendOnce::AlreadySent {
        return Ok(Json(
            serde_json::json!({"status": "duplicate", "delivery_id": notice.delivery_id}),
        )
        .into_response());
    }
    Ok(
        Json(serde_json::json!({"status": "queued", "delivery_id": notice.delivery_id}))
            .into_response(),
    )
}
