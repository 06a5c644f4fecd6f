//! The HTTP listener: the dataexport routes, the `/_sim/` control routes, and the shared
//! handle that serialises access to the simulated tenant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::state::{DataRequest, Reply, SimState};
use crate::{SimConfig, SimError};

pub(crate) struct Shared {
    state: Mutex<SimState>,
}

impl Shared {
    pub fn with_state<R>(&self, operation: impl FnOnce(&mut SimState) -> R) -> R {
        // A panic while holding the lock must not take the simulator down with it.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        operation(&mut state)
    }
}

fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    };
    if let Some(rate) = reply.rate {
        let headers = response.headers_mut();
        for (name, value) in [
            ("ratelimit-limit", HeaderValue::from(rate.limit)),
            ("ratelimit-remaining", HeaderValue::from(rate.remaining)),
            ("ratelimit-reset", HeaderValue::from(rate.reset_secs)),
        ] {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn control_error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        Json(json!({ "ok": 0, "error": message.to_string() })),
    )
        .into_response()
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn data_export(
    State(shared): State<Arc<Shared>>,
    Path((kind, kind_type)): Path<(String, String)>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    // An unparsable query string counts as no parameters: the client gets the 400 for them.
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let request = DataRequest {
        kind: &kind,
        kind_type: &kind_type,
        token: header_text(&headers, "netskope-api-token"),
        index: query.get("index").map(String::as_str),
        operation: query.get("operation").map(String::as_str),
        accept_encoding: header_text(&headers, "accept-encoding").map(str::to_string),
    };
    into_response(shared.with_state(|state| state.serve_data(request)))
}

async fn push_events(
    State(shared): State<Arc<Shared>>,
    Path((kind, kind_type)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let events: Vec<Value> = match serde_json::from_slice(&body) {
        Ok(events) => events,
        Err(error) => {
            return control_error(
                StatusCode::BAD_REQUEST,
                format!("expected a JSON array of events: {error}"),
            )
        }
    };
    let endpoint = format!("{kind}/{kind_type}");
    match shared.with_state(|state| state.push_events(&endpoint, events)) {
        Ok(ids) => Json(json!({ "ok": 1, "appended": ids.len(), "ids": ids })).into_response(),
        Err(error @ SimError::UnknownEndpoint(_)) => control_error(StatusCode::NOT_FOUND, error),
        Err(error) => control_error(StatusCode::BAD_REQUEST, error),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    fail_next: Option<u32>,
    /// Defaults to 500.
    status: Option<u16>,
    #[serde(default)]
    advance_then_fail_next: bool,
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let fault: FaultRequest = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(error) => {
            return control_error(StatusCode::BAD_REQUEST, format!("invalid fault: {error}"))
        }
    };
    if fault.fail_next.is_none() && !fault.advance_then_fail_next {
        return control_error(
            StatusCode::BAD_REQUEST,
            r#"expected {"fail_next": n, "status": s} or {"advance_then_fail_next": true}"#,
        );
    }
    let result = shared.with_state(|state| {
        if let Some(count) = fault.fail_next {
            state.fail_next(count, fault.status.unwrap_or(500))?;
        }
        if fault.advance_then_fail_next {
            state.arm_advance_then_fail_next();
        }
        Ok::<(), SimError>(())
    });
    match result {
        Ok(()) => Json(json!({ "ok": 1 })).into_response(),
        Err(error) => control_error(StatusCode::BAD_REQUEST, error),
    }
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.with_state(|state| state.stats())).into_response()
}

async fn not_found() -> Response {
    control_error(
        StatusCode::NOT_FOUND,
        "Not found: the simulator does not serve this path",
    )
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/api/v2/events/dataexport/{kind}/{kind_type}",
            get(data_export),
        )
        .route("/_sim/events/{kind}/{kind_type}", post(push_events))
        .route("/_sim/faults", post(add_fault))
        .route("/_sim/stats", get(stats))
        .fallback(not_found)
        .with_state(shared)
}

pub(crate) async fn start(
    config: SimConfig,
) -> std::io::Result<(Arc<Shared>, String, oneshot::Sender<()>, JoinHandle<()>)> {
    let listener = TcpListener::bind((config.bind_host.as_str(), config.port)).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let shared = Arc::new(Shared {
        state: Mutex::new(SimState::new(config)),
    });
    let (signal, receiver) = oneshot::channel::<()>();
    let app = router(shared.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = receiver.await;
            })
            .await;
    });
    Ok((shared, base_url, signal, task))
}
