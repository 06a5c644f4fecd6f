//! OCSF 1.5.0: the records the product keeps, as SIEMs and Amazon Security Lake read them.
//!
//! - activities about files: File Hosting Activity (6006);
//! - sign-ins and sign-outs: Authentication (3002);
//! - accounts created, deleted, changed or given MFA: Account Change (3001); group membership:
//!   Group Management (3006);
//! - other activities: API Activity (6003), the provider's operation by name;
//! - incidents: Data Security Finding (2006), with the detectors and counts (never values).
//!
//! Every record carries `metadata.version` "1.5.0", this product and its version, a stable
//! `metadata.uid` (the activity or incident id), `time` in epoch milliseconds, and what OCSF has
//! no place for under `unmapped`; the provider's original event goes in `raw_data` when asked.
//! The shipped JSON Schemas (`../shared/ocsf/1.5.0/`) are the test of every mapping.

pub mod netskope;
pub mod trend_micro;

use serde_json::{json, Map, Value};

use crate::domain::{
    Activity, EventType, Incident, IncidentStatus, LinkVisibility, Provider, Severity, UserType,
};

pub const OCSF_VERSION: &str = "1.5.0";

/// What the records carry beyond the mapping itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Put the provider's original event in `raw_data`.
    pub raw_data: bool,
}

fn metadata(uid: &str, tenant: &str, logged: Option<i64>) -> Value {
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "uid": uid,
        "tenant_uid": tenant,
        "product": {
            "name": "casb",
            "vendor_name": "casb (open source)",
            "version": env!("CARGO_PKG_VERSION"),
        },
    });
    if let Some(logged) = logged {
        metadata["logged_time"] = json!(logged);
    }
    metadata
}

fn user(
    email: Option<&str>,
    id: Option<&str>,
    name: Option<&str>,
    kind: Option<UserType>,
) -> Value {
    let mut user = Map::new();
    if let Some(email) = email {
        user.insert("email_addr".into(), json!(email));
    }
    if let Some(id) = id {
        user.insert("uid".into(), json!(id));
    }
    if let Some(name) = name.or(email) {
        user.insert("name".into(), json!(name));
    }
    // OCSF user types: 1 User, 2 Admin, 3 System; who is external is said by the org.
    user.insert("type_id".into(), json!(1));
    if let Some(kind) = kind {
        let org = match kind {
            UserType::Internal => "internal",
            UserType::External => "external",
            UserType::Unknown => "unknown",
        };
        user.insert("org".into(), json!({ "name": org }));
    }
    Value::Object(user)
}

/// An OCSF `file` object for a provider's file or folder.
fn file_object(
    uid: Option<&str>,
    name: Option<&str>,
    kind: Option<&str>,
    path: Option<&str>,
) -> Value {
    let mut file = json!({
        "name": name.unwrap_or_default(),
        // 1 Regular File, 2 Folder.
        "type_id": if kind == Some("folder") { 2 } else { 1 },
    });
    if let Some(uid) = uid {
        file["uid"] = json!(uid);
    }
    if let Some(path) = path {
        file["path"] = json!(path);
    }
    file
}

fn incident_file(incident: &Incident) -> Value {
    let object = &incident.object;
    file_object(
        object.object_id.as_deref(),
        object.object_name.as_deref(),
        object.object_type.as_deref(),
        object.object_path.as_deref(),
    )
}

/// File Hosting Activity ids, from the provider's event name where it says more than the
/// activity's type.
fn file_hosting_activity(activity: &Activity) -> (u32, &'static str) {
    let name = activity.event_name.to_ascii_uppercase();
    let by_name: &[(&str, u32, &str)] = &[
        ("UNDELETE", 8, "Restore"),
        ("UNLOCK", 11, "Unlock"),
        ("UNSHARE", 13, "Unshare"),
        ("COLLABORATION_REMOVE", 13, "Unshare"),
        ("UPLOAD", 1, "Upload"),
        ("DOWNLOAD", 2, "Download"),
        ("PREVIEW", 9, "Preview"),
        ("RENAME", 5, "Rename"),
        ("COPY", 6, "Copy"),
        ("MOVE", 7, "Move"),
        ("LOCK", 10, "Lock"),
        ("DELETE", 4, "Delete"),
        ("EDIT", 3, "Update"),
        ("SHARE", 12, "Share"),
        ("COLLABORATION", 12, "Share"),
    ];
    if let Some((_, id, label)) = by_name.iter().find(|(n, _, _)| name.contains(n)) {
        return (*id, label);
    }
    match activity.event_type {
        EventType::DataCreation => (1, "Upload"),
        EventType::DataModification => (3, "Update"),
        EventType::DataDeletion => (4, "Delete"),
        EventType::DataAccess => (14, "Open"),
        EventType::DataSharing => (12, "Share"),
        _ => (99, "Other"),
    }
}

/// Account Change (3001) activities, by the provider's event name (Box admin events).
const ACCOUNT_CHANGES: &[(&str, u32, &str)] = &[
    ("NEW_USER", 1, "Create"),
    ("DELETE_USER", 6, "Delete"),
    ("EDIT_USER", 99, "Update"),
    ("CHANGE_ADMIN_ROLE", 99, "Change Role"),
    ("ENABLE_TWO_FACTOR_AUTH", 10, "MFA Factor Enable"),
];

/// Group Management (3006) activities, by the provider's event name.
const GROUP_CHANGES: &[(&str, u32, &str)] = &[
    ("GROUP_ADD_USER", 3, "Add User"),
    ("GROUP_REMOVE_USER", 4, "Remove User"),
    ("GROUP_CREATION", 6, "Create"),
    ("GROUP_DELETION", 5, "Delete"),
];

fn by_event_name(
    table: &[(&str, u32, &'static str)],
    activity: &Activity,
) -> Option<(u32, &'static str)> {
    let name = activity.event_name.to_ascii_uppercase();
    table
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, id, label)| (*id, *label))
}

fn account_change(activity: &Activity) -> Option<(u32, &'static str)> {
    by_event_name(ACCOUNT_CHANGES, activity)
}

fn group_change(activity: &Activity) -> Option<(u32, &'static str)> {
    by_event_name(GROUP_CHANGES, activity)
}

/// The user an event acts on: its target, or the user it is about (a Box user event's source).
fn user_acted_on(activity: &Activity) -> Option<&str> {
    activity.target_user_email.as_deref().or_else(|| {
        (activity.object_type.as_deref() == Some("user"))
            .then_some(activity.object_name.as_deref())
            .flatten()
    })
}

/// A person known by a login: an e-mail address when it is one, else a name.
fn person(login: &str, id: Option<&str>, kind: Option<UserType>) -> Value {
    if login.contains('@') {
        user(Some(login), id, None, kind)
    } else {
        user(None, id, Some(login), kind)
    }
}

fn class_fields(record: &mut Value, category: u32, class: u32, activity_id: u32, name: &str) {
    record["category_uid"] = json!(category);
    record["class_uid"] = json!(class);
    record["activity_id"] = json!(activity_id);
    record["activity_name"] = json!(name);
    record["type_uid"] = json!(class * 100 + activity_id);
}

/// What an activity becomes on its way to a SIEM.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// An OCSF record.
    Ocsf(Value),
    /// An event the source's mapping does not cover: forwarded as it came, marked
    /// (`casb_unmapped: true`), never dropped.
    Unmapped(Value),
}

/// The record for any activity: the source-specific mapping for security-event sources
/// (Netskope, Trend Micro), the generic one for SaaS activity feeds.
pub fn map_activity(activity: &Activity, options: Options) -> Mapped {
    let specific = match activity.provider {
        Provider::Netskope => netskope::record(activity, options),
        Provider::TrendMicro => trend_micro::record(activity, options),
        _ => return Mapped::Ocsf(self::activity(activity, options)),
    };
    match specific {
        Some(record) => Mapped::Ocsf(record),
        None => Mapped::Unmapped(unmapped_event(
            activity.provider.as_str(),
            Some(activity),
            &activity.raw,
        )),
    }
}

/// An event no mapping covers, as forwarded: the raw event under `raw`, with what identifies it.
pub fn unmapped_event(provider: &str, activity: Option<&Activity>, raw: &Value) -> Value {
    let mut record = json!({ "casb_unmapped": true, "provider": provider, "raw": raw });
    if let Some(activity) = activity {
        record["uid"] = json!(activity.id());
        record["tenant_uid"] = json!(activity.tenant_id);
        record["integration_id"] = json!(activity.integration_id);
        record["time"] = json!(activity.event_timestamp.timestamp_millis());
    }
    record
}

/// What every activity record starts with: metadata, time, an informational severity, a
/// message, and the original event when asked.
fn common(activity: &Activity, options: Options) -> Value {
    let logged = activity.log_timestamp.map(|t| t.timestamp_millis());
    let mut record = json!({
        "metadata": metadata(&activity.id(), &activity.tenant_id, logged),
        "time": activity.event_timestamp.timestamp_millis(),
        "severity_id": 1,
        "severity": "Informational",
        "message": format!("{} {}", activity.provider, activity.event_name),
    });
    if options.raw_data {
        record["raw_data"] = json!(activity.raw.to_string());
    }
    record
}

/// One activity of a SaaS activity feed as its OCSF class.
pub fn activity(activity: &Activity, options: Options) -> Value {
    let actor_user = user(
        activity.actor_email.as_deref(),
        activity.actor_id.as_deref(),
        activity.actor_name.as_deref(),
        Some(activity.actor_type),
    );
    let mut record = common(activity, options);
    let mut unmapped = Map::new();
    unmapped.insert("provider".into(), json!(activity.provider.as_str()));
    unmapped.insert("integration_id".into(), json!(activity.integration_id));
    unmapped.insert("event_name".into(), json!(activity.event_name));
    unmapped.insert("event_id".into(), json!(activity.event_id));
    // Required by the file and API classes, and an endpoint must say something about itself:
    // when the provider reported no address, it is named as unknown rather than left empty.
    let src_endpoint = match &activity.actor_ip {
        Some(ip) => json!({ "ip": ip }),
        None => json!({ "name": "unknown" }),
    };
    let (account_change, group_change) = (account_change(activity), group_change(activity));
    match activity.event_type {
        EventType::Login | EventType::LoginFailure | EventType::Logout => {
            let (id, name) = if activity.event_type == EventType::Logout {
                (2, "Logoff")
            } else {
                (1, "Logon")
            };
            class_fields(&mut record, 3, 3002, id, name);
            record["user"] = actor_user;
            // The service signed in to: the SaaS provider.
            record["service"] = json!({ "name": activity.provider.as_str() });
            let failed = activity.event_type == EventType::LoginFailure;
            record["status_id"] = json!(if failed { 2 } else { 1 });
            record["status"] = json!(if failed { "Failure" } else { "Success" });
            if activity.actor_ip.is_some() {
                record["src_endpoint"] = src_endpoint;
            }
        }
        _ if account_change.is_some() => {
            let (id, name) = account_change.unwrap_or((99, "Other"));
            class_fields(&mut record, 3, 3001, id, name);
            record["actor"] = json!({ "user": actor_user.clone() });
            // The account that changed: the event's target, or the user it is about.
            let changed_id = activity
                .target_user_id
                .as_deref()
                .or(activity.object_id.as_deref());
            record["user"] = match user_acted_on(activity) {
                Some(login) => person(login, changed_id, activity.target_user_type),
                None => actor_user,
            };
            if activity.actor_ip.is_some() {
                record["src_endpoint"] = src_endpoint;
            }
        }
        _ if group_change.is_some() => {
            let (id, name) = group_change.unwrap_or((99, "Other"));
            class_fields(&mut record, 3, 3006, id, name);
            record["actor"] = json!({ "user": actor_user });
            // Box names the group in the event's details, or the event is about the group.
            let about_group = activity.object_type.as_deref() == Some("group");
            let detail = |field: &str| {
                activity
                    .raw
                    .pointer(&format!("/additional_details/{field}"))
                    .and_then(Value::as_str)
            };
            let group_name = detail("group_name").or(about_group
                .then_some(activity.object_name.as_deref())
                .flatten());
            let group_id = detail("group_id").or(about_group
                .then_some(activity.object_id.as_deref())
                .flatten());
            let mut group = Map::new();
            group.insert("name".into(), json!(group_name.unwrap_or("unknown")));
            if let Some(id) = group_id {
                group.insert("uid".into(), json!(id));
            }
            record["group"] = Value::Object(group);
            if let Some(member) = user_acted_on(activity) {
                record["user"] = person(member, None, activity.target_user_type);
            }
        }
        _ if activity.object_id.is_some()
            && matches!(activity.object_type.as_deref(), Some("file" | "folder")) =>
        {
            let (id, name) = file_hosting_activity(activity);
            class_fields(&mut record, 6, 6006, id, name);
            record["actor"] = json!({ "user": actor_user });
            record["src_endpoint"] = src_endpoint;
            let mut file = file_object(
                activity.object_id.as_deref(),
                activity.object_name.as_deref(),
                activity.object_type.as_deref(),
                activity.object_path.as_deref(),
            );
            if let Some(exposure) = &activity.enrichments.exposure {
                if let Some(sha1) = &exposure.content_sha1 {
                    // Hash algorithm 2: SHA-1.
                    file["hashes"] =
                        json!([{ "algorithm_id": 2, "algorithm": "SHA-1", "value": sha1 }]);
                }
                if let Some(size) = exposure.size {
                    file["size"] = json!(size);
                }
                if let Some(owner) = &exposure.owner_email {
                    file["owner"] = json!({ "email_addr": owner, "name": owner });
                }
                file["is_public"] = json!(exposure.public_link);
                if !exposure.external_collaborators.is_empty() {
                    unmapped.insert(
                        "external_collaborators".into(),
                        json!(exposure.external_collaborators),
                    );
                }
            }
            record["file"] = file;
            if let Some(link) = &activity.shared_link {
                unmapped.insert("shared_link".into(), json!(link));
            }
            if let Some(visibility) = activity.link_visibility {
                // Share types: 1 File, 2 Pipe, 3 Print; a link is none of them.
                unmapped.insert(
                    "link_visibility".into(),
                    json!(match visibility {
                        LinkVisibility::Public => "public",
                        LinkVisibility::Organization => "organization",
                        LinkVisibility::Restricted => "restricted",
                    }),
                );
            }
            if let Some(target) = &activity.target_user_email {
                unmapped.insert(
                    "target_user".into(),
                    user(
                        Some(target),
                        activity.target_user_id.as_deref(),
                        None,
                        activity.target_user_type,
                    ),
                );
            }
        }
        _ => {
            let id = match activity.event_type {
                EventType::DataCreation => 1,
                EventType::DataAccess => 2,
                EventType::DataModification | EventType::Administration => 3,
                EventType::DataDeletion => 4,
                _ => 99,
            };
            let name = match id {
                1 => "Create",
                2 => "Read",
                3 => "Update",
                4 => "Delete",
                _ => "Other",
            };
            class_fields(&mut record, 6, 6003, id, name);
            record["actor"] = json!({ "user": actor_user });
            record["src_endpoint"] = src_endpoint;
            record["api"] = json!({
                "operation": activity.event_name,
                "service": { "name": activity.provider.as_str() },
            });
        }
    }
    record["unmapped"] = Value::Object(unmapped);
    record
}

fn severity_id(severity: Severity) -> (u32, &'static str) {
    match severity {
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// An incident as a Data Security Finding (2006).
pub fn incident(incident: &Incident) -> Value {
    let (severity_id, severity) = severity_id(incident.severity);
    let (status_id, status) = match incident.status {
        IncidentStatus::Open => (1, "New"),
        IncidentStatus::InProgress => (2, "In Progress"),
        IncidentStatus::FalsePositive => (3, "Suppressed"),
        IncidentStatus::Resolved => (4, "Resolved"),
    };
    // 1 Create; 2 Update once anything happened to it after it was opened.
    let (activity_id, activity_name) = if incident.updated_at > incident.created_at {
        (2, "Update")
    } else {
        (1, "Create")
    };
    let detectors: Vec<&crate::domain::MatchSummary> = incident.matches.iter().collect();
    let total: u32 = detectors.iter().map(|m| m.count).sum();
    let mut record = json!({
        "metadata": metadata(&incident.id, &incident.tenant_id, None),
        "time": incident.updated_at.timestamp_millis(),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "finding_info": {
            "uid": incident.id,
            "title": incident.policy_name,
            "created_time": incident.created_at.timestamp_millis(),
            "modified_time": incident.updated_at.timestamp_millis(),
            "related_events": [{ "uid": incident.activity_id }],
            "types": ["Data Security"],
        },
        "data_security": {
            "policy": {
                "uid": incident.policy_id,
                "name": incident.policy_name,
                "version": incident.policy_version.to_string(),
            },
            "total": total,
            "discovery_details": detectors.iter().map(|m| json!({
                "type": m.rule,
                "count": m.count,
            })).collect::<Vec<_>>(),
        },
        "unmapped": {
            "provider": incident.object.provider.as_str(),
            "integration_id": incident.integration_id,
            "actions": incident.actions.iter().map(|a| json!({
                "kind": a.kind.as_str(),
                "channel": a.channel,
                "status": crate::domain::enum_label(&a.status),
                "detail": a.detail,
            })).collect::<Vec<_>>(),
            "reopened": incident.reopened,
            "monitor_only": incident.monitor_only,
        },
    });
    class_fields(&mut record, 2, 2006, activity_id, activity_name);
    if incident.object.object_id.is_some() {
        record["file"] = incident_file(incident);
    }
    if let Some(actor) = &incident.actor_email {
        record["actor"] = json!({ "user": user(Some(actor), None, None, None) });
    }
    record
}

/// An anomaly as a Detection Finding (2004): the detector as the analytic, the explanation as
/// the finding's description, the activities behind it as related events, and for the
/// statistical detectors what was observed against the baseline.
pub fn anomaly(anomaly: &crate::domain::Anomaly, activity_ids: &[String]) -> Value {
    use crate::domain::DetectorKind;
    let (severity_id, severity) = severity_id(anomaly.severity);
    let (activity_id, activity_name) = if anomaly.version > 1 {
        (2, "Update")
    } else {
        (1, "Create")
    };
    // OCSF analytic types: 1 Rule, 2 Behavioral, 3 Statistical.
    let (analytic_type_id, analytic_type) = match anomaly.detector {
        DetectorKind::MassDownload
        | DetectorKind::MassDeletion
        | DetectorKind::MassSharing
        | DetectorKind::UnusualHours => (3, "Statistical"),
        DetectorKind::ImpossibleTravel | DetectorKind::NewCountry => (2, "Behavioral"),
        DetectorKind::BruteForce | DetectorKind::AdminGrant | DetectorKind::PersonalDomainShare => {
            (1, "Rule")
        }
    };
    let mut record = json!({
        "metadata": metadata(&format!("{}#{}", anomaly.id, anomaly.version), &anomaly.tenant_id, None),
        "time": anomaly.updated_at.timestamp_millis(),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "is_alert": true,
        "message": anomaly.explanation,
        "count": anomaly.activity_count,
        "start_time": anomaly.first_activity_at.timestamp_millis(),
        "end_time": anomaly.last_activity_at.timestamp_millis(),
        "finding_info": {
            "uid": anomaly.id,
            "title": anomaly.detector.title(),
            "desc": anomaly.explanation,
            "types": [anomaly.category.label()],
            "analytic": {
                "uid": anomaly.detector.as_str(),
                "name": anomaly.detector.title(),
                "type_id": analytic_type_id,
                "type": analytic_type,
            },
            "created_time": anomaly.created_at.timestamp_millis(),
            "modified_time": anomaly.updated_at.timestamp_millis(),
            "first_seen_time": anomaly.first_activity_at.timestamp_millis(),
            "last_seen_time": anomaly.last_activity_at.timestamp_millis(),
            "related_events": activity_ids.iter().map(|id| json!({ "uid": id })).collect::<Vec<_>>(),
            "related_events_count": anomaly.activity_count,
        },
        "unmapped": {
            "provider": anomaly.provider.as_str(),
            "integration_id": anomaly.integration_id,
            "subject": anomaly.subject,
            "category": anomaly.category.label(),
            "evidence": anomaly.evidence,
        },
    });
    class_fields(&mut record, 2, 2004, activity_id, activity_name);
    let evidence = &anomaly.evidence;
    if let (Some(count), Some(threshold)) =
        (evidence["count"].as_u64(), evidence["threshold"].as_u64())
    {
        let window = evidence["window_minutes"].as_u64().unwrap_or(60);
        let parameter = anomaly.detector.as_str();
        let mut analysis = json!({
            "analysis_targets": [{
                "name": anomaly.subject,
                "type": if anomaly.subject.starts_with("ip:") { "IP Address" } else { "User" },
            }],
            "anomalies": [{
                "observation_parameter": parameter,
                "observation_type": "count per window",
                "observations": [{ "value": count.to_string(), "count": count, "timespan": { "duration_mins": window } }],
            }],
        });
        analysis["baselines"] = json!([{
            "observation_parameter": parameter,
            "observation_type": "threshold per window",
            "observations": [{ "value": threshold.to_string(), "timespan": { "duration_mins": window } }],
        }]);
        record["anomaly_analyses"] = json!([analysis]);
    }
    let subject = &anomaly.subject;
    if let Some(address) = subject.strip_prefix("ip:") {
        record["evidences"] = json!([{ "src_endpoint": { "ip": address } }]);
    } else if let Some(login) = subject.strip_prefix("user:") {
        record["actor"] = json!({ "user": person(login, None, None) });
    }
    record
}

/// A response action carried out at the provider, as File Remediation Activity (7002), or
/// Remediation Activity (7001) when what it acted on is not a file or folder. `None`
/// for notifications (not a remediation) and for actions not tried yet.
pub fn response_action(incident: &Incident, record: &crate::domain::ActionRecord) -> Option<Value> {
    use crate::domain::{ActionKind, ActionStatus};
    let (activity_id, activity_name) = match (record.kind, record.status) {
        (ActionKind::Notify, _) | (_, ActionStatus::Pending) => return None,
        (_, ActionStatus::Restored) => (3, "Restore"),
        // A suspended account is isolated; signed-out sessions are evicted.
        (ActionKind::Quarantine | ActionKind::SuspendUser, _) => (1, "Isolate"),
        (ActionKind::Delete | ActionKind::SignOutUser, _) => (2, "Evict"),
        (ActionKind::RemoveSharedLink | ActionKind::RemoveExternalCollaborators, _) => {
            (4, "Harden")
        }
    };
    let (status_id, status) = match record.status {
        ActionStatus::Succeeded | ActionStatus::Restored => (1, "Success"),
        ActionStatus::Failed => (2, "Failure"),
        ActionStatus::Unsupported => (5, "Unsupported"),
        ActionStatus::Skipped => (99, "Skipped (monitor mode)"),
        ActionStatus::Pending => return None,
    };
    let (severity_id, severity) = severity_id(incident.severity);
    let mut record_json = json!({
        "metadata": metadata(&record.action_id, &incident.tenant_id, None),
        "time": record.updated_at.timestamp_millis(),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "command_uid": record.action_id,
        "remediation": { "desc": record.kind.as_str() },
        "unmapped": {
            "incident_uid": incident.id,
            "policy_uid": incident.policy_id,
            "attempts": record.attempts,
        },
    });
    if let Some(detail) = &record.detail {
        record_json["status_detail"] = json!(detail);
    }
    // A file or folder: File Remediation Activity; anything else acted on (a mail message, an
    // account) is the general Remediation Activity, which has no file.
    let on_file = matches!(
        incident.object.object_type.as_deref(),
        None | Some("file" | "folder")
    );
    if on_file {
        record_json["file"] = incident_file(incident);
        class_fields(&mut record_json, 7, 7002, activity_id, activity_name);
    } else {
        record_json["unmapped"]["object"] = json!({
            "type": incident.object.object_type,
            "uid": incident.object.object_id,
            "name": incident.object.object_name,
        });
        class_fields(&mut record_json, 7, 7001, activity_id, activity_name);
    }
    Some(record_json)
}

/// A change to this product's own configuration: a policy set applied, an integration
/// connected, paused, resumed or removed.
#[derive(Debug, Clone)]
pub struct ConfigChange<'a> {
    pub tenant_id: &'a str,
    /// Stable for this change (the same change recorded twice is one record).
    pub uid: String,
    /// `policy set`, `integration`.
    pub entity_type: &'a str,
    pub entity_uid: &'a str,
    pub entity_name: &'a str,
    pub entity_version: Option<String>,
    /// Entity Management activity: 1 Create, 3 Update, 4 Delete, 12 Suspend, 13 Resume.
    pub activity_id: u32,
    pub time: chrono::DateTime<chrono::Utc>,
    /// What OCSF has no place for (the provider, the ingest mode, the file name).
    pub details: Value,
}

/// A configuration change as Entity Management (3004).
pub fn config_change(change: &ConfigChange<'_>) -> Value {
    let name = match change.activity_id {
        1 => "Create",
        3 => "Update",
        4 => "Delete",
        12 => "Suspend",
        13 => "Resume",
        _ => "Other",
    };
    let mut entity = json!({
        "uid": change.entity_uid,
        "name": change.entity_name,
        "type": change.entity_type,
    });
    if let Some(version) = &change.entity_version {
        entity["version"] = json!(version);
    }
    let mut record = json!({
        "metadata": metadata(&change.uid, change.tenant_id, None),
        "time": change.time.timestamp_millis(),
        "severity_id": 1,
        "severity": "Informational",
        "message": format!("{} {} {}", change.entity_type, change.entity_name, name.to_lowercase()),
        "entity": entity,
        "unmapped": change.details,
    });
    class_fields(&mut record, 3, 3004, change.activity_id, name);
    record
}
