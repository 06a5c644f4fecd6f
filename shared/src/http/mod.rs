//! The HTTP functions as axum routers: lambda_http serves them in Lambda, `casb serve` serves
//! them (merged) locally. Each function owns a path prefix so the merged router never collides.

pub mod api;
pub mod oauth_callback;
pub mod webhook_intake;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// Every HTTP error body: `{"code": <status>, "message": "..."}`.
#[derive(Debug, Serialize)]
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
}

pub(crate) fn health(function: &'static str) -> Json<Health> {
    Json(Health {
        status: "ok",
        function,
        version: env!("CARGO_PKG_VERSION"),
    })
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

/// The three HTTP functions in one router, as `casb serve` runs them.
pub fn combined_router(core: crate::core::Core) -> axum::Router {
    axum::Router::new()
        .merge(oauth_callback::routes(core.clone()))
        .merge(webhook_intake::routes(core.clone()))
        .merge(api::routes(core))
        .fallback(not_found)
}
