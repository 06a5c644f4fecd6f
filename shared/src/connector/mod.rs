//! Connectors: one per provider behind one trait. The pipeline only ever talks to a provider
//! through this trait, and a registry picks the connector by provider. What differs between
//! providers is data (endpoints, field mappings, event names); the control flow (token refresh,
//! retries, host allow-lists, dedup) lives here once.

pub mod app_credentials;
pub mod http;
pub mod jwt;
pub mod oauth;
pub mod paging;
pub mod tokens;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::domain::{ActionKind, Activity, CredentialKind, Integration, Provider, ResponseAction};

/// What a provider's connector can do, so the product can say so instead of failing late.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub oauth: bool,
    pub pkce: bool,
    pub webhooks: bool,
    pub polling: bool,
    pub content_download: bool,
    pub response_actions: Vec<ActionKind>,
}

/// One stream of events an integration is polled for, with its own checkpoint, lease and
/// health: Box's enterprise event stream, one Office 365 content type, one Graph drive's delta,
/// one Netskope event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// Unique within the integration, stable (it is part of the checkpoint key).
    pub id: String,
    pub description: String,
    /// The provider keeps the cursor and moves it on every fetch (Netskope's iterator), so a
    /// page fetched but lost before it was queued must be asked for again: the poller marks a
    /// page in flight before fetching and passes [`PollRequest::redeliver`] after a crash.
    pub provider_cursor: bool,
}

impl StreamSpec {
    pub fn new(id: &str, description: &str) -> Self {
        StreamSpec {
            id: id.to_string(),
            description: description.to_string(),
            provider_cursor: false,
        }
    }
}

/// What the poller asks a connector for.
#[derive(Debug, Clone)]
pub struct PollRequest<'a> {
    pub stream: &'a str,
    /// Where the last committed page ended (`None`: the stream was never seeded).
    pub cursor: Option<&'a str>,
    /// For provider-held cursors: the last fetched page was never committed; fetch it again
    /// (Netskope `operation=resend`) rather than the next one.
    pub redeliver: bool,
    /// When the job's time budget ends. Lookups that would wait past it (a long
    /// `Retry-After`) leave the event incomplete instead of stalling the stream.
    pub deadline: tokio::time::Instant,
}

/// One page of a provider's event stream.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPage {
    pub activities: Vec<Activity>,
    /// Where the next poll resumes. Stored only after `activities` are safely queued.
    pub next_cursor: String,
    /// Whether the provider said more events are waiting right now.
    pub has_more: bool,
    /// How long the provider asked us to wait before the next call on this stream (Netskope's
    /// `wait_time`, a rate-limit window that is used up). The poller waits it out in the job
    /// when it is short and the job has the time, else backs the stream off that long.
    pub wait_before_next: Option<Duration>,
}

/// What a verified webhook notice turns into, off the request path.
#[derive(Debug, Clone, PartialEq)]
pub enum NoticeOutcome {
    /// The notice carried the events (Box): here they are, normalized and enriched.
    Activities(Vec<Activity>),
    /// The notice only says something changed (Graph names no item): poll these streams now.
    RunStreams(Vec<String>),
}

/// A webhook request as received, for handshakes and for identifying the delivery.
#[derive(Debug, Clone)]
pub struct WebhookRequest<'a> {
    pub method: &'a str,
    pub query: &'a HashMap<String, String>,
    /// Header names lower-cased.
    pub headers: &'a HashMap<String, String>,
    pub body: &'a [u8],
}

/// A validation handshake a provider performs on a webhook address, declared by its connector
/// and answered by webhook intake itself, without calling the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Answer 200 `text/plain` with the (URL-decoded) value of this query parameter, whatever
    /// the method (Microsoft Graph: `validationToken`, within 10 seconds). Unsigned.
    EchoQuery { param: &'static str },
    /// A GET carrying this query parameter: answer 200 `text/plain` with its value and
    /// `X-Content-Type-Options: nosniff` (Dropbox: `challenge`). Unsigned.
    GetChallenge { param: &'static str },
    /// A signed JSON body whose `type_field` is `type_value`: answer 200 `text/plain` with
    /// the body's `challenge_field` (Slack Events API: `url_verification`). Checked after the
    /// signature.
    JsonChallenge {
        type_field: &'static str,
        type_value: &'static str,
        challenge_field: &'static str,
    },
    /// A request carrying `request_header`: answer 200 with its value in `response_header`
    /// (Asana `X-Hook-Secret`, Smartsheet's challenge header). Unsigned.
    EchoHeader {
        request_header: &'static str,
        response_header: &'static str,
    },
}

/// How a handshake is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeAnswer {
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Handshake {
    /// Whether the handshake may be answered before the signature is checked (the provider
    /// does not sign it).
    pub fn unsigned(&self) -> bool {
        !matches!(self, Handshake::JsonChallenge { .. })
    }

    /// The answer, if `request` is this handshake.
    pub fn answer(&self, request: &WebhookRequest<'_>) -> Option<HandshakeAnswer> {
        let text = |body: &str, headers: Vec<(String, String)>| HandshakeAnswer {
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            headers,
        };
        match self {
            Handshake::EchoQuery { param } => request.query.get(*param).map(|v| text(v, vec![])),
            Handshake::GetChallenge { param } => (request.method.eq_ignore_ascii_case("GET"))
                .then(|| request.query.get(*param))
                .flatten()
                .map(|v| text(v, vec![("x-content-type-options".into(), "nosniff".into())])),
            Handshake::JsonChallenge {
                type_field,
                type_value,
                challenge_field,
            } => {
                let body: serde_json::Value = serde_json::from_slice(request.body).ok()?;
                (body.get(*type_field)?.as_str()? == *type_value)
                    .then(|| {
                        body.get(*challenge_field)?
                            .as_str()
                            .map(|c| text(c, vec![]))
                    })
                    .flatten()
            }
            Handshake::EchoHeader {
                request_header,
                response_header,
            } => request
                .headers
                .get(&request_header.to_ascii_lowercase())
                .map(|v| text("", vec![(response_header.to_string(), v.clone())])),
        }
    }
}

/// Which delivery a verified webhook request is, read from the request alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeId {
    /// The provider's id for the delivery, stable across its retries.
    pub delivery_id: String,
    /// The provider's id of the webhook (subscription) that sent it, when the body names it:
    /// it must be one the integration in the URL registered.
    pub webhook_id: Option<String>,
}

/// A setting a connector needs for an integration (Box: the folders to watch and the
/// organization's email domains), declared so the connect flow and `casb integration add`
/// can validate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: SettingKind,
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    Text,
    /// Comma-separated values, stored as a JSON array of strings.
    List,
    /// `true` or `false`.
    Flag,
}

/// The values of a list setting that are among `known`, in `known`'s order; all of `known` when
/// the setting is absent or empty (a Netskope integration's event types, Trend Micro services).
pub fn list_setting<'a>(integration: &Integration, name: &str, known: &[&'a str]) -> Vec<&'a str> {
    match integration.settings.get(name).and_then(|v| v.as_array()) {
        Some(chosen) if !chosen.is_empty() => known
            .iter()
            .copied()
            .filter(|k| chosen.iter().any(|c| c.as_str() == Some(k)))
            .collect(),
        _ => known.to_vec(),
    }
}

/// Validates `given` (name, raw value) against `specs` and returns the settings object an
/// integration stores. Unknown names, missing required ones and bad flags are refused with a
/// message naming the setting and what the connector accepts.
pub fn validate_settings(
    provider: Provider,
    specs: &[SettingSpec],
    given: &[(String, String)],
) -> Result<serde_json::Value, String> {
    let mut settings = serde_json::Map::new();
    for (name, raw) in given {
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            let known: Vec<_> = specs.iter().map(|s| s.name).collect();
            return Err(format!(
                "{provider} has no setting '{name}' (its settings: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        };
        let value = match spec.kind {
            SettingKind::Text => serde_json::Value::String(raw.trim().to_string()),
            SettingKind::List => serde_json::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| serde_json::Value::String(v.to_string()))
                    .collect(),
            ),
            SettingKind::Flag => match raw.trim() {
                "true" | "1" | "yes" => serde_json::Value::Bool(true),
                "false" | "0" | "no" => serde_json::Value::Bool(false),
                other => {
                    return Err(format!(
                        "setting '{name}' is a flag: use true or false, not '{other}'"
                    ))
                }
            },
        };
        settings.insert(name.clone(), value);
    }
    for spec in specs.iter().filter(|s| s.required) {
        let present = match settings.get(spec.name) {
            Some(serde_json::Value::String(s)) => !s.is_empty(),
            Some(serde_json::Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
            None => false,
        };
        if !present {
            return Err(format!(
                "{provider} needs the setting '{}': {}",
                spec.name, spec.description
            ));
        }
    }
    Ok(serde_json::Value::Object(settings))
}

/// How a response action ended at the provider.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    Succeeded {
        detail: String,
        /// What undoing it would need (kept on the incident for `casb act restore`).
        undo: Option<serde_json::Value>,
    },
    /// The provider offers no API for it, or this object cannot take it.
    Unsupported { reason: String },
}

/// OAuth tokens as the provider issued them. Lives only in the secret store.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What an admin-consent callback granted: Microsoft sends the consenting tenant's GUID and
/// `admin_consent=True` instead of a code, and the integration then uses app-only tokens.
#[derive(Debug, Clone)]
pub struct ConsentGrant {
    /// The provider tenant that consented.
    pub external_tenant_id: String,
    /// How the integration authenticates from now on.
    pub credential: CredentialKind,
    /// What it keeps in the secret store for that (read back by [`Connector::headless_token`]).
    pub secret: SecretString,
}

/// Who granted the connection, as the provider describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantInfo {
    pub external_tenant_id: Option<String>,
    pub display_name: String,
    pub admin_email: Option<String>,
}

/// A webhook delivery as received: headers lower-cased, body as raw bytes.
#[derive(Debug, Clone)]
pub struct WebhookDelivery<'a> {
    pub headers: &'a HashMap<String, String>,
    pub body: &'a [u8],
}

/// Why a webhook delivery was refused. Every variant is answered with 401 and queues nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRejection {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("delivery timestamp is not RFC 3339")]
    BadTimestamp,
    #[error("delivery timestamp is outside the replay window")]
    Expired,
    #[error("signature does not match")]
    BadSignature,
    #[error("webhook signing keys are not configured")]
    NoKeys,
    #[error("the delivery cannot be read: {0}")]
    Unreadable(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("the provider asked us to slow down; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// The access token was refused (expired or revoked); refresh and retry once.
    #[error("the provider refused the access token")]
    Unauthorized,
    #[error("the provider rejected our grant ({0}); an admin must reconnect the integration")]
    NeedsReauth(String),
    #[error("the provider is unavailable or failed: {0}")]
    Transient(String),
    #[error("the provider refused the request: {0}")]
    Permanent(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("connector is not configured: {0}")]
    NotConfigured(String),
    /// The credential works but may not read this stream (a Netskope token without the
    /// endpoint's scope): the stream is reported and rested, the others go on.
    #[error("the provider refused access to this stream: {0}")]
    Forbidden(String),
}

/// One provider. Methods that call the provider's API take the access token to use; the caller
/// (see [`tokens::TokenManager`]) refreshes it on [`ConnectorError::Unauthorized`].
#[async_trait]
pub trait Connector: Send + Sync {
    fn provider(&self) -> Provider;
    fn capabilities(&self) -> Capabilities;

    // --- setup ---
    /// The ways this connector can authenticate, the default (the connect flow's) first.
    fn credential_kinds(&self) -> Vec<CredentialKind> {
        vec![CredentialKind::AuthorizationCode]
    }
    /// Whether a refresh answers a new refresh token and spends the old one (Box: yes). When it
    /// does, only one process may refresh an integration at a time.
    fn refresh_rotates(&self) -> bool {
        true
    }
    /// The settings an integration of this provider takes.
    fn settings(&self) -> Vec<SettingSpec> {
        Vec::new()
    }
    /// Obtains an access token from headless credentials (client credentials, a JWT
    /// assertion): `secret` is the JSON an operator stored with `casb integration add`.
    async fn headless_token(
        &self,
        integration: &Integration,
        secret: &SecretString,
    ) -> Result<TokenSet, ConnectorError> {
        let _ = (integration, secret);
        Err(ConnectorError::Unsupported(format!(
            "{} does not support {} credentials",
            self.provider(),
            integration.credential
        )))
    }

    // --- OAuth ---
    /// The consent page URL for `state` (and the PKCE challenge, where supported).
    async fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<String, ConnectorError> {
        let _ = (redirect_uri, state, code_challenge);
        Err(ConnectorError::Unsupported(format!(
            "{} has no OAuth flow here",
            self.provider()
        )))
    }
    /// Providers whose consent grants application permissions tenant-wide and sends back no
    /// code (Microsoft's `/adminconsent`): the grant the callback's parameters carry, or why
    /// they carry none. `None`: the provider uses the authorization-code flow.
    fn admin_consent(
        &self,
        callback: &HashMap<String, String>,
    ) -> Option<Result<ConsentGrant, String>> {
        let _ = callback;
        None
    }
    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenSet, ConnectorError> {
        let _ = (code, code_verifier, redirect_uri);
        Err(ConnectorError::Unsupported(format!(
            "{} has no OAuth flow here",
            self.provider()
        )))
    }
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, ConnectorError> {
        let _ = refresh_token;
        Err(ConnectorError::Unsupported(format!(
            "{} tokens cannot be refreshed",
            self.provider()
        )))
    }
    async fn revoke(&self, token: &SecretString) -> Result<(), ConnectorError> {
        let _ = token;
        Ok(())
    }
    /// Describes the tenant that granted `access_token`.
    async fn grant_info(&self, access_token: &SecretString) -> Result<GrantInfo, ConnectorError> {
        let _ = access_token;
        Ok(GrantInfo {
            external_tenant_id: None,
            display_name: self.provider().to_string(),
            admin_email: None,
        })
    }
    /// Checks headless credentials for an integration being added (`casb integration add`)
    /// and describes the tenant: sources whose API lives on the tenant's own host (Netskope) or
    /// region (Trend Micro) need the integration's settings to call it. By default the same as
    /// [`Connector::grant_info`].
    async fn check_credentials(
        &self,
        integration: &Integration,
        access_token: &SecretString,
    ) -> Result<GrantInfo, ConnectorError> {
        let _ = integration;
        self.grant_info(access_token).await
    }

    // --- push ---
    /// Registers webhooks for the integration at `address`; returns their ids.
    async fn register_webhooks(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        address: &str,
    ) -> Result<Vec<String>, ConnectorError> {
        let _ = (integration, access_token, address);
        Ok(Vec::new())
    }
    async fn deregister_webhooks(
        &self,
        integration: &Integration,
        access_token: &SecretString,
    ) -> Result<(), ConnectorError> {
        let _ = (integration, access_token);
        Ok(())
    }
    /// The validation handshakes the provider performs on a webhook address.
    fn webhook_handshakes(&self) -> Vec<Handshake> {
        Vec::new()
    }
    /// Checks a delivery's signature and freshness over the raw body. Must not call the
    /// provider (webhook intake answers within the provider's deadline).
    async fn verify_webhook(
        &self,
        delivery: &WebhookDelivery<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), WebhookRejection> {
        let _ = (delivery, now);
        Err(WebhookRejection::NoKeys)
    }
    /// Which delivery a verified request is, from the request alone.
    fn webhook_notice_id(
        &self,
        delivery: &WebhookDelivery<'_>,
    ) -> Result<NoticeId, WebhookRejection> {
        let _ = delivery;
        Err(WebhookRejection::Unreadable(format!(
            "{} webhooks are not supported",
            self.provider()
        )))
    }
    /// Turns a verified notice into activities (fetching what the payload lacks) or into
    /// streams to poll, in the poller, off the request path.
    async fn process_notice(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        headers: &HashMap<String, String>,
        body: &[u8],
        deadline: tokio::time::Instant,
    ) -> Result<NoticeOutcome, ConnectorError> {
        let _ = (integration, access_token, headers, body, deadline);
        Err(ConnectorError::Unsupported(format!(
            "{} webhooks are not supported",
            self.provider()
        )))
    }
    /// The identity of the user action an activity records, the same for every copy of it
    /// (a webhook notice and the audit-log entry of one upload): the store keeps one activity
    /// per identity. `None`: the event id is the identity.
    fn action_identity(&self, activity: &Activity) -> Option<String> {
        let _ = activity;
        None
    }

    // --- pull ---
    /// The streams an integration is polled for.
    fn streams(&self, integration: &Integration) -> Vec<StreamSpec> {
        let _ = integration;
        if self.capabilities().polling {
            vec![StreamSpec::new("events", "the provider's event feed")]
        } else {
            Vec::new()
        }
    }
    /// The cursor a new stream starts from (usually "now": history is not replayed).
    async fn initial_cursor(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        stream: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let _ = (integration, access_token, stream);
        Ok(None)
    }
    /// Fetches one page of a stream after the request's cursor and normalizes it.
    async fn poll(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        request: &PollRequest<'_>,
    ) -> Result<PollPage, ConnectorError>;

    // --- content ---
    /// A file's bytes, refusing more than `max_bytes`.
    async fn download(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        file_id: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ConnectorError> {
        let _ = (integration, access_token, file_id, max_bytes);
        Err(ConnectorError::Unsupported(format!(
            "{} content download is not supported",
            self.provider()
        )))
    }

    // --- response actions ---
    /// Carries out a response action. Must be idempotent: doing it twice is success.
    async fn execute(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        action: &ResponseAction,
    ) -> Result<ActionOutcome, ConnectorError>;

    /// Undoes an action carried out earlier, from what its [`ActionOutcome::Succeeded::undo`]
    /// recorded. Must be idempotent too: restoring twice is success.
    async fn restore(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        action: &ResponseAction,
        undo: &serde_json::Value,
    ) -> Result<ActionOutcome, ConnectorError> {
        let _ = (integration, access_token, undo);
        Err(ConnectorError::Unsupported(format!(
            "{} cannot undo {}",
            self.provider(),
            action.kind.as_str()
        )))
    }
}

/// The connectors this deployment has, by provider.
#[derive(Clone, Default)]
pub struct ConnectorRegistry {
    connectors: HashMap<Provider, Arc<dyn Connector>>,
}

impl ConnectorRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, connector: Arc<dyn Connector>) {
        self.connectors.insert(connector.provider(), connector);
    }

    pub fn get(&self, provider: Provider) -> Option<&Arc<dyn Connector>> {
        self.connectors.get(&provider)
    }

    pub fn providers(&self) -> Vec<Provider> {
        let mut providers: Vec<_> = self.connectors.keys().copied().collect();
        providers.sort();
        providers
    }
}

impl Capabilities {
    /// A source of security events: pulled, nothing downloaded, nothing acted on.
    pub fn pull_only() -> Self {
        Capabilities {
            polling: true,
            ..Capabilities::default()
        }
    }
}

impl ActionOutcome {
    /// Done, with nothing to undo.
    pub fn done(detail: impl Into<String>) -> Self {
        ActionOutcome::Succeeded {
            detail: detail.into(),
            undo: None,
        }
    }
}
