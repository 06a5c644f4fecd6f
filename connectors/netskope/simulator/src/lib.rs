//! A stateful, in-memory stand-in for Netskope's REST API v2 dataexport iterator (events and
//! alerts), for tests and demos of the CASB's Netskope connector.
//!
//! The iterator's cursor lives on the server, keyed by (index name, endpoint), exactly as at
//! Netskope: `next` answers a page and moves, `resend` answers the last page again, `head`,
//! `tail` and an epoch reposition. Faults (injected statuses, a cursor that moves while the
//! answer is lost), a rate limit, token scopes and a settable clock let tests reach the
//! client paths the real tenant only shows on a bad day. A control surface (Rust methods here
//! and HTTP under `/_sim/`) scripts it.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use netskope_simulator::{NetskopeSimulator, SimConfig};
//! let sim = NetskopeSimulator::start(SimConfig::default()).await?;
//! sim.push_events("alerts/dlp", vec![serde_json::json!({"user": "a@example.com"})]).unwrap();
//! println!("GET {}/api/v2/events/dataexport/alerts/dlp?index=casb&operation=next", sim.base_url());
//! # Ok(()) }
//! ```

mod server;
mod state;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use state::SimStats;

/// Event types served under `/api/v2/events/dataexport/events/{type}`.
pub const EVENT_TYPES: &[&str] = &[
    "application",
    "page",
    "network",
    "infrastructure",
    "audit",
    "incident",
    "endpoint",
    "connection",
    "alert",
];

/// Alert types served under `/api/v2/events/dataexport/alerts/{type}`.
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
    "device",
    "content",
    "c2",
];

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind; port 0 picks a free port.
    pub bind_host: String,
    pub port: u16,
    /// The value the `Netskope-Api-Token` header must carry.
    pub api_token: String,
    /// Endpoints the token is scoped to ("events/application", "alerts/dlp"); `None` = all.
    pub allowed_endpoints: Option<Vec<String>>,
    /// Events per page at most (values below 1 count as 1).
    pub page_size: usize,
    /// `wait_time` (seconds) when more events wait after the page.
    pub wait_time_when_more: u64,
    /// `wait_time` (seconds) when the page reached the end of the log (Netskope: 5..30 s).
    pub wait_time_when_caught_up: u64,
    /// Answer an empty page with HTTP 204 and no body instead of `"result": []`.
    pub empty_as_204: bool,
    /// (requests, window): a fixed-window budget for the token; `None` = unlimited and no
    /// `ratelimit-*` headers.
    pub rate_limit: Option<(u32, Duration)>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bind_host: "127.0.0.1".to_string(),
            port: 0,
            api_token: "netskope-sim-token".to_string(),
            allowed_endpoints: None,
            page_size: 100,
            wait_time_when_more: 0,
            wait_time_when_caught_up: 0,
            empty_as_204: false,
            rate_limit: None,
        }
    }
}

/// Bad input to the control surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// Not "events/{EVENT_TYPES}" or "alerts/{ALERT_TYPES}".
    UnknownEndpoint(String),
    /// The event at this position of a pushed batch is not a JSON object.
    NotAnObject { position: usize },
    /// A fault status outside 400..=599.
    InvalidFaultStatus(u16),
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::UnknownEndpoint(endpoint) => write!(
                f,
                "unknown endpoint '{endpoint}': expected events/<event type> or alerts/<alert type>"
            ),
            SimError::NotAnObject { position } => {
                write!(f, "event {position} of the batch is not a JSON object")
            }
            SimError::InvalidFaultStatus(status) => {
                write!(
                    f,
                    "fault status {status} is not an HTTP error status (400..=599)"
                )
            }
        }
    }
}

impl std::error::Error for SimError {}

/// A running simulator. Dropping it (or calling [`NetskopeSimulator::shutdown`]) stops it.
pub struct NetskopeSimulator {
    shared: Arc<server::Shared>,
    base_url: String,
    config: SimConfig,
    shutdown_signal: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl NetskopeSimulator {
    /// Binds `bind_host:port` and serves on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        let (shared, base_url, shutdown_signal, task) = server::start(config.clone()).await?;
        Ok(NetskopeSimulator {
            shared,
            base_url,
            config,
            shutdown_signal: Some(shutdown_signal),
            task: Some(task),
        })
    }

    /// e.g. `http://127.0.0.1:PORT` (stand-in for `https://TENANT.goskope.com`).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Appends events to an endpoint's log ("events/application", "alerts/dlp"), filling in
    /// `_id` (24 lowercase hex), `_insertion_epoch_timestamp` and `timestamp` (the sim clock's
    /// epoch seconds) where missing. Answers each event's `_id`.
    pub fn push_events(&self, endpoint: &str, events: Vec<Value>) -> Result<Vec<String>, SimError> {
        self.shared
            .with_state(|state| state.push_events(endpoint, events))
    }

    /// How many events an endpoint's log holds.
    pub fn event_count(&self, endpoint: &str) -> usize {
        self.shared.with_state(|state| state.event_count(endpoint))
    }

    /// The next `count` data requests that would otherwise succeed answer `status`
    /// (400..=599) and move no cursor.
    pub fn fail_next(&self, count: u32, status: u16) -> Result<(), SimError> {
        self.shared
            .with_state(|state| state.fail_next(count, status))
    }

    /// The next `operation=next` call moves its cursor and records the page for `resend`, but
    /// answers 500: the lost response that `resend` exists for.
    pub fn advance_then_fail_next(&self) {
        self.shared
            .with_state(|state| state.arm_advance_then_fail_next());
    }

    pub fn stats(&self) -> SimStats {
        self.shared.with_state(|state| state.stats())
    }

    /// How many events of `endpoint` lie before `index`'s cursor; `None` if never positioned.
    pub fn position(&self, index: &str, endpoint: &str) -> Option<usize> {
        self.shared
            .with_state(|state| state.position(index, endpoint))
    }

    /// Freezes the clock used for the timestamps the simulator assigns (default: real time).
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.shared.with_state(|state| state.set_now(now));
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.with_state(|state| state.now())
    }

    /// Stops the listener and waits (briefly) for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(signal) = self.shutdown_signal.take() {
            let _ = signal.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for NetskopeSimulator {
    fn drop(&mut self) {
        if let Some(signal) = self.shutdown_signal.take() {
            let _ = signal.send(());
        }
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
