//! `casb demo`: the whole product against a simulated Box tenant, in under a minute.
//!
//! Starts the Box simulator and `casb serve` (embedded back end, fresh data directory), connects
//! the tenant through the real OAuth redirect flow, plays a scenario in which several users
//! upload, edit and share files (some with card numbers, SSNs or cloud keys, some shared
//! externally), lets webhooks and polling bring the activities in, and prints what happened.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use box_simulator::{BoxSimulator, FileAccess, ItemKind, ItemRef, SimConfig};
use casb_connector_box::{BoxAppCredentials, BoxConfig, BoxConnector};
use casb_shared::config::Settings;
use casb_shared::connector::ConnectorRegistry;
use casb_shared::domain::IngestPath;
use casb_shared::local::{connect_like_a_browser, LocalInstance, ServeOptions};
use casb_shared::pipeline::worker::WorkerOptions;
use casb_shared::ports::ActivityQuery;

pub(crate) const TENANT: &str = "demo-tenant";

pub async fn run(keep_data: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let started = Instant::now();
    let sim = BoxSimulator::start(SimConfig {
        record_api_downloads: false,
        ..SimConfig::default()
    })
    .await
    .context("starting the Box simulator")?;
    let (_temporary, data_dir, kept) = data_directory(keep_data)?;
    let config = BoxConfig::for_local(&sim.origin(), &sim.download_base());
    let (options, settings) = serve_settings(&data_dir)?;
    let casb = LocalInstance::start(options, settings, move |backend| {
        let mut registry = ConnectorRegistry::new();
        registry.register(Arc::new(BoxConnector::new(config, backend.secrets.clone())));
        registry
    })
    .await
    .map_err(|e| anyhow!(e))?;
    let base = format!("http://{}", casb.address);
    println!(
        "Box simulator: {}   casb serve: {base}   data: {}",
        sim.origin(),
        data_dir.display()
    );

    sim_credentials(&sim)
        .store(casb.core.backend.secrets.as_ref())
        .await?;

    // Departments; Finance and Sales are watched by webhooks, Engineering only by the event stream.
    let admin = sim.admin_user_id();
    let user = |login: &str| {
        sim.user_id_by_login(&format!("{login}@{}", sim.config().enterprise_domain))
            .ok_or_else(|| anyhow!("no {login}"))
    };
    let (alice, bob, carol) = (user("alice")?, user("bob")?, user("carol")?);
    let box_error = |e: box_simulator::BoxError| anyhow!("simulator: {e:?}");
    let finance = sim
        .create_folder(&admin, "0", "Finance")
        .map_err(box_error)?;
    let engineering = sim
        .create_folder(&admin, "0", "Engineering")
        .map_err(box_error)?;
    let sales = sim.create_folder(&admin, "0", "Sales").map_err(box_error)?;

    let connected = connect_like_a_browser(
        &base,
        "box",
        &[
            ("tenant_id", TENANT),
            ("mode", "both"),
            ("watch_folders", &format!("{finance},{sales}")),
        ],
        &casb.admin_token().await?,
    )
    .await
    .map_err(|e| anyhow!("connecting the simulated Box tenant: {e}"))?;
    println!(
        "Connected '{}' through the OAuth redirect flow: integration {} ({} webhooks)\n",
        connected["display_name"].as_str().unwrap_or("?"),
        connected["integration_id"].as_str().unwrap_or("?"),
        connected["webhook_ids"].as_array().map_or(0, Vec::len)
    );

    // The scenario.
    let cards = "name,card,expiry\nAnn Lee,4111 1111 1111 1111,09/28\nRaj Patel,5555-5555-5555-4444,01/27\nKim Ode,378282246310005,11/26\n";
    let keys = "AWS_ACCESS_KEY_ID=AKIAZ7VRSQ5TNBUQW3XH\n# the documented example key is not a secret: AKIAIOSFODNN7EXAMPLE\nREGION=us-east-1\n";
    let ssns = "customer,ssn\nJo Smith,123-45-6789\nAl Brown,078-05-1121\n";
    let harmless = "Plans for next quarter: hire, ship, celebrate.\n";
    let q4 = sim
        .upload_file(&alice, &finance, "q4-card-payments.csv", cards)
        .map_err(box_error)?;
    let budget = sim
        .upload_file(&alice, &finance, "budget-notes.txt", harmless)
        .map_err(box_error)?;
    let env = sim
        .upload_file(&bob, &engineering, "deploy.env", keys)
        .map_err(box_error)?;
    let readme = sim
        .upload_file(&bob, &engineering, "README.md", harmless)
        .map_err(box_error)?;
    let customers = sim
        .upload_file(&carol, &sales, "customers.csv", "customer\n")
        .map_err(box_error)?;
    let pitch = sim
        .upload_file(&carol, &sales, "pitch.txt", harmless)
        .map_err(box_error)?;
    sim.edit_file(Some(&carol), &customers, ssns)
        .map_err(box_error)?;
    sim.access_file(&alice, &pitch, FileAccess::Preview)
        .map_err(box_error)?;
    sim.access_file(&bob, &budget, FileAccess::Download)
        .map_err(box_error)?;
    sim.share_file(Some(&alice), &q4, "open")
        .map_err(box_error)?;
    sim.share_file(Some(&alice), &budget, "company")
        .map_err(box_error)?;
    sim.share_file(Some(&bob), &readme, "open")
        .map_err(box_error)?;
    sim.add_collaborator(
        Some(&bob),
        ItemRef {
            kind: ItemKind::File,
            id: env.clone(),
        },
        "contractor@gmail.com",
        "editor",
    )
    .map_err(box_error)?;
    sim.add_collaborator(
        Some(&carol),
        ItemRef {
            kind: ItemKind::File,
            id: customers.clone(),
        },
        "buyer@partner.example",
        "viewer",
    )
    .map_err(box_error)?;
    sim.add_collaborator(
        Some(&carol),
        ItemRef {
            kind: ItemKind::File,
            id: pitch.clone(),
        },
        "dave@example.com",
        "viewer",
    )
    .map_err(box_error)?;
    sim.duplicate_next_events(3);
    sim.record_login(&alice, true).map_err(box_error)?;
    sim.record_login(&bob, false).map_err(box_error)?;

    // Threats. Carol's password is guessed: 20 failed sign-ins from one address, then a
    // success from it.
    for _ in 0..20 {
        sim.record_login_from(&carol, false, "175.16.199.5")
            .map_err(box_error)?;
    }
    sim.record_login_from(&carol, true, "175.16.199.5")
        .map_err(box_error)?;
    // Alice signs in from London and, a moment later, from Changchun (placed by the
    // geolocation database, when one is configured).
    sim.record_login_from(&alice, true, "81.2.69.142")
        .map_err(box_error)?;
    sim.record_login_from(&alice, true, "175.16.199.7")
        .map_err(box_error)?;
    // Bob downloads 110 files of the archive in a minute.
    let archive = sim
        .create_folder(&admin, "0", "Archive")
        .map_err(box_error)?;
    for n in 0..110 {
        let file = sim
            .upload_file(&admin, &archive, &format!("minutes-{n:03}.txt"), harmless)
            .map_err(box_error)?;
        sim.access_file(&bob, &file, FileAccess::Download)
            .map_err(box_error)?;
    }

    settle(&casb).await?;
    let anomalies = print_summary(&casb, "pull (event stream)").await?;

    println!("\nBox after remediation");
    let quarantine = sim.find_folder("0", "CASB Quarantine");
    let folder_name = |id: &str| match id {
        id if Some(id) == quarantine.as_deref() => "CASB Quarantine".to_string(),
        id if id == finance => "Finance".into(),
        id if id == engineering => "Engineering".into(),
        id if id == sales => "Sales".into(),
        other => other.to_string(),
    };
    let domain = sim.config().enterprise_domain.clone();
    let mut rows = Vec::new();
    for id in [&q4, &budget, &env, &readme, &customers, &pitch] {
        let Some(file) = sim.file(id) else { continue };
        let external: Vec<_> = file
            .collaborations
            .iter()
            .filter(|c| !c.login.ends_with(&format!("@{domain}")))
            .map(|c| c.login.clone())
            .collect();
        rows.push(vec![
            file.name.clone(),
            folder_name(&file.parent_id),
            file.shared_link
                .as_ref()
                .map_or("-".to_string(), |l| l.access.clone()),
            if external.is_empty() {
                "-".into()
            } else {
                external.join(", ")
            },
        ]);
    }
    table(
        &["file", "folder", "shared link", "external collaborators"],
        rows,
    );
    finish(
        casb,
        &base,
        kept.then_some(data_dir.as_path()),
        &anomalies,
        started,
    )
    .await?;
    sim.shutdown().await;
    Ok(())
}

/// The REST API walk-through, the count of notifications, the time taken; then `casb serve`
/// stops.
pub(crate) async fn finish(
    casb: LocalInstance,
    base: &str,
    kept_data: Option<&std::path::Path>,
    anomalies: &[casb_shared::domain::Anomaly],
    started: Instant,
) -> anyhow::Result<()> {
    rest_api_walkthrough(&casb, base, kept_data, anomalies).await?;
    let notified = casb.embedded.outbox.sent().await?.len();
    println!(
        "\n{notified} notification emails kept in the local outbox. Finished in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    casb.shutdown().await;
    Ok(())
}

/// The demo's data directory: the one given (it must not hold a database yet), or a temporary
/// one (kept alive by the returned guard). The flag says whether it is kept.
pub(crate) fn data_directory(
    keep_data: Option<std::path::PathBuf>,
) -> anyhow::Result<(tempfile::TempDir, std::path::PathBuf, bool)> {
    let temporary = tempfile::tempdir()?;
    let kept = keep_data.is_some();
    let data_dir = keep_data.unwrap_or_else(|| temporary.path().to_path_buf());
    if data_dir.join("casb.db").exists() {
        return Err(anyhow!(
            "{} already holds a casb database; give the demo an empty directory",
            data_dir.display()
        ));
    }
    Ok((temporary, data_dir, kept))
}

/// `casb serve` tuned for a demo: quick polls and retries, notifications to a local outbox.
pub(crate) fn serve_settings(
    data_dir: &std::path::Path,
) -> anyhow::Result<(ServeOptions, Settings)> {
    let options = ServeOptions {
        data_dir: data_dir.to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        poll_interval: Duration::from_secs(1),
        worker: WorkerOptions {
            visibility_timeout: Duration::from_secs(3),
            wait: Duration::from_millis(200),
            ..WorkerOptions::default()
        },
        ..Default::default()
    };
    let settings = Settings {
        notify_emails: vec!["secops@example.com".into()],
        ..Settings::from_env()?
    };
    Ok((options, settings))
}

/// What the CASB did, as tables: activities by path, incidents by policy, response actions,
/// the incidents, and the anomalies with the activities behind them. Returns the anomalies.
pub(crate) async fn print_summary(
    casb: &LocalInstance,
    pull_label: &str,
) -> anyhow::Result<Vec<casb_shared::domain::Anomaly>> {
    let backend = &casb.core.backend;
    let activities = backend
        .activities
        .query_activities(&ActivityQuery {
            tenant_id: TENANT.into(),
            limit: 100_000,
            ..Default::default()
        })
        .await?;
    let incidents = backend.incidents.list_incidents(TENANT, None, 1000).await?;
    println!("Activities ingested (one per user action, whichever paths saw it)");
    let seen_by = |path: IngestPath| {
        activities
            .iter()
            .filter(|a| a.paths().contains(&path))
            .count()
    };
    let both = activities.iter().filter(|a| a.paths().len() == 2).count();
    table(
        &["seen by", "activities"],
        vec![
            vec![
                "push (webhooks)".into(),
                seen_by(IngestPath::Push).to_string(),
            ],
            vec![pull_label.into(), seen_by(IngestPath::Pull).to_string()],
            vec!["both, stored once".into(), both.to_string()],
            vec!["total".into(), activities.len().to_string()],
        ],
    );
    println!("\nIncidents by policy and severity");
    let mut by_policy: BTreeMap<(String, String), usize> = BTreeMap::new();
    for incident in &incidents {
        *by_policy
            .entry((
                incident.policy_name.clone(),
                format!("{:?}", incident.severity),
            ))
            .or_default() += 1;
    }
    table(
        &["policy", "severity", "incidents"],
        by_policy
            .into_iter()
            .map(|((p, s), n)| vec![p, s, n.to_string()])
            .collect(),
    );
    println!("\nResponse actions");
    let mut by_action: BTreeMap<(String, String), usize> = BTreeMap::new();
    for action in incidents.iter().flat_map(|i| &i.actions) {
        *by_action
            .entry((
                action.kind.as_str().to_string(),
                format!("{:?}", action.status),
            ))
            .or_default() += 1;
    }
    table(
        &["action", "outcome", "count"],
        by_action
            .into_iter()
            .map(|((k, s), n)| vec![k, s, n.to_string()])
            .collect(),
    );
    println!("\nIncidents");
    table(
        &["severity", "policy", "object", "matches"],
        incidents
            .iter()
            .map(|i| {
                vec![
                    format!("{:?}", i.severity),
                    i.policy_name.clone(),
                    i.object
                        .object_path
                        .clone()
                        .or(i.object.object_name.clone())
                        .unwrap_or_default(),
                    i.matches
                        .iter()
                        .map(|m| format!("{} x{}", m.rule, m.count))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect(),
    );
    println!("\nAnomalies (casb anomalies show --data-dir DIR --tenant {TENANT} ID)");
    let anomalies = backend.threats.list_anomalies(TENANT, 100).await?;
    table(
        &["detector", "severity", "subject", "activities", "id"],
        anomalies
            .iter()
            .map(|a| {
                vec![
                    a.detector.as_str().to_string(),
                    format!("{:?}", a.severity),
                    a.subject.clone(),
                    a.activity_count.to_string(),
                    a.id.clone(),
                ]
            })
            .collect(),
    );
    for anomaly in &anomalies {
        println!(
            "  {} ({}): {}",
            anomaly.detector.title(),
            anomaly.category.label(),
            anomaly.explanation
        );
        let behind = backend
            .threats
            .anomaly_activities(TENANT, &anomaly.id, 3)
            .await?;
        for id in behind {
            if let Some(a) = backend.activities.get_activity(TENANT, &id).await? {
                println!(
                    "      {}  {:<14} {} from {}",
                    a.event_timestamp.format("%H:%M:%S"),
                    a.event_name,
                    a.actor_email.as_deref().unwrap_or("-"),
                    a.actor_ip.as_deref().unwrap_or("-")
                );
            }
        }
    }
    if casb.core.threats().database().is_none() {
        println!(
            "  (impossible travel needs a geolocation database: run the demo with \
             CASB_GEOIP_DB=/path/to/GeoLite2-City.mmdb)"
        );
    }
    Ok(anomalies)
}

/// Creates an API key for the demo tenant, reads the incidents and an anomaly's activities
/// through the REST API with it (so the commands printed are known to work), and prints the
/// `curl` commands that do the same.
async fn rest_api_walkthrough(
    casb: &LocalInstance,
    base: &str,
    kept_data: Option<&std::path::Path>,
    anomalies: &[casb_shared::domain::Anomaly],
) -> anyhow::Result<()> {
    let issued = casb_shared::access::issue_api_key(TENANT, "casb demo", chrono::Utc::now(), None);
    casb.core
        .backend
        .access
        .create_credential(&issued.credential)
        .await?;
    let key = &issued.secret;
    let client = reqwest::Client::new();
    let incidents: serde_json::Value = client
        .get(format!("{base}/api/v1/incidents?limit=500"))
        .bearer_auth(key)
        .send()
        .await?
        .error_for_status()
        .context("listing incidents through the REST API")?
        .json()
        .await?;
    let incident_count = incidents["incidents"].as_array().map_or(0, Vec::len);
    println!("\nREST API (OpenAPI 3.1 document at /openapi.json)");
    println!(
        "  API key {} created for {TENANT} (casb api-key create --tenant {TENANT}); read through it just now:",
        issued.credential.id
    );
    println!("    GET  /api/v1/incidents -> {incident_count} incidents");
    let anomaly = anomalies.iter().max_by_key(|a| a.activity_count);
    if let Some(anomaly) = anomaly {
        let csv = client
            .post(format!(
                "{base}/shnapi/rest/external/api/v1/queryActivities"
            ))
            .bearer_auth(key)
            .json(&serde_json::json!({ "incident_id": anomaly.id }))
            .send()
            .await?
            .error_for_status()
            .context("reading an anomaly's activities through the REST API")?
            .text()
            .await?;
        println!(
            "    POST /shnapi/rest/external/api/v1/queryActivities -> header + {} activity rows of the {} anomaly",
            csv.lines().count().saturating_sub(1),
            anomaly.detector.as_str()
        );
    }
    match kept_data {
        Some(dir) => println!(
            "  To run them yourself, start `casb serve --data-dir {}` and:",
            dir.display()
        ),
        None => println!(
            "  To run them yourself, run the demo with --data-dir DIR (this one's data is deleted), start `casb serve --data-dir DIR`, and with the key it prints:"
        ),
    }
    println!("    KEY={key}");
    println!(
        "    curl -s -H \"Authorization: Bearer $KEY\" http://127.0.0.1:8080/api/v1/incidents"
    );
    if let Some(anomaly) = anomaly {
        println!(
            "    curl -s -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' -d '{{\"incident_id\": \"{}\"}}' http://127.0.0.1:8080/shnapi/rest/external/api/v1/queryActivities",
            anomaly.id
        );
    }
    Ok(())
}

/// Waits until the queues are empty and every incident's actions are final, twice in a row
/// with a poll in between (bounded: the demo must finish well under a minute).
pub(crate) async fn settle(casb: &LocalInstance) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut quiet = 0;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let backend = &casb.core.backend;
        let busy = backend.activity_queue.approximate_depth().await?
            + backend.action_queue.approximate_depth().await?;
        let pending = backend
            .incidents
            .list_incidents(TENANT, None, 1000)
            .await?
            .iter()
            .any(|i| i.actions.iter().any(|a| !a.status.is_final()));
        quiet = if busy == 0 && !pending { quiet + 1 } else { 0 };
        if quiet >= 4 {
            return Ok(());
        }
    }
    eprintln!(
        "warning: the pipeline had not settled after 45 s; the summary shows where it stands"
    );
    Ok(())
}

pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        println!("  {}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row);
    }
}

/// The simulator's app credentials, as an admin would copy them from Box's Developer Console.
fn sim_credentials(sim: &BoxSimulator) -> BoxAppCredentials {
    let config = sim.config();
    BoxAppCredentials {
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.clone(),
        webhook_primary_key: Some(config.webhook_primary_key.clone()),
        webhook_secondary_key: Some(config.webhook_secondary_key.clone()),
    }
}
