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

/// Every record of every Audit.SharePoint blob listed so far, oldest blob first.
async fn sharepoint_records(h: &Harness, manage: &str) -> Vec<Value> {
    let listing = h
        .feed(
            manage,
            Method::GET,
            "subscriptions/content?contentType=Audit.SharePoint",
            None,
        )
        .await;
    assert_eq!(listing.status, 200, "{}", listing.text);
    let mut records = Vec::new();
    for blob in listing.json.as_array().unwrap() {
        let uri = blob["contentUri"].as_str().unwrap();
        let fetched = h.call(manage, Method::GET, uri, None).await;
        assert_eq!(fetched.status, 200, "{}", fetched.text);
        records.extend(fetched.json.as_array().unwrap().iter().cloned());
    }
    records
}

/// The Audit.SharePoint record of the upload of `file_name`.
async fn upload_record(h: &Harness, manage: &str, file_name: &str) -> Value {
    sharepoint_records(h, manage)
        .await
        .into_iter()
        .find(|r| r["SourceFileName"] == file_name)
        .unwrap_or_else(|| panic!("no audit record of the upload of {file_name}"))
}

#[tokio::test]
async fn a_team_site_library_is_found_by_search_and_path_and_audited() {
    let h = Harness::start().await;
    let manage = h.token(Resource::Manage).await;
    h.start_subscription(&manage, "Audit.SharePoint").await;
    let token = h.token(Resource::Graph).await;
    let drive_id = h.sim.add_team_site("Finance");
    assert_eq!(h.sim.add_team_site("Finance"), drive_id);
    let item = h
        .sim
        .upload_to_site(&drive_id, ALICE, "budget 2025.xlsx", b"1,2,3".to_vec())
        .unwrap();
    assert_eq!(item.drive_id, drive_id);
    let site_url = "https://contoso.sharepoint.com/sites/Finance";

    // Site search lists team sites only (no personal OneDrive sites).
    let search = graph(
        &h,
        &token,
        Method::GET,
        &format!("{}/sites?search=*", h.sim.graph_base()),
        None,
    )
    .await;
    assert_eq!(search.status, 200, "{}", search.text);
    let sites = search.json["value"].as_array().unwrap();
    assert_eq!(sites.len(), 1, "{sites:?}");
    assert_eq!(sites[0]["webUrl"], site_url);
    assert_eq!(sites[0]["name"], "Finance");
    assert_eq!(sites[0]["displayName"], "Finance");
    let site_id = sites[0]["id"].as_str().unwrap().to_string();
    assert!(site_id.starts_with("contoso.sharepoint.com,"), "{site_id}");

    let drives = graph(
        &h,
        &token,
        Method::GET,
        &format!("{}/sites/{site_id}/drives", h.sim.graph_base()),
        None,
    )
    .await;
    assert_eq!(drives.status, 200, "{}", drives.text);
    let library = &drives.json["value"][0];
    assert_eq!(library["id"], drive_id.as_str());
    assert_eq!(library["driveType"], "documentLibrary");
    assert_eq!(library["webUrl"], format!("{site_url}/Shared Documents"));

    // By URL, as an audit record's SiteUrl gives it.
    let by_path = graph(
        &h,
        &token,
        Method::GET,
        &format!(
            "{}/sites/contoso.sharepoint.com:/sites/Finance",
            h.sim.graph_base()
        ),
        None,
    )
    .await;
    assert_eq!(by_path.status, 200, "{}", by_path.text);
    assert_eq!(by_path.json["id"], site_id.as_str());
    let found = graph(
        &h,
        &token,
        Method::GET,
        &format!(
            "{}/sites/{site_id}/drive/root:/budget%202025.xlsx",
            h.sim.graph_base()
        ),
        None,
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.json["id"], item.item_id.as_str());
    assert_eq!(found.json["parentReference"]["driveId"], drive_id.as_str());

    let record = upload_record(&h, &manage, "budget 2025.xlsx").await;
    assert_eq!(record["Operation"], "FileUploaded");
    assert_eq!(record["SiteUrl"], format!("{site_url}/"));
    assert_eq!(record["SourceRelativeUrl"], "Shared Documents");
    assert_eq!(record["Workload"], "SharePoint");
    assert_eq!(record["UserId"], ALICE);
    assert_eq!(
        found.json["webUrl"],
        format!("{site_url}/Shared Documents/budget 2025.xlsx")
    );

    // A folder of the library: the record names it below `Shared Documents`.
    let board = h.sim.create_folder(&drive_id, None, "Board").unwrap();
    let minutes = h
        .sim
        .upload_file_to(&board, ALICE, "minutes.docx", b"m".to_vec())
        .unwrap();
    let record = upload_record(&h, &manage, "minutes.docx").await;
    assert_eq!(record["SourceRelativeUrl"], "Shared Documents/Board");

    // The library's delta shows the uploads; sharing links look like team site links.
    let start = format!("{}/drives/{drive_id}/root/delta", h.sim.graph_base());
    let (items, _, _) = follow_delta(&h, &token, &start, None).await;
    let names: HashSet<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(
        names,
        HashSet::from(["root", "budget 2025.xlsx", "Board", "minutes.docx"])
    );
    let link = h.sim.create_sharing_link(&minutes, "anonymous").unwrap();
    assert!(
        link.starts_with("https://contoso.sharepoint.com/:w:/s/Finance/"),
        "{link}"
    );
    let permissions = graph(
        &h,
        &token,
        Method::GET,
        &item_url(&h, &minutes, "/permissions"),
        None,
    )
    .await;
    assert_eq!(permissions.status, 200, "{}", permissions.text);
    assert_eq!(permissions.json["value"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn permissions_granted_on_a_folder_are_inherited_by_its_files() {
    let h = Harness::start().await;
    let manage = h.token(Resource::Manage).await;
    h.start_subscription(&manage, "Audit.SharePoint").await;
    let token = h.token(Resource::Graph).await;
    let drive_id = h.sim.drive_id_of(ALICE).unwrap();
    let board = h.sim.create_folder(&drive_id, None, "Board").unwrap();
    let year = h
        .sim
        .create_folder(&drive_id, Some(&board.item_id), "2025")
        .unwrap();
    assert_eq!(h.sim.item_parent(&year), Some(board.item_id.clone()));
    let file = h
        .sim
        .upload_file_to(&year, ALICE, "minutes.docx", b"m".to_vec())
        .unwrap();
    let record = upload_record(&h, &manage, "minutes.docx").await;
    assert_eq!(record["SourceRelativeUrl"], "Documents/Board/2025");
    assert_eq!(record["Workload"], "OneDrive");

    h.sim.invite(&board, "guest@fabrikam.com", true).unwrap();
    let on_folder = h.sim.permissions(&board).unwrap();
    let granted = on_folder
        .iter()
        .find(|p| p.granted_to_email.as_deref() == Some("guest@fabrikam.com"))
        .unwrap()
        .clone();
    assert!(!granted.inherited);

    let on_file = h.sim.permissions(&file).unwrap();
    let inherited = on_file
        .iter()
        .find(|p| p.granted_to_email.as_deref() == Some("guest@fabrikam.com"))
        .expect("the folder's grant shows on the file");
    assert!(inherited.inherited);
    assert_eq!(inherited.id, granted.id);

    let listed = graph(
        &h,
        &token,
        Method::GET,
        &item_url(&h, &file, "/permissions"),
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let guest = listed.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["grantedToV2"]["user"]["email"] == "guest@fabrikam.com")
        .unwrap()
        .clone();
    assert_eq!(guest["id"], granted.id.as_str());
    assert_eq!(guest["inheritedFrom"]["id"], board.item_id.as_str());
    assert_eq!(guest["inheritedFrom"]["driveId"], drive_id.as_str());
    assert_eq!(guest["inheritedFrom"]["path"], "/drive/root:/Board");
    // The owner's permission still comes from the drive root.
    let owner = listed.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["roles"][0] == "owner")
        .unwrap()
        .clone();
    assert_eq!(owner["inheritedFrom"]["path"], "/drive/root:");

    let refused = graph(
        &h,
        &token,
        Method::DELETE,
        &item_url(&h, &file, &format!("/permissions/{}", granted.id)),
        None,
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(h
        .sim
        .permissions(&file)
        .unwrap()
        .iter()
        .any(|p| p.id == granted.id));

    let deleted = graph(
        &h,
        &token,
        Method::DELETE,
        &item_url(&h, &board, &format!("/permissions/{}", granted.id)),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let left = h.sim.permissions(&file).unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].roles, vec!["owner".to_string()]);
    assert!(h
        .sim
        .permissions(&board)
        .unwrap()
        .iter()
        .all(|p| p.id != granted.id));

    // A grant on the drive root reaches every item, inherited from the root.
    let root = ItemRef {
        drive_id: drive_id.clone(),
        item_id: "root".to_string(),
    };
    h.sim.invite(&root, "bob@fabrikam.com", true).unwrap();
    let listed = graph(
        &h,
        &token,
        Method::GET,
        &item_url(&h, &file, "/permissions"),
        None,
    )
    .await;
    let bob = listed.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["grantedToV2"]["user"]["email"] == "bob@fabrikam.com")
        .expect("the root's grant shows on the file")
        .clone();
    assert_eq!(bob["inheritedFrom"]["path"], "/drive/root:");
}

#[tokio::test]
async fn a_team_site_library_serves_drive_routes_and_notifies_subscriptions() {
    let h = Harness::start().await;
    let token = h.token(Resource::Graph).await;
    let drive_id = h.sim.add_team_site("Legal");
    let drive = graph(
        &h,
        &token,
        Method::GET,
        &format!("{}/drives/{drive_id}", h.sim.graph_base()),
        None,
    )
    .await;
    assert_eq!(drive.status, 200, "{}", drive.text);
    assert_eq!(drive.json["driveType"], "documentLibrary");
    let root = graph(
        &h,
        &token,
        Method::GET,
        &format!("{}/drives/{drive_id}/root", h.sim.graph_base()),
        None,
    )
    .await;
    assert_eq!(root.status, 200, "{}", root.text);
    assert_eq!(
        root.json["webUrl"],
        "https://contoso.sharepoint.com/sites/Legal/Shared Documents"
    );

    let notifications = Receiver::start(200).await;
    let created = graph(
        &h,
        &token,
        Method::POST,
        &format!("{}/subscriptions", h.sim.graph_base()),
        Some(json!({
            "changeType": "updated",
            "notificationUrl": notifications.url,
            "resource": format!("drives/{drive_id}/root"),
            "expirationDateTime": expiration_in(60),
            "clientState": "casb-state",
        })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let before = notifications.received().len();
    let item = h
        .sim
        .upload_to_site(&drive_id, ALICE, "nda.pdf", b"nda".to_vec())
        .unwrap();
    let received = notifications.wait_for(before + 1).await;
    assert_eq!(received.len(), before + 1);
    assert_eq!(
        received.last().unwrap().body["value"][0]["resource"],
        format!("drives/{drive_id}/root")
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
    let bytes = send(h.http.get(content.header("location").unwrap())).await;
    assert_eq!(bytes.text, "nda");
    // Unknown uploader and unknown library are refused.
    assert!(h
        .sim
        .upload_to_site(&drive_id, "nobody@contoso.onmicrosoft.com", "x.txt", vec![])
        .is_err());
    assert!(h
        .sim
        .upload_to_site("b!nope", ALICE, "x.txt", vec![])
        .is_err());
    assert!(h.sim.create_folder("b!nope", None, "x").is_err());
}
