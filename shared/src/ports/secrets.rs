use async_trait::async_trait;
use secrecy::SecretString;

/// A secret value and the version it was stored as.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub value: SecretString,
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the secret store could not be reached: {0}")]
    Unavailable(String),
    #[error("the secret store refused the request: {0}")]
    Rejected(String),
}

/// Holds OAuth tokens and webhook signing keys. Values never leave as plain `String`s, so they
/// cannot end up in a log line by accident.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores a new version of the secret (creating it if needed) and returns the version id.
    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<String, SecretError>;
    /// The current version, or `None` if there is no such secret.
    async fn get_secret(&self, name: &str) -> Result<Option<StoredSecret>, SecretError>;
    /// Deletes every version; deleting a missing secret succeeds.
    async fn delete_secret(&self, name: &str) -> Result<(), SecretError>;
}
