//! Integration tests of the Box API simulator over real HTTP on loopback.
//! One test binary (several modules) keeps link time down.

mod common;
mod events;
mod oauth;
mod paging_faults;
mod remediation;
mod server_auth;
mod spec_conformance;
mod webhooks;
