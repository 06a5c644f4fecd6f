//! The core: a back end, the settings, the connectors and the policies, shared by every
//! function's handler. Lambda mains and `casb serve` build one and hand it to the handlers.

use std::sync::Arc;

use crate::backend::Backend;
use crate::config::ConfigError;
use crate::config::Settings;
use crate::connector::tokens::TokenManager;
use crate::connector::ConnectorRegistry;
use crate::content::{ContentScanner, DlpScanner};
use crate::policy::{builtin_policies, Policy};

#[derive(Clone)]
pub struct Core {
    pub backend: Backend,
    pub settings: Arc<Settings>,
    pub connectors: Arc<ConnectorRegistry>,
    pub policies: Arc<Vec<Policy>>,
    /// Access tokens for connector calls, refreshed safely.
    pub tokens: TokenManager,
    /// The DLP engine the inspector runs on downloaded files.
    pub scanner: Arc<dyn ContentScanner>,
}

impl Core {
    /// Fails only when the DLP policy file named in the settings cannot be loaded.
    pub fn new(
        backend: Backend,
        settings: Settings,
        connectors: ConnectorRegistry,
    ) -> Result<Self, ConfigError> {
        let scanner = match &settings.dlp_policy {
            Some(path) => DlpScanner::from_policy_file(path).map_err(ConfigError::DlpPolicy)?,
            None => DlpScanner::for_incidents(),
        };
        Ok(Core {
            tokens: TokenManager::new(backend.clone()),
            scanner: Arc::new(scanner),
            backend,
            settings: Arc::new(settings),
            connectors: Arc::new(connectors),
            policies: Arc::new(builtin_policies()),
        })
    }

    /// The core a Lambda function runs on: the AWS back end from the environment.
    #[cfg(feature = "aws")]
    pub async fn from_lambda_env() -> Result<Self, crate::config::ConfigError> {
        let settings = Settings::from_env()?;
        let aws = crate::config::AwsSettings::from_env()?;
        let backend = Backend::aws(&aws).await;
        let connectors = crate::connectors_from_env(&backend);
        Core::new(backend, settings, connectors)
    }
}
