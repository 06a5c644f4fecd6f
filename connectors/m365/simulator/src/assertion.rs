//! Certificate credentials: a client assertion (a JWT signed with the app certificate's RSA
//! key) in place of a client secret, per entra-docs `certificate-credentials.md`:
//! header `alg` (PS256 now documented; RS256 is what older guidance and many libraries use, so
//! both are accepted), `typ`, and the certificate thumbprint as `x5t#S256` (or the older
//! SHA-1 `x5t`); claims `aud` = the token endpoint URL, `iss` = `sub` = the client id,
//! `jti`, `exp`, optionally `nbf` and `iat`.
//!
//! [`CertificateKeyPair`] gives tests (the simulator's and the CASB's) a key the simulator can
//! trust and a way to sign assertions, valid or deliberately broken.

use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::error::Unspecified;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::IdentityError;
use crate::identity::{decode_segment, numeric_date};
use crate::state::{new_guid, SimState};

/// Clock skew the token endpoint tolerates on `nbf` [GUESS: five minutes, a common default].
const CLOCK_SKEW_SECS: i64 = 300;

fn invalid_client(aadsts: u32, message: impl Into<String>) -> IdentityError {
    IdentityError::new(401, "invalid_client", aadsts, message)
}

fn malformed(reason: &str) -> IdentityError {
    IdentityError::new(
        400,
        "invalid_request",
        50027,
        format!("JWT token is invalid or malformed. [Reason - {reason}]"),
    )
}

/// The token endpoint URLs an assertion may name as `aud`: Microsoft's own, with the tenant
/// as GUID or domain, and the simulator's (the URL the client actually posted to).
fn audience_ok(aud: Option<&Value>, state: &SimState, own_token_url: &str) -> bool {
    let accepted = |text: &str| {
        text == own_token_url
            || [&state.config.tenant_id, &state.config.tenant_domain]
                .iter()
                .any(|tenant| {
                    text.eq_ignore_ascii_case(&format!(
                        "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
                    ))
                })
    };
    match aud {
        Some(Value::String(text)) => accepted(text),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(accepted),
        _ => false,
    }
}

/// Verifies `assertion` for `client_id`; `Ok` means the client is authenticated.
pub(crate) fn verify(
    state: &mut SimState,
    assertion: &str,
    client_id: &str,
    own_token_url: &str,
) -> Result<(), IdentityError> {
    let mut parts = assertion.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("The token does not have three segments."));
    };
    let header = decode_segment(header_b64).ok_or_else(|| malformed("The header is not JSON."))?;
    let claims = decode_segment(claims_b64).ok_or_else(|| malformed("The payload is not JSON."))?;

    let thumbprint = header
        .get("x5t#S256")
        .or_else(|| header.get("x5t"))
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty());
    let Some(public_key_der) = state.config.client_certificate_public_key_der.clone() else {
        return Err(invalid_client(
            700027,
            format!("Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{}']", thumbprint.unwrap_or("")),
        ));
    };
    if thumbprint.is_none() {
        return Err(invalid_client(
            700027,
            "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '']",
        ));
    }
    let algorithm: &'static dyn signature::VerificationAlgorithm =
        match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
            Some("PS256") => &signature::RSA_PSS_2048_8192_SHA256,
            other => {
                return Err(invalid_client(
                    700027,
                    format!("Client assertion contains an invalid signature. [Reason - The algorithm '{}' is not supported.]", other.unwrap_or("")),
                ))
            }
        };
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature_b64.trim_end_matches('='))
        .map_err(|_| malformed("The signature is not base64url."))?;
    let signed = &assertion[..header_b64.len() + 1 + claims_b64.len()];
    UnparsedPublicKey::new(algorithm, &public_key_der)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| {
            invalid_client(
                700027,
                "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value.]",
            )
        })?;

    let claim = |name: &str| claims.get(name).and_then(Value::as_str);
    if claim("iss") != Some(client_id) || claim("sub") != Some(client_id) {
        return Err(invalid_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
        ));
    }
    if !audience_ok(claims.get("aud"), state, own_token_url) {
        return Err(invalid_client(
            700023,
            format!("Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials . [expected: https://login.microsoftonline.com/{}/oauth2/v2.0/token]", state.config.tenant_id),
        ));
    }
    let now = Utc::now();
    let expires = numeric_date(claims.get("exp"))
        .ok_or_else(|| malformed("The 'exp' claim is missing or not a number."))?;
    let not_before = numeric_date(claims.get("nbf"));
    let too_early =
        not_before.is_some_and(|nbf| nbf.timestamp() - CLOCK_SKEW_SECS > now.timestamp());
    if expires <= now || too_early {
        return Err(invalid_client(
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    let jti = claim("jti")
        .filter(|jti| !jti.is_empty())
        .ok_or_else(|| malformed("The 'jti' claim is missing."))?
        .to_string();
    // Replays of one assertion are refused while it is valid [GUESS: Microsoft documents that
    // jti must be unique but not the error; AADSTS700025 is used here].
    state.used_assertion_ids.retain(|_, expiry| *expiry > now);
    if state.used_assertion_ids.contains_key(&jti) {
        return Err(invalid_client(
            700025,
            "Client assertion has already been used (the 'jti' claim must be unique).",
        ));
    }
    state.used_assertion_ids.insert(jti, expires);
    Ok(())
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA key pair standing in for an app certificate: the private half for whoever signs
/// assertions (the CASB under test), the public half for [`crate::SimConfig`].
#[derive(Clone)]
pub struct CertificateKeyPair {
    /// Unencrypted PKCS#8 DER.
    pub private_key_pkcs8_der: Vec<u8>,
    /// X.509 SubjectPublicKeyInfo DER (what `SimConfig::client_certificate_public_key_der`
    /// takes).
    pub public_key_der: Vec<u8>,
    /// The `x5t#S256` header value: base64url SHA-256 of the public key DER. (A real
    /// thumbprint hashes the whole certificate; the simulator has no certificate and only
    /// checks that a thumbprint is present.)
    pub thumbprint_s256: String,
}

impl std::fmt::Debug for CertificateKeyPair {
    /// Leaves the private key out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateKeyPair")
            .field("thumbprint_s256", &self.thumbprint_s256)
            .finish_non_exhaustive()
    }
}

impl CertificateKeyPair {
    /// Generates a 2048-bit RSA key pair (takes a moment; tests should share
    /// [`test_certificate`]).
    pub fn generate() -> Result<Self, Unspecified> {
        let key = RsaKeyPair::generate(KeySize::Rsa2048)?;
        let private_key_pkcs8_der = key.as_der()?.as_ref().to_vec();
        let public_key_der = key.public_key().as_der()?.as_ref().to_vec();
        let thumbprint_s256 = base64url(&Sha256::digest(&public_key_der));
        Ok(CertificateKeyPair {
            private_key_pkcs8_der,
            public_key_der,
            thumbprint_s256,
        })
    }

    /// Signs `claims` as a JWT (RS256 or PS256) under a header naming this key's thumbprint.
    pub fn sign(&self, alg: &str, claims: &Value) -> Result<String, Unspecified> {
        let header = json!({"alg": alg, "typ": "JWT", "x5t#S256": self.thumbprint_s256});
        self.sign_with_header(&header, claims)
    }

    /// Signs under any header (its `alg` picks RS256 or PS256; anything else signs RS256), e.g.
    /// to leave the thumbprint out on purpose.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> Result<String, Unspecified> {
        let key = RsaKeyPair::from_pkcs8(&self.private_key_pkcs8_der).map_err(|_| Unspecified)?;
        let padding: &'static dyn signature::RsaEncoding =
            if header.get("alg").and_then(Value::as_str) == Some("PS256") {
                &signature::RSA_PSS_SHA256
            } else {
                &signature::RSA_PKCS1_SHA256
            };
        let signing_input = format!(
            "{}.{}",
            base64url(header.to_string().as_bytes()),
            base64url(claims.to_string().as_bytes())
        );
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(
            padding,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )?;
        Ok(format!("{signing_input}.{}", base64url(&signature)))
    }
}

/// One key pair per process, generated on first use, so tests do not each pay for RSA key
/// generation.
///
/// # Panics
/// If the system cannot generate an RSA key (no usable randomness).
pub fn test_certificate() -> &'static CertificateKeyPair {
    static KEY: OnceLock<CertificateKeyPair> = OnceLock::new();
    KEY.get_or_init(|| CertificateKeyPair::generate().expect("RSA key generation"))
}

/// Claims Microsoft accepts from `client_id` for the token endpoint `token_url`: `iss` =
/// `sub` = client id, a fresh GUID `jti`, `nbf`/`iat` now, `exp` ten minutes ahead. Tests
/// change one member to provoke an error.
pub fn assertion_claims(client_id: &str, token_url: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "jti": new_guid(),
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    })
}
