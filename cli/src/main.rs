//! The `casb` command: the whole product on one machine, on the embedded back end.

mod admin;
mod api_keys;
mod box_tools;
mod demo;
mod demo_m365;
mod normalize;
mod policy;
mod scan;
mod stack;
mod threats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use casb_shared::config::{Settings, SmtpSettings};
use casb_shared::local::{LocalInstance, ServeOptions};

#[derive(Parser)]
#[command(
    name = "casb",
    version,
    about = "Self-hosted API-mode CASB: run every function locally"
)]
struct Cli {
    /// Log lines as `text` (coloured only on a terminal) or `json` (one object per line).
    #[arg(long, global = true, default_value = "text", env = "CASB_LOG_FORMAT")]
    log_format: casb_shared::telemetry::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every function in one process: HTTP functions, queue workers and the poller.
    Serve {
        /// Where the database and secrets live.
        #[arg(long, default_value = ".casb", env = "CASB_DATA_DIR")]
        data_dir: PathBuf,
        /// Address of the HTTP listener.
        #[arg(long, default_value = "127.0.0.1:8080", env = "CASB_LISTEN")]
        listen: SocketAddr,
        /// Seconds between schedule ticks (each enqueues a job per due stream).
        #[arg(long, default_value_t = 60, env = "CASB_POLL_INTERVAL_SECONDS")]
        poll_interval: u64,
        /// Poll jobs worked at once, each on its own (one slow tenant holds one slot).
        #[arg(long, default_value_t = 8, env = "CASB_POLL_CONCURRENCY")]
        poll_concurrency: usize,
    },
    /// Store a secret (read from standard input, or --from FILE) in the local secret store or a
    /// deployed stack's, e.g. the Box app's credentials under `providers/box/app`.
    SecretPut {
        #[command(flatten)]
        target: admin::Target,
        /// A file holding the value; `-` (the default) is standard input.
        #[arg(long, default_value = "-")]
        from: PathBuf,
        name: String,
    },
    /// Write the OCSF records waiting for export now (the schedule does it every tick), and
    /// print what was written: JSON Lines under `<data dir>/export/`, Parquet under
    /// `<data dir>/security-lake/` when CASB_SECURITY_LAKE_ACCOUNT_ID is set; with --stack, to
    /// the stack's export bucket.
    Export {
        #[command(flatten)]
        target: admin::Target,
    },
    /// Add, list, pause, resume or remove integrations.
    #[command(subcommand)]
    Integration(admin::IntegrationCommand),
    /// Create, list or revoke the REST API's credentials (bearer keys and Basic users).
    #[command(subcommand)]
    ApiKey(api_keys::ApiKeyCommand),
    /// List the anomalies the threat detectors found, or show one with its activities.
    #[command(subcommand)]
    Anomalies(threats::AnomalyCommand),
    /// Check the configuration and the store, and say which threat detectors run (the
    /// geographic ones need CASB_GEOIP_DB).
    Doctor {
        #[command(flatten)]
        target: admin::Target,
    },
    /// Validate, apply, show and dry-run policy sets (YAML or JSON).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Print the admin token that connect and disconnect require (`casb serve` creates it in
    /// the data directory on first start; a stack keeps it in Secrets Manager), or rotate it.
    AdminToken {
        #[command(flatten)]
        target: admin::Target,
        /// Replace it with a new random token (links made with the old one stop working).
        #[arg(long)]
        rotate: bool,
    },
    /// Print a signed link that starts the OAuth connect flow in a browser, valid 15 minutes.
    ConnectLink(admin::ConnectLinkArgs),
    /// Play a scenario against a simulated Box (or Microsoft 365) tenant and print what the
    /// CASB did.
    Demo {
        /// Keep the demo's data here (an empty directory) instead of a temporary one.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The simulated provider: box or m365.
        #[arg(long, default_value = "box")]
        provider: String,
    },
    /// Pull events from a Box-compatible API and print them normalized, as JSON Lines.
    Poll {
        #[arg(long, default_value = "box")]
        provider: String,
        /// e.g. https://api.box.com/2.0
        #[arg(long)]
        api_base: String,
        #[arg(long, env = "CASB_ACCESS_TOKEN", hide_env_values = true)]
        access_token: String,
        /// Where to start in the event stream (`0`: everything retained, `now`: nothing).
        #[arg(long, default_value = "0")]
        stream_position: String,
        /// Only one page.
        #[arg(long)]
        once: bool,
        /// Email domains of the organization, to tell external users apart.
        #[arg(long = "internal-domain")]
        internal_domains: Vec<String>,
    },
    /// Print raw provider events (JSON Lines, a JSON array, or a page with `entries`; FILE or
    /// standard input) as OCSF 1.5.0 records, one per line, to check a mapping on your own data.
    /// An event the connector does not map comes out raw with `"casb_unmapped": true`.
    Normalize {
        /// box, netskope or trend_micro.
        #[arg(long, default_value = "box")]
        provider: String,
        /// Netskope: the endpoint the events came from (`events/audit`, `alerts/dlp`, ...),
        /// for events that do not say their `record_type`.
        #[arg(long)]
        stream: Option<String>,
        /// Email domains of the organization, to tell external users apart.
        #[arg(long = "internal-domain")]
        internal_domains: Vec<String>,
        /// Put each original event in the record's `raw_data`.
        #[arg(long)]
        raw_data: bool,
        file: Option<PathBuf>,
    },
    /// Scan files and folders for sensitive data (exit code 0 clean, 1 findings, 2 usage error,
    /// 3 nothing found but not everything could be inspected).
    Scan(scan::ScanArgs),
    /// List the built-in DLP detectors as a Markdown table: id, category, name, and what a
    /// match needs to reach each confidence tier (low, medium, high).
    Detectors,
    /// Hash values read from standard input (one per line) for an exact-data rule's
    /// `hashes_file`; the clear values never need to be kept next to the policy.
    HashValues {
        /// The rule's `salt` (keep it per tenant).
        #[arg(long)]
        salt: String,
        /// Match case exactly (by default values are lower-cased before hashing).
        #[arg(long)]
        case_sensitive: bool,
    },
    /// Run one response action on a file directly (`--api-base`, `--access-token`), or undo an
    /// incident's quarantine and collaborator removals: `casb act restore --tenant T INCIDENT`.
    Act {
        #[arg(long, default_value = "box")]
        provider: String,
        #[arg(long)]
        api_base: Option<String>,
        #[arg(long, env = "CASB_ACCESS_TOKEN", hide_env_values = true)]
        access_token: Option<String>,
        #[arg(long = "internal-domain")]
        internal_domains: Vec<String>,
        /// With `restore`: the tenant the incident belongs to.
        #[arg(long)]
        tenant: Option<String>,
        /// With `restore`: where the incident is.
        #[command(flatten)]
        target: admin::Target,
        /// quarantine, delete, remove-link, remove-external-collaborators, or restore
        action: String,
        /// The file id; with `restore`, the incident id.
        id: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    casb_shared::telemetry::init_for_terminal(cli.log_format);
    match cli.command {
        Command::Serve {
            data_dir,
            listen,
            poll_interval,
            poll_concurrency,
        } => {
            let options = ServeOptions {
                data_dir,
                listen,
                poll_interval: Duration::from_secs(poll_interval.max(1)),
                poll_concurrency: poll_concurrency.max(1),
                smtp: SmtpSettings::from_env().context("reading the SMTP configuration")?,
                ..ServeOptions::default()
            };
            let settings = Settings::from_env().context("reading configuration")?;
            let instance = LocalInstance::start(options, settings, casb_connectors::from_env)
                .await
                .map_err(|e| anyhow::anyhow!(e))
                .context("starting casb serve")?;
            for line in instance.describe() {
                tracing::info!("{line}");
            }
            tracing::info!("ready; press Ctrl-C to stop");
            instance.run_until(shutdown_signal()).await;
            Ok(())
        }
        Command::Demo { data_dir, provider } => match provider.as_str() {
            "box" => demo::run(data_dir).await,
            "m365" | "microsoft365" => demo_m365::run(data_dir).await,
            other => Err(anyhow::anyhow!(
                "no demo for '{other}': use --provider box or --provider m365"
            )),
        },
        Command::Scan(args) => {
            // CPU-bound and synchronous; the exit code is the command's answer.
            let code = tokio::task::spawn_blocking(move || scan::run(args))
                .await
                .context("the scan stopped unexpectedly")?;
            std::process::exit(code)
        }
        Command::Detectors => {
            scan::print_detectors();
            Ok(())
        }
        Command::HashValues {
            salt,
            case_sensitive,
        } => scan::hash_values(&salt, case_sensitive).context("hashing values from standard input"),
        Command::SecretPut { target, from, name } => admin::secret_put(&target, &name, &from).await,
        Command::Export { target } => admin::export(&target).await,
        Command::Integration(command) => admin::run(command).await,
        Command::Policy(command) => policy::run(command).await,
        Command::Anomalies(command) => threats::run(command).await,
        Command::ApiKey(command) => api_keys::run(command).await,
        Command::Doctor { target } => threats::doctor(&target).await,
        Command::Normalize {
            provider,
            stream,
            internal_domains,
            raw_data,
            file,
        } => {
            let input = match &file {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
                None => std::io::read_to_string(std::io::stdin())?,
            };
            let (mapped, unmapped) = normalize::normalize(
                &provider,
                stream.as_deref(),
                &input,
                &internal_domains,
                raw_data,
                &mut std::io::stdout().lock(),
            )?;
            eprintln!("{mapped} events mapped to OCSF 1.5.0, {unmapped} passed through raw");
            Ok(())
        }
        Command::AdminToken { target, rotate } => admin::admin_token(&target, rotate).await,
        Command::ConnectLink(args) => admin::connect_link(args).await,
        Command::Poll {
            provider,
            api_base,
            access_token,
            stream_position,
            once,
            internal_domains,
        } => {
            box_tools::poll(
                &provider,
                &api_base,
                &access_token,
                &stream_position,
                once,
                &internal_domains,
            )
            .await
        }
        Command::Act {
            provider,
            api_base,
            access_token,
            internal_domains,
            tenant,
            target,
            action,
            id,
        } => {
            if action == "restore" {
                let tenant = tenant.ok_or_else(|| {
                    anyhow::anyhow!("restore needs --tenant (the incident's tenant)")
                })?;
                return admin::restore(&target, &tenant, &id).await;
            }
            let (Some(api_base), Some(access_token)) = (api_base, access_token) else {
                anyhow::bail!("acting on a file directly needs --api-base and --access-token");
            };
            let kind = box_tools::action_kind(&action)?;
            let succeeded = box_tools::act(
                &provider,
                &api_base,
                &access_token,
                kind,
                &id,
                &internal_domains,
            )
            .await?;
            if !succeeded {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
