//! Scripted activity histories against the detectors: each fires exactly where it should, with
//! its explanation, and stays quiet on ordinary behaviour.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::domain::{fixtures, EventType, GeoEnrichment};

/// The detectors over a history, with the idempotency `update_subject` gives: each subject's
/// state counts an activity once.
#[derive(Default)]
struct History {
    settings: ThreatSettings,
    states: HashMap<String, BehaviourState>,
    next: u64,
}

fn t0() -> DateTime<Utc> {
    // A Monday, 09:00 UTC.
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

/// Published coordinates (airports), with a city database's usual 20 km radius.
fn place(city: &str, country: &str, latitude: f64, longitude: f64) -> GeoEnrichment {
    GeoEnrichment {
        country: Some(country.into()),
        city: Some(city.into()),
        latitude: Some(latitude),
        longitude: Some(longitude),
        accuracy_radius_km: Some(20),
        ..GeoEnrichment::default()
    }
}

fn london() -> GeoEnrichment {
    place("London", "GB", 51.4700, -0.4543)
}
fn new_york() -> GeoEnrichment {
    place("New York", "US", 40.6413, -73.7781)
}
fn sydney() -> GeoEnrichment {
    place("Sydney", "AU", -33.9399, 151.1753)
}
fn reading() -> GeoEnrichment {
    // 60 km from Heathrow: within what two city-level placements can be off by.
    place("Reading", "GB", 51.4543, -0.9781)
}

impl History {
    fn new() -> Self {
        History::default()
    }

    fn activity(
        &mut self,
        user: &str,
        event_type: EventType,
        event_name: &str,
        at: DateTime<Utc>,
    ) -> Activity {
        self.next += 1;
        let mut activity = fixtures::public_share(&format!("e-{}", self.next));
        activity.actor_email = Some(user.into());
        activity.event_type = event_type;
        activity.event_name = event_name.into();
        activity.event_timestamp = at;
        activity.actor_ip = Some("198.51.100.7".into());
        activity
    }

    /// Applies the activity to every subject it concerns; returns the findings.
    fn apply(&mut self, activity: &Activity) -> Vec<Finding> {
        let place = activity.enrichments.geo.as_ref().and_then(Place::from_geo);
        let mut findings = Vec::new();
        for subject in Subject::of(activity) {
            let state = self
                .states
                .entry(subject.key())
                .or_insert_with(|| BehaviourState::new(&activity.tenant_id, &subject.key()));
            if state.has_applied(&activity.id()) {
                continue;
            }
            let found =
                detectors::observe(state, &subject, activity, place.as_ref(), &self.settings);
            state.mark_applied(&activity.id());
            findings.extend(found);
        }
        findings
    }

    fn event(
        &mut self,
        user: &str,
        event_type: EventType,
        name: &str,
        at: DateTime<Utc>,
    ) -> Vec<Finding> {
        let activity = self.activity(user, event_type, name, at);
        self.apply(&activity)
    }

    fn sign_in(
        &mut self,
        user: &str,
        at: DateTime<Utc>,
        ip: &str,
        geo: Option<GeoEnrichment>,
    ) -> Vec<Finding> {
        let mut activity = self.activity(user, EventType::Login, "LOGIN", at);
        activity.actor_ip = Some(ip.into());
        activity.enrichments.geo = geo;
        self.apply(&activity)
    }

    /// A working day of ordinary activity: a sign-in from London at 09:00, then `downloads`
    /// downloads and a few edits through the afternoon.
    fn ordinary_day(&mut self, user: &str, day: i64, downloads: u32) {
        let start = t0() + Duration::days(day);
        assert!(self
            .sign_in(user, start, "81.2.69.142", Some(london()))
            .is_empty());
        for i in 0..downloads {
            let at = start + Duration::minutes(10 + (i as i64 * 400 / downloads.max(1) as i64));
            let found = self.event(user, EventType::DataAccess, "DOWNLOAD", at);
            assert!(found.is_empty(), "ordinary day {day}: {found:?}");
        }
        for hour in 1..8 {
            let at = start + Duration::hours(hour);
            let found = self.event(user, EventType::DataModification, "EDIT", at);
            assert!(found.is_empty(), "ordinary day {day}: {found:?}");
        }
    }
}

fn detectors_of(findings: &[Finding]) -> Vec<DetectorKind> {
    findings.iter().map(|f| f.detector).collect()
}

#[test]
fn impossible_travel_fires_faster_than_an_airliner_and_explains_the_speed() {
    let mut history = History::new();
    assert!(history
        .sign_in("ann@example.com", t0(), "81.2.69.142", Some(london()))
        .is_empty());
    // New York two hours later: 5,540 km in 2 h.
    let found = history.sign_in(
        "ann@example.com",
        t0() + Duration::hours(2),
        "216.160.83.56",
        Some(new_york()),
    );
    assert_eq!(detectors_of(&found), [DetectorKind::ImpossibleTravel]);
    let travel = &found[0];
    assert_eq!(travel.subject, "user:ann@example.com");
    assert_eq!(travel.severity, Severity::High);
    let speed = travel.evidence["speed_kmh"].as_f64().unwrap();
    // (5,540 - 2 x 20 km) / 2 h = 2,750 km/h.
    assert!((speed - 2750.0).abs() < 20.0, "{speed}");
    assert!(
        travel.explanation.contains("New York, US (216.160.83.56)")
            && travel
                .explanation
                .contains("120 minutes after signing in from London, GB")
            && travel.explanation.contains("over the 900 km/h limit"),
        "{}",
        travel.explanation
    );
    assert_eq!(
        travel.related.len(),
        1,
        "the earlier sign-in is behind it too"
    );
}

#[test]
fn airliner_speed_short_hops_and_vpn_egress_stay_quiet() {
    let mut history = History {
        settings: ThreatSettings {
            trusted_networks: vec!["203.0.113.0/24".parse().unwrap()],
            ..ThreatSettings::default()
        },
        ..History::default()
    };
    let user = "bob@example.com";
    assert!(history
        .sign_in(user, t0(), "81.2.69.142", Some(london()))
        .is_empty());
    // London to New York in 8 hours: 690 km/h, an airliner.
    let landed = t0() + Duration::hours(8);
    assert!(history
        .sign_in(user, landed, "216.160.83.56", Some(new_york()))
        .is_empty());
    // The VPN egress (placed in Sydney by the database) ten minutes later: trusted, says nothing
    // about where Bob is, and does not become the place the next sign-in is compared with.
    let vpn = landed + Duration::minutes(10);
    assert!(history
        .sign_in(user, vpn, "203.0.113.9", Some(sydney()))
        .is_empty());
    assert!(history
        .sign_in(
            user,
            vpn + Duration::minutes(5),
            "216.160.83.57",
            Some(new_york())
        )
        .is_empty());
    // A short hop that geolocation error explains, a minute apart.
    let mut other = History::new();
    assert!(other
        .sign_in("c@example.com", t0(), "81.2.69.142", Some(london()))
        .is_empty());
    assert!(other
        .sign_in(
            "c@example.com",
            t0() + Duration::minutes(1),
            "2.125.160.216",
            Some(reading())
        )
        .is_empty());
    // No place at all: nothing to compare.
    assert!(other
        .sign_in(
            "c@example.com",
            t0() + Duration::minutes(2),
            "10.0.0.1",
            None
        )
        .is_empty());
}

#[test]
fn a_new_country_counts_only_once_the_user_has_a_history_of_sign_ins() {
    let mut history = History::new();
    let user = "dee@example.com";
    // The first day: every country is new, none is news.
    assert!(history
        .sign_in(user, t0(), "81.2.69.142", Some(london()))
        .is_empty());
    assert!(history
        .sign_in(
            user,
            t0() + Duration::hours(9),
            "216.160.83.56",
            Some(new_york())
        )
        .is_empty());
    for day in 1..10 {
        assert!(history
            .sign_in(
                user,
                t0() + Duration::days(day),
                "81.2.69.142",
                Some(london())
            )
            .is_empty());
    }
    // Ten days in, Australia (a day after London: airliner speed, so no travel finding).
    let found = history.sign_in(user, t0() + Duration::days(11), "1.1.1.1", Some(sydney()));
    assert_eq!(detectors_of(&found), [DetectorKind::NewCountry]);
    assert!(
        found[0]
            .explanation
            .contains("signed in from AU (1.1.1.1) for the first time")
            && found[0].explanation.contains("came from GB, US"),
        "{}",
        found[0].explanation
    );
    assert_eq!(found[0].severity, Severity::Medium);
    // Australia again: known now.
    assert!(history
        .sign_in(user, t0() + Duration::days(12), "1.1.1.1", Some(sydney()))
        .is_empty());
}

#[test]
fn brute_force_fires_at_twenty_failures_per_user_and_per_address_and_escalates_on_success() {
    let mut history = History::new();
    let user = "eve@example.com";
    let mut fired = Vec::new();
    for i in 0..25 {
        let mut failure = history.activity(
            user,
            EventType::LoginFailure,
            "FAILED_LOGIN",
            t0() + Duration::minutes(i * 2),
        );
        failure.actor_ip = Some("198.51.100.66".into());
        let found = history.apply(&failure);
        fired.push((i, found));
    }
    for (i, found) in &fired {
        let expected: &[DetectorKind] = if *i < 19 {
            &[]
        } else {
            &[DetectorKind::BruteForce, DetectorKind::BruteForce]
        };
        assert_eq!(detectors_of(found), expected, "failure {}", i + 1);
    }
    // The 20th failure opens one episode per subject; the later ones extend it.
    let twentieth = &fired[19].1;
    assert_eq!(twentieth[0].subject, "user:eve@example.com");
    assert_eq!(twentieth[1].subject, "ip:198.51.100.66");
    assert_eq!(twentieth[0].gather, Some(Burst::FailedSignIn));
    assert!(
        twentieth[0]
            .explanation
            .starts_with("20 failed sign-ins within 60 minutes up to 2026-11-02 09:38 UTC, at or over the threshold of 20"),
        "{}",
        twentieth[0].explanation
    );
    let episode = twentieth[0].episode.clone();
    assert!(fired[24].1.iter().all(|f| f.gather.is_none()));
    assert_eq!(fired[24].1[0].episode, episode);
    // Then the password works.
    let mut success = history.activity(
        user,
        EventType::Login,
        "LOGIN",
        t0() + Duration::minutes(55),
    );
    success.actor_ip = Some("198.51.100.66".into());
    let found = history.apply(&success);
    assert_eq!(
        detectors_of(&found),
        [DetectorKind::BruteForce, DetectorKind::BruteForce]
    );
    assert!(found.iter().all(|f| f.severity == Severity::High));
    assert_eq!(
        found[0].episode, episode,
        "the success extends the brute force"
    );
    assert!(
        found[0].explanation.contains("a successful sign-in at 2026-11-02 09:55 UTC from 198.51.100.66 followed 25 failed sign-ins"),
        "{}",
        found[0].explanation
    );
    // A second success is not news.
    let again = history.event(
        user,
        EventType::Login,
        "LOGIN",
        t0() + Duration::minutes(56),
    );
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn nineteen_failures_an_hour_apart_from_twenty_do_not_make_a_brute_force() {
    let mut history = History::new();
    for i in 0..40 {
        // One failure every four minutes: 15 an hour at most.
        let found = history.event(
            "fay@example.com",
            EventType::LoginFailure,
            "FAILED_LOGIN",
            t0() + Duration::minutes(i * 4),
        );
        assert!(found.is_empty(), "failure {i}: {found:?}");
    }
}

#[test]
fn mass_download_fires_at_the_fixed_floor_on_a_first_day_and_not_before() {
    let mut history = History::new();
    let user = "gus@example.com";
    let mut first = None;
    for i in 0..130 {
        let found = history.event(
            user,
            EventType::DataAccess,
            "DOWNLOAD",
            t0() + Duration::seconds(i * 20),
        );
        if !found.is_empty() && first.is_none() {
            first = Some((i, found));
        }
    }
    let (index, found) = first.expect("fires");
    assert_eq!(index, 99, "the 100th download fires");
    assert_eq!(detectors_of(&found), [DetectorKind::MassDownload]);
    assert!(
        found[0].explanation.contains("100 downloads within 60 minutes")
            && found[0].explanation.contains("the fixed floor of 100; this user's own baseline needs 7 active days of history and has 0"),
        "{}",
        found[0].explanation
    );
    // Previews are not downloads.
    let mut previews = History::new();
    for i in 0..150 {
        assert!(previews
            .event(
                user,
                EventType::DataAccess,
                "PREVIEW",
                t0() + Duration::seconds(i * 10)
            )
            .is_empty());
    }
}

#[test]
fn a_heavy_users_own_baseline_raises_the_threshold_and_still_catches_their_outlier() {
    let mut history = History::new();
    let user = "hal@example.com";
    // Two weeks of 150-200 downloads a day, spread over seven hours: busiest hours ~25-30.
    for day in 0..14 {
        history.ordinary_day(user, day, 150 + (day as u32 % 5) * 10);
    }
    // Day 15: 120 downloads in one hour. Over the floor of 100, but for Hal the baseline
    // (a median busiest hour ~28, MAD ~3) says 120 is far beyond him as well: it fires, and the
    // explanation says which rule was stricter.
    let start = t0() + Duration::days(15);
    let mut fired = None;
    for i in 0..120 {
        let found = history.event(
            user,
            EventType::DataAccess,
            "DOWNLOAD",
            start + Duration::seconds(i * 25),
        );
        if !found.is_empty() && fired.is_none() {
            fired = Some((i, found));
        }
    }
    let (index, found) = fired.expect("fires");
    assert_eq!(index, 99, "the floor is the stricter rule for Hal");
    assert!(
        found[0]
            .explanation
            .contains("the fixed floor of 100 is stricter than this user's own baseline"),
        "{}",
        found[0].explanation
    );

    // A build robot whose ordinary busiest hour is ~300 downloads: the floor alone would
    // fire every day; its own baseline does not, until it does far more than usual.
    let mut robot = History::new();
    let bot = "ci-bot@example.com";
    for day in 0..10 {
        let start = t0() + Duration::days(day);
        for i in 0..(290 + day * 3) {
            let found = robot.event(
                bot,
                EventType::DataAccess,
                "DOWNLOAD",
                start + Duration::seconds(i * 12),
            );
            if day >= 7 {
                assert!(found.is_empty(), "day {day} download {i}: {found:?}");
            }
        }
    }
    let start = t0() + Duration::days(11);
    let mut fired = None;
    for i in 0..600 {
        let found = robot.event(
            bot,
            EventType::DataAccess,
            "DOWNLOAD",
            start + Duration::seconds(i * 5),
        );
        if !found.is_empty() && fired.is_none() {
            fired = Some((i + 1, found));
        }
    }
    let (count, found) = fired.expect("fires far above its own baseline");
    let threshold = found[0].evidence["threshold"].as_u64().unwrap();
    assert_eq!(count as u64, threshold);
    assert!(threshold > 300 && threshold < 400, "{threshold}");
    assert!(
        found[0]
            .explanation
            .contains("this user's own baseline is stricter than the fixed floor of 100"),
        "{}",
        found[0].explanation
    );
}

#[test]
fn mass_deletion_and_sharing_fire_at_their_floors_and_unshares_do_not_count() {
    let mut history = History::new();
    let user = "ida@example.com";
    let deletions: Vec<_> = (0..100)
        .map(|i| {
            history.event(
                user,
                EventType::DataDeletion,
                "DELETE",
                t0() + Duration::seconds(i * 30),
            )
        })
        .collect();
    assert!(deletions[..99].iter().all(Vec::is_empty));
    assert_eq!(detectors_of(&deletions[99]), [DetectorKind::MassDeletion]);
    assert_eq!(deletions[99][0].severity, Severity::High);
    for i in 0..150 {
        assert!(history
            .event(
                user,
                EventType::DataSharing,
                "UNSHARE",
                t0() + Duration::seconds(i * 10)
            )
            .is_empty());
    }
    let shares: Vec<_> = (0..100)
        .map(|i| {
            history.event(
                user,
                EventType::DataSharing,
                "COLLABORATION_INVITE",
                t0() + Duration::seconds(i * 10),
            )
        })
        .collect();
    assert!(shares[..99].iter().all(Vec::is_empty));
    assert_eq!(detectors_of(&shares[99]), [DetectorKind::MassSharing]);
}

#[test]
fn unusual_hours_need_two_weeks_of_history_then_fire_once_per_night() {
    let mut history = History::new();
    let user = "jo@example.com";
    // A first night at 03:00 with no history: quiet.
    assert!(history
        .event(
            user,
            EventType::DataModification,
            "EDIT",
            t0() - Duration::hours(6)
        )
        .is_empty());
    for day in 0..20 {
        history.ordinary_day(user, day, 5);
    }
    let night = t0() + Duration::days(20) - Duration::hours(6); // 03:00
    let found = history.event(user, EventType::DataAccess, "DOWNLOAD", night);
    assert_eq!(detectors_of(&found), [DetectorKind::UnusualHours]);
    assert_eq!(found[0].severity, Severity::Low);
    assert!(
        found[0]
            .explanation
            .starts_with("DOWNLOAD at 03:00 UTC: the hours 02:00-04:59 hold 0.4 %"),
        "{}",
        found[0].explanation
    );
    // The same night again extends the episode.
    let again = history.event(
        user,
        EventType::DataAccess,
        "DOWNLOAD",
        night + Duration::minutes(20),
    );
    assert_eq!(again[0].episode, found[0].episode);
    // Ordinary hours stay quiet.
    assert!(history
        .event(
            user,
            EventType::DataModification,
            "EDIT",
            t0() + Duration::days(20) + Duration::hours(2)
        )
        .is_empty());
}

#[test]
fn admin_grants_name_the_person_who_received_the_role() {
    let mut history = History::new();
    let mut grant = history.activity(
        "admin@example.com",
        EventType::Administration,
        "CHANGE_ADMIN_ROLE",
        t0(),
    );
    grant.target_user_email = Some("Kim@Example.com".into());
    grant.role_granted = Some("coadmin".into());
    let found = history.apply(&grant);
    assert_eq!(detectors_of(&found), [DetectorKind::AdminGrant]);
    assert_eq!(found[0].subject, "user:kim@example.com");
    assert_eq!(
        found[0].explanation,
        "admin@example.com granted the role 'coadmin' to Kim@Example.com (CHANGE_ADMIN_ROLE at 2026-11-02 09:00 UTC)"
    );
    // A demotion to an ordinary user is not a grant; other administration is not either.
    let mut demotion = history.activity(
        "admin@example.com",
        EventType::Administration,
        "CHANGE_ADMIN_ROLE",
        t0(),
    );
    demotion.role_granted = Some("user".into());
    assert!(history.apply(&demotion).is_empty());
    assert!(history
        .event(
            "admin@example.com",
            EventType::Administration,
            "EDIT_USER",
            t0()
        )
        .is_empty());
}

#[test]
fn the_first_share_to_each_personal_address_fires_once() {
    let mut history = History::new();
    let user = "lee@example.com";
    let share = |history: &mut History, to: &str, minutes: i64| {
        let mut activity = history.activity(
            user,
            EventType::DataSharing,
            "COLLABORATION_INVITE",
            t0() + Duration::minutes(minutes),
        );
        activity.target_user_email = Some(to.into());
        activity.object_name = Some("plans.docx".into());
        history.apply(&activity)
    };
    let found = share(&mut history, "lee.private@gmail.com", 0);
    assert_eq!(detectors_of(&found), [DetectorKind::PersonalDomainShare]);
    assert_eq!(
        found[0].explanation,
        "shared plans.docx with lee.private@gmail.com at 2026-11-02 09:00 UTC: the first share by this user to that address, at the personal mail service gmail.com"
    );
    assert!(
        share(&mut history, "lee.private@gmail.com", 5).is_empty(),
        "known now"
    );
    assert!(
        share(&mut history, "partner@supplier.example", 6).is_empty(),
        "a business"
    );
    assert_eq!(
        detectors_of(&share(&mut history, "x@hotmail.co.uk", 7)),
        [DetectorKind::PersonalDomainShare]
    );
}

#[test]
fn a_redelivered_activity_counts_once() {
    let mut history = History::new();
    let user = "max@example.com";
    let mut last = Vec::new();
    for i in 0..99 {
        let activity = history.activity(
            user,
            EventType::DataAccess,
            "DOWNLOAD",
            t0() + Duration::seconds(i * 20),
        );
        assert!(history.apply(&activity).is_empty());
        // Every download delivered three times (the push and the pull copy, a retry).
        assert!(history.apply(&activity).is_empty());
        last = history.apply(&activity);
    }
    assert!(last.is_empty(), "99 downloads, not 297");
    let state = &history.states["user:max@example.com"];
    let count: u32 = state.windows[&Burst::Download].iter().map(|(_, c)| c).sum();
    assert_eq!(count, 99);
}

#[test]
fn subjects_are_the_user_and_for_sign_ins_the_address() {
    let mut activity = fixtures::public_share("s-1");
    activity.actor_email = Some("Ann@Example.com".into());
    assert_eq!(
        Subject::of(&activity),
        [Subject::User("ann@example.com".into())]
    );
    activity.event_type = EventType::LoginFailure;
    assert_eq!(
        Subject::of(&activity),
        [
            Subject::User("ann@example.com".into()),
            Subject::Address("192.0.2.1".into())
        ]
    );
    activity.actor_ip = Some("not an address".into());
    activity.actor_email = None;
    activity.actor_id = None;
    assert!(Subject::of(&activity).is_empty());
}

#[test]
fn a_success_counted_before_the_failures_that_reach_the_threshold_still_escalates() {
    // Workers take an activity each, in any order: the success may be counted first.
    let mut history = History::new();
    let user = "nia@example.com";
    let at = t0();
    let success = history.event(user, EventType::Login, "LOGIN", at + Duration::seconds(1));
    assert!(success.is_empty());
    let mut last = Vec::new();
    for _ in 0..20 {
        last = history.event(user, EventType::LoginFailure, "FAILED_LOGIN", at);
    }
    assert_eq!(
        detectors_of(&last),
        [DetectorKind::BruteForce, DetectorKind::BruteForce]
    );
    assert!(last.iter().all(|f| f.severity == Severity::High));
    assert!(
        last[0].explanation.starts_with("a successful sign-in at 2026-11-02 09:00 UTC from 198.51.100.7 followed 20 failed sign-ins"),
        "{}",
        last[0].explanation
    );
    assert_eq!(last[0].related.len(), 1, "the success is behind it");
    // A success before the burst, counted after it (out of order), does not follow it.
    let mut late = History::new();
    for i in 0..20 {
        late.event(
            user,
            EventType::LoginFailure,
            "FAILED_LOGIN",
            at + Duration::minutes(i),
        );
    }
    let before = late.event(user, EventType::Login, "LOGIN", at - Duration::minutes(5));
    assert!(before.is_empty(), "{before:?}");
    let after = late.event(user, EventType::Login, "LOGIN", at + Duration::minutes(25));
    assert_eq!(
        detectors_of(&after),
        [DetectorKind::BruteForce, DetectorKind::BruteForce],
        "by user and by address"
    );
    // A success an hour before the burst is not one that follows it.
    let mut earlier = History::new();
    earlier.event(user, EventType::Login, "LOGIN", at - Duration::hours(1));
    let mut last = Vec::new();
    for _ in 0..20 {
        last = earlier.event(user, EventType::LoginFailure, "FAILED_LOGIN", at);
    }
    assert!(
        last.iter().all(|f| f.severity == Severity::Medium),
        "{last:?}"
    );
}
