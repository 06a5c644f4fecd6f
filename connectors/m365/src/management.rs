//! The Office 365 Management Activity API (saas-apis.md §2.2): subscriptions per content
//! type, content listing in windows, blobs of records, and the stream cursor that makes the
//! feed lossless although its content shows up late and its records repeat.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use casb_shared::connector::http::{read_capped, HostAllowList, ProviderHttp};
use casb_shared::connector::ConnectorError;

/// The content types an integration is polled for unless its `content_types` setting says
/// otherwise: SharePoint and OneDrive files and sharing, Azure AD sign-ins, everything else.
pub const DEFAULT_CONTENT_TYPES: [&str; 3] = [
    "Audit.SharePoint",
    "Audit.AzureActiveDirectory",
    "Audit.General",
];
/// Every content type the API offers (`DLP.All` needs `ActivityFeed.ReadDlp`).
pub const CONTENT_TYPES: [&str; 5] = [
    "Audit.SharePoint",
    "Audit.AzureActiveDirectory",
    "Audit.General",
    "Audit.Exchange",
    "DLP.All",
];

/// The API lists at most 24 hours per request, starting no more than 7 days ago.
const MAX_WINDOW: Duration = Duration::hours(24);
/// A little inside the 7 days, so a request built now is still valid when it arrives.
const OLDEST_START: Duration = Duration::minutes(7 * 24 * 60 - 10);
/// The largest blob we read (blobs hold a few thousand records at most).
const MAX_BLOB_BYTES: u64 = 64 * 1024 * 1024;

/// One item of a content listing (or of a webhook notification).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentItem {
    pub content_type: String,
    pub content_id: String,
    pub content_uri: String,
    pub content_created: String,
    #[serde(default)]
    pub content_expiration: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A webhook the API posts content notifications to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSpec {
    pub address: String,
    pub auth_id: String,
    pub expiration: String,
}

/// The Management API of one tenant, called with one token.
pub struct ManagementApi<'a> {
    pub http: &'a ProviderHttp,
    /// `https://manage.office.com`
    pub base: &'a str,
    pub tenant: &'a str,
    pub token: &'a SecretString,
    /// Our vendor tenant GUID: sent on every call, so our quota is ours alone.
    pub publisher: &'a str,
    /// Hosts a `contentUri` may point at.
    pub content_hosts: &'a HostAllowList,
}

/// The Management API's error body: `{"error":{"code":"AF20022","message":"..."}}`.
fn error_code(body: &[u8]) -> (String, String) {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error = &parsed["error"];
    (
        error["code"].as_str().unwrap_or_default().to_string(),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// Why a Management API call failed, as a connector error a person can act on.
fn api_error(status: StatusCode, body: &[u8]) -> ConnectorError {
    let (code, message) = error_code(body);
    match (status, code.as_str()) {
        (_, "AF20022") | (_, "AF20023") => ConnectorError::Permanent(format!(
            "{code}: the subscription is not enabled ({message})"
        )),
        (StatusCode::FORBIDDEN, _) => ConnectorError::Forbidden(format!(
            "{code}: {message} (grant the application ActivityFeed.Read and turn on unified audit logging)"
        )),
        (_, "AF429") | (StatusCode::TOO_MANY_REQUESTS, _) => ConnectorError::RateLimited {
            retry_after: std::time::Duration::from_secs(60),
        },
        (_, "AF50000") => ConnectorError::Transient(format!("{code}: {message}")),
        _ => ConnectorError::Permanent(format!(
            "Management Activity API answered {status}: {code} {message}"
        )),
    }
}

/// Whether an error says the content type's subscription is not started.
pub fn not_subscribed(error: &ConnectorError) -> bool {
    matches!(error, ConnectorError::Permanent(m) if m.starts_with("AF20022") || m.starts_with("AF20023"))
}

impl ManagementApi<'_> {
    fn feed(&self, operation: &str) -> String {
        format!(
            "{}/api/v1.0/{}/activity/feed/{operation}",
            self.base.trim_end_matches('/'),
            self.tenant
        )
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>, Option<String>), ConnectorError> {
        let mut query = query.to_vec();
        query.push(("PublisherIdentifier", self.publisher.to_string()));
        let response = self
            .http
            .send(|client| {
                let request = client
                    .request(method.clone(), url)
                    .query(&query)
                    .bearer_auth(self.token.expose_secret());
                match body {
                    Some(body) => request.json(body),
                    // The API wants a length on POSTs without a body.
                    None if method == reqwest::Method::POST => request
                        .header(reqwest::header::CONTENT_LENGTH, "0")
                        .body(Vec::new()),
                    None => request,
                }
            })
            .await?;
        let status = response.status();
        let next_page = response
            .headers()
            .get("NextPageUri")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = read_capped(response, MAX_BLOB_BYTES).await?;
        if !status.is_success() {
            return Err(api_error(status, &bytes));
        }
        Ok((status, bytes, next_page))
    }

    /// Starts (or re-enables, or changes the webhook of) a content type's subscription. An
    /// already enabled subscription is success.
    pub async fn start(
        &self,
        content_type: &str,
        webhook: Option<&WebhookSpec>,
    ) -> Result<(), ConnectorError> {
        let body = webhook.map(|w| serde_json::json!({ "webhook": w }));
        match self
            .call(
                reqwest::Method::POST,
                &self.feed("subscriptions/start"),
                &[("contentType", content_type.to_string())],
                body.as_ref(),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(ConnectorError::Permanent(m)) if m.contains("AF20024") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Stops a content type's subscription (and its webhook). Not subscribed is success.
    pub async fn stop(&self, content_type: &str) -> Result<(), ConnectorError> {
        match self
            .call(
                reqwest::Method::POST,
                &self.feed("subscriptions/stop"),
                &[("contentType", content_type.to_string())],
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if not_subscribed(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The content available in `[start, end)` by `contentCreated`, one page, and the next
    /// page's address.
    pub async fn list_content(
        &self,
        content_type: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<(Vec<ContentItem>, Option<String>), ConnectorError> {
        let format = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let (_, bytes, next) = self
            .call(
                reqwest::Method::GET,
                &self.feed("subscriptions/content"),
                &[
                    ("contentType", content_type.to_string()),
                    ("startTime", format(start)),
                    ("endTime", format(end)),
                ],
                None,
            )
            .await?;
        Ok((parse_items(&bytes)?, next))
    }

    /// A further page of a listing, from its `NextPageUri` (only on the API's own host).
    pub async fn list_next(
        &self,
        next_page: &str,
    ) -> Result<(Vec<ContentItem>, Option<String>), ConnectorError> {
        let url = self.checked(next_page)?;
        let (_, bytes, next) = self.call(reqwest::Method::GET, &url, &[], None).await?;
        Ok((parse_items(&bytes)?, next))
    }

    /// The records of one blob. Content past its expiry (AF20051) is gone: an empty list.
    pub async fn fetch_blob(&self, content_uri: &str) -> Result<Vec<Value>, ConnectorError> {
        let url = self.checked(content_uri)?;
        match self.call(reqwest::Method::GET, &url, &[], None).await {
            Ok((_, bytes, _)) => serde_json::from_slice::<Vec<Value>>(&bytes).map_err(|e| {
                ConnectorError::Permanent(format!("a content blob is not a JSON array: {e}"))
            }),
            Err(ConnectorError::Permanent(m)) if m.contains("AF20051") => {
                tracing::warn!("content blob expired before it was fetched; its records are lost");
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// `url` if it is on the Management API's hosts: a notification or a listing can never
    /// make us send our token elsewhere. The publisher parameter is added by [`Self::call`].
    fn checked(&self, url: &str) -> Result<String, ConnectorError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| ConnectorError::Permanent(format!("bad content URL: {e}")))?;
        if !self.content_hosts.permits(&parsed) {
            return Err(ConnectorError::Permanent(format!(
                "refusing content from {}: not the Management API's host",
                parsed.host_str().unwrap_or("?")
            )));
        }
        let mut cleaned = parsed.clone();
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("PublisherIdentifier"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        cleaned.set_query(None);
        if !kept.is_empty() {
            cleaned.query_pairs_mut().extend_pairs(kept);
        }
        Ok(cleaned.to_string())
    }
}

fn parse_items(bytes: &[u8]) -> Result<Vec<ContentItem>, ConnectorError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ConnectorError::Permanent(format!("a content listing is not readable: {e}")))
}

/// Where a content type's stream is. Content is listed by `contentCreated`, but a blob can be
/// listed hours after the time it carries: every listing reaches back [`Cursor::reach_back`]
/// before `listed_to`, and the blobs already fetched there (`seen`) are skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Content created before this was listed (apart from what arrives late).
    pub listed_to: Option<DateTime<Utc>>,
    /// Blobs fetched whose time is within the reach-back, by content id, with that time.
    #[serde(default)]
    pub seen: BTreeMap<String, DateTime<Utc>>,
    /// Blobs listed but not fetched yet.
    #[serde(default)]
    pub pending: Vec<ContentItem>,
    /// The rest of the current listing.
    #[serde(default)]
    pub next_page: Option<String>,
    /// The end of the current listing's window.
    #[serde(default)]
    pub window_end: Option<DateTime<Utc>>,
}

impl Cursor {
    pub fn starting_at(now: DateTime<Utc>) -> Self {
        Cursor {
            listed_to: Some(now),
            ..Cursor::default()
        }
    }

    pub fn parse(raw: Option<&str>, now: DateTime<Utc>) -> Self {
        raw.and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_else(|| Cursor::starting_at(now))
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The next window to list: from `reach_back` before `listed_to` (never more than 7 days
    /// ago) for at most 24 hours, ending no later than now.
    pub fn next_window(
        &self,
        now: DateTime<Utc>,
        reach_back: Duration,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let listed_to = self.listed_to.unwrap_or(now);
        let start = (listed_to - reach_back).max(now - OLDEST_START);
        let end = (start + MAX_WINDOW).min(now);
        (end > start).then_some((start, end))
    }

    /// Adds a listing page: blobs not fetched yet become pending.
    pub fn listed(&mut self, items: Vec<ContentItem>, next_page: Option<String>) {
        for item in items {
            let known = self.seen.contains_key(&item.content_id)
                || self.pending.iter().any(|p| p.content_id == item.content_id);
            if !known {
                self.pending.push(item);
            }
        }
        self.next_page = next_page;
        if self.next_page.is_none() {
            if let Some(end) = self.window_end.take() {
                self.listed_to = Some(self.listed_to.map_or(end, |t| t.max(end)));
            }
        }
    }

    /// A pending blob was fetched (its records are in the page being returned).
    pub fn fetched(&mut self, item: &ContentItem) {
        self.pending.retain(|p| p.content_id != item.content_id);
        let created = crate::records::parse_time(&item.content_created).unwrap_or_else(Utc::now);
        self.seen.insert(item.content_id.clone(), created);
    }

    /// Forgets blobs too old to be listed again.
    pub fn prune(&mut self, reach_back: Duration) {
        if let Some(listed_to) = self.listed_to {
            let horizon = listed_to - reach_back - Duration::hours(1);
            self.seen.retain(|_, created| *created >= horizon);
        }
    }

    /// Whether there is more to do right away: blobs to fetch, pages to read, or a backlog
    /// of more than a few minutes.
    pub fn has_more(&self, now: DateTime<Utc>) -> bool {
        !self.pending.is_empty()
            || self.next_page.is_some()
            || self
                .listed_to
                .is_some_and(|t| t < now - Duration::minutes(5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, created: &str) -> ContentItem {
        ContentItem {
            content_type: "Audit.SharePoint".into(),
            content_id: id.into(),
            content_uri: format!("https://manage.office.com/api/v1.0/t/activity/feed/audit/{id}"),
            content_created: created.into(),
            content_expiration: None,
            tenant_id: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn windows_reach_back_and_respect_the_api_limits() {
        let now = at("2026-11-29T12:00:00Z");
        let reach_back = Duration::hours(6);
        let cursor = Cursor::starting_at(now - Duration::minutes(10));
        let (start, end) = cursor.next_window(now, reach_back).unwrap();
        assert_eq!(start, now - Duration::minutes(10) - reach_back);
        assert_eq!(end, now);
        // A stream paused for ten days resumes at the oldest start the API allows, 24 h at a time.
        let old = Cursor::starting_at(now - Duration::days(10));
        let (start, end) = old.next_window(now, reach_back).unwrap();
        assert!(start >= now - Duration::days(7));
        assert_eq!(end - start, Duration::hours(24));
    }

    #[test]
    fn a_blob_is_fetched_once_even_when_listed_again_and_late_ones_are_picked_up() {
        let now = at("2026-11-29T12:00:00Z");
        let mut cursor = Cursor::starting_at(now - Duration::hours(1));
        cursor.window_end = Some(now);
        cursor.listed(vec![item("a", "2026-11-29T11:30:00.000Z")], None);
        assert_eq!(cursor.listed_to, Some(now));
        let a = cursor.pending[0].clone();
        cursor.fetched(&a);
        assert!(cursor.pending.is_empty());
        // The next listing reaches back over "a" and finds a late blob created earlier.
        cursor.window_end = Some(now + Duration::minutes(1));
        cursor.listed(
            vec![
                item("a", "2026-11-29T11:30:00.000Z"),
                item("late", "2026-11-29T09:00:00.000Z"),
            ],
            None,
        );
        assert_eq!(cursor.pending.len(), 1);
        assert_eq!(cursor.pending[0].content_id, "late");
        // Paging: until the last page, the window is not done.
        cursor.window_end = Some(now + Duration::minutes(2));
        cursor.listed(vec![], Some("https://manage.office.com/next".into()));
        assert_eq!(cursor.listed_to, Some(now + Duration::minutes(1)));
        assert!(cursor.has_more(now));
        // Seen blobs older than the reach-back are forgotten; the cursor survives a round trip.
        cursor.prune(Duration::hours(6));
        assert!(cursor.seen.contains_key("a"));
        cursor.listed_to = Some(now + Duration::hours(8));
        cursor.prune(Duration::hours(6));
        assert!(!cursor.seen.contains_key("a"));
        let copy = Cursor::parse(Some(&cursor.encode()), now);
        assert_eq!(copy, cursor);
    }
}
