//! Fault injection: canned 429/5xx answers, duplicate and late events, and the per-token
//! rate limit. Faults let tests exercise the retry, back-off and dedupe paths a client needs
//! against the real Box (saas-apis.md §1.2 "may duplicate", §1.5 rate limits).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

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
}

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
