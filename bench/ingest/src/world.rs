//! One simulated Box enterprise and one in-process `casb serve` (LocalInstance) on a fresh data
//! directory, connected through the OAuth redirect flow, as `casb demo` and the end-to-end tests
//! do it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use box_simulator::{BoxSimulator, SimConfig};
use casb_connector_box::{BoxAppCredentials, BoxConfig, BoxConnector};
use casb_shared::admin_credential::AdminCredential;
use casb_shared::config::Settings;
use casb_shared::connector::ConnectorRegistry;
use casb_shared::domain::Integration;
use casb_shared::local::{connect_like_a_browser, LocalInstance, ServeOptions};
use serde_json::{json, Value};

use crate::db::Reader;

pub const TENANT: &str = "bench-tenant";
pub const NOTIFY: &str = "secops@example.com";
/// Card numbers from payment processors' test suites: the inspector's DLP finds them.
pub const CARDS: &str =
    "name,card,expiry\nAnn Lee,4111 1111 1111 1111,09/28\nRaj Patel,5555-5555-5555-4444,01/27\n";
pub const HARMLESS: &str = "Plans for next quarter: hire, ship, celebrate.\n";

/// A simulator with the settings the demo and the tests use: the CASB's own downloads are not
/// recorded as DOWNLOAD events (they would be ingested as activities of their own).
pub async fn start_simulator() -> anyhow::Result<BoxSimulator> {
    BoxSimulator::start(SimConfig {
        record_api_downloads: false,
        ..SimConfig::default()
    })
    .await
    .context("starting the Box simulator")
}

pub fn simulator_error(error: box_simulator::BoxError) -> anyhow::Error {
    anyhow!("Box simulator: {error:?}")
}

/// The simulator app's credentials, as an admin copies them from Box's Developer Console.
pub fn credentials(sim: &BoxSimulator) -> BoxAppCredentials {
    let config = sim.config();
    BoxAppCredentials {
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.clone(),
        webhook_primary_key: Some(config.webhook_primary_key.clone()),
        webhook_secondary_key: Some(config.webhook_secondary_key.clone()),
    }
}

pub struct InProcess {
    pub casb: LocalInstance,
    pub base: String,
    pub data_dir: PathBuf,
}

/// Starts `casb serve`'s LocalInstance on a fresh `data_dir` with the Box connector pointed at
/// the simulator, and stores the app credentials in its secret store. Workers use `casb serve`'s
/// defaults; only the poll interval is chosen by the caller.
pub async fn start_casb(
    sim: &BoxSimulator,
    data_dir: &Path,
    poll_interval: Duration,
) -> anyhow::Result<InProcess> {
    if data_dir.exists() {
        std::fs::remove_dir_all(data_dir)
            .with_context(|| format!("clearing {}", data_dir.display()))?;
    }
    std::fs::create_dir_all(data_dir)?;
    let options = ServeOptions {
        data_dir: data_dir.to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        poll_interval,
        ..ServeOptions::default()
    };
    let settings = Settings {
        notify_emails: vec![NOTIFY.into()],
        poll_interval,
        ..Settings::from_env()?
    };
    let config = BoxConfig::for_local(&sim.origin(), &sim.download_base());
    let casb = LocalInstance::start(options, settings, move |backend| {
        let mut registry = ConnectorRegistry::new();
        registry.register(Arc::new(BoxConnector::new(config, backend.secrets.clone())));
        registry
    })
    .await
    .map_err(|e| anyhow!("starting casb serve: {e}"))?;
    credentials(sim)
        .store(casb.core.backend.secrets.as_ref())
        .await?;
    let base = format!("http://{}", casb.address);
    Ok(InProcess {
        casb,
        base,
        data_dir: data_dir.to_path_buf(),
    })
}

/// Connects the simulated tenant through the OAuth redirect flow with the instance's admin
/// token (`data_dir`'s, or `CASB_ADMIN_TOKEN`); returns the integration id.
pub async fn connect(
    base: &str,
    data_dir: &Path,
    mode: &str,
    watch_folders: &str,
) -> anyhow::Result<String> {
    let admin_token = AdminCredential::local(data_dir)?.current().await?;
    let mut query = vec![("tenant_id", TENANT), ("mode", mode)];
    if !watch_folders.is_empty() {
        query.push(("watch_folders", watch_folders));
    }
    let answer = connect_like_a_browser(base, "box", &query, &admin_token)
        .await
        .map_err(|e| anyhow!("connecting the simulated Box tenant: {e}"))?;
    let warnings = answer["warnings"].as_array().cloned().unwrap_or_default();
    if !warnings.is_empty() {
        eprintln!("warning: connecting reported {warnings:?}");
    }
    answer["integration_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the OAuth callback named no integration: {answer}"))
}

/// [`connect`], then the stored integration (with the webhook ids it registered).
pub async fn connect_in_process(
    world: &InProcess,
    mode: &str,
    watch_folders: &str,
) -> anyhow::Result<Integration> {
    let id = connect(&world.base, &world.data_dir, mode, watch_folders).await?;
    world
        .casb
        .core
        .backend
        .integrations
        .get_integration(TENANT, &id)
        .await?
        .ok_or_else(|| anyhow!("integration {id} is not in the store"))
}

impl InProcess {
    pub fn reader(&self) -> anyhow::Result<Reader> {
        Reader::open(&self.data_dir)
    }

    pub async fn stop(self) {
        self.casb.shutdown().await;
    }
}

/// `{"type":"user","id":…,"name":…,"login":…}` as Box puts it in `created_by`.
pub fn user_mini(user: &box_simulator::User) -> Value {
    json!({"type": "user", "id": user.id, "name": user.name, "login": user.login})
}

/// Seeded managed users (admin, alice, bob, carol), by login.
pub fn managed_users(sim: &BoxSimulator) -> Vec<box_simulator::User> {
    let domain = format!("@{}", sim.config().enterprise_domain);
    sim.users()
        .into_iter()
        .filter(|u| u.is_enterprise_member && u.login.ends_with(&domain))
        .collect()
}
