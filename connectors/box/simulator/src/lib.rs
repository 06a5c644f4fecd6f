//! A stateful, in-memory stand-in for the Box API, for tests and demos of the CASB.
//!
//! It serves OAuth 2.0 (authorize with auto-consent, token, single-use refresh, revoke; and
//! Box's server-authentication grants, client credentials and JWT), the enterprise event
//! stream, webhooks v2 with signed deliveries, files, folders, shared links
//! and collaborations, shaped after Box's OpenAPI spec and the facts in
//! `shared/docs/saas-apis.md` §1. A control surface (Rust methods here and HTTP under
//! `/_sim/`) scripts scenarios, inspects state and injects faults.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use box_simulator::{BoxSimulator, SimConfig};
//! let sim = BoxSimulator::start(SimConfig::default()).await?;
//! let admin = sim.admin_user_id();
//! let file = sim.upload_file(&admin, "0", "salaries.xlsx", b"secret".to_vec()).unwrap();
//! sim.share_file(None, &file, "open").unwrap();
//! println!("API at {}", sim.api_base());
//! # Ok(()) }
//! ```

mod collaborations;
mod config;
mod control;
mod error;
mod events;
mod faults;
mod files;
mod folders;
pub mod jwt;
mod oauth;
mod params;
mod scenario;
mod server;
mod state;
mod uploads;
mod users;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

pub use collaborations::COLLABORATION_ROLES;
pub use config::{RateLimit, SimConfig};
pub use control::{CollaborationSnapshot, FileSnapshot, SharedLinkSnapshot};
pub use error::{BoxError, OAuthError};
pub use events::STREAM_POSITION_BASE;
pub use faults::HttpFault;
pub use files::{FileAccess, SharedLinkRequest, SHARED_LINK_ACCESS_LEVELS};
pub use oauth::{OAuthStats, TokenPair};
pub use scenario::DemoScenario;
pub use server::SimUrls;
pub use state::{ItemKind, ItemRef, User};
pub use webhooks::{sign_webhook_body, DeliveryTamper, WebhookDelivery, KNOWN_TRIGGERS};

/// A running simulator. Dropping it (or calling [`BoxSimulator::shutdown`]) stops both listeners.
pub struct BoxSimulator {
    running: server::RunningServer,
    config: SimConfig,
}

impl BoxSimulator {
    /// Binds the API listener and the download listener (port 0 = a free port each) and serves
    /// them on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        let running = server::start(config.clone()).await?;
        Ok(BoxSimulator { running, config })
    }

    pub(crate) fn shared(&self) -> &Arc<server::Shared> {
        &self.running.shared
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    pub fn urls(&self) -> SimUrls {
        self.running.shared.urls.clone()
    }

    /// `http://127.0.0.1:PORT` — the API host (stand-in for api.box.com and account.box.com).
    pub fn origin(&self) -> String {
        self.running.shared.urls.origin.clone()
    }

    /// `http://127.0.0.1:PORT/2.0`.
    pub fn api_base(&self) -> String {
        format!("{}/2.0", self.origin())
    }

    /// The authorize page, `.../api/oauth2/authorize` (auto-consents and redirects).
    pub fn oauth_authorize_url(&self) -> String {
        format!("{}/api/oauth2/authorize", self.origin())
    }

    /// The simulator's `/oauth2/token`. A JWT assertion may name it as `aud` instead of Box's
    /// [`jwt::BOX_TOKEN_URL`].
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.origin())
    }

    pub fn revoke_url(&self) -> String {
        format!("{}/oauth2/revoke", self.origin())
    }

    /// The upload endpoint, `.../api/2.0/files/content` (stand-in for upload.box.com; the
    /// simulator serves it on the API host).
    pub fn upload_url(&self) -> String {
        format!("{}/api/2.0/files/content", self.origin())
    }

    /// The download host (stand-in for dl.boxcloud.com), on its own port.
    pub fn download_base(&self) -> String {
        self.running.shared.urls.download_base.clone()
    }

    /// The control API root, `.../_sim`.
    pub fn control_base(&self) -> String {
        format!("{}/_sim", self.origin())
    }

    /// Stops both listeners and waits (briefly) for them to finish.
    pub async fn shutdown(mut self) {
        for signal in self.running.shutdown_signals.drain(..) {
            let _ = signal.send(());
        }
        for task in self.running.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for BoxSimulator {
    fn drop(&mut self) {
        for signal in self.running.shutdown_signals.drain(..) {
            let _ = signal.send(());
        }
        for task in &self.running.tasks {
            task.abort();
        }
    }
}
