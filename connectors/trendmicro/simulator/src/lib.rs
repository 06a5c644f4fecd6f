//! A stateful, in-memory stand-in for Trend Micro Cloud App Security's log retrieval API
//! (`GET /v1/siem/security_events`), for tests and demos of the CASB's TM CAS connector.
//!
//! It follows Trend Micro's "Get security logs" documentation and what the Microsoft Sentinel
//! and Cortex XSOAR connectors rely on: one service and one event type per query, a
//! `[start, end)` window no older than 72 hours (5 minutes by default), pages of up to 500
//! records linked by an absolute `next_link`, bearer-token auth, and 429s for the per-minute
//! limit and the daily quota. A control surface (Rust methods here and HTTP under `/_sim/`)
//! loads records, sets the clock, injects faults and reports what clients asked for.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use trendmicro_simulator::{SimConfig, TrendMicroSimulator};
//! let sim = TrendMicroSimulator::start(SimConfig::default()).await?;
//! sim.push_events(vec![serde_json::json!({
//!     "service": "onedrive", "event": "dlp",
//!     "message": {"detection_time": "2026-11-28T10:00:00.000Z"}
//! })]).unwrap();
//! println!("API at {}/v1/siem/security_events", sim.base_url());
//! # Ok(()) }
//! ```

mod server;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The `service` values the API takes.
pub const SERVICES: &[&str] = &[
    "exchange",
    "sharepoint",
    "onedrive",
    "dropbox",
    "box",
    "googledrive",
    "gmail",
    "teams",
    "exchangeserver",
    "salesforce_sandbox",
    "salesforce_production",
    "teams_chat",
];

/// The `event` values the API takes.
pub const EVENT_TYPES: &[&str] = &["securityrisk", "virtualanalyzer", "ransomware", "dlp"];

/// Largest (and default) `limit`.
pub const MAX_PAGE_LIMIT: u32 = 500;
/// How far back `start` may reach.
pub const MAX_LOOKBACK_HOURS: i64 = 72;
/// The window length when `start` or `end` (or both) is left out.
pub const DEFAULT_WINDOW_MINUTES: i64 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Address to bind; port 0 picks a free port.
    pub bind_host: String,
    pub port: u16,
    /// The only bearer token the API accepts.
    pub api_token: String,
    /// Admitted requests per rolling 60 s of the simulated clock; `None` = unlimited.
    pub per_minute_limit: Option<u32>,
    /// Admitted requests per UTC day of the simulated clock; `None` = unlimited.
    pub daily_quota: Option<u32>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bind_host: "127.0.0.1".to_string(),
            port: 0,
            api_token: "tmcas-sim-token".to_string(),
            per_minute_limit: None,
            daily_quota: None,
        }
    }
}

/// One window a client asked for (the first page of a query; pages reached through
/// `next_link` continue it and are not listed again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryWindow {
    pub service: String,
    pub event: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Counters over `GET /v1/siem/security_events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// Every request, whatever the answer.
    pub requests: u64,
    pub ok: u64,
    pub bad_request: u64,
    pub unauthorized: u64,
    /// 429s from the per-minute limit and the daily quota (not injected ones).
    pub too_many_requests: u64,
    /// The share of `too_many_requests` that were the daily quota.
    pub quota_exceeded: u64,
    pub injected_faults: u64,
    pub windows: Vec<QueryWindow>,
}

/// Bad input to a control method; the HTTP control surface answers it as a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError(pub String);

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimError {}

pub(crate) struct Shared {
    state: Mutex<state::SimState>,
    pub base_url: String,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, state::SimState> {
        // A panic while holding the lock must not take the simulator down with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running simulator. Dropping it (or calling [`TrendMicroSimulator::shutdown`]) stops it.
pub struct TrendMicroSimulator {
    shared: Arc<Shared>,
    shutdown_signal: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TrendMicroSimulator {
    /// Binds `bind_host:port` and serves on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        let listener =
            tokio::net::TcpListener::bind((config.bind_host.as_str(), config.port)).await?;
        let shared = Arc::new(Shared {
            base_url: format!("http://{}", listener.local_addr()?),
            state: Mutex::new(state::SimState::new(config)),
        });
        let (sender, receiver) = oneshot::channel::<()>();
        let router = server::router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = receiver.await;
                })
                .await;
        });
        Ok(TrendMicroSimulator {
            shared,
            shutdown_signal: Some(sender),
            task: Some(task),
        })
    }

    /// `http://HOST:PORT`, the stand-in for `https://api.tmcas.trendmicro.com`; the API is at
    /// `{base_url}/v1/siem/security_events`, the control surface under `{base_url}/_sim/`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Appends security events; answers their `log_item_id`s (assigned where missing). Each
    /// needs `service`, `event` and `message.detection_time`; one bad record rejects the batch.
    pub fn push_events(&self, events: Vec<Value>) -> Result<Vec<String>, SimError> {
        self.shared.lock().push_events(events)
    }

    /// The next `count` API requests answer `status` (400-599) with a JSON error and change
    /// nothing else; queued after any faults already pending.
    pub fn fail_next(&self, count: u32, status: u16) -> Result<(), SimError> {
        self.shared.lock().fail_next(count, status)
    }

    /// Freezes the simulated clock at `now` (it only moves with [`Self::advance`] after this).
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.shared.lock().set_now(now)
    }

    /// Moves the simulated clock forward (or back, for a negative duration).
    pub fn advance(&self, by: Duration) {
        self.shared.lock().advance(by)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    pub fn stats(&self) -> SimStats {
        self.shared.lock().stats()
    }

    /// Stops the listener and waits (briefly) for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(signal) = self.shutdown_signal.take() {
            let _ = signal.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(StdDuration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for TrendMicroSimulator {
    fn drop(&mut self) {
        if let Some(signal) = self.shutdown_signal.take() {
            let _ = signal.send(());
        }
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
