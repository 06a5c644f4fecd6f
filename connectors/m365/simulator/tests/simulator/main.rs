//! Integration tests of the Microsoft 365 simulator over real HTTP on loopback.
//! One test binary (several modules) keeps link time down.

mod assertion;
mod common;
mod faults;
mod graph_files;
mod identity;
mod management;
mod webhooks;
