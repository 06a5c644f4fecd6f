//! Configuration from the environment. Every name, URL and limit is configurable; the defaults
//! suit `casb serve` on one machine.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::notify::ChannelsSource;

/// Settings the pipeline stages share, whichever back end runs them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Who receives incident notifications (`CASB_NOTIFY_EMAILS`, comma-separated): the
    /// `security-team` channel, unless the channels file defines it.
    pub notify_emails: Vec<String>,
    /// The notification channels file (`CASB_NOTIFY_CHANNELS`, a path) or its content
    /// (`CASB_NOTIFY_CHANNELS_JSON`); see [`crate::notify`].
    pub notify_channels: Option<ChannelsSource>,
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
    /// Larger files are not downloaded for inspection (`CASB_MAX_DOWNLOAD_MB`, default 50);
    /// they are recorded as uninspected, which policies can act on.
    pub max_download_bytes: u64,
    /// Memory the inspector may hold in downloaded files and their extracted text at once
    /// (`CASB_INSPECT_MEMORY_MB`, default 512). Each file reserves its size plus the text it may
    /// expand to before it is downloaded, so a batch of large files waits its turn instead of
    /// exceeding the function's memory, while small files run side by side.
    pub inspection_memory_bytes: u64,
    /// How long an inspector keeps a tenant's policy set before reading it again
    /// (`CASB_POLICY_CACHE_SECONDS`, default 30): a `casb policy apply` is in force everywhere
    /// within this time.
    pub policy_cache: Duration,
    /// DLP policy file for the inspector (`CASB_DLP_POLICY`): custom rules, disabled detectors,
    /// threshold, extraction limits. Without one, the built-in catalog minus contact details.
    pub dlp_policy: Option<PathBuf>,
    /// Put each event's original in the exported OCSF records' `raw_data`
    /// (`CASB_EXPORT_RAW_DATA`, default off: it roughly doubles the files).
    pub export_raw_data: bool,
    /// The most records one export batch writes (`CASB_EXPORT_BATCH_SIZE`, default 1000).
    pub export_batch_size: usize,
    /// The threat detectors' thresholds and geolocation database (`CASB_THREAT_*`,
    /// `CASB_GEOIP_DB`).
    pub threat: crate::threat::ThreatSettings,
    /// The REST API's rate limit, IAM callers and feature switches (`CASB_API_*`).
    pub api: ApiSettings,
}

/// The REST API's settings.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Requests a minute per credential (`CASB_API_RATE_LIMIT_PER_MINUTE`, default 600).
    pub rate_limit_per_minute: u32,
    /// Which tenant each IAM caller acts for (`CASB_API_IAM_TENANTS`).
    pub iam_tenants: crate::access::IamTenants,
    /// The tenants the Anomalous Activity API (`queryActivities`) is enabled for
    /// (`CASB_ANOMALY_ACTIVITY_API_TENANTS`, comma-separated); `None`: every tenant.
    pub anomaly_activity_tenants: Option<Vec<String>>,
    /// How far behind now the SIEM log's windows end (`CASB_API_LOG_SETTLE_SECONDS`, default
    /// 60): longer than any store write takes, so a page once read never gains a record.
    pub log_settle: chrono::Duration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            rate_limit_per_minute: 600,
            iam_tenants: crate::access::IamTenants::default(),
            anomaly_activity_tenants: None,
            log_settle: chrono::Duration::seconds(60),
        }
    }
}

impl ApiSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = ApiSettings::default();
        let iam_tenants = match optional_env("CASB_API_IAM_TENANTS") {
            None => defaults.iam_tenants,
            Some(value) => {
                crate::access::IamTenants::parse(&value).map_err(|_| ConfigError::Invalid {
                    name: "CASB_API_IAM_TENANTS",
                    value,
                    hint: "<IAM role or user ARN>=<tenant id> pairs separated by commas",
                })?
            }
        };
        Ok(ApiSettings {
            rate_limit_per_minute: number_env(
                "CASB_API_RATE_LIMIT_PER_MINUTE",
                u64::from(defaults.rate_limit_per_minute),
                "a whole number of requests a minute",
            )?
            .clamp(1, 1_000_000) as u32,
            iam_tenants,
            log_settle: chrono::Duration::seconds(number_env(
                "CASB_API_LOG_SETTLE_SECONDS",
                defaults.log_settle.num_seconds() as u64,
                "a whole number of seconds",
            )? as i64),
            anomaly_activity_tenants: optional_env("CASB_ANOMALY_ACTIVITY_API_TENANTS").map(|v| {
                v.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            }),
        })
    }

    pub fn anomaly_activity_enabled(&self, tenant_id: &str) -> bool {
        self.anomaly_activity_tenants
            .as_ref()
            .is_none_or(|tenants| tenants.iter().any(|t| t == tenant_id))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            notify_emails: Vec::new(),
            notify_channels: None,
            activity_retention: Duration::from_secs(90 * 24 * 3600),
            dedup_ttl: Duration::from_secs(14 * 24 * 3600),
            poll_job_budget: Duration::from_secs(120),
            poll_max_pages: 50,
            poll_interval: Duration::from_secs(60),
            action_lease: Duration::from_secs(30),
            max_download_bytes: 50 * 1024 * 1024,
            inspection_memory_bytes: 512 * 1024 * 1024,
            policy_cache: Duration::from_secs(30),
            export_raw_data: false,
            export_batch_size: 1000,
            dlp_policy: None,
            threat: crate::threat::ThreatSettings::default(),
            api: ApiSettings::default(),
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
    #[error("notification channels cannot be used: {0}")]
    NotifyChannels(String),
    #[error("CASB_SMTP_URL cannot be used: {0}")]
    Smtp(String),
    #[error("{0}")]
    Geolocation(String),
}

pub fn optional_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

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
            notify_channels: match (
                optional_env("CASB_NOTIFY_CHANNELS"),
                optional_env("CASB_NOTIFY_CHANNELS_JSON"),
            ) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::NotifyChannels(
                        "set CASB_NOTIFY_CHANNELS (a file) or CASB_NOTIFY_CHANNELS_JSON (its content), not both".into(),
                    ))
                }
                (Some(path), None) => Some(ChannelsSource::File(PathBuf::from(path))),
                (None, Some(content)) => Some(ChannelsSource::Inline(content)),
                (None, None) => None,
            },
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
            inspection_memory_bytes: number_env(
                "CASB_INSPECT_MEMORY_MB",
                defaults.inspection_memory_bytes >> 20,
                "a whole number of megabytes, well below the inspector function's memory",
            )?
            .max(1)
                << 20,
            policy_cache: Duration::from_secs(number_env(
                "CASB_POLICY_CACHE_SECONDS",
                defaults.policy_cache.as_secs(),
                "a whole number of seconds",
            )?),
            dlp_policy: optional_env("CASB_DLP_POLICY").map(PathBuf::from),
            export_raw_data: matches!(
                optional_env("CASB_EXPORT_RAW_DATA").as_deref(),
                Some("1" | "true" | "yes" | "on")
            ),
            export_batch_size: number_env(
                "CASB_EXPORT_BATCH_SIZE",
                defaults.export_batch_size as u64,
                "a whole number of records",
            )?
            .clamp(1, 1000) as usize,
            threat: crate::threat::ThreatSettings::from_env()?,
            api: ApiSettings::from_env()?,
        })
    }
}

/// How `casb serve` sends e-mail over SMTP (`CASB_SMTP_URL`); without it notifications are only
/// kept in the outbox table. The Lambda functions send through SES instead.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// A password written into the URL (local use; prefer `password_secret`).
    pub password: Option<SecretString>,
    /// The secret-store name of the password (`CASB_SMTP_PASSWORD_SECRET`), read at each send.
    pub password_secret: Option<String>,
    /// The sender (`CASB_MAIL_FROM`).
    pub from: String,
}

/// How the SMTP connection is protected. The URL chooses, and every form but an explicit
/// `?tls=none` encrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtps://` (port 465 by default): TLS from the first byte.
    Implicit,
    /// `smtp://` (port 587 by default): STARTTLS, required; a server that does not offer it
    /// gets nothing.
    StartTls,
    /// `smtp://...?tls=none`: plain text, for a relay on this machine or a test sink.
    None,
}

impl SmtpSettings {
    /// `None` when `CASB_SMTP_URL` is unset.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        let Some(url) = optional_env("CASB_SMTP_URL") else {
            return Ok(None);
        };
        let from = required_env(
            "CASB_MAIL_FROM",
            "the sender address of notifications sent over CASB_SMTP_URL",
        )?;
        Self::parse(&url, optional_env("CASB_SMTP_PASSWORD_SECRET"), from).map(Some)
    }

    /// Reads `smtps://[user[:password]@]host[:port]` or
    /// `smtp://[user[:password]@]host[:port][?tls=required|none]`. Errors never repeat the URL,
    /// which may hold a password.
    pub fn parse(
        url: &str,
        password_secret: Option<String>,
        from: String,
    ) -> Result<Self, ConfigError> {
        let invalid = |why: String| ConfigError::Smtp(why);
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            invalid(format!(
                "not a URL ({e}); write smtps://user@host:465 or smtp://user@host:587"
            ))
        })?;
        let (mut tls, default_port) = match parsed.scheme() {
            "smtps" => (SmtpTls::Implicit, 465),
            "smtp" => (SmtpTls::StartTls, 587),
            other => return Err(invalid(format!("scheme '{other}' is not smtps or smtp"))),
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("it names no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if !matches!(parsed.path(), "" | "/") || parsed.fragment().is_some() {
            return Err(invalid("it may not have a path or fragment".into()));
        }
        for (key, value) in parsed.query_pairs() {
            match (key.as_ref(), value.as_ref(), tls) {
                ("tls", "required", SmtpTls::StartTls) => {}
                ("tls", "none", SmtpTls::StartTls) => tls = SmtpTls::None,
                ("tls", _, SmtpTls::Implicit) => {
                    return Err(invalid("smtps:// is always TLS; drop ?tls".into()))
                }
                ("tls", other, _) => {
                    return Err(invalid(format!("tls={other} is not required or none")))
                }
                (other, _, _) => {
                    return Err(invalid(format!(
                        "unknown parameter '{other}' (only tls is read)"
                    )))
                }
            }
        }
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| invalid("its user or password is not UTF-8 once decoded".into()))
        };
        let username = match parsed.username() {
            "" => None,
            user => Some(decode(user)?),
        };
        let password = match parsed.password() {
            None => None,
            Some(password) => Some(SecretString::from(decode(password)?)),
        };
        if password.is_some() && password_secret.is_some() {
            return Err(invalid(
                "it carries a password and CASB_SMTP_PASSWORD_SECRET names one: keep one".into(),
            ));
        }
        if username.is_none() && password_secret.is_some() {
            return Err(invalid(
                "CASB_SMTP_PASSWORD_SECRET is set but the URL names no user (smtps://user@host)"
                    .into(),
            ));
        }
        if username.is_some() && password.is_none() && password_secret.is_none() {
            return Err(invalid(
                "it names a user but no password: store the password and set CASB_SMTP_PASSWORD_SECRET to its name".into(),
            ));
        }
        if !from.contains('@') {
            return Err(ConfigError::Invalid {
                name: "CASB_MAIL_FROM",
                value: from,
                hint: "an e-mail address, e.g. casb@example.com",
            });
        }
        Ok(SmtpSettings {
            host,
            port: parsed.port().unwrap_or(default_port),
            tls,
            username,
            password,
            password_secret,
            from,
        })
    }
}

impl std::fmt::Display for SmtpSettings {
    /// `host:port (TLS mode)`, without user or password: for start-up logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tls = match self.tls {
            SmtpTls::Implicit => "TLS",
            SmtpTls::StartTls => "STARTTLS",
            SmtpTls::None => "no TLS",
        };
        write!(f, "{}:{} ({tls})", self.host, self.port)
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
    /// The bucket OCSF JSON Lines are exported to (`CASB_EXPORT_BUCKET`); none: no export.
    pub export_bucket: Option<String>,
    /// Security Lake's bucket and custom-source target (`CASB_SECURITY_LAKE_BUCKET` with
    /// [`security_lake_from_env`]).
    pub security_lake: Option<(String, crate::backend::SecurityLakeTarget)>,
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
                policies: required_env("CASB_POLICIES_TABLE", TABLE)?,
                classifications: required_env("CASB_CLASSIFICATIONS_TABLE", TABLE)?,
                exports: required_env("CASB_EXPORTS_TABLE", TABLE)?,
                threats: required_env("CASB_THREATS_TABLE", TABLE)?,
                access: required_env("CASB_ACCESS_TABLE", TABLE)?,
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
            export_bucket: optional_env("CASB_EXPORT_BUCKET"),
            security_lake: match security_lake_from_env()? {
                Some(target) => Some((
                    required_env(
                        "CASB_SECURITY_LAKE_BUCKET",
                        "Security Lake's bucket (aws-security-data-lake-REGION-...) when CASB_SECURITY_LAKE_ACCOUNT_ID is set",
                    )?,
                    target,
                )),
                None => None,
            },
        })
    }
}

/// Amazon Security Lake output, on when `CASB_SECURITY_LAKE_ACCOUNT_ID` names the lake's
/// account: `CASB_SECURITY_LAKE_REGION` (default `AWS_REGION`, else us-east-1) and
/// `CASB_SECURITY_LAKE_SOURCE_PREFIX` (default `casb`; sources are `{prefix}_{class_uid}`, at
/// most 20 characters).
pub fn security_lake_from_env() -> Result<Option<crate::backend::SecurityLakeTarget>, ConfigError> {
    let Some(account_id) = optional_env("CASB_SECURITY_LAKE_ACCOUNT_ID") else {
        return Ok(None);
    };
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::Invalid {
            name: "CASB_SECURITY_LAKE_ACCOUNT_ID",
            value: account_id,
            hint: "the 12-digit AWS account id of the Security Lake",
        });
    }
    let source_prefix =
        optional_env("CASB_SECURITY_LAKE_SOURCE_PREFIX").unwrap_or_else(|| "casb".into());
    let valid = !source_prefix.is_empty()
        && source_prefix.len() <= 15
        && source_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(ConfigError::Invalid {
            name: "CASB_SECURITY_LAKE_SOURCE_PREFIX",
            value: source_prefix,
            hint:
                "1 to 15 letters, digits, - or _ (a source name adds _ and the class, 20 at most)",
        });
    }
    Ok(Some(crate::backend::SecurityLakeTarget {
        region: optional_env("CASB_SECURITY_LAKE_REGION")
            .or_else(|| optional_env("AWS_REGION"))
            .unwrap_or_else(|| "us-east-1".into()),
        account_id,
        source_prefix,
    }))
}

#[cfg(test)]
mod smtp_tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn parse(url: &str, secret: Option<&str>) -> Result<SmtpSettings, ConfigError> {
        SmtpSettings::parse(url, secret.map(str::to_string), "casb@example.com".into())
    }

    #[test]
    fn every_url_form_encrypts_unless_it_says_tls_none() {
        let implicit = parse(
            "smtps://alerts%40example.com@mail.example.com",
            Some("smtp/password"),
        )
        .unwrap();
        assert_eq!(implicit.tls, SmtpTls::Implicit);
        assert_eq!(implicit.port, 465);
        assert_eq!(implicit.username.as_deref(), Some("alerts@example.com"));
        assert_eq!(implicit.password_secret.as_deref(), Some("smtp/password"));

        let starttls = parse("smtp://mail.example.com", None).unwrap();
        assert_eq!((starttls.tls, starttls.port), (SmtpTls::StartTls, 587));
        let required = parse("smtp://mail.example.com:2525?tls=required", None).unwrap();
        assert_eq!((required.tls, required.port), (SmtpTls::StartTls, 2525));

        let plain = parse("smtp://127.0.0.1:2525?tls=none", None).unwrap();
        assert_eq!(
            (plain.tls, plain.host.as_str()),
            (SmtpTls::None, "127.0.0.1")
        );
        assert_eq!(plain.to_string(), "127.0.0.1:2525 (no TLS)");

        let inline = parse("smtps://me:p%2Bss@mail.example.com:465", None).unwrap();
        assert_eq!(inline.password.unwrap().expose_secret(), "p+ss");
    }

    #[test]
    fn mistakes_are_refused_without_repeating_the_password() {
        for (url, secret, expected) in [
            ("http://mail.example.com", None, "scheme 'http'"),
            (
                "smtps://mail.example.com?tls=none",
                None,
                "smtps:// is always TLS",
            ),
            (
                "smtp://mail.example.com?tls=opportunistic",
                None,
                "tls=opportunistic",
            ),
            (
                "smtp://mail.example.com?auth=plain",
                None,
                "unknown parameter 'auth'",
            ),
            ("smtp://mail.example.com/path", None, "path"),
            ("smtps://me@mail.example.com", None, "no password"),
            ("smtps://mail.example.com", Some("smtp/pw"), "names no user"),
            (
                "smtps://me:hunter2@mail.example.com?tls=x",
                None,
                "always TLS",
            ),
            (
                "smtps://me:hunter2@mail.example.com",
                Some("smtp/pw"),
                "keep one",
            ),
        ] {
            let error = parse(url, secret).unwrap_err().to_string();
            assert!(error.contains(expected), "{url}: {error}");
            assert!(!error.contains("hunter2"), "{url}: {error}");
        }
        let error = SmtpSettings::parse("smtp://mail.example.com", None, "casb".into())
            .unwrap_err()
            .to_string();
        assert!(error.contains("CASB_MAIL_FROM"), "{error}");
    }
}
