//! Microsoft Graph change notifications for drives (saas-apis.md §2.3; Graph's subscription
//! resource and webhook delivery docs): `POST/GET/PATCH/DELETE /v1.0/subscriptions` on
//! `drives/{id}/root`, the `validationToken` handshake, a notification per change, and
//! lifecycle notifications.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::GraphError;
use crate::server::Shared;
use crate::state::{new_guid, Resource, SimState};

/// The longest a driveItem subscription may live: 42,300 minutes.
pub const MAX_DRIVE_SUBSCRIPTION_MINUTES: i64 = 42_300;

#[derive(Debug, Clone)]
pub(crate) struct GraphSubscription {
    pub id: String,
    pub resource: String,
    pub drive_id: String,
    pub notification_url: String,
    pub lifecycle_url: Option<String>,
    pub client_state: Option<String>,
    pub expiration: DateTime<Utc>,
}

/// A Graph subscription as the simulator holds it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphSubscriptionSnapshot {
    pub id: String,
    pub resource: String,
    pub drive_id: String,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    pub client_state: Option<String>,
    pub expiration: DateTime<Utc>,
}

/// One POST the simulator made to a Graph notification (or lifecycle) URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNotificationDelivery {
    pub url: String,
    pub subscription_id: String,
    /// A lifecycle notification (`subscriptionRemoved`, ...), not a change.
    pub lifecycle: bool,
    pub status: Option<u16>,
    pub body: Value,
}

/// A notification waiting to be sent once the state lock is released.
#[derive(Debug, Clone)]
pub(crate) struct PendingGraphNotification {
    pub url: String,
    pub subscription_id: String,
    pub lifecycle: bool,
    pub body: Value,
}

fn graph_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl GraphSubscription {
    fn snapshot(&self) -> GraphSubscriptionSnapshot {
        GraphSubscriptionSnapshot {
            id: self.id.clone(),
            resource: self.resource.clone(),
            drive_id: self.drive_id.clone(),
            notification_url: self.notification_url.clone(),
            lifecycle_notification_url: self.lifecycle_url.clone(),
            client_state: self.client_state.clone(),
            expiration: self.expiration,
        }
    }

    fn json(&self, tenant_id: &str) -> Value {
        json!({
            "id": self.id,
            "resource": self.resource,
            "changeType": "updated",
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": graph_time(&self.expiration),
            "applicationId": Value::Null,
            "creatorId": Value::Null,
            "tenantId": tenant_id,
        })
    }
}

impl SimState {
    pub(crate) fn graph_subscription_snapshots(&self) -> Vec<GraphSubscriptionSnapshot> {
        self.graph_subscriptions
            .values()
            .map(GraphSubscription::snapshot)
            .collect()
    }

    /// Queues a change notification for every live subscription on `drive_id`.
    pub(crate) fn queue_drive_notifications(&mut self, drive_id: &str) {
        let now = Utc::now();
        let tenant_id = self.config.tenant_id.clone();
        let pending: Vec<PendingGraphNotification> = self
            .graph_subscriptions
            .values()
            .filter(|sub| sub.drive_id == drive_id && sub.expiration > now)
            .map(|sub| PendingGraphNotification {
                url: sub.notification_url.clone(),
                subscription_id: sub.id.clone(),
                lifecycle: false,
                body: json!({"value": [{
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": graph_time(&sub.expiration),
                    "clientState": sub.client_state,
                    "changeType": "updated",
                    "resource": sub.resource,
                    "tenantId": tenant_id,
                    "resourceData": {"@odata.type": "#Microsoft.Graph.DriveItem"},
                }]}),
            })
            .collect();
        self.graph_outbox.extend(pending);
    }

    /// Removes a subscription; with `notify_lifecycle`, queues `subscriptionRemoved` to its
    /// lifecycle URL (if it has one). False if there was no such subscription.
    pub(crate) fn remove_graph_subscription(&mut self, id: &str, notify_lifecycle: bool) -> bool {
        let Some(sub) = self.graph_subscriptions.remove(id) else {
            return false;
        };
        if let (true, Some(url)) = (notify_lifecycle, &sub.lifecycle_url) {
            self.graph_outbox.push(PendingGraphNotification {
                url: url.clone(),
                subscription_id: sub.id.clone(),
                lifecycle: true,
                body: json!({"value": [{
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": graph_time(&sub.expiration),
                    "tenantId": self.config.tenant_id,
                    "clientState": sub.client_state,
                    "lifecycleEvent": "subscriptionRemoved",
                }]}),
            });
        }
        true
    }
}

impl Shared {
    /// Sends the Graph notifications queued by the last operations.
    pub(crate) fn flush_graph_notifications(self: &Arc<Self>) {
        let pending = self.with_state(|state| std::mem::take(&mut state.graph_outbox));
        for notification in pending {
            self.runtime.spawn(deliver(Arc::clone(self), notification));
        }
    }
}

async fn deliver(shared: Arc<Shared>, pending: PendingGraphNotification) {
    let result = shared
        .http
        .post(&pending.url)
        .timeout(Duration::from_secs(10))
        .header("content-type", "application/json; charset=utf-8")
        .body(pending.body.to_string())
        .send()
        .await;
    let status = result.ok().map(|response| response.status().as_u16());
    shared.with_state(|state| {
        state.graph_deliveries.push(GraphNotificationDelivery {
            url: pending.url.clone(),
            subscription_id: pending.subscription_id.clone(),
            lifecycle: pending.lifecycle,
            status,
            body: pending.body.clone(),
        })
    });
    shared.delivery_notify.notify_waiters();
}

/// The validation handshake: `POST {url}?validationToken=…` (text/plain); the endpoint must
/// answer 200 with the decoded token as its body within the timeout.
async fn validate(shared: &Shared, url: &str, timeout: Duration) -> bool {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        new_guid()
    );
    let Ok(mut target) = reqwest::Url::parse(url) else {
        return false;
    };
    target
        .query_pairs_mut()
        .append_pair("validationToken", &token);
    let Ok(response) = shared
        .http
        .post(target)
        .timeout(timeout)
        .header("content-type", "text/plain; charset=utf-8")
        .send()
        .await
    else {
        return false;
    };
    if response.status().as_u16() != 200 {
        return false;
    }
    response
        .text()
        .await
        .map(|body| body == token)
        .unwrap_or(false)
}

fn validation_failed() -> GraphError {
    GraphError::bad_request(
        "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
    )
}

/// The drive of a `drives/{id}/root` resource (with or without a leading `/`). OneDrive for
/// Business takes subscriptions on the drive root only.
fn drive_of_resource(resource: &str) -> Option<String> {
    let trimmed = resource.trim_start_matches('/');
    let rest = trimmed.strip_prefix("drives/")?;
    let (drive_id, tail) = rest.split_once('/')?;
    (tail == "root" && !drive_id.is_empty()).then(|| drive_id.to_string())
}

fn parse_expiration(request: &Value) -> Result<DateTime<Utc>, GraphError> {
    let text = request["expirationDateTime"]
        .as_str()
        .ok_or_else(|| GraphError::bad_request("expirationDateTime is required."))?;
    let expiration = DateTime::parse_from_rfc3339(text)
        .map_err(|_| GraphError::bad_request("expirationDateTime is not a valid date."))?
        .with_timezone(&Utc);
    let now = Utc::now();
    if expiration <= now {
        return Err(GraphError::bad_request(
            "Subscription expiration can only be in the future.",
        ));
    }
    if expiration > now + chrono::Duration::minutes(MAX_DRIVE_SUBSCRIPTION_MINUTES) {
        return Err(GraphError::bad_request(format!(
            "Subscription expiration can only be {MAX_DRIVE_SUBSCRIPTION_MINUTES} minutes in the future."
        )));
    }
    Ok(expiration)
}

fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), GraphError> {
    shared.with_state(|state| {
        state
            .authenticate(headers, Resource::Graph)
            .map(|_| ())
            .map_err(|refusal| refusal.to_graph_error())
    })
}

/// `POST /v1.0/subscriptions` → 201, after the notification (and lifecycle) URLs validate.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let checked = async {
        authenticate(&shared, &headers)?;
        let request: Value = serde_json::from_slice(&body)
            .map_err(|_| GraphError::bad_request("The request body is not valid JSON."))?;
        if request["changeType"].as_str() != Some("updated") {
            return Err(GraphError::bad_request(
                "changeType must be 'updated' for driveItem subscriptions.",
            ));
        }
        let resource = request["resource"]
            .as_str()
            .ok_or_else(|| GraphError::bad_request("resource is required."))?
            .to_string();
        let drive_id = drive_of_resource(&resource).ok_or_else(|| {
            GraphError::bad_request(
                "Only the drive root (drives/{drive-id}/root) can be subscribed to on OneDrive for Business.",
            )
        })?;
        shared.with_state(|state| state.drives.get(&drive_id).map(|_| ()))
            .ok_or_else(|| GraphError::not_found("The requested drive was not found."))?;
        let notification_url = request["notificationUrl"]
            .as_str()
            .filter(|url| !url.is_empty())
            .ok_or_else(|| GraphError::bad_request("notificationUrl is required."))?
            .to_string();
        let lifecycle_url = request["lifecycleNotificationUrl"].as_str().map(str::to_string);
        let client_state = request["clientState"].as_str().map(str::to_string);
        if client_state.as_ref().is_some_and(|state| state.len() > 255) {
            return Err(GraphError::bad_request("clientState is longer than 255 characters."));
        }
        let expiration = parse_expiration(&request)?;
        let timeout = shared.with_state(|state| state.config.graph_validation_timeout);
        if !validate(&shared, &notification_url, timeout).await {
            return Err(validation_failed());
        }
        if let Some(url) = &lifecycle_url {
            if !validate(&shared, url, timeout).await {
                return Err(validation_failed());
            }
        }
        let subscription = GraphSubscription {
            id: new_guid(),
            resource,
            drive_id,
            notification_url,
            lifecycle_url,
            client_state,
            expiration,
        };
        Ok(shared.with_state(|state| {
            let body = subscription.json(&state.config.tenant_id);
            state.graph_subscriptions.insert(subscription.id.clone(), subscription);
            body
        }))
    }
    .await;
    match checked {
        Ok(body) => (StatusCode::CREATED, axum::Json(body)).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /v1.0/subscriptions`.
pub(crate) async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(error) = authenticate(&shared, &headers) {
        return error.into_response();
    }
    let value: Vec<Value> = shared.with_state(|state| {
        state
            .graph_subscriptions
            .values()
            .map(|sub| sub.json(&state.config.tenant_id))
            .collect()
    });
    axum::Json(json!({"value": value})).into_response()
}

fn subscription_not_found(id: &str) -> GraphError {
    GraphError::new(
        404,
        "ResourceNotFound",
        format!("The object was not found: subscription {id}."),
    )
}

/// `GET /v1.0/subscriptions/{id}`.
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = authenticate(&shared, &headers) {
        return error.into_response();
    }
    shared
        .with_state(|state| {
            state
                .graph_subscriptions
                .get(&id)
                .map(|sub| axum::Json(sub.json(&state.config.tenant_id)).into_response())
        })
        .unwrap_or_else(|| subscription_not_found(&id).into_response())
}

/// `PATCH /v1.0/subscriptions/{id}` with `{"expirationDateTime"}`: renews.
pub(crate) async fn renew(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| -> Result<Value, GraphError> {
        authenticate(&shared, &headers)?;
        let request: Value = serde_json::from_slice(&body)
            .map_err(|_| GraphError::bad_request("The request body is not valid JSON."))?;
        let expiration = parse_expiration(&request)?;
        shared.with_state(|state| {
            let tenant_id = state.config.tenant_id.clone();
            let sub = state
                .graph_subscriptions
                .get_mut(&id)
                .ok_or_else(|| subscription_not_found(&id))?;
            sub.expiration = expiration;
            Ok(sub.json(&tenant_id))
        })
    })();
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `DELETE /v1.0/subscriptions/{id}` → 204.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = authenticate(&shared, &headers) {
        return error.into_response();
    }
    if shared.with_state(|state| state.remove_graph_subscription(&id, false)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        subscription_not_found(&id).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_drive_roots_are_subscribable_resources() {
        assert_eq!(
            drive_of_resource("drives/b!abc/root").as_deref(),
            Some("b!abc")
        );
        assert_eq!(
            drive_of_resource("/drives/b!abc/root").as_deref(),
            Some("b!abc")
        );
        assert_eq!(drive_of_resource("drives/b!abc/items/01X"), None);
        assert_eq!(drive_of_resource("users/x/drive/root"), None);
    }
}
