//! Box's error body for `/2.0` endpoints and OAuth 2.0 errors for `/oauth2/*`.
//!
//! Box answers API errors with `{"type":"error","status":..,"code":..,"message":..,"request_id":..}`
//! (the `ClientError` schema of Box's OpenAPI spec), and OAuth errors with
//! `{"error":..,"error_description":..}` (the `OAuth2Error` schema).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// An error as Box reports it. Also returned by the simulator's Rust control methods.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub context_info: Option<Value>,
    /// Seconds for a `retry-after` header (429 and 503 answers).
    pub retry_after_secs: Option<u64>,
}

impl BoxError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        BoxError {
            status,
            code: code.to_string(),
            message: message.into(),
            context_info: None,
            retry_after_secs: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }
    /// Box answers 404 with code `trashed` for an item that sits in the trash
    /// [box-dev:api-calls/permissions-and-errors/common-errors].
    pub fn trashed() -> Self {
        Self::new(404, "trashed", "Item is trashed")
    }
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "unauthorized",
            "The access token provided is invalid or has expired.",
        )
    }
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        // The 429 body and `retry-after` header per saas-apis.md §1.5.
        BoxError {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(
                429,
                "rate_limit_exceeded",
                "Request rate limit exceeded, please try again later",
            )
        }
    }
    pub fn with_code(mut self, code: &str) -> Self {
        self.code = code.to_string();
        self
    }
    pub fn with_context(mut self, context_info: Value) -> Self {
        self.context_info = Some(context_info);
        self
    }

    /// The JSON body Box sends for this error.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "type": "error",
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "help_url": "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/",
            "request_id": new_request_id(),
        });
        if let Some(context) = &self.context_info {
            body["context_info"] = context.clone();
        }
        body
    }
}

impl std::fmt::Display for BoxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for BoxError {}

impl IntoResponse for BoxError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after_secs {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if self.status == 401 {
            // Box signals a bad bearer token in this header as well as the status.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"Service\", error=\"invalid_token\", error_description=\"The access token provided is invalid.\""),
            );
        }
        response
    }
}

/// An OAuth 2.0 error from `/oauth2/token` or `/oauth2/revoke` (always HTTP 400 at Box).
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

pub(crate) fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}
