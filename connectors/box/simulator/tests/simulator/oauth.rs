//! OAuth 2.0: authorize auto-consent, single-use codes, single-use refresh tokens, revoke,
//! client authentication, PKCE, token expiry.

use std::collections::HashMap;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::common::{send, Harness, Reply};

const REDIRECT: &str = "https://casb.example.net/oauth/box/callback";

async fn authorize(h: &Harness, extra: &[(&str, &str)]) -> Reply {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", h.sim.config().client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "xyz-state"),
    ];
    params.extend_from_slice(extra);
    send(h.http.get(h.sim.oauth_authorize_url()).query(&params)).await
}

fn location_params(reply: &Reply) -> HashMap<String, String> {
    let location = reply.header("location").expect("redirect has a Location");
    assert!(
        location.starts_with(REDIRECT),
        "redirects to the registered callback: {location}"
    );
    reqwest::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn token_request(h: &Harness, form: &[(&str, &str)]) -> Reply {
    send(h.http.post(h.sim.token_url()).form(form)).await
}

async fn exchange_code(h: &Harness, code: &str) -> Reply {
    let config = h.sim.config();
    token_request(
        h,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ],
    )
    .await
}

/// Authorizes with a PKCE `challenge` and exchanges the fresh code with `verifier`.
async fn exchange_with_pkce(h: &Harness, challenge: &str, verifier: &str) -> Reply {
    let code = location_params(
        &authorize(
            h,
            &[
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await,
    )["code"]
        .clone();
    let config = h.sim.config();
    token_request(
        h,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(h: &Harness, refresh_token: &str) -> Reply {
    let config = h.sim.config();
    token_request(
        h,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ],
    )
    .await
}

#[tokio::test]
async fn authorize_redirects_with_code_and_the_same_state() {
    let h = Harness::start().await;
    let reply = authorize(&h, &[]).await;
    assert_eq!(reply.status, 302);
    let params = location_params(&reply);
    assert_eq!(params.get("state").map(String::as_str), Some("xyz-state"));
    assert!(params.get("code").is_some_and(|c| !c.is_empty()));
    let stats = h.sim.oauth_stats();
    assert_eq!(stats.authorization_codes_issued, 1);
}

#[tokio::test]
async fn authorize_rejects_unknown_client_id() {
    let h = Harness::start().await;
    let reply = send(h.http.get(h.sim.oauth_authorize_url()).query(&[
        ("response_type", "code"),
        ("client_id", "nope"),
        ("redirect_uri", REDIRECT),
    ]))
    .await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn authorization_code_is_single_use() {
    let h = Harness::start().await;
    let code = location_params(&authorize(&h, &[]).await)["code"].clone();
    let first = exchange_code(&h, &code).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["token_type"], "bearer");
    assert_eq!(first.json["expires_in"], 3600);
    assert_eq!(
        first.json["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert!(first.json["restricted_to"]
        .as_array()
        .is_some_and(|a| a.is_empty()));
    let access = first.json["access_token"].as_str().unwrap().to_string();
    let me = h.get_as(&access, "/users/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["id"], h.admin.as_str());

    let second = exchange_code(&h, &code).await;
    assert_eq!(second.status, 400);
    assert_eq!(second.json["error"], "invalid_grant");
}

#[tokio::test]
async fn refresh_token_is_single_use_and_rotates() {
    let h = Harness::start().await;
    let code = location_params(&authorize(&h, &[]).await)["code"].clone();
    let pair = exchange_code(&h, &code).await.json;
    let old_refresh = pair["refresh_token"].as_str().unwrap().to_string();

    let refreshed = refresh(&h, &old_refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let new_refresh = refreshed.json["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_refresh, old_refresh);
    let new_access = refreshed.json["access_token"].as_str().unwrap().to_string();
    assert_eq!(h.get_as(&new_access, "/users/me").await.status, 200);

    let reused = refresh(&h, &old_refresh).await;
    assert_eq!(reused.status, 400);
    assert_eq!(reused.json["error"], "invalid_grant");
    assert!(reused.json["error_description"].is_string());

    assert_eq!(refresh(&h, &new_refresh).await.status, 200);
    let stats = h.sim.oauth_stats();
    assert_eq!(stats.refreshes, 2, "exactly two successful refreshes");
    assert_eq!(stats.code_exchanges, 1);
}

#[tokio::test]
async fn revoke_kills_the_token_pair() {
    let h = Harness::start().await;
    let pair = h.sim.issue_tokens(&h.admin).unwrap();
    let config = h.sim.config().clone();
    let reply = send(h.http.post(h.sim.revoke_url()).form(&[
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.as_str()),
        ("token", pair.access_token.as_str()),
    ]))
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.text.is_empty());
    let me = h.get_as(&pair.access_token, "/users/me").await;
    assert_eq!(me.status, 401);
    assert!(me.header("www-authenticate").is_some());
    assert_eq!(
        refresh(&h, &pair.refresh_token).await.json["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn bad_client_credentials_are_invalid_client() {
    let h = Harness::start().await;
    let pair = h.sim.issue_tokens(&h.admin).unwrap();
    let config = h.sim.config().clone();
    let reply = token_request(
        &h,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &pair.refresh_token),
            ("client_id", &config.client_id),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json["error"], "invalid_client");
    let revoke = send(h.http.post(h.sim.revoke_url()).form(&[
        ("client_id", "x"),
        ("client_secret", "y"),
        ("token", pair.access_token.as_str()),
    ]))
    .await;
    assert_eq!(revoke.status, 400);
    assert_eq!(revoke.json["error"], "invalid_client");
    // The refresh token was not consumed by the rejected request.
    assert_eq!(refresh(&h, &pair.refresh_token).await.status, 200);
}

#[tokio::test]
async fn pkce_verifier_is_checked_when_a_challenge_was_sent() {
    let h = Harness::start().await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));

    let wrong = exchange_with_pkce(
        &h,
        &challenge,
        "not-the-verifier-not-the-verifier-not-the-verifier",
    )
    .await;
    assert_eq!(wrong.json["error"], "invalid_grant");
    let right = exchange_with_pkce(&h, &challenge, verifier).await;
    assert_eq!(right.status, 200, "{}", right.text);
}

#[tokio::test]
async fn expired_access_tokens_get_401_and_refresh_recovers() {
    let h = Harness::start().await;
    let pair = h.sim.issue_tokens(&h.admin).unwrap();
    assert_eq!(h.get_as(&pair.access_token, "/users/me").await.status, 200);
    h.sim.expire_access_tokens();
    let expired = h.get_as(&pair.access_token, "/users/me").await;
    assert_eq!(expired.status, 401);
    assert_eq!(h.get_as("unknown-token", "/users/me").await.status, 401);
    let refreshed = refresh(&h, &pair.refresh_token).await;
    let access = refreshed.json["access_token"].as_str().unwrap();
    assert_eq!(h.get_as(access, "/users/me").await.status, 200);
    assert_eq!(h.sim.oauth_stats().unauthorized_api_calls, 2);
}

#[tokio::test]
async fn enterprise_users_are_listed_for_admins() {
    let h = Harness::start().await;
    let users = h.get("/users").await;
    assert_eq!(users.status, 200);
    let logins: Vec<&str> = users.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap())
        .collect();
    assert!(logins.contains(&"admin@example.com") && logins.contains(&"alice@example.com"));
    let alice = h.sim.user_id_by_login("alice@example.com").unwrap();
    let alice_token = h.sim.issue_tokens(&alice).unwrap().access_token;
    assert_eq!(h.get_as(&alice_token, "/users").await.status, 403);
    let one = h.get(&format!("/users/{alice}")).await;
    assert_eq!(one.json["login"], "alice@example.com");
}
