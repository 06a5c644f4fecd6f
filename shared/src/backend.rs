//! A back end: one implementation of every port, AWS or embedded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use crate::embedded::{Database, DeadLetterPolicy, EmbeddedQueue, FileSecretStore, OutboxMailer};
use crate::ports::{
    AccessStore, ActivityStore, CheckpointStore, ClassificationStore, Clock, DedupStore,
    DedupedQueue, Email, ExportStore, IncidentStore, IntegrationStore, MailError, Mailer,
    ObjectSink, OnceQueue, PolicyStore, Queue, SecretStore, StoreError, Stores, SystemClock,
    ThreatStore,
};

/// Every port the pipeline needs.
#[derive(Clone)]
pub struct Backend {
    pub integrations: Arc<dyn IntegrationStore>,
    pub checkpoints: Arc<dyn CheckpointStore>,
    pub dedup: Arc<dyn DedupStore>,
    pub activities: Arc<dyn ActivityStore>,
    pub incidents: Arc<dyn IncidentStore>,
    /// Each tenant's applied policy sets, every version.
    pub policies: Arc<dyn PolicyStore>,
    /// DLP results per file content version.
    pub classifications: Arc<dyn ClassificationStore>,
    /// Behaviour state and anomalies, for the threat detectors.
    pub threats: Arc<dyn ThreatStore>,
    /// The REST API's credentials and the tenants' block lists.
    pub access: Arc<dyn AccessStore>,
    /// OCSF records waiting for export.
    pub exports: Arc<dyn ExportStore>,
    /// Where the exporter writes: gzip JSON Lines for SIEMs, and Parquet for Amazon Security
    /// Lake. No sink: nothing is exported (and nothing waits in the outbox).
    pub export_sinks: ExportSinks,
    /// Activities for the inspector.
    pub activity_queue: Arc<dyn Queue>,
    /// Response actions for the remediator.
    pub action_queue: Arc<dyn Queue>,
    /// Poll jobs for the poller: one stream to poll, or one webhook notice to read.
    pub poll_queue: Arc<dyn Queue>,
    /// The poll-jobs queue as webhook intake sends to it: each delivery's notice once, its
    /// delivery key recorded with it (in one transaction on the embedded back end).
    pub webhook_notices: Arc<dyn OnceQueue>,
    pub secrets: Arc<dyn SecretStore>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
}

/// Queue names in the embedded back end (the SAM template names the SQS queues likewise).
pub const ACTIVITY_QUEUE: &str = "activities";
pub const ACTION_QUEUE: &str = "actions";
pub const POLL_QUEUE: &str = "poll-jobs";
/// Receives before a message is dead-lettered (template.yaml's `maxReceiveCount`).
pub const MAX_RECEIVES: u32 = 5;

impl Backend {
    /// A back end whose stores all live in one implementation.
    pub fn with_stores<S: Stores + 'static>(
        stores: Arc<S>,
        queues: Queues,
        secrets: Arc<dyn SecretStore>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let Queues {
            activities: activity_queue,
            actions: action_queue,
            poll_jobs: poll_queue,
        } = queues;
        let webhook_notices = Arc::new(DedupedQueue::new(stores.clone(), poll_queue.clone()));
        Backend {
            integrations: stores.clone(),
            checkpoints: stores.clone(),
            dedup: stores.clone(),
            activities: stores.clone(),
            incidents: stores.clone(),
            policies: stores.clone(),
            classifications: stores.clone(),
            threats: stores.clone(),
            access: stores.clone(),
            exports: stores,
            export_sinks: ExportSinks::default(),
            activity_queue,
            action_queue,
            poll_queue,
            webhook_notices,
            secrets,
            mailer,
            clock,
        }
    }
}

/// The exporter's destinations.
#[derive(Clone, Default)]
pub struct ExportSinks {
    /// gzip JSON Lines, partitioned by class and hour.
    pub json_lines: Option<Arc<dyn ObjectSink>>,
    /// Parquet in Security Lake's custom-source layout, with the lake's region and account.
    pub security_lake: Option<(Arc<dyn ObjectSink>, SecurityLakeTarget)>,
}

impl ExportSinks {
    pub fn enabled(&self) -> bool {
        self.json_lines.is_some() || self.security_lake.is_some()
    }
}

/// What a Security Lake custom source's object keys name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityLakeTarget {
    pub region: String,
    pub account_id: String,
    /// Custom source names are `{prefix}_{class_uid}` (one source per class, at most 20
    /// characters).
    pub source_prefix: String,
}

/// A directory as an export sink (the embedded back end): each object a file under it, written
/// to a temporary name and renamed, so a reader never sees half a file.
pub struct DirectorySink {
    root: PathBuf,
}

impl DirectorySink {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirectorySink { root: root.into() }
    }
}

#[async_trait]
impl ObjectSink for DirectorySink {
    async fn put_object(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), StoreError> {
        if key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(StoreError::Unavailable(format!(
                "refusing object key '{key}'"
            )));
        }
        let path = self.root.join(key);
        tokio::task::spawn_blocking(move || {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let temporary = dir.join(format!(".{}.partial", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&temporary, &bytes))
                .and_then(|()| std::fs::rename(&temporary, &path))
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot write {}: {e}", path.display()))
                })
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("file writer stopped: {e}")))?
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

impl Backend {
    pub fn with_export_sinks(mut self, sinks: ExportSinks) -> Self {
        self.export_sinks = sinks;
        self
    }
}

/// The three queues between the stages.
pub struct Queues {
    pub activities: Arc<dyn Queue>,
    pub actions: Arc<dyn Queue>,
    pub poll_jobs: Arc<dyn Queue>,
}

/// The embedded back end and handles that only it has (dead-letter queues, the outbox).
#[derive(Clone)]
pub struct EmbeddedBackend {
    pub backend: Backend,
    pub database: Database,
    pub outbox: OutboxMailer,
    pub activity_dead_letters: EmbeddedQueue,
    pub action_dead_letters: EmbeddedQueue,
    pub poll_dead_letters: EmbeddedQueue,
    pub data_dir: PathBuf,
}

impl EmbeddedBackend {
    /// Opens (creating if needed) `data_dir/casb.db` and `data_dir/secrets.json`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let database = Database::open(&data_dir.join("casb.db"))?;
        Ok(Self::on(database, data_dir, Arc::new(SystemClock)))
    }

    pub fn on(database: Database, data_dir: &Path, clock: Arc<dyn Clock>) -> Self {
        let queue = |name: &str| {
            let dead_letter = DeadLetterPolicy {
                queue: format!("{name}-dlq"),
                max_receives: MAX_RECEIVES,
            };
            EmbeddedQueue::new(database.clone(), name, Some(dead_letter), clock.clone())
        };
        let dead_letters = |name: &str| {
            EmbeddedQueue::new(
                database.clone(),
                &format!("{name}-dlq"),
                None,
                clock.clone(),
            )
        };
        let outbox = OutboxMailer::new(database.clone());
        let poll_jobs = Arc::new(queue(POLL_QUEUE));
        let mut backend = Backend::with_stores(
            Arc::new(database.clone()),
            Queues {
                activities: Arc::new(queue(ACTIVITY_QUEUE)),
                actions: Arc::new(queue(ACTION_QUEUE)),
                poll_jobs: poll_jobs.clone(),
            },
            Arc::new(FileSecretStore::new(&data_dir.join("secrets.json"))),
            Arc::new(outbox.clone()),
            clock.clone(),
        );
        // The delivery key and the notice in one transaction, instead of two writes.
        backend.webhook_notices = poll_jobs;
        // OCSF for SIEMs, next to the database: `export/class_uid=.../*.jsonl.gz`.
        backend.export_sinks.json_lines =
            Some(Arc::new(DirectorySink::new(data_dir.join("export"))));
        EmbeddedBackend {
            backend,
            activity_dead_letters: dead_letters(ACTIVITY_QUEUE),
            action_dead_letters: dead_letters(ACTION_QUEUE),
            poll_dead_letters: dead_letters(POLL_QUEUE),
            outbox,
            database,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// Also writes Parquet for Amazon Security Lake, under `data_dir/security-lake/` in the
    /// custom-source layout (copy or sync it to the lake's bucket).
    pub fn with_security_lake(mut self, target: SecurityLakeTarget) -> Self {
        let sink: Arc<dyn ObjectSink> =
            Arc::new(DirectorySink::new(self.data_dir.join("security-lake")));
        self.backend.export_sinks.security_lake = Some((sink, target));
        self
    }

    /// Sends notifications over SMTP as `smtp` says; the outbox still records each message the
    /// server accepted. Fails when the sender is not a valid mailbox, or when this build has no
    /// SMTP support (the `smtp` feature).
    pub fn with_smtp(self, smtp: crate::config::SmtpSettings) -> Result<Self, MailError> {
        #[cfg(feature = "smtp")]
        {
            let mut this = self;
            let relay = crate::embedded::SmtpMailer::new(smtp, this.backend.secrets.clone())?;
            this.outbox = OutboxMailer::relaying(this.database.clone(), Arc::new(relay));
            this.backend.mailer = Arc::new(this.outbox.clone());
            Ok(this)
        }
        #[cfg(not(feature = "smtp"))]
        {
            let _ = (self, smtp);
            Err(MailError::Misconfigured(
                "CASB_SMTP_URL is set but this build has no SMTP support (casb-shared's `smtp` feature)".into(),
            ))
        }
    }
}

/// Logs notifications instead of sending them, when no mail service is configured.
pub struct LogOnlyMailer;

#[async_trait]
impl Mailer for LogOnlyMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        if email.to.is_empty() {
            return Err(MailError::NoRecipients);
        }
        tracing::warn!(to = ?email.to, subject = %email.subject,
            "notification logged only: set CASB_MAIL_FROM to send it through SES");
        Ok(())
    }
}

#[cfg(feature = "aws")]
impl Backend {
    /// The AWS back end described by `settings`.
    pub async fn aws(settings: &crate::config::AwsSettings) -> Self {
        let sdk = crate::aws::sdk_config(settings.endpoint_url.as_deref()).await;
        Self::aws_from_sdk(&sdk, settings)
    }

    /// The AWS back end on an already loaded SDK configuration.
    pub fn aws_from_sdk(
        sdk: &aws_config::SdkConfig,
        settings: &crate::config::AwsSettings,
    ) -> Self {
        let stores = Arc::new(crate::aws::DynamoStores::new(
            aws_sdk_dynamodb::Client::new(sdk),
            settings.tables.clone(),
        ));
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let mailer: Arc<dyn Mailer> = match &settings.mail_from {
            Some(from) => Arc::new(crate::aws::SesMailer::new(
                aws_sdk_sesv2::Client::new(sdk),
                from,
            )),
            None => Arc::new(LogOnlyMailer),
        };
        Backend::with_stores(
            stores,
            Queues {
                activities: Arc::new(crate::aws::SqsQueue::new(
                    sqs.clone(),
                    &settings.activity_queue_url,
                )),
                actions: Arc::new(crate::aws::SqsQueue::new(
                    sqs.clone(),
                    &settings.action_queue_url,
                )),
                poll_jobs: Arc::new(crate::aws::SqsQueue::new(sqs, &settings.poll_queue_url)),
            },
            Arc::new(crate::aws::SecretsManagerStore::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                &settings.secret_prefix,
            )),
            mailer,
            Arc::new(SystemClock),
        )
        .with_export_sinks(ExportSinks {
            json_lines: settings.export_bucket.as_ref().map(|bucket| {
                Arc::new(crate::aws::S3Sink::new(
                    aws_sdk_s3::Client::new(sdk),
                    bucket,
                )) as Arc<dyn ObjectSink>
            }),
            security_lake: settings.security_lake.as_ref().map(|(bucket, target)| {
                let sink: Arc<dyn ObjectSink> = Arc::new(crate::aws::S3Sink::new(
                    aws_sdk_s3::Client::new(sdk),
                    bucket,
                ));
                (sink, target.clone())
            }),
        })
    }
}
