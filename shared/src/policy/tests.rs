use super::*;
use crate::content::ContentScanner;
use crate::dlp::Confidence;
use crate::domain::{
    fixtures, Coverage, DetectorCount, EventType, Exposure, LinkVisibility, UserType,
};

fn ids(hits: &[PolicyHit]) -> Vec<String> {
    hits.iter().map(|h| h.policy.id.clone()).collect()
}

fn classification(detectors: &[(&str, Category, [u32; 3])], coverage: Coverage) -> Classification {
    Classification {
        tenant_id: "tenant-1".into(),
        content_key: "sha1:abc".into(),
        detectors: detectors
            .iter()
            .map(|(id, category, counts)| DetectorCount {
                detector: id.to_string(),
                category: *category,
                by_confidence: *counts,
            })
            .collect(),
        coverage,
        detected_type: Some("text".into()),
        size: Some(10),
        sha256: None,
        urls: Vec::new(),
        inspected_at: "2026-11-24T10:00:00Z".parse().unwrap(),
    }
}

fn cards() -> Classification {
    classification(
        &[("credit_card", Category::Financial, [0, 1, 2])],
        Coverage::Complete,
    )
}

fn exposed(mut activity: Activity) -> Activity {
    activity.enrichments.exposure = Some(Exposure {
        public_link: true,
        content_sha1: Some("abc".into()),
        ..Exposure::default()
    });
    activity
}

use crate::dlp::Category;

#[test]
fn the_default_set_parses_and_keeps_the_ids_incidents_were_keyed_on() {
    let set = default_set();
    assert_eq!(
        set.policies
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        [
            "builtin.sensitive-file-exposed",
            "builtin.exposed-file-uninspected",
            "builtin.public-file-link",
            "builtin.external-collaborator",
            "builtin.blocked-file",
            "builtin.blocked-url",
            "builtin.blocked-sender",
            "builtin.account-threat"
        ]
    );
    // Every detector the default set names exists in the engine.
    let detectors = crate::content::DlpScanner::for_incidents().detectors();
    parse(DEFAULT_POLICIES_YAML, "default", Some(&detectors)).unwrap();
}

#[test]
fn a_public_link_on_a_file_violates_the_public_link_policy_only() {
    let set = default_set();
    let hits = set.evaluate(&fixtures::public_share("e-1"), None);
    assert_eq!(ids(&hits), ["builtin.public-file-link"]);
    assert_eq!(
        hits[0].matches,
        vec![MatchSummary {
            rule: "public_link".into(),
            count: 1
        }]
    );
    // The subject is written as before policies were data: open incidents keep their ids.
    assert_eq!(hits[0].subject, "f-1#https://app.box.com/s/abc");
}

#[test]
fn organization_links_and_folders_are_not_public_file_links() {
    let set = default_set();
    let mut org_link = fixtures::public_share("e-1");
    org_link.link_visibility = Some(LinkVisibility::Organization);
    assert!(set.evaluate(&org_link, None).is_empty());

    let mut folder = fixtures::public_share("e-2");
    folder.object_type = Some("folder".into());
    assert!(set.evaluate(&folder, None).is_empty());
}

#[test]
fn sharing_with_an_external_user_is_flagged_unless_the_partner_is_trusted() {
    let mut set = default_set();
    let mut invite = fixtures::public_share("e-1");
    invite.link_visibility = None;
    invite.target_user_type = Some(UserType::External);
    invite.target_user_email = Some("pat@partner.example".into());
    let hits = set.evaluate(&invite, None);
    assert_eq!(ids(&hits), ["builtin.external-collaborator"]);
    assert_eq!(hits[0].subject, "f-1#pat@partner.example");

    set.lists
        .insert("trusted-partners".into(), vec!["partner.example".into()]);
    assert!(set.evaluate(&invite, None).is_empty());

    invite.target_user_type = Some(UserType::Internal);
    set.lists.clear();
    assert!(set.evaluate(&invite, None).is_empty());
}

#[test]
fn sensitive_content_is_an_incident_only_when_the_file_is_exposed() {
    let set = default_set();
    let shared = exposed(fixtures::public_share("e-1"));
    assert!(set.wants_content(&shared));
    let hits = set.evaluate(&shared, Some(&cards()));
    assert_eq!(
        ids(&hits),
        ["builtin.sensitive-file-exposed", "builtin.public-file-link"]
    );
    assert!(hits[0].matches.contains(&MatchSummary {
        rule: "credit_card".into(),
        count: 3
    }));
    assert_eq!(hits[0].subject, "f-1#abc");
    // Without the classification the content policy cannot fire.
    assert_eq!(
        ids(&set.evaluate(&shared, None)),
        ["builtin.public-file-link"]
    );
    // Clean content: only the collaboration policy.
    let clean = classification(&[], Coverage::Complete);
    assert_eq!(
        ids(&set.evaluate(&shared, Some(&clean))),
        ["builtin.public-file-link"]
    );

    let mut private = shared.clone();
    private.link_visibility = None;
    private.enrichments.exposure = Some(Exposure::default());
    // Every file is judged against the block lists, exposed or not; the cards alone are no
    // incident in a private file.
    assert!(set.wants_content(&private));
    assert!(set.evaluate(&private, Some(&cards())).is_empty());
    let mut hit = crate::domain::BlockEntryMatch {
        list: crate::domain::BlockList::Sha1,
        value: "abc".into(),
    };
    let hits = set.evaluate_with(&private, Some(&cards()), std::slice::from_ref(&hit));
    assert_eq!(ids(&hits), ["builtin.blocked-file"]);
    assert_eq!(hits[0].matches[0].rule, "blocked_sha1");
    hit.list = crate::domain::BlockList::Urls;
    assert_eq!(
        ids(&set.evaluate_with(&private, Some(&cards()), std::slice::from_ref(&hit))),
        ["builtin.blocked-url"]
    );
    // A listed sender needs no file: a mail event is judged on the activity alone.
    let mut mail = fixtures::public_share("e-9");
    mail.object_id = None;
    mail.object_type = None;
    mail.link_visibility = None;
    mail.from_email = Some("eve@evil.example".into());
    hit.list = crate::domain::BlockList::Senders;
    assert_eq!(
        ids(&set.evaluate_with(&mail, None, std::slice::from_ref(&hit))),
        ["builtin.blocked-sender"]
    );
    assert!(set.evaluate(&mail, None).is_empty());
}

#[test]
fn a_few_contact_details_are_not_sensitive_but_a_contact_list_is() {
    let set = default_set();
    let mut shared = exposed(fixtures::public_share("e-1"));
    shared.link_visibility = None;
    let signature = classification(&[("email", Category::Pii, [0, 3, 0])], Coverage::Complete);
    assert!(set.evaluate(&shared, Some(&signature)).is_empty());
    let list = classification(&[("email", Category::Pii, [0, 15, 5])], Coverage::Complete);
    assert_eq!(
        ids(&set.evaluate(&shared, Some(&list))),
        ["builtin.sensitive-file-exposed"]
    );
}

#[test]
fn an_exposed_file_that_could_not_be_inspected_is_its_own_incident() {
    let set = default_set();
    let mut shared = exposed(fixtures::public_share("e-1"));
    shared.link_visibility = None;
    let too_big = Classification::uninspected(
        "tenant-1",
        "sha1:abc",
        "larger than the 50 MB download limit",
        chrono::Utc::now(),
    );
    let hits = set.evaluate(&shared, Some(&too_big));
    assert_eq!(ids(&hits), ["builtin.exposed-file-uninspected"]);
    assert!(
        hits[0].matches.iter().any(|m| m.rule == "uninspected"),
        "{:?}",
        hits[0].matches
    );
    // A partly inspected file with a finding in the part read is both.
    let partial = classification(
        &[("credit_card", Category::Financial, [0, 1, 0])],
        Coverage::Partial("member over the extraction limit".into()),
    );
    assert_eq!(
        ids(&set.evaluate(&shared, Some(&partial))),
        [
            "builtin.sensitive-file-exposed",
            "builtin.exposed-file-uninspected"
        ]
    );
}

const CUSTOM: &str = r#"
lists:
  rivals: [rival.example, ceo@other.example]
policies:
  - id: finance-pdfs-to-rivals
    name: Finance PDFs shared with rivals
    severity: critical
    mode: monitor
    providers: [box]
    when:
      event_types: [data_sharing]
      target: { lists: [rivals] }
      object: { extensions: [pdf], paths: ["/Finance/*"], max_size: 1000 }
    actions: [quarantine, { notify: soc-slack }]
  - id: high-confidence-cards
    name: Many card numbers
    severity: high
    when:
      content:
        any_of: [{ detectors: [credit_card], min_confidence: high, min_count: 2 }]
    actions: [delete]
  - id: disabled
    name: Off
    enabled: false
    severity: low
"#;

#[test]
fn conditions_combine_lists_object_and_content_thresholds() {
    let set = parse(CUSTOM, "custom.yaml", None).unwrap();
    assert_eq!(set.policies[0].mode, Mode::Monitor);
    assert_eq!(
        set.policies[0].actions,
        [
            PolicyAction::Quarantine,
            PolicyAction::Notify {
                channel: "soc-slack".into()
            }
        ]
    );
    let mut share = fixtures::public_share("e-1");
    share.object_name = Some("Q3.PDF".into());
    share.object_path = Some("/Finance/2026/Q3.PDF".into());
    share.target_user_email = Some("pat@eu.rival.example".into());
    share.enrichments.exposure = Some(Exposure {
        size: Some(900),
        ..Exposure::default()
    });
    let hits = set.evaluate(&share, None);
    assert_eq!(ids(&hits), ["finance-pdfs-to-rivals"]);
    assert_eq!(hits[0].matches[0].rule, "list:rivals");

    let mut other = share.clone();
    other.target_user_email = Some("pat@notrival.example".into());
    assert!(
        set.evaluate(&other, None).is_empty(),
        "a suffix is not a subdomain"
    );
    let mut big = share.clone();
    big.enrichments.exposure.as_mut().unwrap().size = Some(1001);
    assert!(set.evaluate(&big, None).is_empty());
    let mut elsewhere = share.clone();
    elsewhere.object_path = Some("/HR/Q3.PDF".into());
    assert!(set.evaluate(&elsewhere, None).is_empty());
    let mut upload = share.clone();
    upload.event_type = EventType::DataCreation;
    assert!(set.evaluate(&upload, None).is_empty());

    // Two high-confidence card numbers: one is not enough, nor are medium ones.
    let upload = fixtures::public_share("e-2");
    let two_high = classification(
        &[("credit_card", Category::Financial, [0, 5, 2])],
        Coverage::Complete,
    );
    let one_high = classification(
        &[("credit_card", Category::Financial, [0, 5, 1])],
        Coverage::Complete,
    );
    let hits = set.evaluate(&upload, Some(&two_high));
    assert_eq!(ids(&hits), ["high-confidence-cards"]);
    assert_eq!(hits[0].matches[0].count, 2);
    assert!(set.evaluate(&upload, Some(&one_high)).is_empty());
    assert_eq!(two_high.detectors[0].at_least(Confidence::Medium), 7);
}

fn problems(text: &str) -> String {
    let detectors = crate::content::DlpScanner::for_incidents().detectors();
    parse(text, "policies.yaml", Some(&detectors))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_bad_file_is_refused_with_the_line_and_the_field() {
    // A typo in an enum value: the parser names the field and the line.
    let message = problems("policies:\n  - id: a\n    name: A\n    severity: hgh\n");
    assert!(
        message.starts_with("policies.yaml:4:") && message.contains("policies[0].severity"),
        "{message}"
    );
    // An unknown field is refused, not silently ignored.
    let message = problems(
        "policies:\n  - id: a\n    name: A\n    severity: low\n    when: { evnt_types: [login] }\n",
    );
    assert!(message.contains("evnt_types"), "{message}");
    // Checks after parsing name the policy, its line and the field.
    let message = problems(
        "policies:\n  - id: ok\n    name: OK\n    severity: low\n  - id: second\n    name: S\n    severity: low\n    when:\n      target: { lists: [nope] }\n      content: { any_of: [{ detectors: [credit_crad] }] }\n    actions: [{ remove_external_collaborators: { scope: ancestors } }, quarantine, quarantine]\n",
    );
    for expected in [
        "policies.yaml:5: policies[1] (second).when.target.lists: no list named 'nope'",
        "no detector 'credit_crad'",
        "Quarantine is listed twice",
        "put quarantine first",
    ] {
        assert!(message.contains(expected), "{expected} in:\n{message}");
    }
    let message = problems("policies:\n  - id: x\n    name: X\n    severity: low\n  - id: x\n    name: Y\n    severity: low\n");
    assert!(message.contains("ids must be unique"), "{message}");
    let message = problems("policies:\n  - id: x\n    name: X\n    severity: low\n    actions: [{ quarantine: now }]\n");
    assert!(message.contains("takes no options"), "{message}");
}

#[test]
fn json_is_accepted_too_and_round_trips() {
    let json = r#"{"policies":[{"id":"j","name":"J","severity":"low","when":{"link":["organization"]},"actions":["remove_shared_link",{"notify":"owner"}]}]}"#;
    let set = parse(json, "p.json", None).unwrap();
    let mut org = fixtures::public_share("e-1");
    org.link_visibility = Some(LinkVisibility::Organization);
    assert_eq!(ids(&set.evaluate(&org, None)), ["j"]);
    let again = serde_json::to_string(&set).unwrap();
    assert_eq!(parse(&again, "again.json", None).unwrap(), set);
}

#[test]
fn globs_and_addresses_match_as_documented() {
    assert!(conditions::glob_matches("/Finance/*", "/Finance/a/b.pdf"));
    assert!(conditions::glob_matches("*.pdf", "x.pdf"));
    assert!(!conditions::glob_matches("/Finance/*", "/Fin/x"));
    assert!(conditions::glob_matches("/a?c", "/abc"));
    assert!(conditions::address_matches(
        "Example.COM",
        "a@mail.example.com"
    ));
    assert!(!conditions::address_matches(
        "example.com",
        "a@badexample.com"
    ));
    assert!(conditions::address_matches(
        "a@example.com",
        "A@Example.com"
    ));
}

#[test]
fn notify_actions_naming_undefined_channels_are_reported() {
    let set = parse(CUSTOM, "custom.yaml", None).unwrap();
    assert_eq!(
        set.unknown_channels(&["security-team"]),
        [(
            "finance-pdfs-to-rivals".to_string(),
            "soc-slack".to_string()
        )]
    );
    assert!(set
        .unknown_channels(&["security-team", "soc-slack"])
        .is_empty());
    assert!(default_set()
        .unknown_channels(&["security-team"])
        .is_empty());
}
