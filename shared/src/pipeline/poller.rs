//! The poller: for each pollable integration, pull pages of events from the checkpoint on,
//! queue them for the inspector, and only then advance the checkpoint.
//!
//! The discipline (after matano's log puller): take a lease so two pollers never work one
//! integration at once; read the checkpoint; fetch a page; drop events already ingested; queue
//! the rest; write the checkpoint conditioned on the version read. A crash between queueing and
//! writing re-reads the page next time, and dedup plus the idempotent inspector absorb it.

use chrono::Duration;

use super::PipelineError;
use crate::connector::ConnectorError;
use crate::core::Core;
use crate::domain::{Activity, Envelope, Integration, IntegrationStatus};
use crate::ports::OutgoingMessage;

/// What one poll of one integration did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollStats {
    pub pages: usize,
    pub fetched: usize,
    pub queued: usize,
    pub duplicates: usize,
    /// Set when the run stopped early: rate limited, lease held elsewhere, backing off.
    pub stopped: Option<String>,
}

/// Polls every pollable integration once; an error in one never stops the others.
pub async fn poll_all(
    core: &Core,
) -> Result<Vec<(String, Result<PollStats, PipelineError>)>, PipelineError> {
    let integrations = core.backend.integrations.list_all_integrations().await?;
    let mut results = Vec::new();
    for integration in integrations.into_iter().filter(Integration::is_pollable) {
        let result = poll_integration(core, &integration).await;
        match &result {
            Ok(stats) => tracing::info!(integration = %integration.id, ?stats, "poll finished"),
            Err(error) => tracing::error!(integration = %integration.id, %error, "poll failed"),
        }
        results.push((integration.id.clone(), result));
    }
    Ok(results)
}

fn lease_key(integration: &Integration) -> String {
    format!("poll-lease#{}", integration.id)
}

fn backoff_key(integration: &Integration) -> String {
    format!("poll-backoff#{}", integration.id)
}

/// The checkpoint stream of an integration's event feed.
pub fn checkpoint_stream(integration: &Integration) -> String {
    format!("{}#events", integration.id)
}

pub async fn poll_integration(
    core: &Core,
    integration: &Integration,
) -> Result<PollStats, PipelineError> {
    let backend = &core.backend;
    let now = backend.clock.now();
    let mut stats = PollStats::default();
    let Some(connector) = core.connectors.get(integration.provider) else {
        stats.stopped = Some(format!(
            "no {} connector in this deployment",
            integration.provider
        ));
        return Ok(stats);
    };
    if backend
        .dedup
        .contains(&backoff_key(integration), now)
        .await?
    {
        stats.stopped = Some("backing off after the provider's rate limit".into());
        return Ok(stats);
    }
    let lease = lease_key(integration);
    let lease_expiry =
        now + Duration::from_std(core.settings.poll_lease).unwrap_or(Duration::minutes(5));
    if !backend
        .dedup
        .insert_if_absent(&lease, lease_expiry, now)
        .await?
    {
        stats.stopped = Some("another poller holds this integration's lease".into());
        return Ok(stats);
    }
    let result = poll_pages(core, integration, connector.as_ref(), &mut stats).await;
    // Release the lease whatever happened; if this fails the lease simply expires.
    if let Err(error) = backend.dedup.remove(&lease).await {
        tracing::warn!(integration = %integration.id, %error, "could not release poll lease; it will expire");
    }
    result.map(|()| stats)
}

async fn poll_pages(
    core: &Core,
    integration: &Integration,
    connector: &dyn crate::connector::Connector,
    stats: &mut PollStats,
) -> Result<(), PipelineError> {
    let backend = &core.backend;
    let stream = checkpoint_stream(integration);
    for _ in 0..core.settings.poll_max_pages.max(1) {
        let checkpoint = backend.checkpoints.get_checkpoint(&stream).await?;
        let cursor = checkpoint.as_ref().map(|c| c.cursor.as_str());
        let polled = core
            .tokens
            .with_token(connector, integration, |token| async move {
                connector.poll(integration, &token, cursor).await
            })
            .await;
        let page = match polled {
            Ok(page) => page,
            Err(ConnectorError::RateLimited { retry_after }) => {
                let now = backend.clock.now();
                let until = now + Duration::from_std(retry_after).unwrap_or(Duration::seconds(60));
                backend
                    .dedup
                    .insert_if_absent(&backoff_key(integration), until, now)
                    .await?;
                stats.stopped = Some(format!("rate limited; resuming after {retry_after:?}"));
                return Ok(());
            }
            Err(ConnectorError::NeedsReauth(reason)) => {
                mark_needs_reauth(core, integration, &reason).await?;
                return Err(ConnectorError::NeedsReauth(reason).into());
            }
            Err(error) => return Err(error.into()),
        };
        stats.pages += 1;
        stats.fetched += page.activities.len();
        let fresh = queue_unseen(core, page.activities).await?;
        stats.queued += fresh.0;
        stats.duplicates += fresh.1;

        let unchanged = checkpoint
            .as_ref()
            .is_some_and(|c| c.cursor == page.next_cursor);
        if !unchanged {
            let version = checkpoint.as_ref().map(|c| c.version);
            backend
                .checkpoints
                .put_checkpoint(&stream, &page.next_cursor, version, backend.clock.now())
                .await?;
        }
        if !page.has_more || unchanged {
            break;
        }
    }
    Ok(())
}

/// Queues the activities not ingested before (by either path) and then remembers them.
/// Returns (queued, duplicates). Shared by the poller and webhook intake.
pub async fn queue_unseen(
    core: &Core,
    activities: Vec<Activity>,
) -> Result<(usize, usize), PipelineError> {
    let backend = &core.backend;
    let now = backend.clock.now();
    let mut fresh = Vec::new();
    let mut duplicates = 0;
    for activity in activities {
        let seen = backend.dedup.contains(&activity.dedup_key(), now).await?;
        // A page may repeat an event too (Box's streaming feed does).
        if seen || fresh.iter().any(|a: &Activity| a.id() == activity.id()) {
            duplicates += 1;
        } else {
            fresh.push(activity);
        }
    }
    let messages = fresh
        .iter()
        .map(|activity| {
            let envelope = Envelope::wrap(activity.clone(), now);
            OutgoingMessage {
                id: envelope.id.clone(),
                body: envelope.to_json(),
            }
        })
        .collect();
    backend.activity_queue.send_batch(messages).await?;
    // Only now, with the activities safely queued, remember them. A crash before this line
    // queues them again next time, which the idempotent inspector absorbs.
    let expires = now + Duration::from_std(core.settings.dedup_ttl).unwrap_or(Duration::days(14));
    for activity in &fresh {
        backend
            .dedup
            .insert_if_absent(&activity.dedup_key(), expires, now)
            .await?;
    }
    Ok((fresh.len(), duplicates))
}

async fn mark_needs_reauth(
    core: &Core,
    integration: &Integration,
    reason: &str,
) -> Result<(), PipelineError> {
    let store = &core.backend.integrations;
    if let Some(mut current) = store
        .get_integration(&integration.tenant_id, &integration.id)
        .await?
    {
        current.status = IntegrationStatus::NeedsReauth;
        current.updated_at = core.backend.clock.now();
        store.put_integration(&current).await?;
    }
    tracing::error!(integration = %integration.id, %reason,
        "integration needs re-authorization: an admin must reconnect it; polling stopped");
    Ok(())
}
