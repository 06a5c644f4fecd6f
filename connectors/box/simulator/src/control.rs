//! The simulator's control surface for tests and demos: Rust methods on [`BoxSimulator`] and
//! the same operations over HTTP under `/_sim/`. Control actions act as a named user (default
//! the item's owner or the admin) and append the same Box events as the API would.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::RateLimit;
use crate::error::BoxError;
use crate::faults::HttpFault;
use crate::files::{FileAccess, SharedLinkRequest};
use crate::oauth::{OAuthStats, TokenPair};
use crate::server::Shared;
use crate::state::{now, ItemKind, ItemRef, SimState, User};
use crate::webhooks::{DeliveryTamper, WebhookDelivery};
use crate::BoxSimulator;

/// A file as the simulator holds it, for assertions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSnapshot {
    pub id: String,
    pub name: String,
    pub parent_id: String,
    pub owner_id: String,
    pub size: u64,
    pub sha1: String,
    pub etag: String,
    pub trashed: bool,
    pub shared_link: Option<SharedLinkSnapshot>,
    pub collaborations: Vec<CollaborationSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedLinkSnapshot {
    pub url: String,
    pub access: String,
    pub is_password_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollaborationSnapshot {
    pub id: String,
    pub user_id: String,
    pub login: String,
    pub role: String,
    pub status: String,
}

impl SimState {
    fn file_snapshot(&self, file_id: &str) -> Option<FileSnapshot> {
        let file = self.files.get(file_id)?;
        let collaborations = self
            .collaborations
            .values()
            .filter(|c| c.item.kind == ItemKind::File && c.item.id == file_id)
            .map(|c| CollaborationSnapshot {
                id: c.id.clone(),
                user_id: c.user_id.clone(),
                login: self
                    .users
                    .get(&c.user_id)
                    .map(|u| u.login.clone())
                    .unwrap_or_default(),
                role: c.role.clone(),
                status: c.status.clone(),
            })
            .collect();
        Some(FileSnapshot {
            id: file.id.clone(),
            name: file.name.clone(),
            parent_id: file.parent_id.clone(),
            owner_id: file.owner_id.clone(),
            size: file.size,
            sha1: file.sha1.clone(),
            etag: file.etag.to_string(),
            trashed: file.trashed_at.is_some(),
            shared_link: file.shared_link.as_ref().map(|l| SharedLinkSnapshot {
                url: format!("https://app.box.com/s/{}", l.token),
                access: l.access.clone(),
                is_password_enabled: l.password_enabled,
            }),
            collaborations,
        })
    }

    /// Control actions on a file act as the named user, or else as the file's owner.
    fn actor_or_file_owner(
        &self,
        user_id: Option<&str>,
        file_id: &str,
    ) -> Result<String, BoxError> {
        match user_id {
            Some(id) => Ok(id.to_string()),
            None => Ok(self.live_file(file_id)?.owner_id.clone()),
        }
    }

    /// The snapshot a control request answers with after changing the file.
    fn changed_file_snapshot(&self, file_id: &str) -> Result<FileSnapshot, BoxError> {
        self.file_snapshot(file_id)
            .ok_or_else(|| BoxError::not_found("file vanished"))
    }

    fn create_user_checked(
        &mut self,
        name: &str,
        login: &str,
        role: &str,
    ) -> Result<User, BoxError> {
        if self.user_by_login(login).is_some() {
            return Err(BoxError::conflict(
                "user_login_already_used",
                format!("A user with login {login} already exists"),
            ));
        }
        if !["user", "admin", "coadmin"].contains(&role) {
            return Err(BoxError::bad_request("role must be user, coadmin or admin"));
        }
        let is_member = self.is_enterprise_login(login);
        let id = self.insert_user(name, login, role, is_member);
        self.user(&id).cloned()
    }

    fn inject_late_event(
        &mut self,
        actor_id: &str,
        item: &ItemRef,
        event_type: &str,
        age: Duration,
    ) -> Result<String, BoxError> {
        self.user(actor_id)?;
        self.live_item(item)?;
        let source = self.event_source(item);
        let created_at = crate::state::ago(age);
        Ok(self.append_event(event_type, actor_id, source, json!({}), created_at))
    }

    /// The users the control surface shows: everyone but Box's anonymous user.
    fn listed_users(&self) -> Vec<User> {
        self.users
            .values()
            .filter(|u| u.id != crate::state::ANONYMOUS_USER_ID)
            .cloned()
            .collect()
    }

    fn event_log(&self) -> Vec<Value> {
        self.stream.iter().map(|e| e.event.clone()).collect()
    }

    fn webhooks_json(&self) -> Vec<Value> {
        self.webhooks
            .values()
            .map(|hook| self.webhook_json(hook))
            .collect()
    }

    fn issue_tokens_for(&mut self, user_id: &str) -> Result<TokenPair, BoxError> {
        self.user(user_id)?;
        Ok(self.issue_token_pair(user_id))
    }

    /// A new limit starts every token's window afresh.
    fn set_rate_limit(&mut self, limit: Option<RateLimit>) {
        self.config.rate_limit = limit;
        self.rate_windows.clear();
    }

    fn record_login(&mut self, user_id: &str, success: bool) -> Result<String, BoxError> {
        self.user(user_id)?;
        let source = self.user_mini(user_id);
        Ok(self.append_event(
            if success { "LOGIN" } else { "FAILED_LOGIN" },
            user_id,
            source,
            json!({}),
            now(),
        ))
    }

    /// A sign-in from a given address (the event's `ip_address`), for threat scenarios.
    fn record_login_from(
        &mut self,
        user_id: &str,
        success: bool,
        address: &str,
    ) -> Result<String, BoxError> {
        let event_id = self.record_login(user_id, success)?;
        for entry in self
            .stream
            .iter_mut()
            .filter(|e| e.event["event_id"] == event_id.as_str())
        {
            entry.event["ip_address"] = json!(address);
        }
        Ok(event_id)
    }
}

/// Control methods. They lock the world briefly and never block on the network; webhook
/// deliveries they cause are spawned on the simulator's runtime.
impl BoxSimulator {
    fn with_state<R>(&self, operation: impl FnOnce(&mut SimState) -> R) -> R {
        self.shared().with_state(operation)
    }

    /// The seeded enterprise admin (the user the authorize page consents as by default).
    pub fn admin_user_id(&self) -> String {
        self.with_state(|s| s.admin_user_id.clone())
    }

    pub fn user_id_by_login(&self, login: &str) -> Option<String> {
        self.with_state(|s| s.user_by_login(login).map(|u| u.id.clone()))
    }

    pub fn users(&self) -> Vec<User> {
        self.with_state(|s| s.listed_users())
    }

    /// Creates a user; a login on the enterprise domain makes a managed user, any other an
    /// external one. `role`: `user`, `coadmin` or `admin`.
    pub fn create_user(&self, name: &str, login: &str, role: &str) -> Result<User, BoxError> {
        self.with_state(|s| s.create_user_checked(name, login, role))
    }

    /// Issues a token pair for a user without the OAuth dance (counts as issued, not refreshed).
    pub fn issue_tokens(&self, user_id: &str) -> Result<TokenPair, BoxError> {
        self.with_state(|s| s.issue_tokens_for(user_id))
    }

    pub fn create_folder(
        &self,
        owner_id: &str,
        parent_id: &str,
        name: &str,
    ) -> Result<String, BoxError> {
        self.with_state(|s| s.create_folder(owner_id, parent_id, name))
    }

    /// Uploads a file as `owner_id` (UPLOAD event, FILE.UPLOADED webhooks).
    pub fn upload_file(
        &self,
        owner_id: &str,
        parent_id: &str,
        name: &str,
        content: impl Into<Vec<u8>>,
    ) -> Result<String, BoxError> {
        let content = content.into();
        self.with_state(|s| s.upload_file(owner_id, parent_id, name, content))
    }

    /// New content for a file (EDIT event). `user_id` `None` = the owner.
    pub fn edit_file(
        &self,
        user_id: Option<&str>,
        file_id: &str,
        content: impl Into<Vec<u8>>,
    ) -> Result<(), BoxError> {
        let content = content.into();
        self.with_state(|s| {
            let actor = s.actor_or_file_owner(user_id, file_id)?;
            s.edit_file_content(&actor, file_id, content)
        })
    }

    /// Creates or changes the file's shared link (SHARE / ITEM_SHARED_UPDATE events).
    pub fn share_file(
        &self,
        user_id: Option<&str>,
        file_id: &str,
        access: &str,
    ) -> Result<(), BoxError> {
        self.with_state(|s| {
            let actor = s.actor_or_file_owner(user_id, file_id)?;
            s.set_file_shared_link(
                &actor,
                file_id,
                Some(SharedLinkRequest::with_access(access)),
            )
        })
    }

    pub fn unshare_file(&self, user_id: Option<&str>, file_id: &str) -> Result<(), BoxError> {
        self.with_state(|s| {
            let actor = s.actor_or_file_owner(user_id, file_id)?;
            s.set_file_shared_link(&actor, file_id, None)
        })
    }

    /// Invites `email` (or a user id) to a file or folder (COLLABORATION_INVITE); returns the
    /// collaboration id. `user_id` `None` = the admin.
    pub fn add_collaborator(
        &self,
        user_id: Option<&str>,
        item: ItemRef,
        email: &str,
        role: &str,
    ) -> Result<String, BoxError> {
        self.with_state(|s| {
            let actor = user_id
                .map(str::to_string)
                .unwrap_or_else(|| s.admin_user_id.clone());
            s.add_collaboration(&actor, &item, email, role)
        })
    }

    /// A user downloads or previews a file (DOWNLOAD / PREVIEW events).
    pub fn access_file(
        &self,
        user_id: &str,
        file_id: &str,
        access: FileAccess,
    ) -> Result<(), BoxError> {
        self.with_state(|s| s.record_file_access(user_id, file_id, access))
    }

    pub fn move_file(
        &self,
        user_id: Option<&str>,
        file_id: &str,
        new_parent_id: &str,
    ) -> Result<(), BoxError> {
        self.with_state(|s| {
            let actor = s.actor_or_file_owner(user_id, file_id)?;
            s.move_file(&actor, file_id, new_parent_id)
        })
    }

    /// Seeds the demo world (departments, sensitive files, open links, external
    /// collaborators); every step appends its Box event and fires matching webhooks.
    pub fn seed_demo_scenario(&self) -> Result<crate::DemoScenario, BoxError> {
        self.with_state(|s| s.seed_demo_scenario())
    }

    /// An anonymous download through the file's open shared link (DOWNLOAD by user "2").
    pub fn download_via_shared_link(&self, file_id: &str) -> Result<(), BoxError> {
        self.with_state(|s| s.download_via_shared_link(file_id))
    }

    /// LOGIN or FAILED_LOGIN event for a user.
    pub fn record_login(&self, user_id: &str, success: bool) -> Result<String, BoxError> {
        self.with_state(|s| s.record_login(user_id, success))
    }

    /// LOGIN or FAILED_LOGIN event for a user, from `address` instead of the configured one.
    pub fn record_login_from(
        &self,
        user_id: &str,
        success: bool,
        address: &str,
    ) -> Result<String, BoxError> {
        self.with_state(|s| s.record_login_from(user_id, success, address))
    }

    // ---- inspection --------------------------------------------------------------------

    pub fn file(&self, file_id: &str) -> Option<FileSnapshot> {
        self.with_state(|s| s.file_snapshot(file_id))
    }

    /// The file as `GET /2.0/files/{id}` would render it (also for trashed files).
    pub fn file_json(&self, file_id: &str) -> Option<Value> {
        self.with_state(|s| s.files.get(file_id).map(|f| s.file_json(f, None)))
    }

    pub fn file_content(&self, file_id: &str) -> Option<Vec<u8>> {
        self.with_state(|s| s.files.get(file_id).map(|f| f.content.clone()))
    }

    /// Every entry of the enterprise stream in serve order (injected duplicates included).
    pub fn events(&self) -> Vec<Value> {
        self.with_state(|s| s.event_log())
    }

    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.with_state(|s| s.deliveries.clone())
    }

    /// Waits (polling, bounded by `timeout`) until `done` holds for the delivery log, and
    /// returns the log as it then is (or as it is at the deadline).
    pub async fn wait_for_deliveries(
        &self,
        timeout: Duration,
        done: impl Fn(&[WebhookDelivery]) -> bool,
    ) -> Vec<WebhookDelivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let deliveries = self.webhook_deliveries();
            if done(&deliveries) || tokio::time::Instant::now() >= deadline {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Registered webhooks, rendered as `GET /2.0/webhooks/{id}` would.
    pub fn webhooks(&self) -> Vec<Value> {
        self.with_state(|s| s.webhooks_json())
    }

    /// The id of the live folder called `name` directly inside `parent_id` (e.g. to find the
    /// quarantine folder the code under test created).
    pub fn find_folder(&self, parent_id: &str, name: &str) -> Option<String> {
        self.with_state(|s| {
            s.folders
                .values()
                .find(|f| {
                    f.trashed_at.is_none()
                        && f.parent_id.as_deref() == Some(parent_id)
                        && f.name == name
                })
                .map(|f| f.id.clone())
        })
    }

    pub fn oauth_stats(&self) -> OAuthStats {
        self.with_state(|s| s.oauth.stats.clone())
    }

    /// The enterprise's id (`enterprise.id` of `GET /users/me`): the `box_subject_id` of a
    /// client credentials request, or the `sub` of a JWT assertion, for an enterprise token.
    pub fn enterprise_id(&self) -> String {
        self.with_state(|s| s.config.enterprise_id.clone())
    }

    // ---- fault injection ---------------------------------------------------------------

    /// The next `fault.count` matching requests get the fault's status (429 with
    /// `retry-after`, 500, 503...).
    pub fn inject_http_fault(&self, fault: HttpFault) {
        self.with_state(|s| s.faults.http.push(fault));
    }

    /// Every access token issued so far expires now (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        self.with_state(|s| s.expire_all_access_tokens());
    }

    /// Logins of the users collaborating on a folder itself (not inherited).
    pub fn folder_collaborators(&self, folder_id: &str) -> Vec<String> {
        self.with_state(|s| {
            s.collaborations
                .values()
                .filter(|c| c.item.kind == ItemKind::Folder && c.item.id == folder_id)
                .filter_map(|c| s.users.get(&c.user_id).map(|u| u.login.clone()))
                .collect()
        })
    }

    /// How many times the download host has served the file's bytes.
    pub fn downloads_served(&self, file_id: &str) -> usize {
        self.with_state(|s| s.downloads_served.get(file_id).copied().unwrap_or(0))
    }

    pub fn expire_download_urls(&self) {
        self.with_state(|s| s.expire_download_urls());
    }

    /// Each of the next `count` events is served again (same `event_id`) on a later page of
    /// `admin_logs_streaming`, as Box's streaming feed may duplicate.
    pub fn duplicate_next_events(&self, count: u32) {
        self.with_state(|s| s.faults.duplicate_next_events += count);
    }

    /// Appends an event about `item` whose `created_at` is `age` in the past: it arrives after
    /// newer events have been served (Box's streaming feed is out of order).
    pub fn inject_late_event(
        &self,
        user_id: &str,
        item: ItemRef,
        event_type: &str,
        age: Duration,
    ) -> Result<String, BoxError> {
        self.with_state(|s| s.inject_late_event(user_id, &item, event_type, age))
    }

    /// Sends a webhook body again (same body `id`, new delivery id and timestamp), optionally
    /// with a bad signature or an old timestamp.
    pub fn replay_webhook_event(
        &self,
        webhook_event_id: &str,
        tamper: DeliveryTamper,
    ) -> Result<(), BoxError> {
        self.with_state(|s| s.replay_webhook_event(webhook_event_id, tamper))
    }

    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.with_state(|s| s.set_rate_limit(limit));
    }

    /// From now on, paged lists whose path starts with `path_prefix` (`None` = every paged
    /// list: collaborations of a file or folder, folder items, webhooks, users) ignore the
    /// client's `marker` / `offset` and answer their first page, forever, like a mock of
    /// Box's spec that returns the same example page to every request: marker-paged lists
    /// with the same non-empty `next_marker` each time, offset-paged lists with a
    /// `total_count` far above the real one. The entries are the real first page, so a
    /// client keeps seeing the same items. Calls add up; [`Self::clear_endless_pages`] ends
    /// them all.
    pub fn inject_endless_pages(&self, path_prefix: Option<&str>) {
        self.with_state(|s| s.faults.endless_pages.push(path_prefix.map(str::to_string)));
    }

    pub fn clear_endless_pages(&self) {
        self.with_state(|s| s.faults.endless_pages.clear());
    }

    /// How many list pages the endless-page fault has answered (e.g. to assert that a client
    /// gave up after a bounded number of pages).
    pub fn endless_pages_served(&self) -> u64 {
        self.with_state(|s| s.faults.endless_pages_served)
    }

    /// `POST /oauth2/token` waits `delay` before it looks at each request (so a refresh token
    /// is consumed only after the delay, even if the client has given up by then).
    /// `Duration::ZERO` ends the fault.
    pub fn set_token_delay(&self, delay: Duration) {
        self.with_state(|s| s.faults.token_delay = delay);
    }
}

// ---- HTTP control API under /_sim ------------------------------------------------------

#[derive(Deserialize)]
struct CreateUserRequest {
    name: String,
    login: String,
    #[serde(default = "default_role")]
    role: String,
}

fn default_role() -> String {
    "user".to_string()
}

#[derive(Deserialize)]
struct CreateFolderRequest {
    name: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    owner_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct ContentRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    owner_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    content_text: Option<String>,
    #[serde(default)]
    content_base64: Option<String>,
}

impl ContentRequest {
    fn content(&self) -> Result<Vec<u8>, BoxError> {
        match (&self.content_text, &self.content_base64) {
            (Some(text), _) => Ok(text.clone().into_bytes()),
            (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| BoxError::bad_request("content_base64 is not valid base64")),
            (None, None) => Ok(Vec::new()),
        }
    }
}

#[derive(Deserialize, Default)]
struct ActorRequest {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    access: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    parent_id: Option<String>,
}

#[derive(Deserialize)]
struct CountRequest {
    count: u32,
}

#[derive(Deserialize)]
struct LateEventRequest {
    file_id: String,
    event_type: String,
    #[serde(default = "default_age")]
    age_secs: u64,
    #[serde(default)]
    user_id: Option<String>,
}

fn default_age() -> u64 {
    600
}

#[derive(Deserialize)]
struct ReplayRequest {
    webhook_event_id: String,
    #[serde(default)]
    tamper: DeliveryTamper,
}

#[derive(Deserialize, Default)]
struct EndlessPagesRequest {
    #[serde(default)]
    path_prefix: Option<String>,
}

#[derive(Deserialize)]
struct TokenDelayRequest {
    delay_ms: u64,
}

#[derive(Deserialize)]
struct RateLimitRequest {
    max_requests: u32,
    window_secs: u64,
}

/// Like [`parse_required`], but an empty body means the request's defaults.
fn parse<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, BoxError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    parse_required(body)
}

fn parse_required<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, BoxError> {
    serde_json::from_slice(body)
        .map_err(|e| BoxError::bad_request(format!("Invalid JSON body: {e}")))
}

fn reply<T: Serialize>(result: Result<T, BoxError>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}

type SharedState = State<Arc<Shared>>;

async fn sim_config(State(shared): SharedState) -> Response {
    let urls = shared.urls.clone();
    reply(shared.with_state(|s| {
        Ok(json!({
            "client_id": s.config.client_id,
            "client_secret": s.config.client_secret,
            "webhook_primary_key": s.config.webhook_primary_key,
            "webhook_secondary_key": s.config.webhook_secondary_key,
            "access_token_lifetime_secs": s.config.access_token_lifetime.as_secs(),
            "enterprise_domain": s.config.enterprise_domain,
            "enterprise_id": s.config.enterprise_id,
            "jwt_key_id": s.config.jwt_key_id,
            "jwt_configured": s.config.jwt_public_key_der.is_some(),
            "admin_user_id": s.admin_user_id,
            "api_base": format!("{}/2.0", urls.origin),
            "authorize_url": format!("{}/api/oauth2/authorize", urls.origin),
            "token_url": format!("{}/oauth2/token", urls.origin),
            "revoke_url": format!("{}/oauth2/revoke", urls.origin),
            "download_base": urls.download_base,
        }))
    }))
}

async fn list_users(State(shared): SharedState) -> Response {
    reply(shared.with_state(|s| Ok(s.listed_users())))
}

async fn create_user(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: CreateUserRequest = parse_required(&body)?;
        s.create_user_checked(&request.name, &request.login, &request.role)
    }))
}

async fn issue_tokens(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: ActorRequest = parse(&body)?;
        let user = request.user_id.unwrap_or_else(|| s.admin_user_id.clone());
        s.issue_tokens_for(&user)
    }))
}

async fn user_login(State(shared): SharedState, Path(id): Path<String>, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: ActorRequest = parse(&body)?;
        s.record_login(&id, request.success.unwrap_or(true))
            .map(|event_id| json!({"event_id": event_id}))
    }))
}

async fn create_folder(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: CreateFolderRequest = parse_required(&body)?;
        let owner = request.owner_id.unwrap_or_else(|| s.admin_user_id.clone());
        let id = s.create_folder(
            &owner,
            request.parent_id.as_deref().unwrap_or("0"),
            &request.name,
        )?;
        Ok(json!({"id": id}))
    }))
}

async fn upload_file(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: ContentRequest = parse(&body)?;
        let name = request
            .name
            .clone()
            .ok_or_else(|| BoxError::bad_request("name is required"))?;
        let owner = request
            .owner_id
            .clone()
            .or(request.user_id.clone())
            .unwrap_or_else(|| s.admin_user_id.clone());
        let id = s.upload_file(
            &owner,
            request.parent_id.as_deref().unwrap_or("0"),
            &name,
            request.content()?,
        )?;
        s.changed_file_snapshot(&id)
    }))
}

async fn inspect_file(State(shared): SharedState, Path(id): Path<String>) -> Response {
    reply(shared.with_state(|s| {
        s.file_snapshot(&id)
            .ok_or_else(|| BoxError::not_found(format!("File {id} not found")))
    }))
}

async fn edit_file(State(shared): SharedState, Path(id): Path<String>, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: ContentRequest = parse(&body)?;
        let actor = s.actor_or_file_owner(request.user_id.as_deref(), &id)?;
        s.edit_file_content(&actor, &id, request.content()?)?;
        s.changed_file_snapshot(&id)
    }))
}

async fn share_file(State(shared): SharedState, Path(id): Path<String>, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: ActorRequest = parse(&body)?;
        let actor = s.actor_or_file_owner(request.user_id.as_deref(), &id)?;
        s.set_file_shared_link(
            &actor,
            &id,
            Some(SharedLinkRequest {
                access: request.access,
                ..Default::default()
            }),
        )?;
        s.changed_file_snapshot(&id)
    }))
}

async fn unshare_file(State(shared): SharedState, Path(id): Path<String>, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: ActorRequest = parse(&body)?;
        let actor = s.actor_or_file_owner(request.user_id.as_deref(), &id)?;
        s.set_file_shared_link(&actor, &id, None)?;
        s.changed_file_snapshot(&id)
    }))
}

async fn move_file(State(shared): SharedState, Path(id): Path<String>, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: ActorRequest = parse(&body)?;
        let actor = s.actor_or_file_owner(request.user_id.as_deref(), &id)?;
        let parent = request
            .parent_id
            .ok_or_else(|| BoxError::bad_request("parent_id is required"))?;
        s.move_file(&actor, &id, &parent)?;
        s.changed_file_snapshot(&id)
    }))
}

async fn add_collaborator(shared: Arc<Shared>, item: ItemRef, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: ActorRequest = parse(&body)?;
        let actor = request.user_id.unwrap_or_else(|| s.admin_user_id.clone());
        let email = request
            .email
            .ok_or_else(|| BoxError::bad_request("email is required"))?;
        let id = s.add_collaboration(
            &actor,
            &item,
            &email,
            request.role.as_deref().unwrap_or("editor"),
        )?;
        Ok(s.collaboration_json(s.collaboration(&id)?))
    }))
}

async fn add_file_collaborator(
    State(shared): SharedState,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    add_collaborator(shared, ItemRef::file(id), body).await
}

async fn add_folder_collaborator(
    State(shared): SharedState,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    add_collaborator(shared, ItemRef::folder(id), body).await
}

async fn access(shared: Arc<Shared>, id: String, body: Bytes, access: FileAccess) -> Response {
    reply(shared.with_state(|s| {
        let request: ActorRequest = parse(&body)?;
        let actor = s.actor_or_file_owner(request.user_id.as_deref(), &id)?;
        s.record_file_access(&actor, &id, access)
            .map(|()| json!({"ok": true}))
    }))
}

async fn download_file(
    State(shared): SharedState,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    access(shared, id, body, FileAccess::Download).await
}

async fn preview_file(State(shared): SharedState, Path(id): Path<String>, body: Bytes) -> Response {
    access(shared, id, body, FileAccess::Preview).await
}

async fn seed_demo(State(shared): SharedState) -> Response {
    reply(shared.with_state(|s| s.seed_demo_scenario()))
}

async fn anonymous_download(State(shared): SharedState, Path(id): Path<String>) -> Response {
    reply(shared.with_state(|s| {
        s.download_via_shared_link(&id)
            .map(|()| json!({"ok": true}))
    }))
}

async fn list_events(State(shared): SharedState) -> Response {
    reply(shared.with_state(|s| Ok(s.event_log())))
}

async fn list_deliveries(State(shared): SharedState) -> Response {
    reply(shared.with_state(|s| Ok(s.deliveries.clone())))
}

async fn list_webhooks(State(shared): SharedState) -> Response {
    reply(shared.with_state(|s| Ok(s.webhooks_json())))
}

async fn oauth_stats(State(shared): SharedState) -> Response {
    reply(shared.with_state(|s| Ok(s.oauth.stats.clone())))
}

async fn fault_http(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let fault: HttpFault = parse_required(&body)?;
        s.faults.http.push(fault);
        Ok(json!({"ok": true}))
    }))
}

async fn fault_expire_tokens(State(shared): SharedState) -> Response {
    reply(shared.with_state(|s| {
        s.expire_all_access_tokens();
        Ok(json!({"ok": true}))
    }))
}

async fn fault_expire_download_urls(State(shared): SharedState) -> Response {
    reply(shared.with_state(|s| {
        s.expire_download_urls();
        Ok(json!({"ok": true}))
    }))
}

async fn fault_duplicate_events(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: CountRequest = parse_required(&body)?;
        s.faults.duplicate_next_events += request.count;
        Ok(json!({"ok": true}))
    }))
}

async fn fault_late_event(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: LateEventRequest = parse_required(&body)?;
        let actor = s.actor_or_file_owner(request.user_id.as_deref(), &request.file_id)?;
        let item = ItemRef::file(request.file_id);
        s.inject_late_event(
            &actor,
            &item,
            &request.event_type,
            Duration::from_secs(request.age_secs),
        )
        .map(|event_id| json!({"event_id": event_id}))
    }))
}

async fn fault_rate_limit(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: Option<RateLimitRequest> = if body.is_empty() {
            None
        } else {
            parse_required(&body)?
        };
        s.set_rate_limit(request.map(|r| RateLimit {
            max_requests: r.max_requests,
            window: Duration::from_secs(r.window_secs),
        }));
        Ok(json!({"ok": true}))
    }))
}

fn endless_pages_json(s: &SimState) -> Value {
    json!({
        "path_prefixes": s.faults.endless_pages,
        "pages_served": s.faults.endless_pages_served,
    })
}

/// `{"path_prefix": "/2.0/files/123/collaborations"}`, or an empty body for every paged list.
async fn fault_endless_pages(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: EndlessPagesRequest = parse(&body)?;
        s.faults.endless_pages.push(request.path_prefix);
        Ok(endless_pages_json(s))
    }))
}

async fn endless_pages_status(State(shared): SharedState) -> Response {
    reply(shared.with_state(|s| Ok(endless_pages_json(s))))
}

async fn clear_endless_pages(State(shared): SharedState) -> Response {
    reply(shared.with_state(|s| {
        s.faults.endless_pages.clear();
        Ok(endless_pages_json(s))
    }))
}

/// `{"delay_ms": 1500}`; 0 ends the fault.
async fn fault_token_delay(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: TokenDelayRequest = parse_required(&body)?;
        s.faults.token_delay = Duration::from_millis(request.delay_ms);
        Ok(json!({"ok": true}))
    }))
}

/// Makes the app trust [`crate::jwt::test_key_pair`] and answers what a JWT client needs
/// (the private key included: it is a throwaway test key). For a simulator run as a separate
/// process; in-process tests configure the key in `SimConfig` instead.
async fn use_test_jwt_key(State(shared): SharedState) -> Response {
    // Key generation takes a moment on first use; keep it off the async workers.
    let Ok(key) = tokio::task::spawn_blocking(crate::jwt::test_key_pair).await else {
        return BoxError::new(500, "internal_server_error", "Key generation failed")
            .into_response();
    };
    reply(shared.with_state(|s| {
        s.config.jwt_public_key_der = Some(key.public_key_der.clone());
        s.config.jwt_key_id = key.key_id.clone();
        Ok(json!({
            "key_id": key.key_id,
            "private_key_pem": key.private_key_pem,
            "public_key_pem": key.public_key_pem,
            "client_id": s.config.client_id,
            "client_secret": s.config.client_secret,
            "enterprise_id": s.config.enterprise_id,
            "audience": crate::jwt::BOX_TOKEN_URL,
        }))
    }))
}

async fn replay_webhook(State(shared): SharedState, body: Bytes) -> Response {
    reply(shared.with_state(|s| {
        let request: ReplayRequest = parse_required(&body)?;
        s.replay_webhook_event(&request.webhook_event_id, request.tamper)
            .map(|()| json!({"ok": true}))
    }))
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/config", get(sim_config))
        .route("/_sim/users", get(list_users).post(create_user))
        .route("/_sim/users/{id}/login", post(user_login))
        .route("/_sim/tokens", post(issue_tokens))
        .route("/_sim/folders", post(create_folder))
        .route(
            "/_sim/folders/{id}/collaborators",
            post(add_folder_collaborator),
        )
        .route("/_sim/files", post(upload_file))
        .route("/_sim/files/{id}", get(inspect_file))
        .route("/_sim/files/{id}/content", put(edit_file))
        .route("/_sim/files/{id}/share", post(share_file))
        .route("/_sim/files/{id}/unshare", post(unshare_file))
        .route("/_sim/files/{id}/move", post(move_file))
        .route(
            "/_sim/files/{id}/collaborators",
            post(add_file_collaborator),
        )
        .route("/_sim/files/{id}/download", post(download_file))
        .route("/_sim/files/{id}/preview", post(preview_file))
        .route(
            "/_sim/files/{id}/shared-link-download",
            post(anonymous_download),
        )
        .route("/_sim/scenario/demo", post(seed_demo))
        .route("/_sim/events", get(list_events))
        .route("/_sim/webhook-deliveries", get(list_deliveries))
        .route("/_sim/webhooks", get(list_webhooks))
        .route("/_sim/oauth/stats", get(oauth_stats))
        .route("/_sim/faults/http", post(fault_http))
        .route("/_sim/faults/expire-tokens", post(fault_expire_tokens))
        .route(
            "/_sim/faults/expire-download-urls",
            post(fault_expire_download_urls),
        )
        .route(
            "/_sim/faults/duplicate-events",
            post(fault_duplicate_events),
        )
        .route("/_sim/faults/late-event", post(fault_late_event))
        .route("/_sim/faults/rate-limit", post(fault_rate_limit))
        .route(
            "/_sim/faults/endless-pages",
            get(endless_pages_status)
                .post(fault_endless_pages)
                .delete(clear_endless_pages),
        )
        .route("/_sim/faults/token-delay", post(fault_token_delay))
        .route("/_sim/jwt/test-key", post(use_test_jwt_key))
        .route("/_sim/webhooks/replay", post(replay_webhook))
}
