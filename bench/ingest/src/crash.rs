//! Part 5: the crash run. The built `casb` binary runs `casb serve` as its own OS process on one
//! data directory, against the Box simulator in this process. A script uploads files (some
//! with card numbers) into a folder watched by webhooks and into one only the event stream
//! covers, and shares each by an open link; meanwhile `casb serve` is killed with SIGKILL at
//! random moments and restarted on the same data directory. At the end it is left to drain,
//! stopped, and its store and "Box" are compared with what the script did.
//!
//! Expected, from the script alone:
//! - activities: one per scripted action (an UPLOAD and a SHARE per file);
//! - incidents: "File shared by public link" for every file, and "Sensitive file shared
//!   publicly or externally" for every file with card numbers;
//! - provider-side actions: every sensitive file moved to the quarantine folder once, every
//!   file's shared link removed once (counted from the simulator's own event log: MOVE and
//!   UNSHARE events per file, and the file's final state);
//! - notifications: one e-mail per expected incident (the local outbox).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use box_simulator::BoxSimulator;
use casb_shared::domain::IngestPath;
use serde::Serialize;
use serde_json::Value;

use crate::db::Reader;
use crate::incidents::{PUBLIC_LINK, SENSITIVE};
use crate::stats::Rng;
use crate::world::{self, CARDS, HARMLESS, NOTIFY, TENANT};

#[derive(Debug, Clone)]
pub struct Options {
    pub files: usize,
    pub kills: usize,
    pub seed: u64,
    pub casb_bin: PathBuf,
    pub poll_interval_seconds: u64,
    pub poll_job_budget_seconds: u64,
    pub drain_timeout: Duration,
}

/// Expected / found / lost / doubled for one kind of thing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub expected: usize,
    pub found: usize,
    pub lost: usize,
    pub doubled: usize,
    /// Found but not expected (not counted in the other figures).
    pub unexpected: usize,
}

impl Tally {
    fn of(expected: &[String], counts: &HashMap<String, usize>) -> Tally {
        let mut tally = Tally {
            expected: expected.len(),
            ..Tally::default()
        };
        for key in expected {
            match counts.get(key).copied().unwrap_or(0) {
                0 => tally.lost += 1,
                1 => tally.found += 1,
                _ => {
                    tally.found += 1;
                    tally.doubled += 1;
                }
            }
        }
        let wanted: HashSet<&String> = expected.iter().collect();
        tally.unexpected = counts.keys().filter(|k| !wanted.contains(k)).count();
        tally
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Kill {
    /// Seconds since the script started.
    pub at_seconds: f64,
    pub uptime_seconds: f64,
    pub downtime_seconds: f64,
    /// What the store held right after the kill.
    pub activities_stored: u64,
    pub queued: BTreeMap<String, u64>,
    /// Seconds from the restart until `/healthz` answered.
    pub restart_to_healthy_seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub files: usize,
    pub sensitive_files: usize,
    pub seed: u64,
    pub kills: Vec<Kill>,
    pub script_seconds: f64,
    /// From the end of the script and the last restart until everything expected was there.
    pub drain_seconds: f64,
    pub drained: bool,
    pub activities: Tally,
    /// Every action in the event stream after connecting (the script's and the CASB's own
    /// remediation: MOVE, UNSHARE...), matched by the connector's action identity.
    pub stream_activities: Tally,
    /// Scripted actions in the watched folder seen by both paths (stored once).
    pub seen_by_both_paths: usize,
    pub incidents: Tally,
    /// Response actions recorded as done (Succeeded or Unsupported) on the expected incidents:
    /// 4 per sensitive-file incident (quarantine, remove link, remove external collaborators,
    /// notify), 2 per public-link incident (remove link, notify). Lost = still pending or
    /// failed at the end (or its incident is missing).
    pub actions: Tally,
    pub quarantines: Tally,
    pub link_removals: Tally,
    pub notifications: Tally,
    /// Incident actions not Succeeded/Unsupported at the end, and actions tried more than once.
    pub unfinished_actions: usize,
    pub actions_retried: usize,
    /// Messages left in each queue after the drain (dead-letter queues are `*-dlq`).
    pub queues_after: BTreeMap<String, u64>,
    /// Messages in the dead-letter queues at the end.
    pub dead_lettered: u64,
    /// From the child's log (RUST_LOG=info): lines at ERROR and WARN, panics, and the first few
    /// distinct ERROR messages.
    pub log_errors: usize,
    pub log_warnings: usize,
    pub log_panics: usize,
    pub log_error_samples: Vec<String>,
    pub log_path: String,
    pub ok: bool,
}

impl Outcome {
    /// Lost plus doubled over activities, incidents, recorded actions, quarantines, link
    /// removals and notifications.
    pub fn lost_or_doubled(&self) -> usize {
        [
            &self.activities,
            &self.stream_activities,
            &self.incidents,
            &self.actions,
            &self.quarantines,
            &self.link_removals,
            &self.notifications,
        ]
        .iter()
        .map(|t| t.lost + t.doubled)
        .sum()
    }
}

#[derive(Debug, Clone)]
struct ScriptedFile {
    id: String,
    sensitive: bool,
}

struct Serve {
    child: Child,
    started: Instant,
}

struct Launcher {
    bin: PathBuf,
    data_dir: PathBuf,
    listen: String,
    log: PathBuf,
    env: Vec<(String, String)>,
}

impl Launcher {
    fn base(&self) -> String {
        format!("http://{}", self.listen)
    }

    fn spawn(&self) -> anyhow::Result<Serve> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg(&self.listen)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        Ok(Serve {
            child,
            started: Instant::now(),
        })
    }

    async fn wait_healthy(&self, serve: &mut Serve) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("{}/healthz", self.base());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = serve.child.try_wait()? {
                bail!(
                    "casb serve exited with {status} while starting; see {}",
                    self.log.display()
                );
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!("casb serve did not answer {url} within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// SIGKILL, as `kill -9` would (std's `Child::kill` sends SIGKILL on Unix).
fn kill_hard(serve: &mut Serve) -> anyhow::Result<()> {
    serve.child.kill().context("SIGKILL")?;
    serve.child.wait()?;
    Ok(())
}

/// SIGTERM (graceful), then SIGKILL if it has not stopped after `grace`.
async fn stop_gracefully(serve: &mut Serve, grace: Duration) -> anyhow::Result<()> {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(serve.child.id().to_string())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if serve.child.try_wait()?.is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("casb serve did not stop within {grace:?} of SIGTERM; killing it");
    kill_hard(serve)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The connector's identity of a stream event: event, object, actor and second.
fn event_key(event: &Value) -> Option<String> {
    let source = &event["source"];
    let object = source["item_id"]
        .as_str()
        .or_else(|| source["id"].as_str())?;
    let actor = event["created_by"]["id"].as_str()?;
    let at = chrono::DateTime::parse_from_rfc3339(event["created_at"].as_str()?).ok()?;
    Some(key(
        event["event_type"].as_str()?,
        object,
        actor,
        at.timestamp(),
    ))
}

fn key(event: &str, object: &str, actor: &str, second: i64) -> String {
    format!("{event}#{object}#{actor}#{second}")
}

pub async fn run(work_dir: &Path, options: &Options) -> anyhow::Result<Outcome> {
    if !options.casb_bin.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p casb-cli` or pass --casb-bin",
            options.casb_bin.display()
        );
    }
    let sim = Arc::new(world::start_simulator().await?);
    let data_dir = work_dir.join("crash");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)?;
    }
    std::fs::create_dir_all(&data_dir)?;
    let launcher = Launcher {
        bin: options.casb_bin.clone(),
        data_dir: data_dir.clone(),
        listen: format!("127.0.0.1:{}", free_port()?),
        log: data_dir.join("casb-serve.log"),
        env: vec![
            ("CASB_BOX_API_ORIGIN".into(), sim.origin()),
            ("CASB_BOX_ACCOUNT_ORIGIN".into(), sim.origin()),
            ("CASB_BOX_DOWNLOAD_HOSTS".into(), sim.download_base()),
            (
                "CASB_POLL_INTERVAL_SECONDS".into(),
                options.poll_interval_seconds.to_string(),
            ),
            (
                "CASB_POLL_JOB_BUDGET_SECONDS".into(),
                options.poll_job_budget_seconds.to_string(),
            ),
            ("CASB_NOTIFY_EMAILS".into(), NOTIFY.into()),
            ("RUST_LOG".into(), "info".into()),
            ("NO_COLOR".into(), "1".into()),
        ],
    };

    // The app's credentials, stored the way an operator does it.
    let mut put = Command::new(&launcher.bin)
        .arg("secret-put")
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("providers/box/app")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("casb secret-put")?;
    put.stdin
        .take()
        .ok_or_else(|| anyhow!("no stdin"))?
        .write_all(serde_json::to_string(&world::credentials(&sim))?.as_bytes())?;
    if !put.wait()?.success() {
        bail!("casb secret-put failed");
    }

    let mut serve = launcher.spawn()?;
    launcher.wait_healthy(&mut serve).await?;
    let admin = sim.admin_user_id();
    let watched = sim
        .create_folder(&admin, "0", "Watched")
        .map_err(world::simulator_error)?;
    let unwatched = sim
        .create_folder(&admin, "0", "Unwatched")
        .map_err(world::simulator_error)?;
    world::connect(&launcher.base(), &data_dir, "both", &watched).await?;
    let stream_start = sim.events().len();
    let reader = Reader::open(&data_dir)?;

    // The script, on its own task.
    let mut rng = Rng::new(options.seed);
    let script = {
        let sim = sim.clone();
        let users: Vec<String> = world::managed_users(&sim)
            .into_iter()
            .filter(|u| u.id != admin)
            .map(|u| u.id)
            .collect();
        let (files, seed) = (options.files, options.seed ^ 0x9E37_79B9_7F4A_7C15);
        let folders = (watched.clone(), unwatched.clone());
        tokio::spawn(async move {
            let mut rng = Rng::new(seed);
            let mut made = Vec::with_capacity(files);
            for i in 0..files {
                let folder = if i % 2 == 0 { &folders.0 } else { &folders.1 };
                let sensitive = (i / 2) % 2 == 0;
                let user = &users[i % users.len()];
                let name = format!(
                    "{}-{i:03}.{}",
                    if sensitive { "cards" } else { "notes" },
                    if sensitive { "csv" } else { "txt" }
                );
                let id = sim
                    .upload_file(
                        user,
                        folder,
                        &name,
                        if sensitive { CARDS } else { HARMLESS },
                    )
                    .map_err(world::simulator_error)?;
                tokio::time::sleep(Duration::from_secs_f64(rng.between(0.05, 0.4))).await;
                sim.share_file(Some(user.as_str()), &id, "open")
                    .map_err(world::simulator_error)?;
                made.push(ScriptedFile { id, sensitive });
                tokio::time::sleep(Duration::from_secs_f64(rng.between(0.05, 0.4))).await;
            }
            anyhow::Ok(made)
        })
    };

    // The kills, spread over about twice the script's expected length.
    let started = Instant::now();
    let expected_script = options.files as f64 * 0.45;
    let longest_uptime = (2.0 * expected_script / options.kills.max(1) as f64).max(1.0);
    let mut kills = Vec::new();
    for _ in 0..options.kills {
        let uptime = rng.between(0.2, longest_uptime);
        let until = serve.started + Duration::from_secs_f64(uptime);
        tokio::time::sleep_until(until.into()).await;
        let at = started.elapsed().as_secs_f64();
        kill_hard(&mut serve)?;
        let activities_stored = reader.activity_count(TENANT).await.unwrap_or_default();
        let queued = reader.queue_depths().await.unwrap_or_default();
        let downtime = rng.between(0.1, 1.5);
        tokio::time::sleep(Duration::from_secs_f64(downtime)).await;
        serve = launcher.spawn()?;
        launcher.wait_healthy(&mut serve).await?;
        let healthy = serve.started.elapsed().as_secs_f64();
        eprintln!(
            "  killed casb serve (SIGKILL) at {at:.1} s after {uptime:.2} s up; {activities_stored} activities stored, queues {queued:?}; back after {downtime:.2} s + {healthy:.2} s start-up"
        );
        kills.push(Kill {
            at_seconds: at,
            uptime_seconds: uptime,
            downtime_seconds: downtime,
            activities_stored,
            queued,
            restart_to_healthy_seconds: healthy,
        });
    }
    let files = script.await.context("the script task")??;
    let script_seconds = started.elapsed().as_secs_f64();

    // Drain: until everything expected is there and nothing is queued, or the timeout.
    let expected = Expected::of(&files);
    let drain_started = Instant::now();
    let mut quiet = 0;
    let drained = loop {
        let progress = expected.progress(&reader, &sim, stream_start).await?;
        quiet = if progress.settled { quiet + 1 } else { 0 };
        if quiet >= 6 {
            break true;
        }
        if drain_started.elapsed() > options.drain_timeout {
            eprintln!("  drain timed out: {progress:?}");
            break false;
        }
        if let Some(status) = serve.child.try_wait()? {
            bail!(
                "casb serve exited on its own with {status}; see {}",
                launcher.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let drain_seconds = drain_started.elapsed().as_secs_f64();
    stop_gracefully(&mut serve, Duration::from_secs(20)).await?;

    let mut outcome = expected.analyse(&reader, &sim, stream_start).await?;
    outcome.seed = options.seed;
    outcome.kills = kills;
    outcome.script_seconds = script_seconds;
    outcome.drain_seconds = drain_seconds;
    outcome.drained = drained;
    read_log(&launcher.log, &mut outcome)?;
    outcome.ok = drained && outcome.dead_lettered == 0 && outcome.lost_or_doubled() == 0;
    if let Ok(sim) = Arc::try_unwrap(sim) {
        sim.shutdown().await;
    }
    Ok(outcome)
}

struct Expected {
    files: Vec<ScriptedFile>,
    activities: Vec<String>,
    incidents: Vec<String>,
}

#[derive(Debug)]
struct Progress {
    activities_missing: usize,
    stream_missing: usize,
    incidents_missing: usize,
    unfinished_actions: usize,
    queued: u64,
    settled: bool,
}

impl Expected {
    fn of(files: &[ScriptedFile]) -> Expected {
        let mut activities = Vec::new();
        let mut incidents = Vec::new();
        for file in files {
            activities.push(format!("UPLOAD#{}", file.id));
            activities.push(format!("SHARE#{}", file.id));
            incidents.push(format!("{PUBLIC_LINK}#{}", file.id));
            if file.sensitive {
                incidents.push(format!("{SENSITIVE}#{}", file.id));
            }
        }
        Expected {
            files: files.to_vec(),
            activities,
            incidents,
        }
    }

    async fn progress(
        &self,
        reader: &Reader,
        sim: &BoxSimulator,
        stream_start: usize,
    ) -> anyhow::Result<Progress> {
        let activities = reader.activities(TENANT).await?;
        let stored: HashSet<String> = activities
            .iter()
            .filter_map(|a| Some(format!("{}#{}", a.event_name, a.object_id.as_deref()?)))
            .collect();
        let stored_keys: HashSet<String> = activities.iter().filter_map(activity_key).collect();
        let stream: HashSet<String> = sim.events()[stream_start..]
            .iter()
            .filter_map(event_key)
            .collect();
        let incidents = reader.incidents(TENANT).await?;
        let opened: HashSet<String> = incidents
            .iter()
            .filter_map(|i| {
                Some(format!(
                    "{}#{}",
                    i.policy_id,
                    i.object.object_id.as_deref()?
                ))
            })
            .collect();
        let unfinished_actions = incidents
            .iter()
            .flat_map(|i| &i.actions)
            .filter(|a| !a.status.is_final())
            .count();
        let queued = reader
            .queue_depths()
            .await?
            .iter()
            .filter(|(q, _)| *q == "activities" || *q == "actions")
            .map(|(_, n)| n)
            .sum();
        let progress = Progress {
            activities_missing: self
                .activities
                .iter()
                .filter(|k| !stored.contains(*k))
                .count(),
            stream_missing: stream.iter().filter(|k| !stored_keys.contains(*k)).count(),
            incidents_missing: self
                .incidents
                .iter()
                .filter(|k| !opened.contains(*k))
                .count(),
            unfinished_actions,
            queued,
            settled: false,
        };
        Ok(Progress {
            settled: progress.activities_missing == 0
                && progress.stream_missing == 0
                && progress.incidents_missing == 0
                && progress.unfinished_actions == 0
                && progress.queued == 0,
            ..progress
        })
    }

    async fn analyse(
        &self,
        reader: &Reader,
        sim: &BoxSimulator,
        stream_start: usize,
    ) -> anyhow::Result<Outcome> {
        let mut outcome = Outcome {
            files: self.files.len(),
            sensitive_files: self.files.iter().filter(|f| f.sensitive).count(),
            ..Outcome::default()
        };
        let activities = reader.activities(TENANT).await?;
        let mut by_action: HashMap<String, usize> = HashMap::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for activity in &activities {
            if let Some(object) = activity.object_id.as_deref() {
                *by_action
                    .entry(format!("{}#{object}", activity.event_name))
                    .or_default() += 1;
            }
            if let Some(key) = activity_key(activity) {
                *by_key.entry(key).or_default() += 1;
            }
        }
        // Only the scripted kinds of action on scripted files count as "unexpected" here.
        let scripted: HashSet<&str> = self.files.iter().map(|f| f.id.as_str()).collect();
        by_action.retain(|k, _| {
            let (event, object) = k.split_once('#').unwrap_or_default();
            (event == "UPLOAD" || event == "SHARE") && scripted.contains(object)
        });
        outcome.activities = Tally::of(&self.activities, &by_action);
        let events = sim.events();
        let mut stream_keys: Vec<String> = events[stream_start..]
            .iter()
            .filter_map(event_key)
            .collect();
        stream_keys.sort();
        stream_keys.dedup();
        outcome.stream_activities = Tally::of(&stream_keys, &by_key);
        outcome.seen_by_both_paths = activities
            .iter()
            .filter(|a| {
                a.paths().contains(&IngestPath::Push) && a.paths().contains(&IngestPath::Pull)
            })
            .filter(|a| a.object_id.as_deref().is_some_and(|o| scripted.contains(o)))
            .filter(|a| a.event_name == "UPLOAD" || a.event_name == "SHARE")
            .count();

        let incidents = reader.incidents(TENANT).await?;
        let mut by_subject: HashMap<String, usize> = HashMap::new();
        for incident in &incidents {
            let object = incident.object.object_id.clone().unwrap_or_default();
            *by_subject
                .entry(format!("{}#{object}", incident.policy_id))
                .or_default() += 1;
        }
        outcome.incidents = Tally::of(&self.incidents, &by_subject);
        outcome.unfinished_actions = incidents
            .iter()
            .flat_map(|i| &i.actions)
            .filter(|a| !a.status.is_final())
            .count();
        let mut done: HashMap<String, usize> = HashMap::new();
        for incident in &incidents {
            let object = incident.object.object_id.clone().unwrap_or_default();
            for action in incident.actions.iter().filter(|a| a.status.is_final()) {
                *done
                    .entry(format!(
                        "{}#{object}#{}",
                        incident.policy_id,
                        action.kind.as_str()
                    ))
                    .or_default() += 1;
            }
        }
        let mut expected_actions = Vec::new();
        for file in &self.files {
            for kind in ["remove_shared_link", "notify"] {
                expected_actions.push(format!("{PUBLIC_LINK}#{}#{kind}", file.id));
            }
            if file.sensitive {
                for kind in [
                    "quarantine",
                    "remove_shared_link",
                    "remove_external_collaborators",
                    "notify",
                ] {
                    expected_actions.push(format!("{SENSITIVE}#{}#{kind}", file.id));
                }
            }
        }
        outcome.actions = Tally::of(&expected_actions, &done);
        outcome.actions_retried = incidents
            .iter()
            .flat_map(|i| &i.actions)
            .filter(|a| a.attempts > 1)
            .count();

        // At "Box": the simulator's own log of what was done to each file, and its final state.
        let quarantine = sim.find_folder("0", "CASB Quarantine");
        let mut moves: HashMap<String, usize> = HashMap::new();
        let mut unshares: HashMap<String, usize> = HashMap::new();
        for event in &events[stream_start..] {
            let Some(object) = event["source"]["item_id"].as_str() else {
                continue;
            };
            match event["event_type"].as_str() {
                Some("MOVE") => *moves.entry(object.to_string()).or_default() += 1,
                Some("UNSHARE") => *unshares.entry(object.to_string()).or_default() += 1,
                _ => {}
            }
        }
        // A file counts as done only if its final state agrees with the log.
        for file in &self.files {
            let snapshot = sim.file(&file.id);
            let in_quarantine = snapshot
                .as_ref()
                .is_some_and(|s| Some(&s.parent_id) == quarantine.as_ref());
            if !in_quarantine {
                if file.sensitive {
                    moves.remove(&file.id);
                }
            } else if !file.sensitive {
                moves.entry(file.id.clone()).or_insert(1);
            }
            let linked = snapshot.as_ref().is_none_or(|s| s.shared_link.is_some());
            if linked {
                unshares.remove(&file.id);
            }
        }
        let sensitive: Vec<String> = self
            .files
            .iter()
            .filter(|f| f.sensitive)
            .map(|f| f.id.clone())
            .collect();
        let all: Vec<String> = self.files.iter().map(|f| f.id.clone()).collect();
        outcome.quarantines = Tally::of(&sensitive, &moves);
        outcome.link_removals = Tally::of(&all, &unshares);

        // Notifications: the outbox names the incident in each e-mail.
        let bodies = reader.outbox_bodies().await?;
        let mut mails: HashMap<String, usize> = HashMap::new();
        for body in &bodies {
            if let Some(id) = body
                .lines()
                .find_map(|l| l.strip_prefix("Incident: "))
                .map(str::trim)
            {
                *mails.entry(id.to_string()).or_default() += 1;
            }
        }
        let wanted: HashSet<&String> = self.incidents.iter().collect();
        let expected_mail: Vec<String> = incidents
            .iter()
            .filter(|i| {
                wanted.contains(&format!(
                    "{}#{}",
                    i.policy_id,
                    i.object.object_id.clone().unwrap_or_default()
                ))
            })
            .map(|i| i.id.clone())
            .collect();
        // Incidents that were lost have no mail to expect; count them as lost mails too.
        let mut notifications = Tally::of(&expected_mail, &mails);
        notifications.expected += outcome.incidents.lost;
        notifications.lost += outcome.incidents.lost;
        outcome.notifications = notifications;
        outcome.queues_after = reader.queue_depths().await?;
        outcome.dead_lettered = outcome
            .queues_after
            .iter()
            .filter(|(q, _)| q.ends_with("-dlq"))
            .map(|(_, n)| n)
            .sum();
        Ok(outcome)
    }
}

fn activity_key(activity: &casb_shared::domain::Activity) -> Option<String> {
    Some(key(
        &activity.event_name,
        activity.object_id.as_deref()?,
        activity.actor_id.as_deref()?,
        activity.event_timestamp.timestamp(),
    ))
}

fn read_log(path: &Path, outcome: &mut Outcome) -> anyhow::Result<()> {
    outcome.log_path = path.display().to_string();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut samples = Vec::new();
    for line in text.lines() {
        let line = strip_ansi(line);
        let line = line.as_str();
        if line.contains(" ERROR ") {
            outcome.log_errors += 1;
            // The message without the timestamp, to list distinct ones.
            let message = line.split_once(" ERROR ").map(|(_, m)| m).unwrap_or(line);
            let message: String = message.chars().take(240).collect();
            if samples.len() < 5 && !samples.contains(&message) {
                samples.push(message);
            }
        } else if line.contains(" WARN ") {
            outcome.log_warnings += 1;
        }
        if line.contains("panicked") {
            outcome.log_panics += 1;
        }
    }
    outcome.log_error_samples = samples;
    Ok(())
}

/// Removes ANSI colour sequences (`ESC [ ... m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
