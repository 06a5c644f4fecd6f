//! The simulator's in-memory world: users, folders, files, collaborations, webhooks, the
//! enterprise event stream and OAuth grants. Everything lives in one `SimState` behind a
//! mutex; operations that change the world append a Box event and queue webhook deliveries.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};

use crate::config::SimConfig;
use crate::error::BoxError;
use crate::faults::Faults;
use crate::oauth::OAuthState;
use crate::webhooks::{DeliveryTamper, PendingDelivery, Webhook, WebhookDelivery};

pub(crate) const ROOT_FOLDER_ID: &str = "0";
/// Box's anonymous user, used e.g. for open shared-link downloads (saas-apis.md §1.2).
pub(crate) const ANONYMOUS_USER_ID: &str = "2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    File,
    Folder,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::File => "file",
            ItemKind::Folder => "folder",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "file" => Some(ItemKind::File),
            "folder" => Some(ItemKind::Folder),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemRef {
    pub kind: ItemKind,
    pub id: String,
}

impl ItemRef {
    pub fn file(id: impl Into<String>) -> Self {
        ItemRef {
            kind: ItemKind::File,
            id: id.into(),
        }
    }
    pub fn folder(id: impl Into<String>) -> Self {
        ItemRef {
            kind: ItemKind::Folder,
            id: id.into(),
        }
    }
}

/// Box's 404 for an item id it does not know.
pub(crate) fn item_not_found(kind: ItemKind, id: &str) -> BoxError {
    BoxError::not_found(format!(
        "Could not find the specified resource ({} {id})",
        kind.as_str()
    ))
}

/// The delete endpoints answer 404 for an item already in the trash, like an unknown one,
/// where the other endpoints answer `trashed`.
pub(crate) fn trashed_as_not_found(error: BoxError, kind: ItemKind, id: &str) -> BoxError {
    if error.code == "trashed" {
        item_not_found(kind, id)
    } else {
        error
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub login: String,
    /// `admin`, `coadmin` or `user` (User--Full.role).
    pub role: String,
    /// Managed by the simulated enterprise (false for external collaborators).
    pub is_enterprise_member: bool,
    pub created_at: DateTime<Utc>,
    /// `active`, `inactive` (suspended: cannot sign in), `cannot_delete_edit` or
    /// `cannot_delete_edit_upload` (User--Full.status).
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SharedLink {
    pub token: String,
    /// `open`, `company` or `collaborators`.
    pub access: String,
    pub password_enabled: bool,
    pub can_download: bool,
    pub download_count: u64,
    pub preview_count: u64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Folder {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub owner_id: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub etag: u64,
    pub shared_link: Option<SharedLink>,
    pub trashed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileItem {
    pub id: String,
    pub name: String,
    pub parent_id: String,
    pub owner_id: String,
    pub created_by: String,
    pub modified_by: String,
    #[serde(skip)]
    pub content: Vec<u8>,
    pub size: u64,
    pub sha1: String,
    pub version_id: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub etag: u64,
    pub shared_link: Option<SharedLink>,
    pub trashed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Collaboration {
    pub id: String,
    pub item: ItemRef,
    pub user_id: String,
    pub invite_email: Option<String>,
    pub role: String,
    /// `accepted` or `pending`.
    pub status: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

/// One entry of the enterprise event stream. `position` order is serve order, which is not
/// necessarily `created_at` order (late events) and may repeat an `event_id` (duplicates).
#[derive(Debug, Clone)]
pub(crate) struct StreamEntry {
    pub event: Value,
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    /// A re-delivery injected by the duplicate fault; `admin_logs` skips these.
    pub is_duplicate: bool,
}

/// Download grants on the download host (stand-in for dl.boxcloud.com).
#[derive(Debug, Clone)]
pub(crate) struct DownloadGrant {
    pub file_id: String,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
}

/// One change to an item: the enterprise event it logs and the webhook trigger it fires.
pub(crate) struct ItemChange<'a> {
    pub event_type: &'a str,
    pub trigger: &'a str,
    pub details: Value,
    /// The webhook body's `source`; by default the item itself (full object).
    pub webhook_source: Option<Value>,
    /// Folders the item left (a move): their webhooks fire too.
    pub left_folders: &'a [String],
}

impl<'a> ItemChange<'a> {
    pub fn new(event_type: &'a str, trigger: &'a str) -> Self {
        ItemChange {
            event_type,
            trigger,
            details: json!({}),
            webhook_source: None,
            left_folders: &[],
        }
    }
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
    pub fn webhook_source(mut self, source: Value) -> Self {
        self.webhook_source = Some(source);
        self
    }
    pub fn left_folders(mut self, folders: &'a [String]) -> Self {
        self.left_folders = folders;
        self
    }
}

pub(crate) struct SimState {
    pub config: SimConfig,
    next_id: u64,
    pub users: BTreeMap<String, User>,
    pub folders: BTreeMap<String, Folder>,
    pub files: BTreeMap<String, FileItem>,
    pub collaborations: BTreeMap<String, Collaboration>,
    pub webhooks: BTreeMap<String, Webhook>,
    pub stream: Vec<StreamEntry>,
    pub deliveries: Vec<WebhookDelivery>,
    /// Webhook bodies by body `id`, kept so a delivery can be replayed.
    pub webhook_events: HashMap<String, PendingDelivery>,
    /// Deliveries queued by the last operation; drained and spawned after the lock is released.
    pub outbox: Vec<PendingDelivery>,
    pub oauth: OAuthState,
    pub faults: Faults,
    pub download_grants: HashMap<String, DownloadGrant>,
    /// How many times the download host served each file's bytes, for tests that a version is
    /// not downloaded twice.
    pub downloads_served: HashMap<String, usize>,
    pub rate_windows: HashMap<String, (Instant, u32)>,
    pub admin_user_id: String,
}

pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}

/// `now + span`, saturating instead of overflowing on absurd configured lifetimes.
pub(crate) fn from_now(span: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|d| now().checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `now - span`, saturating (a control request may ask for any age).
pub(crate) fn ago(span: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|d| now().checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Box renders times as RFC 3339 with an offset and whole seconds.
pub(crate) fn box_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, false)
}

pub(crate) fn random_token(len: usize) -> String {
    let mut text = String::new();
    while text.len() < len {
        text.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    text.truncate(len);
    text
}

pub(crate) fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SimState {
    pub fn new(config: SimConfig) -> Self {
        let mut state = SimState {
            config,
            next_id: 100_000,
            users: BTreeMap::new(),
            folders: BTreeMap::new(),
            files: BTreeMap::new(),
            collaborations: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            stream: Vec::new(),
            deliveries: Vec::new(),
            webhook_events: HashMap::new(),
            outbox: Vec::new(),
            oauth: OAuthState::default(),
            faults: Faults::default(),
            download_grants: HashMap::new(),
            downloads_served: HashMap::new(),
            rate_windows: HashMap::new(),
            admin_user_id: String::new(),
        };
        state.seed_enterprise();
        state
    }

    /// Seeds the enterprise: an admin and a few managed users on the enterprise domain, and
    /// the root folder "0" ("All Files"), owned by the admin.
    fn seed_enterprise(&mut self) {
        let domain = self.config.enterprise_domain.clone();
        self.users.insert(
            ANONYMOUS_USER_ID.to_string(),
            User {
                id: ANONYMOUS_USER_ID.to_string(),
                name: "Anonymous User".to_string(),
                login: String::new(),
                role: "user".to_string(),
                is_enterprise_member: false,
                created_at: now(),
                status: "active".to_string(),
            },
        );
        let admin = self.insert_user("Ada Admin", &format!("admin@{domain}"), "admin", true);
        self.admin_user_id = admin;
        for (name, local) in [
            ("Alice Anders", "alice"),
            ("Bob Brown", "bob"),
            ("Carol Chen", "carol"),
        ] {
            self.insert_user(name, &format!("{local}@{domain}"), "user", true);
        }
        let created = now();
        self.folders.insert(
            ROOT_FOLDER_ID.to_string(),
            Folder {
                id: ROOT_FOLDER_ID.to_string(),
                name: "All Files".to_string(),
                parent_id: None,
                owner_id: self.admin_user_id.clone(),
                created_by: self.admin_user_id.clone(),
                created_at: created,
                modified_at: created,
                etag: 0,
                shared_link: None,
                trashed_at: None,
            },
        );
    }

    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    pub fn insert_user(
        &mut self,
        name: &str,
        login: &str,
        role: &str,
        is_enterprise_member: bool,
    ) -> String {
        let id = self.new_id();
        self.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                name: name.to_string(),
                login: login.to_string(),
                role: role.to_string(),
                is_enterprise_member,
                created_at: now(),
                status: "active".to_string(),
            },
        );
        id
    }

    pub fn user_by_login(&self, login: &str) -> Option<&User> {
        self.users
            .values()
            .find(|user| user.login.eq_ignore_ascii_case(login))
    }

    pub fn user(&self, id: &str) -> Result<&User, BoxError> {
        self.users
            .get(id)
            .ok_or_else(|| BoxError::not_found(format!("User {id} not found")))
    }

    /// Enterprise-wide reads (admin events, the user list) need an admin or co-admin;
    /// `denied` says what was refused.
    pub fn require_admin(&self, user_id: &str, denied: &str) -> Result<(), BoxError> {
        let role = self.user(user_id)?.role.as_str();
        if role != "admin" && role != "coadmin" {
            return Err(BoxError::forbidden(
                "access_denied_insufficient_permissions",
                denied,
            ));
        }
        Ok(())
    }

    /// Whether a login is on the enterprise's domain (a managed user, not an external one).
    pub fn is_enterprise_login(&self, login: &str) -> bool {
        login.to_lowercase().ends_with(&format!(
            "@{}",
            self.config.enterprise_domain.to_lowercase()
        ))
    }

    pub fn collaboration(&self, id: &str) -> Result<&Collaboration, BoxError> {
        self.collaborations
            .get(id)
            .ok_or_else(|| BoxError::not_found(format!("Collaboration {id} not found")))
    }

    // ---- lookups that honour the trash -------------------------------------------------

    pub fn live_file(&self, id: &str) -> Result<&FileItem, BoxError> {
        match self.files.get(id) {
            None => Err(item_not_found(ItemKind::File, id)),
            Some(file) if file.trashed_at.is_some() => Err(BoxError::trashed()),
            Some(file) => Ok(file),
        }
    }

    pub fn live_file_mut(&mut self, id: &str) -> Result<&mut FileItem, BoxError> {
        self.live_file(id)?;
        self.files
            .get_mut(id)
            .ok_or_else(|| BoxError::not_found("file vanished"))
    }

    pub fn live_folder(&self, id: &str) -> Result<&Folder, BoxError> {
        match self.folders.get(id) {
            None => Err(item_not_found(ItemKind::Folder, id)),
            Some(folder) if folder.trashed_at.is_some() => Err(BoxError::trashed()),
            Some(folder) => Ok(folder),
        }
    }

    pub fn live_folder_mut(&mut self, id: &str) -> Result<&mut Folder, BoxError> {
        self.live_folder(id)?;
        self.folders
            .get_mut(id)
            .ok_or_else(|| BoxError::not_found("folder vanished"))
    }

    pub fn live_item(&self, item: &ItemRef) -> Result<(), BoxError> {
        match item.kind {
            ItemKind::File => self.live_file(&item.id).map(|_| ()),
            ItemKind::Folder => self.live_folder(&item.id).map(|_| ()),
        }
    }

    /// Folder ids from the root down to `folder_id` inclusive.
    pub fn folder_chain(&self, folder_id: &str) -> Vec<String> {
        let mut chain = Vec::new();
        let mut current = Some(folder_id.to_string());
        while let Some(id) = current {
            if chain.contains(&id) {
                break; // defensive: never loop on a corrupt tree
            }
            current = self
                .folders
                .get(&id)
                .and_then(|folder| folder.parent_id.clone());
            chain.push(id);
        }
        chain.reverse();
        chain
    }

    /// The folders that contain an item (for webhook matching: a folder webhook covers subfolders).
    pub fn ancestors_of(&self, item: &ItemRef) -> Vec<String> {
        match item.kind {
            ItemKind::File => self
                .files
                .get(&item.id)
                .map(|file| self.folder_chain(&file.parent_id))
                .unwrap_or_default(),
            ItemKind::Folder => {
                let mut chain = self.folder_chain(&item.id);
                chain.pop();
                chain
            }
        }
    }

    pub fn name_taken(
        &self,
        parent_id: &str,
        name: &str,
        except_id: &str,
    ) -> Option<(ItemKind, String)> {
        let file = self.files.values().find(|f| {
            f.trashed_at.is_none()
                && f.parent_id == parent_id
                && f.name.eq_ignore_ascii_case(name)
                && f.id != except_id
        });
        if let Some(file) = file {
            return Some((ItemKind::File, file.id.clone()));
        }
        self.folders
            .values()
            .find(|f| {
                f.trashed_at.is_none()
                    && f.parent_id.as_deref() == Some(parent_id)
                    && f.name.eq_ignore_ascii_case(name)
                    && f.id != except_id
            })
            .map(|f| (ItemKind::Folder, f.id.clone()))
    }

    pub fn ensure_name_free(
        &self,
        parent_id: &str,
        name: &str,
        except_id: &str,
    ) -> Result<(), BoxError> {
        if name.trim().is_empty()
            || name.contains('/')
            || name.contains('\\')
            || name == "."
            || name == ".."
        {
            return Err(BoxError::new(400, "item_name_invalid", "Item name invalid"));
        }
        if let Some((kind, id)) = self.name_taken(parent_id, name, except_id) {
            return Err(BoxError::conflict(
                "item_name_in_use",
                "Item with the same name already exists",
            )
            .with_context(
                json!({"conflicts": [{"type": kind.as_str(), "id": id, "name": name}]}),
            ));
        }
        Ok(())
    }

    // ---- JSON rendering (shapes per Box's OpenAPI component schemas) -------------------

    pub fn user_mini(&self, id: &str) -> Value {
        match self.users.get(id) {
            Some(user) => {
                json!({"type": "user", "id": user.id, "name": user.name, "login": user.login})
            }
            None => json!({"type": "user", "id": id, "name": "", "login": ""}),
        }
    }

    /// `User--Full`-like, as `GET /users/{id}` answers.
    pub fn user_full(&self, user: &User) -> Value {
        json!({
            "type": "user",
            "id": user.id,
            "name": user.name,
            "login": user.login,
            "created_at": box_time(&user.created_at),
            "modified_at": box_time(&user.created_at),
            "language": "en",
            "timezone": "America/Los_Angeles",
            "space_amount": 10_737_418_240_i64,
            "space_used": self.files.values().filter(|f| f.owner_id == user.id).map(|f| f.size as i64).sum::<i64>(),
            "max_upload_size": 5_368_709_120_i64,
            "status": user.status,
            "job_title": "",
            "phone": "",
            "address": "",
            "avatar_url": format!("https://app.box.com/api/avatar/large/{}", user.id),
            "notification_email": null,
            "role": user.role,
            "enterprise": if user.is_enterprise_member {
                json!({"type": "enterprise", "id": self.config.enterprise_id, "name": self.config.enterprise_name})
            } else { Value::Null },
        })
    }

    pub fn folder_mini(&self, id: &str) -> Value {
        match self.folders.get(id) {
            Some(folder) if folder.id == ROOT_FOLDER_ID => {
                json!({"type": "folder", "id": folder.id, "sequence_id": null, "etag": null, "name": folder.name})
            }
            Some(folder) => {
                json!({"type": "folder", "id": folder.id, "sequence_id": folder.etag.to_string(), "etag": folder.etag.to_string(), "name": folder.name})
            }
            None => {
                json!({"type": "folder", "id": id, "sequence_id": null, "etag": null, "name": ""})
            }
        }
    }

    fn path_collection(&self, parent_id: Option<&str>) -> Value {
        let entries: Vec<Value> = match parent_id {
            Some(parent) => self
                .folder_chain(parent)
                .iter()
                .map(|id| self.folder_mini(id))
                .collect(),
            None => Vec::new(),
        };
        json!({"total_count": entries.len(), "entries": entries})
    }

    pub fn shared_link_json(&self, link: &SharedLink, kind: ItemKind, name: &str) -> Value {
        let extension = name
            .rsplit_once('.')
            .map(|(_, ext)| format!(".{ext}"))
            .unwrap_or_default();
        let download_url = match kind {
            ItemKind::File => json!(format!(
                "https://app.box.com/shared/static/{}{}",
                link.token, extension
            )),
            ItemKind::Folder => Value::Null,
        };
        json!({
            "url": format!("https://app.box.com/s/{}", link.token),
            "download_url": download_url,
            "vanity_url": null,
            "vanity_name": null,
            "access": link.access,
            "effective_access": link.access,
            "effective_permission": if link.can_download { "can_download" } else { "can_preview" },
            "unshared_at": null,
            "is_password_enabled": link.password_enabled,
            "permissions": {"can_download": link.can_download, "can_preview": true, "can_edit": false},
            "download_count": link.download_count,
            "preview_count": link.preview_count,
        })
    }

    /// Every field the simulator knows for a file: the `File` (standard) fields plus a few
    /// `File--Full` ones. `standard_file_json` and `fields` filtering pick from this.
    pub fn file_json_all(&self, file: &FileItem) -> Map<String, Value> {
        let item_status = if file.trashed_at.is_some() {
            "trashed"
        } else {
            "active"
        };
        let has_collaborations = self
            .collaborations
            .values()
            .any(|c| c.item.kind == ItemKind::File && c.item.id == file.id);
        let extension = file
            .name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_string())
            .unwrap_or_default();
        let owner_is_member = self
            .users
            .get(&file.owner_id)
            .map(|u| u.is_enterprise_member)
            .unwrap_or(false);
        let value = json!({
            "type": "file",
            "id": file.id,
            "etag": file.etag.to_string(),
            "sequence_id": file.etag.to_string(),
            "name": file.name,
            "sha1": file.sha1,
            "file_version": {"type": "file_version", "id": file.version_id, "sha1": file.sha1},
            "description": file.description,
            "size": file.size,
            "path_collection": self.path_collection(Some(&file.parent_id)),
            "created_at": box_time(&file.created_at),
            "modified_at": box_time(&file.modified_at),
            "trashed_at": file.trashed_at.as_ref().map(box_time),
            "purged_at": null,
            "content_created_at": box_time(&file.created_at),
            "content_modified_at": box_time(&file.modified_at),
            "created_by": self.user_mini(&file.created_by),
            "modified_by": self.user_mini(&file.modified_by),
            "owned_by": self.user_mini(&file.owner_id),
            "shared_link": file.shared_link.as_ref().map(|link| self.shared_link_json(link, ItemKind::File, &file.name)),
            "parent": self.folder_mini(&file.parent_id),
            "item_status": item_status,
            // File--Full fields, returned only when asked for with `fields`.
            "extension": extension,
            "has_collaborations": has_collaborations,
            "is_externally_owned": !owner_is_member,
            "version_number": "1",
            "comment_count": 0,
            "is_package": false,
            "permissions": {
                "can_delete": true, "can_download": true, "can_invite_collaborator": true, "can_rename": true,
                "can_set_share_access": true, "can_share": true, "can_annotate": true, "can_comment": true,
                "can_preview": true, "can_upload": true, "can_view_annotations_all": true, "can_view_annotations_self": true,
            },
            "allowed_invitee_roles": ["editor", "viewer", "previewer", "uploader", "previewer uploader", "viewer uploader", "co-owner"],
        });
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    pub fn file_json(&self, file: &FileItem, fields: Option<&[String]>) -> Value {
        let all = self.file_json_all(file);
        select_fields(all, fields, FILE_FULL_ONLY)
    }

    pub fn folder_json_all(&self, folder: &Folder) -> Map<String, Value> {
        let is_root = folder.id == ROOT_FOLDER_ID;
        let size: u64 = self
            .files
            .values()
            .filter(|f| {
                f.trashed_at.is_none() && self.folder_chain(&f.parent_id).contains(&folder.id)
            })
            .map(|f| f.size)
            .sum();
        let has_collaborations = self
            .collaborations
            .values()
            .any(|c| c.item.kind == ItemKind::Folder && c.item.id == folder.id);
        let owner_is_member = self
            .users
            .get(&folder.owner_id)
            .map(|u| u.is_enterprise_member)
            .unwrap_or(false);
        let value = json!({
            "type": "folder",
            "id": folder.id,
            "etag": if is_root { Value::Null } else { json!(folder.etag.to_string()) },
            "sequence_id": if is_root { Value::Null } else { json!(folder.etag.to_string()) },
            "name": folder.name,
            "description": "",
            "size": size,
            "path_collection": self.path_collection(folder.parent_id.as_deref()),
            "created_at": if is_root { Value::Null } else { json!(box_time(&folder.created_at)) },
            "modified_at": if is_root { Value::Null } else { json!(box_time(&folder.modified_at)) },
            "trashed_at": folder.trashed_at.as_ref().map(box_time),
            "purged_at": null,
            "content_created_at": if is_root { Value::Null } else { json!(box_time(&folder.created_at)) },
            "content_modified_at": if is_root { Value::Null } else { json!(box_time(&folder.modified_at)) },
            "created_by": self.user_mini(&folder.created_by),
            "modified_by": self.user_mini(&folder.created_by),
            "owned_by": self.user_mini(&folder.owner_id),
            "shared_link": folder.shared_link.as_ref().map(|link| self.shared_link_json(link, ItemKind::Folder, &folder.name)),
            "folder_upload_email": null,
            "parent": folder.parent_id.as_ref().map(|id| self.folder_mini(id)),
            "item_status": if folder.trashed_at.is_some() { "trashed" } else { "active" },
            "item_collection": self.folder_items_page(&folder.id, 0, 100),
            // Folder--Full fields.
            "has_collaborations": has_collaborations,
            "is_externally_owned": !owner_is_member,
            "can_non_owners_invite": true,
            "is_collaboration_restricted_to_enterprise": false,
            "allowed_shared_link_access_levels": ["open", "company", "collaborators"],
            "allowed_invitee_roles": ["editor", "viewer", "previewer", "uploader", "previewer uploader", "viewer uploader", "co-owner"],
            "permissions": {
                "can_delete": true, "can_download": true, "can_invite_collaborator": true, "can_rename": true,
                "can_set_share_access": true, "can_share": true, "can_upload": true,
            },
        });
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    pub fn folder_json(&self, folder: &Folder, fields: Option<&[String]>) -> Value {
        select_fields(self.folder_json_all(folder), fields, FOLDER_FULL_ONLY)
    }

    /// Mini entries of a folder's live children: folders first, then files, by name.
    pub fn folder_children(&self, folder_id: &str) -> Vec<Value> {
        let mut folders: Vec<&Folder> = self
            .folders
            .values()
            .filter(|f| f.trashed_at.is_none() && f.parent_id.as_deref() == Some(folder_id))
            .collect();
        folders.sort_by_key(|f| f.name.to_lowercase());
        let mut files: Vec<&FileItem> = self
            .files
            .values()
            .filter(|f| f.trashed_at.is_none() && f.parent_id == folder_id)
            .collect();
        files.sort_by_key(|f| f.name.to_lowercase());
        folders
            .iter()
            .map(|f| self.folder_mini(&f.id))
            .chain(files.iter().map(|f| self.file_mini(f)))
            .collect()
    }

    pub fn folder_items_page(&self, folder_id: &str, offset: usize, limit: usize) -> Value {
        let children = self.folder_children(folder_id);
        let total = children.len();
        let entries: Vec<Value> = children.into_iter().skip(offset).take(limit).collect();
        json!({
            "total_count": total,
            "entries": entries,
            "offset": offset,
            "limit": limit,
            "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
        })
    }

    pub fn file_mini(&self, file: &FileItem) -> Value {
        json!({
            "type": "file", "id": file.id, "etag": file.etag.to_string(), "sequence_id": file.etag.to_string(),
            "name": file.name, "sha1": file.sha1,
            "file_version": {"type": "file_version", "id": file.version_id, "sha1": file.sha1},
        })
    }

    pub fn item_mini(&self, item: &ItemRef) -> Value {
        match item.kind {
            ItemKind::File => self
                .files
                .get(&item.id)
                .map(|f| self.file_mini(f))
                .unwrap_or_else(|| json!({"type": "file", "id": item.id})),
            ItemKind::Folder => self.folder_mini(&item.id),
        }
    }

    pub fn item_full(&self, item: &ItemRef) -> Value {
        match item.kind {
            ItemKind::File => self
                .files
                .get(&item.id)
                .map(|f| self.file_json(f, None))
                .unwrap_or(Value::Null),
            ItemKind::Folder => self
                .folders
                .get(&item.id)
                .map(|f| self.folder_json(f, None))
                .unwrap_or(Value::Null),
        }
    }

    pub fn collaboration_json(&self, collaboration: &Collaboration) -> Value {
        let user = self.users.get(&collaboration.user_id);
        json!({
            "type": "collaboration",
            "id": collaboration.id,
            "item": self.item_mini(&collaboration.item),
            "accessible_by": {
                "type": "user",
                "id": collaboration.user_id,
                "name": user.map(|u| u.name.clone()).unwrap_or_default(),
                "login": user.map(|u| u.login.clone()).unwrap_or_default(),
                "is_active": true,
            },
            "invite_email": collaboration.invite_email,
            "role": collaboration.role,
            "expires_at": null,
            "is_access_only": false,
            "status": collaboration.status,
            "acknowledged_at": box_time(&collaboration.created_at),
            "created_by": self.user_mini(&collaboration.created_by),
            "created_at": box_time(&collaboration.created_at),
            "modified_at": box_time(&collaboration.modified_at),
        })
    }

    // ---- events and webhook fan-out ----------------------------------------------------

    /// The `source` of an item event in the enterprise stream [box-oas EventSource].
    pub fn event_source(&self, item: &ItemRef) -> Value {
        let (name, parent, owner) = match item.kind {
            ItemKind::File => match self.files.get(&item.id) {
                Some(f) => (
                    f.name.clone(),
                    Some(f.parent_id.clone()),
                    f.owner_id.clone(),
                ),
                None => (String::new(), None, String::new()),
            },
            ItemKind::Folder => match self.folders.get(&item.id) {
                Some(f) => (f.name.clone(), f.parent_id.clone(), f.owner_id.clone()),
                None => (String::new(), None, String::new()),
            },
        };
        json!({
            "item_type": item.kind.as_str(),
            "item_id": item.id,
            "item_name": name,
            "parent": parent.map(|p| self.folder_mini(&p)),
            "owned_by": self.user_mini(&owner),
        })
    }

    /// Appends an event to the enterprise stream; `created_at` is in the past for late events.
    pub fn append_event(
        &mut self,
        event_type: &str,
        actor_id: &str,
        source: Value,
        additional_details: Value,
        created_at: DateTime<Utc>,
    ) -> String {
        let event_id = uuid::Uuid::new_v4().simple().to_string();
        let event = json!({
            "type": "event",
            "event_id": event_id,
            "event_type": event_type,
            "created_at": box_time(&created_at),
            "recorded_at": box_time(&now()),
            "created_by": self.user_mini(actor_id),
            // The spec types session_id as a (non-null) string.
            "session_id": random_token(24),
            "source": source,
            "ip_address": self.config.event_ip_address,
            "additional_details": additional_details,
        });
        self.stream.push(StreamEntry {
            event,
            event_type: event_type.to_string(),
            created_at,
            is_duplicate: false,
        });
        if self.faults.duplicate_next_events > 0 {
            self.faults.duplicate_next_events -= 1;
            self.faults.pending_duplicates.push(self.stream.len() - 1);
        }
        event_id
    }

    /// Records an item event and queues webhook deliveries for every webhook on the item or
    /// on a folder above it (now, or among the folders a moved item left).
    pub fn record_item_change(
        &mut self,
        actor_id: &str,
        item: &ItemRef,
        change: ItemChange<'_>,
    ) -> String {
        // Box stamps the event and the webhook body from the one action, so both carry the
        // same `created_at`; a receiver may match them on it.
        let happened_at = now();
        let source = self.event_source(item);
        let event_id = self.append_event(
            change.event_type,
            actor_id,
            source,
            change.details,
            happened_at,
        );
        let webhook_source = change
            .webhook_source
            .unwrap_or_else(|| self.item_full(item));
        self.queue_webhooks(
            change.trigger,
            actor_id,
            item,
            webhook_source,
            change.left_folders,
            happened_at,
        );
        event_id
    }

    /// Queues one delivery per matching webhook; `created_at` is when the action happened
    /// (the body's `created_at`, shared with the action's event).
    pub fn queue_webhooks(
        &mut self,
        trigger: &str,
        actor_id: &str,
        item: &ItemRef,
        source: Value,
        extra_folder_ids: &[String],
        created_at: DateTime<Utc>,
    ) {
        let mut folders = self.ancestors_of(item);
        folders.extend(extra_folder_ids.iter().cloned());
        let matching: Vec<Webhook> = self
            .webhooks
            .values()
            .filter(|hook| hook.triggers.iter().any(|t| t == trigger))
            .filter(|hook| {
                (hook.target == *item)
                    || (hook.target.kind == ItemKind::Folder && folders.contains(&hook.target.id))
            })
            .cloned()
            .collect();
        for hook in matching {
            let body_id = uuid::Uuid::new_v4().to_string();
            let body = json!({
                "type": "webhook_event",
                "id": body_id,
                "created_at": box_time(&created_at),
                "trigger": trigger,
                "webhook": {"id": hook.id, "type": "webhook"},
                "created_by": self.user_mini(actor_id),
                "source": source,
                "additional_info": [],
            });
            let pending = PendingDelivery {
                webhook_id: hook.id.clone(),
                webhook_event_id: body_id.clone(),
                trigger: trigger.to_string(),
                address: hook.address.clone(),
                body: body.to_string(),
                tamper: DeliveryTamper::None,
            };
            self.webhook_events.insert(body_id, pending.clone());
            self.outbox.push(pending);
        }
    }
}

/// Fields of the `--Full` variants, which Box returns only when asked for with `fields`.
const FILE_FULL_ONLY: &[&str] = &[
    "extension",
    "has_collaborations",
    "is_externally_owned",
    "version_number",
    "comment_count",
    "is_package",
    "permissions",
    "allowed_invitee_roles",
];
const FOLDER_FULL_ONLY: &[&str] = &[
    "has_collaborations",
    "is_externally_owned",
    "can_non_owners_invite",
    "is_collaboration_restricted_to_enterprise",
    "allowed_shared_link_access_levels",
    "allowed_invitee_roles",
    "permissions",
];

/// Box's `fields` query: only the listed fields plus the base (`type`, `id`, `etag`); without
/// it, the standard set.
fn select_fields(
    mut all: Map<String, Value>,
    fields: Option<&[String]>,
    full_only: &[&str],
) -> Value {
    match fields {
        Some(fields) => {
            let keep = |key: &str| {
                key == "type" || key == "id" || key == "etag" || fields.iter().any(|f| f == key)
            };
            all.retain(|key, _| keep(key));
            Value::Object(all)
        }
        None => {
            all.retain(|key, _| !full_only.contains(&key.as_str()));
            Value::Object(all)
        }
    }
}

/// Parses Box's comma-separated `fields` query parameter.
pub(crate) fn parse_fields(query: &HashMap<String, String>) -> Option<Vec<String>> {
    query.get("fields").map(|text| {
        text.split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect()
    })
}
