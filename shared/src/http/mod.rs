//! The HTTP functions as axum routers: lambda_http serves them in Lambda, `casb serve` serves
//! them (merged) locally. Each function owns a path prefix so the merged router never collides.

pub mod activity_csv;
pub mod api;
pub mod oauth_callback;
pub mod webhook_intake;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::SecretString;
use serde::Serialize;

use crate::admin_credential::same_token;
use crate::connector::Connector;
use crate::core::Core;
use crate::domain::Provider;

/// Every HTTP error body: `{"code": <status>, "message": "..."}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    pub code: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            code: status.as_u16(),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self)).into_response()
    }
}

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub function: &'static str,
    pub version: &'static str,
    /// The api function's: which threat detectors run (the geographic ones say when they are
    /// off for want of a geolocation database).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<DetectorHealth>,
}

#[derive(Debug, Serialize)]
pub struct DetectorHealth {
    pub name: String,
    pub on: bool,
    pub detail: String,
}

pub(crate) fn health(function: &'static str) -> Json<Health> {
    Json(Health {
        status: "ok",
        function,
        version: env!("CARGO_PKG_VERSION"),
        detectors: Vec::new(),
    })
}

/// The connector for a `{provider}` path segment: 404 for an unknown provider or one this
/// deployment has no connector for.
pub(crate) fn connector_for(
    core: &Core,
    provider: &str,
) -> Result<(Provider, Arc<dyn Connector>), ApiError> {
    let provider: Provider = provider
        .parse()
        .map_err(|e: String| ApiError::new(StatusCode::NOT_FOUND, e))?;
    let connector = core.connectors.get(provider).cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no {provider} connector is configured in this deployment"),
        )
    })?;
    Ok((provider, connector))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

/// The admin token in force: 503 when none is configured (fail closed) or it cannot be read.
pub(crate) async fn admin_token(core: &Core) -> Result<SecretString, ApiError> {
    core.admin
        .current()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

/// The `Authorization: Bearer` token of a request, if it has one.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Checks a presented bearer token against the admin token (constant time): 401 otherwise.
pub(crate) fn check_bearer(
    expected: &SecretString,
    presented: Option<&str>,
) -> Result<(), ApiError> {
    match presented {
        Some(token) if same_token(expected, token) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the admin bearer token does not match (print the current one with `casb admin-token`, or read the stack's AdminTokenSecret)",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "an admin bearer token is required: Authorization: Bearer <admin token> (print it with `casb admin-token`)",
        )),
    }
}

/// Requires `Authorization: Bearer <admin token>`: 503 without a configured admin credential,
/// 401 without the token or with another one.
pub(crate) async fn admin_authorized(
    core: &Core,
    headers: &axum::http::HeaderMap,
) -> Result<SecretString, ApiError> {
    let expected = admin_token(core).await?;
    check_bearer(&expected, bearer(headers))?;
    Ok(expected)
}

/// The public base URL of this deployment: `CASB_PUBLIC_URL`, or the scheme and host the request
/// came in on (API Gateway sets `x-forwarded-proto`).
pub(crate) fn public_base_url(headers: &axum::http::HeaderMap) -> String {
    if let Some(url) = crate::config::optional_env("CASB_PUBLIC_URL") {
        return url.trim_end_matches('/').to_string();
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or_else(|| "localhost".into());
    let scheme = header("x-forwarded-proto").unwrap_or_else(|| "http".into());
    format!("{scheme}://{host}")
}

/// The three HTTP functions in one router, as `casb serve` runs them.
pub fn combined_router(core: crate::core::Core) -> axum::Router {
    axum::Router::new()
        .merge(oauth_callback::routes(core.clone()))
        .merge(webhook_intake::routes(core.clone()))
        .merge(api::routes(core))
        .fallback(not_found)
}
