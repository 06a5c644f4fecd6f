//! The OAuth callback function: connect and disconnect integrations.
//!
//! `GET /oauth/{provider}/connect` answers 302 to the provider's consent page with a signed,
//! single-use `state` and a PKCE challenge, and sets a cookie binding the flow to this browser.
//! `GET /oauth/{provider}/callback` checks all of that before exchanging the code; tokens go only
//! to the secret store. `POST /oauth/{provider}/disconnect` removes webhooks, revokes tokens and
//! stops polling.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Duration, Utc};
use secrecy::SecretString;
use serde::Deserialize;

use super::{admin_authorized, connector_for, public_base_url, ApiError};
use crate::connector::oauth::{
    pkce_challenge, random_token, ConnectRequest, StateError, StateSigner,
};
use crate::connector::ConnectorError;
use crate::core::Core;
use crate::domain::{IngestMode, Integration, IntegrationStatus};
use crate::pipeline::poller::checkpoint_stream;

/// How long a connect flow may take from redirect to callback.
const STATE_LIFETIME: Duration = Duration::minutes(10);
const BINDING_COOKIE: &str = "casb_oauth_binding";
const STATE_KEY_SECRET: &str = "oauth/state-key";

/// Routes owned by the oauth-callback function, under `/oauth`.
pub fn routes(core: Core) -> Router {
    Router::new()
        .route(
            "/oauth/healthz",
            get(|| async { super::health("oauth-callback") }),
        )
        .route("/oauth/{provider}/connect", get(connect))
        .route("/oauth/{provider}/callback", get(callback))
        .route("/oauth/{provider}/disconnect", post(disconnect))
        .with_state(core)
}

pub fn router(core: Core) -> Router {
    routes(core).fallback(super::not_found)
}

/// The key that signs states, created on first use.
async fn state_signer(core: &Core) -> Result<StateSigner, ApiError> {
    let secrets = &core.backend.secrets;
    let unavailable = |e: crate::ports::SecretError| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    };
    if let Some(stored) = secrets
        .get_secret(STATE_KEY_SECRET)
        .await
        .map_err(unavailable)?
    {
        return Ok(StateSigner::new(stored.value));
    }
    let key = SecretString::from(random_token(32));
    secrets
        .put_secret(STATE_KEY_SECRET, &key)
        .await
        .map_err(unavailable)?;
    // Read back: if two requests raced to create it, both use the stored one.
    let stored = secrets
        .get_secret(STATE_KEY_SECRET)
        .await
        .map_err(unavailable)?;
    Ok(StateSigner::new(stored.map(|s| s.value).unwrap_or(key)))
}

fn connector_error(error: ConnectorError) -> ApiError {
    let status = match error {
        ConnectorError::NotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
        ConnectorError::NeedsReauth(_) | ConnectorError::Permanent(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::BAD_GATEWAY,
    };
    ApiError::new(status, error.to_string())
}

#[derive(Debug, Deserialize)]
struct ConnectParams {
    tenant_id: String,
    #[serde(default = "default_mode")]
    mode: IngestMode,
    /// Comma-separated folder ids to watch with webhooks.
    watch_folders: Option<String>,
    /// Comma-separated email domains of the organization (default: the admin's domain).
    internal_domains: Option<String>,
}

fn default_mode() -> IngestMode {
    IngestMode::Both
}

fn list(value: &Option<String>) -> Vec<String> {
    value
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

async fn connect(
    State(core): State<Core>,
    Path(provider): Path<String>,
    Query(params): Query<ConnectParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin_authorized(&headers)?;
    let (provider, connector) = connector_for(&core, &provider)?;
    if params.tenant_id.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "tenant_id is required",
        ));
    }
    let signer = state_signer(&core).await?;
    let redirect_uri = format!("{}/oauth/{provider}/callback", public_base_url(&headers));
    let request = ConnectRequest {
        nonce: random_token(32),
        tenant_id: params.tenant_id.clone(),
        provider,
        mode: params.mode,
        settings: serde_json::json!({
            "watch_folders": list(&params.watch_folders),
            "internal_domains": list(&params.internal_domains),
        }),
        redirect_uri: redirect_uri.clone(),
        expires_at: core.backend.clock.now() + STATE_LIFETIME,
    };
    let state = signer.sign(&request);
    let challenge = pkce_challenge(&signer.code_verifier(&request.nonce));
    let url = connector
        .authorize_url(&redirect_uri, &state, &challenge)
        .await
        .map_err(connector_error)?;
    let cookie = format!(
        "{BINDING_COOKIE}={}; Path=/oauth/{provider}/callback; Max-Age={}; HttpOnly; SameSite=Lax{}",
        signer.browser_binding(&request.nonce),
        STATE_LIFETIME.num_seconds(),
        if redirect_uri.starts_with("https://") { "; Secure" } else { "" }
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&url)).into_response())
}

#[derive(Debug, Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

async fn callback(
    State(core): State<Core>,
    Path(provider): Path<String>,
    Query(params): Query<CallbackParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (provider, connector) = connector_for(&core, &provider)?;
    if let Some(error) = params.error {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the provider refused the connection: {error} {}",
                params.error_description.unwrap_or_default()
            ),
        ));
    }
    let (Some(code), Some(state)) = (params.code, params.state) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "code and state are required",
        ));
    };
    let now = core.backend.clock.now();
    let signer = state_signer(&core).await?;
    let request = signer
        .verify(&state, cookie(&headers, BINDING_COOKIE).as_deref(), now)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("rejected state: {e}")))?;
    if request.provider != provider {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "rejected state: it was issued for another provider",
        ));
    }
    // Single use: the first callback with this state wins; a replay is refused.
    let first_use = core
        .backend
        .dedup
        .insert_if_absent(
            &format!("oauth-state#{}", request.nonce),
            request.expires_at,
            now,
        )
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    if !first_use {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("rejected state: {}", StateError::Reused),
        ));
    }

    let tokens = connector
        .exchange_code(
            &code,
            &signer.code_verifier(&request.nonce),
            &request.redirect_uri,
        )
        .await
        .map_err(connector_error)?;
    let access = SecretString::from(tokens.access_token.clone());
    let grant = connector
        .grant_info(&access)
        .await
        .map_err(connector_error)?;
    let mut settings = request.settings.clone();
    let has_domains = settings["internal_domains"]
        .as_array()
        .is_some_and(|d| !d.is_empty());
    if !has_domains {
        if let Some(domain) = grant
            .admin_email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase())
        {
            settings["internal_domains"] = serde_json::json!([domain]);
        }
    }
    let mut integration = Integration {
        id: format!("int-{}", uuid::Uuid::new_v4().simple()),
        tenant_id: request.tenant_id.clone(),
        provider,
        external_tenant_id: grant.external_tenant_id.clone(),
        display_name: grant.display_name.clone(),
        mode: request.mode,
        status: IntegrationStatus::Connected,
        webhook_ids: vec![],
        settings,
        created_at: now,
        updated_at: now,
    };
    core.tokens
        .store(&integration, &tokens)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;

    let mut warnings = Vec::new();
    if integration.mode.polls() {
        match connector.initial_cursor(&integration, &access).await {
            Ok(Some(cursor)) => {
                let seeded = core
                    .backend
                    .checkpoints
                    .put_checkpoint(&checkpoint_stream(&integration), &cursor, None, now)
                    .await;
                if let Err(error) = seeded {
                    warnings.push(format!("could not seed the poll checkpoint: {error}"));
                }
            }
            Ok(None) => {}
            Err(error) => {
                warnings.push(format!("could not read the event stream position: {error}"))
            }
        }
    }
    if integration.mode.receives_webhooks() {
        let address = format!(
            "{}/webhooks/{provider}/{}/{}",
            public_base_url(&headers),
            integration.tenant_id,
            integration.id
        );
        match connector
            .register_webhooks(&integration, &access, &address)
            .await
        {
            Ok(ids) => integration.webhook_ids = ids,
            Err(error) => warnings.push(format!(
                "webhooks not registered ({error}); the event stream still covers this tenant"
            )),
        }
    }
    core.backend
        .integrations
        .put_integration(&integration)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    tracing::info!(integration = %integration.id, tenant = %integration.tenant_id, %provider,
        webhooks = integration.webhook_ids.len(), "integration connected");
    Ok(Json(serde_json::json!({
        "status": "connected",
        "integration_id": integration.id,
        "tenant_id": integration.tenant_id,
        "provider": provider,
        "display_name": integration.display_name,
        "mode": integration.mode,
        "webhook_ids": integration.webhook_ids,
        "warnings": warnings,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
struct DisconnectBody {
    tenant_id: String,
    integration_id: String,
}

async fn disconnect(
    State(core): State<Core>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Json(body): Json<DisconnectBody>,
) -> Result<Response, ApiError> {
    admin_authorized(&headers)?;
    let (_, connector) = connector_for(&core, &provider)?;
    let store = &core.backend.integrations;
    let unavailable =
        |e: crate::ports::StoreError| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    let mut integration = store
        .get_integration(&body.tenant_id, &body.integration_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "no such integration for this tenant")
        })?;
    let mut warnings = Vec::new();
    let connector = connector.as_ref();
    let current = &integration;
    // Webhooks first (they need a live token), then revoke both tokens.
    if let Err(error) = core
        .tokens
        .with_token(connector, current, |token| async move {
            connector.deregister_webhooks(current, &token).await
        })
        .await
    {
        warnings.push(format!("webhooks not removed: {error}"));
    }
    if let Ok((tokens, _)) = core.tokens.load(&integration).await {
        for token in [Some(tokens.access_token), tokens.refresh_token]
            .into_iter()
            .flatten()
        {
            if let Err(error) = connector.revoke(&SecretString::from(token)).await {
                warnings.push(format!("token not revoked: {error}"));
            }
        }
    }
    core.tokens
        .forget(&integration)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    integration.status = IntegrationStatus::Disconnected;
    integration.webhook_ids.clear();
    integration.updated_at = Utc::now();
    store
        .put_integration(&integration)
        .await
        .map_err(unavailable)?;
    tracing::info!(integration = %integration.id, "integration disconnected");
    Ok(Json(serde_json::json!({"status": "disconnected", "integration_id": integration.id, "warnings": warnings})).into_response())
}
