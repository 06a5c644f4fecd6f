use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A plain-text notification email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("no notification recipients are configured: set CASB_NOTIFY_EMAILS")]
    NoRecipients,
    #[error("the mail service refused the message: {0}")]
    Rejected(String),
    #[error("the mail service could not be reached: {0}")]
    Unavailable(String),
    #[error("the mail service is not set up correctly: {0}")]
    Misconfigured(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}
