//! The Microsoft 365 connector (saas-apis.md §2).
//!
//! - Connect: the admin consent flow (`/adminconsent`, signed `state`; the callback brings the
//!   tenant GUID and `admin_consent=True`), then app-only tokens by client credentials, with a
//!   client secret or a certificate-signed client assertion. One token per resource (Graph and
//!   the Management API), each cached until shortly before it expires.
//! - Pull: the Office 365 Management Activity API, one stream per content type, listed in
//!   windows that reach back over content that arrives late; records are deduplicated by `Id`
//!   downstream. `PublisherIdentifier` goes on every call.
//! - Push: Management API webhooks (the `Webhook-ValidationCode` handshake, `Webhook-AuthID`
//!   checked in constant time, the notified blobs fetched only from the Management API's host).
//! - Disconnect stops the subscriptions it started; the tenant's secret is forgotten by the core.

pub mod drives;
pub mod graph;
pub mod management;
pub mod records;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use casb_shared::connector::app_credentials::AppCredentials;
use casb_shared::connector::http::{HostAllowList, ProviderHttp, RetryPolicy};
use casb_shared::connector::{
    ActionOutcome, Capabilities, Connector, ConnectorError, ConsentGrant, GrantInfo, Handshake,
    NoticeId, NoticeOutcome, PollPage, PollRequest, SettingKind, SettingSpec, StreamSpec, TokenSet,
    WebhookDelivery, WebhookRejection,
};
use casb_shared::domain::{
    ActionKind, CredentialKind, IngestPath, Integration, Provider, ResponseAction,
};
use casb_shared::ports::SecretStore;

use management::{ContentItem, Cursor, ManagementApi, WebhookSpec};

/// Where Microsoft is. Every URL is configurable so tests and the demo can use the simulator.
#[derive(Debug, Clone)]
pub struct M365Config {
    /// `https://login.microsoftonline.com`
    pub login_base: String,
    /// `https://manage.office.com` (government clouds have their own hosts).
    pub manage_base: String,
    /// `https://graph.microsoft.com/v1.0`
    pub graph_base: String,
    /// Hosts a notified or listed `contentUri` may point at.
    pub content_hosts: HostAllowList,
    /// Hosts file content may be downloaded from (Graph, and the tenant's SharePoint hosts
    /// its 302 points at).
    pub download_hosts: HostAllowList,
    /// How far each listing reaches back before where the last one ended, for content that
    /// is listed late.
    pub reach_back: chrono::Duration,
    /// Blobs fetched per poll of a stream (the poller calls again while there are more).
    pub blobs_per_poll: usize,
    /// The folder, at the root of the file's own drive, files are quarantined into.
    pub quarantine_folder_name: String,
    /// How long a Graph subscription is asked to live (Graph allows 42,300 minutes for
    /// drives), and how long before its end it is renewed.
    pub subscription_lifetime: chrono::Duration,
    pub subscription_renew_before: chrono::Duration,
    pub retry: RetryPolicy,
}

impl Default for M365Config {
    fn default() -> Self {
        M365Config::for_bases(
            "https://login.microsoftonline.com",
            "https://manage.office.com",
            "https://graph.microsoft.com/v1.0",
        )
    }
}

impl M365Config {
    pub fn for_bases(login: &str, manage: &str, graph: &str) -> Self {
        M365Config {
            login_base: login.trim_end_matches('/').to_string(),
            manage_base: manage.trim_end_matches('/').to_string(),
            graph_base: graph.trim_end_matches('/').to_string(),
            content_hosts: HostAllowList::new(["manage.office.com"]).with_url_host(manage),
            download_hosts: HostAllowList::new(["graph.microsoft.com", "*.sharepoint.com"])
                .with_url_host(graph),
            reach_back: chrono::Duration::hours(6),
            blobs_per_poll: 20,
            quarantine_folder_name: "CASB Quarantine".into(),
            // The longest Graph allows, less an hour for clock skew.
            subscription_lifetime: chrono::Duration::minutes(drives::MAX_SUBSCRIPTION_MINUTES - 60),
            subscription_renew_before: drives::RENEW_BEFORE,
            retry: RetryPolicy::default(),
        }
    }

    /// Microsoft's layout on local hosts (a simulator) whose downloads are served elsewhere.
    pub fn for_local(login: &str, manage: &str, graph: &str, download_base: &str) -> Self {
        let mut config = M365Config::for_bases(login, manage, graph);
        config.download_hosts = config.download_hosts.with_url_host(download_base);
        config
    }

    /// From `CASB_M365_LOGIN_ORIGIN`, `CASB_M365_MANAGE_ORIGIN` and `CASB_M365_GRAPH_BASE`
    /// (defaults: Microsoft's commercial cloud), and `CASB_M365_DOWNLOAD_HOSTS` (extra hosts
    /// downloads may be redirected to, comma-separated).
    pub fn from_env() -> Self {
        let env = casb_shared::config::optional_env;
        let mut config = M365Config::for_bases(
            &env("CASB_M365_LOGIN_ORIGIN")
                .unwrap_or_else(|| "https://login.microsoftonline.com".into()),
            &env("CASB_M365_MANAGE_ORIGIN").unwrap_or_else(|| "https://manage.office.com".into()),
            &env("CASB_M365_GRAPH_BASE")
                .unwrap_or_else(|| "https://graph.microsoft.com/v1.0".into()),
        );
        config.download_hosts = config
            .download_hosts
            .with_hosts_from_env("CASB_M365_DOWNLOAD_HOSTS");
        config
    }
}

/// Secret-store name of the Entra application's credentials.
pub const M365_APP_SECRET: &str = "providers/microsoft365/app";

/// The multi-tenant Entra application the CASB runs as, kept in the secret store under
/// [`M365_APP_SECRET`] as JSON.
#[derive(Clone, Deserialize, Serialize)]
pub struct M365AppCredentials {
    pub client_id: String,
    /// A client secret, or else a certificate (below).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The certificate's private key (PKCS#8 PEM): the documented stronger option.
    #[serde(default)]
    pub certificate_private_key: Option<String>,
    /// The certificate's SHA-1 thumbprint, hex as the Entra portal shows it.
    #[serde(default)]
    pub certificate_thumbprint: Option<String>,
    /// Our own (the publisher's) tenant GUID, sent as `PublisherIdentifier` so that the
    /// Management API counts our calls against our quota, not one shared by everyone.
    pub publisher_tenant_id: String,
    /// Signs the `authId` of Management API webhooks (any long random string).
    #[serde(default)]
    pub webhook_key: Option<String>,
}

impl M365AppCredentials {
    pub async fn store(
        &self,
        secrets: &dyn SecretStore,
    ) -> Result<(), casb_shared::ports::SecretError> {
        let json = serde_json::to_string(self)
            .map_err(|e| casb_shared::ports::SecretError::Rejected(e.to_string()))?;
        secrets
            .put_secret(M365_APP_SECRET, &SecretString::from(json))
            .await
            .map(|_| ())
    }
}

/// What an integration keeps as its secret: the tenant that consented, and optionally the
/// customer's own application registration instead of ours.
#[derive(Clone, Deserialize, Serialize)]
struct TenantSecret {
    tenant_id: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

/// The two APIs app-only tokens are issued for, one token each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Resource {
    Graph,
    Management,
}

impl Resource {
    fn scope(self, config: &M365Config) -> String {
        match self {
            // The scope names the resource's identifier URI, whatever host serves it.
            Resource::Graph => "https://graph.microsoft.com/.default".into(),
            Resource::Management => {
                let host = reqwest::Url::parse(&config.manage_base)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .filter(|h| {
                        h.ends_with("office.com")
                            || h.ends_with("office365.us")
                            || h.ends_with(".mil")
                    });
                format!(
                    "https://{}/.default",
                    host.unwrap_or_else(|| "manage.office.com".into())
                )
            }
        }
    }
}

/// Tokens are renewed this long before they expire.
const TOKEN_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

type TokenCache = HashMap<(String, Resource), (SecretString, DateTime<Utc>)>;

pub struct M365Connector {
    config: M365Config,
    http: ProviderHttp,
    secrets: Arc<dyn SecretStore>,
    credentials: AppCredentials<M365AppCredentials>,
    tokens: Mutex<TokenCache>,
    /// The tenant's verified domains, by integration (read once from Graph).
    domains: Mutex<HashMap<String, Vec<String>>>,
}

impl M365Connector {
    pub fn new(config: M365Config, secrets: Arc<dyn SecretStore>) -> Self {
        let http = ProviderHttp::new(config.retry.clone());
        M365Connector {
            config,
            http,
            secrets,
            credentials: AppCredentials::new(
                M365_APP_SECRET,
                "the Entra application's client_id, client_secret (or certificate) and publisher_tenant_id",
            ),
            tokens: Mutex::new(HashMap::new()),
            domains: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &M365Config {
        &self.config
    }

    async fn credentials(&self) -> Result<M365AppCredentials, ConnectorError> {
        self.credentials.get(self.secrets.as_ref()).await
    }

    async fn tenant_secret(
        &self,
        integration: &Integration,
    ) -> Result<TenantSecret, ConnectorError> {
        let stored = self
            .secrets
            .get_secret(&integration.credential_secret_name())
            .await
            .map_err(|e| ConnectorError::Transient(e.to_string()))?;
        match stored {
            Some(secret) => parse_tenant_secret(&secret.value),
            None => integration
                .external_tenant_id
                .clone()
                .map(|tenant_id| TenantSecret {
                    tenant_id,
                    client_id: None,
                    client_secret: None,
                })
                .ok_or_else(|| {
                    ConnectorError::NeedsReauth(
                        "the integration has no consented tenant; connect it again".into(),
                    )
                }),
        }
    }

    /// A new app-only token for `resource` in the tenant: client secret, or else the
    /// certificate's signed assertion.
    async fn request_token(
        &self,
        tenant: &TenantSecret,
        resource: Resource,
    ) -> Result<TokenSet, ConnectorError> {
        let app = self.credentials().await?;
        let token_url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.config.login_base,
            path_segment(&tenant.tenant_id)
        );
        let client_id = tenant.client_id.clone().unwrap_or(app.client_id.clone());
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", client_id.clone()),
            ("scope", resource.scope(&self.config)),
        ];
        match (tenant.client_secret.clone().or(app.client_secret.clone()), &app.certificate_private_key) {
            (_, Some(key)) if tenant.client_id.is_none() => {
                let thumbprint = app.certificate_thumbprint.as_deref().ok_or_else(|| {
                    ConnectorError::NotConfigured(
                        "a certificate needs its certificate_thumbprint (hex SHA-1, as the Entra portal shows it)".into(),
                    )
                })?;
                let x5t = hex::decode(thumbprint.replace([':', ' '], ""))
                    .map(|bytes| base64_url(&bytes))
                    .map_err(|_| {
                        ConnectorError::NotConfigured("certificate_thumbprint is not hex".into())
                    })?;
                let now = Utc::now().timestamp();
                let claims = serde_json::json!({
                    "aud": token_url,
                    "iss": client_id,
                    "sub": client_id,
                    "jti": casb_shared::connector::oauth::random_token(16),
                    "nbf": now - 30,
                    "iat": now,
                    "exp": now + 600,
                });
                let assertion = casb_shared::connector::jwt::sign_rs256_with_header(
                    &SecretString::from(key.clone()),
                    &[("x5t", x5t)],
                    &claims,
                )?;
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion", assertion));
            }
            (Some(secret), _) => form.push(("client_secret", secret)),
            (None, _) => {
                return Err(ConnectorError::NotConfigured(format!(
                    "the secret '{M365_APP_SECRET}' has neither client_secret nor certificate_private_key"
                )))
            }
        }
        let response = self
            .http
            .send(|client| client.post(&token_url).form(&form))
            .await?;
        match casb_shared::connector::oauth::read_token_response(
            response,
            "Microsoft",
            chrono::Duration::days(1),
        )
        .await?
        {
            // App-only grants come without a refresh token.
            Ok(tokens) => Ok(TokenSet {
                refresh_token: None,
                ..tokens
            }),
            // Consent withdrawn, application removed from the tenant, secret expired.
            Err(refused)
                if matches!(
                    refused.code.as_str(),
                    "invalid_grant" | "unauthorized_client" | "invalid_client"
                ) =>
            {
                Err(ConnectorError::NeedsReauth(format!(
                    "{}: {}",
                    refused.code, refused.description
                )))
            }
            Err(refused) => Err(ConnectorError::Permanent(format!(
                "token endpoint: {}: {}",
                refused.code, refused.description
            ))),
        }
    }

    /// The cached token for `resource`, or a new one.
    async fn app_token(
        &self,
        integration: &Integration,
        resource: Resource,
    ) -> Result<SecretString, ConnectorError> {
        let key = (integration.id.clone(), resource);
        if let Some((token, expires_at)) = self.lock_tokens().get(&key).cloned() {
            if expires_at > Utc::now() + TOKEN_MARGIN {
                return Ok(token);
            }
        }
        let tenant = self.tenant_secret(integration).await?;
        let tokens = self.request_token(&tenant, resource).await?;
        let token = SecretString::from(tokens.access_token);
        self.lock_tokens()
            .insert(key, (token.clone(), tokens.expires_at));
        Ok(token)
    }

    fn forget_token(&self, integration: &Integration, resource: Resource) {
        self.lock_tokens()
            .remove(&(integration.id.clone(), resource));
    }

    fn lock_tokens(&self) -> std::sync::MutexGuard<'_, TokenCache> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tenant_id(integration: &Integration) -> Result<&str, ConnectorError> {
        integration.external_tenant_id.as_deref().ok_or_else(|| {
            ConnectorError::NeedsReauth("the integration names no Microsoft tenant".into())
        })
    }

    /// Runs `call` with the Management API token, once more with a new token if it was
    /// refused (expired or revoked early).
    async fn with_management<T, F, Fut>(
        &self,
        integration: &Integration,
        call: F,
    ) -> Result<T, ConnectorError>
    where
        F: Fn(SecretString, M365AppCredentials) -> Fut,
        Fut: std::future::Future<Output = Result<T, ConnectorError>>,
    {
        let app = self.credentials().await?;
        let token = self.app_token(integration, Resource::Management).await?;
        match call(token, app.clone()).await {
            Err(ConnectorError::Unauthorized) => {
                self.forget_token(integration, Resource::Management);
                let token = self.app_token(integration, Resource::Management).await?;
                call(token, app).await
            }
            other => other,
        }
    }

    fn management<'a>(
        &'a self,
        tenant: &'a str,
        token: &'a SecretString,
        app: &'a M365AppCredentials,
    ) -> ManagementApi<'a> {
        ManagementApi {
            http: &self.http,
            base: &self.config.manage_base,
            tenant,
            token,
            publisher: &app.publisher_tenant_id,
            content_hosts: &self.config.content_hosts,
        }
    }

    /// The content types the integration follows (`content_types` setting, else the
    /// defaults).
    pub fn content_types(integration: &Integration) -> Vec<&'static str> {
        let chosen: Vec<String> = integration.settings["content_types"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if chosen.is_empty() {
            return management::DEFAULT_CONTENT_TYPES.to_vec();
        }
        management::CONTENT_TYPES
            .iter()
            .copied()
            .filter(|known| chosen.iter().any(|c| c.eq_ignore_ascii_case(known)))
            .collect()
    }

    /// The `authId` of a tenant's Management API webhooks: derived from our webhook key, so
    /// nothing per tenant has to be stored, and different for every tenant.
    fn webhook_auth_id(key: &str, tenant: &str) -> String {
        Self::derived_secret(key, "m365-management-webhook", tenant)
    }

    /// The `clientState` of a tenant's Graph subscriptions, derived the same way.
    fn graph_client_state(key: &str, tenant: &str) -> String {
        Self::derived_secret(key, "m365-graph-subscription", tenant)
    }

    fn derived_secret(key: &str, purpose: &str, tenant: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b"#");
        mac.update(tenant.to_ascii_lowercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Where the integration's webhooks are delivered, kept when they are registered so the
    /// poller can create Graph subscriptions again without a request to learn it from.
    fn notification_url_name(integration: &Integration) -> String {
        format!(
            "tenants/{}/integrations/{}/m365-notification-url",
            integration.tenant_id, integration.id
        )
    }

    async fn notification_url(&self, integration: &Integration) -> Option<String> {
        self.secrets
            .get_secret(&Self::notification_url_name(integration))
            .await
            .ok()
            .flatten()
            .map(|s| s.value.expose_secret().to_string())
    }

    /// Creates, renews or re-creates the change subscription of every drive in `cursor`.
    async fn maintain_subscriptions(
        &self,
        integration: &Integration,
        token: &SecretString,
        cursor: &mut drives::DrivesCursor,
    ) -> Result<(), ConnectorError> {
        let Some(address) = self.notification_url(integration).await else {
            return Ok(());
        };
        let Some(key) = self.credentials().await?.webhook_key else {
            return Ok(());
        };
        let client_state = Self::graph_client_state(&key, Self::tenant_id(integration)?);
        let api = self.graph(token);
        let now = Utc::now();
        let until = now + self.config.subscription_lifetime;
        // One listing tells which subscriptions Graph still has: one removed by Microsoft, or
        // lapsed while nobody polled, is made again below.
        let existing: std::collections::HashSet<String> = api
            .subscriptions()
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        for state in cursor.drives.values_mut() {
            if state
                .subscription
                .as_ref()
                .is_some_and(|(id, _)| !existing.contains(id))
            {
                state.subscription = None;
            }
        }
        for (drive_id, state) in cursor.drives.iter_mut() {
            let alive = match &state.subscription {
                Some((_, ends)) if *ends - now > self.config.subscription_renew_before => continue,
                Some((id, _)) => api.renew(id, until).await?,
                None => false,
            };
            if alive {
                if let Some((_, ends)) = state.subscription.as_mut() {
                    *ends = until;
                }
                continue;
            }
            // Never made, removed by Microsoft, or lapsed: make it again. The delta covers
            // whatever changed while there was none.
            let id = api
                .subscribe(drive_id, &address, &client_state, until)
                .await?;
            tracing::info!(integration = %integration.id, drive = %drive_id, subscription = %id, "Graph subscription created");
            state.subscription = Some((id, until));
        }
        Ok(())
    }

    /// The drives stream: new drives found, subscriptions kept alive, each drive's delta read.
    async fn poll_drives(
        &self,
        integration: &Integration,
        token: &SecretString,
        raw_cursor: Option<&str>,
    ) -> Result<PollPage, ConnectorError> {
        let mut cursor = drives::DrivesCursor::parse(raw_cursor);
        let api = self.graph(token);
        let now = Utc::now();
        if cursor
            .listed_at
            .is_none_or(|at| now - at > chrono::Duration::hours(1))
        {
            for drive_id in api.drives().await? {
                // A drive that appeared since the stream started is read from its beginning:
                // its files are all new to us.
                cursor
                    .drives
                    .entry(drive_id.clone())
                    .or_insert_with(|| drives::DriveState {
                        link: format!("{}/drives/{drive_id}/root/delta", self.config.graph_base),
                        subscription: None,
                    });
            }
            cursor.listed_at = Some(now);
        }
        if integration.mode.receives_webhooks() {
            if let Err(error) = self
                .maintain_subscriptions(integration, token, &mut cursor)
                .await
            {
                // The delta still runs: changes arrive on the schedule instead of at once.
                tracing::warn!(integration = %integration.id, %error, "Graph subscriptions not maintained");
            }
        }
        let domains = self.internal_domains(integration).await;
        let mut activities = Vec::new();
        let mut unfinished = false;
        let mut gone = Vec::new();
        for (drive_id, state) in cursor.drives.iter_mut() {
            let mut pages = 0;
            loop {
                if pages == drives::PAGES_PER_DRIVE {
                    unfinished = true;
                    break;
                }
                pages += 1;
                let page = match api.delta(&state.link).await {
                    Ok(page) => page,
                    // A drive that is gone (its user deleted, a library removed) or refused
                    // must not stall the others: it is dropped, and found again by the next
                    // listing if it still exists.
                    Err(ConnectorError::Permanent(reason) | ConnectorError::Forbidden(reason)) => {
                        tracing::warn!(integration = %integration.id, drive = %drive_id, %reason, "drive dropped from the Graph stream");
                        gone.push(drive_id.clone());
                        break;
                    }
                    Err(other) => return Err(other),
                };
                match page {
                    drives::DeltaPage::Resync { restart } => {
                        tracing::warn!(integration = %integration.id, drive = %drive_id, "delta token expired (410); enumerating the drive again");
                        state.link = restart;
                    }
                    drives::DeltaPage::Items {
                        items,
                        next_link,
                        delta_link,
                    } => {
                        for item in &items {
                            let Some(mut observed) =
                                drives::observation(integration, drive_id, item)
                            else {
                                continue;
                            };
                            if let Some(id) =
                                observed.object_id.as_deref().and_then(graph::ItemId::parse)
                            {
                                match api.permissions(&id).await {
                                    Ok(permissions) => {
                                        observed.enrichments.exposure =
                                            Some(graph::exposure(item, &permissions, &domains));
                                    }
                                    Err(ConnectorError::Transient(reason)) => {
                                        return Err(ConnectorError::Transient(reason))
                                    }
                                    Err(other) => observed.incomplete = Some(other.to_string()),
                                }
                            }
                            activities.push(observed);
                        }
                        match (next_link, delta_link) {
                            (Some(next), _) => state.link = next,
                            (None, Some(delta)) => {
                                state.link = delta;
                                break;
                            }
                            (None, None) => break,
                        }
                    }
                }
            }
        }
        for drive_id in gone {
            cursor.drives.remove(&drive_id);
        }
        Ok(PollPage {
            activities,
            next_cursor: cursor.encode(),
            has_more: unfinished,
            wait_before_next: None,
        })
    }

    /// The organization's domains: the `internal_domains` setting, else the tenant's
    /// verified domains from Graph (a guest is invited by their own address, which only the
    /// tenant's domains tell apart). Empty when neither is known.
    async fn internal_domains(&self, integration: &Integration) -> Vec<String> {
        let configured: Vec<String> = integration.settings["internal_domains"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|v| v.as_str().map(|s| s.to_ascii_lowercase()))
                    .collect()
            })
            .unwrap_or_default();
        if !configured.is_empty() {
            return configured;
        }
        let cached = self
            .domains
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&integration.id)
            .cloned();
        if let Some(domains) = cached {
            return domains;
        }
        let Ok(token) = self.app_token(integration, Resource::Graph).await else {
            return Vec::new();
        };
        let organization = match self.graph(&token).organization().await {
            Ok(organization) => organization,
            Err(error) => {
                tracing::warn!(integration = %integration.id, %error, "the tenant's domains could not be read; guests are told apart by #EXT# only");
                return Vec::new();
            }
        };
        let domains: Vec<String> = organization["verifiedDomains"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|v| v["name"].as_str().map(str::to_ascii_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        self.domains
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(integration.id.clone(), domains.clone());
        domains
    }

    fn graph<'a>(&'a self, token: &'a SecretString) -> graph::GraphApi<'a> {
        graph::GraphApi {
            http: &self.http,
            base: &self.config.graph_base,
            token,
        }
    }

    /// Names the drive item a file record is about (its Graph id replaces the URL as the
    /// object id) and reads its sharing. What cannot be read leaves the activity as the record
    /// gave it, marked incomplete with the reason.
    async fn enrich(
        &self,
        integration: &Integration,
        mut activity: casb_shared::domain::Activity,
        domains: &[String],
    ) -> Result<casb_shared::domain::Activity, ConnectorError> {
        use casb_shared::domain::EventType;
        if !activity.is_about_file() || activity.event_type == EventType::DataDeletion {
            return Ok(activity);
        }
        let record = &activity.raw;
        let (Some(site), Some(name)) = (
            records::text(record, "SiteUrl"),
            records::text(record, "SourceFileName"),
        ) else {
            return Ok(activity);
        };
        // `SourceRelativeUrl` starts with the document library (`Documents`, `Shared
        // Documents`): the site's drive is that library.
        let folder = records::text(record, "SourceRelativeUrl").unwrap_or_default();
        let within_library = folder
            .trim_matches('/')
            .split_once('/')
            .map(|(_, rest)| rest)
            .unwrap_or("");
        let path = format!("{within_library}/{name}");
        let looked_up = async {
            let token = self.app_token(integration, Resource::Graph).await?;
            let api = self.graph(&token);
            // A file we quarantined is no longer where older records say: look for it there.
            let quarantined = format!("{}/{name}", self.config.quarantine_folder_name);
            let item = match api.item_by_site_path(&site, &path).await? {
                Some(item) => item,
                None => match api.item_by_site_path(&site, &quarantined).await? {
                    Some(item) => item,
                    None => return Ok(None),
                },
            };
            let (Some(drive_id), Some(item_id)) = (
                item["parentReference"]["driveId"].as_str(),
                item["id"].as_str(),
            ) else {
                return Ok(None);
            };
            let id = graph::ItemId {
                drive_id: drive_id.to_string(),
                item_id: item_id.to_string(),
            };
            let permissions = api.permissions(&id).await?;
            Ok::<_, ConnectorError>(Some((id, graph::exposure(&item, &permissions, domains))))
        };
        match looked_up.await {
            Ok(Some((id, exposure))) => {
                activity.object_id = Some(id.object_id());
                activity.enrichments.exposure = Some(exposure);
            }
            Ok(None) => {
                activity.incomplete = Some("the file is no longer where the record says".into());
            }
            Err(ConnectorError::Permanent(reason) | ConnectorError::Forbidden(reason)) => {
                tracing::warn!(activity = %activity.id(), %reason, "activity kept without its Graph item");
                activity.incomplete = Some(reason);
            }
            Err(ConnectorError::RateLimited { retry_after }) => {
                activity.incomplete = Some(format!(
                    "Graph asked us to wait {retry_after:?} while the file was looked up"
                ));
            }
            Err(other) => return Err(other),
        }
        Ok(activity)
    }

    /// The records of `items` as activities.
    async fn fetch_items(
        &self,
        integration: &Integration,
        items: &[ContentItem],
        path: IngestPath,
    ) -> Result<Vec<casb_shared::domain::Activity>, ConnectorError> {
        let tenant = Self::tenant_id(integration)?;
        let domains = self.internal_domains(integration).await;
        let mut activities = Vec::new();
        for item in items {
            let records = self
                .with_management(integration, |token, app| async move {
                    self.management(tenant, &token, &app)
                        .fetch_blob(&item.content_uri)
                        .await
                })
                .await?;
            let log_time = records::parse_time(&item.content_created);
            for record in &records {
                match records::map_record(integration, record, &domains, path) {
                    Some(mut activity) => {
                        activity.log_timestamp = log_time;
                        activities.push(self.enrich(integration, activity, &domains).await?);
                    }
                    None => {
                        tracing::warn!(integration = %integration.id, content = %item.content_id, "a Management API record without an Id was skipped")
                    }
                }
            }
        }
        Ok(activities)
    }
}

/// The notifications of a Graph change-notification body (`{"value": [...]}`); `None` for
/// anything else (the Management API posts a bare array).
fn graph_notifications(body: &[u8]) -> Option<Vec<serde_json::Value>> {
    let parsed: serde_json::Value = serde_json::from_slice(body).ok()?;
    parsed.get("value")?.as_array().cloned()
}

fn parse_tenant_secret(secret: &SecretString) -> Result<TenantSecret, ConnectorError> {
    serde_json::from_str(secret.expose_secret()).map_err(|e| {
        ConnectorError::NotConfigured(format!(
            "the stored Microsoft 365 credentials are not the expected JSON ({{\"tenant_id\"[, \"client_id\", \"client_secret\"]}}): {e}"
        ))
    })
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A value placed in a URL path: anything but a GUID-like or domain-like name is refused by
/// escaping it whole.
fn path_segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A Microsoft tenant id: a GUID.
fn is_guid(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[async_trait]
impl Connector for M365Connector {
    fn provider(&self) -> Provider {
        Provider::Microsoft365
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
            ],
        }
    }

    fn credential_kinds(&self) -> Vec<CredentialKind> {
        vec![CredentialKind::ClientCredentials]
    }

    fn refresh_rotates(&self) -> bool {
        false
    }

    fn settings(&self) -> Vec<SettingSpec> {
        vec![
            SettingSpec {
                name: "content_types",
                description: "Management Activity API content types to follow (comma-separated; default Audit.SharePoint, Audit.AzureActiveDirectory, Audit.General; also Audit.Exchange, DLP.All)",
                kind: SettingKind::List,
                required: false,
            },
            SettingSpec {
                name: "internal_domains",
                description: "the organization's email domains (comma-separated); default: every user of the tenant except guests (#EXT#) and anonymous link users is internal",
                kind: SettingKind::List,
                required: false,
            },
        ]
    }

    async fn headless_token(
        &self,
        _integration: &Integration,
        secret: &SecretString,
    ) -> Result<TokenSet, ConnectorError> {
        let tenant = parse_tenant_secret(secret)?;
        self.request_token(&tenant, Resource::Graph).await
    }

    async fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        _code_challenge: &str,
    ) -> Result<String, ConnectorError> {
        let app = self.credentials().await?;
        let query = serde_urlencoded::to_string([
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("state", state),
        ])
        .map_err(|e| ConnectorError::Permanent(e.to_string()))?;
        // Admin consent: a Global Administrator grants the application's permissions for the
        // whole organization; no code comes back, only the tenant.
        Ok(format!(
            "{}/organizations/adminconsent?{query}",
            self.config.login_base
        ))
    }

    fn admin_consent(
        &self,
        callback: &HashMap<String, String>,
    ) -> Option<Result<ConsentGrant, String>> {
        let Some(tenant) = callback.get("tenant") else {
            return Some(Err(
                "the consent callback names no tenant: start again from /oauth/microsoft365/connect".into(),
            ));
        };
        if !is_guid(tenant) {
            return Some(Err(format!(
                "the consent callback's tenant '{tenant}' is not a tenant id"
            )));
        }
        if !callback
            .get("admin_consent")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Some(Err(
                "Microsoft did not report an administrator's consent (admin_consent=True): connect again as a Global Administrator".into(),
            ));
        }
        let secret = serde_json::json!({ "tenant_id": tenant.to_ascii_lowercase() }).to_string();
        Some(Ok(ConsentGrant {
            external_tenant_id: tenant.to_ascii_lowercase(),
            credential: CredentialKind::ClientCredentials,
            secret: SecretString::from(secret),
        }))
    }

    async fn grant_info(&self, access_token: &SecretString) -> Result<GrantInfo, ConnectorError> {
        let org = self.graph(access_token).organization().await?;
        let id = org["id"].as_str().map(str::to_ascii_lowercase);
        let name = org["displayName"].as_str().unwrap_or("Microsoft 365");
        Ok(GrantInfo {
            external_tenant_id: id,
            display_name: format!("{name} (Microsoft 365)"),
            admin_email: None,
        })
    }

    async fn register_webhooks(
        &self,
        integration: &Integration,
        _access_token: &SecretString,
        address: &str,
    ) -> Result<Vec<String>, ConnectorError> {
        let app = self.credentials().await?;
        let key = app.webhook_key.clone().ok_or_else(|| {
            ConnectorError::NotConfigured(format!(
                "Management API webhooks need a webhook_key in the secret '{M365_APP_SECRET}'"
            ))
        })?;
        let tenant = Self::tenant_id(integration)?;
        let webhook = WebhookSpec {
            address: address.to_string(),
            auth_id: Self::webhook_auth_id(&key, tenant),
            expiration: String::new(),
        };
        // Graph subscriptions are made (and kept alive) by the drives stream, to this address.
        self.secrets
            .put_secret(
                &Self::notification_url_name(integration),
                &SecretString::from(address.to_string()),
            )
            .await
            .map_err(|e| ConnectorError::Transient(e.to_string()))?;
        let mut ids = Vec::new();
        for content_type in Self::content_types(integration) {
            let webhook = &webhook;
            self.with_management(integration, |token, app| async move {
                self.management(tenant, &token, &app)
                    .start(content_type, Some(webhook))
                    .await
            })
            .await?;
            ids.push(format!("management:{content_type}"));
        }
        Ok(ids)
    }

    async fn deregister_webhooks(
        &self,
        integration: &Integration,
        _access_token: &SecretString,
    ) -> Result<(), ConnectorError> {
        let tenant = Self::tenant_id(integration)?;
        // Graph: every subscription of ours that delivers to this integration.
        let graph_token = self.app_token(integration, Resource::Graph).await?;
        let api = self.graph(&graph_token);
        let ours = format!(
            "/webhooks/microsoft365/{}/{}",
            integration.tenant_id, integration.id
        );
        for (id, url) in api.subscriptions().await? {
            if url.ends_with(&ours) {
                api.unsubscribe(&id).await?;
            }
        }
        let _ = self
            .secrets
            .delete_secret(&Self::notification_url_name(integration))
            .await;
        // Every content type, not only today's setting: one followed earlier and dropped since
        // must not be left running.
        for content_type in management::CONTENT_TYPES {
            self.with_management(integration, |token, app| async move {
                self.management(tenant, &token, &app)
                    .stop(content_type)
                    .await
            })
            .await?;
        }
        Ok(())
    }

    fn webhook_handshakes(&self) -> Vec<Handshake> {
        vec![
            // Management API: a POST with this header (and the code in the body) wants 200.
            Handshake::EchoHeader {
                request_header: "Webhook-ValidationCode",
                response_header: "Webhook-ValidationCode",
            },
            // Graph change notifications: echo the token as text/plain.
            Handshake::EchoQuery {
                param: "validationToken",
            },
        ]
    }

    async fn verify_webhook(
        &self,
        delivery: &WebhookDelivery<'_>,
        _now: DateTime<Utc>,
    ) -> Result<(), WebhookRejection> {
        let key = self
            .credentials()
            .await
            .ok()
            .and_then(|c| c.webhook_key)
            .ok_or(WebhookRejection::NoKeys)?;
        if let Some(notifications) = graph_notifications(delivery.body) {
            // Graph: every notification must carry the clientState we gave its tenant.
            if notifications.is_empty() {
                return Err(WebhookRejection::Unreadable("no notifications".into()));
            }
            for notification in &notifications {
                let tenant = notification["tenantId"].as_str().unwrap_or_default();
                let expected = SecretString::from(Self::graph_client_state(&key, tenant));
                let presented = notification["clientState"].as_str().unwrap_or_default();
                if tenant.is_empty()
                    || !casb_shared::admin_credential::same_token(&expected, presented)
                {
                    return Err(WebhookRejection::BadSignature);
                }
            }
            return Ok(());
        }
        let presented = delivery
            .headers
            .get("webhook-authid")
            .ok_or(WebhookRejection::MissingHeader("Webhook-AuthID"))?;
        let items: Vec<ContentItem> = serde_json::from_slice(delivery.body)
            .map_err(|e| WebhookRejection::Unreadable(format!("not a list of content: {e}")))?;
        let tenant = items
            .first()
            .and_then(|i| i.tenant_id.clone())
            .ok_or_else(|| {
                WebhookRejection::Unreadable("the notification names no tenant".into())
            })?;
        if items.iter().any(|i| {
            !i.tenant_id
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(&tenant))
        }) {
            return Err(WebhookRejection::Unreadable(
                "the notification mixes tenants".into(),
            ));
        }
        let expected = SecretString::from(Self::webhook_auth_id(&key, &tenant));
        if casb_shared::admin_credential::same_token(&expected, presented) {
            Ok(())
        } else {
            Err(WebhookRejection::BadSignature)
        }
    }

    fn webhook_notice_id(
        &self,
        delivery: &WebhookDelivery<'_>,
    ) -> Result<NoticeId, WebhookRejection> {
        if graph_notifications(delivery.body).is_some() {
            // Graph names no delivery; a repeat of the same body changes nothing anyway (it
            // only asks for the delta to run).
            return Ok(NoticeId {
                delivery_id: hex::encode(Sha256::digest(delivery.body)),
                webhook_id: None,
            });
        }
        let items: Vec<ContentItem> = serde_json::from_slice(delivery.body)
            .map_err(|e| WebhookRejection::Unreadable(format!("not a list of content: {e}")))?;
        let mut ids: Vec<&str> = items.iter().map(|i| i.content_id.as_str()).collect();
        ids.sort_unstable();
        Ok(NoticeId {
            delivery_id: hex::encode(Sha256::digest(ids.join("\n").as_bytes())),
            webhook_id: None,
        })
    }

    async fn process_notice(
        &self,
        integration: &Integration,
        _access_token: &SecretString,
        _headers: &HashMap<String, String>,
        body: &[u8],
        _deadline: tokio::time::Instant,
    ) -> Result<NoticeOutcome, ConnectorError> {
        if let Some(notifications) = graph_notifications(body) {
            // A change (or a lifecycle event: a subscription removed, notifications missed)
            // on a drive: the delta says what changed, and re-creates what is missing.
            for notification in notifications
                .iter()
                .filter(|n| n.get("lifecycleEvent").is_some())
            {
                tracing::warn!(integration = %integration.id, event = %notification["lifecycleEvent"], subscription = %notification["subscriptionId"], "Graph subscription lifecycle event");
            }
            return Ok(NoticeOutcome::RunStreams(vec![
                drives::DRIVES_STREAM.to_string()
            ]));
        }
        let items: Vec<ContentItem> = serde_json::from_slice(body)
            .map_err(|e| ConnectorError::Permanent(format!("not a list of content: {e}")))?;
        let tenant = Self::tenant_id(integration)?;
        // A notification for another tenant is not this integration's to fetch.
        let ours: Vec<ContentItem> = items
            .into_iter()
            .filter(|i| {
                i.tenant_id
                    .as_deref()
                    .is_none_or(|t| t.eq_ignore_ascii_case(tenant))
            })
            .collect();
        Ok(NoticeOutcome::Activities(
            self.fetch_items(integration, &ours, IngestPath::Push)
                .await?,
        ))
    }

    /// A record brought by a webhook and by the poll carries the same `Id` either way: one
    /// action, whose copies merge (and record both paths).
    fn action_identity(&self, activity: &casb_shared::domain::Activity) -> Option<String> {
        Some(format!("m365-record#{}", activity.event_id))
    }

    fn streams(&self, integration: &Integration) -> Vec<StreamSpec> {
        let mut streams: Vec<StreamSpec> = Self::content_types(integration)
            .into_iter()
            .map(|content_type| {
                StreamSpec::new(
                    &format!("audit:{content_type}"),
                    &format!("Office 365 Management Activity API, {content_type}"),
                )
            })
            .collect();
        streams.push(StreamSpec::new(
            drives::DRIVES_STREAM,
            "Microsoft Graph changes to the OneDrives and SharePoint libraries (delta and change notifications)",
        ));
        streams
    }

    async fn initial_cursor(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        stream: &str,
    ) -> Result<Option<String>, ConnectorError> {
        if stream == drives::DRIVES_STREAM {
            // Where every drive is now: history is not replayed.
            let api = self.graph(access_token);
            let mut cursor = drives::DrivesCursor {
                listed_at: Some(Utc::now()),
                ..Default::default()
            };
            for drive_id in api.drives().await? {
                let link = match api.latest_link(&drive_id).await {
                    Ok(link) => link,
                    // Unreadable now: read from its beginning once the stream can.
                    Err(ConnectorError::Permanent(reason) | ConnectorError::Forbidden(reason)) => {
                        tracing::warn!(integration = %integration.id, drive = %drive_id, %reason, "drive's delta not started");
                        continue;
                    }
                    Err(other) => return Err(other),
                };
                cursor.drives.insert(
                    drive_id,
                    drives::DriveState {
                        link,
                        subscription: None,
                    },
                );
            }
            return Ok(Some(cursor.encode()));
        }
        let content_type = stream.strip_prefix("audit:").unwrap_or(stream);
        // With webhooks, registering them starts the subscriptions (one start call per
        // content type: Microsoft asks for minutes between them).
        if !integration.mode.receives_webhooks() {
            let tenant = Self::tenant_id(integration)?;
            self.with_management(integration, |token, app| async move {
                self.management(tenant, &token, &app)
                    .start(content_type, None)
                    .await
            })
            .await?;
        }
        Ok(Some(Cursor::starting_at(Utc::now()).encode()))
    }

    async fn poll(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        request: &PollRequest<'_>,
    ) -> Result<PollPage, ConnectorError> {
        if request.stream == drives::DRIVES_STREAM {
            return self
                .poll_drives(integration, access_token, request.cursor)
                .await;
        }
        let content_type = request
            .stream
            .strip_prefix("audit:")
            .unwrap_or(request.stream);
        let tenant = Self::tenant_id(integration)?;
        let now = Utc::now();
        let mut cursor = Cursor::parse(request.cursor, now);
        if cursor.pending.is_empty() {
            let listing = match cursor.next_page.clone() {
                Some(next) => {
                    self.with_management(integration, |token, app| {
                        let next = next.clone();
                        async move { self.management(tenant, &token, &app).list_next(&next).await }
                    })
                    .await
                }
                None => match cursor.next_window(now, self.config.reach_back) {
                    Some((start, end)) => {
                        cursor.window_end = Some(end);
                        self.with_management(integration, |token, app| async move {
                            self.management(tenant, &token, &app)
                                .list_content(content_type, start, end)
                                .await
                        })
                        .await
                    }
                    None => Ok((Vec::new(), None)),
                },
            };
            match listing {
                Ok((items, next)) => cursor.listed(items, next),
                Err(error) if management::not_subscribed(&error) => {
                    // Stopped outside the CASB, or never started: start it again and come back.
                    tracing::warn!(integration = %integration.id, content_type, "Management API subscription not enabled; starting it");
                    self.with_management(integration, |token, app| async move {
                        self.management(tenant, &token, &app)
                            .start(content_type, None)
                            .await
                    })
                    .await?;
                    // Microsoft asks for 15 minutes between start calls (and content can
                    // take a while to appear after one): the stream rests that long.
                    return Ok(PollPage {
                        activities: Vec::new(),
                        next_cursor: cursor.encode(),
                        has_more: false,
                        wait_before_next: Some(Duration::from_secs(15 * 60)),
                    });
                }
                Err(error) => return Err(error),
            }
        }
        let batch: Vec<ContentItem> = cursor
            .pending
            .iter()
            .take(self.config.blobs_per_poll.max(1))
            .cloned()
            .collect();
        let activities = self
            .fetch_items(integration, &batch, IngestPath::Pull)
            .await?;
        for item in &batch {
            cursor.fetched(item);
        }
        cursor.prune(self.config.reach_back);
        Ok(PollPage {
            activities,
            has_more: cursor.has_more(now),
            next_cursor: cursor.encode(),
            wait_before_next: None,
        })
    }

    async fn download(
        &self,
        _integration: &Integration,
        access_token: &SecretString,
        file_id: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ConnectorError> {
        let item = graph::ItemId::parse(file_id).ok_or_else(|| {
            ConnectorError::Permanent(format!("'{file_id}' does not name a drive item"))
        })?;
        // `/content` answers 302 to a pre-authenticated URL: followed only to Microsoft's hosts.
        self.http
            .download(
                &self.graph(access_token).content_url(&item),
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
        let Some(item) = action.object_id.as_deref().and_then(graph::ItemId::parse) else {
            return Ok(ActionOutcome::Unsupported {
                reason: "the incident names no OneDrive or SharePoint item".into(),
            });
        };
        let api = self.graph(access_token);
        let domains = self.internal_domains(integration).await;
        match action.kind {
            ActionKind::Delete => {
                api.delete_item(&item).await?;
                Ok(ActionOutcome::done("moved to the recycle bin"))
            }
            // A link the file inherits is the folder's: removing the file's exposure means
            // removing it there.
            ActionKind::RemoveSharedLink => {
                graph::remove_permissions(
                    &api,
                    &item,
                    &domains,
                    "anyone and organization links",
                    true,
                    |g| {
                        matches!(
                            g,
                            graph::Grant::AnonymousLink | graph::Grant::OrganizationLink
                        )
                    },
                )
                .await
            }
            // People invited to a folder above lose the folder only when the policy says so
            // (scope `ancestors`), as with Box.
            ActionKind::RemoveExternalCollaborators => {
                graph::remove_permissions(
                    &api,
                    &item,
                    &domains,
                    "external people's permissions",
                    action.scope == Some(casb_shared::domain::CollaboratorScope::Ancestors),
                    |g| g == graph::Grant::External,
                )
                .await
            }
            ActionKind::Quarantine => {
                let Some(current) = api.get_item(&item).await? else {
                    return Ok(ActionOutcome::Unsupported {
                        reason: "the file is gone (deleted or moved out of the drive)".into(),
                    });
                };
                let folder = api
                    .root_folder(&item.drive_id, &self.config.quarantine_folder_name)
                    .await?;
                let parent = current["parentReference"]["id"]
                    .as_str()
                    .unwrap_or_default();
                if parent == folder {
                    return Ok(ActionOutcome::done("already in quarantine"));
                }
                api.move_item(&item, &folder).await?;
                Ok(ActionOutcome::Succeeded {
                    detail: format!(
                        "moved to {} in the same drive; original_parent={parent}",
                        self.config.quarantine_folder_name
                    ),
                    undo: Some(serde_json::json!({ "original_parent": parent })),
                })
            }
            other => Ok(ActionOutcome::Unsupported {
                reason: format!("{} on Microsoft 365 is not available yet", other.as_str()),
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
        let item = action.object_id.as_deref().and_then(graph::ItemId::parse);
        match (action.kind, item, undo["original_parent"].as_str()) {
            (ActionKind::Quarantine, Some(item), Some(parent)) => {
                let api = self.graph(access_token);
                let at_home = api
                    .get_item(&item)
                    .await?
                    .is_some_and(|i| i["parentReference"]["id"].as_str() == Some(parent));
                if !at_home {
                    api.move_item(&item, parent).await?;
                }
                Ok(ActionOutcome::done(format!("moved back to {parent}")))
            }
            _ => Ok(ActionOutcome::Unsupported {
                reason: format!("Microsoft 365 cannot undo {}", action.kind.as_str()),
            }),
        }
    }
}

/// An integration of the test tenant, for unit tests.
#[cfg(test)]
pub(crate) fn test_integration() -> Integration {
    Integration {
        id: "int-m".into(),
        tenant_id: "tenant-a".into(),
        provider: Provider::Microsoft365,
        external_tenant_id: Some("41463f53-8812-40f4-890f-865bf6e35190".into()),
        display_name: "Contoso".into(),
        mode: casb_shared::domain::IngestMode::Both,
        status: casb_shared::domain::IntegrationStatus::Connected,
        credential: Default::default(),
        webhook_ids: vec![],
        settings: serde_json::json!({}),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_guids_and_path_segments_are_escaped() {
        assert!(is_guid("41463f53-8812-40f4-890f-865bf6e35190"));
        assert!(!is_guid("41463f53-8812-40f4-890f-865bf6e3519"));
        assert!(!is_guid("../../evil"));
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(
            path_segment("contoso.onmicrosoft.com"),
            "contoso.onmicrosoft.com"
        );
    }

    #[test]
    fn webhook_auth_ids_differ_per_tenant_and_key() {
        let a = M365Connector::webhook_auth_id("key", "41463f53-8812-40f4-890f-865bf6e35190");
        let b = M365Connector::webhook_auth_id("key", "51463f53-8812-40f4-890f-865bf6e35190");
        let c = M365Connector::webhook_auth_id("other", "41463f53-8812-40f4-890f-865bf6e35190");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            a,
            M365Connector::webhook_auth_id("key", "41463F53-8812-40F4-890F-865BF6E35190")
        );
    }
}
