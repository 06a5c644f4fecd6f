//! The webhook intake function: verify, dedupe, enqueue, answer.
//!
//! `POST /webhooks/{provider}/{tenant_id}/{integration_id}`. The signature is checked over the
//! exact raw bytes before anything is parsed; a bad signature or an old timestamp gets 401 and
//! nothing is queued. A delivery seen before (providers retry, and replays happen) is
//! acknowledged and dropped. The activities are queued for the inspector; heavy work happens
//! there.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Duration;

use super::{connector_for, ApiError};
use crate::connector::WebhookDelivery;
use crate::core::Core;
use crate::domain::IntegrationStatus;
use crate::pipeline::poller::queue_unseen;

/// Our own body limit, far below API Gateway's 10 MB: webhook payloads are small JSON.
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// Routes owned by the webhook-intake function, under `/webhooks`.
pub fn routes(core: Core) -> Router {
    Router::new()
        .route(
            "/webhooks/healthz",
            get(|| async { super::health("webhook-intake") }),
        )
        .route(
            "/webhooks/{provider}/{tenant_id}/{integration_id}",
            post(receive).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES)),
        )
        .with_state(core)
}

pub fn router(core: Core) -> Router {
    routes(core).fallback(super::not_found)
}

async fn receive(
    State(core): State<Core>,
    Path((provider, tenant_id, integration_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    let now = core.backend.clock.now();
    if let Err(rejection) = connector
        .verify_webhook(
            &WebhookDelivery {
                headers: &lowered,
                body: &body,
            },
            now,
        )
        .await
    {
        tracing::warn!(%provider, %integration_id, %rejection, "webhook rejected");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("webhook rejected: {rejection}"),
        ));
    }
    let unavailable =
        |e: &dyn std::fmt::Display| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    let Some(integration) = core
        .backend
        .integrations
        .get_integration(&tenant_id, &integration_id)
        .await
        .map_err(|e| unavailable(&e))?
    else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such integration"));
    };
    if integration.provider != provider {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such integration"));
    }
    if integration.status != IntegrationStatus::Connected {
        // Acknowledge so the provider stops retrying; a paused or disconnected tenant is not watched.
        tracing::info!(integration = %integration.id, status = ?integration.status, "webhook for an inactive integration dropped");
        return Ok(Json(
            serde_json::json!({"status": "ignored", "reason": "integration is not connected"}),
        ));
    }

    let connector = connector.as_ref();
    let current = &integration;
    let body_ref = &body;
    let notice = core
        .tokens
        .with_token(connector, current, |token| async move {
            connector.parse_webhook(current, &token, body_ref).await
        })
        .await
        .map_err(|e| match e {
            crate::connector::ConnectorError::Permanent(message) => {
                ApiError::new(StatusCode::BAD_REQUEST, message)
            }
            other => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
        })?;
    let delivery_key = format!(
        "webhook#{provider}#{}#{}",
        integration.id, notice.delivery_id
    );
    if core
        .backend
        .dedup
        .contains(&delivery_key, now)
        .await
        .map_err(|e| unavailable(&e))?
    {
        return Ok(Json(
            serde_json::json!({"status": "duplicate", "delivery_id": notice.delivery_id}),
        ));
    }
    let (queued, duplicates) = queue_unseen(&core, notice.activities)
        .await
        .map_err(|e| unavailable(&e))?;
    let ttl = Duration::from_std(core.settings.dedup_ttl).unwrap_or(Duration::days(14));
    core.backend
        .dedup
        .insert_if_absent(&delivery_key, now + ttl, now)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(
        serde_json::json!({"status": "queued", "delivery_id": notice.delivery_id, "queued": queued, "duplicates": duplicates}),
    ))
}
