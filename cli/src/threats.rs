//! `casb anomalies` and `casb doctor`: what the threat detectors found, and whether they run.

use anyhow::Context;
use clap::Subcommand;

use crate::admin::{core_for, Target};

#[derive(Subcommand)]
pub enum AnomalyCommand {
    /// The tenant's anomalies, the most recently active first.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One anomaly: its explanation, figures, and the activities behind it, newest first.
    Show {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        /// How many of the activities behind it to print.
        #[arg(long, default_value_t = 20)]
        activities: usize,
        /// Print the activities behind it (the latest 100,000, newest first) as the CSV of the
        /// Anomalous Activity API (`queryActivities`: 56 columns), instead of the summary.
        #[arg(long)]
        csv: bool,
        id: String,
    },
}

pub async fn run(command: AnomalyCommand) -> anyhow::Result<()> {
    match command {
        AnomalyCommand::List {
            target,
            tenant,
            limit,
            json,
        } => {
            casb_shared::domain::validate_id("tenant id", &tenant).map_err(anyhow::Error::msg)?;
            let core = core_for(&target).await?;
            let anomalies = core
                .backend
                .threats
                .list_anomalies(&tenant, limit.max(1))
                .await
                .context("reading anomalies")?;
            if json {
                for anomaly in &anomalies {
                    println!("{}", serde_json::to_string(anomaly)?);
                }
                return Ok(());
            }
            if anomalies.is_empty() {
                println!("no anomalies for tenant {tenant}");
                return Ok(());
            }
            println!(
                "{:<28} {:<8} {:<22} {:<20} {:<32} {:>10}  last activity",
                "id", "severity", "detector", "category", "subject", "activities"
            );
            for a in &anomalies {
                println!(
                    "{:<28} {:<8} {:<22} {:<20} {:<32} {:>10}  {}",
                    a.id,
                    casb_shared::domain::enum_label(&a.severity),
                    a.detector.as_str(),
                    a.category.label(),
                    a.subject,
                    a.activity_count,
                    a.last_activity_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            Ok(())
        }
        AnomalyCommand::Show {
            target,
            tenant,
            activities,
            csv,
            id,
        } => {
            casb_shared::domain::validate_id("tenant id", &tenant).map_err(anyhow::Error::msg)?;
            let core = core_for(&target).await?;
            let threats = &core.backend.threats;
            let anomaly = threats
                .get_anomaly(&tenant, &id)
                .await
                .context("reading the anomaly")?
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no anomaly {id} for tenant {tenant}: `casb anomalies list --tenant {tenant}` lists them"
                    )
                })?;
            if csv {
                return print_csv(&core, &anomaly).await;
            }
            println!("{} ({})", anomaly.detector.title(), anomaly.id);
            println!("  category:   {}", anomaly.category.label());
            println!(
                "  severity:   {}",
                casb_shared::domain::enum_label(&anomaly.severity)
            );
            println!("  subject:    {}", anomaly.subject);
            println!(
                "  period:     {} to {}",
                anomaly.first_activity_at.format("%Y-%m-%d %H:%M:%S UTC"),
                anomaly.last_activity_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
            println!("  why:        {}", anomaly.explanation);
            println!("  figures:    {}", anomaly.evidence);
            println!("  activities: {} behind it", anomaly.activity_count);
            let ids = threats
                .anomaly_activities(&tenant, &id, activities)
                .await
                .context("reading the anomaly's activities")?;
            for activity_id in ids {
                match core
                    .backend
                    .activities
                    .get_activity(&tenant, &activity_id)
                    .await?
                {
                    Some(a) => println!(
                        "    {}  {}  {:<22} {:<30} {}",
                        a.event_timestamp.format("%Y-%m-%d %H:%M:%S"),
                        activity_id,
                        a.event_name,
                        a.actor_email
                            .as_deref()
                            .or(a.actor_id.as_deref())
                            .unwrap_or("-"),
                        a.actor_ip.as_deref().unwrap_or("-")
                    ),
                    // Past the activity retention: the id is all that is left.
                    None => println!("    {activity_id}  (no longer stored)"),
                }
            }
            Ok(())
        }
    }
}

/// The activities behind an anomaly as `queryActivities` CSV, newest first, written row by row
/// (100,000 rows need not sit in memory at once: ids are read in pages).
async fn print_csv(
    core: &casb_shared::Core,
    anomaly: &casb_shared::domain::Anomaly,
) -> anyhow::Result<()> {
    use std::io::Write;

    use casb_shared::http::activity_csv;
    use futures::TryStreamExt;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    out.write_all(activity_csv::header().as_bytes())?;
    let rows =
        activity_csv::anomaly_rows(core.clone(), anomaly.clone(), chrono::DateTime::UNIX_EPOCH);
    futures::pin_mut!(rows);
    while let Some(line) = rows
        .try_next()
        .await
        .context("reading the anomaly's activities")?
    {
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// `casb doctor`: checks the configuration and the back end, and says which detectors run.
pub async fn doctor(target: &Target) -> anyhow::Result<()> {
    let core = core_for(target).await?;
    println!("configuration: ok");
    core.backend
        .integrations
        .list_integrations_page(None, 1)
        .await
        .context("the store cannot be read")?;
    println!(
        "store: ok ({})",
        target
            .stack
            .as_deref()
            .map(|s| format!("stack {s}"))
            .unwrap_or_else(|| format!("data directory {}", target.data_dir.display()))
    );
    core.scanner().context("the DLP engine cannot be built")?;
    println!("DLP engine: ok");
    core.geolocation()
        .context("the geolocation database cannot be read")?;
    println!("threat detectors:");
    for (name, on, detail) in core.threats().status() {
        println!("  [{}] {name}: {detail}", if on { "on " } else { "off" });
    }
    Ok(())
}
