//! Microsoft Graph files (saas-apis.md §2.3): find the drive item an audit record names, read
//! its sharing, download it through its pre-authenticated URL, and remediate it.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use casb_shared::connector::http::{read_capped, ProviderHttp};
use casb_shared::connector::{ActionOutcome, ConnectorError};
use casb_shared::domain::Exposure;

use crate::records::user_type;

/// A drive item, as activities and incidents name it: `drives/{drive-id}/items/{item-id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemId {
    pub drive_id: String,
    pub item_id: String,
}

impl ItemId {
    pub fn parse(object_id: &str) -> Option<ItemId> {
        let rest = object_id.strip_prefix("drives/")?;
        let (drive_id, item_id) = rest.split_once("/items/")?;
        let valid = |s: &str| !s.is_empty() && !s.contains(['/', '?', '#']);
        (valid(drive_id) && valid(item_id)).then(|| ItemId {
            drive_id: drive_id.to_string(),
            item_id: item_id.to_string(),
        })
    }

    pub fn object_id(&self) -> String {
        format!("drives/{}/items/{}", self.drive_id, self.item_id)
    }
}

/// Escapes one path segment for a Graph URL.
fn segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'!' | b',' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A path under a drive root, each segment escaped (`Reports/Q1 plan.docx`).
fn escaped_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(segment)
        .collect::<Vec<_>>()
        .join("/")
}

pub struct GraphApi<'a> {
    pub http: &'a ProviderHttp,
    /// `https://graph.microsoft.com/v1.0`
    pub base: &'a str,
    pub token: &'a SecretString,
}

/// Whether a Graph error means the item (or permission) is not there any more.
fn gone(status: StatusCode) -> bool {
    status == StatusCode::NOT_FOUND || status == StatusCode::GONE
}

impl GraphApi<'_> {
    async fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ConnectorError> {
        let response = self
            .http
            .send(|client| {
                let request = client
                    .request(method.clone(), url)
                    .bearer_auth(self.token.expose_secret());
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await?;
        let status = response.status();
        let bytes = read_capped(response, 16 * 1024 * 1024).await?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == StatusCode::FORBIDDEN {
            return Err(ConnectorError::Forbidden(format!(
                "Graph refused {}: {} (grant the application Files.ReadWrite.All and Sites.ReadWrite.All)",
                method,
                value["error"]["message"].as_str().unwrap_or_default()
            )));
        }
        Ok((status, value))
    }

    fn ok(status: StatusCode, value: Value, what: &str) -> Result<Value, ConnectorError> {
        if status.is_success() {
            Ok(value)
        } else {
            Err(ConnectorError::Permanent(format!(
                "Graph answered {status} to {what}: {} {}",
                value["error"]["code"].as_str().unwrap_or_default(),
                value["error"]["message"].as_str().unwrap_or_default()
            )))
        }
    }

    /// The drive item at `file_path` under the site's default document library, from a site URL
    /// (`https://contoso-my.sharepoint.com/personal/alice_contoso_com`) as audit records carry
    /// it. `None` when there is no such item (any more).
    pub async fn item_by_site_path(
        &self,
        site_url: &str,
        file_path: &str,
    ) -> Result<Option<Value>, ConnectorError> {
        let site = reqwest::Url::parse(site_url)
            .map_err(|e| ConnectorError::Permanent(format!("bad site URL: {e}")))?;
        let host = site
            .host_str()
            .ok_or_else(|| ConnectorError::Permanent("a site URL without a host".into()))?;
        let site_path = escaped_path(site.path());
        let url = if site_path.is_empty() {
            format!("{}/sites/{}", self.base, segment(host))
        } else {
            format!("{}/sites/{}:/{}", self.base, segment(host), site_path)
        };
        let (status, site) = self.request(reqwest::Method::GET, &url, None).await?;
        if gone(status) {
            return Ok(None);
        }
        let site = Self::ok(status, site, "a site lookup")?;
        let site_id = site["id"]
            .as_str()
            .ok_or_else(|| ConnectorError::Permanent("a site without an id".into()))?;
        let url = format!(
            "{}/sites/{}/drive/root:/{}",
            self.base,
            segment(site_id),
            escaped_path(file_path)
        );
        let (status, item) = self.request(reqwest::Method::GET, &url, None).await?;
        if gone(status) {
            return Ok(None);
        }
        Self::ok(status, item, "an item lookup").map(Some)
    }

    /// The tenant (`GET /organization`): its id, name and verified domains.
    pub async fn organization(&self) -> Result<Value, ConnectorError> {
        let url = format!("{}/organization", self.base);
        let organization: Value = self
            .http
            .json(|client| client.get(&url).bearer_auth(self.token.expose_secret()))
            .await?;
        Ok(organization["value"][0].clone())
    }

    fn item_url(&self, item: &ItemId) -> String {
        format!(
            "{}/drives/{}/items/{}",
            self.base,
            segment(&item.drive_id),
            segment(&item.item_id)
        )
    }

    pub async fn get_item(&self, item: &ItemId) -> Result<Option<Value>, ConnectorError> {
        let (status, value) = self
            .request(reqwest::Method::GET, &self.item_url(item), None)
            .await?;
        if gone(status) {
            return Ok(None);
        }
        Self::ok(status, value, "an item read").map(Some)
    }

    pub async fn permissions(&self, item: &ItemId) -> Result<Vec<Value>, ConnectorError> {
        let url = format!("{}/permissions", self.item_url(item));
        let (status, value) = self.request(reqwest::Method::GET, &url, None).await?;
        if gone(status) {
            return Ok(Vec::new());
        }
        let value = Self::ok(status, value, "a permissions read")?;
        Ok(value["value"].as_array().cloned().unwrap_or_default())
    }

    /// Deletes one permission; one already gone is success. `Err` names why Graph refused.
    pub async fn delete_permission(
        &self,
        item: &ItemId,
        permission_id: &str,
    ) -> Result<(), ConnectorError> {
        let url = format!(
            "{}/permissions/{}",
            self.item_url(item),
            segment(permission_id)
        );
        let (status, value) = self.request(reqwest::Method::DELETE, &url, None).await?;
        if status.is_success() || gone(status) {
            return Ok(());
        }
        Self::ok(status, value, "a permission removal").map(|_| ())
    }

    /// Deletes the item (to the recycle bin); one already gone is success.
    pub async fn delete_item(&self, item: &ItemId) -> Result<(), ConnectorError> {
        let (status, value) = self
            .request(reqwest::Method::DELETE, &self.item_url(item), None)
            .await?;
        if status.is_success() || gone(status) {
            return Ok(());
        }
        Self::ok(status, value, "a delete").map(|_| ())
    }

    /// Moves the item under `parent_id` in its drive (Graph moves only within a drive).
    pub async fn move_item(&self, item: &ItemId, parent_id: &str) -> Result<(), ConnectorError> {
        let body = serde_json::json!({ "parentReference": { "id": parent_id } });
        let (status, value) = self
            .request(reqwest::Method::PATCH, &self.item_url(item), Some(&body))
            .await?;
        Self::ok(status, value, "a move").map(|_| ())
    }

    /// The folder `name` at the drive's root, created if missing.
    pub async fn root_folder(&self, drive_id: &str, name: &str) -> Result<String, ConnectorError> {
        let root_url = format!("{}/drives/{}/root", self.base, segment(drive_id));
        let (status, root) = self.request(reqwest::Method::GET, &root_url, None).await?;
        let root = Self::ok(status, root, "the drive root")?;
        let root_id = root["id"]
            .as_str()
            .ok_or_else(|| ConnectorError::Permanent("a drive root without an id".into()))?
            .to_string();
        let children_url = format!(
            "{}/drives/{}/items/{}/children",
            self.base,
            segment(drive_id),
            segment(&root_id)
        );
        for attempt in 0..2 {
            let (status, children) = self
                .request(reqwest::Method::GET, &children_url, None)
                .await?;
            let children = Self::ok(status, children, "the root's children")?;
            if let Some(found) = children["value"].as_array().and_then(|items| {
                items.iter().find(|i| {
                    i["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                        && i.get("folder").is_some()
                })
            }) {
                if let Some(id) = found["id"].as_str() {
                    return Ok(id.to_string());
                }
            }
            if attempt == 1 {
                break;
            }
            // Created by us, or by a concurrent action (409): read the children again.
            let body = serde_json::json!({
                "name": name,
                "folder": {},
                "@microsoft.graph.conflictBehavior": "fail",
            });
            let (status, created) = self
                .request(reqwest::Method::POST, &children_url, Some(&body))
                .await?;
            if status.is_success() {
                if let Some(id) = created["id"].as_str() {
                    return Ok(id.to_string());
                }
            } else if status != StatusCode::CONFLICT {
                Self::ok(status, created, "creating the quarantine folder")?;
            }
        }
        Err(ConnectorError::Transient(format!(
            "the folder '{name}' could not be found or created"
        )))
    }

    pub fn content_url(&self, item: &ItemId) -> String {
        format!("{}/content", self.item_url(item))
    }
}

/// What a permission exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    AnonymousLink,
    OrganizationLink,
    /// A link for named people, or an internal user.
    Other,
    /// Someone outside the organization.
    External,
}

/// The email a permission is granted to, if it names a person.
pub fn grantee_email(permission: &Value) -> Option<String> {
    permission["grantedToV2"]["user"]["email"]
        .as_str()
        .or_else(|| permission["grantedTo"]["user"]["email"].as_str())
        .or_else(|| permission["invitation"]["email"].as_str())
        .or_else(|| permission["grantedToV2"]["siteUser"]["loginName"].as_str())
        .map(str::to_ascii_lowercase)
}

pub fn classify(permission: &Value, internal_domains: &[String]) -> Grant {
    match permission["link"]["scope"].as_str() {
        Some("anonymous") => return Grant::AnonymousLink,
        Some("organization") => return Grant::OrganizationLink,
        _ => {}
    }
    match grantee_email(permission) {
        Some(email)
            if user_type(&email, internal_domains) == casb_shared::domain::UserType::External =>
        {
            Grant::External
        }
        _ => Grant::Other,
    }
}

/// Whether the permission comes from a folder above (only the parent's can be removed).
pub fn inherited(permission: &Value) -> bool {
    permission
        .get("inheritedFrom")
        .is_some_and(|v| !v.is_null())
}

/// The item's exposure from its permissions.
pub fn exposure(item: &Value, permissions: &[Value], internal_domains: &[String]) -> Exposure {
    let mut exposure = Exposure {
        size: item["size"].as_u64(),
        owner_email: item["createdBy"]["user"]["email"]
            .as_str()
            .map(str::to_ascii_lowercase),
        content_sha1: item["file"]["hashes"]["sha1Hash"]
            .as_str()
            .map(str::to_ascii_lowercase),
        ..Exposure::default()
    };
    for permission in permissions {
        match classify(permission, internal_domains) {
            Grant::AnonymousLink => exposure.public_link = true,
            Grant::OrganizationLink => exposure.organization_link = true,
            Grant::External => {
                if let Some(email) = grantee_email(permission) {
                    if !exposure.external_collaborators.contains(&email) {
                        exposure.external_collaborators.push(email);
                    }
                }
            }
            Grant::Other => {}
        }
    }
    exposure
}

/// Where a permission is inherited from: the folder that grants it.
pub fn granting_folder(item: &ItemId, permission: &Value) -> Option<ItemId> {
    let from = permission.get("inheritedFrom").filter(|v| !v.is_null())?;
    Some(ItemId {
        drive_id: from["driveId"]
            .as_str()
            .unwrap_or(&item.drive_id)
            .to_string(),
        item_id: from["id"].as_str()?.to_string(),
    })
}

/// Removes the item's permissions that `wanted` selects. A permission the item inherits can
/// only be removed on the folder that grants it: done there when `on_granting_folder` allows
/// (the folder's other files lose it too), otherwise named in the outcome with that folder.
pub async fn remove_permissions(
    api: &GraphApi<'_>,
    item: &ItemId,
    internal_domains: &[String],
    what: &str,
    on_granting_folder: bool,
    wanted: impl Fn(Grant) -> bool,
) -> Result<ActionOutcome, ConnectorError> {
    let permissions = api.permissions(item).await?;
    let mut removed = Vec::new();
    let mut left = Vec::new();
    for permission in &permissions {
        if !wanted(classify(permission, internal_domains)) {
            continue;
        }
        let Some(id) = permission["id"].as_str() else {
            continue;
        };
        if !inherited(permission) {
            api.delete_permission(item, id).await?;
            removed.push(id.to_string());
            continue;
        }
        let folder = granting_folder(item, permission);
        let path = permission["inheritedFrom"]["path"]
            .as_str()
            .map(str::to_string)
            .or_else(|| folder.as_ref().map(ItemId::object_id))
            .unwrap_or_else(|| "a parent folder".into());
        match folder {
            Some(folder) if on_granting_folder => {
                api.delete_permission(&folder, id).await?;
                removed.push(format!("{id} (on {path}, which granted it)"));
            }
            _ => left.push(format!("{id} (inherited from {path})")),
        }
    }
    if !left.is_empty() && removed.is_empty() {
        return Ok(ActionOutcome::Unsupported {
            reason: format!(
                "the {what} on this file are inherited and can only be removed on the folder that grants them: {}",
                left.join(", ")
            ),
        });
    }
    let mut detail = if removed.is_empty() {
        format!("no {what} left to remove")
    } else {
        format!("removed {} {what}: {}", removed.len(), removed.join(", "))
    };
    if !left.is_empty() {
        detail.push_str(&format!(
            "; inherited ones remain, remove them on the folder that grants them: {}",
            left.join(", ")
        ));
    }
    Ok(ActionOutcome::done(detail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_ids_round_trip_and_refuse_paths() {
        let id = ItemId::parse("drives/b!abc/items/01XYZ").unwrap();
        assert_eq!(id.drive_id, "b!abc");
        assert_eq!(id.object_id(), "drives/b!abc/items/01XYZ");
        assert!(ItemId::parse("drives/a/items/b/../c").is_none());
        assert!(ItemId::parse("https://contoso.sharepoint.com/x.docx").is_none());
        assert_eq!(
            escaped_path("/Reports/Q1 plan.docx"),
            "Reports/Q1%20plan.docx"
        );
    }

    #[test]
    fn permissions_are_classified_from_graphs_shapes() {
        let anonymous =
            json!({"id":"1","roles":["read"],"link":{"type":"view","scope":"anonymous"}});
        let company =
            json!({"id":"2","roles":["read"],"link":{"type":"view","scope":"organization"}});
        let guest = json!({"id":"3","roles":["write"],"grantedToV2":{"user":{"email":"bob_partner.example#EXT#@contoso.onmicrosoft.com"}}});
        let partner =
            json!({"id":"4","roles":["read"],"invitation":{"email":"Eve@Partner.example"}});
        let colleague = json!({"id":"5","roles":["owner"],"grantedToV2":{"user":{"email":"alice@contoso.com"}},"inheritedFrom":{"id":"root"}});
        let internal = ["contoso.com".to_string()];
        assert_eq!(classify(&anonymous, &internal), Grant::AnonymousLink);
        assert_eq!(classify(&company, &internal), Grant::OrganizationLink);
        assert_eq!(classify(&guest, &internal), Grant::External);
        assert_eq!(classify(&partner, &internal), Grant::External);
        assert_eq!(classify(&colleague, &internal), Grant::Other);
        assert!(inherited(&colleague) && !inherited(&guest));
        let seen = exposure(
            &json!({"size": 12}),
            &[anonymous, company, guest, partner, colleague],
            &internal,
        );
        assert!(seen.public_link && seen.organization_link);
        assert_eq!(
            seen.external_collaborators,
            vec![
                "bob_partner.example#ext#@contoso.onmicrosoft.com",
                "eve@partner.example"
            ]
        );
        assert_eq!(seen.size, Some(12));
    }
}
