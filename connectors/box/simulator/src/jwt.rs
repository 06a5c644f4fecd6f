//! Box's JWT grant [box-dev:authentication/jwt/without-sdk]: `POST /oauth2/token` with
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, the app's `client_id` and
//! `client_secret`, and an `assertion` signed with the app's RSA private key. The simulator
//! verifies the signature against the public key in [`SimConfig::jwt_public_key_der`] and the
//! claims as Box documents them, and answers an access token only (no refresh token).
//!
//! [`JwtKeyPair`] and [`test_key_pair`] give tests (the simulator's and the CASB's) a key
//! pair the simulator trusts, and a way to sign assertions, valid or deliberately broken.

use std::collections::HashMap;
use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::error::Unspecified;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::config::SimConfig;
use crate::error::OAuthError;
use crate::oauth::{IssuedTokens, SubjectKind};
use crate::state::{now, random_token, SimState};

/// The `grant_type` of the JWT grant.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The audience Box documents for assertions. The simulator also accepts its own token URL.
pub const BOX_TOKEN_URL: &str = "https://api.box.com/oauth2/token";

/// Box refuses an assertion whose `exp` is more than this many seconds ahead.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 60;

/// The kid [`test_key_pair`] uses.
pub const TEST_KEY_ID: &str = "sim-test-key";

/// Box's error for a signature that does not verify (also for an unknown `kid`, since the
/// key a `kid` names is the one the signature is checked against).
const SIGNATURE_ERROR: &str = "Signature verification error. The public key identified by \"kid\" must correspond to the private key used for signing.";

fn invalid_grant(description: impl Into<String>) -> OAuthError {
    OAuthError::new("invalid_grant", description)
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes one base64url JWT segment into a JSON object; padding is tolerated.
fn decode_segment(segment: &str) -> Option<Map<String, Value>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Checks an assertion's header and RS256/384/512 signature against the configured key and
/// returns its claims.
fn verified_claims(
    assertion: &str,
    public_key_der: &[u8],
    key_id: &str,
) -> Result<Map<String, Value>, OAuthError> {
    let malformed = || invalid_grant("The 'assertion' is not a well-formed JWT");
    let mut parts = assertion.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let header = decode_segment(header_b64).ok_or_else(malformed)?;
    // Box signs with RS256, RS384 or RS512; anything else (`none`, HMAC) is refused before
    // the signature is looked at.
    let algorithm: &'static signature::RsaParameters =
        match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
            Some("RS384") => &signature::RSA_PKCS1_2048_8192_SHA384,
            Some("RS512") => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => {
                return Err(invalid_grant(
                    "Please check the 'alg' header. The algorithm must be RS256, RS384 or RS512.",
                ))
            }
        };
    if header.get("kid").and_then(Value::as_str) != Some(key_id) {
        return Err(invalid_grant(SIGNATURE_ERROR));
    }
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature_b64.trim_end_matches('='))
        .map_err(|_| malformed())?;
    let signed = &assertion[..header_b64.len() + 1 + claims_b64.len()];
    UnparsedPublicKey::new(algorithm, public_key_der)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| invalid_grant(SIGNATURE_ERROR))?;
    decode_segment(claims_b64).ok_or_else(malformed)
}

/// `aud` may be a string or an array of strings (RFC 7519 §4.1.3).
fn audience_ok(aud: Option<&Value>, own_token_url: &str) -> bool {
    let accepted = |text: &str| text == BOX_TOKEN_URL || text == own_token_url;
    match aud {
        Some(Value::String(text)) => accepted(text),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(accepted),
        _ => false,
    }
}

impl SimState {
    /// The JWT grant: checks the assertion (signature, `iss`, `aud`, `box_sub_type`, `sub`,
    /// `exp`, `jti`) and issues an access token for the subject.
    pub(crate) fn jwt_bearer(
        &mut self,
        form: &HashMap<String, String>,
        own_token_url: &str,
    ) -> Result<IssuedTokens, OAuthError> {
        let Some(public_key_der) = self.config.jwt_public_key_der.clone() else {
            // Box's answer when an app without a public key asks for this grant.
            return Err(OAuthError::new(
                "invalid_request",
                "The grant type is unauthorized for this client_id",
            ));
        };
        let assertion = form.get("assertion").ok_or_else(|| {
            OAuthError::new("invalid_request", "The assertion parameter is missing")
        })?;
        let claims = verified_claims(assertion, &public_key_der, &self.config.jwt_key_id)?;
        let claim = |name: &str| claims.get(name).and_then(Value::as_str);

        if claim("iss") != Some(self.config.client_id.as_str()) {
            return Err(invalid_grant(
                "Please check the 'iss' claim. It must be the application's client_id.",
            ));
        }
        if !audience_ok(claims.get("aud"), own_token_url) {
            return Err(invalid_grant(format!(
                "Please check the 'aud' claim. It must be {BOX_TOKEN_URL}."
            )));
        }
        let kind = claim("box_sub_type")
            .and_then(SubjectKind::parse)
            .ok_or_else(|| {
                invalid_grant(
                    "Please check the 'box_sub_type' claim. It must be 'enterprise' or 'user'.",
                )
            })?;
        let user_id = claim("sub")
            .and_then(|sub| self.server_auth_subject(kind, sub))
            .ok_or_else(|| {
                invalid_grant("Please check the 'sub' claim. The 'sub' specified is invalid.")
            })?;

        let now = now();
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs.floor() as i64, 0))
            .ok_or_else(|| {
                invalid_grant("Please check the 'exp' claim. It must be a Unix time in seconds.")
            })?;
        if exp <= now {
            return Err(invalid_grant(
                "Current date/time MUST be before the expiration date/time listed in the 'exp' claim",
            ));
        }
        if exp.timestamp() - now.timestamp() > MAX_ASSERTION_LIFETIME_SECS {
            return Err(invalid_grant(
                "Please check the 'exp' claim. The 'exp' value exceeds the maximum value of 60 seconds beyond the issue time.",
            ));
        }

        let jti = claim("jti")
            .filter(|jti| (16..=128).contains(&jti.chars().count()))
            .ok_or_else(|| {
                invalid_grant(
                    "Please check the 'jti' claim. It must be a unique string of 16 to 128 characters.",
                )
            })?
            .to_string();
        self.oauth.used_jtis.retain(|_, expires| *expires > now);
        if self.oauth.used_jtis.contains_key(&jti) {
            return Err(invalid_grant(
                "Please check the 'jti' claim. A unique 'jti' value is required.",
            ));
        }
        self.oauth.used_jtis.insert(jti, exp);
        self.oauth.stats.jwt_grants += 1;
        Ok(self.issue_access_token(&user_id))
    }
}

/// An RSA key pair for the JWT grant: the private half for whoever signs assertions (the
/// CASB under test), the public half for the simulator's config.
#[derive(Clone)]
pub struct JwtKeyPair {
    /// The public key id assertions name in their `kid` header.
    pub key_id: String,
    /// The private key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the form a
    /// Box app's config file carries (there encrypted with a passphrase).
    pub private_key_pem: String,
    /// The same private key, PKCS#8 DER.
    pub private_key_pkcs8_der: Vec<u8>,
    /// The public key, X.509 SubjectPublicKeyInfo DER (what [`SimConfig::jwt_public_key_der`]
    /// takes).
    pub public_key_der: Vec<u8>,
    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`), as pasted into Box's console.
    pub public_key_pem: String,
}

impl std::fmt::Debug for JwtKeyPair {
    /// Leaves the private key out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeyPair")
            .field("key_id", &self.key_id)
            .field("public_key_pem", &self.public_key_pem)
            .finish_non_exhaustive()
    }
}

/// PEM armour with 64-column base64 lines.
fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// The DER inside the first PEM block of `text` (any label), e.g. a public key file for
/// `box-sim --jwt-public-key`.
pub fn der_from_pem(text: &str) -> Option<Vec<u8>> {
    let start = text.find("-----BEGIN ")?;
    let body_start = start + text[start..].find('\n')? + 1;
    let body_end = body_start + text[body_start..].find("-----END ")?;
    let encoded: String = text[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
}

impl JwtKeyPair {
    /// Generates a 2048-bit RSA key pair (takes a moment; tests should share
    /// [`test_key_pair`]).
    pub fn generate(key_id: &str) -> Result<Self, Unspecified> {
        let key = RsaKeyPair::generate(KeySize::Rsa2048)?;
        let private_key_pkcs8_der = key.as_der()?.as_ref().to_vec();
        let public_key_der = key.public_key().as_der()?.as_ref().to_vec();
        Ok(JwtKeyPair {
            key_id: key_id.to_string(),
            private_key_pem: pem("PRIVATE KEY", &private_key_pkcs8_der),
            private_key_pkcs8_der,
            public_key_pem: pem("PUBLIC KEY", &public_key_der),
            public_key_der,
        })
    }

    /// `config` with this key as the app's JWT public key.
    pub fn configure(&self, config: SimConfig) -> SimConfig {
        SimConfig {
            jwt_public_key_der: Some(self.public_key_der.clone()),
            jwt_key_id: self.key_id.clone(),
            ..config
        }
    }

    /// Signs `claims` as an RS256 JWT whose header names this key (`kid`).
    pub fn sign(&self, claims: &Value) -> Result<String, Unspecified> {
        self.sign_with_header(
            &json!({"alg": "RS256", "typ": "JWT", "kid": self.key_id}),
            claims,
        )
    }

    /// Signs with RS256 under any header, e.g. to send a wrong `kid` or `alg` on purpose.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> Result<String, Unspecified> {
        let key = RsaKeyPair::from_pkcs8(&self.private_key_pkcs8_der).map_err(|_| Unspecified)?;
        let signing_input = format!(
            "{}.{}",
            base64url(header.to_string().as_bytes()),
            base64url(claims.to_string().as_bytes())
        );
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )?;
        Ok(format!("{signing_input}.{}", base64url(&signature)))
    }
}

/// One key pair per process (kid [`TEST_KEY_ID`]), generated on first use, so tests do not
/// each pay for RSA key generation. Configure a simulator with it:
/// `test_key_pair().configure(SimConfig::default())`.
///
/// # Panics
/// If the system cannot generate an RSA key (no usable randomness).
pub fn test_key_pair() -> &'static JwtKeyPair {
    static KEY: OnceLock<JwtKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        JwtKeyPair::generate(TEST_KEY_ID).expect("RSA key generation for the test key pair")
    })
}

/// Claims Box accepts for `client_id` acting as `box_sub_type` (`enterprise` or `user`) `sub`:
/// `aud` [`BOX_TOKEN_URL`], a fresh 32-character `jti`, `exp` 45 seconds ahead. Tests change
/// one member to provoke an error.
pub fn assertion_claims(client_id: &str, box_sub_type: &str, sub: &str) -> Value {
    json!({
        "iss": client_id,
        "sub": sub,
        "box_sub_type": box_sub_type,
        "aud": BOX_TOKEN_URL,
        "jti": random_token(32),
        "exp": now().timestamp() + 45,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_and_wraps_at_64_columns() {
        let der: Vec<u8> = (0..=255).collect();
        let text = pem("PUBLIC KEY", &der);
        assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(text.lines().all(|line| line.len() <= 64));
        assert_eq!(der_from_pem(&text), Some(der));
        assert_eq!(der_from_pem("no pem here"), None);
    }

    #[test]
    fn audience_may_be_a_string_or_an_array() {
        let own = "http://127.0.0.1:1/oauth2/token";
        assert!(audience_ok(Some(&json!(BOX_TOKEN_URL)), own));
        assert!(audience_ok(Some(&json!(own)), own));
        assert!(audience_ok(Some(&json!(["x", BOX_TOKEN_URL])), own));
        assert!(!audience_ok(Some(&json!("https://api.box.com/2.0")), own));
        assert!(!audience_ok(None, own));
    }

    #[test]
    fn signatures_verify_only_under_the_signing_key_and_kid() {
        let key = test_key_pair();
        let token = key.sign(&json!({"hello": "box"})).unwrap();
        let claims = verified_claims(&token, &key.public_key_der, &key.key_id).unwrap();
        assert_eq!(claims["hello"], "box");
        assert_eq!(
            verified_claims(&token, &key.public_key_der, "other-kid")
                .unwrap_err()
                .error,
            "invalid_grant"
        );
        // One flipped claim byte breaks the signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = base64url(br#"{"hello":"bob"}"#);
        let forged = parts.join(".");
        assert_eq!(
            verified_claims(&forged, &key.public_key_der, &key.key_id)
                .unwrap_err()
                .description,
            SIGNATURE_ERROR
        );
        let unsigned = format!(
            "{}.{}.",
            base64url(br#"{"alg":"none","kid":"sim-test-key"}"#),
            parts[1]
        );
        assert!(verified_claims(&unsigned, &key.public_key_der, &key.key_id)
            .unwrap_err()
            .description
            .contains("'alg'"));
    }
}
