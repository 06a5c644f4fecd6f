//! Collaborations: invite, read, remove, and list per file or folder with marker paging
//! (saas-apis.md §1.4); the lists honour the endless-page fault.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use crate::error::BoxError;
use crate::faults::endless_marker_page;
use crate::oauth::parse_query;
use crate::params::{marker_page, page_limit, required_item_kind, required_str};
use crate::server::{parse_json_body, Shared};
use crate::state::{now, Collaboration, ItemChange, ItemRef, SimState};

/// Roles `POST /collaborations` accepts (`owner` is not grantable).
pub const COLLABORATION_ROLES: &[&str] = &[
    "editor",
    "viewer",
    "previewer",
    "uploader",
    "previewer uploader",
    "viewer uploader",
    "co-owner",
];

impl SimState {
    /// Invites `login` (a user id or e-mail) to the item. An unknown e-mail becomes an external
    /// user whose invite is `pending`; known users are `accepted` at once.
    pub fn add_collaboration(
        &mut self,
        actor_id: &str,
        item: &ItemRef,
        login: &str,
        role: &str,
    ) -> Result<String, BoxError> {
        self.user(actor_id)?;
        self.live_item(item)?;
        if !COLLABORATION_ROLES.contains(&role) {
            return Err(BoxError::bad_request(format!("Invalid role {role}")));
        }
        let (user_id, status, invite_email) = if let Some(user) = self.users.get(login) {
            (user.id.clone(), "accepted", None)
        } else if let Some(user) = self.user_by_login(login) {
            (user.id.clone(), "accepted", None)
        } else if login.contains('@') {
            let local = login.split('@').next().unwrap_or(login).to_string();
            let is_member = self.is_enterprise_login(login);
            let id = self.insert_user(&local, login, "user", is_member);
            (id, "pending", Some(login.to_string()))
        } else {
            return Err(BoxError::not_found(format!("User {login} not found")));
        };
        if self
            .collaborations
            .values()
            .any(|c| c.item == *item && c.user_id == user_id)
        {
            return Err(BoxError::new(
                400,
                "user_already_collaborator",
                "User is already a collaborator",
            ));
        }
        let id = self.new_id();
        let created = now();
        let collaboration = Collaboration {
            id: id.clone(),
            item: item.clone(),
            user_id: user_id.clone(),
            invite_email,
            role: role.to_string(),
            status: status.to_string(),
            created_by: actor_id.to_string(),
            created_at: created,
            modified_at: created,
        };
        let collaboration_json = self.collaboration_json(&collaboration);
        self.collaborations.insert(id.clone(), collaboration);
        let invitee = self.user_mini(&user_id);
        let is_external = !self
            .users
            .get(&user_id)
            .map(|u| u.is_enterprise_member)
            .unwrap_or(false);
        let details = json!({"collaboration_id": id, "role": role, "invitee": invitee, "is_external": is_external, "status": status});
        self.record_item_change(
            actor_id,
            item,
            ItemChange::new("COLLABORATION_INVITE", "COLLABORATION.CREATED")
                .details(details)
                .webhook_source(collaboration_json),
        );
        Ok(id)
    }

    /// Changes a collaborator's role (COLLABORATION_ROLE_CHANGE, COLLABORATION.UPDATED).
    pub fn change_collaboration_role(
        &mut self,
        actor_id: &str,
        collaboration_id: &str,
        role: &str,
    ) -> Result<(), BoxError> {
        if !COLLABORATION_ROLES.contains(&role) {
            return Err(BoxError::bad_request(format!("Invalid role {role}")));
        }
        let collaboration = self
            .collaborations
            .get_mut(collaboration_id)
            .ok_or_else(|| {
                BoxError::not_found(format!("Collaboration {collaboration_id} not found"))
            })?;
        if collaboration.role == role {
            return Ok(());
        }
        let previous_role = std::mem::replace(&mut collaboration.role, role.to_string());
        collaboration.modified_at = now();
        let collaboration = collaboration.clone();
        let details = json!({
            "collaboration_id": collaboration.id,
            "role": role,
            "previous_role": previous_role,
            "invitee": self.user_mini(&collaboration.user_id),
        });
        let source = self.collaboration_json(&collaboration);
        self.record_item_change(
            actor_id,
            &collaboration.item,
            ItemChange::new("COLLABORATION_ROLE_CHANGE", "COLLABORATION.UPDATED")
                .details(details)
                .webhook_source(source),
        );
        Ok(())
    }

    pub fn remove_collaboration(
        &mut self,
        actor_id: &str,
        collaboration_id: &str,
    ) -> Result<(), BoxError> {
        let collaboration = self
            .collaborations
            .remove(collaboration_id)
            .ok_or_else(|| {
                BoxError::not_found(format!("Collaboration {collaboration_id} not found"))
            })?;
        let collaboration_json = self.collaboration_json(&collaboration);
        let details = json!({"collaboration_id": collaboration.id, "role": collaboration.role, "invitee": self.user_mini(&collaboration.user_id)});
        self.record_item_change(
            actor_id,
            &collaboration.item,
            ItemChange::new("COLLABORATION_REMOVE", "COLLABORATION.REMOVED")
                .details(details)
                .webhook_source(collaboration_json),
        );
        Ok(())
    }

    /// One page of an item's collaborations; the marker is the offset of the next page.
    pub fn list_collaborations(
        &self,
        item: &ItemRef,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Value, BoxError> {
        self.live_item(item)?;
        let start = match marker {
            None | Some("") => 0,
            Some(marker) => marker
                .parse::<usize>()
                .map_err(|_| BoxError::bad_request("Invalid marker"))?,
        };
        let all: Vec<&Collaboration> = self
            .collaborations
            .values()
            .filter(|c| c.item == *item)
            .collect();
        Ok(marker_page(&all, start, limit, |c| {
            self.collaboration_json(c)
        }))
    }
}

/// `POST /collaborations` with `{"item":{"type","id"},"accessible_by":{"type":"user","id"|"login"},"role"}`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.serve_as_caller(&headers, |state, actor| {
        let body = parse_json_body(&body)?;
        let kind = required_item_kind(&body, "item.type")?;
        let item_id = required_str(&body, "item.id")?;
        if body.pointer("/accessible_by/type").and_then(Value::as_str) != Some("user") {
            return Err(BoxError::bad_request(
                "The simulator supports accessible_by.type=user only",
            ));
        }
        let login = body
            .pointer("/accessible_by/id")
            .and_then(Value::as_str)
            .or_else(|| body.pointer("/accessible_by/login").and_then(Value::as_str))
            .ok_or_else(|| BoxError::bad_request("accessible_by needs an id or a login"))?;
        let role = required_str(&body, "role")?;
        let item = ItemRef {
            kind,
            id: item_id.to_string(),
        };
        let id = state.add_collaboration(&actor, &item, login, role)?;
        let collaboration = state.collaboration(&id)?;
        Ok((
            StatusCode::CREATED,
            axum::Json(state.collaboration_json(collaboration)),
        ))
    })
}

pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    shared.serve_as_caller(&headers, |state, _| {
        let collaboration = state.collaboration(&id)?;
        Ok(axum::Json(state.collaboration_json(collaboration)))
    })
}

/// `PUT /collaborations/{id}` with `{"role": ..}`.
pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    shared.serve_as_caller(&headers, |state, actor| {
        let body = parse_json_body(&body)?;
        let role = required_str(&body, "role")?;
        state.change_collaboration_role(&actor, &id, role)?;
        let collaboration = state.collaboration(&id)?;
        Ok(axum::Json(state.collaboration_json(collaboration)))
    })
}

/// `DELETE /collaborations/{id}` → 204; a second delete → 404.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    shared.serve_as_caller(&headers, |state, actor| {
        state.remove_collaboration(&actor, &id)?;
        Ok(StatusCode::NO_CONTENT)
    })
}

async fn list_for(
    shared: Arc<Shared>,
    headers: HeaderMap,
    uri: Uri,
    item: ItemRef,
    raw: Option<String>,
) -> Response {
    let query = parse_query(raw.as_deref());
    let limit = page_limit(&query);
    shared.serve_as_caller(&headers, |state, _| {
        if state.faults.endless_pages_on(uri.path()) {
            let first_page = state.list_collaborations(&item, None, limit)?;
            return Ok(axum::Json(endless_marker_page(first_page, limit)));
        }
        state
            .list_collaborations(&item, query.get("marker").map(String::as_str), limit)
            .map(axum::Json)
    })
}

pub(crate) async fn list_for_file(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    list_for(shared, headers, uri, ItemRef::file(id), raw).await
}

pub(crate) async fn list_for_folder(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    list_for(shared, headers, uri, ItemRef::folder(id), raw).await
}
