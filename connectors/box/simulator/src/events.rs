//! The enterprise event stream, `GET /2.0/events` (saas-apis.md §1.2).
//!
//! Positions are opaque large integers (sent as strings, as clients must store them):
//! `STREAM_POSITION_BASE + index into the stream`. `stream_position=now` returns no entries and
//! the latest position; `0` or none starts from the beginning. `admin_logs_streaming` serves
//! the stream as appended, including injected duplicates and late (backdated) events;
//! `admin_logs` skips duplicates and honours `created_after`/`created_before`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::error::BoxError;
use crate::oauth::parse_query;
use crate::server::Shared;
use crate::state::SimState;

/// Keeps positions far from small integers so a client that parses them as 32-bit fails here.
pub const STREAM_POSITION_BASE: u64 = 1_152_921_504_606_846_976;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 500;

fn parse_time(
    query: &HashMap<String, String>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, BoxError> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| BoxError::bad_request(format!("{name} must be an RFC 3339 date-time"))),
    }
}

impl SimState {
    pub fn read_events(
        &mut self,
        user_id: &str,
        query: &HashMap<String, String>,
    ) -> Result<Value, BoxError> {
        let stream_type = query
            .get("stream_type")
            .map(String::as_str)
            .unwrap_or("all");
        let streaming = match stream_type {
            "admin_logs_streaming" => true,
            "admin_logs" => false,
            other => return Err(BoxError::bad_request(format!("The simulator serves only the enterprise streams (admin_logs, admin_logs_streaming), not stream_type={other}"))),
        };
        // Admin streams need an admin (or co-admin with reporting rights).
        self.require_admin(user_id, "Enterprise events require an admin")?;
        let limit = match query.get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| BoxError::bad_request("limit must be an integer"))?
                .clamp(1, MAX_LIMIT),
        };
        let latest = STREAM_POSITION_BASE + self.stream.len() as u64;
        let start = match query.get("stream_position").map(String::as_str) {
            Some("now") => {
                return Ok(
                    json!({"chunk_size": 0, "next_stream_position": latest.to_string(), "entries": []}),
                )
            }
            None | Some("0") | Some("") => 0,
            Some(text) => {
                let position = text.parse::<u64>().map_err(|_| {
                    BoxError::bad_request(
                        "stream_position must be 'now' or a position returned earlier",
                    )
                })?;
                (position.saturating_sub(STREAM_POSITION_BASE) as usize).min(self.stream.len())
            }
        };
        let event_types: Option<Vec<String>> = query.get("event_type").map(|types| {
            types
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect()
        });
        // created_after / created_before are honoured for admin_logs only (saas-apis.md §1.2).
        let (after, before) = if streaming {
            (None, None)
        } else {
            (
                parse_time(query, "created_after")?,
                parse_time(query, "created_before")?,
            )
        };

        let mut entries = Vec::new();
        let mut served_indices = Vec::new();
        let mut cursor = start;
        while cursor < self.stream.len() && entries.len() < limit {
            let entry = &self.stream[cursor];
            let wanted = (streaming || !entry.is_duplicate)
                && event_types
                    .as_ref()
                    .is_none_or(|types| types.contains(&entry.event_type))
                && after.is_none_or(|t| entry.created_at >= t)
                && before.is_none_or(|t| entry.created_at <= t);
            if wanted {
                entries.push(entry.event.clone());
                served_indices.push(cursor);
            }
            cursor += 1;
        }
        let next_position = STREAM_POSITION_BASE + cursor as u64;

        // Injected duplicates: once a page served the original, append a copy at the end of
        // the stream so the same event_id comes back on a later page.
        let due: Vec<usize> = self
            .faults
            .pending_duplicates
            .iter()
            .copied()
            .filter(|index| served_indices.contains(index))
            .collect();
        if !due.is_empty() {
            self.faults
                .pending_duplicates
                .retain(|index| !due.contains(index));
            for index in due {
                let mut copy = self.stream[index].clone();
                copy.is_duplicate = true;
                self.stream.push(copy);
            }
        }
        Ok(
            json!({"chunk_size": entries.len(), "next_stream_position": next_position.to_string(), "entries": entries}),
        )
    }
}

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = parse_query(raw.as_deref());
    shared.serve_as_caller(&headers, |state, user| {
        state.read_events(&user, &query).map(axum::Json)
    })
}
