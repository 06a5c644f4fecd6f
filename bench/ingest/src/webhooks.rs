//! Parts 1 and 2: a burst of signed Box webhook deliveries at a fixed concurrency against a
//! running `casb serve` (in this process), the acknowledgement latency of each, and how fast
//! their activities reach the store.
//!
//! Every delivery is one a real Box would send for a real upload: a `FILE.UPLOADED` body naming
//! the integration's registered webhook, a file that exists at the simulator (one file per
//! delivery, so each is a different user action) and the uploader, with a unique body `id`,
//! signed with the app's primary and secondary keys over body ‖ a fresh
//! `BOX-DELIVERY-TIMESTAMP`, exactly as the simulator signs its own deliveries.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use box_simulator::sign_webhook_body;
use casb_shared::domain::IngestPath;
use serde::Serialize;
use serde_json::json;

use crate::stats::Latency;
use crate::world::{self, TENANT};

pub const ACK_TARGET_P99_MS: f64 = 50.0;

#[derive(Debug, Clone)]
pub struct Options {
    pub deliveries: usize,
    pub concurrency: usize,
    /// How long to wait for the activities after the burst.
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub deliveries: usize,
    pub concurrency: usize,
    /// Uploading the files and connecting (not measured).
    pub setup_seconds: f64,
    pub burst_seconds: f64,
    pub acks_per_second: f64,
    /// Answered 200 `{"status":"queued"}`.
    pub queued: usize,
    /// Other answers by status (and body status), e.g. `200 duplicate`, `401`, `503`.
    pub other_answers: BTreeMap<String, usize>,
    pub transport_errors: usize,
    pub first_error: Option<String>,
    pub ack: Latency,
    pub ack_target_p99_ms: f64,
    pub ack_target_met: bool,
    /// Activities in the store when the wait ended, and how many were expected.
    pub activities_stored: u64,
    pub activities_expected: usize,
    /// From the first delivery sent until the last activity was stored.
    pub webhook_to_stored_seconds: f64,
    pub activities_per_second: f64,
    /// From the end of the burst until the last activity was stored.
    pub drain_after_burst_seconds: f64,
    /// Stored activities that came through the push path, and those queued without full
    /// enrichment (`incomplete`).
    pub push_path_activities: usize,
    pub incomplete_activities: usize,
    /// Delivered files with no activity, or with more than one.
    pub lost: usize,
    pub doubled: usize,
    pub complete: bool,
}

pub async fn run(work_dir: &Path, options: &Options) -> anyhow::Result<Outcome> {
    let setup = Instant::now();
    let sim = world::start_simulator().await?;
    // The stream is not polled during the measurement: only the push path is at work.
    let world = world::start_casb(
        &sim,
        &work_dir.join("webhooks"),
        Duration::from_secs(24 * 3600),
    )
    .await?;
    let users = world::managed_users(&sim);
    let admin = sim.admin_user_id();
    let folder = sim
        .create_folder(&admin, "0", "Uploads")
        .map_err(world::simulator_error)?;
    // One file per delivery, uploaded before the webhook exists: the simulator sends nothing
    // for them and the event-stream checkpoint is seeded after them.
    let mut files = Vec::with_capacity(options.deliveries);
    for i in 0..options.deliveries {
        let owner = &users[i % users.len()];
        let id = sim
            .upload_file(
                &owner.id,
                &folder,
                &format!("upload-{i:06}.txt"),
                format!("upload {i}\n"),
            )
            .map_err(world::simulator_error)?;
        files.push((id, owner.clone()));
    }
    let integration = world::connect_in_process(&world, "both", &folder).await?;
    let webhook_id = integration
        .webhook_ids
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("connecting registered no webhook on the watched folder"))?;
    let address = sim
        .webhooks()
        .into_iter()
        .find(|w| w["id"].as_str() == Some(webhook_id.as_str()))
        .and_then(|w| w["address"].as_str().map(str::to_string))
        .ok_or_else(|| anyhow!("webhook {webhook_id} is not registered at the simulator"))?;

    // The bodies Box would send for those uploads.
    let mut bodies = Vec::with_capacity(files.len());
    for (file_id, owner) in &files {
        let source = sim
            .file_json(file_id)
            .ok_or_else(|| anyhow!("file {file_id} vanished"))?;
        let created_at = source["created_at"].clone();
        bodies.push(
            json!({
                "type": "webhook_event",
                "id": uuid::Uuid::new_v4().to_string(),
                "created_at": created_at,
                "trigger": "FILE.UPLOADED",
                "webhook": {"id": webhook_id, "type": "webhook"},
                "created_by": world::user_mini(owner),
                "source": source,
                "additional_info": [],
            })
            .to_string(),
        );
    }
    let bodies = Arc::new(bodies);
    let reader = world.reader()?;
    let before = reader.activity_count(TENANT).await?;
    if before != 0 {
        eprintln!("note: {before} activities were stored before the burst");
    }
    let setup_seconds = setup.elapsed().as_secs_f64();

    let keys = (
        sim.config().webhook_primary_key.clone(),
        sim.config().webhook_secondary_key.clone(),
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..options.concurrency {
        let (client, bodies, next, address, keys) = (
            client.clone(),
            bodies.clone(),
            next.clone(),
            address.clone(),
            keys.clone(),
        );
        senders.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return seen;
                };
                // A fresh timestamp, in Box's format, signed with the body.
                let timestamp =
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
                let primary = sign_webhook_body(body.as_bytes(), &timestamp, &keys.0);
                let secondary = sign_webhook_body(body.as_bytes(), &timestamp, &keys.1);
                let sent = Instant::now();
                let answer = client
                    .post(&address)
                    .header("content-type", "application/json; charset=UTF-8")
                    .header("user-agent", "Box-WH-Client/0.1")
                    .header("BOX-DELIVERY-ID", uuid::Uuid::new_v4().to_string())
                    .header("BOX-DELIVERY-TIMESTAMP", &timestamp)
                    .header("BOX-SIGNATURE-PRIMARY", primary)
                    .header("BOX-SIGNATURE-SECONDARY", secondary)
                    .header("BOX-SIGNATURE-VERSION", "1")
                    .header("BOX-SIGNATURE-ALGORITHM", "HmacSHA256")
                    .body(body.clone())
                    .send()
                    .await;
                let result = match answer {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let text = response.text().await.unwrap_or_default();
                        let kind = serde_json::from_str::<serde_json::Value>(&text)
                            .ok()
                            .and_then(|v| v["status"].as_str().map(str::to_string))
                            .unwrap_or_default();
                        Ok((status, kind, text))
                    }
                    Err(error) => Err(error.to_string()),
                };
                seen.push((sent.elapsed().as_secs_f64() * 1000.0, result));
            }
        }));
    }
    let mut latencies = Vec::with_capacity(bodies.len());
    let mut outcome = Outcome {
        deliveries: bodies.len(),
        concurrency: options.concurrency,
        setup_seconds,
        ack_target_p99_ms: ACK_TARGET_P99_MS,
        activities_expected: bodies.len(),
        ..Outcome::default()
    };
    for sender in senders {
        for (ms, result) in sender.await.context("a sender task failed")? {
            latencies.push(ms);
            match result {
                Ok((200, kind, _)) if kind == "queued" => outcome.queued += 1,
                Ok((status, kind, text)) => {
                    *outcome
                        .other_answers
                        .entry(format!("{status} {kind}").trim().to_string())
                        .or_default() += 1;
                    outcome
                        .first_error
                        .get_or_insert_with(|| format!("{status}: {text}"));
                }
                Err(error) => {
                    outcome.transport_errors += 1;
                    outcome.first_error.get_or_insert(error);
                }
            }
        }
    }
    let burst = started.elapsed();
    outcome.burst_seconds = burst.as_secs_f64();
    outcome.acks_per_second = bodies.len() as f64 / burst.as_secs_f64();
    outcome.ack = Latency::of(&latencies);
    outcome.ack_target_met = outcome.ack.p99_ms < ACK_TARGET_P99_MS;

    // Part 2: until every delivery's activity is stored (or nothing moves for a while).
    let expected = bodies.len() as u64;
    let mut last = (before, Instant::now());
    let deadline = Instant::now() + options.drain_timeout;
    let stored_at = loop {
        let count = reader.activity_count(TENANT).await?;
        if count >= before + expected {
            break Some(started.elapsed());
        }
        if count != last.0 {
            last = (count, Instant::now());
        }
        if Instant::now() >= deadline || last.1.elapsed() > Duration::from_secs(60) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let activities = reader.activities(TENANT).await?;
    outcome.activities_stored = activities.len() as u64;
    outcome.push_path_activities = activities
        .iter()
        .filter(|a| a.paths().contains(&IngestPath::Push))
        .count();
    outcome.incomplete_activities = activities.iter().filter(|a| a.incomplete.is_some()).count();
    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for activity in &activities {
        if let Some(object) = activity.object_id.as_deref() {
            if activity.event_name == "UPLOAD" {
                *per_file.entry(object).or_default() += 1;
            }
        }
    }
    for (file_id, _) in &files {
        match per_file.get(file_id.as_str()).copied().unwrap_or(0) {
            0 => outcome.lost += 1,
            1 => {}
            _ => outcome.doubled += 1,
        }
    }
    if let Some(elapsed) = stored_at {
        outcome.webhook_to_stored_seconds = elapsed.as_secs_f64();
        outcome.activities_per_second = expected as f64 / elapsed.as_secs_f64();
        outcome.drain_after_burst_seconds = (elapsed.saturating_sub(burst)).as_secs_f64();
    }
    outcome.complete = stored_at.is_some() && outcome.lost == 0 && outcome.doubled == 0;
    world.stop().await;
    sim.shutdown().await;
    Ok(outcome)
}
