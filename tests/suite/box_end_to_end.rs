//! Box end to end: the product against the Box simulator (which follows Box's OpenAPI spec),
//! over real HTTP, on the embedded back end: connect through the OAuth redirect flow, ingest by
//! webhook and by poll, find sensitive files, remediate at "Box", and survive replays, faults and
//! a crash.

use std::sync::Arc;
use std::time::Duration;

use crate::support::action_outcome as outcome;

use crate::support::{assert_valid_ocsf, ocsf_schema};
use box_simulator::{BoxSimulator, DeliveryTamper, HttpFault, ItemKind, ItemRef, SimConfig};
use casb_connector_box::{BoxAppCredentials, BoxConfig, BoxConnector};
use casb_shared::admin_credential::{AdminCredential, ConnectLinkSigner};
use casb_shared::config::Settings;
use casb_shared::connector::{Connector as _, ConnectorRegistry};
use casb_shared::domain::{
    ActionKind, ActionStatus, Classification, Coverage, Incident, Integration,
};
use casb_shared::local::{
    connect_like_a_browser, open_connect_link_like_a_browser, LocalInstance, ServeOptions,
};
use casb_shared::pipeline::worker::WorkerOptions;
use secrecy::{ExposeSecret, SecretString};

const CARDS: &str = "name,card\nann,4111 1111 1111 1111\nbob,5555555555554444\n";
const HARMLESS: &str = "quarterly plan: grow revenue, hire two engineers\n";
const TENANT: &str = "tenant-acme";

struct World {
    sim: BoxSimulator,
    casb: Option<LocalInstance>,
    data_dir: tempfile::TempDir,
    base: String,
}

fn box_config(sim: &BoxSimulator) -> BoxConfig {
    let mut config = BoxConfig::for_local(&sim.origin(), &sim.download_base());
    config.retry.base_backoff = Duration::from_millis(50);
    config
}

async fn start_casb(sim: &BoxSimulator, data_dir: &std::path::Path) -> LocalInstance {
    let options = ServeOptions {
        data_dir: data_dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        poll_interval: Duration::from_millis(500),
        worker: WorkerOptions {
            visibility_timeout: Duration::from_secs(2),
            wait: Duration::from_millis(200),
            ..WorkerOptions::default()
        },
        ..Default::default()
    };
    let settings = Settings {
        notify_emails: vec!["secops@example.com".into()],
        ..Settings::default()
    };
    let config = box_config(sim);
    LocalInstance::start(options, settings, move |backend| {
        let mut registry = ConnectorRegistry::new();
        registry.register(Arc::new(BoxConnector::new(config, backend.secrets.clone())));
        registry
    })
    .await
    .unwrap()
}

impl World {
    async fn start() -> World {
        let sim = BoxSimulator::start(SimConfig {
            record_api_downloads: false,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let casb = start_casb(&sim, data_dir.path()).await;
        sim_credentials(&sim)
            .store(casb.core.backend.secrets.as_ref())
            .await
            .unwrap();
        let base = format!("http://{}", casb.address);
        World {
            sim,
            casb: Some(casb),
            data_dir,
            base,
        }
    }

    fn casb(&self) -> &LocalInstance {
        self.casb.as_ref().unwrap()
    }

    /// The admin token `casb serve` created in its data directory.
    async fn admin_token(&self) -> SecretString {
        self.casb().admin_token().await.unwrap()
    }

    async fn connect(&self, mode: &str, watch_folders: &str) -> Integration {
        let answer = connect_like_a_browser(
            &self.base,
            "box",
            &[
                ("tenant_id", TENANT),
                ("mode", mode),
                ("watch_folders", watch_folders),
            ],
            &self.admin_token().await,
        )
        .await
        .unwrap();
        let id = answer["integration_id"].as_str().unwrap();
        assert!(
            answer["warnings"].as_array().unwrap().is_empty(),
            "{answer}"
        );
        self.casb()
            .core
            .backend
            .integrations
            .get_integration(TENANT, id)
            .await
            .unwrap()
            .unwrap()
    }

    async fn incidents(&self) -> Vec<Incident> {
        self.casb()
            .core
            .backend
            .incidents
            .list_incidents(TENANT, None, 100)
            .await
            .unwrap()
    }

    /// A connected world (`mode`) with one file the admin uploaded into a new top-level folder:
    /// (world, admin id, folder id, file id).
    async fn with_file(
        mode: &str,
        folder: &str,
        name: &str,
        content: &str,
    ) -> (World, String, String, String) {
        let world = World::start().await;
        world.connect(mode, "").await;
        let admin = world.sim.admin_user_id();
        let folder = world.sim.create_folder(&admin, "0", folder).unwrap();
        let file = world
            .sim
            .upload_file(&admin, &folder, name, content)
            .unwrap();
        (world, admin, folder, file)
    }

    /// The admin invites `email` to a file or folder.
    fn invite(&self, kind: ItemKind, id: &str, email: &str, role: &str) {
        self.sim
            .add_collaborator(None, item_ref(kind, id), email, role)
            .unwrap();
    }

    async fn incident(&self, id: &str) -> Incident {
        self.casb()
            .core
            .backend
            .incidents
            .get_incident(TENANT, id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no incident {id}"))
    }

    /// Waits until `count` incidents exist and all their actions have a final outcome.
    async fn settled_incidents(&self, count: usize) -> Vec<Incident> {
        for _ in 0..600 {
            let incidents = self.incidents().await;
            if incidents.len() >= count
                && incidents
                    .iter()
                    .all(|i| i.actions.iter().all(|a| a.status.is_final()))
            {
                return incidents;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("incidents did not settle: {:#?}", self.incidents().await);
    }
}

/// Asserts the remediation happened at "Box": quarantined, link gone, no external collaborator.
fn assert_remediated(world: &World, file_id: &str) {
    let quarantine = world
        .sim
        .find_folder("0", "CASB Quarantine")
        .expect("the quarantine folder was created");
    let file = world.sim.file(file_id).unwrap();
    assert_eq!(file.parent_id, quarantine, "file moved to quarantine");
    assert!(
        file.shared_link.is_none(),
        "shared link removed: {:?}",
        file.shared_link
    );
    let domain = &world.sim.config().enterprise_domain;
    let external: Vec<_> = file
        .collaborations
        .iter()
        .filter(|c| !format!("{c:?}").contains(domain.as_str()))
        .collect();
    assert!(
        external.is_empty(),
        "external collaborators removed: {external:?}"
    );
}

fn sensitive_policy(incidents: &[Incident]) -> Vec<&Incident> {
    incidents
        .iter()
        .filter(|i| i.policy_id == "builtin.sensitive-file-exposed")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_path_finds_a_sensitive_public_file_and_remediates_it_once() {
    let world = World::start().await;
    let integration = world.connect("pull", "").await;
    assert!(integration.webhook_ids.is_empty());
    let admin = world.sim.admin_user_id();
    let finance = world.sim.create_folder(&admin, "0", "Finance").unwrap();
    let cards = world
        .sim
        .upload_file(&admin, &finance, "cards.csv", CARDS)
        .unwrap();
    let plan = world
        .sim
        .upload_file(&admin, &finance, "plan.txt", HARMLESS)
        .unwrap();
    // Box's streaming feed may return events twice: the duplicate must not double anything.
    world.sim.duplicate_next_events(2);
    world.sim.share_file(None, &cards, "open").unwrap();
    world.sim.share_file(None, &plan, "open").unwrap();

    let incidents = world.settled_incidents(3).await;
    let sensitive = sensitive_policy(&incidents);
    assert_eq!(sensitive.len(), 1, "{incidents:#?}");
    let incident = sensitive[0];
    assert_eq!(incident.object.object_id.as_deref(), Some(cards.as_str()));
    assert_eq!(
        incident.object.object_path.as_deref(),
        Some("/Finance/cards.csv")
    );
    assert!(
        incident
            .matches
            .iter()
            .any(|m| m.rule == "credit_card" && m.count == 2),
        "{:?}",
        incident.matches
    );
    assert_eq!(
        outcome(incident, ActionKind::Quarantine).0,
        ActionStatus::Succeeded
    );
    assert!(outcome(incident, ActionKind::Quarantine)
        .1
        .contains(&format!("original_parent={finance}")));
    assert_eq!(
        outcome(incident, ActionKind::RemoveSharedLink).0,
        ActionStatus::Succeeded
    );
    assert_eq!(
        outcome(incident, ActionKind::Notify).0,
        ActionStatus::Succeeded
    );
    assert!(
        incident.actions.iter().all(|a| a.attempts == 1),
        "each action done once: {incident:?}"
    );
    assert_remediated(&world, &cards);

    // The harmless public file is only a public-link incident; its content was clean.
    let plan_incidents: Vec<_> = incidents
        .iter()
        .filter(|i| i.object.object_id.as_deref() == Some(plan.as_str()))
        .collect();
    assert_eq!(plan_incidents.len(), 1);
    assert_eq!(plan_incidents[0].policy_id, "builtin.public-file-link");
    assert!(
        world.sim.file(&plan).unwrap().shared_link.is_none(),
        "public links are removed by the built-in policy"
    );
    assert_ne!(
        world.sim.file(&plan).unwrap().parent_id,
        world.sim.find_folder("0", "CASB Quarantine").unwrap()
    );

    // Nothing more happens on later polls, and every incident was notified exactly once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.incidents().await.len(), incidents.len());
    assert_eq!(
        world.casb().embedded.outbox.sent().await.unwrap().len(),
        incidents.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_path_remediates_an_external_share_and_a_replayed_webhook_changes_nothing() {
    let world = World::start().await;
    let admin = world.sim.admin_user_id();
    let legal = world.sim.create_folder(&admin, "0", "Legal").unwrap();
    let integration = world.connect("push", &legal).await;
    assert_eq!(
        integration.webhook_ids.len(),
        1,
        "one webhook on the watched folder"
    );

    let contract = world
        .sim
        .upload_file(
            &admin,
            &legal,
            "contract.txt",
            format!("{CARDS}ssn 123-45-6789\n"),
        )
        .unwrap();
    world.invite(
        ItemKind::File,
        &contract,
        "partner@outside.example",
        "editor",
    );

    let incidents = world.settled_incidents(1).await;
    let sensitive = sensitive_policy(&incidents);
    assert_eq!(sensitive.len(), 1, "{incidents:#?}");
    let incident = sensitive[0];
    assert_eq!(
        outcome(incident, ActionKind::RemoveExternalCollaborators).0,
        ActionStatus::Succeeded
    );
    assert!(outcome(incident, ActionKind::RemoveExternalCollaborators)
        .1
        .contains("partner@outside.example"));
    assert_remediated(&world, &contract);
    let pulled = world
        .casb()
        .core
        .backend
        .checkpoints
        .get_checkpoint(&integration.stream_key("events"))
        .await
        .unwrap();
    assert!(pulled.is_none(), "a push-only integration is not polled");

    // Box redelivers a webhook body (same id, new delivery id and timestamp): acknowledged, dropped.
    let before = world.incidents().await.len();
    let delivered = world.sim.webhook_deliveries();
    let body_id = delivered
        .iter()
        .find(|d| d.trigger == "COLLABORATION.CREATED")
        .unwrap()
        .webhook_event_id
        .clone();
    world
        .sim
        .replay_webhook_event(&body_id, DeliveryTamper::None)
        .unwrap();
    let log = world
        .sim
        .wait_for_deliveries(Duration::from_secs(10), |d| {
            d.iter().filter(|x| x.webhook_event_id == body_id).count() >= 2
        })
        .await;
    let replay = log.iter().rfind(|d| d.webhook_event_id == body_id).unwrap();
    assert_eq!(replay.status, Some(200), "{replay:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(world.incidents().await.len(), before);
    let incident = world
        .incidents()
        .await
        .into_iter()
        .find(|i| i.id == incident.id)
        .unwrap();
    assert!(
        incident.actions.iter().all(|a| a.attempts == 1),
        "{incident:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_or_an_old_timestamp_gets_401_and_queues_nothing() {
    let world = World::start().await;
    let admin = world.sim.admin_user_id();
    let folder = world.sim.create_folder(&admin, "0", "Shared").unwrap();
    world.connect("push", &folder).await;
    world
        .sim
        .upload_file(&admin, &folder, "a.txt", HARMLESS)
        .unwrap();
    let log = world
        .sim
        .wait_for_deliveries(Duration::from_secs(10), |d| {
            d.iter().any(|x| x.status == Some(200))
        })
        .await;
    let body_id = log[0].webhook_event_id.clone();
    let depth_before = world
        .casb()
        .core
        .backend
        .activity_queue
        .approximate_depth()
        .await
        .unwrap();

    for tamper in [
        DeliveryTamper::BadSignature,
        DeliveryTamper::OldTimestamp { age_secs: 3600 },
    ] {
        let count = |d: &[box_simulator::WebhookDelivery]| {
            d.iter().filter(|x| x.webhook_event_id == body_id).count()
        };
        let seen = count(&world.sim.webhook_deliveries());
        world.sim.replay_webhook_event(&body_id, tamper).unwrap();
        let log = world
            .sim
            .wait_for_deliveries(Duration::from_secs(10), |d| count(d) > seen)
            .await;
        let tampered = log
            .iter()
            .filter(|d| d.webhook_event_id == body_id)
            .nth(seen)
            .unwrap();
        assert_eq!(tampered.status, Some(401), "{tamper:?}: {tampered:?}");
    }
    // And one that is not from Box at all.
    let forged = reqwest::Client::new()
        .post(world.sim.webhooks()[0]["address"].as_str().unwrap())
        .header("box-delivery-timestamp", chrono::Utc::now().to_rfc3339())
        .header("box-signature-primary", "bm90IGEgc2lnbmF0dXJl")
        .body(r#"{"type":"webhook_event","id":"forged","trigger":"FILE.UPLOADED"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let depth_after = world
        .casb()
        .core
        .backend
        .activity_queue
        .approximate_depth()
        .await
        .unwrap();
    assert!(
        depth_after <= depth_before,
        "nothing queued: {depth_before} -> {depth_after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_or_reused_state_gets_400_and_stores_no_token() {
    let world = World::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = client
        .get(format!("{}/oauth/box/connect", world.base))
        .query(&[("tenant_id", TENANT), ("mode", "pull")])
        .bearer_auth(world.admin_token().await.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 303, "redirect to Box's consent page");
    let cookie = started.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let consent = started.headers()["location"].to_str().unwrap().to_string();
    assert!(
        consent.starts_with(&world.sim.oauth_authorize_url()),
        "{consent}"
    );
    assert!(consent.contains("code_challenge_method=S256"));
    let callback = client.get(&consent).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_string();

    let call = |url: String, cookie: Option<String>| {
        let client = client.clone();
        async move {
            let mut request = client.get(url);
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            request.send().await.unwrap()
        }
    };
    let exchanges_before = world.sim.oauth_stats().code_exchanges;
    // Forged: the state's payload altered (another tenant), signature kept.
    let url = reqwest::Url::parse(&callback).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    let (payload, signature) = state.split_once('.').unwrap();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&engine.decode(payload).unwrap()).unwrap();
    claims["tenant_id"] = "tenant-evil".into();
    let forged_state = format!(
        "{}.{signature}",
        engine.encode(serde_json::to_vec(&claims).unwrap())
    );
    let forged = format!(
        "{}/oauth/box/callback?code={code}&state={forged_state}",
        world.base
    );
    assert_eq!(call(forged, Some(cookie.clone())).await.status(), 400);
    // Right state, but not from the browser that started the flow.
    assert_eq!(call(callback.clone(), None).await.status(), 400);
    assert_eq!(
        world.sim.oauth_stats().code_exchanges,
        exchanges_before,
        "no code was exchanged"
    );

    // The genuine callback works once; replaying it is refused.
    assert_eq!(
        call(callback.clone(), Some(cookie.clone())).await.status(),
        200
    );
    let replay = call(callback, Some(cookie)).await;
    assert_eq!(replay.status(), 400);
    let body: serde_json::Value = replay.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("already used"),
        "{body}"
    );

    let integrations = all_integrations(&world).await;
    assert_eq!(integrations.len(), 1, "only the genuine callback connected");
    assert_eq!(integrations[0].tenant_id, TENANT);
    assert_eq!(world.sim.oauth_stats().code_exchanges, exchanges_before + 1);
}

/// Every integration of this instance, whichever tenant.
async fn all_integrations(world: &World) -> Vec<Integration> {
    world
        .casb()
        .core
        .backend
        .integrations
        .list_integrations_page(None, 100)
        .await
        .unwrap()
        .integrations
}

/// Status and JSON body of `request` sent to `router`, in process.
async fn send(
    router: axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> (u16, serde_json::Value) {
    use tower::ServiceExt;
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_credential_connect_and_disconnect_answer_503_and_store_nothing() {
    let world = World::start().await;
    // The routers as a deployment without a credential runs them (no CASB_ADMIN_TOKEN, no
    // secret): nothing is open by default.
    let core = world.casb().core.clone().with_admin(AdminCredential::Unset);
    let router = casb_shared::http::combined_router(core.clone());
    let request = |method: &str, uri: &str, body: &str| {
        axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", "Bearer anything")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    for request in [
        request("GET", "/oauth/box/connect?tenant_id=victim&mode=pull", ""),
        request(
            "POST",
            "/oauth/box/connect/link",
            r#"{"tenant_id": "victim"}"#,
        ),
        request(
            "POST",
            "/oauth/box/disconnect",
            r#"{"tenant_id": "victim", "integration_id": "int-1"}"#,
        ),
    ] {
        let uri = request.uri().to_string();
        let (status, body) = send(router.clone(), request).await;
        assert_eq!(status, 503, "{uri}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("CASB_ADMIN_TOKEN") && message.contains("Secrets Manager"),
            "{uri}: the answer says how to set a credential: {message}"
        );
    }
    // The same request without any header is refused the same way.
    let bare = axum::http::Request::get("/oauth/box/connect?tenant_id=victim")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(router, bare).await.0, 503);
    assert!(all_integrations(&world).await.is_empty(), "nothing stored");
    assert!(
        core.backend
            .secrets
            .get_secret("oauth/state-key")
            .await
            .unwrap()
            .is_none(),
        "not even the state key was made"
    );
    assert_eq!(world.sim.oauth_stats().authorization_codes_issued, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_admin_token_gets_401() {
    let world = World::start().await;
    let folder = world
        .sim
        .create_folder(&world.sim.admin_user_id(), "0", "Watched")
        .unwrap();
    let integration = world.connect("push", &folder).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let connect = format!("{}/oauth/box/connect?tenant_id=tenant-evil", world.base);
    let link = format!("{}/oauth/box/connect/link", world.base);
    let disconnect = format!("{}/oauth/box/disconnect", world.base);
    let body = serde_json::json!({"tenant_id": TENANT, "integration_id": integration.id});
    for (what, request) in [
        (
            "connect, wrong token",
            client.get(&connect).bearer_auth("wrong"),
        ),
        ("connect, no token", client.get(&connect)),
        (
            "connect, the token's prefix",
            client
                .get(&connect)
                .bearer_auth(&world.admin_token().await.expose_secret()[..10]),
        ),
        (
            "link, wrong token",
            client
                .post(&link)
                .bearer_auth("wrong")
                .json(&serde_json::json!({"tenant_id": "tenant-evil"})),
        ),
        ("link, no token", client.post(&link).json(&body)),
        (
            "disconnect, wrong token",
            client.post(&disconnect).bearer_auth("wrong").json(&body),
        ),
        ("disconnect, no token", client.post(&disconnect).json(&body)),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{what}");
        assert!(response.headers().get("set-cookie").is_none(), "{what}");
        let answer: serde_json::Value = response.json().await.unwrap();
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("admin bearer token"),
            "{what}: {answer}"
        );
    }
    // Nothing changed: the integration is still connected, no other tenant has one.
    let integrations = all_integrations(&world).await;
    assert_eq!(integrations.len(), 1);
    assert_eq!(
        integrations[0].status,
        casb_shared::domain::IntegrationStatus::Connected
    );
    assert_eq!(world.sim.webhooks().len(), 1, "webhook still registered");
}

/// Asks the running instance for a connect link (`POST /oauth/box/connect/link`).
async fn request_link(world: &World, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/box/connect/link", world.base))
        .bearer_auth(world.admin_token().await.expose_secret())
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_connect_link_connects_box_from_a_browser_without_a_header() {
    let world = World::start().await;
    let folder = world
        .sim
        .create_folder(&world.sim.admin_user_id(), "0", "Watched")
        .unwrap();
    let before = chrono::Utc::now();
    let (status, link) = request_link(
        &world,
        serde_json::json!({"tenant_id": TENANT, "mode": "both", "settings": {"watch_folders": folder}}),
    )
    .await;
    assert_eq!(status, 200, "{link}");
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/oauth/box/connect?", world.base)),
        "{url}"
    );
    assert!(
        !url.contains(world.admin_token().await.expose_secret()),
        "the link carries a signature, never the token"
    );
    let expires_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(link["expires_at"].clone()).unwrap();
    assert!(
        expires_at > before && expires_at <= chrono::Utc::now() + chrono::Duration::minutes(15)
    );

    // The browser opens the link: no Authorization header, then Box's consent and our callback.
    let answer = open_connect_link_like_a_browser(url).await.unwrap();
    assert_eq!(answer["status"], "connected", "{answer}");
    assert_eq!(answer["tenant_id"], TENANT);
    assert_eq!(answer["mode"], "both");
    let integrations = all_integrations(&world).await;
    assert_eq!(integrations.len(), 1);
    assert_eq!(
        integrations[0].settings["watch_folders"],
        serde_json::json!([folder])
    );
    assert_eq!(
        world.sim.webhooks().len(),
        1,
        "the watched folder's webhook"
    );
    assert_eq!(world.sim.oauth_stats().code_exchanges, 1);

    // A link that would be refused is never made.
    let (status, body) = request_link(
        &world,
        serde_json::json!({"tenant_id": TENANT, "settings": {"watch_foldrs": "1"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = request_link(
        &world,
        serde_json::json!({"tenant_id": TENANT, "expires_in": 3600}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_altered_or_outdated_connect_link_is_refused_with_401() {
    let world = World::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let open = |url: String| {
        let client = client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (
                status,
                body["message"].as_str().unwrap_or_default().to_string(),
            )
        }
    };
    let (status, link) = request_link(
        &world,
        serde_json::json!({"tenant_id": TENANT, "mode": "pull"}),
    )
    .await;
    assert_eq!(status, 200, "{link}");
    let url = link["url"].as_str().unwrap().to_string();
    assert!(url.contains(&format!("tenant_id={TENANT}")), "{url}");

    // Another tenant, another mode, or an extra setting: the signature no longer matches.
    for altered in [
        url.replace(&format!("tenant_id={TENANT}"), "tenant_id=tenant-evil"),
        url.replace("mode=pull", "mode=both"),
        format!("{url}&internal_domains=evil.example"),
    ] {
        let (status, message) = open(altered.clone()).await;
        assert_eq!(status, 401, "{altered}");
        assert!(message.contains("signature does not match"), "{message}");
    }
    // Expired: signed with the right token, but its time is past.
    let token = world.admin_token().await;
    let signer = ConnectLinkSigner::new(&token);
    let params = vec![("tenant_id".to_string(), TENANT.to_string())];
    let expired = signer.sign(
        "box",
        &params,
        chrono::Utc::now() - chrono::Duration::minutes(1),
    );
    let link_url = |query: Vec<(String, String)>| {
        reqwest::Url::parse_with_params(&format!("{}/oauth/box/connect", world.base), query)
            .unwrap()
            .to_string()
    };
    let expired = link_url(expired);
    let (status, message) = open(expired).await;
    assert_eq!(status, 401);
    assert!(message.contains("expired"), "{message}");
    // Longer than 15 minutes, even correctly signed: refused.
    let long = signer.sign(
        "box",
        &params,
        chrono::Utc::now() + chrono::Duration::hours(2),
    );
    let long = link_url(long);
    assert_eq!(open(long).await.0, 401);

    // Rotating the admin token voids the links made with the old one.
    assert_eq!(open(url.clone()).await.0, 303, "the intact link works");
    world.casb().core.admin.rotate().await.unwrap();
    let (status, message) = open(url).await;
    assert_eq!(status, 401);
    assert!(message.contains("rotated"), "{message}");

    assert!(
        all_integrations(&world).await.is_empty(),
        "nothing connected"
    );
    assert_eq!(world.sim.oauth_stats().code_exchanges, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_refreshed_once_under_concurrent_use() {
    let world = World::start().await;
    let integration = world.connect("pull", "").await;
    let core = world.casb().core.clone();
    let connector = core
        .connectors
        .get(casb_shared::domain::Provider::Box)
        .unwrap()
        .clone();
    world.sim.expire_access_tokens();
    let refreshes_before = world.sim.oauth_stats().refreshes;

    let calls = (0..8).map(|_| {
        let (core, connector, integration) = (core.clone(), connector.clone(), integration.clone());
        tokio::spawn(async move {
            let connector = connector.as_ref();
            let integration = &integration;
            core.tokens
                .with_token(connector, integration, |token| async move {
                    connector.grant_info(&token).await
                })
                .await
        })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap()
            .expect("every concurrent call succeeds with the refreshed token");
    }
    assert_eq!(
        world.sim.oauth_stats().refreshes,
        refreshes_before + 1,
        "{:?}",
        world.sim.oauth_stats()
    );
    // The rotated refresh token was stored: a later refresh still works.
    world.sim.expire_access_tokens();
    let connector = connector.as_ref();
    let integration_ref = &integration;
    core.tokens
        .with_token(connector, integration_ref, |token| async move {
            connector.grant_info(&token).await
        })
        .await
        .unwrap();
    assert_eq!(world.sim.oauth_stats().refreshes, refreshes_before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_retry_after() {
    let world = World::start().await;
    let integration = world.connect("pull", "").await;
    let admin = world.sim.admin_user_id();
    world
        .sim
        .upload_file(&admin, "0", "after-throttle.txt", HARMLESS)
        .unwrap();
    let core = world.casb().core.clone();
    let connector = core
        .connectors
        .get(casb_shared::domain::Provider::Box)
        .unwrap()
        .clone();
    let cursor = core
        .backend
        .checkpoints
        .get_checkpoint(&integration.stream_key("events"))
        .await
        .unwrap()
        .unwrap()
        .cursor;
    world
        .sim
        .inject_http_fault(HttpFault::rate_limited(1, 1).on_path("/2.0/events"));
    let started = std::time::Instant::now();
    let token = core
        .tokens
        .access_token(connector.as_ref(), &integration)
        .await
        .unwrap();
    let request = casb_shared::connector::PollRequest {
        stream: "events",
        cursor: Some(&cursor),
        redeliver: false,
        deadline: tokio::time::Instant::now() + Duration::from_secs(60),
    };
    let page = connector
        .poll(&integration, &token, &request)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited out Retry-After: 1"
    );
    assert!(
        page.activities
            .iter()
            .any(|a| a.object_name.as_deref() == Some("after-throttle.txt")),
        "{page:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_casb_serve_mid_run_loses_no_activity_and_doubles_no_action() {
    let mut world = World::start().await;
    world.connect("pull", "").await;
    let admin = world.sim.admin_user_id();
    let folder = world.sim.create_folder(&admin, "0", "Exports").unwrap();
    let mut files = Vec::new();
    for n in 0..6 {
        let file = world
            .sim
            .upload_file(&admin, &folder, &format!("export-{n}.csv"), CARDS)
            .unwrap();
        world.sim.share_file(None, &file, "open").unwrap();
        files.push(file);
    }
    // Let it get going, then kill it mid-run.
    for _ in 0..100 {
        if !world.incidents().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    world.casb.take().unwrap().kill();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let restarted = start_casb(&world.sim, world.data_dir.path()).await;
    world.casb = Some(restarted);
    let incidents = world.settled_incidents(12).await;
    assert_eq!(
        sensitive_policy(&incidents).len(),
        files.len(),
        "one sensitive-file incident per file: {incidents:#?}"
    );
    for file in &files {
        assert_remediated(&world, file);
    }
    // Each file was moved exactly once (a doubled quarantine would show a second MOVE).
    let moves = world
        .sim
        .events()
        .into_iter()
        .filter(|e| e["event_type"] == "MOVE")
        .count();
    assert_eq!(moves, files.len(), "one MOVE per file");
    let sent = world.casb().embedded.outbox.sent().await.unwrap();
    assert!(sent.len() >= incidents.len(), "every incident notified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_removes_webhooks_revokes_tokens_and_stops_polling() {
    let world = World::start().await;
    let admin = world.sim.admin_user_id();
    let folder = world.sim.create_folder(&admin, "0", "Watched").unwrap();
    let integration = world.connect("both", &folder).await;
    assert_eq!(world.sim.webhooks().len(), 1);
    let revocations = world.sim.oauth_stats().revocations;

    let response = reqwest::Client::new()
        .post(format!("{}/oauth/box/disconnect", world.base))
        .bearer_auth(world.admin_token().await.expose_secret())
        .json(&serde_json::json!({"tenant_id": TENANT, "integration_id": integration.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["warnings"].as_array().unwrap().is_empty(), "{body}");
    assert!(world.sim.webhooks().is_empty(), "webhook deregistered");
    assert!(
        world.sim.oauth_stats().revocations > revocations,
        "tokens revoked"
    );
    let stored = world
        .casb()
        .core
        .backend
        .integrations
        .get_integration(TENANT, &integration.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.status,
        casb_shared::domain::IntegrationStatus::Disconnected
    );
    assert!(
        world.casb().core.tokens.load(&stored).await.is_err(),
        "no tokens kept"
    );

    // Nothing is polled any more.
    world
        .sim
        .upload_file(&admin, &folder, "after.txt", HARMLESS)
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = world
        .casb()
        .core
        .backend
        .activities
        .query_activities(&casb_shared::ports::ActivityQuery {
            tenant_id: TENANT.into(),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        seen.iter()
            .all(|a| a.object_name.as_deref() != Some("after.txt")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_marks_the_integration_needs_reauth() {
    let world = World::start().await;
    let integration = world.connect("pull", "").await;
    let core = world.casb().core.clone();
    // The grant is revoked at Box (an admin removed the app): the refresh token dies too.
    let (tokens, _) = core.tokens.load(&integration).await.unwrap();
    let connector = core
        .connectors
        .get(casb_shared::domain::Provider::Box)
        .unwrap()
        .clone();
    connector
        .revoke(&SecretString::from(tokens.refresh_token.unwrap()))
        .await
        .unwrap();
    world.sim.expire_access_tokens();

    for _ in 0..100 {
        let current = core
            .backend
            .integrations
            .get_integration(TENANT, &integration.id)
            .await
            .unwrap()
            .unwrap();
        if current.status == casb_shared::domain::IntegrationStatus::NeedsReauth {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the poller's refresh hit invalid_grant but the integration was not marked needs-reauth"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_follow_redirects_only_to_box_hosts() {
    let sim = BoxSimulator::start(SimConfig::default()).await.unwrap();
    let admin = sim.admin_user_id();
    let token = SecretString::from(sim.issue_tokens(&admin).unwrap().access_token);
    let file = sim.upload_file(&admin, "0", "cards.csv", CARDS).unwrap();
    let integration = casb_shared::domain::Integration {
        id: "int-x".into(),
        tenant_id: TENANT.into(),
        provider: casb_shared::domain::Provider::Box,
        external_tenant_id: None,
        display_name: "x".into(),
        mode: casb_shared::domain::IngestMode::Pull,
        status: casb_shared::domain::IntegrationStatus::Connected,
        credential: Default::default(),
        webhook_ids: vec![],
        settings: serde_json::json!({}),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    let scratch = tempfile::tempdir().unwrap();
    let secrets = Arc::new(casb_shared::embedded::FileSecretStore::new(
        &scratch.path().join("s.json"),
    ));
    let allowed = BoxConnector::new(box_config(&sim), secrets.clone());
    let bytes = allowed
        .download(&integration, &token, &file, 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        bytes,
        CARDS.as_bytes(),
        "followed the 302 to the download host"
    );
    assert!(
        allowed
            .download(&integration, &token, &file, 10)
            .await
            .is_err(),
        "size cap enforced"
    );

    // The download host is not one of "Box's" hosts for this connector: refused.
    let strict = BoxConnector::new(BoxConfig::for_base(&sim.origin(), &sim.origin()), secrets);
    let refused = strict
        .download(&integration, &token, &file, 1 << 20)
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("not one of the provider's hosts"),
        "{refused}"
    );
}

/// The simulator's app credentials, as an admin would copy them from Box's Developer Console.
fn sim_credentials(sim: &BoxSimulator) -> BoxAppCredentials {
    let config = sim.config();
    BoxAppCredentials {
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.clone(),
        webhook_primary_key: Some(config.webhook_primary_key.clone()),
        webhook_secondary_key: Some(config.webhook_secondary_key.clone()),
    }
}

async fn activities(world: &World) -> Vec<casb_shared::domain::Activity> {
    crate::support::stored_activities(&world.casb().core, TENANT).await
}

/// Waits until `check` holds for the stored activities, or fails with what is stored.
async fn activities_until(
    world: &World,
    what: &str,
    check: impl Fn(&[casb_shared::domain::Activity]) -> bool,
) -> Vec<casb_shared::domain::Activity> {
    crate::support::activities_until(&world.casb().core, TENANT, what, check).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_and_a_pulled_copy_of_one_upload_are_one_activity() {
    use casb_shared::domain::IngestPath;
    let world = World::start().await;
    let admin = world.sim.admin_user_id();
    let finance = world.sim.create_folder(&admin, "0", "Finance").unwrap();
    world.connect("both", &finance).await;
    let file = world
        .sim
        .upload_file(&admin, &finance, "plan.txt", HARMLESS)
        .unwrap();
    // Box sends a webhook and writes an enterprise event for the one upload.
    let stored = activities_until(&world, "both copies of the upload merged", |all| {
        all.iter().any(|a| {
            a.object_id.as_deref() == Some(file.as_str())
                && a.paths() == vec![IngestPath::Push, IngestPath::Pull]
        })
    })
    .await;
    let uploads: Vec<_> = stored
        .iter()
        .filter(|a| a.object_id.as_deref() == Some(file.as_str()) && a.event_name == "UPLOAD")
        .collect();
    assert_eq!(
        uploads.len(),
        1,
        "one stored activity for one upload: {uploads:#?}"
    );
    let upload = uploads[0];
    // The pulled audit record completed the pushed notice: its event id and IP address.
    assert!(world
        .sim
        .events()
        .iter()
        .any(|e| e["event_id"] == upload.event_id.as_str()));
    assert!(upload.actor_ip.is_some(), "{upload:?}");
    assert_eq!(upload.object_path.as_deref(), Some("/Finance/plan.txt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_on_one_events_lookup_does_not_stop_later_events() {
    let world = World::start().await;
    let admin = world.sim.admin_user_id();
    let integration = world.connect("pull", "").await;
    let forbidden = world
        .sim
        .upload_file(&admin, "0", "forbidden.txt", HARMLESS)
        .unwrap();
    // Every lookup of that one file is refused, as Box does for an item the admin cannot see.
    world.sim.inject_http_fault(
        HttpFault::server_error(1000, 403).on_path(&format!("/2.0/files/{forbidden}")),
    );
    // And another's lookups are throttled for an hour: far past the job's budget.
    let throttled = world
        .sim
        .upload_file(&admin, "0", "throttled.txt", HARMLESS)
        .unwrap();
    world.sim.inject_http_fault(
        HttpFault::rate_limited(1000, 3600).on_path(&format!("/2.0/files/{throttled}")),
    );
    let later = world
        .sim
        .upload_file(&admin, "0", "later.txt", HARMLESS)
        .unwrap();
    let stored = activities_until(&world, "the event after the refused lookup", |all| {
        all.iter()
            .any(|a| a.object_id.as_deref() == Some(later.as_str()))
    })
    .await;
    let refused = stored
        .iter()
        .find(|a| a.object_id.as_deref() == Some(forbidden.as_str()))
        .expect("the event whose lookup was refused is still stored, with what is known");
    let reason = refused.incomplete.as_deref().expect("marked incomplete");
    assert!(reason.contains("403"), "{reason}");
    assert_eq!(refused.object_name.as_deref(), Some("forbidden.txt"));
    let waited = stored
        .iter()
        .find(|a| a.object_id.as_deref() == Some(throttled.as_str()))
        .expect("the throttled event is stored too");
    let reason = waited.incomplete.as_deref().expect("marked incomplete");
    assert!(reason.contains("time budget"), "{reason}");
    let complete = stored
        .iter()
        .find(|a| a.object_id.as_deref() == Some(later.as_str()))
        .unwrap();
    assert_eq!(complete.incomplete, None);
    assert_eq!(complete.object_path.as_deref(), Some("/later.txt"));
    let health = world
        .casb()
        .core
        .backend
        .checkpoints
        .get_checkpoint(&integration.stream_key("events"))
        .await
        .unwrap()
        .unwrap()
        .health;
    assert!(health.events_incomplete >= 2, "{health:?}");
    assert_eq!(health.last_error, None, "{health:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_is_the_same_integration_and_resumes_its_checkpoint() {
    use casb_shared::domain::IntegrationStatus;
    let world = World::start().await;
    let admin = world.sim.admin_user_id();
    let sales = world.sim.create_folder(&admin, "0", "Sales").unwrap();
    let first = world.connect("both", &sales).await;
    let before_outage = world
        .sim
        .upload_file(&admin, &sales, "before.csv", CARDS)
        .unwrap();
    world.sim.share_file(None, &before_outage, "open").unwrap();
    world.settled_incidents(2).await;
    let incidents_before = world.incidents().await.len();

    // The grant is lost (as after invalid_grant): nothing is ingested while it is down.
    let store = &world.casb().core.backend.integrations;
    let mut down = store
        .get_integration(TENANT, &first.id)
        .await
        .unwrap()
        .unwrap();
    down.status = IntegrationStatus::NeedsReauth;
    store.put_integration(&down).await.unwrap();
    let during_outage = world
        .sim
        .upload_file(&admin, "0", "during.csv", CARDS)
        .unwrap();
    world.sim.share_file(None, &during_outage, "open").unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !activities(&world)
            .await
            .iter()
            .any(|a| a.object_id.as_deref() == Some(during_outage.as_str())),
        "nothing ingested during the outage"
    );

    // The admin connects the same Box enterprise again.
    let answer = connect_like_a_browser(
        &world.base,
        "box",
        &[
            ("tenant_id", TENANT),
            ("mode", "both"),
            ("watch_folders", &sales),
        ],
        &world.admin_token().await,
    )
    .await
    .unwrap();
    assert_eq!(answer["integration_id"], first.id.as_str(), "{answer}");
    assert_eq!(answer["reconnected"], true, "{answer}");
    assert!(
        answer["warnings"].as_array().unwrap().is_empty(),
        "{answer}"
    );
    let again = store
        .get_integration(TENANT, &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.status, IntegrationStatus::Connected);
    assert_eq!(again.webhook_ids, first.webhook_ids, "the same webhooks");
    assert_eq!(world.sim.webhooks().len(), first.webhook_ids.len());
    let all = store.list_integrations(TENANT).await.unwrap();
    assert_eq!(all.len(), 1, "no second integration: {all:#?}");

    // The outage's events come in from the kept checkpoint, and nothing is doubled.
    let incidents = world.settled_incidents(incidents_before + 2).await;
    assert!(
        incidents
            .iter()
            .any(|i| i.object.object_id.as_deref() == Some(during_outage.as_str())),
        "{incidents:#?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(world.incidents().await.len(), incidents_before + 2);
    let stored = activities(&world).await;
    let mut ids: Vec<_> = stored.iter().map(|a| a.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), stored.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_page_from_box_ends_the_action_with_an_error() {
    let world = World::start().await;
    let integration = world.connect("pull", "").await;
    let admin = world.sim.admin_user_id();
    let file = world
        .sim
        .upload_file(&admin, "0", "shared.txt", HARMLESS)
        .unwrap();
    world.invite(ItemKind::File, &file, "partner@outside.example", "editor");
    world.sim.inject_endless_pages(None);
    let core = world.casb().core.clone();
    let connector = core
        .connectors
        .get(casb_shared::domain::Provider::Box)
        .unwrap()
        .clone();
    let token = core
        .tokens
        .access_token(connector.as_ref(), &integration)
        .await
        .unwrap();
    for kind in [
        ActionKind::RemoveExternalCollaborators,
        ActionKind::Quarantine,
    ] {
        let action = casb_shared::domain::ResponseAction {
            id: format!("a-{}", kind.as_str()),
            incident_id: "i-1".into(),
            tenant_id: TENANT.into(),
            integration_id: integration.id.clone(),
            provider: casb_shared::domain::Provider::Box,
            kind,
            object_id: Some(file.clone()),
            object_type: Some("file".into()),
            channel: None,
            scope: None,
        };
        let result = tokio::time::timeout(
            Duration::from_secs(60),
            connector.execute(&integration, &token, &action),
        )
        .await
        .unwrap_or_else(|_| panic!("{kind:?} never ended against an endless listing"));
        let error = result
            .expect_err("an endless listing is an error")
            .to_string();
        assert!(error.contains("same page again"), "{kind:?}: {error}");
    }
    assert!(world.sim.endless_pages_served() >= 2);
    // Nothing was removed or moved on the strength of a listing that never ended.
    let snapshot = world.sim.file(&file).unwrap();
    assert_eq!(snapshot.parent_id, "0");
    assert_eq!(snapshot.collaborations.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_delivery_replayed_to_another_integrations_url_is_refused() {
    let world = World::start().await;
    let admin = world.sim.admin_user_id();
    let folder_a = world.sim.create_folder(&admin, "0", "A").unwrap();
    let folder_b = world.sim.create_folder(&admin, "0", "B").unwrap();
    let a = world.connect("push", &folder_a).await;
    // A second tenant of this deployment watches another folder of the same Box enterprise.
    let answer = connect_like_a_browser(
        &world.base,
        "box",
        &[
            ("tenant_id", "tenant-other"),
            ("mode", "push"),
            ("watch_folders", &folder_b),
        ],
        &world.admin_token().await,
    )
    .await
    .unwrap();
    let b_id = answer["integration_id"].as_str().unwrap().to_string();
    assert_ne!(b_id, a.id);
    world
        .sim
        .upload_file(&admin, &folder_a, "a.txt", HARMLESS)
        .unwrap();
    let log = world
        .sim
        .wait_for_deliveries(Duration::from_secs(10), |d| d.iter().any(|x| x.succeeded()))
        .await;
    let delivery = log.iter().find(|d| d.succeeded()).unwrap().clone();
    let depth_before = world
        .casb()
        .core
        .backend
        .poll_queue
        .approximate_depth()
        .await
        .unwrap();

    // Replayed, validly signed and inside the window, to the other integration's URL.
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/box/tenant-other/{b_id}", world.base))
        .header("box-delivery-timestamp", &delivery.timestamp)
        .header("box-signature-primary", &delivery.signature_primary)
        .header("box-signature-secondary", &delivery.signature_secondary)
        .body(delivery.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "{}", response.text().await.unwrap());
    assert_eq!(
        world
            .casb()
            .core
            .backend
            .poll_queue
            .approximate_depth()
            .await
            .unwrap(),
        depth_before,
        "nothing queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_refreshing_one_integration_against_a_slow_token_endpoint_both_succeed() {
    use casb_shared::connector::tokens::{RefreshOptions, TokenManager};
    use casb_shared::domain::IntegrationStatus;
    let world = World::start().await;
    let integration = world.connect("pull", "").await;
    // A lease shorter than one refresh takes: only renewing it keeps the second process out.
    let options = RefreshOptions {
        lease: Duration::from_millis(600),
        max_wait: Duration::from_secs(30),
    };
    let mut first = world.casb().core.clone();
    first.tokens = TokenManager::with_options(first.backend.clone(), options.clone());
    // The second process: its own connection to the same database and secret file, its own
    // in-process locks.
    let second_backend =
        casb_shared::backend::EmbeddedBackend::open(world.data_dir.path()).unwrap();
    let config = box_config(&world.sim);
    let mut registry = ConnectorRegistry::new();
    registry.register(Arc::new(BoxConnector::new(
        config,
        second_backend.backend.secrets.clone(),
    )));
    let mut second = casb_shared::Core::new(
        second_backend.backend.clone(),
        Settings::default(),
        registry,
    )
    .unwrap();
    second.tokens = TokenManager::with_options(second.backend.clone(), options);

    world.sim.expire_access_tokens();
    world.sim.set_token_delay(Duration::from_secs(2));
    let before = world.sim.oauth_stats();
    let call = |core: casb_shared::Core, integration: Integration| {
        tokio::spawn(async move {
            let connector = core
                .connectors
                .get(casb_shared::domain::Provider::Box)
                .unwrap()
                .clone();
            let connector = connector.as_ref();
            let integration = &integration;
            core.tokens
                .with_token(connector, integration, |token| async move {
                    connector.grant_info(&token).await
                })
                .await
        })
    };
    let (a, b) = tokio::join!(
        call(first, integration.clone()),
        call(second, integration.clone())
    );
    a.unwrap()
        .expect("the first process ends with a valid token");
    b.unwrap()
        .expect("the second process ends with a valid token");
    world.sim.set_token_delay(Duration::ZERO);
    let after = world.sim.oauth_stats();
    assert_eq!(
        after.refresh_attempts - before.refresh_attempts,
        1,
        "{after:?}"
    );
    assert_eq!(
        after.refresh_invalid_grants, before.refresh_invalid_grants,
        "{after:?}"
    );
    let stored = world
        .casb()
        .core
        .backend
        .integrations
        .get_integration(TENANT, &integration.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, IntegrationStatus::Connected);
    // The stored pair is the valid one: a later refresh from it works.
    world.sim.expire_access_tokens();
    let core = world.casb().core.clone();
    let connector = core
        .connectors
        .get(casb_shared::domain::Provider::Box)
        .unwrap()
        .clone();
    core.tokens
        .access_token(connector.as_ref(), &integration)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connect_flow_refuses_settings_the_connector_does_not_declare() {
    let world = World::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = world.admin_token().await;
    let connect = |query: &'static str| {
        let client = client.clone();
        let url = format!("{}/oauth/box/connect?{query}", world.base);
        let token = token.clone();
        async move {
            let response = client
                .get(url)
                .bearer_auth(token.expose_secret())
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    // A misspelt setting is named, with the ones Box takes.
    let (status, body) = connect("tenant_id=t1&watch_foldrs=123").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("watch_foldrs") && body.contains("watch_folders"),
        "{body}"
    );
    let (status, body) = connect("tenant_id=t1&mode=sideways").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = connect("watch_folders=123").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("tenant_id"), "{body}");
    // Tenant ids that would break the webhook address or the keys are refused up front.
    let (status, body) = connect("tenant_id=a%2Fb&watch_folders=123").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not valid"), "{body}");
    let long = format!("tenant_id={}", "a".repeat(10_000));
    let response = client
        .get(format!("{}/oauth/box/connect?{long}", world.base))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Declared settings go through to the consent page.
    let (status, _) = connect("tenant_id=t1&watch_folders=123&internal_domains=example.com").await;
    assert_eq!(status, 303);
    assert_eq!(
        world.sim.oauth_stats().code_exchanges,
        0,
        "nothing exchanged yet"
    );
}

fn item_ref(kind: ItemKind, id: &str) -> ItemRef {
    ItemRef {
        kind,
        id: id.to_string(),
    }
}

/// Waits until the file's current version has a stored classification.
async fn classification_of(world: &World, file_id: &str) -> Classification {
    let key = format!("sha1:{}", world.sim.file(file_id).unwrap().sha1);
    for _ in 0..600 {
        if let Some(found) = world
            .casb()
            .core
            .backend
            .classifications
            .get_classification(TENANT, &key)
            .await
            .unwrap()
        {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("file {file_id} (version {key}) was never classified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_unshared_is_classified_once_and_a_later_share_is_judged_without_a_second_download(
) {
    let (world, admin, _finance, cards) =
        World::with_file("pull", "Finance", "cards.csv", HARMLESS).await;

    // Uploaded and never shared: inspected anyway, and nothing is an incident.
    let clean = classification_of(&world, &cards).await;
    assert!(clean.detectors.is_empty(), "{clean:?}");
    assert_eq!(clean.coverage, Coverage::Complete);
    assert_eq!(world.sim.downloads_served(&cards), 1);

    // A new version is a new classification, downloaded and scanned once more.
    world.sim.edit_file(None, &cards, CARDS).unwrap();
    let sensitive = classification_of(&world, &cards).await;
    assert!(
        sensitive
            .detectors
            .iter()
            .any(|d| d.detector == "credit_card" && d.total() == 2),
        "{sensitive:?}"
    );
    assert_eq!(world.sim.downloads_served(&cards), 2);
    assert!(
        world.incidents().await.is_empty(),
        "unshared is no incident"
    );

    // Shared later: judged on the stored classification, without downloading it again.
    world.sim.share_file(None, &cards, "open").unwrap();
    let incidents = world.settled_incidents(2).await;
    let sensitive_incidents = sensitive_policy(&incidents);
    assert_eq!(sensitive_incidents.len(), 1, "{incidents:#?}");
    assert!(sensitive_incidents[0]
        .matches
        .iter()
        .any(|m| m.rule == "credit_card" && m.count == 2));
    assert_eq!(
        sensitive_incidents[0].policy_version, 0,
        "the default set fired"
    );
    // The owner channel writes to the file's owner, whoever shared it.
    let owner = world
        .sim
        .users()
        .into_iter()
        .find(|u| u.id == admin)
        .unwrap();
    assert_eq!(
        sensitive_incidents[0].owner_email.as_deref(),
        Some(owner.login.to_ascii_lowercase().as_str())
    );
    assert_eq!(
        world.sim.downloads_served(&cards),
        2,
        "the share was judged without a second download of the same version"
    );
    assert_remediated(&world, &cards);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_exposure_after_remediation_raises_the_incident_again_and_acts_again() {
    let (world, _admin, legal, contract) =
        World::with_file("pull", "Legal", "contract.txt", CARDS).await;
    let file = || item_ref(ItemKind::File, &contract);
    world
        .sim
        .add_collaborator(None, file(), "partner@outside.example", "editor")
        .unwrap();
    let first = world.settled_incidents(2).await;
    let incident = sensitive_policy(&first)[0].clone();
    assert_eq!(incident.reopened, 0);
    assert_remediated(&world, &contract);

    // The owner puts the file back and invites the same partner again, a while later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    world.sim.move_file(None, &contract, &legal).unwrap();
    world
        .sim
        .add_collaborator(None, file(), "partner@outside.example", "editor")
        .unwrap();
    let mut raised = None;
    for _ in 0..600 {
        let current = world.incident(&incident.id).await;
        if current.reopened == 1 && current.actions.iter().all(|a| a.status.is_final()) {
            raised = Some(current);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let raised = raised.unwrap_or_else(|| panic!("not raised again: {:#?}", first));
    assert_eq!(raised.activity_ids.len(), 2, "{raised:?}");
    assert_eq!(
        outcome(&raised, ActionKind::Quarantine).0,
        ActionStatus::Succeeded
    );
    assert_remediated(&world, &contract);
    // Each action ran once per exposure; redeliveries of either exposure change nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled = world.incident(&incident.id).await;
    assert_eq!(settled.reopened, 1);
    assert!(
        settled.actions.iter().all(|a| a.attempts == 1),
        "{settled:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_act_only_where_the_policy_says_are_recorded_and_restore_puts_them_back() {
    let (world, _admin, legal, contract) =
        World::with_file("pull", "Legal", "contract.txt", CARDS).await;
    // The partner works in the whole Legal folder, and was also given the file itself.
    world.invite(
        ItemKind::Folder,
        &legal,
        "partner@outside.example",
        "viewer",
    );
    world.invite(
        ItemKind::File,
        &contract,
        "auditor@outside.example",
        "editor",
    );
    let incidents = world.settled_incidents(3).await;
    let incident = sensitive_policy(&incidents)[0].clone();
    assert_remediated(&world, &contract);
    // The default policy removes collaborators from the file only (after moving it out of
    // the shared folder): the partner keeps the Legal folder.
    assert_eq!(
        world.sim.folder_collaborators(&legal),
        ["partner@outside.example"]
    );
    let removal = incident
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::RemoveExternalCollaborators)
        .unwrap();
    let undo = removal.undo.as_ref().expect("the removal is recorded");
    assert_eq!(
        undo["collaborations"][0]["login"], "auditor@outside.example",
        "{undo}"
    );
    assert_eq!(undo["collaborations"][0]["role"], "editor", "{undo}");

    // The analyst decides it was legitimate: restore puts the file and the auditor back.
    let core = &world.casb().core;
    let restored = casb_shared::pipeline::remediator::restore(core, TENANT, &incident.id)
        .await
        .unwrap();
    let kinds: Vec<ActionKind> = restored.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            ActionKind::RemoveExternalCollaborators,
            ActionKind::Quarantine
        ],
        "newest first: {restored:?}"
    );
    assert!(restored.iter().all(|r| r.status == ActionStatus::Restored));
    let file = world.sim.file(&contract).unwrap();
    assert_eq!(file.parent_id, legal, "moved back");
    assert_eq!(file.name, "contract.txt");
    let auditor: Vec<_> = file
        .collaborations
        .iter()
        .filter(|c| c.login == "auditor@outside.example")
        .collect();
    assert_eq!(auditor.len(), 1, "{:?}", file.collaborations);
    assert_eq!(auditor[0].role, "editor");
    let after = world.incident(&incident.id).await;
    assert_eq!(
        outcome(&after, ActionKind::Quarantine).0,
        ActionStatus::Restored
    );
    // Restoring again finds nothing left to undo.
    assert!(
        casb_shared::pipeline::remediator::restore(core, TENANT, &incident.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_activity_and_incident_maps_to_valid_ocsf_1_5_0() {
    let (world, admin, finance, cards) =
        World::with_file("both", "Finance", "cards.csv", CARDS).await;
    let plan = world
        .sim
        .upload_file(&admin, &finance, "plan.txt", HARMLESS)
        .unwrap();
    world
        .sim
        .edit_file(None, &plan, "v2 of the plan\n")
        .unwrap();
    world
        .sim
        .access_file(&admin, &plan, box_simulator::FileAccess::Preview)
        .unwrap();
    world.sim.record_login(&admin, false).unwrap();
    world.sim.record_login(&admin, true).unwrap();
    world.invite(ItemKind::File, &plan, "partner@outside.example", "viewer");
    world.sim.share_file(None, &cards, "open").unwrap();
    let incidents = world.settled_incidents(3).await;
    let activities = activities_until(&world, "logins and the quarantine move", |a| {
        a.iter().any(|x| x.event_name == "FAILED_LOGIN")
            && a.iter().any(|x| x.event_name == "LOGIN")
            && a.iter().any(|x| x.event_name.contains("MOVE"))
    })
    .await;

    let mut classes = std::collections::BTreeMap::<u64, usize>::new();
    let options = casb_shared::ocsf::Options { raw_data: true };
    for activity in &activities {
        let record = casb_shared::ocsf::activity(activity, options);
        if !assert_valid_ocsf(&record) {
            return;
        }
        assert_eq!(record["metadata"]["uid"], activity.id());
        assert_eq!(
            record["time"].as_i64(),
            Some(activity.event_timestamp.timestamp_millis())
        );
        *classes
            .entry(record["class_uid"].as_u64().unwrap())
            .or_default() += 1;
        if activity.event_name == "UPLOAD" {
            assert_eq!(
                (record["class_uid"].as_u64(), record["activity_id"].as_u64()),
                (Some(6006), Some(1))
            );
        }
        if activity.event_name == "FAILED_LOGIN" {
            assert_eq!(
                (record["class_uid"].as_u64(), record["status_id"].as_u64()),
                (Some(3002), Some(2))
            );
        }
    }
    assert!(
        classes.contains_key(&6006) && classes.contains_key(&3002),
        "{classes:?}"
    );
    // An administration event about no file is API Activity, named by the provider's operation.
    let mut admin_event = activities
        .iter()
        .find(|a| a.event_name == "LOGIN")
        .unwrap()
        .clone();
    admin_event.event_name = "ADD_LOGIN_ACTIVITY_DEVICE".into();
    admin_event.event_type = casb_shared::domain::EventType::Administration;
    admin_event.actor_ip = None;
    let record = casb_shared::ocsf::activity(&admin_event, options);
    assert!(assert_valid_ocsf(&record));
    assert_eq!(record["class_uid"], 6003);
    assert_eq!(record["api"]["operation"], "ADD_LOGIN_ACTIVITY_DEVICE");
    // The check is real: a file record without its file is refused.
    let upload = activities
        .iter()
        .find(|a| a.event_name == "UPLOAD")
        .unwrap();
    let mut broken = casb_shared::ocsf::activity(upload, options);
    broken.as_object_mut().unwrap().remove("file");
    assert!(!ocsf_schema(6006).unwrap().is_valid(&broken));
    for incident in &incidents {
        let record = casb_shared::ocsf::incident(incident);
        assert!(assert_valid_ocsf(&record));
        assert_eq!(record["class_uid"], 2006);
        assert_eq!(record["finding_info"]["uid"], incident.id.as_str());
    }
    let sensitive = sensitive_policy(&incidents)[0];
    // Its response actions at the provider are File Remediation Activity; the e-mail is not.
    let remediations: Vec<serde_json::Value> = sensitive
        .actions
        .iter()
        .filter_map(|a| casb_shared::ocsf::response_action(sensitive, a))
        .collect();
    assert_eq!(remediations.len(), 3, "{remediations:#?}");
    for record in &remediations {
        assert!(assert_valid_ocsf(record));
        assert_eq!(record["status_id"], 1);
    }
    assert_eq!(remediations[0]["activity_name"], "Isolate");
    assert!(remediations.iter().all(|r| r["class_uid"] == 7002));
    // The same action on something that is not a file (a mail message) is Remediation Activity.
    let mut on_mail = sensitive.clone();
    on_mail.object.object_type = Some("email".into());
    let record = casb_shared::ocsf::response_action(&on_mail, &on_mail.actions[0]).unwrap();
    assert_eq!(record["class_uid"], 7001);
    assert!(record.get("file").is_none());
    assert!(assert_valid_ocsf(&record));
    let record = casb_shared::ocsf::incident(sensitive);
    assert_eq!(record["severity_id"], 4, "high");
    assert!(record["data_security"]["discovery_details"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["type"] == "credit_card" && d["count"] == 2));
}

/// Box's admin events about accounts and groups are Account Change (3001) and Group Management
/// (3006), not generic API activity, each valid against its schema.
#[test]
fn box_account_and_group_events_map_to_their_ocsf_classes() {
    let integration = crate::support::integration("tenant-a", "int-1");
    let admin = serde_json::json!({"type": "user", "id": "11446498", "name": "Aaron Levie", "login": "ceo@example.com"});
    let bob =
        serde_json::json!({"type": "user", "id": "7", "name": "Bob", "login": "bob@example.com"});
    let cases = [
        ("NEW_USER", bob.clone(), serde_json::Value::Null, 3001, 1),
        ("DELETE_USER", bob.clone(), serde_json::Value::Null, 3001, 6),
        (
            "CHANGE_ADMIN_ROLE",
            bob.clone(),
            serde_json::Value::Null,
            3001,
            99,
        ),
        (
            "ENABLE_TWO_FACTOR_AUTH",
            bob.clone(),
            serde_json::Value::Null,
            3001,
            10,
        ),
        (
            "GROUP_ADD_USER",
            bob.clone(),
            serde_json::json!({"group_id": "g-42", "group_name": "Finance"}),
            3006,
            3,
        ),
        (
            "GROUP_REMOVE_USER",
            bob.clone(),
            serde_json::json!({"group_id": "g-42", "group_name": "Finance"}),
            3006,
            4,
        ),
    ];
    for (n, (event_type, source, details, class, activity_id)) in cases.into_iter().enumerate() {
        let event = serde_json::json!({
            "type": "event", "event_id": format!("adm-{n}"), "event_type": event_type,
            "created_at": "2026-11-24T10:00:00-08:00", "ip_address": "198.51.100.7",
            "created_by": admin, "source": source, "additional_details": details,
        });
        let activity = casb_connector_box::events::map_event(&integration, &event).unwrap();
        let record = casb_shared::ocsf::activity(&activity, casb_shared::ocsf::Options::default());
        assert_eq!(
            (record["class_uid"].as_u64(), record["activity_id"].as_u64()),
            (Some(class), Some(activity_id)),
            "{event_type}: {record}"
        );
        assert!(assert_valid_ocsf(&record) || std::env::var("CI").is_err());
        assert_eq!(
            record["actor"]["user"]["email_addr"], "ceo@example.com",
            "{event_type}: the admin acted"
        );
        if class == 3001 {
            assert_eq!(
                record["user"]["email_addr"], "bob@example.com",
                "{event_type}: Bob's account changed"
            );
        } else {
            assert_eq!(record["group"]["name"], "Finance");
            assert_eq!(record["user"]["email_addr"], "bob@example.com");
        }
    }
}

/// Block lists edited through the REST API are applied by the inspector: a file whose SHA-1 or
/// SHA-256 is listed is quarantined with an incident, a file holding a listed URL is an
/// incident, and an unlisted file is neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_on_the_block_lists_are_quarantined_and_listed_urls_are_found() {
    use sha2::Digest;
    let world = World::start().await;
    world.connect("pull", "").await;
    let issued = casb_shared::access::issue_api_key(TENANT, "soc", chrono::Utc::now(), None);
    world
        .casb()
        .core
        .backend
        .access
        .create_credential(&issued.credential)
        .await
        .unwrap();
    let malware = "MZ not really a program, but the SOC says it is\n";
    let dropper = "another sample the SOC has seen\n";
    let phishing =
        "Please confirm your payroll details at https://payroll-update.example/login?id=7.\n";
    let client = reqwest::Client::new();
    for (list, value) in [
        (
            "sha256",
            hex::encode(sha2::Sha256::digest(malware.as_bytes())).to_uppercase(),
        ),
        ("sha1", hex::encode(sha1_of(dropper))),
        (
            "urls",
            "https://Payroll-Update.example/login?id=7".to_string(),
        ),
    ] {
        let reply = client
            .post(format!("{}/api/v1/blocklists/{list}", world.base))
            .bearer_auth(&issued.secret)
            .json(&serde_json::json!({"value": value, "comment": "SOC case 42"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());
    }
    let admin = world.sim.admin_user_id();
    let folder = world.sim.create_folder(&admin, "0", "Shared").unwrap();
    let by_hash = world
        .sim
        .upload_file(&admin, &folder, "tool.exe", malware)
        .unwrap();
    let by_sha1 = world
        .sim
        .upload_file(&admin, &folder, "setup.bin", dropper)
        .unwrap();
    let with_url = world
        .sim
        .upload_file(&admin, &folder, "payroll.txt", phishing)
        .unwrap();
    let clean = world
        .sim
        .upload_file(&admin, &folder, "plan.txt", HARMLESS)
        .unwrap();

    let incidents = world.settled_incidents(3).await;
    let about = |policy: &str| -> Vec<String> {
        let mut files: Vec<String> = incidents
            .iter()
            .filter(|i| i.policy_id == policy)
            .filter_map(|i| i.object.object_id.clone())
            .collect();
        files.sort();
        files
    };
    let mut hashed = vec![by_hash.clone(), by_sha1.clone()];
    hashed.sort();
    assert_eq!(about("builtin.blocked-file"), hashed, "{incidents:#?}");
    assert_eq!(about("builtin.blocked-url"), vec![with_url.clone()]);
    assert_eq!(
        incidents.len(),
        3,
        "the clean file is no incident: {incidents:#?}"
    );
    let blocked = incidents
        .iter()
        .find(|i| i.object.object_id.as_deref() == Some(by_hash.as_str()))
        .unwrap();
    assert_eq!(
        outcome(blocked, ActionKind::Quarantine).0,
        ActionStatus::Succeeded
    );
    assert!(blocked
        .matches
        .iter()
        .any(|m| m.rule == "blocked_sha256" && m.count == 1));
    let quarantine = world.sim.find_folder("0", "CASB Quarantine").unwrap();
    assert_eq!(world.sim.file(&by_hash).unwrap().parent_id, quarantine);
    assert_eq!(world.sim.file(&by_sha1).unwrap().parent_id, quarantine);
    assert_eq!(
        world.sim.file(&with_url).unwrap().parent_id,
        folder,
        "a URL is reported, not quarantined"
    );
    assert_eq!(world.sim.file(&clean).unwrap().parent_id, folder);
    let stored = classification_of(&world, &with_url).await;
    assert_eq!(
        stored.urls,
        vec!["https://payroll-update.example/login?id=7".to_string()]
    );
    assert_eq!(
        stored.sha256.as_deref(),
        Some(hex::encode(sha2::Sha256::digest(phishing.as_bytes())).as_str())
    );
}

fn sha1_of(text: &str) -> Vec<u8> {
    use sha1::Digest;
    sha1::Sha1::digest(text.as_bytes()).to_vec()
}

/// Mitigation through the REST API: a file quarantined and an account suspended at "Box" by
/// the remediator, read back by batch id; a sign-out Box has no API for is recorded as
/// unsupported, and another tenant cannot read the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mitigation_quarantines_a_file_and_suspends_an_account_and_the_batch_reports_it() {
    let (world, _admin, folder, file) =
        World::with_file("pull", "Finance", "ledger.csv", HARMLESS).await;
    let integration = all_integrations(&world).await.remove(0);
    let core = &world.casb().core;
    let mut keys = Vec::new();
    for tenant in [TENANT, "tenant-other"] {
        let issued = casb_shared::access::issue_api_key(tenant, "soc", chrono::Utc::now(), None);
        core.backend
            .access
            .create_credential(&issued.credential)
            .await
            .unwrap();
        keys.push(issued.secret);
    }
    let bob = world
        .sim
        .user_id_by_login(&format!("bob@{}", world.sim.config().enterprise_domain))
        .unwrap();
    let client = reqwest::Client::new();
    let request = serde_json::json!({
        "integration_id": integration.id,
        "comment": "case 7: exfiltration by a compromised account",
        "targets": [
            {"type": "file", "id": file, "name": "ledger.csv", "actions": ["quarantine"]},
            {"type": "user", "id": bob, "actions": ["suspend_user", "sign_out_user"]},
        ]
    });
    let reply = client
        .post(format!("{}/api/v1/mitigations", world.base))
        .bearer_auth(&keys[0])
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);
    let queued: serde_json::Value = reply.json().await.unwrap();
    let batch = queued["batch_id"].as_str().unwrap().to_string();
    assert_eq!(queued["done"], false);

    let mut outcome = serde_json::Value::Null;
    for _ in 0..300 {
        outcome = client
            .get(format!("{}/api/v1/mitigations/{batch}", world.base))
            .bearer_auth(&keys[0])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if outcome["done"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(outcome["done"], true, "{outcome:#}");
    let quarantine = world.sim.find_folder("0", "CASB Quarantine").unwrap();
    assert_eq!(world.sim.file(&file).unwrap().parent_id, quarantine);
    assert_ne!(quarantine, folder);
    let suspended = world.sim.users().into_iter().find(|u| u.id == bob).unwrap();
    assert_eq!(suspended.status, "inactive");
    let actions = &outcome["targets"][1]["actions"];
    let status_of = |kind: &str| {
        actions
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == kind)
            .map(|a| {
                (
                    a["status"].as_str().unwrap().to_string(),
                    a["detail"].as_str().unwrap_or("").to_string(),
                )
            })
            .unwrap()
    };
    assert_eq!(status_of("suspend_user").0, "succeeded");
    let (status, detail) = status_of("sign_out_user");
    assert_eq!(status, "unsupported");
    assert!(detail.contains("no API"), "{detail}");
    assert_eq!(
        outcome["targets"][0]["history"][0]["comment"],
        "case 7: exfiltration by a compromised account"
    );

    let other = client
        .get(format!("{}/api/v1/mitigations/{batch}", world.base))
        .bearer_auth(&keys[1])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let mismatched = client
        .post(format!("{}/api/v1/mitigations", world.base))
        .bearer_auth(&keys[0])
        .json(&serde_json::json!({
            "integration_id": integration.id, "comment": "x",
            "targets": [{"type": "user", "id": bob, "actions": ["quarantine"]}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(mismatched.status(), 400);
    let foreign = client
        .post(format!("{}/api/v1/mitigations", world.base))
        .bearer_auth(&keys[1])
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404, "another tenant's integration");
}
