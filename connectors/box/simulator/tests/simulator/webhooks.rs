//! Webhooks v2: CRUD rules and signed deliveries to a local receiver. The verifier here is
//! written from saas-apis.md §1.3, independently of the simulator's signer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use box_simulator::{DeliveryTamper, SimConfig};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::common::Harness;

#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
struct Receiver {
    sender: mpsc::UnboundedSender<Received>,
    /// How many of the first requests answer 500 (to exercise retries).
    failures_left: Arc<Mutex<u32>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let _ = receiver.sender.send(Received { headers, body });
    let mut failures = receiver.failures_left.lock().unwrap();
    if *failures > 0 {
        *failures -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// Starts a local receiver; returns its URL and the channel of received requests.
async fn start_receiver(failures: u32) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (sender, inbox) = mpsc::unbounded_channel();
    let state = Receiver {
        sender,
        failures_left: Arc::new(Mutex::new(failures)),
    };
    let app = Router::new()
        .route("/box/webhook", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/box/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (address, inbox)
}

async fn next(inbox: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .expect("a delivery arrives")
        .expect("receiver open")
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Valid,
    Expired,
    BadSignature,
    Malformed,
}

/// Box's signatures-v2 check: timestamp within 10 minutes, and primary HMAC matches the
/// primary header or secondary HMAC matches the secondary header.
fn verify(
    headers: &HeaderMap,
    body: &[u8],
    primary_key: &str,
    secondary_key: &str,
    now: DateTime<Utc>,
) -> Verdict {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let Some(timestamp) = header("box-delivery-timestamp") else {
        return Verdict::Malformed;
    };
    let Ok(sent_at) = DateTime::parse_from_rfc3339(&timestamp) else {
        return Verdict::Malformed;
    };
    let age = now.signed_duration_since(sent_at.with_timezone(&Utc));
    if age > chrono::Duration::minutes(10) || age < chrono::Duration::minutes(-1) {
        return Verdict::Expired;
    }
    let matches = |key: &str, header_name: &str| -> bool {
        let Some(signature) = header(header_name) else {
            return false;
        };
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(body);
        mac.update(timestamp.as_bytes());
        mac.verify_slice(&signature).is_ok()
    };
    if matches(primary_key, "box-signature-primary")
        || matches(secondary_key, "box-signature-secondary")
    {
        Verdict::Valid
    } else {
        Verdict::BadSignature
    }
}

async fn watched_folder(h: &Harness, address: &str, triggers: Value) -> (String, String) {
    let folder = h.sim.create_folder(&h.admin, "0", "Watched").unwrap();
    let created = h.post("/webhooks", json!({"target": {"id": folder, "type": "folder"}, "address": address, "triggers": triggers})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    (folder, created.json["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn delivery_in_a_subfolder_is_signed_per_the_documented_algorithm() {
    let h = Harness::start().await;
    let (address, mut inbox) = start_receiver(0).await;
    let (folder, webhook_id) = watched_folder(
        &h,
        &address,
        json!(["FILE.UPLOADED", "SHARED_LINK.CREATED"]),
    )
    .await;
    let sub = h.sim.create_folder(&h.admin, &folder, "Sub").unwrap();
    let file = h
        .sim
        .upload_file(&h.admin, &sub, "inside.txt", "hello")
        .unwrap();

    let delivery = next(&mut inbox).await;
    let config = h.sim.config();
    let verify_with = |primary_key: &str, secondary_key: &str| {
        verify(
            &delivery.headers,
            &delivery.body,
            primary_key,
            secondary_key,
            Utc::now(),
        )
    };
    let (primary, secondary) = (&config.webhook_primary_key, &config.webhook_secondary_key);
    assert_eq!(verify_with(primary, secondary), Verdict::Valid);
    // Each key also verifies on its own.
    assert_eq!(verify_with(primary, "wrong"), Verdict::Valid);
    assert_eq!(verify_with("wrong", secondary), Verdict::Valid);
    assert_eq!(verify_with("wrong", "wrong"), Verdict::BadSignature);
    let header = |name: &str| {
        delivery
            .headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(header("box-signature-version"), "1");
    assert_eq!(header("box-signature-algorithm"), "HmacSHA256");
    assert!(!header("box-delivery-id").is_empty());

    let body: Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(body["type"], "webhook_event");
    assert_eq!(body["trigger"], "FILE.UPLOADED");
    assert_eq!(body["webhook"]["id"], webhook_id.as_str());
    assert_eq!(body["source"]["id"], file.as_str());
    assert_eq!(body["source"]["type"], "file");
    assert_eq!(body["source"]["path_collection"]["total_count"], 3);
    assert!(body["source"]["sha1"].is_string());
    assert_eq!(body["created_by"]["id"], h.admin.as_str());

    // A trigger the webhook does not subscribe to sends nothing; a subscribed one does.
    h.sim.edit_file(None, &file, "v2").ok();
    let _ = next(&mut inbox).await; // EDIT fires FILE.UPLOADED (new version)
    h.sim.share_file(None, &file, "open").unwrap();
    let shared = next(&mut inbox).await;
    let body: Value = serde_json::from_slice(&shared.body).unwrap();
    assert_eq!(body["trigger"], "SHARED_LINK.CREATED");
    assert_eq!(body["source"]["shared_link"]["access"], "open");

    let outside = h
        .sim
        .upload_file(&h.admin, "0", "outside.txt", "x")
        .unwrap();
    assert!(!outside.is_empty());
    let log = h
        .sim
        .wait_for_deliveries(Duration::from_secs(5), |d| d.len() >= 3)
        .await;
    assert_eq!(
        log.len(),
        3,
        "nothing is delivered for a file outside the watched folder"
    );
    assert!(log.iter().all(|d| d.succeeded()));
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_body_id() {
    let h = Harness::start().await;
    let (address, mut inbox) = start_receiver(2).await;
    let (folder, _) = watched_folder(&h, &address, json!(["FILE.UPLOADED"])).await;
    h.sim
        .upload_file(&h.admin, &folder, "retry.txt", "x")
        .unwrap();
    let attempts = [
        next(&mut inbox).await,
        next(&mut inbox).await,
        next(&mut inbox).await,
    ];
    let body_ids: Vec<String> = attempts
        .iter()
        .map(|a| {
            serde_json::from_slice::<Value>(&a.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(body_ids.iter().all(|id| *id == body_ids[0]));
    let delivery_ids: std::collections::HashSet<String> = attempts
        .iter()
        .map(|a| a.headers["box-delivery-id"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        delivery_ids.len(),
        3,
        "each attempt has its own delivery id"
    );
    let log = h
        .sim
        .wait_for_deliveries(Duration::from_secs(5), |d| d.iter().any(|x| x.succeeded()))
        .await;
    assert_eq!(
        log.iter()
            .map(|d| (d.attempt, d.status))
            .collect::<Vec<_>>(),
        vec![(1, Some(500)), (2, Some(500)), (3, Some(200))]
    );
}

#[tokio::test]
async fn replays_with_bad_signature_or_old_timestamp_fail_verification() {
    let h = Harness::start().await;
    let (address, mut inbox) = start_receiver(0).await;
    let (folder, _) = watched_folder(&h, &address, json!(["FILE.UPLOADED"])).await;
    h.sim.upload_file(&h.admin, &folder, "r.txt", "x").unwrap();
    let original = next(&mut inbox).await;
    let body_id = serde_json::from_slice::<Value>(&original.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let config = h.sim.config().clone();
    let check = |r: &Received| {
        verify(
            &r.headers,
            &r.body,
            &config.webhook_primary_key,
            &config.webhook_secondary_key,
            Utc::now(),
        )
    };

    h.sim
        .replay_webhook_event(&body_id, DeliveryTamper::None)
        .unwrap();
    let replay = next(&mut inbox).await;
    assert_eq!(check(&replay), Verdict::Valid);
    assert_eq!(
        replay.body, original.body,
        "a replay carries the same body (same id)"
    );
    assert_ne!(
        replay.headers["box-delivery-id"],
        original.headers["box-delivery-id"]
    );

    h.sim
        .replay_webhook_event(&body_id, DeliveryTamper::BadSignature)
        .unwrap();
    assert_eq!(check(&next(&mut inbox).await), Verdict::BadSignature);

    h.sim
        .replay_webhook_event(&body_id, DeliveryTamper::OldTimestamp { age_secs: 3600 })
        .unwrap();
    assert_eq!(check(&next(&mut inbox).await), Verdict::Expired);
    assert!(h
        .sim
        .replay_webhook_event("nope", DeliveryTamper::None)
        .is_err());
}

#[tokio::test]
async fn webhook_crud_and_box_rules() {
    let h = Harness::start_with(SimConfig::default()).await;
    let folder = h.sim.create_folder(&h.admin, "0", "Hooked").unwrap();
    let body = |target: &str| json!({"target": {"id": target, "type": "folder"}, "address": "https://hooks.example.com/box", "triggers": ["FILE.UPLOADED"]});

    let root = h.post("/webhooks", body("0")).await;
    assert_eq!(root.status, 400, "webhooks cannot watch the root folder");
    assert_eq!(root.json["type"], "error");

    let created = h.post("/webhooks", body(&folder)).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json["type"], "webhook");
    assert_eq!(created.json["target"]["id"], folder.as_str());
    assert_eq!(created.json["triggers"], json!(["FILE.UPLOADED"]));
    let id = created.json["id"].as_str().unwrap().to_string();

    assert_eq!(h.post("/webhooks", body(&folder)).await.status, 409);
    let plain_http = json!({"target": {"id": folder, "type": "folder"}, "address": "http://hooks.example.com/box", "triggers": ["FILE.UPLOADED"]});
    assert_eq!(h.post("/webhooks", plain_http).await.status, 400);
    let bad_trigger = json!({"target": {"id": folder, "type": "folder"}, "address": "https://x.example.com", "triggers": ["FILE.EXPLODED"]});
    assert_eq!(h.post("/webhooks", bad_trigger).await.status, 400);
    let missing = json!({"target": {"id": "987654321", "type": "folder"}, "address": "https://x.example.com", "triggers": ["FILE.UPLOADED"]});
    assert_eq!(h.post("/webhooks", missing).await.status, 404);

    assert_eq!(h.sim.webhooks().len(), 1);
    let list = h.get("/webhooks").await;
    assert_eq!(list.json["entries"].as_array().unwrap().len(), 1);
    assert_eq!(
        h.get(&format!("/webhooks/{id}")).await.json["address"],
        "https://hooks.example.com/box"
    );
    assert_eq!(h.delete(&format!("/webhooks/{id}")).await.status, 204);
    assert_eq!(h.delete(&format!("/webhooks/{id}")).await.status, 404);
    assert_eq!(h.get(&format!("/webhooks/{id}")).await.status, 404);
}

#[tokio::test]
async fn an_action_stamps_its_event_and_its_webhook_body_with_one_created_at() {
    let h = Harness::start().await;
    let (address, mut inbox) = start_receiver(0).await;
    let (folder, _) = watched_folder(
        &h,
        &address,
        json!(["FILE.UPLOADED", "SHARED_LINK.CREATED"]),
    )
    .await;
    let alice = h.sim.user_id_by_login("alice@example.com").unwrap();
    let file = h
        .sim
        .upload_file(&alice, &folder, "stamped.txt", "x")
        .unwrap();
    h.sim.share_file(Some(&h.admin), &file, "open").unwrap();

    // Deliveries run concurrently, so they are matched by trigger, not arrival order.
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let delivery = next(&mut inbox).await;
        bodies.push(serde_json::from_slice::<Value>(&delivery.body).unwrap());
    }
    let events = h.sim.events();
    for (trigger, event_type, actor) in [
        ("FILE.UPLOADED", "UPLOAD", &alice),
        ("SHARED_LINK.CREATED", "SHARE", &h.admin),
    ] {
        let body = bodies
            .iter()
            .find(|b| b["trigger"] == trigger)
            .unwrap_or_else(|| panic!("a {trigger} delivery"));
        let event = events
            .iter()
            .find(|e| e["event_type"] == event_type && e["source"]["item_id"] == file.as_str())
            .unwrap_or_else(|| panic!("a {event_type} event for the file"));
        assert_eq!(body["source"]["id"], file.as_str());
        assert_eq!(body["created_by"]["id"], actor.as_str());
        assert_eq!(event["created_by"]["id"], body["created_by"]["id"]);
        assert!(body["created_at"].is_string());
        assert_eq!(
            event["created_at"], body["created_at"],
            "{trigger}: one action, one timestamp"
        );
    }
}
