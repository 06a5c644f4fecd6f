//! The core: a back end, the settings, the connectors and the policies, shared by every
//! function's handler. Lambda mains and `casb serve` build one and hand it to the handlers.

use std::sync::Arc;

use crate::backend::Backend;
use crate::config::Settings;
use crate::connector::ConnectorRegistry;
use crate::policy::{builtin_policies, Policy};

#[derive(Clone)]
pub struct Core {
    pub backend: Backend,
    pub settings: Arc<Settings>,
    pub connectors: Arc<ConnectorRegistry>,
    pub policies: Arc<Vec<Policy>>,
}

impl Core {
    pub fn new(backend: Backend, settings: Settings, connectors: ConnectorRegistry) -> Self {
        Core {
            backend,
            settings: Arc::new(settings),
            connectors: Arc::new(connectors),
            policies: Arc::new(builtin_policies()),
        }
    }

    /// The core a Lambda function runs on: the AWS back end from the environment.
    #[cfg(feature = "aws")]
    pub async fn from_lambda_env() -> Result<Self, crate::config::ConfigError> {
        let settings = Settings::from_env()?;
        let aws = crate::config::AwsSettings::from_env()?;
        let backend = Backend::aws(&aws).await;
        Ok(Core::new(backend, settings, crate::connectors_from_env()))
    }
}
