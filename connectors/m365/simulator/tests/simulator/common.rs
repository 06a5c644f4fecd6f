//! Test harness: a running simulator, an HTTP client that does not follow redirects, token
//! helpers, and a webhook receiver that records what it is sent.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use m365_simulator::{M365Simulator, Resource, SimConfig};
use reqwest::Method;
use serde_json::Value;

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    /// The body parsed as JSON, or `Value::Null` when empty or not JSON.
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

/// The `PublisherIdentifier` the tests send (the CASB vendor's own tenant GUID).
pub const PUBLISHER: &str = "46b472a7-c68e-4adf-8ade-3db49497518e";

pub struct Harness {
    pub sim: M365Simulator,
    pub http: reqwest::Client,
    pub config: SimConfig,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> Harness {
        let sim = M365Simulator::start(config)
            .await
            .expect("simulator starts");
        let config = sim.config();
        Harness {
            sim,
            http: client(),
            config,
        }
    }

    /// A client credentials token request with the client secret in the form.
    pub async fn request_token(&self, scope: &str) -> Reply {
        send(self.http.post(self.sim.token_url()).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.as_str()),
            ("scope", scope),
        ]))
        .await
    }

    /// A token for `resource`, obtained over HTTP.
    pub async fn token(&self, resource: Resource) -> String {
        let reply = self.request_token(resource.default_scope()).await;
        assert_eq!(reply.status, 200, "token request failed: {}", reply.text);
        reply.json["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// A call to the activity feed, `{feed_root}/{path}` (path may carry a query), with
    /// `PublisherIdentifier` appended.
    pub async fn feed(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = format!(
            "{}/{path}{separator}PublisherIdentifier={PUBLISHER}",
            self.sim.feed_root()
        );
        self.call(token, method, &url, body).await
    }

    pub async fn call(&self, token: &str, method: Method, url: &str, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request).await
    }

    pub async fn start_subscription(&self, token: &str, content_type: &str) -> Reply {
        self.feed(
            token,
            Method::POST,
            &format!("subscriptions/start?contentType={content_type}"),
            None,
        )
        .await
    }
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    /// The raw query string (Graph's validation handshake passes its token there).
    pub query: Option<String>,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

#[derive(Clone)]
struct ReceiverState {
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

/// A webhook endpoint on loopback that records each POST and answers a settable status.
pub struct Receiver {
    pub url: String,
    state: ReceiverState,
    task: tokio::task::JoinHandle<()>,
}

/// Records the request and answers the set status; a Graph validation request
/// (`?validationToken=…`) is answered with the decoded token as text/plain, as Graph expects.
async fn receive(
    State(state): State<ReceiverState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state
        .received
        .lock()
        .expect("receiver lock")
        .push(Received {
            headers,
            query: query.clone(),
            body: parsed,
        });
    let status =
        StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK);
    let token = param(
        &query_of(&format!("?{}", query.unwrap_or_default())),
        "validationToken",
    );
    match token {
        Some(token) => (status, [("content-type", "text/plain")], token).into_response(),
        None => status.into_response(),
    }
}

impl Receiver {
    pub async fn start(status: u16) -> Receiver {
        let state = ReceiverState {
            received: Arc::default(),
            status: Arc::new(AtomicU16::new(status)),
        };
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("receiver binds");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver { url, state, task }
    }

    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("receiver lock").clone()
    }

    /// Waits up to five seconds for at least `count` requests.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..100 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The query parameters of a URL (e.g. a redirect `Location`).
pub fn query_of(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    serde_urlencoded::from_str(query).expect("query parses")
}

pub fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}
