//! OAuth `state` and PKCE for the connect flow (RFC 6749 §10.12, RFC 7636, RFC 9700).
//!
//! The state is self-contained and signed: `base64url(json) "." base64url(hmac)`, carrying a
//! random nonce, the tenant, the provider, the requested settings and an expiry. Nothing about a
//! pending connection has to be stored; the PKCE verifier and the browser-binding cookie are both
//! derived from the nonce with the same key. Single use is enforced at the callback by an
//! insert-if-absent of the nonce in the dedup store.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{IngestMode, Provider};

type HmacSha256 = Hmac<Sha256>;

/// What the connect request asked for, carried through the provider's consent page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectRequest {
    pub nonce: String,
    pub tenant_id: String,
    pub provider: Provider,
    pub mode: IngestMode,
    /// Connector settings chosen at connect time (e.g. Box folders to watch).
    pub settings: serde_json::Value,
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the state parameter is malformed")]
    Malformed,
    #[error("the state parameter's signature does not match")]
    BadSignature,
    #[error("the connect request expired; start again")]
    Expired,
    #[error("the callback did not come from the browser that started the connection")]
    WrongBrowser,
    #[error("this state was already used; start again")]
    Reused,
}

/// Signs and checks states with a key from the secret store.
#[derive(Clone)]
pub struct StateSigner {
    key: SecretString,
}

/// Fresh random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system's random source is available");
    URL_SAFE_NO_PAD.encode(buffer)
}

/// The S256 code challenge for a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl StateSigner {
    pub fn new(key: SecretString) -> Self {
        StateSigner { key }
    }

    fn mac(&self, purpose: &str, data: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(self.key.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(data);
        mac
    }

    fn derive(&self, purpose: &str, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(purpose, nonce.as_bytes()).finalize().into_bytes())
    }

    /// The signed `state` for a request.
    pub fn sign(&self, request: &ConnectRequest) -> String {
        let payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(request).expect("requests serialize"));
        let signature = URL_SAFE_NO_PAD.encode(
            self.mac("state", payload.as_bytes())
                .finalize()
                .into_bytes(),
        );
        format!("{payload}.{signature}")
    }

    /// The PKCE verifier for a request: 43 characters from the unreserved set (RFC 7636 §4.1).
    pub fn code_verifier(&self, nonce: &str) -> String {
        self.derive("pkce", nonce)
    }

    /// The value of the cookie that binds the flow to the browser that started it.
    pub fn browser_binding(&self, nonce: &str) -> String {
        self.derive("browser", nonce)
    }

    /// Checks signature, expiry and browser binding (single use is checked by the caller).
    pub fn verify(
        &self,
        state: &str,
        binding_cookie: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ConnectRequest, StateError> {
        let (payload, signature) = state.split_once('.').ok_or(StateError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| StateError::Malformed)?;
        // Constant-time comparison (hmac's verify_slice).
        self.mac("state", payload.as_bytes())
            .verify_slice(&signature)
            .map_err(|_| StateError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| StateError::Malformed)?;
        let request: ConnectRequest =
            serde_json::from_slice(&json).map_err(|_| StateError::Malformed)?;
        if request.expires_at <= now {
            return Err(StateError::Expired);
        }
        let cookie = binding_cookie.ok_or(StateError::WrongBrowser)?;
        let cookie = URL_SAFE_NO_PAD
            .decode(cookie)
            .map_err(|_| StateError::WrongBrowser)?;
        self.mac("browser", request.nonce.as_bytes())
            .verify_slice(&cookie)
            .map_err(|_| StateError::WrongBrowser)?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(expires_in: i64) -> ConnectRequest {
        ConnectRequest {
            nonce: random_token(32),
            tenant_id: "tenant-a".into(),
            provider: Provider::Box,
            mode: IngestMode::Both,
            settings: serde_json::json!({"watch_folders": ["123"]}),
            redirect_uri: "http://127.0.0.1:8080/oauth/box/callback".into(),
            expires_at: Utc::now() + chrono::Duration::seconds(expires_in),
        }
    }

    #[test]
    fn a_signed_state_verifies_only_intact_fresh_and_from_its_browser() {
        let signer = StateSigner::new(SecretString::from("k1"));
        let req = request(600);
        let state = signer.sign(&req);
        let cookie = signer.browser_binding(&req.nonce);
        assert_eq!(
            signer.verify(&state, Some(&cookie), Utc::now()).unwrap(),
            req
        );

        // Tampered payload (another tenant), or a signature from another key.
        let mut forged = req.clone();
        forged.tenant_id = "tenant-evil".into();
        let (_, signature) = state.split_once('.').unwrap();
        let forged_state = format!(
            "{}.{signature}",
            signer.sign(&forged).split_once('.').unwrap().0
        );
        assert_eq!(
            signer.verify(&forged_state, Some(&cookie), Utc::now()),
            Err(StateError::BadSignature)
        );
        let other = StateSigner::new(SecretString::from("k2"));
        assert_eq!(
            other.verify(&state, Some(&cookie), Utc::now()),
            Err(StateError::BadSignature)
        );
        assert_eq!(
            signer.verify("garbage", Some(&cookie), Utc::now()),
            Err(StateError::Malformed)
        );

        // Another browser (no cookie, or the cookie of another flow).
        assert_eq!(
            signer.verify(&state, None, Utc::now()),
            Err(StateError::WrongBrowser)
        );
        let other_cookie = signer.browser_binding("another-nonce");
        assert_eq!(
            signer.verify(&state, Some(&other_cookie), Utc::now()),
            Err(StateError::WrongBrowser)
        );

        let late = Utc::now() + chrono::Duration::seconds(601);
        assert_eq!(
            signer.verify(&state, Some(&cookie), late),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn pkce_verifier_and_challenge_follow_rfc_7636() {
        let signer = StateSigner::new(SecretString::from("k1"));
        let verifier = signer.code_verifier("nonce-1");
        assert_eq!(verifier.len(), 43);
        assert!(verifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)));
        assert_ne!(verifier, signer.code_verifier("nonce-2"));
        // RFC 7636 appendix B's example.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}

/// What a token endpoint refused, from its error body (RFC 6749 §5.2): `error` (the HTTP
/// status when the body names none) and `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRefusal {
    pub code: String,
    pub description: String,
}

/// Reads a token endpoint's answer: the tokens (RFC 6749 §5.1), their lifetime capped at
/// `max_lifetime`, or what it refused. The caller decides which refusals mean the grant is
/// gone (`invalid_grant` and the like) and the integration must be connected again.
pub async fn read_token_response(
    response: reqwest::Response,
    provider: &str,
    max_lifetime: chrono::Duration,
) -> Result<Result<super::TokenSet, TokenRefusal>, super::ConnectorError> {
    #[derive(Deserialize)]
    struct Issued {
        access_token: String,
        expires_in: i64,
        refresh_token: Option<String>,
    }
    #[derive(Deserialize, Default)]
    struct Refused {
        error: Option<String>,
        error_description: Option<String>,
    }
    let status = response.status();
    let bytes = super::http::read_capped(response, 64 * 1024).await?;
    if status.is_success() {
        let issued: Issued = serde_json::from_slice(&bytes).map_err(|e| {
            super::ConnectorError::Permanent(format!("{provider} token response is not JSON: {e}"))
        })?;
        let lifetime = chrono::Duration::seconds(issued.expires_in.max(0)).min(max_lifetime);
        return Ok(Ok(super::TokenSet {
            access_token: issued.access_token,
            refresh_token: issued.refresh_token,
            expires_at: Utc::now() + lifetime,
        }));
    }
    let refused: Refused = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok(Err(TokenRefusal {
        code: refused.error.unwrap_or_else(|| status.to_string()),
        description: refused.error_description.unwrap_or_default(),
    }))
}
