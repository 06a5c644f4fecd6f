//! The tenant's integrations: list them with each stream's health, connect one (a consent URL
//! for the OAuth kinds, or a token for the token kinds), pause, resume, disconnect. The same
//! operations as `casb integration ...`, scoped to the caller's tenant.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::{bad_request, store_error, ApiState, JsonBody};
use crate::admin::{self, AdminError, NewIntegration};
use crate::domain::{CredentialKind, IngestMode, Integration, Provider, StreamHealth};
use crate::http::ApiError;
use crate::ports::ActivityQuery;

fn admin_error(e: AdminError) -> ApiError {
    match e {
        AdminError::Invalid(message) => bad_request(message),
        AdminError::NotFound { id, .. } => super::not_found("integration", &id),
        AdminError::Refused(message) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the provider refused the credentials, nothing was kept: {message}"),
        ),
        AdminError::Store(e) => store_error(e),
        AdminError::Token(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StreamView {
    /// The provider's stream (`admin_logs`, `events`, ...).
    pub stream: String,
    pub health: StreamHealth,
    /// When its cursor last moved.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntegrationView {
    #[serde(flatten)]
    pub integration: Integration,
    /// When the newest stored activity of this integration happened.
    pub last_event_at: Option<DateTime<Utc>>,
    pub streams: Vec<StreamView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntegrationList {
    pub integrations: Vec<IntegrationView>,
}

/// The tenant's integrations, each with its streams' health: last success, lag, errors.
#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations",
    responses(
        (status = 200, description = "The integrations", body = IntegrationList),
        (status = 401, description = "Not authenticated", body = ApiError),
    ))]
pub(super) async fn list_integrations(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<IntegrationList>, ApiError> {
    let core = &state.core;
    let views = admin::list_integrations(core, &caller.tenant_id)
        .await
        .map_err(admin_error)?;
    let mut integrations = Vec::new();
    for view in views {
        let newest = core
            .backend
            .activities
            .query_activities(&ActivityQuery {
                tenant_id: caller.tenant_id.clone(),
                integration_id: Some(view.integration.id.clone()),
                limit: 1,
                ..ActivityQuery::default()
            })
            .await
            .map_err(store_error)?;
        let prefix = crate::domain::integration_stream_prefix(
            &view.integration.tenant_id,
            &view.integration.id,
        );
        integrations.push(IntegrationView {
            last_event_at: newest.first().map(|a| a.event_timestamp),
            streams: view
                .streams
                .into_iter()
                .map(|c| StreamView {
                    stream: c
                        .stream
                        .strip_prefix(&prefix)
                        .unwrap_or(&c.stream)
                        .trim_start_matches('#')
                        .to_string(),
                    health: c.health,
                    updated_at: c.updated_at,
                })
                .collect(),
            integration: view.integration,
        });
    }
    Ok(Json(IntegrationList { integrations }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    pub provider: Provider,
    /// push, pull or both (default: both for OAuth, pull for tokens).
    pub mode: Option<IngestMode>,
    /// The connector's settings by name (watched folders, API host, ...).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// For the token kinds (`api_token`, `client_credentials`, `jwt_assertion`): which, and the
    /// secret as the connector takes it. Without a secret, a consent URL is returned.
    pub credential: Option<CredentialKind>,
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentLink {
    /// Open in a browser: signs in at the provider and connects the integration to your tenant.
    pub consent_url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Connected {
    pub integration: Integration,
    pub warnings: Vec<String>,
}

/// Connect an integration: with a `secret`, the credentials are checked with the provider and
/// the integration is added (201); without, a consent URL for the OAuth flow is returned (200).
#[utoipa::path(post, path = "/api/v1/integrations", tag = "integrations",
    request_body = ConnectRequest,
    responses(
        (status = 201, description = "Connected with the given credentials", body = Connected),
        (status = 200, description = "A consent URL to open in a browser", body = ConsentLink),
        (status = 400, description = "An unknown setting, provider or credential kind", body = ApiError),
        (status = 422, description = "The provider refused the credentials; nothing was kept", body = ApiError),
    ))]
pub(super) async fn connect(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ConnectRequest>,
) -> Result<Response, ApiError> {
    let core = &state.core;
    let settings: Vec<(String, String)> = request.settings.into_iter().collect();
    if settings.iter().any(|(name, _)| name == "tenant_id") {
        return Err(bad_request(
            "tenant_id is not a setting: integrations are connected to your own tenant",
        ));
    }
    match request.secret {
        Some(secret) => {
            let (integration, warnings) = admin::add_integration(
                core,
                NewIntegration {
                    provider: request.provider,
                    tenant_id: caller.tenant_id.clone(),
                    credential: request.credential,
                    mode: request.mode.unwrap_or(IngestMode::Pull),
                    settings,
                    secret: SecretString::from(secret),
                },
            )
            .await
            .map_err(admin_error)?;
            Ok((
                StatusCode::CREATED,
                Json(Connected {
                    integration,
                    warnings,
                }),
            )
                .into_response())
        }
        None => {
            if request.credential.is_some_and(|k| k.headless()) {
                return Err(bad_request(
                    "a token credential needs its `secret`; without one, a consent URL is made for the OAuth flow",
                ));
            }
            let mut params = vec![("tenant_id".to_string(), caller.tenant_id.clone())];
            if let Some(mode) = request.mode {
                params.push(("mode".into(), crate::domain::enum_label(&mode)));
            }
            params.extend(settings);
            let token = crate::http::admin_token(core).await?;
            let link = crate::http::oauth_callback::make_connect_link(
                core,
                &token,
                &crate::http::public_base_url(&headers),
                request.provider.as_str(),
                params,
                crate::admin_credential::MAX_LINK_LIFETIME,
            )?;
            Ok(Json(ConsentLink {
                consent_url: link.url,
                expires_at: link.expires_at,
            })
            .into_response())
        }
    }
}

async fn set_paused(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    paused: bool,
) -> Result<Json<Integration>, ApiError> {
    admin::set_paused(&state.core, &caller.tenant_id, id, paused)
        .await
        .map(Json)
        .map_err(admin_error)
}

/// Pause an integration: nothing is polled, webhooks are acknowledged and dropped.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/pause", tag = "integrations",
    params(("id" = String, Path, description = "The integration id")),
    responses(
        (status = 200, description = "Paused", body = Integration),
        (status = 400, description = "Disconnected or needing a new consent: connect it again", body = ApiError),
        (status = 404, description = "No such integration in your tenant", body = ApiError),
    ))]
pub(super) async fn pause(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Integration>, ApiError> {
    set_paused(&state, &caller, &id, true).await
}

/// Resume a paused integration.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/resume", tag = "integrations",
    params(("id" = String, Path, description = "The integration id")),
    responses(
        (status = 200, description = "Resumed", body = Integration),
        (status = 400, description = "Disconnected or needing a new consent: connect it again", body = ApiError),
        (status = 404, description = "No such integration in your tenant", body = ApiError),
    ))]
pub(super) async fn resume(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Integration>, ApiError> {
    set_paused(&state, &caller, &id, false).await
}

/// Disconnect an integration: its webhooks are removed at the provider and its credentials
/// deleted; the record stays, disconnected, for the incidents that name it.
#[utoipa::path(delete, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, description = "The integration id")),
    responses(
        (status = 200, description = "Disconnected", body = Connected),
        (status = 404, description = "No such integration in your tenant", body = ApiError),
    ))]
pub(super) async fn disconnect(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Connected>, ApiError> {
    let (integration, warnings) = admin::remove_integration(&state.core, &caller.tenant_id, &id)
        .await
        .map_err(admin_error)?;
    Ok(Json(Connected {
        integration,
        warnings,
    }))
}
