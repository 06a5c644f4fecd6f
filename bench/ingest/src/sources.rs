//! Part 7: a security-event source end to end, in one process on the embedded back end: a
//! backlog of Netskope events (every class seed 004 maps, and some it does not) pulled from the
//! simulator through the dataexport iterator, stored by the inspector, then exported as OCSF
//! JSON Lines and Security Lake Parquet. Every event must come out exactly once.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use casb_shared::backend::{EmbeddedBackend, SecurityLakeTarget};
use casb_shared::config::Settings;
use casb_shared::connector::{Connector, ConnectorRegistry};
use casb_shared::domain::{CredentialKind, IngestMode, Integration, IntegrationStatus, Provider};
use casb_shared::pipeline::worker::{run_once, WorkerOptions};
use casb_shared::pipeline::{exporter, inspector, poller};
use casb_shared::Core;
use serde::Serialize;
use serde_json::{json, Value};

pub struct Options {
    pub events: usize,
    pub page_size: usize,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub events: usize,
    pub pulled: usize,
    pub pull_seconds: f64,
    pub pulled_per_second: f64,
    pub stored: usize,
    pub inspect_seconds: f64,
    pub stored_per_second: f64,
    pub exported: usize,
    pub export_seconds: f64,
    pub exported_per_second: f64,
    pub json_lines_files: usize,
    pub json_lines_bytes: u64,
    pub parquet_files: usize,
    pub parquet_bytes: u64,
    /// Event ids found in the JSON Lines more than once, and never.
    pub doubled: usize,
    pub lost: usize,
}

/// Real-shaped events of each kind, cycled: what a tenant's application, audit, network and
/// alert streams carry.
fn event(n: usize, now: i64) -> (&'static str, Value) {
    let base = json!({"timestamp": now - 3000 + (n as i64 % 2000), "user": format!("user{}@example.com", n % 300),
                      "srcip": format!("198.51.100.{}", n % 250), "src_country": "DE", "app": "Box"});
    let (stream, fields) = match n % 6 {
        0 => (
            "events/application",
            json!({"record_type": "application", "activity": "Upload", "alert": "no", "file_name": format!("report-{n}.xlsx"), "file_size": 40_000 + n}),
        ),
        1 => (
            "events/application",
            json!({"record_type": "application", "activity": "Download", "alert": "no", "file_name": format!("report-{n}.xlsx")}),
        ),
        2 => (
            "events/audit",
            json!({"record_type": "audit", "audit_log_event": "Login Successful"}),
        ),
        3 => (
            "events/network",
            json!({"record_type": "network", "action": "Allow", "dstip": "203.0.113.9"}),
        ),
        4 => (
            "events/page",
            json!({"record_type": "page", "url": format!("https://example.com/{n}")}),
        ),
        _ => (
            "alerts/dlp",
            json!({"record_type": "alert", "alert": "yes", "alert_type": "DLP", "alert_name": "PCI", "dlp_incident_id": 3_188_340_271_830_183_961u64 + n as u64, "file_name": format!("cards-{n}.csv")}),
        ),
    };
    let mut event = base;
    for (k, v) in fields.as_object().into_iter().flatten() {
        event[k] = v.clone();
    }
    (stream, event)
}

fn files_under(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found
}

pub async fn run(work_dir: &Path, options: &Options) -> anyhow::Result<Outcome> {
    let sim = netskope_simulator::NetskopeSimulator::start(netskope_simulator::SimConfig {
        page_size: options.page_size,
        ..Default::default()
    })
    .await?;
    let now = chrono::Utc::now().timestamp();
    let mut by_stream: std::collections::BTreeMap<&str, Vec<Value>> = Default::default();
    for n in 0..options.events {
        let (stream, event) = event(n, now);
        by_stream.entry(stream).or_default().push(event);
    }
    let mut ids = std::collections::BTreeSet::new();
    for (stream, events) in by_stream {
        ids.extend(sim.push_events(stream, events)?);
    }

    let dir = work_dir.join("sources");
    std::fs::create_dir_all(&dir)?;
    let embedded = EmbeddedBackend::open(&dir)?.with_security_lake(SecurityLakeTarget {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        source_prefix: "casb".into(),
    });
    let connector: Arc<dyn Connector> = Arc::new(casb_connector_netskope::NetskopeConnector::new(
        casb_connector_netskope::NetskopeConfig::default().allowing(&sim.base_url()),
    ));
    let mut registry = ConnectorRegistry::new();
    registry.register(connector.clone());
    let core = Core::new(embedded.backend.clone(), Settings::default(), registry)?;
    let created = chrono::Utc::now();
    let integration = Integration {
        id: "int-bench-netskope".into(),
        tenant_id: "bench".into(),
        provider: Provider::Netskope,
        external_tenant_id: None,
        display_name: "Netskope (simulator)".into(),
        mode: IngestMode::Pull,
        status: IntegrationStatus::Connected,
        credential: CredentialKind::ApiToken,
        webhook_ids: vec![],
        settings: json!({"tenant": sim.base_url(), "event_types": ["application", "audit", "network", "page"],
                         "alert_types": ["dlp"], "backfill_hours": "2"}),
        created_at: created,
        updated_at: created,
    };
    core.backend
        .integrations
        .put_integration(&integration)
        .await?;
    core.tokens
        .store_secret(&integration, &"netskope-sim-token".to_string().into())
        .await?;
    poller::seed_checkpoints(&core, connector.as_ref(), &integration).await;

    let started = Instant::now();
    let mut pulled = 0;
    for spec in connector.streams(&integration) {
        loop {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            let stats =
                poller::poll_stream(&core, connector.as_ref(), &integration, &spec, deadline)
                    .await?;
            pulled += stats.queued;
            if !stats.continued {
                break;
            }
        }
    }
    let pull_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let worker = WorkerOptions {
        batch_size: 10,
        visibility_timeout: Duration::from_secs(60),
        wait: Duration::from_millis(50),
    };
    let mut stored = 0;
    loop {
        let handled = run_once(&core.backend.activity_queue, &worker, |body| {
            let core = core.clone();
            async move { inspector::handle_message(&core, &body).await.map(|_| ()) }
        })
        .await?;
        if handled == 0 {
            break;
        }
        stored += handled;
    }
    let inspect_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut exported = 0;
    loop {
        let summary = exporter::run(&core).await?;
        exported += summary.records;
        if summary.records == 0 {
            break;
        }
    }
    let export_seconds = started.elapsed().as_secs_f64();

    let json_lines = files_under(&dir.join("export"), ".jsonl.gz");
    let parquet = files_under(&dir.join("security-lake"), ".gz.parquet");
    let size = |files: &[std::path::PathBuf]| {
        files
            .iter()
            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .sum::<u64>()
    };
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for file in &json_lines {
        for record in casb_export::read_jsonl_gzip(&std::fs::read(file)?)? {
            // OCSF records carry the activity id; events forwarded raw carry it as `uid`.
            let uid = record["metadata"]["uid"]
                .as_str()
                .or_else(|| record["uid"].as_str())
                .unwrap_or_default()
                .to_string();
            *seen.entry(uid).or_default() += 1;
        }
    }
    let doubled = seen.values().filter(|n| **n > 1).count();
    let lost = ids
        .iter()
        .map(|id| casb_shared::domain::activity_id(Provider::Netskope, &integration.id, id))
        .filter(|id| !seen.contains_key(id))
        .count();
    let rate = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    Ok(Outcome {
        events: options.events,
        pulled,
        pull_seconds,
        pulled_per_second: rate(pulled, pull_seconds),
        stored,
        inspect_seconds,
        stored_per_second: rate(stored, inspect_seconds),
        exported,
        export_seconds,
        exported_per_second: rate(exported, export_seconds),
        json_lines_files: json_lines.len(),
        json_lines_bytes: size(&json_lines),
        parquet_files: parquet.len(),
        parquet_bytes: size(&parquet),
        doubled,
        lost,
    })
}
