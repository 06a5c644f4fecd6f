//! Management API webhooks: validation on start, notifications per blob, retries.

use std::time::Duration;

use m365_simulator::Resource;
use reqwest::Method;
use serde_json::json;

use crate::common::{Harness, Receiver};

async fn start_with_webhook(
    h: &Harness,
    token: &str,
    address: &str,
    auth_id: &str,
) -> crate::common::Reply {
    h.feed(
        token,
        Method::POST,
        "subscriptions/start?contentType=Audit.SharePoint",
        Some(json!({"webhook": {"address": address, "authId": auth_id, "expiration": ""}})),
    )
    .await
}

#[tokio::test]
async fn a_webhook_is_validated_then_notified_of_each_blob_with_its_auth_id() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    let receiver = Receiver::start(200).await;

    let started = start_with_webhook(&h, &token, &receiver.url, "casb-secret").await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(started.json["webhook"]["status"], "enabled");
    assert_eq!(started.json["webhook"]["address"], receiver.url.as_str());
    assert_eq!(started.json["webhook"]["authId"], "casb-secret");

    let validation = receiver.received();
    assert_eq!(
        validation.len(),
        1,
        "validation happens before start answers"
    );
    let code = validation[0]
        .header("Webhook-ValidationCode")
        .expect("code header");
    assert!(!code.is_empty());
    assert_eq!(validation[0].body, json!({"validationCode": code}));
    assert_eq!(
        validation[0].header("Webhook-AuthID").as_deref(),
        Some("casb-secret")
    );

    let content_id = h
        .sim
        .publish_records("Audit.SharePoint", vec![json!({"Id": "r1"})]);
    // Other content types have no webhook: nothing is sent for them.
    h.sim
        .publish_records("Audit.General", vec![json!({"Id": "r2"})]);
    let received = receiver.wait_for(2).await;
    assert_eq!(received.len(), 2);
    let notification = &received[1];
    assert_eq!(
        notification.header("Webhook-AuthID").as_deref(),
        Some("casb-secret")
    );
    assert!(notification.header("Webhook-ValidationCode").is_none());
    let items = notification.body.as_array().expect("a JSON array");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["contentId"], content_id.as_str());
    assert_eq!(items[0]["contentType"], "Audit.SharePoint");
    assert_eq!(items[0]["tenantId"], h.config.tenant_id.as_str());
    assert_eq!(items[0]["clientId"], h.config.client_id.as_str());
    assert!(items[0]["contentExpiration"].is_string());
    let uri = items[0]["contentUri"].as_str().unwrap();
    let blob = h.call(&token, Method::GET, uri, None).await;
    assert_eq!(blob.json, json!([{"Id": "r1"}]));

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 2, "no duplicate after a 200");
    let deliveries = h.sim.management_webhook_deliveries();
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries[0].validation && deliveries[0].succeeded());
    assert!(!deliveries[1].validation && deliveries[1].succeeded());
    assert_eq!(deliveries[1].content_ids, vec![content_id]);
    assert_eq!(
        h.sim.management_subscriptions()[0]
            .webhook_address
            .as_deref(),
        Some(receiver.url.as_str())
    );
    assert_eq!(deliveries[1].content_type, "Audit.SharePoint");

    let log = h
        .feed(
            &token,
            Method::GET,
            "subscriptions/notifications?contentType=Audit.SharePoint",
            None,
        )
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    let attempts = log.json.as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0]["contentId"],
        deliveries[1].content_ids[0].as_str()
    );
    assert_eq!(attempts[0]["notificationStatus"], "success");
    assert!(attempts[0]["notificationSent"].is_string());
    assert!(attempts[0].get("tenantId").is_none());
}

#[tokio::test]
async fn a_webhook_that_fails_validation_is_not_kept() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    let receiver = Receiver::start(500).await;
    let started = start_with_webhook(&h, &token, &receiver.url, "casb-secret").await;
    assert_eq!(started.status, 400);
    assert_eq!(started.json["error"]["code"], "AF20021");
    assert!(h.sim.management_subscriptions().is_empty());
    assert_eq!(receiver.received().len(), 1);

    // An existing subscription stays unchanged when a new webhook fails validation.
    h.start_subscription(&token, "Audit.SharePoint").await;
    let again = start_with_webhook(&h, &token, &receiver.url, "casb-secret").await;
    assert_eq!(again.json["error"]["code"], "AF20021");
    let subscriptions = h.sim.management_subscriptions();
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].webhook_address, None);

    // Nothing listens here at all.
    let unreachable = start_with_webhook(&h, &token, "http://127.0.0.1:9/hook", "x").await;
    assert_eq!(unreachable.json["error"]["code"], "AF20021");
}

#[tokio::test]
async fn a_failed_notification_is_retried_until_it_gets_200() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    let receiver = Receiver::start(200).await;
    start_with_webhook(&h, &token, &receiver.url, "id").await;
    receiver.set_status(503);
    h.sim
        .publish_records("Audit.SharePoint", vec![json!({"Id": "r"})]);
    let _ = receiver.wait_for(2).await;
    receiver.set_status(200);
    let deliveries = h
        .sim
        .wait_for_management_deliveries(3, Duration::from_secs(5))
        .await;
    let notifications: Vec<_> = deliveries.iter().filter(|d| !d.validation).collect();
    assert!(notifications.len() >= 2, "{notifications:?}");
    assert_eq!(notifications[0].status, Some(503));
    assert_eq!(notifications[0].attempt, 1);
    let last = notifications.last().unwrap();
    assert!(last.succeeded(), "{notifications:?}");
    assert!(last.attempt >= 2);
}

#[tokio::test]
async fn start_without_a_webhook_removes_it_and_a_past_expiration_is_refused() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    let receiver = Receiver::start(200).await;
    start_with_webhook(&h, &token, &receiver.url, "id").await;
    let plain = h.start_subscription(&token, "Audit.SharePoint").await;
    assert!(plain.json["webhook"].is_null());
    h.sim
        .publish_records("Audit.SharePoint", vec![json!({"Id": "r"})]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1, "only the validation");

    let past = h
        .feed(
            &token,
            Method::POST,
            "subscriptions/start?contentType=Audit.SharePoint",
            Some(
                json!({"webhook": {"address": receiver.url, "expiration": "2015-01-01T00:00:00Z"}}),
            ),
        )
        .await;
    assert_eq!(past.json["error"]["code"], "AF20003");
}
