//! The poller: the schedule fans out one poll job per due stream onto the poll-jobs queue, and
//! each job works one stream (or reads one webhook notice) under its own lease and time budget.
//!
//! The discipline (after matano's log puller): take the stream's lease so two pollers never
//! work one stream at once; read the checkpoint; fetch a page; queue what was not queued
//! before; only then write the checkpoint, conditioned on the version read. A crash between
//! queueing and writing re-reads the page next time, and dedup plus the idempotent inspector
//! absorb it. A job that runs out of budget with more waiting enqueues its own continuation;
//! one slow or broken tenant only ever occupies its own jobs.

use std::collections::HashMap;

use chrono::{Duration, Utc};

use super::PipelineError;
use crate::connector::{Connector, ConnectorError, NoticeOutcome, PollRequest, StreamSpec};
use crate::core::Core;
use crate::domain::{
    Activity, Envelope, Integration, IntegrationStatus, PollJob, PollWork, StreamHealth,
};
use crate::lease::HeldLease;
use crate::ports::OutgoingMessage;

/// What one poll job did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollStats {
    pub pages: usize,
    pub fetched: usize,
    pub queued: usize,
    pub duplicates: usize,
    /// Queued without full enrichment (see `Activity::incomplete`).
    pub incomplete: usize,
    /// Set when the job stopped early: rate limited, lease held elsewhere, integration paused.
    pub stopped: Option<String>,
    /// Whether the job enqueued a continuation (more was waiting when its budget ran out).
    pub continued: bool,
}

impl PollStats {
    fn add(&mut self, other: PollStats) {
        self.pages += other.pages;
        self.fetched += other.fetched;
        self.queued += other.queued;
        self.duplicates += other.duplicates;
        self.incomplete += other.incomplete;
        self.continued |= other.continued;
        if other.stopped.is_some() {
            self.stopped = other.stopped;
        }
    }
}

/// What one run of the schedule did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScheduleSummary {
    pub integrations: usize,
    pub jobs_queued: usize,
    /// Streams skipped because they were scheduled less than an interval ago.
    pub not_due: usize,
}

/// How long a stream's lease outlives a poll job that stopped renewing it.
const STREAM_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// Integrations read per store page while scheduling.
const SCHEDULE_PAGE: usize = 100;

/// The schedule: enqueue one job per due stream of every pollable integration. It never calls
/// a provider, so it takes milliseconds whatever the tenants do.
pub async fn schedule_due(core: &Core) -> Result<ScheduleSummary, PipelineError> {
    let backend = &core.backend;
    let mut summary = ScheduleSummary::default();
    let mut after: Option<String> = None;
    let interval = Duration::from_std(core.settings.poll_interval).unwrap_or(Duration::minutes(1));
    // A stream scheduled by the previous tick is due again a little before a full interval,
    // so ticks that arrive a few seconds early do not skip a round.
    let due_again = interval - (interval / 10).min(Duration::seconds(10));
    loop {
        let page = backend
            .integrations
            .list_integrations_page(after.as_deref(), SCHEDULE_PAGE)
            .await?;
        let mut jobs = Vec::new();
        for integration in page.integrations.iter().filter(|i| i.is_pollable()) {
            summary.integrations += 1;
            let Some(connector) = core.connectors.get(integration.provider) else {
                tracing::warn!(integration = %integration.id, provider = %integration.provider,
                    "no connector for this provider in this deployment; not polled");
                continue;
            };
            for stream in connector.streams(integration) {
                let now = backend.clock.now();
                let key = format!("poll-due#{}", integration.stream_key(&stream.id));
                if !backend
                    .dedup
                    .insert_if_absent(&key, now + due_again, now)
                    .await?
                {
                    summary.not_due += 1;
                    continue;
                }
                jobs.push(job_message(
                    PollJob {
                        tenant_id: integration.tenant_id.clone(),
                        integration_id: integration.id.clone(),
                        work: PollWork::Scheduled { stream: stream.id },
                    },
                    now,
                ));
            }
        }
        summary.jobs_queued += jobs.len();
        backend.poll_queue.send_batch(jobs).await?;
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(summary),
        }
    }
}

fn job_message(job: PollJob, now: chrono::DateTime<Utc>) -> OutgoingMessage {
    OutgoingMessage::enveloped(job, now)
}

/// Handles one message from the poll-jobs queue. An error fails the message: it is retried
/// after the visibility timeout and, failing every time, dead-lettered (with an alarm).
pub async fn handle_message(core: &Core, body: &str) -> Result<PollStats, PipelineError> {
    let envelope = Envelope::<PollJob>::parse(body)?;
    run_job(core, &envelope.payload).await
}

pub async fn run_job(core: &Core, job: &PollJob) -> Result<PollStats, PipelineError> {
    let deadline = tokio::time::Instant::now() + core.settings.poll_job_budget;
    let mut stats = PollStats::default();
    let Some(integration) = core
        .backend
        .integrations
        .get_integration(&job.tenant_id, &job.integration_id)
        .await?
    else {
        stats.stopped = Some("the integration no longer exists".into());
        return Ok(stats);
    };
    if integration.status != IntegrationStatus::Connected {
        stats.stopped = Some(format!(
            "the integration is {:?}; nothing is polled until it is connected",
            integration.status
        ));
        return Ok(stats);
    }
    let Some(connector) = core.connectors.get(integration.provider).cloned() else {
        stats.stopped = Some(format!(
            "no {} connector in this deployment",
            integration.provider
        ));
        return Ok(stats);
    };
    let connector = connector.as_ref();
    match &job.work {
        PollWork::Scheduled { stream } | PollWork::Continuation { stream } => {
            let Some(spec) = connector
                .streams(&integration)
                .into_iter()
                .find(|s| s.id == *stream)
            else {
                stats.stopped = Some(format!("the integration has no stream '{stream}' any more"));
                return Ok(stats);
            };
            poll_stream(core, connector, &integration, &spec, deadline).await
        }
        PollWork::Notice { headers, body, .. } => {
            read_notice(core, connector, &integration, headers, body, deadline).await
        }
    }
}

/// Turns a webhook notice into activities (or runs the streams it names), off the request path.
async fn read_notice(
    core: &Core,
    connector: &dyn Connector,
    integration: &Integration,
    headers: &std::collections::BTreeMap<String, String>,
    body: &str,
    deadline: tokio::time::Instant,
) -> Result<PollStats, PipelineError> {
    let headers: HashMap<String, String> = headers.clone().into_iter().collect();
    let headers = &headers;
    let outcome = core
        .tokens
        .with_token(connector, integration, |token| async move {
            connector
                .process_notice(integration, &token, headers, body.as_bytes(), deadline)
                .await
        })
        .await;
    let mut stats = PollStats::default();
    match outcome {
        Ok(NoticeOutcome::Activities(activities)) => {
            stats.fetched = activities.len();
            let queued = queue_activities(core, connector, activities).await?;
            stats.queued = queued.queued;
            stats.duplicates = queued.duplicates;
            stats.incomplete = queued.incomplete;
        }
        Ok(NoticeOutcome::RunStreams(streams)) => {
            let specs = connector.streams(integration);
            for stream in streams {
                let Some(spec) = specs.iter().find(|s| s.id == stream) else {
                    tracing::warn!(integration = %integration.id, %stream, "notice names an unknown stream");
                    continue;
                };
                stats.add(poll_stream(core, connector, integration, spec, deadline).await?);
            }
        }
        Err(ConnectorError::NeedsReauth(reason)) => {
            core.tokens.mark_needs_reauth(integration, &reason).await?;
            stats.stopped = Some(format!("needs re-authorization: {reason}"));
        }
        Err(error) => return Err(error.into()),
    }
    Ok(stats)
}

/// How long a stream the credential may not read rests before it is tried again.
const FORBIDDEN_REST: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The longest wait the provider asks for between pages that a job sits out itself; longer
/// ones end the job and a delayed continuation picks up.
const MAX_INLINE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Polls one stream until it is drained, the budget ends or the page cap is hit, then hands
/// over to a continuation job if more is waiting.
pub async fn poll_stream(
    core: &Core,
    connector: &dyn Connector,
    integration: &Integration,
    spec: &StreamSpec,
    deadline: tokio::time::Instant,
) -> Result<PollStats, PipelineError> {
    let backend = &core.backend;
    let mut stats = PollStats::default();
    let stream_key = integration.stream_key(&spec.id);
    let now = backend.clock.now();
    if backend
        .dedup
        .contains(&backoff_key(&stream_key), now)
        .await?
    {
        stats.stopped = Some("backing off after the provider's rate limit".into());
        return Ok(stats);
    }
    // Short and renewed while the job runs: a job killed mid-stream (a crash, a Lambda
    // timeout) frees its stream within one lease length, not after its whole budget.
    let lease = format!("poll-lease#{stream_key}");
    let Some(held) = HeldLease::acquire(backend.dedup.clone(), &lease, STREAM_LEASE).await? else {
        stats.stopped = Some("another poll job holds this stream's lease".into());
        return Ok(stats);
    };
    let result = poll_pages(core, connector, integration, spec, deadline, &mut stats).await;
    held.release().await;
    match &result {
        Ok(()) => tracing::info!(stream = %stream_key, ?stats, "poll job finished"),
        Err(error) => {
            tracing::warn!(stream = %stream_key, %error, "poll job failed; it will be retried")
        }
    }
    result.map(|()| stats)
}

async fn poll_pages(
    core: &Core,
    connector: &dyn Connector,
    integration: &Integration,
    spec: &StreamSpec,
    deadline: tokio::time::Instant,
    stats: &mut PollStats,
) -> Result<(), PipelineError> {
    let backend = &core.backend;
    let stream_key = integration.stream_key(&spec.id);
    let max_pages = core.settings.poll_max_pages.max(1);
    loop {
        let mut checkpoint = backend.checkpoints.get_checkpoint(&stream_key).await?;
        let mut redeliver = false;
        if spec.provider_cursor {
            // The provider moves its cursor when it hands out a page: say a page is in flight
            // before asking, so a crash before the page is queued asks for it again.
            let in_flight = checkpoint.as_ref().is_some_and(|c| c.health.page_in_flight);
            redeliver = in_flight;
            if !in_flight {
                let mut health = checkpoint
                    .as_ref()
                    .map(|c| c.health.clone())
                    .unwrap_or_default();
                health.page_in_flight = true;
                let cursor = checkpoint
                    .as_ref()
                    .map(|c| c.cursor.clone())
                    .unwrap_or_default();
                checkpoint = Some(
                    backend
                        .checkpoints
                        .put_checkpoint(
                            &stream_key,
                            &cursor,
                            &health,
                            checkpoint.as_ref().map(|c| c.version),
                            backend.clock.now(),
                        )
                        .await?,
                );
            }
        }
        let cursor = checkpoint
            .as_ref()
            .map(|c| c.cursor.as_str())
            .filter(|c| !c.is_empty());
        let request = PollRequest {
            stream: &spec.id,
            cursor,
            redeliver,
            deadline,
        };
        let request = &request;
        let polled = core
            .tokens
            .with_token(connector, integration, |token| async move {
                connector.poll(integration, &token, request).await
            })
            .await;
        let page = match polled {
            Ok(page) => page,
            Err(ConnectorError::RateLimited { retry_after }) => {
                rest_stream(core, &stream_key, retry_after, Duration::seconds(60)).await?;
                record_failure(
                    core,
                    &stream_key,
                    &format!("rate limited for {retry_after:?}"),
                )
                .await;
                enqueue_continuation(core, integration, spec, Some(retry_after)).await?;
                stats.continued = true;
                stats.stopped = Some(format!("rate limited; continuing after {retry_after:?}"));
                return Ok(());
            }
            Err(ConnectorError::NeedsReauth(reason)) => {
                record_failure(core, &stream_key, &reason).await;
                core.tokens.mark_needs_reauth(integration, &reason).await?;
                stats.stopped = Some(format!("needs re-authorization: {reason}"));
                return Ok(());
            }
            Err(ConnectorError::Forbidden(reason)) => {
                // The credential lacks this stream's permission: asking again every minute
                // would not grant it. Reported on the stream's health, rested, retried later.
                rest_stream(core, &stream_key, FORBIDDEN_REST, Duration::minutes(15)).await?;
                let reason = format!("permission denied: {reason}");
                record_failure(core, &stream_key, &reason).await;
                stats.stopped = Some(reason);
                return Ok(());
            }
            Err(error) => {
                record_failure(core, &stream_key, &error.to_string()).await;
                return Err(error.into());
            }
        };
        stats.pages += 1;
        stats.fetched += page.activities.len();
        let newest = page.activities.iter().map(|a| a.event_timestamp).max();
        let queued = queue_activities(core, connector, page.activities).await?;
        stats.queued += queued.queued;
        stats.duplicates += queued.duplicates;
        stats.incomplete += queued.incomplete;

        // Only now, with the page queued, move the checkpoint.
        let now = backend.clock.now();
        let unchanged = checkpoint
            .as_ref()
            .is_some_and(|c| c.cursor == page.next_cursor && !c.health.page_in_flight);
        if !unchanged {
            let mut health = checkpoint
                .as_ref()
                .map(|c| c.health.clone())
                .unwrap_or_default();
            health.page_in_flight = false;
            health.last_success_at = Some(now);
            health.last_error = None;
            health.consecutive_failures = 0;
            health.events_queued += queued.queued as u64;
            health.events_incomplete += queued.incomplete as u64;
            if let Some(newest) = newest {
                health.lag_seconds = Some((now - newest).num_seconds().max(0));
            } else if !page.has_more {
                health.lag_seconds = Some(0);
            }
            backend
                .checkpoints
                .put_checkpoint(
                    &stream_key,
                    &page.next_cursor,
                    &health,
                    checkpoint.as_ref().map(|c| c.version),
                    now,
                )
                .await?;
        }
        if let Some(wait) = page.wait_before_next.filter(|w| !w.is_zero()) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if page.has_more && wait <= MAX_INLINE_WAIT && wait < left {
                tokio::time::sleep(wait).await;
            } else {
                // Not before the provider said: scheduled polls skip the stream until then.
                rest_stream(core, &stream_key, wait, Duration::seconds(30)).await?;
                if page.has_more {
                    enqueue_continuation(core, integration, spec, Some(wait)).await?;
                    stats.continued = true;
                }
                return Ok(());
            }
        }
        if !page.has_more || unchanged {
            return Ok(());
        }
        if stats.pages >= max_pages || tokio::time::Instant::now() >= deadline {
            enqueue_continuation(core, integration, spec, None).await?;
            stats.continued = true;
            return Ok(());
        }
    }
}

/// The dedup key whose presence rests a stream: scheduled polls skip it until it expires.
fn backoff_key(stream_key: &str) -> String {
    format!("poll-backoff#{stream_key}")
}

/// Rests a stream for `wait` (`fallback` when `wait` is too long to be a date).
async fn rest_stream(
    core: &Core,
    stream_key: &str,
    wait: std::time::Duration,
    fallback: Duration,
) -> Result<(), PipelineError> {
    let now = core.backend.clock.now();
    let until = now + Duration::from_std(wait).unwrap_or(fallback);
    core.backend
        .dedup
        .insert_if_absent(&backoff_key(stream_key), until, now)
        .await?;
    Ok(())
}

async fn enqueue_continuation(
    core: &Core,
    integration: &Integration,
    spec: &StreamSpec,
    delay: Option<std::time::Duration>,
) -> Result<(), PipelineError> {
    let mut message = job_message(
        PollJob {
            tenant_id: integration.tenant_id.clone(),
            integration_id: integration.id.clone(),
            work: PollWork::Continuation {
                stream: spec.id.clone(),
            },
        },
        core.backend.clock.now(),
    );
    if let Some(delay) = delay {
        message = message.delayed(delay);
    }
    core.backend.poll_queue.send_batch(vec![message]).await?;
    Ok(())
}

/// Notes a failed poll on the stream's health; best effort (the cursor is left alone).
async fn record_failure(core: &Core, stream_key: &str, reason: &str) {
    let checkpoints = &core.backend.checkpoints;
    let Ok(Some(checkpoint)) = checkpoints.get_checkpoint(stream_key).await else {
        return;
    };
    let now = core.backend.clock.now();
    let mut health: StreamHealth = checkpoint.health.clone();
    health.last_error = Some(reason.to_string());
    health.last_error_at = Some(now);
    health.consecutive_failures += 1;
    if let Err(error) = checkpoints
        .put_checkpoint(
            stream_key,
            &checkpoint.cursor,
            &health,
            Some(checkpoint.version),
            now,
        )
        .await
    {
        tracing::debug!(stream = %stream_key, %error, "stream health not recorded");
    }
}

/// What queueing a batch of activities did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    pub queued: usize,
    pub duplicates: usize,
    pub incomplete: usize,
}

/// Gives each activity its connector's action identity, queues those not queued before by the
/// same path, and then remembers them. Shared by polls and webhook notices.
pub async fn queue_activities(
    core: &Core,
    connector: &dyn Connector,
    activities: Vec<Activity>,
) -> Result<Queued, PipelineError> {
    let backend = &core.backend;
    let now = backend.clock.now();
    // Each key hashes the activity's id: computed once per activity, not once per pair.
    let mut fresh: Vec<(Activity, String)> = Vec::new();
    let mut keys_in_page = std::collections::HashSet::new();
    let mut result = Queued::default();
    for mut activity in activities {
        activity.identity = connector.action_identity(&activity);
        let key = activity.dedup_key();
        // A page may repeat an event too (Box's streaming feed does).
        if keys_in_page.contains(&key) || backend.dedup.contains(&key, now).await? {
            result.duplicates += 1;
        } else {
            keys_in_page.insert(key.clone());
            fresh.push((activity, key));
        }
    }
    result.incomplete = fresh.iter().filter(|(a, _)| a.incomplete.is_some()).count();
    let messages = fresh
        .iter()
        .map(|(activity, _)| OutgoingMessage::enveloped(activity.clone(), now))
        .collect();
    backend.activity_queue.send_batch(messages).await?;
    // Only now, with the activities safely queued, remember them. A crash before this line
    // queues them again next time, which the idempotent inspector absorbs.
    let expires = now + Duration::from_std(core.settings.dedup_ttl).unwrap_or(Duration::days(14));
    for (_, key) in &fresh {
        backend.dedup.insert_if_absent(key, expires, now).await?;
    }
    result.queued = fresh.len();
    Ok(result)
}

/// Seeds the checkpoint of every stream that has none yet (a reconnect keeps the ones it has,
/// so the events of the outage are ingested). Returns warnings for streams it could not seed.
pub async fn seed_checkpoints(
    core: &Core,
    connector: &dyn Connector,
    integration: &Integration,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for spec in connector.streams(integration) {
        let key = integration.stream_key(&spec.id);
        match core.backend.checkpoints.get_checkpoint(&key).await {
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(error) => {
                warnings.push(format!("stream {}: {error}", spec.id));
                continue;
            }
        }
        let stream = spec.id.as_str();
        let cursor = core
            .tokens
            .with_token(connector, integration, |token| async move {
                connector.initial_cursor(integration, &token, stream).await
            })
            .await;
        match cursor {
            Ok(Some(cursor)) => {
                if let Err(error) = core
                    .backend
                    .checkpoints
                    .put_checkpoint(&key, &cursor, &StreamHealth::default(), None, Utc::now())
                    .await
                {
                    if !error.is_conflict() {
                        warnings.push(format!(
                            "stream {}: could not seed the checkpoint: {error}",
                            spec.id
                        ));
                    }
                }
            }
            Ok(None) => {}
            Err(error) => warnings.push(format!(
                "stream {}: could not read the starting position: {error}",
                spec.id
            )),
        }
    }
    warnings
}
