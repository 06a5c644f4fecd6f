//! The Netskope connector: security events and alerts pulled from the REST API v2 dataexport
//! iterator, one stream per event type and per alert type (`events/application`,
//! `alerts/dlp`, ...), with an API token. Netskope is a source of security events here, not a
//! place to remediate.
//!
//! The iterator's cursor lives at Netskope, under an index name, and moves on every `next`. So:
//! - each stream of each integration has its own index name (two consumers of one index each
//!   get part of the data);
//! - the poller marks a page in flight before asking and, after a crash, asks with `resend`
//!   for the page it may have lost; within a call, a failed `next` is retried as `resend`,
//!   never as another `next` (that would skip the page Netskope already handed out);
//! - a page fetched twice is deduplicated downstream by the event's `_id`.
//!
//! Netskope's `wait_time` and its `ratelimit-*` headers become [`PollPage::wait_before_next`];
//! 429 is retried after `ratelimit-reset`; 401 means the token is bad (the integration needs a
//! new one), 403 that it lacks this endpoint's scope (that stream is reported and rested).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use casb_shared::connector::http::{HostAllowList, ProviderHttp, RetryPolicy};
use casb_shared::connector::{
    list_setting, ActionOutcome, Capabilities, Connector, ConnectorError, GrantInfo, PollPage,
    PollRequest, SettingKind, SettingSpec, StreamSpec,
};
use casb_shared::domain::{
    content_event_id, Activity, CredentialKind, Enrichments, EventType, GeoEnrichment, IngestPath,
    Integration, Provider, ResponseAction, UserType,
};
use casb_shared::ocsf::netskope::{classify, id_text, Classified};

/// Event types served by `/api/v2/events/dataexport/events/{type}` (`clientstatus` is CSV on
/// another path and is not read).
pub const EVENT_TYPES: &[&str] = &[
    "application",
    "page",
    "network",
    "infrastructure",
    "audit",
    "incident",
    "endpoint",
];

/// Alert types served by `/api/v2/events/dataexport/alerts/{type}`.
pub const ALERT_TYPES: &[&str] = &[
    "dlp",
    "malware",
    "malsite",
    "policy",
    "compromisedcredential",
    "uba",
    "watchlist",
    "ctep",
    "quarantine",
    "remediation",
    "securityassessment",
];

/// The cursor of a stream that has handed out at least one page: from there on, `next`.
const CURSOR_NEXT: &str = "next";
/// The cursor of a stream not started yet: `start:<epoch seconds>` positions the index there.
const CURSOR_START: &str = "start:";
/// Netskope's advice when a page carries no `wait_time`.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct NetskopeConfig {
    /// Hosts an integration's `tenant` may name: Netskope tenants are `*.goskope.com`; a local
    /// simulator is added for tests and demos (`CASB_NETSKOPE_EXTRA_HOSTS`).
    pub allowed_hosts: HostAllowList,
    pub retry: RetryPolicy,
}

impl Default for NetskopeConfig {
    fn default() -> Self {
        NetskopeConfig {
            allowed_hosts: HostAllowList::new(["*.goskope.com"]),
            retry: RetryPolicy::default(),
        }
    }
}

impl NetskopeConfig {
    /// Also allows the host of `url` (a simulator's base URL).
    pub fn allowing(mut self, url: &str) -> Self {
        self.allowed_hosts = self.allowed_hosts.with_url_host(url);
        self
    }

    pub fn from_env() -> Self {
        let mut config = NetskopeConfig::default();
        config.allowed_hosts = config
            .allowed_hosts
            .with_hosts_from_env("CASB_NETSKOPE_EXTRA_HOSTS");
        config
    }
}

pub struct NetskopeConnector {
    config: NetskopeConfig,
    http: ProviderHttp,
}

impl NetskopeConnector {
    pub fn new(config: NetskopeConfig) -> Self {
        // Retries are done here, per attempt, so a retried `next` can become `resend`.
        let http = ProviderHttp::new(RetryPolicy {
            attempts: 1,
            ..config.retry.clone()
        });
        NetskopeConnector { config, http }
    }

    /// The tenant's API origin from the integration's `tenant` setting (`acme.goskope.com` or
    /// a full URL), refused unless it is a Netskope host (or an allowed local simulator).
    fn origin(&self, integration: &Integration) -> Result<reqwest::Url, ConnectorError> {
        let tenant = integration
            .settings
            .get("tenant")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ConnectorError::NotConfigured(
                    "the integration has no 'tenant' setting (e.g. acme.goskope.com)".into(),
                )
            })?;
        let text = if tenant.contains("://") {
            tenant.to_string()
        } else {
            format!("https://{tenant}")
        };
        let url = reqwest::Url::parse(&text).map_err(|e| {
            ConnectorError::NotConfigured(format!("the 'tenant' setting is not a host: {e}"))
        })?;
        if !self.config.allowed_hosts.permits(&url) {
            return Err(ConnectorError::NotConfigured(format!(
                "refusing to send the API token to {}: not a Netskope tenant host (*.goskope.com)",
                url.host_str().unwrap_or("?")
            )));
        }
        Ok(url)
    }

    /// Calls the iterator once per attempt. A failed call with an operation that moves the
    /// cursor is retried as `resend`: Netskope may have moved it before the answer was lost.
    async fn fetch(
        &self,
        url: &reqwest::Url,
        index: &str,
        first_operation: &str,
        token: &SecretString,
        deadline: tokio::time::Instant,
    ) -> Result<Fetched, ConnectorError> {
        let retry = &self.config.retry;
        let attempts = retry.attempts.max(1);
        let mut operation = first_operation.to_string();
        let mut last_error = ConnectorError::Transient("no attempt made".into());
        for attempt in 0..attempts {
            let op = operation.clone();
            let result = self
                .http
                .send_once(|client| {
                    client
                        .get(url.clone())
                        .query(&[("index", index), ("operation", op.as_str())])
                        .header("Netskope-Api-Token", token.expose_secret())
                })
                .await;
            let moves_cursor = op != "resend" && op != "tail";
            let backoff = retry
                .base_backoff
                .saturating_mul(2u32.saturating_pow(attempt.min(8)));
            match result {
                Ok(response) => return read_page(response, op).await,
                Err(ConnectorError::RateLimited { retry_after }) => {
                    // A 429 is answered before anything moves: the same operation again.
                    let wait = retry_after.max(backoff);
                    if retry_after > retry.max_wait
                        || tokio::time::Instant::now() + wait >= deadline
                        || attempt + 1 == attempts
                    {
                        return Err(ConnectorError::RateLimited { retry_after });
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(error @ ConnectorError::Transient(_)) => {
                    last_error = error;
                    if moves_cursor {
                        operation = "resend".into();
                    }
                    if attempt + 1 < attempts {
                        tokio::time::sleep(backoff).await;
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Err(last_error)
    }
}

/// One answer of the iterator.
struct Fetched {
    events: Vec<Value>,
    operation: String,
    wait: Option<Duration>,
}

async fn read_page(
    response: reqwest::Response,
    operation: String,
) -> Result<Fetched, ConnectorError> {
    let status = response.status();
    // `ratelimit-remaining: 0`: the window is spent; the next call waits for its reset.
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let window_wait = match (header("ratelimit-remaining"), header("ratelimit-reset")) {
        (Some(0), Some(reset)) => Some(Duration::from_secs(reset)),
        _ => None,
    };
    match status.as_u16() {
        200 => {}
        204 => {
            return Ok(Fetched {
                events: Vec::new(),
                operation,
                wait: window_wait,
            })
        }
        401 => return Err(ConnectorError::Unauthorized),
        403 => {
            return Err(ConnectorError::Forbidden(
                "the API token lacks this endpoint's scope: give the service account's role View on it"
                    .into(),
            ))
        }
        404 => {
            return Err(ConnectorError::Forbidden(
                "this tenant has no such dataexport endpoint (Netskope: 'This dataexporter does not exist')"
                    .into(),
            ))
        }
        other => {
            let body = casb_shared::connector::http::read_capped(response, 4096)
                .await
                .unwrap_or_default();
            return Err(ConnectorError::Permanent(format!(
                "Netskope answered {other}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
    }
    let bytes = casb_shared::connector::http::read_capped(response, MAX_PAGE_BYTES).await?;
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ConnectorError::Transient(format!("Netskope sent a page that is not JSON: {e}"))
    })?;
    if body.get("ok").and_then(Value::as_i64) == Some(0) {
        return Err(ConnectorError::Permanent(format!(
            "Netskope refused the call: {}",
            body.get("error")
                .or(body.get("message"))
                .unwrap_or(&Value::Null)
        )));
    }
    let events = match body.get("result") {
        Some(Value::Array(events)) => events.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(ConnectorError::Transient(
                "Netskope's `result` is not a list".into(),
            ))
        }
    };
    let asked = match body.get("wait_time") {
        Some(wait) => wait
            .as_f64()
            .map(|s| Duration::from_secs_f64(s.clamp(0.0, 3600.0))),
        None => Some(DEFAULT_WAIT),
    };
    let wait = match (asked, window_wait) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Ok(Fetched {
        events,
        operation,
        wait,
    })
}

/// Netskope pages hold up to 10,000 events of a few kilobytes each.
const MAX_PAGE_BYTES: u64 = 128 * 1024 * 1024;

/// The iterator's index name for one stream of one integration: unique, so no other consumer
/// (another integration, another deployment's integration of the same tenant) moves its cursor.
pub fn index_name(integration: &Integration, stream: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    format!("casb_{}_{}", clean(&integration.id), clean(stream))
}

fn epoch_seconds(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let seconds = match value? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        _ => return None,
    };
    Utc.timestamp_opt(seconds, 0).single()
}

/// The CASB's event type for a classified Netskope event.
fn event_type(class: Option<&Classified>) -> EventType {
    let Some(class) = class else {
        return EventType::Other;
    };
    match (class.class_uid, class.activity_id) {
        (3002, 2) => EventType::Logout,
        (3002, _) if class.succeeded == Some(false) => EventType::LoginFailure,
        (3002, _) => EventType::Login,
        (3001 | 3004, _) => EventType::Administration,
        (6006, 1) => EventType::DataCreation,
        (6006, 2 | 9 | 14) => EventType::DataAccess,
        (6006, 3 | 6 | 7) => EventType::DataModification,
        (6006, 4) => EventType::DataDeletion,
        (6006, 12) => EventType::DataSharing,
        _ => EventType::Other,
    }
}

/// One Netskope event (as the `stream` endpoint answered it) as an activity. The event is kept
/// whole in `raw`; only `record_type` is added when Netskope left it out, from the endpoint, so
/// the OCSF mapping can tell the event's kind.
pub fn map_event(integration: &Integration, stream: &str, event: &Value) -> Activity {
    let mut raw = event.clone();
    if let Value::Object(fields) = &mut raw {
        let kind = match stream.split_once('/') {
            Some(("alerts", _)) => Some("alert"),
            Some((_, event_type)) => Some(event_type),
            // Not known (`casb normalize` without `--stream`): the event says, or nothing does.
            None => None,
        };
        if let (false, Some(kind)) = (fields.contains_key("record_type"), kind) {
            fields.insert("record_type".into(), Value::String(kind.into()));
        }
    }
    let class = classify(&raw);
    let text = |field: &str| {
        raw.get(field)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty() && *v != "N/A" && *v != "unknown")
            .map(str::to_string)
    };
    // An event without `_id` (not seen in practice) is identified by its content.
    let event_id = id_text(&raw, "_id").unwrap_or_else(|| content_event_id(&raw));
    let logged = epoch_seconds(raw.get("_insertion_epoch_timestamp"));
    let event_timestamp = epoch_seconds(raw.get("timestamp"))
        .or(logged)
        .unwrap_or_else(Utc::now);
    let event_name = [
        "activity",
        "audit_log_event",
        "alert_name",
        "alert_type",
        "action",
        "type",
    ]
    .iter()
    .find_map(|f| text(f))
    .unwrap_or_else(|| stream.to_string());
    let number = |field: &str| {
        match raw.get(field)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|v| v.is_finite())
    };
    let user = text("user").or_else(|| text("ur_normalized"));
    let geo = text("src_country").map(|country| GeoEnrichment {
        country: Some(country),
        region: text("src_region"),
        city: text("src_location"),
        // Netskope's own placement of the address, used before any database lookup.
        latitude: number("src_latitude"),
        longitude: number("src_longitude"),
        ..GeoEnrichment::default()
    });
    let object_name = text("file_name").or_else(|| text("object"));
    let enrichments = Enrichments {
        geo,
        user_agent: text("useragent"),
        device: text("device").or_else(|| text("hostname")),
        exposure: None,
    };
    let actor_ip = text("srcip").or_else(|| text("userip"));
    let (object_path, from_email, target_user_email) =
        (text("file_path"), text("from_user"), text("to_user"));
    Activity {
        tenant_id: integration.tenant_id.clone(),
        event_id,
        event_name,
        event_timestamp,
        log_timestamp: logged,
        event_type: event_type(class.as_ref()),
        actor_id: None,
        actor_name: user.clone(),
        actor_email: user.filter(|u| u.contains('@')),
        actor_type: UserType::Unknown,
        actor_role: None,
        actor_ip,
        // Netskope reports on files it saw in transit or at a service: there is no object here
        // the CASB could open or act on.
        object_id: None,
        file_download_url: None,
        object_type: object_name.as_ref().map(|_| "file".into()),
        object_name,
        object_path,
        from_email,
        target_user_email,
        target_user_id: None,
        target_user_type: None,
        role_granted: None,
        shared_link: None,
        link_visibility: None,
        provider: Provider::Netskope,
        integration_id: integration.id.clone(),
        ingest_path: IngestPath::Pull,
        raw,
        enrichments,
        identity: None,
        incomplete: None,
        seen_by: Vec::new(),
    }
}

#[async_trait]
impl Connector for NetskopeConnector {
    fn provider(&self) -> Provider {
        Provider::Netskope
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
                name: "tenant",
                description: "the Netskope tenant's host, e.g. acme.goskope.com",
                kind: SettingKind::Text,
                required: true,
            },
            SettingSpec {
                name: "event_types",
                description: "event types to read (default all: application, page, network, infrastructure, audit, incident, endpoint)",
                kind: SettingKind::List,
                required: false,
            },
            SettingSpec {
                name: "alert_types",
                description: "alert types to read (default all: dlp, malware, malsite, policy, compromisedcredential, uba, watchlist, ctep, quarantine, remediation, securityassessment)",
                kind: SettingKind::List,
                required: false,
            },
            SettingSpec {
                name: "backfill_hours",
                description: "how many hours of history a new stream starts with (default 0: from now)",
                kind: SettingKind::Text,
                required: false,
            },
        ]
    }

    fn streams(&self, integration: &Integration) -> Vec<StreamSpec> {
        let mut streams = Vec::new();
        for kind in list_setting(integration, "event_types", EVENT_TYPES) {
            let mut spec = StreamSpec::new(
                &format!("events/{kind}"),
                &format!("Netskope {kind} events"),
            );
            spec.provider_cursor = true;
            streams.push(spec);
        }
        for kind in list_setting(integration, "alert_types", ALERT_TYPES) {
            let mut spec = StreamSpec::new(
                &format!("alerts/{kind}"),
                &format!("Netskope {kind} alerts"),
            );
            spec.provider_cursor = true;
            streams.push(spec);
        }
        streams
    }

    /// A call on the first stream's endpoint with `operation=tail` under this integration's
    /// own index name (the stream starts with an epoch call later, which repositions it): 401
    /// refuses the token before anything is kept.
    async fn check_credentials(
        &self,
        integration: &Integration,
        access_token: &SecretString,
    ) -> Result<GrantInfo, ConnectorError> {
        let origin = self.origin(integration)?;
        let host = origin.host_str().unwrap_or_default().to_string();
        if let Some(stream) = self.streams(integration).first() {
            let mut url = origin.clone();
            url.set_path(&format!("/api/v2/events/dataexport/{}", stream.id));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            match self
                .fetch(
                    &url,
                    &index_name(integration, &stream.id),
                    "tail",
                    access_token,
                    deadline,
                )
                .await
            {
                // The token works; a stream it may not read is reported on that stream.
                Ok(_) | Err(ConnectorError::Forbidden(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(GrantInfo {
            external_tenant_id: Some(host.clone()),
            display_name: format!("Netskope {host}"),
            admin_email: None,
        })
    }

    async fn initial_cursor(
        &self,
        integration: &Integration,
        _access_token: &SecretString,
        _stream: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let hours = integration
            .settings
            .get("backfill_hours")
            .and_then(|v| {
                v.as_str()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .or(v.as_i64())
            })
            .unwrap_or(0)
            .clamp(0, 24 * 90);
        let start = Utc::now() - chrono::Duration::hours(hours);
        Ok(Some(format!("{CURSOR_START}{}", start.timestamp())))
    }

    async fn poll(
        &self,
        integration: &Integration,
        access_token: &SecretString,
        request: &PollRequest<'_>,
    ) -> Result<PollPage, ConnectorError> {
        let Some((kind, event_type)) = request.stream.split_once('/') else {
            return Err(ConnectorError::Permanent(format!(
                "unknown Netskope stream '{}'",
                request.stream
            )));
        };
        let known = match kind {
            "events" => EVENT_TYPES,
            "alerts" => ALERT_TYPES,
            _ => &[][..],
        };
        if !known.contains(&event_type) {
            return Err(ConnectorError::Permanent(format!(
                "unknown Netskope stream '{}'",
                request.stream
            )));
        }
        let mut url = self.origin(integration)?;
        url.set_path(&format!("/api/v2/events/dataexport/{kind}/{event_type}"));
        let operation = if request.redeliver {
            "resend".to_string()
        } else {
            match request.cursor {
                Some(cursor) if cursor.starts_with(CURSOR_START) => {
                    cursor[CURSOR_START.len()..].to_string()
                }
                // A stream seeded before it had a start (or a lost checkpoint): from now.
                None | Some("") => Utc::now().timestamp().to_string(),
                Some(_) => CURSOR_NEXT.to_string(),
            }
        };
        let index = index_name(integration, request.stream);
        let fetched = self
            .fetch(&url, &index, &operation, access_token, request.deadline)
            .await?;
        let resent = fetched.operation == "resend";
        let activities: Vec<Activity> = fetched
            .events
            .iter()
            .map(|event| map_event(integration, request.stream, event))
            .collect();
        Ok(PollPage {
            // After a resend the next page is still to be asked for.
            has_more: !activities.is_empty() || resent,
            activities,
            next_cursor: CURSOR_NEXT.to_string(),
            wait_before_next: fetched.wait,
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
                "Netskope is a source of security events here; {} is not done through it",
                action.kind.as_str()
            ),
        })
    }
}
