//! Notification channels end to end: the remediator carries out notify actions against a local
//! HTTP server standing in for Slack, Teams and a SOAR, and against a local SMTP server, and the
//! tests read what arrived.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use casb_shared::config::{Settings, SmtpSettings};
use casb_shared::connector::ConnectorRegistry;
use casb_shared::domain::*;
use casb_shared::notify::ChannelsSource;
use casb_shared::pipeline::{remediator, PipelineError};
use casb_shared::Core;
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::support::{queue_message, serve_options, wait_for, Fixture};

crate::on_both_back_ends!(
    slack_teams_and_a_soar_each_receive_the_incident_once,
    a_refused_post_fails_the_action_and_a_rotated_secret_fixes_it,
);

/// One request the stand-in receiver was sent.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// An HTTP server on a random port that records every POST. Paths under `/down` answer 503,
/// as a webhook having an outage would.
async fn receiver() -> (String, Inbox) {
    async fn record(
        State(inbox): State<Inbox>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, &'static str) {
        let path = uri.path().to_string();
        let down = path.starts_with("/down");
        inbox.lock().unwrap().push(Received {
            path,
            headers,
            body,
        });
        if down {
            (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
        } else {
            (StatusCode::OK, "ok")
        }
    }
    let inbox = Inbox::default();
    let app = axum::Router::new()
        .route("/{*path}", axum::routing::post(record))
        .with_state(inbox.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, inbox)
}

fn channels_json(base: &str) -> String {
    // JSON here (the unit tests read YAML): the same parser reads both.
    serde_json::json!({
        "channels": {
            "soc-slack": {"kind": "slack", "url_secret": "notify/soc-slack"},
            "soc-teams": {"kind": "teams", "url_secret": "notify/soc-teams"},
            "soar": {
                "kind": "webhook",
                "url": format!("{base}/soar"),
                "signing_secret": "notify/soar-key"
            },
            "flaky": {"kind": "slack", "url_secret": "notify/flaky"},
            "unset": {"kind": "teams", "url_secret": "notify/unset"}
        }
    })
    .to_string()
}

async fn put_secret(core: &Core, name: &str, value: &str) {
    core.backend
        .secrets
        .put_secret(name, &SecretString::from(value.to_string()))
        .await
        .unwrap();
}

async fn notifying_core(f: &Fixture, base: &str) -> Core {
    let settings = Settings {
        notify_emails: vec!["secops@example.com".into()],
        notify_channels: Some(ChannelsSource::Inline(channels_json(base))),
        ..Settings::default()
    };
    let core = Core::new(f.backend.clone(), settings, ConnectorRegistry::new()).unwrap();
    put_secret(
        &core,
        "notify/soc-slack",
        &format!("{base}/slack/T0/B0/secret-path"),
    )
    .await;
    put_secret(&core, "notify/soc-teams", &format!("{base}/teams/workflow")).await;
    // Stored as `casb secret-put` stores standard input, trailing newline and all.
    put_secret(&core, "notify/soar-key", "soar-signing-key\n").await;
    put_secret(
        &core,
        "notify/flaky",
        &format!("{base}/down/slack-secret-path"),
    )
    .await;
    core
}

/// An incident with one pending notify action per channel (`None`: the default channel), stored
/// as the inspector would store it. Built from JSON so fields added to incidents later default.
async fn incident_notifying(
    core: &Core,
    channels: &[Option<&str>],
) -> (Incident, Vec<ResponseAction>) {
    let id = incident_id(
        "builtin.public-file-link",
        "int-1",
        &uuid::Uuid::new_v4().to_string(),
    );
    let now = chrono::Utc::now();
    let actions: Vec<ResponseAction> = channels
        .iter()
        .map(|channel| ResponseAction {
            id: ResponseAction::id_for(&id, ActionKind::Notify, *channel),
            incident_id: id.clone(),
            tenant_id: "tenant-a".into(),
            integration_id: "int-1".into(),
            provider: Provider::Box,
            kind: ActionKind::Notify,
            object_id: Some("file-1".into()),
            object_type: Some("file".into()),
            channel: channel.map(str::to_string),
            scope: None,
        })
        .collect();
    let records: Vec<serde_json::Value> = actions
        .iter()
        .map(|a| {
            serde_json::json!({
                "action_id": a.id,
                "kind": "notify",
                "channel": a.channel,
                "status": "pending",
                "detail": null,
                "attempts": 0,
                "updated_at": now,
            })
        })
        .collect();
    let incident: Incident = serde_json::from_value(serde_json::json!({
        "id": id,
        "tenant_id": "tenant-a",
        "integration_id": "int-1",
        "policy_id": "builtin.public-file-link",
        "policy_name": "File shared by public link",
        "severity": "high",
        "object": {
            "provider": "box",
            "object_id": "file-1",
            "object_type": "file",
            "object_name": "cards.csv",
            "object_path": "/Finance/cards.csv"
        },
        "activity_id": "act-1",
        "actor_email": "ann@example.com",
        "matches": [{"rule": "public_link", "count": 1}, {"rule": "credit_card", "count": 3}],
        "status": "open",
        "actions": records,
        "created_at": now,
        "updated_at": now,
        "version": 0
    }))
    .unwrap();
    assert!(core
        .backend
        .incidents
        .create_incident(&incident)
        .await
        .unwrap());
    (incident, actions)
}

async fn record_of(core: &Core, action: &ResponseAction) -> ActionRecord {
    core.backend
        .incidents
        .get_incident(&action.tenant_id, &action.incident_id)
        .await
        .unwrap()
        .unwrap()
        .action(&action.id)
        .unwrap()
        .clone()
}

/// HMAC-SHA256 of `{timestamp}.{body}`, computed here with the hmac crate, not by the code
/// under test.
fn expected_signature(key: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn slack_teams_and_a_soar_each_receive_the_incident_once(f: Fixture) {
    let (base, inbox) = receiver().await;
    let core = notifying_core(&f, &base).await;
    let (incident, actions) =
        incident_notifying(&core, &[Some("soc-slack"), Some("soc-teams"), Some("soar")]).await;
    for action in &actions {
        let status = remediator::carry_out(&core, action).await;
        assert!(
            matches!(status, Ok(ActionStatus::Succeeded)),
            "{}: {}: {status:?}",
            f.name,
            action.id
        );
        let record = record_of(&core, action).await;
        assert_eq!(record.status, ActionStatus::Succeeded, "{}", f.name);
        assert_eq!(record.attempts, 1);
        assert!(
            record
                .detail
                .as_deref()
                .unwrap()
                .contains(action.channel.as_deref().unwrap()),
            "{record:?}"
        );
    }
    let received = inbox.lock().unwrap().clone();
    assert_eq!(
        received.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/slack/T0/B0/secret-path", "/teams/workflow", "/soar"],
        "{}",
        f.name
    );

    // Slack: one `text`, with the subject and the facts.
    let slack = received[0].json();
    let text = slack["text"].as_str().expect("Slack's text field");
    assert!(
        text.contains("[CASB] High incident: File shared by public link (/Finance/cards.csv)"),
        "{text}"
    );
    assert!(
        text.contains("Matches: public_link x1, credit_card x3"),
        "{text}"
    );
    assert!(text.contains(&incident.id), "{text}");

    // Teams: an Adaptive Card in a message envelope.
    let teams = received[1].json();
    assert_eq!(teams["type"], "message");
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert!(card["content"]["body"][0]["text"]
        .as_str()
        .unwrap()
        .contains("File shared by public link"));

    // The SOAR: signed with the stored key (trimmed as stored), with the action id as the
    // delivery id, in the header and the body.
    let soar = &received[2];
    let timestamp = soar.header("x-casb-timestamp");
    let signed_at: i64 = timestamp.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - signed_at).abs() < 300,
        "{timestamp}"
    );
    assert_eq!(
        soar.header("x-casb-signature"),
        expected_signature(b"soar-signing-key", timestamp, &soar.body),
        "{}: the signature verifies with the key from the secret store",
        f.name
    );
    assert_ne!(
        soar.header("x-casb-signature"),
        expected_signature(b"another-key", timestamp, &soar.body)
    );
    assert_eq!(soar.header("x-casb-delivery-id"), actions[2].id);
    assert_eq!(soar.header("content-type"), "application/json");
    let payload = soar.json();
    assert_eq!(payload["delivery_id"], actions[2].id);
    assert_eq!(payload["incident"]["id"], incident.id);
    assert_eq!(payload["incident"]["matches"][1]["rule"], "credit_card");
    assert_eq!(payload["incident"]["matches"][1]["count"], 3);

    // Delivered again (a redelivered message, the other ingest path): nothing is posted twice.
    for action in &actions {
        let status = remediator::carry_out(&core, action).await.unwrap();
        assert_eq!(status, ActionStatus::Succeeded);
        assert_eq!(record_of(&core, action).await.attempts, 1);
    }
    assert_eq!(inbox.lock().unwrap().len(), 3, "{}: no second post", f.name);
}

async fn a_refused_post_fails_the_action_and_a_rotated_secret_fixes_it(f: Fixture) {
    let (base, inbox) = receiver().await;
    let core = notifying_core(&f, &base).await;
    let (_, actions) = incident_notifying(&core, &[Some("flaky"), Some("unset")]).await;
    let (flaky, unset) = (&actions[0], &actions[1]);

    // The webhook answers 503: the action fails (the queue retries it), and the incident says
    // why without the URL, which is the channel's credential.
    let error = remediator::carry_out(&core, flaky).await.unwrap_err();
    assert!(matches!(error, PipelineError::Notify(_)), "{error:?}");
    let record = record_of(&core, flaky).await;
    assert_eq!(record.status, ActionStatus::Failed, "{}", f.name);
    let detail = record.detail.unwrap();
    assert!(
        detail.contains("channel 'flaky'") && detail.contains("HTTP 503"),
        "{detail}"
    );
    assert!(
        !detail.contains("secret-path") && !detail.contains("127.0.0.1"),
        "{detail}"
    );

    // The operator replaces the URL in the secret store; the retry reads it and posts.
    put_secret(&core, "notify/flaky", &format!("{base}/slack/fixed")).await;
    assert_eq!(
        remediator::carry_out(&core, flaky).await.unwrap(),
        ActionStatus::Succeeded
    );
    let paths: Vec<String> = inbox
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        paths,
        ["/down/slack-secret-path", "/slack/fixed"],
        "{}",
        f.name
    );
    assert_eq!(record_of(&core, flaky).await.attempts, 2);

    // A channel whose secret was never stored fails, naming the secret to store.
    let error = remediator::carry_out(&core, unset).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("secret notify/unset does not exist"),
        "{error}"
    );
    assert_eq!(record_of(&core, unset).await.status, ActionStatus::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_channel_or_an_unknown_owner_is_unsupported() {
    let f = crate::support::embedded();
    let (base, inbox) = receiver().await;
    let core = notifying_core(&f, &base).await;
    let (_, actions) = incident_notifying(&core, &[Some("pager")]).await;
    assert_eq!(
        remediator::carry_out(&core, &actions[0]).await.unwrap(),
        ActionStatus::Unsupported
    );
    let detail = record_of(&core, &actions[0]).await.detail.unwrap();
    assert!(
        detail.contains(
            "no notification channel named 'pager'; known channels: flaky, owner, security-team, soar, soc-slack, soc-teams, unset"
        ),
        "{detail}"
    );

    // `owner` e-mails the incident's actor; an incident without one has nobody to tell.
    let (incident, actions) = incident_notifying(&core, &[Some("owner")]).await;
    let mut stored = core
        .backend
        .incidents
        .get_incident(&incident.tenant_id, &incident.id)
        .await
        .unwrap()
        .unwrap();
    stored.actor_email = None;
    core.backend
        .incidents
        .update_incident(&stored)
        .await
        .unwrap();
    assert_eq!(
        remediator::carry_out(&core, &actions[0]).await.unwrap(),
        ActionStatus::Unsupported
    );
    assert!(inbox.lock().unwrap().is_empty());
    assert!(f.outbox.unwrap().sent().await.unwrap().is_empty());
}

/// One message as an SMTP server saw it.
#[derive(Debug, Clone, Default)]
struct SmtpMessage {
    from: String,
    to: Vec<String>,
    /// Headers and body, folded header lines joined again.
    data: String,
}

/// A minimal SMTP server over plain TCP: enough of RFC 5321 for one client to hand over
/// messages (EHLO, MAIL, RCPT, DATA, QUIT), recording each.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<SmtpMessage>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let sink = messages.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let sink = sink.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let mut current = SmtpMessage::default();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 sink\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        current = SmtpMessage {
                            from: line[10..].trim().to_string(),
                            ..SmtpMessage::default()
                        };
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        current.to.push(line[8..].trim().to_string());
                        b"250 ok\r\n"
                    } else if upper == "DATA" {
                        write
                            .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                            .await
                            .unwrap();
                        let mut data = Vec::new();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if line == "." {
                                break;
                            }
                            data.push(line);
                        }
                        current.data = data.join("\r\n").replace("\r\n ", " ");
                        sink.lock().unwrap().push(std::mem::take(&mut current));
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"502 not implemented\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, messages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn casb_serve_mails_the_security_team_and_the_owner_over_smtp() {
    let (port, mailbox) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let options = casb_shared::local::ServeOptions {
        // TLS off only because the sink speaks plain TCP; without `tls=none` it would be
        // required.
        smtp: Some(
            SmtpSettings::parse(
                &format!("smtp://127.0.0.1:{port}?tls=none"),
                None,
                "casb@example.com".into(),
            )
            .unwrap(),
        ),
        ..serve_options(dir.path())
    };
    let settings = Settings {
        notify_emails: vec!["secops@example.com".into(), "lead@example.com".into()],
        ..Settings::default()
    };
    let instance =
        casb_shared::local::LocalInstance::start(options, settings, |_| ConnectorRegistry::new())
            .await
            .unwrap();
    let core = instance.core.clone();
    let (_, actions) = incident_notifying(&core, &[None, Some("owner")]).await;
    // Through the actions queue, to the instance's own remediator worker.
    core.backend
        .action_queue
        .send_batch(actions.iter().cloned().map(queue_message).collect())
        .await
        .unwrap();

    let mut delivered = wait_for(|| async {
        let delivered = mailbox.lock().unwrap().clone();
        (delivered.len() >= 2).then_some(delivered)
    })
    .await
    .expect("two messages reach the SMTP server");
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    delivered.sort_by_key(|m| m.to.len());
    let (owner, team) = (&delivered[0], &delivered[1]);
    assert_eq!(team.from, "<casb@example.com>");
    assert_eq!(team.to, ["<secops@example.com>", "<lead@example.com>"]);
    assert_eq!(owner.to, ["<ann@example.com>"]);
    for message in [owner, team] {
        assert!(
            message.data.contains(
                "Subject: [CASB] High incident: File shared by public link (/Finance/cards.csv)"
            ),
            "{}",
            message.data
        );
        assert!(message
            .data
            .contains("Matches: public_link x1, credit_card x3"));
    }
    for action in &actions {
        let recorded = wait_for(|| async {
            Some(record_of(&core, action).await).filter(|r| r.status.is_final())
        })
        .await
        .expect("the action's outcome is recorded");
        assert_eq!(recorded.status, ActionStatus::Succeeded, "{}", action.id);
    }
    // The outbox still lists what was sent.
    assert_eq!(instance.embedded.outbox.sent().await.unwrap().len(), 2);
    instance.shutdown().await;
}
