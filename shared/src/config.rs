//! Configuration from the environment. Every name, URL and limit is configurable; the defaults
//! suit `casb serve` on one machine.

use std::path::PathBuf;
use std::time::Duration;

/// Settings the pipeline stages share, whichever back end runs them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Who receives incident notifications (`CASB_NOTIFY_EMAILS`, comma-separated).
    pub notify_emails: Vec<String>,
    /// How long activities are kept (`CASB_ACTIVITY_RETENTION_DAYS`, default 90).
    pub activity_retention: Duration,
    /// How long an ingested event id is remembered for dedup (`CASB_DEDUP_TTL_HOURS`, default
    /// 336 = 14 days, the retention of Box's streaming event feed).
    pub dedup_ttl: Duration,
    /// How long one poll job may work one stream before it hands over to a continuation job
    /// (`CASB_POLL_JOB_BUDGET_SECONDS`, default 120): well inside the poller's function timeout
    /// (template.yaml: 300 s), so a job never dies mid-page.
    pub poll_job_budget: Duration,
    /// At most this many pages per poll job (`CASB_POLL_MAX_PAGES`).
    pub poll_max_pages: usize,
    /// A stream is due again this long after it was last scheduled
    /// (`CASB_POLL_INTERVAL_SECONDS`, default 60; the schedule's own rate bounds it from below).
    pub poll_interval: Duration,
    /// How long a remediator's hold on one action lasts without renewal
    /// (`CASB_ACTION_LEASE_SECONDS`, default 30): renewed while it acts, so it only matters
    /// after a crash, when it must lapse well before the message's redeliveries run out.
    pub action_lease: Duration,
    /// Larger files are not downloaded for inspection (`CASB_MAX_DOWNLOAD_MB`, default 50).
    pub max_download_bytes: u64,
    /// DLP policy file for the inspector (`CASB_DLP_POLICY`): custom rules, disabled detectors,
    /// threshold, extraction limits. Without one, the built-in catalog minus contact details.
    pub dlp_policy: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            notify_emails: Vec::new(),
            activity_retention: Duration::from_secs(90 * 24 * 3600),
            dedup_ttl: Duration::from_secs(14 * 24 * 3600),
            poll_job_budget: Duration::from_secs(120),
            poll_max_pages: 50,
            poll_interval: Duration::from_secs(60),
            action_lease: Duration::from_secs(30),
            max_download_bytes: 50 * 1024 * 1024,
            dlp_policy: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("environment variable {name}='{value}' is invalid: {hint}")]
    Invalid {
        name: &'static str,
        value: String,
        hint: &'static str,
    },
    #[error("DLP policy (CASB_DLP_POLICY) cannot be used: {0}")]
    DlpPolicy(String),
}

pub fn optional_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(feature = "aws")]
pub(crate) fn required_env(name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
    optional_env(name).ok_or(ConfigError::Missing { name, hint })
}

fn number_env(name: &'static str, default: u64, hint: &'static str) -> Result<u64, ConfigError> {
    match optional_env(name) {
        None => Ok(default),
        Some(value) => value
            .parse()
            .map_err(|_| ConfigError::Invalid { name, value, hint }),
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        Ok(Settings {
            notify_emails: optional_env("CASB_NOTIFY_EMAILS")
                .map(|v| {
                    v.split(',')
                        .map(|e| e.trim().to_string())
                        .filter(|e| !e.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            activity_retention: Duration::from_secs(
                number_env("CASB_ACTIVITY_RETENTION_DAYS", 90, "a whole number of days")?
                    * 24
                    * 3600,
            ),
            dedup_ttl: Duration::from_secs(
                number_env("CASB_DEDUP_TTL_HOURS", 14 * 24, "a whole number of hours")? * 3600,
            ),
            poll_job_budget: Duration::from_secs(number_env(
                "CASB_POLL_JOB_BUDGET_SECONDS",
                defaults.poll_job_budget.as_secs(),
                "a whole number of seconds, well below the poller's timeout",
            )?),
            poll_interval: Duration::from_secs(number_env(
                "CASB_POLL_INTERVAL_SECONDS",
                defaults.poll_interval.as_secs(),
                "a whole number of seconds",
            )?),
            poll_max_pages: number_env(
                "CASB_POLL_MAX_PAGES",
                defaults.poll_max_pages as u64,
                "a whole number",
            )? as usize,
            action_lease: Duration::from_secs(
                number_env(
                    "CASB_ACTION_LEASE_SECONDS",
                    defaults.action_lease.as_secs(),
                    "a whole number of seconds, below the actions queue's visibility timeout",
                )?
                .max(1),
            ),
            max_download_bytes: number_env(
                "CASB_MAX_DOWNLOAD_MB",
                50,
                "a whole number of megabytes",
            )? * 1024
                * 1024,
            dlp_policy: optional_env("CASB_DLP_POLICY").map(PathBuf::from),
        })
    }
}

/// Where the AWS back end's resources are (set by template.yaml on every function).
#[cfg(feature = "aws")]
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub tables: crate::aws::TableNames,
    pub activity_queue_url: String,
    pub action_queue_url: String,
    pub poll_queue_url: String,
    /// Secrets Manager names start with this (`CASB_SECRET_PREFIX`, e.g. `casb/prod`).
    pub secret_prefix: String,
    /// The verified SES sender (`CASB_MAIL_FROM`); without it notifications are only logged.
    pub mail_from: Option<String>,
    /// An alternative AWS endpoint (moto, LocalStack): `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
}

#[cfg(feature = "aws")]
impl AwsSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        const TABLE: &str = "set by template.yaml; outside Lambda, name the DynamoDB table";
        Ok(AwsSettings {
            tables: crate::aws::TableNames {
                integrations: required_env("CASB_INTEGRATIONS_TABLE", TABLE)?,
                checkpoints: required_env("CASB_CHECKPOINTS_TABLE", TABLE)?,
                dedup: required_env("CASB_DEDUP_TABLE", TABLE)?,
                activities: required_env("CASB_ACTIVITIES_TABLE", TABLE)?,
                incidents: required_env("CASB_INCIDENTS_TABLE", TABLE)?,
            },
            activity_queue_url: required_env(
                "CASB_ACTIVITY_QUEUE_URL",
                "the activities SQS queue URL",
            )?,
            action_queue_url: required_env(
                "CASB_ACTION_QUEUE_URL",
                "the response-actions SQS queue URL",
            )?,
            poll_queue_url: required_env("CASB_POLL_QUEUE_URL", "the poll-jobs SQS queue URL")?,
            secret_prefix: optional_env("CASB_SECRET_PREFIX").unwrap_or_else(|| "casb".into()),
            mail_from: optional_env("CASB_MAIL_FROM"),
            endpoint_url: optional_env("AWS_ENDPOINT_URL"),
        })
    }
}
