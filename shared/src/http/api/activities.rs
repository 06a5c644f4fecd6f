//! Activity search: the stored activities of every provider, by time, provider, user, event
//! type and object.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::{
    decode_cursor, encode_cursor, filtered_page, page_limit, time_range, ApiState, QueryParams,
};
use crate::domain::{Activity, EventType, Provider};
use crate::http::ApiError;
use crate::ports::ActivityQuery;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityFilter {
    /// At or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// At or before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    pub provider: Option<Provider>,
    /// The actor's login (exact).
    pub user: Option<String>,
    pub event_type: Option<EventType>,
    /// The provider's event name (exact, case-insensitive), e.g. `DOWNLOAD`.
    pub event_name: Option<String>,
    /// An object id (exact) or a part of an object's name (case-insensitive).
    pub object: Option<String>,
    /// 1 to 500; default 100.
    pub limit: Option<usize>,
    /// The previous page's `next`.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivityPage {
    /// Newest first (by when they happened).
    pub activities: Vec<Activity>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Search the tenant's stored activities, newest first.
#[utoipa::path(get, path = "/api/v1/activities", tag = "activities", params(ActivityFilter),
    responses(
        (status = 200, description = "One page of activities", body = ActivityPage),
        (status = 400, description = "A filter is not valid", body = ApiError),
        (status = 401, description = "Not authenticated", body = ApiError),
    ))]
pub(super) async fn search_activities(
    State(state): State<ApiState>,
    caller: Caller,
    QueryParams(filter): QueryParams<ActivityFilter>,
) -> Result<Json<ActivityPage>, ApiError> {
    let limit = page_limit(filter.limit, 100, 500)?;
    time_range(filter.from, filter.to)?;
    let start = decode_cursor(filter.cursor.as_deref())?;
    let object = filter.object.as_deref().map(str::to_lowercase);
    let event_name = filter.event_name.as_deref().map(str::to_ascii_uppercase);
    let keep = |a: &Activity| {
        filter.provider.is_none_or(|p| a.provider == p)
            && filter.event_type.is_none_or(|t| a.event_type == t)
            && event_name
                .as_ref()
                .is_none_or(|n| a.event_name.to_ascii_uppercase() == *n)
            && object.as_ref().is_none_or(|o| {
                a.object_id
                    .as_deref()
                    .is_some_and(|id| id.to_lowercase() == *o)
                    || a.object_name
                        .as_deref()
                        .is_some_and(|name| name.to_lowercase().contains(o.as_str()))
            })
    };
    let store = state.core.backend.activities.clone();
    let (activities, next) = filtered_page(
        limit,
        start,
        |a: &Activity| (a.event_timestamp, a.id()),
        keep,
        |before, chunk| {
            let query = ActivityQuery {
                tenant_id: caller.tenant_id.clone(),
                integration_id: None,
                actor_email: filter.user.clone(),
                from: filter.from,
                to: filter.to,
                before,
                limit: chunk,
            };
            let store = store.clone();
            async move { store.query_activities(&query).await }
        },
    )
    .await?;
    Ok(Json(ActivityPage {
        activities,
        next: encode_cursor(next),
    }))
}
