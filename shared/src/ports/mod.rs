//! The ports: small traits the core depends on. Each has an AWS implementation (`crate::aws`) and
//! an embedded one (`crate::embedded`), and one contract test suite runs against both.

mod clock;
mod export;
mod mailer;
mod queue;
mod secrets;
mod store;

pub use clock::*;
pub use export::*;
pub use mailer::*;
pub use queue::*;
pub use secrets::*;
pub use store::*;
