//! Notifications: where a [`ActionKind::Notify`](crate::domain::ActionKind::Notify) response
//! action goes, and what it says.
//!
//! A notify action names a channel (`ResponseAction::channel`); none means `security-team`.
//! Channels are named in the channels file (`CASB_NOTIFY_CHANNELS`, a YAML or JSON file, or its
//! content in `CASB_NOTIFY_CHANNELS_JSON` for Lambda), one of four kinds:
//!
//! - `email`: `to`, a list of addresses, sent through the back end's mailer (SES in AWS; SMTP
//!   for `casb serve` when `CASB_SMTP_URL` is set, else only its outbox table);
//! - `slack`: `url_secret`, the secret holding a Slack incoming-webhook URL;
//! - `teams`: `url_secret`, the secret holding a Teams Workflows (or incoming) webhook URL; an
//!   Adaptive Card is posted;
//! - `webhook`: `url` (or `url_secret` when the URL carries a token) and `signing_secret`: a JSON
//!   POST signed with HMAC-SHA256 over `{timestamp}.{body}` ([`webhooks::SIGNATURE_HEADER`],
//!   [`webhooks::TIMESTAMP_HEADER`]) and carrying the action id as
//!   [`webhooks::DELIVERY_ID_HEADER`], so a SOAR can drop a resend.
//!
//! Secrets are never in the file: it names them, under `notify/`, and they are read from the
//! back end's secret store at each send (a rotated Slack URL needs no restart).
//!
//! Two names are always there:
//! - `security-team`: e-mail to `CASB_NOTIFY_EMAILS`, unless the file defines it otherwise;
//! - `owner`: e-mail to the file's owner (`Incident::owner_email`, when the provider names one),
//!   else to the user the incident names (`Incident::actor_email`: the person who shared or
//!   uploaded the file), so they can fix their own exposure. It cannot be redefined;
//!   an incident without an actor address makes it unsupported, not failed.
//!
//! Every channel says the same thing ([`message::render`]): the policy, severity, object, actor,
//! the detectors that matched with their counts, never a matched value.
//!
//! Sent once: the remediator records each action's final status under the action's lease and
//! skips an action already done, so a redelivered message sends nothing. A crash between the
//! send and the record can resend; the delivery id lets a webhook receiver see that, and Slack,
//! Teams and e-mail show the duplicate.

pub mod channels;
pub mod message;
pub mod webhooks;

pub use channels::{Channel, Channels, ChannelsSource, Endpoint, OWNER, SECURITY_TEAM};
pub use message::{render, Message};

use secrecy::ExposeSecret;

use crate::backend::Backend;
use crate::connector::ActionOutcome;
use crate::domain::{Incident, ResponseAction};
use crate::ports::{Email, MailError, SecretError};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("channel '{channel}': secret {secret} does not exist: store it (`casb secret-put {secret}`, or in Secrets Manager under the stack's prefix)")]
    MissingSecret { channel: String, secret: String },
    #[error("channel '{channel}' cannot be used: {detail}")]
    Endpoint { channel: String, detail: String },
    #[error("channel '{channel}': the endpoint could not be reached: {detail}")]
    Unreachable { channel: String, detail: String },
    #[error("channel '{channel}': the endpoint answered HTTP {status}: {body}")]
    Refused {
        channel: String,
        status: u16,
        body: String,
    },
}

/// Carries out notify actions on the configured channels.
pub struct Notifier {
    channels: Channels,
    http: reqwest::Client,
}

impl Notifier {
    pub fn new(channels: Channels) -> Self {
        Notifier {
            channels,
            http: webhooks::client(),
        }
    }

    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// Sends `incident` on the channel `action` names. An unknown channel, or one with nobody
    /// to send to, is [`ActionOutcome::Unsupported`] (retrying will not help); a send that
    /// fails is an error, so the queue retries the action.
    pub async fn notify(
        &self,
        backend: &Backend,
        incident: &Incident,
        action: &ResponseAction,
    ) -> Result<ActionOutcome, NotifyError> {
        let name = action.channel.as_deref().unwrap_or(SECURITY_TEAM);
        let owner;
        let channel = if name == OWNER {
            let Some(address) = incident
                .owner_email
                .as_ref()
                .or(incident.actor_email.as_ref())
            else {
                return Ok(ActionOutcome::Unsupported {
                    reason: "the incident names no user e-mail address to notify".into(),
                });
            };
            owner = Channel::Email {
                to: vec![address.clone()],
            };
            &owner
        } else {
            match self.channels.get(name) {
                Some(channel) => channel,
                None => {
                    return Ok(ActionOutcome::Unsupported {
                        reason: format!(
                            "no notification channel named '{name}'; known channels: {}",
                            self.channels.names().join(", ")
                        ),
                    })
                }
            }
        };
        let message = render(incident);
        let detail = match channel {
            Channel::Email { to } => {
                if to.is_empty() {
                    return Ok(ActionOutcome::Unsupported {
                        reason: format!("channel '{name}' has no recipients: set CASB_NOTIFY_EMAILS or define it in CASB_NOTIFY_CHANNELS"),
                    });
                }
                backend
                    .mailer
                    .send(&Email {
                        to: to.clone(),
                        subject: message.subject.clone(),
                        body: message.text(),
                    })
                    .await?;
                format!("notified {} by e-mail", to.join(", "))
            }
            Channel::Slack { url_secret } => {
                let url = read_secret(backend, name, url_secret).await?;
                let body = webhooks::slack_payload(&message).to_string();
                webhooks::post(&self.http, name, &url, body.into_bytes(), &[]).await?;
                format!("posted to Slack channel '{name}'")
            }
            Channel::Teams { url_secret } => {
                let url = read_secret(backend, name, url_secret).await?;
                let body = webhooks::teams_payload(&message).to_string();
                webhooks::post(&self.http, name, &url, body.into_bytes(), &[]).await?;
                format!("posted to Teams channel '{name}'")
            }
            Channel::Webhook {
                endpoint,
                signing_secret,
            } => {
                let url = match endpoint {
                    Endpoint::Url(url) => url.clone(),
                    Endpoint::Secret(secret) => read_secret(backend, name, secret).await?,
                };
                let key = read_secret(backend, name, signing_secret).await?;
                let now = backend.clock.now();
                let body = webhooks::webhook_payload(incident, &action.id, name, &message, now)
                    .to_string()
                    .into_bytes();
                let timestamp = now.timestamp();
                let headers = [
                    (
                        webhooks::SIGNATURE_HEADER,
                        webhooks::signature(key.as_bytes(), timestamp, &body),
                    ),
                    (webhooks::TIMESTAMP_HEADER, timestamp.to_string()),
                    (webhooks::DELIVERY_ID_HEADER, action.id.clone()),
                ];
                let status = webhooks::post(&self.http, name, &url, body, &headers).await?;
                format!("delivered to webhook '{name}' (HTTP {status})")
            }
        };
        Ok(ActionOutcome::done(detail))
    }
}

/// A secret's value as a string (a URL or an HMAC key); held only for the send.
async fn read_secret(
    backend: &Backend,
    channel: &str,
    secret: &str,
) -> Result<String, NotifyError> {
    match backend.secrets.get_secret(secret).await? {
        Some(stored) => Ok(stored.value.expose_secret().trim().to_string()),
        None => Err(NotifyError::MissingSecret {
            channel: channel.to_string(),
            secret: secret.to_string(),
        }),
    }
}
