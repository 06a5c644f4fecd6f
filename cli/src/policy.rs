//! `casb policy ...`: check a policy file, apply it to a tenant, show what a tenant runs, and try
//! a policy set on stored history without acting.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use casb_shared::content::ContentScanner;
use casb_shared::policy::{self, DEFAULT_POLICIES_YAML};
use clap::Subcommand;

use crate::admin::{core_for, Target};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file (YAML or JSON); every problem is printed with its line and field.
    /// Detector ids are checked against the built-in catalog and CASB_DLP_POLICY's rules.
    Validate { file: PathBuf },
    /// Store a policy file as the tenant's next policy set version; the inspectors use it
    /// within CASB_POLICY_CACHE_SECONDS.
    Apply {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        file: PathBuf,
    },
    /// Print the policy set a tenant runs (its newest applied version, or the default set), or
    /// an earlier version.
    Show {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        version: Option<u64>,
    },
    /// Print the default policy set: the starting point for a tenant's own.
    Default,
    /// Dry-run a policy file over the tenant's stored activities: print what would have fired.
    /// Creates no incident, takes no action, downloads nothing (content conditions use the
    /// classifications already stored).
    Test {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        /// How far back: `7d`, `12h`, `30m`.
        #[arg(long, default_value = "7d")]
        since: String,
        /// At most this many activities, newest first.
        #[arg(long, default_value_t = 100_000)]
        limit: usize,
        /// One JSON object per would-be incident instead of a table.
        #[arg(long)]
        json: bool,
        file: PathBuf,
    },
}

fn read(file: &Path) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the policy file {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    Ok((text, name))
}

/// `7d`, `12h`, `30m` as a duration.
pub fn parse_since(text: &str) -> anyhow::Result<chrono::Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow!("'{text}' is not a duration: write it as 7d, 12h or 30m"))?;
    match unit {
        "d" => Ok(chrono::Duration::days(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        _ => bail!("'{text}' is not a duration: write it as 7d, 12h or 30m"),
    }
}

fn detectors() -> anyhow::Result<Vec<(String, casb_shared::dlp::Category)>> {
    let scanner: Box<dyn ContentScanner> =
        match casb_shared::config::optional_env("CASB_DLP_POLICY") {
            Some(path) => {
                let rules = casb_shared::dlp::policy_file::load(Path::new(&path))
                    .map_err(|e| anyhow!("CASB_DLP_POLICY {path}: {e}"))?;
                Box::new(
                    casb_shared::content::DlpScanner::from_policy(&rules)
                        .map_err(|e| anyhow!("CASB_DLP_POLICY {path}: {e}"))?,
                )
            }
            None => Box::new(casb_shared::content::DlpScanner::for_incidents()),
        };
    Ok(scanner.detectors())
}

fn warn_unknown_channels(set: &policy::PolicySet, known: &[&str]) {
    for (policy, channel) in set.unknown_channels(known) {
        eprintln!(
            "warning: policy {policy} notifies channel '{channel}', which this process's \
             channels file does not define (known: {}); unless the remediator's does, the \
             action will be recorded as unsupported",
            known.join(", ")
        );
    }
}

pub async fn run(command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Validate { file } => {
            let (text, name) = read(&file)?;
            let set =
                policy::parse(&text, &name, Some(&detectors()?)).map_err(|e| anyhow!("{e}"))?;
            let settings = casb_shared::config::Settings::from_env()?;
            let channels = casb_shared::notify::Channels::load(
                settings.notify_channels.as_ref(),
                &settings.notify_emails,
            )
            .map_err(|e| anyhow!("notification channels: {e}"))?;
            warn_unknown_channels(&set, &channels.names());
            let enabled = set.policies.iter().filter(|p| p.enabled).count();
            println!(
                "{name}: valid: {} policies ({enabled} enabled), {} lists",
                set.policies.len(),
                set.lists.len()
            );
            Ok(())
        }
        PolicyCommand::Apply {
            target,
            tenant,
            file,
        } => {
            let (text, name) = read(&file)?;
            let core = core_for(&target).await?;
            let stored = policy::apply(&core, &tenant, &text, &name)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if let Ok(set) = policy::parse(&text, &name, None) {
                warn_unknown_channels(&set, &core.notifier.channels().names());
            }
            println!(
                "tenant {tenant} runs policy set version {} ({name}, applied {})",
                stored.version,
                stored.applied_at.to_rfc3339()
            );
            Ok(())
        }
        PolicyCommand::Show {
            target,
            tenant,
            version,
        } => {
            let core = core_for(&target).await?;
            let policies = &core.backend.policies;
            let stored = match version {
                Some(v) => Some(
                    policies
                        .get_policy_set(&tenant, v)
                        .await?
                        .ok_or_else(|| anyhow!("tenant {tenant} has no policy set version {v}"))?,
                ),
                None => policies.latest_policy_set(&tenant).await?,
            };
            match stored {
                Some(s) => {
                    println!(
                        "# tenant {tenant}, version {}, from {}, applied {}",
                        s.version,
                        s.file_name,
                        s.applied_at.to_rfc3339()
                    );
                    print!("{}", s.source);
                }
                None => {
                    println!("# tenant {tenant} runs the default policy set (version 0)");
                    print!("{DEFAULT_POLICIES_YAML}");
                }
            }
            Ok(())
        }
        PolicyCommand::Default => {
            print!("{DEFAULT_POLICIES_YAML}");
            Ok(())
        }
        PolicyCommand::Test {
            target,
            tenant,
            since,
            limit,
            json,
            file,
        } => {
            let (text, name) = read(&file)?;
            let set =
                policy::parse(&text, &name, Some(&detectors()?)).map_err(|e| anyhow!("{e}"))?;
            let since = chrono::Utc::now() - parse_since(&since)?;
            let core = core_for(&target).await?;
            let (read, fired) = policy::dry_run(&core, &tenant, &set, since, limit).await?;
            if json {
                for hit in &fired {
                    println!("{}", serde_json::to_string(hit)?);
                }
            } else {
                println!(
                    "{:<20}  {:<34}  {:<28}  {:<28}  {}",
                    "TIME", "POLICY", "OBJECT", "ACTOR", "WOULD"
                );
                for hit in &fired {
                    let mut would = hit.actions.join(", ");
                    if hit.monitor_only {
                        would = format!("record only (monitor): {would}");
                    }
                    println!(
                        "{:<20}  {:<34}  {:<28}  {:<28}  {would}",
                        hit.event_time.format("%Y-%m-%d %H:%M:%S"),
                        hit.policy_id,
                        hit.object.as_deref().unwrap_or("-"),
                        hit.actor.as_deref().unwrap_or("-"),
                    );
                }
            }
            let mut per_policy = std::collections::BTreeMap::new();
            for hit in &fired {
                *per_policy.entry(hit.policy_id.as_str()).or_insert(0usize) += 1;
            }
            eprintln!(
                "{read} activities since {} read; {} would fire{}",
                since.to_rfc3339(),
                fired.len(),
                per_policy
                    .iter()
                    .map(|(p, n)| format!("; {p}: {n}"))
                    .collect::<String>()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_documented() {
        assert_eq!(parse_since("7d").unwrap(), chrono::Duration::days(7));
        assert_eq!(parse_since("12h").unwrap(), chrono::Duration::hours(12));
        assert_eq!(parse_since("30m").unwrap(), chrono::Duration::minutes(30));
        assert!(parse_since("7w").is_err());
        assert!(parse_since("").is_err());
        assert!(parse_since("d").is_err());
    }
}
