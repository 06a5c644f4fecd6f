//! The REST API through its router, on both back ends: authentication, tenant isolation on
//! every route, the Anomalous Activity API's CSV and limits, paging, the OpenAPI document.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use casb_shared::access;
use casb_shared::config::{ApiSettings, Settings};
use casb_shared::connector::ConnectorRegistry;
use casb_shared::domain::*;
use casb_shared::Core;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::contract::{anomaly, incident};
use crate::support::{embedded, handbook_file, integration, public_share, Fixture};

crate::on_both_back_ends!(
    every_route_reads_and_changes_only_the_callers_tenant,
    query_activities_serves_the_published_csv_within_fifteen_days,
    incident_listing_filters_and_pages_without_skips_under_concurrent_writes,
    status_changes_are_validated_and_kept_as_an_audit_trail,
    block_list_values_are_validated_per_list_and_removed_only_by_their_tenant,
    the_siem_log_pages_in_received_order_without_skips_or_repeats_while_records_arrive,
    a_sweep_finds_activities_across_providers_by_what_an_investigation_knows,
    mail_from_a_sender_blocked_through_the_api_is_an_incident,
);

/// The API on a fixture's back end, with keys for two tenants.
struct Api {
    router: Router,
    core: Core,
    key_a: String,
    key_b: String,
    name: &'static str,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

fn settings(api: ApiSettings) -> Settings {
    Settings {
        api,
        ..Settings::default()
    }
}

async fn api_on(f: &Fixture, api: ApiSettings) -> Api {
    let core = Core::new(f.backend.clone(), settings(api), ConnectorRegistry::new()).unwrap();
    let mut keys = Vec::new();
    for tenant in ["tenant-a", "tenant-b"] {
        let issued = access::issue_api_key(tenant, "test", Utc::now(), None);
        assert!(core
            .backend
            .access
            .create_credential(&issued.credential)
            .await
            .unwrap());
        keys.push(issued.secret);
    }
    Api {
        router: casb_shared::http::api::router(core.clone()),
        core,
        key_b: keys.pop().unwrap(),
        key_a: keys.pop().unwrap(),
        name: f.name,
    }
}

impl Api {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    async fn get(&self, path: &str, key: &str) -> Reply {
        self.call(Method::GET, path, Some(key), None).await
    }
}

const CSV_PATH: &str = "/shnapi/rest/external/api/v1/queryActivities";

/// Activities, incidents and an anomaly for a tenant, `tag` in every id so that tenants can be
/// told apart. Returns the anomaly id.
async fn seed(core: &Core, tenant: &str, tag: &str) -> String {
    let now = Utc::now();
    let integration = integration(tenant, &format!("int-{tag}"));
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut activity = public_share(&integration, &format!("{tag}-ev-{i}"));
        activity.event_timestamp = now - Duration::minutes(10 - i);
        activity.object_name = Some(format!("{tag}-file-{i}.csv"));
        core.backend
            .activities
            .put_activity(&activity, now + Duration::days(30))
            .await
            .unwrap();
        ids.push((activity.id(), activity.event_timestamp));
    }
    for i in 0..2 {
        let mut inc = incident(tenant, &format!("{tag}-inc-{i}"), "2026-11-24T10:00:00Z");
        inc.created_at = now - Duration::minutes(5 - i);
        core.backend.incidents.create_incident(&inc).await.unwrap();
    }
    let mut found = anomaly(tenant, &format!("{tag}-anomaly"), "2026-11-24T10:00:00Z");
    found.created_at = now - Duration::minutes(1);
    found.last_activity_at = now;
    core.backend.threats.create_anomaly(&found).await.unwrap();
    core.backend
        .threats
        .add_anomaly_activities(tenant, &found.id, &ids)
        .await
        .unwrap();
    found.id
}

async fn every_route_reads_and_changes_only_the_callers_tenant(f: Fixture) {
    let api = api_on(&f, ApiSettings::default()).await;
    let anomaly_a = seed(&api.core, "tenant-a", "a").await;
    let anomaly_b = seed(&api.core, "tenant-b", "b").await;
    let (a, b) = (api.key_a.as_str(), api.key_b.as_str());
    let ids = |value: &Value, list: &str| -> Vec<String> {
        value[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };

    let incidents = api.get("/api/v1/incidents", a).await.json();
    assert_eq!(
        ids(&incidents, "incidents"),
        vec!["a-inc-1", "a-inc-0"],
        "{}",
        api.name
    );
    let reply = api.get("/api/v1/incidents/b-inc-0", a).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", api.name);
    assert_eq!(reply.json()["code"], 404);
    assert_eq!(
        api.get("/api/v1/incidents/b-inc-0", b).await.status,
        StatusCode::OK
    );

    let change = json!({"status": "resolved", "comment": "not yours"});
    let reply = api
        .call(
            Method::POST,
            "/api/v1/incidents/b-inc-0/status",
            Some(a),
            Some(change),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", api.name);
    let untouched = api.get("/api/v1/incidents/b-inc-0", b).await.json();
    assert_eq!(untouched["status"], "open");
    assert!(untouched.get("history").is_none());

    let anomalies = api.get("/api/v1/anomalies", a).await.json();
    assert_eq!(ids(&anomalies, "anomalies"), vec![anomaly_a.clone()]);
    assert_eq!(
        api.get(&format!("/api/v1/anomalies/{anomaly_b}"), a)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Another tenant's anomaly id is, for this caller, an unknown id: the header alone.
    let csv = api
        .call(
            Method::POST,
            CSV_PATH,
            Some(a),
            Some(json!({"incident_id": anomaly_b})),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.text().lines().count(), 1, "{}", api.name);
    let own = api
        .call(
            Method::POST,
            CSV_PATH,
            Some(a),
            Some(json!({"incident_id": anomaly_a})),
        )
        .await
        .text();
    assert_eq!(own.lines().count(), 4, "{}: {own}", api.name);
    assert!(!own.contains("b-file"));

    let activities = api.get("/api/v1/activities", a).await.json();
    let names: Vec<&str> = activities["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["object_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["a-file-2.csv", "a-file-1.csv", "a-file-0.csv"],
        "{}",
        api.name
    );
    // Paged, and filtered by what the search names.
    let first = api.get("/api/v1/activities?limit=2", a).await.json();
    assert_eq!(first["activities"].as_array().unwrap().len(), 2);
    let cursor = first["next"].as_str().unwrap();
    let rest = api
        .get(&format!("/api/v1/activities?limit=2&cursor={cursor}"), a)
        .await
        .json();
    assert_eq!(rest["activities"][0]["object_name"], "a-file-0.csv");
    let by_object = api.get("/api/v1/activities?object=FILE-1", a).await.json();
    assert_eq!(by_object["activities"].as_array().unwrap().len(), 1);
    let none = api
        .get("/api/v1/activities?provider=netskope&event_type=login", a)
        .await
        .json();
    assert_eq!(none["activities"], json!([]));
    for bad in [
        "/api/v1/activities?limit=0",
        "/api/v1/activities?event_type=teleport",
        "/api/v1/activities?cursor=forged",
        "/api/v1/activities?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z",
        "/api/v1/anomalies?limit=5000",
    ] {
        let reply = api.get(bad, a).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.text()
        );
    }
    assert_eq!(
        api.get("/api/v1/anomalies/no-such", a).await.status,
        StatusCode::NOT_FOUND
    );
    let hash = "ab".repeat(32);
    let added = api
        .call(
            Method::POST,
            "/api/v1/blocklists/sha256",
            Some(a),
            Some(json!({"value": hash})),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED);
    let b_list = api.get("/api/v1/blocklists/sha256", b).await.json();
    assert_eq!(b_list["entries"], json!([]), "{}", api.name);
    let removed = api
        .call(
            Method::DELETE,
            &format!("/api/v1/blocklists/sha256?value={hash}"),
            Some(b),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NOT_FOUND);
    let a_list = api.get("/api/v1/blocklists/sha256", a).await.json();
    assert_eq!(a_list["entries"][0]["value"], hash.as_str());
}

/// The header line of seed 002's sample response.
fn published_header() -> Option<String> {
    let seed = handbook_file("seeds/002_19e96b07f0b7c951.txt")?;
    seed.lines()
        .find(|l| l.starts_with("timeStamp,"))
        .map(|l| l.trim_end().to_string())
}

/// Parses CSV with Python's own `csv` module (not our code): each row a list of fields.
fn parse_csv_with_python(text: &str) -> Option<Vec<Vec<String>>> {
    let python = std::env::var("CASB_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = match std::process::Command::new(&python)
        .args([
            "-c",
            "import csv, io, json, sys; print(json.dumps(list(csv.reader(io.StringIO(sys.stdin.read(), newline='')))))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            assert!(!crate::support::in_ci(), "{python} cannot run: {e}");
            eprintln!("SKIPPED: no Python to parse the CSV with");
            return None;
        }
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

async fn query_activities_serves_the_published_csv_within_fifteen_days(f: Fixture) {
    let api = api_on(
        &f,
        ApiSettings {
            anomaly_activity_tenants: Some(vec!["tenant-a".into()]),
            ..ApiSettings::default()
        },
    )
    .await;
    let now = Utc::now();
    let core = &api.core;
    let integration = integration("tenant-a", "int-a");
    let tricky = "Q4, \"final\"\nplan.xlsx";
    let mut behind = Vec::new();
    for (i, (name, age)) in [
        ("old.csv", Duration::days(16)),
        (tricky, Duration::hours(2)),
        ("plain.csv", Duration::hours(1)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut activity = public_share(&integration, &format!("ev-{i}"));
        activity.event_timestamp = now - age;
        activity.object_name = Some(name.to_string());
        core.backend
            .activities
            .put_activity(&activity, now + Duration::days(30))
            .await
            .unwrap();
        behind.push((activity.id(), activity.event_timestamp));
    }
    let mut recent = anomaly("tenant-a", "recent", "2026-11-24T10:00:00Z");
    recent.created_at = now - Duration::days(3);
    let mut stale = anomaly("tenant-a", "stale", "2026-11-24T10:00:00Z");
    stale.created_at = now - Duration::days(16);
    for found in [&recent, &stale] {
        core.backend.threats.create_anomaly(found).await.unwrap();
        core.backend
            .threats
            .add_anomaly_activities("tenant-a", &found.id, &behind)
            .await
            .unwrap();
    }
    let post = |body: Value, key: String| {
        let api = &api;
        async move {
            api.call(Method::POST, CSV_PATH, Some(&key), Some(body))
                .await
        }
    };

    let reply = post(json!({"incident_id": "recent"}), api.key_a.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", api.name);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let text = reply.text();
    if let Some(header_line) = published_header() {
        assert_eq!(
            text.lines().next().unwrap(),
            header_line,
            "the seed's header, exactly"
        );
    }
    if let Some(rows) = parse_csv_with_python(&text) {
        assert_eq!(rows[0].len(), 56);
        assert_eq!(
            rows.len(),
            3,
            "{}: the 16-day-old activity is left out: {text}",
            api.name
        );
        let file_name = rows[0].iter().position(|c| c == "fileName").unwrap();
        let timestamp = rows[0].iter().position(|c| c == "timeStamp").unwrap();
        assert_eq!(rows[1][file_name], "plain.csv", "newest first");
        assert_eq!(
            rows[2][file_name], tricky,
            "commas, quotes and line breaks survive"
        );
        assert!(rows.iter().skip(1).all(|r| r.len() == 56));
        let newest: i64 = rows[1][timestamp].parse().unwrap();
        assert_eq!(newest, behind[2].1.timestamp_millis());
    }

    let stale_reply = post(json!({"incident_id": "stale"}), api.key_a.clone()).await;
    assert_eq!(stale_reply.status, StatusCode::OK);
    assert_eq!(
        stale_reply.text().lines().count(),
        1,
        "an anomaly over 15 days old: header only"
    );
    let unknown = post(json!({"incident_id": 123456}), api.key_a.clone()).await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(unknown.text(), casb_shared::http::activity_csv::header());

    let disabled = post(json!({"incident_id": "recent"}), api.key_b.clone()).await;
    assert_eq!(disabled.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        disabled.json(),
        json!({"code": 401, "message": "Feature is not enabled for this tenant"})
    );
    for bad in [
        json!({}),
        json!({"incident_id": ""}),
        json!({"incident_id": [1]}),
    ] {
        let reply = post(bad.clone(), api.key_a.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.json()["code"], 400);
    }
}

async fn incident_listing_filters_and_pages_without_skips_under_concurrent_writes(f: Fixture) {
    let api = api_on(&f, ApiSettings::default()).await;
    let base: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    let mut expected = Vec::new();
    for i in 0..45 {
        let mut inc = incident("tenant-a", &format!("inc-{i:03}"), "2026-11-01T00:00:00Z");
        inc.created_at = base + Duration::seconds(i / 4);
        inc.severity = if i % 3 == 0 {
            Severity::High
        } else {
            Severity::Low
        };
        inc.actor_email = Some(
            if i % 2 == 0 {
                "Ann@Example.com"
            } else {
                "bob@example.com"
            }
            .into(),
        );
        api.core
            .backend
            .incidents
            .create_incident(&inc)
            .await
            .unwrap();
        expected.push(inc);
    }
    // High severity, Ann's, newest first: the filter the analyst pages through.
    let mut wanted: Vec<String> = expected
        .iter()
        .filter(|i| {
            i.severity == Severity::High && i.actor_email.as_deref() == Some("Ann@Example.com")
        })
        .map(|i| i.id.clone())
        .collect();
    wanted.reverse();
    let writer = {
        let store = api.core.backend.incidents.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let mut inc = incident("tenant-a", &format!("new-{i:03}"), "2026-11-01T00:00:00Z");
                inc.created_at = Utc::now();
                inc.severity = Severity::High;
                inc.actor_email = Some("ann@example.com".into());
                store.create_incident(&inc).await.unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/api/v1/incidents?limit=2&min_severity=high&user=ann@example.com&to=2026-11-02T00:00:00Z".to_string();
        if let Some(cursor) = &next {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = api.get(&path, &api.key_a).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let page = page.json();
        for inc in page["incidents"].as_array().unwrap() {
            seen.push(inc["id"].as_str().unwrap().to_string());
        }
        pages += 1;
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_string()),
            None => break,
        }
        assert!(pages < 50, "paging does not end");
    }
    writer.await.unwrap();
    assert_eq!(
        seen, wanted,
        "{}: each once, in order, none skipped",
        api.name
    );

    // Without a time bound the concurrent writes are newer than the first page: a walk from
    // the start after them still returns the old ones exactly once.
    let mut all = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut path = "/api/v1/incidents?limit=17".to_string();
        if let Some(cursor) = &next {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = api.get(&path, &api.key_a).await.json();
        all.extend(
            page["incidents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_string()),
            None => break,
        }
    }
    assert_eq!(all.len(), 85, "{}", api.name);
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 85);

    for bad in [
        "/api/v1/incidents?limit=0",
        "/api/v1/incidents?limit=abc",
        "/api/v1/incidents?status=closed",
        "/api/v1/incidents?cursor=forged",
        "/api/v1/incidents?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z",
        "/api/v1/incidents?from=yesterday",
    ] {
        let reply = api.get(bad, &api.key_a).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.text()
        );
        assert!(reply.json()["message"].as_str().unwrap().len() > 10);
    }
}

async fn status_changes_are_validated_and_kept_as_an_audit_trail(f: Fixture) {
    let api = api_on(&f, ApiSettings::default()).await;
    seed(&api.core, "tenant-a", "a").await;
    let path = "/api/v1/incidents/a-inc-0/status";
    let send = |body: Value| {
        let api = &api;
        async move {
            api.call(Method::POST, path, Some(&api.key_a), Some(body))
                .await
        }
    };
    let first = send(json!({"status": "in_progress", "comment": "looking, with the owner"})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let second = send(json!({"status": "false_positive", "comment": "test data, not cards"})).await;
    let incident = second.json();
    assert_eq!(incident["status"], "false_positive");
    let history = incident["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{}", api.name);
    assert_eq!(history[0]["from"], "open");
    assert_eq!(history[0]["to"], "in_progress");
    assert_eq!(history[1]["from"], "in_progress");
    assert_eq!(history[1]["comment"], "test data, not cards");
    let key_id = access::token_credential_id(&api.key_a).unwrap();
    assert_eq!(history[1]["by"], key_id);
    let stored = api
        .core
        .backend
        .incidents
        .get_incident("tenant-a", "a-inc-0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.history.len(), 2, "kept in the store ({})", api.name);

    for bad in [
        json!({"status": "resolved"}),
        json!({"status": "resolved", "comment": "   "}),
        json!({"status": "closed", "comment": "x"}),
        json!({"status": "resolved", "comment": "x", "extra": 1}),
    ] {
        let reply = send(bad.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let malformed = api
        .send(
            Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {}", api.key_a))
                .body(Body::from("{\"status\": "))
                .unwrap(),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.json()["code"], 400);
    let unknown = api
        .call(
            Method::POST,
            "/api/v1/incidents/nope/status",
            Some(&api.key_a),
            Some(json!({"status": "resolved", "comment": "x"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let after = api
        .get("/api/v1/incidents/a-inc-0", &api.key_a)
        .await
        .json();
    assert_eq!(
        after["history"].as_array().unwrap().len(),
        2,
        "failures changed nothing"
    );
}

async fn block_list_values_are_validated_per_list_and_removed_only_by_their_tenant(f: Fixture) {
    let api = api_on(&f, ApiSettings::default()).await;
    let a = api.key_a.clone();
    let add = |list: &str, value: &str| {
        let (api, a) = (&api, a.clone());
        let path = format!("/api/v1/blocklists/{list}");
        let body = json!({"value": value, "comment": "phishing campaign"});
        async move { api.call(Method::POST, &path, Some(&a), Some(body)).await }
    };
    let sha1 = "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709";
    assert_eq!(
        add("sha1", sha1).await.status,
        StatusCode::CREATED,
        "{}",
        api.name
    );
    assert_eq!(
        add("sha1", &sha1.to_lowercase()).await.status,
        StatusCode::OK,
        "already there"
    );
    assert_eq!(
        add("senders", "Eve@Evil.Example").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        add("urls", "https://evil.example/login#x").await.status,
        StatusCode::CREATED
    );
    for (list, bad) in [
        ("sha1", "da39a3ee"),
        ("sha256", sha1),
        ("senders", "not an address"),
        ("urls", "ftp://evil.example/"),
    ] {
        let reply = add(list, bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{list} {bad}");
        assert!(reply.json()["message"].as_str().unwrap().contains(bad));
    }
    assert_eq!(add("md5", sha1).await.status, StatusCode::NOT_FOUND);
    let senders = api.get("/api/v1/blocklists/senders", &a).await.json();
    assert_eq!(senders["entries"][0]["value"], "eve@evil.example");
    assert_eq!(senders["entries"][0]["comment"], "phishing campaign");
    let urls = api.get("/api/v1/blocklists/urls", &a).await.json();
    assert_eq!(urls["entries"][0]["value"], "https://evil.example/login");

    let by_b = api
        .call(
            Method::DELETE,
            &format!("/api/v1/blocklists/sha1?value={sha1}"),
            Some(&api.key_b),
            None,
        )
        .await;
    assert_eq!(by_b.status, StatusCode::NOT_FOUND, "{}", api.name);
    let by_a = api
        .call(
            Method::DELETE,
            &format!("/api/v1/blocklists/sha1?value={sha1}"),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(by_a.status, StatusCode::NO_CONTENT);
    let sha1s = api.get("/api/v1/blocklists/sha1", &a).await.json();
    assert_eq!(sha1s["entries"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_users_and_access_tokens_authenticate_and_nothing_else_does() {
    let f = embedded();
    let api = api_on(&f, ApiSettings::default()).await;
    seed(&api.core, "tenant-a", "a").await;
    let now = Utc::now();

    let none = api.call(Method::GET, "/api/v1/incidents", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(none.json()["code"], 401);
    for forged in [
        "casb_k_0000000000000000_forged".to_string(),
        format!("{}x", api.key_a),
        "nonsense".to_string(),
    ] {
        let reply = api.get("/api/v1/incidents", &forged).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{forged}");
    }

    let expired = access::issue_api_key(
        "tenant-a",
        "old",
        now - Duration::days(2),
        Some(now - Duration::days(1)),
    );
    api.core
        .backend
        .access
        .create_credential(&expired.credential)
        .await
        .unwrap();
    let reply = api.get("/api/v1/incidents", &expired.secret).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.text().contains("expired"));

    let revocable = access::issue_api_key("tenant-a", "soon revoked", now, None);
    api.core
        .backend
        .access
        .create_credential(&revocable.credential)
        .await
        .unwrap();
    assert_eq!(
        api.get("/api/v1/incidents", &revocable.secret).await.status,
        StatusCode::OK
    );
    api.core
        .backend
        .access
        .revoke_credential("tenant-a", &revocable.credential.id, now)
        .await
        .unwrap();
    let reply = api.get("/api/v1/incidents", &revocable.secret).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.text().contains("revoked"));

    // An API user: Basic works, a wrong password or an unknown user does not, and the user
    // exchanges Basic for an access token that works as a bearer token.
    let user = access::issue_api_user("tenant-a", "siem-bot", now);
    api.core
        .backend
        .access
        .create_credential(&user.credential)
        .await
        .unwrap();
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let with_basic = |method: Method, path: &str, value: String| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, value)
            .body(Body::empty())
            .unwrap()
    };
    let ok = api
        .send(with_basic(
            Method::GET,
            "/api/v1/incidents",
            basic("siem-bot", &user.secret),
        ))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["incidents"].as_array().unwrap().len(), 2);
    for (name, password) in [
        ("siem-bot", "wrong"),
        ("nobody", user.secret.as_str()),
        ("bad name!", "x"),
    ] {
        let reply = api
            .send(with_basic(
                Method::GET,
                "/api/v1/incidents",
                basic(name, password),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
    }
    let token = api
        .send(with_basic(
            Method::POST,
            "/api/v1/tokens",
            basic("siem-bot", &user.secret),
        ))
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.text());
    let token = token.json();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);
    let access_token = token["access_token"].as_str().unwrap();
    assert_eq!(
        api.get("/api/v1/incidents", access_token).await.status,
        StatusCode::OK
    );
    let stored = api
        .core
        .backend
        .access
        .get_credential(token["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !stored.secret_hash.contains(access_token),
        "stored only as a hash"
    );
    assert_eq!(stored.issued_to.as_deref(), Some("user:siem-bot"));
    // A bearer caller cannot mint tokens: only an API user's Basic can.
    let reply = api
        .call(Method::POST, "/api/v1/tokens", Some(&api.key_a), None)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_credential_has_its_own_rate_limit() {
    let f = embedded();
    let api = api_on(
        &f,
        ApiSettings {
            rate_limit_per_minute: 3,
            ..ApiSettings::default()
        },
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            api.get("/api/v1/anomalies", &api.key_a).await.status,
            StatusCode::OK
        );
    }
    let limited = api.get("/api/v1/anomalies", &api.key_a).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    assert_eq!(limited.json()["code"], 429);
    assert_eq!(
        api.get("/api/v1/anomalies", &api.key_b).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_callers_act_for_the_tenant_their_role_is_mapped_to() {
    let f = embedded();
    let api = api_on(
        &f,
        ApiSettings {
            iam_tenants: access::IamTenants::parse("arn:aws:iam::111122223333:role/siem=tenant-b")
                .unwrap(),
            ..ApiSettings::default()
        },
    )
    .await;
    seed(&api.core, "tenant-a", "a").await;
    seed(&api.core, "tenant-b", "b").await;
    // What lambda_http hands the router for a request API Gateway's IAM authorizer verified.
    let signed = |arn: &str| {
        let context: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
            serde_json::from_value(json!({
                "routeKey": "ANY /iam/{proxy+}",
                "authorizer": {"iam": {"userArn": arn, "accountId": "111122223333"}},
                "http": {"method": "GET", "path": "/iam/api/v1/incidents"}
            }))
            .unwrap();
        let mut request = Request::get("/iam/api/v1/incidents")
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(lambda_http::request::RequestContext::ApiGatewayV2(context));
        request
    };
    let reply = api
        .send(signed(
            "arn:aws:sts::111122223333:assumed-role/siem/session-7",
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let ids: Vec<&str> = reply.json()["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|s| if s.starts_with("b-") { "b" } else { "a" })
        .collect();
    assert_eq!(ids, vec!["b", "b"]);
    let unmapped = api
        .send(signed("arn:aws:sts::111122223333:assumed-role/other/s"))
        .await;
    assert_eq!(unmapped.status, StatusCode::FORBIDDEN);
    // Without API Gateway's verified context, /iam/ refuses, even with a valid key.
    let unsigned = api
        .call(Method::GET, "/iam/api/v1/incidents", Some(&api.key_b), None)
        .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
}

/// Every route of the router is in the OpenAPI document and every documented operation is
/// routed; an independent validator accepts the document as OpenAPI 3.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route_and_is_valid() {
    let f = embedded();
    let api = api_on(&f, ApiSettings::default()).await;
    let reply = api.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let document = reply.json();
    assert_eq!(document["openapi"], "3.1.0");
    let mut documented = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    documented.sort();
    let mut expected = vec![
        "GET /healthz",
        "GET /openapi.json",
        "POST /api/v1/tokens",
        "GET /api/v1/incidents",
        "GET /api/v1/incidents/{id}",
        "POST /api/v1/incidents/{id}/status",
        "GET /api/v1/anomalies",
        "GET /api/v1/anomalies/{id}",
        "POST /shnapi/rest/external/api/v1/queryActivities",
        "GET /api/v1/activities",
        "GET /api/v1/logs",
        "GET /api/v1/integrations",
        "POST /api/v1/integrations",
        "POST /api/v1/integrations/{id}/pause",
        "POST /api/v1/integrations/{id}/resume",
        "DELETE /api/v1/integrations/{id}",
        "POST /api/v1/mitigations",
        "GET /api/v1/mitigations/{batch_id}",
        "POST /api/v1/sweeps",
        "GET /api/v1/blocklists/{list}",
        "POST /api/v1/blocklists/{list}",
        "DELETE /api/v1/blocklists/{list}",
    ];
    expected.sort();
    assert_eq!(documented, expected);
    // Each documented operation is routed: it answers, and not with "no such route".
    for operation in &documented {
        let (method, path) = operation.split_once(' ').unwrap();
        let path = path
            .replace("{id}", "x")
            .replace("{list}", "urls")
            .replace("{batch_id}", "x");
        let reply = api.call(method.parse().unwrap(), &path, None, None).await;
        assert_ne!(
            reply.text(),
            r#"{"code":404,"message":"no such route"}"#,
            "{operation}"
        );
        // And under /iam/ as well (the API routes; refused there without IAM).
        if path.starts_with("/api/") || path.starts_with("/shnapi/") {
            let iam = api
                .call(method.parse().unwrap(), &format!("/iam{path}"), None, None)
                .await;
            assert_eq!(iam.status, StatusCode::UNAUTHORIZED, "/iam{path}");
        }
    }
    let missing = api
        .call(Method::GET, "/api/v1/nothing", Some(&api.key_a), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["code"], 404);

    let python = std::env::var("CASB_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &reply.body).unwrap();
    let output = std::process::Command::new(&python)
        .args([
            "-c",
            "import json, sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')",
        ])
        .arg(file.path())
        .output();
    match output {
        Ok(o) if o.status.success() => {
            assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "valid")
        }
        Ok(o)
            if String::from_utf8_lossy(&o.stderr).contains("No module named")
                && !crate::support::in_ci() =>
        {
            eprintln!(
                "SKIPPED: openapi-spec-validator is not installed (scripts/test.sh installs it)"
            )
        }
        Ok(o) => panic!(
            "the OpenAPI document is not valid: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => assert!(!crate::support::in_ci(), "{python}: {e}"),
    }
}

/// The latest 100,000 activities, no more, streamed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_activities_returns_at_most_the_latest_100000() {
    let f = embedded();
    let api = api_on(&f, ApiSettings::default()).await;
    let now = Utc::now();
    let integration = integration("tenant-a", "int-a");
    let total = Anomaly::KEPT_ACTIVITIES + 25;
    let mut behind = Vec::with_capacity(total);
    let store = api.core.backend.activities.clone();
    let template = public_share(&integration, "x");
    let writes = futures::stream::iter(0..total).map(|i| {
        let store = store.clone();
        let mut activity = template.clone();
        activity.event_id = format!("bulk-{i}");
        activity.event_timestamp = now - Duration::seconds((total - i) as i64);
        activity.object_name = Some(format!("file-{i}"));
        async move {
            store
                .put_activity(&activity, now + Duration::days(30))
                .await
                .unwrap();
            (activity.id(), activity.event_timestamp)
        }
    });
    use futures::StreamExt;
    let mut written: Vec<_> = writes.buffer_unordered(256).collect().await;
    behind.append(&mut written);
    let mut found = anomaly("tenant-a", "mass", "2026-11-24T10:00:00Z");
    found.created_at = now - Duration::hours(1);
    api.core
        .backend
        .threats
        .create_anomaly(&found)
        .await
        .unwrap();
    for chunk in behind.chunks(5000) {
        api.core
            .backend
            .threats
            .add_anomaly_activities("tenant-a", "mass", chunk)
            .await
            .unwrap();
    }
    let reply = api
        .call(
            Method::POST,
            CSV_PATH,
            Some(&api.key_a),
            Some(json!({"incident_id": "mass"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = reply.text();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + Anomaly::KEPT_ACTIVITIES);
    // Newest first: file-(total-1) leads; the oldest 25 are the ones left out.
    assert!(
        lines[1].contains(&format!("file-{}", total - 1)),
        "{}",
        lines[1]
    );
    assert!(
        lines.last().unwrap().contains(",file-25,"),
        "{}",
        lines.last().unwrap()
    );
    assert!(!text.contains(",file-24,"));
}

/// Follows `next_link`s from `first` to the end: every record's uid, in order.
async fn walk_log(api: &Api, first: &str, key: &str) -> (Vec<String>, Value) {
    let mut uids = Vec::new();
    let mut path = first.to_string();
    let mut pages = 0;
    loop {
        let reply = api.get(&path, key).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
        let page = reply.json();
        for record in page["records"].as_array().unwrap() {
            uids.push(record["metadata"]["uid"].as_str().unwrap().to_string());
        }
        pages += 1;
        assert!(pages < 100, "the walk does not end");
        match page["next_link"].as_str() {
            Some(link) => {
                let at = link.find("/api/v1/logs").expect(link);
                path = link[at..].to_string();
            }
            None => return (uids, page),
        }
    }
}

async fn the_siem_log_pages_in_received_order_without_skips_or_repeats_while_records_arrive(
    f: Fixture,
) {
    let api = api_on(
        &f,
        ApiSettings {
            log_settle: Duration::zero(),
            ..ApiSettings::default()
        },
    )
    .await;
    let core = &api.core;
    let box_a = integration("tenant-a", "int-a");
    let mut expected = Vec::new();
    let start = Utc::now() - Duration::seconds(1);
    for i in 0..23 {
        let mut activity = public_share(&box_a, &format!("log-{i}"));
        // Event times out of order: a late delivery must not fall behind the cursor.
        activity.event_timestamp = start - Duration::hours((i % 5) as i64);
        if i % 4 == 0 {
            activity.event_type = EventType::Login;
            activity.event_name = "LOGIN".into();
        }
        core.backend
            .activities
            .put_activity(&activity, Utc::now() + Duration::days(30))
            .await
            .unwrap();
        expected.push(activity.id());
    }
    let other = public_share(&integration("tenant-b", "int-b"), "b-log");
    core.backend
        .activities
        .put_activity(&other, Utc::now() + Duration::days(30))
        .await
        .unwrap();
    // A second copy of an activity (the other ingest path) keeps its place.
    let again = public_share(&box_a, "log-3");
    core.backend
        .activities
        .put_activity(&again, Utc::now() + Duration::days(30))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let window_start = start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let first = format!(
        "/api/v1/logs?limit=4&start={}",
        window_start.replace('+', "%2B")
    );

    // Records keep arriving while the SIEM pages: they belong to the next window.
    let writer = {
        let store = core.backend.activities.clone();
        let box_a = box_a.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..10 {
                let activity = public_share(&box_a, &format!("late-{i}"));
                store
                    .put_activity(&activity, Utc::now() + Duration::days(30))
                    .await
                    .unwrap();
                ids.push(activity.id());
            }
            ids
        })
    };
    let (uids, last) = walk_log(&api, &first, &api.key_a).await;
    let arrived = writer.await.unwrap();
    let mut sorted = uids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), uids.len(), "{}: a record twice", api.name);
    let mut wanted = expected.clone();
    wanted.sort();
    let old: Vec<String> = sorted
        .iter()
        .filter(|u| !arrived.contains(u))
        .cloned()
        .collect();
    assert_eq!(old, wanted, "{}: every record of the window once", api.name);

    // The next window starts where this one ended: what arrived meanwhile, and nothing again.
    let end = last["end"].as_str().unwrap().replace('+', "%2B");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (next_window, _) = walk_log(
        &api,
        &format!("/api/v1/logs?limit=3&start={end}"),
        &api.key_a,
    )
    .await;
    let mut both = uids.clone();
    both.extend(next_window.iter().cloned());
    let mut all: Vec<String> = expected.iter().chain(arrived.iter()).cloned().collect();
    all.sort();
    both.sort();
    assert_eq!(
        both, all,
        "{}: two windows hold every record exactly once",
        api.name
    );

    // Filters, and the records are valid OCSF.
    let page = api
        .get(
            &format!(
                "/api/v1/logs?event_type=login&start={}",
                window_start.replace('+', "%2B")
            ),
            &api.key_a,
        )
        .await
        .json();
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 6, "{}", api.name);
    for record in records {
        assert_eq!(record["class_uid"], 3002);
        assert!(crate::support::assert_valid_ocsf(record));
    }
    let by_class = api
        .get(
            &format!(
                "/api/v1/logs?class_uid=3002&limit=1000&start={}",
                window_start.replace('+', "%2B")
            ),
            &api.key_a,
        )
        .await
        .json();
    assert_eq!(by_class["records"].as_array().unwrap().len(), 6);
    let netskope = api
        .get(
            &format!(
                "/api/v1/logs?service=netskope&start={}",
                window_start.replace('+', "%2B")
            ),
            &api.key_a,
        )
        .await
        .json();
    assert_eq!(netskope["records"], json!([]));
    let (b_uids, _) = walk_log(&api, &first, &api.key_b).await;
    assert_eq!(
        b_uids,
        vec![other.id()],
        "{}: tenant B's own only",
        api.name
    );

    for bad in [
        "/api/v1/logs?start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:00Z",
        "/api/v1/logs?start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z",
        "/api/v1/logs?cursor=not-a-cursor",
        "/api/v1/logs?limit=5000",
        "/api/v1/logs?service=myspace",
    ] {
        let reply = api.get(bad, &api.key_a).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.text()
        );
    }
}

/// Integrations through the API: a Netskope tenant connected with its API token (a refused
/// token keeps nothing), listed with its streams, paused, resumed and disconnected; a Box
/// consent URL for the caller's own tenant; another tenant can touch none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_are_connected_listed_paused_resumed_and_disconnected_per_tenant() {
    use netskope_simulator::{NetskopeSimulator, SimConfig};
    let sim = NetskopeSimulator::start(SimConfig::default())
        .await
        .unwrap();
    let f = embedded();
    let mut registry = ConnectorRegistry::new();
    registry.register(std::sync::Arc::new(
        casb_connector_netskope::NetskopeConnector::new(
            casb_connector_netskope::NetskopeConfig::default().allowing(&sim.base_url()),
        ),
    ));
    let box_sim = box_simulator::BoxSimulator::start(box_simulator::SimConfig::default())
        .await
        .unwrap();
    registry.register(std::sync::Arc::new(casb_connector_box::BoxConnector::new(
        casb_connector_box::BoxConfig::for_local(&box_sim.origin(), &box_sim.download_base()),
        f.backend.secrets.clone(),
    )));
    let core = Core::new(f.backend.clone(), Settings::default(), registry)
        .unwrap()
        .with_admin(casb_shared::admin_credential::AdminCredential::Token(
            secrecy::SecretString::from("admin-token-for-links"),
        ));
    let mut keys = Vec::new();
    for tenant in ["tenant-a", "tenant-b"] {
        let issued = access::issue_api_key(tenant, "test", Utc::now(), None);
        core.backend
            .access
            .create_credential(&issued.credential)
            .await
            .unwrap();
        keys.push(issued.secret);
    }
    let api = Api {
        router: casb_shared::http::api::router(core.clone()),
        core,
        key_b: keys.pop().unwrap(),
        key_a: keys.pop().unwrap(),
        name: "embedded",
    };
    let connect = |token: &str| {
        json!({
            "provider": "netskope",
            "credential": "api_token",
            "secret": token,
            "mode": "pull",
            "settings": {"tenant": sim.base_url(), "event_types": "audit", "alert_types": "dlp"}
        })
    };
    let refused = api
        .call(
            Method::POST,
            "/api/v1/integrations",
            Some(&api.key_a),
            Some(connect("wrong")),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text()
    );
    let listed = api.get("/api/v1/integrations", &api.key_a).await.json();
    assert_eq!(
        listed["integrations"],
        json!([]),
        "a refused token keeps nothing"
    );

    let added = api
        .call(
            Method::POST,
            "/api/v1/integrations",
            Some(&api.key_a),
            Some(connect("netskope-sim-token")),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let added = added.json();
    let id = added["integration"]["id"].as_str().unwrap().to_string();
    assert_eq!(added["integration"]["tenant_id"], "tenant-a");
    let listed = api.get("/api/v1/integrations", &api.key_a).await.json();
    let view = &listed["integrations"][0];
    assert_eq!(view["id"], id.as_str());
    assert_eq!(view["status"], "connected");
    let streams: Vec<&str> = view["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"].as_str().unwrap())
        .collect();
    assert!(
        !streams.is_empty() && streams.iter().all(|s| !s.contains('#')),
        "{view}"
    );
    assert!(view["streams"][0]["health"]
        .get("consecutive_failures")
        .is_some());
    assert_eq!(
        api.get("/api/v1/integrations", &api.key_b).await.json()["integrations"],
        json!([]),
        "tenant B sees none of A's"
    );
    for (method, path) in [
        (Method::POST, format!("/api/v1/integrations/{id}/pause")),
        (Method::DELETE, format!("/api/v1/integrations/{id}")),
    ] {
        let reply = api.call(method, &path, Some(&api.key_b), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    let paused = api
        .call(
            Method::POST,
            &format!("/api/v1/integrations/{id}/pause"),
            Some(&api.key_a),
            None,
        )
        .await;
    assert_eq!(paused.json()["status"], "paused");
    let resumed = api
        .call(
            Method::POST,
            &format!("/api/v1/integrations/{id}/resume"),
            Some(&api.key_a),
            None,
        )
        .await;
    assert_eq!(resumed.json()["status"], "connected");
    let removed = api
        .call(
            Method::DELETE,
            &format!("/api/v1/integrations/{id}"),
            Some(&api.key_a),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(removed.json()["integration"]["status"], "disconnected");
    let again = api
        .call(
            Method::POST,
            &format!("/api/v1/integrations/{id}/resume"),
            Some(&api.key_a),
            None,
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::BAD_REQUEST,
        "a disconnected integration is connected again, not resumed"
    );

    // OAuth: a consent URL for the caller's tenant, never another's.
    let consent = api
        .call(
            Method::POST,
            "/api/v1/integrations",
            Some(&api.key_b),
            Some(json!({"provider": "box", "mode": "pull"})),
        )
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text());
    let url = consent.json()["consent_url"].as_str().unwrap().to_string();
    assert!(
        url.contains("/oauth/box/connect?") && url.contains("tenant_id=tenant-b"),
        "{url}"
    );
    assert!(url.contains("signature="), "{url}");
    let smuggled = api
        .call(
            Method::POST,
            "/api/v1/integrations",
            Some(&api.key_b),
            Some(json!({"provider": "box", "settings": {"tenant_id": "tenant-a"}})),
        )
        .await;
    assert_eq!(smuggled.status, StatusCode::BAD_REQUEST);
    let unknown = api
        .call(
            Method::POST,
            "/api/v1/integrations",
            Some(&api.key_b),
            Some(json!({"provider": "myspace"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

async fn a_sweep_finds_activities_across_providers_by_what_an_investigation_knows(f: Fixture) {
    let api = api_on(&f, ApiSettings::default()).await;
    let now = Utc::now();
    let sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let store = |mut a: Activity, minutes: i64| {
        a.event_timestamp = now - Duration::minutes(minutes);
        let activities = api.core.backend.activities.clone();
        async move {
            activities
                .put_activity(&a, now + Duration::days(30))
                .await
                .unwrap();
            a.id()
        }
    };
    let box_a = integration("tenant-a", "int-box");
    let mut download = public_share(&box_a, "sweep-box");
    download.object_name = Some("Invoice_2026.EXE".into());
    download.actor_ip = Some("203.0.113.7".into());
    download.enrichments.exposure = Some(Exposure {
        content_sha1: Some(sha1.to_uppercase()),
        ..Exposure::default()
    });
    let on_box = store(download, 5).await;
    let mut alert = public_share(&integration("tenant-a", "int-ns"), "sweep-ns");
    alert.provider = Provider::Netskope;
    alert.actor_email = Some("raj@example.com".into());
    alert.actor_ip = Some("198.51.100.9".into());
    alert.object_name = Some("report.pdf".into());
    alert.raw = json!({"alert_type": "malware", "local_sha256": sha256, "url": "https://evil.example/x/payload"});
    let on_netskope = store(alert, 10).await;
    let mut mail = public_share(&integration("tenant-a", "int-tm"), "sweep-tm");
    mail.provider = Provider::TrendMicro;
    mail.actor_email = Some("kim@example.com".into());
    mail.from_email = Some("eve@evil.example".into());
    mail.object_name = None;
    mail.actor_ip = None;
    let on_mail = store(mail, 15).await;
    let mut old = public_share(&box_a, "sweep-old");
    old.object_name = Some("old.exe".into());
    store(old, 60 * 24 * 20).await;
    let mut theirs = public_share(&integration("tenant-b", "int-b"), "sweep-b");
    theirs.enrichments.exposure = Some(Exposure {
        content_sha1: Some(sha1.into()),
        ..Exposure::default()
    });
    let on_b = store(theirs, 5).await;

    let sweep = |body: Value, key: String| {
        let api = &api;
        async move {
            let reply = api
                .call(Method::POST, "/api/v1/sweeps", Some(&key), Some(body))
                .await;
            (reply.status, reply)
        }
    };
    let found = |body: Value| {
        let key = api.key_a.clone();
        let sweep = &sweep;
        async move {
            let (status, reply) = sweep(body.clone(), key).await;
            assert_eq!(status, StatusCode::OK, "{body}: {}", reply.text());
            let page = reply.json();
            let ids: Vec<String> = page["activities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| serde_json::from_value::<Activity>(a.clone()).unwrap().id())
                .collect();
            ids
        }
    };
    assert_eq!(
        found(json!({"file_hash": sha1})).await,
        vec![on_box.clone()],
        "{}",
        api.name
    );
    assert_eq!(
        found(json!({"file_hash": sha256.to_uppercase()})).await,
        vec![on_netskope.clone()]
    );
    assert_eq!(
        found(json!({"extension": ".EXE"})).await,
        vec![on_box.clone()],
        "the 20-day-old one is outside the default week"
    );
    assert_eq!(
        found(json!({"extension": "exe", "from": (now - Duration::days(30)).to_rfc3339()}))
            .await
            .len(),
        2
    );
    assert_eq!(
        found(json!({"file_name": "invoice"})).await,
        vec![on_box.clone()]
    );
    assert_eq!(
        found(json!({"sender": "EVE@evil.example"})).await,
        vec![on_mail.clone()]
    );
    assert_eq!(
        found(json!({"actor": "raj@example.com"})).await,
        vec![on_netskope.clone()]
    );
    assert_eq!(
        found(json!({"url": "evil.example/x"})).await,
        vec![on_netskope.clone()]
    );
    assert_eq!(
        found(json!({"source_address": "203.0.113.0/24"})).await,
        vec![on_box.clone()]
    );
    assert_eq!(
        found(json!({"source_address": "198.51.100.9"})).await,
        vec![on_netskope.clone()]
    );
    assert_eq!(
        found(json!({"extension": "exe", "source_address": "198.51.100.0/24"})).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(json!({"file_name": "e", "provider": "trend_micro"})).await,
        Vec::<String>::new()
    );
    let (_, theirs) = sweep(json!({"file_hash": sha1}), api.key_b.clone()).await;
    let theirs: Vec<String> = theirs.json()["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| serde_json::from_value::<Activity>(a.clone()).unwrap().id())
        .collect();
    assert_eq!(theirs, vec![on_b], "{}", api.name);
    for bad in [
        json!({}),
        json!({"file_hash": "abc"}),
        json!({"source_address": "not-an-ip"}),
        json!({"file_name": "x", "from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}),
        json!({"file_name": "x", "colour": "red"}),
    ] {
        let (status, _) = sweep(bad.clone(), api.key_a.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

async fn mail_from_a_sender_blocked_through_the_api_is_an_incident(f: Fixture) {
    let api = api_on(&f, ApiSettings::default()).await;
    let added = api
        .call(
            Method::POST,
            "/api/v1/blocklists/senders",
            Some(&api.key_a),
            Some(json!({"value": "@Phish.Example", "comment": "campaign 12"})),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED);
    let tm = integration("tenant-a", "int-tm");
    let mail = |event: &str, sender: &str| {
        let mut a = public_share(&tm, event);
        a.provider = Provider::TrendMicro;
        a.event_name = "securityrisk".into();
        a.event_type = EventType::Other;
        a.object_id = Some(format!("msg-{event}"));
        a.object_type = Some("email".into());
        a.object_name = Some("Invoice overdue".into());
        a.link_visibility = None;
        a.shared_link = None;
        a.from_email = Some(sender.into());
        a
    };
    let core = &api.core;
    casb_shared::pipeline::inspector::inspect(core, &mail("m-1", "billing@phish.example"))
        .await
        .unwrap();
    casb_shared::pipeline::inspector::inspect(core, &mail("m-2", "ceo@example.com"))
        .await
        .unwrap();
    // Tenant B did not block the domain: its mail from there is no incident.
    let mut theirs = mail("m-3", "billing@phish.example");
    theirs.tenant_id = "tenant-b".into();
    casb_shared::pipeline::inspector::inspect(core, &theirs)
        .await
        .unwrap();
    let incidents = core
        .backend
        .incidents
        .list_incidents("tenant-a", None, 10)
        .await
        .unwrap();
    let blocked: Vec<_> = incidents
        .iter()
        .filter(|i| i.policy_id == "builtin.blocked-sender")
        .collect();
    assert_eq!(blocked.len(), 1, "{}: {incidents:#?}", api.name);
    assert_eq!(blocked[0].object.object_id.as_deref(), Some("msg-m-1"));
    assert_eq!(blocked[0].matches[0].rule, "blocked_senders");
    assert!(core
        .backend
        .incidents
        .list_incidents("tenant-b", None, 10)
        .await
        .unwrap()
        .iter()
        .all(|i| i.policy_id != "builtin.blocked-sender"));
}
