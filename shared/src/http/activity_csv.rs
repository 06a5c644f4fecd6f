//! Activities as the CSV rows of the Anomalous Activity API (`queryActivities`, seed 002): the
//! 56 columns security teams' scripts already parse, filled from the normalized activity and its
//! enrichments, quoted as RFC 4180 says. A column stays empty only when nothing we hold says it.
//!
//! Only the row format is here; the route that streams these rows for an anomaly comes with the
//! REST API's authentication.

use crate::domain::{enum_label, Activity, Anomaly, EventType, IngestPath, LinkVisibility};

/// The header, column for column as the API documents it.
pub const COLUMNS: [&str; 56] = [
    "timeStamp",
    "accountId",
    "actionName",
    "asn",
    "asnName",
    "city",
    "clientCategory",
    "clientName",
    "clientOS",
    "collabGroup",
    "collabGroupAndTarget",
    "count",
    "country",
    "cspId",
    "deviceManaged",
    "directory",
    "downloadBytes",
    "eventCount",
    "fileFolderPath",
    "fileName",
    "fileOwner",
    "fileSharingEnabled",
    "fileSize",
    "fileType",
    "geoOrgNameV1",
    "httpMethod",
    "instanceId",
    "isSourceTrusted",
    "locationId",
    "monitoringStatusMetric",
    "networkType",
    "noOfObjects",
    "objectType",
    "operation",
    "profile",
    "proxyDescription",
    "proxyServerTime",
    "proxyTotalTime",
    "proxyType",
    "region",
    "serviceName",
    "shnProcessTimestamp",
    "siteUrl",
    "sourceIP",
    "sourceIdentifier",
    "subCspId",
    "targetId",
    "targetType",
    "tenantId",
    "threatCategory",
    "trustEntity",
    "trustReason",
    "uploadBytes",
    "url",
    "user",
    "userCount",
];

/// The header line, with its line break.
pub fn header() -> String {
    let mut line = COLUMNS.join(",");
    line.push_str("\r\n");
    line
}

/// One field, quoted when RFC 4180 requires it (a comma, a quote, a line break; leading or
/// trailing spaces kept by quoting too).
fn field(value: &str) -> String {
    let needs_quotes =
        value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ');
    if needs_quotes {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

fn domain(email: &str) -> Option<&str> {
    email
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

fn service_name(activity: &Activity) -> &'static str {
    use crate::domain::Provider;
    match activity.provider {
        Provider::Box => "Box",
        Provider::Microsoft365 => "Microsoft 365",
        Provider::GoogleWorkspace => "Google Workspace",
        Provider::Slack => "Slack",
        Provider::Dropbox => "Dropbox",
        Provider::Netskope => "Netskope",
        Provider::TrendMicro => "Trend Micro Cloud App Security",
    }
}

/// One activity as a CSV line (with its line break). `anomaly` names the threat category;
/// `trusted_source` says whether the address is in the trusted networks.
pub fn row(activity: &Activity, anomaly: Option<&Anomaly>, trusted_source: bool) -> String {
    let geo = activity.enrichments.geo.as_ref();
    let exposure = activity.enrichments.exposure.as_ref();
    let size = exposure.and_then(|e| e.size).map(|s| s.to_string());
    let moved = |wanted: EventType| {
        if activity.event_type == wanted {
            size.clone()
        } else {
            Some("0".into())
        }
    };
    let is_download = activity.event_type == EventType::DataAccess
        && activity
            .event_name
            .to_ascii_uppercase()
            .contains("DOWNLOAD");
    let object = activity.object_id.is_some() || activity.object_name.is_some();
    let file_type = activity
        .object_name
        .as_deref()
        .filter(|_| activity.object_type.as_deref() != Some("folder"))
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase());
    let sharing = activity
        .link_visibility
        .map(|v| v != LinkVisibility::Restricted)
        .or(exposure.map(|e| e.public_link || e.organization_link))
        .map(|b| b.to_string());
    let location = geo.and_then(|g| {
        let city = g.city.as_deref()?;
        Some(format!(
            "{}::{}::{}",
            city.to_lowercase(),
            g.country.as_deref().unwrap_or(""),
            g.region.as_deref().unwrap_or("").to_lowercase()
        ))
    });
    let text = |v: Option<&str>| v.map(str::to_string);
    let values: [Option<String>; 56] = [
        Some(activity.event_timestamp.timestamp_millis().to_string()),
        text(activity.actor_id.as_deref()),
        Some(activity.event_name.clone()),
        geo.and_then(|g| g.asn).map(|a| a.to_string()),
        text(geo.and_then(|g| g.asn_name.as_deref())),
        text(geo.and_then(|g| g.city.as_deref())).map(|c| c.to_lowercase()),
        None,
        text(activity.enrichments.user_agent.as_deref()),
        None,
        text(activity.actor_email.as_deref().and_then(domain)),
        text(activity.target_user_email.as_deref().and_then(domain)),
        Some("1".into()),
        text(geo.and_then(|g| g.country.as_deref())),
        Some(activity.provider.as_str().to_string()),
        None,
        activity
            .object_type
            .as_deref()
            .map(|t| (t == "folder").to_string()),
        if is_download {
            size.clone()
        } else {
            Some("0".into())
        },
        Some("1".into()),
        text(activity.object_path.as_deref()),
        text(activity.object_name.as_deref()),
        text(exposure.and_then(|e| e.owner_email.as_deref())),
        sharing,
        size.clone(),
        file_type,
        text(geo.and_then(|g| g.asn_name.as_deref())),
        None,
        Some(activity.integration_id.clone()),
        activity
            .actor_ip
            .as_ref()
            .map(|_| trusted_source.to_string()),
        location,
        None,
        None,
        Some(if object { "1" } else { "0" }.into()),
        text(activity.object_type.as_deref()).map(|t| t.to_uppercase()),
        Some(enum_label(&activity.event_type).to_uppercase()),
        None,
        None,
        None,
        None,
        None,
        text(geo.and_then(|g| g.region.as_deref())).map(|r| r.to_lowercase()),
        Some(service_name(activity).into()),
        activity
            .log_timestamp
            .map(|t| t.timestamp_millis().to_string()),
        None,
        text(activity.actor_ip.as_deref()),
        Some(
            match activity.ingest_path {
                IngestPath::Pull => "Cloud Service API",
                IngestPath::Push => "Cloud Service Webhook",
            }
            .into(),
        ),
        None,
        text(
            activity
                .target_user_id
                .as_deref()
                .or(activity.target_user_email.as_deref()),
        ),
        activity.target_user_type.map(|t| enum_label(&t)),
        Some(activity.tenant_id.clone()),
        anomaly.map(|a| a.category.label().to_string()),
        None,
        None,
        moved(EventType::DataCreation),
        text(activity.shared_link.as_deref()),
        text(
            activity
                .actor_email
                .as_deref()
                .or(activity.actor_name.as_deref()),
        ),
        Some("1".into()),
    ];
    let mut line = values
        .iter()
        .map(|v| field(v.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// The rows of the activities behind `anomaly` that happened at or after `since`, newest
/// first, as a stream of chunks of CSV lines: only the ids (at most
/// [`Anomaly::KEPT_ACTIVITIES`]) are held, and the activities are read 200 at a time, a few
/// batches ahead, so 100,000 rows never sit in memory. Activities past their retention are left
/// out.
pub fn anomaly_rows(
    core: crate::Core,
    anomaly: Anomaly,
    since: chrono::DateTime<chrono::Utc>,
) -> impl futures::Stream<Item = Result<String, crate::ports::StoreError>> + Send + 'static {
    use futures::TryStreamExt;
    let anomaly = std::sync::Arc::new(anomaly);
    let ids = {
        let (core, anomaly) = (core.clone(), anomaly.clone());
        async move {
            core.backend
                .threats
                .anomaly_activities(&anomaly.tenant_id, &anomaly.id, Anomaly::KEPT_ACTIVITIES)
                .await
        }
    };
    // Read in batches, a few at a time, and written in the ids' order (newest first).
    futures::stream::once(ids)
        .map_ok(|ids| {
            let batches: Vec<Vec<String>> = ids.chunks(200).map(<[String]>::to_vec).collect();
            futures::stream::iter(batches.into_iter().map(Ok))
        })
        .try_flatten()
        .map_ok(move |batch: Vec<String>| {
            let (core, anomaly) = (core.clone(), anomaly.clone());
            async move {
                let found = core
                    .backend
                    .activities
                    .get_activities(&anomaly.tenant_id, &batch)
                    .await?;
                let mut by_id: std::collections::HashMap<String, Activity> =
                    found.into_iter().map(|a| (a.id(), a)).collect();
                let settings = &core.threats().settings;
                let mut lines = String::new();
                for id in &batch {
                    let Some(activity) = by_id.remove(id) else {
                        continue;
                    };
                    if activity.event_timestamp < since {
                        continue;
                    }
                    let trusted = activity
                        .actor_ip
                        .as_deref()
                        .is_some_and(|ip| settings.is_trusted(ip));
                    lines.push_str(&row(&activity, Some(&anomaly), trusted));
                }
                Ok(lines)
            }
        })
        .try_buffered(4)
        .try_filter(|lines| std::future::ready(!lines.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{fixtures, GeoEnrichment};

    /// RFC 4180 parsing, written apart from the writer: fields, quoted fields with doubled
    /// quotes and embedded line breaks.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut rows = vec![];
        let mut row = vec![];
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') if field.is_empty() => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') if chars.peek() == Some(&'\n') => {}
                (false, '\n') => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => field.push(c),
            }
        }
        rows
    }

    #[test]
    fn names_with_commas_quotes_and_line_breaks_survive_a_round_trip() {
        let mut activity = fixtures::public_share("csv-1");
        activity.object_name = Some("Q4, \"final\"\nv2.xlsx".into());
        activity.object_path = Some(" /Finance/ ".into());
        let parsed = parse(&row(&activity, None, false));
        assert_eq!(parsed.len(), 1);
        let cells = &parsed[0];
        assert_eq!(cells.len(), 56);
        let at = |column: &str| &cells[COLUMNS.iter().position(|c| *c == column).unwrap()];
        assert_eq!(at("fileName"), "Q4, \"final\"\nv2.xlsx");
        assert_eq!(at("fileFolderPath"), " /Finance/ ");
        assert_eq!(at("fileType"), "xlsx");
        assert_eq!(at("user"), "ann@example.com");
        assert_eq!(at("collabGroup"), "example.com");
        assert_eq!(at("timeStamp"), "1795514400000");
        assert_eq!(at("fileSharingEnabled"), "true");
        assert_eq!(at("serviceName"), "Box");
        assert_eq!(at("operation"), "DATA_SHARING");
    }

    #[test]
    fn geography_and_the_anomaly_fill_their_columns_and_absent_facts_stay_empty() {
        let mut activity = fixtures::public_share("csv-2");
        activity.enrichments.geo = Some(GeoEnrichment {
            country: Some("US".into()),
            region: Some("CA".into()),
            city: Some("San Francisco".into()),
            asn: Some(8987),
            asn_name: Some("amazon data services ireland ltd".into()),
            ..GeoEnrichment::default()
        });
        let cells = &parse(&row(&activity, None, true))[0];
        let at = |column: &str| cells[COLUMNS.iter().position(|c| *c == column).unwrap()].clone();
        // As the seed's sample rows write them.
        assert_eq!(at("locationId"), "san francisco::US::ca");
        assert_eq!(at("city"), "san francisco");
        assert_eq!(at("asn"), "8987");
        assert_eq!(at("isSourceTrusted"), "true");
        assert_eq!(at("threatCategory"), "");
        assert_eq!(at("clientOS"), "", "nothing we hold says it");
    }
}
