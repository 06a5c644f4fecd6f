//! The simulated tenant: stored security events, the clock, throttles, faults and stats, and the
//! one request the API serves. Everything here is synchronous and runs under the server's lock.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ops::Bound;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::{
    QueryWindow, SimConfig, SimError, SimStats, DEFAULT_WINDOW_MINUTES, EVENT_TYPES,
    MAX_LOOKBACK_HOURS, MAX_PAGE_LIMIT, SERVICES,
};

/// The query parameter that carries the opaque continuation in `next_link`.
pub(crate) const CURSOR_PARAM: &str = "cursor";

/// An HTTP answer before axum sees it, so the request logic stays testable and lock-friendly.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after_secs: Option<u64>,
    pub body: Value,
}

impl Answer {
    pub fn ok(body: Value) -> Self {
        Answer {
            status: 200,
            retry_after_secs: None,
            body,
        }
    }
    pub fn error(status: u16, msg: impl Into<String>) -> Self {
        Answer {
            status,
            retry_after_secs: None,
            body: json!({"code": status, "msg": msg.into()}),
        }
    }
}

/// Sorted by (detection_time, log_item_id): exactly the order answers are served in, so a
/// page is a range scan and a cursor is the last key served.
type RecordKey = (DateTime<Utc>, String);

struct StoredEvent {
    service: String,
    event: String,
    record: Value,
}

pub(crate) struct SimState {
    config: SimConfig,
    /// `Some` once `set_now` froze the clock; otherwise real time shifted by `offset`.
    frozen_now: Option<DateTime<Utc>>,
    offset: Duration,
    records: BTreeMap<RecordKey, StoredEvent>,
    ids: HashSet<String>,
    ids_issued: u64,
    id_seed: u64,
    /// Queued injected answers: (remaining uses, status).
    faults: VecDeque<(u32, u16)>,
    /// Simulated times of the admitted requests of the last 60 s (the rolling window).
    recent_requests: VecDeque<DateTime<Utc>>,
    /// Admitted requests on one UTC day of the simulated clock.
    daily_count: (NaiveDate, u32),
    stats: SimStats,
}

impl SimState {
    pub fn new(config: SimConfig) -> Self {
        let now = Utc::now();
        SimState {
            config,
            frozen_now: None,
            offset: Duration::zero(),
            records: BTreeMap::new(),
            ids: HashSet::new(),
            ids_issued: 0,
            id_seed: now.timestamp_nanos_opt().unwrap_or_default() as u64
                ^ u64::from(std::process::id()),
            faults: VecDeque::new(),
            recent_requests: VecDeque::new(),
            daily_count: (now.date_naive(), 0),
            stats: SimStats::default(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let now = self.frozen_now.unwrap_or_else(|| Utc::now() + self.offset);
        now.clamp(earliest_time(), latest_time())
    }

    /// Clamped to years 1970-9999 so the window arithmetic around `now` cannot overflow.
    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.frozen_now = Some(now.clamp(earliest_time(), latest_time()));
    }

    pub fn advance(&mut self, by: Duration) {
        let overflow = if by < Duration::zero() {
            earliest_time()
        } else {
            latest_time()
        };
        let target = self.now().checked_add_signed(by).unwrap_or(overflow);
        let target = target.clamp(earliest_time(), latest_time());
        match &mut self.frozen_now {
            Some(now) => *now = target,
            None => self.offset = target - Utc::now(),
        }
    }

    pub fn stats(&self) -> SimStats {
        self.stats.clone()
    }

    pub fn fail_next(&mut self, count: u32, status: u16) -> Result<(), SimError> {
        // Only error statuses: a canned 200 would have no body a client could parse.
        if !(400..=599).contains(&status) {
            return Err(SimError(format!(
                "status {status} is not an HTTP error status (400-599)"
            )));
        }
        if count > 0 {
            self.faults.push_back((count, status));
        }
        Ok(())
    }

    /// Validates the whole batch first so a bad record leaves the store untouched.
    pub fn push_events(&mut self, events: Vec<Value>) -> Result<Vec<String>, SimError> {
        let mut batch_ids = HashSet::new();
        let mut prepared = Vec::with_capacity(events.len());
        for (index, mut record) in events.into_iter().enumerate() {
            let fail = |why: &str| SimError(format!("event #{index}: {why}"));
            let Some(object) = record.as_object() else {
                return Err(fail("not a JSON object"));
            };
            let text = |field: &str| {
                object
                    .get(field)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let service = text("service").filter(|s| SERVICES.contains(&s.as_str()));
            let service =
                service.ok_or_else(|| fail("`service` missing or not one of SERVICES"))?;
            let event = text("event").filter(|e| EVENT_TYPES.contains(&e.as_str()));
            let event = event.ok_or_else(|| fail("`event` missing or not one of EVENT_TYPES"))?;
            let detection_time = record
                .pointer("/message/detection_time")
                .and_then(Value::as_str)
                .and_then(parse_record_time)
                .ok_or_else(|| fail("`message.detection_time` missing or not an ISO 8601 time"))?;
            let id = match object.get("log_item_id") {
                None | Some(Value::Null) => self.new_log_item_id(&batch_ids),
                Some(Value::String(id)) if !id.is_empty() => id.clone(),
                Some(_) => return Err(fail("`log_item_id` must be a non-empty string")),
            };
            if self.ids.contains(&id) || !batch_ids.insert(id.clone()) {
                return Err(fail(&format!("log_item_id {id} is already stored")));
            }
            record["log_item_id"] = Value::String(id.clone());
            prepared.push((
                (detection_time, id),
                StoredEvent {
                    service,
                    event,
                    record,
                },
            ));
        }
        let ids: Vec<String> = prepared.iter().map(|((_, id), _)| id.clone()).collect();
        self.ids.extend(ids.iter().cloned());
        self.records.extend(prepared);
        Ok(ids)
    }

    /// A UUID-shaped id (version-4 layout) that is unique in this simulator.
    fn new_log_item_id(&mut self, also_taken: &HashSet<String>) -> String {
        loop {
            self.ids_issued += 1;
            let a = splitmix64(self.id_seed ^ self.ids_issued);
            let b = splitmix64(a);
            let id = format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                0x8000 | ((b >> 48) & 0x3fff),
                b & 0xffff_ffff_ffff
            );
            if !self.ids.contains(&id) && !also_taken.contains(&id) {
                return id;
            }
        }
    }

    /// `GET /v1/siem/security_events`, in the order a client meets the checks: injected fault,
    /// token, throttles, parameters.
    pub fn serve_security_events(
        &mut self,
        authorization: Option<&str>,
        query: &[(String, String)],
        base_url: &str,
    ) -> Answer {
        self.stats.requests += 1;
        if let Some(status) = self.take_fault() {
            self.stats.injected_faults += 1;
            let mut answer = Answer::error(status, "Injected fault");
            answer.retry_after_secs = (status == 429 || status == 503).then_some(1);
            return answer;
        }
        let token = authorization.and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        if token != Some(self.config.api_token.as_str()) {
            self.stats.unauthorized += 1;
            return Answer::error(
                401,
                "Invalid or missing access token (Authorization: Bearer <token>)",
            );
        }
        if let Some(answer) = self.charge_throttles() {
            self.stats.too_many_requests += 1;
            return answer;
        }
        let answer = match self.parse_query(query) {
            Ok(parsed) => self.page(parsed, base_url),
            Err(msg) => Answer::error(400, msg),
        };
        match answer.status {
            200 => self.stats.ok += 1,
            _ => self.stats.bad_request += 1,
        }
        answer
    }

    fn take_fault(&mut self) -> Option<u16> {
        let (remaining, status) = self.faults.front_mut()?;
        let status = *status;
        *remaining -= 1;
        if *remaining == 0 {
            self.faults.pop_front();
        }
        Some(status)
    }

    /// Admits the request against the daily quota and the rolling minute, or answers the 429.
    /// Rejected requests are not charged, so a client that waits as told gets through.
    fn charge_throttles(&mut self) -> Option<Answer> {
        let now = self.now();
        if self.daily_count.0 != now.date_naive() {
            self.daily_count = (now.date_naive(), 0);
        }
        if self
            .config
            .daily_quota
            .is_some_and(|quota| self.daily_count.1 >= quota)
        {
            self.stats.quota_exceeded += 1;
            return Some(Answer::error(429, "Maximum allowed requests exceeded"));
        }
        let window_start = now - Duration::seconds(60);
        // Also drops times after `now`, which only exist if the clock was set back.
        self.recent_requests
            .retain(|&t| t > window_start && t <= now);
        if let Some(limit) = self.config.per_minute_limit {
            if self.recent_requests.len() >= limit as usize {
                let oldest = self.recent_requests.front().copied().unwrap_or(now);
                let wait_ms = (oldest + Duration::seconds(60) - now).num_milliseconds();
                let mut answer = Answer::error(429, "Too many requests");
                answer.retry_after_secs = Some(((wait_ms + 999) / 1000).max(1) as u64);
                return Some(answer);
            }
        }
        self.recent_requests.push_back(now);
        self.daily_count.1 += 1;
        None
    }

    fn parse_query(&self, query: &[(String, String)]) -> Result<ParsedQuery, String> {
        let single = |name: &str| -> Result<Option<&str>, String> {
            let mut values = query
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, v)| v.as_str());
            match (values.next(), values.next()) {
                (value, None) => Ok(value),
                _ => Err(format!("Invalid parameter: {name} must be given once")),
            }
        };
        let service = single("service")?
            .filter(|s| SERVICES.contains(s))
            .ok_or_else(|| {
                format!(
                    "Invalid or missing parameter: service (one of {})",
                    SERVICES.join(", ")
                )
            })?;
        let event = single("event")?
            .filter(|e| EVENT_TYPES.contains(e))
            .ok_or_else(|| {
                format!(
                    "Invalid or missing parameter: event (one of {})",
                    EVENT_TYPES.join(", ")
                )
            })?;
        let limit = match single("limit")? {
            None => MAX_PAGE_LIMIT,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_LIMIT).contains(n))
                .ok_or_else(|| format!("Invalid parameter: limit must be 1 to {MAX_PAGE_LIMIT}"))?,
        };
        let time = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
            single(name)?
                .map(|text| {
                    parse_query_time(text).ok_or_else(|| {
                        format!(
                            "Invalid parameter: {name} must be yyyy-mm-ddThh:mm:ss[.mmm]Z (UTC)"
                        )
                    })
                })
                .transpose()
        };
        let window = Duration::minutes(DEFAULT_WINDOW_MINUTES);
        let now = self.now();
        let (start, end) = match (time("start")?, time("end")?) {
            (Some(start), Some(end)) => (start, end),
            (Some(start), None) => (start, start + window),
            (None, Some(end)) => (end - window, end),
            (None, None) => (now - window, now),
        };
        if start < now - Duration::hours(MAX_LOOKBACK_HOURS) {
            let name = if single("start")?.is_some() {
                "start"
            } else {
                "end"
            };
            return Err(format!(
                "Invalid parameter: {name}. The time range must be within {MAX_LOOKBACK_HOURS} hours before the current time"
            ));
        }
        if start >= end {
            return Err("Invalid parameters: start must be earlier than end".to_string());
        }
        let cursor = single(CURSOR_PARAM)?
            .map(|text| decode_cursor(text).ok_or(format!("Invalid parameter: {CURSOR_PARAM}")))
            .transpose()?;
        let window = QueryWindow {
            service: service.to_string(),
            event: event.to_string(),
            start,
            end,
        };
        Ok(ParsedQuery {
            window,
            limit,
            cursor,
        })
    }

    fn page(&mut self, query: ParsedQuery, base_url: &str) -> Answer {
        let ParsedQuery {
            window,
            limit,
            cursor,
        } = query;
        let lower = match &cursor {
            Some(key) => Bound::Excluded(key.clone()),
            None => Bound::Included((window.start, String::new())),
        };
        // An open upper bound: `BTreeMap::range` panics on inverted bounds, which a forged
        // cursor beyond `end` would produce.
        let mut matching = self
            .records
            .range((lower, Bound::Unbounded))
            .take_while(|((time, _), _)| *time < window.end)
            .filter(|((time, _), stored)| {
                *time >= window.start
                    && stored.service == window.service
                    && stored.event == window.event
            });
        let mut page = Vec::new();
        let mut last_key = None;
        for (key, stored) in matching.by_ref().take(limit as usize) {
            page.push(stored.record.clone());
            last_key = Some(key.clone());
        }
        let next_link = match (matching.next(), last_key) {
            (Some(_), Some(last)) => next_link(base_url, &window, limit, &last),
            _ => String::new(),
        };
        if cursor.is_none() {
            self.stats.windows.push(window);
        }
        Answer::ok(json!({"security_events": page, "next_link": next_link}))
    }
}

struct ParsedQuery {
    window: QueryWindow,
    limit: u32,
    cursor: Option<RecordKey>,
}

fn next_link(base_url: &str, window: &QueryWindow, limit: u32, last: &RecordKey) -> String {
    let params = [
        ("service", window.service.clone()),
        ("event", window.event.clone()),
        ("start", format_time(window.start)),
        ("end", format_time(window.end)),
        ("limit", limit.to_string()),
        (CURSOR_PARAM, encode_cursor(last)),
    ];
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    format!("{base_url}/v1/siem/security_events?{query}")
}

/// Round-trips exactly: millisecond form when that is enough, more digits only if needed.
pub(crate) fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The API's time format, `yyyy-mm-ddThh:mm:ss[.fff]Z`, in UTC (years 1970-9999).
pub(crate) fn parse_query_time(text: &str) -> Option<DateTime<Utc>> {
    let time = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ")
        .ok()?
        .and_utc();
    (earliest_time()..=latest_time())
        .contains(&time)
        .then_some(time)
}

/// The bounds of every time the simulator takes: far enough inside chrono's range that
/// adding or subtracting a window (or 72 hours) never overflows.
fn earliest_time() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

fn latest_time() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map_or(DateTime::UNIX_EPOCH, |t| t.and_utc())
}

/// Records come from test code and fixtures, so any RFC 3339 offset is accepted there.
fn parse_record_time(text: &str) -> Option<DateTime<Utc>> {
    let time = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    (earliest_time()..=latest_time())
        .contains(&time)
        .then_some(time)
}

/// Opaque to clients (hex), so they follow `next_link` rather than build cursors.
fn encode_cursor((time, id): &RecordKey) -> String {
    let plain = format!("{}|{id}", time.to_rfc3339_opts(SecondsFormat::Nanos, true));
    plain.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(text: &str) -> Option<RecordKey> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let plain = String::from_utf8(bytes).ok()?;
    let (time, id) = plain.split_once('|')?;
    let time = DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc);
    Some((time, id.to_string()))
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_times_take_optional_fractions_and_require_z() {
        assert!(parse_query_time("2026-11-28T10:00:00Z").is_some());
        assert!(parse_query_time("2026-11-28T10:00:00.123Z").is_some());
        assert!(parse_query_time("2026-11-28T10:00:00+00:00").is_none());
        assert!(parse_query_time("2026-11-28 10:00:00Z").is_none());
        assert!(parse_query_time("yesterday").is_none());
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let key = (
            parse_query_time("2026-11-28T10:00:00.5Z").unwrap(),
            "a|b".to_string(),
        );
        assert_eq!(decode_cursor(&encode_cursor(&key)), Some(key));
        for garbage in ["", "zz", "abc", "é1", "41"] {
            assert_eq!(decode_cursor(garbage), None, "{garbage}");
        }
    }
}
