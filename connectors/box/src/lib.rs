//! The Box connector (saas-apis.md §1; Box's OpenAPI spec).
//!
//! - OAuth 2.0 authorization code (PKCE parameters are sent too; Box's spec does not document
//!   them and Box ignores unknown parameters). Refresh tokens are single use: see
//!   [`casb_shared::connector::tokens`].
//! - Pull: the enterprise event stream (`admin_logs_streaming`) from `stream_position`.
//! - Push: webhooks v2 on the watched folders (never the root folder, which Box forbids), signed
//!   with the app's primary and secondary keys.
//! - Content: `/files/{id}/content` answers 302 to Box's download host; only Box's hosts are
//!   followed.
//! - Actions: quarantine (move to an admin-only folder), delete (to trash), remove the shared
//!   link, remove external collaborations; each idempotent.

pub mod api;
pub mod events;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use std::collections::HashMap;

use casb_shared::connector::app_credentials::AppCredentials;
use casb_shared::connector::http::{HostAllowList, ProviderHttp, RetryPolicy};
use casb_shared::connector::{
    ActionOutcome, Capabilities, Connector, ConnectorError, GrantInfo, NoticeId, NoticeOutcome,
    PollPage, PollRequest, SettingKind, SettingSpec, TokenSet, WebhookDelivery, WebhookRejection,
};
use casb_shared::domain::{
    ActionKind, Activity, CredentialKind, Integration, Provider, ResponseAction,
};
use casb_shared::ports::SecretStore;

pub use events::map_event;

/// Where Box is. Every URL is configurable so tests and the demo can point at the simulator.
#[derive(Debug, Clone)]
pub struct BoxConfig {
    /// `https://api.box.com/2.0`
    pub api_base: String,
    /// `https://account.box.com/api/oauth2/authorize`
    pub authorize_url: String,
    /// `https://api.box.com/oauth2/token`
    pub token_url: String,
    /// `https://api.box.com/oauth2/revoke`
    pub revoke_url: String,
    /// Hosts content may be downloaded from (the API host and Box's download hosts).
    pub download_hosts: HostAllowList,
    /// `admin_logs_streaming`: low latency, may repeat or reorder events (we dedupe).
    pub stream_type: String,
    /// Events per page (Box allows up to 500).
    pub page_limit: u32,
    /// Name of the admin-only folder files are quarantined into.
    pub quarantine_folder_name: String,
    /// Webhook triggers registered on watched folders.
    pub webhook_triggers: Vec<String>,
    /// Deliveries older than this are refused (Box's guide: 10 minutes).
    pub webhook_max_age: Duration,
    pub retry: RetryPolicy,
}

impl Default for BoxConfig {
    fn default() -> Self {
        BoxConfig::for_base("https://api.box.com", "https://account.box.com")
    }
}

impl BoxConfig {
    /// Box's production layout under other hosts: `{api}/2.0`, `{api}/oauth2/token`,
    /// `{account}/api/oauth2/authorize`.
    pub fn for_base(api_origin: &str, account_origin: &str) -> Self {
        let api_origin = api_origin.trim_end_matches('/');
        let account_origin = account_origin.trim_end_matches('/');
        BoxConfig {
            api_base: format!("{api_origin}/2.0"),
            authorize_url: format!("{account_origin}/api/oauth2/authorize"),
            token_url: format!("{api_origin}/oauth2/token"),
            revoke_url: format!("{api_origin}/oauth2/revoke"),
            download_hosts: HostAllowList::new(["api.box.com", "*.boxcloud.com"])
                .with_url_host(api_origin),
            stream_type: "admin_logs_streaming".into(),
            page_limit: 500,
            quarantine_folder_name: "CASB Quarantine".into(),
            webhook_triggers: [
                "FILE.UPLOADED",
                "FILE.MOVED",
                "FILE.COPIED",
                "FILE.RESTORED",
                "SHARED_LINK.CREATED",
                "SHARED_LINK.UPDATED",
                "COLLABORATION.CREATED",
                "COLLABORATION.UPDATED",
            ]
            .map(str::to_string)
            .to_vec(),
            webhook_max_age: Duration::from_secs(600),
            retry: RetryPolicy::default(),
        }
    }

    /// Box's layout on one local origin (a simulator) whose download host is elsewhere.
    pub fn for_local(origin: &str, download_base: &str) -> Self {
        let mut config = BoxConfig::for_base(origin, origin);
        config.download_hosts = config.download_hosts.with_url_host(download_base);
        config
    }

    /// From `CASB_BOX_API_ORIGIN` / `CASB_BOX_ACCOUNT_ORIGIN` (defaults: Box itself) and
    /// `CASB_BOX_DOWNLOAD_HOSTS` (extra allowed hosts, comma-separated).
    pub fn from_env() -> Self {
        let api = casb_shared::config::optional_env("CASB_BOX_API_ORIGIN")
            .unwrap_or_else(|| "https://api.box.com".into());
        let account = casb_shared::config::optional_env("CASB_BOX_ACCOUNT_ORIGIN")
            .unwrap_or_else(|| "https://account.box.com".into());
        let mut config = BoxConfig::for_base(&api, &account);
        if let Some(extra) = casb_shared::config::optional_env("CASB_BOX_DOWNLOAD_HOSTS") {
            for host in extra.split(',').map(str::trim).filter(|h| !h.is_empty()) {
                config.download_hosts = config.download_hosts.with_url_host(host);
            }
        }
        config
    }
}

/// The Box app's credentials, kept in the secret store under [`BOX_APP_SECRET`] as JSON.
#[derive(Clone, Deserialize, serde::Serialize)]
pub struct BoxAppCredentials {
    pub client_id: String,
    pub client_secret: String,
    /// Webhook signature keys from the Developer Console (primary, secondary for rotation).
    pub webhook_primary_key: Option<String>,
    pub webhook_secondary_key: Option<String>,
}

impl BoxAppCredentials {
    /// Stores the credentials where the connector reads them ([`BOX_APP_SECRET`]).
    pub async fn store(
        &self,
        secrets: &dyn SecretStore,
    ) -> Result<(), casb_shared::ports::SecretError> {
        let json = serde_json::to_string(self)
            .map_err(|e| casb_shared::ports::SecretError::Rejected(e.to_string()))?;
        secrets
            .put_secret(BOX_APP_SECRET, &SecretString::from(json))
            .await
            .map(|_| ())
    }
}

/// Secret-store name of the Box app's credentials.
pub const BOX_APP_SECRET: &str = "providers/box/app";

pub struct BoxConnector {
    config: BoxConfig,
    http: ProviderHttp,
    secrets: Arc<dyn SecretStore>,
    credentials: AppCredentials<BoxAppCredentials>,
}

impl BoxConnector {
    pub fn new(config: BoxConfig, secrets: Arc<dyn SecretStore>) -> Self {
        let http = ProviderHttp::new(config.retry.clone());
        BoxConnector {
            config,
            http,
            secrets,
            credentials: AppCredentials::new(
                BOX_APP_SECRET,
                "the Box app's client id, secret and webhook keys",
            ),
        }
    }

    pub fn config(&self) -> &BoxConfig {
        &self.config
    }

    async fn credentials(&self) -> Result<BoxAppCredentials, ConnectorError> {
        self.credentials.get(self.secrets.as_ref()).await
    }

    fn api<'a>(&'a self, token: &'a SecretString) -> api::BoxApi<'a> {
        api::BoxApi::new(&self.http, &self.config, token)
    }
}

impl BoxConnector {
    /// One request to the token endpoint, sent once: every grant we send spends something
    /// (a code, a single-use refresh token, a JWT's `jti`), so a retry after a lost answer
    /// would be refused; the caller retries later from what it stored.
    async fn token_request(
        &self,
        form: Vec<(&'static str, String)>,
    ) -> Result<TokenSet, ConnectorError> {
        let url = self.config.token_url.clone();
        let response = self
            .http
            .send_once(|client| client.post(&url).form(&form))
            .await?;
        match casb_shared::connector::oauth::read_token_response(
            response,
            "Box",
            chrono::Duration::days(60),
        )
        .await?
        {
            Ok(tokens) => Ok(tokens),
            Err(refused) if refused.code == "invalid_grant" => Err(ConnectorError::NeedsReauth(
                format!("invalid_grant: {}", refused.description),
            )),
            Err(refused) => Err(ConnectorError::Permanent(format!(
                "Box token endpoint: {}: {}",
                refused.code, refused.description
            ))),
        }
    }
}

/// Headless credentials for a Box app with server authentication, as an operator stores them.
#[derive(Deserialize)]
struct ServerAuthSecret {
    client_id: String,
    client_secret: String,
    /// JWT apps: the app's private key (PKCS#8 PEM) and the id Box gave its public key.
    private_key: Option<SecretString>,
    public_key_id: Option<String>,
}

impl BoxConnector {
    /// Who a server-authenticated token acts as: the enterprise's service account by default
    /// (setting `enterprise_id`), or one user (setting `user_id`).
    fn subject(integration: &Integration) -> Result<(&'static str, String), ConnectorError> {
        let setting = |name: &str| {
            integration.settings[name]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        if let Some(user) = setting("user_id") {
            return Ok(("user", user));
        }
        setting("enterprise_id")
            .or_else(|| integration.external_tenant_id.clone())
            .map(|enterprise| ("enterprise", enterprise))
            .ok_or_else(|| {
                ConnectorError::NotConfigured(
                    "Box server authentication needs the setting enterprise_id (or user_id)".into(),
                )
            })
    }

    /// Integrations carry the connector's settings; Box's helpers read them by name.
    fn secret_json(secret: &SecretString) -> Result<ServerAuthSecret, ConnectorError> {
        serde_json::from_str(secret.expose_secret()).map_err(|e| {
            ConnectorError::NotConfigured(format!(
                "the stored Box credentials are not the expected JSON ({{\"client_id\", \"client_secret\"[, \"private_key\", \"public_key_id\"]}}): {e}"
            ))
        })
    }

    /// The `aud` Box expects in JWT assertions: its token URL.
    fn jwt_audience(&self) -> String {
        self.config.token_url.clone()
    }
}

#[async_trait]
impl Connector for BoxConnector {
    fn provider(&self) -> Provider {
        Provider::Box
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            oauth: true,
            pkce: false,
            webhooks: true,
            polling: true,
            content_download: true,
            response_actions: vec![
                ActionKind::Quarantine,
                ActionKind::Delete,
                ActionKind::RemoveSharedLink,
                ActionKind::RemoveExternalCollaborators,
                // Box has no API that ends a user's sessions: sign-out is not offered.
                ActionKind::SuspendUser,
            ],
        }
    }

    fn credential_kinds(&self) -> Vec<CredentialKind> {
        vec![
            CredentialKind::AuthorizationCode,
            CredentialKind::ClientCredentials,
            CredentialKind::JwtAssertion,
        ]
    }

    fn settings(&self) -> Vec<SettingSpec> {
        vec![
            SettingSpec {
                name: "watch_folders",
                description: "folder ids to watch with webhooks (comma-separated; Box allows none on the root folder, which the event stream covers)",
                kind: SettingKind::List,
                required: false,
            },
            SettingSpec {
                name: "internal_domains",
                description: "the organization's email domains (comma-separated); anyone else is external (default: the connecting admin's domain)",
                kind: SettingKind::List,
                required: false,
            },
            SettingSpec {
                name: "enterprise_id",
                description: "the Box enterprise a server-authenticated app (client credentials or JWT) acts for",
                kind: SettingKind::Text,
                required: false,
            },
            SettingSpec {
                name: "user_id",
                description: "act as this Box user instead of the enterprise's service account (server authentication only)",
                kind: SettingKind::Text,
                required: false,
            },
        ]
    }

    async fn headless_token(
        &self,
        integration: &Integration,
        secret: &SecretString,
    ) -> Result<TokenSet, ConnectorError> {
        let credentials = Self::secret_json(secret)?;
        let (subject_type, subject_id) = Self::subject(integration)?;
        match integration.credential {
            // Box's Client Credentials Grant: box_subject_type / box_subject_id.
            CredentialKind::ClientCredentials => {
                self.token_request(vec![
                    ("grant_type", "client_credentials".into()),
                    ("client_id", credentials.client_id),
                    ("client_secret", credentials.client_secret),
                    ("box_subject_type", subject_type.into()),
                    ("box_subject_id", subject_id),
                ])
                .await
            }
            // Box JWT: an RS256 assertion naming the subject, valid for at most 60 seconds.
            CredentialKind::JwtAssertion => {
                let key = credentials.private_key.as_ref().ok_or_else(|| {
                    ConnectorError::NotConfigured(
                        "Box JWT credentials need private_key (PKCS#8 PEM) and public_key_id"
                            .into(),
                    )
                })?;
                let now = Utc::now().timestamp();
                let claims = serde_json::json!({
                    "iss": credentials.client_id,
                    "sub": subject_id,
                    "box_sub_type": subject_type,
                    "aud": self.jwt_audience(),
                    "jti": casb_shared::connector::oauth::random_token(32),
                    "exp": now + 45,
                });
                let assertion = casb_shared::connector::jwt::sign_rs256(
                    key,
                    credentials.public_key_id.as_deref(),
                    &claims,
                )?;
                self.token_request(vec![
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                    ),
                    ("assertion", assertion),
                    ("client_id", credentials.client_id),
                    ("client_secret", credentials.client_secret),
                ])
                .await
            }
            other => Err(ConnectorError::Unsupported(format!(
                "Box has no headless {other} flow"
            ))),
        }
    }

    async fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<String, ConnectorError> {
        let credentials = self.credentials().await?;
        let mut url = reqwest::Url::parse(&self.config.authorize_url)
            .map_err(|e| ConnectorError::NotConfigured(format!("Box authorize URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &credentials.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenSet, ConnectorError> {
        let credentials = self.credentials().await?;
        self.token_request(vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.into()),
            ("client_id", credentials.client_id),
            ("client_secret", credentials.client_secret),
            ("redirect_uri", redirect_uri.into()),
            ("code_verifier", code_verifier.into()),
        ])
        .await
    }

    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, ConnectorError> {
        let credentials = self.credentials().await?;
        self.token_request(vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh_token.expose_secret().to_string()),
            ("client_id", credentials.client_id),
            ("client_secret", credentials.client_secret),
        ])
        .await
    }

    async fn revoke(&self, token: &SecretString) -> Result<(), ConnectorError> {
        let credentials = self.credentials().await?;
        let url = self.config.revoke_url.clone();
        let form = [
            ("client_id", credentials.client_id),
            ("client_secret", credentials.client_secret),
            ("token", token.expose_secret().to_string()),
        ];
        let response = self
            .http
            .send(|client| client.post(&url).form(&form))
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ConnectorError::Permanent(format!(
                "Box revoke answered {}",
                response.status()
            )))
        }
    }

    async fn grant_info(&self, access_token: &SecretString) -> Result<GrantInfo, ConnectorError> {
        let me = self.api(access_token).current_user().await?;
        Ok(GrantInfo {
            external_tenant_id: me.enterprise.as_ref().map(|e| e.id.clone()),
            display_name: me
                .enterprise
                .as_ref()
                .and_then(|e| e.name.clone())
                .unwrap_or_else(|| format!("Box ({})", me.login.clone().unwrap_or_default())),
            admin_email: me.login,
        })
    }

    async fn register_webhooks(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        address: &str,
    ) -> Result<Vec<String>, ConnectorError> {
        let api = self.api(access_token);
        let mut ids = Vec::new();
        for folder in watched_folders(integration) {
            // Box allows no webhook on the root folder: the event stream covers it.
            if folder == "0" {
                tracing::warn!(integration = %integration.id, "Box allows no webhook on the root folder; relying on the event stream for it");
                continue;
            }
            ids.push(
                api.create_or_reuse_webhook(&folder, address, &self.config.webhook_triggers)
                    .await?,
            );
        }
        Ok(ids)
    }

    async fn deregister_webhooks(
        &self,
        integration: &Integration,
        access_token: &SecretString,
    ) -> Result<(), ConnectorError> {
        let api = self.api(access_token);
        for id in &integration.webhook_ids {
            api.delete_webhook(id).await?;
        }
        Ok(())
    }

    async fn verify_webhook(
        &self,
        delivery: &WebhookDelivery<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), WebhookRejection> {
        let credentials = self
            .credentials()
            .await
            .map_err(|_| WebhookRejection::NoKeys)?;
        webhooks::verify(
            delivery,
            credentials.webhook_primary_key.as_deref(),
            credentials.webhook_secondary_key.as_deref(),
            now,
            chrono::Duration::from_std(self.config.webhook_max_age)
                .unwrap_or(chrono::Duration::minutes(10)),
        )
    }

    fn webhook_notice_id(
        &self,
        delivery: &WebhookDelivery<'_>,
    ) -> Result<NoticeId, WebhookRejection> {
        webhooks::notice_id(delivery.body)
    }

    async fn process_notice(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        _headers: &HashMap<String, String>,
        body: &[u8],
        deadline: tokio::time::Instant,
    ) -> Result<NoticeOutcome, ConnectorError> {
        let api = self.api(access_token);
        let mut activities = Vec::new();
        for activity in webhooks::parse(integration, body)? {
            activities.push(api.enrich_or_mark(integration, activity, deadline).await?);
        }
        Ok(NoticeOutcome::Activities(activities))
    }

    fn action_identity(&self, activity: &Activity) -> Option<String> {
        events::action_identity(activity)
    }

    async fn initial_cursor(
        &self,
        _integration: &Integration,
        access_token: &SecretString,
        _stream: &str,
    ) -> Result<Option<String>, ConnectorError> {
        // `now` returns no events, only the current position: history is not replayed.
        let page = self
            .api(access_token)
            .events(&self.config.stream_type, "now", 1)
            .await?;
        Ok(Some(page.next_stream_position))
    }

    async fn poll(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        request: &PollRequest<'_>,
    ) -> Result<PollPage, ConnectorError> {
        let api = self.api(access_token);
        let position = request.cursor.unwrap_or("now");
        let page = api
            .events(&self.config.stream_type, position, self.config.page_limit)
            .await?;
        let mut activities = Vec::with_capacity(page.entries.len());
        for entry in &page.entries {
            match map_event(integration, entry) {
                Some(activity) => activities.push(
                    api.enrich_or_mark(integration, activity, request.deadline)
                        .await?,
                ),
                None => {
                    tracing::debug!(integration = %integration.id, "skipping a Box event without an id")
                }
            }
        }
        Ok(PollPage {
            has_more: !page.entries.is_empty() && page.next_stream_position != position,
            wait_before_next: None,
            activities,
            next_cursor: page.next_stream_position,
        })
    }

    async fn download(
        &self,
        _integration: &Integration,
        access_token: &SecretString,
        file_id: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ConnectorError> {
        let url = format!(
            "{}/files/{}/content",
            self.config.api_base,
            api::path_segment(file_id)
        );
        self.http
            .download(
                &url,
                access_token.expose_secret(),
                &self.config.download_hosts,
                max_bytes,
            )
            .await
    }

    async fn execute(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        action: &ResponseAction,
    ) -> Result<ActionOutcome, ConnectorError> {
        let Some(file_id) = action.object_id.as_deref() else {
            return Ok(ActionOutcome::Unsupported {
                reason: "the incident names no object".into(),
            });
        };
        if action.kind.on_user() {
            if action.object_type.as_deref() != Some("user") {
                return Ok(ActionOutcome::Unsupported {
                    reason: format!("{} acts on a user, not a file", action.kind.as_str()),
                });
            }
            return match action.kind {
                ActionKind::SuspendUser => {
                    self.api(access_token)
                        .set_user_status(file_id, "inactive")
                        .await
                }
                _ => Ok(ActionOutcome::Unsupported {
                    reason: format!("Box offers no API for {}", action.kind.as_str()),
                }),
            };
        }
        if action.object_type.as_deref().is_some_and(|t| t != "file") {
            return Ok(ActionOutcome::Unsupported {
                reason: format!(
                    "{} on a Box {} is not supported",
                    action.kind.as_str(),
                    action.object_type.as_deref().unwrap_or("?")
                ),
            });
        }
        let api = self.api(access_token);
        match action.kind {
            ActionKind::Quarantine => {
                api.quarantine(integration, file_id, &self.config.quarantine_folder_name)
                    .await
            }
            ActionKind::Delete => api.trash(file_id).await,
            ActionKind::RemoveSharedLink => api.remove_shared_link(file_id).await,
            ActionKind::RemoveExternalCollaborators => {
                api.remove_external_collaborations(
                    integration,
                    file_id,
                    action.scope.unwrap_or_default(),
                )
                .await
            }
            ActionKind::Notify => Ok(ActionOutcome::Unsupported {
                reason: "notifications are not a provider action".into(),
            }),
            ActionKind::SuspendUser | ActionKind::SignOutUser => Ok(ActionOutcome::Unsupported {
                reason: format!("{} acts on a user", action.kind.as_str()),
            }),
        }
    }

    async fn restore(
        &self,
        _integration: &Integration,
        access_token: &SecretString,
        action: &ResponseAction,
        undo: &serde_json::Value,
    ) -> Result<ActionOutcome, ConnectorError> {
        let api = self.api(access_token);
        match (action.kind, action.object_id.as_deref()) {
            (ActionKind::Quarantine, Some(file_id)) => {
                api.restore_from_quarantine(file_id, undo).await
            }
            (ActionKind::RemoveExternalCollaborators, _) => api.restore_collaborations(undo).await,
            (ActionKind::SuspendUser, Some(user_id)) => {
                api.set_user_status(user_id, "active").await
            }
            _ => Ok(ActionOutcome::Unsupported {
                reason: format!("Box cannot undo {}", action.kind.as_str()),
            }),
        }
    }
}

/// Folders the integration watches with webhooks (`settings.watch_folders`).
pub fn watched_folders(integration: &Integration) -> Vec<String> {
    integration.settings["watch_folders"]
        .as_array()
        .map(|folders| {
            folders
                .iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Email domains of the integration's own organization (`settings.internal_domains`): anyone
/// else is external.
pub fn internal_domains(integration: &Integration) -> Vec<String> {
    integration.settings["internal_domains"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|v| v.as_str().map(|s| s.to_ascii_lowercase()))
                .collect()
        })
        .unwrap_or_default()
}
