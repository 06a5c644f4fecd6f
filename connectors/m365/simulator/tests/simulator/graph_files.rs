//! Microsoft Graph files: drives, items, downloads, permissions, remediation, delta and
//! change notifications.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use m365_simulator::{ItemRef, Resource, SimConfig};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{param, query_of, send, Harness, Receiver, Reply};

const ALICE: &str = "alice@contoso.onmicrosoft.com";

fn item_url(h: &Harness, item: &ItemRef, suffix: &str) -> String {
    format!(
        "{}/drives/{}/items/{}{suffix}",
        h.sim.graph_base(),
        item.drive_id,
        item.item_id
    )
}

async fn graph(h: &Harness, token: &str, method: Method, url: &str, body: Option<Value>) -> Reply {
    h.call(token, method, url, body).await
}

#[tokio::test]
async fn an_uploaded_file_is_readable_downloadable_and_audited() {
    let h = Harness::start().await;
    let manage = h.token(Resource::Manage).await;
    h.start_subscription(&manage, "Audit.SharePoint").await;
    let token = h.token(Resource::Graph).await;
    let item = h
        .sim
        .upload_file(ALICE, "report.docx", b"quarterly numbers".to_vec())
        .unwrap();

    let drive = graph(
        &h,
        &token,
        Method::GET,
        &format!("{}/users/{ALICE}/drive", h.sim.graph_base()),
        None,
    )
    .await;
    assert_eq!(drive.status, 200, "{}", drive.text);
    assert_eq!(drive.json["id"], item.drive_id.as_str());
    assert_eq!(h.sim.drive_id_of(ALICE), Some(item.drive_id.clone()));

    let got = graph(&h, &token, Method::GET, &item_url(&h, &item, ""), None).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["name"], "report.docx");
    assert_eq!(got.json["size"], 17);
    assert!(got.json["file"].is_object());
    let download_url = got.json["@microsoft.graph.downloadUrl"].as_str().unwrap();
    assert!(
        download_url.starts_with(&h.sim.download_base()),
        "{download_url}"
    );

    let content = graph(
        &h,
        &token,
        Method::GET,
        &item_url(&h, &item, "/content"),
        None,
    )
    .await;
    assert_eq!(content.status, 302);
    let location = content.header("location").unwrap();
    assert!(location.starts_with(&h.sim.download_base()), "{location}");
    assert!(param(&query_of(&location), "tempauth").is_some());
    // Pre-authenticated: no Authorization header.
    let bytes = send(h.http.get(&location)).await;
    assert_eq!(bytes.status, 200);
    assert_eq!(bytes.text, "quarterly numbers");
    let partial = send(h.http.get(&location).header("range", "bytes=0-8")).await;
    assert_eq!(partial.status, 206);
    assert_eq!(partial.text, "quarterly");
    assert_eq!(
        partial.header("content-range").as_deref(),
        Some("bytes 0-8/17")
    );
    let forged = send(h.http.get(format!(
        "{}/_layouts/15/download.aspx?tempauth=forged",
        h.sim.download_base()
    )))
    .await;
    assert_eq!(forged.status, 401);

    // The FileUploaded record names the same file.
    let listing = h
        .feed(
            &manage,
            Method::GET,
            "subscriptions/content?contentType=Audit.SharePoint",
            None,
        )
        .await;
    let uri = listing.json[0]["contentUri"].as_str().unwrap().to_string();
    let blob = h.call(&manage, Method::GET, &uri, None).await;
    let record = &blob.json[0];
    assert_eq!(record["Operation"], "FileUploaded");
    assert_eq!(record["SourceFileName"], "report.docx");
    assert_eq!(record["SourceRelativeUrl"], "Documents");
    assert_eq!(record["UserId"], ALICE);
    assert_eq!(record["Workload"], "OneDrive");
    let web_url = got.json["webUrl"].as_str().unwrap();
    assert_eq!(
        web_url,
        format!(
            "{}Documents/report.docx",
            record["SiteUrl"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn sharing_links_are_listed_and_only_direct_permissions_can_be_deleted() {
    let h = Harness::start().await;
    let token = h.token(Resource::Graph).await;
    let item = h
        .sim
        .upload_file(ALICE, "budget.xlsx", b"1,2,3".to_vec())
        .unwrap();
    let link = h.sim.create_sharing_link(&item, "anonymous").unwrap();
    h.sim.invite(&item, "guest@fabrikam.com", true).unwrap();
    assert!(h.sim.create_sharing_link(&item, "everyone").is_err());

    let listed = graph(
        &h,
        &token,
        Method::GET,
        &item_url(&h, &item, "/permissions"),
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let permissions = listed.json["value"].as_array().unwrap();
    assert_eq!(permissions.len(), 3);
    let owner = permissions
        .iter()
        .find(|p| p["roles"][0] == "owner")
        .unwrap();
    assert!(owner["inheritedFrom"].is_object());
    let anonymous = permissions
        .iter()
        .find(|p| p["link"]["scope"] == "anonymous")
        .unwrap();
    assert_eq!(anonymous["link"]["webUrl"], link.as_str());
    let invited = permissions
        .iter()
        .find(|p| p["grantedToV2"]["user"]["email"] == "guest@fabrikam.com")
        .unwrap();

    let refused = graph(
        &h,
        &token,
        Method::DELETE,
        &item_url(
            &h,
            &item,
            &format!("/permissions/{}", owner["id"].as_str().unwrap()),
        ),
        None,
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(refused.json["error"]["code"].is_string());
    for permission in [anonymous, invited] {
        let deleted = graph(
            &h,
            &token,
            Method::DELETE,
            &item_url(
                &h,
                &item,
                &format!("/permissions/{}", permission["id"].as_str().unwrap()),
            ),
            None,
        )
        .await;
        assert_eq!(deleted.status, 204, "{}", deleted.text);
    }
    let left = h.sim.permissions(&item).unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].inherited);
}

#[tokio::test]
async fn folders_moves_and_deletes() {
    let h = Harness::start().await;
    let token = h.token(Resource::Graph).await;
    let item = h
        .sim
        .upload_file(ALICE, "secret.pdf", b"x".to_vec())
        .unwrap();
    let children = format!(
        "{}/drives/{}/items/root/children",
        h.sim.graph_base(),
        item.drive_id
    );
    let folder = graph(
        &h,
        &token,
        Method::POST,
        &children,
        Some(json!({"name": "Quarantine", "folder": {}})),
    )
    .await;
    assert_eq!(folder.status, 201, "{}", folder.text);
    let folder_id = folder.json["id"].as_str().unwrap().to_string();
    let again = graph(
        &h,
        &token,
        Method::POST,
        &children,
        Some(json!({"name": "Quarantine", "folder": {}})),
    )
    .await;
    assert_eq!(again.status, 409);

    let moved = graph(
        &h,
        &token,
        Method::PATCH,
        &item_url(&h, &item, ""),
        Some(json!({"parentReference": {"id": folder_id}})),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json["parentReference"]["id"], folder_id.as_str());
    assert_eq!(h.sim.item_parent(&item), Some(folder_id.clone()));
    let bob_drive = h.sim.drive_id_of("admin@contoso.onmicrosoft.com").unwrap();
    let cross = graph(
        &h,
        &token,
        Method::PATCH,
        &item_url(&h, &item, ""),
        Some(json!({"parentReference": {"driveId": bob_drive, "id": "x"}})),
    )
    .await;
    assert_eq!(cross.status, 400);

    let deleted = graph(&h, &token, Method::DELETE, &item_url(&h, &item, ""), None).await;
    assert_eq!(deleted.status, 204);
    let gone = graph(&h, &token, Method::GET, &item_url(&h, &item, ""), None).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json["error"]["code"], "itemNotFound");
    assert_eq!(h.sim.item_parent(&item), None);
}

async fn follow_delta(
    h: &Harness,
    token: &str,
    first: &str,
    prefer: Option<&str>,
) -> (Vec<Value>, String, usize) {
    let mut items = Vec::new();
    let mut url = first.to_string();
    for page in 1..20 {
        let mut request = h.http.get(&url).bearer_auth(token);
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
        }
        let reply = send(request).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        items.extend(reply.json["value"].as_array().unwrap().iter().cloned());
        if let Some(next) = reply.json["@odata.nextLink"].as_str() {
            url = next.to_string();
            continue;
        }
        let delta = reply.json["@odata.deltaLink"]
            .as_str()
            .expect("deltaLink at the end");
        return (items, delta.to_string(), page);
    }
    panic!("delta paging does not end");
}

#[tokio::test]
async fn delta_enumerates_then_reports_changes_deletes_and_sharing() {
    let h = Harness::start_with(SimConfig {
        delta_page_size: 2,
        ..SimConfig::default()
    })
    .await;
    let token = h.token(Resource::Graph).await;
    let files: Vec<ItemRef> = ["a.txt", "b.txt", "c.txt"]
        .iter()
        .map(|name| {
            h.sim
                .upload_file(ALICE, name, name.as_bytes().to_vec())
                .unwrap()
        })
        .collect();
    let drive = files[0].drive_id.clone();
    let start = format!("{}/drives/{drive}/root/delta", h.sim.graph_base());

    let (items, delta_link, pages) = follow_delta(&h, &token, &start, None).await;
    assert_eq!(pages, 2);
    let names: HashSet<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, HashSet::from(["root", "a.txt", "b.txt", "c.txt"]));

    let (nothing, _, _) = follow_delta(&h, &token, &delta_link, None).await;
    assert!(nothing.is_empty());

    let latest = send(
        h.http
            .get(format!("{start}?token=latest"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(latest.json["value"], json!([]));
    let latest_link = latest.json["@odata.deltaLink"]
        .as_str()
        .unwrap()
        .to_string();

    h.sim
        .create_sharing_link(&files[0], "organization")
        .unwrap();
    let delete = graph(
        &h,
        &token,
        Method::DELETE,
        &item_url(&h, &files[1], ""),
        None,
    )
    .await;
    assert_eq!(delete.status, 204);
    let (changes, newer_link, _) =
        follow_delta(&h, &token, &delta_link, Some("deltashowsharingchanges")).await;
    let by_id: HashMap<&str, &Value> = changes
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c))
        .collect();
    assert_eq!(by_id.len(), 2, "{changes:?}");
    assert_eq!(
        by_id[files[0].item_id.as_str()]["@microsoft.graph.sharedChanged"],
        "True"
    );
    let deleted = by_id[files[1].item_id.as_str()];
    assert!(deleted["deleted"].is_object());
    assert!(deleted.get("name").is_none());
    // Without the Prefer header there is no sharing annotation.
    let (plain, _, _) = follow_delta(&h, &token, &latest_link, None).await;
    assert_eq!(plain.len(), 2);
    assert!(plain
        .iter()
        .all(|c| c.get("@microsoft.graph.sharedChanged").is_none()));

    assert!(h.sim.force_delta_resync(&drive));
    let gone = send(h.http.get(&newer_link).bearer_auth(&token)).await;
    assert_eq!(gone.status, 410);
    let restart = gone.header("location").expect("Location to restart from");
    let (resynced, _, _) = follow_delta(&h, &token, &restart, None).await;
    let names: HashSet<&str> = resynced.iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, HashSet::from(["root", "a.txt", "c.txt"]));
}

fn expiration_in(minutes: i64) -> String {
    (Utc::now() + chrono::Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn drive_subscriptions_validate_then_notify_and_report_lifecycle() {
    let h = Harness::start().await;
    let token = h.token(Resource::Graph).await;
    let drive = h.sim.drive_id_of(ALICE).unwrap();
    let notifications = Receiver::start(202).await;
    let lifecycle = Receiver::start(200).await;
    let subscriptions = format!("{}/subscriptions", h.sim.graph_base());
    let request = |expiration: String, url: &str| {
        json!({
            "changeType": "updated",
            "notificationUrl": url,
            "lifecycleNotificationUrl": lifecycle.url,
            "resource": format!("drives/{drive}/root"),
            "expirationDateTime": expiration,
            "clientState": "casb-state",
        })
    };

    // Validation answered with 202: Graph wants 200.
    let refused = graph(
        &h,
        &token,
        Method::POST,
        &subscriptions,
        Some(request(expiration_in(60), &notifications.url)),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    notifications.set_status(200);
    let too_long = graph(
        &h,
        &token,
        Method::POST,
        &subscriptions,
        Some(request(expiration_in(42_301), &notifications.url)),
    )
    .await;
    assert_eq!(too_long.status, 400);
    let mut sub_path = request(expiration_in(60), &notifications.url);
    sub_path["resource"] = json!(format!("drives/{drive}/items/01ABC"));
    assert_eq!(
        graph(&h, &token, Method::POST, &subscriptions, Some(sub_path))
            .await
            .status,
        400
    );

    let created = graph(
        &h,
        &token,
        Method::POST,
        &subscriptions,
        Some(request(expiration_in(42_000), &notifications.url)),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_string();
    let validations = notifications.received();
    let validation = validations.last().unwrap();
    assert!(param(
        &query_of(&format!(
            "?{}",
            validation.query.clone().unwrap_or_default()
        )),
        "validationToken"
    )
    .is_some());
    assert_eq!(h.sim.graph_subscriptions()[0].id, id);

    let before = notifications.received().len();
    h.sim.upload_file(ALICE, "new.txt", b"n".to_vec()).unwrap();
    let received = notifications.wait_for(before + 1).await;
    let body = &received.last().unwrap().body;
    let change = &body["value"][0];
    assert_eq!(change["subscriptionId"], id.as_str());
    assert_eq!(change["clientState"], "casb-state");
    assert_eq!(change["changeType"], "updated");
    assert_eq!(change["tenantId"], h.config.tenant_id.as_str());
    assert_eq!(
        change["resourceData"]["@odata.type"],
        "#Microsoft.Graph.DriveItem"
    );
    // Changes in another user's drive do not notify this subscription.
    h.sim
        .upload_file("admin@contoso.onmicrosoft.com", "x.txt", b"x".to_vec())
        .unwrap();

    let renewed = graph(
        &h,
        &token,
        Method::PATCH,
        &format!("{subscriptions}/{id}"),
        Some(json!({"expirationDateTime": expiration_in(120)})),
    )
    .await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);

    assert!(h.sim.remove_graph_subscription(&id, true));
    let lifecycle_received = lifecycle.wait_for(2).await;
    let removed = lifecycle_received
        .iter()
        .find(|r| r.body["value"][0]["lifecycleEvent"] == "subscriptionRemoved")
        .expect("a subscriptionRemoved lifecycle notification");
    assert_eq!(removed.body["value"][0]["subscriptionId"], id.as_str());
    let deleted = graph(
        &h,
        &token,
        Method::DELETE,
        &format!("{subscriptions}/{id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 404);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let deliveries = h.sim.graph_notification_deliveries();
    assert_eq!(
        deliveries.iter().filter(|d| !d.lifecycle).count(),
        1,
        "{deliveries:?}"
    );
}

#[tokio::test]
async fn an_audit_records_site_and_path_lead_to_its_drive_item() {
    let h = Harness::start().await;
    let token = h.token(Resource::Graph).await;
    let item = h
        .sim
        .upload_file(ALICE, "Q1 plan.docx", b"plan".to_vec())
        .unwrap();
    let record = h.sim.file_record(
        "FileUploaded",
        ALICE,
        "https://contoso-my.sharepoint.com/personal/alice_contoso_onmicrosoft_com",
        "Documents",
        "Q1 plan.docx",
    );
    let site_url = record["SiteUrl"].as_str().unwrap().trim_end_matches('/');
    let (host, path) = site_url
        .trim_start_matches("https://")
        .split_once('/')
        .unwrap();
    let site = graph(
        &h,
        &token,
        Method::GET,
        &format!("{}/sites/{host}:/{path}", h.sim.graph_base()),
        None,
    )
    .await;
    assert_eq!(site.status, 200, "{}", site.text);
    let site_id = site.json["id"].as_str().unwrap();
    assert!(site_id.starts_with(&format!("{host},")), "{site_id}");

    let found = graph(
        &h,
        &token,
        Method::GET,
        &format!(
            "{}/sites/{site_id}/drive/root:/Q1%20plan.docx",
            h.sim.graph_base()
        ),
        None,
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.json["id"], item.item_id.as_str());
    assert_eq!(
        found.json["parentReference"]["driveId"],
        item.drive_id.as_str()
    );

    let missing = graph(
        &h,
        &token,
        Method::GET,
        &format!(
            "{}/sites/{site_id}/drive/root:/other.docx",
            h.sim.graph_base()
        ),
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    let unknown_site = graph(
        &h,
        &token,
        Method::GET,
        &format!("{}/sites/{host}:/personal/nobody", h.sim.graph_base()),
        None,
    )
    .await;
    assert_eq!(unknown_site.status, 404);
}
