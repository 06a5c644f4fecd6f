//! Users: `/users/me`, the enterprise's users, one user.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use crate::faults::endless_offset_page;
use crate::oauth::parse_query;
use crate::params::{page_limit, page_offset};
use crate::server::Shared;

pub(crate) async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.serve_as_caller(&headers, |state, user_id| {
        let user = state.user(&user_id)?;
        Ok(axum::Json(state.user_full(user)))
    })
}

/// `GET /users`: the enterprise's managed users (admins only), offset paging, `filter_term`.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = parse_query(raw.as_deref());
    shared.serve_as_caller(&headers, |state, user_id| {
        state.require_admin(&user_id, "Listing enterprise users requires an admin")?;
        let endless = state.faults.endless_pages_on(uri.path());
        let limit = page_limit(&query);
        let offset = if endless { 0 } else { page_offset(&query) };
        let term = query.get("filter_term").map(|t| t.to_lowercase());
        let members: Vec<Value> = state
            .users
            .values()
            .filter(|u| u.is_enterprise_member)
            .filter(|u| {
                term.as_ref().is_none_or(|t| {
                    u.login.to_lowercase().starts_with(t.as_str())
                        || u.name.to_lowercase().starts_with(t.as_str())
                })
            })
            .map(|u| state.user_full(u))
            .collect();
        let total = members.len();
        let entries: Vec<Value> = members.into_iter().skip(offset).take(limit).collect();
        let page =
            json!({"total_count": total, "limit": limit, "offset": offset, "entries": entries});
        Ok(axum::Json(if endless {
            endless_offset_page(page)
        } else {
            page
        }))
    })
}

pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    shared.serve_as_caller(&headers, |state, _| {
        let user = state.user(&id)?;
        Ok(axum::Json(state.user_full(user)))
    })
}

/// `PUT /users/{id}` (admins only): of the spec's fields, `status` (`active`, `inactive`,
/// `cannot_delete_edit`, `cannot_delete_edit_upload`); an inactive user cannot sign in.
pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    shared.serve_as_caller(&headers, |state, caller| {
        state.require_admin(&caller, "Updating users requires an admin")?;
        let body: Value = serde_json::from_slice(&body)
            .map_err(|_| crate::error::BoxError::bad_request("The request body is not JSON"))?;
        let status = match body.get("status") {
            None => None,
            Some(Value::String(s))
                if [
                    "active",
                    "inactive",
                    "cannot_delete_edit",
                    "cannot_delete_edit_upload",
                ]
                .contains(&s.as_str()) =>
            {
                Some(s.clone())
            }
            Some(_) => return Err(crate::error::BoxError::bad_request(
                "status must be active, inactive, cannot_delete_edit or cannot_delete_edit_upload",
            )),
        };
        state.user(&id)?;
        if let Some(status) = status {
            if let Some(user) = state.users.get_mut(&id) {
                user.status = status;
            }
        }
        let user = state.user(&id)?;
        Ok(axum::Json(state.user_full(user)))
    })
}
