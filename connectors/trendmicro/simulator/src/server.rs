//! Routing: the log retrieval API and the `/_sim/` control surface. Bodies are parsed by hand
//! so malformed input gets the API's JSON error shape rather than axum's plain-text rejection.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::{format_time, parse_query_time, Answer};
use crate::Shared;

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/siem/security_events", get(security_events))
        .route("/_sim/security_events", post(control_push_events))
        .route("/_sim/faults", post(control_faults))
        .route("/_sim/clock", get(control_clock).post(control_set_clock))
        .route("/_sim/stats", get(control_stats))
        .fallback(|| async {
            Answer::error(404, "Not found: the simulator does not serve this endpoint")
        })
        .with_state(shared)
}

async fn security_events(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    // Lenient like the form decoder behind real web servers: bad escapes decode lossily.
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    shared
        .lock()
        .serve_security_events(authorization, &pairs, &shared.base_url)
}

fn parse_body(body: &[u8]) -> Result<Value, Answer> {
    serde_json::from_slice(body)
        .map_err(|error| Answer::error(400, format!("Invalid JSON body: {error}")))
}

/// `POST /_sim/security_events` with a JSON array (or one object): appends, answers the ids.
async fn control_push_events(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let events = match parse_body(&body) {
        Ok(Value::Array(events)) => events,
        Ok(object @ Value::Object(_)) => vec![object],
        Ok(_) => return Answer::error(400, "Expected a JSON array of security events"),
        Err(answer) => return answer,
    };
    match shared.lock().push_events(events) {
        Ok(ids) => Answer::ok(json!({"log_item_ids": ids})),
        Err(error) => Answer::error(400, error.0),
    }
}

/// `POST /_sim/faults` `{"fail_next": n, "status": s}`.
async fn control_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let count = body["fail_next"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok());
    let status = body["status"].as_u64().and_then(|s| u16::try_from(s).ok());
    let (Some(count), Some(status)) = (count, status) else {
        return Answer::error(
            400,
            "Expected {\"fail_next\": COUNT, \"status\": HTTP_STATUS}",
        );
    };
    match shared.lock().fail_next(count, status) {
        Ok(()) => Answer::ok(json!({"fail_next": count, "status": status})),
        Err(error) => Answer::error(400, error.0),
    }
}

async fn control_clock(State(shared): State<Arc<Shared>>) -> Answer {
    let now = shared.lock().now();
    Answer::ok(json!({"now": format_time(now)}))
}

/// `POST /_sim/clock` `{"now": "2026-11-28T10:00:00Z"}` freezes the clock there;
/// `{"advance_secs": N}` moves it.
async fn control_set_clock(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let mut state = shared.lock();
    if let Some(text) = body.get("now") {
        match text.as_str().and_then(parse_query_time) {
            Some(now) => state.set_now(now),
            None => return Answer::error(400, "`now` must be yyyy-mm-ddThh:mm:ss[.mmm]Z"),
        }
    }
    if let Some(seconds) = body.get("advance_secs") {
        match seconds.as_i64().and_then(chrono::Duration::try_seconds) {
            Some(by) => state.advance(by),
            None => {
                return Answer::error(
                    400,
                    "`advance_secs` must be an integer number of seconds (|n| < 9.2e15)",
                )
            }
        }
    }
    Answer::ok(json!({"now": format_time(state.now())}))
}

async fn control_stats(State(shared): State<Arc<Shared>>) -> Answer {
    let stats = shared.lock().stats();
    Answer::ok(serde_json::to_value(stats).unwrap_or_default())
}
