//! The client credentials grant with a certificate-signed client assertion.

use m365_simulator::{
    assertion_claims, test_certificate, CertificateKeyPair, Resource, SimConfig,
    CLIENT_ASSERTION_TYPE,
};
use serde_json::{json, Value};

use crate::common::{send, Harness, Reply};

async fn harness_with_certificate() -> Harness {
    Harness::start_with(SimConfig {
        client_certificate_public_key_der: Some(test_certificate().public_key_der.clone()),
        ..SimConfig::default()
    })
    .await
}

async fn request_with_assertion(h: &Harness, assertion: &str) -> Reply {
    send(h.http.post(h.sim.token_url()).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", h.config.client_id.as_str()),
        ("scope", "https://manage.office.com/.default"),
        ("client_assertion_type", CLIENT_ASSERTION_TYPE),
        ("client_assertion", assertion),
    ]))
    .await
}

fn claims(h: &Harness) -> Value {
    assertion_claims(
        &h.config.client_id,
        &format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            h.config.tenant_id
        ),
    )
}

#[tokio::test]
async fn rs256_and_ps256_assertions_get_tokens() {
    let h = harness_with_certificate().await;
    for alg in ["RS256", "PS256"] {
        let assertion = test_certificate().sign(alg, &claims(&h)).unwrap();
        let reply = request_with_assertion(&h, &assertion).await;
        assert_eq!(reply.status, 200, "{alg}: {}", reply.text);
        assert_eq!(reply.json["token_type"], "Bearer");
    }
    // The simulator's own token URL is an accepted audience too.
    let own = assertion_claims(&h.config.client_id, &h.sim.token_url());
    let reply = request_with_assertion(&h, &test_certificate().sign("RS256", &own).unwrap()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(h.sim.token_requests(Resource::Manage), 3);
}

fn error_code(reply: &Reply) -> u64 {
    reply.json["error_codes"][0].as_u64().unwrap_or_default()
}

#[tokio::test]
async fn bad_assertions_are_refused_with_aadsts_codes() {
    let h = harness_with_certificate().await;
    let key = test_certificate();

    let other_key = CertificateKeyPair::generate().unwrap();
    let wrong_key =
        request_with_assertion(&h, &other_key.sign("RS256", &claims(&h)).unwrap()).await;
    assert_eq!(wrong_key.status, 401);
    assert_eq!(wrong_key.json["error"], "invalid_client");
    assert_eq!(error_code(&wrong_key), 700027);

    let mut wrong_audience = claims(&h);
    wrong_audience["aud"] = json!("https://login.microsoftonline.com/common/oauth2/v2.0/token");
    let reply = request_with_assertion(&h, &key.sign("RS256", &wrong_audience).unwrap()).await;
    assert_eq!(error_code(&reply), 700023, "{}", reply.text);

    let mut expired = claims(&h);
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 60);
    let reply = request_with_assertion(&h, &key.sign("RS256", &expired).unwrap()).await;
    assert_eq!(error_code(&reply), 700024);

    let mut other_issuer = claims(&h);
    other_issuer["iss"] = json!("someone-else");
    let reply = request_with_assertion(&h, &key.sign("RS256", &other_issuer).unwrap()).await;
    assert_eq!(error_code(&reply), 700021);

    let no_thumbprint = key
        .sign_with_header(&json!({"alg": "RS256", "typ": "JWT"}), &claims(&h))
        .unwrap();
    let reply = request_with_assertion(&h, &no_thumbprint).await;
    assert_eq!(error_code(&reply), 700027);

    let mut no_jti = claims(&h);
    no_jti.as_object_mut().unwrap().remove("jti");
    let reply = request_with_assertion(&h, &key.sign("RS256", &no_jti).unwrap()).await;
    assert_eq!(reply.status, 400);

    let valid = key.sign("RS256", &claims(&h)).unwrap();
    let mut parts: Vec<&str> = valid.split('.').collect();
    let forged_claims = {
        let mut forged = claims(&h);
        forged["iss"] = json!("attacker");
        base64_url(&forged.to_string())
    };
    parts[1] = &forged_claims;
    let reply = request_with_assertion(&h, &parts.join(".")).await;
    assert_eq!(error_code(&reply), 700027);

    // One assertion, one token.
    assert_eq!(request_with_assertion(&h, &valid).await.status, 200);
    assert_eq!(request_with_assertion(&h, &valid).await.status, 401);

    let garbage = request_with_assertion(&h, "not-a-jwt").await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.json["error"], "invalid_request");
}

#[tokio::test]
async fn an_app_without_a_certificate_refuses_assertions() {
    let h = Harness::start().await;
    let assertion = test_certificate().sign("RS256", &claims(&h)).unwrap();
    let reply = request_with_assertion(&h, &assertion).await;
    assert_eq!(reply.status, 401);
    assert_eq!(error_code(&reply), 700027);
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text.as_bytes())
}
