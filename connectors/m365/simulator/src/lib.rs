//! A stateful, in-memory stand-in for Microsoft 365, for tests and demos of the CASB.
//!
//! It serves, each on its own loopback port so that host allow-lists in a client mean
//! something:
//! - **login** (login.microsoftonline.com): admin consent and the client credentials grant
//!   (client secret or certificate-signed client assertion), tokens bound to one resource;
//! - **manage** (manage.office.com): the Office 365 Management Activity API (subscriptions,
//!   content listing with `NextPageUri`, blobs, webhooks);
//! - **graph** (graph.microsoft.com): organization, users, OneDrive drives, SharePoint team
//!   sites (site search, sites by URL, their `Shared Documents` library) and items (download,
//!   permissions inherited from folders, delete, move, create folder), the drive delta query,
//!   and change notification subscriptions;
//! - **download** (the tenant's `*.sharepoint.com` download URLs): pre-authenticated file
//!   downloads.
//!
//! Shapes follow Microsoft's published docs and `shared/docs/saas-apis.md` §2; where the docs
//! are silent the code says `[GUESS]`. Rust control methods script scenarios, publish audit
//! content, inspect state and inject faults.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use m365_simulator::{M365Simulator, SimConfig};
//! let sim = M365Simulator::start(SimConfig::default()).await?;
//! let record = sim.file_record(
//!     "FileUploaded",
//!     "alice@contoso.onmicrosoft.com",
//!     "https://contoso-my.sharepoint.com/personal/alice_contoso_onmicrosoft_com",
//!     "Documents",
//!     "salaries.xlsx",
//! );
//! let content_id = sim.publish_records("Audit.SharePoint", vec![record]);
//! println!("feed at {}, blob {content_id}", sim.manage_base());
//! # Ok(()) }
//! ```

mod assertion;
mod config;
mod error;
mod faults;
mod files;
mod graph;
mod graph_subscriptions;
mod identity;
mod management;
mod records;
mod server;
mod state;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use assertion::{assertion_claims, test_certificate, CertificateKeyPair};
pub use config::SimConfig;
pub use error::{GraphError, IdentityError, ManageError};
pub use faults::{HttpFault, Listener};
pub use files::{ItemRef, PermissionSnapshot};
pub use graph_subscriptions::{
    GraphNotificationDelivery, GraphSubscriptionSnapshot, MAX_DRIVE_SUBSCRIPTION_MINUTES,
};
pub use identity::CLIENT_ASSERTION_TYPE;
pub use management::CONTENT_TYPES;
pub use records::{
    DEFAULT_CLIENT_IP, DEFAULT_USER_AGENT, RECORD_TYPE_AZURE_ACTIVE_DIRECTORY_STS_LOGON,
    RECORD_TYPE_SHAREPOINT_FILE_OPERATION, RECORD_TYPE_SHAREPOINT_SHARING_OPERATION,
};
pub use server::SimUrls;
pub use state::{ManagementSubscriptionSnapshot, ManagementWebhookDelivery, Resource, TenantUser};

/// A running simulator. Dropping it (or calling [`M365Simulator::shutdown`]) stops the
/// listeners.
pub struct M365Simulator {
    running: server::RunningServer,
}

impl M365Simulator {
    /// Binds the four listeners on 127.0.0.1 (a free port each) and serves them on the
    /// current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        let running = server::start(config).await?;
        Ok(M365Simulator { running })
    }

    fn shared(&self) -> &Arc<server::Shared> {
        &self.running.shared
    }

    /// The configuration as it stands (consent flags change at run time).
    pub fn config(&self) -> SimConfig {
        self.shared().with_state(|state| state.config.clone())
    }

    pub fn urls(&self) -> SimUrls {
        self.shared().urls.clone()
    }

    /// `http://127.0.0.1:P`, stand-in for `https://login.microsoftonline.com`.
    pub fn login_base(&self) -> String {
        self.shared().urls.login.clone()
    }

    /// `http://127.0.0.1:P`, stand-in for `https://manage.office.com`.
    pub fn manage_base(&self) -> String {
        self.shared().urls.manage.clone()
    }

    /// `http://127.0.0.1:P/v1.0`, stand-in for `https://graph.microsoft.com/v1.0`.
    pub fn graph_base(&self) -> String {
        format!("{}/v1.0", self.shared().urls.graph)
    }

    /// `http://127.0.0.1:P`, stand-in for the tenant's `*.sharepoint.com` download host.
    pub fn download_base(&self) -> String {
        self.shared().urls.download.clone()
    }

    /// The token endpoint for the simulated tenant, `{login}/{tenant_id}/oauth2/v2.0/token`
    /// (also the `aud` a client assertion may name).
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.login_base(),
            self.shared()
                .with_state(|state| state.config.tenant_id.clone())
        )
    }

    /// The activity feed root, `{manage}/api/v1.0/{tenant_id}/activity/feed`.
    pub fn feed_root(&self) -> String {
        format!(
            "{}/api/v1.0/{}/activity/feed",
            self.manage_base(),
            self.shared()
                .with_state(|state| state.config.tenant_id.clone())
        )
    }

    /// Makes the admin decline (or accept) the next admin consent prompts.
    pub fn set_consent_denied(&self, denied: bool) {
        self.shared()
            .with_state(|state| state.config.consent_denied = denied);
    }

    /// Whether the app is consented in the tenant (the client credentials grant needs it).
    pub fn admin_consent_granted(&self) -> bool {
        self.shared()
            .with_state(|state| state.config.admin_consent_granted)
    }

    /// Grants or revokes the app's consent in the tenant (revoking: the token endpoint then
    /// answers AADSTS700016, as for an app without a service principal).
    pub fn set_admin_consent_granted(&self, granted: bool) {
        self.shared()
            .with_state(|state| state.config.admin_consent_granted = granted);
    }

    /// How many token requests named `resource`'s scope (whatever their outcome).
    pub fn token_requests(&self, resource: Resource) -> usize {
        self.shared().with_state(|state| {
            state
                .token_requests
                .get(&resource)
                .copied()
                .unwrap_or_default()
        })
    }

    /// An access token for `resource`, issued without an HTTP round trip (not counted in
    /// [`Self::token_requests`]).
    pub fn issue_token(&self, resource: Resource) -> String {
        self.shared().with_state(|state| {
            identity::issue_token(state, resource, "1")["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
    }

    /// Expires every token issued so far: the next call with one gets 401.
    pub fn expire_tokens(&self) {
        let now = Utc::now();
        self.shared().with_state(|state| {
            for token in state.tokens.values_mut() {
                token.expires_at = now;
            }
        });
    }

    /// The tenant's users.
    pub fn users(&self) -> Vec<TenantUser> {
        self.shared()
            .with_state(|state| state.users.values().cloned().collect())
    }

    /// Adds a user (a guest if `guest`) and returns their object id; an existing UPN keeps
    /// its user.
    pub fn add_user(&self, upn: &str, display_name: &str, guest: bool) -> String {
        self.shared()
            .with_state(|state| state.add_user(upn, display_name, guest))
    }

    /// A SharePoint/OneDrive file operation record (RecordType 6), e.g. `FileUploaded`,
    /// `FileDownloaded`, `FileAccessed`, `FileDeleted`. `site_url` is the site
    /// (`https://contoso-my.sharepoint.com/personal/alice_contoso_com`), `relative_url` the
    /// folder within it (`Documents`).
    pub fn file_record(
        &self,
        operation: &str,
        user: &str,
        site_url: &str,
        relative_url: &str,
        file_name: &str,
    ) -> Value {
        self.shared().with_state(|state| {
            state.file_record(operation, user, site_url, relative_url, file_name)
        })
    }

    /// A sharing record (RecordType 14), e.g. `SharingSet`, `AnonymousLinkCreated`,
    /// `CompanyLinkCreated`, with `TargetUserOrGroupName` and `TargetUserOrGroupType`
    /// (`Member`, `Guest`, `Group` or `Partner`).
    #[allow(clippy::too_many_arguments)]
    pub fn sharing_record(
        &self,
        operation: &str,
        user: &str,
        site_url: &str,
        relative_url: &str,
        file_name: &str,
        target: &str,
        target_type: &str,
    ) -> Value {
        self.shared().with_state(|state| {
            state.sharing_record(
                operation,
                user,
                site_url,
                relative_url,
                file_name,
                target,
                target_type,
            )
        })
    }

    /// An Entra sign-in record (RecordType 15, `UserLoggedIn` or `UserLoginFailed`) for
    /// `Audit.AzureActiveDirectory`.
    pub fn sign_in_record(&self, user: &str, ip: &str, success: bool) -> Value {
        self.shared()
            .with_state(|state| state.sign_in_record(user, ip, success))
    }

    /// Publishes a new content blob of `content_type` holding `records`, created now, and
    /// notifies the content type's webhook. Returns the content id. The same record may be
    /// published in several blobs (the real feed repeats records).
    pub fn publish_records(&self, content_type: &str, records: Vec<Value>) -> String {
        self.publish_blob(content_type, records, Utc::now())
    }

    /// Publishes a blob that becomes listable only now although its `contentCreated` is
    /// `content_created` (in the past): late content, which a client that already listed that
    /// window missed.
    pub fn publish_late_blob(
        &self,
        content_type: &str,
        records: Vec<Value>,
        content_created: DateTime<Utc>,
    ) -> String {
        self.publish_blob(content_type, records, content_created)
    }

    fn publish_blob(
        &self,
        content_type: &str,
        records: Vec<Value>,
        content_created: DateTime<Utc>,
    ) -> String {
        let shared = self.shared();
        let manage_origin = shared.urls.manage.clone();
        let (content_id, notification) = shared.with_state(|state| {
            state.publish_blob(&manage_origin, content_type, records, content_created)
        });
        self.send_notifications(notification.into_iter().collect());
        content_id
    }

    /// Every call the manage listener received.
    pub fn management_calls(&self) -> usize {
        self.shared().with_state(|state| state.management_calls)
    }

    /// Calls to the manage listener without a `PublisherIdentifier` query parameter.
    pub fn management_calls_without_publisher(&self) -> usize {
        self.shared()
            .with_state(|state| state.management_calls_without_publisher)
    }

    pub fn management_subscriptions(&self) -> Vec<ManagementSubscriptionSnapshot> {
        self.shared().with_state(|state| {
            state
                .subscriptions
                .values()
                .map(|subscription| ManagementSubscriptionSnapshot {
                    content_type: subscription.content_type.clone(),
                    status: "enabled".to_string(),
                    webhook_address: subscription
                        .webhook
                        .as_ref()
                        .map(|hook| hook.address.clone()),
                })
                .collect()
        })
    }

    /// Every POST made to a Management API webhook (validations and notifications, with
    /// retries), oldest first.
    pub fn management_webhook_deliveries(&self) -> Vec<ManagementWebhookDelivery> {
        self.shared().with_state(|state| state.deliveries.clone())
    }

    /// Waits until at least `count` webhook POSTs are logged (or `timeout` passes) and
    /// returns the log.
    pub async fn wait_for_management_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<ManagementWebhookDelivery> {
        let shared = self.shared();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = shared.delivery_notify.notified();
            let deliveries = self.management_webhook_deliveries();
            if deliveries.len() >= count || tokio::time::Instant::now() >= deadline {
                return deliveries;
            }
            // Re-check at least every 50 ms in case a wake-up raced the check above.
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    fn send_notifications(&self, management: Vec<management::PendingNotification>) {
        let shared = self.shared();
        for notification in management {
            shared.runtime.spawn(management::deliver_notification(
                Arc::clone(shared),
                notification,
            ));
        }
        shared.flush_graph_notifications();
    }

    /// The id of the OneDrive of a user (by object id or UPN); guests have none.
    pub fn drive_id_of(&self, user: &str) -> Option<String> {
        self.shared().with_state(|state| state.drive_of_user(user))
    }

    /// Uploads a file to the root of `user_upn`'s OneDrive (a Graph change: delta and
    /// subscriptions see it) and publishes the matching `FileUploaded` record to
    /// Audit.SharePoint (same `SiteUrl`, `SourceRelativeUrl` and `SourceFileName`).
    pub fn upload_file(
        &self,
        user_upn: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<ItemRef, GraphError> {
        let manage_origin = self.manage_base();
        let (item, notification) = self
            .shared()
            .with_state(|state| state.upload_file(&manage_origin, user_upn, name, bytes))?;
        self.send_notifications(notification.into_iter().collect());
        Ok(item)
    }

    /// Adds a SharePoint team site `https://<tenant-prefix>.sharepoint.com/sites/<name>` with
    /// its default document library (URL segment `Shared Documents`) and returns the library's
    /// drive id, which every `drives/{id}` route (items, delta, permissions, content,
    /// subscriptions) serves like a OneDrive. An existing site name returns its drive id.
    pub fn add_team_site(&self, name: &str) -> String {
        self.shared().with_state(|state| state.add_team_site(name))
    }

    /// Uploads a file by `user_upn` to the root of the library `drive_id` (a team site's, or a
    /// OneDrive) like [`Self::upload_file`], and publishes the `FileUploaded` record to
    /// Audit.SharePoint with the site's `SiteUrl`, `SourceRelativeUrl` = the library segment
    /// (`Shared Documents`) and `SourceFileName`.
    pub fn upload_to_site(
        &self,
        drive_id: &str,
        user_upn: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<ItemRef, GraphError> {
        let root = ItemRef {
            drive_id: drive_id.to_string(),
            item_id: "root".to_string(),
        };
        self.upload_file_to(&root, user_upn, name, bytes)
    }

    /// Creates a folder `name` in the drive, under the folder `parent_item_id` (`None`: the
    /// drive root). A Graph change (delta and subscriptions see it); no audit record.
    pub fn create_folder(
        &self,
        drive_id: &str,
        parent_item_id: Option<&str>,
        name: &str,
    ) -> Result<ItemRef, GraphError> {
        let item = self
            .shared()
            .with_state(|state| state.create_folder_item(drive_id, parent_item_id, name))?;
        self.shared().flush_graph_notifications();
        Ok(item)
    }

    /// Uploads a file by `user_upn` into `folder` (of any drive) like [`Self::upload_file`]
    /// and publishes the `FileUploaded` record with `SourceRelativeUrl` = the library segment
    /// plus the folder path (`Documents/Reports/2024`, `Shared Documents/Board`).
    pub fn upload_file_to(
        &self,
        folder: &ItemRef,
        user_upn: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<ItemRef, GraphError> {
        let manage_origin = self.manage_base();
        let (item, notification) = self.shared().with_state(|state| {
            state.upload_into(
                &manage_origin,
                &folder.drive_id,
                &folder.item_id,
                user_upn,
                name,
                bytes,
            )
        })?;
        self.send_notifications(notification.into_iter().collect());
        Ok(item)
    }

    /// Adds a view link with `scope` `anonymous` or `organization` to the item, and publishes
    /// `AnonymousLinkCreated`/`CompanyLinkCreated` and `SharingSet` records. Returns the
    /// link's URL.
    pub fn create_sharing_link(&self, item: &ItemRef, scope: &str) -> Result<String, GraphError> {
        let manage_origin = self.manage_base();
        let (url, notifications) = self
            .shared()
            .with_state(|state| state.create_sharing_link(&manage_origin, item, scope))?;
        self.send_notifications(notifications);
        Ok(url)
    }

    /// Grants `email` direct (write) access to the item and publishes a `SharingSet` record
    /// (target type `Guest` or `Member`).
    pub fn invite(&self, item: &ItemRef, email: &str, guest: bool) -> Result<(), GraphError> {
        let manage_origin = self.manage_base();
        let notifications = self
            .shared()
            .with_state(|state| state.invite(&manage_origin, item, email, guest))?;
        self.send_notifications(notifications);
        Ok(())
    }

    /// The item's permissions, the inherited owner permission first, then those granted on
    /// folders above it (`inherited`, same ids), then its own.
    pub fn permissions(&self, item: &ItemRef) -> Result<Vec<PermissionSnapshot>, GraphError> {
        self.shared().with_state(|state| state.permissions_of(item))
    }

    /// Whether the item exists and is not in the recycle bin, and its parent folder id.
    pub fn item_parent(&self, item: &ItemRef) -> Option<String> {
        self.shared().with_state(|state| {
            state
                .items
                .get(&item.item_id)
                .filter(|found| found.drive_id == item.drive_id && !found.deleted)
                .and_then(|found| found.parent_id.clone())
        })
    }

    /// Makes the next delta call on `drive_id` with a token issued before now answer 410
    /// Gone (with a `Location` to restart from). False for an unknown drive.
    pub fn force_delta_resync(&self, drive_id: &str) -> bool {
        self.shared()
            .with_state(|state| state.force_delta_resync(drive_id))
    }

    pub fn graph_subscriptions(&self) -> Vec<GraphSubscriptionSnapshot> {
        self.shared()
            .with_state(|state| state.graph_subscription_snapshots())
    }

    /// Removes a Graph subscription as Microsoft may; with `notify_lifecycle`, sends
    /// `subscriptionRemoved` to its lifecycle URL. False if there was no such subscription.
    pub fn remove_graph_subscription(&self, id: &str, notify_lifecycle: bool) -> bool {
        let removed = self
            .shared()
            .with_state(|state| state.remove_graph_subscription(id, notify_lifecycle));
        self.shared().flush_graph_notifications();
        removed
    }

    /// Every POST made to Graph notification and lifecycle URLs, oldest first.
    pub fn graph_notification_deliveries(&self) -> Vec<GraphNotificationDelivery> {
        self.shared()
            .with_state(|state| state.graph_deliveries.clone())
    }

    /// Waits until at least `count` Graph notifications are logged (or `timeout` passes).
    pub async fn wait_for_graph_notifications(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<GraphNotificationDelivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared().delivery_notify.notified();
            let deliveries = self.graph_notification_deliveries();
            if deliveries.len() >= count || tokio::time::Instant::now() >= deadline {
                return deliveries;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    /// Injects a fault: the next `fault.times` matching requests get `fault.status`.
    pub fn inject_fault(&self, fault: HttpFault) {
        self.shared().with_state(|state| state.faults.push(fault));
    }

    /// How many requests were answered by an injected fault.
    pub fn faulted_requests(&self) -> usize {
        self.shared().with_state(|state| state.faulted_requests)
    }

    /// Stops the listeners and waits (briefly) for them to finish.
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

impl Drop for M365Simulator {
    fn drop(&mut self) {
        for signal in self.running.shutdown_signals.drain(..) {
            let _ = signal.send(());
        }
        for task in &self.running.tasks {
            task.abort();
        }
    }
}
