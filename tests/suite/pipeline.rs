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

use crate::support::{
    connect, integration, public_share, serve_options, wait_for, Fixture, RecordingConnector,
};

crate::on_both_back_ends!(
    queued_activity_travels_inspector_incident_remediator_once,
    poller_queues_new_events_then_advances_the_checkpoint,
    poller_keeps_the_checkpoint_when_queueing_fails,
    schedule_fans_out_one_job_per_due_stream,
    a_job_out_of_budget_hands_over_to_a_continuation,
    a_transiently_failing_job_is_retried_then_dead_lettered,
    a_page_lost_from_a_provider_held_cursor_is_asked_for_again,
    an_action_whose_worker_crashed_holding_its_lease_is_taken_over,
    a_tenants_applied_policy_set_drives_its_incidents_and_monitor_mode_acts_on_nothing,
    a_file_that_cannot_be_inspected_is_recorded_so_and_an_exposed_one_is_an_incident,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_files_take_turns_within_the_inspection_memory_and_a_huge_one_fails_no_neighbour() {
    let f = crate::support::embedded();
    let connector = Arc::new(RecordingConnector::default());
    *connector.content.lock().unwrap() = Some(b"card 4111 1111 1111 1111\n".to_vec());
    *connector.download_delay.lock().unwrap() = Duration::from_millis(300);
    let mut registry = ConnectorRegistry::new();
    registry.register(connector.clone());
    let settings = Settings {
        max_download_bytes: 3 << 20,
        inspection_memory_bytes: 4 << 20,
        ..Settings::default()
    };
    let core = Core::new(f.backend.clone(), settings, registry).unwrap();
    let box_tenant = integration("tenant-a", "int-1");
    connect(&core, &box_tenant).await;
    // Three uploads of 3 MiB each (the provider reports the size) and one of 1 GiB.
    let upload = |n: u32, size: u64| {
        let mut activity = public_share(&box_tenant, &format!("e-{n}"));
        activity.event_type = EventType::DataCreation;
        activity.link_visibility = None;
        activity.enrichments.exposure = Some(Exposure {
            content_sha1: Some(format!("{n:040x}")),
            size: Some(size),
            ..Exposure::default()
        });
        activity
    };
    let batch: Vec<Activity> = (1..=3)
        .map(|n| upload(n, 3 << 20))
        .chain([upload(4, 1 << 30)])
        .collect();
    let reports =
        futures::future::join_all(batch.iter().map(|a| inspector::inspect(&core, a))).await;
    for report in &reports {
        assert!(report.is_ok(), "{reports:?}");
    }
    // Each 3 MiB file reserves its bytes and what they may expand to, most of the 4 MiB: they
    // were downloaded one at a time. The 1 GiB file was never downloaded.
    assert_eq!(
        connector
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let downloads = connector.downloads.lock().unwrap().clone();
    assert_eq!(downloads.len(), 3, "{downloads:?}");
    assert!(!downloads.contains(&"file-e-4".to_string()));
    let huge = core
        .backend
        .classifications
        .get_classification("tenant-a", &format!("sha1:{:040x}", 4))
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&huge.coverage, Coverage::Uninspected(r) if r.contains("download limit")),
        "{huge:?}"
    );
    for n in 1..=3u32 {
        let classified = core
            .backend
            .classifications
            .get_classification("tenant-a", &format!("sha1:{n:040x}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(classified.detectors[0].detector, "credit_card");
    }
}

/// Runs one scheduled job on the integration's `events` stream, as the poller would.
async fn poll(core: &Core, integration: &Integration) -> Result<poller::PollStats, PipelineError> {
    poll_stream(core, integration, "events").await
}

async fn poll_stream(
    core: &Core,
    integration: &Integration,
    stream: &str,
) -> Result<poller::PollStats, PipelineError> {
    poller::run_job(
        core,
        &PollJob {
            tenant_id: integration.tenant_id.clone(),
            integration_id: integration.id.clone(),
            work: PollWork::Scheduled {
                stream: stream.into(),
            },
        },
    )
    .await
}

async fn received_jobs(core: &Core) -> Vec<PollJob> {
    let mut jobs = Vec::new();
    loop {
        let messages = core
            .backend
            .poll_queue
            .receive(10, Duration::from_secs(60), Duration::from_millis(300))
            .await
            .unwrap();
        if messages.is_empty() {
            return jobs;
        }
        for message in messages {
            jobs.push(Envelope::<PollJob>::parse(&message.body).unwrap().payload);
            core.backend
                .poll_queue
                .delete(&message.receipt_handle)
                .await
                .unwrap();
        }
    }
}

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

async fn incidents_of(core: &Core, tenant: &str) -> Vec<Incident> {
    core.backend
        .incidents
        .list_incidents(tenant, None, 10)
        .await
        .unwrap()
}

fn activity_message(activity: &Activity) -> OutgoingMessage {
    crate::support::queue_message(activity.clone())
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
    let incidents = incidents_of(&core, "tenant-a").await;
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
    assert_eq!(incidents_of(&core, "tenant-a").await.len(), 1, "{}", f.name);
    assert_eq!(
        drain_actions(&core).await,
        0,
        "{}: no action re-queued once done",
        f.name
    );

    // A redelivered action message is recognised and skipped.
    let action = ResponseAction {
        id: ResponseAction::id_for(&incident.id, ActionKind::RemoveSharedLink, None),
        incident_id: incident.id.clone(),
        tenant_id: "tenant-a".into(),
        integration_id: "int-1".into(),
        provider: Provider::Box,
        kind: ActionKind::RemoveSharedLink,
        object_id: Some("file-e-1".into()),
        object_type: Some("file".into()),
        channel: None,
        scope: None,
    };
    let envelope = Envelope::wrap(action, chrono::Utc::now());
    core.backend
        .action_queue
        .send_batch(vec![OutgoingMessage::new("again", envelope.to_json())])
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
        wait_before_next: None,
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

    let stats = poll(&core, &box_tenant).await.unwrap();
    assert_eq!(
        (stats.pages, stats.queued, stats.duplicates),
        (2, 3, 2),
        "{}: {stats:?}",
        f.name
    );
    let checkpoint = core
        .backend
        .checkpoints
        .get_checkpoint(&box_tenant.stream_key("events"))
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

    assert!(checkpoint.health.last_success_at.is_some(), "{}", f.name);
    assert_eq!(checkpoint.health.events_queued, 3, "{}", f.name);

    // The next run resumes from the checkpoint and finds nothing new.
    let stats = poll(&core, &box_tenant).await.unwrap();
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

    // A poller that finds the stream's lease taken leaves the stream alone.
    let now = chrono::Utc::now();
    core.backend
        .dedup
        .acquire_lease(
            "poll-lease#tenant-a#int-1#events",
            "another-poller",
            now + chrono::Duration::minutes(5),
            now,
        )
        .await
        .unwrap();
    let stats = poll(&core, &box_tenant).await.unwrap();
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

    let error = poll(&broken, &box_tenant).await.unwrap_err();
    assert!(
        matches!(error, PipelineError::Queue(_)),
        "{}: {error}",
        f.name
    );
    let stream = box_tenant.stream_key("events");
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
    let stats = poll(&healthy, &box_tenant).await.unwrap();
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

async fn schedule_fans_out_one_job_per_due_stream(f: Fixture) {
    let connector = Arc::new(RecordingConnector::default());
    *connector.streams.lock().unwrap() = Some(vec![
        casb_shared::connector::StreamSpec::new("audit.sharepoint", "SharePoint audit"),
        casb_shared::connector::StreamSpec::new("audit.general", "general audit"),
    ]);
    let core = core_with(&f, connector);
    // More integrations than one store page (100), in two tenants; one paused, one push-only.
    let mut pollable = 0;
    for n in 0..130 {
        let mut integration = integration(&format!("tenant-{}", n % 2), &format!("int-{n:03}"));
        match n {
            7 => integration.status = IntegrationStatus::Paused,
            8 => integration.mode = IngestMode::Push,
            _ => pollable += 1,
        }
        core.backend
            .integrations
            .put_integration(&integration)
            .await
            .unwrap();
    }
    let summary = poller::schedule_due(&core).await.unwrap();
    assert_eq!(summary.integrations, pollable, "{}", f.name);
    assert_eq!(
        summary.jobs_queued,
        pollable * 2,
        "{}: one job per stream",
        f.name
    );
    let jobs = received_jobs(&core).await;
    assert_eq!(jobs.len(), pollable * 2, "{}", f.name);
    let mut distinct: Vec<_> = jobs
        .iter()
        .map(|j| {
            (
                j.tenant_id.clone(),
                j.integration_id.clone(),
                j.stream().unwrap().to_string(),
            )
        })
        .collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        pollable * 2,
        "{}: no stream scheduled twice",
        f.name
    );
    assert!(!jobs
        .iter()
        .any(|j| j.integration_id == "int-007" || j.integration_id == "int-008"));

    // A second tick inside the interval finds nothing due.
    let again = poller::schedule_due(&core).await.unwrap();
    assert_eq!(
        (again.jobs_queued, again.not_due),
        (0, pollable * 2),
        "{}",
        f.name
    );
}

async fn a_job_out_of_budget_hands_over_to_a_continuation(f: Fixture) {
    let box_tenant = integration("tenant-a", "int-1");
    let connector = Arc::new(RecordingConnector::default());
    *connector.pages.lock().unwrap() = vec![
        (None, page(&["e-1"], &box_tenant, "c1", true)),
        (Some("c1".into()), page(&["e-2"], &box_tenant, "c2", false)),
    ];
    let mut core = core_with(&f, connector.clone());
    Arc::get_mut(&mut core.settings).unwrap().poll_max_pages = 1;
    connect(&core, &box_tenant).await;

    let stats = poll(&core, &box_tenant).await.unwrap();
    assert_eq!(
        (stats.pages, stats.queued, stats.continued),
        (1, 1, true),
        "{}",
        f.name
    );
    let jobs = received_jobs(&core).await;
    assert_eq!(
        jobs.iter().map(|j| &j.work).collect::<Vec<_>>(),
        vec![&PollWork::Continuation {
            stream: "events".into()
        }],
        "{}",
        f.name
    );
    // The continuation picks up where the first job stopped, and drains the stream.
    let stats = poller::run_job(&core, &jobs[0]).await.unwrap();
    assert_eq!(
        (stats.pages, stats.queued, stats.continued),
        (1, 1, false),
        "{}",
        f.name
    );
    assert!(received_jobs(&core).await.is_empty(), "{}", f.name);
}

async fn a_transiently_failing_job_is_retried_then_dead_lettered(f: Fixture) {
    let box_tenant = integration("tenant-a", "int-1");
    let connector = Arc::new(RecordingConnector::default());
    *connector.failing.lock().unwrap() =
        Some(|| casb_shared::connector::ConnectorError::Transient("provider answered 503".into()));
    let core = core_with(&f, connector);
    connect(&core, &box_tenant).await;
    core.backend
        .checkpoints
        .put_checkpoint(
            &box_tenant.stream_key("events"),
            "c0",
            &StreamHealth::default(),
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    poller::schedule_due(&core).await.unwrap();

    let quick = WorkerOptions {
        batch_size: 10,
        visibility_timeout: Duration::from_secs(1),
        wait: Duration::from_millis(200),
    };
    let mut attempts = 0;
    for _ in 0..60 {
        if f.poll_dead_letters.approximate_depth().await.unwrap() > 0 {
            break;
        }
        attempts += run_once(&core.backend.poll_queue, &quick, |body| {
            let core = core.clone();
            async move { poller::handle_message(&core, &body).await.map(|_| ()) }
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        attempts, 5,
        "{}: tried until the receive limit, never a silent success",
        f.name
    );
    let dead = f
        .poll_dead_letters
        .receive(10, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "{}", f.name);
    let job = Envelope::<PollJob>::parse(&dead[0].body).unwrap().payload;
    assert_eq!(job.stream(), Some("events"));
    // Each failure is on the stream's health for operators.
    let health = core
        .backend
        .checkpoints
        .get_checkpoint(&box_tenant.stream_key("events"))
        .await
        .unwrap()
        .unwrap()
        .health;
    assert_eq!(health.consecutive_failures, 5, "{}", f.name);
    assert!(health.last_error.unwrap().contains("503"));
}

async fn a_page_lost_from_a_provider_held_cursor_is_asked_for_again(f: Fixture) {
    let box_tenant = integration("tenant-a", "int-1");
    let connector = Arc::new(RecordingConnector::default());
    let mut held = casb_shared::connector::StreamSpec::new("alerts.dlp", "provider-held iterator");
    held.provider_cursor = true;
    *connector.streams.lock().unwrap() = Some(vec![held]);
    *connector.pages.lock().unwrap() = vec![(None, page(&["a-1"], &box_tenant, "", false))];
    let mut broken = core_with(&f, connector.clone());
    connect(&broken, &box_tenant).await;
    broken.backend.activity_queue = Arc::new(UnreachableQueue);

    // The provider hands out the page (and moves its cursor), then queueing fails: a crash.
    poll_stream(&broken, &box_tenant, "alerts.dlp")
        .await
        .unwrap_err();
    let checkpoint = broken
        .backend
        .checkpoints
        .get_checkpoint(&box_tenant.stream_key("alerts.dlp"))
        .await
        .unwrap()
        .unwrap();
    assert!(checkpoint.health.page_in_flight, "{}", f.name);

    // The next job asks for that page again instead of the next one, and commits it.
    let healthy = core_with(&f, connector.clone());
    let stats = poll_stream(&healthy, &box_tenant, "alerts.dlp")
        .await
        .unwrap();
    assert_eq!(stats.queued, 1, "{}", f.name);
    assert_eq!(
        *connector.redeliveries.lock().unwrap(),
        vec![false, true],
        "{}",
        f.name
    );
    let checkpoint = healthy
        .backend
        .checkpoints
        .get_checkpoint(&box_tenant.stream_key("alerts.dlp"))
        .await
        .unwrap()
        .unwrap();
    assert!(!checkpoint.health.page_in_flight, "{}", f.name);
    // And the one after that is a fresh page again.
    poll_stream(&healthy, &box_tenant, "alerts.dlp")
        .await
        .unwrap();
    assert_eq!(
        connector.redeliveries.lock().unwrap().last(),
        Some(&false),
        "{}",
        f.name
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
    assert_eq!(incidents_of(&core, "tenant-a").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn casb_serve_answers_health_and_runs_the_pipeline_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let options = serve_options(dir.path());
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
        let incidents = incidents_of(&instance.core, "tenant-a").await;
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

/// A provider with every kind of webhook handshake, counting what webhook intake asks of it.
#[derive(Default)]
struct HandshakeConnector {
    verified: std::sync::atomic::AtomicUsize,
    provider_calls: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl casb_shared::connector::Connector for HandshakeConnector {
    fn provider(&self) -> Provider {
        Provider::Microsoft365
    }
    fn capabilities(&self) -> casb_shared::connector::Capabilities {
        casb_shared::connector::Capabilities {
            webhooks: true,
            ..Default::default()
        }
    }
    fn webhook_handshakes(&self) -> Vec<casb_shared::connector::Handshake> {
        use casb_shared::connector::Handshake;
        vec![
            Handshake::EchoQuery {
                param: "validationToken",
            },
            Handshake::GetChallenge { param: "challenge" },
            Handshake::EchoHeader {
                request_header: "X-Hook-Secret",
                response_header: "X-Hook-Secret",
            },
            Handshake::JsonChallenge {
                type_field: "type",
                type_value: "url_verification",
                challenge_field: "challenge",
            },
        ]
    }
    async fn verify_webhook(
        &self,
        delivery: &casb_shared::connector::WebhookDelivery<'_>,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), casb_shared::connector::WebhookRejection> {
        self.verified
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match delivery.headers.get("x-signature").map(String::as_str) {
            Some("good") => Ok(()),
            _ => Err(casb_shared::connector::WebhookRejection::BadSignature),
        }
    }
    async fn poll(
        &self,
        _: &Integration,
        _: &secrecy::SecretString,
        _: &casb_shared::connector::PollRequest<'_>,
    ) -> Result<PollPage, casb_shared::connector::ConnectorError> {
        self.provider_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(casb_shared::connector::ConnectorError::Transient(
            "not in this test".into(),
        ))
    }
    async fn execute(
        &self,
        _: &Integration,
        _: &secrecy::SecretString,
        _: &ResponseAction,
    ) -> Result<casb_shared::connector::ActionOutcome, casb_shared::connector::ConnectorError> {
        self.provider_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(casb_shared::connector::ConnectorError::Transient(
            "not in this test".into(),
        ))
    }
}

#[tokio::test]
async fn webhook_handshakes_are_answered_without_touching_the_provider() {
    use tower::ServiceExt;
    let f = crate::support::embedded();
    let connector = Arc::new(HandshakeConnector::default());
    let mut registry = ConnectorRegistry::new();
    registry.register(connector.clone());
    let core = Core::new(f.backend.clone(), Settings::default(), registry).unwrap();
    let router = casb_shared::http::webhook_intake::router(core.clone());
    let send = |request: axum::http::Request<axum::body::Body>| {
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, headers, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let url = "/webhooks/microsoft365/tenant-a/int-unknown";

    // Graph: POST ?validationToken=... gets the decoded token back as text/plain.
    let (status, headers, body) = send(
        axum::http::Request::post(format!(
            "{url}?validationToken=Validation%3A%20Testing%20client"
        ))
        .body(axum::body::Body::empty())
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, "Validation: Testing client");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));

    // Dropbox: GET ?challenge=... echoed with nosniff.
    let (status, headers, body) = send(
        axum::http::Request::get(format!("{url}?challenge=abc123"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "abc123"));
    assert_eq!(headers["x-content-type-options"], "nosniff");

    // Asana-style: a secret header echoed back.
    let (status, headers, _) = send(
        axum::http::Request::post(url)
            .header("X-Hook-Secret", "s3cr3t")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-hook-secret"], "s3cr3t");

    // Slack: url_verification is answered only once its signature checks out.
    let challenge = r#"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#;
    let (status, _, _) = send(
        axum::http::Request::post(url)
            .header("x-signature", "forged")
            .body(axum::body::Body::from(challenge))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, body) = send(
        axum::http::Request::post(url)
            .header("x-signature", "good")
            .body(axum::body::Body::from(challenge))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");

    // Only the two signed requests were verified; the provider was never called, no token was
    // needed (there is none: the integration does not even exist), nothing was queued.
    assert_eq!(
        connector.verified.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    assert_eq!(
        connector
            .provider_calls
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(
        core.backend.poll_queue.approximate_depth().await.unwrap(),
        0
    );
    assert_eq!(
        core.backend
            .activity_queue
            .approximate_depth()
            .await
            .unwrap(),
        0
    );
}

/// A provider with headless credentials (an API token or client credentials) and change
/// notices that name no item (as Graph's): it records what it is asked and with which token.
struct HeadlessConnector {
    kind: CredentialKind,
    token_calls: std::sync::atomic::AtomicUsize,
    refresh_calls: std::sync::atomic::AtomicUsize,
    seen_tokens: std::sync::Mutex<Vec<String>>,
    polled_streams: std::sync::Mutex<Vec<String>>,
}

impl HeadlessConnector {
    fn new(kind: CredentialKind) -> Self {
        HeadlessConnector {
            kind,
            token_calls: Default::default(),
            refresh_calls: Default::default(),
            seen_tokens: Default::default(),
            polled_streams: Default::default(),
        }
    }

    fn check(
        &self,
        token: &secrecy::SecretString,
    ) -> Result<(), casb_shared::connector::ConnectorError> {
        use secrecy::ExposeSecret;
        let token = token.expose_secret().to_string();
        self.seen_tokens.lock().unwrap().push(token.clone());
        if token == "good-token" || token.starts_with("app-token-") {
            Ok(())
        } else {
            Err(casb_shared::connector::ConnectorError::Unauthorized)
        }
    }
}

#[async_trait]
impl casb_shared::connector::Connector for HeadlessConnector {
    fn provider(&self) -> Provider {
        Provider::Netskope
    }
    fn capabilities(&self) -> casb_shared::connector::Capabilities {
        casb_shared::connector::Capabilities {
            polling: true,
            webhooks: true,
            ..Default::default()
        }
    }
    fn credential_kinds(&self) -> Vec<CredentialKind> {
        vec![self.kind]
    }
    fn streams(&self, _: &Integration) -> Vec<casb_shared::connector::StreamSpec> {
        vec![
            casb_shared::connector::StreamSpec::new("drive-1", "one drive's delta"),
            casb_shared::connector::StreamSpec::new("drive-2", "another drive's delta"),
        ]
    }
    async fn headless_token(
        &self,
        _: &Integration,
        secret: &secrecy::SecretString,
    ) -> Result<casb_shared::connector::TokenSet, casb_shared::connector::ConnectorError> {
        use secrecy::ExposeSecret;
        let n = self
            .token_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if !secret.expose_secret().contains("right-secret") {
            return Err(casb_shared::connector::ConnectorError::Permanent(
                "invalid_client".into(),
            ));
        }
        Ok(casb_shared::connector::TokenSet {
            access_token: format!("app-token-{n}"),
            refresh_token: None,
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        })
    }
    async fn refresh(
        &self,
        _: &secrecy::SecretString,
    ) -> Result<casb_shared::connector::TokenSet, casb_shared::connector::ConnectorError> {
        self.refresh_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(casb_shared::connector::ConnectorError::Unsupported(
            "no refresh".into(),
        ))
    }
    async fn grant_info(
        &self,
        token: &secrecy::SecretString,
    ) -> Result<casb_shared::connector::GrantInfo, casb_shared::connector::ConnectorError> {
        self.check(token)?;
        Ok(casb_shared::connector::GrantInfo {
            external_tenant_id: Some("provider-tenant-1".into()),
            display_name: "Example tenant".into(),
            admin_email: None,
        })
    }
    async fn verify_webhook(
        &self,
        _: &casb_shared::connector::WebhookDelivery<'_>,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), casb_shared::connector::WebhookRejection> {
        Ok(())
    }
    fn webhook_notice_id(
        &self,
        delivery: &casb_shared::connector::WebhookDelivery<'_>,
    ) -> Result<casb_shared::connector::NoticeId, casb_shared::connector::WebhookRejection> {
        let body: serde_json::Value = serde_json::from_slice(delivery.body)
            .map_err(|e| casb_shared::connector::WebhookRejection::Unreadable(e.to_string()))?;
        Ok(casb_shared::connector::NoticeId {
            delivery_id: body["id"].as_str().unwrap_or_default().to_string(),
            webhook_id: None,
        })
    }
    async fn process_notice(
        &self,
        _: &Integration,
        token: &secrecy::SecretString,
        _: &std::collections::HashMap<String, String>,
        body: &[u8],
        _: tokio::time::Instant,
    ) -> Result<casb_shared::connector::NoticeOutcome, casb_shared::connector::ConnectorError> {
        self.check(token)?;
        let body: serde_json::Value = serde_json::from_slice(body).unwrap();
        Ok(casb_shared::connector::NoticeOutcome::RunStreams(vec![
            body["resource"].as_str().unwrap().to_string(),
        ]))
    }
    async fn poll(
        &self,
        integration: &Integration,
        token: &secrecy::SecretString,
        request: &casb_shared::connector::PollRequest<'_>,
    ) -> Result<PollPage, casb_shared::connector::ConnectorError> {
        self.check(token)?;
        self.polled_streams
            .lock()
            .unwrap()
            .push(request.stream.to_string());
        let mut activity = public_share(integration, &format!("{}-e1", request.stream));
        activity.provider = Provider::Netskope;
        Ok(PollPage {
            activities: vec![activity],
            next_cursor: "c1".into(),
            has_more: false,
            wait_before_next: None,
        })
    }
    async fn execute(
        &self,
        _: &Integration,
        _: &secrecy::SecretString,
        _: &ResponseAction,
    ) -> Result<casb_shared::connector::ActionOutcome, casb_shared::connector::ConnectorError> {
        Err(casb_shared::connector::ConnectorError::Unsupported(
            "none".into(),
        ))
    }
}

fn calls(counter: &std::sync::atomic::AtomicUsize) -> usize {
    counter.load(std::sync::atomic::Ordering::SeqCst)
}

fn headless_core(f: &Fixture, connector: Arc<HeadlessConnector>) -> Core {
    let mut registry = ConnectorRegistry::new();
    registry.register(connector);
    Core::new(f.backend.clone(), Settings::default(), registry).unwrap()
}

fn new_integration(secret: &str) -> casb_shared::admin::NewIntegration {
    casb_shared::admin::NewIntegration {
        provider: Provider::Netskope,
        tenant_id: "tenant-a".into(),
        credential: None,
        mode: IngestMode::Both,
        settings: vec![],
        secret: secrecy::SecretString::from(secret.to_string()),
    }
}

#[tokio::test]
async fn an_api_token_is_checked_before_it_is_kept_used_as_stored_and_never_refreshed() {
    let f = crate::support::embedded();
    let connector = Arc::new(HeadlessConnector::new(CredentialKind::ApiToken));
    let core = headless_core(&f, connector.clone());

    let refused =
        casb_shared::admin::add_integration(&core, new_integration(r#"{"token": "wrong"}"#))
            .await
            .expect_err("a refused token is an error");
    assert!(
        refused.to_string().contains("refused the credentials"),
        "{refused}"
    );
    assert!(casb_shared::admin::list_integrations(&core, "tenant-a")
        .await
        .unwrap()
        .is_empty());

    let (integration, warnings) =
        casb_shared::admin::add_integration(&core, new_integration(r#"{"token": "good-token"}"#))
            .await
            .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(integration.credential, CredentialKind::ApiToken);
    assert_eq!(
        integration.external_tenant_id.as_deref(),
        Some("provider-tenant-1")
    );
    let name = integration.credential_secret_name();
    assert!(name.starts_with("tenants/tenant-a/"), "{name}");
    assert!(core
        .backend
        .secrets
        .get_secret(&name)
        .await
        .unwrap()
        .is_some());
    // Both streams were seeded... (this connector starts from no cursor) and poll with the token.
    let stats = poll_stream(&core, &integration, "drive-2").await.unwrap();
    assert_eq!(stats.queued, 1);
    assert_eq!(
        connector.seen_tokens.lock().unwrap().last().unwrap(),
        "good-token"
    );

    // The provider revokes it: the integration needs a new token; nothing tries to refresh.
    core.backend
        .secrets
        .put_secret(
            &name,
            &secrecy::SecretString::from(r#"{"token": "revoked"}"#),
        )
        .await
        .unwrap();
    let stats = poll_stream(&core, &integration, "drive-2").await.unwrap();
    assert!(stats.stopped.unwrap().contains("API token"));
    let stored = core
        .backend
        .integrations
        .get_integration("tenant-a", &integration.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, IntegrationStatus::NeedsReauth);
    assert_eq!(calls(&connector.refresh_calls), 0);
}

#[tokio::test]
async fn client_credential_tokens_are_made_once_and_cached_until_near_expiry() {
    let f = crate::support::embedded();
    let connector = Arc::new(HeadlessConnector::new(CredentialKind::ClientCredentials));
    let core = headless_core(&f, connector.clone());
    let refused =
        casb_shared::admin::add_integration(&core, new_integration(r#"{"client_secret": "nope"}"#))
            .await;
    assert!(refused.is_err());
    let (integration, _) = casb_shared::admin::add_integration(
        &core,
        new_integration(r#"{"client_secret": "right-secret"}"#),
    )
    .await
    .unwrap();
    assert_eq!(integration.credential, CredentialKind::ClientCredentials);
    let calls_after_add = calls(&connector.token_calls);
    for stream in ["drive-1", "drive-2", "drive-1"] {
        poll_stream(&core, &integration, stream).await.unwrap();
    }
    assert_eq!(
        calls(&connector.token_calls),
        calls_after_add,
        "the cached token served every poll"
    );
    assert_eq!(calls(&connector.refresh_calls), 0);
}

#[tokio::test]
async fn a_notice_that_names_no_item_runs_the_stream_it_names_off_the_request_path() {
    use tower::ServiceExt;
    let f = crate::support::embedded();
    let connector = Arc::new(HeadlessConnector::new(CredentialKind::ApiToken));
    let core = headless_core(&f, connector.clone());
    let (integration, _) =
        casb_shared::admin::add_integration(&core, new_integration(r#"{"token": "good-token"}"#))
            .await
            .unwrap();
    let router = casb_shared::http::webhook_intake::router(core.clone());
    let response = router
        .oneshot(
            axum::http::Request::post(format!("/webhooks/netskope/tenant-a/{}", integration.id))
                .body(axum::body::Body::from(
                    r#"{"id": "n-1", "resource": "drive-2"}"#,
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Acknowledged without a provider call: nothing polled yet, one job queued.
    assert!(connector.polled_streams.lock().unwrap().is_empty());
    let jobs = received_jobs(&core).await;
    assert_eq!(jobs.len(), 1);
    assert!(matches!(&jobs[0].work, PollWork::Notice { delivery_id, .. } if delivery_id == "n-1"));
    let stats = poller::run_job(&core, &jobs[0]).await.unwrap();
    assert_eq!(
        *connector.polled_streams.lock().unwrap(),
        vec!["drive-2".to_string()]
    );
    assert_eq!(stats.queued, 1);
}

/// Polls instantly, except for one tenant's integration, whose poll waits until released.
struct GatedConnector {
    slow_entered: tokio::sync::Notify,
    release_slow: tokio::sync::Semaphore,
}

#[async_trait]
impl casb_shared::connector::Connector for GatedConnector {
    fn provider(&self) -> Provider {
        Provider::Box
    }
    fn capabilities(&self) -> casb_shared::connector::Capabilities {
        casb_shared::connector::Capabilities {
            polling: true,
            ..Default::default()
        }
    }
    async fn poll(
        &self,
        integration: &Integration,
        _: &secrecy::SecretString,
        _: &casb_shared::connector::PollRequest<'_>,
    ) -> Result<PollPage, casb_shared::connector::ConnectorError> {
        if integration.tenant_id == "tenant-slow" {
            self.slow_entered.notify_one();
            let _ = self.release_slow.acquire().await;
        }
        Ok(page(&["e-1"], integration, "c1", false))
    }
    async fn execute(
        &self,
        _: &Integration,
        _: &secrecy::SecretString,
        _: &ResponseAction,
    ) -> Result<casb_shared::connector::ActionOutcome, casb_shared::connector::ConnectorError> {
        Ok(casb_shared::connector::ActionOutcome::done("done"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_casb_serve_one_slow_tenants_poll_job_does_not_hold_up_another() {
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(GatedConnector {
        slow_entered: tokio::sync::Notify::new(),
        release_slow: tokio::sync::Semaphore::new(0),
    });
    let registered = connector.clone();
    let instance = casb_shared::local::LocalInstance::start(
        serve_options(dir.path()),
        Settings::default(),
        move |_| {
            let mut registry = ConnectorRegistry::new();
            registry.register(registered);
            registry
        },
    )
    .await
    .unwrap();
    let core = instance.core.clone();
    let slow = integration("tenant-slow", "int-slow");
    let fast = integration("tenant-fast", "int-fast");
    for i in [&slow, &fast] {
        connect(&core, i).await;
    }
    let enqueue = |i: &Integration| {
        let envelope = Envelope::wrap(
            PollJob {
                tenant_id: i.tenant_id.clone(),
                integration_id: i.id.clone(),
                work: PollWork::Scheduled {
                    stream: "events".into(),
                },
            },
            chrono::Utc::now(),
        );
        let queue = core.backend.poll_queue.clone();
        async move {
            queue
                .send_batch(vec![OutgoingMessage::new(
                    envelope.id.clone(),
                    envelope.to_json(),
                )])
                .await
                .unwrap()
        }
    };
    enqueue(&slow).await;
    connector.slow_entered.notified().await;
    // The slow tenant's job is now stuck at its provider. Another tenant's job still runs.
    enqueue(&fast).await;
    let stored = |tenant: &'static str| {
        let core = core.clone();
        move || {
            let core = core.clone();
            async move {
                let found = core
                    .backend
                    .activities
                    .query_activities(&casb_shared::ports::ActivityQuery {
                        tenant_id: tenant.into(),
                        limit: 10,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                (!found.is_empty()).then_some(found.len())
            }
        }
    };
    assert_eq!(
        wait_for(stored("tenant-fast")).await,
        Some(1),
        "the fast tenant's activity was stored while the slow one was still polling"
    );
    assert_eq!(stored("tenant-slow")().await, None);
    connector.release_slow.add_permits(1);
    assert_eq!(wait_for(stored("tenant-slow")).await, Some(1));
    instance.shutdown().await;
}

async fn an_action_whose_worker_crashed_holding_its_lease_is_taken_over(f: Fixture) {
    let connector = Arc::new(RecordingConnector::default());
    let mut core = core_with(&f, connector.clone());
    Arc::get_mut(&mut core.settings).unwrap().action_lease = Duration::from_secs(1);
    let box_tenant = integration("tenant-a", "int-1");
    connect(&core, &box_tenant).await;
    core.backend
        .activity_queue
        .send_batch(vec![activity_message(&public_share(&box_tenant, "e-1"))])
        .await
        .unwrap();
    drain_activities(&core).await;
    let incident = incidents_of(&core, "tenant-a")
        .await
        .into_iter()
        .find(|i| i.policy_id == "builtin.public-file-link")
        .unwrap();
    // A worker took the link removal's lease and died (SIGKILL): nobody will release it.
    let action_id = ResponseAction::id_for(&incident.id, ActionKind::RemoveSharedLink, None);
    let now = chrono::Utc::now();
    assert!(core
        .backend
        .dedup
        .acquire_lease(
            &format!("action-lease#tenant-a#{action_id}"),
            "crashed-worker",
            now + chrono::Duration::from_std(core.settings.action_lease).unwrap(),
            now,
        )
        .await
        .unwrap());

    // The redeliveries (2 s apart, 5 at most) take over once the dead holder's lease lapses.
    let quick = WorkerOptions {
        batch_size: 10,
        visibility_timeout: Duration::from_secs(2),
        wait: Duration::from_millis(200),
    };
    for _ in 0..60 {
        run_once(&core.backend.action_queue, &quick, |body| {
            let core = core.clone();
            async move { remediator::handle_message(&core, &body).await.map(|_| ()) }
        })
        .await
        .unwrap();
        if core.backend.action_queue.approximate_depth().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let incident = core
        .backend
        .incidents
        .get_incident("tenant-a", &incident.id)
        .await
        .unwrap()
        .unwrap();
    let removal = incident.action(&action_id).unwrap();
    assert_eq!(
        removal.status,
        ActionStatus::Succeeded,
        "{}: {incident:?}",
        f.name
    );
    assert_eq!(
        connector
            .executed
            .lock()
            .unwrap()
            .iter()
            .filter(|(kind, _)| *kind == ActionKind::RemoveSharedLink)
            .count(),
        1,
        "{}: done once",
        f.name
    );
}

const MONITOR_PUBLIC_LINKS: &str = r#"
policies:
  - id: watch-public-links
    name: Public links, watched before enforcing
    severity: medium
    mode: monitor
    when:
      link: [public]
    actions: [remove_shared_link, { notify: security-team }]
"#;

async fn a_tenants_applied_policy_set_drives_its_incidents_and_monitor_mode_acts_on_nothing(
    f: Fixture,
) {
    let connector = Arc::new(RecordingConnector::default());
    let core = core_with(&f, connector.clone());
    let (a, b) = (
        integration("tenant-a", "int-1"),
        integration("tenant-b", "int-2"),
    );
    connect(&core, &a).await;
    connect(&core, &b).await;
    let applied = casb_shared::policy::apply(&core, "tenant-a", MONITOR_PUBLIC_LINKS, "p.yaml")
        .await
        .unwrap();
    assert_eq!(applied.version, 1, "{}", f.name);

    core.backend
        .activity_queue
        .send_batch(vec![
            activity_message(&public_share(&a, "e-1")),
            activity_message(&public_share(&b, "e-1")),
        ])
        .await
        .unwrap();
    assert_eq!(drain_activities(&core).await, 2, "{}", f.name);

    // Tenant a runs its own set, version 1, in monitor mode: recorded, nothing carried out.
    let mine = incidents_of(&core, "tenant-a").await;
    assert_eq!(mine.len(), 1, "{}: {mine:?}", f.name);
    assert_eq!(
        (
            mine[0].policy_id.as_str(),
            mine[0].policy_version,
            mine[0].monitor_only
        ),
        ("watch-public-links", 1, true),
        "{}",
        f.name
    );
    assert!(mine[0]
        .actions
        .iter()
        .all(|a| a.status == ActionStatus::Skipped));
    assert_eq!(mine[0].actions.len(), 2);
    // Tenant b has applied nothing: the default set, version 0, enforced.
    let theirs = incidents_of(&core, "tenant-b").await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(
        (theirs[0].policy_id.as_str(), theirs[0].policy_version),
        ("builtin.public-file-link", 0)
    );
    // Only tenant b's actions ran.
    assert_eq!(drain_actions(&core).await, 2, "{}", f.name);
    assert_eq!(connector.executed.lock().unwrap().len(), 1, "{}", f.name);

    // A broken set is refused and changes nothing.
    let refused = casb_shared::policy::apply(&core, "tenant-a", "policies: [{id: x}]", "bad.yaml")
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("bad.yaml"), "{refused}");
    assert_eq!(
        core.backend
            .policies
            .latest_policy_set("tenant-a")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

async fn a_file_that_cannot_be_inspected_is_recorded_so_and_an_exposed_one_is_an_incident(
    f: Fixture,
) {
    let connector = Arc::new(RecordingConnector::default());
    *connector.content.lock().unwrap() = Some(vec![b'x'; 2 << 20]);
    let mut registry = ConnectorRegistry::new();
    registry.register(connector.clone());
    let settings = Settings {
        max_download_bytes: 1 << 20,
        ..Settings::default()
    };
    let core = Core::new(f.backend.clone(), settings, registry).unwrap();
    let box_tenant = integration("tenant-a", "int-1");
    connect(&core, &box_tenant).await;

    // Uploaded, not shared: classified as uninspected, no incident.
    let mut upload = public_share(&box_tenant, "e-1");
    upload.event_name = "UPLOAD".into();
    upload.event_type = EventType::DataCreation;
    upload.link_visibility = None;
    upload.shared_link = None;
    upload.enrichments.exposure = Some(Exposure {
        content_sha1: Some("ABC123".into()),
        ..Exposure::default()
    });
    let report = inspector::inspect(&core, &upload).await.unwrap();
    assert!(
        !report.content_scanned && report.incidents_created == 0,
        "{}: {report:?}",
        f.name
    );
    let stored = core
        .backend
        .classifications
        .get_classification("tenant-a", "sha1:abc123")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{}: uninspected is recorded", f.name));
    assert!(
        matches!(&stored.coverage, Coverage::Uninspected(reason) if reason.contains("download limit")),
        "{}: {stored:?}",
        f.name
    );

    // Shared with a partner: the stored result is used (no second download) and the exposed,
    // uninspectable file is an incident of its own.
    let mut share = upload.clone();
    share.event_id = "e-2".into();
    share.event_name = "COLLABORATION_INVITE".into();
    share.event_type = EventType::DataSharing;
    share.target_user_email = Some("pat@partner.example".into());
    share.target_user_type = Some(UserType::External);
    share.enrichments.exposure = Some(Exposure {
        external_collaborators: vec!["pat@partner.example".into()],
        content_sha1: Some("abc123".into()),
        ..Exposure::default()
    });
    let report = inspector::inspect(&core, &share).await.unwrap();
    assert!(report.classification_reused, "{}: {report:?}", f.name);
    assert_eq!(connector.downloads.lock().unwrap().len(), 1, "{}", f.name);
    let incidents = incidents_of(&core, "tenant-a").await;
    let mut policies: Vec<&str> = incidents.iter().map(|i| i.policy_id.as_str()).collect();
    policies.sort();
    assert_eq!(
        policies,
        [
            "builtin.exposed-file-uninspected",
            "builtin.external-collaborator"
        ],
        "{}",
        f.name
    );
}
