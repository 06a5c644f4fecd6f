//! Microsoft Graph changes to the users' OneDrives and the SharePoint document libraries
//! (saas-apis.md §2.3): a delta query per drive
//! and change notifications on each drive root.
//!
//! The audit log says who did what, but it is listed minutes to hours late; Graph says within
//! seconds which files changed. Each changed file becomes a change observation
//! (`DriveItemChanged`, or `DriveItemShared` for a change of its sharing only), one per version
//! of the item (its `eTag`), so that DLP and the exposure policies reach the file at once. A
//! version observed twice (a notification and the scheduled poll, a `410` resync that starts the
//! enumeration again) is one observation.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use casb_shared::connector::http::read_capped;
use casb_shared::connector::paging::{PageGuard, DEFAULT_MAX_PAGES};
use casb_shared::connector::ConnectorError;
use casb_shared::domain::{
    Activity, Enrichments, EventType, IngestPath, Integration, Provider, UserType,
};

use crate::graph::{GraphApi, ItemId};

/// The stream of Graph changes to every user's OneDrive.
pub const DRIVES_STREAM: &str = "graph:drives";
/// Graph allows a drive subscription to live at most 42,300 minutes.
pub const MAX_SUBSCRIPTION_MINUTES: i64 = 42_300;
/// Renewed when less than this is left (well before the end, so a failed renewal is retried).
pub const RENEW_BEFORE: Duration = Duration::days(3);
/// Delta pages read per drive per poll (the rest on the next poll).
pub const PAGES_PER_DRIVE: usize = 20;
/// `Prefer` headers: deletions as deletes, items reached through permission gaps, and
/// sharing-only changes marked `@microsoft.graph.sharedChanged`.
pub const DELTA_PREFER: &str =
    "deltashowremovedasdeleted, deltatraversepermissiongaps, deltashowsharingchanges";

/// One drive's place in its delta, and its change subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriveState {
    /// The `@odata.deltaLink` (or the `@odata.nextLink` of an unfinished round).
    pub link: String,
    /// The subscription on the drive's root, and when it ends.
    #[serde(default)]
    pub subscription: Option<(String, DateTime<Utc>)>,
}

/// The stream's checkpoint: every drive's state, by drive id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DrivesCursor {
    pub drives: BTreeMap<String, DriveState>,
    /// When the drives were last listed (new users' drives are found on the next listing).
    #[serde(default)]
    pub listed_at: Option<DateTime<Utc>>,
}

impl DrivesCursor {
    pub fn parse(raw: Option<&str>) -> Self {
        raw.and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default()
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One page of a delta query, or the instruction to start again.
pub enum DeltaPage {
    Items {
        items: Vec<Value>,
        next_link: Option<String>,
        delta_link: Option<String>,
    },
    /// `410 Gone`: the token is no longer valid; enumerate again from here.
    Resync { restart: String },
}

/// The drive listing, delta and subscriptions of Graph, beside its item calls.
impl GraphApi<'_> {
    async fn get(
        &self,
        url: &str,
        prefer: Option<&str>,
    ) -> Result<(StatusCode, Value, Option<String>), ConnectorError> {
        let response = self
            .http
            .send(|client| {
                let request = client.get(url).bearer_auth(self.token.expose_secret());
                match prefer {
                    Some(prefer) => request.header("Prefer", prefer),
                    None => request,
                }
            })
            .await?;
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = read_capped(response, 16 * 1024 * 1024).await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            location,
        ))
    }

    /// `url` if it is on Graph's host: a delta link comes back from Graph and goes only there.
    fn on_graph(&self, url: &str) -> Result<(), ConnectorError> {
        let base = reqwest::Url::parse(self.base)
            .map_err(|e| ConnectorError::NotConfigured(format!("bad Graph base: {e}")))?;
        let target = reqwest::Url::parse(url)
            .map_err(|e| ConnectorError::Permanent(format!("bad delta link: {e}")))?;
        if target.host_str() == base.host_str()
            && target.port_or_known_default() == base.port_or_known_default()
        {
            Ok(())
        } else {
            Err(ConnectorError::Permanent(format!(
                "refusing a delta link to {}: not Graph's host",
                target.host_str().unwrap_or("?")
            )))
        }
    }

    /// Every drive to follow: the users' OneDrives and the SharePoint sites' document
    /// libraries. Sites that cannot be listed (no `Sites.Read.All`) leave the OneDrives alone,
    /// with a warning.
    pub async fn drives(&self) -> Result<Vec<String>, ConnectorError> {
        let mut drives = self.user_drives().await?;
        match self.site_libraries().await {
            Ok(libraries) => drives.extend(libraries),
            Err(error) => {
                tracing::warn!(%error, "SharePoint sites could not be listed; following the OneDrives only")
            }
        }
        drives.sort();
        drives.dedup();
        Ok(drives)
    }

    /// Every entry of a Graph listing, following `@odata.nextLink` (only on Graph's host) under
    /// a [`PageGuard`].
    async fn list_all(&self, first: String, what: &str) -> Result<Vec<Value>, ConnectorError> {
        let mut entries = Vec::new();
        let mut guard = PageGuard::new(what, DEFAULT_MAX_PAGES);
        let mut next = Some(first);
        while let Some(url) = next.take() {
            self.on_graph(&url)?;
            let (status, page, _) = self.get(&url, None).await?;
            if !status.is_success() {
                return Err(ConnectorError::Permanent(format!(
                    "listing {what} answered {status}"
                )));
            }
            entries.extend(page["value"].as_array().into_iter().flatten().cloned());
            if let Some(link) = page["@odata.nextLink"].as_str() {
                guard.next_page(link)?;
                next = Some(link.to_string());
            }
        }
        Ok(entries)
    }

    /// The drive ids a `GET .../drive` or `GET .../drives` answers, nothing if it is refused.
    async fn drive_ids(&self, url: &str) -> Result<Vec<String>, ConnectorError> {
        let (status, answer, _) = self.get(url, None).await?;
        if !status.is_success() {
            return Ok(Vec::new());
        }
        let ids = match answer["value"].as_array() {
            Some(drives) => drives.iter().filter_map(|d| d["id"].as_str()).collect(),
            None => answer["id"].as_str().into_iter().collect::<Vec<_>>(),
        };
        Ok(ids.into_iter().map(str::to_string).collect())
    }

    /// The document libraries of every SharePoint site the search finds.
    async fn site_libraries(&self) -> Result<Vec<String>, ConnectorError> {
        let mut libraries = Vec::new();
        for site in self
            .list_all(format!("{}/sites?search=*", self.base), "sites")
            .await?
        {
            if let Some(id) = site["id"].as_str() {
                libraries.extend(
                    self.drive_ids(&format!("{}/sites/{id}/drives", self.base))
                        .await?,
                );
            }
        }
        Ok(libraries)
    }

    /// The ids of the users' OneDrives (members only: guests have none here).
    async fn user_drives(&self) -> Result<Vec<String>, ConnectorError> {
        let mut drives = Vec::new();
        let users = self
            .list_all(
                format!("{}/users?$select=id,userPrincipalName,userType", self.base),
                "users",
            )
            .await?;
        for user in users {
            if user["userType"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
            {
                continue;
            }
            if let Some(id) = user["id"].as_str() {
                drives.extend(
                    self.drive_ids(&format!("{}/users/{id}/drive", self.base))
                        .await?,
                );
            }
        }
        Ok(drives)
    }

    /// The link that returns no items, only where the drive is now (`token=latest`).
    pub async fn latest_link(&self, drive_id: &str) -> Result<String, ConnectorError> {
        let url = format!("{}/drives/{drive_id}/root/delta?token=latest", self.base);
        let (status, page, _) = self.get(&url, Some(DELTA_PREFER)).await?;
        if !status.is_success() {
            return Err(ConnectorError::Permanent(format!(
                "delta answered {status}"
            )));
        }
        page["@odata.deltaLink"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ConnectorError::Permanent("delta gave no deltaLink".into()))
    }

    pub async fn delta(&self, link: &str) -> Result<DeltaPage, ConnectorError> {
        self.on_graph(link)?;
        let (status, page, location) = self.get(link, Some(DELTA_PREFER)).await?;
        if status == StatusCode::GONE {
            // Start again from where Graph says, or from the beginning of the drive.
            let restart = location.unwrap_or_else(|| {
                link.split_once('?')
                    .map_or(link, |(path, _)| path)
                    .to_string()
            });
            self.on_graph(&restart)?;
            return Ok(DeltaPage::Resync { restart });
        }
        if !status.is_success() {
            return Err(ConnectorError::Permanent(format!(
                "delta answered {status}"
            )));
        }
        Ok(DeltaPage::Items {
            items: page["value"].as_array().cloned().unwrap_or_default(),
            next_link: page["@odata.nextLink"].as_str().map(str::to_string),
            delta_link: page["@odata.deltaLink"].as_str().map(str::to_string),
        })
    }

    /// Creates the change subscription on a drive's root; the notification and lifecycle URLs
    /// are validated by Graph before it answers.
    pub async fn subscribe(
        &self,
        drive_id: &str,
        address: &str,
        client_state: &str,
        expires: DateTime<Utc>,
    ) -> Result<String, ConnectorError> {
        let body = serde_json::json!({
            "changeType": "updated",
            "notificationUrl": address,
            "lifecycleNotificationUrl": address,
            "resource": format!("drives/{drive_id}/root"),
            "expirationDateTime": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "clientState": client_state,
        });
        let url = format!("{}/subscriptions", self.base);
        let response = self
            .http
            .send(|client| {
                client
                    .post(&url)
                    .bearer_auth(self.token.expose_secret())
                    .json(&body)
            })
            .await?;
        let status = response.status();
        let bytes = read_capped(response, 1024 * 1024).await?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(ConnectorError::Permanent(format!(
                "creating a Graph subscription answered {status}: {}",
                value["error"]["message"].as_str().unwrap_or_default()
            )));
        }
        value["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ConnectorError::Permanent("a subscription without an id".into()))
    }

    /// Extends a subscription; `false` when Graph no longer has it (removed, or expired).
    pub async fn renew(&self, id: &str, expires: DateTime<Utc>) -> Result<bool, ConnectorError> {
        let url = format!("{}/subscriptions/{id}", self.base);
        let body = serde_json::json!({
            "expirationDateTime": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        let response = self
            .http
            .send(|client| {
                client
                    .patch(&url)
                    .bearer_auth(self.token.expose_secret())
                    .json(&body)
            })
            .await?;
        match response.status() {
            status if status.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            status => Err(ConnectorError::Permanent(format!(
                "renewing a Graph subscription answered {status}"
            ))),
        }
    }

    /// Every subscription this application has in the tenant: `(id, notificationUrl)`.
    pub async fn subscriptions(&self) -> Result<Vec<(String, String)>, ConnectorError> {
        let url = format!("{}/subscriptions", self.base);
        let (status, page, _) = self.get(&url, None).await?;
        if !status.is_success() {
            return Err(ConnectorError::Permanent(format!(
                "listing subscriptions answered {status}"
            )));
        }
        Ok(page["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                Some((
                    s["id"].as_str()?.to_string(),
                    s["notificationUrl"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ))
            })
            .collect())
    }

    /// Deletes a subscription; one already gone is success.
    pub async fn unsubscribe(&self, id: &str) -> Result<(), ConnectorError> {
        let url = format!("{}/subscriptions/{id}", self.base);
        let response = self
            .http
            .send(|client| client.delete(&url).bearer_auth(self.token.expose_secret()))
            .await?;
        match response.status() {
            status if status.is_success() || status == StatusCode::NOT_FOUND => Ok(()),
            status => Err(ConnectorError::Permanent(format!(
                "deleting a Graph subscription answered {status}"
            ))),
        }
    }
}

/// A changed file of a delta page as a change observation; `None` for folders, the root and
/// deletions (the audit log records who deleted what).
pub fn observation(integration: &Integration, drive_id: &str, item: &Value) -> Option<Activity> {
    if item.get("file").is_none() || item.get("deleted").is_some() || item.get("root").is_some() {
        return None;
    }
    let item_id = item["id"].as_str()?;
    let version = item["eTag"]
        .as_str()
        .or_else(|| item["cTag"].as_str())
        .or_else(|| item["lastModifiedDateTime"].as_str())?;
    let sharing_only = item["@microsoft.graph.sharedChanged"]
        .as_str()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let id = ItemId {
        drive_id: drive_id.to_string(),
        item_id: item_id.to_string(),
    };
    let modified = item["lastModifiedDateTime"]
        .as_str()
        .and_then(crate::records::parse_time)
        .unwrap_or_else(Utc::now);
    let editor = &item["lastModifiedBy"]["user"];
    let email = editor["email"].as_str().map(str::to_ascii_lowercase);
    Some(Activity {
        tenant_id: integration.tenant_id.clone(),
        event_id: format!("{}@{version}", id.object_id()),
        event_name: if sharing_only {
            "DriveItemShared"
        } else {
            "DriveItemChanged"
        }
        .to_string(),
        event_timestamp: modified,
        log_timestamp: None,
        // Graph flags a sharing change but cannot say whether the content changed too (a new
        // file shared at once is both): either way the version is inspected (a classification
        // already made for it is reused) and its exposure judged.
        event_type: EventType::DataModification,
        actor_id: editor["id"].as_str().map(str::to_string),
        actor_name: editor["displayName"].as_str().map(str::to_string),
        actor_email: email,
        actor_type: UserType::Unknown,
        actor_role: None,
        actor_ip: None,
        object_id: Some(id.object_id()),
        file_download_url: None,
        object_type: Some("file".into()),
        object_name: item["name"].as_str().map(str::to_string),
        object_path: item["webUrl"].as_str().map(str::to_string),
        from_email: None,
        target_user_email: None,
        target_user_id: None,
        target_user_type: None,
        role_granted: None,
        shared_link: None,
        link_visibility: None,
        provider: Provider::Microsoft365,
        integration_id: integration.id.clone(),
        ingest_path: IngestPath::Pull,
        raw: item.clone(),
        enrichments: Enrichments::default(),
        identity: None,
        incomplete: None,
        seen_by: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_become_one_observation_per_version_and_folders_or_deletions_none() {
        let integration = crate::test_integration();
        let file = json!({"id":"01A","name":"cards.csv","eTag":"\"{01A},3\"","file":{"mimeType":"text/csv"},
            "lastModifiedDateTime":"2026-11-29T10:00:00Z","webUrl":"https://contoso-my.sharepoint.com/personal/a/Documents/cards.csv",
            "lastModifiedBy":{"user":{"email":"Alice@Contoso.com","displayName":"Alice"}}});
        let changed = observation(&integration, "b!d", &file).unwrap();
        assert_eq!(changed.event_id, "drives/b!d/items/01A@\"{01A},3\"");
        assert_eq!(changed.object_id.as_deref(), Some("drives/b!d/items/01A"));
        assert_eq!(changed.event_type, EventType::DataModification);
        assert_eq!(changed.actor_email.as_deref(), Some("alice@contoso.com"));
        let mut shared = file.clone();
        shared["@microsoft.graph.sharedChanged"] = json!("True");
        shared["eTag"] = json!("\"{01A},4\"");
        let shared = observation(&integration, "b!d", &shared).unwrap();
        assert_eq!(shared.event_name, "DriveItemShared");
        assert_ne!(
            shared.event_id, changed.event_id,
            "another version, another observation"
        );
        assert!(observation(&integration, "b!d", &json!({"id":"F","folder":{}})).is_none());
        assert!(observation(
            &integration,
            "b!d",
            &json!({"id":"X","file":{},"deleted":{"state":"deleted"},"eTag":"e"})
        )
        .is_none());
    }
}
