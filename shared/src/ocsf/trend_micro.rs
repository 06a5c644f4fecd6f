//! Trend Micro Cloud App Security security events as OCSF 1.5.0:
//! - `securityrisk`, `virtualanalyzer` and `ransomware` detections: Detection Finding (2004),
//!   the mail or file as evidence and the threat as `malware`;
//! - `dlp`: Data Security Finding (2006), the policy and DLP template that matched, the file as
//!   `file` and a mail as a resource.
//!
//! Any other event type is forwarded raw.

use serde_json::{json, Map, Value};

use crate::domain::Activity;

/// The event types this mapping covers, with their OCSF class.
pub const EVENT_CLASSES: &[(&str, u32)] = &[
    ("securityrisk", 2004),
    ("virtualanalyzer", 2004),
    ("ransomware", 2004),
    ("dlp", 2006),
];

fn text<'a>(message: &'a Value, field: &str) -> Option<&'a str> {
    message
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `risk_level` as Trend Micro words it ("high", "High risk", "medium", ...).
fn severity(message: &Value) -> (u32, &'static str) {
    let level = text(message, "risk_level")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if level.starts_with("critical") {
        (5, "Critical")
    } else if level.starts_with("high") {
        (4, "High")
    } else if level.starts_with("medium") {
        (3, "Medium")
    } else if level.starts_with("low") {
        (2, "Low")
    } else {
        (0, "Unknown")
    }
}

fn file(message: &Value) -> Option<Value> {
    let name = text(message, "file_name").or_else(|| text(message, "mail_message_file_name"))?;
    let mut file = json!({ "name": name, "type_id": 1 });
    let mut hashes = Vec::new();
    // OCSF hash algorithms: 2 SHA-1, 3 SHA-256.
    for (field, id, algorithm) in [("file_sha1", 2, "SHA-1"), ("file_sha256", 3, "SHA-256")] {
        if let Some(value) = text(message, field) {
            hashes.push(json!({ "algorithm_id": id, "algorithm": algorithm, "value": value }));
        }
    }
    if !hashes.is_empty() {
        file["hashes"] = json!(hashes);
    }
    if let Some(path) = text(message, "location") {
        file["path"] = json!(path);
    }
    Some(file)
}

fn email(message: &Value) -> Option<Value> {
    let uid = text(message, "mail_message_id");
    let from = text(message, "mail_message_sender");
    let to: Vec<&str> = match message.get("mail_message_recipient") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => s
            .split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    if uid.is_none() && from.is_none() && to.is_empty() {
        return None;
    }
    let mut email = Map::new();
    if let Some(uid) = uid {
        email.insert("message_uid".into(), json!(uid));
    }
    if let Some(from) = from {
        email.insert("from".into(), json!(from));
    }
    if !to.is_empty() {
        email.insert("to".into(), json!(to));
    }
    if let Some(subject) = text(message, "mail_message_subject") {
        email.insert("subject".into(), json!(subject));
    }
    if from.is_none() && to.is_empty() {
        // The schema wants a sender or recipients; a mailbox is where the message was found.
        email.insert(
            "to".into(),
            json!([text(message, "affected_user").unwrap_or("unknown")]),
        );
    }
    Some(Value::Object(email))
}

/// The record for a Trend Micro activity, or `None` for an event type this mapping does not
/// cover.
pub fn record(activity: &Activity, options: super::Options) -> Option<Value> {
    let event = &activity.raw;
    let kind = event.get("event").and_then(Value::as_str)?;
    let (_, class_uid) = EVENT_CLASSES.iter().find(|(name, _)| *name == kind)?;
    let empty = json!({});
    let message = event.get("message").unwrap_or(&empty);
    let mut record = super::common(activity, options);
    super::class_fields(&mut record, 2, *class_uid, 1, "Create");
    let (severity_id, severity_name) = severity(message);
    record["severity_id"] = json!(severity_id);
    record["severity"] = json!(severity_name);
    let uid = event
        .get("log_item_id")
        .and_then(Value::as_str)
        .unwrap_or(&activity.event_id);
    let threat = text(message, "security_risk_name")
        .or_else(|| text(message, "virus_name"))
        .or_else(|| text(message, "ransomware_name"));
    let policy = text(message, "triggered_policy_name");
    let title = threat
        .or(policy)
        .or_else(|| text(message, "triggered_security_filter"))
        .unwrap_or(kind);
    record["finding_info"] = json!({
        "uid": uid,
        "title": title,
        "types": [kind],
        "created_time": activity.event_timestamp.timestamp_millis(),
        "product": { "name": "Cloud App Security", "vendor_name": "Trend Micro" },
    });
    if let Some(detected_by) = text(message, "detected_by") {
        record["finding_info"]["analytic"] = json!({ "name": detected_by, "type_id": 0 });
    }
    if let Some(user) = text(message, "affected_user") {
        let mut user_json = json!({ "name": user, "type_id": 1 });
        if user.contains('@') {
            user_json["email_addr"] = json!(user);
        }
        record["actor"] = json!({ "user": user_json });
    }
    let file = file(message);
    let email = email(message);
    if *class_uid == 2004 {
        let mut evidence = Map::new();
        if let Some(file) = file {
            evidence.insert("file".into(), file);
        }
        if let Some(email) = email {
            evidence.insert("email".into(), email);
        }
        if !evidence.is_empty() {
            record["evidences"] = json!([Value::Object(evidence)]);
        }
        if let Some(threat) = threat {
            // Classification 0: Unknown; Trend Micro names the threat, not its kind.
            record["malware"] = json!([{ "name": threat, "classification_ids": [0] }]);
        }
    } else {
        let mut data_security = json!({ "policy": { "name": policy.unwrap_or("DLP") } });
        if let Some(template) = text(message, "triggered_dlp_template") {
            data_security["detection_pattern"] = json!(template);
        }
        record["data_security"] = data_security;
        if let Some(file) = file {
            record["file"] = file;
        }
        if let Some(email) = email {
            let name = email
                .get("subject")
                .and_then(Value::as_str)
                .unwrap_or("mail message");
            let mut resource = json!({ "type": "email", "name": name });
            if let Some(uid) = email.get("message_uid") {
                resource["uid"] = uid.clone();
            }
            record["resources"] = json!([resource]);
        }
    }
    let mut unmapped = Map::new();
    unmapped.insert(
        "service".into(),
        event.get("service").cloned().unwrap_or(Value::Null),
    );
    for field in [
        "scan_type",
        "action",
        "action_result",
        "detection_type",
        "triggered_security_filter",
        "mail_message_submit_time",
        "mail_message_delivery_time",
        "file_upload_time",
        "location",
    ] {
        if let Some(value) = message.get(field) {
            unmapped.insert(field.into(), value.clone());
        }
    }
    unmapped.insert("integration_id".into(), json!(activity.integration_id));
    record["unmapped"] = Value::Object(unmapped);
    Some(record)
}
