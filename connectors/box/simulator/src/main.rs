//! `box-sim`: runs the Box API simulator standalone for demos and manual testing.
//!
//! Usage: `box-sim [--port 9090] [--download-port 9091] [--host 127.0.0.1] [--client-id ID]
//! [--client-secret S] [--primary-key K] [--secondary-key K] [--domain example.com]
//! [--token-lifetime-secs 3600] [--redirect-uri URI]... [--enterprise-id ID]
//! [--jwt-public-key PEM_FILE] [--jwt-key-id KID] [--demo]`

use box_simulator::{BoxSimulator, SimConfig};

fn usage() -> ! {
    eprintln!(
        "usage: box-sim [--port PORT] [--download-port PORT] [--host HOST] [--client-id ID] [--client-secret SECRET]\n               [--primary-key KEY] [--secondary-key KEY] [--domain DOMAIN] [--token-lifetime-secs N]\n               [--redirect-uri URI]... [--enterprise-id ID] [--jwt-public-key PEM_FILE] [--jwt-key-id KID] [--demo]"
    );
    std::process::exit(2)
}

fn parse_args() -> (SimConfig, bool) {
    let mut config = SimConfig::default();
    let mut demo = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--port" => config.api_port = value().parse().unwrap_or_else(|_| usage()),
            "--download-port" => config.download_port = value().parse().unwrap_or_else(|_| usage()),
            "--host" => config.bind_host = value(),
            "--client-id" => config.client_id = value(),
            "--client-secret" => config.client_secret = value(),
            "--primary-key" => config.webhook_primary_key = value(),
            "--secondary-key" => config.webhook_secondary_key = value(),
            "--domain" => config.enterprise_domain = value(),
            "--token-lifetime-secs" => {
                config.access_token_lifetime =
                    std::time::Duration::from_secs(value().parse().unwrap_or_else(|_| usage()))
            }
            "--redirect-uri" => config.redirect_uris.push(value()),
            "--enterprise-id" => config.enterprise_id = value(),
            "--jwt-key-id" => config.jwt_key_id = value(),
            "--jwt-public-key" => {
                let path = value();
                let der = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|pem| box_simulator::jwt::der_from_pem(&pem));
                match der {
                    Some(der) => config.jwt_public_key_der = Some(der),
                    None => {
                        eprintln!("box-sim: {path} is not a readable PEM public key");
                        std::process::exit(2)
                    }
                }
            }
            "--demo" => demo = true,
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    if config.api_port != 0 && config.download_port == 0 {
        config.download_port = config.api_port.saturating_add(1);
    }
    (config, demo)
}

#[tokio::main]
async fn main() {
    let (config, demo) = parse_args();
    let sim = match BoxSimulator::start(config.clone()).await {
        Ok(sim) => sim,
        Err(error) => {
            eprintln!("box-sim: cannot start: {error}");
            std::process::exit(1);
        }
    };
    println!("Box API simulator running");
    println!("  api base:        {}", sim.api_base());
    println!("  authorize url:   {}", sim.oauth_authorize_url());
    println!("  token url:       {}", sim.token_url());
    println!("  revoke url:      {}", sim.revoke_url());
    println!("  download host:   {}", sim.download_base());
    println!("  control api:     {}", sim.control_base());
    println!("  client_id:       {}", config.client_id);
    println!("  client_secret:   {}", config.client_secret);
    println!("  webhook primary key:   {}", config.webhook_primary_key);
    println!("  webhook secondary key: {}", config.webhook_secondary_key);
    println!("  admin user id:   {}", sim.admin_user_id());
    println!("  enterprise id:   {}", config.enterprise_id);
    if config.jwt_public_key_der.is_some() {
        println!("  jwt key id:      {}", config.jwt_key_id);
    }
    for user in sim.users() {
        println!("  user {:>8}  {:<28} {}", user.id, user.login, user.role);
    }
    if demo {
        match sim.seed_demo_scenario() {
            Ok(scenario) => {
                for (name, id) in scenario.folders.iter().chain(scenario.files.iter()) {
                    println!("  demo item {id:>8}  {name}");
                }
            }
            Err(error) => eprintln!("box-sim: demo scenario failed: {error}"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
}
