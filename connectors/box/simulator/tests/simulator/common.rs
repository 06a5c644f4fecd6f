//! Test harness: a running simulator, an HTTP client that does not follow redirects, and an
//! admin access token.

use box_simulator::{BoxSimulator, SimConfig};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
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

pub struct Harness {
    pub sim: BoxSimulator,
    pub http: reqwest::Client,
    pub token: String,
    pub admin: String,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// Sends a request built by hand (extra headers, raw bodies, other hosts) and reads the reply.
pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    read(request.send().await.expect("request sent")).await
}

pub async fn read(response: reqwest::Response) -> Reply {
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

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> Harness {
        let sim = BoxSimulator::start(config).await.expect("simulator starts");
        let admin = sim.admin_user_id();
        let token = sim.issue_tokens(&admin).expect("admin tokens").access_token;
        Harness {
            sim,
            http: client(),
            token,
            admin,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.api_base(), path)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&self.token.clone(), method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Reply {
        self.call_as(token, Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// An admin-events page.
    pub async fn events(&self, query: &str) -> Reply {
        self.get(&format!("/events?{query}")).await
    }
}
