//! The HTTP client every connector uses: timeouts, retries with backoff that honour
//! `Retry-After`, a cap on response sizes, and downloads that follow redirects only to the
//! provider's own hosts (a webhook payload can never make us fetch an arbitrary URL).

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use super::ConnectorError;

/// Hosts a connector may contact: exact `host` or `host:port`, or `*.suffix`.
#[derive(Debug, Clone, Default)]
pub struct HostAllowList(Vec<String>);

impl HostAllowList {
    pub fn new(patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        HostAllowList(
            patterns
                .into_iter()
                .map(|p| p.into().to_ascii_lowercase())
                .collect(),
        )
    }

    /// Adds the host (and port) of `url`.
    pub fn with_url_host(mut self, url: &str) -> Self {
        if let Ok(parsed) = reqwest::Url::parse(url) {
            if let Some(host) = parsed.host_str() {
                self.0.push(match parsed.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_string(),
                });
            }
        }
        self
    }

    /// Adds the hosts (or URLs) listed, comma-separated, in the environment variable `name`:
    /// how tests and demos let a connector reach its local simulator.
    pub fn with_hosts_from_env(mut self, name: &str) -> Self {
        if let Some(extra) = crate::config::optional_env(name) {
            for host in extra.split(',').map(str::trim).filter(|h| !h.is_empty()) {
                self = if host.contains("://") {
                    self.with_url_host(host)
                } else {
                    self.0.push(host.to_ascii_lowercase());
                    self
                };
            }
        }
        self
    }

    /// Whether `url` may be fetched: an allowed host, over HTTPS (plain HTTP only on loopback,
    /// where local simulators run).
    pub fn permits(&self, url: &reqwest::Url) -> bool {
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        if !secure_or_loopback(url) {
            return false;
        }
        let with_port = url.port().map(|p| format!("{host}:{p}"));
        self.0.iter().any(|pattern| {
            if let Some(suffix) = pattern.strip_prefix("*.") {
                url.port().is_none() && host.ends_with(&format!(".{suffix}"))
            } else if pattern.contains(':') {
                with_port.as_deref() == Some(pattern.as_str())
            } else {
                url.port().is_none() && host == *pattern
            }
        })
    }
}

/// HTTPS, or plain HTTP to this machine only (where local simulators and test receivers run).
pub(crate) fn secure_or_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
        return false;
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        || host == "[::1]";
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries per request, the first included.
    pub attempts: u32,
    /// A `Retry-After` longer than this is not waited out: the caller gets
    /// [`ConnectorError::RateLimited`] and backs off across runs instead.
    pub max_wait: Duration,
    pub base_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            max_wait: Duration::from_secs(30),
            base_backoff: Duration::from_millis(250),
        }
    }
}

/// The largest JSON response we read (Box event pages are far smaller).
const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct ProviderHttp {
    client: Client,
    retry: RetryPolicy,
}

impl ProviderHttp {
    pub fn new(retry: RetryPolicy) -> Self {
        let client = Client::builder()
            // Redirects are followed by hand, after checking the target host.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("casb/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a client with these settings always builds");
        ProviderHttp { client, retry }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.retry
            .base_backoff
            .saturating_mul(2u32.saturating_pow(attempt.min(8)))
    }

    /// Sends the request `build` makes, retrying transport errors, 5xx and 429 (after its
    /// `Retry-After`). 401 becomes [`ConnectorError::Unauthorized`]; other statuses are the
    /// caller's to interpret.
    pub async fn send(
        &self,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, ConnectorError> {
        let mut last_error = String::new();
        for attempt in 0..self.retry.attempts.max(1) {
            let last = attempt + 1 >= self.retry.attempts.max(1);
            match build(&self.client).send().await {
                Err(error) => {
                    last_error = format!("request failed: {}", without_url(&error));
                    if last {
                        break;
                    }
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                    let retry_after =
                        retry_after(&response).unwrap_or_else(|| self.backoff(attempt));
                    if retry_after > self.retry.max_wait || last {
                        return Err(ConnectorError::RateLimited { retry_after });
                    }
                    tracing::info!(
                        ?retry_after,
                        attempt,
                        "provider rate limit; waiting as asked"
                    );
                    tokio::time::sleep(retry_after.max(self.backoff(attempt))).await;
                }
                Ok(response) if response.status().is_server_error() => {
                    last_error = format!("provider answered {}", response.status());
                    if last {
                        break;
                    }
                    tokio::time::sleep(
                        retry_after(&response).unwrap_or_else(|| self.backoff(attempt)),
                    )
                    .await;
                }
                Ok(response) if response.status() == StatusCode::UNAUTHORIZED => {
                    return Err(ConnectorError::Unauthorized);
                }
                Ok(response) => return Ok(response),
            }
        }
        Err(ConnectorError::Transient(last_error))
    }

    /// Sends the request once, never retrying: for requests that must not be repeated after
    /// an answer was lost (a refresh grant spends its single-use token when processed, whether
    /// or not we hear back). Failures come back as errors the caller retries later, from the
    /// state it stored.
    pub async fn send_once(
        &self,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, ConnectorError> {
        match build(&self.client).send().await {
            Err(error) => Err(ConnectorError::Transient(format!(
                "request failed (not retried): {}",
                without_url(&error)
            ))),
            Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                Err(ConnectorError::RateLimited {
                    retry_after: retry_after(&response).unwrap_or(self.retry.base_backoff),
                })
            }
            Ok(response) if response.status().is_server_error() => Err(ConnectorError::Transient(
                format!("provider answered {}", response.status()),
            )),
            Ok(response) => Ok(response),
        }
    }

    /// Sends and parses a 2xx JSON answer; any other status is an error naming it.
    pub async fn json<T: DeserializeOwned>(
        &self,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<T, ConnectorError> {
        let response = self.send(build).await?;
        let status = response.status();
        let bytes = read_capped(response, MAX_JSON_BYTES as u64).await?;
        if !status.is_success() {
            return Err(ConnectorError::Permanent(format!(
                "provider answered {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            )));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ConnectorError::Permanent(format!("provider sent unexpected JSON: {e}")))
    }

    /// GETs `url` with the bearer token, following up to 3 redirects, each only to a host in
    /// `allowed`; refuses bodies over `max_bytes`. The token is sent only to the first URL (a
    /// download host gets the signed URL, never our token).
    pub async fn download(
        &self,
        url: &str,
        bearer: &str,
        allowed: &HostAllowList,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ConnectorError> {
        let mut target = reqwest::Url::parse(url)
            .map_err(|e| ConnectorError::Permanent(format!("bad URL: {e}")))?;
        for hop in 0..4 {
            if !allowed.permits(&target) {
                return Err(ConnectorError::Permanent(format!(
                    "refusing to download from {}: not one of the provider's hosts",
                    target.host_str().unwrap_or("?")
                )));
            }
            let current = target.clone();
            let response = self
                .send(|client| {
                    let request = client.get(current.clone());
                    if hop == 0 {
                        request.bearer_auth(bearer)
                    } else {
                        request
                    }
                })
                .await?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| {
                        ConnectorError::Permanent("redirect without a Location".into())
                    })?;
                target = current
                    .join(location)
                    .map_err(|e| ConnectorError::Permanent(format!("bad redirect target: {e}")))?;
                continue;
            }
            if status == StatusCode::ACCEPTED {
                let wait = retry_after(&response).unwrap_or(Duration::from_secs(5));
                return Err(ConnectorError::RateLimited { retry_after: wait });
            }
            if !status.is_success() {
                return Err(ConnectorError::Permanent(format!(
                    "download answered {status}"
                )));
            }
            return read_capped(response, max_bytes).await;
        }
        Err(ConnectorError::Permanent("too many redirects".into()))
    }
}

/// A reqwest error's text without the URL (it may carry signed query parameters, and a webhook
/// URL is itself a credential).
pub(crate) fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// `Retry-After` in seconds (Box, Graph and Slack send seconds), or else the IETF
/// `RateLimit-Reset` header (Netskope sends `ratelimit-reset` seconds with its 429s).
pub fn retry_after(response: &Response) -> Option<Duration> {
    let seconds = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    };
    seconds("retry-after").or_else(|| seconds("ratelimit-reset"))
}

/// Reads a body, failing as soon as it grows past `max_bytes` (never buffering more).
pub async fn read_capped(
    mut response: Response,
    max_bytes: u64,
) -> Result<Vec<u8>, ConnectorError> {
    if response.content_length().is_some_and(|len| len > max_bytes) {
        return Err(ConnectorError::Permanent(format!(
            "response exceeds the {max_bytes}-byte limit"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ConnectorError::Transient(format!("reading response: {}", without_url(&e))))?
    {
        if body.len() as u64 + chunk.len() as u64 > max_bytes {
            return Err(ConnectorError::Permanent(format!(
                "response exceeds the {max_bytes}-byte limit"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    #[test]
    fn only_the_providers_hosts_over_https_are_permitted() {
        let allowed = HostAllowList::new(["api.box.com", "*.boxcloud.com"])
            .with_url_host("http://127.0.0.1:9000/2.0");
        assert!(allowed.permits(&url("https://api.box.com/2.0/files/1/content")));
        assert!(allowed.permits(&url("https://dl.boxcloud.com/d/1/abc")));
        assert!(allowed.permits(&url("http://127.0.0.1:9000/download")));
        // Not Box, or Box's name inside someone else's domain.
        assert!(!allowed.permits(&url("https://evil.example.com/")));
        assert!(!allowed.permits(&url("https://boxcloud.com.evil.example/")));
        assert!(!allowed.permits(&url("https://dl.boxcloud.com.evil.example/")));
        // Right host, wrong scheme or port.
        assert!(!allowed.permits(&url("http://api.box.com/2.0")));
        assert!(!allowed.permits(&url("https://api.box.com:8443/2.0")));
        assert!(!allowed.permits(&url("http://127.0.0.1:9001/other-service")));
        // Plain HTTP only on loopback.
        let lan = HostAllowList::new(["10.0.0.5:80"]);
        assert!(!lan.permits(&url("http://10.0.0.5:80/x")));
    }
}
