//! Part 9: the REST API over HTTP on the embedded back end (`casb serve`'s router on a local
//! port): the Anomalous Activity API streaming the latest 100,000 activities behind one anomaly
//! as CSV, a walk through every incident in pages, and a SIEM walk through the activity log as
//! OCSF. Every row and record is counted: none missing, none twice.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use casb_shared::backend::EmbeddedBackend;
use casb_shared::config::{ApiSettings, Settings};
use casb_shared::connector::ConnectorRegistry;
use casb_shared::domain::{
    Activity, Anomaly, AnomalyCategory, DetectorKind, Enrichments, EventType, Incident,
    IncidentObject, IncidentStatus, IngestPath, MatchSummary, Provider, Severity, UserType,
};
use casb_shared::Core;
use chrono::{Duration, Utc};
use serde::Serialize;

use crate::stats::Latency;

pub struct Options {
    pub activities: usize,
    pub incidents: usize,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub activities: usize,
    pub incidents: usize,
    pub csv_rows: usize,
    pub csv_bytes: usize,
    pub csv_seconds: f64,
    pub csv_rows_per_second: f64,
    pub incident_pages: usize,
    pub incident_page: Latency,
    pub incidents_seen: usize,
    pub log_records: usize,
    pub log_seconds: f64,
    pub log_records_per_second: f64,
    pub complete: bool,
}

const TENANT: &str = "bench";

fn activity(i: usize, at: chrono::DateTime<Utc>) -> Activity {
    Activity {
        tenant_id: TENANT.into(),
        event_id: format!("api-{i}"),
        event_name: "DOWNLOAD".into(),
        event_timestamp: at,
        log_timestamp: Some(at),
        event_type: EventType::DataAccess,
        actor_id: Some("7".into()),
        actor_name: Some("Bob Brown".into()),
        actor_email: Some("bob@example.com".into()),
        actor_type: UserType::Internal,
        actor_role: Some("user".into()),
        actor_ip: Some("203.0.113.10".into()),
        object_id: Some(format!("{}", 100_000 + i)),
        file_download_url: None,
        object_type: Some("file".into()),
        object_name: Some(format!("minutes, \"draft\" {i}.txt")),
        object_path: Some("/Archive".into()),
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
        raw: serde_json::json!({"event_id": format!("api-{i}"), "event_type": "DOWNLOAD"}),
        enrichments: Enrichments::default(),
        identity: None,
        incomplete: None,
        seen_by: vec![],
    }
}

fn incident(i: usize, at: chrono::DateTime<Utc>) -> Incident {
    Incident {
        id: format!("inc-{i:06}"),
        tenant_id: TENANT.into(),
        integration_id: "int-bench".into(),
        policy_id: "builtin.public-file-link".into(),
        policy_name: "File shared by public link".into(),
        policy_version: 0,
        monitor_only: false,
        severity: Severity::Medium,
        object: IncidentObject {
            provider: Provider::Box,
            object_id: Some(format!("{i}")),
            object_type: Some("file".into()),
            object_name: Some(format!("f{i}.csv")),
            object_path: None,
        },
        activity_id: format!("a-{i}"),
        activity_ids: vec![],
        reopened: 0,
        actor_email: Some("ann@example.com".into()),
        owner_email: None,
        matches: vec![MatchSummary {
            rule: "public_link".into(),
            count: 1,
        }],
        status: IncidentStatus::Open,
        actions: vec![],
        history: vec![],
        created_at: at,
        updated_at: at,
        version: 0,
    }
}

async fn get_json(
    client: &reqwest::Client,
    url: &str,
    key: &str,
) -> anyhow::Result<serde_json::Value> {
    Ok(client
        .get(url)
        .bearer_auth(key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

pub async fn run(work_dir: &Path, options: &Options) -> anyhow::Result<Outcome> {
    let dir = work_dir.join("api");
    std::fs::create_dir_all(&dir)?;
    let embedded = EmbeddedBackend::open(&dir)?;
    let settings = Settings {
        api: ApiSettings {
            rate_limit_per_minute: 1_000_000,
            log_settle: Duration::zero(),
            ..ApiSettings::default()
        },
        ..Settings::default()
    };
    let core = Core::new(embedded.backend.clone(), settings, ConnectorRegistry::new())?;
    let now = Utc::now();
    let expires = now + Duration::days(30);

    eprintln!(
        "  storing {} activities and {} incidents",
        options.activities, options.incidents
    );
    let mut behind = Vec::with_capacity(options.activities);
    let mut tasks = tokio::task::JoinSet::new();
    let log_start = Utc::now() - Duration::seconds(1);
    for chunk_start in (0..options.activities).step_by(2000) {
        let end = (chunk_start + 2000).min(options.activities);
        for i in chunk_start..end {
            let a = activity(i, now - Duration::seconds((options.activities - i) as i64));
            behind.push((a.id(), a.event_timestamp));
            let store = core.backend.activities.clone();
            tasks.spawn(async move { store.put_activity(&a, expires).await });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
    }
    for chunk_start in (0..options.incidents).step_by(2000) {
        let end = (chunk_start + 2000).min(options.incidents);
        for i in chunk_start..end {
            let inc = incident(i, now - Duration::seconds((options.incidents - i) as i64));
            let store = core.backend.incidents.clone();
            tasks.spawn(async move { store.create_incident(&inc).await.map(|_| ()) });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
    }
    let anomaly = Anomaly {
        id: "an-bench".into(),
        tenant_id: TENANT.into(),
        integration_id: "int-bench".into(),
        provider: Provider::Box,
        subject: "user:bob@example.com".into(),
        category: AnomalyCategory::DataExfiltration,
        detector: DetectorKind::MassDownload,
        severity: Severity::Medium,
        explanation: "bench".into(),
        evidence: serde_json::json!({}),
        first_activity_at: now - Duration::days(1),
        last_activity_at: now,
        activity_count: options.activities as u64,
        recent_activity_ids: vec![],
        created_at: now - Duration::hours(1),
        updated_at: now,
        version: 0,
    };
    core.backend.threats.create_anomaly(&anomaly).await?;
    for chunk in behind.chunks(5000) {
        core.backend
            .threats
            .add_anomaly_activities(TENANT, &anomaly.id, chunk)
            .await?;
    }
    let issued = casb_shared::access::issue_api_key(TENANT, "bench", now, None);
    core.backend
        .access
        .create_credential(&issued.credential)
        .await?;
    let key = issued.secret;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = casb_shared::http::api::router(core.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();

    // The Anomalous Activity API: every row streamed, counted and checked for duplicates.
    let started = Instant::now();
    let mut response = client
        .post(format!(
            "{base}/shnapi/rest/external/api/v1/queryActivities"
        ))
        .bearer_auth(&key)
        .json(&serde_json::json!({"incident_id": anomaly.id}))
        .send()
        .await?
        .error_for_status()?;
    let mut csv = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        csv.extend_from_slice(&chunk);
    }
    let csv_seconds = started.elapsed().as_secs_f64();
    let text = String::from_utf8(csv)?;
    // Rows end with CRLF; quoted names hold none, so lines are rows.
    let csv_rows = text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .count()
        .saturating_sub(1);

    // Every incident, in pages of 500.
    let mut page_ms = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/incidents?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let t = Instant::now();
        let page = get_json(&client, &url, &key).await?;
        page_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        for inc in page["incidents"].as_array().into_iter().flatten() {
            seen.insert(inc["id"].as_str().unwrap_or_default().to_string());
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }

    // The SIEM log, as OCSF, in pages of 1000, following next_link.
    let started = Instant::now();
    let mut records = HashSet::new();
    let mut url = format!(
        "{base}/api/v1/logs?limit=1000&start={}",
        log_start
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .replace('+', "%2B")
    );
    loop {
        let page = get_json(&client, &url, &key).await?;
        for record in page["records"].as_array().into_iter().flatten() {
            records.insert(
                record["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        match page["next_link"].as_str() {
            Some(next) => url = next.replace("http://localhost", &base),
            None => break,
        }
    }
    let log_seconds = started.elapsed().as_secs_f64();
    server.abort();

    let expected_rows = options.activities.min(Anomaly::KEPT_ACTIVITIES);
    Ok(Outcome {
        activities: options.activities,
        incidents: options.incidents,
        csv_rows,
        csv_bytes: text.len(),
        csv_seconds,
        csv_rows_per_second: csv_rows as f64 / csv_seconds.max(1e-9),
        incident_pages: page_ms.len(),
        incident_page: Latency::of(&page_ms),
        incidents_seen: seen.len(),
        log_records: records.len(),
        log_seconds,
        log_records_per_second: records.len() as f64 / log_seconds.max(1e-9),
        complete: csv_rows == expected_rows
            && seen.len() == options.incidents
            && records.len() == options.activities,
    })
}
