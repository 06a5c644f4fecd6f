//! Simulator configuration: app credentials, webhook signature keys, lifetimes, enterprise.

use std::time::Duration;

/// A fixed-window request budget per access token, to exercise clients' 429 handling.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub max_requests: u32,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The OAuth app's client id and secret.
    pub client_id: String,
    pub client_secret: String,
    /// Redirect URIs registered for the app; empty accepts any (the simulator has no console).
    pub redirect_uris: Vec<String>,
    /// Webhook signature keys (Developer Console → Webhooks → Manage signature keys).
    pub webhook_primary_key: String,
    pub webhook_secondary_key: String,
    /// Access token lifetime; Box uses 60 minutes [box-dev:api-calls/permissions-and-errors/expiration].
    pub access_token_lifetime: Duration,
    /// Authorization codes live 30 seconds at Box.
    pub authorization_code_lifetime: Duration,
    /// Download URLs on dl.boxcloud.com expire after 15 minutes at Box.
    pub download_url_lifetime: Duration,
    /// The enterprise's e-mail domain; seeded users get logins on it.
    pub enterprise_domain: String,
    pub enterprise_name: String,
    /// The enterprise's id, as `GET /users/me` reports it in `enterprise.id`; the
    /// `box_subject_id` (client credentials) or `sub` (JWT) of an enterprise token.
    pub enterprise_id: String,
    /// The app's public key for the JWT grant, DER (SubjectPublicKeyInfo or PKCS#1
    /// RSAPublicKey), as added under Developer Console → Configuration → Add a Public Key.
    /// `None`: the app does not take JWT assertions. See [`crate::jwt::JwtKeyPair`].
    pub jwt_public_key_der: Option<Vec<u8>>,
    /// The id Box gives that public key; assertions must name it in their `kid` header.
    pub jwt_key_id: String,
    /// Per-token budget; `None` = unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Delays between webhook delivery attempts (Box retries up to 12 times over 2 h; the
    /// simulator retries after each of these short delays).
    pub webhook_retry_delays: Vec<Duration>,
    /// Per-attempt timeout when POSTing a webhook (Box waits 30 s).
    pub webhook_timeout: Duration,
    /// Record DOWNLOAD events for downloads made through the API (as Box does for the app's
    /// own downloads). Switch off if a test's pipeline should not see its own downloads.
    pub record_api_downloads: bool,
    /// Address to bind (the API listener and the download listener); port 0 picks a free port.
    pub bind_host: String,
    pub api_port: u16,
    pub download_port: u16,
    /// The `ip_address` written on events caused by API calls.
    pub event_ip_address: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            client_id: "sim-client-id".to_string(),
            client_secret: "sim-client-secret".to_string(),
            redirect_uris: Vec::new(),
            webhook_primary_key: "sim-primary-signature-key".to_string(),
            webhook_secondary_key: "sim-secondary-signature-key".to_string(),
            access_token_lifetime: Duration::from_secs(3600),
            authorization_code_lifetime: Duration::from_secs(30),
            download_url_lifetime: Duration::from_secs(900),
            enterprise_domain: "example.com".to_string(),
            enterprise_name: "Example Corp".to_string(),
            enterprise_id: "1".to_string(),
            jwt_public_key_der: None,
            jwt_key_id: "sim-public-key-id".to_string(),
            rate_limit: None,
            webhook_retry_delays: vec![
                Duration::from_millis(50),
                Duration::from_millis(200),
                Duration::from_millis(500),
            ],
            webhook_timeout: Duration::from_secs(10),
            record_api_downloads: true,
            bind_host: "127.0.0.1".to_string(),
            api_port: 0,
            download_port: 0,
            event_ip_address: "203.0.113.10".to_string(),
        }
    }
}
