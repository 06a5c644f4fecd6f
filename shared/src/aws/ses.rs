use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use super::describe;
use crate::ports::{Email, MailError, Mailer};

/// Notifications through SES (API v2), from a verified sender identity.
#[derive(Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: &str) -> Self {
        SesMailer {
            client,
            from: from.to_string(),
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        if email.to.is_empty() {
            return Err(MailError::NoRecipients);
        }
        let content = |text: &str| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(|e| MailError::Rejected(e.to_string()))
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().text(content(&email.body)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(email.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some() {
                    MailError::Rejected(describe(&e))
                } else {
                    MailError::Unavailable(describe(&e))
                }
            })?;
        Ok(())
    }
}
