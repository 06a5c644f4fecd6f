//! The core: a back end, the settings, the connectors and the policies, shared by every
//! function's handler. Lambda mains and `casb serve` build one and hand it to the handlers.

use std::sync::{Arc, OnceLock};

use crate::backend::Backend;
use crate::config::ConfigError;
use crate::config::Settings;
use crate::connector::tokens::TokenManager;
use crate::connector::ConnectorRegistry;
use crate::content::{ContentScanner, DlpScanner};
use crate::dlp::policy_file;
use crate::policy::{builtin_policies, Policy};

#[derive(Clone)]
pub struct Core {
    pub backend: Backend,
    pub settings: Arc<Settings>,
    pub connectors: Arc<ConnectorRegistry>,
    pub policies: Arc<Vec<Policy>>,
    /// Access tokens for connector calls, refreshed safely.
    pub tokens: TokenManager,
    /// The DLP engine the inspector runs on downloaded files; see [`Core::scanner`].
    scanner: Arc<LazyScanner>,
}

/// Building the engine takes tens of milliseconds and only the inspector scans, so the other
/// functions' cold starts do not pay for it.
struct LazyScanner {
    /// The policy file, already read and validated, with its path for messages.
    policy: Option<(std::path::PathBuf, policy_file::Policy)>,
    built: OnceLock<Result<Arc<dyn ContentScanner>, String>>,
}

impl Core {
    /// Fails only when the DLP policy file named in the settings cannot be read or is invalid.
    pub fn new(
        backend: Backend,
        settings: Settings,
        connectors: ConnectorRegistry,
    ) -> Result<Self, ConfigError> {
        let policy = match &settings.dlp_policy {
            Some(path) => Some((
                path.clone(),
                policy_file::load(path).map_err(ConfigError::DlpPolicy)?,
            )),
            None => None,
        };
        Ok(Core {
            tokens: TokenManager::new(backend.clone()),
            scanner: Arc::new(LazyScanner {
                policy,
                built: OnceLock::new(),
            }),
            backend,
            settings: Arc::new(settings),
            connectors: Arc::new(connectors),
            policies: Arc::new(builtin_policies()),
        })
    }

    /// The DLP scanner, built on first use. Whatever runs the inspector calls it at start-up,
    /// so that an engine the policy cannot make stops the process there, not at the first file.
    pub fn scanner(&self) -> Result<Arc<dyn ContentScanner>, ConfigError> {
        let lazy = &self.scanner;
        lazy.built
            .get_or_init(|| match &lazy.policy {
                Some((path, policy)) => DlpScanner::from_policy(policy)
                    .map(|s| Arc::new(s) as Arc<dyn ContentScanner>)
                    .map_err(|e| format!("{}: {e}", path.display())),
                None => Ok(Arc::new(DlpScanner::for_incidents())),
            })
            .clone()
            .map_err(ConfigError::DlpPolicy)
    }

    /// The core a Lambda function runs on: the AWS back end from the environment, and the
    /// connectors `connectors` builds on it (`casb_connectors::from_env`).
    #[cfg(feature = "aws")]
    pub async fn from_lambda_env(
        connectors: impl FnOnce(&Backend) -> ConnectorRegistry,
    ) -> Result<Self, crate::config::ConfigError> {
        let settings = Settings::from_env()?;
        let aws = crate::config::AwsSettings::from_env()?;
        let backend = Backend::aws(&aws).await;
        let connectors = connectors(&backend);
        Core::new(backend, settings, connectors)
    }
}
