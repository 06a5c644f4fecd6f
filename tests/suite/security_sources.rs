//! The security-event sources, Netskope and Trend Micro Cloud App Security: their OCSF mapping
//! checked value by value against the vendor-side list in seed 004 (read from the handbook, not
//! copied here) and against the OCSF 1.5.0 schemas, and their pull against the simulators,
//! killed and restarted, with no gap and no duplicate.

use casb_shared::domain::{EventType, Integration, Provider};
use casb_shared::ocsf::{self, Mapped};
use serde_json::{json, Value};

use crate::support::{assert_valid_ocsf, handbook_file, integration};

const SEED_004: &str = "seeds/004_76e27a092b279447.txt";

fn netskope_integration() -> Integration {
    let mut integration = integration("tenant-ns", "int-ns");
    integration.provider = Provider::Netskope;
    integration.settings = json!({ "tenant": "acme.goskope.com" });
    integration
}

/// One case the seed lists: the fields that make the event what it is, and the class.
#[derive(Debug)]
struct SeedCase {
    class_uid: u32,
    fields: Vec<(String, String)>,
}

/// `/record_type = "alert" and /alert_type = "DLP"` or `record_type="infrastructure"`.
fn conditions(line: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(eq) = rest.find('=') {
        let field = rest[..eq]
            .trim_end()
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string();
        let after = rest[eq + 1..].trim_start();
        let Some(value) = after.strip_prefix('"') else {
            break;
        };
        let Some(end) = value.find('"') else { break };
        found.push((field, value[..end].to_string()));
        rest = &value[end + 1..];
    }
    found
}

/// Reads seed 004's lists into cases, as a reader of the vendor page would.
fn seed_cases(seed: &str) -> Vec<SeedCase> {
    let mut cases = Vec::new();
    let mut class: Option<u32> = None;
    // Which field the values of the current list go in, and the fields every case of it has.
    let mut field = String::new();
    let mut base: Vec<(String, String)> = Vec::new();
    for line in seed.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(open) = line.find(") contains") {
            let uid = line[..open].rsplit('(').next().and_then(|u| u.parse().ok());
            class = uid;
            (field, base) = match uid {
                Some(3004 | 3001) => (
                    "audit_log_event".into(),
                    vec![("record_type".into(), "audit".into())],
                ),
                _ => (String::new(), Vec::new()),
            };
            continue;
        }
        let Some(class_uid) = class else { continue };
        if line.starts_with("Application Events") {
            field = "activity".into();
            base = vec![("record_type".into(), "application".into())];
            if class_uid == 6006 {
                base.push(("alert".into(), "no".into()));
            }
            continue;
        }
        if line.starts_with("Audit Events") {
            field = "audit_log_event".into();
            base = vec![("record_type".into(), "audit".into())];
            continue;
        }
        if line.starts_with("Network Events") {
            field = "action".into();
            base = vec![("record_type".into(), "network".into())];
            continue;
        }
        if line.starts_with("Alerts are categorized") {
            field = "alert_type".into();
            base = vec![
                ("record_type".into(), "alert".into()),
                ("alert".into(), "yes".into()),
            ];
            continue;
        }
        if line.starts_with("Other Events which contain the keyword") {
            // Any other application activity with "login" in it.
            cases.push(SeedCase {
                class_uid,
                fields: vec![
                    ("record_type".into(), "application".into()),
                    ("activity".into(), "Login via SAML assertion".into()),
                ],
            });
            continue;
        }
        if line.contains('=') && line.contains('"') {
            cases.push(SeedCase {
                class_uid,
                fields: conditions(line),
            });
            continue;
        }
        if line.ends_with(':') || field.is_empty() {
            continue;
        }
        let mut fields = base.clone();
        fields.push((field.clone(), line.to_string()));
        cases.push(SeedCase { class_uid, fields });
    }
    cases
}

/// A Netskope event shaped like the API's, with the case's fields.
fn netskope_event(n: usize, fields: &[(String, String)]) -> Value {
    let mut event = json!({
        "_id": format!("{:024x}", 0xa11ce000 + n),
        "_insertion_epoch_timestamp": 1_764_375_000 + n as i64,
        "timestamp": 1_764_374_900 + n as i64,
        "user": "ann@acme.example",
        "ur_normalized": "ann@acme.example",
        "srcip": "198.51.100.7",
        "dstip": "203.0.113.9",
        "src_country": "DE",
        "app": "Box",
        "access_method": "Client",
        "traffic_type": "CloudApp",
        "file_name": "q3-forecast.xlsx",
        "file_size": 48213,
        "file_type": "application/vnd.ms-excel",
        "md5": "9e107d9d372bb6826bd81d3542a419d6",
        "severity": "high",
        "hostname": "LAPTOP-ANN",
        "device": "Windows Device",
        "incident_id": 3188340271830183961u64,
    });
    for (field, value) in fields {
        event[field.as_str()] = json!(value);
    }
    event
}

#[test]
fn every_value_seed_004_lists_maps_to_its_ocsf_class_and_validates() {
    let Some(seed) = handbook_file(SEED_004) else {
        return;
    };
    let cases = seed_cases(&seed);
    let integration = netskope_integration();
    let mut per_class = std::collections::BTreeMap::<u32, usize>::new();
    let mut validated = 0;
    for (n, case) in cases.iter().enumerate() {
        let event = netskope_event(n, &case.fields);
        let class = ocsf::netskope::classify(&event)
            .unwrap_or_else(|| panic!("seed value not mapped: {:?}", case.fields));
        assert_eq!(class.class_uid, case.class_uid, "{:?}", case.fields);
        let activity =
            casb_connector_netskope::map_event(&integration, "events/application", &event);
        let Mapped::Ocsf(record) = ocsf::map_activity(&activity, ocsf::Options { raw_data: true })
        else {
            panic!("{:?} came out unmapped", case.fields);
        };
        assert_eq!(
            record["class_uid"],
            json!(case.class_uid),
            "{:?}",
            case.fields
        );
        assert_eq!(record["metadata"]["uid"], json!(activity.id()));
        assert_eq!(
            record["time"],
            json!(event["timestamp"].as_i64().unwrap() * 1000)
        );
        if assert_valid_ocsf(&record) {
            validated += 1;
        }
        // Above 2^53: kept digit for digit, as text.
        assert_eq!(
            record["unmapped"]["incident_id"],
            json!("3188340271830183961")
        );
        *per_class.entry(case.class_uid).or_default() += 1;
    }
    // The seed's lists, counted by hand from the vendor page: 13 authentication values (4
    // application, the "login" rule, 8 audit), 31 entity management, 16 account change, 7
    // network (6 actions and record_type connection), 6 alert types, 3 DLP forms, 25 file
    // hosting activities, 1 infrastructure rule.
    let expected = [
        (2004, 6),
        (2006, 3),
        (3001, 16),
        (3002, 13),
        (3004, 31),
        (4001, 7),
        (5001, 1),
        (6006, 25),
    ];
    assert_eq!(
        per_class,
        expected.into_iter().collect(),
        "cases read from the seed"
    );
    if validated > 0 {
        assert_eq!(validated, cases.len());
    }
}

#[test]
fn netskope_event_types_follow_the_ocsf_class_into_the_casb_vocabulary() {
    let integration = netskope_integration();
    let cases = [
        (
            json!({"record_type": "audit", "audit_log_event": "SSO Login Failed"}),
            EventType::LoginFailure,
        ),
        (
            json!({"record_type": "audit", "audit_log_event": "Logout Successful"}),
            EventType::Logout,
        ),
        (
            json!({"record_type": "application", "activity": "Login Successful"}),
            EventType::Login,
        ),
        (
            json!({"record_type": "application", "activity": "Upload", "alert": "no"}),
            EventType::DataCreation,
        ),
        (
            json!({"record_type": "application", "activity": "Download", "alert": "no"}),
            EventType::DataAccess,
        ),
        (
            json!({"record_type": "application", "activity": "Share", "alert": "no"}),
            EventType::DataSharing,
        ),
        (
            json!({"record_type": "application", "activity": "Delete All", "alert": "no"}),
            EventType::DataDeletion,
        ),
        (
            json!({"record_type": "audit", "audit_log_event": "Deleted admin"}),
            EventType::Administration,
        ),
        (
            json!({"record_type": "page", "activity": "Browse"}),
            EventType::Other,
        ),
    ];
    for (n, (fields, expected)) in cases.into_iter().enumerate() {
        let pairs: Vec<(String, String)> = fields
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let activity = casb_connector_netskope::map_event(
            &integration,
            "events/application",
            &netskope_event(n, &pairs),
        );
        assert_eq!(activity.event_type, expected, "{fields}");
        assert_eq!(activity.actor_email.as_deref(), Some("ann@acme.example"));
        assert_eq!(activity.actor_ip.as_deref(), Some("198.51.100.7"));
    }
}

#[test]
fn netskope_events_the_seed_does_not_list_are_forwarded_raw_not_dropped() {
    let integration = netskope_integration();
    let unlisted: [(&str, &[(&str, &str)]); 6] = [
        ("events/page", &[("activity", "Browse")]),
        (
            "events/application",
            &[("activity", "Send"), ("alert", "no")],
        ),
        // A listed file activity, but an alert: the seed maps it only with alert "no".
        (
            "events/application",
            &[
                ("activity", "Upload"),
                ("alert", "yes"),
                ("alert_type", "watchlist"),
            ],
        ),
        (
            "events/audit",
            &[("audit_log_event", "Created new API token")],
        ),
        ("events/network", &[("action", "Alert")]),
        (
            "alerts/watchlist",
            &[("alert", "yes"), ("alert_type", "watchlist")],
        ),
    ];
    for (n, (stream, fields)) in unlisted.iter().enumerate() {
        let pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut event = netskope_event(n, &pairs);
        event.as_object_mut().unwrap().remove("record_type");
        let activity = casb_connector_netskope::map_event(&integration, stream, &event);
        match ocsf::map_activity(&activity, ocsf::Options::default()) {
            Mapped::Unmapped(forwarded) => {
                assert_eq!(forwarded["casb_unmapped"], json!(true));
                assert_eq!(forwarded["provider"], json!("netskope"));
                assert_eq!(
                    forwarded["raw"]["_id"], event["_id"],
                    "the event itself goes on"
                );
                assert_eq!(forwarded["uid"], json!(activity.id()));
            }
            Mapped::Ocsf(record) => panic!(
                "{stream} {fields:?} should not map, got class {}",
                record["class_uid"]
            ),
        }
    }
}

/// Trend Micro Cloud App Security records shaped as the log retrieval API documents them.
fn trend_micro_events() -> Vec<Value> {
    vec![
        json!({
            "log_item_id": "7fa2b7c5-3c1d-4f11-9e10-0c8cc6d6b7a1",
            "service": "exchange",
            "event": "securityrisk",
            "message": {
                "scan_type": "Real-time scan",
                "affected_user": "ann@acme.example",
                "location": "Inbox",
                "detection_time": "2026-11-28T09:12:44.000Z",
                "security_risk_name": "TROJ_GEN.R002C0DKN23",
                "detected_by": "Predictive Machine Learning",
                "risk_level": "high",
                "action": "Quarantine",
                "action_result": "success",
                "mail_message_id": "<CAF1234@mail.example>",
                "mail_message_sender": "billing@invoices.example",
                "mail_message_recipient": ["ann@acme.example"],
                "mail_message_submit_time": "2026-11-28T09:12:30.000Z",
                "mail_message_delivery_time": "2026-11-28T09:12:40.000Z",
                "mail_message_subject": "Invoice 4471",
                "mail_message_file_name": "invoice_4471.docm",
                "file_sha1": "3395856ce81f2b7382dee72602f798b642f14140",
                "file_sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
            }
        }),
        json!({
            "log_item_id": "b13d0f52-8ea0-4a57-9d2c-5f0a3e0c9d11",
            "service": "onedrive",
            "event": "virtualanalyzer",
            "message": {
                "affected_user": "bob@acme.example",
                "location": "/Documents/tools",
                "detection_time": "2026-11-28T10:01:00.000Z",
                "file_name": "setup.exe",
                "file_upload_time": "2026-11-28T10:00:12.000Z",
                "file_sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                "risk_level": "High risk",
                "detected_by": "Virtual Analyzer",
                "action": "Quarantine",
                "action_result": "success"
            }
        }),
        json!({
            "log_item_id": "c5a8e0a2-0b9e-4c44-8f47-1e2d3c4b5a69",
            "service": "sharepoint",
            "event": "ransomware",
            "message": {
                "affected_user": "carol@acme.example",
                "location": "https://acme.sharepoint.com/sites/finance/Shared Documents",
                "detection_time": "2026-11-28T11:30:00.000Z",
                "ransomware_name": "Ransom.Win32.LOCKBIT.YXD",
                "file_name": "budget.xlsx.lockbit",
                "risk_level": "critical"
            }
        }),
        json!({
            "log_item_id": "d9c1f7e3-2a6b-4b8e-a3c2-77f1e0d4b2c8",
            "service": "onedrive",
            "event": "dlp",
            "message": {
                "affected_user": "dave@acme.example",
                "location": "/Documents/HR",
                "detection_time": "2026-11-28T12:00:00.000Z",
                "triggered_policy_name": "Block PII sharing",
                "triggered_dlp_template": "U.S. Social Security Number (SSN)",
                "file_name": "payroll.csv",
                "action": "Quarantine",
                "action_result": "success"
            }
        }),
        json!({
            "log_item_id": "e0f1a2b3-c4d5-4e6f-8a9b-0c1d2e3f4a5b",
            "service": "exchange",
            "event": "dlp",
            "message": {
                "affected_user": "erin@acme.example",
                "detection_time": "2026-11-28T12:30:00.000Z",
                "triggered_policy_name": "Outbound card numbers",
                "triggered_dlp_template": "Credit Card Number",
                "mail_message_id": "<AB12@acme.example>",
                "mail_message_sender": "erin@acme.example",
                "mail_message_recipient": "partner@other.example",
                "mail_message_subject": "cards"
            }
        }),
    ]
}

#[test]
fn trend_micro_detections_and_dlp_events_map_to_valid_findings() {
    let mut integration = integration("tenant-tm", "int-tm");
    integration.provider = Provider::TrendMicro;
    let expected = [2004, 2004, 2004, 2006, 2006];
    for (event, class) in trend_micro_events().iter().zip(expected) {
        let activity = casb_connector_trendmicro::map_event(&integration, event);
        assert_eq!(activity.event_id, event["log_item_id"].as_str().unwrap());
        let detected = chrono::DateTime::parse_from_rfc3339(
            event["message"]["detection_time"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(activity.event_timestamp, detected);
        let Mapped::Ocsf(record) = ocsf::map_activity(&activity, ocsf::Options::default()) else {
            panic!("{event} unmapped");
        };
        assert_eq!(record["class_uid"], json!(class));
        assert_eq!(record["finding_info"]["uid"], event["log_item_id"]);
        assert_eq!(
            record["actor"]["user"]["email_addr"],
            event["message"]["affected_user"]
        );
        assert_valid_ocsf(&record);
        let message = &event["message"];
        if class == 2006 {
            assert_eq!(
                record["data_security"]["policy"]["name"],
                message["triggered_policy_name"]
            );
            assert_eq!(
                record["data_security"]["detection_pattern"],
                message["triggered_dlp_template"]
            );
        } else {
            let evidence = &record["evidences"][0];
            if let Some(sha1) = message.get("file_sha1") {
                assert_eq!(evidence["file"]["hashes"][0]["value"], *sha1);
            }
            if let Some(sender) = message.get("mail_message_sender") {
                assert_eq!(evidence["email"]["from"], *sender);
            }
            let threat = ["security_risk_name", "ransomware_name"]
                .iter()
                .find_map(|f| message.get(*f));
            if let Some(threat) = threat {
                assert_eq!(record["malware"][0]["name"], *threat);
            }
        }
    }
    // Severity follows risk_level however it is worded.
    let severities: Vec<Value> = trend_micro_events()
        .iter()
        .map(|e| {
            let a = casb_connector_trendmicro::map_event(&integration, e);
            match ocsf::map_activity(&a, ocsf::Options::default()) {
                Mapped::Ocsf(r) => r["severity_id"].clone(),
                Mapped::Unmapped(_) => Value::Null,
            }
        })
        .collect();
    assert_eq!(
        severities,
        vec![json!(4), json!(4), json!(5), json!(0), json!(0)]
    );

    let mut other = trend_micro_events().remove(0);
    other["event"] = json!("quarantine");
    let activity = casb_connector_trendmicro::map_event(&integration, &other);
    assert!(matches!(
        ocsf::map_activity(&activity, ocsf::Options::default()),
        Mapped::Unmapped(_)
    ));
}

// --- Pulling from the simulators: a crash between fetching and queueing, then a restart ---

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use casb_shared::config::Settings;
use casb_shared::connector::{Connector, ConnectorRegistry};
use casb_shared::domain::{Activity, Envelope, IntegrationStatus};
use casb_shared::pipeline::poller;
use casb_shared::ports::{OutgoingMessage, Queue, QueueError, ReceivedMessage};
use casb_shared::Core;
use secrecy::SecretString;

use crate::support::Fixture;

/// A queue whose `fail_on`-th send fails (the process dying between fetching a page and
/// queueing it looks the same to the stream: the page was handed out and never queued).
struct FailingSend {
    inner: Arc<dyn Queue>,
    sends: AtomicUsize,
    fail_on: usize,
}

#[async_trait::async_trait]
impl Queue for FailingSend {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Result<(), QueueError> {
        if self.sends.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_on {
            return Err(QueueError::Unavailable {
                queue: "activities".into(),
                message: "the process died here".into(),
            });
        }
        self.inner.send_batch(messages).await
    }
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner.receive(max, visibility, wait).await
    }
    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt).await
    }
    async fn approximate_depth(&self) -> Result<u64, QueueError> {
        self.inner.approximate_depth().await
    }
}

fn core_on(f: &Fixture, connector: Arc<dyn Connector>, fail_on_send: Option<usize>) -> Core {
    let mut backend = f.backend.clone();
    if let Some(fail_on) = fail_on_send {
        backend.activity_queue = Arc::new(FailingSend {
            inner: backend.activity_queue.clone(),
            sends: AtomicUsize::new(0),
            fail_on,
        });
    }
    let mut registry = ConnectorRegistry::new();
    registry.register(connector);
    Core::new(backend, Settings::default(), registry).unwrap()
}

/// Every activity waiting in the queue, by event id, with how many copies of each.
async fn queued_event_ids(core: &Core) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    loop {
        let messages = core
            .backend
            .activity_queue
            .receive(10, Duration::from_secs(60), Duration::from_millis(200))
            .await
            .unwrap();
        if messages.is_empty() {
            return seen;
        }
        for message in messages {
            let activity = Envelope::<Activity>::parse(&message.body).unwrap().payload;
            *seen.entry(activity.event_id).or_insert(0) += 1;
            core.backend
                .activity_queue
                .delete(&message.receipt_handle)
                .await
                .unwrap();
        }
    }
}

async fn api_token_integration(core: &Core, integration: &mut Integration, token: &str) {
    integration.credential = casb_shared::domain::CredentialKind::ApiToken;
    core.backend
        .integrations
        .put_integration(integration)
        .await
        .unwrap();
    core.tokens
        .store_secret(integration, &SecretString::from(token.to_string()))
        .await
        .unwrap();
}

/// The Netskope connector, allowed to send its token to the simulator.
fn netskope_connector(sim: &netskope_simulator::NetskopeSimulator) -> Arc<dyn Connector> {
    Arc::new(casb_connector_netskope::NetskopeConnector::new(
        casb_connector_netskope::NetskopeConfig::default().allowing(&sim.base_url()),
    ))
}

/// The Trend Micro connector, allowed to reach the simulator, with pages of `page_limit`.
fn trend_micro_connector(
    sim: &trendmicro_simulator::TrendMicroSimulator,
    page_limit: u32,
) -> Arc<dyn Connector> {
    Arc::new(casb_connector_trendmicro::TrendMicroConnector::new(
        casb_connector_trendmicro::TrendMicroConfig {
            page_limit,
            ..casb_connector_trendmicro::TrendMicroConfig::default().allowing(&sim.base_url())
        },
    ))
}

/// Starts a Trend Micro stream's windows at `start` (instead of a minute ago).
async fn start_trend_micro_stream(
    core: &Core,
    integration: &Integration,
    stream: &str,
    start: chrono::DateTime<chrono::Utc>,
) {
    core.backend
        .checkpoints
        .put_checkpoint(
            &integration.stream_key(stream),
            &json!({"start": start.to_rfc3339()}).to_string(),
            &Default::default(),
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
}

/// Whether a poll job stopped, and said why with `why`.
fn stopped_because(stats: &poller::PollStats, why: &str) -> bool {
    stats.stopped.as_deref().is_some_and(|s| s.contains(why))
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(60)
}

async fn poll(
    core: &Core,
    integration: &Integration,
    stream: &str,
) -> Result<poller::PollStats, casb_shared::pipeline::PipelineError> {
    let connector = core.connectors.get(integration.provider).unwrap().clone();
    let spec = connector
        .streams(integration)
        .into_iter()
        .find(|s| s.id == stream)
        .unwrap_or_else(|| panic!("no stream {stream}"));
    poller::poll_stream(core, connector.as_ref(), integration, &spec, deadline()).await
}

crate::on_both_back_ends!(
    netskope_pull_survives_a_crash_between_fetch_and_queue_with_no_gap_and_no_duplicate,
    trend_micro_pull_survives_a_crash_mid_window_with_no_gap_and_no_duplicate,
);

async fn netskope_pull_survives_a_crash_between_fetch_and_queue_with_no_gap_and_no_duplicate(
    f: Fixture,
) {
    use netskope_simulator::{NetskopeSimulator, SimConfig};
    let sim = NetskopeSimulator::start(SimConfig {
        page_size: 100,
        allowed_endpoints: Some(vec!["events/application".into(), "alerts/dlp".into()]),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let application: Vec<Value> = (0..250)
        .map(|n| json!({"timestamp": now - 600 + n, "record_type": "application", "activity": "Upload", "alert": "no",
                        "user": format!("u{n}@acme.example"), "srcip": "198.51.100.7", "app": "Box", "file_name": format!("f{n}.txt")}))
        .collect();
    let application_ids = sim.push_events("events/application", application).unwrap();
    let dlp = |from: i64| -> Vec<Value> {
        (from..from + 15)
            .map(|n| json!({"timestamp": now - 300 + n, "alert": "yes", "alert_type": "DLP", "alert_name": "PCI",
                            "user": "ann@acme.example", "dlp_incident_id": 3188340271830183961u64 + n as u64}))
            .collect()
    };
    let mut dlp_ids = sim.push_events("alerts/dlp", dlp(0)).unwrap();

    let connector = netskope_connector(&sim);
    let mut integration = netskope_integration();
    integration.id = format!("int-ns-{}", f.name);
    integration.settings = json!({
        "tenant": sim.base_url(),
        "event_types": ["application"],
        "alert_types": ["dlp", "malware"],
        "backfill_hours": "1",
    });
    // The second send fails: page 1 is queued, page 2 is handed out by Netskope and lost.
    let crashing = core_on(&f, connector.clone(), Some(2));
    api_token_integration(&crashing, &mut integration, "netskope-sim-token").await;
    let warnings = poller::seed_checkpoints(&crashing, connector.as_ref(), &integration).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(poll(&crashing, &integration, "events/application")
        .await
        .is_err());
    let index = casb_connector_netskope::index_name(&integration, "events/application");
    assert_eq!(
        sim.position(&index, "events/application"),
        Some(200),
        "Netskope moved past page 2"
    );

    // Restarted: the stream asks for the lost page again, then goes on.
    let core = core_on(&f, connector.clone(), None);
    let stats = poll(&core, &integration, "events/application")
        .await
        .unwrap();
    assert_eq!(stats.queued, 150, "{}: {stats:?}", f.name);
    assert_eq!(sim.stats().requests_for("events/application", "resend"), 1);

    // A `next` whose answer is lost after Netskope moved: asked again as `resend` in the call.
    assert_eq!(
        poll(&core, &integration, "alerts/dlp")
            .await
            .unwrap()
            .queued,
        15
    );
    dlp_ids.extend(sim.push_events("alerts/dlp", dlp(15)).unwrap());
    sim.advance_then_fail_next();
    let stats = poll(&core, &integration, "alerts/dlp").await.unwrap();
    assert_eq!(stats.queued, 15, "{stats:?}");
    assert_eq!(sim.stats().requests_for("alerts/dlp", "resend"), 1);

    // A stream the token may not read is reported on its health and rested, not spun on.
    let stats = poll(&core, &integration, "alerts/malware").await.unwrap();
    assert!(stopped_because(&stats, "permission denied"), "{stats:?}");
    let health = core
        .backend
        .checkpoints
        .get_checkpoint(&integration.stream_key("alerts/malware"))
        .await
        .unwrap()
        .unwrap()
        .health;
    assert!(
        health
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("scope")),
        "{health:?}"
    );
    let asked = sim.stats().forbidden;
    let stats = poll(&core, &integration, "alerts/malware").await.unwrap();
    assert!(stats.stopped.is_some());
    assert_eq!(
        sim.stats().forbidden,
        asked,
        "a rested stream does not call again"
    );

    // Polling again finds nothing new.
    for stream in ["events/application", "alerts/dlp"] {
        assert_eq!(poll(&core, &integration, stream).await.unwrap().queued, 0);
    }
    let queued = queued_event_ids(&core).await;
    let expected: BTreeMap<String, usize> = application_ids
        .iter()
        .chain(&dlp_ids)
        .map(|id| (id.clone(), 1))
        .collect();
    assert_eq!(queued.len(), expected.len(), "{}: no gap", f.name);
    assert_eq!(queued, expected, "{}: every event once", f.name);

    // A bad token stops the integration for an admin to fix, instead of retrying forever.
    core.tokens
        .store_secret(&integration, &SecretString::from("revoked".to_string()))
        .await
        .unwrap();
    let stats = poll(&core, &integration, "events/application")
        .await
        .unwrap();
    assert!(stopped_because(&stats, "re-authorization"), "{stats:?}");
    let stored = core
        .backend
        .integrations
        .get_integration(&integration.tenant_id, &integration.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, IntegrationStatus::NeedsReauth);
}

async fn trend_micro_pull_survives_a_crash_mid_window_with_no_gap_and_no_duplicate(f: Fixture) {
    use trendmicro_simulator::{SimConfig, TrendMicroSimulator};
    let sim = TrendMicroSimulator::start(SimConfig::default())
        .await
        .unwrap();
    let now = chrono::Utc::now();
    // 300 DLP events over the last half hour (not the last two minutes, still settling): six
    // overlapping windows of about 100 events, in pages of 50.
    let events: Vec<Value> = (0..300)
        .map(|n| {
            let at = now - chrono::Duration::minutes(30) + chrono::Duration::milliseconds(n * 5600);
            json!({"service": "onedrive", "event": "dlp", "message": {
                "detection_time": at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "affected_user": "dave@acme.example", "file_name": format!("payroll-{n}.csv"),
                "triggered_policy_name": "Block PII sharing", "triggered_dlp_template": "SSN"}})
        })
        .collect();
    let ids = sim.push_events(events).unwrap();
    let other = sim
        .push_events(vec![json!({"service": "exchange", "event": "dlp", "message": {
            "detection_time": (now - chrono::Duration::minutes(20)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()}})])
        .unwrap();

    let connector = trend_micro_connector(&sim, 50);
    let mut integration = integration("tenant-tm", &format!("int-tm-{}", f.name));
    integration.provider = Provider::TrendMicro;
    integration.settings =
        json!({"services": ["onedrive"], "events": ["dlp"], "api_host": sim.base_url()});
    let crashing = core_on(&f, connector.clone(), Some(2));
    api_token_integration(&crashing, &mut integration, "tmcas-sim-token").await;
    // The stream starts 40 minutes back.
    start_trend_micro_stream(
        &crashing,
        &integration,
        "onedrive/dlp",
        now - chrono::Duration::minutes(40),
    )
    .await;
    assert!(poll(&crashing, &integration, "onedrive/dlp").await.is_err());

    let core = core_on(&f, connector.clone(), None);
    poll(&core, &integration, "onedrive/dlp").await.unwrap();
    assert_eq!(
        poll(&core, &integration, "onedrive/dlp")
            .await
            .unwrap()
            .queued,
        0
    );
    let stats = sim.stats();
    assert!(
        stats
            .windows
            .iter()
            .all(|w| w.end - w.start <= chrono::Duration::minutes(10)),
        "windows of 10 minutes at most"
    );
    assert!(stats
        .windows
        .iter()
        .all(|w| w.service == "onedrive" && w.event == "dlp"));
    let queued = queued_event_ids(&core).await;
    let expected: BTreeMap<String, usize> = ids.iter().map(|id| (id.clone(), 1)).collect();
    assert!(
        !queued.contains_key(&other[0]),
        "another service's event is another stream's"
    );
    assert_eq!(queued.len(), expected.len(), "{}: no gap", f.name);
    assert_eq!(queued, expected, "{}: every event once", f.name);
}

/// The provider samples in `events/providers/` (what `casb normalize` takes) map to the classes
/// listed here, each record valid, and the rest goes raw.
#[test]
fn provider_samples_in_events_normalize_to_valid_ocsf() {
    let sample = |name: &str| -> Value {
        let path = crate::support::repo_file(&format!("events/providers/{name}"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    let netskope = netskope_integration();
    let mut trend = integration("tenant-tm", "int-tm");
    trend.provider = Provider::TrendMicro;
    let cases: [(&str, &str, &str, Vec<u64>); 3] = [
        (
            "netskope-audit-page.json",
            "result",
            "events/audit",
            vec![3002, 3004, 3004, 3001, 0],
        ),
        (
            "netskope-alerts-page.json",
            "result",
            "alerts/malware",
            vec![2004, 2004, 2006, 2004, 0],
        ),
        (
            "trendmicro-security-events.json",
            "security_events",
            "",
            vec![2004, 2004, 2004, 2006],
        ),
    ];
    for (file, list, stream, classes) in cases {
        let page = sample(file);
        let mut found = Vec::new();
        for event in page[list].as_array().unwrap() {
            let activity = if stream.is_empty() {
                casb_connector_trendmicro::map_event(&trend, event)
            } else {
                casb_connector_netskope::map_event(&netskope, stream, event)
            };
            match ocsf::map_activity(&activity, ocsf::Options { raw_data: true }) {
                Mapped::Ocsf(record) => {
                    assert_valid_ocsf(&record);
                    found.push(record["class_uid"].as_u64().unwrap());
                }
                Mapped::Unmapped(_) => found.push(0),
            }
        }
        assert_eq!(found, classes, "{file}");
    }
}

/// Netskope's `wait_time` and a spent rate-limit window rest the stream: the next scheduled
/// poll does not call before Netskope said, and nothing is lost meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netskope_wait_time_and_rate_limits_rest_the_stream() {
    use netskope_simulator::{NetskopeSimulator, SimConfig};
    // One simulator whose rate-limit window is spent by the third call, one that asks to wait
    // once the reader has caught up.
    let configs = [
        SimConfig {
            page_size: 10,
            rate_limit: Some((3, Duration::from_secs(60))),
            ..SimConfig::default()
        },
        SimConfig {
            page_size: 10,
            wait_time_when_caught_up: 120,
            ..SimConfig::default()
        },
    ];
    for (case, config) in configs.into_iter().enumerate() {
        let f = crate::support::embedded();
        let sim = NetskopeSimulator::start(config).await.unwrap();
        let now = chrono::Utc::now().timestamp();
        let event = |n: i64| json!({"timestamp": now - 60 + n, "record_type": "audit", "audit_log_event": "Login Successful", "user": "a@example.com"});
        let ids = sim
            .push_events("events/audit", (0..25).map(event).collect())
            .unwrap();
        let connector = netskope_connector(&sim);
        let mut integration = netskope_integration();
        integration.settings = json!({"tenant": sim.base_url(), "event_types": ["audit"], "alert_types": ["dlp"], "backfill_hours": "1"});
        let core = core_on(&f, connector.clone(), None);
        api_token_integration(&core, &mut integration, "netskope-sim-token").await;
        poller::seed_checkpoints(&core, connector.as_ref(), &integration).await;
        let calls = || {
            sim.stats()
                .requests
                .get("events/audit")
                .map(|ops| ops.values().sum::<u64>())
                .unwrap_or(0)
        };

        let stats = poll(&core, &integration, "events/audit").await.unwrap();
        assert_eq!(stats.queued, 25, "case {case}: {stats:?}");
        assert_eq!(
            sim.stats().rate_limited,
            0,
            "case {case}: no call was refused"
        );
        let after_first = calls();
        // Pages of 10, 10 and 5; after the third, Netskope asked to wait (either way).
        assert_eq!(after_first, 3, "case {case}");
        let rested = poll(&core, &integration, "events/audit").await.unwrap();
        assert!(
            stopped_because(&rested, "backing off"),
            "case {case}: {rested:?}"
        );
        assert_eq!(
            calls(),
            after_first,
            "case {case}: a resting stream does not call Netskope"
        );
        assert_eq!(queued_event_ids(&core).await.len(), ids.len());
    }
}

/// Trend Micro's per-minute limit and its daily quota rest the stream without losing its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trend_micro_rate_limit_and_quota_rest_the_stream_and_keep_its_place() {
    use trendmicro_simulator::{SimConfig, TrendMicroSimulator};
    for (case, config) in [
        SimConfig {
            per_minute_limit: Some(2),
            ..SimConfig::default()
        },
        SimConfig {
            daily_quota: Some(2),
            ..SimConfig::default()
        },
    ]
    .into_iter()
    .enumerate()
    {
        let f = crate::support::embedded();
        let sim = TrendMicroSimulator::start(config).await.unwrap();
        let now = chrono::Utc::now();
        let events: Vec<Value> = (0..30)
            .map(|n| json!({"service": "exchange", "event": "securityrisk", "message": {
                "detection_time": (now - chrono::Duration::minutes(50) + chrono::Duration::minutes(n)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "affected_user": "ann@example.com", "security_risk_name": "TROJ_GEN"}}))
            .collect();
        sim.push_events(events).unwrap();
        let connector = trend_micro_connector(&sim, 500);
        let mut integration = integration("tenant-tm", "int-tm-limits");
        integration.provider = Provider::TrendMicro;
        integration.settings = json!({"services": ["exchange"], "events": ["securityrisk"], "api_host": sim.base_url()});
        let core = core_on(&f, connector.clone(), None);
        api_token_integration(&core, &mut integration, "tmcas-sim-token").await;
        let key = integration.stream_key("exchange/securityrisk");
        start_trend_micro_stream(
            &core,
            &integration,
            "exchange/securityrisk",
            now - chrono::Duration::minutes(55),
        )
        .await;

        let stats = poll(&core, &integration, "exchange/securityrisk")
            .await
            .unwrap();
        assert!(
            stopped_because(&stats, "rate limited"),
            "case {case}: {stats:?}"
        );
        let asked = sim.stats().requests;
        let again = poll(&core, &integration, "exchange/securityrisk")
            .await
            .unwrap();
        assert!(
            stopped_because(&again, "backing off"),
            "case {case}: {again:?}"
        );
        assert_eq!(
            sim.stats().requests,
            asked,
            "case {case}: a resting stream does not call"
        );
        // What was read before the limit is queued, and the checkpoint is where reading stopped.
        let queued = queued_event_ids(&core).await.len();
        assert_eq!(queued, stats.queued, "case {case}");
        let checkpoint = core
            .backend
            .checkpoints
            .get_checkpoint(&key)
            .await
            .unwrap()
            .unwrap();
        assert!(
            checkpoint
                .health
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("rate limited")),
            "case {case}"
        );
        assert!(
            queued < 30,
            "case {case}: the limit stopped reading early ({queued})"
        );
    }
}
