//! The OAuth callback function: connect and disconnect integrations.
//!
//! `GET /oauth/{provider}/connect` answers 302 to the provider's consent page with a signed,
//! single-use `state` and a PKCE challenge, and sets a cookie binding the flow to this browser.
//! It takes the admin bearer token, or, from a browser (which sends no header on a
//! navigation), a short-lived signed link that `POST /oauth/{provider}/connect/link` (bearer)
//! or `casb connect-link` makes. `GET /oauth/{provider}/callback` checks all of that before
//! exchanging the code; tokens go only to the secret store. `POST /oauth/{provider}/disconnect`
//! (bearer) removes webhooks, revokes tokens and stops polling.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, TimeZone, Utc};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{
    admin_authorized, admin_token, bearer, check_bearer, connector_for, public_base_url, ApiError,
};
use crate::admin_credential::{is_signed_link, ConnectLink, ConnectLinkSigner, MAX_LINK_LIFETIME};
use crate::connector::oauth::{
    pkce_challenge, random_token, ConnectRequest, StateError, StateSigner,
};
use crate::connector::{validate_settings, ConnectorError};
use crate::core::Core;
use crate::domain::{IngestMode, Integration, IntegrationStatus};
use crate::pipeline::poller::seed_checkpoints;

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
        .route("/oauth/{provider}/connect/link", post(connect_link))
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

/// The connect request's tenant, ingest mode and connector settings (name, raw value).
type ConnectParams = (String, IngestMode, Vec<(String, String)>);

fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad query string: {e}")))
}

/// `tenant_id` and `mode` are the connect flow's own; every other parameter is a setting of the
/// connector, validated against what it declares.
fn connect_params(pairs: Vec<(String, String)>) -> Result<ConnectParams, ApiError> {
    let mut tenant_id = None;
    let mut mode = IngestMode::Both;
    let mut settings = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "tenant_id" => tenant_id = Some(value.trim().to_string()),
            "mode" => {
                mode = serde_json::from_value(serde_json::Value::String(value.clone())).map_err(
                    |_| {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            format!("mode '{value}' is not one of push, pull, both"),
                        )
                    },
                )?
            }
            _ => settings.push((name, value)),
        }
    }
    let tenant_id = tenant_id
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "tenant_id is required"))?;
    crate::domain::validate_id("tenant_id", &tenant_id)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    Ok((tenant_id, mode, settings))
}

async fn connect(
    State(core): State<Core>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expected = admin_token(&core).await?;
    let pairs = query_pairs(query.as_deref())?;
    let signed = is_signed_link(&pairs);
    let presented = bearer(&headers);
    if presented.is_some() || !signed {
        check_bearer(&expected, presented).map_err(|e| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!("{}; from a browser, open a signed connect link instead (`casb connect-link`, or POST /oauth/{provider}/connect/link)", e.message),
            )
        })?;
    }
    // A browser cannot send a header on a navigation: it brings a signed link instead.
    let pairs = if signed {
        ConnectLinkSigner::new(&expected)
            .verify(&provider, &pairs, core.backend.clock.now())
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()))?
    } else {
        pairs
    };
    let (provider, connector) = connector_for(&core, &provider)?;
    let (tenant_id, mode, given) = connect_params(pairs)?;
    let settings = validate_settings(provider, &connector.settings(), &given)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let signer = state_signer(&core).await?;
    let redirect_uri = format!("{}/oauth/{provider}/callback", public_base_url(&headers));
    let request = ConnectRequest {
        nonce: random_token(32),
        tenant_id,
        provider,
        mode,
        settings,
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

/// `POST /oauth/{provider}/connect/link`: the body of a request for a connect link.
#[derive(Debug, Deserialize)]
struct LinkRequest {
    tenant_id: String,
    mode: Option<String>,
    /// Connector settings by name, as the connect route's query takes them.
    #[serde(default)]
    settings: BTreeMap<String, String>,
    /// How long the link is valid, in seconds (at most, and by default, 15 minutes).
    expires_in: Option<i64>,
}

/// A JSON body, read only after the caller is authorized (so an unauthorized caller learns
/// nothing from a parse error).
fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")))
}

async fn connect_link(
    State(core): State<Core>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ConnectLink>, ApiError> {
    let token = admin_authorized(&core, &headers).await?;
    let request: LinkRequest = json_body(&body)?;
    let mut params = vec![("tenant_id".to_string(), request.tenant_id)];
    params.extend(request.mode.map(|mode| ("mode".to_string(), mode)));
    params.extend(request.settings);
    let lifetime = request
        .expires_in
        .map(Duration::seconds)
        .unwrap_or(MAX_LINK_LIFETIME);
    make_connect_link(
        &core,
        &token,
        &public_base_url(&headers),
        &provider,
        params,
        lifetime,
    )
    .map(Json)
}

/// A signed link to `GET {base_url}/oauth/{provider}/connect` for `params` (tenant, mode,
/// settings), valid for `lifetime` (at most [`MAX_LINK_LIFETIME`]). The parameters are checked
/// as the connect route checks them, so a link that would be refused is never made.
pub fn make_connect_link(
    core: &Core,
    admin_token: &SecretString,
    base_url: &str,
    provider: &str,
    params: Vec<(String, String)>,
    lifetime: Duration,
) -> Result<ConnectLink, ApiError> {
    let (provider, connector) = connector_for(core, provider)?;
    if lifetime <= Duration::zero() || lifetime > MAX_LINK_LIFETIME {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "a connect link lives from 1 second to {} minutes",
                MAX_LINK_LIFETIME.num_minutes()
            ),
        ));
    }
    if let Some((name, _)) = params
        .iter()
        .find(|(name, _)| name == "expires" || name == "signature")
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("'{name}' is the connect link's own parameter, not a setting"),
        ));
    }
    let (_, _, given) = connect_params(params.clone())?;
    validate_settings(provider, &connector.settings(), &given)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    // Whole seconds: the link carries its expiry as a Unix time.
    let expires_at: DateTime<Utc> = Utc
        .timestamp_opt((core.backend.clock.now() + lifetime).timestamp(), 0)
        .single()
        .expect("a time within minutes of now is representable");
    let query = ConnectLinkSigner::new(admin_token).sign(provider.as_str(), &params, expires_at);
    let query = serde_urlencoded::to_string(&query)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(ConnectLink {
        url: format!(
            "{}/oauth/{provider}/connect?{query}",
            base_url.trim_end_matches('/')
        ),
        expires_at,
    })
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

/// What the consent gave: a token pair for a code, or app-only credentials for an admin's
/// tenant-wide consent.
enum Granted {
    Code(String),
    AdminConsent(crate::connector::ConsentGrant),
}

async fn callback(
    State(core): State<Core>,
    Path(provider): Path<String>,
    Query(params): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (provider, connector) = connector_for(&core, &provider)?;
    if let Some(error) = params.get("error") {
        let description = params
            .get("error_description")
            .map(String::as_str)
            .unwrap_or_default();
        let declined = matches!(
            error.as_str(),
            "access_denied" | "permission_denied" | "consent_required"
        );
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            if declined {
                format!("the administrator did not grant the permissions, so nothing was connected ({error}: {description}). Connect again and accept the permissions as an administrator of the organization.")
            } else {
                format!("the provider refused the connection: {error} {description}")
            },
        ));
    }
    let granted = match (params.get("code"), connector.admin_consent(&params)) {
        (Some(code), _) => Granted::Code(code.clone()),
        (None, Some(Ok(grant))) => Granted::AdminConsent(grant),
        (None, Some(Err(why))) => return Err(ApiError::new(StatusCode::BAD_REQUEST, why)),
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "code and state are required",
            ))
        }
    };
    let Some(state) = params.get("state") else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "code and state are required",
        ));
    };
    let now = core.backend.clock.now();
    let signer = state_signer(&core).await?;
    let request = signer
        .verify(state, cookie(&headers, BINDING_COOKIE).as_deref(), now)
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
            &format!("oauth-state#{}#{}", request.tenant_id, request.nonce),
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

    let (tokens, consent) = match granted {
        Granted::Code(code) => {
            let tokens = connector
                .exchange_code(
                    &code,
                    &signer.code_verifier(&request.nonce),
                    &request.redirect_uri,
                )
                .await
                .map_err(connector_error)?;
            (Some(tokens), None)
        }
        Granted::AdminConsent(grant) => (None, Some(grant)),
    };
    let unavailable =
        |e: crate::ports::StoreError| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    let (access, grant, consented) = match (&tokens, consent) {
        (Some(tokens), _) => {
            let access = SecretString::from(tokens.access_token.clone());
            let grant = connector
                .grant_info(&access)
                .await
                .map_err(connector_error)?;
            (access, grant, None)
        }
        (None, Some(consent)) => {
            // App-only credentials: the integration (found again on reconnect by the provider
            // tenant) keeps them as its secret, and its first token proves the consent.
            let existing = find_existing(
                &core,
                &request.tenant_id,
                provider,
                Some(&consent.external_tenant_id),
            )
            .await
            .map_err(unavailable)?;
            let found_again = existing.is_some();
            let mut probe = existing.unwrap_or_else(|| Integration {
                id: format!("int-{}", uuid::Uuid::new_v4().simple()),
                tenant_id: request.tenant_id.clone(),
                provider,
                external_tenant_id: Some(consent.external_tenant_id.clone()),
                display_name: provider.to_string(),
                mode: request.mode,
                status: IntegrationStatus::Connected,
                credential: consent.credential,
                webhook_ids: vec![],
                settings: request.settings.clone(),
                created_at: now,
                updated_at: now,
            });
            probe.credential = consent.credential;
            core.tokens
                .store_secret(&probe, &consent.secret)
                .await
                .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
            let access = core
                .tokens
                .access_token(connector.as_ref(), &probe)
                .await
                .map_err(connector_error)?;
            let grant = connector
                .grant_info(&access)
                .await
                .map_err(connector_error)?;
            (
                access,
                grant,
                Some((probe, consent.credential, found_again)),
            )
        }
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the callback carried neither a code nor a consent",
            ))
        }
    };
    let mut settings = request.settings.clone();
    // Connectors that tell people apart by email domain default to the connecting admin's.
    let takes_domains = connector
        .settings()
        .iter()
        .any(|s| s.name == "internal_domains");
    let has_domains = settings["internal_domains"]
        .as_array()
        .is_some_and(|d| !d.is_empty());
    if takes_domains && !has_domains {
        if let Some(domain) = grant
            .admin_email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase())
        {
            settings["internal_domains"] = serde_json::json!([domain]);
        }
    }
    // Reconnecting a provider tenant that is already connected is the same integration: same
    // id, checkpoints (so the outage's events are ingested) and webhooks.
    let credential = consented.as_ref().map_or(
        crate::domain::CredentialKind::AuthorizationCode,
        |(_, c, _)| *c,
    );
    let (existing, reconnected) = match consented {
        // The integration its secret was stored for, new or found again.
        Some((probe, _, found_again)) => (Some(probe), found_again),
        None => {
            let existing = find_existing(
                &core,
                &request.tenant_id,
                provider,
                grant.external_tenant_id.as_deref(),
            )
            .await
            .map_err(unavailable)?;
            let reconnected = existing.is_some();
            (existing, reconnected)
        }
    };
    let mut integration = match existing {
        Some(integration) => integration.reconnected(
            &settings,
            credential,
            request.mode,
            &grant.display_name,
            now,
        ),
        None => Integration {
            id: format!("int-{}", uuid::Uuid::new_v4().simple()),
            tenant_id: request.tenant_id.clone(),
            provider,
            external_tenant_id: grant.external_tenant_id.clone(),
            display_name: grant.display_name.clone(),
            mode: request.mode,
            status: IntegrationStatus::Connected,
            credential,
            webhook_ids: vec![],
            settings,
            created_at: now,
            updated_at: now,
        },
    };
    if let Some(tokens) = &tokens {
        core.tokens
            .store(&integration, tokens)
            .await
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    }

    let mut warnings = Vec::new();
    if integration.mode.polls() {
        warnings.extend(seed_checkpoints(&core, connector.as_ref(), &integration).await);
    }
    if integration.mode.receives_webhooks() && integration.webhook_ids.is_empty() {
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
    crate::admin::record_integration_change(&core, &integration, if reconnected { 3 } else { 1 })
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    tracing::info!(integration = %integration.id, tenant = %integration.tenant_id, %provider,
        reconnected, webhooks = integration.webhook_ids.len(), "integration connected");
    Ok(Json(serde_json::json!({
        "status": "connected",
        "reconnected": reconnected,
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

/// The tenant's integration with this provider tenant, if there is one.
pub async fn find_existing(
    core: &Core,
    tenant_id: &str,
    provider: crate::domain::Provider,
    external_tenant_id: Option<&str>,
) -> Result<Option<Integration>, crate::ports::StoreError> {
    let Some(external) = external_tenant_id else {
        return Ok(None);
    };
    Ok(core
        .backend
        .integrations
        .list_integrations(tenant_id)
        .await?
        .into_iter()
        .find(|i| i.provider == provider && i.external_tenant_id.as_deref() == Some(external)))
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
    body: Bytes,
) -> Result<Response, ApiError> {
    admin_authorized(&core, &headers).await?;
    let body: DisconnectBody = json_body(&body)?;
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
    crate::admin::record_integration_change(&core, &integration, 4)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    tracing::info!(integration = %integration.id, "integration disconnected");
    Ok(Json(serde_json::json!({"status": "disconnected", "integration_id": integration.id, "warnings": warnings})).into_response())
}
