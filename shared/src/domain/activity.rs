//! The normalized activity: every provider's event becomes one of these.
//!
//! The attribute list is the one a CASB requires of a service's event feed (see the product
//! mission and its source, seed 000): 24 attributes, plus the provider, the integration, the raw
//! event and enrichments. Attributes a provider cannot give stay `None`; connectors fetch what an
//! event lacks from the provider's API where one exists.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Provider;

/// What kind of thing happened, in the CASB's vocabulary rather than the provider's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    DataCreation,
    DataModification,
    DataDeletion,
    DataAccess,
    DataSharing,
    Administration,
    Login,
    LoginFailure,
    Logout,
    Other,
}

/// Whether a person belongs to the tenant's organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    Internal,
    External,
    Unknown,
}

/// Who can open an object through its shared link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkVisibility {
    /// Anyone with the link, no sign-in.
    Public,
    /// Anyone signed in to the tenant's organization.
    Organization,
    /// Only people explicitly given access.
    Restricted,
}

/// Where an activity entered the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IngestPath {
    /// Pushed by the provider to webhook-intake.
    Push,
    /// Pulled by the poller from the provider's event API.
    Pull,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GeoEnrichment {
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub asn: Option<u32>,
    pub asn_name: Option<String>,
    /// Where the address is, as the provider or the geolocation database places it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// How far off the place may be (the database's 67 % radius), in kilometres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_radius_km: Option<u32>,
}

/// Who can reach the object now, as the connector found it at the provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exposure {
    pub public_link: bool,
    /// A link anyone signed in to the organization can open.
    #[serde(default)]
    pub organization_link: bool,
    /// Emails of collaborators outside the organization.
    pub external_collaborators: Vec<String>,
    /// The provider's content hash, when it gives one.
    pub content_sha1: Option<String>,
    /// The file's size in bytes, as the provider reports it.
    #[serde(default)]
    pub size: Option<u64>,
    /// The login of the file's owner (who may not be the person acting on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
}

impl Exposure {
    pub fn is_exposed(&self) -> bool {
        self.public_link || !self.external_collaborators.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Enrichments {
    pub geo: Option<GeoEnrichment>,
    pub user_agent: Option<String>,
    pub device: Option<String>,
    #[serde(default)]
    pub exposure: Option<Exposure>,
}

/// One user activity in a SaaS tenant, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Activity {
    // --- the 24 attributes a CASB requires of an event feed ---
    pub tenant_id: String,
    /// The provider's own id for the event; with the integration it identifies the activity.
    pub event_id: String,
    /// The provider's event name, e.g. Box `SHARE`.
    pub event_name: String,
    /// When the user did it.
    pub event_timestamp: DateTime<Utc>,
    /// When the provider logged it.
    pub log_timestamp: Option<DateTime<Utc>>,
    pub event_type: EventType,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub actor_type: UserType,
    pub actor_role: Option<String>,
    pub actor_ip: Option<String>,
    pub object_id: Option<String>,
    pub file_download_url: Option<String>,
    pub object_type: Option<String>,
    pub object_name: Option<String>,
    pub object_path: Option<String>,
    pub from_email: Option<String>,
    pub target_user_email: Option<String>,
    pub target_user_id: Option<String>,
    pub target_user_type: Option<UserType>,
    pub role_granted: Option<String>,
    pub shared_link: Option<String>,
    pub link_visibility: Option<LinkVisibility>,

    // --- where it came from ---
    pub provider: Provider,
    pub integration_id: String,
    pub ingest_path: IngestPath,
    /// The provider's event exactly as received, for forensics and for OCSF `unmapped`.
    pub raw: serde_json::Value,
    #[serde(default)]
    pub enrichments: Enrichments,
    /// The user action this event records, as its connector identifies it
    /// ([`crate::connector::Connector::action_identity`]): a webhook notice and an audit-log
    /// entry of one upload share it, so the store keeps one activity for the two.
    #[serde(default)]
    pub identity: Option<String>,
    /// Why the activity lacks some of what its connector normally adds (a lookup refused, the
    /// provider's answer unreadable, a rate limit longer than the poll could wait). It is kept
    /// with what is known rather than stalling its stream.
    #[serde(default)]
    pub incomplete: Option<String>,
    /// Every path that brought a copy of this action, once copies have been merged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen_by: Vec<IngestPath>,
}

impl Activity {
    /// A stable id for the activity: the same provider event always gets the same id, whichever
    /// path (push or pull) brought it and however often it was delivered.
    pub fn id(&self) -> String {
        activity_id(
            self.provider,
            &self.integration_id,
            self.identity.as_deref().unwrap_or(&self.event_id),
        )
    }

    /// The key under which ingestion remembers having queued this copy of the action: one per
    /// ingest path, so the pulled copy still reaches the inspector to complete a pushed one.
    pub fn dedup_key(&self) -> String {
        format!(
            "activity#{}#{}#{}",
            self.tenant_id,
            self.id(),
            super::enum_label(&self.ingest_path)
        )
    }

    /// One activity from two copies of the same user action (same [`Activity::id`]): the
    /// pulled copy (the provider's audit record) wins where both know a field; each fills what
    /// the other lacks. An `incomplete` mark stays only if neither copy is complete.
    pub fn merged_with(self, other: Activity) -> Activity {
        let mut paths = self.paths();
        paths.extend(other.paths());
        paths.sort_by_key(|p| *p as u8);
        paths.dedup();
        let (mut primary, secondary) =
            if other.ingest_path == IngestPath::Pull && self.ingest_path != IngestPath::Pull {
                (other, self)
            } else {
                (self, other)
            };
        macro_rules! fill {
            ($($field:ident),*) => {$(
                if primary.$field.is_none() {
                    primary.$field = secondary.$field.clone();
                }
            )*};
        }
        fill!(
            log_timestamp,
            actor_id,
            actor_name,
            actor_email,
            actor_role,
            actor_ip,
            object_id,
            file_download_url,
            object_type,
            object_name,
            object_path,
            from_email,
            target_user_email,
            target_user_id,
            target_user_type,
            role_granted,
            shared_link,
            link_visibility
        );
        if primary.actor_type == UserType::Unknown {
            primary.actor_type = secondary.actor_type;
        }
        let enrichments = &mut primary.enrichments;
        if enrichments.geo.is_none() {
            enrichments.geo = secondary.enrichments.geo.clone();
        }
        if enrichments.user_agent.is_none() {
            enrichments.user_agent = secondary.enrichments.user_agent.clone();
        }
        if enrichments.device.is_none() {
            enrichments.device = secondary.enrichments.device.clone();
        }
        // Each copy saw the object's exposure when it was processed, one perhaps after a
        // remediation had already closed it: what either saw was true around the event.
        enrichments.exposure = match (enrichments.exposure.take(), &secondary.enrichments.exposure)
        {
            (Some(mut mine), Some(theirs)) => {
                mine.public_link |= theirs.public_link;
                mine.organization_link |= theirs.organization_link;
                for email in &theirs.external_collaborators {
                    if !mine.external_collaborators.contains(email) {
                        mine.external_collaborators.push(email.clone());
                    }
                }
                mine.content_sha1 = mine.content_sha1.or_else(|| theirs.content_sha1.clone());
                mine.size = mine.size.or(theirs.size);
                mine.owner_email = mine.owner_email.or_else(|| theirs.owner_email.clone());
                Some(mine)
            }
            (mine, theirs) => mine.or_else(|| theirs.clone()),
        };
        if primary.incomplete.is_some() && secondary.incomplete.is_none() {
            primary.incomplete = None;
        }
        primary.seen_by = paths;
        primary
    }

    /// The paths that brought this action in (push, pull or both).
    pub fn paths(&self) -> Vec<IngestPath> {
        let mut paths = self.seen_by.clone();
        if !paths.contains(&self.ingest_path) {
            paths.push(self.ingest_path);
        }
        paths.sort_by_key(|p| *p as u8);
        paths
    }

    /// Whether this activity concerns a file (and so may carry content worth inspecting).
    pub fn is_about_file(&self) -> bool {
        self.object_type.as_deref() == Some("file")
    }
}

/// The event id of an event whose provider gave it none: derived from its content, so a copy
/// delivered again (a resent page) is still recognised.
pub fn content_event_id(event: &serde_json::Value) -> String {
    hex::encode(&Sha256::digest(event.to_string().as_bytes())[..16])
}

/// Stable activity id derived from the provider's own event id.
pub fn activity_id(provider: Provider, integration_id: &str, event_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(provider.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(integration_id.as_bytes());
    hasher.update([0]);
    hasher.update(event_id.as_bytes());
    hex::encode(&hasher.finalize()[..16])
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A file shared with a public link by an internal user: the shape the built-in public-share
    /// policy looks for.
    pub fn public_share(event_id: &str) -> Activity {
        Activity {
            tenant_id: "tenant-1".into(),
            event_id: event_id.into(),
            event_name: "SHARE".into(),
            event_timestamp: "2026-11-24T10:00:00Z".parse().unwrap(),
            log_timestamp: None,
            event_type: EventType::DataSharing,
            actor_id: Some("11".into()),
            actor_name: Some("Ann".into()),
            actor_email: Some("ann@example.com".into()),
            actor_type: UserType::Internal,
            actor_role: None,
            actor_ip: Some("192.0.2.1".into()),
            object_id: Some("f-1".into()),
            file_download_url: None,
            object_type: Some("file".into()),
            object_name: Some("cards.csv".into()),
            object_path: Some("/Finance/cards.csv".into()),
            from_email: None,
            target_user_email: None,
            target_user_id: None,
            target_user_type: None,
            role_granted: None,
            shared_link: Some("https://app.box.com/s/abc".into()),
            link_visibility: Some(LinkVisibility::Public),
            provider: Provider::Box,
            integration_id: "int-1".into(),
            ingest_path: IngestPath::Pull,
            raw: serde_json::json!({"event_id": event_id}),
            enrichments: Enrichments::default(),
            identity: None,
            incomplete: None,
            seen_by: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_event_gets_the_same_id_whichever_path_brought_it() {
        let pulled = fixtures::public_share("e-1");
        let mut pushed = pulled.clone();
        pushed.ingest_path = IngestPath::Push;
        pushed.raw = serde_json::json!({"other": "shape"});
        assert_eq!(pulled.id(), pushed.id());
        assert_ne!(pulled.id(), fixtures::public_share("e-2").id());
    }

    #[test]
    fn a_pushed_and_a_pulled_copy_of_one_action_are_one_activity_completed_by_the_pull() {
        let mut pushed = fixtures::public_share("webhook-delivery-1");
        pushed.ingest_path = IngestPath::Push;
        pushed.identity = Some("SHARE#f-1#11#2026-11-24T10:00:00Z".into());
        pushed.actor_ip = None;
        pushed.log_timestamp = None;
        pushed.incomplete = Some("file lookup refused".into());
        let mut pulled = fixtures::public_share("enterprise-event-9");
        pulled.identity = pushed.identity.clone();
        pulled.object_path = None;
        pulled.log_timestamp = Some("2026-11-24T10:00:03Z".parse().unwrap());
        assert_eq!(pushed.id(), pulled.id());
        assert_ne!(pushed.dedup_key(), pulled.dedup_key());

        for merged in [
            pushed.clone().merged_with(pulled.clone()),
            pulled.clone().merged_with(pushed.clone()),
        ] {
            // The pull is the audit record: its event id and timestamps win...
            assert_eq!(merged.event_id, "enterprise-event-9");
            assert_eq!(merged.ingest_path, IngestPath::Pull);
            assert_eq!(merged.log_timestamp, pulled.log_timestamp);
            assert_eq!(merged.actor_ip.as_deref(), Some("192.0.2.1"));
            // ...and the push fills what it lacks; complete once either copy is.
            assert_eq!(merged.object_path.as_deref(), Some("/Finance/cards.csv"));
            assert_eq!(merged.incomplete, None);
            assert_eq!(merged.id(), pushed.id());
            assert_eq!(merged.paths(), vec![IngestPath::Push, IngestPath::Pull]);
        }

        // The push copy saw the link before a remediation removed it; the pull copy after.
        let mut early = pushed.clone();
        early.enrichments.exposure = Some(Exposure {
            public_link: true,
            external_collaborators: vec!["pat@partner.example".into()],
            ..Exposure::default()
        });
        let mut late = pulled.clone();
        late.enrichments.exposure = Some(Exposure {
            content_sha1: Some("abc".into()),
            ..Exposure::default()
        });
        let merged = late.merged_with(early).enrichments.exposure.unwrap();
        assert!(merged.public_link);
        assert_eq!(merged.external_collaborators, ["pat@partner.example"]);
        assert_eq!(merged.content_sha1.as_deref(), Some("abc"));
    }

    #[test]
    fn ids_do_not_collide_across_integrations_with_the_same_event_id() {
        let a = activity_id(Provider::Box, "int-1", "e-1");
        let b = activity_id(Provider::Box, "int-2", "e-1");
        // A naive concatenation would make ("int-1", "0e") and ("int-10", "e") collide.
        let c = activity_id(Provider::Box, "int-10", "e-1");
        let d = activity_id(Provider::Box, "int-1", "0e-1");
        assert_ne!(a, b);
        assert_ne!(c, d);
    }

    #[test]
    fn activity_round_trips_through_json() {
        let activity = fixtures::public_share("e-1");
        let json = serde_json::to_string(&activity).unwrap();
        let back: Activity = serde_json::from_str(&json).unwrap();
        assert_eq!(back, activity);
        assert!(json.contains("\"link_visibility\":\"public\""));
    }
}
