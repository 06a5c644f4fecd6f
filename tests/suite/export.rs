//! The exporter end to end: activities and incidents recorded by the inspector come out as
//! OCSF files, gzip JSON Lines and Security Lake Parquet, each record once across redeliveries
//! and an exporter stopped half-way; read back with the readers (and `jq`, when installed) they
//! equal what was recorded.

use std::collections::BTreeMap;
use std::sync::Arc;

use casb_shared::backend::SecurityLakeTarget;
use casb_shared::config::Settings;
use casb_shared::connector::ConnectorRegistry;
use casb_shared::domain::Provider;
use casb_shared::pipeline::{exporter, inspector};
use casb_shared::Core;
use serde_json::{json, Value};

use crate::support::{assert_valid_ocsf, integration, public_share, Fixture, RecordingConnector};

crate::on_both_back_ends!(
    exporter_writes_every_record_once_as_json_lines_and_parquet_that_read_back_equal,
);

/// A value as a columnar round trip keeps it: null and empty-object members absent, numbers
/// compared as numbers.
fn comparable(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), comparable(v)))
                .filter(|(_, v)| !v.is_null() && *v != json!({}))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(comparable).collect()),
        Value::Number(n) => json!(n.as_f64()),
        other => other.clone(),
    }
}

/// The uid a record is known by: OCSF `metadata.uid`, or the forwarded event's `uid`.
fn uid(record: &Value) -> String {
    record["metadata"]["uid"]
        .as_str()
        .or_else(|| record["uid"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// What `gzip -dc | jq -c .` makes of a file, when both are installed.
fn read_with_jq(bytes: &[u8]) -> Option<Vec<Value>> {
    let available = std::process::Command::new("jq")
        .arg("--version")
        .output()
        .is_ok();
    if !available {
        eprintln!(
            "SKIPPED: jq is not installed; the JSON Lines were read by the crate's reader only"
        );
        return None;
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -dc '{}' | jq -c .", file.path().display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

/// What Apache Arrow's own Python reader (pyarrow, installed by scripts/test.sh) makes of a
/// Parquet file: its rows' `metadata.uid` and `time`. `None` (skip, said) without pyarrow
/// outside CI.
fn read_with_pyarrow(bytes: &[u8]) -> Option<Value> {
    let python = std::env::var("CASB_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let available = std::process::Command::new(&python)
        .args(["-c", "import pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            !crate::support::in_ci(),
            "{python} has no pyarrow: scripts/test.sh installs it"
        );
        eprintln!("SKIPPED: pyarrow is not installed; Parquet was read by the crate's reader only");
        return None;
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let script = "import json, sys\nimport pyarrow.parquet as pq\nt = pq.read_table(sys.argv[1])\nprint(json.dumps({'uids': [m['uid'] for m in t.column('metadata').to_pylist()], 'times': t.column('time').to_pylist()}))";
    let output = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pyarrow: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

async fn exporter_writes_every_record_once_as_json_lines_and_parquet_that_read_back_equal(
    f: Fixture,
) {
    let mut backend = f.backend.clone();
    let sink = backend.export_sinks.json_lines.clone().unwrap();
    backend.export_sinks.security_lake = Some((
        sink,
        SecurityLakeTarget {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            source_prefix: "casb".into(),
        },
    ));
    let mut registry = ConnectorRegistry::new();
    registry.register(Arc::new(RecordingConnector::default()));
    registry.register(Arc::new(casb_connector_netskope::NetskopeConnector::new(
        casb_connector_netskope::NetskopeConfig::default(),
    )));
    let settings = Settings {
        export_batch_size: 4,
        ..Settings::default()
    };
    let core = Core::new(backend, settings, registry).unwrap();

    // Netskope events of five classes and two the mapping does not cover, and a Box share
    // that opens an incident.
    let mut netskope = integration("tenant-x", &format!("int-ns-{}", f.name));
    netskope.provider = Provider::Netskope;
    let now = chrono::Utc::now().timestamp();
    let events = [
        (
            "events/audit",
            json!({"audit_log_event": "Login Successful"}),
        ),
        (
            "events/audit",
            json!({"audit_log_event": "Edited inline policy", "supporting_data": {"data_type": "policy", "data_values": ["Block uploads"]}}),
        ),
        (
            "events/audit",
            json!({"audit_log_event": "Created new admin", "supporting_data": {"data_values": ["bob@acme.example"]}}),
        ),
        (
            "events/network",
            json!({"action": "Block", "dstip": "203.0.113.9"}),
        ),
        (
            "events/application",
            json!({"activity": "Upload", "alert": "no", "file_name": "q3.xlsx", "file_size": 4096}),
        ),
        (
            "events/application",
            json!({"activity": "Download", "alert": "no", "file_name": "q3.xlsx"}),
        ),
        (
            "alerts/malware",
            json!({"alert": "yes", "alert_type": "Malware", "alert_name": "Trojan.Gen", "severity": "high"}),
        ),
        (
            "alerts/dlp",
            json!({"alert": "yes", "alert_type": "DLP", "dlp_incident_id": 3188340271830183961u64, "file_name": "cards.csv"}),
        ),
        (
            "events/page",
            json!({"activity": "Browse", "url": "https://example.com"}),
        ),
        (
            "events/application",
            json!({"activity": "Send", "alert": "no"}),
        ),
    ];
    let mut activities = Vec::new();
    for (n, (stream, fields)) in events.iter().enumerate() {
        let mut event = json!({"_id": format!("{:024x}", 0xe0 + n), "timestamp": now - 3600 + n as i64,
                               "user": "ann@acme.example", "srcip": "198.51.100.7"});
        for (k, v) in fields.as_object().unwrap() {
            event[k] = v.clone();
        }
        activities.push(casb_connector_netskope::map_event(
            &netskope, stream, &event,
        ));
    }
    let box_tenant = integration("tenant-x", &format!("int-box-{}", f.name));
    activities.push(public_share(&box_tenant, "share-1"));
    for activity in &activities {
        inspector::inspect(&core, activity).await.unwrap();
    }
    // Redelivered: nothing more to export.
    for activity in &activities {
        inspector::inspect(&core, activity).await.unwrap();
    }
    let incidents = core
        .backend
        .incidents
        .list_incidents("tenant-x", None, 100)
        .await
        .unwrap();
    assert_eq!(incidents.len(), 1, "{}", f.name);

    // The product's own configuration changes: a policy set applied, an integration paused.
    casb_shared::policy::apply(
        &core,
        "tenant-x",
        casb_shared::policy::DEFAULT_POLICIES_YAML,
        "policies.yaml",
    )
    .await
    .unwrap();
    core.backend
        .integrations
        .put_integration(&netskope)
        .await
        .unwrap();
    let paused = casb_shared::admin::set_paused(&core, "tenant-x", &netskope.id, true)
        .await
        .unwrap();
    let config_uids = [
        "tenant-x#policy-set#1".to_string(),
        format!(
            "tenant-x#integration#{}#{}",
            netskope.id,
            paused.updated_at.timestamp_millis()
        ),
    ];

    // An exporter that claimed a batch and stopped before writing it.
    let stopped = core
        .backend
        .exports
        .claim_export_batch("20261129T000000000Z-stopped", 3)
        .await
        .unwrap();
    assert_eq!(stopped.len(), 3);
    let summary = exporter::run(&core).await.unwrap();
    assert_eq!(summary.recovered_batches, 1, "{}: {summary:?}", f.name);
    assert_eq!(
        summary.records,
        activities.len() + incidents.len() + config_uids.len(),
        "{}: {summary:?}",
        f.name
    );
    let again = exporter::run(&core).await.unwrap();
    assert_eq!(again.records, 0, "{}: nothing is exported twice", f.name);

    let keys = f.export_keys().await;
    let mut json_lines: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut parquet: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for key in &keys {
        let bytes = f.read_export(key).await.unwrap();
        if key.ends_with(".jsonl.gz") {
            let records = casb_export::read_jsonl_gzip(&bytes).unwrap();
            if let Some(by_jq) = read_with_jq(&bytes) {
                let ours: Vec<Value> = records.iter().map(comparable).collect();
                let theirs: Vec<Value> = by_jq.iter().map(comparable).collect();
                assert_eq!(ours, theirs, "jq reads {key} as written");
            }
            json_lines.insert(key.clone(), records);
        } else if key.ends_with(".gz.parquet") {
            let records = casb_export::read_parquet(&bytes).unwrap();
            if let Some(by_pyarrow) = read_with_pyarrow(&bytes) {
                let uids: Vec<Value> = records
                    .iter()
                    .map(|r| r["metadata"]["uid"].clone())
                    .collect();
                let times: Vec<i64> = records
                    .iter()
                    .map(|r| r["time"].as_f64().unwrap() as i64)
                    .collect();
                assert_eq!(
                    by_pyarrow["uids"],
                    json!(uids),
                    "pyarrow reads {key} as written"
                );
                assert_eq!(by_pyarrow["times"], json!(times), "{key}");
            }
            parquet.insert(key.clone(), records);
        } else {
            panic!("unexpected object {key}");
        }
    }
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for (key, records) in &json_lines {
        for record in records {
            *copies.entry(uid(record)).or_default() += 1;
            if key.starts_with("unmapped/") {
                assert_eq!(record["casb_unmapped"], json!(true), "{key}");
                continue;
            }
            assert!(
                key.starts_with(&format!("ocsf/class_uid={}/", record["class_uid"])),
                "{key}"
            );
            let time =
                chrono::DateTime::from_timestamp_millis(record["time"].as_i64().unwrap()).unwrap();
            assert!(
                key.contains(&time.format("/year=%Y/month=%m/day=%d/hour=%H/").to_string()),
                "{key}"
            );
            assert_valid_ocsf(record);
        }
    }
    let mut expected: BTreeMap<String, usize> = activities.iter().map(|a| (a.id(), 1)).collect();
    expected.insert(incidents[0].id.clone(), 1);
    for uid in &config_uids {
        expected.insert(uid.clone(), 1);
    }
    // Besides Netskope's own "Edited inline policy", this product's changes.
    let changes: Vec<&Value> = json_lines
        .values()
        .flatten()
        .filter(|r| {
            r["class_uid"] == 3004
                && r["metadata"]["uid"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("tenant-x#"))
        })
        .collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes.iter().any(|r| r["entity"]["type"] == "policy set"
        && r["activity_id"] == 1
        && r["entity"]["version"] == "1"));
    assert!(changes.iter().any(|r| r["entity"]["type"] == "integration"
        && r["activity_id"] == 12
        && r["entity"]["uid"] == json!(netskope.id)));
    assert_eq!(copies, expected, "{}: each record exactly once", f.name);
    let unmapped: usize = json_lines
        .iter()
        .filter(|(k, _)| k.starts_with("unmapped/"))
        .map(|(_, r)| r.len())
        .sum();
    assert_eq!(
        unmapped, 2,
        "the page event and the unlisted activity go raw"
    );

    // Parquet: one class per object in the custom-source layout, equal to the JSON Lines.
    let by_uid: BTreeMap<String, &Value> =
        json_lines.values().flatten().map(|r| (uid(r), r)).collect();
    let mut in_parquet = 0;
    for (key, records) in &parquet {
        let class = records[0]["class_uid"].as_u64().unwrap();
        let time =
            chrono::DateTime::from_timestamp_millis(records[0]["time"].as_i64().unwrap()).unwrap();
        let prefix = format!(
            "ext/casb_{class}/region=us-east-1/accountId=123456789012/eventDay={}/",
            time.format("%Y%m%d")
        );
        assert!(key.starts_with(&prefix), "{key} under {prefix}");
        let times: Vec<i64> = records
            .iter()
            .map(|r| r["time"].as_f64().unwrap() as i64)
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{key} is sorted by time"
        );
        for record in records {
            assert_eq!(
                record["class_uid"].as_u64(),
                Some(class),
                "{key}: one class"
            );
            let written = by_uid[&uid(record)];
            assert_eq!(comparable(record), comparable(written), "{key}");
            in_parquet += 1;
        }
    }
    assert_eq!(
        in_parquet,
        activities.len() + incidents.len() + config_uids.len() - unmapped,
        "{}",
        f.name
    );
}
