//! Part 8: the threat detectors' cost and precision on the inspector's path, in one process on
//! the embedded back end. Two weeks of ordinary work by many users (a morning sign-in from each
//! one's city, downloads, edits, previews and internal shares during office hours), with four
//! threats planted on the last day: a mass download, a brute force followed by a success, and an
//! impossible travel that is also a new country. The same activities are inspected with the
//! detectors on and off (fresh data directories), eight at a time as the worker runs them.
//! Every planted threat must be found, and nothing else.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use casb_shared::backend::EmbeddedBackend;
use casb_shared::config::Settings;
use casb_shared::connector::ConnectorRegistry;
use casb_shared::domain::{
    Activity, Enrichments, EventType, GeoEnrichment, IngestPath, Provider, UserType,
};
use casb_shared::pipeline::{inspector, PipelineError};
use casb_shared::threat::ThreatSettings;
use casb_shared::Core;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;

pub struct Options {
    pub users: usize,
    pub activities: usize,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub users: usize,
    pub activities: usize,
    pub days: i64,
    pub with_detectors_per_second: f64,
    pub without_detectors_per_second: f64,
    /// Extra inspector time per activity the detectors cost, in microseconds.
    pub overhead_us_per_activity: f64,
    /// Anomalies by detector, and how many of the four planted threats were found.
    pub anomalies: BTreeMap<String, usize>,
    pub planted_found: usize,
    pub planted: usize,
    /// Anomalies that are not planted threats (ordinary work flagged).
    pub false_anomalies: usize,
    pub state_bytes_mean: f64,
    pub state_bytes_max: u64,
}

const TENANT: &str = "bench";
const DAYS: i64 = 14;
/// City coordinates (airports) users work from.
const CITIES: [(&str, &str, f64, f64); 5] = [
    ("London", "GB", 51.4700, -0.4543),
    ("Paris", "FR", 49.0097, 2.5479),
    ("Berlin", "DE", 52.3667, 13.5033),
    ("New York", "US", 40.6413, -73.7781),
    ("Toronto", "CA", 43.6777, -79.6248),
];

fn geo((city, country, latitude, longitude): (&str, &str, f64, f64)) -> GeoEnrichment {
    GeoEnrichment {
        country: Some(country.into()),
        city: Some(city.into()),
        latitude: Some(latitude),
        longitude: Some(longitude),
        accuracy_radius_km: Some(20),
        ..GeoEnrichment::default()
    }
}

fn activity(
    n: usize,
    user: usize,
    event_type: EventType,
    name: &str,
    at: DateTime<Utc>,
    ip: String,
) -> Activity {
    Activity {
        tenant_id: TENANT.into(),
        event_id: format!("bench-{n}"),
        event_name: name.into(),
        event_timestamp: at,
        log_timestamp: None,
        event_type,
        actor_id: Some(format!("{user}")),
        actor_name: None,
        actor_email: Some(format!("user{user}@example.com")),
        actor_type: UserType::Internal,
        actor_role: None,
        actor_ip: Some(ip),
        object_id: None,
        file_download_url: None,
        object_type: None,
        object_name: None,
        object_path: None,
        from_email: None,
        target_user_email: None,
        target_user_id: None,
        target_user_type: None,
        role_granted: None,
        shared_link: None,
        link_visibility: None,
        provider: Provider::Box,
        integration_id: "int-bench".into(),
        ingest_path: IngestPath::Pull,
        raw: serde_json::json!({}),
        enrichments: Enrichments::default(),
        identity: None,
        incomplete: None,
        seen_by: vec![],
    }
}

/// The scenario, in time order, and the (subject, detector) pairs planted.
fn scenario(options: &Options) -> (Vec<Activity>, Vec<(String, &'static str)>) {
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
    let users = options.users.max(4);
    let per_user_day = (options.activities / (users * DAYS as usize)).max(3);
    let mut all = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    // A simple deterministic generator: the same scenario on every run.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below.max(1)
    };
    for day in 0..DAYS {
        for user in 0..users {
            let city = CITIES[user % CITIES.len()];
            let home_ip = format!("198.51.{}.{}", user / 250, user % 250 + 1);
            // Office hours in UTC, shifted for the American cities.
            let opens = if city.1 == "US" || city.1 == "CA" {
                13
            } else {
                8
            };
            let morning = start
                + Duration::days(day)
                + Duration::hours(opens)
                + Duration::minutes(random(50) as i64);
            let mut sign_in = activity(
                next(),
                user,
                EventType::Login,
                "LOGIN",
                morning,
                home_ip.clone(),
            );
            sign_in.enrichments.geo = Some(geo(city));
            all.push(sign_in);
            for _ in 0..per_user_day {
                let at = morning + Duration::minutes(10 + random(8 * 60) as i64);
                let (event_type, name) = match random(10) {
                    0..=3 => (EventType::DataAccess, "DOWNLOAD"),
                    4..=5 => (EventType::DataAccess, "PREVIEW"),
                    6..=8 => (EventType::DataModification, "EDIT"),
                    _ => (EventType::DataSharing, "COLLABORATION_INVITE"),
                };
                all.push(activity(
                    next(),
                    user,
                    event_type,
                    name,
                    at,
                    home_ip.clone(),
                ));
            }
        }
    }
    // The last day's threats.
    let last = start + Duration::days(DAYS - 1);
    for i in 0..150 {
        let at = last + Duration::hours(10) + Duration::seconds(i * 16);
        all.push(activity(
            next(),
            0,
            EventType::DataAccess,
            "DOWNLOAD",
            at,
            "198.51.0.1".into(),
        ));
    }
    for i in 0..25 {
        let at = last + Duration::hours(15) + Duration::minutes(i);
        all.push(activity(
            next(),
            1,
            EventType::LoginFailure,
            "FAILED_LOGIN",
            at,
            "203.0.113.77".into(),
        ));
    }
    all.push(activity(
        next(),
        1,
        EventType::Login,
        "LOGIN",
        last + Duration::hours(15) + Duration::minutes(30),
        "203.0.113.77".into(),
    ));
    // User 2 works from London; an hour after the morning sign-in, Sydney.
    let mut sydney = activity(
        next(),
        2,
        EventType::Login,
        "LOGIN",
        last + Duration::hours(10),
        "203.0.113.200".into(),
    );
    sydney.enrichments.geo = Some(geo(("Sydney", "AU", -33.9399, 151.1753)));
    all.push(sydney);
    all.sort_by_key(|a| a.event_timestamp);
    let planted = vec![
        ("user:user0@example.com".to_string(), "mass_download"),
        ("user:user1@example.com".to_string(), "brute_force"),
        ("ip:203.0.113.77".to_string(), "brute_force"),
        ("user:user2@example.com".to_string(), "impossible_travel"),
        ("user:user2@example.com".to_string(), "new_country"),
    ];
    (all, planted)
}

/// Inspects every activity, eight at a time in time order (as the worker's batch does);
/// returns the seconds it took.
async fn inspect_all(core: &Core, activities: &[Activity]) -> anyhow::Result<f64> {
    let started = Instant::now();
    for chunk in activities.chunks(8) {
        let mut running = tokio::task::JoinSet::new();
        for activity in chunk {
            let (core, activity) = (core.clone(), activity.clone());
            running.spawn(async move {
                loop {
                    match inspector::inspect(&core, &activity).await {
                        Ok(_) => return Ok(()),
                        // Two workers on one user's state: the queue would redeliver.
                        Err(PipelineError::Busy(_)) => tokio::task::yield_now().await,
                        Err(e) => return Err(anyhow::anyhow!("inspecting: {e}")),
                    }
                }
            });
        }
        while let Some(done) = running.join_next().await {
            done??;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

pub async fn run(work_dir: &Path, options: &Options) -> anyhow::Result<Outcome> {
    let (activities, planted) = scenario(options);
    let mut seconds = Vec::new();
    let mut anomalies = Vec::new();
    let mut state_sizes = (0.0, 0);
    for enabled in [true, false] {
        let dir = work_dir.join(if enabled { "threats-on" } else { "threats-off" });
        std::fs::create_dir_all(&dir)?;
        let embedded = EmbeddedBackend::open(&dir)?;
        let settings = Settings {
            threat: ThreatSettings {
                enabled,
                ..ThreatSettings::default()
            },
            ..Settings::default()
        };
        let core = Core::new(embedded.backend.clone(), settings, ConnectorRegistry::new())?;
        seconds.push(inspect_all(&core, &activities).await?);
        if enabled {
            anomalies = core.backend.threats.list_anomalies(TENANT, 100_000).await?;
            let db = rusqlite::Connection::open(dir.join("casb.db"))?;
            state_sizes = db.query_row(
                "SELECT AVG(LENGTH(doc)), MAX(LENGTH(doc)) FROM behaviour",
                [],
                |row| Ok((row.get::<_, f64>(0)?, row.get::<_, i64>(1)? as u64)),
            )?;
        }
        drop(embedded);
    }
    let mut by_detector = BTreeMap::new();
    for anomaly in &anomalies {
        *by_detector
            .entry(anomaly.detector.as_str().to_string())
            .or_insert(0) += 1;
    }
    let is_planted =
        |subject: &str, detector: &str| planted.iter().any(|(s, d)| s == subject && *d == detector);
    let planted_found = planted
        .iter()
        .filter(|(s, d)| {
            anomalies
                .iter()
                .any(|a| a.subject == *s && a.detector.as_str() == *d)
        })
        .count();
    let false_anomalies = anomalies
        .iter()
        .filter(|a| !is_planted(&a.subject, a.detector.as_str()))
        .count();
    let count = activities.len();
    Ok(Outcome {
        users: options.users.max(4),
        activities: count,
        days: DAYS,
        with_detectors_per_second: count as f64 / seconds[0],
        without_detectors_per_second: count as f64 / seconds[1],
        overhead_us_per_activity: (seconds[0] - seconds[1]) * 1e6 / count as f64,
        anomalies: by_detector,
        planted_found,
        planted: planted.len(),
        false_anomalies,
        state_bytes_mean: state_sizes.0,
        state_bytes_max: state_sizes.1,
    })
}
