//! `casb integration ...`, `casb secret-put`, `casb admin-token` and `casb connect-link`:
//! operator commands on the embedded back end (the data directory `casb serve` uses) or on a
//! deployed stack (`--stack NAME`).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use casb_shared::admin::{self, NewIntegration};
use casb_shared::admin_credential::{AdminCredential, ConnectLink, MAX_LINK_LIFETIME};
use casb_shared::config::{optional_env, Settings};
use casb_shared::domain::{CredentialKind, IngestMode, Provider};
use casb_shared::http::oauth_callback::make_connect_link;
use casb_shared::Core;
use clap::{Args, Subcommand};
use secrecy::{ExposeSecret, SecretString};

/// Which back end an operator command acts on.
#[derive(Args, Clone)]
pub struct Target {
    /// The data directory of a local `casb serve`.
    #[arg(long, default_value = ".casb", env = "CASB_DATA_DIR")]
    pub data_dir: PathBuf,
    /// A deployed CloudFormation/SAM stack: its tables, queues and secret prefix are read from
    /// the stack's outputs through the AWS SDK (credentials and region from the usual AWS
    /// environment or profile).
    #[arg(long)]
    pub stack: Option<String>,
}

#[derive(Subcommand)]
pub enum IntegrationCommand {
    /// Add an integration with headless credentials (client credentials, JWT assertion or API
    /// token), read from --secret-file (`-` for standard input) as the connector expects them.
    Add {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        provider: String,
        #[arg(long)]
        tenant: String,
        /// client_credentials, jwt_assertion or api_token (default: the connector's first).
        #[arg(long)]
        credential: Option<String>,
        /// push, pull or both.
        #[arg(long, default_value = "pull")]
        mode: String,
        /// A connector setting, `name=value` (repeatable).
        #[arg(long = "setting", value_name = "NAME=VALUE")]
        settings: Vec<String>,
        /// Where the secret is: a file, or `-` for standard input. Never the command line.
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
    },
    /// List a tenant's integrations with their streams' health.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        /// One JSON object per integration instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop polling and accepting webhooks for an integration.
    Pause {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Resume a paused integration.
    Resume {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Remove an integration: its webhooks and credentials go; its record stays, disconnected.
    Remove {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        id: String,
    },
}

/// `casb connect-link`: what the link connects.
#[derive(Args)]
pub struct ConnectLinkArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub provider: String,
    #[arg(long)]
    pub tenant: String,
    /// push, pull or both (the connect flow's default: both).
    #[arg(long)]
    pub mode: Option<String>,
    /// A connector setting, `name=value` (repeatable), e.g. `watch_folders=123,456`.
    #[arg(long = "setting", value_name = "NAME=VALUE")]
    pub settings: Vec<String>,
    /// The address the browser reaches the CASB at. Local default: CASB_PUBLIC_URL, else
    /// http://<CASB_LISTEN>; with --stack, the stack's ApiUrl output.
    #[arg(long)]
    pub base_url: Option<String>,
}

/// `NAME=VALUE` arguments as pairs.
fn name_values(settings: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    settings
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| anyhow::anyhow!("--setting '{s}' is not NAME=VALUE"))
        })
        .collect()
}

/// The admin credential an operator command acts on, with the stack's API URL for `--stack`.
async fn admin_for(target: &Target) -> anyhow::Result<(AdminCredential, Option<String>)> {
    if let Some(stack) = &target.stack {
        let (credential, api_url) = crate::stack::admin_for_stack(stack).await?;
        return Ok((credential, Some(api_url)));
    }
    // Open the data directory as `casb serve` does (owner-only) before the token goes in it.
    casb_shared::backend::EmbeddedBackend::open(&target.data_dir)
        .with_context(|| format!("opening the data directory {}", target.data_dir.display()))?;
    Ok((AdminCredential::local(&target.data_dir)?, None))
}

/// `casb admin-token`: prints the admin token (creating a local one if there is none yet), or
/// replaces it with `--rotate`. Only standard output carries the token.
pub async fn admin_token(target: &Target, rotate: bool) -> anyhow::Result<()> {
    let (credential, _) = admin_for(target).await?;
    let token = if rotate {
        let token = credential.rotate().await?;
        eprintln!(
            "rotated the admin token ({}); connect links made with the old one no longer work",
            credential.describe()
        );
        token
    } else {
        credential.current().await?
    };
    println!("{}", token.expose_secret());
    Ok(())
}

/// `casb connect-link`: on the embedded back end the link is signed here, with the data
/// directory's admin token; against a stack, its `POST /oauth/{provider}/connect/link` makes it.
pub async fn connect_link(args: ConnectLinkArgs) -> anyhow::Result<()> {
    let settings = name_values(&args.settings)?;
    let tenant = args.tenant.clone();
    let (credential, api_url) = admin_for(&args.target).await?;
    let token = credential.current().await?;
    let link: ConnectLink = match api_url {
        Some(api_url) => {
            let base = args.base_url.unwrap_or(api_url);
            let url = format!(
                "{}/oauth/{}/connect/link",
                base.trim_end_matches('/'),
                args.provider
            );
            let response = reqwest::Client::new()
                .post(&url)
                .bearer_auth(token.expose_secret())
                .json(&serde_json::json!({
                    "tenant_id": tenant,
                    "mode": args.mode,
                    "settings": settings.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                }))
                .send()
                .await
                .with_context(|| format!("asking {url} for a connect link"))?;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if !status.is_success() {
                bail!("{url} answered {status}: {body}");
            }
            serde_json::from_str(&body).with_context(|| format!("{url} answered {body}"))?
        }
        None => {
            let base = args
                .base_url
                .or_else(|| optional_env("CASB_PUBLIC_URL"))
                .unwrap_or_else(|| {
                    format!(
                        "http://{}",
                        optional_env("CASB_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into())
                    )
                });
            let core = core_for(&args.target).await?;
            let mut params = vec![("tenant_id".to_string(), tenant.clone())];
            params.extend(args.mode.map(|mode| ("mode".to_string(), mode)));
            params.extend(settings);
            make_connect_link(
                &core,
                &token,
                &base,
                &args.provider,
                params,
                MAX_LINK_LIFETIME,
            )
            .map_err(|e| anyhow::anyhow!(e.message))?
        }
    };
    println!("{}", link.url);
    eprintln!(
        "valid until {}: whoever opens it may connect a {} account to tenant {}, so send it only to that account's admin",
        link.expires_at.to_rfc3339(),
        args.provider,
        tenant
    );
    Ok(())
}

/// The core an operator command acts on.
pub(crate) async fn core_for(target: &Target) -> anyhow::Result<Core> {
    let settings = Settings::from_env().context("reading configuration")?;
    if let Some(stack) = &target.stack {
        return crate::stack::core_for_stack(stack, settings).await;
    }
    let mut embedded = casb_shared::backend::EmbeddedBackend::open(&target.data_dir)
        .with_context(|| format!("opening the data directory {}", target.data_dir.display()))?;
    if let Some(lake) = casb_shared::config::security_lake_from_env()? {
        embedded = embedded.with_security_lake(lake);
    }
    let connectors = casb_connectors::from_env(&embedded.backend);
    Ok(Core::new(embedded.backend, settings, connectors)?)
}

/// `casb export`: writes what waits in the export outbox until it is empty.
pub async fn export(target: &Target) -> anyhow::Result<()> {
    let core = core_for(target).await?;
    let mut total = casb_shared::pipeline::exporter::ExportSummary::default();
    loop {
        let summary = casb_shared::pipeline::exporter::run(&core)
            .await
            .map_err(|e| anyhow::anyhow!("export failed (the records stay in the outbox): {e}"))?;
        if let Some(skipped) = summary.skipped {
            bail!("nothing exported: {skipped}");
        }
        total.batches += summary.batches;
        total.recovered_batches += summary.recovered_batches;
        total.records += summary.records;
        total.files.extend(summary.files);
        if summary.records == 0 {
            break;
        }
    }
    println!("{}", serde_json::to_string_pretty(&total)?);
    Ok(())
}

/// `casb act restore`: undoes an incident's quarantine and collaborator removals.
pub async fn restore(target: &Target, tenant: &str, incident_id: &str) -> anyhow::Result<()> {
    let core = core_for(target).await?;
    let outcomes = casb_shared::pipeline::remediator::restore(&core, tenant, incident_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if outcomes.is_empty() {
        bail!("incident {incident_id} has no quarantine or collaborator removal to undo");
    }
    let mut all_restored = true;
    for outcome in &outcomes {
        all_restored &= outcome.status == casb_shared::domain::ActionStatus::Restored;
        println!(
            "{}: {:?}: {}",
            outcome.kind.as_str(),
            outcome.status,
            outcome.detail
        );
    }
    if !all_restored {
        bail!("not everything could be restored; see above");
    }
    Ok(())
}

/// A secret from a file, or from standard input for `-`, trimmed of its final newline.
pub fn read_secret(path: &Path) -> anyhow::Result<SecretString> {
    let mut value = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut value)
            .context("reading the secret from standard input")?;
    } else {
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut value))
            .with_context(|| format!("reading the secret from {}", path.display()))?;
    }
    let value = value.trim_end_matches(['\n', '\r']).to_string();
    if value.trim().is_empty() {
        bail!("the secret is empty");
    }
    Ok(SecretString::from(value))
}

pub async fn secret_put(target: &Target, name: &str, from: &Path) -> anyhow::Result<()> {
    let secret = read_secret(from)?;
    let core = core_for(target).await?;
    let version = core.backend.secrets.put_secret(name, &secret).await?;
    eprintln!("stored secret '{name}' (version {version})");
    Ok(())
}

pub async fn run(command: IntegrationCommand) -> anyhow::Result<()> {
    match command {
        IntegrationCommand::Add {
            target,
            provider,
            tenant,
            credential,
            mode,
            settings,
            secret_file,
        } => {
            let provider: Provider = provider.parse().map_err(anyhow::Error::msg)?;
            let credential = credential
                .map(|c| c.parse::<CredentialKind>())
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let mode: IngestMode = serde_json::from_value(serde_json::Value::String(mode.clone()))
                .map_err(|_| anyhow::anyhow!("--mode '{mode}' is not one of push, pull, both"))?;
            let settings = name_values(&settings)?;
            let secret = read_secret(&secret_file)?;
            let core = core_for(&target).await?;
            let (integration, warnings) = admin::add_integration(
                &core,
                NewIntegration {
                    provider,
                    tenant_id: tenant,
                    credential,
                    mode,
                    settings,
                    secret,
                },
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({
                    "status": "connected",
                    "integration_id": integration.id,
                    "tenant_id": integration.tenant_id,
                    "provider": integration.provider,
                    "credential": integration.credential,
                    "external_tenant_id": integration.external_tenant_id,
                    "display_name": integration.display_name,
                    "warnings": warnings,
                })
            );
            Ok(())
        }
        IntegrationCommand::List {
            target,
            tenant,
            json,
        } => {
            let core = core_for(&target).await?;
            let views = admin::list_integrations(&core, &tenant).await?;
            if json {
                for view in &views {
                    println!(
                        "{}",
                        serde_json::json!({"integration": view.integration, "streams": view.streams})
                    );
                }
                return Ok(());
            }
            if views.is_empty() {
                println!("tenant {tenant} has no integrations");
            }
            for view in &views {
                let i = &view.integration;
                println!(
                    "{}  {}  {:?}  {}  {}  {}",
                    i.id,
                    i.provider,
                    i.status,
                    i.credential,
                    i.display_name,
                    i.external_tenant_id.as_deref().unwrap_or("-")
                );
                for stream in &view.streams {
                    let h = &stream.health;
                    let name = stream.stream.rsplit('#').next().unwrap_or(&stream.stream);
                    println!(
                        "    stream {name}: last success {}, lag {}, queued {}, incomplete {}, {}",
                        h.last_success_at
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_else(|| "never".into()),
                        h.lag_seconds
                            .map(|s| format!("{s}s"))
                            .unwrap_or_else(|| "-".into()),
                        h.events_queued,
                        h.events_incomplete,
                        match &h.last_error {
                            Some(error) =>
                                format!("failing ({}x): {error}", h.consecutive_failures),
                            None => "healthy".into(),
                        }
                    );
                }
            }
            Ok(())
        }
        IntegrationCommand::Pause { target, tenant, id } => {
            set_paused(&target, &tenant, &id, true).await
        }
        IntegrationCommand::Resume { target, tenant, id } => {
            set_paused(&target, &tenant, &id, false).await
        }
        IntegrationCommand::Remove { target, tenant, id } => {
            let core = core_for(&target).await?;
            let (integration, warnings) = admin::remove_integration(&core, &tenant, &id).await?;
            println!(
                "{}",
                serde_json::json!({"status": integration.status, "integration_id": integration.id, "warnings": warnings})
            );
            Ok(())
        }
    }
}

async fn set_paused(target: &Target, tenant: &str, id: &str, paused: bool) -> anyhow::Result<()> {
    let core = core_for(target).await?;
    let integration = admin::set_paused(&core, tenant, id, paused).await?;
    println!(
        "{}",
        serde_json::json!({"status": integration.status, "integration_id": integration.id})
    );
    Ok(())
}
