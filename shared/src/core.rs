//! The core: a back end, the settings, the connectors and the policies, shared by every
//! function's handler. Lambda mains and `casb serve` build one and hand it to the handlers.

use std::sync::{Arc, OnceLock};

use crate::admin_credential::AdminCredential;
use crate::backend::Backend;
use crate::config::ConfigError;
use crate::config::Settings;
use crate::connector::tokens::TokenManager;
use crate::connector::ConnectorRegistry;
use crate::content::{ContentScanner, DlpScanner};
use crate::dlp::policy_file;
use crate::notify::{Channels, Notifier};
use crate::policy::{ActivePolicies, PolicyCache, PolicyLoadError};

#[derive(Clone)]
pub struct Core {
    pub backend: Backend,
    pub settings: Arc<Settings>,
    pub connectors: Arc<ConnectorRegistry>,
    /// Each tenant's policy set, read through a short cache; see [`Core::policies_for`].
    pub policies: Arc<PolicyCache>,
    /// Bytes of downloaded files and their text the inspector may hold at once, as permits of
    /// one MiB ([`crate::config::Settings::inspection_memory_bytes`]).
    pub inspection_memory: Arc<tokio::sync::Semaphore>,
    /// Access tokens for connector calls, refreshed safely.
    pub tokens: TokenManager,
    /// The notification channels, read and validated when the core is built.
    pub notifier: Arc<Notifier>,
    /// What guards connect and disconnect: `CASB_ADMIN_TOKEN` unless the runner sets another
    /// (`casb serve`: a token file in the data directory; Lambda: a Secrets Manager secret).
    pub admin: AdminCredential,
    /// The DLP engine the inspector runs on downloaded files; see [`Core::scanner`].
    scanner: Arc<LazyScanner>,
    /// The threat detectors' settings and geolocation database.
    threats: Arc<crate::threat::ThreatDetection>,
}

/// Building the engine takes tens of milliseconds and only the inspector scans, so the other
/// functions' cold starts do not pay for it.
struct LazyScanner {
    /// The policy file, already read and validated, with its path for messages.
    policy: Option<(std::path::PathBuf, policy_file::Policy)>,
    built: OnceLock<Result<Arc<dyn ContentScanner>, String>>,
}

impl Core {
    /// Fails only when the DLP policy file or the notification channels named in the settings
    /// cannot be read or are invalid.
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
        let channels = Channels::load(settings.notify_channels.as_ref(), &settings.notify_emails)
            .map_err(ConfigError::NotifyChannels)?;
        Ok(Core {
            tokens: TokenManager::new(backend.clone()),
            notifier: Arc::new(Notifier::new(channels)),
            admin: AdminCredential::from_env(),
            scanner: Arc::new(LazyScanner {
                policy,
                built: OnceLock::new(),
            }),
            threats: Arc::new(crate::threat::ThreatDetection::new(settings.threat.clone())),
            backend,
            connectors: Arc::new(connectors),
            policies: Arc::new(PolicyCache::new(settings.policy_cache)),
            inspection_memory: Arc::new(tokio::sync::Semaphore::new(
                (settings.inspection_memory_bytes >> 20).max(1) as usize,
            )),
            settings: Arc::new(settings),
        })
    }

    /// The policy set the tenant runs now: its newest applied version, or the default set.
    pub async fn policies_for(
        &self,
        tenant_id: &str,
    ) -> Result<Arc<ActivePolicies>, PolicyLoadError> {
        self.policies
            .get(self.backend.policies.as_ref(), tenant_id)
            .await
    }

    /// The threat detectors' settings and geolocation database.
    pub fn threats(&self) -> &crate::threat::ThreatDetection {
        &self.threats
    }

    /// Reads the geolocation database the settings name. Whatever runs the inspector calls it
    /// at start-up, as [`Core::scanner`]: a path that cannot be read stops the start there.
    pub fn geolocation(&self) -> Result<(), ConfigError> {
        self.threats
            .geolocation()
            .map(|_| ())
            .map_err(ConfigError::Geolocation)
    }

    /// This core with another admin credential.
    pub fn with_admin(self, admin: AdminCredential) -> Self {
        Core { admin, ..self }
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
        let sdk = crate::aws::sdk_config(aws.endpoint_url.as_deref()).await;
        let backend = Backend::aws_from_sdk(&sdk, &aws);
        let connectors = connectors(&backend);
        Ok(Core::new(backend, settings, connectors)?
            .with_admin(AdminCredential::from_lambda_env(&sdk)))
    }
}
