//! The simulated tenant behind one mutex: per-endpoint append-only event logs, the
//! server-side iterator cursors keyed by (index, endpoint), injected faults, the rate-limit
//! window and the counters. Pure logic: `server.rs` only turns HTTP into calls here, so every
//! rule of the dataexport iterator lives in one place.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::{SimConfig, SimError, ALERT_TYPES, EVENT_TYPES};

/// What a client sees after `GET /_sim/stats` or [`crate::NetskopeSimulator::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// endpoint ("events/page", "alerts/dlp") → operation ("next", "resend", "head", "tail",
    /// "epoch", or the unrecognised text a client sent) → requests, whatever they were answered.
    pub requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// Answers with status 401 / 403 / 429 (injected faults with those statuses included).
    pub unauthorized: u64,
    pub forbidden: u64,
    pub rate_limited: u64,
    /// The `Accept-Encoding` header of the last data request (`None` if it sent none).
    pub last_accept_encoding: Option<String>,
    /// index name → endpoint → position (how many events of the log lie before the cursor).
    pub positions: BTreeMap<String, BTreeMap<String, usize>>,
}

impl SimStats {
    /// Requests seen for one endpoint and operation (0 if none).
    pub fn requests_for(&self, endpoint: &str, operation: &str) -> u64 {
        self.requests
            .get(endpoint)
            .and_then(|by_operation| by_operation.get(operation))
            .copied()
            .unwrap_or(0)
    }
}

/// Whether `endpoint` ("events/application", "alerts/dlp") is a dataexporter Netskope has.
pub(crate) fn endpoint_known(endpoint: &str) -> bool {
    match endpoint.split_once('/') {
        Some(("events", kind)) => EVENT_TYPES.contains(&kind),
        Some(("alerts", kind)) => ALERT_TYPES.contains(&kind),
        _ => false,
    }
}

enum Operation {
    Next,
    Resend,
    Head,
    Tail,
    Epoch(u64),
}

impl Operation {
    fn parse(text: &str) -> Option<Operation> {
        match text {
            "next" => Some(Operation::Next),
            "resend" => Some(Operation::Resend),
            "head" => Some(Operation::Head),
            "tail" => Some(Operation::Tail),
            digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits.parse().ok().map(Operation::Epoch)
            }
            _ => None,
        }
    }
}

/// The rate-limit headers every authenticated answer carries.
pub(crate) struct RateHeaders {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
}

/// An answer, free of any HTTP library: `body: None` means no body (204).
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub rate: Option<RateHeaders>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            rate: None,
        }
    }
    /// The dataexport error shape, `{"ok":0,"error":...}`.
    fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "ok": 0, "error": message.into() }))
    }
}

/// One `GET /api/v2/events/dataexport/{kind}/{type}` as the state needs to see it.
pub(crate) struct DataRequest<'a> {
    pub kind: &'a str,
    pub kind_type: &'a str,
    pub token: Option<&'a str>,
    pub index: Option<&'a str>,
    pub operation: Option<&'a str>,
    pub accept_encoding: Option<String>,
}

#[derive(Default)]
struct Cursor {
    position: usize,
    /// The slice of the log the last `next`/`head`/epoch/`tail` answered; `resend` answers it
    /// again. A range stays valid because logs only grow.
    last_page: Option<Range<usize>>,
}

/// Ids are unique across every simulator in the process (tests often run several at once).
static ID_COUNTER: AtomicU64 = AtomicU64::new(0);

pub(crate) struct SimState {
    pub config: SimConfig,
    logs: HashMap<String, Vec<Value>>,
    cursors: HashMap<(String, String), Cursor>,
    fail_next: Vec<(u32, u16)>,
    advance_then_fail_next: bool,
    rate_window: Option<(Instant, u32)>,
    stats: SimStats,
    fixed_now: Option<DateTime<Utc>>,
    id_prefix: u32,
}

impl SimState {
    pub fn new(config: SimConfig) -> SimState {
        SimState {
            config,
            logs: HashMap::new(),
            cursors: HashMap::new(),
            fail_next: Vec::new(),
            advance_then_fail_next: false,
            rate_window: None,
            stats: SimStats::default(),
            fixed_now: None,
            // Like a MongoDB ObjectId (which Netskope's `_id`s are): time first, then a counter.
            id_prefix: Utc::now().timestamp() as u32,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.fixed_now.unwrap_or_else(Utc::now)
    }

    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.fixed_now = Some(now);
    }

    pub fn event_count(&self, endpoint: &str) -> usize {
        self.logs.get(endpoint).map_or(0, Vec::len)
    }

    /// Appends events, filling in `_id`, `_insertion_epoch_timestamp` and `timestamp` where
    /// missing. All or nothing: one non-object rejects the whole batch.
    pub fn push_events(
        &mut self,
        endpoint: &str,
        events: Vec<Value>,
    ) -> Result<Vec<String>, SimError> {
        if !endpoint_known(endpoint) {
            return Err(SimError::UnknownEndpoint(endpoint.to_string()));
        }
        if let Some(position) = events.iter().position(|event| !event.is_object()) {
            return Err(SimError::NotAnObject { position });
        }
        let now = self.now().timestamp();
        let id_prefix = self.id_prefix;
        let log = self.logs.entry(endpoint.to_string()).or_default();
        let mut ids = Vec::with_capacity(events.len());
        for event in events {
            let Value::Object(mut fields) = event else {
                continue;
            };
            let id = fields.entry("_id").or_insert_with(|| {
                let counter = ID_COUNTER.fetch_add(1, Ordering::Relaxed);
                json!(format!("{id_prefix:08x}{counter:016x}"))
            });
            ids.push(id.as_str().map_or_else(|| id.to_string(), str::to_string));
            fields
                .entry("_insertion_epoch_timestamp")
                .or_insert(json!(now));
            fields.entry("timestamp").or_insert(json!(now));
            log.push(Value::Object(fields));
        }
        Ok(ids)
    }

    pub fn fail_next(&mut self, count: u32, status: u16) -> Result<(), SimError> {
        if !(400..=599).contains(&status) {
            return Err(SimError::InvalidFaultStatus(status));
        }
        if count > 0 {
            self.fail_next.push((count, status));
        }
        Ok(())
    }

    pub fn arm_advance_then_fail_next(&mut self) {
        self.advance_then_fail_next = true;
    }

    pub fn position(&self, index: &str, endpoint: &str) -> Option<usize> {
        self.cursors
            .get(&(index.to_string(), endpoint.to_string()))
            .map(|cursor| cursor.position)
    }

    pub fn stats(&self) -> SimStats {
        let mut stats = self.stats.clone();
        for ((index, endpoint), cursor) in &self.cursors {
            stats
                .positions
                .entry(index.clone())
                .or_default()
                .insert(endpoint.clone(), cursor.position);
        }
        stats
    }

    /// Answers a data request and counts it.
    pub fn serve_data(&mut self, request: DataRequest<'_>) -> Reply {
        let endpoint = format!("{}/{}", request.kind, request.kind_type);
        self.stats.last_accept_encoding = request.accept_encoding.clone();
        if let (true, Some(operation)) = (endpoint_known(&endpoint), request.operation) {
            let name = match Operation::parse(operation) {
                Some(Operation::Epoch(_)) => "epoch",
                _ => operation,
            };
            *self
                .stats
                .requests
                .entry(endpoint.clone())
                .or_default()
                .entry(name.to_string())
                .or_default() += 1;
        }
        let reply = self.answer_data(&endpoint, &request);
        match reply.status {
            401 => self.stats.unauthorized += 1,
            403 => self.stats.forbidden += 1,
            429 => self.stats.rate_limited += 1,
            _ => {}
        }
        reply
    }

    fn answer_data(&mut self, endpoint: &str, request: &DataRequest<'_>) -> Reply {
        if request.token != Some(self.config.api_token.as_str()) {
            return Reply::json(401, json!({ "Status": "error", "Message": "Unauthorized" }));
        }
        // Netskope counts every authenticated call, even one it then refuses.
        let (within_limit, rate) = self.charge_rate_limit();
        let mut reply = self.answer_authenticated(endpoint, request, within_limit);
        reply.rate = rate;
        reply
    }

    fn answer_authenticated(
        &mut self,
        endpoint: &str,
        request: &DataRequest<'_>,
        within_limit: bool,
    ) -> Reply {
        if !within_limit {
            return Reply::error(
                429,
                "Too many requests: the rate limit for this token is exceeded",
            );
        }
        if !endpoint_known(endpoint) {
            return Reply::error(404, "This dataexporter does not exist");
        }
        let in_scope = self
            .config
            .allowed_endpoints
            .as_ref()
            .is_none_or(|allowed| {
                allowed
                    .iter()
                    .any(|allowed| allowed.trim_matches('/') == endpoint)
            });
        if !in_scope {
            return Reply::json(
                403,
                json!({
                    "Status": "error",
                    "Message": format!("The token does not have the scope for the endpoint /api/v2/events/dataexport/{endpoint}"),
                }),
            );
        }
        let Some(index) = request.index.filter(|index| !index.is_empty()) else {
            return Reply::error(400, "Missing required parameter: index");
        };
        let Some(operation_text) = request.operation.filter(|op| !op.is_empty()) else {
            return Reply::error(400, "Missing required parameter: operation");
        };
        let Some(operation) = Operation::parse(operation_text) else {
            return Reply::error(
                400,
                format!("Invalid operation '{operation_text}': expected next, resend, head, tail or an epoch timestamp"),
            );
        };
        // Only a request that would otherwise succeed uses up an injected fault.
        if let Some(fault) = self.fail_next.first_mut() {
            let status = fault.1;
            fault.0 -= 1;
            if fault.0 == 0 {
                self.fail_next.remove(0);
            }
            return Reply::error(status, format!("Injected fault: HTTP {status}"));
        }
        self.run(endpoint, index, operation)
    }

    /// Fixed window starting at the first request after the last one expired.
    fn charge_rate_limit(&mut self) -> (bool, Option<RateHeaders>) {
        let Some((limit, window)) = self.config.rate_limit else {
            return (true, None);
        };
        let now = Instant::now();
        let (started, used) = match self.rate_window {
            Some((started, used)) if now.duration_since(started) < window => (started, used),
            _ => (now, 0),
        };
        let within_limit = used < limit;
        let used = if within_limit { used + 1 } else { used };
        self.rate_window = Some((started, used));
        let left = window.saturating_sub(now.duration_since(started));
        let reset_secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let headers = RateHeaders {
            limit,
            remaining: limit - used,
            reset_secs,
        };
        (within_limit, Some(headers))
    }

    fn run(&mut self, endpoint: &str, index: &str, operation: Operation) -> Reply {
        let log_len = self.event_count(endpoint);
        let page_size = self.config.page_size.max(1);
        let key = (index.to_string(), endpoint.to_string());
        let start = match operation {
            Operation::Resend => {
                let cursor = self.cursors.get(&key);
                let here = cursor.map_or(0, |cursor| cursor.position);
                let page = cursor.and_then(|cursor| cursor.last_page.clone());
                return self.page_reply(endpoint, page.unwrap_or(here..here));
            }
            Operation::Next => self.cursors.get(&key).map_or(0, |cursor| cursor.position),
            Operation::Head => 0,
            Operation::Tail => log_len,
            Operation::Epoch(epoch) => self
                .logs
                .get(endpoint)
                .and_then(|log| {
                    log.iter()
                        .position(|event| timestamp_at_or_after(event, epoch))
                })
                .unwrap_or(log_len),
        };
        let start = start.min(log_len);
        let page = start..(start + page_size).min(log_len);
        let cursor = self.cursors.entry(key).or_default();
        cursor.position = page.end;
        cursor.last_page = Some(page.clone());
        if matches!(operation, Operation::Next) && std::mem::take(&mut self.advance_then_fail_next)
        {
            // The cursor moved but the client never sees the page: only `resend` gets it back.
            return Reply::error(500, "Injected fault: HTTP 500 after advancing the iterator");
        }
        self.page_reply(endpoint, page)
    }

    fn page_reply(&self, endpoint: &str, page: Range<usize>) -> Reply {
        let log = self
            .logs
            .get(endpoint)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let events = log.get(page.clone()).unwrap_or_default().to_vec();
        if events.is_empty() && self.config.empty_as_204 {
            return Reply {
                status: 204,
                body: None,
                rate: None,
            };
        }
        let wait_time = if log.len() > page.end {
            self.config.wait_time_when_more
        } else {
            self.config.wait_time_when_caught_up
        };
        // Cloned as stored, so a pushed hwm keeps whatever integer type it had.
        let timestamp_hwm = events
            .last()
            .and_then(|event| event.get("_insertion_epoch_timestamp").cloned())
            .unwrap_or_else(|| json!(self.now().timestamp()));
        Reply::json(
            200,
            json!({ "ok": 1, "result": events, "wait_time": wait_time, "timestamp_hwm": timestamp_hwm }),
        )
    }
}

/// Whether the event's `timestamp` (epoch seconds) is at or after `epoch`; events without a
/// numeric timestamp never match.
fn timestamp_at_or_after(event: &Value, epoch: u64) -> bool {
    match event.get("timestamp") {
        Some(Value::Number(number)) => match number.as_u64() {
            Some(seconds) => seconds >= epoch,
            None => number
                .as_f64()
                .is_some_and(|seconds| seconds >= epoch as f64),
        },
        _ => false,
    }
}
