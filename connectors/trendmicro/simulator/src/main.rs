//! `tmcas-sim`: runs the Trend Micro CAS log retrieval simulator standalone.
//!
//! Usage: `tmcas-sim [--port 0] [--host 127.0.0.1] [--token T] [--per-minute-limit N]
//! [--daily-quota N]`

use trendmicro_simulator::{SimConfig, TrendMicroSimulator};

fn usage() -> ! {
    eprintln!(
        "usage: tmcas-sim [--port PORT] [--host HOST] [--token TOKEN] [--per-minute-limit N] [--daily-quota N]"
    );
    std::process::exit(2)
}

fn parse_args() -> SimConfig {
    let mut config = SimConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--port" => config.port = value().parse().unwrap_or_else(|_| usage()),
            "--host" => config.bind_host = value(),
            "--token" => config.api_token = value(),
            "--per-minute-limit" => {
                config.per_minute_limit = Some(value().parse().unwrap_or_else(|_| usage()))
            }
            "--daily-quota" => {
                config.daily_quota = Some(value().parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    }
    config
}

#[tokio::main]
async fn main() {
    let config = parse_args();
    let sim = match TrendMicroSimulator::start(config.clone()).await {
        Ok(sim) => sim,
        Err(error) => {
            eprintln!("tmcas-sim: cannot start: {error}");
            std::process::exit(1);
        }
    };
    println!("Trend Micro CAS log retrieval simulator running");
    println!("  base url:    {}", sim.base_url());
    println!("  api:         {}/v1/siem/security_events", sim.base_url());
    println!("  control api: {}/_sim/", sim.base_url());
    println!("  token:       {}", config.api_token);
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
}
