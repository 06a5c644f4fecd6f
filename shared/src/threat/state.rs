//! Behaviour state: what the detectors remember about one user (or one address), updated once
//! per activity and bounded in size whatever the user does.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::geo::Place;
use super::Finding;

/// Activities remembered as applied, to recognise a redelivery (a few KiB per subject).
pub const APPLIED_KEPT: usize = 2048;
/// Days of daily peaks and active days kept for baselines.
pub const HISTORY_DAYS: i64 = 35;
/// The baseline looks back this many days.
pub const BASELINE_DAYS: i64 = 28;
/// Countries and personal recipients remembered per user.
pub const COUNTRIES_KEPT: usize = 64;
pub const RECIPIENTS_KEPT: usize = 256;
/// Findings kept so a redelivered activity records its findings again, idempotently.
pub const FINDINGS_KEPT: usize = 32;
/// Hour-of-day counts are halved past this total, so old habits fade.
const HOURS_DECAY_AT: u32 = 20_000;

/// The kinds of bursts counted in a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Burst {
    FailedSignIn,
    Download,
    Deletion,
    Share,
}

/// A successful sign-in, as impossible travel compares them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub at: DateTime<Utc>,
    pub address: Option<String>,
    pub place: Place,
    pub activity_id: String,
}

/// An open episode of one detector: firing again within the window extends its anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// The key the anomaly id derives from (the activity that opened it).
    pub key: String,
    /// When the firing that opened it happened.
    #[serde(default)]
    pub opened_at: Option<DateTime<Utc>>,
    pub last_at: DateTime<Utc>,
    /// Brute force: a successful sign-in already followed it.
    #[serde(default)]
    pub escalated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BehaviourState {
    pub tenant_id: String,
    /// `user:<login or id>` or `ip:<address>`.
    pub subject: String,
    /// The stored version (0: never stored); each write bumps it.
    #[serde(default)]
    pub version: u64,
    pub first_seen: Option<DateTime<Utc>>,
    /// The first 64 bits of the ids of recently applied activities (stored as base64 of their
    /// bytes: 2,048 ids in 22 KB rather than 40 KB of JSON numbers).
    #[serde(default, with = "compact_ids")]
    pub applied: VecDeque<u64>,
    /// Per burst kind: (minute since the epoch, activities in that minute), oldest first.
    #[serde(default)]
    pub windows: BTreeMap<Burst, Vec<(i64, u32)>>,
    /// Per burst kind: (day since the epoch, the day's highest window count).
    #[serde(default)]
    pub daily_peaks: BTreeMap<Burst, Vec<(i64, u32)>>,
    /// Days (since the epoch) the subject did anything, oldest first.
    #[serde(default)]
    pub active_days: Vec<i64>,
    /// Activities per UTC hour of day.
    #[serde(default)]
    pub hours: Vec<u32>,
    #[serde(default)]
    pub last_sign_in: Option<SignIn>,
    #[serde(default)]
    pub first_sign_in: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sign_ins: u64,
    /// Countries of successful sign-ins, with the day last seen.
    #[serde(default)]
    pub countries: BTreeMap<String, i64>,
    /// Personal mail addresses the user has shared with.
    #[serde(default)]
    pub personal_recipients: Vec<String>,
    /// Open episodes by detector (and detail).
    #[serde(default)]
    pub episodes: BTreeMap<String, Episode>,
    /// The latest findings, newest last.
    #[serde(default)]
    pub recent_findings: Vec<Finding>,
    /// The latest successful sign-ins (time, address, activity id), newest last: a brute force
    /// whose failures are counted after its success (workers run out of order) still sees it.
    #[serde(default)]
    pub recent_successes: Vec<(DateTime<Utc>, Option<String>, String)>,
}

/// Successful sign-ins remembered for a brute force counted late.
pub const SUCCESSES_KEPT: usize = 8;

/// `VecDeque<u64>` as one base64 string of big-endian bytes.
mod compact_ids {
    use std::collections::VecDeque;

    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ids: &VecDeque<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_be_bytes()).collect();
        serializer.serialize_str(&STANDARD_NO_PAD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<VecDeque<u64>, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = STANDARD_NO_PAD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|chunk| u64::from_be_bytes(chunk.try_into().unwrap_or([0; 8])))
            .collect())
    }
}

pub fn minute(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

pub fn day(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(86_400)
}

/// The first 64 bits of an activity id (hex), or of its hash for ids of another shape.
pub fn short_id(activity_id: &str) -> u64 {
    activity_id
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| {
            use sha2::{Digest, Sha256};
            let digest = Sha256::digest(activity_id.as_bytes());
            u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]))
        })
}

impl BehaviourState {
    pub fn new(tenant_id: &str, subject: &str) -> Self {
        BehaviourState {
            tenant_id: tenant_id.to_string(),
            subject: subject.to_string(),
            ..Default::default()
        }
    }

    pub fn has_applied(&self, activity_id: &str) -> bool {
        let id = short_id(activity_id);
        self.applied.contains(&id)
    }

    pub fn mark_applied(&mut self, activity_id: &str) {
        self.applied.push_back(short_id(activity_id));
        while self.applied.len() > APPLIED_KEPT {
            self.applied.pop_front();
        }
    }

    /// Counts one activity of `kind` at `at` and returns the count in the window ending at
    /// `at` (this one included). Late activities land in their own minute.
    pub fn count_burst(&mut self, kind: Burst, at: DateTime<Utc>, window_minutes: i64) -> u32 {
        let now = minute(at);
        let buckets = self.windows.entry(kind).or_default();
        match buckets.binary_search_by_key(&now, |(m, _)| *m) {
            Ok(i) => buckets[i].1 = buckets[i].1.saturating_add(1),
            Err(i) => buckets.insert(i, (now, 1)),
        }
        // Keep two windows' worth behind the newest minute: late activities still find theirs.
        let newest = buckets.last().map(|(m, _)| *m).unwrap_or(now);
        buckets.retain(|(m, _)| *m > newest - 2 * window_minutes);
        let count = self.window_count(kind, at, window_minutes);
        let peaks = self.daily_peaks.entry(kind).or_default();
        let today = day(at);
        match peaks.binary_search_by_key(&today, |(d, _)| *d) {
            Ok(i) => peaks[i].1 = peaks[i].1.max(count),
            Err(i) => peaks.insert(i, (today, count)),
        }
        let newest_day = peaks.last().map(|(d, _)| *d).unwrap_or(today);
        peaks.retain(|(d, _)| *d > newest_day - HISTORY_DAYS);
        count
    }

    /// Activities of `kind` in the window ending at `at`.
    pub fn window_count(&self, kind: Burst, at: DateTime<Utc>, window_minutes: i64) -> u32 {
        let now = minute(at);
        self.windows.get(&kind).map_or(0, |buckets| {
            buckets
                .iter()
                .filter(|(m, _)| *m > now - window_minutes && *m <= now)
                .map(|(_, c)| *c)
                .sum()
        })
    }

    /// The subject's daily peaks of `kind` on the active days of the baseline period before
    /// `at`'s day (0 on active days without any).
    pub fn baseline_peaks(&self, kind: Burst, at: DateTime<Utc>) -> Vec<u32> {
        let today = day(at);
        let peaks = self.daily_peaks.get(&kind);
        self.active_days
            .iter()
            .filter(|d| **d < today && **d >= today - BASELINE_DAYS)
            .map(|d| {
                peaks
                    .and_then(|p| p.iter().find(|(pd, _)| pd == d))
                    .map_or(0, |(_, c)| *c)
            })
            .collect()
    }

    /// Active days before `at`'s day within the history kept.
    pub fn days_of_history(&self, at: DateTime<Utc>) -> usize {
        let today = day(at);
        self.active_days.iter().filter(|d| **d < today).count()
    }

    pub fn note_active(&mut self, at: DateTime<Utc>) {
        let today = day(at);
        if let Err(i) = self.active_days.binary_search(&today) {
            self.active_days.insert(i, today);
        }
        let newest = self.active_days.last().copied().unwrap_or(today);
        self.active_days.retain(|d| *d > newest - HISTORY_DAYS);
        if self.first_seen.is_none_or(|first| at < first) {
            self.first_seen = Some(at);
        }
    }

    /// Counts an activity in the hour-of-day profile.
    pub fn note_hour(&mut self, hour: usize) {
        if self.hours.len() != 24 {
            self.hours = vec![0; 24];
        }
        self.hours[hour % 24] = self.hours[hour % 24].saturating_add(1);
        if self.hours.iter().sum::<u32>() > HOURS_DECAY_AT {
            for count in &mut self.hours {
                *count /= 2;
            }
        }
    }

    /// The share of the profile in `hour` and the hours either side.
    pub fn hour_share(&self, hour: usize) -> (u32, u32) {
        if self.hours.len() != 24 {
            return (0, 0);
        }
        let around = [(hour + 23) % 24, hour % 24, (hour + 1) % 24]
            .iter()
            .map(|h| self.hours[*h])
            .sum();
        (around, self.hours.iter().sum())
    }

    pub fn remember_finding(&mut self, finding: Finding) {
        self.recent_findings.push(finding);
        keep_latest(&mut self.recent_findings, FINDINGS_KEPT);
    }

    pub fn remember_success(&mut self, at: DateTime<Utc>, address: Option<String>, id: String) {
        self.recent_successes.push((at, address, id));
        keep_latest(&mut self.recent_successes, SUCCESSES_KEPT);
    }

    pub fn remember_country(&mut self, country: &str, at: DateTime<Utc>) {
        let today = day(at);
        let seen = self.countries.entry(country.to_string()).or_insert(today);
        *seen = (*seen).max(today);
        while self.countries.len() > COUNTRIES_KEPT {
            // Forget the country seen longest ago.
            let Some(oldest) = self
                .countries
                .iter()
                .min_by_key(|(_, d)| **d)
                .map(|(c, _)| c.clone())
            else {
                break;
            };
            self.countries.remove(&oldest);
        }
    }

    pub fn remember_recipient(&mut self, address: &str) {
        if !self.personal_recipients.iter().any(|a| a == address) {
            self.personal_recipients.push(address.to_string());
        }
        keep_latest(&mut self.personal_recipients, RECIPIENTS_KEPT);
    }
}

/// Drops the oldest (first) items beyond `kept`.
fn keep_latest<T>(items: &mut Vec<T>, kept: usize) {
    let excess = items.len().saturating_sub(kept);
    items.drain(..excess);
}

/// Median and median absolute deviation.
pub fn median_mad(values: &[u32]) -> (f64, f64) {
    fn median(sorted: &[f64]) -> f64 {
        match sorted.len() {
            0 => 0.0,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }
    let mut sorted: Vec<f64> = values.iter().map(|v| *v as f64).collect();
    sorted.sort_by(f64::total_cmp);
    let m = median(&sorted);
    let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - m).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    (m, median(&deviations))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, h, m, 0).unwrap()
    }

    #[test]
    fn the_window_counts_the_last_hour_only_and_late_activities_land_in_their_minute() {
        let mut state = BehaviourState::new("t", "user:a");
        for m in 0..30 {
            state.count_burst(Burst::Download, at(9, m), 60);
        }
        // 10:10 sees 09:11..10:10: the 19 downloads from 09:11 to 09:29, plus its own.
        assert_eq!(state.count_burst(Burst::Download, at(10, 10), 60), 20);
        // A late one from 09:05 counts in its own window (09:06 back to 08:06 is empty but
        // 09:00-09:05 are there).
        assert_eq!(state.count_burst(Burst::Download, at(9, 5), 60), 7);
        // Buckets stay bounded however long the stream.
        for m in 0..(24 * 60) {
            state.count_burst(Burst::Download, at(0, 0) + chrono::Duration::minutes(m), 60);
        }
        assert!(state.windows[&Burst::Download].len() <= 120);
    }

    #[test]
    fn the_state_round_trips_through_its_stored_form() {
        let mut state = BehaviourState::new("t", "user:a");
        for i in 0..100u64 {
            state.mark_applied(&format!(
                "{:016x}{:016x}",
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                0
            ));
        }
        state.count_burst(Burst::Share, at(9, 0), 60);
        state.note_hour(9);
        let json = serde_json::to_string(&state).unwrap();
        assert!(json.len() < 2_000, "{} bytes", json.len());
        let back: BehaviourState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn median_and_mad_ignore_one_outlier() {
        assert_eq!(median_mad(&[3, 4, 5, 4, 500]), (4.0, 1.0));
        assert_eq!(median_mad(&[]), (0.0, 0.0));
        assert_eq!(median_mad(&[2, 4]), (3.0, 1.0));
    }

    #[test]
    fn applied_ids_are_bounded_and_recognised() {
        let mut state = BehaviourState::new("t", "user:a");
        let id = |i: usize| format!("{i:016x}{:016x}", 0);
        for i in 0..(APPLIED_KEPT + 10) {
            state.mark_applied(&id(i));
        }
        assert_eq!(state.applied.len(), APPLIED_KEPT);
        assert!(state.has_applied(&id(APPLIED_KEPT + 9)));
        assert!(!state.has_applied(&id(0)), "the oldest are forgotten");
        assert!(!state.has_applied("not-hex-at-all"));
    }
}
