//! Folders: read, list items, create (e.g. the CASB's quarantine folder), shared links.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use crate::error::BoxError;
use crate::faults::endless_offset_page;
use crate::files::check_if_match;
use crate::oauth::parse_query;
use crate::params::{
    new_parent_id, optional_str, page_limit, page_offset, required_str, shared_link_change,
};
use crate::server::{parse_json_body, Shared};
use crate::state::{
    now, parse_fields, trashed_as_not_found, Folder, ItemChange, ItemKind, ItemRef, SimState,
    ROOT_FOLDER_ID,
};

impl SimState {
    pub fn create_folder(
        &mut self,
        actor_id: &str,
        parent_id: &str,
        name: &str,
    ) -> Result<String, BoxError> {
        self.user(actor_id)?;
        self.live_folder(parent_id)?;
        self.ensure_name_free(parent_id, name, "")?;
        let id = self.new_id();
        let created = now();
        self.folders.insert(
            id.clone(),
            Folder {
                id: id.clone(),
                name: name.to_string(),
                parent_id: Some(parent_id.to_string()),
                owner_id: actor_id.to_string(),
                created_by: actor_id.to_string(),
                created_at: created,
                modified_at: created,
                etag: 0,
                shared_link: None,
                trashed_at: None,
            },
        );
        // Box's enterprise log records a new folder as UPLOAD with item_type folder.
        self.record_item_change(
            actor_id,
            &ItemRef::folder(&id),
            ItemChange::new("UPLOAD", "FOLDER.CREATED"),
        );
        Ok(id)
    }
}

impl SimState {
    /// Applies a `PUT /folders/{id}` body: `name`, `parent.id`, `shared_link` (object or null).
    pub fn update_folder(
        &mut self,
        actor_id: &str,
        folder_id: &str,
        body: &Value,
    ) -> Result<(), BoxError> {
        if folder_id == ROOT_FOLDER_ID {
            return Err(BoxError::forbidden(
                "forbidden",
                "The root folder cannot be changed",
            ));
        }
        let Some(body) = body.as_object() else {
            return Err(BoxError::bad_request("The body must be a JSON object"));
        };
        self.live_folder(folder_id)?;
        if let Some(parent_id) = new_parent_id(body)? {
            self.move_folder(actor_id, folder_id, parent_id)?;
        }
        if let Some(name) = optional_str(body, "name")? {
            self.rename_folder(actor_id, folder_id, name)?;
        }
        if let Some(request) = shared_link_change(body)? {
            self.set_shared_link(actor_id, &ItemRef::folder(folder_id), request)?;
        }
        Ok(())
    }

    pub fn rename_folder(
        &mut self,
        actor_id: &str,
        folder_id: &str,
        new_name: &str,
    ) -> Result<(), BoxError> {
        let folder = self.live_folder(folder_id)?;
        if folder.name == new_name {
            return Ok(());
        }
        let (parent, old_name) = (
            folder.parent_id.clone().unwrap_or_default(),
            folder.name.clone(),
        );
        self.ensure_name_free(&parent, new_name, folder_id)?;
        let folder = self.live_folder_mut(folder_id)?;
        folder.name = new_name.to_string();
        folder.etag += 1;
        folder.modified_at = now();
        self.record_item_change(
            actor_id,
            &ItemRef::folder(folder_id),
            ItemChange::new("RENAME", "FOLDER.RENAMED").details(json!({"old_name": old_name})),
        );
        Ok(())
    }

    pub fn move_folder(
        &mut self,
        actor_id: &str,
        folder_id: &str,
        new_parent_id: &str,
    ) -> Result<(), BoxError> {
        let folder = self.live_folder(folder_id)?;
        let (name, old_parent) = (
            folder.name.clone(),
            folder.parent_id.clone().unwrap_or_default(),
        );
        self.live_folder(new_parent_id)?;
        if old_parent == new_parent_id {
            return Ok(());
        }
        if self
            .folder_chain(new_parent_id)
            .iter()
            .any(|id| id == folder_id)
        {
            return Err(BoxError::bad_request(
                "A folder cannot be moved into itself or its subfolders",
            ));
        }
        self.ensure_name_free(new_parent_id, &name, folder_id)?;
        let old_chain = self.folder_chain(&old_parent);
        let previous_parent = self.folder_mini(&old_parent);
        let folder = self.live_folder_mut(folder_id)?;
        folder.parent_id = Some(new_parent_id.to_string());
        folder.etag += 1;
        self.record_item_change(
            actor_id,
            &ItemRef::folder(folder_id),
            ItemChange::new("MOVE", "FOLDER.MOVED")
                .details(json!({"previous_parent": previous_parent}))
                .left_folders(&old_chain),
        );
        Ok(())
    }

    /// Moves a folder and everything in it to the trash. A non-empty folder needs
    /// `recursive=true`, as at Box (`folder_not_empty` otherwise).
    pub fn trash_folder(
        &mut self,
        actor_id: &str,
        folder_id: &str,
        recursive: bool,
    ) -> Result<(), BoxError> {
        if folder_id == ROOT_FOLDER_ID {
            return Err(BoxError::forbidden(
                "forbidden",
                "The root folder cannot be deleted",
            ));
        }
        self.live_folder(folder_id)?;
        if !recursive && !self.folder_children(folder_id).is_empty() {
            return Err(BoxError::bad_request("Folder is not empty").with_code("folder_not_empty"));
        }
        // Log and notify before trashing, so webhooks on this folder still match.
        self.record_item_change(
            actor_id,
            &ItemRef::folder(folder_id),
            ItemChange::new("DELETE", "FOLDER.TRASHED"),
        );
        let trashed_at = now();
        let inside: Vec<String> = self
            .folders
            .keys()
            .filter(|id| self.folder_chain(id).iter().any(|f| f == folder_id))
            .cloned()
            .collect();
        for id in &inside {
            if let Some(folder) = self.folders.get_mut(id) {
                folder.trashed_at.get_or_insert(trashed_at);
                folder.etag += 1;
            }
        }
        for file in self
            .files
            .values_mut()
            .filter(|f| inside.contains(&f.parent_id))
        {
            file.trashed_at.get_or_insert(trashed_at);
        }
        Ok(())
    }
}

pub(crate) async fn update_folder(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let fields = parse_fields(&parse_query(raw.as_deref()));
    shared.serve_as_caller(&headers, |state, user| {
        let body = parse_json_body(&body)?;
        check_if_match(&headers, state.live_folder(&id)?.etag)?;
        state.update_folder(&user, &id, &body)?;
        let folder = state.live_folder(&id)?;
        Ok(axum::Json(state.folder_json(folder, fields.as_deref())))
    })
}

/// `DELETE /folders/{id}[?recursive=true]` → 204; a trashed or unknown folder → 404.
pub(crate) async fn delete_folder(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let recursive = parse_query(raw.as_deref())
        .get("recursive")
        .is_some_and(|v| v == "true");
    shared.serve_as_caller(&headers, |state, user| {
        let etag = state
            .live_folder(&id)
            .map_err(|error| trashed_as_not_found(error, ItemKind::Folder, &id))?
            .etag;
        check_if_match(&headers, etag)?;
        state.trash_folder(&user, &id, recursive)?;
        Ok(StatusCode::NO_CONTENT)
    })
}

pub(crate) async fn get_folder(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let fields = parse_fields(&parse_query(raw.as_deref()));
    shared.serve_as_caller(&headers, |state, _| {
        let folder = state.live_folder(&id)?;
        Ok(axum::Json(state.folder_json(folder, fields.as_deref())))
    })
}

pub(crate) async fn list_items(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = parse_query(raw.as_deref());
    shared.serve_as_caller(&headers, |state, _| {
        state.live_folder(&id)?;
        let limit = page_limit(&query);
        if state.faults.endless_pages_on(uri.path()) {
            let first_page = state.folder_items_page(&id, 0, limit);
            return Ok(axum::Json(endless_offset_page(first_page)));
        }
        Ok(axum::Json(state.folder_items_page(
            &id,
            page_offset(&query),
            limit,
        )))
    })
}

/// `POST /folders` with `{"name":..,"parent":{"id":..}}` → 201 Folder; 409 `item_name_in_use`.
pub(crate) async fn create_folder(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.serve_as_caller(&headers, |state, user| {
        let body = parse_json_body(&body)?;
        let name = required_str(&body, "name")?;
        let parent_id = required_str(&body, "parent.id")?;
        let id = state.create_folder(&user, parent_id, name)?;
        let folder = state.live_folder(&id)?;
        Ok((
            StatusCode::CREATED,
            axum::Json(state.folder_json(folder, None)),
        ))
    })
}
