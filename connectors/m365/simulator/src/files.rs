//! Microsoft Graph files (OneDrive for Business and SharePoint team sites): users' drives,
//! team sites with their default document library (`Shared Documents`), site search and
//! site-by-path lookups, items, content downloads through pre-authenticated URLs on the
//! download listener, permissions (those granted on a folder are inherited by everything below
//! it), delete, move, folder creation and the drive delta query, after Graph's driveItem,
//! permission and site docs and saas-apis.md §2.3. Every change gets a sequence number; delta
//! tokens are positions in that sequence.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::GraphError;
use crate::server::{query_params, Shared};
use crate::state::{from_now, Resource, SimState};

/// How long a pre-authenticated download URL works (Graph: "valid for a short period").
const DOWNLOAD_URL_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);

/// A drive item as tests address it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemRef {
    pub drive_id: String,
    pub item_id: String,
}

/// A permission on a drive item, for assertions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSnapshot {
    pub id: String,
    pub roles: Vec<String>,
    /// `view` or `edit` for a sharing link.
    pub link_type: Option<String>,
    /// `anonymous` or `organization` for a sharing link.
    pub link_scope: Option<String>,
    pub link_web_url: Option<String>,
    /// The invited person's e-mail, for a direct grant.
    pub granted_to_email: Option<String>,
    /// Inherited permissions (here: the owner's, from the drive root) cannot be deleted.
    pub inherited: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Drive {
    pub id: String,
    pub owner_id: String,
    pub root_id: String,
    /// The OneDrive site, `https://contoso-my.sharepoint.com/personal/alice_contoso_com`, or a
    /// team site, `https://contoso.sharepoint.com/sites/Finance`.
    pub site_url: String,
    /// The document library's URL segment below the site: `Documents` for a OneDrive,
    /// `Shared Documents` for a team site's default library (what audit records carry in
    /// `SourceRelativeUrl`).
    pub library: String,
    /// The display name of the team site whose default library this is; `None` for a OneDrive
    /// (then `owner_id` is its user). A team site's drive has an empty `owner_id`.
    pub team_site: Option<String>,
    /// Bumped by `force_delta_resync`; tokens from an older epoch get 410 Gone.
    pub resync_epoch: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct DriveItem {
    pub id: String,
    pub drive_id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub is_folder: bool,
    pub content: Vec<u8>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub deleted: bool,
    /// The sequence number of the item's latest change.
    pub change_seq: u64,
    /// The sequence number of the item's latest permission change.
    pub sharing_seq: u64,
    pub version: u64,
    pub permissions: Vec<PermissionSnapshot>,
    /// The UPN of the user who uploaded or created the item, if known.
    pub created_by: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct DownloadGrant {
    pub drive_id: String,
    pub item_id: String,
    pub expires_at: DateTime<Utc>,
}

fn random_id(len: usize) -> String {
    let mut text = String::new();
    while text.len() < len {
        text.push_str(
            &uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .to_ascii_uppercase(),
        );
    }
    text.truncate(len);
    text
}

fn graph_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn mime_type(name: &str) -> &'static str {
    match name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .as_deref()
    {
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        Some("csv") => "text/csv",
        _ => "application/octet-stream",
    }
}

impl SimState {
    /// The first label of the tenant domain (`contoso` for `contoso.onmicrosoft.com`), which
    /// names the tenant's `*.sharepoint.com` hosts.
    fn tenant_prefix(&self) -> String {
        self.config
            .tenant_domain
            .split('.')
            .next()
            .unwrap_or("contoso")
            .to_string()
    }

    /// Creates an empty drive (its root folder included) and returns its id.
    fn insert_drive(
        &mut self,
        owner_id: &str,
        site_url: String,
        library: &str,
        team_site: Option<String>,
    ) -> String {
        let drive_id = format!("b!{}", random_id(40).to_ascii_lowercase());
        let root_id = format!("01{}", random_id(32));
        let now = Utc::now();
        self.drives.insert(
            drive_id.clone(),
            Drive {
                id: drive_id.clone(),
                owner_id: owner_id.to_string(),
                root_id: root_id.clone(),
                site_url,
                library: library.to_string(),
                team_site,
                resync_epoch: 0,
            },
        );
        self.next_change_seq += 1;
        self.items.insert(
            root_id.clone(),
            DriveItem {
                id: root_id,
                drive_id: drive_id.clone(),
                name: "root".to_string(),
                parent_id: None,
                is_folder: true,
                content: Vec::new(),
                created: now,
                modified: now,
                deleted: false,
                change_seq: self.next_change_seq,
                sharing_seq: 0,
                version: 1,
                permissions: Vec::new(),
                created_by: None,
            },
        );
        drive_id
    }

    /// Adds a SharePoint team site, `https://<tenant>.sharepoint.com/sites/<name>`, with its
    /// default document library (`Shared Documents`), and returns the library's drive id. A
    /// name already taken (case-insensitively) returns the existing site's drive.
    pub(crate) fn add_team_site(&mut self, name: &str) -> String {
        let site_url = format!(
            "https://{}.sharepoint.com/sites/{name}",
            self.tenant_prefix()
        );
        if let Some(existing) = self
            .drives
            .values()
            .find(|d| d.team_site.is_some() && d.site_url.eq_ignore_ascii_case(&site_url))
        {
            return existing.id.clone();
        }
        self.insert_drive("", site_url, "Shared Documents", Some(name.to_string()))
    }

    /// Gives a member user a OneDrive (guests have none).
    pub(crate) fn ensure_drive(&mut self, user_id: &str) {
        if self.drives.values().any(|drive| drive.owner_id == user_id) {
            return;
        }
        let Some(user) = self.users.get(user_id) else {
            return;
        };
        if user.user_type != "Member" {
            return;
        }
        let tenant_prefix = self.tenant_prefix();
        let personal = user
            .user_principal_name
            .replace(['@', '.'], "_")
            .to_ascii_lowercase();
        self.insert_drive(
            user_id,
            format!("https://{tenant_prefix}-my.sharepoint.com/personal/{personal}"),
            "Documents",
            None,
        );
    }

    fn drive(&self, drive_id: &str) -> Result<&Drive, GraphError> {
        self.drives
            .get(drive_id)
            .ok_or_else(|| GraphError::not_found("The requested drive was not found."))
    }

    /// A live (not deleted) item of `drive_id`.
    fn item(&self, drive_id: &str, item_id: &str) -> Result<&DriveItem, GraphError> {
        let drive = self.drive(drive_id)?;
        let item_id = if item_id.eq_ignore_ascii_case("root") {
            drive.root_id.as_str()
        } else {
            item_id
        };
        self.items
            .get(item_id)
            .filter(|item| item.drive_id == drive_id && !item.deleted)
            .ok_or_else(|| GraphError::not_found("The resource could not be found."))
    }

    /// A copy of a live item by id alone (the caller just created or changed it).
    fn live_item_by_id(&self, item_id: &str) -> Result<DriveItem, GraphError> {
        self.items
            .get(item_id)
            .filter(|item| !item.deleted)
            .cloned()
            .ok_or_else(|| GraphError::not_found("The resource could not be found."))
    }

    /// Records a change to an item: a new change sequence number (and, for a sharing change,
    /// a new sharing sequence number) and a notification for the drive's subscriptions.
    fn touch(&mut self, item_id: &str, sharing: bool) {
        self.next_change_seq += 1;
        let seq = self.next_change_seq;
        let Some(item) = self.items.get_mut(item_id) else {
            return;
        };
        item.change_seq = seq;
        item.version += 1;
        if sharing {
            item.sharing_seq = seq;
        } else {
            item.modified = Utc::now();
        }
        let drive_id = item.drive_id.clone();
        self.queue_drive_notifications(&drive_id);
    }

    /// The folder path below the drive root, e.g. `Reports/2024` (empty at the root).
    fn folder_path(&self, item: &DriveItem) -> String {
        let mut names = Vec::new();
        let mut parent = item.parent_id.clone();
        while let Some(id) = parent {
            match self.items.get(&id) {
                Some(folder) if folder.parent_id.is_some() => {
                    names.push(folder.name.clone());
                    parent = folder.parent_id.clone();
                }
                _ => break,
            }
        }
        names.reverse();
        names.join("/")
    }

    /// The library segment of the item's drive: `Documents` (OneDrive) or `Shared Documents`
    /// (a team site's default library).
    fn library_of(&self, drive_id: &str) -> String {
        self.drives
            .get(drive_id)
            .map(|d| d.library.clone())
            .unwrap_or_else(|| "Documents".to_string())
    }

    /// The document library folder an audit record names as `SourceRelativeUrl`.
    fn relative_url(&self, item: &DriveItem) -> String {
        let library = self.library_of(&item.drive_id);
        let path = self.folder_path(item);
        if path.is_empty() {
            library
        } else {
            format!("{library}/{path}")
        }
    }

    // [GUESS] Real Graph percent-encodes `webUrl` (`Shared%20Documents`); the simulator has
    // always written it unencoded, joined exactly like the audit record's `SiteUrl` +
    // `SourceRelativeUrl` + `SourceFileName`, and keeps doing so for team sites.
    fn item_web_url(&self, item: &DriveItem) -> String {
        let site = self
            .drives
            .get(&item.drive_id)
            .map(|d| d.site_url.clone())
            .unwrap_or_default();
        if item.parent_id.is_none() {
            return format!("{site}/{}", self.library_of(&item.drive_id));
        }
        format!("{site}/{}/{}", self.relative_url(item), item.name)
    }

    /// `business` for a OneDrive, `documentLibrary` for a SharePoint library (Graph's drive
    /// resource `driveType` values).
    fn drive_type(&self, drive_id: &str) -> &'static str {
        match self.drives.get(drive_id) {
            Some(drive) if drive.team_site.is_some() => "documentLibrary",
            _ => "business",
        }
    }

    /// The folders above `item`, nearest first, the drive root last.
    fn ancestor_folders(&self, item: &DriveItem) -> Vec<&DriveItem> {
        let mut folders = Vec::new();
        let mut parent = item.parent_id.clone();
        while let Some(folder) = parent.and_then(|id| self.items.get(&id)) {
            folders.push(folder);
            parent = folder.parent_id.clone();
        }
        folders
    }

    fn owner_permission(&self, item: &DriveItem) -> PermissionSnapshot {
        let owner = self
            .drives
            .get(&item.drive_id)
            .and_then(|drive| self.users.get(&drive.owner_id));
        PermissionSnapshot {
            id: "aTowIy5mfG1lbWJlcnNoaXB8b3duZXI".to_string(),
            roles: vec!["owner".to_string()],
            link_type: None,
            link_scope: None,
            link_web_url: None,
            granted_to_email: owner.map(|user| user.mail.clone()),
            inherited: item.parent_id.is_some(),
        }
    }

    /// The owner's permission, then those granted on the folders above the item (outermost
    /// first; inherited, same ids), then the item's own.
    pub(crate) fn item_permissions(&self, item: &DriveItem) -> Vec<PermissionSnapshot> {
        let mut permissions = vec![self.owner_permission(item)];
        for folder in self.ancestor_folders(item).into_iter().rev() {
            permissions.extend(
                folder
                    .permissions
                    .iter()
                    .map(|permission| PermissionSnapshot {
                        inherited: true,
                        ..permission.clone()
                    }),
            );
        }
        permissions.extend(item.permissions.iter().cloned());
        permissions
    }

    fn permission_json(&self, item: &DriveItem, permission: &PermissionSnapshot) -> Value {
        let mut body = json!({"id": permission.id, "roles": permission.roles});
        if let (Some(kind), Some(scope)) = (&permission.link_type, &permission.link_scope) {
            body["link"] = json!({
                "type": kind,
                "scope": scope,
                "webUrl": permission.link_web_url,
                "preventsDownload": false,
            });
        }
        if let Some(email) = &permission.granted_to_email {
            let user = self.user_by_upn(email);
            body["grantedToV2"] = json!({"user": {
                "id": user.map(|u| u.id.clone()),
                "displayName": user.map(|u| u.display_name.clone()).unwrap_or_else(|| email.clone()),
                "email": email,
            }});
        }
        let is_owner = permission.roles.iter().any(|role| role == "owner");
        if is_owner && permission.granted_to_email.is_none() {
            if let Some(site) = self
                .drives
                .get(&item.drive_id)
                .and_then(|d| d.team_site.as_ref())
            {
                // [GUESS] A team site library's items inherit full control from the site's
                // owners group, shown as a SharePoint site group.
                body["grantedToV2"] = json!({"siteGroup": {
                    "id": "3",
                    "displayName": format!("{site} Owners"),
                    "loginName": format!("{site} Owners"),
                }});
            }
        }
        if permission.inherited {
            if let Some(drive) = self.drives.get(&item.drive_id) {
                // A permission granted on a folder above the item is inherited from that
                // folder (an itemReference); the owner's comes from the drive root.
                let folder = (!is_owner)
                    .then(|| {
                        self.ancestor_folders(item)
                            .into_iter()
                            .find(|folder| folder.permissions.iter().any(|p| p.id == permission.id))
                    })
                    .flatten();
                body["inheritedFrom"] = match folder {
                    Some(folder) => {
                        let parent_path = self.folder_path(folder);
                        let path = match (folder.parent_id.is_some(), parent_path.is_empty()) {
                            (false, _) => "/drive/root:".to_string(),
                            (true, true) => format!("/drive/root:/{}", folder.name),
                            (true, false) => format!("/drive/root:/{parent_path}/{}", folder.name),
                        };
                        json!({
                            "driveId": drive.id,
                            "driveType": self.drive_type(&drive.id),
                            "id": folder.id,
                            "path": path,
                        })
                    }
                    None => {
                        json!({"driveId": drive.id, "id": drive.root_id, "path": "/drive/root:"})
                    }
                };
            }
        }
        body
    }

    pub(crate) fn item_json(&self, item: &DriveItem) -> Value {
        let mut body = json!({
            "id": item.id,
            "name": item.name,
            "eTag": format!("\"{{{}}},{}\"", item.id, item.version),
            "createdDateTime": graph_time(&item.created),
            "lastModifiedDateTime": graph_time(&item.modified),
            "webUrl": self.item_web_url(item),
            "size": item.content.len(),
            "parentReference": {
                "driveId": item.drive_id,
                "driveType": self.drive_type(&item.drive_id),
            },
        });
        if let Some(parent) = &item.parent_id {
            body["parentReference"]["id"] = json!(parent);
        }
        if item.is_folder {
            let children = self
                .items
                .values()
                .filter(|child| child.parent_id.as_deref() == Some(&item.id) && !child.deleted)
                .count();
            body["folder"] = json!({"childCount": children});
        } else {
            body["file"] = json!({"mimeType": mime_type(&item.name)});
        }
        if item.parent_id.is_none() {
            body["root"] = json!({});
        }
        if item
            .permissions
            .iter()
            .any(|p| p.link_scope.is_some() || p.granted_to_email.is_some())
        {
            body["shared"] = json!({"scope": "users"});
        }
        body
    }

    fn drive_json(&self, drive: &Drive) -> Value {
        if let Some(site) = &drive.team_site {
            // A team site's default document library: Graph names it `Documents` although
            // its URL segment is `Shared Documents`. [GUESS] the owner is shown as the site's
            // Microsoft 365 group, without an id here.
            return json!({
                "id": drive.id,
                "driveType": "documentLibrary",
                "name": "Documents",
                "webUrl": format!("{}/{}", drive.site_url, drive.library),
                "owner": {"group": {"displayName": format!("{site} Owners")}},
            });
        }
        let owner = self.users.get(&drive.owner_id);
        json!({
            "id": drive.id,
            "driveType": "business",
            "name": "OneDrive",
            "webUrl": format!("{}/Documents", drive.site_url),
            "owner": {"user": {
                "id": drive.owner_id,
                "displayName": owner.map(|u| u.display_name.clone()),
                "email": owner.map(|u| u.mail.clone()),
            }},
        })
    }

    fn grant_download(&mut self, item: &DriveItem, download_origin: &str) -> String {
        let token = random_id(48).to_ascii_lowercase();
        let now = Utc::now();
        self.download_grants
            .retain(|_, grant| grant.expires_at > now);
        self.download_grants.insert(
            token.clone(),
            DownloadGrant {
                drive_id: item.drive_id.clone(),
                item_id: item.id.clone(),
                expires_at: from_now(DOWNLOAD_URL_LIFETIME),
            },
        );
        format!(
            "{download_origin}/_layouts/15/download.aspx?UniqueId={}&Translate=false&tempauth={token}&ApiVersion=2.0",
            item.id
        )
    }

    /// Creates a file (or a folder) under `parent_id`; fails on a name already taken.
    fn create_item(
        &mut self,
        drive_id: &str,
        parent_id: &str,
        name: &str,
        is_folder: bool,
        content: Vec<u8>,
    ) -> Result<String, GraphError> {
        let parent = self.item(drive_id, parent_id)?;
        if !parent.is_folder {
            return Err(GraphError::bad_request("The parent item is not a folder."));
        }
        let parent_id = parent.id.clone();
        if name.is_empty() || name.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|']) {
            return Err(GraphError::bad_request("The provided name is not valid."));
        }
        let taken = self.items.values().any(|item| {
            item.parent_id.as_deref() == Some(parent_id.as_str())
                && !item.deleted
                && item.name.eq_ignore_ascii_case(name)
        });
        if taken {
            return Err(GraphError::new(
                409,
                "nameAlreadyExists",
                "The specified item name already exists.",
            ));
        }
        let id = format!("01{}", random_id(32));
        let now = Utc::now();
        self.items.insert(
            id.clone(),
            DriveItem {
                id: id.clone(),
                drive_id: drive_id.to_string(),
                name: name.to_string(),
                parent_id: Some(parent_id),
                is_folder,
                content,
                created: now,
                modified: now,
                deleted: false,
                change_seq: 0,
                sharing_seq: 0,
                version: 0,
                permissions: Vec::new(),
                created_by: None,
            },
        );
        self.touch(&id, false);
        Ok(id)
    }

    /// The tenant user `upn`, or Graph's 404.
    fn tenant_user(&self, upn: &str) -> Result<&crate::state::TenantUser, GraphError> {
        self.user_by_upn(upn)
            .ok_or_else(|| GraphError::not_found(format!("User {upn} not found.")))
    }

    /// Uploads a file to the root of `user_upn`'s OneDrive and publishes the matching
    /// `FileUploaded` record to Audit.SharePoint.
    pub(crate) fn upload_file(
        &mut self,
        manage_origin: &str,
        user_upn: &str,
        name: &str,
        content: Vec<u8>,
    ) -> Result<(ItemRef, Option<crate::management::PendingNotification>), GraphError> {
        let user = self.tenant_user(user_upn)?.clone();
        self.ensure_drive(&user.id);
        let drive = self
            .drives
            .values()
            .find(|drive| drive.owner_id == user.id)
            .cloned()
            .ok_or_else(|| GraphError::not_found(format!("User {user_upn} has no OneDrive.")))?;
        self.upload_into(
            manage_origin,
            &drive.id,
            &drive.root_id,
            user_upn,
            name,
            content,
        )
    }

    /// Uploads a file by `user_upn` (a tenant user, guests included) into the folder
    /// `parent_id` of `drive_id` (a OneDrive or a team site library) and publishes the
    /// matching `FileUploaded` record to Audit.SharePoint (the drive's `SiteUrl`, the folder's
    /// `SourceRelativeUrl`).
    pub(crate) fn upload_into(
        &mut self,
        manage_origin: &str,
        drive_id: &str,
        parent_id: &str,
        user_upn: &str,
        name: &str,
        content: Vec<u8>,
    ) -> Result<(ItemRef, Option<crate::management::PendingNotification>), GraphError> {
        let user = self.tenant_user(user_upn)?.clone();
        let drive = self.drive(drive_id)?.clone();
        let item_id = self.create_item(&drive.id, parent_id, name, false, content)?;
        if let Some(stored) = self.items.get_mut(&item_id) {
            stored.created_by = Some(user.user_principal_name.clone());
        }
        let item = self.live_item_by_id(&item_id)?;
        let record = self.file_record(
            "FileUploaded",
            &user.user_principal_name,
            &drive.site_url,
            &self.relative_url(&item),
            name,
        );
        let (_, notification) =
            self.publish_blob(manage_origin, "Audit.SharePoint", vec![record], Utc::now());
        Ok((
            ItemRef {
                drive_id: drive.id,
                item_id,
            },
            notification,
        ))
    }

    /// Creates a folder under `parent_id` (`None`: the drive root) of `drive_id`.
    pub(crate) fn create_folder_item(
        &mut self,
        drive_id: &str,
        parent_id: Option<&str>,
        name: &str,
    ) -> Result<ItemRef, GraphError> {
        let item_id = self.create_item(
            drive_id,
            parent_id.unwrap_or("root"),
            name,
            true,
            Vec::new(),
        )?;
        Ok(ItemRef {
            drive_id: drive_id.to_string(),
            item_id,
        })
    }

    /// Adds a sharing link (`anonymous` or `organization`) and publishes the link and
    /// `SharingSet` records. Returns the link's URL.
    pub(crate) fn create_sharing_link(
        &mut self,
        manage_origin: &str,
        item: &ItemRef,
        scope: &str,
    ) -> Result<(String, Vec<crate::management::PendingNotification>), GraphError> {
        let (operation, target, target_type) = match scope {
            "anonymous" => ("AnonymousLinkCreated", "Anonymous", "Guest"),
            "organization" => ("CompanyLinkCreated", "SharingLinks", "SharePointGroup"),
            _ => {
                return Err(GraphError::bad_request(
                    "scope must be 'anonymous' or 'organization'.",
                ))
            }
        };
        let found = self.item(&item.drive_id, &item.item_id)?.clone();
        // Shaped like OneDrive's links: `https://contoso-my.sharepoint.com/:w:/g/personal/
        // alice_contoso_com/<token>` (`:f:` for folders).
        // A team site's links read `https://contoso.sharepoint.com/:w:/s/Finance/<token>`.
        let site_url = self.drive(&found.drive_id)?.site_url.clone();
        let kind = if found.is_folder { "f" } else { "w" };
        let link_url = match site_url.split_once("/sites/") {
            Some((host, site)) => format!("{host}/:{kind}:/s/{site}/{}", random_id(46)),
            None => {
                let (host, personal) = site_url
                    .split_once("/personal/")
                    .unwrap_or((site_url.as_str(), ""));
                format!("{host}/:{kind}:/g/personal/{personal}/{}", random_id(46))
            }
        };
        let permission = PermissionSnapshot {
            id: random_id(36).to_ascii_lowercase(),
            roles: vec!["read".to_string()],
            link_type: Some("view".to_string()),
            link_scope: Some(scope.to_string()),
            link_web_url: Some(link_url.clone()),
            granted_to_email: None,
            inherited: false,
        };
        if let Some(stored) = self.items.get_mut(&found.id) {
            stored.permissions.push(permission);
        }
        self.touch(&found.id, true);
        let notifications = self.publish_sharing_records(
            manage_origin,
            &found,
            &[
                (operation, target, target_type),
                ("SharingSet", target, target_type),
            ],
        );
        Ok((link_url, notifications))
    }

    /// Grants `email` direct access and publishes a `SharingSet` record.
    pub(crate) fn invite(
        &mut self,
        manage_origin: &str,
        item: &ItemRef,
        email: &str,
        guest: bool,
    ) -> Result<Vec<crate::management::PendingNotification>, GraphError> {
        let found = self.item(&item.drive_id, &item.item_id)?.clone();
        let permission = PermissionSnapshot {
            id: random_id(36).to_ascii_lowercase(),
            roles: vec!["write".to_string()],
            link_type: None,
            link_scope: None,
            link_web_url: None,
            granted_to_email: Some(email.to_string()),
            inherited: false,
        };
        if let Some(stored) = self.items.get_mut(&found.id) {
            stored.permissions.push(permission);
        }
        self.touch(&found.id, true);
        let target_type = if guest { "Guest" } else { "Member" };
        Ok(self.publish_sharing_records(
            manage_origin,
            &found,
            &[("SharingSet", email, target_type)],
        ))
    }

    fn publish_sharing_records(
        &mut self,
        manage_origin: &str,
        item: &DriveItem,
        records: &[(&str, &str, &str)],
    ) -> Vec<crate::management::PendingNotification> {
        let Some(drive) = self.drives.get(&item.drive_id).cloned() else {
            return Vec::new();
        };
        // The OneDrive's owner shares; in a team site, the file's uploader ([GUESS] or the
        // tenant admin when unknown).
        let owner = self
            .users
            .get(&drive.owner_id)
            .map(|u| u.user_principal_name.clone())
            .or_else(|| item.created_by.clone())
            .unwrap_or_else(|| format!("admin@{}", self.config.tenant_domain));
        let relative = self.relative_url(item);
        let built: Vec<Value> = records
            .iter()
            .map(|(operation, target, target_type)| {
                self.sharing_record(
                    operation,
                    &owner,
                    &drive.site_url,
                    &relative,
                    &item.name,
                    target,
                    target_type,
                )
            })
            .collect();
        let (_, notification) =
            self.publish_blob(manage_origin, "Audit.SharePoint", built, Utc::now());
        notification.into_iter().collect()
    }

    pub(crate) fn permissions_of(
        &self,
        item: &ItemRef,
    ) -> Result<Vec<PermissionSnapshot>, GraphError> {
        let found = self.item(&item.drive_id, &item.item_id)?;
        Ok(self.item_permissions(found))
    }

    /// Makes the next delta call with an older token answer 410 Gone.
    pub(crate) fn force_delta_resync(&mut self, drive_id: &str) -> bool {
        match self.drives.get_mut(drive_id) {
            Some(drive) => {
                drive.resync_epoch += 1;
                true
            }
            None => false,
        }
    }

    pub(crate) fn drive_of_user(&self, user: &str) -> Option<String> {
        let user_id = self
            .users
            .get(user)
            .or_else(|| self.user_by_upn(user))
            .map(|u| u.id.clone())?;
        self.drives
            .values()
            .find(|drive| drive.owner_id == user_id)
            .map(|drive| drive.id.clone())
    }
}

/// Runs an authenticated Graph call; afterwards sends the change notifications it queued.
fn graph_call(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    operation: impl FnOnce(&mut SimState) -> Result<Response, GraphError>,
) -> Response {
    let result = shared.with_state(|state| {
        state
            .authenticate(headers, Resource::Graph)
            .map_err(|refusal| refusal.to_graph_error())?;
        operation(state)
    });
    shared.flush_graph_notifications();
    result.unwrap_or_else(IntoResponse::into_response)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// `GET /v1.0/users/{id | upn}/drive`.
pub(crate) async fn user_drive(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    graph_call(&shared, &headers, |state| {
        let drive_id = state.drive_of_user(&user).ok_or_else(|| {
            GraphError::not_found("The user does not have a OneDrive (or does not exist).")
        })?;
        let drive = state.drive(&drive_id)?;
        Ok(json_response(StatusCode::OK, state.drive_json(drive)))
    })
}

/// `GET /v1.0/drives/{drive}`.
pub(crate) async fn get_drive(
    State(shared): State<Arc<Shared>>,
    Path(drive_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    graph_call(&shared, &headers, |state| {
        let drive = state.drive(&drive_id)?;
        Ok(json_response(StatusCode::OK, state.drive_json(drive)))
    })
}

fn item_with_download_url(state: &mut SimState, item: &DriveItem, download_origin: &str) -> Value {
    let mut body = state.item_json(item);
    if !item.is_folder {
        body["@microsoft.graph.downloadUrl"] = json!(state.grant_download(item, download_origin));
    }
    body
}

/// `GET /v1.0/drives/{drive}/root`.
pub(crate) async fn get_root(
    State(shared): State<Arc<Shared>>,
    Path(drive_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    graph_call(&shared, &headers, |state| {
        let item = state.item(&drive_id, "root")?.clone();
        Ok(json_response(StatusCode::OK, state.item_json(&item)))
    })
}

/// `GET /v1.0/drives/{drive}/items/{item}` (files carry `@microsoft.graph.downloadUrl`).
pub(crate) async fn get_item(
    State(shared): State<Arc<Shared>>,
    Path((drive_id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let download_origin = shared.urls.download.clone();
    graph_call(&shared, &headers, |state| {
        let item = state.item(&drive_id, &item_id)?.clone();
        Ok(json_response(
            StatusCode::OK,
            item_with_download_url(state, &item, &download_origin),
        ))
    })
}

/// `GET /v1.0/drives/{drive}/items/{item}/children` (one page).
pub(crate) async fn list_children(
    State(shared): State<Arc<Shared>>,
    Path((drive_id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    graph_call(&shared, &headers, |state| {
        let parent = state.item(&drive_id, &item_id)?.id.clone();
        let children: Vec<Value> = state
            .items
            .values()
            .filter(|item| item.parent_id.as_deref() == Some(parent.as_str()) && !item.deleted)
            .map(|item| state.item_json(item))
            .collect();
        Ok(json_response(StatusCode::OK, json!({"value": children})))
    })
}

/// `POST /v1.0/drives/{drive}/items/{parent}/children` with `{"name","folder":{}}`: creates
/// a folder (201).
pub(crate) async fn create_folder(
    State(shared): State<Arc<Shared>>,
    Path((drive_id, parent_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    graph_call(&shared, &headers, |state| {
        let request: Value = serde_json::from_slice(&body)
            .map_err(|_| GraphError::bad_request("The request body is not valid JSON."))?;
        let name = request["name"]
            .as_str()
            .ok_or_else(|| GraphError::bad_request("The 'name' property is required."))?;
        if request.get("folder").is_none() {
            return Err(GraphError::bad_request(
                "Only folders can be created this way; the 'folder' facet is required.",
            ));
        }
        let id = state.create_item(&drive_id, &parent_id, name, true, Vec::new())?;
        let item = state.live_item_by_id(&id)?;
        Ok(json_response(StatusCode::CREATED, state.item_json(&item)))
    })
}

/// `PATCH /v1.0/drives/{drive}/items/{item}`: rename (`name`) and/or move within the drive
/// (`parentReference.id`). Graph does not move across drives with PATCH.
pub(crate) async fn update_item(
    State(shared): State<Arc<Shared>>,
    Path((drive_id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    graph_call(&shared, &headers, |state| {
        let request: Value = serde_json::from_slice(&body)
            .map_err(|_| GraphError::bad_request("The request body is not valid JSON."))?;
        let item = state.item(&drive_id, &item_id)?.clone();
        if item.parent_id.is_none() {
            return Err(GraphError::new(
                403,
                "accessDenied",
                "The root folder cannot be moved or renamed.",
            ));
        }
        let mut new_parent = item.parent_id.clone();
        if let Some(reference) = request.get("parentReference") {
            if let Some(other_drive) = reference["driveId"].as_str() {
                if other_drive != drive_id {
                    return Err(GraphError::bad_request(
                        "Cross-drive moves are not supported; use copy.",
                    ));
                }
            }
            if let Some(parent_id) = reference["id"].as_str() {
                let parent = state.item(&drive_id, parent_id)?;
                if !parent.is_folder {
                    return Err(GraphError::bad_request("The destination is not a folder."));
                }
                // A folder cannot move into itself or below itself.
                let mut cursor = Some(parent.id.clone());
                while let Some(id) = cursor {
                    if id == item.id {
                        return Err(GraphError::bad_request(
                            "A folder cannot be moved into itself.",
                        ));
                    }
                    cursor = state.items.get(&id).and_then(|i| i.parent_id.clone());
                }
                new_parent = Some(parent.id.clone());
            }
        }
        let new_name = request["name"].as_str().unwrap_or(&item.name).to_string();
        let clash = state.items.values().any(|other| {
            other.id != item.id
                && !other.deleted
                && other.parent_id == new_parent
                && other.name.eq_ignore_ascii_case(&new_name)
        });
        if clash {
            return Err(GraphError::new(
                409,
                "nameAlreadyExists",
                "The specified item name already exists.",
            ));
        }
        if let Some(stored) = state.items.get_mut(&item.id) {
            stored.parent_id = new_parent;
            stored.name = new_name;
        }
        state.touch(&item.id, false);
        let updated = state.live_item_by_id(&item.id)?;
        Ok(json_response(StatusCode::OK, state.item_json(&updated)))
    })
}

/// `DELETE /v1.0/drives/{drive}/items/{item}`: to the recycle bin (204), with its children.
pub(crate) async fn delete_item(
    State(shared): State<Arc<Shared>>,
    Path((drive_id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    graph_call(&shared, &headers, |state| {
        let item = state.item(&drive_id, &item_id)?.clone();
        if item.parent_id.is_none() {
            return Err(GraphError::new(
                403,
                "accessDenied",
                "The root folder cannot be deleted.",
            ));
        }
        let mut doomed = vec![item.id.clone()];
        let mut index = 0;
        while index < doomed.len() {
            let parent = doomed[index].clone();
            doomed.extend(
                state
                    .items
                    .values()
                    .filter(|child| {
                        child.parent_id.as_deref() == Some(parent.as_str()) && !child.deleted
                    })
                    .map(|child| child.id.clone()),
            );
            index += 1;
        }
        for id in &doomed {
            if let Some(stored) = state.items.get_mut(id) {
                stored.deleted = true;
            }
            state.touch(id, false);
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `GET /v1.0/drives/{drive}/items/{item}/content`: 302 to a pre-authenticated URL on the
/// download listener.
pub(crate) async fn download_content(
    State(shared): State<Arc<Shared>>,
    Path((drive_id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let download_origin = shared.urls.download.clone();
    graph_call(&shared, &headers, |state| {
        let item = state.item(&drive_id, &item_id)?.clone();
        if item.is_folder {
            return Err(GraphError::bad_request("Folders have no content."));
        }
        let url = state.grant_download(&item, &download_origin);
        Ok((StatusCode::FOUND, [(header::LOCATION, url)]).into_response())
    })
}

/// `GET /_layouts/15/download.aspx?UniqueId&tempauth` on the download listener: the bytes,
/// no Authorization header needed; honours a single `Range: bytes=a-b` with 206.
pub(crate) async fn serve_download(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    let content = shared.with_state(|state| {
        let grant = params
            .get("tempauth")
            .and_then(|token| state.download_grants.get(token))
            .filter(|grant| grant.expires_at > Utc::now())?;
        state
            .items
            .get(&grant.item_id)
            .filter(|item| item.drive_id == grant.drive_id && !item.deleted)
            .map(|item| item.content.clone())
    });
    let Some(content) = content else {
        return GraphError::new(
            401,
            "unauthenticated",
            "The download URL is invalid or has expired.",
        )
        .into_response();
    };
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(start, end)| {
            let start: usize = start.parse().ok()?;
            let end: usize = if end.is_empty() {
                content.len().checked_sub(1)?
            } else {
                end.parse().ok()?
            };
            (start <= end && start < content.len()).then(|| (start, end.min(content.len() - 1)))
        });
    match range {
        Some((start, end)) => (
            StatusCode::PARTIAL_CONTENT,
            [(
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{}", content.len()),
            )],
            content[start..=end].to_vec(),
        )
            .into_response(),
        None => (StatusCode::OK, content).into_response(),
    }
}

/// `GET /v1.0/drives/{drive}/items/{item}/permissions`.
pub(crate) async fn list_permissions(
    State(shared): State<Arc<Shared>>,
    Path((drive_id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    graph_call(&shared, &headers, |state| {
        let item = state.item(&drive_id, &item_id)?.clone();
        let value: Vec<Value> = state
            .item_permissions(&item)
            .iter()
            .map(|permission| state.permission_json(&item, permission))
            .collect();
        Ok(json_response(StatusCode::OK, json!({"value": value})))
    })
}

/// `DELETE /v1.0/drives/{drive}/items/{item}/permissions/{perm}`: 204; only non-inherited
/// permissions can be deleted.
pub(crate) async fn delete_permission(
    State(shared): State<Arc<Shared>>,
    Path((drive_id, item_id, permission_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    graph_call(&shared, &headers, |state| {
        let item = state.item(&drive_id, &item_id)?.clone();
        let permission = state
            .item_permissions(&item)
            .into_iter()
            .find(|permission| permission.id == permission_id)
            .ok_or_else(|| GraphError::not_found("The permission was not found."))?;
        if permission.inherited || permission.roles.iter().any(|role| role == "owner") {
            // [GUESS] Graph's exact code here is not documented; the docs only say that
            // inherited permissions cannot be deleted.
            return Err(GraphError::new(
                403,
                "accessDenied",
                "Inherited permissions cannot be deleted; remove them where they are defined.",
            ));
        }
        if let Some(stored) = state.items.get_mut(&item.id) {
            stored.permissions.retain(|p| p.id != permission_id);
        }
        state.touch(&item.id, true);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// A delta token: `{kind}.{epoch}.{cursor}` base64url-encoded, where `kind` is `i` while the
/// initial enumeration pages (deleted items are left out) and `d` afterwards.
fn encode_delta_token(kind: char, epoch: u32, cursor: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}.{epoch}.{cursor}"))
}

fn decode_delta_token(token: &str) -> Option<(char, u32, u64)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('.');
    let kind = parts.next()?.chars().next()?;
    let epoch = parts.next()?.parse().ok()?;
    let cursor = parts.next()?.parse().ok()?;
    Some((kind, epoch, cursor))
}

/// `GET /v1.0/drives/{drive}/root/delta[?token=…]`.
pub(crate) async fn delta(
    State(shared): State<Arc<Shared>>,
    Path(drive_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    let graph_base = format!("{}/v1.0", shared.urls.graph);
    let show_sharing = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("deltashowsharingchanges"));
    graph_call(&shared, &headers, |state| {
        let drive = state.drive(&drive_id)?.clone();
        let link =
            |token: String| format!("{graph_base}/drives/{drive_id}/root/delta?token={token}");
        let (initial, cursor) = match params.get("token").map(String::as_str) {
            None => (true, 0),
            Some("latest") => {
                let body = json!({
                    "@odata.context": format!("{graph_base}/$metadata#Collection(driveItem)"),
                    "value": [],
                    "@odata.deltaLink": link(encode_delta_token('d', drive.resync_epoch, state.next_change_seq)),
                });
                return Ok(json_response(StatusCode::OK, body));
            }
            Some(token) => {
                let (kind, epoch, cursor) = decode_delta_token(token)
                    .ok_or_else(|| GraphError::bad_request("Invalid delta token."))?;
                if epoch != drive.resync_epoch {
                    let mut response = GraphError::new(
                        410,
                        "resyncRequired",
                        "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
                    )
                    .into_response();
                    if let Ok(value) = format!("{graph_base}/drives/{drive_id}/root/delta").parse()
                    {
                        response.headers_mut().insert(header::LOCATION, value);
                    }
                    return Ok(response);
                }
                (kind == 'i', cursor)
            }
        };
        let page_size = state.config.delta_page_size.max(1);
        let mut changed: Vec<&DriveItem> = state
            .items
            .values()
            .filter(|item| item.drive_id == drive_id && item.change_seq > cursor)
            .filter(|item| !(initial && item.deleted))
            .collect();
        changed.sort_by_key(|item| item.change_seq);
        let more = changed.len() > page_size;
        changed.truncate(page_size);
        let value: Vec<Value> = changed
            .iter()
            .map(|item| {
                let mut body = if item.deleted {
                    // OneDrive for Business omits the name of a deleted item.
                    json!({
                        "id": item.id,
                        "parentReference": {"driveId": item.drive_id, "driveType": state.drive_type(&item.drive_id), "id": item.parent_id},
                        "deleted": {"state": "deleted"},
                    })
                } else {
                    state.item_json(item)
                };
                if show_sharing && item.sharing_seq > cursor {
                    body["@microsoft.graph.sharedChanged"] = json!("True");
                }
                body
            })
            .collect();
        let mut body = json!({
            "@odata.context": format!("{graph_base}/$metadata#Collection(driveItem)"),
            "value": value,
        });
        if more {
            let last = changed.last().map(|item| item.change_seq).unwrap_or(cursor);
            body["@odata.nextLink"] = json!(link(encode_delta_token(
                if initial { 'i' } else { 'd' },
                drive.resync_epoch,
                last
            )));
        } else {
            body["@odata.deltaLink"] = json!(link(encode_delta_token(
                'd',
                drive.resync_epoch,
                state.next_change_seq
            )));
        }
        Ok(json_response(StatusCode::OK, body))
    })
}

/// A drive's site id, shaped like Graph's `{hostname},{site-collection-id},{web-id}`.
fn site_id(drive: &Drive) -> String {
    let host = drive
        .site_url
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let key = drive.id.trim_start_matches("b!");
    format!("{host},{key},{key}")
}

impl SimState {
    /// The live item at `path` (`Reports/plan.docx`) below the drive's root, names compared
    /// case-insensitively as SharePoint does.
    fn item_by_path(&self, drive_id: &str, path: &str) -> Result<DriveItem, GraphError> {
        let mut current = self.item(drive_id, "root")?.clone();
        for name in path.split('/').filter(|s| !s.is_empty()) {
            current = self
                .items
                .values()
                .find(|item| {
                    item.parent_id.as_deref() == Some(current.id.as_str())
                        && !item.deleted
                        && item.name.eq_ignore_ascii_case(name)
                })
                .cloned()
                .ok_or_else(|| GraphError::not_found("The resource could not be found."))?;
        }
        Ok(current)
    }
}

fn site_json(drive: &Drive) -> Value {
    let name = drive
        .site_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let host = drive
        .site_url
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    json!({
        "id": site_id(drive),
        "name": name,
        "displayName": drive.team_site.clone().unwrap_or_else(|| name.clone()),
        "webUrl": drive.site_url,
        "siteCollection": {"hostname": host},
    })
}

impl SimState {
    /// The drive (default document library) of a site named by id
    /// (`{hostname},{collection},{web}`) or by `{hostname}:/{server-relative-path}` (a trailing
    /// `:` allowed).
    fn site_drive(&self, site: &str) -> Result<Drive, GraphError> {
        match site.split_once(":/") {
            Some((host, path)) => {
                let url = format!(
                    "https://{host}/{}",
                    path.trim_end_matches(':').trim_matches('/')
                );
                self.drives
                    .values()
                    .find(|d| d.site_url.trim_end_matches('/').eq_ignore_ascii_case(&url))
            }
            None => self.drives.values().find(|d| site_id(d) == site),
        }
        .cloned()
        .ok_or_else(|| GraphError::not_found("The requested site was not found."))
    }
}

/// `GET /v1.0/sites/{hostname}:/{server-relative-path}` (a site by its URL, as audit records
/// carry it in `SiteUrl`), `GET /v1.0/sites/{site-id}`,
/// `GET /v1.0/sites/{site}/drive/root:/{item-path}` (an item of the site's default document
/// library by path), `GET /v1.0/sites/{site}/drives` (the site's libraries) and
/// `GET /v1.0/sites/{site}/drive`. Each OneDrive here is a personal site whose library is its
/// drive; each team site has one library, `Shared Documents`.
pub(crate) async fn sites(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    graph_call(&shared, &headers, |state| {
        if let Some((site, path)) = rest.split_once("/drive/root:/") {
            let drive = state.site_drive(site)?;
            let item = state.item_by_path(&drive.id, path.trim_end_matches(':'))?;
            return Ok(json_response(StatusCode::OK, state.item_json(&item)));
        }
        let trimmed = rest.trim_end_matches('/');
        if let Some(site) = trimmed.strip_suffix("/drives") {
            let drive = state.site_drive(site)?;
            return Ok(json_response(
                StatusCode::OK,
                json!({"value": [state.drive_json(&drive)]}),
            ));
        }
        if let Some(site) = trimmed.strip_suffix("/drive") {
            let drive = state.site_drive(site)?;
            return Ok(json_response(StatusCode::OK, state.drive_json(&drive)));
        }
        let drive = state.site_drive(&rest)?;
        Ok(json_response(StatusCode::OK, site_json(&drive)))
    })
}

/// `GET /v1.0/sites?search={query}`: the tenant's team sites, as site search returns them
/// (personal OneDrive sites are not returned by site search). [GUESS] Every query, `*` and an
/// empty one included, returns every team site: the simulator does not rank free text.
pub(crate) async fn list_sites(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let graph_base = format!("{}/v1.0", shared.urls.graph);
    graph_call(&shared, &headers, |state| {
        let value: Vec<Value> = state
            .drives
            .values()
            .filter(|d| d.team_site.is_some())
            .map(site_json)
            .collect();
        Ok(json_response(
            StatusCode::OK,
            json!({
                "@odata.context": format!("{graph_base}/$metadata#sites"),
                "value": value,
            }),
        ))
    })
}
