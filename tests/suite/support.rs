//! Shared test fixtures: both back ends, built fresh and isolated for each test.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use casb_shared::aws::{
    provision, DynamoStores, S3Sink, SecretsManagerStore, SesMailer, SqsQueue, TableNames,
};
use casb_shared::backend::{Backend, EmbeddedBackend, ExportSinks, Queues, MAX_RECEIVES};
use casb_shared::connector::{
    ActionOutcome, Capabilities, Connector, ConnectorError, PollPage, PollRequest, StreamSpec,
};
use casb_shared::domain::*;
use casb_shared::embedded::OutboxMailer;
use casb_shared::ports::{Mailer, Queue, SystemClock};

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// moto's endpoint, or `None` (skip) outside CI when the suite was not started by the script.
pub fn moto_endpoint() -> Option<String> {
    match std::env::var("CASB_TEST_MOTO_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!(
            "CASB_TEST_MOTO_ENDPOINT is not set: run the suite with scripts/test.sh, which starts moto_server"
        ),
        _ => {
            eprintln!("skipping the AWS back end: CASB_TEST_MOTO_ENDPOINT is not set (scripts/test.sh sets it)");
            None
        }
    }
}

pub fn repo_file(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// A back end under test, with what only tests need to look at.
pub struct Fixture {
    pub name: &'static str,
    pub backend: Backend,
    pub activity_dead_letters: Arc<dyn Queue>,
    pub poll_dead_letters: Arc<dyn Queue>,
    /// The embedded back end's outbox; SES keeps none we can read (the AWS mailer has its own
    /// test).
    pub outbox: Option<OutboxMailer>,
    /// Where the back end's export sink writes, to read the files back.
    pub exports: ExportFiles,
    _keep: Option<tempfile::TempDir>,
}

/// Where a fixture's exported files land.
pub enum ExportFiles {
    Directory(std::path::PathBuf),
    Bucket(aws_sdk_s3::Client, String),
}

impl Fixture {
    /// One exported object's bytes, `None` when absent.
    pub async fn read_export(&self, key: &str) -> Option<Vec<u8>> {
        match &self.exports {
            ExportFiles::Directory(dir) => std::fs::read(dir.join(key)).ok(),
            ExportFiles::Bucket(s3, bucket) => {
                let object = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
                Some(object.body.collect().await.ok()?.into_bytes().to_vec())
            }
        }
    }

    /// Every exported object's key, sorted.
    pub async fn export_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        match &self.exports {
            ExportFiles::Directory(dir) => {
                let mut pending = vec![dir.clone()];
                while let Some(next) = pending.pop() {
                    for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
                        let path = entry.path();
                        if path.is_dir() {
                            pending.push(path);
                        } else if let Ok(relative) = path.strip_prefix(dir) {
                            keys.push(relative.to_string_lossy().replace('\\', "/"));
                        }
                    }
                }
            }
            ExportFiles::Bucket(s3, bucket) => {
                let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
                keys.extend(
                    listed
                        .contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_string)),
                );
            }
        }
        keys.sort();
        keys
    }
}

pub fn embedded() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let embedded = EmbeddedBackend::open(dir.path()).expect("embedded back end opens");
    Fixture {
        name: "embedded",
        exports: ExportFiles::Directory(dir.path().join("export")),
        backend: embedded.backend.clone(),
        activity_dead_letters: Arc::new(embedded.activity_dead_letters.clone()),
        poll_dead_letters: Arc::new(embedded.poll_dead_letters.clone()),
        outbox: Some(embedded.outbox.clone()),
        _keep: Some(dir),
    }
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// A fresh, isolated set of tables, queues and secrets in moto (names carry a random prefix).
pub async fn aws() -> Option<Fixture> {
    let endpoint = moto_endpoint()?;
    let sdk = sdk_config(&endpoint).await;
    let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let tables = TableNames::with_prefix(&prefix);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    provision::create_tables(&dynamodb, &tables)
        .await
        .expect("tables created in moto");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let activities =
        provision::create_queue_pair(&sqs, &format!("{prefix}-activities"), MAX_RECEIVES, 30)
            .await
            .expect("activities queue created in moto");
    let actions =
        provision::create_queue_pair(&sqs, &format!("{prefix}-actions"), MAX_RECEIVES, 30)
            .await
            .expect("actions queue created in moto");
    let poll_jobs =
        provision::create_queue_pair(&sqs, &format!("{prefix}-poll-jobs"), MAX_RECEIVES, 30)
            .await
            .expect("poll-jobs queue created in moto");
    let sesv2 = aws_sdk_sesv2::Client::new(&sdk);
    let sender = format!("casb@{prefix}.example.com");
    sesv2
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("sender identity created in moto");
    let mailer: Arc<dyn Mailer> = Arc::new(SesMailer::new(sesv2, &sender));
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            // moto answers on one host: bucket in the path, not in the host name.
            .force_path_style(true)
            .build(),
    );
    let bucket = format!("{prefix}-export");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("export bucket created in moto");
    let backend = Backend::with_stores(
        Arc::new(DynamoStores::new(dynamodb, tables)),
        Queues {
            activities: Arc::new(SqsQueue::new(sqs.clone(), &activities.url)),
            actions: Arc::new(SqsQueue::new(sqs.clone(), &actions.url)),
            poll_jobs: Arc::new(SqsQueue::new(sqs.clone(), &poll_jobs.url)),
        },
        Arc::new(SecretsManagerStore::new(
            aws_sdk_secretsmanager::Client::new(&sdk),
            &format!("casb-test/{prefix}"),
        )),
        mailer,
        Arc::new(SystemClock),
    )
    .with_export_sinks(ExportSinks {
        json_lines: Some(Arc::new(S3Sink::new(s3.clone(), &bucket))),
        security_lake: None,
    });
    Some(Fixture {
        name: "aws",
        backend,
        exports: ExportFiles::Bucket(s3, bucket),
        activity_dead_letters: Arc::new(SqsQueue::new(sqs.clone(), &activities.dead_letter_url)),
        poll_dead_letters: Arc::new(SqsQueue::new(sqs, &poll_jobs.dead_letter_url)),
        outbox: None,
        _keep: None,
    })
}

/// Runs a contract test body on each back end (the AWS one only when moto is up).
#[macro_export]
macro_rules! on_both_back_ends {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::support::embedded()).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(fixture) = $crate::support::aws().await {
                        super::$test(fixture).await;
                    }
                }
            )*
        }
    };
}

/// A file shared by public link: the built-in public-link policy's case.
pub fn public_share(integration: &Integration, event_id: &str) -> Activity {
    Activity {
        tenant_id: integration.tenant_id.clone(),
        event_id: event_id.into(),
        event_name: "SHARE".into(),
        event_timestamp: "2026-11-24T10:00:00Z".parse().unwrap(),
        log_timestamp: Some("2026-11-24T10:00:02Z".parse().unwrap()),
        event_type: EventType::DataSharing,
        actor_id: Some("11".into()),
        actor_name: Some("Ann Example".into()),
        actor_email: Some("ann@example.com".into()),
        actor_type: UserType::Internal,
        actor_role: Some("user".into()),
        actor_ip: Some("192.0.2.10".into()),
        object_id: Some(format!("file-{event_id}")),
        file_download_url: None,
        object_type: Some("file".into()),
        object_name: Some("cards.csv".into()),
        object_path: Some("/Finance/cards.csv".into()),
        from_email: None,
        target_user_email: None,
        target_user_id: None,
        target_user_type: None,
        role_granted: None,
        shared_link: Some("https://app.box.com/s/abc".into()),
        link_visibility: Some(LinkVisibility::Public),
        provider: Provider::Box,
        integration_id: integration.id.clone(),
        ingest_path: IngestPath::Pull,
        raw: serde_json::json!({"event_id": event_id, "event_type": "SHARE"}),
        enrichments: Enrichments::default(),
        identity: None,
        incomplete: None,
        seen_by: vec![],
    }
}

pub fn integration(tenant: &str, id: &str) -> Integration {
    let now = chrono::Utc::now();
    Integration {
        id: id.into(),
        tenant_id: tenant.into(),
        provider: Provider::Box,
        external_tenant_id: Some("enterprise-1".into()),
        display_name: "Example Box".into(),
        mode: IngestMode::Pull,
        status: IntegrationStatus::Connected,
        credential: CredentialKind::AuthorizationCode,
        webhook_ids: vec![],
        settings: serde_json::json!({}),
        created_at: now,
        updated_at: now,
    }
}

/// A Box-like connector that serves scripted pages and records the actions it is asked to do.
/// It stands in for the provider so the tests can count what reached it.
#[derive(Default)]
pub struct RecordingConnector {
    pub pages: Mutex<Vec<(Option<String>, PollPage)>>,
    pub polled_cursors: Mutex<Vec<Option<String>>>,
    /// The `redeliver` flag of every poll, in order.
    pub redeliveries: Mutex<Vec<bool>>,
    pub executed: Mutex<Vec<(ActionKind, Option<String>)>>,
    /// Streams to offer instead of the default single `events` stream.
    pub streams: Mutex<Option<Vec<StreamSpec>>>,
    /// Answer every poll with this error instead of a page.
    pub failing: Mutex<Option<fn() -> ConnectorError>>,
    /// File content to serve (with the content-download capability) when set.
    pub content: Mutex<Option<Vec<u8>>>,
    /// Downloads served, by file id.
    pub downloads: Mutex<Vec<String>>,
    /// How long each download takes, so that concurrent ones overlap.
    pub download_delay: Mutex<std::time::Duration>,
    /// Downloads running now, and the most that ever ran at once.
    pub in_flight: std::sync::atomic::AtomicUsize,
    pub max_in_flight: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Connector for RecordingConnector {
    fn provider(&self) -> Provider {
        Provider::Box
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            polling: true,
            response_actions: vec![ActionKind::RemoveSharedLink, ActionKind::Quarantine],
            content_download: self.content.lock().unwrap().is_some(),
            ..Capabilities::default()
        }
    }

    fn streams(&self, _integration: &Integration) -> Vec<StreamSpec> {
        self.streams
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| vec![StreamSpec::new("events", "scripted pages")])
    }

    async fn poll(
        &self,
        _integration: &Integration,
        _token: &secrecy::SecretString,
        request: &PollRequest<'_>,
    ) -> Result<PollPage, ConnectorError> {
        if let Some(error) = *self.failing.lock().unwrap() {
            return Err(error());
        }
        let cursor = request.cursor;
        self.redeliveries.lock().unwrap().push(request.redeliver);
        self.polled_cursors
            .lock()
            .unwrap()
            .push(cursor.map(str::to_string));
        let pages = self.pages.lock().unwrap();
        pages
            .iter()
            .find(|(from, _)| from.as_deref() == cursor)
            .map(|(_, page)| page.clone())
            .ok_or_else(|| ConnectorError::Permanent(format!("no scripted page after {cursor:?}")))
    }

    async fn download(
        &self,
        _integration: &Integration,
        _token: &secrecy::SecretString,
        file_id: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ConnectorError> {
        use std::sync::atomic::Ordering;
        self.downloads.lock().unwrap().push(file_id.to_string());
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = *self.download_delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let content = self.content.lock().unwrap().clone().unwrap_or_default();
        if content.len() as u64 > max_bytes {
            return Err(ConnectorError::Permanent(format!(
                "the file is larger than the {max_bytes}-byte download limit"
            )));
        }
        Ok(content)
    }

    async fn execute(
        &self,
        _integration: &Integration,
        _token: &secrecy::SecretString,
        action: &ResponseAction,
    ) -> Result<ActionOutcome, ConnectorError> {
        self.executed
            .lock()
            .unwrap()
            .push((action.kind, action.object_id.clone()));
        Ok(ActionOutcome::done(format!(
            "{} done",
            action.kind.as_str()
        )))
    }
}

/// Records the integration with a long-lived token, as a completed connect flow would.
pub async fn connect(core: &casb_shared::Core, integration: &Integration) {
    core.backend
        .integrations
        .put_integration(integration)
        .await
        .unwrap();
    let tokens = casb_shared::connector::TokenSet {
        access_token: "test-access".into(),
        refresh_token: Some("test-refresh".into()),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
    };
    core.tokens.store(integration, &tokens).await.unwrap();
}

/// A payload in its envelope, ready for a queue, as the stage before would send it.
pub fn queue_message<T: MessageKind>(payload: T) -> casb_shared::ports::OutgoingMessage {
    let envelope = Envelope::wrap(payload, chrono::Utc::now());
    casb_shared::ports::OutgoingMessage::new(envelope.id.clone(), envelope.to_json())
}

/// `casb serve` for a test: its own data directory, a random port, no schedule tick during the
/// test, and workers that look at their queues often.
pub fn serve_options(data_dir: &std::path::Path) -> casb_shared::local::ServeOptions {
    casb_shared::local::ServeOptions {
        data_dir: data_dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        poll_interval: std::time::Duration::from_secs(3600),
        worker: casb_shared::pipeline::worker::WorkerOptions {
            wait: std::time::Duration::from_millis(100),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Polls `probe` until it yields a value; gives up after a generous bound (not a timing
/// assertion: it only keeps a broken build from hanging the suite).
pub async fn wait_for<T, F, Fut>(probe: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..600 {
        if let Some(value) = probe().await {
            return Some(value);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}

/// The OCSF 1.5.0 schema of a class, from the handbook's `ocsf/1.5.0/` (`CASB_SHARED_DIR`);
/// `None` (skip) when it is absent outside CI.
pub fn ocsf_schema(class_uid: u64) -> Option<jsonschema::Validator> {
    let dir = std::env::var("CASB_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
        })
        .join("ocsf/1.5.0");
    let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
        entries.flatten().map(|e| e.path()).find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{class_uid}_")))
        })
    });
    let Some(path) = found else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "OCSF schema {class_uid} missing under {}; set CASB_SHARED_DIR",
                dir.display()
            );
        }
        eprintln!(
            "SKIPPED: OCSF schema {class_uid} not found under {}; set CASB_SHARED_DIR",
            dir.display()
        );
        return None;
    };
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    Some(jsonschema::validator_for(&schema).unwrap())
}

pub fn assert_valid_ocsf(record: &serde_json::Value) -> bool {
    let class = record["class_uid"]
        .as_u64()
        .expect("every record names its class");
    let Some(validator) = ocsf_schema(class) else {
        return false;
    };
    let errors: Vec<String> = validator
        .iter_errors(record)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "class {class}: {errors:#?}\n{record:#}");
    assert_eq!(record["metadata"]["version"], "1.5.0");
    assert_eq!(
        record["type_uid"].as_u64(),
        Some(class * 100 + record["activity_id"].as_u64().unwrap())
    );
    true
}

/// A file of the team's handbook (`../shared/`, or `CASB_SHARED_DIR`): `None` (skip, said) when
/// it is absent outside CI; under CI a missing file fails the test.
pub fn handbook_file(relative: &str) -> Option<String> {
    let dir = std::env::var("CASB_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
        });
    let path = dir.join(relative);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(error) if in_ci() => panic!("{} is needed under CI: {error}", path.display()),
        Err(_) => {
            eprintln!("SKIPPED: {} not found; set CASB_SHARED_DIR", path.display());
            None
        }
    }
}

/// The final status and detail of the incident's action of `kind` (fails if it has none).
pub fn action_outcome(
    incident: &casb_shared::domain::Incident,
    kind: casb_shared::domain::ActionKind,
) -> (casb_shared::domain::ActionStatus, String) {
    let record = incident
        .actions
        .iter()
        .find(|a| a.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} in {incident:#?}"));
    (record.status, record.detail.clone().unwrap_or_default())
}

/// Every activity stored for `tenant` (up to 10 000).
pub async fn stored_activities(
    core: &casb_shared::Core,
    tenant: &str,
) -> Vec<casb_shared::domain::Activity> {
    core.backend
        .activities
        .query_activities(&casb_shared::ports::ActivityQuery {
            tenant_id: tenant.into(),
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Waits (up to 30 s) until `check` holds for `tenant`'s stored activities, or fails with
/// `what` and what is stored.
pub async fn activities_until(
    core: &casb_shared::Core,
    tenant: &str,
    what: &str,
    check: impl Fn(&[casb_shared::domain::Activity]) -> bool,
) -> Vec<casb_shared::domain::Activity> {
    for _ in 0..300 {
        let stored = stored_activities(core, tenant).await;
        if check(&stored) {
            return stored;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}: {:#?}", stored_activities(core, tenant).await);
}
