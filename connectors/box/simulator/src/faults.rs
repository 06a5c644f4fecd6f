//! Fault injection: canned 429/5xx answers, duplicate and late events, the per-token rate
//! limit, endless paging and a slow token endpoint. Faults let tests exercise the retry,
//! back-off, dedupe and loop-guard paths a client needs against the real Box (saas-apis.md
//! §1.2 "may duplicate", §1.5 rate limits) and against mocks of Box's spec.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::BoxError;
use crate::server::Shared;
use crate::state::SimState;

/// A canned answer for the next `count` requests whose path starts with `path_prefix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpFault {
    /// How many requests this fault answers before it is used up.
    pub count: u32,
    /// Only requests whose path starts with this (e.g. "/2.0/events"); `None` = any request
    /// outside the control API.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// 429, 500, 503, ...
    pub status: u16,
    /// Sent as `retry-after` (429 and 503).
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

impl HttpFault {
    pub fn rate_limited(count: u32, retry_after_secs: u64) -> Self {
        HttpFault {
            count,
            path_prefix: None,
            status: 429,
            retry_after_secs: Some(retry_after_secs),
        }
    }
    pub fn server_error(count: u32, status: u16) -> Self {
        HttpFault {
            count,
            path_prefix: None,
            status,
            retry_after_secs: None,
        }
    }
    pub fn on_path(mut self, prefix: &str) -> Self {
        self.path_prefix = Some(prefix.to_string());
        self
    }

    /// The canned answer. 202 mimics Box's "file not ready yet" download answer (an empty
    /// body with `retry-after`); other statuses carry Box's error body.
    fn to_response(&self) -> Response {
        let error = match self.status {
            202 => {
                let retry_after = self.retry_after_secs.unwrap_or(1).to_string();
                return (
                    axum::http::StatusCode::ACCEPTED,
                    [(axum::http::header::RETRY_AFTER, retry_after)],
                )
                    .into_response();
            }
            429 => BoxError::rate_limited(self.retry_after_secs.unwrap_or(1)),
            503 => BoxError {
                retry_after_secs: self.retry_after_secs,
                ..BoxError::new(503, "unavailable", "Service unavailable (injected fault)")
            },
            status => BoxError {
                retry_after_secs: self.retry_after_secs,
                ..BoxError::new(
                    status,
                    "internal_server_error",
                    "Internal server error (injected fault)",
                )
            },
        };
        error.into_response()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub http: Vec<HttpFault>,
    /// How many of the next appended events get a duplicate.
    pub duplicate_next_events: u32,
    /// Stream indices whose duplicate is appended once a page has served the original, so the
    /// same `event_id` shows up again on a later page.
    pub pending_duplicates: Vec<usize>,
    /// Counts injected answers, for inspection.
    pub injected_answers: u64,
    /// Path prefixes of paged lists that answer their first page forever (`None` = every
    /// paged list), like a mock of Box's spec that returns the same example page to every
    /// request.
    pub endless_pages: Vec<Option<String>>,
    /// How many list pages the endless-page fault has answered.
    pub endless_pages_served: u64,
    /// How long `POST /oauth2/token` waits before it looks at a request.
    pub token_delay: Duration,
}

/// `total_count` of an offset-paged list under the endless-page fault: this many entries more
/// than there are, so a client that trusts it never runs out of pages.
pub(crate) const ENDLESS_EXTRA_TOTAL: usize = 1_000_000;

impl Faults {
    /// Takes one use of the first fault matching `path`.
    fn take(&mut self, path: &str) -> Option<Response> {
        let index = self.http.iter().position(|f| {
            f.count > 0 && f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })?;
        let fault = &mut self.http[index];
        fault.count -= 1;
        let answer = fault.to_response();
        if fault.count == 0 {
            self.http.remove(index);
        }
        self.injected_answers += 1;
        Some(answer)
    }
}

impl Faults {
    /// Whether the paged list at `path` answers its first page again (and counts it if so).
    pub fn endless_pages_on(&mut self, path: &str) -> bool {
        let endless = self
            .endless_pages
            .iter()
            .any(|prefix| prefix.as_deref().is_none_or(|p| path.starts_with(p)));
        if endless {
            self.endless_pages_served += 1;
        }
        endless
    }
}

/// Turns the first page of a marker-paged list into the endless answer: the same entries and
/// always the same non-empty `next_marker` (the one that follows the first page), whatever
/// marker the client sent.
pub(crate) fn endless_marker_page(mut first_page: Value, limit: usize) -> Value {
    first_page["next_marker"] = json!(limit.to_string());
    first_page
}

/// Turns the first page of an offset-paged list into the endless answer: the same entries
/// (offset 0) with a `total_count` far beyond the real one.
pub(crate) fn endless_offset_page(mut first_page: Value) -> Value {
    let real = first_page["total_count"].as_u64().unwrap_or(0) as usize;
    first_page["total_count"] = json!(real.saturating_add(ENDLESS_EXTRA_TOTAL));
    first_page
}

/// Middleware on every public route: answers with an injected fault when one matches.
pub(crate) async fn inject_http_faults(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let injected = shared.with_state(|state| state.faults.take(&path));
    match injected {
        Some(answer) => answer,
        None => next.run(request).await,
    }
}

/// Counts a request against the token's fixed-window budget (`SimConfig::rate_limit`).
pub(crate) fn charge_rate_limit(state: &mut SimState, token: &str) -> Result<(), BoxError> {
    let Some(limit) = state.config.rate_limit.clone() else {
        return Ok(());
    };
    let now = Instant::now();
    let window = state
        .rate_windows
        .entry(token.to_string())
        .or_insert((now, 0));
    if now.duration_since(window.0) >= limit.window {
        *window = (now, 0);
    }
    if window.1 >= limit.max_requests {
        let remaining = limit.window.saturating_sub(now.duration_since(window.0));
        let retry_after = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
        return Err(BoxError::rate_limited(retry_after.max(1)));
    }
    window.1 += 1;
    Ok(())
}
