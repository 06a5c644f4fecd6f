//! Security-event log retrieval for SIEMs: the tenant's activities as OCSF records, in the
//! order the CASB received them, page after page through `next_link`.
//!
//! Pages follow the order activities were first stored, never their event time: a provider
//! delivering an hour-old event late would otherwise slip in behind a SIEM's cursor. The window
//! ends a settling time before now (`CASB_API_LOG_SETTLE_SECONDS`, a minute), so every write
//! that can still land in it (a clock read just before a slow store write) has landed: a page
//! read once is never short of a record that appears later, and a cursor never passes one.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::{bad_request, filtered_page, page_limit, ApiState, QueryParams};
use crate::domain::{EventType, Provider};
use crate::http::ApiError;
use crate::ocsf::{self, Mapped};
use crate::ports::StoredActivity;

/// The longest window one walk may cover.
pub const MAX_WINDOW: Duration = Duration::days(7);

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogFilter {
    /// The service (provider) the events came from.
    pub service: Option<Provider>,
    /// The CASB's event type (`data_sharing`, `login`, `login_failure`, ...).
    pub event_type: Option<EventType>,
    /// The OCSF class of the record (`6001` file activity, `3002` authentication, ...).
    pub class_uid: Option<u32>,
    /// Received at or after (RFC 3339); default: an hour before `end`.
    pub start: Option<DateTime<Utc>>,
    /// Received before (RFC 3339); default and at most: a minute ago. At most 7 days after
    /// `start`.
    pub end: Option<DateTime<Utc>>,
    /// 1 to 1000; default 500.
    pub limit: Option<usize>,
    /// Set by `next_link`; do not build it yourself.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogPage {
    /// OCSF 1.5.0 records (events no mapping covers come raw, with `casb_unmapped: true`),
    /// oldest first in the order received.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
    /// The next page of the same window, while there may be more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
    /// The window this walk covers: ask for `start = end` of it for the next window.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The walk's window and position, carried in `next_link`'s cursor.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    start: i64,
    end: i64,
    at: Option<(i64, String)>,
}

fn encode(position: &Position) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(position).unwrap_or_default())
}

fn decode(text: &str) -> Result<Position, ApiError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| bad_request("cursor is not one this API issued: follow next_link as given"))
}

fn millis(ms: i64) -> Result<DateTime<Utc>, ApiError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| bad_request("cursor is out of range"))
}

/// Security events for a SIEM, as OCSF records, in the order received.
#[utoipa::path(get, path = "/api/v1/logs", tag = "logs", params(LogFilter),
    responses(
        (status = 200, description = "One page of records", body = LogPage),
        (status = 400, description = "A filter or the window is not valid", body = ApiError),
        (status = 401, description = "Not authenticated", body = ApiError),
    ))]
pub(super) async fn security_events(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    uri: axum::extract::OriginalUri,
    QueryParams(filter): QueryParams<LogFilter>,
) -> Result<Json<LogPage>, ApiError> {
    let limit = page_limit(filter.limit, 500, 1000)?;
    let latest = state.core.backend.clock.now() - state.core.settings.api.log_settle;
    let position = match &filter.cursor {
        Some(text) => decode(text)?,
        None => {
            let end = filter.end.unwrap_or(latest).min(latest);
            let start = filter.start.unwrap_or(end - Duration::hours(1));
            if start > end {
                return Err(bad_request(format!(
                    "start ({start}) is after end ({end}); end is at most a minute ago"
                )));
            }
            if end - start > MAX_WINDOW {
                return Err(bad_request(
                    "the window is longer than 7 days: walk it in windows of 7 days or less",
                ));
            }
            Position {
                start: start.timestamp_millis(),
                end: end.timestamp_millis(),
                at: None,
            }
        }
    };
    let (start, end) = (millis(position.start)?, millis(position.end)?);
    // The window's start is where the walk begins: just before it.
    let begin = match &position.at {
        Some((ms, id)) => Some((millis(*ms)?, id.clone())),
        None => Some((start - Duration::milliseconds(1), "\u{10ffff}".to_string())),
    };
    let options = ocsf::Options {
        raw_data: state.core.settings.export_raw_data,
    };
    let store = state.core.backend.activities.clone();
    let tenant = caller.tenant_id.clone();
    let keep = |(stored, record): &(StoredActivity, serde_json::Value)| {
        let a = &stored.activity;
        filter.service.is_none_or(|s| a.provider == s)
            && filter.event_type.is_none_or(|t| a.event_type == t)
            && filter
                .class_uid
                .is_none_or(|class| record["class_uid"].as_u64() == Some(u64::from(class)))
    };
    let (page, next) = filtered_page(
        limit,
        begin,
        |(s, _): &(StoredActivity, serde_json::Value)| (s.stored_at, s.activity.id()),
        keep,
        |after, chunk| {
            let (store, tenant) = (store.clone(), tenant.clone());
            async move {
                let stored = store
                    .activity_log(&tenant, after.as_ref(), end, chunk)
                    .await?;
                Ok(stored
                    .into_iter()
                    .map(|s| {
                        let (Mapped::Ocsf(record) | Mapped::Unmapped(record)) =
                            ocsf::map_activity(&s.activity, options);
                        (s, record)
                    })
                    .collect())
            }
        },
    )
    .await?;
    let records: Vec<serde_json::Value> = page.into_iter().map(|(_, record)| record).collect();
    let next_link = match next {
        Some((at, id)) => {
            let next = Position {
                at: Some((at.timestamp_millis(), id)),
                ..position
            };
            let mut query = vec![("cursor".to_string(), encode(&next))];
            if let Some(service) = filter.service {
                query.push(("service".into(), service.as_str().into()));
            }
            if let Some(kind) = filter.event_type {
                query.push(("event_type".into(), crate::domain::enum_label(&kind)));
            }
            if let Some(class) = filter.class_uid {
                query.push(("class_uid".into(), class.to_string()));
            }
            query.push(("limit".into(), limit.to_string()));
            let query = serde_urlencoded::to_string(&query).unwrap_or_default();
            // Under /iam/ the next page is signed for the same prefix.
            let prefix = if uri
                .0
                .path()
                .starts_with(&format!("{}/", super::auth::IAM_PREFIX))
            {
                super::auth::IAM_PREFIX
            } else {
                ""
            };
            Some(format!(
                "{}{prefix}/api/v1/logs?{query}",
                crate::http::public_base_url(&headers)
            ))
        }
        None => None,
    };
    Ok(Json(LogPage {
        records,
        next_link,
        start,
        end,
    }))
}
