//! Office 365 Management Activity API records to activities (saas-apis.md §2.2; the common
//! schema and the SharePoint, sharing and Azure AD schemas of the Management API).
//!
//! Every record becomes an activity: one whose operation we do not know is kept as
//! [`EventType::Other`] with its raw record, never dropped.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use casb_shared::domain::{
    Activity, Enrichments, EventType, IngestPath, Integration, LinkVisibility, Provider, UserType,
};

/// The CASB event type of a Management API `Operation`.
pub fn event_type(operation: &str) -> EventType {
    match operation {
        "FileUploaded" | "FileCopied" | "FolderCreated" | "FolderCopied" | "FileRestored"
        | "FolderRestored" => EventType::DataCreation,
        "FileModified"
        | "FileModifiedExtended"
        | "FileMoved"
        | "FileRenamed"
        | "FolderMoved"
        | "FolderRenamed"
        | "FolderModified"
        | "FileCheckedIn"
        | "FileCheckedOut"
        | "FileVersionsAllDeleted" => EventType::DataModification,
        "FileDeleted"
        | "FileDeletedFirstStageRecycleBin"
        | "FileDeletedSecondStageRecycleBin"
        | "FileRecycled"
        | "FolderDeleted"
        | "FolderDeletedFirstStageRecycleBin"
        | "FolderDeletedSecondStageRecycleBin"
        | "FolderRecycled" => EventType::DataDeletion,
        "FileAccessed"
        | "FileAccessedExtended"
        | "FileDownloaded"
        | "FilePreviewed"
        | "FileSyncDownloadedFull"
        | "FileSyncDownloadedPartial"
        | "AnonymousLinkUsed"
        | "CompanyLinkUsed"
        | "SecureLinkUsed"
        | "PageViewed" => EventType::DataAccess,
        "SharingSet"
        | "SharingRevoked"
        | "SharingInheritanceBroken"
        | "SharingInvitationCreated"
        | "SharingInvitationAccepted"
        | "SharingInvitationRevoked"
        | "SharedLinkCreated"
        | "SharedLinkDisabled"
        | "AnonymousLinkCreated"
        | "AnonymousLinkUpdated"
        | "AnonymousLinkRemoved"
        | "CompanyLinkCreated"
        | "CompanyLinkRemoved"
        | "SecureLinkCreated"
        | "SecureLinkDeleted"
        | "AddedToSecureLink"
        | "RemovedFromSecureLink"
        | "AccessRequestApproved" => EventType::DataSharing,
        "UserLoggedIn" => EventType::Login,
        "UserLoginFailed" => EventType::LoginFailure,
        "UserLoggedOut" | "SignOut" => EventType::Logout,
        // Azure AD directory changes are named as sentences: "Add user.", "Update user.",
        // "Add member to role.", "Reset user password.".
        other if other.ends_with('.') => EventType::Administration,
        _ => EventType::Other,
    }
}

/// How a link-creating or link-removing operation exposes the item.
fn link_visibility(operation: &str) -> Option<LinkVisibility> {
    match operation {
        "AnonymousLinkCreated"
        | "AnonymousLinkUpdated"
        | "AnonymousLinkRemoved"
        | "AnonymousLinkUsed" => Some(LinkVisibility::Public),
        "CompanyLinkCreated" | "CompanyLinkRemoved" | "CompanyLinkUsed" => {
            Some(LinkVisibility::Organization)
        }
        "SecureLinkCreated" | "SecureLinkDeleted" | "AddedToSecureLink" => {
            Some(LinkVisibility::Restricted)
        }
        _ => None,
    }
}

pub(crate) fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Management API times: `2015-06-29T20:03:19` (UTC, no zone, sometimes with fractions), or
/// RFC 3339.
pub fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// `ClientIP` comes as `1.2.3.4`, `1.2.3.4:port`, `[::1]:port` or a bare IPv6 address.
pub fn client_ip(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Ok(ip) = raw.parse::<std::net::IpAddr>() {
        return Some(ip.to_string());
    }
    if let Ok(socket) = raw.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_string());
    }
    None
}

/// A value of Azure AD's `ExtendedProperties` list (`[{"Name":"UserAgent","Value":"..."}]`).
fn extended_property(record: &Value, name: &str) -> Option<String> {
    record
        .get("ExtendedProperties")?
        .as_array()?
        .iter()
        .find(|p| p.get("Name").and_then(Value::as_str) == Some(name))
        .and_then(|p| text(p, "Value"))
}

/// Whether a user id of a record belongs to someone outside the organization: guests
/// (`#ext#` in their user principal name), anonymous link users (`urn:spo:anon#...`), or an
/// email domain that is not among the integration's `internal_domains` (when it names any).
pub fn user_type(user: &str, internal_domains: &[String]) -> UserType {
    let user = user.to_ascii_lowercase();
    if user.contains("#ext#") || user.starts_with("urn:spo:anon") {
        return UserType::External;
    }
    match user.rsplit_once('@') {
        Some((_, domain)) if !internal_domains.is_empty() => {
            if internal_domains.iter().any(|d| d == domain) {
                UserType::Internal
            } else {
                UserType::External
            }
        }
        Some(_) => UserType::Internal,
        None => UserType::Unknown,
    }
}

/// `TargetUserOrGroupType`: guests and partners are outside the organization.
fn target_type(raw: &str) -> Option<UserType> {
    match raw.to_ascii_lowercase().as_str() {
        "guest" | "partner" => Some(UserType::External),
        "member" => Some(UserType::Internal),
        _ => None,
    }
}

/// The role name of a record's numeric `UserType` (the Management API's common schema).
fn actor_role(record: &Value) -> Option<String> {
    let role = match record.get("UserType")?.as_i64()? {
        0 => "Regular",
        1 => "Reserved",
        2 => "Admin",
        3 => "DcAdmin",
        4 => "System",
        5 => "Application",
        6 => "ServicePrincipal",
        7 => "CustomPolicy",
        8 => "SystemPolicy",
        _ => return None,
    };
    Some(role.to_string())
}

/// `SiteUrl` + `SourceRelativeUrl` + `SourceFileName`, with one slash between the parts.
pub fn object_path(record: &Value) -> Option<String> {
    let site = text(record, "SiteUrl");
    let relative = text(record, "SourceRelativeUrl");
    let name = text(record, "SourceFileName");
    if site.is_none() && relative.is_none() && name.is_none() {
        return text(record, "ObjectId");
    }
    let mut path = site.unwrap_or_default().trim_end_matches('/').to_string();
    for part in [relative, name].into_iter().flatten() {
        let part = part.trim_matches('/');
        if !part.is_empty() {
            path.push('/');
            path.push_str(part);
        }
    }
    Some(path)
}

/// One record as an activity. `None` only for a record without an `Id`, which could be
/// neither deduplicated nor traced (the caller logs and counts it).
pub fn map_record(
    integration: &Integration,
    record: &Value,
    internal_domains: &[String],
    ingest_path: IngestPath,
) -> Option<Activity> {
    let event_id = text(record, "Id")?;
    let operation = text(record, "Operation").unwrap_or_else(|| "Unknown".into());
    let event_type = event_type(&operation);
    let user = text(record, "UserId");
    let is_sign_in = matches!(event_type, EventType::Login | EventType::LoginFailure);
    let actor_ip = text(record, "ClientIP")
        .or_else(|| text(record, "ActorIpAddress"))
        .and_then(|ip| client_ip(&ip));
    let user_agent = text(record, "UserAgent").or_else(|| extended_property(record, "UserAgent"));
    let target = text(record, "TargetUserOrGroupName");
    let object_type = if is_sign_in {
        Some("user".to_string())
    } else {
        text(record, "ItemType").map(|t| t.to_ascii_lowercase())
    };
    Some(Activity {
        tenant_id: integration.tenant_id.clone(),
        event_id,
        event_type,
        event_timestamp: text(record, "CreationTime")
            .and_then(|t| parse_time(&t))
            .unwrap_or_else(Utc::now),
        log_timestamp: None,
        actor_id: text(record, "UserKey").or_else(|| user.clone()),
        actor_name: user.clone(),
        actor_email: user
            .as_deref()
            .filter(|u| u.contains('@'))
            .map(str::to_ascii_lowercase),
        actor_type: user
            .as_deref()
            .map_or(UserType::Unknown, |u| user_type(u, internal_domains)),
        actor_role: actor_role(record),
        actor_ip,
        object_id: if is_sign_in {
            user.clone()
        } else {
            text(record, "ObjectId")
        },
        file_download_url: None,
        object_type,
        object_name: if is_sign_in {
            user.clone()
        } else {
            text(record, "SourceFileName")
        },
        object_path: if is_sign_in {
            None
        } else {
            object_path(record)
        },
        from_email: None,
        // Only a person is a collaborator: link records name the link's audience
        // ("Anonymous", "SharingLinks") as their target, and a group is not one person.
        target_user_type: target.as_deref().filter(|t| t.contains('@')).and_then(|t| {
            text(record, "TargetUserOrGroupType")
                .and_then(|kind| target_type(&kind))
                .or_else(|| Some(user_type(t, internal_domains)))
        }),
        target_user_email: target
            .as_deref()
            .filter(|t| t.contains('@'))
            .map(str::to_ascii_lowercase),
        target_user_id: target.clone(),
        role_granted: text(record, "EventData")
            .and_then(|data| role_in_event_data(&data))
            .or_else(|| text(record, "Permission")),
        shared_link: None,
        link_visibility: link_visibility(&operation),
        event_name: operation,
        provider: Provider::Microsoft365,
        integration_id: integration.id.clone(),
        ingest_path,
        raw: record.clone(),
        enrichments: Enrichments {
            user_agent,
            ..Enrichments::default()
        },
        identity: None,
        incomplete: None,
        seen_by: vec![],
    })
}

/// Sharing records describe the grant in `EventData` as XML-like text:
/// `<Type>Edit</Type><MembersCanShare>...`; the permission level is the `Type` element.
fn role_in_event_data(data: &str) -> Option<String> {
    let start = data.find("<Type>")? + "<Type>".len();
    let end = data[start..].find("</Type>")? + start;
    let role = data[start..end].trim();
    (!role.is_empty()).then(|| role.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::test_integration as integration;

    /// The record of saas-apis.md §2.2, reconstructed from Microsoft's schema tables.
    fn download_record() -> Value {
        json!({"CreationTime":"2015-06-29T20:03:19","Id":"80c76bd2-9d81-4c57-a97a-accfc3443dca","Operation":"FileDownloaded","OrganizationId":"41463f53-8812-40f4-890f-865bf6e35190","RecordType":6,
            "UserKey":"i:0h.f|membership|1003bffd96933623@live.com","UserType":0,"UserId":"alice@contoso.com","ClientIP":"134.170.188.221","Workload":"OneDrive",
            "ObjectId":"https://contoso-my.sharepoint.com/personal/alice_contoso_com/Documents/x.docx",
            "SiteUrl":"https://contoso-my.sharepoint.com/personal/alice_contoso_com/","SourceRelativeUrl":"Documents","SourceFileName":"x.docx","SourceFileExtension":"docx",
            "ItemType":"File","Site":"d5180cfc-3479-44d6-b410-8c985ac894e3","ListItemUniqueId":"6fa2fa7c-5d2a-4a67-9e3b-ff2a0bd0a8f5",
            "UserAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)"})
    }

    #[test]
    fn a_file_record_keeps_every_attribute() {
        let activity = map_record(
            &integration(),
            &download_record(),
            &["contoso.com".to_string()],
            IngestPath::Pull,
        )
        .unwrap();
        assert_eq!(activity.event_id, "80c76bd2-9d81-4c57-a97a-accfc3443dca");
        assert_eq!(activity.event_type, EventType::DataAccess);
        assert_eq!(activity.event_name, "FileDownloaded");
        assert_eq!(
            activity.event_timestamp.to_rfc3339(),
            "2015-06-29T20:03:19+00:00"
        );
        assert_eq!(activity.actor_email.as_deref(), Some("alice@contoso.com"));
        assert_eq!(activity.actor_type, UserType::Internal);
        assert_eq!(activity.actor_role.as_deref(), Some("Regular"));
        assert_eq!(activity.actor_ip.as_deref(), Some("134.170.188.221"));
        assert_eq!(
            activity.object_path.as_deref(),
            Some("https://contoso-my.sharepoint.com/personal/alice_contoso_com/Documents/x.docx")
        );
        assert_eq!(activity.object_name.as_deref(), Some("x.docx"));
        assert_eq!(activity.object_type.as_deref(), Some("file"));
        assert_eq!(
            activity.enrichments.user_agent.as_deref(),
            Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
        );
        assert_eq!(activity.provider, Provider::Microsoft365);
        assert_eq!(activity.raw["RecordType"], 6);
    }

    #[test]
    fn sharing_with_a_guest_is_external_and_links_have_their_scope() {
        let mut record = download_record();
        record["Operation"] = json!("SharingSet");
        record["TargetUserOrGroupName"] = json!("Bob@Partner.example");
        record["TargetUserOrGroupType"] = json!("Guest");
        record["EventData"] = json!("<Type>Edit</Type><MembersCanShare>Enabled</MembersCanShare>");
        let activity = map_record(&integration(), &record, &[], IngestPath::Pull).unwrap();
        assert_eq!(activity.event_type, EventType::DataSharing);
        assert_eq!(activity.target_user_type, Some(UserType::External));
        assert_eq!(
            activity.target_user_email.as_deref(),
            Some("bob@partner.example")
        );
        assert_eq!(activity.role_granted.as_deref(), Some("Edit"));

        record["Operation"] = json!("AnonymousLinkCreated");
        record["TargetUserOrGroupName"] = json!("Anonymous");
        let anonymous = map_record(&integration(), &record, &[], IngestPath::Pull).unwrap();
        assert_eq!(anonymous.link_visibility, Some(LinkVisibility::Public));
        // The link's audience is not a collaborator.
        assert_eq!(anonymous.target_user_type, None);
        assert_eq!(anonymous.target_user_email, None);
        record["Operation"] = json!("CompanyLinkCreated");
        let company = map_record(&integration(), &record, &[], IngestPath::Pull).unwrap();
        assert_eq!(company.link_visibility, Some(LinkVisibility::Organization));
    }

    #[test]
    fn sign_ins_become_login_activities_with_their_address() {
        let record = json!({"CreationTime":"2024-05-01T08:00:00","Id":"c1","Operation":"UserLoginFailed","RecordType":15,
            "UserId":"alice@contoso.com","ClientIP":"[2001:db8::1]:51234","Workload":"AzureActiveDirectory","LogonError":"InvalidPasswordOrUserName",
            "ExtendedProperties":[{"Name":"UserAgent","Value":"curl/8.0"},{"Name":"RequestType","Value":"Login:login"}]});
        let activity = map_record(&integration(), &record, &[], IngestPath::Pull).unwrap();
        assert_eq!(activity.event_type, EventType::LoginFailure);
        assert_eq!(activity.actor_ip.as_deref(), Some("2001:db8::1"));
        assert_eq!(activity.enrichments.user_agent.as_deref(), Some("curl/8.0"));
        assert_eq!(activity.object_type.as_deref(), Some("user"));
        assert_eq!(event_type("UserLoggedIn"), EventType::Login);
    }

    #[test]
    fn unknown_operations_are_kept_and_records_without_an_id_are_not_invented() {
        let record =
            json!({"Id":"x1","Operation":"SomethingNew","CreationTime":"2024-05-01T08:00:00.123"});
        let activity = map_record(&integration(), &record, &[], IngestPath::Push).unwrap();
        assert_eq!(activity.event_type, EventType::Other);
        assert_eq!(activity.raw, record);
        assert_eq!(activity.event_timestamp.timestamp_subsec_millis(), 123);
        assert!(map_record(
            &integration(),
            &json!({"Operation":"FileUploaded"}),
            &[],
            IngestPath::Pull
        )
        .is_none());
        assert_eq!(event_type("Add user."), EventType::Administration);
    }

    #[test]
    fn user_types() {
        let internal = ["contoso.com".to_string()];
        assert_eq!(
            user_type(
                "bob_partner.example#EXT#@contoso.onmicrosoft.com",
                &internal
            ),
            UserType::External
        );
        assert_eq!(user_type("urn:spo:anon#abc", &[]), UserType::External);
        assert_eq!(
            user_type("eve@other.example", &internal),
            UserType::External
        );
        assert_eq!(
            user_type("Alice@Contoso.com", &internal),
            UserType::Internal
        );
        assert_eq!(user_type("app@sharepoint", &[]), UserType::Internal);
        assert_eq!(user_type("SHAREPOINT\\system", &[]), UserType::Unknown);
        assert_eq!(client_ip("10.1.2.3:443").as_deref(), Some("10.1.2.3"));
        assert_eq!(client_ip("not an ip"), None);
    }
}
