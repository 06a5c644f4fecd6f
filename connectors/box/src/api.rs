//! Typed calls to Box's API for one access token.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{internal_domains, BoxConfig};
use casb_shared::connector::http::ProviderHttp;
use casb_shared::connector::paging::{PageGuard, DEFAULT_MAX_PAGES};
use casb_shared::connector::{ActionOutcome, ConnectorError};
use casb_shared::domain::{
    Activity, CollaboratorScope, Exposure, Integration, LinkVisibility, UserType,
};

/// Fields fetched for a file: everything the activity schema may still lack.
const FILE_FIELDS: &str =
    "id,type,name,size,sha1,path_collection,parent,owned_by,shared_link,item_status";

#[derive(Debug, Deserialize)]
pub struct Enterprise {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub login: Option<String>,
    pub enterprise: Option<Enterprise>,
}

#[derive(Debug, Deserialize)]
pub struct EventPage {
    #[serde(deserialize_with = "string_or_number")]
    pub next_stream_position: String,
    #[serde(default)]
    pub entries: Vec<Value>,
}

/// Box documents `next_stream_position` as a string or an integer; we keep strings.
fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "stream position is {other}"
        ))),
    }
}

#[derive(Debug, Deserialize)]
pub struct MiniItem {
    pub id: String,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PathCollection {
    #[serde(default)]
    pub entries: Vec<MiniItem>,
}

#[derive(Debug, Deserialize)]
pub struct SharedLink {
    pub url: Option<String>,
    pub access: Option<String>,
    pub effective_access: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct File {
    pub id: String,
    pub name: Option<String>,
    pub sha1: Option<String>,
    pub size: Option<u64>,
    pub owned_by: Option<Collaborator>,
    pub parent: Option<MiniItem>,
    pub path_collection: Option<PathCollection>,
    pub shared_link: Option<SharedLink>,
    pub item_status: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Collaborator {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub login: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Collaboration {
    pub id: String,
    pub accessible_by: Option<Collaborator>,
    pub invite_email: Option<String>,
    pub role: Option<String>,
}

impl Collaboration {
    fn email(&self) -> Option<String> {
        self.accessible_by
            .as_ref()
            .filter(|a| a.kind.as_deref() != Some("group"))
            .and_then(|a| a.login.clone())
            .or_else(|| self.invite_email.clone())
            .map(|e| e.to_ascii_lowercase())
    }
}

#[derive(Debug, Deserialize)]
struct Collaborations {
    #[serde(default)]
    entries: Vec<Collaboration>,
    next_marker: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Items {
    #[serde(default)]
    entries: Vec<MiniItem>,
    total_count: Option<u64>,
}

/// Percent-encodes an id for use as one path segment (ids come from events and must not be able
/// to change the path).
pub fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Whether `email` belongs to someone outside the organization.
pub fn is_external(email: &str, internal: &[String]) -> bool {
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
    match domain {
        Some(domain) => !internal.is_empty() && !internal.contains(&domain),
        None => false,
    }
}

/// Marks the actor and the target internal or external by the organization's domains.
pub fn classify_people(integration: &Integration, activity: &mut Activity) {
    let internal = internal_domains(integration);
    if let Some(email) = &activity.actor_email {
        activity.actor_type = if is_external(email, &internal) {
            UserType::External
        } else {
            UserType::Internal
        };
    }
    if let Some(email) = activity.target_user_email.clone() {
        activity.target_user_type = Some(if is_external(&email, &internal) {
            UserType::External
        } else {
            UserType::Internal
        });
    }
}

pub fn link_visibility(access: &str) -> Option<LinkVisibility> {
    match access {
        "open" => Some(LinkVisibility::Public),
        "company" => Some(LinkVisibility::Organization),
        "collaborators" => Some(LinkVisibility::Restricted),
        _ => None,
    }
}

pub struct BoxApi<'a> {
    http: &'a ProviderHttp,
    config: &'a BoxConfig,
    token: &'a SecretString,
}

impl<'a> BoxApi<'a> {
    pub fn new(http: &'a ProviderHttp, config: &'a BoxConfig, token: &'a SecretString) -> Self {
        BoxApi {
            http,
            config,
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        let url = self.url(path);
        let token = self.token.expose_secret();
        self.http
            .json(|client| client.get(&url).bearer_auth(token).query(query))
            .await
    }

    /// GET that treats 404 as "gone" (`None`).
    async fn get_optional<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<T>, ConnectorError> {
        let url = self.url(path);
        let token = self.token.expose_secret();
        let response = self
            .http
            .send(|client| client.get(&url).bearer_auth(token).query(query))
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let status = response.status();
        let bytes = casb_shared::connector::http::read_capped(response, 4 * 1024 * 1024).await?;
        if !status.is_success() {
            return Err(ConnectorError::Permanent(format!(
                "Box answered {status} for {path}"
            )));
        }
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            ConnectorError::Permanent(format!("Box sent unexpected JSON for {path}: {e}"))
        })
    }

    /// Sends a write; returns the status (404 and 409 are the caller's to interpret).
    async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<(reqwest::StatusCode, Value), ConnectorError> {
        let url = self.url(path);
        let token = self.token.expose_secret();
        let response = self
            .http
            .send(|client| {
                let request = client
                    .request(method.clone(), &url)
                    .bearer_auth(token)
                    .query(query);
                match &body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await?;
        let status = response.status();
        let bytes = casb_shared::connector::http::read_capped(response, 4 * 1024 * 1024).await?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success()
            || status == reqwest::StatusCode::NOT_FOUND
            || status == reqwest::StatusCode::CONFLICT
        {
            Ok((status, value))
        } else {
            Err(ConnectorError::Permanent(format!(
                "Box answered {status} for {} {path}: {}",
                method,
                value.get("message").and_then(Value::as_str).unwrap_or("")
            )))
        }
    }

    pub async fn current_user(&self) -> Result<User, ConnectorError> {
        self.get_json(
            "/users/me",
            &[("fields", "id,name,login,enterprise".into())],
        )
        .await
    }

    pub async fn events(
        &self,
        stream_type: &str,
        position: &str,
        limit: u32,
    ) -> Result<EventPage, ConnectorError> {
        self.get_json(
            "/events",
            &[
                ("stream_type", stream_type.into()),
                ("stream_position", position.into()),
                ("limit", limit.clamp(1, 500).to_string()),
            ],
        )
        .await
    }

    /// Creates the webhook, or, when this app already has one on the folder (Box answers 409,
    /// as on a reconnect), reuses it if it points at `address`.
    pub async fn create_or_reuse_webhook(
        &self,
        folder_id: &str,
        address: &str,
        triggers: &[String],
    ) -> Result<String, ConnectorError> {
        let body = json!({"target": {"id": folder_id, "type": "folder"}, "address": address, "triggers": triggers});
        let (status, value) = self
            .write(reqwest::Method::POST, "/webhooks", &[], Some(body))
            .await?;
        if status == reqwest::StatusCode::CONFLICT {
            return match self.find_webhook(folder_id).await? {
                Some((id, existing)) if existing == address => Ok(id),
                Some((id, existing)) => Err(ConnectorError::Permanent(format!(
                    "this app's webhook {id} on folder {folder_id} delivers to {existing}, not here; delete it or disconnect the integration that owns it"
                ))),
                None => Err(ConnectorError::Permanent(format!(
                    "Box reports a webhook on folder {folder_id} but does not list it; try again"
                ))),
            };
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ConnectorError::Permanent(format!(
                "folder {folder_id} does not exist"
            )));
        }
        value["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ConnectorError::Permanent("Box returned a webhook without an id".into()))
    }

    /// This app's webhook on a folder: (id, address).
    async fn find_webhook(
        &self,
        folder_id: &str,
    ) -> Result<Option<(String, String)>, ConnectorError> {
        let mut marker: Option<String> = None;
        let mut guard = PageGuard::new("this app's webhooks", DEFAULT_MAX_PAGES);
        loop {
            let mut query = vec![("limit", "200".to_string())];
            if let Some(m) = &marker {
                query.push(("marker", m.clone()));
            }
            let page: Value = self.get_json("/webhooks", &query).await?;
            for hook in page["entries"].as_array().into_iter().flatten() {
                let Some(id) = hook["id"].as_str() else {
                    continue;
                };
                if hook["target"]["id"].as_str() != Some(folder_id) {
                    continue;
                }
                // The list gives mini webhooks; the address is on the full one.
                let full: Value = self
                    .get_json(&format!("/webhooks/{}", path_segment(id)), &[])
                    .await?;
                let address = full["address"].as_str().unwrap_or_default().to_string();
                return Ok(Some((id.to_string(), address)));
            }
            match page["next_marker"].as_str().filter(|m| !m.is_empty()) {
                Some(next) => {
                    guard.next_page(next)?;
                    marker = Some(next.to_string());
                }
                None => return Ok(None),
            }
        }
    }

    pub async fn delete_webhook(&self, id: &str) -> Result<(), ConnectorError> {
        // 404: already gone (Box also deletes webhooks when tokens are revoked).
        self.write(
            reqwest::Method::DELETE,
            &format!("/webhooks/{}", path_segment(id)),
            &[],
            None,
        )
        .await?;
        Ok(())
    }

    pub async fn file(&self, file_id: &str) -> Result<Option<File>, ConnectorError> {
        self.get_optional(
            &format!("/files/{}", path_segment(file_id)),
            &[("fields", FILE_FIELDS.into())],
        )
        .await
    }

    async fn collaborations(&self, item_path: &str) -> Result<Vec<Collaboration>, ConnectorError> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        let mut guard = PageGuard::new(format!("collaborations of {item_path}"), DEFAULT_MAX_PAGES);
        loop {
            let mut query = vec![("limit", "1000".to_string())];
            if let Some(m) = &marker {
                query.push(("marker", m.clone()));
            }
            let Some(page) = self
                .get_optional::<Collaborations>(&format!("{item_path}/collaborations"), &query)
                .await?
            else {
                return Ok(all);
            };
            all.extend(page.entries);
            match page.next_marker.filter(|m| !m.is_empty()) {
                Some(next) => {
                    guard.next_page(&next)?;
                    marker = Some(next)
                }
                None => return Ok(all),
            }
        }
    }

    /// Collaborations that reach the file: its own and those of the folders above it (Box
    /// collaborations on a folder cover everything inside it).
    async fn collaborations_reaching(
        &self,
        file: &File,
    ) -> Result<Vec<Collaboration>, ConnectorError> {
        let mut all = self
            .collaborations(&format!("/files/{}", path_segment(&file.id)))
            .await?;
        let folders = file
            .path_collection
            .as_ref()
            .map(|p| p.entries.as_slice())
            .unwrap_or_default();
        for folder in folders.iter().filter(|f| f.id != "0") {
            all.extend(
                self.collaborations(&format!("/folders/{}", path_segment(&folder.id)))
                    .await?,
            );
        }
        Ok(all)
    }

    /// [`BoxApi::enrich`], but an event whose lookups fail for a reason retrying will not fix
    /// (a 4xx, an unexpected answer, a `Retry-After` past the job's deadline) is returned as
    /// it is, marked incomplete with the reason, so it never stalls its stream.
    pub async fn enrich_or_mark(
        &self,
        integration: &Integration,
        mut activity: Activity,
        deadline: tokio::time::Instant,
    ) -> Result<Activity, ConnectorError> {
        classify_people(integration, &mut activity);
        let known = activity.clone();
        let reason = match self.enrich(integration, activity).await {
            Ok(enriched) => return Ok(enriched),
            Err(ConnectorError::Permanent(reason)) => reason,
            Err(ConnectorError::RateLimited { retry_after })
                if tokio::time::Instant::now() + retry_after >= deadline =>
            {
                format!("Box asked us to wait {retry_after:?} during enrichment, past this poll's time budget")
            }
            Err(other) => return Err(other),
        };
        tracing::warn!(activity = %known.id(), %reason, "activity queued without full enrichment");
        Ok(Activity {
            incomplete: Some(reason),
            ..known
        })
    }

    /// Fills what the event lacked from the file's current state: path, shared link and its
    /// visibility, external collaborators.
    pub async fn enrich(
        &self,
        integration: &Integration,
        mut activity: Activity,
    ) -> Result<Activity, ConnectorError> {
        let internal = internal_domains(integration);
        classify_people(integration, &mut activity);
        if !activity.is_about_file()
            || activity.event_type == casb_shared::domain::EventType::DataDeletion
        {
            return Ok(activity);
        }
        let Some(file_id) = activity.object_id.clone() else {
            return Ok(activity);
        };
        let Some(file) = self
            .file(&file_id)
            .await?
            .filter(|f| f.item_status.as_deref() != Some("trashed"))
        else {
            return Ok(activity);
        };
        let folders: Vec<&str> = file
            .path_collection
            .as_ref()
            .map(|p| {
                p.entries
                    .iter()
                    .filter(|f| f.id != "0")
                    .filter_map(|f| f.name.as_deref())
                    .collect()
            })
            .unwrap_or_default();
        let name = file
            .name
            .clone()
            .or(activity.object_name.clone())
            .unwrap_or_default();
        activity.object_name = Some(name.clone());
        activity.object_path = Some(format!(
            "/{}",
            folders
                .iter()
                .copied()
                .chain([name.as_str()])
                .collect::<Vec<_>>()
                .join("/")
        ));
        match &file.shared_link {
            Some(link) => {
                activity.shared_link = link.url.clone();
                activity.link_visibility = link
                    .effective_access
                    .as_deref()
                    .or(link.access.as_deref())
                    .and_then(link_visibility);
            }
            None => {
                activity.shared_link = None;
                activity.link_visibility = None;
            }
        }
        let external: Vec<(String, Option<String>)> = self
            .collaborations_reaching(&file)
            .await?
            .into_iter()
            .filter_map(|c| {
                c.email()
                    .filter(|e| is_external(e, &internal))
                    .map(|e| (e, c.role))
            })
            .collect();
        if activity.target_user_email.is_none() {
            if let Some((email, role)) = external.first() {
                activity.target_user_email = Some(email.clone());
                activity.target_user_type = Some(UserType::External);
                activity.role_granted = role.clone();
            }
        }
        activity.enrichments.exposure = Some(Exposure {
            public_link: activity.link_visibility == Some(LinkVisibility::Public),
            organization_link: activity.link_visibility == Some(LinkVisibility::Organization),
            external_collaborators: external.into_iter().map(|(e, _)| e).collect(),
            content_sha1: file.sha1.clone(),
            size: file.size,
            owner_email: file
                .owned_by
                .as_ref()
                .and_then(|o| o.login.clone())
                .map(|l| l.to_ascii_lowercase()),
        });
        Ok(activity)
    }

    /// Finds the quarantine folder under the root, creating it (owned by the admin whose token
    /// this is, so only admins can see into it) if missing.
    async fn quarantine_folder(&self, name: &str) -> Result<String, ConnectorError> {
        for _ in 0..2 {
            let mut offset = 0u64;
            let mut guard = PageGuard::new("the root folder's items", DEFAULT_MAX_PAGES);
            loop {
                let items: Items = self
                    .get_json(
                        "/folders/0/items",
                        &[
                            ("fields", "id,name,type".into()),
                            ("limit", "1000".into()),
                            ("offset", offset.to_string()),
                        ],
                    )
                    .await?;
                if let Some(folder) = items.entries.iter().find(|i| {
                    i.kind.as_deref() == Some("folder") && i.name.as_deref() == Some(name)
                }) {
                    return Ok(folder.id.clone());
                }
                offset += items.entries.len() as u64;
                if items.entries.is_empty() || items.total_count.is_none_or(|total| offset >= total)
                {
                    break;
                }
                // The same entries again at a new offset means the offset is being ignored.
                let first = items.entries.first().map(|i| i.id.as_str()).unwrap_or("");
                guard.next_page(first)?;
            }
            let (status, value) = self
                .write(
                    reqwest::Method::POST,
                    "/folders",
                    &[],
                    Some(json!({"name": name, "parent": {"id": "0"}})),
                )
                .await?;
            if status.is_success() {
                if let Some(id) = value["id"].as_str() {
                    return Ok(id.to_string());
                }
            }
            // 409: created concurrently by another remediator; list again.
        }
        Err(ConnectorError::Transient(format!(
            "could not find or create the '{name}' folder"
        )))
    }

    pub async fn quarantine(
        &self,
        _integration: &Integration,
        file_id: &str,
        folder_name: &str,
    ) -> Result<ActionOutcome, ConnectorError> {
        let Some(file) = self.file(file_id).await? else {
            return Ok(ActionOutcome::done(format!(
                "file {file_id} no longer exists; nothing to quarantine"
            )));
        };
        let quarantine = self.quarantine_folder(folder_name).await?;
        let original = file
            .parent
            .as_ref()
            .map(|p| p.id.clone())
            .unwrap_or_default();
        if original == quarantine {
            return Ok(ActionOutcome::done(format!(
                "already in quarantine folder {quarantine}"
            )));
        }
        let path = format!("/files/{}", path_segment(file_id));
        let (mut status, _) = self
            .write(
                reqwest::Method::PUT,
                &path,
                &[],
                Some(json!({"parent": {"id": quarantine}})),
            )
            .await?;
        if status == reqwest::StatusCode::CONFLICT {
            // A file of the same name is already quarantined: keep both.
            let renamed = format!(
                "{} ({file_id})",
                file.name.clone().unwrap_or_else(|| file_id.to_string())
            );
            status = self
                .write(
                    reqwest::Method::PUT,
                    &path,
                    &[],
                    Some(json!({"parent": {"id": quarantine}, "name": renamed})),
                )
                .await?
                .0;
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(ActionOutcome::done(format!(
                "file {file_id} no longer exists; nothing to quarantine"
            )));
        }
        if !status.is_success() {
            return Err(ConnectorError::Permanent(format!(
                "moving file {file_id} to quarantine answered {status}"
            )));
        }
        Ok(ActionOutcome::Succeeded {
            detail: format!("moved to quarantine folder {quarantine}; original_parent={original} (restore by moving it back)"),
            undo: Some(json!({
                "original_parent": original,
                "name": file.name,
            })),
        })
    }

    pub async fn trash(&self, file_id: &str) -> Result<ActionOutcome, ConnectorError> {
        let (status, _) = self
            .write(
                reqwest::Method::DELETE,
                &format!("/files/{}", path_segment(file_id)),
                &[],
                None,
            )
            .await?;
        Ok(ActionOutcome::done(
            if status == reqwest::StatusCode::NOT_FOUND {
                format!("file {file_id} was already deleted")
            } else {
                format!("file {file_id} moved to the trash")
            },
        ))
    }

    /// `PUT /users/{id}` with `status`: `inactive` suspends the account, `active` restores it.
    pub async fn set_user_status(
        &self,
        user_id: &str,
        status: &str,
    ) -> Result<ActionOutcome, ConnectorError> {
        let (code, _) = self
            .write(
                reqwest::Method::PUT,
                &format!("/users/{}", path_segment(user_id)),
                &[("fields", "status")],
                Some(json!({ "status": status })),
            )
            .await?;
        if code == reqwest::StatusCode::NOT_FOUND {
            return Err(ConnectorError::Permanent(format!(
                "Box has no user {user_id}"
            )));
        }
        Ok(ActionOutcome::done(match status {
            "inactive" => format!("user {user_id} suspended (Box status inactive)"),
            other => format!("user {user_id} set to {other}"),
        }))
    }

    pub async fn remove_shared_link(&self, file_id: &str) -> Result<ActionOutcome, ConnectorError> {
        // `fields=shared_link` is required for the removal to take (Box's shared-links guide).
        let (status, _) = self
            .write(
                reqwest::Method::PUT,
                &format!("/files/{}", path_segment(file_id)),
                &[("fields", "shared_link")],
                Some(json!({"shared_link": null})),
            )
            .await?;
        Ok(ActionOutcome::done(
            if status == reqwest::StatusCode::NOT_FOUND {
                format!("file {file_id} no longer exists; no link to remove")
            } else {
                "shared link removed".into()
            },
        ))
    }

    pub async fn remove_external_collaborations(
        &self,
        integration: &Integration,
        file_id: &str,
        scope: CollaboratorScope,
    ) -> Result<ActionOutcome, ConnectorError> {
        let internal = internal_domains(integration);
        if internal.is_empty() {
            return Ok(ActionOutcome::Unsupported {
                reason: "the integration has no internal domains configured, so external users cannot be told apart".into(),
            });
        }
        let Some(file) = self.file(file_id).await? else {
            return Ok(ActionOutcome::done(format!(
                "file {file_id} no longer exists"
            )));
        };
        // The file's own collaborations, and those on the folders above it only when the
        // policy says so: removing a partner from a folder takes the whole folder from them.
        let mut items = vec![("file", file.id.clone())];
        if scope == CollaboratorScope::Ancestors {
            items.extend(
                file.path_collection
                    .iter()
                    .flat_map(|p| &p.entries)
                    .filter(|f| f.id != "0")
                    .map(|f| ("folder", f.id.clone())),
            );
        }
        let mut removed = Vec::new();
        for (kind, id) in items {
            let path = format!("/{kind}s/{}", path_segment(&id));
            for collaboration in self.collaborations(&path).await? {
                let Some(email) = collaboration.email().filter(|e| is_external(e, &internal))
                else {
                    continue;
                };
                self.write(
                    reqwest::Method::DELETE,
                    &format!("/collaborations/{}", path_segment(&collaboration.id)),
                    &[],
                    None,
                )
                .await?;
                removed.push(json!({
                    "item": {"type": kind, "id": id},
                    "login": email,
                    "role": collaboration.role.clone().unwrap_or_else(|| "viewer".into()),
                }));
            }
        }
        let names: Vec<&str> = removed.iter().filter_map(|r| r["login"].as_str()).collect();
        Ok(ActionOutcome::Succeeded {
            detail: if removed.is_empty() {
                "no external collaborators remained".into()
            } else {
                format!("removed external collaborators: {}", names.join(", "))
            },
            undo: (!removed.is_empty()).then(|| json!({ "collaborations": removed })),
        })
    }

    /// Moves a quarantined file back where it was (`undo` from [`BoxApi::quarantine`]).
    pub async fn restore_from_quarantine(
        &self,
        file_id: &str,
        undo: &Value,
    ) -> Result<ActionOutcome, ConnectorError> {
        let Some(parent) = undo["original_parent"].as_str().filter(|p| !p.is_empty()) else {
            return Ok(ActionOutcome::Unsupported {
                reason: "the quarantine recorded no original folder".into(),
            });
        };
        let mut body = json!({"parent": {"id": parent}});
        if let Some(name) = undo["name"].as_str() {
            // Quarantine may have renamed it to avoid a clash: give it its name back.
            body["name"] = json!(name);
        }
        let path = format!("/files/{}", path_segment(file_id));
        let (status, _) = self
            .write(reqwest::Method::PUT, &path, &[], Some(body))
            .await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(ActionOutcome::Unsupported {
                reason: format!("file {file_id} or folder {parent} no longer exists"),
            });
        }
        if !status.is_success() {
            return Err(ConnectorError::Permanent(format!(
                "moving file {file_id} back to folder {parent} answered {status}"
            )));
        }
        Ok(ActionOutcome::done(format!(
            "moved back to folder {parent}"
        )))
    }

    /// Adds back the collaborations a removal recorded, with their roles.
    pub async fn restore_collaborations(
        &self,
        undo: &Value,
    ) -> Result<ActionOutcome, ConnectorError> {
        let mut restored = Vec::new();
        for entry in undo["collaborations"].as_array().into_iter().flatten() {
            let (Some(kind), Some(id), Some(login)) = (
                entry["item"]["type"].as_str(),
                entry["item"]["id"].as_str(),
                entry["login"].as_str(),
            ) else {
                continue;
            };
            let body = json!({
                "item": {"type": kind, "id": id},
                "accessible_by": {"type": "user", "login": login},
                "role": entry["role"].as_str().unwrap_or("viewer"),
            });
            let (status, answer) = self
                .write(reqwest::Method::POST, "/collaborations", &[], Some(body))
                .await?;
            // 409: they are a collaborator again already (restoring twice is success).
            if !status.is_success() && status != reqwest::StatusCode::CONFLICT {
                return Err(ConnectorError::Permanent(format!(
                    "adding {login} back to {kind} {id} answered {status}: {answer}"
                )));
            }
            restored.push(format!("{login} on {kind} {id}"));
        }
        Ok(ActionOutcome::done(format!(
            "collaborations added back: {}",
            restored.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert_eq!(path_segment("12345"), "12345");
        assert_eq!(path_segment("../../users/me"), "..%2F..%2Fusers%2Fme");
        assert_eq!(path_segment("1?fields=x"), "1%3Ffields%3Dx");
    }

    #[test]
    fn externality_is_by_email_domain() {
        let internal = vec!["example.com".to_string()];
        assert!(!is_external("ann@example.com", &internal));
        assert!(!is_external("Ann@EXAMPLE.com", &internal));
        assert!(is_external("eve@gmail.com", &internal));
        // A look-alike subdomain is not the organization.
        assert!(is_external("eve@example.com.evil.io", &internal));
        // Unknown organization: nobody can be called external.
        assert!(!is_external("eve@gmail.com", &[]));
    }

    #[test]
    fn box_link_access_levels_map_to_visibility() {
        assert_eq!(link_visibility("open"), Some(LinkVisibility::Public));
        assert_eq!(
            link_visibility("company"),
            Some(LinkVisibility::Organization)
        );
        assert_eq!(
            link_visibility("collaborators"),
            Some(LinkVisibility::Restricted)
        );
        assert_eq!(link_visibility("bogus"), None);
    }
}
