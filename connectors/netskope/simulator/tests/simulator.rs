//! Integration tests of the Netskope dataexport simulator over real HTTP on loopback.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use netskope_simulator::{NetskopeSimulator, SimConfig, SimError, ALERT_TYPES, EVENT_TYPES};
use serde_json::{json, Value};

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    fn result(&self) -> Vec<Value> {
        self.json["result"].as_array().cloned().unwrap_or_default()
    }
    fn seqs(&self) -> Vec<u64> {
        self.result()
            .iter()
            .filter_map(|e| e["seq"].as_u64())
            .collect()
    }
}

async fn read(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

async fn start(config: SimConfig) -> NetskopeSimulator {
    NetskopeSimulator::start(config)
        .await
        .expect("simulator starts")
}

fn small_pages() -> SimConfig {
    SimConfig {
        page_size: 2,
        ..SimConfig::default()
    }
}

fn seq_events(range: std::ops::Range<u64>) -> Vec<Value> {
    range.map(|seq| json!({ "seq": seq })).collect()
}

/// `GET .../dataexport/{endpoint}?index=..&operation=..` with the default token.
async fn export(sim: &NetskopeSimulator, endpoint: &str, index: &str, operation: &str) -> Reply {
    export_with(sim, endpoint, index, operation, Some("netskope-sim-token")).await
}

async fn export_with(
    sim: &NetskopeSimulator,
    endpoint: &str,
    index: &str,
    operation: &str,
    token: Option<&str>,
) -> Reply {
    let url = format!("{}/api/v2/events/dataexport/{endpoint}", sim.base_url());
    let mut request = reqwest::Client::new()
        .get(url)
        .query(&[("index", index), ("operation", operation)]);
    if let Some(token) = token {
        request = request.header("Netskope-Api-Token", token);
    }
    read(request).await
}

#[tokio::test]
async fn next_pages_through_in_order_and_ends_empty() {
    let sim = start(SimConfig {
        wait_time_when_more: 1,
        wait_time_when_caught_up: 7,
        ..small_pages()
    })
    .await;
    let now = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
    sim.set_now(now);
    let ids = sim
        .push_events("events/application", seq_events(0..5))
        .unwrap();
    assert_eq!(ids.len(), 5);
    assert!(ids.iter().all(|id| id.len() == 24
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))));
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "ids are unique");

    let first = export(&sim, "events/application", "casb", "next").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json["ok"], 1);
    assert_eq!(first.seqs(), vec![0, 1]);
    assert_eq!(first.json["wait_time"], 1, "more events are waiting");
    assert_eq!(first.result()[0]["_id"], ids[0].as_str());
    assert_eq!(first.result()[0]["timestamp"], now.timestamp());
    assert_eq!(first.json["timestamp_hwm"], now.timestamp());
    assert_eq!(
        export(&sim, "events/application", "casb", "next")
            .await
            .seqs(),
        vec![2, 3]
    );
    let last = export(&sim, "events/application", "casb", "next").await;
    assert_eq!(last.seqs(), vec![4]);
    assert_eq!(last.json["wait_time"], 7, "caught up");
    let empty = export(&sim, "events/application", "casb", "next").await;
    assert_eq!(empty.status, 200);
    assert!(empty.result().is_empty());
    assert_eq!(empty.json["wait_time"], 7);
    assert_eq!(sim.position("casb", "events/application"), Some(5));
    assert_eq!(sim.stats().requests_for("events/application", "next"), 4);
}

#[tokio::test]
async fn hwm_is_the_insertion_time_of_the_last_event_returned() {
    let sim = start(SimConfig::default()).await;
    sim.push_events(
        "alerts/malware",
        vec![
            json!({"_insertion_epoch_timestamp": 1_700_000_000u64}),
            json!({"_insertion_epoch_timestamp": 1_700_000_042u64}),
        ],
    )
    .unwrap();
    let page = export(&sim, "alerts/malware", "casb", "next").await;
    assert_eq!(page.json["timestamp_hwm"], 1_700_000_042u64);
}

#[tokio::test]
async fn resend_returns_the_identical_last_page_without_moving() {
    let sim = start(small_pages()).await;
    sim.push_events("alerts/dlp", seq_events(0..5)).unwrap();
    let fresh = export(&sim, "alerts/dlp", "casb", "resend").await;
    assert_eq!(fresh.status, 200);
    assert!(fresh.result().is_empty(), "nothing answered yet");
    assert_eq!(sim.position("casb", "alerts/dlp"), None);

    export(&sim, "alerts/dlp", "casb", "next").await;
    let second = export(&sim, "alerts/dlp", "casb", "next").await;
    let again = export(&sim, "alerts/dlp", "casb", "resend").await;
    let and_again = export(&sim, "alerts/dlp", "casb", "resend").await;
    assert_eq!(again.seqs(), vec![2, 3]);
    assert_eq!(again.json["result"], second.json["result"]);
    assert_eq!(and_again.text, again.text);
    assert_eq!(sim.position("casb", "alerts/dlp"), Some(4));
    assert_eq!(
        export(&sim, "alerts/dlp", "casb", "next").await.seqs(),
        vec![4]
    );
}

#[tokio::test]
async fn index_names_have_independent_positions_and_one_index_is_shared() {
    let sim = start(small_pages()).await;
    sim.push_events("events/page", seq_events(0..4)).unwrap();
    assert_eq!(
        export(&sim, "events/page", "alpha", "next").await.seqs(),
        vec![0, 1]
    );
    assert_eq!(
        export(&sim, "events/page", "beta", "next").await.seqs(),
        vec![0, 1]
    );
    // A second consumer on "alpha" takes the page the first one never sees.
    assert_eq!(
        export(&sim, "events/page", "alpha", "next").await.seqs(),
        vec![2, 3]
    );
    assert_eq!(
        export(&sim, "events/page", "beta", "next").await.seqs(),
        vec![2, 3]
    );
    // The same index on another endpoint is another cursor.
    sim.push_events("events/audit", seq_events(10..11)).unwrap();
    assert_eq!(
        export(&sim, "events/audit", "alpha", "next").await.seqs(),
        vec![10]
    );
    let stats = sim.stats();
    assert_eq!(stats.positions["alpha"]["events/page"], 4);
    assert_eq!(stats.positions["alpha"]["events/audit"], 1);
    assert_eq!(stats.positions["beta"]["events/page"], 4);
}

#[tokio::test]
async fn epoch_head_and_tail_reposition() {
    let sim = start(small_pages()).await;
    let events = [(0, 100), (1, 200), (2, 300), (3, 400)]
        .iter()
        .map(|(seq, timestamp)| json!({"seq": seq, "timestamp": timestamp}))
        .collect();
    sim.push_events("events/network", events).unwrap();
    let from_200 = export(&sim, "events/network", "casb", "200").await;
    assert_eq!(from_200.seqs(), vec![1, 2]);
    assert_eq!(sim.position("casb", "events/network"), Some(3));
    assert_eq!(
        export(&sim, "events/network", "casb", "resend")
            .await
            .seqs(),
        vec![1, 2]
    );
    assert_eq!(
        export(&sim, "events/network", "casb", "next").await.seqs(),
        vec![3]
    );
    assert!(export(&sim, "events/network", "casb", "999")
        .await
        .result()
        .is_empty());

    assert_eq!(
        export(&sim, "events/network", "casb", "head").await.seqs(),
        vec![0, 1]
    );
    assert_eq!(sim.position("casb", "events/network"), Some(2));
    let tail = export(&sim, "events/network", "casb", "tail").await;
    assert_eq!(tail.status, 200);
    assert!(tail.result().is_empty());
    sim.push_events("events/network", seq_events(4..5)).unwrap();
    assert_eq!(
        export(&sim, "events/network", "casb", "next").await.seqs(),
        vec![4]
    );
    assert_eq!(sim.stats().requests_for("events/network", "epoch"), 2);
}

#[tokio::test]
async fn a_lost_answer_after_advancing_is_recovered_by_resend() {
    let sim = start(small_pages()).await;
    sim.push_events("alerts/uba", seq_events(0..4)).unwrap();
    sim.advance_then_fail_next();
    let lost = export(&sim, "alerts/uba", "casb", "next").await;
    assert_eq!(lost.status, 500);
    assert_eq!(
        sim.position("casb", "alerts/uba"),
        Some(2),
        "the cursor moved anyway"
    );
    assert_eq!(
        export(&sim, "alerts/uba", "casb", "resend").await.seqs(),
        vec![0, 1]
    );
    assert_eq!(
        export(&sim, "alerts/uba", "casb", "next").await.seqs(),
        vec![2, 3]
    );
}

#[tokio::test]
async fn injected_failures_move_nothing() {
    let sim = start(small_pages()).await;
    sim.push_events("events/incident", seq_events(0..3))
        .unwrap();
    sim.fail_next(2, 502).unwrap();
    assert_eq!(
        sim.fail_next(1, 200),
        Err(SimError::InvalidFaultStatus(200))
    );
    for _ in 0..2 {
        let failed = export(&sim, "events/incident", "casb", "next").await;
        assert_eq!(failed.status, 502);
        assert_eq!(failed.json["ok"], 0);
    }
    assert_eq!(sim.position("casb", "events/incident"), None);
    assert_eq!(
        export(&sim, "events/incident", "casb", "next").await.seqs(),
        vec![0, 1]
    );
}

#[tokio::test]
async fn auth_scope_unknown_type_and_bad_parameters_answer_errors() {
    let sim = start(SimConfig {
        allowed_endpoints: Some(vec!["alerts/dlp".to_string()]),
        ..SimConfig::default()
    })
    .await;
    for token in [None, Some("wrong")] {
        let denied = export_with(&sim, "alerts/dlp", "casb", "next", token).await;
        assert_eq!(denied.status, 401);
        assert_eq!(denied.json["Message"], "Unauthorized");
    }
    let out_of_scope = export(&sim, "events/page", "casb", "next").await;
    assert_eq!(out_of_scope.status, 403);
    assert!(out_of_scope.json["Message"]
        .as_str()
        .unwrap()
        .contains("scope"));
    assert_eq!(export(&sim, "alerts/dlp", "casb", "next").await.status, 200);

    for endpoint in ["events/bogus", "alerts/bogus", "things/dlp"] {
        let unknown = export(&sim, endpoint, "casb", "next").await;
        assert_eq!(unknown.status, 404, "{endpoint}");
        assert_eq!(
            unknown.json,
            json!({"ok": 0, "error": "This dataexporter does not exist"})
        );
    }
    let bad_operation = export(&sim, "alerts/dlp", "casb", "rewind").await;
    assert_eq!(bad_operation.status, 400);
    assert!(bad_operation.json["error"]
        .as_str()
        .unwrap()
        .contains("operation"));
    assert_eq!(export(&sim, "alerts/dlp", "casb", "12ab").await.status, 400);
    let http = reqwest::Client::new();
    let url = format!("{}/api/v2/events/dataexport/alerts/dlp", sim.base_url());
    for (query, missing) in [("operation=next", "index"), ("index=casb", "operation")] {
        let reply = read(
            http.get(format!("{url}?{query}"))
                .header("Netskope-Api-Token", "netskope-sim-token"),
        )
        .await;
        assert_eq!(reply.status, 400);
        assert!(
            reply.json["error"].as_str().unwrap().contains(missing),
            "{}",
            reply.text
        );
    }
    assert_eq!(
        sim.position("casb", "alerts/dlp"),
        Some(0),
        "only the one good call positioned"
    );
    let stats = sim.stats();
    assert_eq!(
        (stats.unauthorized, stats.forbidden, stats.rate_limited),
        (2, 1, 0)
    );
}

#[tokio::test]
async fn rate_limit_headers_and_429_without_moving() {
    let sim = start(SimConfig {
        rate_limit: Some((2, Duration::from_secs(60))),
        ..small_pages()
    })
    .await;
    sim.push_events("events/connection", seq_events(0..6))
        .unwrap();
    let first = export(&sim, "events/connection", "casb", "next").await;
    assert_eq!(first.header("ratelimit-limit").as_deref(), Some("2"));
    assert_eq!(first.header("ratelimit-remaining").as_deref(), Some("1"));
    let reset: u64 = first.header("ratelimit-reset").unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset), "reset {reset}");
    let second = export(&sim, "events/connection", "casb", "next").await;
    assert_eq!(second.header("ratelimit-remaining").as_deref(), Some("0"));
    let limited = export(&sim, "events/connection", "casb", "next").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json["ok"], 0);
    assert_eq!(limited.header("ratelimit-limit").as_deref(), Some("2"));
    assert_eq!(limited.header("ratelimit-remaining").as_deref(), Some("0"));
    assert!(limited.header("ratelimit-reset").is_some());
    assert_eq!(
        sim.position("casb", "events/connection"),
        Some(4),
        "the 429 did not move"
    );
    assert_eq!(sim.stats().rate_limited, 1);
}

#[tokio::test]
async fn a_u64_id_above_2_pow_53_comes_back_exact() {
    let sim = start(SimConfig::default()).await;
    let raw = r#"[{"incident_id": 3188340271830183961, "object_id": 18446744073709551615}]"#;
    let pushed = read(
        reqwest::Client::new()
            .post(format!("{}/_sim/events/events/incident", sim.base_url()))
            .header("content-type", "application/json")
            .body(raw),
    )
    .await;
    assert_eq!(pushed.status, 200, "{}", pushed.text);
    assert_eq!(pushed.json["appended"], 1);
    let page = export(&sim, "events/incident", "casb", "next").await;
    assert!(
        page.text.contains(r#""incident_id":3188340271830183961"#),
        "{}",
        page.text
    );
    assert!(
        page.text.contains(r#""object_id":18446744073709551615"#),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn empty_pages_can_be_204() {
    let sim = start(SimConfig {
        empty_as_204: true,
        ..SimConfig::default()
    })
    .await;
    let empty = export(&sim, "alerts/policy", "casb", "next").await;
    assert_eq!(empty.status, 204);
    assert!(empty.text.is_empty());
    sim.push_events("alerts/policy", seq_events(0..1)).unwrap();
    assert_eq!(
        export(&sim, "alerts/policy", "casb", "next").await.seqs(),
        vec![0]
    );
    assert_eq!(
        export(&sim, "alerts/policy", "casb", "next").await.status,
        204
    );
}

#[tokio::test]
async fn control_surface_over_http() {
    let sim = start(small_pages()).await;
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}/_sim/{path}", sim.base_url());
    let pushed = read(
        http.post(control("events/alerts/c2"))
            .json(&seq_events(0..3)),
    )
    .await;
    assert_eq!(pushed.json["ids"].as_array().map(Vec::len), Some(3));
    assert_eq!(sim.event_count("alerts/c2"), 3);
    for (path, body, status) in [
        ("events/alerts/nope", "[]", 404),
        ("events/alerts/c2", "{\"seq\": 1}", 400),
        ("events/alerts/c2", "[1, 2]", 400),
        ("faults", "{}", 400),
        ("faults", "{\"fail_next\": 1, \"status\": 99}", 400),
        ("faults", "not json", 400),
    ] {
        let reply = read(http.post(control(path)).body(body)).await;
        assert_eq!(reply.status, status, "{path} {body}: {}", reply.text);
        assert_eq!(reply.json["ok"], 0);
    }
    assert_eq!(
        sim.event_count("alerts/c2"),
        3,
        "a rejected batch appends nothing"
    );

    let fault = read(
        http.post(control("faults"))
            .json(&json!({"fail_next": 1, "status": 503})),
    )
    .await;
    assert_eq!(fault.status, 200);
    assert_eq!(export(&sim, "alerts/c2", "casb", "next").await.status, 503);
    read(
        http.post(control("faults"))
            .json(&json!({"advance_then_fail_next": true})),
    )
    .await;
    assert_eq!(export(&sim, "alerts/c2", "casb", "next").await.status, 500);
    assert_eq!(
        export(&sim, "alerts/c2", "casb", "resend").await.seqs(),
        vec![0, 1]
    );

    read(
        http.get(format!(
            "{}/api/v2/events/dataexport/alerts/c2?index=casb&operation=next",
            sim.base_url()
        ))
        .header("Netskope-Api-Token", "netskope-sim-token")
        .header("Accept-Encoding", "gzip, deflate"),
    )
    .await;
    let stats = read(http.get(control("stats"))).await.json;
    assert_eq!(stats["last_accept_encoding"], "gzip, deflate");
    assert_eq!(stats["positions"]["casb"]["alerts/c2"], 3);
    assert_eq!(stats["requests"]["alerts/c2"]["next"], 3);
    assert_eq!(stats["requests"]["alerts/c2"]["resend"], 1);
    assert_eq!(read(http.get(control("nothing-here"))).await.status, 404);
}

#[tokio::test]
async fn every_documented_type_is_served_and_pushes_validate() {
    let sim = start(SimConfig::default()).await;
    let endpoints = EVENT_TYPES
        .iter()
        .map(|t| format!("events/{t}"))
        .chain(ALERT_TYPES.iter().map(|t| format!("alerts/{t}")));
    for endpoint in endpoints {
        assert_eq!(
            export(&sim, &endpoint, "casb", "next").await.status,
            200,
            "{endpoint}"
        );
    }
    assert_eq!(
        sim.push_events("alerts/everything", vec![json!({})]),
        Err(SimError::UnknownEndpoint("alerts/everything".to_string()))
    );
    assert_eq!(
        sim.push_events("alerts/dlp", vec![json!({}), json!("text")]),
        Err(SimError::NotAnObject { position: 1 })
    );
    let ids = sim
        .push_events(
            "alerts/dlp",
            vec![json!({"_id": "keep-mine", "timestamp": 5})],
        )
        .unwrap();
    assert_eq!(ids, vec!["keep-mine".to_string()]);
    let page = export(&sim, "alerts/dlp", "casb", "next").await;
    assert_eq!(page.result()[0]["timestamp"], 5);
    sim.shutdown().await;
}
