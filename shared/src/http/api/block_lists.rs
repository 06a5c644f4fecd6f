//! Block lists: senders, URLs, SHA-1 and SHA-256 hashes the inspector acts on.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::{bad_request, store_error, ApiState, JsonBody, QueryParams};
use crate::domain::{BlockEntry, BlockList};
use crate::http::ApiError;

fn list_named(name: &str) -> Result<BlockList, ApiError> {
    name.parse::<BlockList>()
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BlockListEntries {
    pub list: BlockList,
    /// In value order.
    pub entries: Vec<BlockEntry>,
}

/// The entries of one block list.
#[utoipa::path(get, path = "/api/v1/blocklists/{list}", tag = "block lists",
    params(("list" = BlockList, Path, description = "senders, urls, sha1 or sha256")),
    responses(
        (status = 200, description = "The entries", body = BlockListEntries),
        (status = 404, description = "No such list", body = ApiError),
    ))]
pub(super) async fn list_entries(
    State(state): State<ApiState>,
    caller: Caller,
    Path(list): Path<String>,
) -> Result<Json<BlockListEntries>, ApiError> {
    let list = list_named(&list)?;
    let entries = state
        .core
        .backend
        .access
        .list_block_entries(&caller.tenant_id, list)
        .await
        .map_err(store_error)?;
    Ok(Json(BlockListEntries { list, entries }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBlockEntry {
    /// A mail address or `@domain` (senders), an http(s) URL (urls), or a hex digest.
    pub value: String,
    /// Why it is blocked (at most 500 characters).
    pub comment: Option<String>,
}

/// Add a value to a block list. Its format is checked, and it is stored normalised (hashes and
/// senders in lower case, URLs without a fragment); adding it again changes nothing.
#[utoipa::path(post, path = "/api/v1/blocklists/{list}", tag = "block lists",
    params(("list" = BlockList, Path, description = "senders, urls, sha1 or sha256")),
    request_body = NewBlockEntry,
    responses(
        (status = 201, description = "Added", body = BlockEntry),
        (status = 200, description = "Already on the list", body = BlockEntry),
        (status = 400, description = "Not a valid value for this list", body = ApiError),
        (status = 404, description = "No such list", body = ApiError),
    ))]
pub(super) async fn add_entry(
    State(state): State<ApiState>,
    caller: Caller,
    Path(list): Path<String>,
    JsonBody(request): JsonBody<NewBlockEntry>,
) -> Result<(StatusCode, Json<BlockEntry>), ApiError> {
    let list = list_named(&list)?;
    let value = list.normalize(&request.value).map_err(bad_request)?;
    let comment = request
        .comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
        return Err(bad_request("comment must be at most 500 characters"));
    }
    let entry = BlockEntry {
        tenant_id: caller.tenant_id.clone(),
        list,
        value,
        comment,
        added_at: state.core.backend.clock.now(),
        added_by: caller.credential_id.clone(),
    };
    let added = state
        .core
        .backend
        .access
        .add_block_entry(&entry)
        .await
        .map_err(store_error)?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(entry)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntryValue {
    /// The value to remove (in any form `POST` accepts).
    pub value: String,
}

/// Remove a value from a block list.
#[utoipa::path(delete, path = "/api/v1/blocklists/{list}", tag = "block lists",
    params(("list" = BlockList, Path, description = "senders, urls, sha1 or sha256"), EntryValue),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Not a valid value for this list", body = ApiError),
        (status = 404, description = "No such list, or the value is not on it", body = ApiError),
    ))]
pub(super) async fn remove_entry(
    State(state): State<ApiState>,
    caller: Caller,
    Path(list): Path<String>,
    QueryParams(request): QueryParams<EntryValue>,
) -> Result<StatusCode, ApiError> {
    let list = list_named(&list)?;
    let value = list.normalize(&request.value).map_err(bad_request)?;
    let removed = state
        .core
        .backend
        .access
        .remove_block_entry(&caller.tenant_id, list, &value)
        .await
        .map_err(store_error)?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("'{value}' is not on the {} list", list.as_str()),
        ))
    }
}
