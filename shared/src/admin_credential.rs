//! The admin credential: the bearer token that guards every route that changes which SaaS
//! tenants this deployment watches (connect, connect links, disconnect), and the short-lived
//! signed connect links made from it for a browser, which cannot send an `Authorization` header
//! on a navigation.
//!
//! It fails closed: with no credential configured those routes answer 503 and say how to set
//! one. `casb serve` creates one on first start (`<data dir>/admin-token`, owner-only); the SAM
//! template creates one in Secrets Manager with a generated value; `CASB_ADMIN_TOKEN` overrides
//! both.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::optional_env;
use crate::connector::oauth::random_token;

type HmacSha256 = Hmac<Sha256>;

/// The file `casb serve` keeps its generated admin token in, inside the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// The longest a connect link may be valid: long enough to paste it into a browser and sign in
/// at the provider, short enough that a link left in a chat or a browser history is soon dead.
pub const MAX_LINK_LIFETIME: Duration = Duration::minutes(15);
/// The query parameters a connect link adds to the connect request it was made for.
const EXPIRES: &str = "expires";
const SIGNATURE: &str = "signature";

/// Where the admin token comes from.
#[derive(Clone)]
pub enum AdminCredential {
    /// None configured: the admin routes answer 503.
    Unset,
    /// `CASB_ADMIN_TOKEN`.
    Token(SecretString),
    /// An owner-only file (`casb serve`'s `<data dir>/admin-token`), read on every use so that
    /// a rotation takes effect without a restart.
    File(PathBuf),
    /// A Secrets Manager secret (template.yaml's `AdminTokenSecret`, passed to the function as
    /// `CASB_ADMIN_TOKEN_SECRET`), read on every use for the same reason.
    #[cfg(feature = "aws")]
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum AdminCredentialError {
    #[error("no admin credential is configured, so connecting and disconnecting integrations is refused: set CASB_ADMIN_TOKEN, or run casb serve, which creates <data dir>/{ADMIN_TOKEN_FILE}; in AWS, deploy template.yaml, which creates the Secrets Manager secret AdminTokenSecret and names it in CASB_ADMIN_TOKEN_SECRET")]
    NotConfigured,
    #[error("the admin credential cannot be read: {0}")]
    Unavailable(String),
    #[error("{0}")]
    NotRotatable(&'static str),
}

impl AdminCredential {
    /// `CASB_ADMIN_TOKEN`, or none.
    pub fn from_env() -> Self {
        match optional_env("CASB_ADMIN_TOKEN") {
            Some(token) => AdminCredential::Token(SecretString::from(token)),
            None => AdminCredential::Unset,
        }
    }

    /// A Lambda function's: `CASB_ADMIN_TOKEN`, else the Secrets Manager secret named by
    /// `CASB_ADMIN_TOKEN_SECRET` (template.yaml sets it only on the function that needs it).
    #[cfg(feature = "aws")]
    pub fn from_lambda_env(sdk: &aws_config::SdkConfig) -> Self {
        match (Self::from_env(), optional_env("CASB_ADMIN_TOKEN_SECRET")) {
            (AdminCredential::Unset, Some(secret_id)) => Self::secrets_manager(sdk, &secret_id),
            (credential, _) => credential,
        }
    }

    /// The Secrets Manager secret `secret_id` (a name or an ARN).
    #[cfg(feature = "aws")]
    pub fn secrets_manager(sdk: &aws_config::SdkConfig, secret_id: &str) -> Self {
        AdminCredential::SecretsManager {
            client: aws_sdk_secretsmanager::Client::new(sdk),
            secret_id: secret_id.to_string(),
        }
    }

    /// `casb serve`'s: `CASB_ADMIN_TOKEN` if set, else `<data_dir>/admin-token`, created with a
    /// random token (owner-only) if it does not exist yet.
    pub fn local(data_dir: &Path) -> Result<Self, AdminCredentialError> {
        if let token @ AdminCredential::Token(_) = Self::from_env() {
            return Ok(token);
        }
        let path = data_dir.join(ADMIN_TOKEN_FILE);
        let created = crate::embedded::write_owner_only(&path, random_token(32).as_bytes(), false)
            .map_err(|e| {
                AdminCredentialError::Unavailable(format!(
                    "cannot create the admin token file {}: {e}",
                    path.display()
                ))
            })?;
        if created {
            tracing::info!(file = %path.display(), "created a random admin token");
        }
        Ok(AdminCredential::File(path))
    }

    /// Where the token is, for an operator; never the token itself.
    pub fn describe(&self) -> String {
        match self {
            AdminCredential::Unset => {
                "none: connect and disconnect answer 503 until CASB_ADMIN_TOKEN is set".into()
            }
            AdminCredential::Token(_) => "CASB_ADMIN_TOKEN (from the environment)".into(),
            AdminCredential::File(path) => format!(
                "{} (owner-only; print it with `casb admin-token`, make a browser link with `casb connect-link`)",
                path.display()
            ),
            #[cfg(feature = "aws")]
            AdminCredential::SecretsManager { secret_id, .. } => {
                format!("Secrets Manager secret {secret_id}")
            }
        }
    }

    /// The token in force now.
    pub async fn current(&self) -> Result<SecretString, AdminCredentialError> {
        let token = match self {
            AdminCredential::Unset => return Err(AdminCredentialError::NotConfigured),
            AdminCredential::Token(token) => return Ok(token.clone()),
            AdminCredential::File(path) => std::fs::read_to_string(path).map_err(|e| {
                AdminCredentialError::Unavailable(format!(
                    "cannot read the admin token file {}: {e} (casb serve creates it on start)",
                    path.display()
                ))
            })?,
            #[cfg(feature = "aws")]
            AdminCredential::SecretsManager { client, secret_id } => client
                .get_secret_value()
                .secret_id(secret_id)
                .send()
                .await
                .map_err(secret_unavailable(secret_id))?
                .secret_string
                .unwrap_or_default(),
        };
        // An operator who edits the file by hand leaves a newline behind.
        let token = token.trim();
        if token.is_empty() {
            return Err(AdminCredentialError::Unavailable(format!(
                "the admin token ({}) is empty; rotate it",
                self.describe()
            )));
        }
        Ok(SecretString::from(token.to_string()))
    }

    /// Replaces the token with a new random one and returns it. Connect links made with the old
    /// one stop working at once.
    pub async fn rotate(&self) -> Result<SecretString, AdminCredentialError> {
        let token = random_token(32);
        match self {
            AdminCredential::Unset => return Err(AdminCredentialError::NotConfigured),
            AdminCredential::Token(_) => {
                return Err(AdminCredentialError::NotRotatable(
                    "the admin token comes from CASB_ADMIN_TOKEN: change the variable and restart",
                ))
            }
            AdminCredential::File(path) => {
                crate::embedded::write_owner_only(path, token.as_bytes(), true).map_err(|e| {
                    AdminCredentialError::Unavailable(format!(
                        "cannot write the admin token file {}: {e}",
                        path.display()
                    ))
                })?;
            }
            #[cfg(feature = "aws")]
            AdminCredential::SecretsManager { client, secret_id } => {
                client
                    .put_secret_value()
                    .secret_id(secret_id)
                    .secret_string(&token)
                    .send()
                    .await
                    .map_err(secret_unavailable(secret_id))?;
            }
        }
        Ok(SecretString::from(token))
    }
}

/// A Secrets Manager failure on the admin token's secret, with its causes.
#[cfg(feature = "aws")]
fn secret_unavailable<E: std::error::Error>(
    secret_id: &str,
) -> impl FnOnce(E) -> AdminCredentialError + '_ {
    move |e| {
        AdminCredentialError::Unavailable(format!(
            "secret {secret_id}: {}",
            crate::aws::describe(&e)
        ))
    }
}

/// Whether `presented` is `expected`, in constant time whatever the lengths (the digests are
/// compared, not the tokens).
pub fn same_token(expected: &SecretString, presented: &str) -> bool {
    Sha256::digest(presented.as_bytes())
        .iter()
        .zip(Sha256::digest(expected.expose_secret().as_bytes()).iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// A connect link ready to hand to a browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectLink {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectLinkError {
    #[error("the connect link is malformed: {0}; make a new one")]
    Malformed(&'static str),
    #[error("the connect link's signature does not match: it was changed after it was made (provider, tenant, mode, settings and expiry are all signed) or the admin token was rotated since; make a new one")]
    BadSignature,
    #[error("the connect link expired at {0}; make a new one (casb connect-link, or POST /oauth/{{provider}}/connect/link)")]
    Expired(DateTime<Utc>),
    #[error("the connect link would be valid for more than {} minutes; make a shorter one", MAX_LINK_LIFETIME.num_minutes())]
    TooLong,
}

/// Signs and checks connect links: `/oauth/{provider}/connect?<request>&expires=<unix
/// seconds>&signature=<base64url HMAC-SHA256>`. The key derives from the admin token, so
/// rotating the token voids every link already made; the signature covers the provider and
/// every parameter with the expiry, so changing, adding or removing any of them voids the link.
pub struct ConnectLinkSigner {
    key: SecretString,
}

/// Whether a connect request carries a link signature.
pub fn is_signed_link(query: &[(String, String)]) -> bool {
    query.iter().any(|(name, _)| name == SIGNATURE)
}

impl ConnectLinkSigner {
    pub fn new(admin_token: &SecretString) -> Self {
        // A key of its own, so a signature never doubles as anything else made from the token.
        let mut mac = HmacSha256::new_from_slice(admin_token.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(b"casb connect-link key v1");
        ConnectLinkSigner {
            key: SecretString::from(hex::encode(mac.finalize().into_bytes())),
        }
    }

    /// The MAC over the provider and the parameters in a canonical order, each part
    /// length-prefixed so that no two different requests give the same input.
    fn mac(&self, provider: &str, params: &[&(String, String)]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(self.key.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        let mut sorted = params.to_vec();
        sorted.sort();
        for part in std::iter::once(provider).chain(
            sorted
                .iter()
                .flat_map(|(name, value)| [name.as_str(), value.as_str()]),
        ) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The query of a link for `params` (tenant, mode, settings) valid until `expires_at`.
    pub fn sign(
        &self,
        provider: &str,
        params: &[(String, String)],
        expires_at: DateTime<Utc>,
    ) -> Vec<(String, String)> {
        let mut query = params.to_vec();
        query.push((EXPIRES.into(), expires_at.timestamp().to_string()));
        let signature = self
            .mac(provider, &query.iter().collect::<Vec<_>>())
            .finalize()
            .into_bytes();
        query.push((SIGNATURE.into(), base64_url(&signature)));
        query
    }

    /// Checks a signed connect request's query at `now` and returns the parameters the link was
    /// made for (without `expires` and `signature`).
    pub fn verify(
        &self,
        provider: &str,
        query: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, ConnectLinkError> {
        let only = |name: &str| {
            let mut values = query.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
            match (values.next(), values.next()) {
                (Some(value), None) => Ok(value.clone()),
                _ => Err(ConnectLinkError::Malformed(
                    "it needs exactly one expires and one signature",
                )),
            }
        };
        let signature = decode_base64_url(&only(SIGNATURE)?).ok_or(ConnectLinkError::Malformed(
            "the signature is not base64url",
        ))?;
        let expires = only(EXPIRES)?
            .parse::<i64>()
            .ok()
            .and_then(|seconds| Utc.timestamp_opt(seconds, 0).single())
            .ok_or(ConnectLinkError::Malformed("expires is not a time"))?;
        let signed: Vec<&(String, String)> = query.iter().filter(|(n, _)| n != SIGNATURE).collect();
        // Constant-time comparison (hmac's verify_slice).
        self.mac(provider, &signed)
            .verify_slice(&signature)
            .map_err(|_| ConnectLinkError::BadSignature)?;
        if expires <= now {
            return Err(ConnectLinkError::Expired(expires));
        }
        if expires - now > MAX_LINK_LIFETIME {
            return Err(ConnectLinkError::TooLong);
        }
        Ok(signed
            .into_iter()
            .filter(|(n, _)| n != EXPIRES)
            .cloned()
            .collect())
    }
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_base64_url(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_connect_link_verifies_only_unchanged_unexpired_and_with_its_token() {
        let token = SecretString::from("admin-token-one".to_string());
        let signer = ConnectLinkSigner::new(&token);
        let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let request = pairs(&[
            ("tenant_id", "acme"),
            ("mode", "both"),
            ("watch_folders", "1,2"),
        ]);
        let query = signer.sign("box", &request, now + Duration::minutes(10));
        assert_eq!(signer.verify("box", &query, now), Ok(request.clone()));
        // Order does not matter; content does.
        let mut reordered = query.clone();
        reordered.reverse();
        let mut verified = signer.verify("box", &reordered, now).unwrap();
        verified.reverse();
        assert_eq!(verified, request);

        let changed = |name: &str, value: &str| {
            query
                .iter()
                .map(|(n, v)| (n.clone(), if n == name { value.into() } else { v.clone() }))
                .collect::<Vec<_>>()
        };
        for tampered in [
            changed("tenant_id", "victim"),
            changed("mode", "pull"),
            changed("watch_folders", "1,2,3"),
            changed(
                EXPIRES,
                &(now + Duration::minutes(14)).timestamp().to_string(),
            ),
            [
                query.clone(),
                pairs(&[("internal_domains", "evil.example")]),
            ]
            .concat(),
            query
                .iter()
                .filter(|(n, _)| n != "watch_folders")
                .cloned()
                .collect(),
        ] {
            assert_eq!(
                signer.verify("box", &tampered, now),
                Err(ConnectLinkError::BadSignature),
                "{tampered:?}"
            );
        }
        assert_eq!(
            signer.verify("dropbox", &query, now),
            Err(ConnectLinkError::BadSignature)
        );
        let rotated = ConnectLinkSigner::new(&SecretString::from("admin-token-two".to_string()));
        assert_eq!(
            rotated.verify("box", &query, now),
            Err(ConnectLinkError::BadSignature)
        );
        // Expired at its expiry; a link longer than the limit is refused even if signed.
        let later = now + Duration::minutes(10);
        assert!(matches!(
            signer.verify("box", &query, later),
            Err(ConnectLinkError::Expired(_))
        ));
        let long = signer.sign(
            "box",
            &pairs(&[("tenant_id", "acme")]),
            now + Duration::hours(1),
        );
        assert_eq!(
            signer.verify("box", &long, now),
            Err(ConnectLinkError::TooLong)
        );
        let unsigned: Vec<_> = query
            .iter()
            .filter(|(n, _)| n != SIGNATURE)
            .cloned()
            .collect();
        assert!(!is_signed_link(&unsigned) && is_signed_link(&query));
        assert!(matches!(
            signer.verify("box", &unsigned, now),
            Err(ConnectLinkError::Malformed(_))
        ));
    }

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        let expected = SecretString::from("s3cret-token".to_string());
        assert!(same_token(&expected, "s3cret-token"));
        assert!(!same_token(&expected, "s3cret-toke"));
        assert!(!same_token(&expected, "s3cret-token "));
        assert!(!same_token(&expected, ""));
    }

    #[tokio::test]
    async fn the_local_token_is_created_once_owner_only_and_rotated() {
        if std::env::var_os("CASB_ADMIN_TOKEN").is_some() {
            eprintln!("skipping: CASB_ADMIN_TOKEN is set, so the token file is not used");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let credential = AdminCredential::local(dir.path()).unwrap();
        let first = credential.current().await.unwrap();
        assert!(first.expose_secret().len() >= 40);
        let again = AdminCredential::local(dir.path()).unwrap();
        assert_eq!(
            again.current().await.unwrap().expose_secret(),
            first.expose_secret(),
            "a second start keeps the token"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(ADMIN_TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!credential.describe().contains(first.expose_secret()));
        let rotated = credential.rotate().await.unwrap();
        assert_ne!(rotated.expose_secret(), first.expose_secret());
        assert_eq!(
            again.current().await.unwrap().expose_secret(),
            rotated.expose_secret(),
            "a rotation is read without a restart"
        );
        assert!(matches!(
            AdminCredential::Unset.current().await,
            Err(AdminCredentialError::NotConfigured)
        ));
    }
}
