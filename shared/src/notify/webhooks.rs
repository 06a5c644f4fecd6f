//! The HTTP channels: Slack and Teams incoming webhooks, and a generic JSON webhook signed with
//! HMAC-SHA256 for a SOAR.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::message::Message;
use super::NotifyError;
use crate::connector::http::{secure_or_loopback, without_url};
use crate::domain::Incident;

/// `sha256=<hex>`: HMAC-SHA256 of `{timestamp}.{body}` under the channel's signing secret.
pub const SIGNATURE_HEADER: &str = "X-CASB-Signature";
/// Unix seconds when the request was signed; part of the signed text, so a receiver can refuse
/// a replay outside its window (five minutes, say).
pub const TIMESTAMP_HEADER: &str = "X-CASB-Timestamp";
/// The response action's id: the same on every resend of one notification, so a receiver can
/// drop a duplicate.
pub const DELIVERY_ID_HEADER: &str = "X-CASB-Delivery-Id";

/// What the receiver computes to check [`SIGNATURE_HEADER`].
pub fn signature(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Slack's incoming-webhook message: `text` is mrkdwn, where `&`, `<` and `>` must be escaped
/// (<https://api.slack.com/reference/surfaces/formatting#escaping>), or a file named `<!here>`
/// would page the channel.
pub fn slack_payload(message: &Message) -> Value {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    json!({ "text": format!("*{}*\n{}", escape(&message.subject), escape(&message.text())) })
}

/// An Adaptive Card in the message envelope that both Teams Workflows webhooks ("Post to a
/// channel when a webhook request is received") and the retiring Office 365 incoming webhooks
/// accept: <https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook>.
pub fn teams_payload(message: &Message) -> Value {
    let facts: Vec<Value> = message
        .facts
        .iter()
        .map(|(title, value)| json!({ "title": title, "value": value }))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {
                        "type": "TextBlock",
                        "text": message.subject,
                        "weight": "Bolder",
                        "size": "Medium",
                        "wrap": true
                    },
                    { "type": "FactSet", "facts": facts }
                ]
            }
        }]
    })
}

/// The generic webhook's body: the rendered message for people, the incident's fields for
/// machines. `delivery_id` repeats [`DELIVERY_ID_HEADER`].
pub fn webhook_payload(
    incident: &Incident,
    delivery_id: &str,
    channel: &str,
    message: &Message,
    sent_at: DateTime<Utc>,
) -> Value {
    json!({
        "type": "casb.incident",
        "delivery_id": delivery_id,
        "channel": channel,
        "sent_at": sent_at,
        "subject": message.subject,
        "text": message.text(),
        "incident": {
            "id": incident.id,
            "tenant_id": incident.tenant_id,
            "integration_id": incident.integration_id,
            "policy_id": incident.policy_id,
            "policy_name": incident.policy_name,
            "severity": incident.severity,
            "status": incident.status,
            "object": incident.object,
            "activity_id": incident.activity_id,
            "actor_email": incident.actor_email,
            "matches": incident.matches,
            "created_at": incident.created_at,
        }
    })
}

/// The client every HTTP channel posts with. Redirects are not followed: a webhook that moved
/// is a configuration to fix, and following one would resend the signed body elsewhere.
pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(20))
        .user_agent(concat!("casb/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with these settings always builds")
}

/// POSTs `body` as JSON; anything but a 2xx is an error (the action is retried). Neither the
/// URL nor the headers appear in an error: the URL may be the credential.
pub(super) async fn post(
    client: &reqwest::Client,
    channel: &str,
    url: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Result<u16, NotifyError> {
    let unusable = |why: &str| NotifyError::Endpoint {
        channel: channel.to_string(),
        detail: why.to_string(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| unusable("its URL does not parse"))?;
    if !secure_or_loopback(&parsed) {
        return Err(unusable(
            "its URL must be https:// (plain http only to localhost)",
        ));
    }
    let mut request = client
        .post(parsed)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.map_err(|e| NotifyError::Unreachable {
        channel: channel.to_string(),
        detail: without_url(&e),
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let text = response.text().await.unwrap_or_default();
    Err(NotifyError::Refused {
        channel: channel.to_string(),
        status: status.as_u16(),
        body: text.chars().take(200).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::message::{render, tests::incident};

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed outside Rust: python3 -c 'import hmac,hashlib; print(hmac.new(
        // b"whsec-test-key", b"1764331200.{\"delivery_id\":\"inc-1#notify#soar\"}",
        // hashlib.sha256).hexdigest())'
        assert_eq!(
            signature(
                b"whsec-test-key",
                1_764_331_200,
                br#"{"delivery_id":"inc-1#notify#soar"}"#
            ),
            "sha256=44a677aacda788c55d3976b55e31a96c2d817e1bb81c771f028fdd61beebaf2d"
        );
        // Another timestamp or key signs differently.
        let body = br#"{"delivery_id":"inc-1#notify#soar"}"#;
        assert_ne!(
            signature(b"whsec-test-key", 1_764_331_201, body),
            signature(b"whsec-test-key", 1_764_331_200, body)
        );
        assert_ne!(
            signature(b"whsec-other-key", 1_764_331_200, body),
            signature(b"whsec-test-key", 1_764_331_200, body)
        );
    }

    #[test]
    fn slack_text_is_escaped_and_teams_gets_an_adaptive_card() {
        let mut incident = incident();
        incident.object.object_path = Some("/Shared/<!here> & more.csv".into());
        let message = render(&incident);
        let slack = slack_payload(&message);
        let text = slack["text"].as_str().unwrap();
        assert!(text.contains("&lt;!here&gt; &amp; more.csv"), "{text}");
        assert!(!text.contains("<!here>"), "{text}");

        let teams = teams_payload(&message);
        let attachment = &teams["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachment["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["body"][0]["text"], message.subject);
        assert_eq!(card["body"][1]["facts"][5]["title"], "Matches");
        assert_eq!(
            card["body"][1]["facts"][5]["value"],
            "credit_card x3, public_link x1"
        );
    }

    #[test]
    fn the_webhook_body_carries_the_delivery_id_and_the_incident() {
        let incident = incident();
        let at = "2026-11-24T10:05:00Z".parse().unwrap();
        let body = webhook_payload(
            &incident,
            "inc-1#notify#soar",
            "soar",
            &render(&incident),
            at,
        );
        assert_eq!(body["delivery_id"], "inc-1#notify#soar");
        assert_eq!(body["incident"]["severity"], "high");
        assert_eq!(body["incident"]["matches"][0]["rule"], "credit_card");
        assert_eq!(
            body["incident"]["object"]["object_path"],
            "/Finance/cards.csv"
        );
        assert!(body["incident"].get("actions").is_none());
    }
}
