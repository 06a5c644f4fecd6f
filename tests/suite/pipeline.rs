//! End to end across functions: an activity travels inspector -> incident -> remediator, the
//! poller advances checkpoints only after queueing, the Lambda handlers report partial batch
//! failures, and `casb serve` runs it all in one process.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use casb_shared::config::Settings;
use casb_shared::connector::{ConnectorRegistry, PollPage};
use casb_shared::domain::*;
use casb_shared::pipeline::worker::{run_once, WorkerOptions};
use casb_shared::pipeline::{inspector, poller, remediator, PipelineError};
use casb_shared::ports::{OutgoingMessage, Queue, QueueError, ReceivedMessage};
use casb_shared::Core;

use crate::support::{connect, integration, public_share, Fixture, RecordingConnector};

crate::on_both_back_ends!(
    queued_activity_travels_inspector_incident_remediator_once,
    poller_queues_new_events_then_advances_the_checkpoint,
    poller_keeps_the_checkpoint_when_queueing_fails,
);

fn core_with(f: &Fixture, connector: Arc<RecordingConnector>) -> Core {
    let mut registry = ConnectorRegistry::new();
    registry.register(connector);
    let settings = Settings {
        notify_emails: vec!["secops@example.com".into()],
        ..Settings::default()
    };
    Core::new(f.backend.clone(), settings, registry).unwrap()
}

fn options() -> WorkerOptions {
    WorkerOptions {
        batch_size: 10,
        visibility_timeout: Duration::from_secs(30),
        wait: Duration::from_secs(1),
    }
}

async fn drain_activities(core: &Core) -> usize {
    let mut total = 0;
    loop {
        let n = run_once(&core.backend.activity_queue, &options(), |body| {
            let core = core.clone();
            async move { inspector::handle_message(&core, &body).await.map(|_| ()) }
        })
        .await
        .unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

async fn drain_actions(core: &Core) -> usize {
    let mut total = 0;
    loop {
        let n = run_once(&core.backend.action_queue, &options(), |body| {
            let core = core.clone();
            async move { remediator::handle_message(&core, &body).await.map(|_| ()) }
        })
        .await
        .unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

fn activity_message(activity: &Activity) -> OutgoingMessage {
    let envelope = Envelope::wrap(activity.clone(), chrono::Utc::now());
    OutgoingMessage {
        id: envelope.id.clone(),
        body: envelope.to_json(),
    }
}

async fn queued_activity_travels_inspector_incident_remediator_once(f: Fixture) {
    let connector = Arc::new(RecordingConnector::default());
    let core = core_with(&f, connector.clone());
    let box_tenant = integration("tenant-a", "int-1");
    connect(&core, &box_tenant).await;
    let activity = public_share(&box_tenant, "e-1");

    core.backend
        .activity_queue
        .send_batch(vec![activity_message(&activity)])
        .await
        .unwrap();
    assert_eq!(drain_activities(&core).await, 1, "{}", f.name);

    let stored = core
        .backend
        .activities
        .get_activity("tenant-a", &activity.id())
        .await
        .unwrap();
    assert_eq!(
        stored.as_ref(),
        Some(&activity),
        "{}: the inspector stores the activity",
        f.name
    );
    let incidents = core
        .backend
        .incidents
        .list_incidents("tenant-a", None, 10)
        .await
        .unwrap();
    assert_eq!(incidents.len(), 1, "{}", f.name);
    let incident = &incidents[0];
    assert_eq!(incident.policy_id, "builtin.public-file-link");
    assert_eq!(incident.activity_id, activity.id());
    assert!(incident
        .actions
        .iter()
        .all(|a| a.status == ActionStatus::Pending));

    assert_eq!(
        drain_actions(&core).await,
        2,
        "{}: remove link + notify reach the remediator",
        f.name
    );
    let incident = core
        .backend
        .incidents
        .get_incident("tenant-a", &incident.id)
        .await
        .unwrap()
        .unwrap();
    let outcome = |kind| {
        incident
            .actions
            .iter()
            .find(|a| a.kind == kind)
            .unwrap()
            .clone()
    };
    assert_eq!(
        outcome(ActionKind::RemoveSharedLink).status,
        ActionStatus::Succeeded,
        "{}: {incident:?}",
        f.name
    );
    assert_eq!(outcome(ActionKind::RemoveSharedLink).attempts, 1);
    assert_eq!(
        outcome(ActionKind::Notify).status,
        ActionStatus::Succeeded,
        "{}: {incident:?}",
        f.name
    );
    assert_eq!(
        *connector.executed.lock().unwrap(),
        vec![(ActionKind::RemoveSharedLink, Some("file-e-1".to_string()))],
        "{}",
        f.name
    );
    if let Some(outbox) = &f.outbox {
        let sent = outbox.sent().await.unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, ["secops@example.com"]);
        assert!(
            sent[0].subject.contains("File shared by public link"),
            "{}",
            sent[0].subject
        );
    }

    // The same event again (redelivery, or the other ingest path): no new incident, nothing
    // queued, nothing done twice.
    core.backend
        .activity_queue
        .send_batch(vec![activity_message(&activity)])
        .await
        .unwrap();
    assert_eq!(drain_activities(&core).await, 1);
    assert_eq!(
        core.backend
            .incidents
            .list_incidents("tenant-a", None, 10)
            .await
            .unwrap()
            .len(),
        1,
        "{}",
        f.name
    );
    assert_eq!(
        drain_actions(&core).await,
        0,
        "{}: no action re-queued once done",
        f.name
    );

    // A redelivered action message is recognised and skipped.
    let action = ResponseAction {
        id: ResponseAction::id_for(&incident.id, ActionKind::RemoveSharedLink),
        incident_id: incident.id.clone(),
        tenant_id: "tenant-a".into(),
        integration_id: "int-1".into(),
        provider: Provider::Box,
        kind: ActionKind::RemoveSharedLink,
        object_id: Some("file-e-1".into()),
        object_type: Some("file".into()),
    };
    let envelope = Envelope::wrap(action, chrono::Utc::now());
    core.backend
        .action_queue
        .send_batch(vec![OutgoingMessage {
            id: "again".into(),
            body: envelope.to_json(),
        }])
        .await
        .unwrap();
    assert_eq!(drain_actions(&core).await, 1);
    assert_eq!(
        connector.executed.lock().unwrap().len(),
        1,
        "{}: the provider was asked once",
        f.name
    );
}

fn page(events: &[&str], integration: &Integration, next: &str, has_more: bool) -> PollPage {
    PollPage {
        activities: events
            .iter()
            .map(|e| public_share(integration, e))
            .collect(),
        next_cursor: next.into(),
        has_more,
    }
}

async fn poller_queues_new_events_then_advances_the_checkpoint(f: Fixture) {
    let box_tenant = integration("tenant-a", "int-1");
    let connector = Arc::new(RecordingConnector::default());
    *connector.pages.lock().unwrap() = vec![
        // Box's streaming feed may return an event twice, within a page and across pages.
        (None, page(&["e-1", "e-2", "e-2"], &box_tenant, "c1", true)),
        (
            Some("c1".into()),
            page(&["e-2", "e-3"], &box_tenant, "c2", false),
        ),
        (Some("c2".into()), page(&[], &box_tenant, "c2", false)),
    ];
    let core = core_with(&f, connector.clone());
    connect(&core, &box_tenant).await;

    let stats = poller::poll_integration(&core, &box_tenant).await.unwrap();
    assert_eq!(
        (stats.pages, stats.queued, stats.duplicates),
        (2, 3, 2),
        "{}: {stats:?}",
        f.name
    );
    let checkpoint = core
        .backend
        .checkpoints
        .get_checkpoint(&poller::checkpoint_stream(&box_tenant))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (checkpoint.cursor.as_str(), checkpoint.version),
        ("c2", 2),
        "{}",
        f.name
    );
    assert_eq!(
        core.backend
            .activity_queue
            .approximate_depth()
            .await
            .unwrap(),
        3,
        "{}",
        f.name
    );

    // The next run resumes from the checkpoint and finds nothing new.
    let stats = poller::poll_integration(&core, &box_tenant).await.unwrap();
    assert_eq!((stats.pages, stats.queued), (1, 0), "{}", f.name);
    assert_eq!(
        connector
            .polled_cursors
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .as_deref(),
        Some("c2")
    );

    // A poller that finds the lease taken leaves the integration alone.
    let now = chrono::Utc::now();
    core.backend
        .dedup
        .insert_if_absent("poll-lease#int-1", now + chrono::Duration::minutes(5), now)
        .await
        .unwrap();
    let stats = poller::poll_integration(&core, &box_tenant).await.unwrap();
    assert_eq!(stats.pages, 0);
    assert!(stats.stopped.unwrap().contains("lease"), "{}", f.name);
}

/// A queue whose sends always fail, as when SQS is unreachable.
struct UnreachableQueue;

#[async_trait]
impl Queue for UnreachableQueue {
    fn name(&self) -> &str {
        "unreachable"
    }
    async fn send_batch(&self, _: Vec<OutgoingMessage>) -> Result<(), QueueError> {
        Err(QueueError::Unavailable {
            queue: "unreachable".into(),
            message: "connection refused".into(),
        })
    }
    async fn receive(
        &self,
        _: usize,
        _: Duration,
        _: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        Ok(vec![])
    }
    async fn delete(&self, _: &str) -> Result<(), QueueError> {
        Ok(())
    }
    async fn approximate_depth(&self) -> Result<u64, QueueError> {
        Ok(0)
    }
}

async fn poller_keeps_the_checkpoint_when_queueing_fails(f: Fixture) {
    let box_tenant = integration("tenant-a", "int-1");
    let connector = Arc::new(RecordingConnector::default());
    *connector.pages.lock().unwrap() = vec![(None, page(&["e-1"], &box_tenant, "c1", false))];
    let mut broken = core_with(&f, connector.clone());
    connect(&broken, &box_tenant).await;
    broken.backend.activity_queue = Arc::new(UnreachableQueue);

    let error = poller::poll_integration(&broken, &box_tenant)
        .await
        .unwrap_err();
    assert!(
        matches!(error, PipelineError::Queue(_)),
        "{}: {error}",
        f.name
    );
    let stream = poller::checkpoint_stream(&box_tenant);
    assert_eq!(
        broken
            .backend
            .checkpoints
            .get_checkpoint(&stream)
            .await
            .unwrap(),
        None,
        "{}: not advanced",
        f.name
    );

    // Once the queue is back, the same page is fetched again and nothing was lost.
    let healthy = core_with(&f, connector);
    let stats = poller::poll_integration(&healthy, &box_tenant)
        .await
        .unwrap();
    assert_eq!(
        stats.queued, 1,
        "{}: the event was not marked seen by the failed run",
        f.name
    );
    assert_eq!(
        healthy
            .backend
            .checkpoints
            .get_checkpoint(&stream)
            .await
            .unwrap()
            .unwrap()
            .cursor,
        "c1"
    );
}

#[tokio::test]
async fn lambda_sqs_handler_reports_only_the_failed_records() {
    let f = crate::support::embedded();
    let core = core_with(&f, Arc::new(RecordingConnector::default()));
    let good = Envelope::wrap(
        public_share(&integration("tenant-a", "int-1"), "e-1"),
        chrono::Utc::now(),
    );
    let event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(serde_json::json!({
        "Records": [
            {"messageId": "good-1", "receiptHandle": "r1", "body": good.to_json(), "eventSource": "aws:sqs"},
            {"messageId": "bad-1", "receiptHandle": "r2", "body": "{\"version\": 99}", "eventSource": "aws:sqs"},
            {"messageId": "bad-2", "receiptHandle": "r3", "body": "not json", "eventSource": "aws:sqs"}
        ]
    }))
    .unwrap();
    let response = casb_shared::lambda::inspector_handler(
        &core,
        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["bad-1", "bad-2"]);
    assert_eq!(
        core.backend
            .incidents
            .list_incidents("tenant-a", None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn casb_serve_answers_health_and_runs_the_pipeline_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let options = casb_shared::local::ServeOptions {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        poll_interval: Duration::from_secs(3600),
        worker: WorkerOptions {
            wait: Duration::from_millis(200),
            ..WorkerOptions::default()
        },
    };
    let settings = Settings {
        notify_emails: vec!["secops@example.com".into()],
        ..Settings::default()
    };
    let instance =
        casb_shared::local::LocalInstance::start(options, settings, |_| ConnectorRegistry::new())
            .await
            .unwrap();
    let base = format!("http://{}", instance.address);
    let http = reqwest::Client::new();
    for path in ["/healthz", "/oauth/healthz", "/webhooks/healthz"] {
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok", "{path}");
    }
    let missing = http
        .get(format!("{base}/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["code"], 404);

    // An activity queued for the inspector is handled by the in-process workers. With no Box
    // connector configured the link removal is recorded as unsupported, never silently dropped.
    let activity = public_share(&integration("tenant-a", "int-1"), "e-1");
    instance
        .core
        .backend
        .activity_queue
        .send_batch(vec![activity_message(&activity)])
        .await
        .unwrap();
    let incident = wait_for(|| async {
        let incidents = instance
            .core
            .backend
            .incidents
            .list_incidents("tenant-a", None, 10)
            .await
            .unwrap();
        incidents
            .into_iter()
            .find(|i| i.actions.iter().all(|a| a.status.is_final()))
    })
    .await
    .expect("the incident's actions reach a final outcome");
    let outcome = |kind| {
        incident
            .actions
            .iter()
            .find(|a| a.kind == kind)
            .unwrap()
            .clone()
    };
    assert_eq!(outcome(ActionKind::Notify).status, ActionStatus::Succeeded);
    let removal = outcome(ActionKind::RemoveSharedLink);
    assert_eq!(removal.status, ActionStatus::Unsupported);
    assert!(removal.detail.unwrap().contains("no box connector"));
    assert_eq!(instance.embedded.outbox.sent().await.unwrap().len(), 1);
    instance.shutdown().await;
}

/// Polls `probe` until it yields a value; gives up after a generous bound (not a timing
/// assertion: it only keeps a broken build from hanging the suite).
async fn wait_for<T, F, Fut>(probe: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..600 {
        if let Some(value) = probe().await {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
