//! Part 4: end-to-end latency from a user action at "Box" to the incident in the store.
//!
//! Files holding card numbers sit in a watched folder (uploaded before the integration is
//! connected); each is then shared by an open link at a steady rate. The clock starts just
//! before the share at the simulator and stops when the benchmark first sees the file's
//! "Sensitive file shared publicly or externally" incident in the store (read every 5 ms
//! through a second SQLite connection). On that path: the simulator's signed webhook, intake,
//! the poll-jobs queue, enrichment calls to Box, the activities queue, the inspector's download
//! and DLP scan, and the incident write (the event stream is polled too, at the configured
//! interval; whichever path is first opens the incident).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::stats::Latency;
use crate::world::{self, CARDS, TENANT};

pub const SENSITIVE: &str = "builtin.sensitive-file-exposed";
pub const PUBLIC_LINK: &str = "builtin.public-file-link";

#[derive(Debug, Clone)]
pub struct Options {
    pub shares: usize,
    pub per_second: f64,
    pub poll_interval: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub shares: usize,
    pub shares_per_second: f64,
    pub poll_interval_seconds: u64,
    /// Action at the simulator -> the sensitive-file incident seen in the store.
    pub sensitive_incident: Latency,
    /// Action -> the public-link incident (no content inspection needed) seen in the store.
    pub public_link_incident: Latency,
    /// The same measured with the incident's own `created_at` (stamped when the inspector
    /// started on the activity, before download and scan), for comparison.
    pub sensitive_incident_by_created_at: Latency,
    pub sensitive_incidents_found: usize,
    pub public_link_incidents_found: usize,
    pub missing: usize,
    pub complete: bool,
}

pub async fn run(work_dir: &Path, options: &Options) -> anyhow::Result<Outcome> {
    let sim = world::start_simulator().await?;
    let world = world::start_casb(&sim, &work_dir.join("incidents"), options.poll_interval).await?;
    let users = world::managed_users(&sim);
    let admin = sim.admin_user_id();
    let folder = sim
        .create_folder(&admin, "0", "Payments")
        .map_err(world::simulator_error)?;
    let mut files = Vec::with_capacity(options.shares);
    for i in 0..options.shares {
        let owner = &users[i % users.len()];
        files.push((
            sim.upload_file(&owner.id, &folder, &format!("cards-{i:04}.csv"), CARDS)
                .map_err(world::simulator_error)?,
            owner.id.clone(),
        ));
    }
    world::connect_in_process(&world, "both", &folder).await?;
    let reader = world.reader()?;

    // Watch the store: first sighting of every incident, by id.
    let seen: Arc<Mutex<HashMap<String, DateTime<Utc>>>> = Arc::default();
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (reader, seen, watching) = (reader.clone(), seen.clone(), watching.clone());
        tokio::spawn(async move {
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(ids) = reader.incident_ids(TENANT).await {
                    let now = Utc::now();
                    let mut seen = seen.lock().unwrap();
                    for id in ids {
                        seen.entry(id).or_insert(now);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / options.per_second.max(0.001));
    let mut acted_at: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for (i, (file, owner)) in files.iter().enumerate() {
        let due = started + gap * i as u32;
        tokio::time::sleep_until(due.into()).await;
        acted_at.insert(file.clone(), Utc::now());
        sim.share_file(Some(owner.as_str()), file, "open")
            .map_err(world::simulator_error)?;
    }
    let shares_elapsed = started.elapsed();

    // Until every file has both incidents (or the timeout).
    let mut incidents: BTreeMap<(String, String), (String, DateTime<Utc>)> = BTreeMap::new();
    let deadline = Instant::now() + options.timeout;
    loop {
        let ids: Vec<String> = seen.lock().unwrap().keys().cloned().collect();
        for id in ids {
            if incidents.values().any(|(known, _)| *known == id) {
                continue;
            }
            if let Some(incident) = reader.incident(TENANT, &id).await? {
                if let Some(object) = incident.object.object_id.clone() {
                    incidents.insert(
                        (incident.policy_id.clone(), object),
                        (id, incident.created_at),
                    );
                }
            }
        }
        let done = files.iter().all(|(file, _)| {
            incidents.contains_key(&(SENSITIVE.to_string(), file.clone()))
                && incidents.contains_key(&(PUBLIC_LINK.to_string(), file.clone()))
        });
        if done || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = watcher.await;

    let seen = seen.lock().unwrap().clone();
    let latency = |policy: &str, by_created_at: bool| {
        let samples: Vec<f64> = files
            .iter()
            .filter_map(|(file, _)| {
                let (id, created_at) = incidents.get(&(policy.to_string(), file.clone()))?;
                let at = if by_created_at {
                    *created_at
                } else {
                    *seen.get(id)?
                };
                let acted = acted_at.get(file)?;
                Some((at - *acted).num_microseconds()? as f64 / 1000.0)
            })
            .collect();
        Latency::of(&samples)
    };
    let mut outcome = Outcome {
        shares: files.len(),
        shares_per_second: files.len() as f64 / shares_elapsed.as_secs_f64().max(1e-9),
        poll_interval_seconds: options.poll_interval.as_secs(),
        sensitive_incident: latency(SENSITIVE, false),
        public_link_incident: latency(PUBLIC_LINK, false),
        sensitive_incident_by_created_at: latency(SENSITIVE, true),
        ..Outcome::default()
    };
    outcome.sensitive_incidents_found = outcome.sensitive_incident.count;
    outcome.public_link_incidents_found = outcome.public_link_incident.count;
    outcome.missing =
        2 * files.len() - outcome.sensitive_incidents_found - outcome.public_link_incidents_found;
    outcome.complete = outcome.missing == 0;
    world.stop().await;
    sim.shutdown().await;
    Ok(outcome)
}
