//! Part 3: a backlog of enterprise events waiting in the simulator's event stream, and how fast
//! the poller and the inspector turn it into stored activities.
//!
//! The cheapest events the simulator offers are `LOGIN` / `FAILED_LOGIN` (`record_login`: no
//! file behind them, so no enrichment calls). The connector identifies a user action by
//! (event, object, actor, second), so a user logging in twice in one second is one action:
//! the backlog is made of `users` distinct users, each logging in once and failing once per
//! round, with every round in a later wall-clock second than the previous one.

use std::path::Path;
use std::time::{Duration, Instant};

use casb_shared::pipeline::poller;
use serde::Serialize;

use crate::world::{self, TENANT};

#[derive(Debug, Clone)]
pub struct Options {
    pub events: usize,
    /// Stop creating events after this long and measure what exists (the brief's ~3 minutes).
    pub create_budget: Duration,
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub events_requested: usize,
    pub events_created: usize,
    /// Why fewer events than requested were created, if they were.
    pub shortfall: Option<String>,
    pub users: usize,
    pub rounds: usize,
    pub create_seconds: f64,
    /// From queueing the first poll job until the first / the last activity was stored.
    pub first_activity_seconds: f64,
    pub poll_to_stored_seconds: f64,
    pub activities_per_second: f64,
    pub activities_stored: u64,
    /// Stored minus created: negative = lost, positive = more activities than events.
    pub difference: i64,
    pub incomplete_activities: usize,
    pub complete: bool,
}

pub async fn run(work_dir: &Path, options: &Options) -> anyhow::Result<Outcome> {
    let sim = world::start_simulator().await?;
    // The timer would schedule a poll on its own; here the benchmark queues the first job.
    let world = world::start_casb(
        &sim,
        &work_dir.join("backlog"),
        Duration::from_secs(24 * 3600),
    )
    .await?;
    world::connect_in_process(&world, "pull", "").await?;
    let mut outcome = Outcome {
        events_requested: options.events,
        ..Outcome::default()
    };

    let created = Instant::now();
    // Few enough rounds to create quickly, enough users for distinct actions in each round.
    let users_wanted = options.events.div_ceil(2).clamp(1, 10_000);
    let mut users = Vec::with_capacity(users_wanted);
    for i in 0..users_wanted {
        let user = sim
            .create_user(
                &format!("Bench User {i}"),
                &format!("bench-user-{i:05}@{}", sim.config().enterprise_domain),
                "user",
            )
            .map_err(world::simulator_error)?;
        users.push(user.id);
        if created.elapsed() > options.create_budget {
            break;
        }
    }
    outcome.users = users.len();
    let mut made = 0usize;
    let mut last_second = i64::MIN;
    'rounds: while made < options.events {
        // Every event of this round lands in a later second than any of the previous round.
        while chrono::Utc::now().timestamp() <= last_second {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        outcome.rounds += 1;
        for user in &users {
            for success in [true, false] {
                if made >= options.events {
                    break 'rounds;
                }
                sim.record_login(user, success)
                    .map_err(world::simulator_error)?;
                made += 1;
            }
            if created.elapsed() > options.create_budget {
                outcome.shortfall = Some(format!(
                    "creating events stopped after {:.0} s (budget): measured with {made} events",
                    created.elapsed().as_secs_f64()
                ));
                break 'rounds;
            }
        }
        last_second = chrono::Utc::now().timestamp();
    }
    outcome.events_created = made;
    outcome.create_seconds = created.elapsed().as_secs_f64();

    let reader = world.reader()?;
    let before = reader.activity_count(TENANT).await?;
    let started = Instant::now();
    let summary = poller::schedule_due(&world.casb.core).await?;
    if summary.jobs_queued == 0 {
        anyhow::bail!("scheduling queued no poll job: {summary:?}");
    }
    let expected = before + made as u64;
    let mut first: Option<Duration> = None;
    let mut last = (before, Instant::now());
    let deadline = Instant::now() + options.drain_timeout;
    let stored_at = loop {
        let count = reader.activity_count(TENANT).await?;
        if count > before && first.is_none() {
            first = Some(started.elapsed());
        }
        if count >= expected {
            break Some(started.elapsed());
        }
        if count != last.0 {
            last = (count, Instant::now());
        }
        if Instant::now() >= deadline || last.1.elapsed() > Duration::from_secs(60) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // A moment for anything beyond the expected count to show up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let activities = reader.activities(TENANT).await?;
    outcome.activities_stored = activities.len() as u64;
    outcome.difference = activities.len() as i64 - expected as i64;
    outcome.incomplete_activities = activities.iter().filter(|a| a.incomplete.is_some()).count();
    outcome.first_activity_seconds = first.map(|d| d.as_secs_f64()).unwrap_or_default();
    if let Some(elapsed) = stored_at {
        outcome.poll_to_stored_seconds = elapsed.as_secs_f64();
        outcome.activities_per_second = made as f64 / elapsed.as_secs_f64();
    }
    outcome.complete = stored_at.is_some() && outcome.difference == 0;
    world.stop().await;
    sim.shutdown().await;
    Ok(outcome)
}
