//! Sweep (threat investigation): the stored activities of every provider that match what an
//! investigation knows: a file hash, a file name or extension, a sender or actor, a URL, a source
//! address, within a time range.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use serde::Deserialize;

use super::activities::ActivityPage;
use super::auth::Caller;
use super::{
    bad_request, decode_cursor, encode_cursor, filtered_page, page_limit, ApiState, JsonBody,
};
use crate::domain::{Activity, Provider};
use crate::http::ApiError;
use crate::ports::ActivityQuery;

/// The longest time range one sweep covers.
const MAX_RANGE: Duration = Duration::days(90);

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    /// A SHA-1, SHA-256 or MD5 of a file (hex): the provider's content hash, or any hash the
    /// event itself carries (security-event sources report them).
    pub file_hash: Option<String>,
    /// A part of the file's name (case-insensitive).
    pub file_name: Option<String>,
    /// The file's extension, without the dot (case-insensitive).
    pub extension: Option<String>,
    /// The mail sender (exact, case-insensitive).
    pub sender: Option<String>,
    /// The actor's login or name (exact, case-insensitive).
    pub actor: Option<String>,
    /// A URL (or a part of one) the event names: a shared link, or a URL in the event.
    pub url: Option<String>,
    /// A source address or network (`203.0.113.7`, `203.0.113.0/24`).
    pub source_address: Option<String>,
    pub provider: Option<Provider>,
    /// At or after (RFC 3339); default 7 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// At or before (RFC 3339); default now. At most 90 days after `from`.
    pub to: Option<DateTime<Utc>>,
    /// 1 to 500; default 100.
    pub limit: Option<usize>,
    /// The previous page's `next`.
    pub cursor: Option<String>,
}

/// What a sweep looks for, checked and normalised.
struct Criteria {
    hash: Option<String>,
    file_name: Option<String>,
    extension: Option<String>,
    sender: Option<String>,
    actor: Option<String>,
    url: Option<String>,
    network: Option<IpNet>,
    provider: Option<Provider>,
}

fn lower(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_lowercase)
}

impl Criteria {
    fn from_request(request: &SweepRequest) -> Result<Self, ApiError> {
        let hash = lower(&request.file_hash);
        if let Some(hash) = &hash {
            if ![32, 40, 64].contains(&hash.len()) || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad_request(format!(
                    "file_hash '{hash}' is not an MD5, SHA-1 or SHA-256 in hexadecimal"
                )));
            }
        }
        let network = match request.source_address.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        bad_request(format!(
                            "source_address '{text}' is not an address or a network (203.0.113.0/24)"
                        ))
                    })?,
            ),
        };
        let criteria = Criteria {
            hash,
            file_name: lower(&request.file_name),
            extension: lower(&request.extension).map(|e| e.trim_start_matches('.').to_string()),
            sender: lower(&request.sender),
            actor: lower(&request.actor),
            url: lower(&request.url),
            network,
            provider: request.provider,
        };
        let any = criteria.hash.is_some()
            || criteria.file_name.is_some()
            || criteria.extension.is_some()
            || criteria.sender.is_some()
            || criteria.actor.is_some()
            || criteria.url.is_some()
            || criteria.network.is_some();
        if !any {
            return Err(bad_request(
                "name at least one of file_hash, file_name, extension, sender, actor, url, source_address",
            ));
        }
        Ok(criteria)
    }

    /// Every criterion given holds.
    fn matches(&self, activity: &Activity) -> bool {
        let name = activity.object_name.as_deref().map(str::to_lowercase);
        // The provider's own event, for what only it carries (hashes, URLs of a mail).
        let raw = || activity.raw.to_string().to_lowercase();
        self.provider.is_none_or(|p| activity.provider == p)
            && self.hash.as_ref().is_none_or(|hash| {
                activity
                    .enrichments
                    .exposure
                    .as_ref()
                    .and_then(|e| e.content_sha1.as_deref())
                    .is_some_and(|sha1| sha1.eq_ignore_ascii_case(hash))
                    || raw().contains(hash.as_str())
            })
            && self
                .file_name
                .as_ref()
                .is_none_or(|part| name.as_ref().is_some_and(|n| n.contains(part.as_str())))
            && self.extension.as_ref().is_none_or(|ext| {
                name.as_ref()
                    .and_then(|n| n.rsplit_once('.'))
                    .is_some_and(|(_, e)| e == ext)
            })
            && self.sender.as_ref().is_none_or(|sender| {
                activity
                    .from_email
                    .as_deref()
                    .is_some_and(|f| f.eq_ignore_ascii_case(sender))
            })
            && self.actor.as_ref().is_none_or(|actor| {
                [&activity.actor_email, &activity.actor_name]
                    .into_iter()
                    .flatten()
                    .any(|a| a.eq_ignore_ascii_case(actor))
            })
            && self.url.as_ref().is_none_or(|url| {
                activity
                    .shared_link
                    .as_deref()
                    .is_some_and(|l| l.to_lowercase().contains(url.as_str()))
                    || raw().contains(url.as_str())
            })
            && self.network.as_ref().is_none_or(|network| {
                activity
                    .actor_ip
                    .as_deref()
                    .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
                    .is_some_and(|ip| network.contains(&ip))
            })
    }
}

/// Search the tenant's stored activities of every provider for what an investigation knows.
/// Every criterion given must hold. Newest first, paged: a page scans a bounded number of
/// activities, so a rare match may come on a later page (follow `next`).
#[utoipa::path(post, path = "/api/v1/sweeps", tag = "investigation",
    request_body = SweepRequest,
    responses(
        (status = 200, description = "One page of matching activities", body = ActivityPage),
        (status = 400, description = "No criterion, or one that is not valid", body = ApiError),
    ))]
pub(super) async fn sweep(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(request): JsonBody<SweepRequest>,
) -> Result<Json<ActivityPage>, ApiError> {
    let criteria = Criteria::from_request(&request)?;
    let limit = page_limit(request.limit, 100, 500)?;
    let to = request.to.unwrap_or_else(|| state.core.backend.clock.now());
    let from = request.from.unwrap_or(to - Duration::days(7));
    super::time_range(Some(from), Some(to))?;
    if to - from > MAX_RANGE {
        return Err(bad_request(
            "the time range is longer than 90 days: sweep it in parts",
        ));
    }
    let start = decode_cursor(request.cursor.as_deref())?;
    let store = state.core.backend.activities.clone();
    let (activities, next) = filtered_page(
        limit,
        start,
        |a: &Activity| (a.event_timestamp, a.id()),
        |a| criteria.matches(a),
        |before, chunk| {
            let query = ActivityQuery {
                tenant_id: caller.tenant_id.clone(),
                from: Some(from),
                to: Some(to),
                before,
                limit: chunk,
                ..ActivityQuery::default()
            };
            let store = store.clone();
            async move { store.query_activities(&query).await }
        },
    )
    .await?;
    Ok(Json(ActivityPage {
        activities,
        next: encode_cursor(next),
    }))
}
