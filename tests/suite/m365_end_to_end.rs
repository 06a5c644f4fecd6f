//! Microsoft 365 end to end: the product against the Microsoft 365 simulator, over real HTTP, on
//! the embedded back end: admin consent to connected, the Office 365 Management Activity API
//! pulled and pushed, late and repeated content ingested once, throttling and expired tokens
//! survived, and disconnect leaving no subscription behind.

use std::sync::Arc;
use std::time::Duration;

use crate::support::action_outcome as outcome;

use casb_connector_m365::{M365AppCredentials, M365Config, M365Connector};
use casb_shared::config::Settings;
use casb_shared::connector::ConnectorRegistry;
use casb_shared::domain::{
    ActionKind, ActionStatus, Activity, EventType, Incident, IngestPath, Integration,
    LinkVisibility, UserType,
};
use casb_shared::local::{connect_like_a_browser, LocalInstance, ServeOptions};
use casb_shared::pipeline::worker::WorkerOptions;
use m365_simulator::{HttpFault, Listener, M365Simulator, Resource, SimConfig};
use secrecy::{ExposeSecret, SecretString};

const TENANT: &str = "tenant-contoso";
const PUBLISHER: &str = "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6";
const CARDS: &str = "name,card\nann,4111 1111 1111 1111\nbob,5555555555554444\n";
const ALICE: &str = "alice@contoso.onmicrosoft.com";
const SITE: &str = "https://contoso-my.sharepoint.com/personal/alice_contoso_onmicrosoft_com";

struct World {
    sim: M365Simulator,
    casb: LocalInstance,
    _data_dir: tempfile::TempDir,
    base: String,
}

impl World {
    async fn start() -> World {
        World::start_with(SimConfig::default(), |_| {}, |_| {}).await
    }

    /// A world whose simulator has `sim_config` (the administrator not consented yet: the
    /// connect flow does it) and whose stored app credentials `credentials` may change.
    async fn start_with(
        sim_config: SimConfig,
        credentials: impl FnOnce(&mut M365AppCredentials),
        configure: impl FnOnce(&mut M365Config),
    ) -> World {
        let sim = M365Simulator::start(SimConfig {
            admin_consent_granted: false,
            ..sim_config
        })
        .await
        .unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let options = ServeOptions {
            data_dir: data_dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            poll_interval: Duration::from_millis(300),
            worker: WorkerOptions {
                visibility_timeout: Duration::from_secs(2),
                wait: Duration::from_millis(200),
                ..WorkerOptions::default()
            },
            ..Default::default()
        };
        let mut config = M365Config::for_local(
            &sim.login_base(),
            &sim.manage_base(),
            &sim.graph_base(),
            &sim.download_base(),
        );
        config.retry.base_backoff = Duration::from_millis(50);
        configure(&mut config);
        let casb = LocalInstance::start(options, Settings::default(), move |backend| {
            let mut registry = ConnectorRegistry::new();
            registry.register(Arc::new(M365Connector::new(
                config,
                backend.secrets.clone(),
            )));
            registry
        })
        .await
        .unwrap();
        let sim_config = sim.config();
        let mut app = M365AppCredentials {
            client_id: sim_config.client_id.clone(),
            client_secret: Some(sim_config.client_secret.clone()),
            certificate_private_key: None,
            certificate_thumbprint: None,
            publisher_tenant_id: PUBLISHER.into(),
            webhook_key: Some("a webhook key nobody else knows".into()),
        };
        credentials(&mut app);
        app.store(casb.core.backend.secrets.as_ref()).await.unwrap();
        let base = format!("http://{}", casb.address);
        World {
            sim,
            casb,
            _data_dir: data_dir,
            base,
        }
    }

    async fn admin_token(&self) -> SecretString {
        self.casb.admin_token().await.unwrap()
    }

    async fn connect(&self, mode: &str) -> Result<Integration, String> {
        let answer = connect_like_a_browser(
            &self.base,
            "microsoft365",
            &[("tenant_id", TENANT), ("mode", mode)],
            &self.admin_token().await,
        )
        .await?;
        assert!(
            answer["warnings"].as_array().unwrap().is_empty(),
            "{answer}"
        );
        let id = answer["integration_id"].as_str().unwrap();
        Ok(self
            .casb
            .core
            .backend
            .integrations
            .get_integration(TENANT, id)
            .await
            .unwrap()
            .unwrap())
    }

    /// Disconnects through the API; it must succeed without warnings.
    async fn disconnect(&self, integration: &Integration) {
        let response = reqwest::Client::new()
            .post(format!("{}/oauth/microsoft365/disconnect", self.base))
            .bearer_auth(self.admin_token().await.expose_secret())
            .json(&serde_json::json!({"tenant_id": TENANT, "integration_id": integration.id}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["warnings"].as_array().unwrap().is_empty(), "{body}");
    }

    async fn activities(&self) -> Vec<Activity> {
        crate::support::stored_activities(&self.casb.core, TENANT).await
    }

    /// Waits until `check` holds for the stored activities, or fails showing them.
    async fn activities_until(
        &self,
        what: &str,
        check: impl Fn(&[Activity]) -> bool,
    ) -> Vec<Activity> {
        crate::support::activities_until(&self.casb.core, TENANT, what, check).await
    }

    async fn incidents(&self) -> Vec<Incident> {
        self.casb
            .core
            .backend
            .incidents
            .list_incidents(TENANT, None, 100)
            .await
            .unwrap()
    }

    /// Waits until an incident of `policy` exists and every incident's actions are final.
    async fn settled_incident(&self, policy: &str) -> Incident {
        for _ in 0..600 {
            let incidents = self.incidents().await;
            let settled = incidents
                .iter()
                .all(|i| i.actions.iter().all(|a| a.status.is_final()));
            if let Some(found) = incidents.iter().find(|i| i.policy_id == policy) {
                if settled {
                    return found.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no settled {policy} incident: {:#?}",
            self.incidents().await
        );
    }

    fn upload_record(&self, file: &str) -> serde_json::Value {
        self.sim.file_record(
            "FileUploaded",
            "alice@contoso.onmicrosoft.com",
            SITE,
            "Documents",
            file,
        )
    }
}

fn with_id<'a>(activities: &'a [Activity], record: &serde_json::Value) -> Vec<&'a Activity> {
    let id = record["Id"].as_str().unwrap();
    activities.iter().filter(|a| a.event_id == id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_consent_connects_and_every_record_is_ingested_once_even_late_or_repeated() {
    let world = World::start().await;
    let integration = world.connect("pull").await.unwrap();
    assert_eq!(
        integration.external_tenant_id.as_deref(),
        Some(world.sim.config().tenant_id.as_str())
    );
    assert!(
        integration.display_name.contains("Contoso"),
        "{}",
        integration.display_name
    );
    assert!(
        world.sim.admin_consent_granted(),
        "the consent went through Microsoft"
    );
    // Pull only: each content type's subscription is started without a webhook.
    let mut started: Vec<_> = world
        .sim
        .management_subscriptions()
        .into_iter()
        .map(|s| (s.content_type, s.webhook_address))
        .collect();
    started.sort();
    assert_eq!(
        started,
        vec![
            ("Audit.AzureActiveDirectory".to_string(), None),
            ("Audit.General".to_string(), None),
            ("Audit.SharePoint".to_string(), None),
        ]
    );

    let upload = world.upload_record("cards.xlsx");
    let link = world.sim.sharing_record(
        "AnonymousLinkCreated",
        "alice@contoso.onmicrosoft.com",
        SITE,
        "Documents",
        "cards.xlsx",
        "Anonymous",
        "Guest",
    );
    let invitation = world.sim.sharing_record(
        "SharingSet",
        "alice@contoso.onmicrosoft.com",
        SITE,
        "Documents",
        "cards.xlsx",
        "bob_partner.example#EXT#@contoso.onmicrosoft.com",
        "Guest",
    );
    let failed_sign_in =
        world
            .sim
            .sign_in_record("alice@contoso.onmicrosoft.com", "203.0.113.9", false);
    world
        .sim
        .publish_records("Audit.SharePoint", vec![upload.clone(), link.clone()]);
    world
        .sim
        .publish_records("Audit.AzureActiveDirectory", vec![failed_sign_in.clone()]);
    // The feed repeats records: the upload again, in another blob, with the invitation.
    world
        .sim
        .publish_records("Audit.SharePoint", vec![invitation.clone(), upload.clone()]);

    let stored = world
        .activities_until("four records as four activities", |a| a.len() >= 4)
        .await;
    assert_eq!(stored.len(), 4, "{stored:#?}");
    let uploaded = with_id(&stored, &upload);
    assert_eq!(uploaded.len(), 1, "a repeated record is one activity");
    let uploaded = uploaded[0];
    assert_eq!(uploaded.event_type, EventType::DataCreation);
    assert_eq!(
        uploaded.actor_email.as_deref(),
        Some("alice@contoso.onmicrosoft.com")
    );
    assert_eq!(
        uploaded.object_path.as_deref(),
        Some(format!("{SITE}/Documents/cards.xlsx").as_str())
    );
    assert_eq!(uploaded.ingest_path, IngestPath::Pull);
    let linked = with_id(&stored, &link)[0];
    assert_eq!(linked.event_type, EventType::DataSharing);
    assert_eq!(linked.link_visibility, Some(LinkVisibility::Public));
    let invited = with_id(&stored, &invitation)[0];
    assert_eq!(invited.target_user_type, Some(UserType::External));
    let sign_in = with_id(&stored, &failed_sign_in)[0];
    assert_eq!(sign_in.event_type, EventType::LoginFailure);
    assert_eq!(sign_in.actor_ip.as_deref(), Some("203.0.113.9"));

    // Content listed late, with a creation time the stream has already listed past.
    let late = world.upload_record("late.docx");
    world.sim.publish_late_blob(
        "Audit.SharePoint",
        vec![late.clone(), upload.clone()],
        chrono::Utc::now() - chrono::Duration::hours(2),
    );
    let stored = world
        .activities_until("the late record", |a| !with_id(a, &late).is_empty())
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stored_after = world.activities().await;
    assert_eq!(stored_after.len(), 5, "{stored:#?}");
    assert_eq!(with_id(&stored_after, &late).len(), 1);
    assert_eq!(with_id(&stored_after, &upload).len(), 1);

    // Every activity is an OCSF record that validates against the 1.5.0 schemas: files as File
    // System Activity, sign-ins as Authentication.
    let mut classes = std::collections::BTreeSet::new();
    for activity in &stored_after {
        let record =
            casb_shared::ocsf::activity(activity, casb_shared::ocsf::Options { raw_data: true });
        if !crate::support::assert_valid_ocsf(&record) {
            return;
        }
        classes.insert(record["class_uid"].as_u64().unwrap());
    }
    assert!(
        classes.contains(&6006) && classes.contains(&3002),
        "{classes:?}"
    );

    // Every Management API call named us, and tokens were reused rather than asked for each time.
    assert!(world.sim.management_calls() > 5);
    assert_eq!(world.sim.management_calls_without_publisher(), 0);
    assert_eq!(world.sim.token_requests(Resource::Manage), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_consent_connects_nothing_and_says_so() {
    let world = World::start().await;
    world.sim.set_consent_denied(true);
    let error = world.connect("pull").await.unwrap_err();
    assert!(error.contains("400"), "{error}");
    assert!(error.contains("nothing was connected"), "{error}");
    let integrations = world
        .casb
        .core
        .backend
        .integrations
        .list_integrations(TENANT)
        .await
        .unwrap();
    assert!(integrations.is_empty(), "{integrations:?}");
    assert!(world.sim.management_subscriptions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_validated_verified_and_give_the_same_activity_as_the_pull() {
    let world = World::start().await;
    let integration = world.connect("both").await.unwrap();
    // Starting each subscription with our webhook made Microsoft validate it first; webhook
    // intake answered without calling Microsoft.
    let deliveries = world.sim.management_webhook_deliveries();
    let validations: Vec<_> = deliveries.iter().filter(|d| d.validation).collect();
    assert_eq!(validations.len(), 3, "{deliveries:#?}");
    assert!(
        validations.iter().all(|d| d.status == Some(200)),
        "{deliveries:#?}"
    );
    let address = format!(
        "{}/webhooks/microsoft365/{TENANT}/{}",
        world.base, integration.id
    );
    assert!(world
        .sim
        .management_subscriptions()
        .iter()
        .all(|s| s.webhook_address.as_deref() == Some(address.as_str())));

    let upload = world.upload_record("pushed.xlsx");
    world
        .sim
        .publish_records("Audit.SharePoint", vec![upload.clone()]);
    let notified = world
        .sim
        .wait_for_management_deliveries(4, Duration::from_secs(10))
        .await;
    let notification = notified.iter().find(|d| !d.validation).unwrap();
    assert_eq!(notification.status, Some(200), "{notified:#?}");
    // The webhook and the poll both bring the record: one activity, seen by both paths.
    let stored = world
        .activities_until("the upload by push and by pull", |a| {
            with_id(a, &upload)
                .first()
                .is_some_and(|u| u.paths() == vec![IngestPath::Push, IngestPath::Pull])
        })
        .await;
    assert_eq!(with_id(&stored, &upload).len(), 1, "{stored:#?}");

    // A notification with another Webhook-AuthID is refused before anything is queued.
    let forged = serde_json::json!([{
        "tenantId": world.sim.config().tenant_id, "clientId": world.sim.config().client_id,
        "contentType": "Audit.SharePoint", "contentId": "forged",
        "contentUri": format!("{}/api/v1.0/{}/activity/feed/audit/forged", world.sim.manage_base(), world.sim.config().tenant_id),
        "contentCreated": "2026-11-29T10:00:00.000Z", "contentExpiration": "2026-12-06T10:00:00.000Z"
    }]);
    let response = reqwest::Client::new()
        .post(&address)
        .header("Webhook-AuthID", "guessed")
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body = response.text().await.unwrap();
    assert!(body.contains("signature does not match"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_an_expired_token_are_survived() {
    let world = World::start().await;
    world.connect("pull").await.unwrap();
    world.sim.inject_fault(HttpFault {
        listener: Listener::Manage,
        path_contains: "subscriptions/content".into(),
        status: 429,
        retry_after: Some(1),
        times: 2,
    });
    world.sim.expire_tokens();
    let upload = world.upload_record("after-throttling.xlsx");
    world
        .sim
        .publish_records("Audit.SharePoint", vec![upload.clone()]);
    world
        .activities_until("the upload despite 429s and an expired token", |a| {
            !with_id(a, &upload).is_empty()
        })
        .await;
    assert!(world.sim.faulted_requests() >= 2);
    assert!(
        world.sim.token_requests(Resource::Manage) >= 2,
        "a new token after the old one was refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_stops_every_subscription_and_forgets_the_tenant() {
    let world = World::start().await;
    let integration = world.connect("both").await.unwrap();
    assert_eq!(world.sim.management_subscriptions().len(), 3);
    world.disconnect(&integration).await;
    assert!(world.sim.management_subscriptions().is_empty());
    assert!(world
        .casb
        .core
        .backend
        .secrets
        .get_secret(&integration.credential_secret_name())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_card_numbers_shared_by_anonymous_link_is_one_incident_and_remediated_at_microsoft(
) {
    let world = World::start().await;
    world.connect("both").await.unwrap();
    let item = world
        .sim
        .upload_file(ALICE, "cards.csv", CARDS.as_bytes().to_vec())
        .unwrap();
    let home = world.sim.item_parent(&item).unwrap();
    world.sim.create_sharing_link(&item, "anonymous").unwrap();
    world
        .sim
        .invite(&item, "bob@partner.example", true)
        .unwrap();

    let incident = world
        .settled_incident("builtin.sensitive-file-exposed")
        .await;
    let object_id = format!("drives/{}/items/{}", item.drive_id, item.item_id);
    assert_eq!(
        incident.object.object_id.as_deref(),
        Some(object_id.as_str())
    );
    assert!(
        incident
            .matches
            .iter()
            .any(|m| m.rule == "credit_card" && m.count == 2),
        "{:?}",
        incident.matches
    );
    let sensitive: Vec<_> = world
        .incidents()
        .await
        .into_iter()
        .filter(|i| i.policy_id == "builtin.sensitive-file-exposed")
        .collect();
    assert_eq!(
        sensitive.len(),
        1,
        "one incident for the file: {sensitive:#?}"
    );

    // At "Microsoft": the anonymous link and the guest's permission are gone, and the file sits
    // in the quarantine folder of its own drive, its original folder recorded.
    assert_eq!(
        outcome(&incident, ActionKind::RemoveSharedLink).0,
        ActionStatus::Succeeded
    );
    let left = world.sim.permissions(&item).unwrap();
    assert!(
        left.iter()
            .all(|p| p.link_scope.as_deref() != Some("anonymous")),
        "{left:#?}"
    );
    assert!(
        left.iter()
            .all(|p| p.granted_to_email.as_deref() != Some("bob@partner.example")),
        "{left:#?}"
    );
    let (status, detail) = outcome(&incident, ActionKind::Quarantine);
    assert_eq!(status, ActionStatus::Succeeded, "{detail}");
    assert!(
        detail.contains(&format!("original_parent={home}")),
        "{detail}"
    );
    let parent = world.sim.item_parent(&item).unwrap();
    assert_ne!(parent, home, "moved out of its folder");
    assert!(
        incident.actions.iter().all(|a| a.attempts == 1),
        "each action done once: {incident:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_signed_assertion_replaces_the_client_secret() {
    use base64::Engine;
    use sha1::Digest;
    let certificate = m365_simulator::test_certificate();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&certificate.private_key_pkcs8_der)
    );
    let world = World::start_with(
        SimConfig {
            client_certificate_public_key_der: Some(certificate.public_key_der.clone()),
            ..SimConfig::default()
        },
        |app| {
            app.client_secret = None;
            app.certificate_private_key = Some(pem);
            app.certificate_thumbprint =
                Some(hex::encode(sha1::Sha1::digest(&certificate.public_key_der)));
        },
        |_| {},
    )
    .await;
    world.connect("pull").await.unwrap();
    let upload = world.upload_record("signed.xlsx");
    world
        .sim
        .publish_records("Audit.SharePoint", vec![upload.clone()]);
    world
        .activities_until("the record, read with assertion-issued tokens", |a| {
            !with_id(a, &upload).is_empty()
        })
        .await;
    assert!(world.sim.token_requests(Resource::Graph) >= 1);
    assert!(world.sim.token_requests(Resource::Manage) >= 1);
}

/// Waits until `probe` gives something, or fails saying what was awaited.
async fn eventually<T>(what: &str, probe: impl Fn() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(found) = probe() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_changes_are_seen_at_once_and_subscriptions_are_renewed_recreated_and_removed() {
    let world = World::start_with(
        SimConfig::default(),
        |_| {},
        |config| {
            // Renewed on every poll, so the test sees a renewal in seconds.
            config.subscription_lifetime = chrono::Duration::minutes(30);
            config.subscription_renew_before = chrono::Duration::minutes(31);
        },
    )
    .await;
    // Alice's OneDrive exists before the connection (its old file is not replayed).
    let hello = world
        .sim
        .upload_file(ALICE, "hello.txt", b"hello".to_vec())
        .unwrap();
    let drive = hello.drive_id.clone();
    let integration = world.connect("both").await.unwrap();

    // A subscription on the drive's root, validated by Graph through webhook intake.
    let first = eventually("a Graph subscription on the drive", || {
        world
            .sim
            .graph_subscriptions()
            .into_iter()
            .find(|s| s.drive_id == drive)
    })
    .await;
    assert_eq!(first.resource, format!("drives/{drive}/root"));
    assert!(
        first.notification_url.ends_with(&integration.id),
        "{first:?}"
    );

    // A new file with its anyone link is seen through Graph, with its exposure. (Nothing
    // sensitive in it: card numbers would be found through the audit log too, and the link
    // removed, sometimes before Graph's change was read.)
    let notes = world
        .sim
        .upload_file(ALICE, "notes.txt", b"agenda for the offsite".to_vec())
        .unwrap();
    world.sim.create_sharing_link(&notes, "anonymous").unwrap();
    let object_id = format!("drives/{}/items/{}", notes.drive_id, notes.item_id);
    let observed = |name: &'static str, object: String| {
        move |a: &[Activity]| {
            a.iter()
                .any(|x| x.event_name == name && x.object_id.as_deref() == Some(object.as_str()))
        }
    };
    let stored = world
        .activities_until(
            "the shared file seen through Graph",
            observed("DriveItemShared", object_id.clone()),
        )
        .await;
    let shared = stored
        .iter()
        .find(|a| {
            a.event_name == "DriveItemShared" && a.object_id.as_deref() == Some(object_id.as_str())
        })
        .unwrap();
    assert!(
        shared.enrichments.exposure.as_ref().unwrap().public_link,
        "{shared:#?}"
    );
    assert!(
        world
            .sim
            .graph_notification_deliveries()
            .iter()
            .any(|d| !d.lifecycle && d.status.is_some_and(|s| (200..300).contains(&s))),
        "{:#?}",
        world.sim.graph_notification_deliveries()
    );

    // Renewed before it ends: the same subscription, a later end.
    eventually("a renewal", || {
        world
            .sim
            .graph_subscriptions()
            .into_iter()
            .find(|s| s.id == first.id && s.expiration > first.expiration)
    })
    .await;

    // Removed by Microsoft: made again, and what changed meanwhile is still seen.
    assert!(world.sim.remove_graph_subscription(&first.id, true));
    let gap = world
        .sim
        .upload_file(ALICE, "gap.txt", b"written while nobody listened".to_vec())
        .unwrap();
    eventually("a new subscription", || {
        world
            .sim
            .graph_subscriptions()
            .into_iter()
            .find(|s| s.drive_id == drive && s.id != first.id)
    })
    .await;
    world
        .activities_until(
            "the file changed while there was no subscription",
            observed(
                "DriveItemChanged",
                format!("drives/{}/items/{}", gap.drive_id, gap.item_id),
            ),
        )
        .await;

    // 410 Gone: the drive is enumerated again; nothing seen before is seen twice, nothing new is lost.
    let before: Vec<String> = world
        .activities()
        .await
        .into_iter()
        .filter(|a| a.event_name.starts_with("DriveItem"))
        .map(|a| a.event_id)
        .collect();
    assert!(world.sim.force_delta_resync(&drive));
    let after = world
        .sim
        .upload_file(ALICE, "after-resync.txt", b"new".to_vec())
        .unwrap();
    let stored = world
        .activities_until(
            "the file uploaded after the resync",
            observed(
                "DriveItemChanged",
                format!("drives/{}/items/{}", after.drive_id, after.item_id),
            ),
        )
        .await;
    let observations: Vec<&Activity> = stored
        .iter()
        .filter(|a| a.event_name.starts_with("DriveItem"))
        .collect();
    for id in &before {
        assert_eq!(
            observations.iter().filter(|a| &a.event_id == id).count(),
            1,
            "{id}"
        );
    }
    for item in [&notes, &gap] {
        let object = format!("drives/{}/items/{}", item.drive_id, item.item_id);
        let versions: std::collections::HashSet<_> = observations
            .iter()
            .filter(|a| a.object_id.as_deref() == Some(object.as_str()))
            .map(|a| a.event_id.clone())
            .collect();
        let seen_before = before.iter().filter(|id| id.starts_with(&object)).count();
        assert_eq!(
            versions.len(),
            seen_before,
            "no new version of {object} after the resync"
        );
    }

    // Disconnect: no subscription of ours is left at Graph or at the Management API.
    world.disconnect(&integration).await;
    assert!(
        world.sim.graph_subscriptions().is_empty(),
        "{:#?}",
        world.sim.graph_subscriptions()
    );
    assert!(world.sim.management_subscriptions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharepoint_library_is_followed_and_its_exposed_sensitive_file_remediated() {
    let world = World::start().await;
    let library = world.sim.add_team_site("finance");
    let integration = world.connect("both").await.unwrap();
    eventually("a Graph subscription on the library", || {
        world
            .sim
            .graph_subscriptions()
            .into_iter()
            .find(|s| s.drive_id == library)
    })
    .await;
    let cards = world
        .sim
        .upload_to_site(&library, ALICE, "cards.csv", CARDS.as_bytes().to_vec())
        .unwrap();
    let home = world.sim.item_parent(&cards).unwrap();
    world.sim.create_sharing_link(&cards, "anonymous").unwrap();
    let incident = world
        .settled_incident("builtin.sensitive-file-exposed")
        .await;
    let object_id = format!("drives/{}/items/{}", cards.drive_id, cards.item_id);
    assert_eq!(
        incident.object.object_id.as_deref(),
        Some(object_id.as_str())
    );
    assert_eq!(
        outcome(&incident, ActionKind::RemoveSharedLink).0,
        ActionStatus::Succeeded
    );
    assert!(world
        .sim
        .permissions(&cards)
        .unwrap()
        .iter()
        .all(|p| p.link_scope.is_none()));
    assert_eq!(
        outcome(&incident, ActionKind::Quarantine).0,
        ActionStatus::Succeeded
    );
    assert_ne!(world.sim.item_parent(&cards).unwrap(), home);
    // The library's changes came through Graph as well as through the audit log.
    let stored = world.activities().await;
    assert!(
        stored.iter().any(|a| a.event_name.starts_with("DriveItem")
            && a.object_id.as_deref() == Some(object_id.as_str())),
        "{stored:#?}"
    );
    assert!(stored
        .iter()
        .any(|a| a.event_name == "FileUploaded"
            && a.object_id.as_deref() == Some(object_id.as_str())));
    world.disconnect(&integration).await;
    assert!(world.sim.graph_subscriptions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inherited_exposure_is_named_or_removed_on_the_folder_that_grants_it() {
    use casb_shared::connector::ActionOutcome;
    use casb_shared::domain::{CollaboratorScope, ResponseAction};
    let world = World::start().await;
    // Alice's OneDrive, a folder shared with a guest and by an anyone link, a file inside.
    let hello = world
        .sim
        .upload_file(ALICE, "hello.txt", b"hi".to_vec())
        .unwrap();
    let folder = world
        .sim
        .create_folder(&hello.drive_id, None, "Partners")
        .unwrap();
    world
        .sim
        .invite(&folder, "bob@partner.example", true)
        .unwrap();
    world.sim.create_sharing_link(&folder, "anonymous").unwrap();
    let file = world
        .sim
        .upload_file_to(&folder, ALICE, "plan.txt", b"plan".to_vec())
        .unwrap();
    assert!(world
        .sim
        .permissions(&file)
        .unwrap()
        .iter()
        .any(|p| p.inherited && p.granted_to_email.as_deref() == Some("bob@partner.example")));
    let integration = world.connect("pull").await.unwrap();
    let core = &world.casb.core;
    let connector = core
        .connectors
        .get(casb_shared::domain::Provider::Microsoft365)
        .unwrap()
        .clone();
    let token = core
        .tokens
        .access_token(connector.as_ref(), &integration)
        .await
        .unwrap();
    let action = |kind: ActionKind, scope: Option<CollaboratorScope>| ResponseAction {
        id: format!("inc-1#{}", kind.as_str()),
        incident_id: "inc-1".into(),
        tenant_id: TENANT.into(),
        integration_id: integration.id.clone(),
        provider: casb_shared::domain::Provider::Microsoft365,
        kind,
        object_id: Some(format!("drives/{}/items/{}", file.drive_id, file.item_id)),
        object_type: Some("file".into()),
        channel: None,
        scope,
    };

    // Scope "file": the guest comes from the folder, so nothing is removed and the outcome says where.
    let named = connector
        .execute(
            &integration,
            &token,
            &action(
                ActionKind::RemoveExternalCollaborators,
                Some(CollaboratorScope::File),
            ),
        )
        .await
        .unwrap();
    match named {
        ActionOutcome::Unsupported { reason } => {
            assert!(
                reason.contains("inherited") && reason.contains("Partners"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(world
        .sim
        .permissions(&folder)
        .unwrap()
        .iter()
        .any(|p| p.granted_to_email.as_deref() == Some("bob@partner.example")));

    // Scope "ancestors": removed on the folder, so the file loses it too; doing it again is success.
    for _ in 0..2 {
        let removed = connector
            .execute(
                &integration,
                &token,
                &action(
                    ActionKind::RemoveExternalCollaborators,
                    Some(CollaboratorScope::Ancestors),
                ),
            )
            .await
            .unwrap();
        assert!(
            matches!(removed, ActionOutcome::Succeeded { .. }),
            "{removed:?}"
        );
    }
    for item in [&folder, &file] {
        assert!(world
            .sim
            .permissions(item)
            .unwrap()
            .iter()
            .all(|p| p.granted_to_email.as_deref() != Some("bob@partner.example")));
    }

    // An inherited anyone link is the folder's: removed there.
    let unlinked = connector
        .execute(
            &integration,
            &token,
            &action(ActionKind::RemoveSharedLink, None),
        )
        .await
        .unwrap();
    assert!(
        matches!(unlinked, ActionOutcome::Succeeded { .. }),
        "{unlinked:?}"
    );
    for item in [&folder, &file] {
        assert!(world
            .sim
            .permissions(item)
            .unwrap()
            .iter()
            .all(|p| p.link_scope.is_none()));
    }
}
