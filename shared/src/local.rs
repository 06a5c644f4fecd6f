//! Every function in one process on the embedded back end: what `casb serve` runs.
//!
//! One HTTP listener serves the three HTTP functions' routers, queue workers stand in for the
//! SQS event source mappings, and a timer stands in for the EventBridge schedule. The handlers
//! are the very ones the Lambda functions run.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::backend::EmbeddedBackend;
use crate::config::Settings;
use crate::connector::ConnectorRegistry;
use crate::core::Core;
use crate::pipeline::worker::{run_concurrently, run_until, WorkerOptions};
use crate::pipeline::{inspector, poller, remediator};

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub poll_interval: Duration,
    pub worker: WorkerOptions,
    /// Poll jobs worked at once, each on its own (the template's `PollerMaxConcurrency`).
    pub poll_concurrency: usize,
    /// Send notification e-mail over SMTP (`CASB_SMTP_URL`); without it they are only kept in
    /// the outbox table.
    pub smtp: Option<crate::config::SmtpSettings>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            data_dir: PathBuf::from(".casb"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            poll_interval: Duration::from_secs(60),
            worker: WorkerOptions::default(),
            poll_concurrency: 8,
            smtp: None,
        }
    }
}

/// A running local instance.
pub struct LocalInstance {
    pub core: Core,
    pub embedded: EmbeddedBackend,
    /// The address actually bound (useful with port 0).
    pub address: SocketAddr,
    /// Where notification e-mail goes, for [`LocalInstance::describe`].
    mail: String,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LocalInstance {
    /// Opens the data directory, binds the listener and starts the server, the workers and the
    /// poll timer.
    /// `connectors` builds the registry on the opened back end (connectors read their app
    /// credentials from its secret store).
    pub async fn start(
        options: ServeOptions,
        settings: Settings,
        connectors: impl FnOnce(&crate::backend::Backend) -> ConnectorRegistry,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let mut embedded = EmbeddedBackend::open(&options.data_dir)?;
        if let Some(target) = crate::config::security_lake_from_env()? {
            embedded = embedded.with_security_lake(target);
        }
        let mail = match &options.smtp {
            Some(smtp) => {
                let described = format!("SMTP to {smtp}, recorded in the outbox table");
                embedded = embedded.with_smtp(smtp.clone())?;
                described
            }
            None => "kept in the outbox table only (set CASB_SMTP_URL to send it)".to_string(),
        };
        let registry = connectors(&embedded.backend);
        // The timer stands in for the schedule: a stream is due once per tick.
        let settings = Settings {
            poll_interval: options.poll_interval,
            ..settings
        };
        // Fail closed, but usable at once: a token of this instance's own unless one is set.
        let admin = crate::admin_credential::AdminCredential::local(&options.data_dir)?;
        let core = Core::new(embedded.backend.clone(), settings, registry)?.with_admin(admin);
        // This process runs the inspector: build the DLP engine and read the geolocation
        // database up front.
        core.scanner()?;
        core.geolocation()?;
        let listener = TcpListener::bind(options.listen).await.map_err(|e| {
            format!(
                "cannot listen on {}: {e} (choose another address with --listen)",
                options.listen
            )
        })?;
        let address = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let until_stopped = move |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };

        let mut tasks = Vec::new();
        let router = crate::http::combined_router(core.clone());
        let shutdown = until_stopped(stopped.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%error, "HTTP server stopped");
            }
        }));

        let inspector_core = core.clone();
        tasks.push(tokio::spawn(run_until(
            core.backend.activity_queue.clone(),
            options.worker.clone(),
            move |body| {
                let core = inspector_core.clone();
                async move { inspector::handle_message(&core, &body).await.map(|_| ()) }
            },
            until_stopped(stopped.clone()),
        )));
        let remediator_core = core.clone();
        tasks.push(tokio::spawn(run_until(
            core.backend.action_queue.clone(),
            options.worker.clone(),
            move |body| {
                let core = remediator_core.clone();
                async move { remediator::handle_message(&core, &body).await.map(|_| ()) }
            },
            until_stopped(stopped.clone()),
        )));
        let poller_core = core.clone();
        tasks.push(tokio::spawn(run_concurrently(
            core.backend.poll_queue.clone(),
            WorkerOptions {
                // A job may work its stream for its whole budget: stay invisible past it.
                visibility_timeout: core.settings.poll_job_budget * 2,
                ..options.worker.clone()
            },
            options.poll_concurrency,
            move |body| {
                let core = poller_core.clone();
                async move { poller::handle_message(&core, &body).await.map(|_| ()) }
            },
            until_stopped(stopped.clone()),
        )));
        let scheduler_core = core.clone();
        let schedule_stop = until_stopped(stopped.clone());
        let interval = options.poll_interval;
        tasks.push(tokio::spawn(async move {
            tokio::pin!(schedule_stop);
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut schedule_stop => return,
                    _ = ticks.tick() => {
                        if let Err(error) = poller::schedule_due(&scheduler_core).await {
                            tracing::error!(%error, "scheduling poll jobs failed");
                        }
                        match crate::pipeline::exporter::run(&scheduler_core).await {
                            Ok(summary) if summary.records > 0 => {
                                tracing::info!(records = summary.records, files = summary.files.len(), "exported OCSF records")
                            }
                            Ok(_) => {}
                            Err(error) => tracing::error!(%error, "export run failed; the next tick retries"),
                        }
                    }
                }
            }
        }));
        let purge_database = embedded.database.clone();
        let purge_stop = until_stopped(stopped.clone());
        tasks.push(tokio::spawn(async move {
            tokio::pin!(purge_stop);
            let mut ticks = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = &mut purge_stop => return,
                    _ = ticks.tick() => {
                        if let Err(error) = purge_database.purge_expired(chrono::Utc::now()).await {
                            tracing::warn!(%error, "purging expired records failed");
                        }
                    }
                }
            }
        }));

        Ok(LocalInstance {
            core,
            embedded,
            address,
            mail,
            stop,
            tasks,
        })
    }

    /// Lines that tell an operator where everything is.
    pub fn describe(&self) -> Vec<String> {
        let base = format!("http://{}", self.address);
        let mut lines = vec![
            format!(
                "data directory: {}",
                std::fs::canonicalize(&self.embedded.data_dir)
                    .unwrap_or(self.embedded.data_dir.clone())
                    .display()
            ),
            format!("  database: casb.db (SQLite; stores and the poll-jobs/activities/actions queues)"),
            format!("  secrets:  secrets.json (owner-only)"),
            format!("notification e-mail: {}", self.mail),
            format!("admin token: {}", self.core.admin.describe()),
            format!("api:            {base}/healthz"),
            format!("oauth-callback: {base}/oauth/..."),
            format!("webhook-intake: {base}/webhooks/..."),
            "workers: poller (poll-jobs queue, fed by a timer and by webhooks), inspector (activities queue), remediator (actions queue)"
                .to_string(),
        ];
        for (name, on, detail) in self.core.threats().status() {
            lines.push(format!(
                "threat detector {name}: {}{detail}",
                if on { "" } else { "OFF - " }
            ));
        }
        lines
    }

    /// The admin token this instance requires on connect and disconnect (for its operator's
    /// tools and tests; never logged).
    pub async fn admin_token(
        &self,
    ) -> Result<secrecy::SecretString, crate::admin_credential::AdminCredentialError> {
        self.core.admin.current().await
    }

    /// Stops everything at once, mid-work, as a crash or `kill -9` would (tests use it to check
    /// that a restart loses nothing and doubles nothing).
    pub fn kill(self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Stops accepting work, lets in-flight requests finish and waits for every task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Runs until `signal` resolves, then shuts down.
    pub async fn run_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

/// Walks the OAuth connect flow as a browser would: open `/oauth/{provider}/connect` on the
/// local instance (with the admin token), follow the redirect to the provider's consent page,
/// follow its redirect back to our callback with the binding cookie, and return the callback's
/// JSON answer. `casb demo` connects the simulated tenant this way; against a real provider, a
/// person clicks instead.
pub async fn connect_like_a_browser(
    base_url: &str,
    provider: &str,
    query: &[(&str, &str)],
    admin_token: &secrecy::SecretString,
) -> Result<serde_json::Value, String> {
    let url =
        reqwest::Url::parse_with_params(&format!("{base_url}/oauth/{provider}/connect"), query)
            .map_err(|e| format!("connect URL: {e}"))?;
    walk_connect_flow(url.as_str(), Some(admin_token)).await
}

/// The same walk from a signed connect link (`casb connect-link`), as a browser opens it: no
/// header, only the link.
pub async fn open_connect_link_like_a_browser(link: &str) -> Result<serde_json::Value, String> {
    walk_connect_flow(link, None).await
}

async fn walk_connect_flow(
    start: &str,
    admin_token: Option<&secrecy::SecretString>,
) -> Result<serde_json::Value, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client.get(start);
    if let Some(token) = admin_token {
        request = request.bearer_auth(secrecy::ExposeSecret::expose_secret(token));
    }
    let started = request.send().await.map_err(|e| format!("connect: {e}"))?;
    if !started.status().is_redirection() {
        let status = started.status();
        return Err(format!(
            "connect answered {status}: {}",
            started.text().await.unwrap_or_default()
        ));
    }
    let cookie = started
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("connect set no binding cookie")?
        .to_string();
    let consent = location(&started)?;
    let consented = client
        .get(&consent)
        .send()
        .await
        .map_err(|e| format!("consent page: {e}"))?;
    if !consented.status().is_redirection() {
        return Err(format!("the consent page answered {}", consented.status()));
    }
    let callback = location(&consented)?;
    let finished = client
        .get(&callback)
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .map_err(|e| format!("callback: {e}"))?;
    let status = finished.status();
    let body: serde_json::Value = finished
        .json()
        .await
        .map_err(|e| format!("callback answer: {e}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("callback answered {status}: {body}"))
    }
}

fn location(response: &reqwest::Response) -> Result<String, String> {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| "redirect without a Location".to_string())
}
