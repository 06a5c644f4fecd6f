//! The identity platform (login.microsoftonline.com): the admin consent redirect and the
//! client credentials grant (shared secret, or a certificate-signed client assertion), per
//! entra-docs `v2-oauth2-client-creds-grant-flow.md`, `v2-admin-consent.md` and
//! `certificate-credentials.md`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::error::IdentityError;
use crate::server::{query_params, Shared};
use crate::state::{from_now, new_guid, IssuedToken, Resource, SimState};

/// The `client_assertion_type` of a certificate (or federated) credential.
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Tenant aliases that name no tenant: fine for the consent prompt (the admin's sign-in picks
/// the tenant), refused by the client credentials grant.
const TENANT_ALIASES: [&str; 3] = ["common", "organizations", "consumers"];

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `base` with `params` appended to its query (a registered redirect URI may carry its own).
fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let encoded = serde_urlencoded::to_string(params).unwrap_or_default();
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{encoded}")
}

fn redirect(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

/// The error page login.microsoftonline.com shows when it cannot redirect back (unknown app,
/// missing redirect URI): HTTP 400 with the AADSTS message in an HTML page.
fn error_page(aadsts: u32, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>\
             <h1>Sorry, but we're having trouble signing you in.</h1>\
             <p>AADSTS{aadsts}: {escaped}</p></body></html>"
        )),
    )
        .into_response()
}

/// Which admin consent endpoint was called: the v1-style `/{tenant}/adminconsent` and the v2
/// `/{tenant}/v2.0/adminconsent` document different error redirects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ConsentEndpoint {
    V1,
    V2,
}

/// `GET /{tenant}/adminconsent?client_id&redirect_uri&state`.
pub(crate) async fn admin_consent(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    consent(&shared, &tenant, query.as_deref(), ConsentEndpoint::V1)
}

/// `GET /{tenant}/v2.0/adminconsent?client_id&scope&redirect_uri&state`.
pub(crate) async fn admin_consent_v2(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    consent(&shared, &tenant, query.as_deref(), ConsentEndpoint::V2)
}

fn consent(
    shared: &Shared,
    tenant: &str,
    query: Option<&str>,
    endpoint: ConsentEndpoint,
) -> Response {
    let params = query_params(query);
    shared.with_state(|state| {
        let alias = TENANT_ALIASES
            .iter()
            .any(|alias| alias.eq_ignore_ascii_case(tenant));
        if !alias && !state.is_own_tenant(tenant) {
            return error_page(90002, &format!("Tenant '{tenant}' not found."));
        }
        let Some(client_id) = params.get("client_id").filter(|id| !id.is_empty()) else {
            return error_page(
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            );
        };
        if !client_id.eq_ignore_ascii_case(&state.config.client_id) {
            return error_page(
                700016,
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory '{}'.",
                    state.config.tenant_display_name
                ),
            );
        }
        // The simulator has no app registration portal: any redirect URI is taken as
        // registered. [SIMPLIFICATION]
        let Some(redirect_uri) = params.get("redirect_uri").filter(|uri| !uri.is_empty()) else {
            return error_page(
                900144,
                "The request body must contain the following parameter: 'redirect_uri'.",
            );
        };
        let state_param = params.get("state").map(String::as_str).unwrap_or("");
        if state.config.consent_denied {
            // Declined consent. The client credentials doc shows, for `/adminconsent`,
            // `?error=permission_denied&error_description=The+admin+canceled+the+request`; the
            // v2 admin consent doc shows `error=consent_required` (AADSTS65004) with
            // `admin_consent=True`. Both are implemented as documented, plus `state` (the
            // docs' examples omit it, but the v2 table lists it). Real browsers have also been
            // seen to get `error=access_denied&error_subcode=cancel`; a client should treat any
            // `error` as "not consented".
            let location = match endpoint {
                ConsentEndpoint::V1 => with_query(
                    redirect_uri,
                    &[
                        ("error", "permission_denied"),
                        ("error_description", "The admin canceled the request"),
                        ("state", state_param),
                    ],
                ),
                ConsentEndpoint::V2 => with_query(
                    redirect_uri,
                    &[
                        ("admin_consent", "True"),
                        ("error", "consent_required"),
                        (
                            "error_description",
                            "AADSTS65004: The resource owner or authorization server denied the request.",
                        ),
                        ("state", state_param),
                    ],
                ),
            };
            return redirect(&location);
        }
        state.config.admin_consent_granted = true;
        let tenant_id = state.config.tenant_id.clone();
        let mut answer = vec![
            ("tenant", tenant_id.as_str()),
            ("state", state_param),
            ("admin_consent", "True"),
        ];
        let scope = params.get("scope").cloned().unwrap_or_default();
        if endpoint == ConsentEndpoint::V2 {
            answer.push(("scope", scope.as_str()));
        }
        redirect(&with_query(redirect_uri, &answer))
    })
}

/// How the client proved its identity.
enum ClientCredential {
    Secret(String),
    Assertion { kind: String, assertion: String },
}

/// `client_id` and `client_secret` from an `Authorization: Basic` header (RFC 6749 §2.3.1:
/// both form-urlencoded before base64), which Microsoft accepts in place of form fields.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |part: &str| -> String {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={part}"))
            .ok()
            .and_then(|mut pairs| pairs.pop())
            .map(|(_, value)| value)
            .unwrap_or_else(|| part.to_string())
    };
    Some((unescape(id), unescape(secret)))
}

fn missing_parameter(name: &str) -> IdentityError {
    IdentityError::new(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> =
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .unwrap_or_default()
            .into_iter()
            .collect();
    let token_url = format!("{}/{tenant}/oauth2/v2.0/token", shared.urls.login);
    let result =
        shared.with_state(|state| client_credentials(state, &tenant, &form, &headers, &token_url));
    match result {
        Ok(answer) => (StatusCode::OK, axum::Json(answer)).into_response(),
        Err(error) => error.into_response(),
    }
}

fn client_credentials(
    state: &mut SimState,
    tenant: &str,
    form: &HashMap<String, String>,
    headers: &HeaderMap,
    own_token_url: &str,
) -> Result<Value, IdentityError> {
    let grant_type = form
        .get("grant_type")
        .filter(|value| !value.is_empty())
        .ok_or_else(|| missing_parameter("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(IdentityError::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'. The simulator serves client_credentials only."),
        ));
    }
    // The scope is looked at (and counted) before the tenant and the credentials, so that
    // `token_requests` counts every attempt at a resource.
    let scope = form
        .get("scope")
        .map(|scope| scope.trim())
        .filter(|scope| !scope.is_empty())
        .ok_or_else(|| missing_parameter("scope"))?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let resources: Vec<Option<Resource>> = scopes.iter().map(|s| Resource::from_scope(s)).collect();
    if let Some(Some(resource)) = resources.first() {
        *state.token_requests.entry(*resource).or_default() += 1;
    }
    let resource = match resources.as_slice() {
        [Some(resource)] => *resource,
        [_, _, ..] if resources.iter().all(Option::is_some) => {
            return Err(IdentityError::new(
                400,
                "invalid_scope",
                28000,
                "Provided value for the input parameter scope is not valid because it contains more than one resource.",
            ))
        }
        _ => {
            return Err(IdentityError::new(
                400,
                "invalid_scope",
                70011,
                format!("The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."),
            ))
        }
    };

    if TENANT_ALIASES
        .iter()
        .any(|alias| alias.eq_ignore_ascii_case(tenant))
    {
        // An app-only token is always for one tenant; `common` cannot say which. The exact
        // code Microsoft answers here is not documented [GUESS: AADSTS50059].
        return Err(IdentityError::new(
            400,
            "invalid_request",
            50059,
            format!("No tenant-identifying information found in either the request or implied by any provided credentials. Use a tenant id or domain instead of '{tenant}' for the client credentials grant."),
        ));
    }
    if !state.is_own_tenant(tenant) {
        return Err(IdentityError::new(
            400,
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        ));
    }

    let basic = basic_credentials(headers);
    let client_id = form
        .get("client_id")
        .filter(|id| !id.is_empty())
        .cloned()
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
        .ok_or_else(|| missing_parameter("client_id"))?;
    // A multi-tenant app that no admin consented to has no service principal in the tenant,
    // so the tenant does not know the app at all.
    if !client_id.eq_ignore_ascii_case(&state.config.client_id)
        || !state.config.admin_consent_granted
    {
        return Err(IdentityError::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                state.config.tenant_display_name
            ),
        ));
    }

    let credential = match (
        form.get("client_secret").filter(|s| !s.is_empty()),
        form.get("client_assertion").filter(|s| !s.is_empty()),
    ) {
        (Some(secret), _) => ClientCredential::Secret(secret.clone()),
        (None, Some(assertion)) => ClientCredential::Assertion {
            kind: form.get("client_assertion_type").cloned().unwrap_or_default(),
            assertion: assertion.clone(),
        },
        (None, None) => match basic {
            Some((_, secret)) => ClientCredential::Secret(secret),
            None => {
                return Err(IdentityError::new(
                    401,
                    "invalid_client",
                    7000216,
                    "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
                ))
            }
        },
    };
    let method = match credential {
        ClientCredential::Secret(secret) => {
            if secret != state.config.client_secret {
                return Err(IdentityError::new(
                    401,
                    "invalid_client",
                    7000215,
                    format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."),
                ));
            }
            "1"
        }
        ClientCredential::Assertion { kind, assertion } => {
            if kind != CLIENT_ASSERTION_TYPE {
                // [GUESS] the exact code for a wrong assertion type is not documented.
                return Err(IdentityError::new(
                    400,
                    "invalid_request",
                    7000216,
                    format!("'client_assertion_type' must be '{CLIENT_ASSERTION_TYPE}'."),
                ));
            }
            crate::assertion::verify(state, &assertion, &client_id, own_token_url)?;
            "2"
        }
    };
    Ok(issue_token(state, resource, method))
}

/// Issues an app-only access token for `resource` and answers the token response.
/// `appidacr` is "1" for a secret and "2" for a certificate, as in Entra v1 tokens.
pub(crate) fn issue_token(state: &mut SimState, resource: Resource, appidacr: &str) -> Value {
    let lifetime = state.config.token_lifetime;
    let now = Utc::now();
    let expires_at = from_now(lifetime);
    let tenant_id = state.config.tenant_id.clone();
    let roles = match resource {
        Resource::Graph => json!([
            "Files.ReadWrite.All",
            "Sites.ReadWrite.All",
            "User.Read.All"
        ]),
        Resource::Manage => json!(["ActivityFeed.Read", "ActivityFeed.ReadDlp"]),
    };
    // Shaped like an Entra access token so clients that peek at `tid`/`aud`/`exp` work; the
    // signature is random and the simulator recognises its tokens by lookup, not by signature.
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "sim-signing-key"});
    let claims = json!({
        "aud": resource.audience(),
        "iss": format!("https://sts.windows.net/{tenant_id}/"),
        "iat": now.timestamp(),
        "nbf": now.timestamp(),
        "exp": expires_at.timestamp(),
        "appid": state.config.client_id,
        "appidacr": appidacr,
        "idtyp": "app",
        "oid": new_guid(),
        "roles": roles,
        "tid": tenant_id,
        "ver": "1.0",
    });
    let access_token = format!(
        "{}.{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes()),
        base64url(uuid::Uuid::new_v4().as_bytes()),
    );
    state.tokens.insert(
        access_token.clone(),
        IssuedToken {
            resource,
            tenant_id,
            expires_at,
        },
    );
    json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": access_token,
    })
}

/// Decodes one base64url JWT segment into a JSON object; padding is tolerated.
pub(crate) fn decode_segment(segment: &str) -> Option<Map<String, Value>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A JWT NumericDate claim as a time.
pub(crate) fn numeric_date(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let seconds = value?.as_f64()?;
    DateTime::<Utc>::from_timestamp(seconds.floor() as i64, 0)
}
