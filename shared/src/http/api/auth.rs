//! Who is calling: every REST API handler takes a [`Caller`], and reads and writes only the
//! caller's tenant. The extractor authenticates (IAM through API Gateway, a bearer token, or
//! HTTP Basic) and then spends one request of the credential's rate limit.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use crate::access::{self, ApiCredential, CredentialKind};
use crate::http::ApiError;

/// An authenticated caller of the REST API.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: String,
    /// The credential's id, or `iam:<ARN>` for an IAM principal: what rate limits count and
    /// audit trails record.
    pub credential_id: String,
    /// The stored credential, when there is one (not for IAM).
    pub credential: Option<ApiCredential>,
}

/// Where IAM-signed requests come in (template.yaml's `Iam` route, with the AWS_IAM authorizer).
pub const IAM_PREFIX: &str = "/iam";

const INVALID: &str = "the credential is not valid: check the token or the user name and password (`casb api-key list --tenant T` shows which are active)";

fn unauthorized(message: impl Into<String>) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"casb\", Basic realm=\"casb\""),
    );
    response
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Response> {
        let caller = authenticate(parts, state).await?;
        let now = state.core.backend.clock.now();
        if let Err(wait) = state.limiter.check(&caller.credential_id, now) {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "rate limit of {} requests a minute for this credential reached: retry in {wait} s",
                    state.limiter.per_minute()
                ),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Err(response);
        }
        Ok(caller)
    }
}

async fn authenticate(parts: &Parts, state: &ApiState) -> Result<Caller, Response> {
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path().to_string(), |u| u.0.path().to_string());
    if path == IAM_PREFIX || path.starts_with(&format!("{IAM_PREFIX}/")) {
        return iam_caller(parts, state);
    }
    let Some(value) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(unauthorized(
            "authentication is required: send `Authorization: Bearer <API key or access token>` (create a key with `casb api-key create --tenant T`) or HTTP Basic as an API user",
        ));
    };
    if let Some(token) = value.strip_prefix("Bearer ") {
        return bearer_caller(token.trim(), state).await;
    }
    if value.starts_with("Basic ") {
        let (user, password) = access::basic_credentials(value).ok_or_else(|| {
            unauthorized("the Basic credentials are not base64 of `user:password`")
        })?;
        return basic_caller(&user, password, state).await;
    }
    Err(unauthorized(
        "unsupported Authorization scheme: use Bearer or Basic",
    ))
}

fn usable(credential: ApiCredential, state: &ApiState) -> Result<Caller, Response> {
    if let Some(why) = credential.unusable(state.core.backend.clock.now()) {
        return Err(unauthorized(format!(
            "{why}: create another with `casb api-key create`"
        )));
    }
    Ok(Caller {
        tenant_id: credential.tenant_id.clone(),
        credential_id: credential.id.clone(),
        credential: Some(credential),
    })
}

fn store_failure(e: crate::ports::StoreError) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("credentials cannot be checked now: {e}"),
    )
    .into_response()
}

async fn bearer_caller(token: &str, state: &ApiState) -> Result<Caller, Response> {
    let id = access::token_credential_id(token).ok_or_else(|| unauthorized(INVALID))?;
    let credential = state
        .core
        .backend
        .access
        .get_credential(id)
        .await
        .map_err(store_failure)?
        .filter(|c| matches!(c.kind, CredentialKind::ApiKey | CredentialKind::AccessToken))
        .filter(|c| access::token_matches(&c.secret_hash, token))
        .ok_or_else(|| unauthorized(INVALID))?;
    usable(credential, state)
}

/// A stored hash to verify against when the user does not exist, so that an unknown user
/// costs the same time as a wrong password and user names cannot be probed.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        access::issue_api_user("decoy", "decoy", chrono::Utc::now())
            .credential
            .secret_hash
    })
}

async fn basic_caller(user: &str, password: String, state: &ApiState) -> Result<Caller, Response> {
    let credential = match access::validate_user_name(user) {
        Ok(()) => state
            .core
            .backend
            .access
            .get_credential(&access::user_credential_id(user))
            .await
            .map_err(store_failure)?
            .filter(|c| c.kind == CredentialKind::BasicUser),
        Err(_) => None,
    };
    let stored = credential
        .as_ref()
        .map_or_else(|| decoy_hash().to_string(), |c| c.secret_hash.clone());
    // Hundreds of milliseconds of hashing: off the async threads.
    let matches = tokio::task::spawn_blocking(move || access::password_matches(&stored, &password))
        .await
        .unwrap_or(false);
    match credential {
        Some(credential) if matches => usable(credential, state),
        _ => Err(unauthorized(INVALID)),
    }
}

fn iam_caller(parts: &Parts, state: &ApiState) -> Result<Caller, Response> {
    // Only lambda_http puts a request context in the extensions, from the event API Gateway
    // sent after verifying the SigV4 signature: no header can forge it.
    let arn = match parts
        .extensions
        .get::<lambda_http::request::RequestContext>()
    {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .and_then(|iam| iam.user_arn.clone()),
        _ => None,
    };
    let Some(arn) = arn else {
        return Err(unauthorized(
            "the /iam/ routes take SigV4-signed requests through API Gateway's IAM authorizer only; elsewhere use a bearer token or Basic",
        ));
    };
    let tenant = state.core.settings.api.iam_tenants.tenant_for(&arn).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the IAM principal {arn} is not mapped to a tenant: add `<role ARN>=<tenant>` to the stack's ApiIamTenants parameter"),
        )
        .into_response()
    })?;
    Ok(Caller {
        tenant_id: tenant.to_string(),
        credential_id: format!("iam:{arn}"),
        credential: None,
    })
}
