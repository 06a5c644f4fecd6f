//! Threat detection through the inspector, on both back ends: sign-ins placed by MaxMind's own
//! test database, anomalies with their activities, the built-in policy acting on them, the
//! OCSF Detection Finding, and redelivery counting once.

use std::sync::Arc;

use casb_shared::config::Settings;
use casb_shared::connector::ConnectorRegistry;
use casb_shared::domain::*;
use casb_shared::pipeline::inspector;
use casb_shared::threat::ThreatSettings;
use casb_shared::Core;
use chrono::{DateTime, Duration, Utc};

use crate::support::{
    assert_valid_ocsf, connect, in_ci, integration, public_share, Fixture, RecordingConnector,
};

crate::on_both_back_ends!(
    a_brute_force_then_a_success_and_an_impossible_travel_become_anomalies_that_act,
    a_mass_download_gathers_the_windows_downloads_and_redelivery_counts_once,
);

/// MaxMind's GeoIP2-City-Test.mmdb (scripts/test.sh fetches it): `None` (skip) outside CI.
pub fn geoip_test_db() -> Option<std::path::PathBuf> {
    match std::env::var("CASB_TEST_GEOIP_DB") {
        Ok(path) if std::path::Path::new(&path).is_file() => Some(path.into()),
        _ if in_ci() => panic!("CASB_TEST_GEOIP_DB is not set or missing: scripts/test.sh fetches MaxMind's test database"),
        _ => {
            eprintln!("SKIPPED: CASB_TEST_GEOIP_DB not set (scripts/test.sh fetches MaxMind's test database)");
            None
        }
    }
}

fn core(f: &Fixture, threat: ThreatSettings) -> Core {
    let mut registry = ConnectorRegistry::new();
    registry.register(Arc::new(RecordingConnector::default()));
    let settings = Settings {
        notify_emails: vec!["secops@example.com".into()],
        threat,
        ..Settings::default()
    };
    Core::new(f.backend.clone(), settings, registry).unwrap()
}

fn t0() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

/// An activity with no file, link or target: only behaviour.
fn event(
    integration: &Integration,
    id: &str,
    user: &str,
    event_type: EventType,
    name: &str,
    at: DateTime<Utc>,
    ip: &str,
) -> Activity {
    let mut activity = public_share(integration, id);
    activity.actor_email = Some(user.into());
    activity.event_type = event_type;
    activity.event_name = name.into();
    activity.event_timestamp = at;
    activity.actor_ip = Some(ip.into());
    activity.object_id = None;
    activity.object_type = None;
    activity.object_name = None;
    activity.object_path = None;
    activity.shared_link = None;
    activity.link_visibility = None;
    activity
}

async fn a_brute_force_then_a_success_and_an_impossible_travel_become_anomalies_that_act(
    f: Fixture,
) {
    let Some(db) = geoip_test_db() else {
        return;
    };
    let core = core(
        &f,
        ThreatSettings {
            geoip_db: Some(db),
            ..ThreatSettings::default()
        },
    );
    let box_tenant = integration("tenant-a", "int-1");
    connect(&core, &box_tenant).await;
    let mut script = Vec::new();
    // 22 failed sign-ins for Ann from one address in Changchun, two minutes apart, then the
    // password works.
    for i in 0..22 {
        script.push(event(
            &box_tenant,
            &format!("fail-{i}"),
            "ann@example.com",
            EventType::LoginFailure,
            "FAILED_LOGIN",
            t0() + Duration::minutes(2 * i),
            "175.16.199.5",
        ));
    }
    script.push(event(
        &box_tenant,
        "success",
        "ann@example.com",
        EventType::Login,
        "LOGIN",
        t0() + Duration::minutes(50),
        "175.16.199.5",
    ));
    // Bob signs in from London, then from Changchun forty minutes later.
    script.push(event(
        &box_tenant,
        "bob-london",
        "bob@example.com",
        EventType::Login,
        "LOGIN",
        t0(),
        "81.2.69.142",
    ));
    script.push(event(
        &box_tenant,
        "bob-changchun",
        "bob@example.com",
        EventType::Login,
        "LOGIN",
        t0() + Duration::minutes(40),
        "175.16.199.7",
    ));
    let mut opened = Vec::new();
    for activity in &script {
        let inspection = inspector::inspect(&core, activity).await.unwrap();
        opened.push(inspection.anomalies);
    }
    // Failures 1-19: nothing. 20-22: the user's and the address's brute force, each.
    assert_eq!(&opened[..19], &[0; 19]);
    assert_eq!(&opened[19..22], &[2, 2, 2]);

    let threats = &f.backend.threats;
    let anomalies = threats.list_anomalies("tenant-a", 10).await.unwrap();
    let by = |subject: &str, detector: DetectorKind| {
        anomalies
            .iter()
            .find(|a| a.subject == subject && a.detector == detector)
            .unwrap_or_else(|| {
                panic!(
                    "{}: no {detector:?} for {subject} in {anomalies:#?}",
                    f.name
                )
            })
            .clone()
    };
    assert_eq!(anomalies.len(), 3, "{}: {anomalies:#?}", f.name);
    let brute = by("user:ann@example.com", DetectorKind::BruteForce);
    assert_eq!(brute.category, AnomalyCategory::CompromisedAccount);
    assert_eq!(brute.severity, Severity::High, "the success raised it");
    assert!(
        brute.explanation.contains("a successful sign-in at 2026-11-24 10:50 UTC from 175.16.199.5 followed 22 failed sign-ins"),
        "{}",
        brute.explanation
    );
    // The 22 failures and the success are behind it, and only once each.
    assert_eq!(brute.activity_count, 23, "{}", f.name);
    let behind = threats
        .anomaly_activities("tenant-a", &brute.id, 1000)
        .await
        .unwrap();
    assert_eq!(behind.len(), 23, "{}", f.name);
    assert_eq!(behind[0], script[22].id(), "newest first: the success");
    assert!(behind.contains(&script[0].id()), "the first failure too");
    let by_address = by("ip:175.16.199.5", DetectorKind::BruteForce);
    assert_eq!(by_address.activity_count, 23);

    let travel = by("user:bob@example.com", DetectorKind::ImpossibleTravel);
    assert_eq!(travel.severity, Severity::High);
    assert!(
        travel
            .explanation
            .contains("signed in from Changchun, CN (175.16.199.7)")
            && travel
                .explanation
                .contains("40 minutes after signing in from London, GB (81.2.69.142)"),
        "{}",
        travel.explanation
    );
    let distance = travel.evidence["distance_km"].as_f64().unwrap();
    // The database's London (51.5142, -0.0931) to its Changchun (43.88, 125.3228): 8,182 km
    // great-circle (haversine, computed apart from the product).
    assert!((8170.0..8195.0).contains(&distance), "{distance}");
    let mut behind = threats
        .anomaly_activities("tenant-a", &travel.id, 10)
        .await
        .unwrap();
    behind.sort();
    let mut expected = vec![script[23].id(), script[24].id()];
    expected.sort();
    assert_eq!(behind, expected);
    // The stored sign-in carries the database's place.
    let stored = f
        .backend
        .activities
        .get_activity("tenant-a", &script[23].id())
        .await
        .unwrap()
        .unwrap();
    let geo = stored.enrichments.geo.unwrap();
    assert_eq!(
        (
            geo.city.as_deref(),
            geo.country.as_deref(),
            geo.accuracy_radius_km
        ),
        (Some("London"), Some("GB"), Some(10))
    );

    // The built-in account-threat policy acted on the high-severity ones: one incident per
    // anomaly, however often it was extended, each notifying the security team.
    let incidents = f
        .backend
        .incidents
        .list_incidents("tenant-a", None, 50)
        .await
        .unwrap();
    let threat_incidents: Vec<_> = incidents
        .iter()
        .filter(|i| i.policy_id == "builtin.account-threat")
        .collect();
    assert_eq!(threat_incidents.len(), 3, "{}: {incidents:#?}", f.name);
    assert!(threat_incidents.iter().all(|i| i.actions.len() == 1
        && i.actions[0].kind == ActionKind::Notify
        && i.matches.iter().any(|m| m.rule.starts_with("anomaly."))));

    // Every activity delivered again: nothing counts twice.
    for activity in &script {
        inspector::inspect(&core, activity).await.unwrap();
    }
    let again = threats.list_anomalies("tenant-a", 10).await.unwrap();
    assert_eq!(again.len(), 3);
    let brute_again = again.iter().find(|a| a.id == brute.id).unwrap();
    assert_eq!(brute_again.activity_count, 23, "{}", f.name);
    assert_eq!(
        threats
            .anomaly_activities("tenant-a", &brute.id, 1000)
            .await
            .unwrap()
            .len(),
        23
    );
    let state = threats
        .get_behaviour("tenant-a", "user:ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.sign_ins, 1, "{}", f.name);
    assert_eq!(
        f.backend
            .incidents
            .list_incidents("tenant-a", None, 50)
            .await
            .unwrap()
            .len(),
        incidents.len()
    );

    // Detection Finding 2004, valid against the OCSF 1.5.0 schema.
    for anomaly in &again {
        let ids = threats
            .anomaly_activities("tenant-a", &anomaly.id, 100)
            .await
            .unwrap();
        let record = casb_shared::ocsf::anomaly(anomaly, &ids);
        assert_eq!(record["class_uid"], 2004);
        assert_eq!(
            record["finding_info"]["related_events"]
                .as_array()
                .unwrap()
                .len(),
            ids.len()
        );
        assert_eq!(record["finding_info"]["types"][0], "Compromised Account");
        assert_valid_ocsf(&record);
    }
}

async fn a_mass_download_gathers_the_windows_downloads_and_redelivery_counts_once(f: Fixture) {
    let core = core(&f, ThreatSettings::default());
    let box_tenant = integration("tenant-a", "int-1");
    connect(&core, &box_tenant).await;
    let downloads: Vec<Activity> = (0..105)
        .map(|i| {
            event(
                &box_tenant,
                &format!("dl-{i}"),
                "cy@example.com",
                EventType::DataAccess,
                "DOWNLOAD",
                t0() + Duration::seconds(20 * i),
                "192.0.2.44",
            )
        })
        .collect();
    for (i, activity) in downloads.iter().enumerate() {
        let inspection = inspector::inspect(&core, activity).await.unwrap();
        assert_eq!(
            inspection.anomalies,
            usize::from(i >= 99),
            "download {}",
            i + 1
        );
        // Redelivered at once: no second count.
        let again = inspector::inspect(&core, activity).await.unwrap();
        assert_eq!(again.anomalies, usize::from(i >= 99));
    }
    let anomalies = f
        .backend
        .threats
        .list_anomalies("tenant-a", 10)
        .await
        .unwrap();
    assert_eq!(anomalies.len(), 1, "{}", f.name);
    let mass = &anomalies[0];
    assert_eq!(
        (mass.detector, mass.category, mass.severity),
        (
            DetectorKind::MassDownload,
            AnomalyCategory::DataExfiltration,
            Severity::Medium
        )
    );
    // Opened by the 100th with the 99 before it gathered from the activity store, then
    // extended by five more.
    assert_eq!(mass.activity_count, 105, "{}", f.name);
    let behind = f
        .backend
        .threats
        .anomaly_activities("tenant-a", &mass.id, 1000)
        .await
        .unwrap();
    assert_eq!(behind.len(), 105, "{}", f.name);
    assert_eq!(mass.first_activity_at, t0());
    assert_eq!(mass.last_activity_at, t0() + Duration::seconds(20 * 104));
    assert!(
        mass.explanation
            .starts_with("105 downloads within 60 minutes"),
        "{}",
        mass.explanation
    );
    // Medium severity: the built-in account-threat policy (high only) did not act.
    let incidents = f
        .backend
        .incidents
        .list_incidents("tenant-a", None, 10)
        .await
        .unwrap();
    assert!(incidents.is_empty(), "{incidents:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_geolocation_database_that_cannot_be_read_stops_the_start_instead_of_turning_detectors_off(
) {
    let dir = tempfile::tempdir().unwrap();
    let not_a_database = dir.path().join("GeoLite2-City.mmdb");
    std::fs::write(&not_a_database, b"not a MaxMind database").unwrap();
    for (n, path) in [not_a_database, dir.path().join("missing.mmdb")]
        .into_iter()
        .enumerate()
    {
        let settings = Settings {
            threat: ThreatSettings {
                geoip_db: Some(path.clone()),
                ..ThreatSettings::default()
            },
            ..Settings::default()
        };
        let data_dir = dir.path().join(format!("data-{n}"));
        let options = crate::support::serve_options(&data_dir);
        let error = match casb_shared::local::LocalInstance::start(options, settings, |_| {
            ConnectorRegistry::new()
        })
        .await
        {
            Ok(_) => panic!("{} was accepted", path.display()),
            Err(e) => e.to_string(),
        };
        assert!(
            error.contains(&path.display().to_string()) && error.contains("CASB_GEOIP_DB"),
            "{error}"
        );
    }
}

/// The latest 100,000 activity ids are kept per anomaly (the embedded store; moto would take
/// minutes to write as many items).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anomaly_keeps_its_latest_hundred_thousand_activities() {
    let f = crate::support::embedded();
    let store = &f.backend.threats;
    let kept = Anomaly::KEPT_ACTIVITIES;
    let at = |i: usize| t0() + Duration::seconds(i as i64);
    for start in (0..kept + 25).step_by(10_000) {
        let batch: Vec<(String, DateTime<Utc>)> = (start..(start + 10_000).min(kept + 25))
            .map(|i| (format!("act-{i:06}"), at(i)))
            .collect();
        store
            .add_anomaly_activities("tenant-a", "an-big", &batch)
            .await
            .unwrap();
    }
    let ids = store
        .anomaly_activities("tenant-a", "an-big", kept + 100)
        .await
        .unwrap();
    assert_eq!(ids.len(), kept);
    assert_eq!(ids[0], format!("act-{:06}", kept + 24), "newest first");
    assert_eq!(ids[kept - 1], "act-000025", "the 25 oldest were dropped");
}

/// The Anomalous Activity API's CSV (seed 002): our header is the documented one, column for
/// column, and the documented sample rows have as many fields.
#[test]
fn the_activity_csv_header_is_the_documented_one() {
    use casb_shared::http::activity_csv::{header, COLUMNS};
    let Some(seed) = crate::support::handbook_file("seeds/002_19e96b07f0b7c951.txt") else {
        return;
    };
    let documented = seed
        .lines()
        .find(|l| l.starts_with("timeStamp,"))
        .expect("the seed shows the header");
    assert_eq!(header().trim_end(), documented.trim_end());
    let samples: Vec<&str> = seed.lines().filter(|l| l.starts_with("1596")).collect();
    assert_eq!(samples.len(), 11);
    for sample in samples {
        // Count fields outside quotes (the samples quote names with spaces and commas).
        let mut fields = 1;
        let mut quoted = false;
        for c in sample.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => fields += 1,
                _ => {}
            }
        }
        assert_eq!(fields, COLUMNS.len(), "{sample}");
    }
}
