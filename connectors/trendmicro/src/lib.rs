//! The Trend Micro Cloud App Security connector: security events (security risks, Virtual
//! Analyzer detections, ransomware, DLP) pulled from the log retrieval API,
//! `GET /v1/siem/security_events`, with a bearer token on the customer's regional host.
//!
//! One stream per (service, event type), e.g. `onedrive/dlp`. Each reads time windows: the
//! cursor records the window being read and, while a window spans pages, Trend Micro's
//! `next_link`, so a crash resumes on the page it was on. The API reaches back 72 hours at
//! most, so a stream that fell further behind restarts at the oldest reachable time (and says
//! so). Windows overlap a little because records can be indexed after their detection time;
//! the copies are recognised by `log_item_id`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use casb_shared::connector::http::{
    read_capped, retry_after, HostAllowList, ProviderHttp, RetryPolicy,
};
use casb_shared::connector::{
    list_setting, ActionOutcome, Capabilities, Connector, ConnectorError, GrantInfo, PollPage,
    PollRequest, SettingKind, SettingSpec, StreamSpec,
};
use casb_shared::domain::{
    content_event_id, Activity, CredentialKind, Enrichments, EventType, IngestPath, Integration,
    Provider, ResponseAction, UserType,
};

/// Services whose security events the API serves (one per call).
pub const SERVICES: &[&str] = &[
    "exchange",
    "sharepoint",
    "onedrive",
    "dropbox",
    "box",
    "googledrive",
    "gmail",
    "teams",
    "exchangeserver",
    "salesforce_sandbox",
    "salesforce_production",
    "teams_chat",
];

/// Event types (one per call).
pub const EVENT_TYPES: &[&str] = &["securityrisk", "virtualanalyzer", "ransomware", "dlp"];

/// Regional API hosts, by the `region` setting.
pub const REGIONS: &[(&str, &str)] = &[
    ("us", "api.tmcas.trendmicro.com"),
    ("eu", "api-eu.tmcas.trendmicro.com"),
    ("jp", "api.tmcas.trendmicro.co.jp"),
    ("au", "api-au.tmcas.trendmicro.com"),
    ("uk", "api.tmcas.trendmicro.co.uk"),
    ("ca", "api-ca.tmcas.trendmicro.com"),
    ("sg", "api.tmcas.trendmicro.com.sg"),
    ("in", "api-in.tmcas.trendmicro.com"),
];

/// How far back the API answers (72 hours), less a margin for the time a request takes.
const REACH: chrono::Duration = chrono::Duration::minutes(72 * 60 - 10);
/// The longest window one query covers: short windows keep pages few and late records close.
const WINDOW: chrono::Duration = chrono::Duration::minutes(10);
/// Records still being indexed: a window ends this long before now.
const SETTLE: chrono::Duration = chrono::Duration::seconds(60);
/// Each window starts this much before the previous one ended, for records indexed late.
const OVERLAP: chrono::Duration = chrono::Duration::minutes(5);
/// The daily quota is spent: there is no point asking again before a good while.
const QUOTA_REST: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone)]
pub struct TrendMicroConfig {
    pub allowed_hosts: HostAllowList,
    pub retry: RetryPolicy,
    /// Records per page: the API's maximum, 500, unless a test wants more pages.
    pub page_limit: u32,
}

impl Default for TrendMicroConfig {
    fn default() -> Self {
        TrendMicroConfig {
            allowed_hosts: HostAllowList::new(REGIONS.iter().map(|(_, host)| *host)),
            retry: RetryPolicy::default(),
            page_limit: 500,
        }
    }
}

impl TrendMicroConfig {
    /// Also allows the host of `url` (a simulator's base URL).
    pub fn allowing(mut self, url: &str) -> Self {
        self.allowed_hosts = self.allowed_hosts.with_url_host(url);
        self
    }

    pub fn from_env() -> Self {
        let mut config = TrendMicroConfig::default();
        config.allowed_hosts = config
            .allowed_hosts
            .with_hosts_from_env("CASB_TRENDMICRO_EXTRA_HOSTS");
        config
    }
}

pub struct TrendMicroConnector {
    config: TrendMicroConfig,
    http: ProviderHttp,
}

/// Where a stream is: the window being read and, mid-window, the next page's link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// The start of the window to read next (or being read).
    start: DateTime<Utc>,
    /// The end of the window being read, while `next_link` pages through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
}

impl TrendMicroConnector {
    pub fn new(config: TrendMicroConfig) -> Self {
        let http = ProviderHttp::new(config.retry.clone());
        TrendMicroConnector { config, http }
    }

    fn origin(&self, integration: &Integration) -> Result<reqwest::Url, ConnectorError> {
        let setting = |name: &str| {
            integration
                .settings
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let text = match (setting("api_host"), setting("region")) {
            (Some(host), _) if host.contains("://") => host.to_string(),
            (Some(host), _) => format!("https://{host}"),
            (None, region) => {
                let region = region.unwrap_or("us");
                let (_, host) = REGIONS.iter().find(|(r, _)| *r == region).ok_or_else(|| {
                    let known: Vec<_> = REGIONS.iter().map(|(r, _)| *r).collect();
                    ConnectorError::NotConfigured(format!(
                        "unknown Trend Micro region '{region}': use one of {}",
                        known.join(", ")
                    ))
                })?;
                format!("https://{host}")
            }
        };
        let url = reqwest::Url::parse(&text).map_err(|e| {
            ConnectorError::NotConfigured(format!("the Trend Micro API host is not a URL: {e}"))
        })?;
        self.check_host(&url)?;
        Ok(url)
    }

    /// The token goes only to Trend Micro's regional hosts; a `next_link` elsewhere is refused.
    fn check_host(&self, url: &reqwest::Url) -> Result<(), ConnectorError> {
        if self.config.allowed_hosts.permits(url) {
            Ok(())
        } else {
            Err(ConnectorError::Permanent(format!(
                "refusing to send the token to {}: not a Trend Micro Cloud App Security API host",
                url.host_str().unwrap_or("?")
            )))
        }
    }

    async fn get_page(
        &self,
        url: reqwest::Url,
        token: &SecretString,
    ) -> Result<Page, ConnectorError> {
        self.check_host(&url)?;
        let response = self
            .http
            .send(|client| {
                client
                    .get(url.clone())
                    .bearer_auth(token.expose_secret())
                    .header("content-type", "application/json")
            })
            .await?;
        let status = response.status();
        let wait = retry_after(&response);
        let bytes = read_capped(response, 64 * 1024 * 1024).await?;
        if status.as_u16() == 403 {
            return Err(ConnectorError::Forbidden(
                "the token may not read security events: check its permissions in the Cloud App Security console"
                    .into(),
            ));
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).to_string();
            if status.as_u16() == 429 || text.contains("Maximum allowed requests exceeded") {
                // The daily quota (the per-minute limit is a 429 `send` already waited on).
                return Err(ConnectorError::RateLimited {
                    retry_after: wait.unwrap_or(QUOTA_REST),
                });
            }
            return Err(ConnectorError::Permanent(format!(
                "Trend Micro answered {status}: {text}"
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ConnectorError::Transient(format!(
                "Trend Micro sent a page that is not the expected JSON: {e}"
            ))
        })
    }
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    security_events: Vec<Value>,
    #[serde(default)]
    next_link: Option<String>,
}

fn iso(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One security event as an activity; the record is kept whole in `raw`.
pub fn map_event(integration: &Integration, event: &Value) -> Activity {
    let empty = serde_json::json!({});
    let message = event.get("message").unwrap_or(&empty);
    let text = |field: &str| {
        message
            .get(field)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let event_id = event
        .get("log_item_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| content_event_id(event));
    let kind = event
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let detected = text("detection_time")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc));
    let recipient = match message.get("mail_message_recipient") {
        Some(Value::Array(items)) => items.iter().find_map(Value::as_str).map(str::to_string),
        Some(Value::String(s)) => s.split([',', ';']).next().map(|s| s.trim().to_string()),
        _ => None,
    };
    let is_mail = text("mail_message_id").is_some();
    let user = text("affected_user");
    Activity {
        tenant_id: integration.tenant_id.clone(),
        event_id,
        event_name: kind.to_string(),
        event_timestamp: detected.unwrap_or_else(Utc::now),
        log_timestamp: None,
        event_type: EventType::Other,
        actor_id: None,
        actor_name: user.clone(),
        actor_email: user.filter(|u| u.contains('@')),
        actor_type: UserType::Unknown,
        actor_role: None,
        actor_ip: None,
        object_id: None,
        file_download_url: None,
        object_type: Some(if is_mail { "email" } else { "file" }.into()),
        object_name: text("file_name")
            .or_else(|| text("mail_message_file_name"))
            .or_else(|| text("mail_message_subject")),
        object_path: text("location"),
        from_email: text("mail_message_sender"),
        target_user_email: recipient,
        target_user_id: None,
        target_user_type: None,
        role_granted: None,
        shared_link: None,
        link_visibility: None,
        provider: Provider::TrendMicro,
        integration_id: integration.id.clone(),
        ingest_path: IngestPath::Pull,
        raw: event.clone(),
        enrichments: Enrichments::default(),
        identity: None,
        incomplete: None,
        seen_by: Vec::new(),
    }
}

#[async_trait]
impl Connector for TrendMicroConnector {
    fn provider(&self) -> Provider {
        Provider::TrendMicro
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::pull_only()
    }

    fn credential_kinds(&self) -> Vec<CredentialKind> {
        vec![CredentialKind::ApiToken]
    }

    fn refresh_rotates(&self) -> bool {
        false
    }

    fn settings(&self) -> Vec<SettingSpec> {
        vec![
            SettingSpec {
                name: "services",
                description: "the protected services to read, e.g. exchange,onedrive,sharepoint (each costs requests: name only those protected)",
                kind: SettingKind::List,
                required: true,
            },
            SettingSpec {
                name: "events",
                description: "event types to read (default all: securityrisk, virtualanalyzer, ransomware, dlp)",
                kind: SettingKind::List,
                required: false,
            },
            SettingSpec {
                name: "region",
                description: "the Cloud App Security region: us (default), eu, jp, au, uk, ca, sg, in",
                kind: SettingKind::Text,
                required: false,
            },
            SettingSpec {
                name: "api_host",
                description: "the API host, when it is not a region's (overrides region)",
                kind: SettingKind::Text,
                required: false,
            },
        ]
    }

    fn streams(&self, integration: &Integration) -> Vec<StreamSpec> {
        let services = list_setting(integration, "services", SERVICES);
        let events = list_setting(integration, "events", EVENT_TYPES);
        let mut streams = Vec::new();
        for service in services {
            for event in &events {
                streams.push(StreamSpec::new(
                    &format!("{service}/{event}"),
                    &format!("Trend Micro {service} {event} events"),
                ));
            }
        }
        streams
    }

    /// One small query (the last five minutes of the first stream): a refused token is refused
    /// before anything is kept.
    async fn check_credentials(
        &self,
        integration: &Integration,
        access_token: &SecretString,
    ) -> Result<GrantInfo, ConnectorError> {
        let origin = self.origin(integration)?;
        if let Some(stream) = self.streams(integration).first() {
            let (service, event) = stream.id.split_once('/').unwrap_or_default();
            let mut url = origin.clone();
            url.set_path("/v1/siem/security_events");
            url.query_pairs_mut()
                .append_pair("service", service)
                .append_pair("event", event)
                .append_pair("limit", "1");
            match self.get_page(url, access_token).await {
                Ok(_) | Err(ConnectorError::Forbidden(_)) => {}
                Err(error) => return Err(error),
            }
        }
        let host = origin.host_str().unwrap_or_default().to_string();
        Ok(GrantInfo {
            // The API names no account: each added integration is its own.
            external_tenant_id: None,
            display_name: format!("Trend Micro Cloud App Security ({host})"),
            admin_email: None,
        })
    }

    async fn initial_cursor(
        &self,
        _integration: &Integration,
        _access_token: &SecretString,
        _stream: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let cursor = Cursor {
            start: Utc::now() - SETTLE,
            end: None,
            next_link: None,
        };
        Ok(Some(serde_json::to_string(&cursor).unwrap_or_default()))
    }

    async fn poll(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        request: &PollRequest<'_>,
    ) -> Result<PollPage, ConnectorError> {
        let Some((service, event)) = request
            .stream
            .split_once('/')
            .filter(|(s, e)| SERVICES.contains(s) && EVENT_TYPES.contains(e))
        else {
            return Err(ConnectorError::Permanent(format!(
                "unknown Trend Micro stream '{}'",
                request.stream
            )));
        };
        let now = Utc::now();
        let mut cursor: Cursor = request
            .cursor
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or(Cursor {
                start: now - SETTLE,
                end: None,
                next_link: None,
            });
        let (url, end) = match (&cursor.next_link, cursor.end) {
            (Some(link), Some(end)) => {
                let url = reqwest::Url::parse(link).map_err(|e| {
                    ConnectorError::Permanent(format!("stored next_link is not a URL: {e}"))
                })?;
                (url, end)
            }
            _ => {
                let oldest = now - REACH;
                if cursor.start < oldest {
                    tracing::warn!(
                        integration = %integration.id,
                        stream = request.stream,
                        behind_since = %cursor.start,
                        "the stream fell more than 72 hours behind; Trend Micro no longer serves the gap"
                    );
                    cursor.start = oldest;
                }
                let end = (cursor.start + WINDOW).min(now - SETTLE);
                if end <= cursor.start {
                    return Ok(PollPage {
                        activities: Vec::new(),
                        next_cursor: serde_json::to_string(&cursor).unwrap_or_default(),
                        has_more: false,
                        wait_before_next: None,
                    });
                }
                let mut url = self.origin(integration)?;
                url.set_path("/v1/siem/security_events");
                url.query_pairs_mut()
                    .append_pair("service", service)
                    .append_pair("event", event)
                    .append_pair("start", &iso(cursor.start))
                    .append_pair("end", &iso(end))
                    .append_pair("limit", &self.config.page_limit.clamp(1, 500).to_string());
                (url, end)
            }
        };
        let page = self.get_page(url, access_token).await?;
        let activities: Vec<Activity> = page
            .security_events
            .iter()
            .map(|event| map_event(integration, event))
            .collect();
        let next = match page.next_link.filter(|l| !l.trim().is_empty()) {
            Some(link) => Cursor {
                start: cursor.start,
                end: Some(end),
                next_link: Some(link),
            },
            None => Cursor {
                start: (end - OVERLAP).max(cursor.start),
                end: None,
                next_link: None,
            },
        };
        // More is waiting when this window has more pages, or it ended before what is readable
        // now does (the stream is catching up); a window cut short by `now` has read it all.
        let has_more =
            next.next_link.is_some() || end + chrono::Duration::seconds(30) < now - SETTLE;
        Ok(PollPage {
            activities,
            next_cursor: serde_json::to_string(&next).unwrap_or_default(),
            has_more,
            wait_before_next: None,
        })
    }

    async fn execute(
        &self,
        _integration: &Integration,
        _access_token: &SecretString,
        action: &ResponseAction,
    ) -> Result<ActionOutcome, ConnectorError> {
        Ok(ActionOutcome::Unsupported {
            reason: format!(
                "Trend Micro Cloud App Security mitigation is not wired to {} yet",
                action.kind.as_str()
            ),
        })
    }
}
