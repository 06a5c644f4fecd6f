use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{SmtpSettings, SmtpTls};
use crate::ports::{Email, MailError, Mailer, SecretStore};

/// Notifications over SMTP, for `casb serve` (the Lambda functions use SES). One connection per
/// message: incidents are rare, and a fresh connection picks up a rotated password.
pub struct SmtpMailer {
    settings: SmtpSettings,
    from: Mailbox,
    secrets: Arc<dyn SecretStore>,
}

impl SmtpMailer {
    /// Fails when the sender is not an address lettre accepts.
    pub fn new(settings: SmtpSettings, secrets: Arc<dyn SecretStore>) -> Result<Self, MailError> {
        let from = settings.from.parse().map_err(|e| {
            MailError::Misconfigured(format!(
                "CASB_MAIL_FROM '{}' is not a mailbox: {e}",
                settings.from
            ))
        })?;
        Ok(SmtpMailer {
            settings,
            from,
            secrets,
        })
    }

    async fn credentials(&self) -> Result<Option<Credentials>, MailError> {
        let Some(user) = &self.settings.username else {
            return Ok(None);
        };
        let password = match (&self.settings.password, &self.settings.password_secret) {
            (Some(password), _) => password.expose_secret().to_string(),
            (None, Some(name)) => {
                let stored = self
                    .secrets
                    .get_secret(name)
                    .await
                    .map_err(|e| MailError::Unavailable(e.to_string()))?
                    .ok_or_else(|| {
                        MailError::Misconfigured(format!(
                            "secret {name} (CASB_SMTP_PASSWORD_SECRET) does not exist: store the SMTP password with `casb secret-put {name}`"
                        ))
                    })?;
                stored.value.expose_secret().trim_end().to_string()
            }
            (None, None) => String::new(),
        };
        Ok(Some(Credentials::new(user.clone(), password)))
    }

    fn transport(
        &self,
        credentials: Option<Credentials>,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        let host = &self.settings.host;
        let parameters = || {
            TlsParameters::new(host.clone())
                .map_err(|e| MailError::Misconfigured(format!("TLS for {host}: {e}")))
        };
        let tls = match self.settings.tls {
            SmtpTls::Implicit => Tls::Wrapper(parameters()?),
            SmtpTls::StartTls => Tls::Required(parameters()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(self.settings.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        Ok(builder.build())
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        if email.to.is_empty() {
            return Err(MailError::NoRecipients);
        }
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        for to in &email.to {
            let mailbox: Mailbox = to
                .parse()
                .map_err(|e| MailError::Rejected(format!("'{to}' is not a mailbox: {e}")))?;
            message = message.to(mailbox);
        }
        let message = message
            .body(email.body.clone())
            .map_err(|e| MailError::Rejected(e.to_string()))?;
        let transport = self.transport(self.credentials().await?)?;
        transport.send(message).await.map_err(|e| {
            let text = format!("{} ({})", e, self.settings);
            if e.is_permanent() {
                MailError::Rejected(text)
            } else {
                MailError::Unavailable(text)
            }
        })?;
        Ok(())
    }
}
