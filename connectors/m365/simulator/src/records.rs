//! Realistic audit records for the activity feed, after the Management Activity API schema
//! (`office-365-management-activity-api-schema.md`): the common schema (`CreationTime`
//! without a zone, as Microsoft sends it, `Id`, `Operation`, `OrganizationId`, `RecordType`,
//! `UserKey`, `UserType`, `Workload`, `UserId`, `ClientIP`, `ObjectId`), the SharePoint file
//! and sharing schemas, and Entra sign-ins (RecordType 15).

use chrono::Utc;
use serde_json::{json, Value};

use crate::state::{new_guid, SimState};

/// RecordType values of the schema's AuditLogRecordType table.
pub const RECORD_TYPE_SHAREPOINT_FILE_OPERATION: u32 = 6;
pub const RECORD_TYPE_SHAREPOINT_SHARING_OPERATION: u32 = 14;
pub const RECORD_TYPE_AZURE_ACTIVE_DIRECTORY_STS_LOGON: u32 = 15;

/// The `ClientIP` and `UserAgent` the helpers write (documentation ranges, RFC 5737).
pub const DEFAULT_CLIENT_IP: &str = "203.0.113.10";
pub const DEFAULT_USER_AGENT: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

fn creation_time() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// OneDrive sites live on `<tenant>-my.sharepoint.com`; everything else is SharePoint.
fn workload_for(site_url: &str) -> &'static str {
    if site_url.contains("-my.sharepoint.com") {
        "OneDrive"
    } else {
        "SharePoint"
    }
}

impl SimState {
    /// The SharePoint `UserKey`: a claims-encoded PUID for tenant users, the UPN otherwise.
    fn sharepoint_user_key(&self, user: &str) -> String {
        match self.user_by_upn(user) {
            Some(known) => format!(
                "i:0h.f|membership|{}@live.com",
                known.puid.to_ascii_lowercase()
            ),
            None => user.to_string(),
        }
    }

    pub(crate) fn file_record(
        &self,
        operation: &str,
        user: &str,
        site_url: &str,
        relative_url: &str,
        file_name: &str,
    ) -> Value {
        let site_url = format!("{}/", site_url.trim_end_matches('/'));
        let relative_url = relative_url.trim_matches('/');
        let extension = file_name
            .rsplit_once('.')
            .map(|(_, extension)| extension)
            .unwrap_or("");
        json!({
            "CreationTime": creation_time(),
            "Id": new_guid(),
            "Operation": operation,
            "OrganizationId": self.config.tenant_id,
            "RecordType": RECORD_TYPE_SHAREPOINT_FILE_OPERATION,
            "UserKey": self.sharepoint_user_key(user),
            "UserType": 0,
            "Version": 1,
            "Workload": workload_for(&site_url),
            "ClientIP": DEFAULT_CLIENT_IP,
            "UserId": user,
            "UserAgent": DEFAULT_USER_AGENT,
            "EventSource": "SharePoint",
            "ItemType": "File",
            "ObjectId": format!("{site_url}{relative_url}/{file_name}"),
            "Site": new_guid(),
            "WebId": new_guid(),
            "ListId": new_guid(),
            "ListItemUniqueId": new_guid(),
            "SiteUrl": site_url,
            "SourceRelativeUrl": relative_url,
            "SourceFileName": file_name,
            "SourceFileExtension": extension,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sharing_record(
        &self,
        operation: &str,
        user: &str,
        site_url: &str,
        relative_url: &str,
        file_name: &str,
        target: &str,
        target_type: &str,
    ) -> Value {
        let mut record = self.file_record(operation, user, site_url, relative_url, file_name);
        record["RecordType"] = json!(RECORD_TYPE_SHAREPOINT_SHARING_OPERATION);
        record["TargetUserOrGroupName"] = json!(target);
        record["TargetUserOrGroupType"] = json!(target_type);
        record
    }

    pub(crate) fn sign_in_record(&self, user: &str, ip: &str, success: bool) -> Value {
        let known = self.user_by_upn(user);
        let user_object_id = known.map(|u| u.id.clone()).unwrap_or_else(new_guid);
        let puid = known.map(|u| u.puid.clone()).unwrap_or_default();
        let tenant = &self.config.tenant_id;
        let mut record = json!({
            "CreationTime": creation_time(),
            "Id": new_guid(),
            "Operation": if success { "UserLoggedIn" } else { "UserLoginFailed" },
            "OrganizationId": tenant,
            "RecordType": RECORD_TYPE_AZURE_ACTIVE_DIRECTORY_STS_LOGON,
            "ResultStatus": if success { "Success" } else { "Failed" },
            "UserKey": user_object_id,
            "UserType": 0,
            "Version": 1,
            "Workload": "AzureActiveDirectory",
            "ClientIP": ip,
            // The Office 365 SharePoint Online first-party app, the usual sign-in target.
            "ObjectId": "00000003-0000-0ff1-ce00-000000000000",
            "UserId": user,
            "AzureActiveDirectoryEventType": 1,
            "ExtendedProperties": [
                {"Name": "ResultStatusDetail", "Value": if success { "Success" } else { "Invalid username or password or Invalid on-premise username or password." }},
                {"Name": "UserAgent", "Value": DEFAULT_USER_AGENT},
                {"Name": "RequestType", "Value": "Login:login"},
            ],
            "ModifiedProperties": [],
            "Actor": [
                {"ID": user_object_id, "Type": 0},
                {"ID": user, "Type": 5},
                {"ID": puid, "Type": 3},
            ],
            "ActorContextId": tenant,
            "ActorIpAddress": ip,
            "InterSystemsId": new_guid(),
            "IntraSystemId": new_guid(),
            "SupportTicketId": "",
            "Target": [{"ID": "00000003-0000-0ff1-ce00-000000000000", "Type": 0}],
            "TargetContextId": tenant,
            "ApplicationId": "00000003-0000-0ff1-ce00-000000000000",
            "ErrorNumber": if success { "0" } else { "50126" },
        });
        if !success {
            record["LogonError"] = json!("InvalidUserNameOrPassword");
        }
        record
    }
}
