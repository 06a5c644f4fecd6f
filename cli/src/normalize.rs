//! `casb normalize`: raw provider events to OCSF 1.5.0, one record per line, so a user can check
//! a mapping on their own data. Nothing is looked up at the provider: fields only enrichment
//! would add (Box paths and exposure) stay absent. An event no mapping covers comes out as it
//! came, marked `"casb_unmapped": true`, never dropped.

use anyhow::anyhow;
use casb_shared::domain::{EventType, Provider};
use casb_shared::ocsf::{self, Mapped};
use serde_json::Value;

/// The events in `input`: JSON Lines, a JSON array, one event, or a provider's page (Box
/// `entries`, Netskope `result`, Trend Micro `security_events`).
fn events(input: &str) -> anyhow::Result<Vec<Value>> {
    let page_lists = ["entries", "result", "security_events"];
    match serde_json::from_str::<Value>(input) {
        Ok(Value::Object(page)) => {
            if let Some(list) = page_lists.iter().find_map(|k| page.get(*k)) {
                return Ok(list.as_array().cloned().unwrap_or_default());
            }
            Ok(vec![Value::Object(page)])
        }
        Ok(Value::Array(events)) => Ok(events),
        _ => input
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .map_err(|e| anyhow!("line {}: not a JSON event: {e}", i + 1))
            })
            .collect(),
    }
}

/// Prints each event's record; returns (mapped, passed through raw).
pub fn normalize(
    provider_name: &str,
    stream: Option<&str>,
    input: &str,
    internal_domains: &[String],
    raw_data: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<(usize, usize)> {
    let provider: Provider = provider_name.parse().map_err(|e: String| anyhow!(e))?;
    let mut integration = crate::box_tools::integration(internal_domains);
    integration.provider = provider;
    let options = ocsf::Options { raw_data };
    let (mut mapped, mut unmapped) = (0, 0);
    for event in events(input)? {
        let activity = match provider {
            // A Box event type the connector does not know has no meaning for the CASB.
            Provider::Box => casb_connector_box::events::map_event(&integration, &event)
                .filter(|a| a.event_type != EventType::Other),
            Provider::Netskope => Some(casb_connector_netskope::map_event(
                &integration,
                stream.unwrap_or(""),
                &event,
            )),
            Provider::TrendMicro => Some(casb_connector_trendmicro::map_event(&integration, &event)),
            other => anyhow::bail!(
                "casb normalize knows box, netskope and trend_micro events; {other} has no connector yet"
            ),
        };
        let line = match activity.map(|a| ocsf::map_activity(&a, options)) {
            Some(Mapped::Ocsf(record)) => {
                mapped += 1;
                record
            }
            Some(Mapped::Unmapped(record)) => {
                unmapped += 1;
                record
            }
            None => {
                unmapped += 1;
                ocsf::unmapped_event(provider_name, None, &event)
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok((mapped, unmapped))
}
