//! Who may call the REST API, and for which tenant.
//!
//! Three kinds of credential, each bound to exactly one tenant:
//! - **API keys** (`casb api-key create`): a bearer token `casb_<id>_<secret>`, shown once and
//!   stored only as its SHA-256 (the secret is 256 random bits, so a fast hash is enough; what
//!   an attacker with the table cannot do is turn the hash back into a usable token).
//! - **API users** (`casb api-key create --user NAME`): HTTP Basic with a generated password,
//!   stored as a salted PBKDF2-HMAC-SHA256 hash of [`PASSWORD_ITERATIONS`] rounds, so a stolen
//!   table costs an attacker that much work per guess. A user exchanges Basic for an access
//!   token at `POST /api/v1/tokens` rather than paying the hash on every call.
//! - **Access tokens**: issued to an API user, expiring after [`ACCESS_TOKEN_LIFETIME`], stored
//!   hashed like API keys and revocable like them.
//!
//! IAM callers (SigV4 through API Gateway's IAM authorizer) have no stored credential: the
//! template maps their role to a tenant ([`IamTenants`]).

mod rate_limit;

pub use rate_limit::RateLimiter;

use std::collections::HashMap;
use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::connector::oauth::random_token;

/// OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
pub const PASSWORD_ITERATIONS: u32 = 600_000;
/// How long an access token issued to an API user stays valid.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::hours(1);
/// Every API key and access token starts with this, so secret scanners can recognise a leaked
/// one.
pub const TOKEN_PREFIX: &str = "casb_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A long-lived bearer token made by `casb api-key create`.
    ApiKey,
    /// A user name and password for HTTP Basic.
    BasicUser,
    /// A short-lived bearer token an API user obtained with Basic.
    AccessToken,
}

/// One credential, as stored: never the secret itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiCredential {
    /// `k_<hex>` for keys, `t_<hex>` for access tokens, `user:<name>` for API users (so a user
    /// name is unique across every tenant: Basic carries no tenant).
    pub id: String,
    pub tenant_id: String,
    pub kind: CredentialKind,
    /// A label for people (the user name, for API users).
    pub name: String,
    /// `sha256:<hex>` for bearer tokens; `pbkdf2-sha256$<iterations>$<salt>$<hash>` for users.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The API user an access token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_to: Option<String>,
}

impl ApiCredential {
    /// When the store may drop the record: a day after an access token expires (so the list
    /// still shows it for a while). Keys and users are kept until an operator removes them.
    pub fn purge_at(&self) -> Option<DateTime<Utc>> {
        match self.kind {
            CredentialKind::AccessToken => self.expires_at.map(|at| at + Duration::days(1)),
            _ => None,
        }
    }

    /// Why the credential cannot be used at `now`, if it cannot.
    pub fn unusable(&self, now: DateTime<Utc>) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("the credential was revoked")
        } else if self.expires_at.is_some_and(|at| at <= now) {
            Some("the credential has expired")
        } else {
            None
        }
    }
}

/// A credential just made, with the secret to hand over once.
pub struct IssuedCredential {
    pub credential: ApiCredential,
    /// The bearer token, or the user's password.
    pub secret: String,
}

fn short_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    format!("{prefix}{}", hex::encode(bytes))
}

fn token_hash(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// A new API key for `tenant_id`, valid until `expires_at` (or until revoked).
pub fn issue_api_key(
    tenant_id: &str,
    name: &str,
    now: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
) -> IssuedCredential {
    issue_token(
        tenant_id,
        name,
        "k_",
        CredentialKind::ApiKey,
        now,
        expires_at,
        None,
    )
}

/// A new access token for an API user, valid for [`ACCESS_TOKEN_LIFETIME`].
pub fn issue_access_token(user: &ApiCredential, now: DateTime<Utc>) -> IssuedCredential {
    issue_token(
        &user.tenant_id,
        &format!("access token of {}", user.name),
        "t_",
        CredentialKind::AccessToken,
        now,
        Some(now + ACCESS_TOKEN_LIFETIME),
        Some(user.id.clone()),
    )
}

fn issue_token(
    tenant_id: &str,
    name: &str,
    prefix: &str,
    kind: CredentialKind,
    now: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    issued_to: Option<String>,
) -> IssuedCredential {
    let id = short_id(prefix);
    let secret = format!("{TOKEN_PREFIX}{id}_{}", random_token(32));
    IssuedCredential {
        credential: ApiCredential {
            secret_hash: token_hash(&secret),
            id,
            tenant_id: tenant_id.to_string(),
            kind,
            name: name.to_string(),
            created_at: now,
            expires_at,
            revoked_at: None,
            issued_to,
        },
        secret,
    }
}

/// The id of the user called `name`.
pub fn user_credential_id(name: &str) -> String {
    format!("user:{name}")
}

/// A user name for Basic: what a tenant id may hold (no ':' — Basic splits on it).
pub fn validate_user_name(name: &str) -> Result<(), String> {
    crate::domain::validate_id("API user name", name)
}

/// A new API user with a generated password (24 random bytes).
pub fn issue_api_user(tenant_id: &str, name: &str, now: DateTime<Utc>) -> IssuedCredential {
    let password = random_token(24);
    IssuedCredential {
        credential: ApiCredential {
            id: user_credential_id(name),
            tenant_id: tenant_id.to_string(),
            kind: CredentialKind::BasicUser,
            name: name.to_string(),
            secret_hash: hash_password(&password, PASSWORD_ITERATIONS),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            issued_to: None,
        },
        secret: password,
    }
}

fn hash_password(password: &str, iterations: u32) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source is available");
    let mut hash = [0u8; 32];
    let rounds = NonZeroU32::new(iterations.max(1)).expect("at least one round");
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        password.as_bytes(),
        &mut hash,
    );
    format!(
        "pbkdf2-sha256${iterations}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    )
}

/// Whether `password` is the one `stored` was made from (constant time in the password).
pub fn password_matches(stored: &str, password: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Some(iterations), Ok(salt), Ok(hash)) = (
        iterations.parse::<u32>().ok().and_then(NonZeroU32::new),
        STANDARD_NO_PAD.decode(salt),
        STANDARD_NO_PAD.decode(hash),
    ) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

/// The credential id inside a bearer token, if it has the shape of one this API issued.
pub fn token_credential_id(token: &str) -> Option<&str> {
    // `casb_` + `k_` or `t_` + 16 hex digits + `_` + the secret (which may itself hold '_').
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let id = rest.get(..18)?;
    let secret = rest.get(19..)?;
    let well_formed = (id.starts_with("k_") || id.starts_with("t_"))
        && id[2..].bytes().all(|b| b.is_ascii_hexdigit())
        && rest.as_bytes()[18] == b'_'
        && !secret.is_empty();
    well_formed.then_some(id)
}

/// Whether `token` is the one `stored` was made from (constant time).
pub fn token_matches(stored: &str, token: &str) -> bool {
    let presented = token_hash(token);
    stored.len() == presented.len()
        && stored
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The user name and password of an `Authorization: Basic` value.
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    let encoded = value.strip_prefix("Basic ")?.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Which tenant each IAM principal calls for: template.yaml's `ApiIamTenants` parameter, as
/// `CASB_API_IAM_TENANTS` = `arn:aws:iam::111122223333:role/siem=acme,arn:...=globex`.
#[derive(Debug, Clone, Default)]
pub struct IamTenants(HashMap<String, String>);

impl IamTenants {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut map = HashMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (arn, tenant) = pair.rsplit_once('=').ok_or_else(|| {
                format!(
                    "CASB_API_IAM_TENANTS entry '{pair}' is not <IAM role or user ARN>=<tenant id>"
                )
            })?;
            if !arn.starts_with("arn:") {
                return Err(format!(
                    "CASB_API_IAM_TENANTS entry '{pair}': '{arn}' is not an ARN"
                ));
            }
            crate::domain::validate_id("tenant id", tenant)?;
            map.insert(principal_key(arn), tenant.to_string());
        }
        Ok(IamTenants(map))
    }

    /// The tenant of the caller whose ARN API Gateway's IAM authorizer verified.
    pub fn tenant_for(&self, caller_arn: &str) -> Option<&str> {
        self.0.get(&principal_key(caller_arn)).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A role's sessions (`arn:aws:sts::<account>:assumed-role/<role>/<session>`) are the role
/// (`arn:aws:iam::<account>:role/<role>`): the mapping names roles, callers present sessions.
fn principal_key(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if let [_, partition, "sts", _, account, resource] = parts[..] {
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            let role = rest.split('/').next().unwrap_or_default();
            return format!("arn:{partition}:iam::{account}:role/{role}");
        }
    }
    arn.to_string()
}

/// The opaque cursor of a keyset page: the last item's time and id, base64url JSON.
pub mod cursor {
    use super::*;

    pub fn encode(at: DateTime<Utc>, id: &str) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::json!([at.timestamp_millis(), id]).to_string())
    }

    pub fn decode(cursor: &str) -> Result<(DateTime<Utc>, String), String> {
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|json| serde_json::from_slice::<(i64, String)>(&json).ok())
            .and_then(|(ms, id)| Some((DateTime::from_timestamp_millis(ms)?, id)))
            .ok_or_else(|| {
                "cursor is not one this API issued: pass the `cursor` of the previous page's `next` unchanged, or omit it for the first page".to_string()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_key_verifies_and_a_changed_one_does_not() {
        let now = Utc::now();
        let issued = issue_api_key("acme", "siem", now, None);
        let token = &issued.secret;
        assert!(token.starts_with("casb_k_"));
        assert_eq!(
            token_credential_id(token),
            Some(issued.credential.id.as_str())
        );
        assert!(token_matches(&issued.credential.secret_hash, token));
        let mut altered = token.clone();
        altered.push('x');
        assert!(!token_matches(&issued.credential.secret_hash, &altered));
        assert!(!issued.credential.secret_hash.contains(&token[12..]));
        assert_eq!(token_credential_id("casb_k_abc_"), None);
        assert_eq!(token_credential_id("Bearer nonsense"), None);
        assert_eq!(token_credential_id("casb_x_abc_secret"), None);
    }

    #[test]
    fn passwords_are_salted_and_checked_against_their_hash() {
        let a = hash_password("correct horse", 1000);
        let b = hash_password("correct horse", 1000);
        assert_ne!(a, b, "each hash has its own salt");
        assert!(password_matches(&a, "correct horse"));
        assert!(!password_matches(&a, "correct horse "));
        assert!(!password_matches("pbkdf2-sha256$0$AA$AA", "x"));
        assert!(!password_matches("plain", "plain"));
        let user = issue_api_user("acme", "alice", Utc::now());
        assert!(user
            .credential
            .secret_hash
            .starts_with(&format!("pbkdf2-sha256${PASSWORD_ITERATIONS}$")));
    }

    #[test]
    fn basic_headers_split_on_the_first_colon() {
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:pa:ss")
        );
        assert_eq!(
            basic_credentials(&value),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(basic_credentials("Bearer abc"), None);
    }

    #[test]
    fn assumed_role_sessions_map_to_their_role() {
        let tenants = IamTenants::parse(
            "arn:aws:iam::111122223333:role/siem=acme, arn:aws:iam::111122223333:user/bob=globex",
        )
        .unwrap();
        assert_eq!(
            tenants.tenant_for("arn:aws:sts::111122223333:assumed-role/siem/session-1"),
            Some("acme")
        );
        assert_eq!(
            tenants.tenant_for("arn:aws:iam::111122223333:user/bob"),
            Some("globex")
        );
        assert_eq!(
            tenants.tenant_for("arn:aws:sts::999999999999:assumed-role/siem/s"),
            None
        );
        assert!(IamTenants::parse("siem=acme").is_err());
        assert!(IamTenants::parse("arn:aws:iam::1:role/x=bad tenant").is_err());
    }

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let encoded = cursor::encode(at, "inc-1");
        assert_eq!(cursor::decode(&encoded).unwrap(), (at, "inc-1".to_string()));
        assert!(cursor::decode("not-a-cursor").is_err());
    }
}
