//! The simulated tenant: users, the app's consent, issued tokens, Management API
//! subscriptions and content blobs, webhook deliveries, faults and counters. Everything lives
//! in one `SimState` behind a mutex (see `server::Shared`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::SimConfig;
use crate::faults::HttpFault;
use crate::files::{DownloadGrant, Drive, DriveItem};
use crate::graph_subscriptions::{
    GraphNotificationDelivery, GraphSubscription, PendingGraphNotification,
};

/// The two resources the app asks tokens for; a token works only at its own resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resource {
    /// Microsoft Graph, `https://graph.microsoft.com`.
    Graph,
    /// The Office 365 Management APIs, `https://manage.office.com`.
    Manage,
}

impl Resource {
    /// The application ID URI, which is also the token's `aud`.
    pub fn audience(self) -> &'static str {
        match self {
            Resource::Graph => "https://graph.microsoft.com",
            Resource::Manage => "https://manage.office.com",
        }
    }

    /// The only scope value the client credentials grant takes for this resource.
    pub fn default_scope(self) -> &'static str {
        match self {
            Resource::Graph => "https://graph.microsoft.com/.default",
            Resource::Manage => "https://manage.office.com/.default",
        }
    }

    pub(crate) fn from_scope(scope: &str) -> Option<Self> {
        [Resource::Graph, Resource::Manage]
            .into_iter()
            .find(|resource| resource.default_scope().eq_ignore_ascii_case(scope))
    }
}

/// A user of the simulated tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantUser {
    /// The user's object id (a GUID).
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub mail: String,
    /// `Member` or `Guest`.
    pub user_type: String,
    /// The hex PUID that audit records carry in `UserKey` for Entra sign-ins.
    pub puid: String,
}

#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub resource: Resource,
    pub tenant_id: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct ManagementWebhook {
    pub address: String,
    pub auth_id: Option<String>,
    pub expiration: Option<DateTime<Utc>>,
}

impl ManagementWebhook {
    /// `enabled`, or `expired` once the expiration has passed (then nothing is sent).
    pub fn status(&self) -> &'static str {
        match self.expiration {
            Some(expiration) if expiration <= Utc::now() => "expired",
            _ => "enabled",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ManagementSubscription {
    pub content_type: String,
    pub webhook: Option<ManagementWebhook>,
}

/// One content blob of the activity feed.
#[derive(Debug, Clone)]
pub(crate) struct ContentBlob {
    /// Publication order, which is the order the feed lists blobs in and what `nextPage`
    /// points into.
    pub sequence: u64,
    pub content_type: String,
    pub content_id: String,
    pub content_created: DateTime<Utc>,
    pub records: Vec<Value>,
}

/// A Management API subscription as the simulator holds it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementSubscriptionSnapshot {
    pub content_type: String,
    /// `enabled` (a stopped subscription is removed).
    pub status: String,
    pub webhook_address: Option<String>,
}

/// One POST the simulator made to a Management API webhook (a validation or a notification).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagementWebhookDelivery {
    pub address: String,
    /// `true` for the validation POST sent by `/subscriptions/start`.
    pub validation: bool,
    /// The content type of the subscription the POST was for.
    pub content_type: String,
    pub sent_at: DateTime<Utc>,
    /// The `Webhook-AuthID` header sent, if any.
    pub auth_id: Option<String>,
    /// The content ids the notification announced (empty for a validation).
    pub content_ids: Vec<String>,
    /// 1 for the first try, 2.. for retries.
    pub attempt: u32,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub body: Value,
}

impl ManagementWebhookDelivery {
    /// Microsoft counts only 200 as success.
    pub fn succeeded(&self) -> bool {
        self.status == Some(200)
    }
}

pub(crate) struct SimState {
    pub config: SimConfig,
    pub users: BTreeMap<String, TenantUser>,
    pub tokens: HashMap<String, IssuedToken>,
    pub token_requests: HashMap<Resource, usize>,
    pub used_assertion_ids: HashMap<String, DateTime<Utc>>,
    pub subscriptions: BTreeMap<String, ManagementSubscription>,
    pub blobs: Vec<ContentBlob>,
    pub next_blob_sequence: u64,
    pub deliveries: Vec<ManagementWebhookDelivery>,
    pub management_calls: usize,
    pub management_calls_without_publisher: usize,
    pub faults: Vec<HttpFault>,
    pub faulted_requests: usize,
    pub drives: BTreeMap<String, Drive>,
    pub items: BTreeMap<String, DriveItem>,
    /// The last change sequence number given out (shared by all drives).
    pub next_change_seq: u64,
    pub download_grants: HashMap<String, DownloadGrant>,
    pub graph_subscriptions: BTreeMap<String, GraphSubscription>,
    pub graph_deliveries: Vec<GraphNotificationDelivery>,
    /// Graph notifications queued by the last operation; sent once the lock is released.
    pub graph_outbox: Vec<PendingGraphNotification>,
}

pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `now + span`, saturating instead of overflowing on absurd configured lifetimes.
pub(crate) fn from_now(span: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|d| Utc::now().checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl SimState {
    pub fn new(config: SimConfig) -> Self {
        let mut state = SimState {
            config,
            users: BTreeMap::new(),
            tokens: HashMap::new(),
            token_requests: HashMap::new(),
            used_assertion_ids: HashMap::new(),
            subscriptions: BTreeMap::new(),
            blobs: Vec::new(),
            next_blob_sequence: 1,
            deliveries: Vec::new(),
            management_calls: 0,
            management_calls_without_publisher: 0,
            faults: Vec::new(),
            faulted_requests: 0,
            drives: BTreeMap::new(),
            items: BTreeMap::new(),
            next_change_seq: 0,
            download_grants: HashMap::new(),
            graph_subscriptions: BTreeMap::new(),
            graph_deliveries: Vec::new(),
            graph_outbox: Vec::new(),
        };
        let domain = state.config.tenant_domain.clone();
        state.add_user(&format!("admin@{domain}"), "MOD Administrator", false);
        state.add_user(&format!("alice@{domain}"), "Alice Anders", false);
        state
    }

    /// Adds a user (or returns the existing one's id for a UPN already present).
    pub fn add_user(&mut self, upn: &str, display_name: &str, guest: bool) -> String {
        if let Some(existing) = self.user_by_upn(upn) {
            return existing.id.clone();
        }
        let id = new_guid();
        let puid = uuid::Uuid::new_v4().simple().to_string()[..16].to_ascii_uppercase();
        self.users.insert(
            id.clone(),
            TenantUser {
                id: id.clone(),
                user_principal_name: upn.to_string(),
                display_name: display_name.to_string(),
                mail: upn.to_string(),
                user_type: if guest { "Guest" } else { "Member" }.to_string(),
                puid,
            },
        );
        self.ensure_drive(&id);
        id
    }

    pub fn user_by_upn(&self, upn: &str) -> Option<&TenantUser> {
        self.users
            .values()
            .find(|user| user.user_principal_name.eq_ignore_ascii_case(upn))
    }

    /// Whether a tenant named in a URL path is this tenant (its GUID or its domain).
    pub fn is_own_tenant(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(&self.config.tenant_id)
            || tenant.eq_ignore_ascii_case(&self.config.tenant_domain)
    }
}
