//! Box enterprise events and webhook triggers to activities.

use chrono::{DateTime, Utc};
use serde_json::Value;

use casb_shared::domain::{
    Activity, Enrichments, EventType, IngestPath, Integration, Provider, UserType,
};

/// The CASB event type of a Box event type (`event_type` of the enterprise stream).
pub fn event_type(box_event: &str) -> EventType {
    match box_event {
        "UPLOAD" | "COPY" | "NEW_USER" => EventType::DataCreation,
        "EDIT" | "MOVE" | "RENAME" | "UNDELETE" | "LOCK" | "UNLOCK" => EventType::DataModification,
        "DELETE" | "PERMANENT_DELETE" => EventType::DataDeletion,
        "DOWNLOAD" | "PREVIEW" => EventType::DataAccess,
        "SHARE"
        | "UNSHARE"
        | "ITEM_SHARED_UPDATE"
        | "SHARE_EXPIRATION"
        | "UPDATE_SHARE_EXPIRATION"
        | "SHARED_LINK_SEND"
        | "COLLABORATION_INVITE"
        | "COLLABORATION_ACCEPT"
        | "COLLABORATION_REMOVE"
        | "COLLABORATION_ROLE_CHANGE"
        | "COLLABORATION_EXPIRATION" => EventType::DataSharing,
        "LOGIN" | "ADMIN_LOGIN" => EventType::Login,
        "FAILED_LOGIN" => EventType::LoginFailure,
        "LOGOUT" => EventType::Logout,
        "CHANGE_ADMIN_ROLE"
        | "GROUP_ADD_USER"
        | "GROUP_REMOVE_USER"
        | "EDIT_USER"
        | "DELETE_USER"
        | "ENABLE_TWO_FACTOR_AUTH"
        | "ADD_LOGIN_ACTIVITY_DEVICE" => EventType::Administration,
        _ => EventType::Other,
    }
}

/// The enterprise event name a webhook trigger corresponds to, so both paths speak one language.
pub fn event_name_for_trigger(trigger: &str) -> &str {
    match trigger {
        "FILE.UPLOADED" => "UPLOAD",
        "FILE.PREVIEWED" => "PREVIEW",
        "FILE.DOWNLOADED" => "DOWNLOAD",
        "FILE.TRASHED" | "FILE.DELETED" => "DELETE",
        "FILE.RESTORED" => "UNDELETE",
        "FILE.COPIED" => "COPY",
        "FILE.MOVED" => "MOVE",
        "FILE.RENAMED" => "RENAME",
        "FILE.LOCKED" => "LOCK",
        "FILE.UNLOCKED" => "UNLOCK",
        "SHARED_LINK.CREATED" => "SHARE",
        "SHARED_LINK.UPDATED" => "ITEM_SHARED_UPDATE",
        "SHARED_LINK.DELETED" => "UNSHARE",
        "COLLABORATION.CREATED" => "COLLABORATION_INVITE",
        "COLLABORATION.ACCEPTED" => "COLLABORATION_ACCEPT",
        "COLLABORATION.REMOVED" => "COLLABORATION_REMOVE",
        "COLLABORATION.UPDATED" => "COLLABORATION_ROLE_CHANGE",
        other => other,
    }
}

pub(super) fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn timestamp(value: &Value, key: &str) -> Option<DateTime<Utc>> {
    value
        .get(key)?
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A Box enterprise event as an activity (before enrichment). `None` for an entry without an
/// event id, which cannot be deduplicated and is therefore skipped (and logged).
pub fn map_event(integration: &Integration, entry: &Value) -> Option<Activity> {
    let event_id = text(entry, "event_id")?;
    let event_name = text(entry, "event_type").unwrap_or_else(|| "UNKNOWN".into());
    let created_by = entry.get("created_by").cloned().unwrap_or(Value::Null);
    let source = entry.get("source").cloned().unwrap_or(Value::Null);
    let details = entry
        .get("additional_details")
        .cloned()
        .unwrap_or(Value::Null);
    // Item events carry {item_type, item_id, item_name}; user events carry a user object.
    let (object_type, object_id, object_name) = if source.get("item_type").is_some() {
        (
            text(&source, "item_type"),
            text(&source, "item_id"),
            text(&source, "item_name"),
        )
    } else {
        (
            text(&source, "type"),
            text(&source, "id"),
            text(&source, "name").or_else(|| text(&source, "login")),
        )
    };
    let event_timestamp = timestamp(entry, "created_at").unwrap_or_else(Utc::now);
    Some(Activity {
        tenant_id: integration.tenant_id.clone(),
        event_id,
        event_type: event_type(&event_name),
        event_timestamp,
        log_timestamp: timestamp(entry, "recorded_at"),
        actor_id: text(&created_by, "id"),
        actor_name: text(&created_by, "name"),
        actor_email: text(&created_by, "login").map(|e| e.to_ascii_lowercase()),
        actor_type: UserType::Unknown,
        actor_role: text(&details, "actor_role"),
        actor_ip: text(entry, "ip_address").or_else(|| text(&details, "ip_address")),
        object_id,
        file_download_url: None,
        object_type,
        object_name,
        object_path: None,
        from_email: None,
        target_user_email: text(&details, "invitee_email")
            .or_else(|| text(&details, "collaborator_email"))
            .or_else(|| details.get("invitee").and_then(|a| text(a, "login")))
            .or_else(|| details.get("accessible_by").and_then(|a| text(a, "login")))
            // An admin event about a user (created, deleted, its role changed): that user.
            .or_else(|| {
                (text(&source, "type").as_deref() == Some("user"))
                    .then(|| text(&source, "login"))
                    .flatten()
            })
            .map(|e| e.to_ascii_lowercase()),
        target_user_id: details
            .get("invitee")
            .or_else(|| details.get("accessible_by"))
            .and_then(|a| text(a, "id"))
            .or_else(|| {
                (text(&source, "type").as_deref() == Some("user"))
                    .then(|| text(&source, "id"))
                    .flatten()
            }),
        target_user_type: None,
        role_granted: text(&details, "role"),
        shared_link: None,
        link_visibility: None,
        event_name,
        provider: Provider::Box,
        integration_id: integration.id.clone(),
        ingest_path: IngestPath::Pull,
        raw: entry.clone(),
        enrichments: Enrichments::default(),
        identity: None,
        incomplete: None,
        seen_by: vec![],
    })
}

/// The identity of the user action a Box activity records, the same whether it came from the
/// enterprise event stream or a webhook: Box stamps both with the action's time, and webhook
/// triggers map onto event names ([`event_name_for_trigger`]). Needs the actor, the item and
/// the time; without them the event id stands alone.
pub fn action_identity(activity: &Activity) -> Option<String> {
    // Sign-ins come only from the event stream (no webhook trigger carries them), so no other
    // copy needs joining; and twenty failed sign-ins in one second are twenty attempts, not
    // one (a brute force counts them).
    if matches!(
        activity.event_type,
        EventType::Login | EventType::LoginFailure | EventType::Logout
    ) {
        return None;
    }
    let actor = activity.actor_id.as_deref()?;
    let object = activity.object_id.as_deref()?;
    Some(format!(
        "box-action#{}#{}#{}#{}",
        activity.event_name,
        object,
        actor,
        activity.event_timestamp.timestamp()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integration() -> Integration {
        Integration {
            id: "int-1".into(),
            tenant_id: "tenant-a".into(),
            provider: Provider::Box,
            external_tenant_id: None,
            display_name: "Box".into(),
            mode: casb_shared::domain::IngestMode::Pull,
            status: casb_shared::domain::IntegrationStatus::Connected,
            credential: Default::default(),
            webhook_ids: vec![],
            settings: serde_json::json!({}),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_documented_upload_event_maps_to_a_data_creation_activity() {
        // The example event of saas-apis.md §1.2.
        let entry = serde_json::json!({"type":"event","event_id":"f82c3ba03e41f7e8a7608363cc6c0390183c3f83",
            "event_type":"UPLOAD","created_at":"2022-12-12T10:53:43-08:00","recorded_at":"2022-12-12T10:54:43-08:00",
            "created_by":{"type":"user","id":"11446498","name":"Aaron Levie","login":"ceo@example.com"},
            "source":{"item_type":"file","item_id":"560284318361","item_name":"report.pdf","parent":{"type":"folder","id":"0","name":"All Files"},
              "owned_by":{"type":"user","id":"11446498","login":"ceo@example.com"}},"additional_details":{}});
        let activity = map_event(&integration(), &entry).unwrap();
        assert_eq!(
            activity.event_id,
            "f82c3ba03e41f7e8a7608363cc6c0390183c3f83"
        );
        assert_eq!(activity.event_type, EventType::DataCreation);
        assert_eq!(
            activity.event_timestamp.to_rfc3339(),
            "2022-12-12T18:53:43+00:00"
        );
        assert_eq!(
            activity.log_timestamp.unwrap().to_rfc3339(),
            "2022-12-12T18:54:43+00:00"
        );
        assert_eq!(activity.actor_email.as_deref(), Some("ceo@example.com"));
        assert_eq!(activity.actor_name.as_deref(), Some("Aaron Levie"));
        assert_eq!(activity.object_type.as_deref(), Some("file"));
        assert_eq!(activity.object_id.as_deref(), Some("560284318361"));
        assert_eq!(activity.object_name.as_deref(), Some("report.pdf"));
        assert_eq!(activity.raw, entry);
    }

    #[test]
    fn events_without_ids_are_refused_and_user_sources_are_mapped() {
        assert!(map_event(&integration(), &serde_json::json!({"event_type": "UPLOAD"})).is_none());
        let login = serde_json::json!({"event_id": 42, "event_type": "FAILED_LOGIN",
            "source": {"type": "user", "id": "7", "login": "bob@example.com"}, "ip_address": "203.0.113.9"});
        let activity = map_event(&integration(), &login).unwrap();
        assert_eq!(activity.event_id, "42");
        assert_eq!(activity.event_type, EventType::LoginFailure);
        assert_eq!(activity.object_type.as_deref(), Some("user"));
        assert_eq!(activity.actor_ip.as_deref(), Some("203.0.113.9"));
    }
}
