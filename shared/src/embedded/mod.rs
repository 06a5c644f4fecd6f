//! The embedded back end: one SQLite database (bundled, WAL, `synchronous = FULL`) holding every
//! store and a durable queue table with SQS's semantics, an owner-only secrets file, and a mailer
//! that keeps an outbox (and sends over SMTP when `CASB_SMTP_URL` is set). `casb serve` runs the
//! whole product on it; a crash, of the process or of the machine, loses nothing acknowledged
//! because every step is a transaction committed to disk before it is answered (group commit:
//! concurrent writers share one fsync).

mod access_store;
mod database;
mod group_commit;
mod mailer;
mod queue;
mod secrets;
#[cfg(feature = "smtp")]
mod smtp;
mod threat_store;

pub use database::Database;
pub use mailer::OutboxMailer;
pub use queue::{DeadLetterPolicy, EmbeddedQueue};
pub(crate) use secrets::write_owner_only;
pub use secrets::FileSecretStore;
#[cfg(feature = "smtp")]
pub use smtp::SmtpMailer;
