//! The enterprise event stream: positions, `now`, limit paging, duplicates, late events.

use std::time::Duration;

use box_simulator::{FileAccess, ItemRef};
use serde_json::Value;

use crate::common::Harness;

fn ids(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect()
}

fn types(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_string())
        .collect()
}

fn position(page: &Value) -> String {
    page["next_stream_position"]
        .as_str()
        .expect("position is a string")
        .to_string()
}

#[tokio::test]
async fn stream_positions_now_and_paging() {
    let h = Harness::start().await;
    let now = h
        .events("stream_type=admin_logs_streaming&stream_position=now")
        .await;
    assert_eq!(now.status, 200);
    assert_eq!(now.json["chunk_size"], 0);
    assert!(now.json["entries"].as_array().unwrap().is_empty());
    let start = position(&now.json);

    for i in 0..7 {
        h.sim
            .upload_file(&h.admin, "0", &format!("doc-{i}.txt"), format!("body {i}"))
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = start.clone();
    let mut sizes = Vec::new();
    loop {
        let page = h
            .events(&format!(
                "stream_type=admin_logs_streaming&stream_position={cursor}&limit=3"
            ))
            .await
            .json;
        let chunk = page["chunk_size"].as_u64().unwrap();
        sizes.push(chunk);
        seen.extend(ids(&page));
        let next = position(&page);
        if chunk == 0 {
            assert_eq!(next, cursor, "an empty page keeps the position");
            break;
        }
        cursor = next;
    }
    assert_eq!(sizes, vec![3, 3, 1, 0]);
    assert_eq!(seen.len(), 7);

    // From 0 (or no position) everything is returned.
    let all = h
        .events("stream_type=admin_logs_streaming&stream_position=0&limit=500")
        .await
        .json;
    assert_eq!(types(&all), vec!["UPLOAD"; 7]);
    let missing = h.events("stream_type=admin_logs_streaming").await.json;
    assert_eq!(missing["chunk_size"], 7);

    let event = &all["entries"][0];
    assert_eq!(event["type"], "event");
    assert_eq!(event["source"]["item_type"], "file");
    assert_eq!(event["source"]["item_name"], "doc-0.txt");
    assert_eq!(event["source"]["parent"]["id"], "0");
    assert_eq!(event["created_by"]["login"], "admin@example.com");
    assert!(event["ip_address"].is_string());
    assert!(event["recorded_at"].is_string());
}

#[tokio::test]
async fn limit_is_capped_at_500_and_validated() {
    let h = Harness::start().await;
    for i in 0..3 {
        h.sim
            .upload_file(&h.admin, "0", &format!("f{i}"), "x")
            .unwrap();
    }
    assert_eq!(
        h.events("stream_type=admin_logs&limit=100000").await.json["chunk_size"],
        3
    );
    assert_eq!(
        h.events("stream_type=admin_logs&limit=abc").await.status,
        400
    );
    assert_eq!(
        h.events("stream_type=admin_logs&stream_position=garbage")
            .await
            .status,
        400
    );
    assert_eq!(h.events("stream_type=all").await.status, 400);
}

#[tokio::test]
async fn every_kind_of_change_is_logged() {
    let h = Harness::start().await;
    let folder = h.sim.create_folder(&h.admin, "0", "Finance").unwrap();
    let file = h
        .sim
        .upload_file(&h.admin, &folder, "q3.xlsx", "numbers")
        .unwrap();
    h.sim.edit_file(None, &file, "more numbers").unwrap();
    h.sim.share_file(None, &file, "open").unwrap();
    h.sim.share_file(None, &file, "company").unwrap();
    h.sim.unshare_file(None, &file).unwrap();
    let collab = h
        .sim
        .add_collaborator(None, ItemRef::file(&file), "eve@partner.org", "editor")
        .unwrap();
    let alice = h.sim.user_id_by_login("alice@example.com").unwrap();
    h.sim
        .access_file(&alice, &file, FileAccess::Download)
        .unwrap();
    h.sim
        .access_file(&alice, &file, FileAccess::Preview)
        .unwrap();
    h.sim.record_login(&alice, false).unwrap();
    assert_eq!(
        h.delete(&format!("/collaborations/{collab}")).await.status,
        204
    );

    let page = h.events("stream_type=admin_logs").await.json;
    assert_eq!(
        types(&page),
        vec![
            "UPLOAD",
            "UPLOAD",
            "EDIT",
            "SHARE",
            "ITEM_SHARED_UPDATE",
            "UNSHARE",
            "COLLABORATION_INVITE",
            "DOWNLOAD",
            "PREVIEW",
            "FAILED_LOGIN",
            "COLLABORATION_REMOVE"
        ]
    );
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries[0]["source"]["item_type"], "folder");
    assert_eq!(entries[3]["additional_details"]["access"], "open");
    assert_eq!(entries[4]["additional_details"]["access"], "company");
    assert_eq!(entries[6]["additional_details"]["role"], "editor");
    assert_eq!(
        entries[6]["additional_details"]["invitee"]["login"],
        "eve@partner.org"
    );
    assert_eq!(entries[7]["created_by"]["login"], "alice@example.com");
}

#[tokio::test]
async fn injected_duplicates_come_back_on_a_later_page_of_the_streaming_feed() {
    let h = Harness::start().await;
    h.sim.duplicate_next_events(1);
    h.sim.upload_file(&h.admin, "0", "a.txt", "a").unwrap();
    h.sim.upload_file(&h.admin, "0", "b.txt", "b").unwrap();

    let first = h
        .events("stream_type=admin_logs_streaming&stream_position=0")
        .await
        .json;
    let first_ids = ids(&first);
    assert_eq!(first_ids.len(), 2);
    let second = h
        .events(&format!(
            "stream_type=admin_logs_streaming&stream_position={}",
            position(&first)
        ))
        .await
        .json;
    assert_eq!(
        ids(&second),
        vec![first_ids[0].clone()],
        "the first event is served again with the same event_id"
    );
    let third = h
        .events(&format!(
            "stream_type=admin_logs_streaming&stream_position={}",
            position(&second)
        ))
        .await
        .json;
    assert_eq!(third["chunk_size"], 0);

    // admin_logs never duplicates.
    let chronological = h
        .events("stream_type=admin_logs&stream_position=0")
        .await
        .json;
    assert_eq!(ids(&chronological), first_ids);
}

#[tokio::test]
async fn late_events_arrive_after_newer_ones_with_an_older_created_at() {
    let h = Harness::start().await;
    let file = h.sim.upload_file(&h.admin, "0", "late.txt", "x").unwrap();
    let first = h
        .events("stream_type=admin_logs_streaming&stream_position=0")
        .await
        .json;
    let served_created_at = first["entries"][0]["created_at"]
        .as_str()
        .unwrap()
        .to_string();

    let late_id = h
        .sim
        .inject_late_event(
            &h.admin,
            ItemRef::file(file),
            "DOWNLOAD",
            Duration::from_secs(3600),
        )
        .unwrap();
    let later = h
        .events(&format!(
            "stream_type=admin_logs_streaming&stream_position={}",
            position(&first)
        ))
        .await
        .json;
    assert_eq!(ids(&later), vec![late_id]);
    let late_created =
        chrono::DateTime::parse_from_rfc3339(later["entries"][0]["created_at"].as_str().unwrap())
            .unwrap();
    let served = chrono::DateTime::parse_from_rfc3339(&served_created_at).unwrap();
    assert!(
        late_created < served,
        "the late event is older than one already served"
    );
}

#[tokio::test]
async fn event_filters_and_permissions() {
    let h = Harness::start().await;
    let file = h.sim.upload_file(&h.admin, "0", "f.txt", "x").unwrap();
    h.sim.share_file(None, &file, "open").unwrap();
    let shares = h
        .events("stream_type=admin_logs&event_type=SHARE,UNSHARE")
        .await
        .json;
    assert_eq!(types(&shares), vec!["SHARE"]);

    let alice = h.sim.user_id_by_login("alice@example.com").unwrap();
    let alice_token = h.sim.issue_tokens(&alice).unwrap().access_token;
    let denied = h
        .get_as(&alice_token, "/events?stream_type=admin_logs")
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.json["type"], "error");
    let anonymous = h.get_as("bogus", "/events?stream_type=admin_logs").await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn demo_scenario_seeds_risky_sharing_and_logs_it() {
    let h = Harness::start().await;
    let scenario = h.sim.seed_demo_scenario().unwrap();
    assert_eq!(scenario.folders.len(), 4);
    let cards = &scenario.files["card-payments-2026.csv"];
    let snapshot = h.sim.file(cards).unwrap();
    assert_eq!(snapshot.shared_link.unwrap().access, "open");
    let deploy = h.sim.file(&scenario.files["deploy-notes.md"]).unwrap();
    assert_eq!(deploy.collaborations[0].login, "contractor@gmail.com");
    let page = h.events("stream_type=admin_logs&limit=500").await.json;
    let kinds = types(&page);
    assert_eq!(kinds.iter().filter(|k| *k == "SHARE").count(), 3);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "COLLABORATION_INVITE")
            .count(),
        2
    );
}

#[tokio::test]
async fn created_after_and_before_filter_admin_logs_only() {
    let h = Harness::start().await;
    let file = h.sim.upload_file(&h.admin, "0", "old.txt", "x").unwrap();
    h.sim
        .inject_late_event(
            &h.admin,
            ItemRef::file(file),
            "PREVIEW",
            Duration::from_secs(7200),
        )
        .unwrap();
    let cutoff = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let recent = h
        .events(&format!("stream_type=admin_logs&created_after={cutoff}"))
        .await
        .json;
    assert_eq!(types(&recent), vec!["UPLOAD"]);
    let old = h
        .events(&format!("stream_type=admin_logs&created_before={cutoff}"))
        .await
        .json;
    assert_eq!(types(&old), vec!["PREVIEW"]);
    // Ignored on the streaming feed, as at Box.
    let streaming = h
        .events(&format!(
            "stream_type=admin_logs_streaming&created_after={cutoff}"
        ))
        .await
        .json;
    assert_eq!(streaming["chunk_size"], 2);
}

#[tokio::test]
async fn anonymous_downloads_through_an_open_link_are_logged_as_user_2() {
    let h = Harness::start().await;
    let file = h.sim.upload_file(&h.admin, "0", "public.pdf", "x").unwrap();
    assert!(
        h.sim.download_via_shared_link(&file).is_err(),
        "no link yet"
    );
    h.sim.share_file(None, &file, "open").unwrap();
    h.sim.download_via_shared_link(&file).unwrap();
    let last = h.sim.events().pop().unwrap();
    assert_eq!(last["event_type"], "DOWNLOAD");
    assert_eq!(last["created_by"]["id"], "2");
    let shown = h.get(&format!("/files/{file}?fields=shared_link")).await;
    assert_eq!(shown.json["shared_link"]["download_count"], 1);
}
