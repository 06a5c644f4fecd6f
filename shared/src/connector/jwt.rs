//! RS256 JWT assertions (RFC 7523) for service-account credentials: Box JWT apps, Google
//! service accounts. Signed with aws-lc-rs, which rustls already links.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

use super::ConnectorError;

/// The DER bytes of a PEM `PRIVATE KEY` (PKCS#8) block.
fn pkcs8_der(pem: &str) -> Result<Vec<u8>, ConnectorError> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    if pem.contains("BEGIN RSA PRIVATE KEY") || pem.contains("ENCRYPTED PRIVATE KEY") {
        return Err(ConnectorError::NotConfigured(
            "the private key must be an unencrypted PKCS#8 PEM ('BEGIN PRIVATE KEY'); convert it with `openssl pkcs8 -topk8 -nocrypt`".into(),
        ));
    }
    STANDARD
        .decode(body)
        .map_err(|_| ConnectorError::NotConfigured("the private key is not a PEM block".into()))
}

/// `header.claims.signature`, RS256, with `kid` in the header when given.
pub fn sign_rs256(
    private_key_pem: &SecretString,
    key_id: Option<&str>,
    claims: &serde_json::Value,
) -> Result<String, ConnectorError> {
    let header: Vec<(&str, String)> = key_id
        .map(|kid| ("kid", kid.to_string()))
        .into_iter()
        .collect();
    sign_rs256_with_header(private_key_pem, &header, claims)
}

/// [`sign_rs256`] with other header fields: Microsoft identifies the certificate by its
/// thumbprint (`x5t`), not by a key id.
pub fn sign_rs256_with_header(
    private_key_pem: &SecretString,
    header_fields: &[(&str, String)],
    claims: &serde_json::Value,
) -> Result<String, ConnectorError> {
    let der = pkcs8_der(private_key_pem.expose_secret())?;
    let key = RsaKeyPair::from_pkcs8(&der).map_err(|e| {
        ConnectorError::NotConfigured(format!("the private key is not a usable RSA key: {e}"))
    })?;
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    for (name, value) in header_fields {
        header[*name] = serde_json::Value::String(value.clone());
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| ConnectorError::NotConfigured("signing the JWT assertion failed".into()))?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_pkcs8_pem_get_a_message_saying_how_to_convert() {
        let rsa = SecretString::from(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
        );
        let error = sign_rs256(&rsa, None, &serde_json::json!({})).unwrap_err();
        assert!(error.to_string().contains("openssl pkcs8"), "{error}");
        let garbage =
            SecretString::from("-----BEGIN PRIVATE KEY-----\n%%%\n-----END PRIVATE KEY-----");
        assert!(sign_rs256(&garbage, None, &serde_json::json!({})).is_err());
    }
}
