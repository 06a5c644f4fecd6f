//! Box's server-authentication grants: client credentials (CCG) and JWT. Both answer an
//! access token only, acting as the enterprise's service account or as a managed user.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::Engine;
use box_simulator::jwt::{self, JwtKeyPair};
use box_simulator::SimConfig;
use serde_json::{json, Value};

use crate::common::{send, Harness, Reply};

async fn token_request(h: &Harness, form: &[(&str, &str)]) -> Reply {
    send(h.http.post(h.sim.token_url()).form(form)).await
}

async fn ccg(h: &Harness, subject_type: &str, subject_id: &str) -> Reply {
    let config = h.sim.config().clone();
    token_request(
        h,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
            ("box_subject_type", subject_type),
            ("box_subject_id", subject_id),
        ],
    )
    .await
}

/// The access token of a successful server-authentication answer, which has no refresh token.
fn access_only(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["token_type"], "bearer");
    assert_eq!(reply.json["expires_in"], 3600);
    assert!(
        reply.json.get("refresh_token").is_none(),
        "server authentication gets no refresh token: {}",
        reply.text
    );
    reply.json["access_token"].as_str().unwrap().to_string()
}

fn assert_oauth_error(reply: &Reply, error: &str, description_part: &str) {
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json["error"], error, "{}", reply.text);
    let description = reply.json["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(description_part),
        "{description:?} mentions {description_part:?}"
    );
}

#[tokio::test]
async fn client_credentials_act_as_the_service_account_or_a_managed_user() {
    let h = Harness::start().await;
    let enterprise_id = h.sim.enterprise_id();

    let service = access_only(&ccg(&h, "enterprise", &enterprise_id).await);
    let me = h.get_as(&service, "/users/me").await;
    assert_eq!(me.json["enterprise"]["id"], enterprise_id.as_str());
    assert_eq!(me.json["role"], "admin");
    assert_eq!(h.get_as(&service, "/users").await.status, 200);

    let alice = h.sim.user_id_by_login("alice@example.com").unwrap();
    let as_alice = access_only(&ccg(&h, "user", &alice).await);
    assert_eq!(
        h.get_as(&as_alice, "/users/me").await.json["id"],
        alice.as_str()
    );
    assert_eq!(h.get_as(&as_alice, "/users").await.status, 403);

    let stats = h.sim.oauth_stats();
    assert_eq!(stats.client_credentials_grants, 2);
    // The harness's own admin pair plus the two grants.
    assert_eq!(stats.access_tokens_issued, 3);
}

#[tokio::test]
async fn client_credentials_with_a_wrong_subject_get_box_errors() {
    let h = Harness::start().await;
    let outsider = h
        .sim
        .create_user("Eve", "eve@other.org", "user")
        .unwrap()
        .id;
    for (subject_type, subject_id) in [
        ("enterprise", "999999"),
        ("user", outsider.as_str()),
        ("user", "424242"),
        ("user", "2"),
    ] {
        assert_oauth_error(
            &ccg(&h, subject_type, subject_id).await,
            "invalid_grant",
            "Grant credentials are invalid",
        );
    }
    let enterprise_id = h.sim.enterprise_id();
    assert_oauth_error(
        &ccg(&h, "group", &enterprise_id).await,
        "unauthorized_client",
        "box_subject_type",
    );
    let config = h.sim.config().clone();
    let missing = token_request(
        &h,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
            ("box_subject_type", "enterprise"),
        ],
    )
    .await;
    assert_oauth_error(&missing, "invalid_request", "box_subject_id");
    let wrong_secret = token_request(
        &h,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &config.client_id),
            ("client_secret", "wrong"),
            ("box_subject_type", "enterprise"),
            ("box_subject_id", &enterprise_id),
        ],
    )
    .await;
    assert_oauth_error(&wrong_secret, "invalid_client", "");
    let stats = h.sim.oauth_stats();
    assert_eq!(stats.client_credentials_grants, 0);
    assert_eq!(stats.access_tokens_issued, 1, "only the harness's own pair");
    assert_eq!(stats.rejected_token_requests, 7);
}

async fn jwt_harness() -> Harness {
    Harness::start_with(jwt::test_key_pair().configure(SimConfig::default())).await
}

async fn jwt_grant(h: &Harness, assertion: &str) -> Reply {
    let config = h.sim.config().clone();
    token_request(
        h,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ],
    )
    .await
}

/// Valid claims for the enterprise, with `changes` merged in.
fn enterprise_claims(h: &Harness, changes: Value) -> Value {
    let mut claims = jwt::assertion_claims(
        &h.sim.config().client_id,
        "enterprise",
        &h.sim.enterprise_id(),
    );
    for (key, value) in changes.as_object().unwrap() {
        claims[key] = value.clone();
    }
    claims
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Signs like a client would, from the PEM private key alone, independently of the
/// simulator's own signer.
fn sign_from_pem(private_key_pem: &str, kid: &str, claims: &Value) -> String {
    let der = jwt::der_from_pem(private_key_pem).expect("a PEM private key");
    let key = RsaKeyPair::from_pkcs8(&der).expect("PKCS#8 RSA key");
    let encode = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    let input = format!(
        "{}.{}",
        encode(&json!({"alg": "RS256", "typ": "JWT", "kid": kid})),
        encode(claims)
    );
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!(
        "{input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
    )
}

#[tokio::test]
async fn jwt_assertions_signed_with_the_configured_key_get_access_tokens() {
    let h = jwt_harness().await;
    let key = jwt::test_key_pair();
    let claims = enterprise_claims(&h, json!({}));
    let assertion = sign_from_pem(&key.private_key_pem, &key.key_id, &claims);
    let service = access_only(&jwt_grant(&h, &assertion).await);
    let me = h.get_as(&service, "/users/me").await.json;
    assert_eq!(me["id"], h.admin.as_str());
    assert_eq!(me["enterprise"]["id"], h.sim.enterprise_id().as_str());

    // The same assertion again: its jti is spent.
    assert_oauth_error(&jwt_grant(&h, &assertion).await, "invalid_grant", "'jti'");

    let carol = h.sim.user_id_by_login("carol@example.com").unwrap();
    let as_carol = jwt::assertion_claims(&h.sim.config().client_id, "user", &carol);
    let token = access_only(&jwt_grant(&h, &key.sign(&as_carol).unwrap()).await);
    assert_eq!(
        h.get_as(&token, "/users/me").await.json["id"],
        carol.as_str()
    );

    // The simulator's own token URL is an accepted audience too, as is an array holding it.
    for aud in [json!(h.sim.token_url()), json!(["x", jwt::BOX_TOKEN_URL])] {
        let claims = enterprise_claims(&h, json!({"aud": aud}));
        access_only(&jwt_grant(&h, &key.sign(&claims).unwrap()).await);
    }
    // jti length bounds: 16 and 128 characters are fine.
    for jti in ["j".repeat(16), "k".repeat(128)] {
        let claims = enterprise_claims(&h, json!({"jti": jti}));
        access_only(&jwt_grant(&h, &key.sign(&claims).unwrap()).await);
    }
    let stats = h.sim.oauth_stats();
    assert_eq!(stats.jwt_grants, 6);
    assert_eq!(
        stats.access_tokens_issued, 7,
        "the harness's pair and six grants"
    );
}

#[tokio::test]
async fn jwt_assertions_that_break_a_rule_are_refused() {
    let h = jwt_harness().await;
    let key = jwt::test_key_pair();
    let outsider = h
        .sim
        .create_user("Eve", "eve@other.org", "user")
        .unwrap()
        .id;
    let now = now_secs();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"exp": now - 5}), "'exp'"),
        (json!({"exp": now + 120}), "60 seconds"),
        (json!({"exp": "soon"}), "'exp'"),
        (json!({"jti": "j".repeat(15)}), "'jti'"),
        (json!({"jti": "k".repeat(129)}), "'jti'"),
        (json!({"aud": "https://api.box.com/2.0"}), "'aud'"),
        (json!({"iss": "another-client"}), "'iss'"),
        (json!({"sub": "999999"}), "'sub'"),
        (json!({"box_sub_type": "user", "sub": outsider}), "'sub'"),
        (json!({"box_sub_type": "group"}), "'box_sub_type'"),
    ];
    for (changes, mentions) in cases {
        let claims = enterprise_claims(&h, changes.clone());
        let reply = jwt_grant(&h, &key.sign(&claims).unwrap()).await;
        assert_oauth_error(&reply, "invalid_grant", mentions);
    }

    let claims = enterprise_claims(&h, json!({}));
    // Signed by a key the app does not know, under the right kid.
    let stranger = JwtKeyPair::generate(&key.key_id).unwrap();
    let forged = stranger.sign(&claims).unwrap();
    assert_oauth_error(&jwt_grant(&h, &forged).await, "invalid_grant", "Signature");
    // The right key, but a kid the app does not have.
    let wrong_kid = sign_from_pem(&key.private_key_pem, "another-kid", &claims);
    assert_oauth_error(
        &jwt_grant(&h, &wrong_kid).await,
        "invalid_grant",
        "Signature",
    );
    // A header that claims HMAC is refused before the signature is checked.
    let hmac_header = key
        .sign_with_header(&json!({"alg": "HS256", "kid": key.key_id}), &claims)
        .unwrap();
    assert_oauth_error(&jwt_grant(&h, &hmac_header).await, "invalid_grant", "'alg'");
    assert_oauth_error(&jwt_grant(&h, "not.a-jwt").await, "invalid_grant", "JWT");

    let config = h.sim.config().clone();
    let good = key.sign(&claims).unwrap();
    let wrong_secret = token_request(
        &h,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &good),
            ("client_id", &config.client_id),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_oauth_error(&wrong_secret, "invalid_client", "");
    // None of the refusals spent the jti of the good assertion.
    access_only(&jwt_grant(&h, &good).await);
    assert_eq!(h.sim.oauth_stats().jwt_grants, 1);
}

#[tokio::test]
async fn jwt_needs_a_configured_public_key_or_the_control_api_test_key() {
    let h = Harness::start().await;
    let key = jwt::test_key_pair();
    let claims = enterprise_claims(&h, json!({}));
    assert_oauth_error(
        &jwt_grant(&h, &key.sign(&claims).unwrap()).await,
        "invalid_request",
        "grant type is unauthorized",
    );

    let setup = send(
        h.http
            .post(format!("{}/jwt/test-key", h.sim.control_base())),
    )
    .await;
    assert_eq!(setup.status, 200, "{}", setup.text);
    assert_eq!(setup.json["enterprise_id"], h.sim.enterprise_id().as_str());
    let pem = setup.json["private_key_pem"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let kid = setup.json["key_id"].as_str().unwrap();
    let assertion = sign_from_pem(pem, kid, &enterprise_claims(&h, json!({})));
    access_only(&jwt_grant(&h, &assertion).await);
    let config = send(h.http.get(format!("{}/config", h.sim.control_base()))).await;
    assert_eq!(config.json["jwt_configured"], true);
    assert_eq!(config.json["jwt_key_id"], kid);
}
