use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::params;

use super::database::{millis, Database};
use crate::ports::{Email, MailError, Mailer};

/// Keeps every notification in the database's `outbox` table and logs it. With a relay (SMTP)
/// it sends through the relay first and records only what the relay accepted, so the outbox is
/// the list of what was sent either way.
#[derive(Clone)]
pub struct OutboxMailer {
    database: Database,
    relay: Option<Arc<dyn Mailer>>,
}

impl OutboxMailer {
    pub fn new(database: Database) -> Self {
        OutboxMailer {
            database,
            relay: None,
        }
    }

    /// An outbox that sends each message through `relay` before recording it.
    pub fn relaying(database: Database, relay: Arc<dyn Mailer>) -> Self {
        OutboxMailer {
            database,
            relay: Some(relay),
        }
    }

    /// Every email sent so far, oldest first.
    pub async fn sent(&self) -> Result<Vec<Email>, MailError> {
        self.database
            .run(|c| {
                let mut statement = c
                    .prepare("SELECT recipients, subject, body FROM outbox ORDER BY id")
                    .map_err(super::database::sqlite_error)?;
                let rows = statement
                    .query_map([], |row| {
                        let recipients: String = row.get(0)?;
                        Ok(Email {
                            to: recipients.split(',').map(str::to_string).collect(),
                            subject: row.get(1)?,
                            body: row.get(2)?,
                        })
                    })
                    .map_err(super::database::sqlite_error)?;
                rows.collect::<Result<Vec<_>, _>>()
                    .map_err(super::database::sqlite_error)
            })
            .await
            .map_err(|e| MailError::Unavailable(e.to_string()))
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        if email.to.is_empty() {
            return Err(MailError::NoRecipients);
        }
        match &self.relay {
            Some(relay) => {
                relay.send(email).await?;
                tracing::info!(to = ?email.to, subject = %email.subject, "notification sent and kept in the local outbox");
            }
            None => {
                tracing::info!(to = ?email.to, subject = %email.subject, "notification kept in the local outbox (set CASB_SMTP_URL to send it)");
            }
        }
        let email = email.clone();
        let now = millis(chrono::Utc::now());
        self.database
            .run(move |c| {
                c.execute(
                    "INSERT INTO outbox (sent_at, recipients, subject, body) VALUES (?1, ?2, ?3, ?4)",
                    params![now, email.to.join(","), email.subject, email.body],
                )
                .map_err(super::database::sqlite_error)?;
                Ok(())
            })
            .await
            .map_err(|e| MailError::Unavailable(e.to_string()))
    }
}
