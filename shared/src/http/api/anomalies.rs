//! Anomalies, and the Anomalous Activity API: the activities behind an anomaly as CSV.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Duration;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::{bad_request, not_found, page_limit, store_error, ApiState, JsonBody, QueryParams};
use crate::domain::Anomaly;
use crate::http::{activity_csv, ApiError};

/// Activities are served for anomalies of the last 15 days, and only the activities of those
/// days (the Anomalous Activity API's availability window).
pub const QUERY_WINDOW: Duration = Duration::days(15);

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnomalyFilter {
    /// 1 to 1000; default 100.
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AnomalyList {
    /// The most recently active first.
    pub anomalies: Vec<Anomaly>,
}

/// The tenant's anomalies, the most recently active first.
#[utoipa::path(get, path = "/api/v1/anomalies", tag = "anomalies", params(AnomalyFilter),
    responses(
        (status = 200, description = "The anomalies", body = AnomalyList),
        (status = 400, description = "A parameter is not valid", body = ApiError),
        (status = 401, description = "Not authenticated", body = ApiError),
    ))]
pub(super) async fn list_anomalies(
    State(state): State<ApiState>,
    caller: Caller,
    QueryParams(filter): QueryParams<AnomalyFilter>,
) -> Result<Json<AnomalyList>, ApiError> {
    let limit = page_limit(filter.limit, 100, 1000)?;
    let anomalies = state
        .core
        .backend
        .threats
        .list_anomalies(&caller.tenant_id, limit)
        .await
        .map_err(store_error)?;
    Ok(Json(AnomalyList { anomalies }))
}

/// One anomaly: its category, explanation and figures.
#[utoipa::path(get, path = "/api/v1/anomalies/{id}", tag = "anomalies",
    params(("id" = String, Path, description = "The anomaly id")),
    responses(
        (status = 200, description = "The anomaly", body = Anomaly),
        (status = 404, description = "No such anomaly in your tenant", body = ApiError),
    ))]
pub(super) async fn get_anomaly(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Anomaly>, ApiError> {
    state
        .core
        .backend
        .threats
        .get_anomaly(&caller.tenant_id, &id)
        .await
        .map_err(store_error)?
        .map(Json)
        .ok_or_else(|| not_found("anomaly", &id))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct QueryActivitiesRequest {
    /// The anomaly id (a string, or a number for ids that are numbers).
    #[schema(value_type = String)]
    pub incident_id: serde_json::Value,
}

/// The Anomalous Activity API: the activities behind an anomaly, newest first, as CSV with the
/// 56 columns of the published format (`timeStamp` ... `userCount`). At most the latest 100,000;
/// only anomalies created in the last 15 days, and only their activities of those days. An
/// unknown id gives the header alone.
#[utoipa::path(post, path = "/shnapi/rest/external/api/v1/queryActivities", tag = "anomalies",
    request_body = QueryActivitiesRequest,
    responses(
        (status = 200, description = "The header line, then one line per activity", content_type = "text/csv", body = String),
        (status = 400, description = "The body has no incident_id", body = ApiError),
        (status = 401, description = "Not authenticated, or the feature is not enabled for the tenant", body = ApiError),
    ))]
pub(super) async fn query_activities(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(request): JsonBody<QueryActivitiesRequest>,
) -> Result<Response, ApiError> {
    if !state
        .core
        .settings
        .api
        .anomaly_activity_enabled(&caller.tenant_id)
    {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Feature is not enabled for this tenant",
        ));
    }
    let id = match &request.incident_id {
        serde_json::Value::String(id) if !id.trim().is_empty() => id.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => {
            return Err(bad_request(
                "incident_id must be the anomaly id, as a string or a number",
            ))
        }
    };
    let now = state.core.backend.clock.now();
    let since = now - QUERY_WINDOW;
    let anomaly = state
        .core
        .backend
        .threats
        .get_anomaly(&caller.tenant_id, &id)
        .await
        .map_err(store_error)?
        .filter(|a| a.created_at >= since);
    let header_line =
        futures::stream::once(async { Ok::<_, std::io::Error>(activity_csv::header()) });
    let body = match anomaly {
        None => Body::from_stream(header_line),
        Some(anomaly) => {
            let rows = activity_csv::anomaly_rows(state.core.clone(), anomaly, since).map(|row| {
                // A store failure mid-stream can only cut the response short (the status is
                // sent): the client sees a truncated transfer, never a silently short file.
                row.map_err(|e| std::io::Error::other(e.to_string()))
            });
            Body::from_stream(header_line.chain(rows))
        }
    };
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
}
