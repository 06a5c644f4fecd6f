//! The four HTTP listeners (login, manage, graph, download), routing, and the shared handle
//! that serialises access to the simulated tenant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::error::{GraphError, ManageError};
use crate::faults::{self, Listener};
use crate::state::{IssuedToken, Resource, SimState};
use crate::{files, graph, graph_subscriptions, identity, management};

/// Where the simulator listens, one origin per Microsoft host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUrls {
    /// `http://127.0.0.1:P`, stand-in for `https://login.microsoftonline.com`.
    pub login: String,
    /// `http://127.0.0.1:P`, stand-in for `https://manage.office.com`.
    pub manage: String,
    /// `http://127.0.0.1:P`, stand-in for `https://graph.microsoft.com` (API under `/v1.0`).
    pub graph: String,
    /// `http://127.0.0.1:P`, stand-in for the tenant's `*.sharepoint.com` download URLs.
    pub download: String,
}

pub(crate) struct Shared {
    state: Mutex<SimState>,
    /// For webhook validations and notifications; never follows redirects.
    pub http: reqwest::Client,
    pub runtime: tokio::runtime::Handle,
    pub urls: SimUrls,
    /// Woken after each webhook POST is logged.
    pub delivery_notify: Notify,
}

impl Shared {
    /// Runs `operation` on the locked tenant state.
    pub fn with_state<R>(&self, operation: impl FnOnce(&mut SimState) -> R) -> R {
        // A panic while holding the lock must not take the simulator down with it.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        operation(&mut state)
    }
}

/// Why a bearer token was refused; each API words it in its own error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    Missing,
    Unknown,
    Expired,
    WrongAudience,
}

impl TokenRefusal {
    pub fn to_graph_error(self) -> GraphError {
        GraphError::invalid_token(match self {
            TokenRefusal::Missing => "Access token is empty.",
            TokenRefusal::Unknown => "IDX14100: JWT is not well formed, there are no dots (.).",
            TokenRefusal::Expired => "Lifetime validation failed, the token is expired.",
            TokenRefusal::WrongAudience => "Access token validation failure. Invalid audience.",
        })
    }

    pub fn to_manage_error(self) -> ManageError {
        ManageError::unauthorized()
    }
}

impl SimState {
    /// Checks the bearer token of a request to `resource`'s API.
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        resource: Resource,
    ) -> Result<IssuedToken, TokenRefusal> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or(TokenRefusal::Missing)?;
        let issued = self.tokens.get(token).ok_or(TokenRefusal::Unknown)?;
        if issued.expires_at <= chrono::Utc::now() {
            return Err(TokenRefusal::Expired);
        }
        if issued.resource != resource {
            return Err(TokenRefusal::WrongAudience);
        }
        Ok(issued.clone())
    }
}

/// Query parameters by name. Microsoft's services read names case-insensitively
/// (`PublisherIdentifier` and `publisheridentifier` both work), so names are lower-cased.
pub(crate) fn query_params(raw: Option<&str>) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect()
}

async fn graph_not_found() -> Response {
    GraphError::new(
        400,
        "BadRequest",
        "Resource not found for the segment (the simulator does not serve this endpoint).",
    )
    .into_response()
}

async fn plain_not_found() -> Response {
    (axum::http::StatusCode::NOT_FOUND, "Not found").into_response()
}

fn with_faults(router: Router<Arc<Shared>>, shared: &Arc<Shared>, listener: Listener) -> Router {
    router
        .layer(middleware::from_fn_with_state(
            (shared.clone(), listener),
            faults::inject_faults,
        ))
        .with_state(shared.clone())
}

fn login_router(shared: &Arc<Shared>) -> Router {
    let router = Router::new()
        .route("/{tenant}/adminconsent", get(identity::admin_consent))
        .route(
            "/{tenant}/v2.0/adminconsent",
            get(identity::admin_consent_v2),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(identity::token))
        .fallback(plain_not_found);
    with_faults(router, shared, Listener::Login)
}

fn manage_router(shared: &Arc<Shared>) -> Router {
    let feed = "/api/v1.0/{tenant}/activity/feed";
    let router = Router::new()
        .route(
            &format!("{feed}/subscriptions/start"),
            post(management::start_subscription),
        )
        .route(
            &format!("{feed}/subscriptions/stop"),
            post(management::stop_subscription),
        )
        .route(
            &format!("{feed}/subscriptions/list"),
            get(management::list_subscriptions),
        )
        .route(
            &format!("{feed}/subscriptions/content"),
            get(management::list_content),
        )
        .route(
            &format!("{feed}/subscriptions/notifications"),
            get(management::list_notifications),
        )
        .route(
            &format!("{feed}/audit/{{content_id}}"),
            get(management::fetch_blob),
        )
        .fallback(management::not_found);
    // Counting sits outside fault injection: a throttled call is still a call the client
    // made, with or without its PublisherIdentifier.
    with_faults(router, shared, Listener::Manage).layer(middleware::from_fn_with_state(
        shared.clone(),
        management::count_call,
    ))
}

fn graph_router(shared: &Arc<Shared>) -> Router {
    let router = Router::new()
        .route("/v1.0/organization", get(graph::organization))
        .route("/v1.0/users", get(graph::list_users))
        .route("/v1.0/users/{id}", get(graph::get_user))
        .route("/v1.0/users/{id}/drive", get(files::user_drive))
        .route("/v1.0/sites", get(files::list_sites))
        .route("/v1.0/sites/{*rest}", get(files::sites))
        .route("/v1.0/drives/{drive}", get(files::get_drive))
        .route("/v1.0/drives/{drive}/root", get(files::get_root))
        .route("/v1.0/drives/{drive}/root/delta", get(files::delta))
        .route(
            "/v1.0/drives/{drive}/items/{item}",
            get(files::get_item)
                .patch(files::update_item)
                .delete(files::delete_item),
        )
        .route(
            "/v1.0/drives/{drive}/items/{item}/children",
            get(files::list_children).post(files::create_folder),
        )
        .route(
            "/v1.0/drives/{drive}/items/{item}/content",
            get(files::download_content),
        )
        .route(
            "/v1.0/drives/{drive}/items/{item}/permissions",
            get(files::list_permissions),
        )
        .route(
            "/v1.0/drives/{drive}/items/{item}/permissions/{permission}",
            axum::routing::delete(files::delete_permission),
        )
        .route(
            "/v1.0/subscriptions",
            get(graph_subscriptions::list).post(graph_subscriptions::create),
        )
        .route(
            "/v1.0/subscriptions/{id}",
            get(graph_subscriptions::get_one)
                .patch(graph_subscriptions::renew)
                .delete(graph_subscriptions::delete),
        )
        .fallback(graph_not_found);
    with_faults(router, shared, Listener::Graph)
}

fn download_router(shared: &Arc<Shared>) -> Router {
    with_faults(
        Router::new()
            .route("/_layouts/15/download.aspx", get(files::serve_download))
            .fallback(plain_not_found),
        shared,
        Listener::Download,
    )
}

pub(crate) struct RunningServer {
    pub shared: Arc<Shared>,
    pub shutdown_signals: Vec<oneshot::Sender<()>>,
    pub tasks: Vec<JoinHandle<()>>,
}

pub(crate) async fn start(config: SimConfig) -> std::io::Result<RunningServer> {
    let bind = || TcpListener::bind(("127.0.0.1", 0));
    let (login, manage, graph, download) =
        (bind().await?, bind().await?, bind().await?, bind().await?);
    let origin = |listener: &TcpListener| -> std::io::Result<String> {
        Ok(format!("http://{}", listener.local_addr()?))
    };
    let urls = SimUrls {
        login: origin(&login)?,
        manage: origin(&manage)?,
        graph: origin(&graph)?,
        download: origin(&download)?,
    };
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
        (login, login_router(&shared)),
        (manage, manage_router(&shared)),
        (graph, graph_router(&shared)),
        (download, download_router(&shared)),
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
