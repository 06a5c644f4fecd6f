//! The Management Activity API: subscriptions, listing windows, paging, blobs.

use std::collections::HashSet;

use chrono::{Duration, SecondsFormat, Utc};
use m365_simulator::{Resource, SimConfig};
use reqwest::Method;
use serde_json::json;

use crate::common::{send, Harness, PUBLISHER};

fn time(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn content_ids(reply: &crate::common::Reply) -> Vec<String> {
    reply
        .json
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {}", reply.text))
        .iter()
        .map(|item| item["contentId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn start_list_and_stop_a_subscription() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;

    let started = h.start_subscription(&token, "Audit.SharePoint").await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(started.json["contentType"], "Audit.SharePoint");
    assert_eq!(started.json["status"], "enabled");
    assert!(started.json["webhook"].is_null());

    let listed = h
        .feed(&token, Method::GET, "subscriptions/list", None)
        .await;
    assert_eq!(listed.json.as_array().unwrap().len(), 1);
    assert_eq!(listed.json[0]["contentType"], "Audit.SharePoint");
    assert_eq!(
        h.sim.management_subscriptions()[0].content_type,
        "Audit.SharePoint"
    );

    let record = h.sim.file_record(
        "FileUploaded",
        "alice@contoso.onmicrosoft.com",
        "https://contoso-my.sharepoint.com/personal/alice_contoso_onmicrosoft_com",
        "Documents",
        "plan.docx",
    );
    let content_id = h
        .sim
        .publish_records("Audit.SharePoint", vec![record.clone()]);
    let content = h
        .feed(
            &token,
            Method::GET,
            "subscriptions/content?contentType=Audit.SharePoint",
            None,
        )
        .await;
    assert_eq!(content.status, 200, "{}", content.text);
    assert_eq!(content_ids(&content), vec![content_id.clone()]);
    let item = &content.json[0];
    let uri = item["contentUri"].as_str().unwrap();
    assert_eq!(
        uri,
        format!("{}/audit/{content_id}", h.sim.feed_root()),
        "contentUri is on the manage listener"
    );
    assert!(item["contentCreated"].as_str().unwrap().ends_with('Z'));
    assert!(item["contentExpiration"].is_string());

    let blob = h.call(&token, Method::GET, uri, None).await;
    assert_eq!(blob.status, 200, "{}", blob.text);
    assert_eq!(blob.json, json!([record]));

    let stopped = h
        .feed(
            &token,
            Method::POST,
            "subscriptions/stop?contentType=Audit.SharePoint",
            None,
        )
        .await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert!(h.sim.management_subscriptions().is_empty());
    let after_stop = h
        .feed(
            &token,
            Method::GET,
            "subscriptions/content?contentType=Audit.SharePoint",
            None,
        )
        .await;
    assert_eq!(after_stop.status, 400);
    assert_eq!(after_stop.json["error"]["code"], "AF20022");
    let blob_after_stop = h.call(&token, Method::GET, uri, None).await;
    assert_eq!(blob_after_stop.json["error"]["code"], "AF20022");
}

#[tokio::test]
async fn unknown_content_types_and_missing_parameters_are_refused() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    let unknown = h.start_subscription(&token, "Audit.Teams").await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json["error"]["code"], "AF20020");
    let missing = h
        .feed(&token, Method::POST, "subscriptions/start", None)
        .await;
    assert_eq!(missing.json["error"]["code"], "AF20001");
    let not_started = h
        .feed(
            &token,
            Method::GET,
            "subscriptions/content?contentType=DLP.All",
            None,
        )
        .await;
    assert_eq!(not_started.json["error"]["code"], "AF20022");
}

#[tokio::test]
async fn the_tenant_in_the_url_must_be_the_tokens_tenant() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    let other = format!(
        "{}/api/v1.0/11111111-2222-3333-4444-555555555555/activity/feed/subscriptions/list?PublisherIdentifier={PUBLISHER}",
        h.sim.manage_base()
    );
    let reply = h.call(&token, Method::GET, &other, None).await;
    assert_eq!(reply.json["error"]["code"], "AF20010", "{}", reply.text);
    let not_guid = format!(
        "{}/api/v1.0/contoso/activity/feed/subscriptions/list",
        h.sim.manage_base()
    );
    let reply = h.call(&token, Method::GET, &not_guid, None).await;
    assert_eq!(reply.json["error"]["code"], "AF20013");
}

#[tokio::test]
async fn listing_windows_follow_the_documented_rules() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    h.start_subscription(&token, "Audit.General").await;
    let list = |start: Option<String>, end: Option<String>| {
        let mut path = "subscriptions/content?contentType=Audit.General".to_string();
        if let Some(start) = start {
            path.push_str(&format!("&startTime={start}"));
        }
        if let Some(end) = end {
            path.push_str(&format!("&endTime={end}"));
        }
        let token = token.clone();
        let h = &h;
        async move { h.feed(&token, Method::GET, &path, None).await }
    };

    // Both bounds from one instant, so the window is exactly 24 hours.
    let now = Utc::now();
    let at = |offset: Duration| (now + offset).to_rfc3339_opts(SecondsFormat::Secs, true);
    let exactly_24h = list(Some(at(Duration::hours(-24))), Some(at(Duration::zero()))).await;
    assert_eq!(exactly_24h.status, 200, "{}", exactly_24h.text);
    let too_long = list(Some(at(Duration::hours(-25))), Some(at(Duration::zero()))).await;
    assert_eq!(too_long.status, 400);
    assert_eq!(too_long.json["error"]["code"], "AF20055");
    let too_old = list(
        Some(time(Duration::days(-8))),
        Some(time(Duration::days(-8) + Duration::hours(1))),
    )
    .await;
    assert_eq!(too_old.status, 400);
    assert_eq!(too_old.json["error"]["code"], "AF20055");
    let only_start = list(Some(time(Duration::hours(-1))), None).await;
    assert_eq!(only_start.json["error"]["code"], "AF20030");
    let documented_forms = list(
        Some(
            (Utc::now() - Duration::hours(3))
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
        ),
        Some(
            (Utc::now() - Duration::hours(1))
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string(),
        ),
    )
    .await;
    assert_eq!(documented_forms.status, 200, "{}", documented_forms.text);
}

#[tokio::test]
async fn the_window_is_inclusive_at_the_start_and_exclusive_at_the_end() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    h.start_subscription(&token, "Audit.Exchange").await;
    let at = (Utc::now() - Duration::hours(2))
        .with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let created = chrono::DateTime::parse_from_rfc3339(&at)
        .unwrap()
        .with_timezone(&Utc);
    let id = h
        .sim
        .publish_late_blob("Audit.Exchange", vec![json!({"Id": "x"})], created);
    let window = |start: &str, end: &str| {
        format!("subscriptions/content?contentType=Audit.Exchange&startTime={start}&endTime={end}")
    };
    let later = (created + Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let earlier = (created - Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let starting_at = h
        .feed(&token, Method::GET, &window(&at, &later), None)
        .await;
    assert_eq!(content_ids(&starting_at), vec![id]);
    let ending_at = h
        .feed(&token, Method::GET, &window(&earlier, &at), None)
        .await;
    assert!(content_ids(&ending_at).is_empty());
}

#[tokio::test]
async fn next_page_uri_pages_through_every_blob_exactly_once() {
    let h = Harness::start_with(SimConfig {
        content_page_size: 3,
        ..SimConfig::default()
    })
    .await;
    let token = h.token(Resource::Manage).await;
    h.start_subscription(&token, "Audit.SharePoint").await;
    let published: Vec<String> = (0..7)
        .map(|n| {
            h.sim.publish_records(
                "Audit.SharePoint",
                vec![json!({"Id": format!("record-{n}")})],
            )
        })
        .collect();
    // Another content type's blobs never show up in this listing.
    h.sim
        .publish_records("Audit.General", vec![json!({"Id": "other"})]);

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut reply = h
        .feed(
            &token,
            Method::GET,
            "subscriptions/content?contentType=Audit.SharePoint",
            None,
        )
        .await;
    loop {
        assert_eq!(reply.status, 200, "{}", reply.text);
        pages += 1;
        seen.extend(content_ids(&reply));
        let Some(next) = reply.header("NextPageUri") else {
            break;
        };
        assert!(next.starts_with(&h.sim.manage_base()), "{next}");
        assert!(
            next.contains("startTime=") && next.contains("endTime="),
            "{next}"
        );
        assert!(pages < 10, "paging does not end");
        reply = h.call(&token, Method::GET, &next, None).await;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, published);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);

    let garbage = h
        .feed(
            &token,
            Method::GET,
            "subscriptions/content?contentType=Audit.SharePoint&nextPage=garbage",
            None,
        )
        .await;
    assert_eq!(garbage.json["error"]["code"], "AF20031");
}

#[tokio::test]
async fn a_late_blob_is_listable_only_after_publication() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    h.start_subscription(&token, "Audit.AzureActiveDirectory")
        .await;
    let path = format!(
        "subscriptions/content?contentType=Audit.AzureActiveDirectory&startTime={}&endTime={}",
        time(Duration::hours(-3)),
        time(Duration::zero())
    );
    let before = h.feed(&token, Method::GET, &path, None).await;
    assert!(content_ids(&before).is_empty());

    let created = Utc::now() - Duration::hours(2);
    let record = h
        .sim
        .sign_in_record("alice@contoso.onmicrosoft.com", "198.51.100.7", false);
    let late = h
        .sim
        .publish_late_blob("Audit.AzureActiveDirectory", vec![record], created);
    let after = h.feed(&token, Method::GET, &path, None).await;
    assert_eq!(content_ids(&after), vec![late]);
    let listed_created =
        chrono::DateTime::parse_from_rfc3339(after.json[0]["contentCreated"].as_str().unwrap())
            .unwrap();
    assert!(
        (listed_created.with_timezone(&Utc) - created)
            .num_milliseconds()
            .abs()
            <= 1
    );
}

#[tokio::test]
async fn a_record_may_repeat_across_blobs() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    h.start_subscription(&token, "Audit.SharePoint").await;
    let record = h.sim.sharing_record(
        "SharingSet",
        "alice@contoso.onmicrosoft.com",
        "https://contoso.sharepoint.com/sites/finance",
        "Shared Documents",
        "budget.xlsx",
        "guest@fabrikam.com",
        "Guest",
    );
    let first = h
        .sim
        .publish_records("Audit.SharePoint", vec![record.clone()]);
    let second = h.sim.publish_records(
        "Audit.SharePoint",
        vec![json!({"Id": "other"}), record.clone()],
    );
    assert_ne!(first, second);
    for (content_id, expected_len) in [(first, 1), (second, 2)] {
        let blob = h
            .call(
                &token,
                Method::GET,
                &format!("{}/audit/{content_id}", h.sim.feed_root()),
                None,
            )
            .await;
        let records = blob.json.as_array().unwrap();
        assert_eq!(records.len(), expected_len);
        assert!(records.iter().any(|r| r["Id"] == record["Id"]));
    }
}

#[tokio::test]
async fn blobs_that_do_not_exist_or_expired_are_refused() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    h.start_subscription(&token, "Audit.SharePoint").await;
    let missing = h
        .call(
            &token,
            Method::GET,
            &format!("{}/audit/nope", h.sim.feed_root()),
            None,
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json["error"]["code"], "AF20050");
    let old = h.sim.publish_late_blob(
        "Audit.SharePoint",
        vec![json!({"Id": "old"})],
        Utc::now() - Duration::days(8),
    );
    let expired = h
        .call(
            &token,
            Method::GET,
            &format!("{}/audit/{old}", h.sim.feed_root()),
            None,
        )
        .await;
    assert_eq!(expired.json["error"]["code"], "AF20051");
}

#[tokio::test]
async fn calls_without_a_publisher_identifier_are_counted() {
    let h = Harness::start().await;
    let token = h.token(Resource::Manage).await;
    h.feed(&token, Method::GET, "subscriptions/list", None)
        .await;
    send(
        h.http
            .get(format!("{}/subscriptions/list", h.sim.feed_root()))
            .bearer_auth(&token),
    )
    .await;
    send(
        h.http
            .get(format!(
                "{}/subscriptions/list?publisheridentifier={PUBLISHER}",
                h.sim.feed_root()
            ))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(h.sim.management_calls(), 3);
    assert_eq!(h.sim.management_calls_without_publisher(), 1);
}

#[tokio::test]
async fn record_helpers_carry_the_schema_fields() {
    let h = Harness::start().await;
    let file = h.sim.file_record(
        "FileDownloaded",
        "alice@contoso.onmicrosoft.com",
        "https://contoso-my.sharepoint.com/personal/alice_contoso_onmicrosoft_com/",
        "Documents/Reports",
        "q3.pdf",
    );
    assert_eq!(file["RecordType"], 6);
    assert_eq!(file["Workload"], "OneDrive");
    assert_eq!(file["OrganizationId"], h.config.tenant_id.as_str());
    assert_eq!(file["SourceFileExtension"], "pdf");
    assert_eq!(file["SourceRelativeUrl"], "Documents/Reports");
    assert_eq!(
        file["ObjectId"],
        "https://contoso-my.sharepoint.com/personal/alice_contoso_onmicrosoft_com/Documents/Reports/q3.pdf"
    );
    let creation = file["CreationTime"].as_str().unwrap();
    assert!(
        !creation.ends_with('Z') && creation.len() == 19,
        "{creation}"
    );
    let other = h.sim.file_record(
        "FileDownloaded",
        "a@b.c",
        "https://contoso.sharepoint.com/sites/x",
        "D",
        "f",
    );
    assert_ne!(file["Id"], other["Id"]);
    assert_eq!(other["Workload"], "SharePoint");

    let failed = h
        .sim
        .sign_in_record("admin@contoso.onmicrosoft.com", "198.51.100.9", false);
    assert_eq!(failed["RecordType"], 15);
    assert_eq!(failed["Operation"], "UserLoginFailed");
    assert_eq!(failed["ActorIpAddress"], "198.51.100.9");
    assert_eq!(failed["ClientIP"], "198.51.100.9");
    assert!(failed["LogonError"].is_string());
    let ok = h
        .sim
        .sign_in_record("admin@contoso.onmicrosoft.com", "198.51.100.9", true);
    assert_eq!(ok["Operation"], "UserLoggedIn");
    assert!(ok.get("LogonError").is_none());

    let guest = h
        .sim
        .add_user("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "Bob", true);
    let users = h.sim.users();
    assert_eq!(users.len(), 3);
    assert_eq!(
        users.iter().find(|u| u.id == guest).unwrap().user_type,
        "Guest"
    );
}
