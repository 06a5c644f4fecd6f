//! Incidents: list with filters and paging, read one, change its status with a comment.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::{
    bad_request, decode_cursor, encode_cursor, filtered_page, not_found, page_limit, store_error,
    time_range, ApiState, JsonBody, QueryParams,
};
use crate::domain::{Incident, IncidentStatus, Provider, Severity, StatusChange};
use crate::http::ApiError;
use crate::ports::IncidentQuery;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentFilter {
    pub status: Option<IncidentStatus>,
    /// At least this severity.
    pub min_severity: Option<Severity>,
    /// The policy's id (`builtin.public-link`, or one of the tenant's own).
    pub policy: Option<String>,
    pub provider: Option<Provider>,
    /// The actor's login (exact, case-insensitive).
    pub user: Option<String>,
    /// Created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created at or before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// 1 to 500; default 100.
    pub limit: Option<usize>,
    /// The previous page's `next`.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentPage {
    /// Newest first.
    pub incidents: Vec<Incident>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The tenant's incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentFilter),
    responses(
        (status = 200, description = "One page of incidents", body = IncidentPage),
        (status = 400, description = "A filter is not valid", body = ApiError),
        (status = 401, description = "Not authenticated", body = ApiError),
        (status = 429, description = "Rate limit reached", body = ApiError),
    ))]
pub(super) async fn list_incidents(
    State(state): State<ApiState>,
    caller: Caller,
    QueryParams(filter): QueryParams<IncidentFilter>,
) -> Result<Json<IncidentPage>, ApiError> {
    let limit = page_limit(filter.limit, 100, 500)?;
    time_range(filter.from, filter.to)?;
    let start = decode_cursor(filter.cursor.as_deref())?;
    let user = filter.user.as_deref().map(str::to_lowercase);
    let keep = |incident: &Incident| {
        filter.min_severity.is_none_or(|s| incident.severity >= s)
            && filter
                .policy
                .as_ref()
                .is_none_or(|p| &incident.policy_id == p)
            && filter
                .provider
                .is_none_or(|p| incident.object.provider == p)
            && user.as_ref().is_none_or(|u| {
                incident
                    .actor_email
                    .as_ref()
                    .is_some_and(|a| a.to_lowercase() == *u)
            })
    };
    let incidents = state.core.backend.incidents.clone();
    let (incidents, next) = filtered_page(
        limit,
        start,
        |i: &Incident| (i.created_at, i.id.clone()),
        keep,
        |before, chunk| {
            let query = IncidentQuery {
                tenant_id: caller.tenant_id.clone(),
                status: filter.status,
                from: filter.from,
                to: filter.to,
                before,
                limit: chunk,
            };
            let incidents = incidents.clone();
            async move { incidents.query_incidents(&query).await }
        },
    )
    .await?;
    Ok(Json(IncidentPage {
        incidents,
        next: encode_cursor(next),
    }))
}

/// One incident, with its actions and status history.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "The incident id")),
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 404, description = "No such incident in your tenant", body = ApiError),
    ))]
pub(super) async fn get_incident(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Incident>, ApiError> {
    state
        .core
        .backend
        .incidents
        .get_incident(&caller.tenant_id, &id)
        .await
        .map_err(store_error)?
        .map(Json)
        .ok_or_else(|| not_found("incident", &id))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: IncidentStatus,
    /// Why: kept in the incident's history (1 to 2000 characters).
    pub comment: String,
}

/// Longest comment kept in an incident's history.
const MAX_COMMENT: usize = 2000;
/// Status changes kept per incident; older ones are dropped.
const MAX_HISTORY: usize = 200;

/// Change an incident's status, with a comment kept in its history.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/status", tag = "incidents",
    params(("id" = String, Path, description = "The incident id")),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "The incident as changed", body = Incident),
        (status = 400, description = "The body is not a status and a comment", body = ApiError),
        (status = 404, description = "No such incident in your tenant", body = ApiError),
    ))]
pub(super) async fn change_status(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<StatusRequest>,
) -> Result<Json<Incident>, ApiError> {
    let comment = request.comment.trim();
    if comment.is_empty() || comment.chars().count() > MAX_COMMENT {
        return Err(bad_request(format!(
            "comment must be 1 to {MAX_COMMENT} characters: say why the status changes"
        )));
    }
    let store = &state.core.backend.incidents;
    // Another writer (the remediator recording an action) may win the conditional write:
    // read again and re-apply, a few times.
    for _ in 0..5 {
        let mut incident = store
            .get_incident(&caller.tenant_id, &id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found("incident", &id))?;
        let now = state.core.backend.clock.now();
        incident.history.push(StatusChange {
            from: incident.status,
            to: request.status,
            comment: comment.to_string(),
            by: caller.credential_id.clone(),
            at: now,
        });
        if incident.history.len() > MAX_HISTORY {
            let excess = incident.history.len() - MAX_HISTORY;
            incident.history.drain(..excess);
        }
        incident.status = request.status;
        incident.updated_at = now;
        match store.update_incident(&incident).await {
            Ok(updated) => return Ok(Json(updated)),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(store_error(e)),
        }
    }
    Err(ApiError::new(
        axum::http::StatusCode::CONFLICT,
        format!("incident '{id}' kept changing while the status was written: retry"),
    ))
}
