//! `netskope-sim`: runs the Netskope dataexport simulator standalone for demos and manual
//! testing. Seed it with `POST /_sim/events/{events|alerts}/{type}`.
//!
//! Usage: `netskope-sim [--port 8080] [--host 127.0.0.1] [--token T] [--page-size N]
//! [--wait-time-caught-up S]`

use netskope_simulator::{NetskopeSimulator, SimConfig};

fn usage() -> ! {
    eprintln!(
        "usage: netskope-sim [--port PORT] [--host HOST] [--token TOKEN] [--page-size N] [--wait-time-caught-up SECONDS]"
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
            "--page-size" => config.page_size = value().parse().unwrap_or_else(|_| usage()),
            "--wait-time-caught-up" => {
                config.wait_time_when_caught_up = value().parse().unwrap_or_else(|_| usage())
            }
            _ => usage(),
        }
    }
    config
}

#[tokio::main]
async fn main() {
    let config = parse_args();
    let sim = match NetskopeSimulator::start(config.clone()).await {
        Ok(sim) => sim,
        Err(error) => {
            eprintln!("netskope-sim: cannot start: {error}");
            std::process::exit(1);
        }
    };
    println!("Netskope API simulator running at {}", sim.base_url());
    println!("  data export:  {}/api/v2/events/dataexport/{{events|alerts}}/{{type}}?index=NAME&operation=next", sim.base_url());
    println!("  token header: Netskope-Api-Token: {}", config.api_token);
    println!(
        "  control api:  {}/_sim/ (events, faults, stats)",
        sim.base_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
}
