//! Microsoft Graph (graph.microsoft.com/v1.0): the directory reads a connector needs to map
//! the tenant (`/organization`, `/users`). Files are in `files.rs`, change notifications in
//! `graph_subscriptions.rs`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::error::GraphError;
use crate::server::Shared;
use crate::state::{Resource, SimState, TenantUser};

fn user_json(user: &TenantUser) -> Value {
    json!({
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "displayName": user.display_name,
        "mail": user.mail,
        "userType": user.user_type,
    })
}

/// Authenticates a Graph call and runs `operation` on the tenant.
fn serve(
    shared: &Shared,
    headers: &HeaderMap,
    operation: impl FnOnce(&SimState) -> Result<Value, GraphError>,
) -> Response {
    shared.with_state(|state| {
        state
            .authenticate(headers, Resource::Graph)
            .map_err(|refusal| refusal.to_graph_error())
            .and_then(|_| operation(state))
            .map(|body| axum::Json(body).into_response())
            .unwrap_or_else(IntoResponse::into_response)
    })
}

/// `GET /v1.0/organization`.
pub(crate) async fn organization(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    let base = format!("{}/v1.0", shared.urls.graph);
    serve(&shared, &headers, |state| {
        Ok(json!({
            "@odata.context": format!("{base}/$metadata#organization"),
            "value": [{
                "id": state.config.tenant_id,
                "displayName": state.config.tenant_display_name,
                "verifiedDomains": [{
                    "capabilities": "Email, OfficeCommunicationsOnline",
                    "isDefault": true,
                    "isInitial": true,
                    "name": state.config.tenant_domain,
                    "type": "Managed",
                }],
            }],
        }))
    })
}

/// `GET /v1.0/users` (one page: the simulated tenant is small).
pub(crate) async fn list_users(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let base = format!("{}/v1.0", shared.urls.graph);
    serve(&shared, &headers, |state| {
        let users: Vec<Value> = state.users.values().map(user_json).collect();
        Ok(json!({"@odata.context": format!("{base}/$metadata#users"), "value": users}))
    })
}

/// `GET /v1.0/users/{id | userPrincipalName}`.
pub(crate) async fn get_user(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&shared, &headers, |state| {
        state
            .users
            .get(&id)
            .or_else(|| state.user_by_upn(&id))
            .map(user_json)
            .ok_or_else(|| {
                GraphError::new(
                    404,
                    "Request_ResourceNotFound",
                    format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
                )
            })
    })
}
