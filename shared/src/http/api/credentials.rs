//! Access tokens for API users: Basic once, then a bearer token for an hour, instead of paying
//! the password hash on every call.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use super::auth::Caller;
use super::{store_error, ApiState};
use crate::access::{self, CredentialKind};
use crate::http::ApiError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessToken {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The token's credential id (to revoke it with `casb api-key revoke`).
    pub id: String,
}

/// Exchange an API user's Basic credentials for a bearer access token valid for an hour.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "access", security(("basic" = [])),
    responses(
        (status = 201, description = "A new access token", body = AccessToken),
        (status = 401, description = "Not an API user's valid Basic credentials", body = ApiError),
        (status = 403, description = "The caller is not an API user (already a token or a key)", body = ApiError),
    ))]
pub(super) async fn issue_access_token(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<(StatusCode, Json<AccessToken>), ApiError> {
    let user = caller
        .credential
        .filter(|c| c.kind == CredentialKind::BasicUser)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "access tokens are issued to API users: authenticate with HTTP Basic",
            )
        })?;
    let issued = access::issue_access_token(&user, state.core.backend.clock.now());
    state
        .core
        .backend
        .access
        .create_credential(&issued.credential)
        .await
        .map_err(store_error)?;
    Ok((
        StatusCode::CREATED,
        Json(AccessToken {
            access_token: issued.secret,
            token_type: "Bearer",
            expires_in: access::ACCESS_TOKEN_LIFETIME.num_seconds(),
            id: issued.credential.id,
        }),
    ))
}
