//! Drives the running simulator over HTTP the way a TM CAS connector would.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use trendmicro_simulator::{QueryWindow, SimConfig, TrendMicroSimulator, EVENT_TYPES, SERVICES};

const TOKEN: &str = "tmcas-sim-token";

fn now() -> DateTime<Utc> {
    "2026-11-28T12:00:00Z".parse().unwrap()
}

fn iso(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn record(id: &str, service: &str, event: &str, time: DateTime<Utc>) -> Value {
    json!({"log_item_id": id, "service": service, "event": event,
           "message": {"detection_time": iso(time), "file_name": "payroll.xlsx"}})
}

async fn start(config: SimConfig) -> TrendMicroSimulator {
    let sim = TrendMicroSimulator::start(config).await.unwrap();
    sim.set_now(now());
    sim
}

/// GET the API with the default token; answers (status, Retry-After, body).
async fn get(sim: &TrendMicroSimulator, query: &[(&str, &str)]) -> (u16, Option<String>, Value) {
    let url = format!("{}/v1/siem/security_events", sim.base_url());
    fetch(
        reqwest::Client::new()
            .get(url)
            .query(query)
            .bearer_auth(TOKEN),
    )
    .await
}

async fn fetch(request: reqwest::RequestBuilder) -> (u16, Option<String>, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry_after, response.json().await.unwrap())
}

fn ids(body: &Value) -> Vec<String> {
    body["security_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["log_item_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_window_returns_exactly_its_records_in_order() {
    let sim = start(SimConfig::default()).await;
    let t = |minutes: i64| now() - Duration::minutes(minutes);
    sim.push_events(vec![
        record("late", "onedrive", "dlp", t(20)),
        record("b-same-time", "onedrive", "dlp", t(25)),
        record("a-same-time", "onedrive", "dlp", t(25)),
        record("at-start", "onedrive", "dlp", t(30)),
        record("before-start", "onedrive", "dlp", t(31)),
        record("at-end", "onedrive", "dlp", t(10)),
        record("other-service", "box", "dlp", t(20)),
        record("other-event", "onedrive", "ransomware", t(20)),
    ])
    .unwrap();
    let (start, end) = (iso(t(30)), iso(t(10)));
    let query = [
        ("service", "onedrive"),
        ("event", "dlp"),
        ("start", &start),
        ("end", &end),
    ];
    let (status, _, body) = get(&sim, &query).await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(&body),
        ["at-start", "a-same-time", "b-same-time", "late"]
    );
    assert_eq!(body["next_link"], "");
    assert_eq!(
        body["security_events"][0]["message"]["file_name"],
        "payroll.xlsx"
    );
    assert_eq!(body["security_events"][0]["service"], "onedrive");

    let (_, _, empty) = get(
        &sim,
        &[("service", "gmail"), ("event", "dlp"), ("start", &start)],
    )
    .await;
    assert_eq!(empty, json!({"security_events": [], "next_link": ""}));
}

#[tokio::test]
async fn paging_through_next_link_visits_every_record_once() {
    let sim = start(SimConfig::default()).await;
    let events = (0..5)
        .map(|i| {
            json!({"service": "exchange", "event": "securityrisk",
                        "message": {"detection_time": iso(now() - Duration::minutes(50 - i))}})
        })
        .collect();
    let mut pushed = sim.push_events(events).unwrap();
    assert!(pushed
        .iter()
        .all(|id| id.len() == 36 && id.matches('-').count() == 4));
    pushed.sort();
    pushed.dedup();
    assert_eq!(pushed.len(), 5, "assigned ids are unique");

    let (start, end) = (iso(now() - Duration::hours(1)), iso(now()));
    let query = [
        ("service", "exchange"),
        ("event", "securityrisk"),
        ("start", &start),
        ("end", &end),
        ("limit", "2"),
    ];
    let (status, _, mut body) = get(&sim, &query).await;
    assert_eq!(status, 200);
    let mut seen = ids(&body);
    let mut pages = 1;
    while let Some(link) = body["next_link"].as_str().filter(|l| !l.is_empty()) {
        assert!(
            link.starts_with(&format!("{}/v1/siem/security_events?", sim.base_url())),
            "{link}"
        );
        for param in [
            "service=exchange",
            "event=securityrisk",
            "limit=2",
            "start=",
            "end=",
            "cursor=",
        ] {
            assert!(link.contains(param), "{link} lacks {param}");
        }
        let (status, _, next) = fetch(reqwest::Client::new().get(link).bearer_auth(TOKEN)).await;
        assert_eq!(status, 200);
        assert!(ids(&next).len() <= 2);
        seen.extend(ids(&next));
        body = next;
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(body["next_link"], "");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, pushed, "every record exactly once");
    assert_eq!(
        sim.stats().windows.len(),
        1,
        "continuation pages are not new windows"
    );

    let (status, _, bad) = get(
        &sim,
        &[
            ("service", "exchange"),
            ("event", "securityrisk"),
            ("cursor", "zz"),
        ],
    )
    .await;
    assert_eq!(
        (status, bad["msg"].as_str().unwrap().contains("cursor")),
        (400, true)
    );
}

#[tokio::test]
async fn start_may_reach_back_72_hours_and_no_further() {
    let sim = start(SimConfig::default()).await;
    let ask = |hours: i64, name: &'static str| {
        let time = iso(now() - Duration::hours(hours));
        let sim = &sim;
        async move { get(sim, &[("service", "box"), ("event", "dlp"), (name, &time)]).await }
    };
    let (status, _, body) = ask(73, "start").await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 400);
    assert!(
        body["msg"].as_str().unwrap().contains("within 72 hours"),
        "{body}"
    );
    assert_eq!(ask(71, "start").await.0, 200);
    assert_eq!(ask(73, "end").await.0, 400);
    assert_eq!(ask(71, "end").await.0, 200);
    // Measured from the simulated now: two hours on, 71 hours before the old now is too old.
    sim.advance(Duration::hours(2));
    assert_eq!(ask(71, "start").await.0, 400);
    assert_eq!(ask(69, "start").await.0, 200);
}

#[tokio::test]
async fn missing_times_default_to_five_minute_windows() {
    let sim = start(SimConfig::default()).await;
    sim.push_events(vec![
        record(
            "recent",
            "teams",
            "virtualanalyzer",
            now() - Duration::minutes(1),
        ),
        record(
            "older",
            "teams",
            "virtualanalyzer",
            now() - Duration::minutes(6),
        ),
    ])
    .unwrap();
    let base = [("service", "teams"), ("event", "virtualanalyzer")];
    let (status, _, body) = get(&sim, &base).await;
    assert_eq!((status, ids(&body)), (200, vec!["recent".to_string()]));

    let start = now() - Duration::hours(1);
    let (status, _, _) = get(&sim, &[base[0], base[1], ("start", &iso(start))]).await;
    assert_eq!(status, 200);
    let end = now() - Duration::hours(2);
    let (status, _, _) = get(&sim, &[base[0], base[1], ("end", &iso(end))]).await;
    assert_eq!(status, 200);

    let window = |start, end| QueryWindow {
        service: "teams".into(),
        event: "virtualanalyzer".into(),
        start,
        end,
    };
    let five = Duration::minutes(5);
    assert_eq!(
        sim.stats().windows,
        [
            window(now() - five, now()),
            window(start, start + five),
            window(end - five, end)
        ]
    );
}

#[tokio::test]
async fn bad_parameters_answer_400_naming_the_parameter() {
    let sim = start(SimConfig::default()).await;
    assert_eq!(SERVICES.len(), 12);
    assert_eq!(EVENT_TYPES.len(), 4);
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("event", "dlp")], "service"),
        (&[("service", "icloud"), ("event", "dlp")], "service"),
        (
            &[("service", "box"), ("service", "gmail"), ("event", "dlp")],
            "service",
        ),
        (&[("service", "box,gmail"), ("event", "dlp")], "service"),
        (&[("service", "box")], "event"),
        (&[("service", "box"), ("event", "malware")], "event"),
        (
            &[("service", "box"), ("event", "dlp"), ("limit", "0")],
            "limit",
        ),
        (
            &[("service", "box"), ("event", "dlp"), ("limit", "501")],
            "limit",
        ),
        (
            &[("service", "box"), ("event", "dlp"), ("limit", "ten")],
            "limit",
        ),
        (
            &[
                ("service", "box"),
                ("event", "dlp"),
                ("start", "2026-11-28 11:00:00"),
            ],
            "start",
        ),
        (
            &[("service", "box"), ("event", "dlp"), ("end", "yesterday")],
            "end",
        ),
        (
            &[
                ("service", "box"),
                ("event", "dlp"),
                ("start", "2026-11-28T11:30:00Z"),
                ("end", "2026-11-28T11:30:00Z"),
            ],
            "start",
        ),
    ];
    for (query, parameter) in cases {
        let (status, _, body) = get(&sim, query).await;
        assert_eq!(status, 400, "{query:?}");
        assert_eq!(body["code"], 400);
        assert!(
            body["msg"].as_str().unwrap().contains(parameter),
            "{query:?}: {body}"
        );
    }
    let (status, _, _) = get(
        &sim,
        &[("service", "box"), ("event", "dlp"), ("limit", "500")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sim.stats().bad_request, cases.len() as u64);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401() {
    let sim = start(SimConfig::default()).await;
    let url = format!(
        "{}/v1/siem/security_events?service=box&event=dlp",
        sim.base_url()
    );
    let client = reqwest::Client::new();
    for request in [
        client.get(&url),
        client.get(&url).bearer_auth("wrong"),
        client.get(&url).header("authorization", TOKEN),
    ] {
        let (status, _, body) = fetch(request).await;
        assert_eq!((status, body["code"].as_u64()), (401, Some(401)));
        assert!(body["msg"].is_string());
    }
    assert_eq!(fetch(client.get(&url).bearer_auth(TOKEN)).await.0, 200);
    let stats = sim.stats();
    assert_eq!((stats.unauthorized, stats.ok, stats.requests), (3, 1, 4));
}

#[tokio::test]
async fn the_per_minute_limit_answers_429_with_retry_after() {
    let sim = start(SimConfig {
        per_minute_limit: Some(2),
        ..SimConfig::default()
    })
    .await;
    let query = [("service", "gmail"), ("event", "ransomware")];
    assert_eq!(get(&sim, &query).await.0, 200);
    sim.advance(Duration::seconds(20));
    assert_eq!(get(&sim, &query).await.0, 200);
    let (status, retry_after, body) = get(&sim, &query).await;
    assert_eq!(status, 429);
    assert_eq!(body, json!({"code": 429, "msg": "Too many requests"}));
    assert_eq!(
        retry_after.as_deref(),
        Some("40"),
        "until the first request leaves the minute"
    );
    sim.advance(Duration::seconds(41));
    assert_eq!(get(&sim, &query).await.0, 200);
    assert_eq!(get(&sim, &query).await.0, 429);
    assert_eq!(sim.stats().too_many_requests, 2);
}

#[tokio::test]
async fn the_daily_quota_answers_its_own_429_message() {
    let sim = start(SimConfig {
        daily_quota: Some(2),
        ..SimConfig::default()
    })
    .await;
    let query = [("service", "dropbox"), ("event", "dlp")];
    assert_eq!(get(&sim, &query).await.0, 200);
    assert_eq!(get(&sim, &query).await.0, 200);
    let (status, _, body) = get(&sim, &query).await;
    assert_eq!(status, 429);
    assert_eq!(
        body,
        json!({"code": 429, "msg": "Maximum allowed requests exceeded"})
    );
    sim.advance(Duration::hours(12));
    assert_eq!(
        get(&sim, &query).await.0,
        200,
        "a new UTC day has a fresh quota"
    );
    let stats = sim.stats();
    assert_eq!((stats.too_many_requests, stats.quota_exceeded), (1, 1));
}

#[tokio::test]
async fn fail_next_answers_the_status_then_recovers() {
    let sim = start(SimConfig::default()).await;
    sim.push_events(vec![record(
        "r1",
        "sharepoint",
        "dlp",
        now() - Duration::minutes(2),
    )])
    .unwrap();
    sim.fail_next(2, 503).unwrap();
    assert!(sim.fail_next(1, 200).is_err());
    let query = [("service", "sharepoint"), ("event", "dlp")];
    for _ in 0..2 {
        let (status, _, body) = get(&sim, &query).await;
        assert_eq!((status, body["code"].as_u64()), (503, Some(503)));
    }
    let (status, _, body) = get(&sim, &query).await;
    assert_eq!((status, ids(&body)), (200, vec!["r1".to_string()]));
    let stats = sim.stats();
    assert_eq!(
        (stats.injected_faults, stats.ok, stats.windows.len()),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn the_control_surface_loads_records_injects_faults_and_reports() {
    let sim = start(SimConfig::default()).await;
    let client = reqwest::Client::new();
    let control = |path: &str| format!("{}/_sim/{path}", sim.base_url());
    let batch = json!([{"service": "salesforce_production", "event": "dlp",
                        "message": {"detection_time": iso(now() - Duration::minutes(3))}}]);
    let (status, _, body) = fetch(client.post(control("security_events")).json(&batch)).await;
    assert_eq!(
        (status, body["log_item_ids"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    let bad = json!([{"service": "salesforce_production", "event": "dlp", "message": {}}]);
    assert_eq!(
        fetch(client.post(control("security_events")).json(&bad))
            .await
            .0,
        400
    );
    assert_eq!(
        fetch(client.post(control("security_events")).body("[not json"))
            .await
            .0,
        400
    );
    assert!(sim.push_events(vec![json!("not an object")]).is_err());

    let fault = json!({"fail_next": 1, "status": 500});
    assert_eq!(
        fetch(client.post(control("faults")).json(&fault)).await.0,
        200
    );
    let bad_fault = json!({"fail_next": 1, "status": 99});
    assert_eq!(
        fetch(client.post(control("faults")).json(&bad_fault))
            .await
            .0,
        400
    );
    let query = [("service", "salesforce_production"), ("event", "dlp")];
    assert_eq!(get(&sim, &query).await.0, 500);
    let (status, _, body) = get(&sim, &query).await;
    assert_eq!((status, ids(&body).len()), (200, 1));

    let (status, _, stats) = fetch(client.get(control("stats"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["injected_faults"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(stats["windows"][0]["service"], "salesforce_production");
    assert_eq!(stats["windows"][0]["end"], "2026-11-28T12:00:00Z");
    assert_eq!(fetch(client.get(control("nope"))).await.0, 404);
    sim.shutdown().await;
}
