//! `casb demo --provider m365`: the Box demo's scenario on a simulated Microsoft 365 tenant.
//!
//! Starts the Microsoft 365 simulator and `casb serve`, connects the tenant through the admin
//! consent flow, plays the scenario (uploads with card numbers, SSNs or cloud keys, anyone and
//! organization links, guests invited, sign-ins and a mass download), lets Management API
//! webhooks and polling bring the audit records in, and prints what happened, including what
//! the files look like at "Microsoft" afterwards.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context};
use casb_connector_m365::{M365AppCredentials, M365Config, M365Connector};
use casb_shared::connector::ConnectorRegistry;
use casb_shared::local::{connect_like_a_browser, LocalInstance};
use m365_simulator::{ItemRef, M365Simulator, SimConfig};

use crate::demo::{data_directory, finish, print_summary, serve_settings, settle, table, TENANT};

pub async fn run(keep_data: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let started = Instant::now();
    let sim = M365Simulator::start(SimConfig {
        admin_consent_granted: false,
        ..SimConfig::default()
    })
    .await
    .context("starting the Microsoft 365 simulator")?;
    let (_temporary, data_dir, kept) = data_directory(keep_data)?;
    let (options, settings) = serve_settings(&data_dir)?;
    let config = M365Config::for_local(
        &sim.login_base(),
        &sim.manage_base(),
        &sim.graph_base(),
        &sim.download_base(),
    );
    let casb = LocalInstance::start(options, settings, move |backend| {
        let mut registry = ConnectorRegistry::new();
        registry.register(Arc::new(M365Connector::new(
            config,
            backend.secrets.clone(),
        )));
        registry
    })
    .await
    .map_err(|e| anyhow!(e))?;
    let base = format!("http://{}", casb.address);
    println!(
        "Microsoft 365 simulator: login {}  manage {}  graph {}\ncasb serve: {base}   data: {}",
        sim.login_base(),
        sim.manage_base(),
        sim.graph_base(),
        data_dir.display()
    );
    let sim_config = sim.config();
    M365AppCredentials {
        client_id: sim_config.client_id.clone(),
        client_secret: Some(sim_config.client_secret.clone()),
        certificate_private_key: None,
        certificate_thumbprint: None,
        publisher_tenant_id: "00000000-0000-4000-8000-00000000ca5b".into(),
        webhook_key: Some(casb_shared::connector::oauth::random_token(32)),
    }
    .store(casb.core.backend.secrets.as_ref())
    .await?;

    let connected = connect_like_a_browser(
        &base,
        "microsoft365",
        &[("tenant_id", TENANT), ("mode", "both")],
        &casb.admin_token().await?,
    )
    .await
    .map_err(|e| anyhow!("connecting the simulated Microsoft 365 tenant: {e}"))?;
    println!(
        "Connected '{}' through Microsoft's admin consent: integration {} ({} Management API webhooks)\n",
        connected["display_name"].as_str().unwrap_or("?"),
        connected["integration_id"].as_str().unwrap_or("?"),
        connected["webhook_ids"].as_array().map_or(0, Vec::len)
    );

    // The scenario: the Box demo's, in OneDrive.
    let domain = sim_config.tenant_domain.clone();
    let upn = |name: &str| format!("{name}@{domain}");
    let (alice, bob, carol, admin) = (upn("alice"), upn("bob"), upn("carol"), upn("admin"));
    sim.add_user(&bob, "Bob", false);
    sim.add_user(&carol, "Carol", false);
    let graph_error = |e: m365_simulator::GraphError| anyhow!("simulator: {e:?}");
    let upload = |user: &str, name: &str, content: &str| {
        sim.upload_file(user, name, content.as_bytes().to_vec())
            .map_err(graph_error)
    };
    let cards = "name,card,expiry\nAnn Lee,4111 1111 1111 1111,09/28\nRaj Patel,5555-5555-5555-4444,01/27\nKim Ode,378282246310005,11/26\n";
    let keys = "AWS_ACCESS_KEY_ID=AKIAZ7VRSQ5TNBUQW3XH\n# the documented example key is not a secret: AKIAIOSFODNN7EXAMPLE\nREGION=us-east-1\n";
    let ssns = "customer,ssn\nJo Smith,123-45-6789\nAl Brown,078-05-1121\n";
    let harmless = "Plans for next quarter: hire, ship, celebrate.\n";
    let files: Vec<(&str, ItemRef)> = vec![
        (
            "q4-card-payments.csv",
            upload(&alice, "q4-card-payments.csv", cards)?,
        ),
        (
            "budget-notes.txt",
            upload(&alice, "budget-notes.txt", harmless)?,
        ),
        ("deploy.env", upload(&bob, "deploy.env", keys)?),
        ("README.md", upload(&bob, "README.md", harmless)?),
        ("customers.csv", upload(&carol, "customers.csv", ssns)?),
        ("pitch.txt", upload(&carol, "pitch.txt", harmless)?),
    ];
    let item = |name: &str| {
        files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, item)| item.clone())
            .ok_or_else(|| anyhow!("no {name}"))
    };
    let homes: Vec<Option<String>> = files.iter().map(|(_, i)| sim.item_parent(i)).collect();
    sim.create_sharing_link(&item("q4-card-payments.csv")?, "anonymous")
        .map_err(graph_error)?;
    sim.create_sharing_link(&item("budget-notes.txt")?, "organization")
        .map_err(graph_error)?;
    sim.create_sharing_link(&item("README.md")?, "anonymous")
        .map_err(graph_error)?;
    sim.invite(&item("deploy.env")?, "contractor@gmail.com", true)
        .map_err(graph_error)?;
    sim.invite(&item("customers.csv")?, "buyer@partner.example", true)
        .map_err(graph_error)?;
    sim.invite(&item("pitch.txt")?, "dave@example.com", true)
        .map_err(graph_error)?;

    // Threats, from Azure AD's sign-in records. Carol's password is guessed: 20 failures from
    // one address, then a success from it; Alice signs in from London and, a moment later,
    // from Changchun (placed by the geolocation database, when one is configured).
    let mut sign_ins = Vec::new();
    for _ in 0..20 {
        sign_ins.push(sim.sign_in_record(&carol, "175.16.199.5", false));
    }
    sign_ins.push(sim.sign_in_record(&carol, "175.16.199.5", true));
    sign_ins.push(sim.sign_in_record(&alice, "81.2.69.142", true));
    sign_ins.push(sim.sign_in_record(&alice, "175.16.199.7", true));
    sim.publish_records("Audit.AzureActiveDirectory", sign_ins);
    // Bob downloads 110 files of the admin's archive in a minute.
    let admin_drive_site = format!(
        "https://{}-my.sharepoint.com/personal/{}",
        domain.split('.').next().unwrap_or("contoso"),
        admin.replace(['@', '.'], "_").to_ascii_lowercase()
    );
    let mut downloads = Vec::new();
    for n in 0..110 {
        let name = format!("minutes-{n:03}.txt");
        upload(&admin, &name, harmless)?;
        downloads.push(sim.file_record(
            "FileDownloaded",
            &bob,
            &admin_drive_site,
            "Documents",
            &name,
        ));
    }
    sim.publish_records("Audit.SharePoint", downloads);

    settle(&casb).await?;
    let anomalies = print_summary(&casb, "pull (audit log, Graph delta)").await?;

    println!("\nOneDrive after remediation");
    let mut rows = Vec::new();
    for ((name, file), home) in files.iter().zip(&homes) {
        let folder = match sim.item_parent(file) {
            None => "recycle bin".to_string(),
            Some(parent) if Some(&parent) == home.as_ref() => "Documents".to_string(),
            Some(_) => "CASB Quarantine".to_string(),
        };
        let permissions = sim.permissions(file).unwrap_or_default();
        let links: Vec<String> = permissions
            .iter()
            .filter_map(|p| p.link_scope.clone())
            .collect();
        let people: Vec<String> = permissions
            .iter()
            .filter(|p| !p.inherited)
            .filter_map(|p| p.granted_to_email.clone())
            .filter(|email| !email.ends_with(&format!("@{domain}")))
            .collect();
        let or_dash = |v: Vec<String>| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        rows.push(vec![
            name.to_string(),
            folder,
            or_dash(links),
            or_dash(people),
        ]);
    }
    table(&["file", "folder", "links", "external people"], rows);
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
