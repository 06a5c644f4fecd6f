//! `casb-bench-ingest`: the ingest benchmark, on the embedded back end, on one machine, against
//! the Box simulator. See README.md beside this crate for what each figure means.

mod api;
mod backlog;
mod classify;
mod crash;
mod db;
mod incidents;
mod sources;
mod stats;
mod threats;
mod webhooks;
mod world;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use serde_json::{json, Value};

use stats::ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    /// 1 and 2: webhook ack latency under a burst, and webhook -> stored activity throughput.
    Webhooks,
    /// 3: poll backlog -> stored activity throughput.
    Backlog,
    /// 4: activity -> incident latency for public shares of files with card numbers.
    Incidents,
    /// 5: kill -9 crash run of a separate `casb serve` process.
    Crash,
    /// 6: DLP on every uploaded file, on real documents; later shares judged without download.
    Classify,
    /// 7: a Netskope backlog pulled, stored and exported as OCSF (JSON Lines and Parquet).
    Sources,
    /// 8: the threat detectors' cost on the inspector's path, and their precision on two weeks
    /// of ordinary work with planted threats.
    Threats,
    /// 9: the REST API over HTTP: queryActivities CSV, incident pages, the SIEM log.
    Api,
}

#[derive(Parser, Debug)]
#[command(
    name = "casb-bench-ingest",
    about = "Ingest benchmark of casb serve (embedded back end) against the Box simulator"
)]
struct Args {
    /// Small sizes, to check in under a minute or so that everything works (the figures are not
    /// the ones to publish).
    #[arg(long)]
    quick: bool,
    /// Parts to run, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    parts: Vec<Part>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Webhook deliveries in the burst [10000; quick 500].
    #[arg(long)]
    deliveries: Option<usize>,
    /// Concurrent webhook senders.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Events in the poll backlog [100000; quick 5000].
    #[arg(long)]
    backlog: Option<usize>,
    /// Stop creating backlog events after this many seconds and measure what exists.
    #[arg(long, default_value_t = 180)]
    backlog_create_budget: u64,
    /// Public shares of files with card numbers [200; quick 20].
    #[arg(long)]
    shares: Option<usize>,
    /// Shares per second.
    #[arg(long, default_value_t = 20.0)]
    share_rate: f64,
    /// casb serve's poll interval during the incident part (its default is 60 s).
    #[arg(long, default_value_t = 60)]
    incident_poll_interval: u64,
    /// Files the crash run's script uploads and shares [60; quick 12].
    #[arg(long)]
    crash_files: Option<usize>,
    /// SIGKILLs during the crash run [5; quick 2].
    #[arg(long)]
    kills: Option<usize>,
    /// Seed of the crash run's kill times and pauses (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// The `casb` binary for the crash run (default: `casb` beside this binary, i.e.
    /// target/release/casb; build it with `cargo build --release -p casb-cli`).
    #[arg(long)]
    casb_bin: Option<PathBuf>,
    /// CASB_POLL_INTERVAL_SECONDS for the crash run's casb serve.
    #[arg(long, default_value_t = 1)]
    crash_poll_interval: u64,
    /// CASB_POLL_JOB_BUDGET_SECONDS for the crash run's casb serve (default 120 in the product;
    /// a poll job killed mid-run holds its stream's lease for its budget plus 60 s).
    #[arg(long, default_value_t = 20)]
    crash_poll_job_budget: u64,
    /// How long the crash run may take to drain after the script and the kills.
    #[arg(long, default_value_t = 300)]
    crash_drain_timeout: u64,
    /// Real documents uploaded in the classify part [500; quick 60].
    #[arg(long)]
    documents: Option<usize>,
    /// Where the classify part's documents come from.
    #[arg(long, default_value = "/usr/share/doc")]
    documents_from: PathBuf,
    /// Netskope events in the sources part [20000; quick 2000].
    #[arg(long)]
    source_events: Option<usize>,
    /// Activities in the threats part [50000; quick 4000], by this many users [200; quick 20].
    #[arg(long)]
    threat_activities: Option<usize>,
    #[arg(long)]
    threat_users: Option<usize>,
    /// Activities behind one anomaly and in the SIEM log in the api part [100000; quick 5000],
    /// and incidents paged through [10000; quick 1000].
    #[arg(long)]
    api_activities: Option<usize>,
    #[arg(long)]
    api_incidents: Option<usize>,
    /// Where data directories go (default: a fresh directory under the system temp dir).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the data directories afterwards.
    #[arg(long)]
    keep: bool,
}

fn pick<T>(explicit: Option<T>, full: T, quick: T, is_quick: bool) -> T {
    explicit.unwrap_or(if is_quick { quick } else { full })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
    let args = Args::parse();
    let parts = if args.parts.is_empty() {
        vec![
            Part::Webhooks,
            Part::Backlog,
            Part::Incidents,
            Part::Crash,
            Part::Classify,
            Part::Sources,
            Part::Threats,
            Part::Api,
        ]
    } else {
        args.parts.clone()
    };
    let quick = args.quick;
    let work_dir = args.work_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("casb-bench-ingest-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
    });
    let casb_bin = match &args.casb_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|dir| dir.join("casb"))
            .unwrap_or_else(|| PathBuf::from("casb")),
    };

    let started = Instant::now();
    let mut results = serde_json::Map::new();
    let mut errors = serde_json::Map::new();
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut crash_rows: Vec<[String; 6]> = Vec::new();
    let mut failed = false;

    for part in parts {
        let part_started = Instant::now();
        let name = format!("{part:?}").to_lowercase();
        eprintln!("== {name} ==");
        let result: anyhow::Result<Value> = match part {
            Part::Webhooks => {
                let options = webhooks::Options {
                    deliveries: pick(args.deliveries, 10_000, 500, quick),
                    concurrency: args.concurrency,
                    drain_timeout: Duration::from_secs(600),
                };
                webhooks::run(&work_dir, &options).await.map(|o| {
                    rows.push([
                        "1".into(),
                        format!(
                            "Webhook ack latency ({} signed deliveries, concurrency {})",
                            o.deliveries, o.concurrency
                        ),
                        o.ack.brief(),
                        format!(
                            "target p99 < {} ms: {}",
                            ms(o.ack_target_p99_ms),
                            if o.ack_target_met { "met" } else { "NOT met" }
                        ),
                    ]);
                    let others = if o.other_answers.is_empty() && o.transport_errors == 0 {
                        "all answered 200 queued".to_string()
                    } else {
                        format!(
                            "{} queued; other answers {:?}; {} transport errors; first: {}",
                            o.queued,
                            o.other_answers,
                            o.transport_errors,
                            o.first_error.clone().unwrap_or_default()
                        )
                    };
                    rows.push([
                        "1".into(),
                        "Webhook acks per second during the burst".into(),
                        format!("{:.0}/s ({} in {:.2} s)", o.acks_per_second, o.deliveries, o.burst_seconds),
                        others,
                    ]);
                    rows.push([
                        "2".into(),
                        "Activities/s, webhook to stored activity".into(),
                        if o.activities_per_second > 0.0 {
                            format!(
                                "{:.0}/s ({} in {:.1} s from the first delivery; {:.1} s after the burst)",
                                o.activities_per_second,
                                o.activities_expected,
                                o.webhook_to_stored_seconds,
                                o.drain_after_burst_seconds
                            )
                        } else {
                            format!("did not finish: {} of {} stored", o.activities_stored, o.activities_expected)
                        },
                        format!(
                            "stored {}, lost {}, doubled {}, incomplete {}",
                            o.activities_stored, o.lost, o.doubled, o.incomplete_activities
                        ),
                    ]);
                    failed |= !o.complete;
                    serde_json::to_value(&o).unwrap_or_default()
                })
            }
            Part::Backlog => {
                let options = backlog::Options {
                    events: pick(args.backlog, 100_000, 5_000, quick),
                    create_budget: Duration::from_secs(args.backlog_create_budget),
                    drain_timeout: Duration::from_secs(900),
                };
                backlog::run(&work_dir, &options).await.map(|o| {
                    rows.push([
                        "3".into(),
                        format!(
                            "Activities/s from a poll backlog of {} events",
                            o.events_created
                        ),
                        if o.activities_per_second > 0.0 {
                            format!(
                                "{:.0}/s ({} in {:.1} s from the first poll job; first stored after {:.2} s)",
                                o.activities_per_second,
                                o.events_created,
                                o.poll_to_stored_seconds,
                                o.first_activity_seconds
                            )
                        } else {
                            format!("did not finish: {} of {} stored", o.activities_stored, o.events_created)
                        },
                        format!(
                            "{}stored {} (difference {}); backlog made in {:.1} s ({} LOGIN/FAILED_LOGIN by {} users in {} rounds)",
                            o.shortfall.clone().map(|s| format!("{s}; ")).unwrap_or_default(),
                            o.activities_stored,
                            o.difference,
                            o.create_seconds,
                            o.events_created,
                            o.users,
                            o.rounds
                        ),
                    ]);
                    failed |= !o.complete;
                    serde_json::to_value(&o).unwrap_or_default()
                })
            }
            Part::Incidents => {
                let options = incidents::Options {
                    shares: pick(args.shares, 200, 20, quick),
                    per_second: args.share_rate,
                    poll_interval: Duration::from_secs(args.incident_poll_interval.max(1)),
                    timeout: Duration::from_secs(300),
                };
                incidents::run(&work_dir, &options).await.map(|o| {
                    rows.push([
                        "4".into(),
                        format!(
                            "Activity to incident, sensitive file shared publicly ({} shares at {:.0}/s)",
                            o.shares, o.shares_per_second
                        ),
                        o.sensitive_incident.brief(),
                        format!(
                            "{} of {} found; by the incident's created_at: p50 {} / p99 {} ms",
                            o.sensitive_incidents_found,
                            o.shares,
                            ms(o.sensitive_incident_by_created_at.p50_ms),
                            ms(o.sensitive_incident_by_created_at.p99_ms)
                        ),
                    ]);
                    rows.push([
                        "4".into(),
                        "Activity to incident, public link (no content scan)".into(),
                        o.public_link_incident.brief(),
                        format!(
                            "{} of {} found; poll interval {} s (push path first)",
                            o.public_link_incidents_found, o.shares, o.poll_interval_seconds
                        ),
                    ]);
                    failed |= !o.complete;
                    serde_json::to_value(&o).unwrap_or_default()
                })
            }
            Part::Classify => {
                let options = classify::Options {
                    files: pick(args.documents, 500, 60, quick),
                    max_file_bytes: 4 << 20,
                    shares: pick(args.documents, 50, 10, quick).min(50),
                    source: args.documents_from.clone(),
                    timeout: Duration::from_secs(600),
                };
                classify::run(&work_dir, &options).await.map(|o| {
                    rows.push([
                        "6".into(),
                        format!(
                            "Files classified on upload ({} real documents, {:.1} MB, from {})",
                            o.files,
                            o.bytes as f64 / 1e6,
                            o.source
                        ),
                        format!(
                            "{:.1} files/s, {:.2} MB/s ({} in {:.1} s)",
                            o.files_per_second, o.megabytes_per_second, o.classified, o.seconds
                        ),
                        format!(
                            "coverage: {} complete, {} partial, {} uninspected; {} with findings; top: {}",
                            o.complete_coverage,
                            o.partial_coverage,
                            o.uninspected,
                            o.files_with_findings,
                            o.top_detectors
                                .iter()
                                .map(|(d, n)| format!("{d} {n}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ]);
                    rows.push([
                        "6".into(),
                        "Downloads when classified files are shared later".into(),
                        format!(
                            "{} (for {} shares; {} downloads for {} uploads)",
                            o.downloads_for_shares, o.shares, o.downloads_for_uploads, o.files
                        ),
                        format!("{} public-link incidents", o.share_incidents),
                    ]);
                    failed |= !o.complete;
                    serde_json::to_value(&o).unwrap_or_default()
                })
            }
            Part::Sources => {
                let options = sources::Options {
                    events: pick(args.source_events, 20_000, 2_000, quick),
                    page_size: 1000,
                };
                sources::run(&work_dir, &options).await.map(|o| {
                    rows.push([
                        "7".into(),
                        format!("Netskope backlog pulled through the dataexport iterator ({} events, pages of {})", o.events, options.page_size),
                        format!("{:.0} events/s queued ({} in {:.1} s)", o.pulled_per_second, o.pulled, o.pull_seconds),
                        format!("stored by the inspector at {:.0}/s ({} in {:.1} s)", o.stored_per_second, o.stored, o.inspect_seconds),
                    ]);
                    rows.push([
                        "7".into(),
                        "Exported as OCSF: gzip JSON Lines and Security Lake Parquet".into(),
                        format!("{:.0} records/s ({} in {:.1} s)", o.exported_per_second, o.exported, o.export_seconds),
                        format!(
                            "{} JSON Lines files, {:.1} MB; {} Parquet files, {:.1} MB; {} lost, {} doubled",
                            o.json_lines_files, o.json_lines_bytes as f64 / 1e6, o.parquet_files, o.parquet_bytes as f64 / 1e6, o.lost, o.doubled
                        ),
                    ]);
                    failed |= o.lost > 0 || o.doubled > 0 || o.pulled != o.events;
                    serde_json::to_value(&o).unwrap_or_default()
                })
            }
            Part::Threats => {
                let options = threats::Options {
                    activities: pick(args.threat_activities, 50_000, 4_000, quick),
                    users: pick(args.threat_users, 200, 20, quick),
                };
                threats::run(&work_dir, &options).await.map(|o| {
                    rows.push([
                        "8".into(),
                        format!(
                            "Threat detectors on the inspector's path ({} activities by {} users over {} days, 8 at a time)",
                            o.activities, o.users, o.days
                        ),
                        format!(
                            "{:.0} activities/s with, {:.0}/s without ({:.0} us each)",
                            o.with_detectors_per_second, o.without_detectors_per_second, o.overhead_us_per_activity
                        ),
                        format!(
                            "{}/{} planted threats found, {} false anomalies; state {:.1} KB mean, {:.1} KB max per subject",
                            o.planted_found, o.planted, o.false_anomalies, o.state_bytes_mean / 1e3, o.state_bytes_max as f64 / 1e3
                        ),
                    ]);
                    failed |= o.planted_found != o.planted || o.false_anomalies > 0;
                    serde_json::to_value(&o).unwrap_or_default()
                })
            }
            Part::Api => {
                let options = api::Options {
                    activities: pick(args.api_activities, 100_000, 5_000, quick),
                    incidents: pick(args.api_incidents, 10_000, 1_000, quick),
                };
                api::run(&work_dir, &options).await.map(|o| {
                    rows.push([
                        "9".into(),
                        format!(
                            "queryActivities: the activities behind one anomaly as CSV ({} rows, streamed over HTTP)",
                            o.csv_rows
                        ),
                        format!(
                            "{:.0} rows/s ({:.1} MB in {:.2} s)",
                            o.csv_rows_per_second,
                            o.csv_bytes as f64 / 1e6,
                            o.csv_seconds
                        ),
                        format!(
                            "SIEM log: {} OCSF records in pages of 1000 at {:.0}/s",
                            o.log_records, o.log_records_per_second
                        ),
                    ]);
                    rows.push([
                        "9".into(),
                        format!("Incident pages of 500 ({} incidents, {} pages)", o.incidents, o.incident_pages),
                        o.incident_page.brief(),
                        format!(
                            "{} incidents seen once each{}",
                            o.incidents_seen,
                            if o.complete { "" } else { "; INCOMPLETE" }
                        ),
                    ]);
                    failed |= !o.complete;
                    serde_json::to_value(&o).unwrap_or_default()
                })
            }
            Part::Crash => {
                let options = crash::Options {
                    files: pick(args.crash_files, 60, 12, quick),
                    kills: pick(args.kills, 5, 2, quick),
                    seed,
                    casb_bin: casb_bin.clone(),
                    poll_interval_seconds: args.crash_poll_interval.max(1),
                    poll_job_budget_seconds: args.crash_poll_job_budget.max(1),
                    drain_timeout: Duration::from_secs(args.crash_drain_timeout),
                };
                eprintln!("  seed {seed}");
                crash::run(&work_dir, &options).await.map(|o| {
                    let tally = |label: &str, t: &crash::Tally| {
                        [
                            label.to_string(),
                            t.expected.to_string(),
                            t.found.to_string(),
                            t.lost.to_string(),
                            t.doubled.to_string(),
                            t.unexpected.to_string(),
                        ]
                    };
                    crash_rows.push(tally("activities (scripted uploads and shares)", &o.activities));
                    crash_rows.push(tally(
                        "activities (every action in the event stream, incl. casb's own)",
                        &o.stream_activities,
                    ));
                    crash_rows.push(tally("incidents", &o.incidents));
                    crash_rows.push(tally(
                        "response actions recorded as done on those incidents",
                        &o.actions,
                    ));
                    crash_rows.push(tally("quarantines at Box", &o.quarantines));
                    crash_rows.push(tally("shared-link removals at Box", &o.link_removals));
                    crash_rows.push(tally("notifications (outbox)", &o.notifications));
                    rows.push([
                        "5".into(),
                        format!(
                            "Crash run: {} files ({} with card numbers), {} SIGKILLs (seed {})",
                            o.files,
                            o.sensitive_files,
                            o.kills.len(),
                            o.seed
                        ),
                        format!(
                            "{}; {}",
                            match (o.lost_or_doubled(), o.drained) {
                                (0, true) if o.dead_lettered == 0 => "nothing lost, nothing doubled".to_string(),
                                (0, _) => "nothing lost or doubled at Box or in the store, but see notes".to_string(),
                                (n, _) => format!("{n} LOST OR DOUBLED (see the crash table)"),
                            },
                            if o.drained {
                                format!("drained {:.1} s after the script ({:.1} s)", o.drain_seconds, o.script_seconds)
                            } else {
                                format!("NOT drained {:.0} s after the script ({:.1} s)", o.drain_seconds, o.script_seconds)
                            }
                        ),
                        format!(
                            "unfinished incident actions {}; dead-lettered messages {}; actions tried more than once {}; queues after {:?}; casb log: {} ERROR, {} WARN, {} panics",
                            o.unfinished_actions,
                            o.dead_lettered,
                            o.actions_retried,
                            o.queues_after,
                            o.log_errors,
                            o.log_warnings,
                            o.log_panics
                        ),
                    ]);
                    failed |= !o.ok;
                    serde_json::to_value(&o).unwrap_or_default()
                })
            }
        };
        match result {
            Ok(value) => {
                results.insert(name.clone(), value);
            }
            Err(error) => {
                failed = true;
                eprintln!("{name} failed: {error:#}");
                rows.push([
                    "-".into(),
                    format!("{name}: FAILED"),
                    format!("{error:#}"),
                    String::new(),
                ]);
                errors.insert(name.clone(), json!(format!("{error:#}")));
            }
        }
        eprintln!("   ({name}: {:.1} s)", part_started.elapsed().as_secs_f64());
    }

    let machine = json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
            t.lines().find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_string()))
        }),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    let document = json!({
        "benchmark": "casb-bench-ingest",
        "mode": if quick { "quick" } else { "full" },
        "finished_at": chrono::Utc::now().to_rfc3339(),
        "seconds": started.elapsed().as_secs_f64(),
        "machine": machine,
        "results": results,
        "errors": errors,
    });

    println!();
    println!(
        "## casb ingest benchmark ({}; embedded back end, Box simulator; {} cores, {} build)",
        if quick {
            "quick mode: small sizes"
        } else {
            "full"
        },
        machine["cores"],
        machine["profile"].as_str().unwrap_or("?")
    );
    println!();
    println!("| # | measure | result | target / notes |");
    println!("|---|---|---|---|");
    for [n, what, result, note] in &rows {
        println!("| {n} | {what} | {result} | {} |", note.replace('|', "/"));
    }
    if !crash_rows.is_empty() {
        println!();
        println!("Crash run (expected = from the script; lost and doubled must be 0):");
        println!();
        println!("| what | expected | found | lost | doubled | unexpected |");
        println!("|---|---:|---:|---:|---:|---:|");
        for [what, e, f, l, d, u] in &crash_rows {
            println!("| {what} | {e} | {f} | {l} | {d} | {u} |");
        }
    }
    println!();
    println!("Total {:.1} s.", started.elapsed().as_secs_f64());
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_string_pretty(&document)?)
            .with_context(|| format!("writing {}", out.display()))?;
        println!("Results written to {}", out.display());
    }
    if !args.keep && !failed && args.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&work_dir);
    } else {
        println!("Data kept in {}", work_dir.display());
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
