//! The CASB's core library: the domain, the ports with their AWS and embedded back ends, the
//! connectors, the policies, the pipeline stages and the HTTP routers. Every Lambda function and
//! the `casb` command are thin wrappers around this crate.

pub mod access;
pub mod admin;
pub mod admin_credential;
pub mod backend;
pub mod config;
pub mod connector;
pub mod content;
/// The DLP engine (detector catalog, extraction, `casb scan`), its own crate for build time.
pub use casb_dlp as dlp;
pub mod core;
pub mod domain;
pub mod embedded;
pub mod http;
pub mod lambda;
pub mod lease;
pub mod local;
pub mod notify;
pub mod ocsf;
pub mod pipeline;
pub mod policy;
pub mod ports;
pub mod telemetry;
pub mod threat;

#[cfg(feature = "aws")]
pub mod aws;

pub use crate::core::Core;
