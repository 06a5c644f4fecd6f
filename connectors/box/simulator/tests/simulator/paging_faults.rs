//! The endless-page fault (a mock of Box's spec answering the same page forever) and the
//! slow token endpoint.

use std::time::{Duration, Instant};

use box_simulator::ItemRef;
use serde_json::{json, Value};

use crate::common::{send, Harness, Reply};

fn entry_ids(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .expect("a page has entries")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn names(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .expect("a page has entries")
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// A file with two collaborators, one of them external (pending).
async fn file_with_collaborators(h: &Harness, name: &str) -> String {
    let file = h.sim.upload_file(&h.admin, "0", name, "x").unwrap();
    for login in ["partner@other.org", "bob@example.com"] {
        h.sim
            .add_collaborator(None, ItemRef::file(&file), login, "editor")
            .unwrap();
    }
    file
}

#[tokio::test]
async fn endless_collaboration_pages_repeat_the_real_first_page_and_marker() {
    let h = Harness::start().await;
    let file = file_with_collaborators(&h, "endless.docx").await;
    let other = file_with_collaborators(&h, "unaffected.docx").await;
    let listing = format!("/2.0/files/{file}/collaborations");
    h.sim.inject_endless_pages(Some(&listing));

    // One page holds everything, yet the marker never runs out and the page keeps showing
    // the same external collaborator.
    let first = h.get(&format!("/files/{file}/collaborations")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let logins: Vec<&str> = first.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["accessible_by"]["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, vec!["partner@other.org", "bob@example.com"]);
    let marker = first.json["next_marker"]
        .as_str()
        .expect("a next_marker under the fault")
        .to_string();
    assert!(!marker.is_empty());
    for _ in 0..5 {
        let again = h
            .get(&format!("/files/{file}/collaborations?marker={marker}"))
            .await;
        assert_eq!(again.status, 200);
        assert_eq!(entry_ids(&again.json), entry_ids(&first.json));
        assert_eq!(again.json["next_marker"], marker.as_str());
    }

    // With a smaller page the repeated page is the real first page, not an empty one.
    let small = h
        .get(&format!("/files/{file}/collaborations?limit=1&marker=1"))
        .await
        .json;
    assert_eq!(
        small["entries"][0]["accessible_by"]["login"],
        "partner@other.org"
    );
    assert_eq!(small["next_marker"], "1");

    // Another item's list is not under the fault.
    let unaffected = h.get(&format!("/files/{other}/collaborations")).await.json;
    assert!(unaffected["next_marker"].is_null());
    assert_eq!(h.sim.endless_pages_served(), 7);

    h.sim.clear_endless_pages();
    let real = h
        .get(&format!("/files/{file}/collaborations?limit=1&marker=1"))
        .await
        .json;
    assert_eq!(
        real["entries"][0]["accessible_by"]["login"],
        "bob@example.com"
    );
    assert!(real["next_marker"].is_null());
    assert_eq!(h.sim.endless_pages_served(), 7);
}

#[tokio::test]
async fn endless_pages_everywhere_cover_folder_collaborations_and_items() {
    let h = Harness::start().await;
    let folder = h.sim.create_folder(&h.admin, "0", "Loop").unwrap();
    for name in ["a.txt", "b.txt", "c.txt"] {
        h.sim.upload_file(&h.admin, &folder, name, "x").unwrap();
    }
    h.sim
        .add_collaborator(None, ItemRef::folder(&folder), "ext@other.org", "viewer")
        .unwrap();
    h.sim.inject_endless_pages(None);

    let collaborations = h
        .get(&format!("/folders/{folder}/collaborations?marker=50"))
        .await
        .json;
    assert_eq!(
        collaborations["entries"][0]["accessible_by"]["login"],
        "ext@other.org"
    );
    assert!(collaborations["next_marker"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));

    // Offset paging: whatever the offset, the first entries, and a total that never ends.
    for offset in [0, 2, 2, 1000] {
        let page = h
            .get(&format!("/folders/{folder}/items?limit=2&offset={offset}"))
            .await;
        assert_eq!(page.status, 200);
        assert_eq!(names(&page.json), vec!["a.txt", "b.txt"]);
        assert_eq!(page.json["offset"], 0);
        assert!(page.json["total_count"].as_u64().unwrap() >= 1_000_000);
    }

    h.sim.clear_endless_pages();
    let last = h
        .get(&format!("/folders/{folder}/items?limit=2&offset=2"))
        .await
        .json;
    assert_eq!(names(&last), vec!["c.txt"]);
    assert_eq!(last["total_count"], 3);
}

async fn control(h: &Harness, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
    let mut request = h
        .http
        .request(method, format!("{}{path}", h.sim.control_base()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

#[tokio::test]
async fn endless_pages_and_token_delay_over_the_control_api() {
    let h = Harness::start().await;
    let file = file_with_collaborators(&h, "ctl.docx").await;
    let set = control(
        &h,
        reqwest::Method::POST,
        "/faults/endless-pages",
        Some(json!({"path_prefix": "/2.0/files/"})),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json["path_prefixes"], json!(["/2.0/files/"]));
    let page = h
        .get(&format!("/files/{file}/collaborations?limit=1&marker=1"))
        .await
        .json;
    assert_eq!(page["next_marker"], "1");
    assert_eq!(
        page["entries"][0]["accessible_by"]["login"],
        "partner@other.org"
    );
    let status = control(&h, reqwest::Method::GET, "/faults/endless-pages", None).await;
    assert_eq!(status.json["pages_served"], 1);
    let cleared = control(&h, reqwest::Method::DELETE, "/faults/endless-pages", None).await;
    assert_eq!(cleared.json["path_prefixes"], json!([]));
    let page = h
        .get(&format!("/files/{file}/collaborations?limit=1&marker=1"))
        .await
        .json;
    assert!(page["next_marker"].is_null());

    let bad = control(
        &h,
        reqwest::Method::POST,
        "/faults/token-delay",
        Some(json!({"delay": "soon"})),
    )
    .await;
    assert_eq!(bad.status, 400);
    let delay = control(
        &h,
        reqwest::Method::POST,
        "/faults/token-delay",
        Some(json!({"delay_ms": 300})),
    )
    .await;
    assert_eq!(delay.status, 200);
    let pair = h.sim.issue_tokens(&h.admin).unwrap();
    let started = Instant::now();
    assert_eq!(refresh(&h, &pair.refresh_token).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

async fn refresh(h: &Harness, refresh_token: &str) -> Reply {
    let config = h.sim.config();
    send(h.http.post(h.sim.token_url()).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.as_str()),
    ]))
    .await
}

/// Polls `done` on the OAuth counters (bounded), for requests still in flight.
async fn wait_for_stats(h: &Harness, done: impl Fn(&box_simulator::OAuthStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done(&h.sim.oauth_stats()) {
        assert!(Instant::now() < deadline, "{:?}", h.sim.oauth_stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_slow_token_endpoint_consumes_the_refresh_token_only_after_the_delay() {
    let h = Harness::start().await;
    let pair = h.sim.issue_tokens(&h.admin).unwrap();
    let delay = Duration::from_secs(3);
    h.sim.set_token_delay(delay);

    // The first refresh arrives and waits out the delay...
    let slow = {
        let request = h.http.post(h.sim.token_url()).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", pair.refresh_token.as_str()),
            ("client_id", h.sim.config().client_id.as_str()),
            ("client_secret", h.sim.config().client_secret.as_str()),
        ]);
        tokio::spawn(async move {
            let started = Instant::now();
            let reply = crate::common::read(request.send().await.unwrap()).await;
            (reply, started.elapsed())
        })
    };
    wait_for_stats(&h, |s| s.refresh_attempts == 1).await;
    // ...so a second one with the same token, sent without delay meanwhile, still finds it
    // unused and wins.
    h.sim.set_token_delay(Duration::ZERO);
    let fast = refresh(&h, &pair.refresh_token).await;
    assert_eq!(fast.status, 200, "{}", fast.text);

    let (slow, took) = slow.await.unwrap();
    assert!(took >= delay);
    assert_eq!(slow.status, 400);
    assert_eq!(slow.json["error"], "invalid_grant");
    let stats = h.sim.oauth_stats();
    assert_eq!(stats.refresh_attempts, 2);
    assert_eq!(stats.refreshes, 1);
    assert_eq!(stats.refresh_invalid_grants, 1);
}

#[tokio::test]
async fn a_client_that_gives_up_during_the_delay_still_loses_its_refresh_token() {
    let h = Harness::start().await;
    let pair = h.sim.issue_tokens(&h.admin).unwrap();
    h.sim.set_token_delay(Duration::from_millis(500));
    let config = h.sim.config();
    let gave_up = h
        .http
        .post(h.sim.token_url())
        .timeout(Duration::from_millis(100))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", pair.refresh_token.as_str()),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
        ])
        .send()
        .await;
    assert!(gave_up.is_err(), "the client timed out");
    wait_for_stats(&h, |s| s.refreshes == 1).await;

    h.sim.set_token_delay(Duration::ZERO);
    let retry = refresh(&h, &pair.refresh_token).await;
    assert_eq!(retry.json["error"], "invalid_grant");
    let stats = h.sim.oauth_stats();
    assert_eq!(
        (
            stats.refresh_attempts,
            stats.refreshes,
            stats.refresh_invalid_grants
        ),
        (2, 1, 1)
    );
}
