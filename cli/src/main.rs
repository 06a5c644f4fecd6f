//! The `casb` command: the whole product on one machine, on the embedded back end.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use casb_shared::config::Settings;
use casb_shared::local::{LocalInstance, ServeOptions};

#[derive(Parser)]
#[command(
    name = "casb",
    version,
    about = "Self-hosted API-mode CASB: run every function locally"
)]
struct Cli {
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
        /// Seconds between poll runs.
        #[arg(long, default_value_t = 60, env = "CASB_POLL_INTERVAL_SECONDS")]
        poll_interval: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    casb_shared::telemetry::init_for_terminal();
    match Cli::parse().command {
        Command::Serve {
            data_dir,
            listen,
            poll_interval,
        } => {
            let options = ServeOptions {
                data_dir,
                listen,
                poll_interval: Duration::from_secs(poll_interval.max(1)),
                ..ServeOptions::default()
            };
            let settings = Settings::from_env().context("reading configuration")?;
            let instance =
                LocalInstance::start(options, settings, casb_shared::connectors_from_env)
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
