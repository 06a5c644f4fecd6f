//! `casb api-key`: the REST API's credentials, on the embedded back end or a deployed stack's
//! table (`--stack`), through the same store the API reads.

use anyhow::{bail, Context};
use chrono::{Duration, Utc};
use clap::Subcommand;

use casb_shared::access::{self, ApiCredential, CredentialKind};

use crate::admin::{core_for, Target};

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create a bearer API key for a tenant (printed once: it is stored only as a hash), or,
    /// with --user, an API user for HTTP Basic with a generated password.
    Create {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        /// A label for people (who uses the key, for what).
        #[arg(long, default_value = "api key")]
        name: String,
        /// Make an API user with this name (for Basic) instead of a key.
        #[arg(long)]
        user: Option<String>,
        /// Days until the key expires; without it, it lasts until revoked.
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Print only the secret (for scripts: `KEY=$(casb api-key create ... --quiet)`).
        #[arg(long)]
        quiet: bool,
    },
    /// The tenant's credentials: keys, API users and access tokens, with their state.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a credential: it stops working at once.
    Revoke {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenant: String,
        /// The credential id (`k_...`, `t_...` or `user:<name>`), as `list` shows.
        id: String,
    },
}

fn state(credential: &ApiCredential) -> String {
    let now = Utc::now();
    match credential.unusable(now) {
        None => match credential.expires_at {
            Some(at) => format!("active until {}", at.format("%Y-%m-%d %H:%M UTC")),
            None => "active".into(),
        },
        Some(_) if credential.revoked_at.is_some() => "revoked".into(),
        Some(_) => "expired".into(),
    }
}

pub async fn run(command: ApiKeyCommand) -> anyhow::Result<()> {
    match command {
        ApiKeyCommand::Create {
            target,
            tenant,
            name,
            user,
            expires_in_days,
            quiet,
        } => {
            casb_shared::domain::validate_id("tenant id", &tenant).map_err(anyhow::Error::msg)?;
            let core = core_for(&target).await?;
            let now = Utc::now();
            let issued = match &user {
                Some(user) => {
                    access::validate_user_name(user).map_err(anyhow::Error::msg)?;
                    if expires_in_days.is_some() {
                        bail!("--expires-in-days applies to keys; API users last until revoked and their access tokens expire after an hour");
                    }
                    access::issue_api_user(&tenant, user, now)
                }
                None => access::issue_api_key(
                    &tenant,
                    &name,
                    now,
                    expires_in_days.map(|d| now + Duration::days(i64::from(d))),
                ),
            };
            let created = core
                .backend
                .access
                .create_credential(&issued.credential)
                .await
                .context("storing the credential")?;
            if !created {
                bail!(
                    "an API user named '{}' already exists (user names are unique across tenants): choose another name, or revoke it first",
                    user.unwrap_or_default()
                );
            }
            if quiet {
                println!("{}", issued.secret);
                return Ok(());
            }
            match issued.credential.kind {
                CredentialKind::BasicUser => {
                    println!("API user {} for tenant {tenant}", issued.credential.name);
                    println!("password (shown once): {}", issued.secret);
                    println!("exchange it for an hour's bearer token: curl -u '{}:<password>' -X POST <api url>/api/v1/tokens", issued.credential.name);
                }
                _ => {
                    println!(
                        "API key {} for tenant {tenant} ({})",
                        issued.credential.id,
                        state(&issued.credential)
                    );
                    println!("token (shown once): {}", issued.secret);
                    println!("use it as: Authorization: Bearer <token>");
                }
            }
            Ok(())
        }
        ApiKeyCommand::List { target, tenant } => {
            casb_shared::domain::validate_id("tenant id", &tenant).map_err(anyhow::Error::msg)?;
            let core = core_for(&target).await?;
            let credentials = core
                .backend
                .access
                .list_credentials(&tenant)
                .await
                .context("reading credentials")?;
            if credentials.is_empty() {
                println!("no API credentials for tenant {tenant}: create one with `casb api-key create --tenant {tenant}`");
                return Ok(());
            }
            println!(
                "{:<22} {:<13} {:<28} {:<20} state",
                "id", "kind", "name", "created"
            );
            for c in &credentials {
                println!(
                    "{:<22} {:<13} {:<28} {:<20} {}",
                    c.id,
                    casb_shared::domain::enum_label(&c.kind),
                    c.name,
                    c.created_at.format("%Y-%m-%d %H:%M UTC"),
                    state(c)
                );
            }
            Ok(())
        }
        ApiKeyCommand::Revoke { target, tenant, id } => {
            casb_shared::domain::validate_id("tenant id", &tenant).map_err(anyhow::Error::msg)?;
            let core = core_for(&target).await?;
            let revoked = core
                .backend
                .access
                .revoke_credential(&tenant, &id, Utc::now())
                .await
                .context("revoking the credential")?;
            if !revoked {
                bail!("tenant {tenant} has no credential '{id}' (see `casb api-key list --tenant {tenant}`)");
            }
            println!("revoked {id}");
            Ok(())
        }
    }
}
