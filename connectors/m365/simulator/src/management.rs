//! The Office 365 Management Activity API (manage.office.com), per
//! `office-365-management-activity-api-reference.md`: subscriptions (start, stop, list),
//! content listing with `NextPageUri` paging, content blobs, and webhooks (validation on
//! start, then a notification per new blob).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::error::ManageError;
use crate::server::{query_params, Shared};
use crate::state::{
    ContentBlob, ManagementSubscription, ManagementWebhook, ManagementWebhookDelivery, Resource,
    SimState,
};

/// The content types the reference lists.
pub const CONTENT_TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

/// Longest listing window, and how far back a window may start.
const MAX_WINDOW: chrono::Duration = chrono::Duration::hours(24);
const RETENTION: chrono::Duration = chrono::Duration::days(7);

const WINDOW_MESSAGE: &str = "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.";

/// The content type as the service spells it (the query value is matched case-insensitively).
fn canonical_content_type(value: &str) -> Option<&'static str> {
    CONTENT_TYPES
        .iter()
        .copied()
        .find(|known| known.eq_ignore_ascii_case(value))
}

/// Microsoft's time format on the feed: milliseconds and `Z`.
pub(crate) fn feed_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The datetime forms the reference documents (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`,
/// `YYYY-MM-DDTHH:MM:SS`, all UTC), plus fractions and a `Z` or offset, which clients
/// commonly send.
fn parse_feed_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let text = text.trim_end_matches(['Z', 'z']);
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Some(time.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
}

/// Counts every call and whether it named a `PublisherIdentifier` (which shares one
/// throttling quota among all callers without one).
pub(crate) async fn count_call(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let params = query_params(request.uri().query());
    let has_publisher = params
        .get("publisheridentifier")
        .is_some_and(|value| !value.is_empty());
    shared.with_state(|state| {
        state.management_calls += 1;
        if !has_publisher {
            state.management_calls_without_publisher += 1;
        }
    });
    next.run(request).await
}

/// An endpoint the simulator does not serve (`AF404` is the simulator's own code, in the
/// documented body shape).
pub(crate) async fn not_found() -> Response {
    ManageError::new(404, "AF404", "The simulator does not serve this endpoint.").into_response()
}

impl SimState {
    /// The checks every feed operation starts with: a manage token, for the tenant in the URL.
    fn authorize_feed(&self, headers: &HeaderMap, tenant: &str) -> Result<(), ManageError> {
        let token = self
            .authenticate(headers, Resource::Manage)
            .map_err(|refusal| refusal.to_manage_error())?;
        if uuid::Uuid::parse_str(tenant).is_err() {
            return Err(ManageError::new(
                400,
                "AF20013",
                format!("The tenant ID passed in the URL ({tenant}) is not a valid GUID."),
            ));
        }
        if !tenant.eq_ignore_ascii_case(&token.tenant_id) {
            // [GUESS] the status is not documented; 403 since retrying cannot help.
            return Err(ManageError::new(
                403,
                "AF20010",
                format!(
                    "The tenant ID passed in the URL ({tenant}) does not match the tenant ID passed in the access token ({}).",
                    token.tenant_id
                ),
            ));
        }
        Ok(())
    }

    fn subscription_json(subscription: &ManagementSubscription) -> Value {
        json!({
            "contentType": subscription.content_type,
            "status": "enabled",
            "webhook": subscription.webhook.as_ref().map(|hook| json!({
                "status": hook.status(),
                "address": hook.address,
                "authId": hook.auth_id,
                "expiration": hook.expiration.as_ref().map(feed_time),
            })),
        })
    }

    fn require_subscription(&self, content_type: &str) -> Result<(), ManageError> {
        if self.subscriptions.contains_key(content_type) {
            Ok(())
        } else {
            Err(ManageError::new(
                400,
                "AF20022",
                "No subscription found for the specified content type.",
            ))
        }
    }
}

fn content_type_param(params: &HashMap<String, String>) -> Result<&'static str, ManageError> {
    let value = params
        .get("contenttype")
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ManageError::new(400, "AF20001", "Missing parameter: contentType."))?;
    canonical_content_type(value)
        .ok_or_else(|| ManageError::new(400, "AF20020", "The specified content type is not valid."))
}

/// The webhook part of a start request, validated but not yet checked against its address.
struct RequestedWebhook {
    address: String,
    auth_id: Option<String>,
    expiration: Option<DateTime<Utc>>,
}

fn requested_webhook(body: &[u8]) -> Result<Option<RequestedWebhook>, ManageError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let parsed: Value = serde_json::from_slice(body).map_err(|_| {
        ManageError::new(
            400,
            "AF20002",
            "Invalid parameter type: webhook. Expected type: json",
        )
    })?;
    let Some(webhook) = parsed.get("webhook").filter(|hook| !hook.is_null()) else {
        return Ok(None);
    };
    let address = webhook
        .get("address")
        .and_then(Value::as_str)
        .filter(|address| !address.is_empty())
        .ok_or_else(|| ManageError::new(400, "AF20001", "Missing parameter: address."))?
        .to_string();
    let auth_id = webhook
        .get("authId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_string);
    let expiration = match webhook.get("expiration") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.is_empty() => None,
        Some(Value::String(text)) => {
            let time = parse_feed_time(text).ok_or_else(|| {
                ManageError::new(
                    400,
                    "AF20002",
                    "Invalid parameter type: expiration. Expected type: datetime",
                )
            })?;
            if time <= Utc::now() {
                return Err(ManageError::new(
                    400,
                    "AF20003",
                    format!("Expiration {text} provided is set to past date and time."),
                ));
            }
            Some(time)
        }
        Some(_) => {
            return Err(ManageError::new(
                400,
                "AF20002",
                "Invalid parameter type: expiration. Expected type: datetime",
            ))
        }
    };
    Ok(Some(RequestedWebhook {
        address,
        auth_id,
        expiration,
    }))
}

/// `POST {root}/subscriptions/start?contentType=…` with an optional `{"webhook":{…}}` body.
/// Starts the subscription, or updates, re-enables or removes its webhook. A webhook is first
/// validated; if it does not answer 200, nothing changes and the call fails with AF20021.
pub(crate) async fn start_subscription(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = query_params(query.as_deref());
    let checked = shared.with_state(|state| -> Result<_, ManageError> {
        state.authorize_feed(&headers, &tenant)?;
        let content_type = content_type_param(&params)?;
        let webhook = requested_webhook(&body)?;
        Ok((
            content_type,
            webhook,
            state.config.management_webhook_timeout,
        ))
    });
    let (content_type, webhook, timeout) = match checked {
        Ok(checked) => checked,
        Err(error) => return error.into_response(),
    };
    // The simulator takes http:// addresses too, since test receivers listen on loopback
    // without TLS; Microsoft requires HTTPS ("The address must begin with HTTPS.").
    if let Some(hook) = &webhook {
        if !validate_webhook(&shared, content_type, hook, timeout).await {
            return ManageError::new(
                400,
                "AF20021",
                format!(
                    "The webhook endpoint {{{}}} could not be validated. The endpoint did not return HTTP 200.",
                    hook.address
                ),
            )
            .into_response();
        }
    }
    let answer = shared.with_state(|state| {
        let subscription = ManagementSubscription {
            content_type: content_type.to_string(),
            webhook: webhook.map(|hook| ManagementWebhook {
                address: hook.address,
                auth_id: hook.auth_id,
                expiration: hook.expiration,
            }),
        };
        let answer = SimState::subscription_json(&subscription);
        state
            .subscriptions
            .insert(content_type.to_string(), subscription);
        answer
    });
    (StatusCode::OK, axum::Json(answer)).into_response()
}

/// `POST {root}/subscriptions/stop?contentType=…`: the subscription is gone; content cannot
/// be listed or fetched until it is started again.
pub(crate) async fn stop_subscription(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    shared
        .with_state(|state| -> Result<Response, ManageError> {
            state.authorize_feed(&headers, &tenant)?;
            let content_type = content_type_param(&params)?;
            state.require_subscription(content_type)?;
            state.subscriptions.remove(content_type);
            // The reference's sample answer is a bare 200 with an empty body.
            Ok(StatusCode::OK.into_response())
        })
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET {root}/subscriptions/list`.
pub(crate) async fn list_subscriptions(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    shared
        .with_state(|state| -> Result<Response, ManageError> {
            state.authorize_feed(&headers, &tenant)?;
            let list: Vec<Value> = state
                .subscriptions
                .values()
                .map(SimState::subscription_json)
                .collect();
            Ok(axum::Json(list).into_response())
        })
        .unwrap_or_else(IntoResponse::into_response)
}

/// The listing window: both bounds or neither (the last 24 hours), at most 24 hours long, and
/// starting at most 7 days ago. Live observations of the service (quoted in public client
/// code) see AF20055 for a too-long or too-old window, where the reference lists AF20030 with
/// the same message; the simulator answers AF20055 for those and AF20030 for a missing or
/// inverted bound.
fn listing_window(
    params: &HashMap<String, String>,
) -> Result<(DateTime<Utc>, DateTime<Utc>, bool), ManageError> {
    let start = params.get("starttime").filter(|v| !v.is_empty());
    let end = params.get("endtime").filter(|v| !v.is_empty());
    let invalid_time = |name: &str| {
        ManageError::new(
            400,
            "AF20002",
            format!("Invalid parameter type: {name}. Expected type: datetime"),
        )
    };
    let now = Utc::now();
    let (start, end, explicit) = match (start, end) {
        (None, None) => {
            // The default window ends just after now so that a blob created this millisecond
            // is in it (`contentCreated < endTime`).
            let end = now + chrono::Duration::milliseconds(1);
            (end - MAX_WINDOW, end, false)
        }
        (Some(start), Some(end)) => (
            parse_feed_time(start).ok_or_else(|| invalid_time("startTime"))?,
            parse_feed_time(end).ok_or_else(|| invalid_time("endTime"))?,
            true,
        ),
        _ => return Err(ManageError::new(400, "AF20030", WINDOW_MESSAGE)),
    };
    if end <= start {
        return Err(ManageError::new(400, "AF20030", WINDOW_MESSAGE));
    }
    if end - start > MAX_WINDOW || start < now - RETENTION {
        return Err(ManageError::new(400, "AF20055", WINDOW_MESSAGE));
    }
    Ok((start, end, explicit))
}

/// `nextPage` values look like the reference's `2015101900R022885001761`: the window start
/// hour, `R`, and the publication sequence of the last item already served.
fn next_page_token(start: &DateTime<Utc>, last_sequence: u64) -> String {
    format!("{}R{last_sequence:015}", start.format("%Y%m%d%H"))
}

fn parse_next_page(token: &str) -> Option<u64> {
    let (_, sequence) = token.split_once('R')?;
    sequence.parse().ok()
}

impl SimState {
    pub(crate) fn content_uri(&self, manage_origin: &str, content_id: &str) -> String {
        format!(
            "{manage_origin}/api/v1.0/{}/activity/feed/audit/{content_id}",
            self.config.tenant_id
        )
    }

    fn content_item(&self, manage_origin: &str, blob: &ContentBlob) -> Value {
        json!({
            "contentType": blob.content_type,
            "contentId": blob.content_id,
            "contentUri": self.content_uri(manage_origin, &blob.content_id),
            "contentCreated": feed_time(&blob.content_created),
            "contentExpiration": feed_time(&(blob.content_created + RETENTION)),
        })
    }
}

/// `GET {root}/subscriptions/content?contentType&startTime&endTime[&nextPage]`: the blobs
/// with `startTime <= contentCreated < endTime`, in publication order, `content_page_size` at
/// a time; `NextPageUri` (absolute, on this listener) names the next page until the last.
pub(crate) async fn list_content(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    let manage_origin = shared.urls.manage.clone();
    shared
        .with_state(|state| -> Result<Response, ManageError> {
            state.authorize_feed(&headers, &tenant)?;
            let content_type = content_type_param(&params)?;
            state.require_subscription(content_type)?;
            let (start, end, explicit) = listing_window(&params)?;
            let after_sequence = match params.get("nextpage").filter(|v| !v.is_empty()) {
                None => 0,
                Some(token) => parse_next_page(token).ok_or_else(|| {
                    ManageError::new(400, "AF20031", format!("Invalid nextPage Input: {token}."))
                })?,
            };
            let page_size = state.config.content_page_size.max(1);
            let mut matching = state.blobs.iter().filter(|blob| {
                blob.content_type == content_type
                    && blob.sequence > after_sequence
                    && start <= blob.content_created
                    && blob.content_created < end
            });
            let page: Vec<&ContentBlob> = matching.by_ref().take(page_size).collect();
            let more = matching.next().is_some();
            let items: Vec<Value> = page
                .iter()
                .map(|blob| state.content_item(&manage_origin, blob))
                .collect();
            let mut response = axum::Json(items).into_response();
            if let (true, Some(last)) = (more, page.last()) {
                // The next page repeats the window; an implicit window is made explicit, as
                // the reference describes.
                let (start_text, end_text) = if explicit {
                    (
                        params.get("starttime").cloned().unwrap_or_default(),
                        params.get("endtime").cloned().unwrap_or_default(),
                    )
                } else {
                    (feed_time(&start), feed_time(&end))
                };
                let mut next_params = vec![
                    ("contentType", content_type.to_string()),
                    ("startTime", start_text),
                    ("endTime", end_text),
                ];
                // Keeping the caller's PublisherIdentifier in the next page's URL is a
                // simulator choice [GUESS]; the reference's example omits it.
                if let Some(publisher) = params.get("publisheridentifier") {
                    next_params.push(("PublisherIdentifier", publisher.clone()));
                }
                next_params.push(("nextPage", next_page_token(&start, last.sequence)));
                let next_uri = format!(
                    "{manage_origin}/api/v1.0/{tenant}/activity/feed/subscriptions/content?{}",
                    serde_urlencoded::to_string(&next_params).unwrap_or_default()
                );
                if let Ok(value) = HeaderValue::from_str(&next_uri) {
                    response.headers_mut().insert("NextPageUri", value);
                }
            }
            Ok(response)
        })
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET {root}/subscriptions/notifications?contentType&startTime&endTime`: the notification
/// attempts for the content type whose content was created in the window (same window rules
/// as the content listing), with `notificationSent` and `notificationStatus`. One page (the
/// simulator keeps few).
pub(crate) async fn list_notifications(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    shared
        .with_state(|state| -> Result<Response, ManageError> {
            state.authorize_feed(&headers, &tenant)?;
            let content_type = content_type_param(&params)?;
            state.require_subscription(content_type)?;
            let (start, end, _) = listing_window(&params)?;
            let attempts: Vec<Value> = state
                .deliveries
                .iter()
                .filter(|delivery| !delivery.validation && delivery.content_type == content_type)
                .flat_map(|delivery| {
                    let items = delivery.body.as_array().cloned().unwrap_or_default();
                    items.into_iter().filter_map(move |mut item| {
                        let created = item["contentCreated"].as_str().and_then(parse_feed_time)?;
                        if created < start || created >= end {
                            return None;
                        }
                        let object = item.as_object_mut()?;
                        object.remove("tenantId");
                        object.remove("clientId");
                        object.insert(
                            "notificationSent".to_string(),
                            json!(feed_time(&delivery.sent_at)),
                        );
                        object.insert(
                            "notificationStatus".to_string(),
                            json!(if delivery.succeeded() {
                                "success"
                            } else {
                                "failed"
                            }),
                        );
                        Some(item)
                    })
                })
                .collect();
            Ok(axum::Json(attempts).into_response())
        })
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET {root}/audit/{contentId}`: the blob's records, a JSON array.
pub(crate) async fn fetch_blob(
    State(shared): State<Arc<Shared>>,
    Path((tenant, content_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    shared
        .with_state(|state| -> Result<Response, ManageError> {
            state.authorize_feed(&headers, &tenant)?;
            let blob = state
                .blobs
                .iter()
                .find(|blob| blob.content_id == content_id)
                .ok_or_else(|| {
                    ManageError::new(
                        404,
                        "AF20050",
                        format!("The specified content ({content_id}) does not exist."),
                    )
                })?;
            // "If a subscription is disabled, you will not be able to list or retrieve
            // content."
            state.require_subscription(&blob.content_type)?;
            if blob.content_created + RETENTION <= Utc::now() {
                return Err(ManageError::new(
                    400,
                    "AF20051",
                    format!("Content requested with the key {content_id} has already expired. Content older than 7 days cannot be retrieved."),
                ));
            }
            Ok(axum::Json(blob.records.clone()).into_response())
        })
        .unwrap_or_else(IntoResponse::into_response)
}

/// A workload tag in content ids, after the reference's examples (`spo`, `aad`) [the others
/// are GUESSES].
fn workload_tag(content_type: &str) -> &'static str {
    match content_type {
        "Audit.SharePoint" => "spo",
        "Audit.AzureActiveDirectory" => "aad",
        "Audit.Exchange" => "exo",
        "DLP.All" => "dlp",
        _ => "gen",
    }
}

/// A notification waiting to be sent once the state lock is released.
pub(crate) struct PendingNotification {
    content_type: String,
    address: String,
    auth_id: Option<String>,
    content_id: String,
    body: Value,
}

impl SimState {
    /// Stores a new blob and returns its id, plus the notification its content type's
    /// webhook (if any, and not expired) is owed.
    pub(crate) fn publish_blob(
        &mut self,
        manage_origin: &str,
        content_type: &str,
        records: Vec<Value>,
        content_created: DateTime<Utc>,
    ) -> (String, Option<PendingNotification>) {
        let content_type = canonical_content_type(content_type)
            .map(str::to_string)
            .unwrap_or_else(|| content_type.to_string());
        let sequence = self.next_blob_sequence;
        self.next_blob_sequence += 1;
        // Shaped like the reference's ids:
        // `492638008028$492638008028$f28ab78a…spo2015043022$4a81a7c3…$04`.
        let content_id = format!(
            "{sequence:012}${sequence:012}${}{}{}${}$04",
            self.config.tenant_id.replace('-', "").to_ascii_lowercase(),
            workload_tag(&content_type),
            content_created.format("%Y%m%d%H"),
            uuid::Uuid::new_v4().simple(),
        );
        let blob = ContentBlob {
            sequence,
            content_type: content_type.clone(),
            content_id: content_id.clone(),
            content_created,
            records,
        };
        let notification = self
            .subscriptions
            .get(&content_type)
            .and_then(|subscription| subscription.webhook.as_ref())
            .filter(|hook| hook.status() == "enabled")
            .map(|hook| {
                let mut item = self.content_item(manage_origin, &blob);
                item["tenantId"] = json!(self.config.tenant_id);
                item["clientId"] = json!(self.config.client_id);
                PendingNotification {
                    content_type: content_type.clone(),
                    address: hook.address.clone(),
                    auth_id: hook.auth_id.clone(),
                    content_id: content_id.clone(),
                    body: json!([item]),
                }
            });
        self.blobs.push(blob);
        (content_id, notification)
    }
}

/// POSTs `body` to a webhook once; the status, or the transport error.
async fn post_webhook(
    shared: &Shared,
    address: &str,
    auth_id: Option<&str>,
    validation_code: Option<&str>,
    body: &Value,
    timeout: Duration,
) -> (Option<u16>, Option<String>) {
    let mut request = shared
        .http
        .post(address)
        .timeout(timeout)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string());
    if let Some(auth_id) = auth_id {
        request = request.header("Webhook-AuthID", auth_id);
    }
    if let Some(code) = validation_code {
        request = request.header("Webhook-ValidationCode", code);
    }
    match request.send().await {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(error) => (None, Some(error.to_string())),
    }
}

fn log_delivery(shared: &Shared, delivery: ManagementWebhookDelivery) {
    shared.with_state(|state| state.deliveries.push(delivery));
    shared.delivery_notify.notify_waiters();
}

/// The validation POST `/start` sends before it keeps a webhook; true if it got 200.
async fn validate_webhook(
    shared: &Shared,
    content_type: &str,
    hook: &RequestedWebhook,
    timeout: Duration,
) -> bool {
    let code = uuid::Uuid::new_v4().simple().to_string();
    let body = json!({"validationCode": code});
    let (status, error) = post_webhook(
        shared,
        &hook.address,
        hook.auth_id.as_deref(),
        Some(&code),
        &body,
        timeout,
    )
    .await;
    log_delivery(
        shared,
        ManagementWebhookDelivery {
            address: hook.address.clone(),
            validation: true,
            content_type: content_type.to_string(),
            sent_at: Utc::now(),
            auth_id: hook.auth_id.clone(),
            content_ids: Vec::new(),
            attempt: 1,
            status,
            error,
            body,
        },
    );
    status == Some(200)
}

/// Sends a notification, retrying after the configured delays until it gets 200 ("Any
/// response other than HTTP 200 OK will be considered a failure and the notification will be
/// retried").
pub(crate) async fn deliver_notification(shared: Arc<Shared>, pending: PendingNotification) {
    let (timeout, delays) = shared.with_state(|state| {
        (
            state.config.management_webhook_timeout,
            state.config.management_webhook_retry_delays.clone(),
        )
    });
    let attempts = delays.len() as u32 + 1;
    for attempt in 1..=attempts {
        let (status, error) = post_webhook(
            &shared,
            &pending.address,
            pending.auth_id.as_deref(),
            None,
            &pending.body,
            timeout,
        )
        .await;
        log_delivery(
            &shared,
            ManagementWebhookDelivery {
                address: pending.address.clone(),
                validation: false,
                content_type: pending.content_type.clone(),
                sent_at: Utc::now(),
                auth_id: pending.auth_id.clone(),
                content_ids: vec![pending.content_id.clone()],
                attempt,
                status,
                error,
                body: pending.body.clone(),
            },
        );
        if status == Some(200) {
            return;
        }
        if let Some(delay) = delays.get(attempt as usize - 1) {
            tokio::time::sleep(*delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_times_parse_in_every_documented_form() {
        let expected = NaiveDate::from_ymd_opt(2015, 10, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        assert_eq!(parse_feed_time("2015-10-01"), expected);
        assert_eq!(parse_feed_time("2015-10-01T00:00"), expected);
        assert_eq!(parse_feed_time("2015-10-01T00:00:00"), expected);
        assert_eq!(parse_feed_time("2015-10-01T00:00:00.000Z"), expected);
        assert_eq!(parse_feed_time("2015-10-01T02:00:00+02:00"), expected);
        assert_eq!(parse_feed_time("yesterday"), None);
    }

    #[test]
    fn next_page_tokens_round_trip_and_reject_garbage() {
        let start = Utc::now();
        assert_eq!(parse_next_page(&next_page_token(&start, 42)), Some(42));
        assert_eq!(parse_next_page("2015101900"), None);
        assert_eq!(parse_next_page("R-1"), None);
    }

    #[test]
    fn content_types_match_case_insensitively_and_only_known_ones() {
        assert_eq!(
            canonical_content_type("audit.sharepoint"),
            Some("Audit.SharePoint")
        );
        assert_eq!(canonical_content_type("Audit.Teams"), None);
    }
}
