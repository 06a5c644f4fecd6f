//! Users: `/users/me`, the enterprise's users, one user.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::error::BoxError;
use crate::oauth::parse_query;
use crate::server::Shared;

pub(crate) async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared
        .with_state(|state| {
            let user_id = state.authenticate(&headers)?;
            let user = state.user(&user_id)?;
            Ok::<_, BoxError>(axum::Json(state.user_full(user)))
        })
        .into_response()
}

/// `GET /users`: the enterprise's managed users (admins only), offset paging, `filter_term`.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = parse_query(raw.as_deref());
    shared
        .with_state(|state| {
            let user_id = state.authenticate(&headers)?;
            let role = state.user(&user_id)?.role.clone();
            if role != "admin" && role != "coadmin" {
                return Err(BoxError::forbidden(
                    "access_denied_insufficient_permissions",
                    "Listing enterprise users requires an admin",
                ));
            }
            let limit = query
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(100)
                .clamp(1, 1000);
            let offset = query
                .get("offset")
                .and_then(|o| o.parse::<usize>().ok())
                .unwrap_or(0);
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
            Ok(axum::Json(
                json!({"total_count": total, "limit": limit, "offset": offset, "entries": entries}),
            ))
        })
        .into_response()
}

pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    shared
        .with_state(|state| {
            state.authenticate(&headers)?;
            let user = state.user(&id)?;
            Ok::<_, BoxError>(axum::Json(state.user_full(user)))
        })
        .into_response()
}
