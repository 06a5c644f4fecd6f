//! Admin consent and the client credentials grant with a client secret.

use m365_simulator::Resource;
use reqwest::Method;

use crate::common::{param, query_of, send, Harness};

const REDIRECT: &str = "https://casb.example/m365/consent";

fn consent_url(harness: &Harness, tenant: &str, client_id: &str) -> String {
    format!(
        "{}/{tenant}/adminconsent?{}",
        harness.sim.login_base(),
        serde_urlencoded::to_string([
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("state", "xyz-123"),
        ])
        .unwrap()
    )
}

#[tokio::test]
async fn granted_consent_redirects_with_the_tenant_guid_and_state() {
    let h = Harness::start().await;
    h.sim.set_admin_consent_granted(false);
    for tenant in ["common", "organizations", h.config.tenant_id.as_str()] {
        let reply = send(h.http.get(consent_url(&h, tenant, &h.config.client_id))).await;
        assert_eq!(reply.status, 302, "{tenant}: {}", reply.text);
        let location = reply.header("location").expect("location");
        assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
        let query = query_of(&location);
        assert_eq!(param(&query, "tenant"), Some(h.config.tenant_id.clone()));
        assert_eq!(param(&query, "state").as_deref(), Some("xyz-123"));
        assert_eq!(param(&query, "admin_consent").as_deref(), Some("True"));
        assert_eq!(param(&query, "error"), None);
    }
    assert!(h.sim.admin_consent_granted());
}

#[tokio::test]
async fn declined_consent_redirects_with_the_documented_error_and_grants_nothing() {
    let h = Harness::start().await;
    h.sim.set_admin_consent_granted(false);
    h.sim.set_consent_denied(true);
    let reply = send(h.http.get(consent_url(&h, "common", &h.config.client_id))).await;
    assert_eq!(reply.status, 302);
    let query = query_of(&reply.header("location").unwrap());
    assert_eq!(param(&query, "error").as_deref(), Some("permission_denied"));
    assert_eq!(
        param(&query, "error_description").as_deref(),
        Some("The admin canceled the request")
    );
    assert_eq!(param(&query, "state").as_deref(), Some("xyz-123"));
    assert_eq!(param(&query, "tenant"), None);
    assert!(!h.sim.admin_consent_granted());
    // Without consent the tenant does not know the app: no token.
    let token = h.request_token(Resource::Graph.default_scope()).await;
    assert_eq!(token.status, 400);
    assert_eq!(token.json["error"], "unauthorized_client");
    assert_eq!(token.json["error_codes"][0], 700016);
}

#[tokio::test]
async fn consent_for_an_unknown_app_or_tenant_is_an_error_page_not_a_redirect() {
    let h = Harness::start().await;
    let unknown_app = send(h.http.get(consent_url(
        &h,
        "common",
        "00000000-1111-2222-3333-444444444444",
    )))
    .await;
    assert_eq!(unknown_app.status, 400);
    assert!(unknown_app.header("location").is_none());
    assert!(
        unknown_app.text.contains("AADSTS700016"),
        "{}",
        unknown_app.text
    );
    let unknown_tenant = send(h.http.get(consent_url(
        &h,
        "11111111-2222-3333-4444-555555555555",
        &h.config.client_id,
    )))
    .await;
    assert_eq!(unknown_tenant.status, 400);
    assert!(unknown_tenant.text.contains("AADSTS90002"));
}

#[tokio::test]
async fn tokens_are_issued_per_resource_and_counted() {
    let h = Harness::start().await;
    let reply = h
        .request_token("https://graph.microsoft.com/.default")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "Bearer");
    assert_eq!(reply.json["expires_in"], 3599);
    assert_eq!(reply.json["ext_expires_in"], 3599);
    assert!(reply.json.get("refresh_token").is_none());
    let _manage = h.token(Resource::Manage).await;
    let _manage_again = h.token(Resource::Manage).await;
    assert_eq!(h.sim.token_requests(Resource::Graph), 1);
    assert_eq!(h.sim.token_requests(Resource::Manage), 2);
}

#[tokio::test]
async fn a_token_works_only_at_its_own_resource() {
    let h = Harness::start().await;
    let graph = h.token(Resource::Graph).await;
    let manage = h.token(Resource::Manage).await;

    let users = h
        .call(
            &graph,
            Method::GET,
            &format!("{}/users", h.sim.graph_base()),
            None,
        )
        .await;
    assert_eq!(users.status, 200, "{}", users.text);
    let upns: Vec<&str> = users.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["userPrincipalName"].as_str())
        .collect();
    assert!(upns.contains(&"alice@contoso.onmicrosoft.com"), "{upns:?}");

    let manage_at_graph = h
        .call(
            &manage,
            Method::GET,
            &format!("{}/organization", h.sim.graph_base()),
            None,
        )
        .await;
    assert_eq!(manage_at_graph.status, 401);
    assert_eq!(
        manage_at_graph.json["error"]["code"],
        "InvalidAuthenticationToken"
    );

    let graph_at_manage = h
        .feed(&graph, Method::GET, "subscriptions/list", None)
        .await;
    assert_eq!(graph_at_manage.status, 401);
    assert!(graph_at_manage.json["error"]["code"].is_string());

    let manage_at_manage = h
        .feed(&manage, Method::GET, "subscriptions/list", None)
        .await;
    assert_eq!(manage_at_manage.status, 200, "{}", manage_at_manage.text);
}

#[tokio::test]
async fn client_authentication_errors_use_the_identity_platform_shape() {
    let h = Harness::start().await;
    let wrong_secret = send(h.http.post(h.sim.token_url()).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", h.config.client_id.as_str()),
        ("client_secret", "not-the-secret"),
        ("scope", "https://manage.office.com/.default"),
    ]))
    .await;
    assert_eq!(wrong_secret.status, 401);
    assert_eq!(wrong_secret.json["error"], "invalid_client");
    assert_eq!(wrong_secret.json["error_codes"][0], 7000215);
    assert!(wrong_secret.json["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000215: "));
    assert!(wrong_secret.json["trace_id"].is_string());
    assert!(wrong_secret.json["correlation_id"].is_string());

    // HTTP Basic carries the same credentials.
    let basic = send(
        h.http
            .post(h.sim.token_url())
            .basic_auth(&h.config.client_id, Some(&h.config.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "https://manage.office.com/.default"),
            ]),
    )
    .await;
    assert_eq!(basic.status, 200, "{}", basic.text);

    let no_credential = send(h.http.post(h.sim.token_url()).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", h.config.client_id.as_str()),
        ("scope", "https://manage.office.com/.default"),
    ]))
    .await;
    assert_eq!(no_credential.status, 401);
    assert_eq!(no_credential.json["error"], "invalid_client");
}

#[tokio::test]
async fn scopes_and_tenants_the_grant_refuses() {
    let h = Harness::start().await;
    for scope in [
        "https://graph.microsoft.com/.default https://manage.office.com/.default",
        "https://graph.microsoft.com/Files.Read.All",
        "https://outlook.office.com/.default",
    ] {
        let reply = h.request_token(scope).await;
        assert_eq!(reply.status, 400, "{scope}");
        assert_eq!(reply.json["error"], "invalid_scope", "{scope}");
    }
    let common = send(
        h.http
            .post(format!("{}/common/oauth2/v2.0/token", h.sim.login_base()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", h.config.client_id.as_str()),
                ("client_secret", h.config.client_secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ]),
    )
    .await;
    assert_eq!(common.status, 400);
    assert_eq!(common.json["error"], "invalid_request");
    // The tenant's domain names it as well as its GUID.
    let by_domain = send(
        h.http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                h.sim.login_base(),
                h.config.tenant_domain
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", h.config.client_id.as_str()),
                ("client_secret", h.config.client_secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ]),
    )
    .await;
    assert_eq!(by_domain.status, 200, "{}", by_domain.text);
    let other_tenant = send(
        h.http
            .post(format!(
                "{}/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token",
                h.sim.login_base()
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", h.config.client_id.as_str()),
                ("client_secret", h.config.client_secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ]),
    )
    .await;
    assert_eq!(other_tenant.status, 400);
    assert_eq!(other_tenant.json["error_codes"][0], 90002);
}

#[tokio::test]
async fn expired_tokens_get_401_at_both_apis_until_a_new_token_is_fetched() {
    let h = Harness::start().await;
    let graph = h.token(Resource::Graph).await;
    let manage = h.token(Resource::Manage).await;
    h.sim.expire_tokens();

    let at_graph = h
        .call(
            &graph,
            Method::GET,
            &format!("{}/organization", h.sim.graph_base()),
            None,
        )
        .await;
    assert_eq!(at_graph.status, 401);
    assert_eq!(at_graph.json["error"]["code"], "InvalidAuthenticationToken");
    assert!(at_graph.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));

    let at_manage = h
        .feed(&manage, Method::GET, "subscriptions/list", None)
        .await;
    assert_eq!(at_manage.status, 401);
    assert!(at_manage.json["error"]["code"].is_string());

    let fresh = h.token(Resource::Graph).await;
    let organization = h
        .call(
            &fresh,
            Method::GET,
            &format!("{}/organization", h.sim.graph_base()),
            None,
        )
        .await;
    assert_eq!(organization.status, 200);
    assert_eq!(
        organization.json["value"][0]["id"],
        h.config.tenant_id.as_str()
    );
    assert_eq!(organization.json["value"][0]["displayName"], "Contoso");
}

#[tokio::test]
async fn the_v2_consent_endpoint_echoes_the_scope_and_reports_a_decline_its_own_way() {
    let h = Harness::start().await;
    let url = format!(
        "{}/organizations/v2.0/adminconsent?{}",
        h.sim.login_base(),
        serde_urlencoded::to_string([
            ("client_id", h.config.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .unwrap()
    );
    let granted = send(h.http.get(&url)).await;
    let query = query_of(&granted.header("location").unwrap());
    assert_eq!(param(&query, "tenant"), Some(h.config.tenant_id.clone()));
    assert_eq!(
        param(&query, "scope").as_deref(),
        Some("https://graph.microsoft.com/.default")
    );
    h.sim.set_consent_denied(true);
    let declined = send(h.http.get(&url)).await;
    let query = query_of(&declined.header("location").unwrap());
    assert_eq!(param(&query, "error").as_deref(), Some("consent_required"));
    assert_eq!(param(&query, "admin_consent").as_deref(), Some("True"));
    assert!(param(&query, "error_description")
        .unwrap()
        .starts_with("AADSTS65004"));
    assert_eq!(param(&query, "tenant"), None);
}
