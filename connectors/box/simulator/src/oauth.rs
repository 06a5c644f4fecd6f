//! OAuth 2.0 as Box runs it (saas-apis.md §1.1): authorize (auto-consent, since the simulator
//! has no human), token exchange, single-use refresh tokens, revocation, and bearer-token
//! checks on `/2.0`; plus Box's server-authentication grants, client credentials (CCG) and
//! JWT (see `jwt.rs`), which answer an access token only.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::{BoxError, OAuthError};
use crate::faults::charge_rate_limit;
use crate::server::Shared;
use crate::state::{from_now, now, random_token, SimState};

/// Refresh tokens live 60 days at Box.
const REFRESH_TOKEN_LIFETIME_DAYS: i64 = 60;

#[derive(Debug, Clone)]
pub(crate) struct AuthorizationCode {
    pub user_id: String,
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
    pub code_challenge: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub user_id: String,
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    /// Box refresh tokens are single use: a used one is dead.
    pub used: bool,
    pub revoked: bool,
}

/// Counters a test can assert on, e.g. "the client refreshed exactly once".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OAuthStats {
    pub authorization_codes_issued: u64,
    pub code_exchanges: u64,
    /// Successful refresh grants.
    pub refreshes: u64,
    pub revocations: u64,
    pub access_tokens_issued: u64,
    pub rejected_token_requests: u64,
    /// API calls refused with 401 (expired, revoked or unknown bearer token).
    pub unauthorized_api_calls: u64,
    /// Token requests with `grant_type=refresh_token`, counted on arrival (before any token
    /// delay), whatever their outcome.
    pub refresh_attempts: u64,
    /// Refresh grants refused with `invalid_grant` (unknown, used, revoked or expired refresh
    /// token), e.g. the loser of two concurrent refreshes with one token.
    pub refresh_invalid_grants: u64,
    /// Access tokens issued by the client credentials grant.
    pub client_credentials_grants: u64,
    /// Access tokens issued by the JWT grant.
    pub jwt_grants: u64,
}

#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    pub codes: HashMap<String, AuthorizationCode>,
    pub access_tokens: HashMap<String, AccessGrant>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    /// `jti`s of accepted JWT assertions, with their `exp`: Box refuses a `jti` it has seen,
    /// and an expired assertion is refused anyway, so entries can go once past `exp`.
    pub used_jtis: HashMap<String, DateTime<Utc>>,
    pub stats: OAuthStats,
}

/// What `/oauth2/token` hands out: a pair for the user grants, an access token alone for the
/// server-authentication grants (client credentials, JWT), as Box does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
}

impl From<TokenPair> for IssuedTokens {
    fn from(pair: TokenPair) -> Self {
        IssuedTokens {
            access_token: pair.access_token,
            refresh_token: Some(pair.refresh_token),
            expires_in: pair.expires_in,
        }
    }
}

impl IssuedTokens {
    /// The `AccessToken` body. Server-authentication answers carry neither `refresh_token`
    /// nor `issued_token_type`, like Box's.
    fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "token_type": "bearer",
            "restricted_to": [],
        });
        if let Some(refresh_token) = &self.refresh_token {
            body["refresh_token"] = json!(refresh_token);
            body["issued_token_type"] = json!("urn:ietf:params:oauth:token-type:access_token");
        }
        body
    }
}

/// The `box_subject_type` of a client credentials request or the `box_sub_type` claim of a
/// JWT assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubjectKind {
    Enterprise,
    User,
}

impl SubjectKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "enterprise" => Some(SubjectKind::Enterprise),
            "user" => Some(SubjectKind::User),
            _ => None,
        }
    }
}

/// A pair of tokens as `/oauth2/token` returns them (the `AccessToken` schema).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

pub(crate) fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
        .collect()
}

pub(crate) fn parse_form(body: &[u8]) -> Option<HashMap<String, String>> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()
        .map(|pairs| pairs.into_iter().collect())
}

impl SimState {
    /// A new access token for `user_id`, counted as issued.
    pub(crate) fn issue_access_token(&mut self, user_id: &str) -> IssuedTokens {
        let access_token = random_token(32);
        let lifetime = self.config.access_token_lifetime;
        self.oauth.access_tokens.insert(
            access_token.clone(),
            AccessGrant {
                user_id: user_id.to_string(),
                expires_at: from_now(lifetime),
                revoked: false,
            },
        );
        self.oauth.stats.access_tokens_issued += 1;
        IssuedTokens {
            access_token,
            refresh_token: None,
            expires_in: lifetime.as_secs(),
        }
    }

    pub fn issue_token_pair(&mut self, user_id: &str) -> TokenPair {
        let IssuedTokens {
            access_token,
            expires_in,
            ..
        } = self.issue_access_token(user_id);
        let refresh_token = random_token(64);
        self.oauth.refresh_tokens.insert(
            refresh_token.clone(),
            RefreshGrant {
                user_id: user_id.to_string(),
                access_token: access_token.clone(),
                expires_at: now() + ChronoDuration::days(REFRESH_TOKEN_LIFETIME_DAYS),
                used: false,
                revoked: false,
            },
        );
        TokenPair {
            access_token,
            refresh_token,
            expires_in,
        }
    }

    /// The user a server-authentication token acts as: for `enterprise`, the enterprise's
    /// service account, which in the simulator is the seeded admin (so enterprise-wide reads
    /// work, as they do for an app with App + Enterprise access); for `user`, that managed
    /// user. `None` for a subject Box would refuse (another enterprise, an external or unknown
    /// user).
    pub(crate) fn server_auth_subject(&self, kind: SubjectKind, id: &str) -> Option<String> {
        match kind {
            SubjectKind::Enterprise => {
                (id == self.config.enterprise_id).then(|| self.admin_user_id.clone())
            }
            SubjectKind::User => self
                .users
                .get(id)
                .filter(|user| user.is_enterprise_member)
                .map(|user| user.id.clone()),
        }
    }

    /// Counts a token request as it arrives, before the token delay.
    fn note_token_request(&mut self, form: &HashMap<String, String>) {
        if form.get("grant_type").map(String::as_str) == Some("refresh_token") {
            self.oauth.stats.refresh_attempts += 1;
        }
    }

    /// Resolves a bearer token to its user, charging the rate limit.
    pub fn authenticate(&mut self, headers: &HeaderMap) -> Result<String, BoxError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(|token| token.trim().to_string());
        let user_id = token
            .as_ref()
            .and_then(|token| self.oauth.access_tokens.get(token))
            .filter(|grant| !grant.revoked && grant.expires_at > now())
            .map(|grant| grant.user_id.clone());
        match (token, user_id) {
            (Some(token), Some(user_id)) => {
                charge_rate_limit(self, &token)?;
                self.acting_user(headers, user_id)
            }
            _ => {
                self.oauth.stats.unauthorized_api_calls += 1;
                Err(BoxError::unauthorized())
            }
        }
    }

    /// Honours the `as-user: <user_id>` header, which needs an admin or co-admin token
    /// [box-dev:authentication/oauth2/as-user].
    fn acting_user(&self, headers: &HeaderMap, token_user: String) -> Result<String, BoxError> {
        let Some(as_user) = headers
            .get("as-user")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
        else {
            return Ok(token_user);
        };
        let role = self.user(&token_user)?.role.as_str();
        if role != "admin" && role != "coadmin" {
            return Err(BoxError::forbidden(
                "access_denied_insufficient_permissions",
                "as-user needs an admin or co-admin token",
            ));
        }
        let user = self
            .users
            .get(as_user)
            .filter(|u| u.id != crate::state::ANONYMOUS_USER_ID)
            .ok_or_else(|| BoxError::bad_request(format!("as-user: unknown user {as_user}")))?;
        Ok(user.id.clone())
    }

    pub fn expire_all_access_tokens(&mut self) {
        let past = now() - ChronoDuration::seconds(1);
        for grant in self.oauth.access_tokens.values_mut() {
            grant.expires_at = past;
        }
    }

    fn check_client(&mut self, form: &HashMap<String, String>) -> Result<(), OAuthError> {
        let id_ok = form
            .get("client_id")
            .is_some_and(|id| *id == self.config.client_id);
        let secret_ok = form
            .get("client_secret")
            .is_some_and(|secret| *secret == self.config.client_secret);
        if id_ok && secret_ok {
            Ok(())
        } else {
            self.oauth.stats.rejected_token_requests += 1;
            Err(OAuthError::new(
                "invalid_client",
                "The client credentials are invalid",
            ))
        }
    }

    /// `POST /oauth2/token`. `token_url` is the simulator's own token URL, which a JWT
    /// assertion may name as its audience besides Box's.
    pub(crate) fn exchange_token(
        &mut self,
        form: &HashMap<String, String>,
        token_url: &str,
    ) -> Result<IssuedTokens, OAuthError> {
        self.check_client(form)?;
        let result = match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => self.exchange_code(form).map(IssuedTokens::from),
            Some("refresh_token") => {
                let result = self.refresh(form);
                if result.as_ref().is_err_and(|e| e.error == "invalid_grant") {
                    self.oauth.stats.refresh_invalid_grants += 1;
                }
                result.map(IssuedTokens::from)
            }
            Some("client_credentials") => self.client_credentials(form),
            Some(crate::jwt::JWT_BEARER_GRANT) => self.jwt_bearer(form, token_url),
            Some(other) => Err(OAuthError::new(
                "unsupported_grant_type",
                format!("Grant type {other} is not supported by the simulator"),
            )),
            None => Err(OAuthError::new(
                "invalid_request",
                "The grant_type parameter is missing",
            )),
        };
        if result.is_err() {
            self.oauth.stats.rejected_token_requests += 1;
        }
        result
    }

    fn exchange_code(&mut self, form: &HashMap<String, String>) -> Result<TokenPair, OAuthError> {
        let code = form
            .get("code")
            .ok_or_else(|| OAuthError::new("invalid_request", "The code parameter is missing"))?;
        // Single use: the code is removed whether or not the exchange succeeds.
        let grant = self.oauth.codes.remove(code).ok_or_else(|| {
            OAuthError::new(
                "invalid_grant",
                "Auth code doesn't exist or is invalid for the client",
            )
        })?;
        if grant.expires_at <= now() {
            return Err(OAuthError::new(
                "invalid_grant",
                "The authorization code has expired",
            ));
        }
        if let Some(redirect_uri) = form.get("redirect_uri") {
            if *redirect_uri != grant.redirect_uri {
                return Err(OAuthError::new(
                    "invalid_grant",
                    "The redirect_uri does not match the one of the authorization request",
                ));
            }
        }
        if let Some(challenge) = &grant.code_challenge {
            // PKCE (RFC 7636, S256). Box's spec does not document PKCE; the simulator checks
            // it when the authorize request carried a challenge.
            let verifier = form.get("code_verifier").ok_or_else(|| {
                OAuthError::new("invalid_grant", "The code_verifier parameter is missing")
            })?;
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if computed != *challenge {
                return Err(OAuthError::new(
                    "invalid_grant",
                    "The code_verifier does not match the code_challenge",
                ));
            }
        }
        self.oauth.stats.code_exchanges += 1;
        Ok(self.issue_token_pair(&grant.user_id))
    }

    fn refresh(&mut self, form: &HashMap<String, String>) -> Result<TokenPair, OAuthError> {
        let token = form.get("refresh_token").ok_or_else(|| {
            OAuthError::new("invalid_request", "The refresh_token parameter is missing")
        })?;
        let grant = self
            .oauth
            .refresh_tokens
            .get_mut(token)
            .ok_or_else(|| OAuthError::new("invalid_grant", "Invalid refresh token"))?;
        if grant.used || grant.revoked || grant.expires_at <= now() {
            return Err(OAuthError::new(
                "invalid_grant",
                "Refresh token has expired",
            ));
        }
        // Box refresh tokens are single use: using one kills it and returns a new pair.
        grant.used = true;
        let user_id = grant.user_id.clone();
        self.oauth.stats.refreshes += 1;
        Ok(self.issue_token_pair(&user_id))
    }

    /// Box's client credentials grant [box-dev:authentication/client-credentials]:
    /// `box_subject_type` `enterprise` (with the enterprise id) or `user` (with a managed
    /// user's id) → an access token for that subject, no refresh token.
    fn client_credentials(
        &mut self,
        form: &HashMap<String, String>,
    ) -> Result<IssuedTokens, OAuthError> {
        let missing = |name: &str| {
            OAuthError::new(
                "invalid_request",
                format!("The {name} parameter is missing"),
            )
        };
        let subject_type = form
            .get("box_subject_type")
            .ok_or_else(|| missing("box_subject_type"))?;
        let subject_id = form
            .get("box_subject_id")
            .ok_or_else(|| missing("box_subject_id"))?;
        let kind = SubjectKind::parse(subject_type).ok_or_else(|| {
            OAuthError::new(
                "unauthorized_client",
                "The \"box_subject_type\" value is unauthorized for this client_id",
            )
        })?;
        let user_id = self
            .server_auth_subject(kind, subject_id)
            .ok_or_else(|| OAuthError::new("invalid_grant", "Grant credentials are invalid"))?;
        self.oauth.stats.client_credentials_grants += 1;
        Ok(self.issue_access_token(&user_id))
    }

    pub fn revoke(&mut self, form: &HashMap<String, String>) -> Result<(), OAuthError> {
        self.check_client(form)?;
        let token = form
            .get("token")
            .ok_or_else(|| OAuthError::new("invalid_request", "The token parameter is missing"))?;
        // Revoking either token of a pair kills both, as Box does.
        if let Some(grant) = self.oauth.access_tokens.get_mut(token) {
            grant.revoked = true;
            let access = token.clone();
            for refresh in self
                .oauth
                .refresh_tokens
                .values_mut()
                .filter(|r| r.access_token == access)
            {
                refresh.revoked = true;
            }
        } else if let Some(refresh) = self.oauth.refresh_tokens.get_mut(token) {
            refresh.revoked = true;
            let access = refresh.access_token.clone();
            if let Some(grant) = self.oauth.access_tokens.get_mut(&access) {
                grant.revoked = true;
            }
        }
        self.oauth.stats.revocations += 1;
        Ok(())
    }
}

/// `GET /api/oauth2/authorize`: no human here, so the simulator consents at once as the
/// user named by the non-standard `login_hint` (a login or user id; default the admin) and
/// redirects to `redirect_uri?code=..&state=..`.
pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = parse_query(raw.as_deref());
    let result = shared.with_state(|state| -> Result<String, (StatusCode, String)> {
        let bad = |message: &str| (StatusCode::BAD_REQUEST, message.to_string());
        if query.get("response_type").map(String::as_str) != Some("code") {
            return Err(bad(
                "unsupported_response_type: response_type must be 'code'",
            ));
        }
        if query.get("client_id") != Some(&state.config.client_id) {
            return Err(bad("invalid_client: unknown client_id"));
        }
        let redirect_uri = query
            .get("redirect_uri")
            .cloned()
            .or_else(|| state.config.redirect_uris.first().cloned())
            .ok_or_else(|| bad("redirect_uri_missing"))?;
        // Box wants HTTPS; the simulator also takes http:// (local callbacks). Either way the
        // URI must be usable in a Location header.
        let usable = (redirect_uri.starts_with("https://") || redirect_uri.starts_with("http://"))
            && !redirect_uri.chars().any(|c| c.is_control() || c == ' ');
        if !usable {
            return Err(bad("invalid_request: redirect_uri must be an http(s) URL"));
        }
        if !state.config.redirect_uris.is_empty()
            && !state.config.redirect_uris.contains(&redirect_uri)
        {
            return Err(bad(
                "redirect_uri_mismatch: redirect_uri is not registered for this app",
            ));
        }
        let code_challenge = match (
            query.get("code_challenge"),
            query.get("code_challenge_method").map(String::as_str),
        ) {
            (Some(challenge), Some("S256")) => Some(challenge.clone()),
            (Some(_), _) => {
                return Err(bad(
                    "invalid_request: only code_challenge_method=S256 is supported",
                ))
            }
            (None, _) => None,
        };
        let user_id = match query.get("login_hint") {
            Some(hint) => state
                .user_by_login(hint)
                .map(|u| u.id.clone())
                .or_else(|| state.users.get(hint).map(|u| u.id.clone()))
                .ok_or_else(|| bad("unknown login_hint user"))?,
            None => state.admin_user_id.clone(),
        };
        let code = random_token(32);
        state.oauth.codes.insert(
            code.clone(),
            AuthorizationCode {
                user_id: user_id.clone(),
                redirect_uri: redirect_uri.clone(),
                expires_at: from_now(state.config.authorization_code_lifetime),
                code_challenge,
            },
        );
        state.oauth.stats.authorization_codes_issued += 1;
        let source = state.user_mini(&user_id);
        state.append_event("LOGIN", &user_id, source, json!({}), now());
        let mut params = vec![("code", code)];
        if let Some(st) = query.get("state") {
            params.push(("state", st.clone()));
        }
        let encoded = serde_urlencoded::to_string(&params).unwrap_or_default();
        let separator = if redirect_uri.contains('?') { '&' } else { '?' };
        Ok(format!("{redirect_uri}{separator}{encoded}"))
    });
    match result {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err((status, message)) => (status, message).into_response(),
    }
}

/// `POST /oauth2/token` (form). With a token delay set, the request waits that long before
/// it is looked at, so a refresh token is consumed only after the delay.
pub(crate) async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(form) = parse_form(&body) else {
        return OAuthError::new("invalid_request", "The request body is not a valid form")
            .into_response();
    };
    let delay = shared.with_state(|state| {
        state.note_token_request(&form);
        state.faults.token_delay
    });
    let token_url = format!("{}/oauth2/token", shared.urls.origin);
    let worker = Arc::clone(&shared);
    // The grant runs on its own task: a client that gives up during the delay does not cancel
    // it, just as a request Box has received still consumes the refresh token when the client
    // times out and never sees the new pair.
    let grant = shared.runtime.spawn(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        worker.with_state(|state| state.exchange_token(&form, &token_url))
    });
    match grant.await {
        Ok(Ok(tokens)) => axum::Json(tokens.body()).into_response(),
        Ok(Err(error)) => error.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `POST /oauth2/revoke` (form) → 200 with an empty body.
pub(crate) async fn revoke(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(form) = parse_form(&body) else {
        return OAuthError::new("invalid_request", "The request body is not a valid form")
            .into_response();
    };
    match shared.with_state(|state| state.revoke(&form)) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => error.into_response(),
    }
}
