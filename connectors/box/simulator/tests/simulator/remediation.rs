//! Remediation endpoints and the idempotency answers Box gives: move, shared link removal,
//! trash, collaboration removal, download, plus error bodies, faults and rate limits.

use box_simulator::{HttpFault, ItemRef, RateLimit, SimConfig};
use serde_json::{json, Value};

use crate::common::{send, Harness, Reply};

#[tokio::test]
async fn quarantine_move_into_a_created_folder() {
    let h = Harness::start().await;
    let file = h
        .sim
        .upload_file(&h.admin, "0", "leak.csv", "ssn,123-45-6789")
        .unwrap();
    let created = h
        .post(
            "/folders",
            json!({"name": "CASB Quarantine", "parent": {"id": "0"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let quarantine = created.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        h.sim.find_folder("0", "CASB Quarantine").as_deref(),
        Some(quarantine.as_str())
    );
    assert_eq!(created.json["type"], "folder");
    assert_eq!(created.json["path_collection"]["entries"][0]["id"], "0");
    let again = h
        .post(
            "/folders",
            json!({"name": "CASB Quarantine", "parent": {"id": "0"}}),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.json["code"], "item_name_in_use");
    assert_eq!(
        again.json["context_info"]["conflicts"][0]["id"],
        quarantine.as_str()
    );

    let moved = h
        .put(
            &format!("/files/{file}"),
            json!({"parent": {"id": quarantine}}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json["parent"]["id"], quarantine.as_str());
    assert_eq!(moved.json["path_collection"]["total_count"], 2);
    assert_eq!(h.sim.file(&file).unwrap().parent_id, quarantine);
    // Moving again to the same folder is a no-op 200.
    assert_eq!(
        h.put(
            &format!("/files/{file}"),
            json!({"parent": {"id": quarantine}})
        )
        .await
        .status,
        200
    );
    let missing = h
        .put(
            &format!("/files/{file}"),
            json!({"parent": {"id": "999999999"}}),
        )
        .await;
    assert_eq!(missing.status, 404);

    let items = h.get(&format!("/folders/{quarantine}/items")).await;
    assert_eq!(items.json["total_count"], 1);
    assert_eq!(items.json["entries"][0]["id"], file.as_str());
    let moves: Vec<_> = h
        .sim
        .events()
        .into_iter()
        .filter(|e| e["event_type"] == "MOVE")
        .collect();
    assert_eq!(moves.len(), 1);
}

#[tokio::test]
async fn remove_and_restrict_shared_links() {
    let h = Harness::start().await;
    let file = h
        .sim
        .upload_file(&h.admin, "0", "plan.docx", "secret plan")
        .unwrap();
    h.sim.share_file(None, &file, "open").unwrap();

    let shown = h
        .get(&format!("/files/{file}?fields=shared_link,name"))
        .await;
    assert_eq!(shown.json["shared_link"]["access"], "open");
    assert_eq!(shown.json["name"], "plan.docx");
    assert!(
        shown.json.get("size").is_none(),
        "fields narrows the answer"
    );
    assert!(shown.json["shared_link"]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://app.box.com/s/"));

    let restricted = h
        .put(
            &format!("/files/{file}?fields=shared_link"),
            json!({"shared_link": {"access": "collaborators"}}),
        )
        .await;
    assert_eq!(restricted.status, 200);
    assert_eq!(restricted.json["shared_link"]["access"], "collaborators");
    assert_eq!(
        restricted.json["shared_link"]["effective_access"],
        "collaborators"
    );
    let invalid = h
        .put(
            &format!("/files/{file}"),
            json!({"shared_link": {"access": "everyone"}}),
        )
        .await;
    assert_eq!(invalid.status, 400);

    let removed = h
        .put(
            &format!("/files/{file}?fields=shared_link"),
            json!({"shared_link": null}),
        )
        .await;
    assert_eq!(removed.status, 200);
    let keys: Vec<&str> = removed
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_eq!(removed.json["type"], "file");
    assert_eq!(removed.json["id"], file.as_str());
    assert!(removed.json["etag"].is_string());
    assert!(removed.json["shared_link"].is_null());
    assert!(h.sim.file(&file).unwrap().shared_link.is_none());

    // Removing again is an idempotent 200 and logs nothing new.
    let again = h
        .put(
            &format!("/files/{file}?fields=shared_link"),
            json!({"shared_link": null}),
        )
        .await;
    assert_eq!(again.status, 200);
    let unshares = h
        .sim
        .events()
        .into_iter()
        .filter(|e| e["event_type"] == "UNSHARE")
        .count();
    assert_eq!(unshares, 1);
}

#[tokio::test]
async fn delete_moves_to_trash_and_a_second_delete_is_404() {
    let h = Harness::start().await;
    let file = h.sim.upload_file(&h.admin, "0", "old.zip", "zip").unwrap();
    let first = h.delete(&format!("/files/{file}")).await;
    assert_eq!(first.status, 204);
    assert!(first.text.is_empty());
    assert!(h.sim.file(&file).unwrap().trashed);
    let second = h.delete(&format!("/files/{file}")).await;
    assert_eq!(second.status, 404);
    let read_trashed = h.get(&format!("/files/{file}")).await;
    assert_eq!(read_trashed.status, 404);
    assert_eq!(read_trashed.json["code"], "trashed");
    assert_eq!(h.get("/files/424242424242").await.json["code"], "not_found");
    assert_eq!(h.sim.file_json(&file).unwrap()["item_status"], "trashed");
    assert_eq!(
        h.sim
            .events()
            .iter()
            .filter(|e| e["event_type"] == "DELETE")
            .count(),
        1
    );
}

#[tokio::test]
async fn if_match_with_a_stale_etag_is_412() {
    let h = Harness::start().await;
    let file = h.sim.upload_file(&h.admin, "0", "e.txt", "x").unwrap();
    let request = h
        .http
        .delete(h.url(&format!("/files/{file}")))
        .bearer_auth(&h.token)
        .header("if-match", "99");
    let reply = send(request).await;
    assert_eq!(reply.status, 412);
    assert_eq!(reply.json["code"], "precondition_failed");
    assert!(!h.sim.file(&file).unwrap().trashed);
}

#[tokio::test]
async fn collaborations_invite_list_and_remove() {
    let h = Harness::start().await;
    let folder = h.sim.create_folder(&h.admin, "0", "Deals").unwrap();
    let file = h
        .sim
        .upload_file(&h.admin, &folder, "deal.pdf", "pdf")
        .unwrap();
    let created = h
        .post("/collaborations", json!({"item": {"type": "file", "id": file}, "accessible_by": {"type": "user", "login": "mallory@gmail.com"}, "role": "viewer"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["type"], "collaboration");
    assert_eq!(created.json["status"], "pending");
    assert_eq!(created.json["accessible_by"]["login"], "mallory@gmail.com");
    for login in ["alice@example.com", "bob@example.com"] {
        h.sim
            .add_collaborator(None, ItemRef::file(&file), login, "editor")
            .unwrap();
    }
    let duplicate =
        h.sim
            .add_collaborator(None, ItemRef::file(&file), "alice@example.com", "viewer");
    assert_eq!(duplicate.unwrap_err().code, "user_already_collaborator");

    let page1 = h
        .get(&format!("/files/{file}/collaborations?limit=2"))
        .await
        .json;
    assert_eq!(page1["entries"].as_array().unwrap().len(), 2);
    let marker = page1["next_marker"]
        .as_str()
        .expect("a next_marker while more remain")
        .to_string();
    let page2 = h
        .get(&format!(
            "/files/{file}/collaborations?limit=2&marker={marker}"
        ))
        .await
        .json;
    assert_eq!(page2["entries"].as_array().unwrap().len(), 1);
    assert!(page2["next_marker"].is_null());
    assert_eq!(h.sim.file(&file).unwrap().collaborations.len(), 3);

    let collab = created.json["id"].as_str().unwrap();
    assert_eq!(
        h.get(&format!("/collaborations/{collab}")).await.json["role"],
        "viewer"
    );
    assert_eq!(
        h.delete(&format!("/collaborations/{collab}")).await.status,
        204
    );
    assert_eq!(
        h.delete(&format!("/collaborations/{collab}")).await.status,
        404
    );
    assert_eq!(
        h.get(&format!("/collaborations/{collab}")).await.status,
        404
    );
    assert_eq!(h.sim.file(&file).unwrap().collaborations.len(), 2);
    assert_eq!(
        h.get(&format!("/folders/{folder}/collaborations"))
            .await
            .json["entries"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn download_redirects_to_the_download_host_with_an_expiring_url() {
    let h = Harness::start().await;
    let file = h
        .sim
        .upload_file(&h.admin, "0", "bytes.bin", b"0123456789".to_vec())
        .unwrap();
    let reply = h.get(&format!("/files/{file}/content")).await;
    assert_eq!(reply.status, 302);
    let location = reply.header("location").unwrap();
    assert!(location.starts_with(&h.sim.download_base()), "{location}");
    let body = h.http.get(&location).send().await.unwrap();
    assert_eq!(body.status().as_u16(), 200);
    assert_eq!(body.bytes().await.unwrap().as_ref(), b"0123456789");
    let partial = h
        .http
        .get(&location)
        .header("range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status().as_u16(), 206);
    assert_eq!(partial.bytes().await.unwrap().as_ref(), b"234");
    h.sim.expire_download_urls();
    assert_eq!(
        h.http
            .get(&location)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    assert!(h.sim.events().iter().any(|e| e["event_type"] == "DOWNLOAD"));
}

#[tokio::test]
async fn malformed_json_is_a_400_with_box_error_body() {
    let h = Harness::start().await;
    let file = h.sim.upload_file(&h.admin, "0", "j.txt", "x").unwrap();
    let reply = send(
        h.http
            .put(h.url(&format!("/files/{file}")))
            .bearer_auth(&h.token)
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json["type"], "error");
    assert_eq!(reply.json["status"], 400);
    assert_eq!(reply.json["code"], "bad_request");
    assert!(reply.json["request_id"].is_string());
    let wrong_shape = h
        .put(&format!("/files/{file}"), json!({"parent": {"id": 5}}))
        .await;
    assert_eq!(wrong_shape.status, 400);
    assert_eq!(h.get("/no/such/endpoint").await.status, 404);
}

#[tokio::test]
async fn injected_http_faults_answer_then_clear() {
    let h = Harness::start().await;
    h.sim
        .inject_http_fault(HttpFault::rate_limited(2, 7).on_path("/2.0/events"));
    h.sim
        .inject_http_fault(HttpFault::server_error(1, 503).on_path("/2.0/users"));
    let limited = h.events("stream_type=admin_logs").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after").as_deref(), Some("7"));
    assert_eq!(limited.json["code"], "rate_limit_exceeded");
    assert_eq!(h.get("/users/me").await.status, 503);
    assert_eq!(h.get("/users/me").await.status, 200);
    assert_eq!(h.events("stream_type=admin_logs").await.status, 429);
    assert_eq!(h.events("stream_type=admin_logs").await.status, 200);
}

#[tokio::test]
async fn per_token_rate_limit_answers_429_with_retry_after() {
    let config = SimConfig {
        rate_limit: Some(RateLimit {
            max_requests: 3,
            window: std::time::Duration::from_secs(60),
        }),
        ..SimConfig::default()
    };
    let h = Harness::start_with(config).await;
    for _ in 0..3 {
        assert_eq!(h.get("/users/me").await.status, 200);
    }
    let limited = h.get("/users/me").await;
    assert_eq!(limited.status, 429);
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    // Another token has its own budget.
    let other = h.sim.issue_tokens(&h.admin).unwrap().access_token;
    assert_eq!(h.get_as(&other, "/users/me").await.status, 200);
    h.sim.set_rate_limit(None);
    assert_eq!(h.get("/users/me").await.status, 200);
}

/// A request to the simulator's `/_sim` control API (no bearer token).
async fn control_post(h: &Harness, path: &str, body: Value) -> Reply {
    send(
        h.http
            .post(format!("{}{path}", h.sim.control_base()))
            .json(&body),
    )
    .await
}

async fn control_get(h: &Harness, path: &str) -> Reply {
    send(h.http.get(format!("{}{path}", h.sim.control_base()))).await
}

#[tokio::test]
async fn control_api_over_http() {
    let h = Harness::start().await;
    let control = h.sim.control_base();
    let uploaded = control_post(
        &h,
        "/files",
        json!({"name": "ctl.txt", "content_text": "hello"}),
    )
    .await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.text);
    let id = uploaded.json["id"].as_str().unwrap().to_string();
    let shared = control_post(&h, &format!("/files/{id}/share"), json!({"access": "open"})).await;
    assert_eq!(shared.json["shared_link"]["access"], "open");
    let collab = control_post(
        &h,
        &format!("/files/{id}/collaborators"),
        json!({"email": "x@other.org", "role": "viewer"}),
    )
    .await;
    assert_eq!(collab.json["role"], "viewer");
    let bad = send(h.http.post(format!("{control}/files")).body("nope")).await;
    assert_eq!(bad.status, 400);
    let events = control_get(&h, "/events").await;
    assert_eq!(events.json.as_array().unwrap().len(), 3);
    let config = control_get(&h, "/config").await;
    assert_eq!(config.json["client_id"], h.sim.config().client_id.as_str());
    let fault = control_post(&h, "/faults/http", json!({"count": 1, "status": 500})).await;
    assert_eq!(fault.status, 200);
    assert_eq!(h.get("/users/me").await.status, 500);
    let stats = control_get(&h, "/oauth/stats").await;
    assert_eq!(stats.json["refreshes"], 0);
}

#[tokio::test]
async fn folder_shared_link_rename_move_and_recursive_trash() {
    let h = Harness::start().await;
    let top = h.sim.create_folder(&h.admin, "0", "Top").unwrap();
    let inner = h.sim.create_folder(&h.admin, &top, "Inner").unwrap();
    let file = h.sim.upload_file(&h.admin, &inner, "f.txt", "x").unwrap();

    let shared = h
        .put(
            &format!("/folders/{inner}?fields=shared_link"),
            json!({"shared_link": {"access": "open"}}),
        )
        .await;
    assert_eq!(shared.status, 200, "{}", shared.text);
    assert_eq!(shared.json["shared_link"]["access"], "open");
    assert!(shared.json["shared_link"]["download_url"].is_null());
    let removed = h
        .put(
            &format!("/folders/{inner}?fields=shared_link"),
            json!({"shared_link": null}),
        )
        .await;
    assert!(removed.json["shared_link"].is_null());

    let renamed = h
        .put(
            &format!("/folders/{inner}"),
            json!({"name": "Renamed", "parent": {"id": "0"}}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.json["name"], "Renamed");
    assert_eq!(renamed.json["parent"]["id"], "0");
    let cycle = h
        .put(&format!("/folders/{top}"), json!({"parent": {"id": top}}))
        .await;
    assert_eq!(cycle.status, 400);
    assert_eq!(h.put("/folders/0", json!({"name": "x"})).await.status, 403);

    let not_empty = h.delete(&format!("/folders/{inner}")).await;
    assert_eq!(not_empty.status, 400);
    assert_eq!(not_empty.json["code"], "folder_not_empty");
    assert_eq!(
        h.delete(&format!("/folders/{inner}?recursive=true"))
            .await
            .status,
        204
    );
    assert_eq!(
        h.delete(&format!("/folders/{inner}?recursive=true"))
            .await
            .status,
        404
    );
    assert!(h.sim.file(&file).unwrap().trashed);
    assert_eq!(h.get(&format!("/files/{file}")).await.status, 404);
}

#[tokio::test]
async fn as_user_header_acts_as_another_user_for_admins_only() {
    let h = Harness::start().await;
    let alice = h.sim.user_id_by_login("alice@example.com").unwrap();
    let me = send(
        h.http
            .get(h.url("/users/me"))
            .bearer_auth(&h.token)
            .header("as-user", &alice),
    )
    .await;
    assert_eq!(me.json["login"], "alice@example.com");
    let alice_token = h.sim.issue_tokens(&alice).unwrap().access_token;
    let denied = send(
        h.http
            .get(h.url("/users/me"))
            .bearer_auth(&alice_token)
            .header("as-user", &h.admin),
    )
    .await;
    assert_eq!(denied.status, 403);
    // An upload made as Alice is owned by, and logged as, Alice.
    let created = send(
        h.http
            .post(h.url("/folders"))
            .bearer_auth(&h.token)
            .header("as-user", &alice)
            .json(&json!({"name": "Alice's", "parent": {"id": "0"}})),
    )
    .await;
    assert_eq!(created.json["owned_by"]["id"], alice.as_str());
    assert_eq!(
        h.sim.events().last().unwrap()["created_by"]["id"],
        alice.as_str()
    );
}

fn multipart(boundary: &str, attributes: Option<&str>, content: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(attributes) = attributes {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"attributes\"\r\n\r\n{attributes}\r\n").as_bytes());
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

async fn post_multipart(
    h: &Harness,
    url: String,
    boundary: &str,
    body: impl Into<reqwest::Body>,
) -> Reply {
    send(
        h.http
            .post(url)
            .bearer_auth(&h.token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body),
    )
    .await
}

#[tokio::test]
async fn multipart_upload_and_new_version() {
    let h = Harness::start().await;
    let boundary = "XyZboundary123";
    let content = b"line one\r\n--not-a-boundary\r\nbinary\x00\x01";
    let body = multipart(
        boundary,
        Some(r#"{"name":"multi.bin","parent":{"id":"0"}}"#),
        content,
    );
    let reply = post_multipart(&h, h.sim.upload_url(), boundary, body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["total_count"], 1);
    let id = reply.json["entries"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(reply.json["entries"][0]["name"], "multi.bin");
    assert_eq!(h.sim.file_content(&id).unwrap(), content.to_vec());

    let version = multipart(boundary, None, b"v2");
    let url = format!("{}/api/2.0/files/{id}/content", h.sim.origin());
    let reply = post_multipart(&h, url, boundary, version).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(h.sim.file_content(&id).unwrap(), b"v2".to_vec());
    let kinds: Vec<String> = h
        .sim
        .events()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, vec!["UPLOAD", "EDIT"]);

    let garbage = post_multipart(&h, h.sim.upload_url(), "zzz", "garbage").await;
    assert_eq!(garbage.status, 400);
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_let_exactly_one_win() {
    let h = Harness::start().await;
    let pair = h.sim.issue_tokens(&h.admin).unwrap();
    let config = h.sim.config().clone();
    let attempt = || {
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", pair.refresh_token.clone()),
            ("client_id", config.client_id.clone()),
            ("client_secret", config.client_secret.clone()),
        ];
        let request = h.http.post(h.sim.token_url()).form(&form);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let (a, b) = tokio::join!(attempt(), attempt());
    let mut statuses = vec![a, b];
    statuses.sort();
    assert_eq!(
        statuses,
        vec![200, 400],
        "a Box refresh token is single use"
    );
    assert_eq!(h.sim.oauth_stats().refreshes, 1);
}

#[tokio::test]
async fn shutdown_closes_the_listeners() {
    let h = Harness::start().await;
    let url = h.url("/users/me");
    assert_eq!(h.get("/users/me").await.status, 200);
    let Harness { sim, .. } = h;
    sim.shutdown().await;
    assert!(crate::common::client().get(url).send().await.is_err());
}

#[tokio::test]
async fn a_download_can_be_made_to_answer_202_not_ready() {
    let h = Harness::start().await;
    let file = h.sim.upload_file(&h.admin, "0", "fresh.bin", "x").unwrap();
    h.sim.inject_http_fault(HttpFault {
        count: 1,
        path_prefix: Some(format!("/2.0/files/{file}/content")),
        status: 202,
        retry_after_secs: Some(3),
    });
    let not_ready = h.get(&format!("/files/{file}/content")).await;
    assert_eq!(not_ready.status, 202);
    assert_eq!(not_ready.header("retry-after").as_deref(), Some("3"));
    assert_eq!(h.get(&format!("/files/{file}/content")).await.status, 302);
}

#[tokio::test]
async fn collaboration_role_downgrade_and_trash_purge() {
    let h = Harness::start().await;
    let file = h.sim.upload_file(&h.admin, "0", "p.txt", "x").unwrap();
    let collab = h
        .sim
        .add_collaborator(None, ItemRef::file(&file), "ext@other.org", "editor")
        .unwrap();
    let changed = h
        .put(
            &format!("/collaborations/{collab}"),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["role"], "viewer");
    assert_eq!(
        h.put(&format!("/collaborations/{collab}"), json!({"role": "god"}))
            .await
            .status,
        400
    );
    let change = h
        .sim
        .events()
        .into_iter()
        .find(|e| e["event_type"] == "COLLABORATION_ROLE_CHANGE")
        .unwrap();
    assert_eq!(change["additional_details"]["previous_role"], "editor");

    assert_eq!(
        h.delete(&format!("/files/{file}/trash")).await.status,
        404,
        "only trashed files can be purged"
    );
    assert_eq!(h.delete(&format!("/files/{file}")).await.status, 204);
    assert_eq!(h.delete(&format!("/files/{file}/trash")).await.status, 204);
    assert!(h.sim.file(&file).is_none());
    assert_eq!(
        h.get(&format!("/files/{file}")).await.json["code"],
        "not_found"
    );
    assert_eq!(
        h.get(&format!("/collaborations/{collab}")).await.status,
        404
    );
}
