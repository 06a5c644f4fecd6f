//! Files: read, update (move, rename, shared link), trash, download via the download host,
//! and the world-changing operations behind them (saas-apis.md §1.4).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Duration as ChronoDuration;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::BoxError;
use crate::oauth::parse_query;
use crate::params::{new_parent_id, optional_str, shared_link_change};
use crate::server::{parse_json_body, Shared};
use crate::state::{
    now, parse_fields, random_token, sha1_hex, trashed_as_not_found, DownloadGrant, FileItem,
    ItemChange, ItemKind, ItemRef, SharedLink, SimState,
};

/// Shared link access levels Box accepts.
pub const SHARED_LINK_ACCESS_LEVELS: &[&str] = &["open", "company", "collaborators"];

/// A request to create or change a shared link (the `shared_link` object of `PUT /files/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SharedLinkRequest {
    /// `open`, `company` or `collaborators`; `None` keeps the current level (or `open` for a new link).
    #[serde(default)]
    pub access: Option<String>,
    /// `Some(Some(pw))` sets a password, `Some(None)` clears it.
    #[serde(default)]
    pub password: Option<Option<String>>,
    #[serde(default)]
    pub can_download: Option<bool>,
}

impl SharedLinkRequest {
    pub fn with_access(access: &str) -> Self {
        SharedLinkRequest {
            access: Some(access.to_string()),
            ..Default::default()
        }
    }

    pub(crate) fn from_json(value: &Value) -> Result<Self, BoxError> {
        let mut request = SharedLinkRequest::default();
        if let Some(access) = value.get("access") {
            match access.as_str() {
                Some(level) if SHARED_LINK_ACCESS_LEVELS.contains(&level) => {
                    request.access = Some(level.to_string())
                }
                _ => {
                    return Err(BoxError::bad_request(
                        "shared_link.access must be open, company or collaborators",
                    ))
                }
            }
        }
        match value.get("password") {
            None => {}
            Some(Value::Null) => request.password = Some(None),
            Some(Value::String(password)) => request.password = Some(Some(password.clone())),
            Some(_) => {
                return Err(BoxError::bad_request(
                    "shared_link.password must be a string or null",
                ))
            }
        }
        if let Some(permissions) = value.get("permissions") {
            request.can_download = permissions.get("can_download").and_then(Value::as_bool);
        }
        Ok(request)
    }
}

/// File accesses that are logged but change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileAccess {
    Download,
    Preview,
}

/// Box's `if-match` precondition: a stale etag answers 412.
pub(crate) fn check_if_match(headers: &HeaderMap, etag: u64) -> Result<(), BoxError> {
    match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        Some(expected) if expected.trim_matches('"') != etag.to_string() => Err(BoxError::new(
            412,
            "precondition_failed",
            "The resource has been modified. Please retrieve the resource again and retry",
        )),
        _ => Ok(()),
    }
}

impl SimState {
    pub fn upload_file(
        &mut self,
        actor_id: &str,
        parent_id: &str,
        name: &str,
        content: Vec<u8>,
    ) -> Result<String, BoxError> {
        self.user(actor_id)?;
        self.live_folder(parent_id)?;
        self.ensure_name_free(parent_id, name, "")?;
        let id = self.new_id();
        let created = now();
        let file = FileItem {
            id: id.clone(),
            name: name.to_string(),
            parent_id: parent_id.to_string(),
            owner_id: actor_id.to_string(),
            created_by: actor_id.to_string(),
            modified_by: actor_id.to_string(),
            size: content.len() as u64,
            sha1: sha1_hex(&content),
            content,
            version_id: self.new_id(),
            description: String::new(),
            created_at: created,
            modified_at: created,
            etag: 0,
            shared_link: None,
            trashed_at: None,
        };
        self.files.insert(id.clone(), file);
        self.record_item_change(
            actor_id,
            &ItemRef::file(&id),
            ItemChange::new("UPLOAD", "FILE.UPLOADED"),
        );
        Ok(id)
    }

    /// A new version of the file's content (EDIT event; Box fires FILE.UPLOADED for new versions).
    pub fn edit_file_content(
        &mut self,
        actor_id: &str,
        file_id: &str,
        content: Vec<u8>,
    ) -> Result<(), BoxError> {
        self.user(actor_id)?;
        let version_id = self.new_id();
        let file = self.live_file_mut(file_id)?;
        file.size = content.len() as u64;
        file.sha1 = sha1_hex(&content);
        file.content = content;
        file.version_id = version_id;
        file.etag += 1;
        file.modified_at = now();
        file.modified_by = actor_id.to_string();
        self.record_item_change(
            actor_id,
            &ItemRef::file(file_id),
            ItemChange::new("EDIT", "FILE.UPLOADED"),
        );
        Ok(())
    }

    pub fn move_file(
        &mut self,
        actor_id: &str,
        file_id: &str,
        new_parent_id: &str,
    ) -> Result<(), BoxError> {
        let name = self.live_file(file_id)?.name.clone();
        self.live_folder(new_parent_id)?;
        self.ensure_name_free(new_parent_id, &name, file_id)?;
        let old_parent = self.live_file(file_id)?.parent_id.clone();
        if old_parent == new_parent_id {
            return Ok(());
        }
        let old_chain = self.folder_chain(&old_parent);
        let previous_parent = self.folder_mini(&old_parent);
        let file = self.live_file_mut(file_id)?;
        file.parent_id = new_parent_id.to_string();
        file.etag += 1;
        file.modified_at = now();
        self.record_item_change(
            actor_id,
            &ItemRef::file(file_id),
            ItemChange::new("MOVE", "FILE.MOVED")
                .details(json!({"previous_parent": previous_parent}))
                .left_folders(&old_chain),
        );
        Ok(())
    }

    pub fn rename_file(
        &mut self,
        actor_id: &str,
        file_id: &str,
        new_name: &str,
    ) -> Result<(), BoxError> {
        let file = self.live_file(file_id)?;
        if file.name == new_name {
            return Ok(());
        }
        let (parent, old_name) = (file.parent_id.clone(), file.name.clone());
        self.ensure_name_free(&parent, new_name, file_id)?;
        let file = self.live_file_mut(file_id)?;
        file.name = new_name.to_string();
        file.etag += 1;
        file.modified_at = now();
        self.record_item_change(
            actor_id,
            &ItemRef::file(file_id),
            ItemChange::new("RENAME", "FILE.RENAMED").details(json!({"old_name": old_name})),
        );
        Ok(())
    }

    /// Creates, updates (`Some`) or removes (`None`) the file's shared link. Removing a link
    /// that does not exist succeeds without an event, as Box's `{"shared_link": null}` does.
    pub fn set_file_shared_link(
        &mut self,
        actor_id: &str,
        file_id: &str,
        request: Option<SharedLinkRequest>,
    ) -> Result<(), BoxError> {
        self.set_shared_link(actor_id, &ItemRef::file(file_id), request)
    }

    fn shared_link_of(&self, item: &ItemRef) -> Result<Option<SharedLink>, BoxError> {
        match item.kind {
            ItemKind::File => Ok(self.live_file(&item.id)?.shared_link.clone()),
            ItemKind::Folder => Ok(self.live_folder(&item.id)?.shared_link.clone()),
        }
    }

    fn store_shared_link(
        &mut self,
        item: &ItemRef,
        link: Option<SharedLink>,
    ) -> Result<(), BoxError> {
        match item.kind {
            ItemKind::File => {
                let file = self.live_file_mut(&item.id)?;
                file.shared_link = link;
                file.etag += 1;
            }
            ItemKind::Folder => {
                let folder = self.live_folder_mut(&item.id)?;
                folder.shared_link = link;
                folder.etag += 1;
            }
        }
        Ok(())
    }

    /// Creates, updates (`Some`) or removes (`None`) an item's shared link. Removing a link
    /// that does not exist succeeds without an event, as Box's `{"shared_link": null}` does.
    pub fn set_shared_link(
        &mut self,
        actor_id: &str,
        item: &ItemRef,
        request: Option<SharedLinkRequest>,
    ) -> Result<(), BoxError> {
        let previous = self.shared_link_of(item)?;
        let Some(request) = request else {
            if let Some(old) = previous {
                self.store_shared_link(item, None)?;
                self.record_item_change(
                    actor_id,
                    item,
                    ItemChange::new("UNSHARE", "SHARED_LINK.DELETED")
                        .details(json!({"previous_access": old.access})),
                );
            }
            return Ok(());
        };
        if let Some(access) = &request.access {
            if !SHARED_LINK_ACCESS_LEVELS.contains(&access.as_str()) {
                return Err(BoxError::bad_request(
                    "shared_link.access must be open, company or collaborators",
                ));
            }
        }
        let is_new = previous.is_none();
        let mut link = previous.clone().unwrap_or(SharedLink {
            token: random_token(32),
            access: "open".to_string(),
            password_enabled: false,
            can_download: true,
            download_count: 0,
            preview_count: 0,
            created_at: now(),
        });
        if let Some(access) = request.access {
            link.access = access;
        }
        if let Some(password) = request.password {
            link.password_enabled = password.is_some();
        }
        if let Some(can_download) = request.can_download {
            link.can_download = can_download;
        }
        let details = json!({
            "access": link.access,
            "previous_access": previous.as_ref().map(|p| p.access.clone()),
            "shared_link_url": format!("https://app.box.com/s/{}", link.token),
            "is_password_enabled": link.password_enabled,
        });
        self.store_shared_link(item, Some(link))?;
        let (event_type, trigger) = if is_new {
            ("SHARE", "SHARED_LINK.CREATED")
        } else {
            ("ITEM_SHARED_UPDATE", "SHARED_LINK.UPDATED")
        };
        self.record_item_change(
            actor_id,
            item,
            ItemChange::new(event_type, trigger).details(details),
        );
        Ok(())
    }

    /// Moves the file to the trash (Box's default for `DELETE /files/{id}`).
    pub fn trash_file(&mut self, actor_id: &str, file_id: &str) -> Result<(), BoxError> {
        let file = self.live_file_mut(file_id)?;
        file.trashed_at = Some(now());
        file.etag += 1;
        self.record_item_change(
            actor_id,
            &ItemRef::file(file_id),
            ItemChange::new("DELETE", "FILE.TRASHED"),
        );
        Ok(())
    }

    /// Permanently deletes a file that is in the trash (`DELETE /files/{id}/trash`). Box fires
    /// FILE.DELETED for this; the simulator logs no enterprise event for the purge.
    pub fn purge_file(&mut self, actor_id: &str, file_id: &str) -> Result<(), BoxError> {
        match self.files.get(file_id) {
            Some(file) if file.trashed_at.is_some() => {}
            _ => {
                return Err(BoxError::not_found(format!(
                    "Could not find the specified resource (trashed file {file_id})"
                )))
            }
        }
        let item = ItemRef::file(file_id);
        let source = self.item_full(&item);
        let ancestors = self.ancestors_of(&item);
        self.queue_webhooks("FILE.DELETED", actor_id, &item, source, &ancestors, now());
        self.files.remove(file_id);
        self.collaborations.retain(|_, c| c.item != item);
        Ok(())
    }

    /// Someone outside downloads the file through its open shared link: a DOWNLOAD event by
    /// Box's anonymous user (id 2) and a bumped `download_count`. Needs an `open` link.
    pub fn download_via_shared_link(&mut self, file_id: &str) -> Result<(), BoxError> {
        let file = self.live_file_mut(file_id)?;
        match file.shared_link.as_mut() {
            Some(link) if link.access == "open" => link.download_count += 1,
            _ => {
                return Err(BoxError::forbidden(
                    "forbidden",
                    "The file has no open shared link",
                ))
            }
        }
        self.record_item_change(
            crate::state::ANONYMOUS_USER_ID,
            &ItemRef::file(file_id),
            ItemChange::new("DOWNLOAD", "FILE.DOWNLOADED")
                .details(json!({"via_shared_link": true})),
        );
        Ok(())
    }

    pub fn record_file_access(
        &mut self,
        actor_id: &str,
        file_id: &str,
        access: FileAccess,
    ) -> Result<(), BoxError> {
        self.user(actor_id)?;
        self.live_file(file_id)?;
        let (event_type, trigger) = match access {
            FileAccess::Download => ("DOWNLOAD", "FILE.DOWNLOADED"),
            FileAccess::Preview => ("PREVIEW", "FILE.PREVIEWED"),
        };
        self.record_item_change(
            actor_id,
            &ItemRef::file(file_id),
            ItemChange::new(event_type, trigger),
        );
        Ok(())
    }

    /// Applies a `PUT /files/{id}` body: `name`, `parent.id`, `description`, `shared_link`.
    pub fn update_file(
        &mut self,
        actor_id: &str,
        file_id: &str,
        body: &Value,
    ) -> Result<(), BoxError> {
        let Some(body) = body.as_object() else {
            return Err(BoxError::bad_request("The body must be a JSON object"));
        };
        self.live_file(file_id)?;
        if let Some(parent_id) = new_parent_id(body)? {
            self.move_file(actor_id, file_id, parent_id)?;
        }
        if let Some(name) = optional_str(body, "name")? {
            self.rename_file(actor_id, file_id, name)?;
        }
        if let Some(description) = optional_str(body, "description")? {
            let file = self.live_file_mut(file_id)?;
            file.description = description.to_string();
            file.etag += 1;
        }
        if let Some(request) = shared_link_change(body)? {
            self.set_file_shared_link(actor_id, file_id, request)?;
        }
        Ok(())
    }

    pub fn grant_download(&mut self, actor_id: &str, file_id: &str) -> Result<String, BoxError> {
        self.live_file(file_id)?;
        let token = random_token(48);
        let expires_at = crate::state::from_now(self.config.download_url_lifetime);
        self.download_grants.insert(
            token.clone(),
            DownloadGrant {
                file_id: file_id.to_string(),
                user_id: actor_id.to_string(),
                expires_at,
            },
        );
        Ok(token)
    }

    pub fn expire_download_urls(&mut self) {
        let past = now() - ChronoDuration::seconds(1);
        for grant in self.download_grants.values_mut() {
            grant.expires_at = past;
        }
    }
}

pub(crate) async fn get_file(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let fields = parse_fields(&parse_query(raw.as_deref()));
    shared.serve_as_caller(&headers, |state, _| {
        let file = state.live_file(&id)?;
        Ok(axum::Json(state.file_json(file, fields.as_deref())))
    })
}

pub(crate) async fn update_file(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let fields = parse_fields(&parse_query(raw.as_deref()));
    shared.serve_as_caller(&headers, |state, user| {
        let body = parse_json_body(&body)?;
        check_if_match(&headers, state.live_file(&id)?.etag)?;
        state.update_file(&user, &id, &body)?;
        let file = state.live_file(&id)?;
        Ok(axum::Json(state.file_json(file, fields.as_deref())))
    })
}

pub(crate) async fn delete_file(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    shared.serve_as_caller(&headers, |state, user| {
        let etag = state
            .live_file(&id)
            .map_err(|error| trashed_as_not_found(error, ItemKind::File, &id))?
            .etag;
        check_if_match(&headers, etag)?;
        state.trash_file(&user, &id)?;
        Ok(StatusCode::NO_CONTENT)
    })
}

/// `DELETE /files/{id}/trash` → 204; the file is gone for good.
pub(crate) async fn purge_file(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    shared.serve_as_caller(&headers, |state, user| {
        state.purge_file(&user, &id)?;
        Ok(StatusCode::NO_CONTENT)
    })
}

/// `GET /files/{id}/content` → 302 to the download host with a short-lived URL.
pub(crate) async fn download_file(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let download_base = shared.urls.download_base.clone();
    shared.serve_as_caller(&headers, |state, user| {
        let token = state.grant_download(&user, &id)?;
        let location = format!("{download_base}/d/1/{token}/download");
        Ok((StatusCode::FOUND, [(header::LOCATION, location)]))
    })
}

/// The download host (stand-in for dl.boxcloud.com) serving the bytes, with `Range` support.
pub(crate) async fn serve_download(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let outcome = shared.with_state(|state| {
        let grant = state
            .download_grants
            .get(&token)
            .cloned()
            .filter(|g| g.expires_at > now());
        let Some(grant) = grant else {
            return Err((StatusCode::FORBIDDEN, "download URL expired or invalid"));
        };
        let Ok(file) = state.live_file(&grant.file_id) else {
            return Err((StatusCode::NOT_FOUND, "file not found"));
        };
        let content = file.content.clone();
        *state
            .downloads_served
            .entry(grant.file_id.clone())
            .or_default() += 1;
        if state.config.record_api_downloads {
            let _ = state.record_file_access(&grant.user_id, &grant.file_id, FileAccess::Download);
        }
        Ok(content)
    });
    let content = match outcome {
        Ok(content) => content,
        Err((status, message)) => return (status, message).into_response(),
    };
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_range(v, content.len()));
    match range {
        Some((start, end)) => {
            let content_range = format!("bytes {start}-{end}/{}", content.len());
            (
                StatusCode::PARTIAL_CONTENT,
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                    (header::CONTENT_RANGE, content_range),
                ],
                content[start..=end].to_vec(),
            )
                .into_response()
        }
        None => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            content,
        )
            .into_response(),
    }
}

/// Parses `bytes=a-b` / `bytes=a-` into an inclusive range inside `len`.
fn parse_range(value: &str, len: usize) -> Option<(usize, usize)> {
    let spec = value.strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let start: usize = start.trim().parse().ok()?;
    let end: usize = if end.trim().is_empty() {
        len.checked_sub(1)?
    } else {
        end.trim().parse().ok()?
    };
    (start <= end && end < len).then_some((start, end))
}
