//! Netskope REST API v2 events and alerts as OCSF 1.5.0, exactly as the vendor-side mapping in
//! seed 004 lists them, value by value. What the list does not name is not guessed at: it is
//! forwarded raw ([`super::Mapped::Unmapped`]), never dropped.
//!
//! Events are told apart by `record_type` (which the connector fills from the endpoint an event
//! came from when Netskope left it out), then by the field the seed names for each class:
//! `activity` for application events, `audit_log_event` for audit events, `action` for network
//! events, `alert_type` (with `alert: "yes"`) for alerts.

use serde_json::{json, Map, Value};

use crate::domain::Activity;

/// The OCSF class and activity an event maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub class_uid: u32,
    pub activity_id: u32,
    pub activity_name: String,
    /// `Some(true)` success, `Some(false)` failure, `None` not said.
    pub succeeded: Option<bool>,
}

/// Application-event `activity` values that are Authentication (3002), besides any other value
/// containing "login".
pub const AUTHENTICATION_ACTIVITIES: &[&str] = &[
    "Login Attempt",
    "Login Failed",
    "Login Successful",
    "Logout",
];

/// Audit `audit_log_event` values that are Authentication (3002): (value, logoff?, succeeded).
pub const AUTHENTICATION_AUDIT_EVENTS: &[(&str, bool, bool)] = &[
    ("Login Failed", false, false),
    ("Login Successful", false, true),
    ("Logout Successful", true, true),
    ("SSO Login Failed", false, false),
    ("SSO Login Successful", false, true),
    ("SSO Login Successful by Netskope Support", false, true),
    ("SSO Login Failed by Netskope Support", false, false),
    // Netskope signs the admin out itself: a logoff that happened.
    (
        "Admin logged out because of successive login failures",
        true,
        true,
    ),
];

/// Audit `audit_log_event` values that are Entity Management (3004), with the OCSF activity
/// (1 Create, 3 Update, 4 Delete, 11 Deactivate, 12 Suspend, 99 Other) and the entity's type.
pub const ENTITY_MANAGEMENT_AUDIT_EVENTS: &[(&str, u32, &str)] = &[
    ("Created new inline policy", 1, "inline policy"),
    (
        "Set dedicated egress ip policy",
        3,
        "dedicated egress ip policy",
    ),
    ("Created new rbi template", 1, "rbi template"),
    ("Created new tunnel group", 1, "tunnel group"),
    (
        "Created new introspection policy",
        1,
        "introspection policy",
    ),
    (
        "Next Gen CASB API instance created",
        1,
        "Next Gen CASB API instance",
    ),
    (
        "Created a new Next Gen CASB API policy",
        1,
        "Next Gen CASB API policy",
    ),
    (
        "Next Gen CASB API retroscan created",
        1,
        "Next Gen CASB API retroscan",
    ),
    ("Edited inline policy", 3, "inline policy"),
    (
        "Update default actions for inline policies",
        3,
        "inline policy",
    ),
    ("Edited rbi template", 3, "rbi template"),
    ("Edited tunnel group", 3, "tunnel group"),
    (
        "Edit introspection policy record",
        3,
        "introspection policy",
    ),
    (
        "Next Gen CASB API instance updated",
        3,
        "Next Gen CASB API instance",
    ),
    (
        "Edited Next Gen CASB API policy",
        3,
        "Next Gen CASB API policy",
    ),
    (
        "Next Gen CASB API retroscan edited",
        3,
        "Next Gen CASB API retroscan",
    ),
    ("Deleted inline policy", 4, "inline policy"),
    ("Deleted rbi template", 4, "rbi template"),
    ("Deleted tunnel group", 4, "tunnel group"),
    ("Deleted introspection policy", 4, "introspection policy"),
    (
        "Next Gen CASB API instance deleted",
        4,
        "Next Gen CASB API instance",
    ),
    (
        "Deleted Next Gen CASB API policy",
        4,
        "Next Gen CASB API policy",
    ),
    (
        "Next Gen CASB API retroscan deleted",
        4,
        "Next Gen CASB API retroscan",
    ),
    // Pushing deploys what was edited: no OCSF activity says that, so Other, named.
    ("Pushed inline policy", 99, "inline policy"),
    ("Pushed rbi template", 99, "rbi template"),
    ("Pushed tunnel groups", 99, "tunnel group"),
    ("Applied Phoenix policy record(s)", 99, "Phoenix policy"),
    ("Pushed Introspection policies", 99, "introspection policy"),
    (
        "Pushed Next Gen CASB API policies",
        99,
        "Next Gen CASB API policy",
    ),
    (
        "Next Gen CASB API retroscan stopped",
        11,
        "Next Gen CASB API retroscan",
    ),
    (
        "Next Gen CASB API retroscan paused",
        12,
        "Next Gen CASB API retroscan",
    ),
];

/// Audit `audit_log_event` values that are Account Change (3001), with the OCSF activity
/// (1 Create, 2 Enable, 3 Password Change, 4 Password Reset, 5 Disable, 6 Delete, 12 Unlock,
/// 99 Other) and whether it succeeded when the value says.
pub const ACCOUNT_CHANGE_AUDIT_EVENTS: &[(&str, u32, Option<bool>)] = &[
    ("Created new admin", 1, None),
    ("Added SSO Admin", 1, None),
    ("Created new support admin", 1, None),
    ("Enabled admin", 2, None),
    ("Password Change Failed Attempt", 3, Some(false)),
    ("Password Change Successful", 3, Some(true)),
    ("Reset password", 4, None),
    ("Disabled admin", 5, None),
    ("Deleted admin", 6, None),
    ("Deleted Netskope SSO admin", 6, None),
    ("Enabled Netskope Support SSO", 2, None),
    ("Disabled Netskope Support SSO", 5, None),
    ("Unlocked admin", 12, None),
    ("Edited SSO Admin Record", 99, None),
    ("Edit admin record", 99, None),
    ("Updated admin settings", 99, None),
];

/// Network-event `action` values that are Network Activity (4001), with the OCSF activity
/// (1 Open, 2 Close, 5 Refuse, 6 Traffic) and disposition (1 Allowed, 2 Blocked).
pub const NETWORK_ACTIONS: &[(&str, u32, u32)] = &[
    ("Allow", 1, 1),
    ("Block", 5, 2),
    ("Bypass", 6, 1),
    ("Closed", 2, 1),
    ("Idle Timeout", 2, 1),
    ("Proceed", 6, 1),
];

/// Alert types that are Detection Finding (2004) when `alert` is "yes". Compared without case,
/// spaces or underscores: the alert endpoints say `compromisedcredential`, events say
/// `Compromised Credential`.
pub const DETECTION_ALERT_TYPES: &[&str] = &[
    "Compromised Credential",
    "Malsite",
    "Malware",
    "Policy",
    "UBA",
    "C2",
];

/// Application-event `activity` values that are File Hosting Activity (6006) when `alert` is
/// "no", with the OCSF activity (1 Upload, 2 Download, 3 Update, 4 Delete, 6 Copy, 7 Move,
/// 9 Preview, 12 Share, 14 Open, 99 Other).
pub const FILE_HOSTING_ACTIVITIES: &[(&str, u32)] = &[
    ("Browser File Upload", 1),
    ("Attach", 1),
    ("Create", 99),
    ("Download", 2),
    ("Download All", 2),
    ("Download Installer", 2),
    ("Edit", 3),
    ("Quick Edit", 3),
    ("Insert", 3),
    ("Delete", 4),
    ("Delete All", 4),
    ("Copy", 6),
    ("Move", 7),
    ("Preview", 9),
    ("Formshare", 12),
    ("File Share Access", 14),
    ("Upload", 1),
    ("Share", 12),
    ("Post", 1),
    ("View", 14),
    ("Archive", 99),
    ("Bluetooth File Transfer", 99),
    ("Detach", 99),
    ("Print", 99),
    ("Publish", 12),
];

fn text<'a>(event: &'a Value, field: &str) -> Option<&'a str> {
    event.get(field).and_then(Value::as_str).map(str::trim)
}

fn squashed(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_alert(event: &Value) -> bool {
    text(event, "alert").is_some_and(|a| a.eq_ignore_ascii_case("yes"))
}

fn file_activity_name(id: u32, value: &str) -> String {
    match id {
        1 => "Upload",
        2 => "Download",
        3 => "Update",
        4 => "Delete",
        6 => "Copy",
        7 => "Move",
        9 => "Preview",
        12 => "Share",
        14 => "Open",
        _ => return value.to_string(),
    }
    .to_string()
}

fn classified(class_uid: u32, activity_id: u32, name: &str, succeeded: Option<bool>) -> Classified {
    Classified {
        class_uid,
        activity_id,
        activity_name: name.to_string(),
        succeeded,
    }
}

/// The OCSF class of a Netskope event, or `None` when seed 004 does not list it.
fn record_type(event: &Value) -> String {
    text(event, "record_type")
        .unwrap_or_default()
        .to_ascii_lowercase()
}

pub fn classify(event: &Value) -> Option<Classified> {
    let record_type = record_type(event);
    let alert_type = text(event, "alert_type").map(squashed);

    // Data Security Finding (2006) first: a DLP alert is also an alert.
    if (record_type == "alert" && alert_type.as_deref() == Some("dlp"))
        || record_type == "incident"
        || (record_type == "epdlp"
            && text(event, "type").is_some_and(|t| t.eq_ignore_ascii_case("endpoint")))
    {
        return Some(classified(2006, 1, "Create", None));
    }
    if is_alert(event) {
        if let Some(alert_type) = &alert_type {
            if DETECTION_ALERT_TYPES
                .iter()
                .any(|listed| squashed(listed) == *alert_type)
            {
                return Some(classified(2004, 1, "Create", None));
            }
        }
    }
    if record_type == "infrastructure" {
        return Some(classified(5001, 1, "Log", None));
    }
    if record_type == "connection" {
        return Some(classified(4001, 6, "Traffic", None));
    }
    if record_type == "network" {
        let action = text(event, "action")?;
        let (_, id, _) = NETWORK_ACTIONS
            .iter()
            .find(|(value, _, _)| value.eq_ignore_ascii_case(action))?;
        return Some(classified(4001, *id, action, None));
    }
    if let Some(audit) = text(event, "audit_log_event") {
        if let Some((_, logoff, ok)) = AUTHENTICATION_AUDIT_EVENTS
            .iter()
            .find(|(value, _, _)| *value == audit)
        {
            let (id, name) = if *logoff { (2, "Logoff") } else { (1, "Logon") };
            return Some(classified(3002, id, name, Some(*ok)));
        }
        if let Some((_, id, _)) = ENTITY_MANAGEMENT_AUDIT_EVENTS
            .iter()
            .find(|(value, _, _)| *value == audit)
        {
            return Some(classified(3004, *id, audit, None));
        }
        if let Some((_, id, ok)) = ACCOUNT_CHANGE_AUDIT_EVENTS
            .iter()
            .find(|(value, _, _)| *value == audit)
        {
            return Some(classified(3001, *id, audit, *ok));
        }
        return None;
    }
    if record_type.is_empty() || record_type == "application" {
        let activity = text(event, "activity")?;
        let lower = activity.to_ascii_lowercase();
        if AUTHENTICATION_ACTIVITIES.contains(&activity) || lower.contains("login") {
            let (id, name) = if activity == "Logout" {
                (2, "Logoff")
            } else {
                (1, "Logon")
            };
            let succeeded = if lower.contains("fail") {
                Some(false)
            } else if lower.contains("success") || activity == "Logout" {
                Some(true)
            } else {
                None
            };
            return Some(classified(3002, id, name, succeeded));
        }
        if !is_alert(event) {
            if let Some((_, id)) = FILE_HOSTING_ACTIVITIES
                .iter()
                .find(|(value, _)| *value == activity)
            {
                return Some(classified(
                    6006,
                    *id,
                    &file_activity_name(*id, activity),
                    None,
                ));
            }
        }
    }
    None
}

/// Ids above 2^53 lose digits in every JSON reader that parses numbers as doubles (jq,
/// JavaScript, many SIEMs): carried as strings.
fn exact(value: &Value) -> Value {
    match value {
        Value::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.clone(), exact(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(exact).collect()),
        Value::Number(n) if n.as_u64().is_some_and(|v| v > (1u64 << 53)) => json!(n.to_string()),
        Value::Number(n) if n.as_i64().is_some_and(|v| v.unsigned_abs() > (1u64 << 53)) => {
            json!(n.to_string())
        }
        other => other.clone(),
    }
}

/// What an audit entry was about: the first of its `supporting_data.data_values` (the policy
/// edited, the admin created).
fn supporting_value(event: &Value) -> Option<&str> {
    event
        .pointer("/supporting_data/data_values")
        .and_then(Value::as_array)
        .and_then(|values| values.iter().find_map(Value::as_str))
}

/// An id field as text, whether Netskope sent it as a string or a (64-bit) number.
pub fn id_text(event: &Value, field: &str) -> Option<String> {
    match event.get(field)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn severity(event: &Value) -> (u32, &'static str) {
    let given = text(event, "severity")
        .or_else(|| text(event, "dlp_rule_severity"))
        .or_else(|| text(event, "severity_level"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    match given.as_str() {
        "low" | "1" => (2, "Low"),
        "medium" | "2" => (3, "Medium"),
        "high" | "3" => (4, "High"),
        "critical" | "4" => (5, "Critical"),
        "informational" | "info" => (1, "Informational"),
        _ => (0, "Unknown"),
    }
}

fn endpoint(ip: Option<&str>, country: Option<&str>) -> Option<Value> {
    let ip = ip.filter(|ip| !ip.is_empty())?;
    let mut endpoint = json!({ "ip": ip });
    if let Some(country) = country.filter(|c| !c.is_empty() && *c != "N/A") {
        endpoint["location"] = json!({ "country": country });
    }
    Some(endpoint)
}

fn netskope_user(event: &Value) -> Value {
    let name = text(event, "user")
        .or_else(|| text(event, "ur_normalized"))
        .filter(|u| !u.is_empty())
        .unwrap_or("unknown");
    let mut user = json!({ "name": name, "type_id": 1 });
    if name.contains('@') {
        user["email_addr"] = json!(name);
    }
    user
}

/// The `file` of an event that names one (application events, DLP alerts).
fn netskope_file(event: &Value) -> Option<Value> {
    let name = text(event, "file_name")
        .or_else(|| text(event, "object"))
        .filter(|n| !n.is_empty())?;
    let mut file = json!({ "name": name, "type_id": 1 });
    if let Some(size) = event.get("file_size").and_then(Value::as_u64) {
        file["size"] = json!(size);
    }
    if let Some(kind) = text(event, "file_type").filter(|t| !t.is_empty()) {
        file["mime_type"] = json!(kind);
    }
    if let Some(path) = text(event, "file_path").filter(|p| !p.is_empty()) {
        file["path"] = json!(path);
    }
    let mut hashes = Vec::new();
    // OCSF hash algorithms: 1 MD5, 3 SHA-256.
    for (field, id, algorithm) in [("md5", 1, "MD5"), ("sha256", 3, "SHA-256")] {
        if let Some(value) = text(event, field).filter(|v| !v.is_empty()) {
            hashes.push(json!({ "algorithm_id": id, "algorithm": algorithm, "value": value }));
        }
    }
    if !hashes.is_empty() {
        file["hashes"] = json!(hashes);
    }
    Some(file)
}

/// Fields a mapped record already carries, left out of `unmapped`.
const MAPPED_FIELDS: &[&str] = &[
    "_id",
    "timestamp",
    "user",
    "srcip",
    "userip",
    "dstip",
    "src_country",
    "dst_country",
    "file_name",
    "file_size",
    "file_type",
    "file_path",
    "md5",
    "sha256",
    "alert_name",
    "policy",
];

/// The record for a Netskope activity, or `None` when seed 004 does not map its event.
pub fn record(activity: &Activity, options: super::Options) -> Option<Value> {
    let event = &activity.raw;
    let class = classify(event)?;
    let mut record = super::common(activity, options);
    super::class_fields(
        &mut record,
        class.class_uid / 1000,
        class.class_uid,
        class.activity_id,
        &class.activity_name,
    );
    if let Some(ok) = class.succeeded {
        record["status_id"] = json!(if ok { 1 } else { 2 });
        record["status"] = json!(if ok { "Success" } else { "Failure" });
    }
    let user = netskope_user(event);
    let source = endpoint(
        text(event, "srcip").or_else(|| text(event, "userip")),
        text(event, "src_country"),
    );
    let destination = endpoint(text(event, "dstip"), text(event, "dst_country"));
    let app = text(event, "app").filter(|a| !a.is_empty());
    match class.class_uid {
        3002 => {
            record["user"] = user;
            // The service signed in to: the cloud app, or for audit events Netskope's own
            // console (the class needs a service or a destination).
            let service =
                app.or_else(|| (record_type(event) == "audit").then_some("Netskope admin console"));
            record["service"] = json!({ "name": service.unwrap_or("unknown") });
            if let Some(destination) = destination.clone() {
                record["dst_endpoint"] = destination;
            }
            if let Some(source) = source {
                record["src_endpoint"] = source;
            }
        }
        3001 => {
            // The admin whose account changed, when the audit entry names them; otherwise the
            // administrator who acted is the only user known.
            let target = supporting_value(event).filter(|t| t.contains('@'));
            record["user"] = match target {
                Some(target) => json!({ "name": target, "email_addr": target, "type_id": 2 }),
                None => user.clone(),
            };
            record["actor"] = json!({ "user": user });
            if let Some(source) = source {
                record["src_endpoint"] = source;
            }
        }
        3004 => {
            let (_, _, kind) = ENTITY_MANAGEMENT_AUDIT_EVENTS
                .iter()
                .find(|(value, _, _)| Some(*value) == text(event, "audit_log_event"))?;
            let name = supporting_value(event).unwrap_or(kind);
            record["entity"] = json!({ "name": name, "type": kind });
            record["actor"] = json!({ "user": user });
            if let Some(source) = source {
                record["src_endpoint"] = source;
            }
        }
        4001 => {
            if let Some((_, _, disposition)) = text(event, "action").and_then(|action| {
                NETWORK_ACTIONS
                    .iter()
                    .find(|(value, _, _)| value.eq_ignore_ascii_case(action))
            }) {
                record["disposition_id"] = json!(disposition);
                record["disposition"] = json!(if *disposition == 1 {
                    "Allowed"
                } else {
                    "Blocked"
                });
                record["action_id"] = json!(disposition);
                record["action"] = json!(if *disposition == 1 {
                    "Allowed"
                } else {
                    "Denied"
                });
            }
            record["actor"] = json!({ "user": user });
            // The class needs an endpoint; an event without addresses names its host instead.
            let named = json!({ "name": text(event, "hostname").filter(|h| !h.is_empty()).unwrap_or("unknown") });
            record["src_endpoint"] = source.unwrap_or(named);
            if let Some(destination) = destination {
                record["dst_endpoint"] = destination;
            }
            if let Some(app) = app {
                record["app_name"] = json!(app);
            }
        }
        2004 | 2006 => {
            let uid = id_text(event, "dlp_incident_id")
                .or_else(|| id_text(event, "incident_id"))
                .unwrap_or_else(|| activity.event_id.clone());
            let title = text(event, "alert_name")
                .or_else(|| text(event, "policy"))
                .or_else(|| text(event, "alert_type"))
                .unwrap_or("Netskope alert");
            let (severity_id, severity_name) = severity(event);
            record["severity_id"] = json!(severity_id);
            record["severity"] = json!(severity_name);
            record["finding_info"] = json!({
                "uid": uid,
                "title": title,
                "types": [text(event, "alert_type").unwrap_or(if class.class_uid == 2006 { "DLP" } else { "alert" })],
                "related_events": [{ "uid": activity.event_id }],
            });
            record["actor"] = json!({ "user": user });
            let file = netskope_file(event);
            if class.class_uid == 2006 {
                if let Some(source) = source {
                    record["src_endpoint"] = source;
                }
                let policy = text(event, "dlp_profile")
                    .or_else(|| text(event, "policy"))
                    .or_else(|| text(event, "dlp_rule"))
                    .unwrap_or(title);
                record["data_security"] = json!({ "policy": { "name": policy } });
                if let Some(file) = file {
                    record["file"] = file;
                }
            } else {
                // A detection carries what it saw as evidence: the endpoints and the file.
                let mut evidence = Map::new();
                if let Some(source) = source {
                    evidence.insert("src_endpoint".into(), source);
                }
                if let Some(destination) = destination {
                    evidence.insert("dst_endpoint".into(), destination);
                }
                if let Some(file) = file {
                    evidence.insert("file".into(), file);
                }
                if !evidence.is_empty() {
                    record["evidences"] = json!([Value::Object(evidence)]);
                }
            }
        }
        6006 => {
            record["actor"] = json!({ "user": user });
            record["src_endpoint"] = source.unwrap_or_else(|| json!({ "name": "unknown" }));
            record["file"] = netskope_file(event)
                .unwrap_or_else(|| json!({ "name": app.unwrap_or("unknown"), "type_id": 0 }));
            if let Some(destination) = destination {
                record["dst_endpoint"] = destination;
            }
        }
        5001 => {
            let name = text(event, "device")
                .or_else(|| text(event, "hostname"))
                .or_else(|| text(event, "serial_number"))
                .or_else(|| text(event, "host"))
                .filter(|n| !n.is_empty());
            let mut device = json!({ "type_id": 0 });
            if let Some(name) = name {
                device["name"] = json!(name);
            }
            if let Some(ip) = text(event, "ip").or_else(|| text(event, "srcip")) {
                device["ip"] = json!(ip);
            }
            if device.get("name").is_none() && device.get("ip").is_none() {
                device["uid"] = json!(activity.event_id);
            }
            record["device"] = device;
        }
        _ => {}
    }
    let mut unmapped = Map::new();
    if let Value::Object(fields) = event {
        for (key, value) in fields {
            if !MAPPED_FIELDS.contains(&key.as_str()) {
                unmapped.insert(key.clone(), exact(value));
            }
        }
    }
    unmapped.insert("integration_id".into(), json!(activity.integration_id));
    record["unmapped"] = Value::Object(unmapped);
    Some(record)
}
