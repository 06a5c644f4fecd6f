//! The two HTTP listeners (the API host and the download host), routing, and the shared
//! handle that serialises access to the simulated world.

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::error::BoxError;
use crate::state::SimState;
use crate::{
    collaborations, control, events, faults, files, folders, oauth, uploads, users, webhooks,
};

/// Where the simulator listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUrls {
    /// e.g. `http://127.0.0.1:PORT` (the API host; also hosts OAuth and `/_sim`).
    pub origin: String,
    /// e.g. `http://127.0.0.1:PORT2` (the stand-in for dl.boxcloud.com).
    pub download_base: String,
}

pub(crate) struct Shared {
    state: Mutex<SimState>,
    pub http: reqwest::Client,
    pub runtime: tokio::runtime::Handle,
    pub urls: SimUrls,
    /// Woken after each webhook delivery attempt is logged.
    pub delivery_notify: Notify,
}

impl Shared {
    /// Runs `operation` on the locked world, then spawns the webhook deliveries it queued.
    pub fn with_state<R>(self: &Arc<Self>, operation: impl FnOnce(&mut SimState) -> R) -> R {
        let (result, outbox) = {
            // A panic while holding the lock must not take the simulator down with it.
            let mut state = self
                .state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let result = operation(&mut state);
            (result, std::mem::take(&mut state.outbox))
        };
        for pending in outbox {
            self.runtime
                .spawn(webhooks::deliver(Arc::clone(self), pending));
        }
        result
    }

    /// Serves a `/2.0` request: authenticates the bearer token, runs `operation` as that user,
    /// and answers with its result or with Box's error body.
    pub fn serve_as_caller<T: IntoResponse>(
        self: &Arc<Self>,
        headers: &HeaderMap,
        operation: impl FnOnce(&mut SimState, String) -> Result<T, BoxError>,
    ) -> Response {
        self.with_state(|state| {
            let user = state.authenticate(headers)?;
            operation(state, user)
        })
        .into_response()
    }
}

/// Parses a JSON request body; malformed JSON is a 400 with Box's error body, never a panic.
pub(crate) fn parse_json_body(body: &[u8]) -> Result<Value, BoxError> {
    if body.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body)
        .map_err(|error| BoxError::bad_request(format!("Invalid JSON body: {error}")))
}

async fn not_found() -> Response {
    BoxError::not_found("Not found: the simulator does not serve this endpoint").into_response()
}

fn api_router(shared: Arc<Shared>) -> Router {
    use axum::routing::post;
    let public = Router::new()
        .route("/api/oauth2/authorize", get(oauth::authorize))
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/2.0/users/me", get(users::me))
        .route("/2.0/users", get(users::list))
        .route("/2.0/users/{id}", get(users::get_one).put(users::update))
        .route("/2.0/folders", post(folders::create_folder))
        .route(
            "/2.0/folders/{id}",
            get(folders::get_folder)
                .put(folders::update_folder)
                .delete(folders::delete_folder),
        )
        .route("/2.0/folders/{id}/items", get(folders::list_items))
        .route(
            "/2.0/folders/{id}/collaborations",
            get(collaborations::list_for_folder),
        )
        .route(
            "/2.0/files/{id}",
            get(files::get_file)
                .put(files::update_file)
                .delete(files::delete_file),
        )
        .route("/2.0/files/{id}/content", get(files::download_file))
        .route(
            "/2.0/files/{id}/trash",
            axum::routing::delete(files::purge_file),
        )
        .route(
            "/2.0/files/{id}/collaborations",
            get(collaborations::list_for_file),
        )
        .route("/2.0/collaborations", post(collaborations::create))
        .route(
            "/2.0/collaborations/{id}",
            get(collaborations::get_one)
                .put(collaborations::update)
                .delete(collaborations::delete),
        )
        .route("/2.0/events", get(events::list))
        .route("/api/2.0/files/content", post(uploads::upload_new))
        .route("/api/2.0/files/{id}/content", post(uploads::upload_version))
        .route("/2.0/webhooks", get(webhooks::list).post(webhooks::create))
        .route(
            "/2.0/webhooks/{id}",
            get(webhooks::get_one).delete(webhooks::delete),
        )
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            faults::inject_http_faults,
        ));
    // Uploads of a few MiB are normal at Box; axum's default body limit is 2 MiB.
    public
        .merge(control::router())
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(shared)
}

fn download_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/d/1/{token}/download", get(files::serve_download))
        .fallback(not_found)
        .with_state(shared)
}

pub(crate) struct RunningServer {
    pub shared: Arc<Shared>,
    pub shutdown_signals: Vec<oneshot::Sender<()>>,
    pub tasks: Vec<JoinHandle<()>>,
}

pub(crate) async fn start(config: SimConfig) -> std::io::Result<RunningServer> {
    let api_listener = TcpListener::bind((config.bind_host.as_str(), config.api_port)).await?;
    let download_listener =
        TcpListener::bind((config.bind_host.as_str(), config.download_port)).await?;
    let urls = SimUrls {
        origin: format!("http://{}", api_listener.local_addr()?),
        download_base: format!("http://{}", download_listener.local_addr()?),
    };
    // Deliveries never follow redirects: Box posts once to the configured address.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(std::io::Error::other)?;
    let shared = Arc::new(Shared {
        state: Mutex::new(SimState::new(config)),
        http,
        runtime: tokio::runtime::Handle::current(),
        urls,
        delivery_notify: Notify::new(),
    });

    let mut shutdown_signals = Vec::new();
    let mut tasks = Vec::new();
    for (listener, router) in [
        (api_listener, api_router(shared.clone())),
        (download_listener, download_router(shared.clone())),
    ] {
        let (sender, receiver) = oneshot::channel::<()>();
        shutdown_signals.push(sender);
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = receiver.await;
                })
                .await;
        }));
    }
    Ok(RunningServer {
        shared,
        shutdown_signals,
        tasks,
    })
}
