//! The detectors: each looks at one activity against the subject's behaviour state, updates the
//! state, and says what it found and why. Pure functions: no store, no clock but the activity's.

use chrono::{DateTime, Duration, Timelike, Utc};
use serde_json::json;

use super::geo::Place;
use super::settings::ThreatSettings;
use super::state::{median_mad, BehaviourState, Burst, Episode, SignIn};
use super::{Finding, Subject};
use crate::domain::{Activity, DetectorKind, EventType, Severity};

/// Within this long of its last firing, an impossible-travel or unusual-hours episode is the
/// same episode.
const TRAVEL_EPISODE_HOURS: i64 = 24;
const HOURS_EPISODE_HOURS: i64 = 3;
/// The hour-of-day profile needs this many activities before it can call an hour unusual.
const HOURS_MIN_ACTIVITIES: u32 = 100;
/// A user's sign-ins before a new country counts.
const NEW_COUNTRY_MIN_SIGN_INS: u64 = 3;

/// The burst kind an activity counts in, if any.
pub fn burst_kind(activity: &Activity) -> Option<Burst> {
    let name = activity.event_name.to_ascii_uppercase();
    match activity.event_type {
        EventType::LoginFailure => Some(Burst::FailedSignIn),
        // Downloads only: previews and views are reading, not taking a copy away.
        EventType::DataAccess if name.contains("DOWNLOAD") => Some(Burst::Download),
        EventType::DataDeletion => Some(Burst::Deletion),
        EventType::DataSharing if is_new_share(&name) => Some(Burst::Share),
        _ => None,
    }
}

/// Sharing events that open access (Box `SHARE`, `COLLABORATION_INVITE`), not those that take
/// it away or let it lapse.
fn is_new_share(upper_name: &str) -> bool {
    !["UNSHARE", "REMOVE", "EXPIR", "DELETE", "REVOKE", "ACCEPT"]
        .iter()
        .any(|word| upper_name.contains(word))
}

fn burst_detector(kind: Burst) -> (DetectorKind, &'static str) {
    match kind {
        Burst::FailedSignIn => (DetectorKind::BruteForce, "failed sign-ins"),
        Burst::Download => (DetectorKind::MassDownload, "downloads"),
        Burst::Deletion => (DetectorKind::MassDeletion, "deletions"),
        Burst::Share => (DetectorKind::MassSharing, "shares"),
    }
}

fn floor(kind: Burst, settings: &ThreatSettings) -> u32 {
    match kind {
        Burst::FailedSignIn => settings.brute_force_failures,
        Burst::Download => settings.mass_downloads,
        Burst::Deletion => settings.mass_deletions,
        Burst::Share => settings.mass_shares,
    }
}

fn severity(detector: DetectorKind) -> Severity {
    match detector {
        DetectorKind::ImpossibleTravel | DetectorKind::MassDeletion => Severity::High,
        DetectorKind::UnusualHours => Severity::Low,
        _ => Severity::Medium,
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Opens an episode of `name` or extends the open one; `true` when it opens.
fn episode(
    state: &mut BehaviourState,
    name: &str,
    activity_id: &str,
    at: DateTime<Utc>,
    gap: Duration,
) -> (String, bool) {
    match state.episodes.get_mut(name) {
        Some(open) if at <= open.last_at + gap && at >= open.last_at - gap => {
            open.last_at = open.last_at.max(at);
            (open.key.clone(), false)
        }
        _ => {
            state.episodes.insert(
                name.to_string(),
                Episode {
                    key: activity_id.to_string(),
                    opened_at: Some(at),
                    last_at: at,
                    escalated: false,
                },
            );
            (activity_id.to_string(), true)
        }
    }
}

/// Runs every detector that applies to `subject` on `activity`, updating `state`. `place` is
/// where the activity came from, when known.
pub fn observe(
    state: &mut BehaviourState,
    subject: &Subject,
    activity: &Activity,
    place: Option<&Place>,
    settings: &ThreatSettings,
) -> Vec<Finding> {
    let at = activity.event_timestamp;
    let id = activity.id();
    let mut findings = Vec::new();
    let finding =
        |detector: DetectorKind, episode: String, explanation: String, evidence| Finding {
            detector,
            subject: subject.key(),
            episode,
            severity: severity(detector),
            explanation,
            evidence,
            activity_id: id.clone(),
            at,
            related: Vec::new(),
            gather: None,
        };

    if let Some(kind) = burst_kind(activity) {
        let applies = kind == Burst::FailedSignIn || matches!(subject, Subject::User(_));
        if applies {
            if let Some(found) = burst(state, kind, activity, settings, &finding) {
                findings.push(found);
            }
        }
    }
    if activity.event_type == EventType::Login {
        findings.extend(brute_force_success(state, activity, settings, &finding));
        state.remember_success(at, activity.actor_ip.clone(), id.clone());
    }
    let Subject::User(user) = subject else {
        state.note_active(at);
        return findings;
    };
    if activity.event_type == EventType::Login {
        findings.extend(sign_in(state, activity, place, settings, &finding));
    }
    if burst_kind(activity) == Some(Burst::Share) {
        findings.extend(personal_share(state, activity, settings, &finding));
    }
    if activity.event_type == EventType::Administration
        && settings.is_admin_grant_event(&activity.event_name)
    {
        findings.extend(admin_grant(user, activity, &finding));
    }
    findings.extend(unusual_hour(state, activity, settings, &finding));
    state.note_active(at);
    state.note_hour(at.hour() as usize);
    findings
}

type MakeFinding<'a> = dyn Fn(DetectorKind, String, String, serde_json::Value) -> Finding + 'a;

fn burst(
    state: &mut BehaviourState,
    kind: Burst,
    activity: &Activity,
    settings: &ThreatSettings,
    finding: &MakeFinding<'_>,
) -> Option<Finding> {
    let at = activity.event_timestamp;
    let window = settings.window_minutes;
    let count = state.count_burst(kind, at, window);
    let (detector, noun) = burst_detector(kind);
    let floor = floor(kind, settings);
    let peaks = state.baseline_peaks(kind, at);
    let baseline = (peaks.len() >= settings.baseline_min_days).then(|| {
        let (median, mad) = median_mad(&peaks);
        let spread = (1.4826 * mad).max(1.0);
        let threshold = (median + settings.baseline_deviations * spread).ceil() as u32;
        (median, mad, threshold)
    });
    let threshold = baseline.map_or(floor, |(_, _, b)| b.max(floor));
    if count < threshold {
        return None;
    }
    let (key, opens) = episode(
        state,
        detector.as_str(),
        &activity.id(),
        at,
        Duration::minutes(window),
    );
    let why = match baseline {
        Some((median, mad, own)) if own > floor => format!(
            "this user's own baseline is stricter than the fixed floor of {floor}: their busiest \
             hour on the last {} active days has a median of {median} {noun} (MAD {mad}), and \
             {} robust deviations above it is {own}",
            peaks.len(),
            settings.baseline_deviations
        ),
        Some((median, _, own)) => format!(
            "the fixed floor of {floor} is stricter than this user's own baseline ({own}, from a \
             median busiest hour of {median} {noun} on the last {} active days)",
            peaks.len()
        ),
        None => format!(
            "the fixed floor of {floor}; this user's own baseline needs {} active days of \
             history and has {}",
            settings.baseline_min_days,
            peaks.len()
        ),
    };
    let explanation = format!(
        "{count} {noun} within {window} minutes up to {}, at or over the threshold of \
         {threshold}: {why}",
        when(at)
    );
    let mut found = finding(
        detector,
        key,
        explanation,
        json!({
            "count": count,
            "window_minutes": window,
            "threshold": threshold,
            "fixed_floor": floor,
            "baseline": baseline.map(|(median, mad, own)| json!({
                "days": peaks.len(), "median": median, "mad": mad, "threshold": own,
            })),
        }),
    );
    if opens {
        found.gather = Some(kind);
    }
    if kind == Burst::FailedSignIn {
        escalate_on_earlier_success(state, &mut found, settings);
    }
    Some(found)
}

/// A success already counted that follows the burst (same second or later, within the
/// window): the burst is reported with it, as when the success comes last.
fn escalate_on_earlier_success(
    state: &mut BehaviourState,
    found: &mut Finding,
    settings: &ThreatSettings,
) {
    let at = found.at;
    let window = Duration::minutes(settings.window_minutes);
    let Some(open) = state
        .episodes
        .get_mut(DetectorKind::BruteForce.as_str())
        .filter(|e| !e.escalated)
    else {
        return;
    };
    let Some((success_at, address, success_id)) = state
        .recent_successes
        .iter()
        .find(|(s, _, _)| *s >= at && *s <= at + window)
        .cloned()
    else {
        return;
    };
    open.escalated = true;
    let failures = state.window_count(Burst::FailedSignIn, at, settings.window_minutes);
    escalate(found, success_at, address.as_deref(), failures, settings);
    found.related.push((success_id, success_at));
}

/// A brute force that a successful sign-in followed: high, and saying so.
fn escalate(
    found: &mut Finding,
    success_at: DateTime<Utc>,
    address: Option<&str>,
    failures: u32,
    settings: &ThreatSettings,
) {
    found.severity = Severity::High;
    found.explanation = format!(
        "a successful sign-in at {} from {} followed {failures} failed sign-ins within {} \
         minutes: the password may have been guessed",
        when(success_at),
        address.unwrap_or("an unknown address"),
        settings.window_minutes
    );
    found.evidence["succeeded"] = json!(true);
    found.evidence["address"] = json!(address);
}

/// A successful sign-in right after a brute force: the password may have been guessed.
fn brute_force_success(
    state: &mut BehaviourState,
    activity: &Activity,
    settings: &ThreatSettings,
    finding: &MakeFinding<'_>,
) -> Option<Finding> {
    let at = activity.event_timestamp;
    let window = Duration::minutes(settings.window_minutes);
    let open = state
        .episodes
        .get_mut(DetectorKind::BruteForce.as_str())
        // A success before the failure that made the burst is not one that follows it (it may
        // be counted after the burst when workers run out of order).
        .filter(|e| {
            !e.escalated
                && at >= e.opened_at.unwrap_or(e.last_at - window)
                && at <= e.last_at + window
        })?;
    open.escalated = true;
    let key = open.key.clone();
    let failures = state.window_count(Burst::FailedSignIn, at, settings.window_minutes);
    let mut found = finding(
        DetectorKind::BruteForce,
        key,
        String::new(),
        json!({ "failed_sign_ins": failures }),
    );
    escalate(
        &mut found,
        at,
        activity.actor_ip.as_deref(),
        failures,
        settings,
    );
    Some(found)
}

/// Impossible travel and new countries, on a successful sign-in.
fn sign_in(
    state: &mut BehaviourState,
    activity: &Activity,
    place: Option<&Place>,
    settings: &ThreatSettings,
    finding: &MakeFinding<'_>,
) -> Vec<Finding> {
    let at = activity.event_timestamp;
    let id = activity.id();
    let mut findings = Vec::new();
    let address = activity.actor_ip.clone();
    let trusted = address.as_deref().is_some_and(|a| settings.is_trusted(a));
    let country = place
        .and_then(|p| p.country.clone())
        .or_else(|| activity.enrichments.geo.as_ref()?.country.clone());
    // A trusted network (VPN egress) says nothing about where the user is: it neither fires
    // nor becomes the place the next sign-in is compared with.
    if !trusted {
        if let (Some(place), Some(previous)) = (place, state.last_sign_in.clone()) {
            let hours = (at - previous.at).num_seconds().abs() as f64 / 3600.0;
            let distance = previous.place.distance_km(place);
            let beyond_error = distance - previous.place.radius_km - place.radius_km;
            // Faster than a minute apart is as fast as a minute apart: a clock's rounding
            // must not make a short hop infinitely fast.
            let speed = beyond_error / hours.max(1.0 / 60.0);
            if beyond_error > settings.travel_min_km && speed > settings.travel_speed_kmh {
                let (key, _) = episode(
                    state,
                    DetectorKind::ImpossibleTravel.as_str(),
                    &id,
                    at,
                    Duration::hours(TRAVEL_EPISODE_HOURS),
                );
                let (first, second) = if previous.at <= at {
                    (
                        (&previous.place, previous.address.as_deref(), previous.at),
                        (place, address.as_deref(), at),
                    )
                } else {
                    (
                        (place, address.as_deref(), at),
                        (&previous.place, previous.address.as_deref(), previous.at),
                    )
                };
                let minutes = (hours * 60.0).round() as i64;
                let mut found = finding(
                    DetectorKind::ImpossibleTravel,
                    key,
                    format!(
                        "signed in from {} ({}) at {}, {minutes} minutes after signing in from {} \
                         ({}) at {}: {distance:.0} km apart, {beyond_error:.0} km beyond both \
                         places' accuracy, is {speed:.0} km/h, over the {:.0} km/h limit",
                        second.0.describe(),
                        second.1.unwrap_or("no address"),
                        when(second.2),
                        first.0.describe(),
                        first.1.unwrap_or("no address"),
                        when(first.2),
                        settings.travel_speed_kmh
                    ),
                    json!({
                        "distance_km": distance.round(),
                        "beyond_accuracy_km": beyond_error.round(),
                        "minutes": minutes,
                        "speed_kmh": speed.round(),
                        "limit_kmh": settings.travel_speed_kmh,
                        "from": { "address": first.1, "place": first.0 },
                        "to": { "address": second.1, "place": second.0 },
                    }),
                );
                found
                    .related
                    .push((previous.activity_id.clone(), previous.at));
                findings.push(found);
            }
        }
        if let Some(place) = place {
            if state.last_sign_in.as_ref().is_none_or(|p| at >= p.at) {
                state.last_sign_in = Some(SignIn {
                    at,
                    address: address.clone(),
                    place: place.clone(),
                    activity_id: id.clone(),
                });
            }
        }
        if let Some(country) = &country {
            let established = state.sign_ins >= NEW_COUNTRY_MIN_SIGN_INS
                && state.first_sign_in.is_some_and(|first| {
                    at - first >= Duration::days(settings.new_country_min_days)
                });
            if established && !state.countries.contains_key(country) {
                let mut known: Vec<&str> = state.countries.keys().map(String::as_str).collect();
                known.truncate(10);
                findings.push(finding(
                    DetectorKind::NewCountry,
                    format!("country#{country}"),
                    format!(
                        "signed in from {country} ({}) for the first time; this user's {} earlier \
                         sign-ins since {} came from {}",
                        address.as_deref().unwrap_or("no address"),
                        state.sign_ins,
                        state
                            .first_sign_in
                            .map(|f| f.format("%Y-%m-%d").to_string())
                            .unwrap_or_default(),
                        if known.is_empty() {
                            "no known country".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                    json!({ "country": country, "known_countries": known, "address": address }),
                ));
            }
            state.remember_country(country, at);
        }
    }
    state.sign_ins += 1;
    if state.first_sign_in.is_none_or(|first| at < first) {
        state.first_sign_in = Some(at);
    }
    findings
}

/// The first share by the user to a personal mail address.
fn personal_share(
    state: &mut BehaviourState,
    activity: &Activity,
    settings: &ThreatSettings,
    finding: &MakeFinding<'_>,
) -> Option<Finding> {
    let recipient = activity.target_user_email.as_deref()?.trim().to_lowercase();
    let (_, domain) = recipient.rsplit_once('@')?;
    if !settings.is_personal_domain(domain) {
        return None;
    }
    let first = !state.personal_recipients.contains(&recipient);
    state.remember_recipient(&recipient);
    if !first {
        return None;
    }
    let object = activity
        .object_name
        .as_deref()
        .or(activity.object_id.as_deref())
        .unwrap_or("an item");
    Some(finding(
        DetectorKind::PersonalDomainShare,
        format!("recipient#{recipient}"),
        format!(
            "shared {object} with {recipient} at {}: the first share by this user to that \
             address, at the personal mail service {domain}",
            when(activity.event_timestamp)
        ),
        json!({ "recipient": recipient, "domain": domain, "event": activity.event_name }),
    ))
}

/// An administrative role granted: the anomaly is about the person who received it.
fn admin_grant(actor: &str, activity: &Activity, finding: &MakeFinding<'_>) -> Option<Finding> {
    let role = activity.role_granted.as_deref().map(str::trim);
    // A change to an ordinary role takes power away; it is not a grant.
    if role.is_some_and(|r| {
        ["user", "none", "member", "regular", "viewer", ""].contains(&r.to_lowercase().as_str())
    }) {
        return None;
    }
    let target = activity
        .target_user_email
        .as_deref()
        .or(activity.target_user_id.as_deref());
    let mut found = finding(
        DetectorKind::AdminGrant,
        activity.id(),
        format!(
            "{actor} granted {} to {} ({} at {})",
            role.map_or("an administrative role".to_string(), |r| format!(
                "the role '{r}'"
            )),
            target.unwrap_or("an unnamed user"),
            activity.event_name,
            when(activity.event_timestamp)
        ),
        json!({ "granted_by": actor, "role": role, "event": activity.event_name }),
    );
    if let Some(target) = target {
        found.subject = Subject::User(target.to_lowercase()).key();
    }
    Some(found)
}

/// Activity at an hour of the day this user is almost never active.
fn unusual_hour(
    state: &mut BehaviourState,
    activity: &Activity,
    settings: &ThreatSettings,
    finding: &MakeFinding<'_>,
) -> Option<Finding> {
    let at = activity.event_timestamp;
    let days = state.days_of_history(at);
    if days < settings.unusual_hours_min_days {
        return None;
    }
    let hour = at.hour() as usize;
    let (around, total) = state.hour_share(hour);
    if total < HOURS_MIN_ACTIVITIES
        || around as f64 >= settings.unusual_hours_max_share * total as f64
    {
        return None;
    }
    let (key, _) = episode(
        state,
        DetectorKind::UnusualHours.as_str(),
        &activity.id(),
        at,
        Duration::hours(HOURS_EPISODE_HOURS),
    );
    let share = 100.0 * around as f64 / total as f64;
    Some(finding(
        DetectorKind::UnusualHours,
        key,
        format!(
            "{} at {:02}:{:02} UTC: the hours {:02}:00-{:02}:59 hold {share:.1} % ({around} of \
             {total}) of this user's activity over {days} active days, under the {:.1} % that \
             counts as usual",
            activity.event_name,
            at.hour(),
            at.minute(),
            (hour + 23) % 24,
            (hour + 1) % 24,
            settings.unusual_hours_max_share * 100.0
        ),
        json!({ "hour": hour, "share_percent": share, "activities_in_hours": around,
                "activities": total, "days": days }),
    ))
}
