//! Error bodies in each Microsoft service's own shape.
//!
//! - Identity platform (login.microsoftonline.com): `{"error","error_description":"AADSTSn: …
//!   Trace ID … Correlation ID … Timestamp …","error_codes":[n],"timestamp","trace_id",
//!   "correlation_id","error_uri"}` (v2-oauth2-client-creds-grant-flow, "Error response").
//! - Management Activity API (manage.office.com): `{"error":{"code":"AF…","message":…}}`
//!   (office-365-management-activity-api-reference, "Errors").
//! - Microsoft Graph: `{"error":{"code","message","innerError":{"date","request-id",
//!   "client-request-id"}}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn insert_retry_after(response: &mut Response, retry_after_secs: Option<u64>) {
    if let Some(secs) = retry_after_secs {
        if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
}

/// An error from the identity platform's token endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityError {
    pub status: u16,
    /// The OAuth error: `invalid_client`, `invalid_request`, `invalid_scope`, ...
    pub error: String,
    /// The AADSTS number, e.g. 7000215.
    pub aadsts: u32,
    /// The description after `AADSTSn: `.
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl IdentityError {
    pub fn new(status: u16, error: &str, aadsts: u32, message: impl Into<String>) -> Self {
        IdentityError {
            status,
            error: error.to_string(),
            aadsts,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn body(&self) -> Value {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.aadsts, self.message
            ),
            "error_codes": [self.aadsts],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.aadsts),
        })
    }
}

impl IntoResponse for IdentityError {
    fn into_response(self) -> Response {
        let mut response = (status_code(self.status), axum::Json(self.body())).into_response();
        insert_retry_after(&mut response, self.retry_after_secs);
        response
    }
}

/// An error from the Office 365 Management Activity API.
#[derive(Debug, Clone, PartialEq)]
pub struct ManageError {
    pub status: u16,
    /// `AF20022`, `AF20030`, ...
    pub code: String,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl ManageError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ManageError {
            status,
            code: code.to_string(),
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// A bad or expired bearer token. The reference documents no code for this case; the
    /// simulator answers 401 with an `AF401` code in the documented body shape [GUESS].
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "AF401",
            "Authorization has been denied for this request.",
        )
    }

    pub fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for ManageError {
    fn into_response(self) -> Response {
        let mut response = (status_code(self.status), axum::Json(self.body())).into_response();
        insert_retry_after(&mut response, self.retry_after_secs);
        if self.status == 401 {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// An error from Microsoft Graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl GraphError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_string(),
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn invalid_token(message: &str) -> Self {
        Self::new(401, "InvalidAuthenticationToken", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "itemNotFound", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalidRequest", message)
    }

    pub fn body(&self) -> Value {
        let request_id = uuid::Uuid::new_v4().to_string();
        json!({"error": {
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }})
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut response = (status_code(self.status), axum::Json(self.body())).into_response();
        insert_retry_after(&mut response, self.retry_after_secs);
        if self.status == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                ),
            );
        }
        response
    }
}
