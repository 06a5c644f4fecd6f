//! Simulator configuration: the tenant, the app registration (client id, secret, certificate
//! key), lifetimes and page sizes.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The customer tenant's id (a GUID), as admin consent reports it and tokens carry in `tid`.
    pub tenant_id: String,
    pub tenant_display_name: String,
    /// The tenant's initial domain; the token endpoint accepts it in place of the GUID.
    pub tenant_domain: String,
    /// The multi-tenant app registration: application (client) id and one client secret.
    pub client_id: String,
    pub client_secret: String,
    /// A certificate's RSA public key (X.509 SubjectPublicKeyInfo or PKCS#1 DER) registered on
    /// the app; `None`: the app has no certificate credential and client assertions fail.
    pub client_certificate_public_key_der: Option<Vec<u8>>,
    /// Access token lifetime (`expires_in`); Microsoft answers 3599 s for app-only tokens.
    pub token_lifetime: Duration,
    /// How many content items `/subscriptions/content` answers per page before `NextPageUri`.
    pub content_page_size: usize,
    /// Items per page of a Graph delta query (priority 3; not served yet).
    pub delta_page_size: usize,
    /// Whether the (simulated) admin declines the admin consent prompt.
    pub consent_denied: bool,
    /// Whether the app is already consented in the tenant at start, so tests need not run the
    /// admin consent redirect first. A declined consent leaves this as it is.
    pub admin_consent_granted: bool,
    /// How long Graph waits for a subscription's validation answer (Microsoft: 10 s).
    pub graph_validation_timeout: Duration,
    /// Per-attempt timeout of Management API webhook validations and notifications.
    pub management_webhook_timeout: Duration,
    /// Delays before re-sending a notification that did not get 200 (Microsoft retries with
    /// exponential back-off for hours; the simulator retries after each of these).
    pub management_webhook_retry_delays: Vec<Duration>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            tenant_id: "8f2c1d4e-5a6b-4c7d-9e8f-0a1b2c3d4e5f".to_string(),
            tenant_display_name: "Contoso".to_string(),
            tenant_domain: "contoso.onmicrosoft.com".to_string(),
            client_id: "3c9e7a51-2b4d-4f68-8a1c-6d5e4f3a2b1c".to_string(),
            client_secret: "sim~client~secret".to_string(),
            client_certificate_public_key_der: None,
            token_lifetime: Duration::from_secs(3599),
            content_page_size: 100,
            delta_page_size: 50,
            consent_denied: false,
            admin_consent_granted: true,
            graph_validation_timeout: Duration::from_secs(10),
            management_webhook_timeout: Duration::from_secs(10),
            management_webhook_retry_delays: vec![
                Duration::from_millis(100),
                Duration::from_millis(400),
            ],
        }
    }
}
